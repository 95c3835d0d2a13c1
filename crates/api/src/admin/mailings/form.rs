//! How mailings take part in the flow every record shares: the form to create or change one,
//! with how many clients its selection reaches and, for a running mailing, the fields it may
//! no longer change read-only (`running`); a saved mailing is shown on its own page.

use super::fields::Mailings;
use super::matching::Selection;
use super::running::{self, Save};
use crate::admin::catalog::{Catalog, Choice};
use crate::admin::error::AdminError;
use crate::admin::field_errors::{Labels, base_field};
use crate::admin::form::Form;
use crate::admin::record::{FormFrame, FormParts, Operations, RecordPages, Resource, field_of};
use crate::admin::session::Viewer;
use crate::admin::view::{Clock, Layout};
use crate::error::ApiError;
use crate::operations::mailings;
use actix_web::HttpResponse;
use askama::Template;
use chrono::Utc;
use mailing_domain::store::Mailing;
use mailing_domain::{ClientFilterId, MailingId, MailingStatus};

#[derive(Template)]
#[template(path = "admin/mailing_form.html")]
struct FormPage {
    layout: Layout,
    form: FormParts,
    /// Whether the mailing runs, so that some fields are locked.
    running: bool,
    /// Whether it is paused now, which the note on locked fields says.
    paused: bool,
    /// For a resend: the mailing whose clients it reaches, whatever its recipients say.
    resend_of: Option<i64>,
    /// The fields a running mailing may no longer change, shown read-only.
    locked: Vec<&'static str>,
    fields: Mailings,
    operators: Vec<Choice>,
    tags: Vec<Choice>,
    filters: Vec<Choice>,
    /// On or Off; the empty choice follows the deployment.
    auto_pause_choices: Vec<Choice>,
    matching: String,
    start_hint: String,
    /// The text's counter: characters, encoding and SMS parts.
    counted: String,
}

impl FormPage {
    /// Whether the field is shown read-only.
    fn is_locked(&self, field: &str) -> bool {
        self.locked.contains(&field)
    }
}

impl RecordPages for Mailings {
    type Id = MailingId;
    /// A running mailing locks fields, and its stored times are kept when the form shows them
    /// unchanged.
    type Stored = Mailing;
    /// Every field, or for a running mailing only those it may still change.
    type Input = Save;
    const FIELDS: &'static [&'static str] = &[
        "text",
        "start_at",
        "end_at",
        "client_filter_id",
        "local_time",
    ];
    const LABELS: Labels = &[
        ("start_at", "Start"),
        ("end_at", "End"),
        ("operator_codes", "Operators"),
        ("client_filter_id", "Saved client filter"),
        ("window_start", "Window from"),
        ("window_end", "Window until"),
        ("cap_max", "Max messages"),
        ("cap_hours", "Per hours"),
        ("auto_pause", "Auto-pause"),
        ("auto_pause_attempts", "Attempts judged"),
        ("auto_pause_share", "Failure share"),
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

    /// A running mailing's locked fields keep their stored values when the form showed them
    /// read-only, and only what it may still change is sent.
    fn input(&self, viewer: &Viewer, stored: Option<&Mailing>) -> Result<Save, ApiError> {
        match stored {
            Some(mailing) if running::is_running(mailing) && running::sent_without_locked(self) => {
                let fields = running::keep_locked(self, mailing, Clock(viewer.zone));
                Ok(Save {
                    whole: fields.to_input(viewer.zone, stored)?,
                    only_editable: true,
                })
            }
            _ => Ok(Save {
                whole: self.to_input(viewer.zone, stored)?,
                only_editable: false,
            }),
        }
    }

    /// The send window, the filter, the frequency cap and the auto-pause rule are objects in
    /// the API and several fields each here.
    fn form_field(path: &str) -> Option<&'static str> {
        match path {
            "send_window" | "send_window.start" => Some("window_start"),
            "send_window.end" => Some("window_end"),
            "frequency_cap.per_hours" => Some("cap_hours"),
            _ if base_field(path) == "frequency_cap" => Some("cap_max"),
            "auto_pause.attempts" => Some("auto_pause_attempts"),
            "auto_pause.failure_share" => Some("auto_pause_share"),
            _ if base_field(path) == "auto_pause" => Some("auto_pause"),
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
        let running = frame.stored.filter(|m| running::is_running(m));
        let (fields, locked) = match running {
            Some(mailing) => (
                running::keep_locked(&self, mailing, frame.clock),
                running::locked_fields(),
            ),
            None => (self, vec![]),
        };
        fields.page(frame, running.is_some(), locked).await
    }

    fn operations() -> impl Resource<Self> {
        Operations {
            get: mailings::get,
            create: running::create,
            replace: running::replace,
            delete: mailings::delete,
        }
    }

    fn id(mailing: &Mailing) -> MailingId {
        mailing.id
    }
}

impl Mailings {
    async fn page(
        self,
        frame: FormFrame<'_, Self>,
        running: bool,
        locked: Vec<&'static str>,
    ) -> Result<HttpResponse, AdminError> {
        let catalog = Catalog::load(frame.state).await?;
        let matching = match self.client_filter_id {
            Some(id) => Selection::Saved(ClientFilterId(id)),
            None => Selection::parse(&self.operator_codes, &self.tags),
        }
        .describe_reach(frame.state)
        .await?;
        let paused = frame
            .stored
            .is_some_and(|m| m.status(Utc::now()) == MailingStatus::Paused);
        let resend_of = frame.stored.and_then(|m| m.resend_of).map(|id| id.0);
        frame.render(|layout, form| FormPage {
            running,
            paused,
            resend_of,
            locked,
            operators: catalog.operator_choices(&self.operator_codes),
            tags: catalog.tag_choices(&self.tags),
            filters: catalog.filter_choices(self.client_filter_id),
            auto_pause_choices: [("on", "On"), ("off", "Off")]
                .into_iter()
                .map(|(value, label)| Choice {
                    value: value.to_owned(),
                    label: label.to_owned(),
                    checked: self.auto_pause == value,
                })
                .collect(),
            matching,
            start_hint: format!("In {}, unless Local time is ticked.", layout.zone),
            counted: super::text::describe(&self.text),
            fields: self,
            layout,
            form,
        })
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
        assert_eq!(field("frequency_cap"), Some("cap_max"));
        assert_eq!(field("frequency_cap.max"), Some("cap_max"));
        assert_eq!(field("frequency_cap.per_hours"), Some("cap_hours"));
        assert_eq!(field("frequency_cap.extra"), Some("cap_max"));
        assert_eq!(field("auto_pause.enabled"), Some("auto_pause"));
        assert_eq!(field("auto_pause.attempts"), Some("auto_pause_attempts"));
        assert_eq!(field("auto_pause.failure_share"), Some("auto_pause_share"));
        assert_eq!(field("filters"), None);
    }
}
