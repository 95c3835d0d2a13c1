//! Operators: their list and their form. Saving and deleting follow the flow every record
//! shares.

use super::error::AdminError;
use super::field_errors::{FieldErrors, base_field};
use super::form::Form;
use super::record::{FormFrame, ListFrame, RecordPages};
use super::session::Viewer;
use super::view::{self, Layout, Pager};
use crate::error::ApiError;
use crate::operations::operators::{self, OperatorInput};
use crate::state::AppState;
use actix_web::HttpResponse;
use askama::Template;
use mailing_domain::OperatorId;
use mailing_domain::store::Operator;

pub struct Operators;

#[derive(Template)]
#[template(path = "admin/operators.html")]
struct ListPage {
    layout: Layout,
    operators: Vec<Operator>,
    pager: Pager,
}

#[derive(Template)]
#[template(path = "admin/operator_form.html")]
struct FormPage {
    layout: Layout,
    /// Where the form posts.
    action: String,
    code: String,
    name: String,
    errors: FieldErrors,
}

#[derive(Default)]
pub struct Fields {
    code: String,
    name: String,
}

impl Fields {
    fn input(&self) -> OperatorInput {
        OperatorInput {
            code: self.code.clone(),
            name: self.name.clone(),
        }
    }
}

impl RecordPages for Operators {
    const NOUN: &'static str = "operator";
    const SECTION: &'static str = "operators";
    const LIST_TITLE: &'static str = "Operators";
    type Id = OperatorId;
    type Editing = OperatorId;
    type Fields = Fields;

    async fn editing(_: &AppState, id: OperatorId) -> Result<OperatorId, AdminError> {
        Ok(id)
    }

    fn blank(_: &Viewer) -> Fields {
        Fields::default()
    }

    async fn stored(_: &Viewer, state: &AppState, &id: &OperatorId) -> Result<Fields, AdminError> {
        let operator = state.run(move |s| s.get_operator(id)).await?;
        Ok(Fields {
            code: operator.code.as_str().to_owned(),
            name: operator.name.as_str().to_owned(),
        })
    }

    fn submitted(form: &Form) -> Fields {
        Fields {
            code: form.value("code").to_owned(),
            name: form.value("name").to_owned(),
        }
    }

    fn form_field(path: &str) -> Option<&'static str> {
        match base_field(path) {
            "code" => Some("code"),
            "name" => Some("name"),
            _ => None,
        }
    }

    async fn create(_: &Viewer, state: &AppState, fields: &Fields) -> Result<OperatorId, ApiError> {
        Ok(operators::create(state, fields.input()).await?.id)
    }

    /// The form shows both fields, so saving an existing operator replaces both.
    async fn replace(
        _: &Viewer,
        state: &AppState,
        &id: &OperatorId,
        fields: &Fields,
    ) -> Result<OperatorId, ApiError> {
        Ok(operators::replace(state, id, fields.input()).await?.id)
    }

    async fn delete(state: &AppState, id: OperatorId) -> Result<(), ApiError> {
        operators::delete(state, id).await
    }

    async fn list_page(
        _: &Viewer,
        state: &AppState,
        frame: ListFrame,
    ) -> Result<HttpResponse, AdminError> {
        let page = frame.query.page();
        let operators = state
            .run(move |s| s.list_operators(Pager::request(page)))
            .await?;
        view::render(
            frame.status,
            &ListPage {
                layout: frame.layout,
                pager: Pager::new(page, operators.total, &[]),
                operators: operators.items,
            },
        )
    }

    async fn form_page(
        _: &Viewer,
        _: &AppState,
        _: Option<&OperatorId>,
        fields: Fields,
        frame: FormFrame,
    ) -> Result<HttpResponse, AdminError> {
        view::render(
            frame.status(),
            &FormPage {
                layout: frame.layout,
                action: frame.action,
                code: fields.code,
                name: fields.name,
                errors: frame.errors,
            },
        )
    }
}
