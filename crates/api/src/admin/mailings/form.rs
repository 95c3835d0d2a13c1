//! How mailings take part in the flow every record shares: the form to create or change one,
//! with how many clients its selection reaches and, for a running mailing, the fields it may
//! no longer change locked; a saved mailing is shown on its own page.

use super::fields::Mailings;
use super::matching::Selection;
use crate::admin::catalog::{Catalog, Choice};
use crate::admin::error::AdminError;
use crate::admin::field_errors::base_field;
use crate::admin::form::Form;
use crate::admin::record::{FormFrame, FormParts, Operations, RecordPages, Resource, field_of};
use crate::admin::session::Viewer;
use crate::admin::view::{Clock, Layout};
use crate::error::ApiError;
use crate::operations::mailings::{self, MailingInput};
use actix_web::HttpResponse;
use askama::Template;
use chrono::Utc;
use mailing_domain::store::Mailing;
use mailing_domain::{ClientFilterId, MailingId, MailingStatus, MailingText};

#[derive(Template)]
#[template(path = "admin/mailing_form.html")]
struct FormPage {
    layout: Layout,
    form: FormParts,
    /// Fields a running mailing may no longer change are shown but locked.
    running: bool,
    fields: Mailings,
    operators: Vec<Choice>,
    tags: Vec<Choice>,
    filters: Vec<Choice>,
    matching: String,
    start_hint: String,
    max_chars: usize,
    text_chars: usize,
}

impl RecordPages for Mailings {
    type Id = MailingId;
    /// A running mailing locks fields, and its stored times are kept when the form shows them
    /// unchanged.
    type Stored = Mailing;
    type Input = MailingInput;
    const FIELDS: &'static [&'static str] = &[
        "text",
        "start_at",
        "end_at",
        "client_filter_id",
        "local_time",
    ];
    const NOUN: &'static str = "mailing";
    const SECTION: &'static str = "mailings";

    fn submitted(form: &Form) -> Self {
        Self::from_form(form)
    }

    /// From now, for a day, to every client.
    fn blank(viewer: &Viewer) -> Self {
        Self::new(Clock(viewer.zone), Utc::now())
    }

    fn stored(viewer: &Viewer, mailing: &Mailing) -> Self {
        Self::from_stored(mailing, Clock(viewer.zone))
    }

    fn input(&self, viewer: &Viewer, stored: Option<&Mailing>) -> Result<MailingInput, ApiError> {
        self.to_input(viewer.zone, stored)
    }

    /// The send window and the filter are objects in the API and two fields each here.
    fn form_field(path: &str) -> Option<&'static str> {
        match path {
            "send_window" | "send_window.start" => Some("window_start"),
            "send_window.end" => Some("window_end"),
            _ if base_field(path) == "filter" && path.contains("tags") => Some("tags"),
            _ if base_field(path) == "filter" => Some("operator_codes"),
            _ => field_of(Self::FIELDS, path),
        }
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

    async fn form_page(self, frame: FormFrame<'_, Self>) -> Result<HttpResponse, AdminError> {
        let catalog = Catalog::load(frame.state).await?;
        let matching = match self.client_filter_id {
            Some(id) => Selection::Saved(ClientFilterId(id)),
            None => Selection::parse(&self.operator_codes, &self.tags),
        }
        .describe_reach(frame.state)
        .await?;
        let running = frame
            .stored
            .is_some_and(|m| m.status(Utc::now()) == MailingStatus::Running);
        frame.render(|layout, form| FormPage {
            running,
            operators: catalog.operator_choices(&self.operator_codes),
            tags: catalog.tag_choices(&self.tags),
            filters: catalog.filter_choices(self.client_filter_id),
            matching,
            start_hint: format!("In {}, unless Local time is ticked.", layout.zone),
            max_chars: MailingText::MAX_CHARS,
            text_chars: self.text.chars().count(),
            fields: self,
            layout,
            form,
        })
    }

    fn operations() -> impl Resource<Self> {
        Operations {
            get: mailings::get,
            create: mailings::create,
            replace: mailings::replace,
            delete: mailings::delete,
        }
    }

    fn id(mailing: &Mailing) -> MailingId {
        mailing.id
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_problems_land_on_the_form_fields_they_concern() {
        let field = <Mailings as RecordPages>::form_field;
        assert_eq!(field("send_window"), Some("window_start"));
        assert_eq!(field("send_window.end"), Some("window_end"));
        assert_eq!(field("filter.tags[1]"), Some("tags"));
        assert_eq!(field("filter.operator_codes[0]"), Some("operator_codes"));
        assert_eq!(field("start_at"), Some("start_at"));
        assert_eq!(field("filters"), None);
    }
}
