//! Saved client filters, named selections of clients that mailings can reuse: their list, with
//! how many clients each matches now, and their form. Saving and deleting follow the flow
//! every record shares.

use super::catalog::{Catalog, Choice, describe_filter};
use super::error::AdminError;
use super::field_errors::{FieldErrors, base_field};
use super::form::Form;
use super::record::{FormFrame, ListFrame, RecordPages};
use super::session::Viewer;
use super::view::{self, Layout, Pager};
use crate::error::ApiError;
use crate::operations::client_filters::{self, ClientFilterInput};
use crate::state::AppState;
use actix_web::HttpResponse;
use askama::Template;
use mailing_domain::ClientFilterId;

pub struct ClientFilters;

struct Row {
    id: i64,
    name: String,
    selects: String,
    matching: u64,
}

#[derive(Template)]
#[template(path = "admin/client_filters.html")]
struct ListPage {
    layout: Layout,
    rows: Vec<Row>,
    pager: Pager,
}

#[derive(Template)]
#[template(path = "admin/client_filter_form.html")]
struct FormPage {
    layout: Layout,
    action: String,
    name: String,
    operators: Vec<Choice>,
    tags: Vec<Choice>,
    errors: FieldErrors,
}

/// What the form shows: a stored filter, or what was typed.
#[derive(Default)]
pub struct Fields {
    name: String,
    operator_codes: Vec<String>,
    tags: Vec<String>,
}

impl Fields {
    fn input(&self) -> ClientFilterInput {
        let name = self.name.trim();
        ClientFilterInput {
            name: (!name.is_empty()).then(|| name.to_owned()),
            operator_codes: Some(self.operator_codes.clone()),
            tags: Some(self.tags.clone()),
        }
    }
}

impl RecordPages for ClientFilters {
    const NOUN: &'static str = "client filter";
    const SECTION: &'static str = "client-filters";
    const LIST_TITLE: &'static str = "Client filters";
    type Id = ClientFilterId;
    type Editing = ClientFilterId;
    type Fields = Fields;

    async fn editing(_: &AppState, id: ClientFilterId) -> Result<ClientFilterId, AdminError> {
        Ok(id)
    }

    fn blank(_: &Viewer) -> Fields {
        Fields::default()
    }

    async fn stored(
        _: &Viewer,
        state: &AppState,
        &id: &ClientFilterId,
    ) -> Result<Fields, AdminError> {
        let saved = state.run(move |s| s.get_client_filter(id)).await?;
        Ok(Fields {
            name: saved.name.unwrap_or_default(),
            operator_codes: saved
                .filter
                .operator_codes()
                .map(|c| c.as_str().to_owned())
                .collect(),
            tags: saved.filter.tags().map(|t| t.as_str().to_owned()).collect(),
        })
    }

    fn submitted(form: &Form) -> Fields {
        Fields {
            name: form.value("name").to_owned(),
            operator_codes: form.values("operator_codes"),
            tags: form.values("tags"),
        }
    }

    fn form_field(path: &str) -> Option<&'static str> {
        match base_field(path) {
            "name" => Some("name"),
            "operator_codes" => Some("operator_codes"),
            "tags" => Some("tags"),
            _ => None,
        }
    }

    async fn create(
        _: &Viewer,
        state: &AppState,
        fields: &Fields,
    ) -> Result<ClientFilterId, ApiError> {
        Ok(client_filters::create(state, fields.input()).await?.id)
    }

    /// The form shows every field, so saving replaces them all; a cleared name removes it.
    async fn replace(
        _: &Viewer,
        state: &AppState,
        &id: &ClientFilterId,
        fields: &Fields,
    ) -> Result<ClientFilterId, ApiError> {
        Ok(client_filters::replace(state, id, fields.input()).await?.id)
    }

    async fn delete(state: &AppState, id: ClientFilterId) -> Result<(), ApiError> {
        client_filters::delete(state, id).await
    }

    async fn list_page(
        _: &Viewer,
        state: &AppState,
        frame: ListFrame,
    ) -> Result<HttpResponse, AdminError> {
        let page = frame.query.page();
        let (filters, counts) = state
            .run(move |s| {
                let filters = s.list_client_filters(Pager::request(page))?;
                let counts = filters
                    .items
                    .iter()
                    .map(|saved| s.count_matching(&saved.filter))
                    .collect::<Result<Vec<_>, _>>()?;
                Ok((filters, counts))
            })
            .await?;
        let rows = filters
            .items
            .iter()
            .zip(counts)
            .map(|(saved, matching)| Row {
                id: saved.id.0,
                name: saved.name.clone().unwrap_or_default(),
                selects: describe_filter(&saved.filter),
                matching,
            })
            .collect();
        view::render(
            frame.status,
            &ListPage {
                layout: frame.layout,
                rows,
                pager: Pager::new(page, filters.total, &[]),
            },
        )
    }

    async fn form_page(
        _: &Viewer,
        state: &AppState,
        _: Option<&ClientFilterId>,
        fields: Fields,
        frame: FormFrame,
    ) -> Result<HttpResponse, AdminError> {
        let catalog = Catalog::load(state).await?;
        view::render(
            frame.status(),
            &FormPage {
                layout: frame.layout,
                action: frame.action,
                name: fields.name,
                operators: catalog.operator_choices(&fields.operator_codes),
                tags: catalog.tag_choices(&fields.tags),
                errors: frame.errors,
            },
        )
    }
}
