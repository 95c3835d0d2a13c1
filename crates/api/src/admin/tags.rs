//! Tags: their list and their form, which renames a tag on every client carrying it. Saving
//! and deleting follow the flow every record shares.

use super::error::AdminError;
use super::field_errors::{FieldErrors, base_field};
use super::form::Form;
use super::record::{FormFrame, ListFrame, RecordPages};
use super::session::Viewer;
use super::view::{self, Layout, Pager};
use crate::error::ApiError;
use crate::operations::tags::{self, TagInput};
use crate::state::AppState;
use actix_web::HttpResponse;
use askama::Template;
use mailing_domain::TagId;
use mailing_domain::store::Tag;

pub struct Tags;

#[derive(Template)]
#[template(path = "admin/tags.html")]
struct ListPage {
    layout: Layout,
    tags: Vec<Tag>,
    pager: Pager,
}

#[derive(Template)]
#[template(path = "admin/tag_form.html")]
struct FormPage {
    layout: Layout,
    action: String,
    value: String,
    errors: FieldErrors,
}

impl RecordPages for Tags {
    const NOUN: &'static str = "tag";
    const SECTION: &'static str = "tags";
    const LIST_TITLE: &'static str = "Tags";
    type Id = TagId;
    type Editing = TagId;
    /// The tag's value, its one field.
    type Fields = String;

    async fn editing(_: &AppState, id: TagId) -> Result<TagId, AdminError> {
        Ok(id)
    }

    fn blank(_: &Viewer) -> String {
        String::new()
    }

    async fn stored(_: &Viewer, state: &AppState, &id: &TagId) -> Result<String, AdminError> {
        let tag = state.run(move |s| s.get_tag(id)).await?;
        Ok(tag.value.as_str().to_owned())
    }

    fn submitted(form: &Form) -> String {
        form.value("value").to_owned()
    }

    fn form_field(path: &str) -> Option<&'static str> {
        (base_field(path) == "value").then_some("value")
    }

    async fn create(_: &Viewer, state: &AppState, value: &String) -> Result<TagId, ApiError> {
        let input = TagInput {
            value: value.clone(),
        };
        Ok(tags::create(state, input).await?.id)
    }

    async fn replace(
        _: &Viewer,
        state: &AppState,
        &id: &TagId,
        value: &String,
    ) -> Result<TagId, ApiError> {
        let input = TagInput {
            value: value.clone(),
        };
        Ok(tags::rename(state, id, input).await?.id)
    }

    async fn delete(state: &AppState, id: TagId) -> Result<(), ApiError> {
        tags::delete(state, id).await
    }

    async fn list_page(
        _: &Viewer,
        state: &AppState,
        frame: ListFrame,
    ) -> Result<HttpResponse, AdminError> {
        let page = frame.query.page();
        let tags = state
            .run(move |s| s.list_tags(Pager::request(page)))
            .await?;
        view::render(
            frame.status,
            &ListPage {
                layout: frame.layout,
                pager: Pager::new(page, tags.total, &[]),
                tags: tags.items,
            },
        )
    }

    async fn form_page(
        _: &Viewer,
        _: &AppState,
        _: Option<&TagId>,
        value: String,
        frame: FormFrame,
    ) -> Result<HttpResponse, AdminError> {
        view::render(
            frame.status(),
            &FormPage {
                layout: frame.layout,
                action: frame.action,
                value,
                errors: frame.errors,
            },
        )
    }
}
