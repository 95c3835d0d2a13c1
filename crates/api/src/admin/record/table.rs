//! A list of records as a table, for the kinds whose list is one: a row a record in the kind's
//! columns, each with an Edit link and a Delete button, and links between pages. A kind gives
//! only one page of its rows and the words around them.

use super::{ListFrame, ListPage, RecordPages};
use crate::admin::error::AdminError;
use crate::admin::session::Viewer;
use crate::admin::view::{self, Layout, Pager};
use crate::state::AppState;
use actix_web::HttpResponse;
use askama::Template;
use mailing_domain::store::{Page, PageRequest};

/// A kind whose list is a table of its records.
pub trait RecordTable {
    /// The words around the rows.
    const LISTING: Listing;
    /// One page of the records, as rows.
    async fn rows(state: &AppState, page: PageRequest) -> Result<Page<Row>, AdminError>;
}

/// What a list table shows besides its rows.
pub struct Listing {
    /// Above the list, what its records are for; empty for nothing.
    pub hint: &'static str,
    /// What the list says when it has no rows.
    pub empty: &'static str,
    pub columns: &'static [Column],
}

pub struct Column {
    pub title: &'static str,
    /// Numbers are aligned to the right.
    pub numeric: bool,
}

impl Column {
    pub const fn text(title: &'static str) -> Self {
        Self {
            title,
            numeric: false,
        }
    }

    pub const fn number(title: &'static str) -> Self {
        Self {
            title,
            numeric: true,
        }
    }
}

/// One record in the list.
pub struct Row {
    pub id: i64,
    /// Names the record in its Edit link for screen readers, which read the links of every row
    /// alike otherwise: "Edit Beeline".
    pub name: String,
    pub cells: Vec<Cell>,
    /// What the Delete button asks before deleting.
    pub question: String,
}

impl Row {
    /// A page of records as a page of rows.
    pub fn page<T>(records: Page<T>, row: impl Fn(&T) -> Row) -> Page<Row> {
        Page {
            items: records.items.iter().map(row).collect(),
            total: records.total,
        }
    }
}

/// One cell of a row, in the column of the same place.
pub enum Cell {
    Text(String),
    /// A code, such as an operator's, set as one.
    Code(String),
    Number(u64),
    /// Tags, each set as a label.
    Tags(Vec<String>),
}

/// A list's table, with the kind's noun for the page's "New client filter" button.
pub struct Table {
    pub noun: &'static str,
    pub listing: Listing,
    pub rows: Vec<Row>,
}

impl Table {
    pub fn new<R: RecordPages>(listing: Listing, rows: Vec<Row>) -> Self {
        Self {
            noun: R::NOUN,
            listing,
            rows,
        }
    }
}

#[derive(Template)]
#[template(path = "admin/records.html")]
struct TablePage {
    layout: Layout,
    table: Table,
    pager: Pager,
}

impl<R: RecordPages + RecordTable> ListPage for R {
    async fn list_page(
        _: &Viewer,
        state: &AppState,
        frame: ListFrame,
    ) -> Result<HttpResponse, AdminError> {
        let rows = R::rows(state, frame.request()).await?;
        view::render(
            frame.status,
            &TablePage {
                pager: Pager::new(frame.page(), rows.total, &[]),
                layout: frame.layout,
                table: Table::new::<R>(R::LISTING, rows.items),
            },
        )
    }
}
