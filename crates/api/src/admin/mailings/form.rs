//! How mailings take part in the flow every record shares: the form to create or change one,
//! with how many clients its selection reaches and, for a running mailing, the fields it may
//! no longer change locked; a saved mailing is shown on its own page.

use super::fields::Fields;
use super::list;
use super::matching::Selection;
use crate::admin::catalog::{Catalog, Choice};
use crate::admin::error::AdminError;
use crate::admin::field_errors::{FieldErrors, base_field};
use crate::admin::form::Form;
use crate::admin::record::{FormFrame, ListFrame, RecordPages};
use crate::admin::session::Viewer;
use crate::admin::view::{self, Clock, Layout};
use crate::error::ApiError;
use crate::operations::mailings;
use crate::state::AppState;
use actix_web::HttpResponse;
use askama::Template;
use chrono::Utc;
use mailing_domain::store::Mailing;
use mailing_domain::{ClientFilterId, MailingId, MailingStatus, MailingText};

pub struct Mailings;

#[derive(Template)]
#[template(path = "admin/mailing_form.html")]
struct FormPage {
    layout: Layout,
    action: String,
    /// Fields a running mailing may no longer change are shown but locked.
    running: bool,
    fields: Fields,
    operators: Vec<Choice>,
    tags: Vec<Choice>,
    filters: Vec<Choice>,
    matching: String,
    start_hint: String,
    max_chars: usize,
    text_chars: usize,
    errors: FieldErrors,
}

impl RecordPages for Mailings {
    const NOUN: &'static str = "mailing";
    const SECTION: &'static str = "mailings";
    const LIST_TITLE: &'static str = "Mailings";
    type Id = MailingId;
    /// The stored mailing: a running one locks fields, and its stored times are kept when the
    /// form shows them unchanged.
    type Editing = Mailing;
    type Fields = Fields;

    async fn editing(state: &AppState, id: MailingId) -> Result<Mailing, AdminError> {
        Ok(state.run(move |s| s.get_mailing(id)).await?)
    }

    fn blank(viewer: &Viewer) -> Fields {
        Fields::blank(Clock(viewer.zone), Utc::now())
    }

    async fn stored(
        viewer: &Viewer,
        _: &AppState,
        mailing: &Mailing,
    ) -> Result<Fields, AdminError> {
        Ok(Fields::stored(mailing, Clock(viewer.zone)))
    }

    fn submitted(form: &Form) -> Fields {
        Fields::submitted(form)
    }

    fn form_field(path: &str) -> Option<&'static str> {
        match path {
            "send_window" | "send_window.start" => Some("window_start"),
            "send_window.end" => Some("window_end"),
            "filter" => Some("operator_codes"),
            _ => match base_field(path) {
                "text" => Some("text"),
                "start_at" => Some("start_at"),
                "end_at" => Some("end_at"),
                "client_filter_id" => Some("client_filter_id"),
                "local_time" => Some("local_time"),
                "filter" if path.contains("tags") => Some("tags"),
                "filter" => Some("operator_codes"),
                _ => None,
            },
        }
    }

    async fn create(
        viewer: &Viewer,
        state: &AppState,
        fields: &Fields,
    ) -> Result<MailingId, ApiError> {
        let input = fields.input(viewer.zone, None)?;
        Ok(mailings::create(state, input).await?.id)
    }

    async fn replace(
        viewer: &Viewer,
        state: &AppState,
        stored: &Mailing,
        fields: &Fields,
    ) -> Result<MailingId, ApiError> {
        let input = fields.input(viewer.zone, Some(stored))?;
        Ok(mailings::replace(state, stored.id, input).await?.id)
    }

    async fn delete(state: &AppState, id: MailingId) -> Result<(), ApiError> {
        mailings::delete(state, id).await
    }

    fn saved_location(id: MailingId) -> String {
        format!("/admin/mailings/{id}")
    }

    fn form_title(id: Option<MailingId>) -> String {
        match id {
            Some(id) => format!("Edit mailing #{id}"),
            None => "New mailing".to_owned(),
        }
    }

    async fn list_page(
        viewer: &Viewer,
        state: &AppState,
        frame: ListFrame,
    ) -> Result<HttpResponse, AdminError> {
        list::page(viewer, state, frame).await
    }

    async fn form_page(
        viewer: &Viewer,
        state: &AppState,
        editing: Option<&Mailing>,
        fields: Fields,
        frame: FormFrame,
    ) -> Result<HttpResponse, AdminError> {
        let catalog = Catalog::load(state).await?;
        let matching = match fields.client_filter_id {
            Some(id) => Selection::Saved(ClientFilterId(id)),
            None => Selection::parse(&fields.operator_codes, &fields.tags),
        }
        .describe_reach(state)
        .await?;
        view::render(
            frame.status(),
            &FormPage {
                layout: frame.layout,
                action: frame.action,
                running: editing.is_some_and(|m| m.status(Utc::now()) == MailingStatus::Running),
                operators: catalog.operator_choices(&fields.operator_codes),
                tags: catalog.tag_choices(&fields.tags),
                filters: catalog.filter_choices(fields.client_filter_id),
                matching,
                start_hint: format!("In {}, unless Local time is ticked.", viewer.zone.name()),
                max_chars: MailingText::MAX_CHARS,
                text_chars: fields.text.chars().count(),
                fields,
                errors: frame.errors,
            },
        )
    }
}
