//! Clients: their list, searchable by phone, operator and tag, and their form. The pages
//! follow the flow every record shares.

use super::catalog::{Catalog, Choice};
use super::error::AdminError;
use super::field_errors::{FieldErrors, Labels, base_field};
use super::form::{Form, split_list};
use super::record::{Cell, Column, FormFrame, FormParts, ListFrame, ListPage, Listing};
use super::record::{Operations, RecordPages, Resource, Row, Table};
use super::session::Viewer;
use super::view::{self, Layout, Pager};
use crate::error::ApiError;
use crate::operations::clients::{self, ClientInput, ClientListQuery};
use crate::operations::input::{Field, QueryValue, UnknownFields};
use crate::state::AppState;
use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use askama::Template;
use mailing_domain::ClientId;
use mailing_domain::store::{Client, Page};

/// The client form's fields, as stored or as typed.
pub struct Clients {
    phone_number: String,
    operator_code: String,
    /// Separated by commas, as typed.
    tags: String,
    time_zone: String,
}

#[derive(Template)]
#[template(path = "admin/clients.html")]
struct SearchPage {
    layout: Layout,
    table: Table,
    pager: Pager,
    phone: String,
    operators: Vec<Choice>,
    tags: Vec<Choice>,
    errors: FieldErrors,
}

#[derive(Template)]
#[template(path = "admin/client_form.html")]
struct FormPage {
    layout: Layout,
    form: FormParts,
    fields: Clients,
    operators: Vec<Choice>,
    /// Where the form's script fetches the time zone names it suggests.
    zones_url: String,
}

/// The list's words; its search form stands where other lists say what they hold.
const LISTING: Listing = Listing {
    hint: "",
    empty: "No clients match.",
    columns: &[
        Column::text("Phone number"),
        Column::text("Operator"),
        Column::text("Tags"),
        Column::text("Time zone"),
    ],
};

impl RecordPages for Clients {
    type Id = ClientId;
    type Stored = Client;
    type Input = ClientInput;
    const FIELDS: &'static [&'static str] = &["phone_number", "operator_code", "tags", "time_zone"];
    const LABELS: Labels = &[("operator_code", "Operator")];
    const NOUN: &'static str = "client";
    const SECTION: &'static str = "clients";

    fn submitted(form: &Form) -> Self {
        Self {
            phone_number: form.value("phone_number").trim().to_owned(),
            operator_code: form.value("operator_code").to_owned(),
            tags: form.value("tags").to_owned(),
            time_zone: form.value("time_zone").trim().to_owned(),
        }
    }

    /// A new client is in UTC unless the form says otherwise.
    fn blank(_: &Viewer) -> Self {
        Self {
            time_zone: "UTC".to_owned(),
            ..Self::submitted(&Form::default())
        }
    }

    fn stored(_: &Viewer, client: &Client) -> Self {
        Self {
            phone_number: client.phone.as_str().to_owned(),
            operator_code: client.operator_code.as_str().to_owned(),
            tags: client
                .tags
                .iter()
                .map(|t| t.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            time_zone: client.time_zone.name().to_owned(),
        }
    }

    fn input(&self, _: &Viewer, stored: Option<&Client>) -> Result<ClientInput, ApiError> {
        Ok(ClientInput {
            phone_number: Field::value(self.phone_number.clone()),
            operator_code: Field::value(self.operator_code.clone()),
            tags: Field::value(split_list(&self.tags)),
            time_zone: Field::from_option(
                (!self.time_zone.is_empty()).then(|| self.time_zone.clone()),
            ),
            attributes: Field::from_option(stored.map(|client| client.attributes.to_json())),
            unknown: UnknownFields::default(),
        })
    }

    async fn form_page(self, frame: FormFrame<'_, Self>) -> Result<HttpResponse, AdminError> {
        let catalog = Catalog::load(frame.state).await?;
        frame.render(|layout, form| FormPage {
            layout,
            form,
            operators: catalog.operator_choices(std::slice::from_ref(&self.operator_code)),
            fields: self,
            zones_url: super::assets::time_zones_url(),
        })
    }

    fn operations() -> impl Resource<Self> {
        Operations {
            get: clients::get,
            create: clients::create,
            replace: clients::replace,
            delete: clients::delete,
        }
    }

    fn id(client: &Client) -> ClientId {
        client.id
    }
}

impl ListPage for Clients {
    /// The search is checked by the API's own rules for these parameters; a search they refuse
    /// finds nothing and answers 400, its problems beside its fields.
    async fn list_page(
        _: &Viewer,
        state: &AppState,
        frame: ListFrame,
    ) -> Result<HttpResponse, AdminError> {
        let query = &frame.query;
        let (phone, operator, tag) = (
            query.value("phone").trim().to_owned(),
            query.value("operator").to_owned(),
            query.value("tag").to_owned(),
        );
        let parsed = ClientListQuery {
            page: Some(QueryValue::of(frame.page())),
            page_size: Some(QueryValue::of(Pager::PAGE_SIZE)),
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
                FieldErrors::from_api(
                    error,
                    |path| match base_field(path) {
                        "phone_prefix" => Some("phone"),
                        "operator_code" => Some("operator"),
                        "tag" => Some("tag"),
                        _ => None,
                    },
                    &[],
                )?,
            ),
        };
        let catalog = Catalog::load(state).await?;
        let search = [("phone", &*phone), ("operator", &operator), ("tag", &tag)];
        view::render(
            if errors.is_empty() {
                frame.status
            } else {
                StatusCode::BAD_REQUEST
            },
            &SearchPage {
                pager: Pager::new(frame.page(), clients.total, &search),
                layout: frame.layout,
                table: Table::new::<Self>(LISTING, clients.items.iter().map(row).collect()),
                operators: catalog.operator_choices(std::slice::from_ref(&operator)),
                tags: catalog.tag_choices(std::slice::from_ref(&tag)),
                phone,
                errors,
            },
        )
    }
}

/// A client as a row of the list.
fn row(client: &Client) -> Row {
    let phone = client.phone.as_str();
    Row {
        id: client.id.0,
        name: phone.to_owned(),
        cells: vec![
            Cell::Text(phone.to_owned()),
            Cell::Code(client.operator_code.as_str().to_owned()),
            Cell::Tags(client.tags.iter().map(|t| t.as_str().to_owned()).collect()),
            Cell::Text(client.time_zone.name().to_owned()),
        ],
        question: format!("Delete client {phone}? Their unsent messages are cancelled."),
    }
}
