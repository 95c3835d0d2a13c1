//! Clients: their list, searchable by phone, operator and tag, and their form. Saving and
//! deleting follow the flow every record shares.

use super::catalog::{Catalog, Choice};
use super::error::AdminError;
use super::field_errors::{FieldErrors, base_field};
use super::form::{Form, split_list};
use super::record::{FormFrame, ListFrame, RecordPages};
use super::session::Viewer;
use super::view::{self, Layout, Pager};
use crate::error::ApiError;
use crate::operations::clients::{self, ClientInput, ClientListQuery};
use crate::state::AppState;
use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use askama::Template;
use mailing_domain::ClientId;
use mailing_domain::store::{Client, Page};

pub struct Clients;

#[derive(Template)]
#[template(path = "admin/clients.html")]
struct ListPage {
    layout: Layout,
    phone: String,
    operators: Vec<Choice>,
    tags: Vec<Choice>,
    clients: Vec<Client>,
    pager: Pager,
    errors: FieldErrors,
}

#[derive(Template)]
#[template(path = "admin/client_form.html")]
struct FormPage {
    layout: Layout,
    action: String,
    phone_number: String,
    operators: Vec<Choice>,
    tags: String,
    time_zone: String,
    zones: &'static [chrono_tz::Tz],
    errors: FieldErrors,
}

/// What the form shows: a stored client, or what was typed.
pub struct Fields {
    phone_number: String,
    operator_code: String,
    tags: String,
    time_zone: String,
}

impl Fields {
    fn input(&self) -> ClientInput {
        ClientInput {
            phone_number: self.phone_number.clone(),
            operator_code: self.operator_code.clone(),
            tags: Some(split_list(&self.tags)),
            time_zone: (!self.time_zone.is_empty()).then(|| self.time_zone.clone()),
        }
    }
}

impl RecordPages for Clients {
    const NOUN: &'static str = "client";
    const SECTION: &'static str = "clients";
    const LIST_TITLE: &'static str = "Clients";
    type Id = ClientId;
    type Editing = ClientId;
    type Fields = Fields;

    async fn editing(_: &AppState, id: ClientId) -> Result<ClientId, AdminError> {
        Ok(id)
    }

    fn blank(_: &Viewer) -> Fields {
        Fields {
            phone_number: String::new(),
            operator_code: String::new(),
            tags: String::new(),
            time_zone: "UTC".to_owned(),
        }
    }

    async fn stored(_: &Viewer, state: &AppState, &id: &ClientId) -> Result<Fields, AdminError> {
        let client = state.run(move |s| s.get_client(id)).await?;
        Ok(Fields {
            phone_number: client.phone.as_str().to_owned(),
            operator_code: client.operator_code.as_str().to_owned(),
            tags: client
                .tags
                .iter()
                .map(|t| t.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            time_zone: client.time_zone.name().to_owned(),
        })
    }

    fn submitted(form: &Form) -> Fields {
        Fields {
            phone_number: form.value("phone_number").trim().to_owned(),
            operator_code: form.value("operator_code").to_owned(),
            tags: form.value("tags").to_owned(),
            time_zone: form.value("time_zone").trim().to_owned(),
        }
    }

    fn form_field(path: &str) -> Option<&'static str> {
        match base_field(path) {
            "phone_number" => Some("phone_number"),
            "operator_code" => Some("operator_code"),
            "tags" => Some("tags"),
            "time_zone" => Some("time_zone"),
            _ => None,
        }
    }

    async fn create(_: &Viewer, state: &AppState, fields: &Fields) -> Result<ClientId, ApiError> {
        Ok(clients::create(state, fields.input()).await?.id)
    }

    async fn replace(
        _: &Viewer,
        state: &AppState,
        &id: &ClientId,
        fields: &Fields,
    ) -> Result<ClientId, ApiError> {
        Ok(clients::replace(state, id, fields.input()).await?.id)
    }

    async fn delete(state: &AppState, id: ClientId) -> Result<(), ApiError> {
        clients::delete(state, id).await
    }

    /// The search is checked by the API's own rules for these parameters; a search they refuse
    /// finds nothing and answers 400, its problems beside its fields.
    async fn list_page(
        _: &Viewer,
        state: &AppState,
        frame: ListFrame,
    ) -> Result<HttpResponse, AdminError> {
        let query = &frame.query;
        let page = query.page();
        let (phone, operator, tag) = (
            query.value("phone").trim().to_owned(),
            query.value("operator").to_owned(),
            query.value("tag").to_owned(),
        );
        let parsed = ClientListQuery {
            page: Some(page),
            page_size: Some(Pager::PAGE_SIZE),
            operator_code: (!operator.is_empty()).then(|| operator.clone()),
            tag: (!tag.is_empty()).then(|| tag.clone()),
            phone_prefix: (!phone.is_empty()).then(|| phone.clone()),
        }
        .parse();
        let (clients, errors) = match parsed {
            Ok((filter, paging)) => (
                state
                    .run(move |s| s.list_clients(&filter, paging.request()))
                    .await?,
                FieldErrors::default(),
            ),
            Err(error) => (
                Page {
                    items: vec![],
                    total: 0,
                },
                FieldErrors::from_api(error, |path| match base_field(path) {
                    "phone_prefix" => Some("phone"),
                    "operator_code" => Some("operator"),
                    "tag" => Some("tag"),
                    _ => None,
                })?,
            ),
        };
        let catalog = Catalog::load(state).await?;
        view::render(
            if errors.is_empty() {
                frame.status
            } else {
                StatusCode::BAD_REQUEST
            },
            &ListPage {
                layout: frame.layout,
                pager: Pager::new(
                    page,
                    clients.total,
                    &[("phone", &phone), ("operator", &operator), ("tag", &tag)],
                ),
                operators: catalog.operator_choices(std::slice::from_ref(&operator)),
                tags: catalog.tag_choices(std::slice::from_ref(&tag)),
                phone,
                clients: clients.items,
                errors,
            },
        )
    }

    async fn form_page(
        _: &Viewer,
        state: &AppState,
        _: Option<&ClientId>,
        fields: Fields,
        frame: FormFrame,
    ) -> Result<HttpResponse, AdminError> {
        let catalog = Catalog::load(state).await?;
        view::render(
            frame.status(),
            &FormPage {
                layout: frame.layout,
                action: frame.action,
                operators: catalog.operator_choices(std::slice::from_ref(&fields.operator_code)),
                phone_number: fields.phone_number,
                tags: fields.tags,
                time_zone: fields.time_zone,
                zones: &chrono_tz::TZ_VARIANTS,
                errors: frame.errors,
            },
        )
    }
}
