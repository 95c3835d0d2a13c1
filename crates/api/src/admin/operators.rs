//! Operators, the mobile networks clients belong to: their list and their form. The pages
//! follow the flow every record shares.

use super::error::AdminError;
use super::form::Form;
use super::record::{Cell, Column, FormFrame, FormParts, Listing, RecordPages, RecordTable};
use super::record::{Operations, Resource, Row};
use super::session::Viewer;
use super::view::Layout;
use crate::error::ApiError;
use crate::operations::input::{Field, UnknownFields};
use crate::operations::operators::{self, OperatorInput};
use crate::state::AppState;
use actix_web::HttpResponse;
use askama::Template;
use mailing_domain::OperatorId;
use mailing_domain::store::{Operator, Page, PageRequest};

/// The operator form's fields.
pub struct Operators {
    code: String,
    name: String,
    price_per_segment: String,
}

#[derive(Template)]
#[template(path = "admin/operator_form.html")]
struct FormPage {
    layout: Layout,
    form: FormParts,
    fields: Operators,
}

impl RecordTable for Operators {
    const LISTING: Listing = Listing {
        hint: "Mobile operators; every client belongs to one, and mailings can pick clients by \
               operator.",
        empty: "No operators yet.",
        columns: &[
            Column::text("Code"),
            Column::text("Name"),
            Column::number("Price per SMS part"),
        ],
    };

    async fn rows(state: &AppState, page: PageRequest) -> Result<Page<Row>, AdminError> {
        let operators = state.run(move |s| s.list_operators(page)).await?;
        Ok(Row::page(operators, |operator| Row {
            id: operator.id.0,
            name: operator.name.as_str().to_owned(),
            cells: vec![
                Cell::Code(operator.code.as_str().to_owned()),
                Cell::Text(operator.name.as_str().to_owned()),
                Cell::Text(
                    operator
                        .price_per_segment
                        .map(|price| price.to_string())
                        .unwrap_or_else(|| "—".to_owned()),
                ),
            ],
            question: format!("Delete operator {}?", operator.name.as_str()),
        }))
    }
}

impl RecordPages for Operators {
    type Id = OperatorId;
    type Stored = Operator;
    type Input = OperatorInput;
    const FIELDS: &'static [&'static str] = &["code", "name", "price_per_segment"];
    const NOUN: &'static str = "operator";
    const SECTION: &'static str = "operators";

    fn submitted(form: &Form) -> Self {
        Self {
            code: form.value("code").to_owned(),
            name: form.value("name").to_owned(),
            price_per_segment: form.value("price_per_segment").trim().to_owned(),
        }
    }

    fn stored(_: &Viewer, operator: &Operator) -> Self {
        Self {
            code: operator.code.as_str().to_owned(),
            name: operator.name.as_str().to_owned(),
            price_per_segment: operator
                .price_per_segment
                .map(|price| price.to_string())
                .unwrap_or_default(),
        }
    }

    /// The form shows every field, so saving an existing operator replaces them all; an
    /// empty price removes it.
    fn input(&self, _: &Viewer, _: Option<&Operator>) -> Result<OperatorInput, ApiError> {
        Ok(OperatorInput {
            code: Field::value(self.code.clone()),
            name: Field::value(self.name.clone()),
            price_per_segment: if self.price_per_segment.is_empty() {
                Field::default()
            } else {
                Field::value(self.price_per_segment.clone())
            },
            unknown: UnknownFields::default(),
        })
    }

    async fn form_page(self, frame: FormFrame<'_, Self>) -> Result<HttpResponse, AdminError> {
        frame.render(|layout, form| FormPage {
            layout,
            form,
            fields: self,
        })
    }

    fn operations() -> impl Resource<Self> {
        Operations {
            get: operators::get,
            create: operators::create,
            replace: operators::replace,
            delete: operators::delete,
        }
    }

    fn id(operator: &Operator) -> OperatorId {
        operator.id
    }
}
