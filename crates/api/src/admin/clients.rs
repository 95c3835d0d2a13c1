//! Clients: their list, searchable by phone, operator, tag and attribute values, and their
//! form. The pages follow the flow every record shares.

use super::catalog::{Catalog, Choice};
use super::error::AdminError;
use super::field_errors::{FieldErrors, Labels, base_field};
use super::form::{Form, split_list};
use super::record::{Cell, Column, FormFrame, FormParts, ListFrame, ListPage, Listing};
use super::record::{Operations, RecordPages, Resource, Row, Table};
use super::session::Viewer;
use super::view::{self, Layout, Pager};
use crate::error::ApiError;
use crate::error::FieldError;
use crate::operations::clients::{self, AttributeParams, ClientInput, ClientListQuery};
use crate::operations::input::{Field, QueryValue, UnknownFields};
use crate::operations::problems::Problems;
use crate::state::AppState;
use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use askama::Template;
use mailing_domain::store::{Client, ClientPage};
use mailing_domain::{AttributeValue, Attributes, ClientId};

/// The client form's fields, as stored or as typed.
pub struct Clients {
    phone_number: String,
    operator_code: String,
    /// Separated by commas, as typed.
    tags: String,
    time_zone: String,
    /// `key = value` lines, as typed.
    attributes: String,
}

/// Attributes as the admin pages write them: one `key = value` a line, each value as a CSV
/// cell (see [`AttributeValue::to_cell`]).
pub(super) fn attribute_lines(attributes: &Attributes) -> String {
    attributes
        .iter()
        .map(|(key, value)| format!("{key} = {}", value.to_cell()))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Reads `key = value` entries, separated by `separator`, into the JSON object an input
/// carries, each value read as a CSV cell; an entry with an empty value is left out. An entry
/// without `=` keeps its text as a key without a value, so the check names it.
fn attributes_json(typed: &str, separator: char) -> serde_json::Value {
    let mut object = serde_json::Map::new();
    for entry in typed
        .split(separator)
        .map(str::trim)
        .filter(|e| !e.is_empty())
    {
        let value = match entry.split_once('=') {
            Some((key, cell)) => {
                AttributeValue::from_cell(cell.trim()).map(|value| (key.trim(), value.to_json()))
            }
            None => Some((entry, serde_json::Value::Null)),
        };
        if let Some((key, value)) = value {
            object.insert(key.to_owned(), value);
        }
    }
    serde_json::Value::Object(object)
}

/// The attributes typed as `key = value` lines, checked by the API's own rules: their problems
/// become one, naming each key, as the form shows one problem a field.
pub(super) fn typed_attributes(lines: &str) -> Result<serde_json::Value, ApiError> {
    let json = attributes_json(lines, '\n');
    let mut problems = Problems::default();
    if clients::parse_attributes("attributes", &json, &mut problems).is_some() {
        return Ok(json);
    }
    let said: Vec<String> = problems
        .details()
        .iter()
        .map(|detail| match detail.field.strip_prefix("attributes.") {
            Some(key) => format!("{key}: {}", detail.message),
            None => detail.message.clone(),
        })
        .collect();
    let code = problems.details()[0].code.clone();
    Err(ApiError::Validation(vec![FieldError::new(
        "attributes",
        code,
        said.join("; "),
    )]))
}

#[derive(Template)]
#[template(path = "admin/clients.html")]
struct SearchPage {
    layout: Layout,
    table: Table,
    pager: Pager,
    phone: String,
    /// `key = value` entries separated by commas, as typed.
    attributes: String,
    operators: Vec<Choice>,
    tags: Vec<Choice>,
    errors: FieldErrors,
    /// The CSV export of the clients the search selects.
    export_url: String,
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
        Column::text("Attributes"),
    ],
};

impl RecordPages for Clients {
    type Id = ClientId;
    type Stored = Client;
    type Input = ClientInput;
    const FIELDS: &'static [&'static str] = &[
        "phone_number",
        "operator_code",
        "tags",
        "time_zone",
        "attributes",
    ];
    const LABELS: Labels = &[("operator_code", "Operator")];
    const NOUN: &'static str = "client";
    const SECTION: &'static str = "clients";

    fn submitted(form: &Form) -> Self {
        Self {
            phone_number: form.value("phone_number").trim().to_owned(),
            operator_code: form.value("operator_code").to_owned(),
            tags: form.value("tags").to_owned(),
            time_zone: form.value("time_zone").trim().to_owned(),
            attributes: form.value("attributes").to_owned(),
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
            attributes: attribute_lines(&client.attributes),
        }
    }

    fn input(&self, _: &Viewer, _: Option<&Client>) -> Result<ClientInput, ApiError> {
        Ok(ClientInput {
            phone_number: Field::value(self.phone_number.clone()),
            operator_code: Field::value(self.operator_code.clone()),
            tags: Field::value(split_list(&self.tags)),
            time_zone: Field::from_option(
                (!self.time_zone.is_empty()).then(|| self.time_zone.clone()),
            ),
            attributes: Field::value(typed_attributes(&self.attributes)?),
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
        let (phone, operator, tag, attributes) = (
            query.value("phone").trim().to_owned(),
            query.value("operator").to_owned(),
            query.value("tag").to_owned(),
            query.value("attributes").trim().to_owned(),
        );
        let parsed = search_query(query, Some(frame.page())).parse();
        let (clients, errors) = match parsed {
            Ok((filter, paging)) => (
                state
                    .run(move |s| s.list_clients(&filter, paging.request()))
                    .await?,
                FieldErrors::default(),
            ),
            Err(error) => (
                ClientPage {
                    items: vec![],
                    total: 0,
                    total_estimated: false,
                    more: false,
                },
                FieldErrors::from_api(
                    error,
                    |path| match base_field(path) {
                        "phone_prefix" => Some("phone"),
                        "operator_code" => Some("operator"),
                        "tag" => Some("tag"),
                        "attr" => Some("attributes"),
                        _ => None,
                    },
                    &[],
                )?,
            ),
        };
        let catalog = Catalog::load(state).await?;
        let search = [
            ("phone", &*phone),
            ("operator", &operator),
            ("tag", &tag),
            ("attributes", &attributes),
        ];
        view::render(
            if errors.is_empty() {
                frame.status
            } else {
                StatusCode::BAD_REQUEST
            },
            &SearchPage {
                pager: Pager::new(frame.page(), clients.total, &search),
                export_url: super::imports::export_url(&search),
                layout: frame.layout,
                table: Table::new::<Self>(LISTING, clients.items.iter().map(row).collect()),
                operators: catalog.operator_choices(std::slice::from_ref(&operator)),
                tags: catalog.tag_choices(std::slice::from_ref(&tag)),
                phone,
                attributes,
                errors,
            },
        )
    }
}

/// The API's list query for the search form's fields (`phone`, `operator`, `tag`,
/// `attributes`), so the list and its CSV export select the same clients; `page` is `None`
/// for the export, which takes them all.
pub(super) fn search_query(query: &Form, page: Option<u32>) -> ClientListQuery {
    let filled = |name: &str| {
        let value = query.value(name).trim();
        (!value.is_empty()).then(|| value.to_owned())
    };
    // `city = Kazan, vip = true` becomes the API's `attr.city=Kazan&attr.vip=true`.
    let attribute_params = match attributes_json(query.value("attributes").trim(), ',') {
        serde_json::Value::Object(entries) => entries
            .into_iter()
            .map(|(key, value)| {
                let cell = AttributeValue::from_json(&value)
                    .map_or_else(|_| String::new(), |value| value.to_cell());
                (format!("attr.{key}"), cell)
            })
            .collect(),
        _ => vec![],
    };
    ClientListQuery {
        page: page.map(QueryValue::of),
        page_size: page.map(|_| QueryValue::of(Pager::PAGE_SIZE)),
        operator_code: filled("operator"),
        tag: filled("tag"),
        phone_prefix: filled("phone"),
        cursor: None,
        attributes: AttributeParams(attribute_params),
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
            Cell::Text(attributes_in_brief(&client.attributes)),
        ],
        question: format!("Delete client {phone}? Their unsent messages are cancelled."),
    }
}

/// The longest summary of a client's attributes the list shows.
const BRIEF_CHARS: usize = 80;

/// A client's attributes on one short line: `city=Kazan, vip=true`, cut with `…` if long.
fn attributes_in_brief(attributes: &Attributes) -> String {
    let all = attributes
        .iter()
        .map(|(key, value)| format!("{key}={}", value.to_cell()))
        .collect::<Vec<_>>()
        .join(", ");
    if all.chars().count() <= BRIEF_CHARS {
        return all;
    }
    let mut cut: String = all.chars().take(BRIEF_CHARS - 1).collect();
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_attributes_read_as_cells_and_round_trip() {
        let typed = "city = Kazan\n\n vip=true \nage = 30\nzip = \"007\"\nnote =\n";
        let json = typed_attributes(typed).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"city": "Kazan", "vip": true, "age": 30, "zip": "007"})
        );
        let attributes = Attributes::from_json(&json).unwrap();
        assert_eq!(
            typed_attributes(&attribute_lines(&attributes)).unwrap(),
            json
        );
        assert_eq!(
            attributes_in_brief(&attributes),
            "age=30, city=Kazan, vip=true, zip=007"
        );
    }

    #[test]
    fn every_bad_key_is_named_in_one_problem() {
        let Err(ApiError::Validation(details)) = typed_attributes("City = x\nnoequals\nok = 1")
        else {
            panic!("refused");
        };
        assert_eq!(details.len(), 1);
        assert_eq!(details[0].field, "attributes");
        assert!(
            details[0].message.contains("City: "),
            "{}",
            details[0].message
        );
        assert!(
            details[0].message.contains("noequals: "),
            "{}",
            details[0].message
        );
    }
}
