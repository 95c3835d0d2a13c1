//! Resending from a mailing's page: a new mailing with the same text, window and rules, to the
//! clients whose messages ended in the statuses ticked, over a new span read as the mailing
//! form reads times. The new mailing's page follows; problems are shown beside the fields of
//! the form, on the original's page.

use super::detail::{self, Shown};
use super::fields::{input_time, read_time};
use crate::admin::catalog::Choice;
use crate::admin::error::AdminError;
use crate::admin::field_errors::{FieldErrors, Labels};
use crate::admin::form::Form;
use crate::admin::session::Viewer;
use crate::admin::view::{self, Clock};
use crate::error::{ApiError, FieldError};
use crate::operations::input::{Field, UnknownFields};
use crate::operations::mailings::{self, RESEND_STATUSES, ResendInput};
use crate::operations::problems::Problems;
use crate::state::AppState;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use mailing_domain::store::{Mailing, StatusCounts};
use mailing_domain::{MailingId, MessageStatus};

/// The form's labels, in which its problems are told.
const LABELS: Labels = &[
    ("resend_statuses", "Statuses"),
    ("resend_start_at", "New start"),
    ("resend_end_at", "New end"),
];

/// The resend form as typed, or as first shown.
pub struct Typed {
    /// The statuses ticked.
    statuses: Vec<MessageStatus>,
    start_at: String,
    end_at: String,
    errors: FieldErrors,
}

impl Typed {
    /// From now, for a day, to the clients whose messages failed or expired.
    fn blank(clock: Clock, now: DateTime<Utc>) -> Self {
        Self {
            statuses: vec![MessageStatus::Failed, MessageStatus::Expired],
            start_at: input_time(now, false, clock),
            end_at: input_time(now + chrono::Duration::days(1), false, clock),
            errors: FieldErrors::default(),
        }
    }

    fn submitted(form: &Form) -> Self {
        Self {
            statuses: form
                .values("resend_statuses")
                .iter()
                .filter_map(|raw| raw.parse().ok())
                .filter(|status| RESEND_STATUSES.contains(status))
                .collect(),
            start_at: form.value("resend_start_at").trim().to_owned(),
            end_at: form.value("resend_end_at").trim().to_owned(),
            errors: FieldErrors::default(),
        }
    }

    /// The API's input: the times are read in the viewer's zone, or, for a mailing that uses
    /// each client's clock, as a clock reading, as the mailing form reads them.
    fn to_input(&self, zone: Tz, local_time: bool) -> Result<ResendInput, ApiError> {
        let mut problems = Problems::default();
        let mut read = |field: &str, raw: &str| match read_time(raw, local_time, zone) {
            Ok(time) => Some(time.to_rfc3339()),
            Err(problem) => {
                problems.push(FieldError::new(field, "datetime_local", problem));
                None
            }
        };
        let start_at = read("start_at", &self.start_at);
        let end_at = read("end_at", &self.end_at);
        if self.statuses.is_empty() {
            problems.push(FieldError::new(
                "statuses",
                "empty",
                "tick at least one of them",
            ));
        }
        problems.finish(|| ResendInput {
            statuses: Field::value(
                self.statuses
                    .iter()
                    .map(|s| s.as_str().to_owned())
                    .collect(),
            ),
            start_at: Field::value(start_at.expect("read")),
            end_at: Field::value(end_at.expect("read")),
            unknown: UnknownFields::default(),
        })
    }
}

/// The resend form on a mailing's page.
pub struct ResendForm {
    /// A checkbox for each status a resend may pick, with its count of messages.
    pub statuses: Vec<Choice>,
    pub start_at: String,
    pub end_at: String,
    /// How the times are read.
    pub time_hint: String,
    pub errors: FieldErrors,
}

impl ResendForm {
    /// The form for `mailing`, whose messages are counted in `counts`: as typed when it came
    /// back with problems, else as first shown. `None` while no message ended so and nothing
    /// was typed.
    pub fn of(
        mailing: &Mailing,
        counts: &StatusCounts,
        typed: Option<Typed>,
        viewer: &Viewer,
        now: DateTime<Utc>,
    ) -> Option<Self> {
        let clock = Clock(viewer.zone);
        let reachable = RESEND_STATUSES.iter().any(|s| counts.get(*s) > 0);
        let typed = match typed {
            Some(typed) => typed,
            None if reachable => Typed::blank(clock, now),
            None => return None,
        };
        let time_hint = if mailing.schedule.local_time() {
            "On each client's own clock, as this mailing reads its times.".to_owned()
        } else {
            format!("In {}.", viewer.zone.name())
        };
        Some(Self {
            statuses: RESEND_STATUSES
                .iter()
                .map(|status| Choice {
                    value: status.as_str().to_owned(),
                    label: format!("{status} ({})", counts.get(*status)),
                    checked: typed.statuses.contains(status),
                })
                .collect(),
            start_at: typed.start_at,
            end_at: typed.end_at,
            time_hint,
            errors: typed.errors,
        })
    }
}

/// `POST /admin/mailings/{id}/resend`: creates the resend and shows it, or shows the original's
/// page again with the form as typed and its problems.
pub async fn resend(
    viewer: Viewer,
    state: web::Data<AppState>,
    id: web::Path<MailingId>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, AdminError> {
    let form = viewer.verify_csrf_token(&body)?;
    let id = id.into_inner();
    let mut typed = Typed::submitted(&form);
    let original = mailings::get(&state, id).await?;
    let done = match typed.to_input(viewer.zone, original.schedule.local_time()) {
        Ok(input) => mailings::resend(&state, id, input).await,
        Err(problems) => Err(problems),
    };
    match done {
        Ok(mailing) => {
            tracing::info!(mailing_id = mailing.id.0, resend_of = id.0, username = %viewer.username, "mailing resent in the admin UI");
            Ok(view::see_other(
                &format!("/admin/mailings/{}", mailing.id.0),
                "created",
            ))
        }
        Err(error) => {
            typed.errors = FieldErrors::from_api(error, form_field, LABELS)?;
            detail::page(&viewer, &state, id, &req, Shown::resend(typed)).await
        }
    }
}

/// The form field an API path of the resend concerns.
fn form_field(path: &str) -> Option<&'static str> {
    match path.split(['[', '.']).next().unwrap_or(path) {
        "statuses" => Some("resend_statuses"),
        "start_at" => Some("resend_start_at"),
        "end_at" => Some("resend_end_at"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problems_land_on_the_resend_fields() {
        assert_eq!(form_field("statuses"), Some("resend_statuses"));
        assert_eq!(form_field("statuses[1]"), Some("resend_statuses"));
        assert_eq!(form_field("start_at"), Some("resend_start_at"));
        assert_eq!(form_field("end_at"), Some("resend_end_at"));
        assert_eq!(form_field("text"), None);
    }

    #[test]
    fn the_form_reads_its_times_as_the_mailing_form_does() {
        let zone: Tz = "Asia/Yekaterinburg".parse().unwrap();
        let form = Form::parse(
            b"resend_statuses=failed&resend_statuses=sent&resend_statuses=expired\
              &resend_start_at=2030-01-01T09:00&resend_end_at=2030-01-02T09:00",
        );
        let typed = Typed::submitted(&form);
        // Only statuses a resend may pick are kept.
        assert_eq!(
            typed.statuses,
            [MessageStatus::Failed, MessageStatus::Expired]
        );
        let input = typed.to_input(zone, false).unwrap();
        assert_eq!(
            input.start_at.given(),
            &crate::operations::input::Given::Value("2030-01-01T09:00:00+05:00".to_owned())
        );
        // A mailing on each client's clock reads the same typing as a clock reading.
        let input = typed.to_input(zone, true).unwrap();
        assert_eq!(
            input.end_at.given(),
            &crate::operations::input::Given::Value("2030-01-02T09:00:00+00:00".to_owned())
        );
    }

    #[test]
    fn nothing_ticked_and_unreadable_times_are_told_together() {
        let typed = Typed::submitted(&Form::parse(b"resend_start_at=soon&resend_end_at="));
        let Err(ApiError::Validation(problems)) = typed.to_input(chrono_tz::UTC, false) else {
            panic!("refused");
        };
        let fields: Vec<_> = problems.iter().map(|p| p.field.as_str()).collect();
        assert_eq!(fields, ["start_at", "end_at", "statuses"]);
    }
}
