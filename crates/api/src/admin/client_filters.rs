//! Saved client filters, named selections of clients that mailings can reuse: their list, with
//! how many clients each matches now, and their form. The pages follow the flow every record
//! shares.

use super::catalog::{Catalog, Choice, describe_filter};
use super::clients::{attribute_lines, typed_attributes};
use super::error::AdminError;
use super::field_errors::Labels;
use super::form::Form;
use super::record::{Cell, Column, FormFrame, FormParts, Listing, RecordPages, RecordTable};
use super::record::{Operations, Resource, Row};
use super::session::Viewer;
use super::view::Layout;
use crate::error::ApiError;
use crate::operations::client_filters::{self, ClientFilterInput};
use crate::operations::input::{Field, UnknownFields};
use crate::state::AppState;
use actix_web::HttpResponse;
use askama::Template;
use mailing_domain::store::{Page, PageRequest, SavedFilter};
use mailing_domain::{ClientFilter, ClientFilterId};

/// The client filter form's fields, as stored or as typed.
pub struct ClientFilters {
    name: String,
    operator_codes: Vec<String>,
    tags: Vec<String>,
    /// `key = value` lines, as typed.
    attributes: String,
}

#[derive(Template)]
#[template(path = "admin/client_filter_form.html")]
struct FormPage {
    layout: Layout,
    form: FormParts,
    name: String,
    operators: Vec<Choice>,
    tags: Vec<Choice>,
    attributes: String,
}

/// The most clients the list counts for one filter; it says "over" beyond.
const COUNTED_UP_TO: u64 = 10_000;

/// What a filter selects, its required attribute values included.
fn describe(filter: &ClientFilter) -> String {
    let lists = describe_filter(filter);
    if filter.attributes().is_empty() {
        return lists;
    }
    let required = attribute_lines(filter.attributes()).replace('\n', ", ");
    format!("{lists}; holding {required}")
}

impl RecordTable for ClientFilters {
    const LISTING: Listing = Listing {
        hint: "Saved selections of clients. A mailing copies the filter it is created with, so \
               later changes here do not move existing mailings.",
        empty: "No client filters yet.",
        columns: &[
            Column::text("Name"),
            Column::text("Selects"),
            Column::number("Clients now"),
        ],
    };

    /// Each filter with how many clients it matches now, counted up to [`COUNTED_UP_TO`] so
    /// that a page of filters over millions of clients still answers at once.
    async fn rows(state: &AppState, page: PageRequest) -> Result<Page<Row>, AdminError> {
        let (filters, counts) = state
            .run(move |s| {
                let filters = s.list_client_filters(page)?;
                let counts = filters
                    .items
                    .iter()
                    .map(|saved| s.count_matching_up_to(&saved.filter, COUNTED_UP_TO + 1))
                    .collect::<Result<Vec<_>, _>>()?;
                Ok((filters, counts))
            })
            .await?;
        let rows = filters.items.iter().zip(counts).map(|(saved, matching)| {
            let name = match &saved.name {
                Some(name) => name.clone(),
                None => format!("Filter #{}", saved.id),
            };
            Row {
                id: saved.id.0,
                cells: vec![
                    Cell::Text(name.clone()),
                    Cell::Text(describe(&saved.filter)),
                    if matching > COUNTED_UP_TO {
                        Cell::Text(format!("over {COUNTED_UP_TO}"))
                    } else {
                        Cell::Number(matching)
                    },
                ],
                name,
                question: "Delete this client filter? Mailings keep their copy.".to_owned(),
            }
        });
        Ok(Page {
            items: rows.collect(),
            total: filters.total,
        })
    }
}

impl RecordPages for ClientFilters {
    type Id = ClientFilterId;
    type Stored = SavedFilter;
    type Input = ClientFilterInput;
    const FIELDS: &'static [&'static str] = &["name", "operator_codes", "tags", "attributes"];
    const LABELS: Labels = &[("operator_codes", "Operators")];
    const NOUN: &'static str = "client filter";
    const SECTION: &'static str = "client-filters";

    fn submitted(form: &Form) -> Self {
        Self {
            name: form.value("name").to_owned(),
            operator_codes: form.values("operator_codes"),
            tags: form.values("tags"),
            attributes: form.value("attributes").to_owned(),
        }
    }

    fn stored(_: &Viewer, saved: &SavedFilter) -> Self {
        Self {
            name: saved.name.clone().unwrap_or_default(),
            operator_codes: saved
                .filter
                .operator_codes()
                .map(|c| c.as_str().to_owned())
                .collect(),
            tags: saved.filter.tags().map(|t| t.as_str().to_owned()).collect(),
            attributes: attribute_lines(saved.filter.attributes()),
        }
    }

    /// The form shows every field, so saving replaces them all; a cleared name removes it.
    fn input(&self, _: &Viewer, _: Option<&SavedFilter>) -> Result<ClientFilterInput, ApiError> {
        let name = self.name.trim();
        Ok(ClientFilterInput {
            name: Field::from_option((!name.is_empty()).then(|| name.to_owned())),
            operator_codes: Field::value(self.operator_codes.clone()),
            tags: Field::value(self.tags.clone()),
            attributes: Field::value(typed_attributes(&self.attributes)?),
            unknown: UnknownFields::default(),
        })
    }

    async fn form_page(self, frame: FormFrame<'_, Self>) -> Result<HttpResponse, AdminError> {
        let catalog = Catalog::load(frame.state).await?;
        frame.render(|layout, form| FormPage {
            layout,
            form,
            operators: catalog.operator_choices(&self.operator_codes),
            tags: catalog.tag_choices(&self.tags),
            name: self.name,
            attributes: self.attributes,
        })
    }

    fn operations() -> impl Resource<Self> {
        Operations {
            get: client_filters::get,
            create: client_filters::create,
            replace: client_filters::replace,
            delete: client_filters::delete,
        }
    }

    fn id(saved: &SavedFilter) -> ClientFilterId {
        saved.id
    }
}
