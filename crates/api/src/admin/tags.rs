//! Tags: their list and their form, which renames a tag on every client carrying it. The pages
//! follow the flow every record shares, except deleting: a tag in use is not deleted, and the
//! page that says what holds it offers to take it off its clients first.

use super::error::AdminError;
use super::form::Form;
use super::record::{self, Cell, Column, FormFrame, FormParts, Listing, RecordPages, RecordTable};
use super::record::{Operations, Resource, Row};
use super::session::Viewer;
use super::view::{self, Layout};
use crate::error::ApiError;
use crate::operations::input::{Field, UnknownFields};
use crate::operations::tags::{self, TagInput};
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use mailing_domain::TagId;
use mailing_domain::store::{Page, PageRequest, Tag, TagUse};

/// Registers the tags' pages: those every record shares, after a delete of the tags' own,
/// which answers the shared delete's path first.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/tags/{id}/delete", web::post().to(delete));
    record::routes::<Tags>(cfg);
}

/// Why a tag was not deleted, and the way on when there is one.
#[derive(Template)]
#[template(path = "admin/tag_delete.html")]
struct InUsePage {
    layout: Layout,
    id: i64,
    reason: String,
    filters: Vec<i64>,
    mailings: Vec<i64>,
    /// Only clients carry it: the page offers to take it off them and delete it.
    detachable: bool,
    /// "1 client", "3 clients".
    carriers: String,
}

/// `POST /admin/tags/{id}/delete`, with `detach=true` once the viewer agreed to take the tag
/// off its clients. A tag in use answers with a page saying what holds it (409).
async fn delete(
    viewer: Viewer,
    state: web::Data<AppState>,
    id: web::Path<TagId>,
    body: web::Bytes,
) -> Result<HttpResponse, AdminError> {
    let form = viewer.verify_csrf_token(&body)?;
    let id = id.into_inner();
    let detach = form.value("detach") == "true";
    let usage = match tags::try_delete(&state, id, detach).await? {
        Ok(()) => {
            tracing::info!(%id, detach, username = %viewer.username, "tag deleted in the admin UI");
            return Ok(view::see_other("/admin/tags", "deleted"));
        }
        Err(usage) => usage,
    };
    let tag = tags::get(&state, id).await?;
    let TagUse {
        clients,
        client_filters,
        mailings,
    } = usage.clone();
    let page = InUsePage {
        layout: Layout::new(
            &viewer,
            "tags",
            format!("Delete tag {}", tag.value.as_str()),
        ),
        id: id.0,
        reason: format!("{}.", view::capitalised(&usage.to_string())),
        filters: client_filters.iter().map(|f| f.0).collect(),
        mailings: mailings.iter().map(|m| m.0).collect(),
        detachable: usage.detachable(),
        carriers: match clients {
            1 => "1 client".to_owned(),
            n => format!("{n} clients"),
        },
    };
    view::render(StatusCode::CONFLICT, &page)
}

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
        hint: "Labels on clients; mailings and client filters can pick clients by tag. A tag \
               clients carry is deleted once you agree to take it off them; one a filter names, \
               once the filter no longer names it.",
        empty: "No tags yet.",
        columns: &[Column::text("Value")],
    };

    async fn rows(state: &AppState, page: PageRequest) -> Result<Page<Row>, AdminError> {
        let tags = state.run(move |s| s.list_tags(page)).await?;
        Ok(Row::page(tags, |tag| Row {
            id: tag.id.0,
            name: tag.value.as_str().to_owned(),
            cells: vec![Cell::Text(tag.value.as_str().to_owned())],
            question: format!("Delete tag {}?", tag.value.as_str()),
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
            // Deleting has a route of its own (above); this one is for the flow's sake.
            delete: async |state: &AppState, id| tags::delete(state, id, false).await,
        }
    }

    fn id(tag: &Tag) -> TagId {
        tag.id
    }
}
