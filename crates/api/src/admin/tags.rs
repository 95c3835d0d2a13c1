//! Tags: their list and their form, which renames a tag on every client carrying it. The pages
//! follow the flow every record shares.

use super::error::AdminError;
use super::form::Form;
use super::record::{Cell, Column, FormFrame, FormParts, Listing, RecordPages, RecordTable};
use super::record::{Operations, Resource, Row};
use super::session::Viewer;
use super::view::Layout;
use crate::error::ApiError;
use crate::operations::input::{Field, UnknownFields};
use crate::operations::tags::{self, TagInput};
use crate::state::AppState;
use actix_web::HttpResponse;
use askama::Template;
use mailing_domain::TagId;
use mailing_domain::store::{Page, PageRequest, Tag};

/// The tag form's one field, the tag's value.
pub struct Tags(String);

#[derive(Template)]
#[template(path = "admin/tag_form.html")]
struct FormPage {
    layout: Layout,
    form: FormParts,
    value: String,
}

impl RecordTable for Tags {
    const LISTING: Listing = Listing {
        hint: "Labels on clients; mailings and client filters can pick clients by tag. Deleting \
               a tag takes it off every client.",
        empty: "No tags yet.",
        columns: &[Column::text("Value")],
    };

    async fn rows(state: &AppState, page: PageRequest) -> Result<Page<Row>, AdminError> {
        let tags = state.run(move |s| s.list_tags(page)).await?;
        Ok(Row::page(tags, |tag| Row {
            id: tag.id.0,
            name: tag.value.as_str().to_owned(),
            cells: vec![Cell::Text(tag.value.as_str().to_owned())],
            question: format!(
                "Delete tag {} and take it off every client?",
                tag.value.as_str()
            ),
        }))
    }
}

impl RecordPages for Tags {
    type Id = TagId;
    type Stored = Tag;
    type Input = TagInput;
    const FIELDS: &'static [&'static str] = &["value"];
    const NOUN: &'static str = "tag";
    const SECTION: &'static str = "tags";

    fn submitted(form: &Form) -> Self {
        Self(form.value("value").to_owned())
    }

    fn stored(_: &Viewer, tag: &Tag) -> Self {
        Self(tag.value.as_str().to_owned())
    }

    fn input(&self, _: &Viewer, _: Option<&Tag>) -> Result<TagInput, ApiError> {
        Ok(TagInput {
            value: Field::value(self.0.clone()),
            unknown: UnknownFields::default(),
        })
    }

    async fn form_page(self, frame: FormFrame<'_, Self>) -> Result<HttpResponse, AdminError> {
        frame.render(|layout, form| FormPage {
            layout,
            form,
            value: self.0,
        })
    }

    fn operations() -> impl Resource<Self> {
        Operations {
            get: tags::get,
            create: tags::create,
            replace: tags::rename,
            delete: tags::delete,
        }
    }

    fn id(tag: &Tag) -> TagId {
        tag.id
    }
}
