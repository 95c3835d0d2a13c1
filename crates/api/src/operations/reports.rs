//! The daily report, the same for the JSON API and the admin UI: which day a request names,
//! composing that day's report, and sending it by e-mail on request.

use crate::error::{ApiError, FieldError};
use crate::operations::examples;
use crate::operations::problems::Problems;
use crate::state::AppState;
use chrono::{DateTime, NaiveDate, Utc};
use mailing_domain::report::ReportCalendar;
use mailing_domain::store::ReportSent;
use mailing_reports::{DailyReport, Mailer, Sending, compose};
use paperclip::actix::Apiv2Schema;
use serde::Deserialize;

/// What the api knows of the daily report: its calendar, and the mailer when the e-mail is on.
pub struct ReportConfig {
    pub calendar: ReportCalendar,
    pub mailer: Option<Mailer>,
}

#[derive(Default, Deserialize, Apiv2Schema)]
#[serde(deny_unknown_fields)]
pub struct DailyReportQuery {
    /// The day, YYYY-MM-DD, in the report's time zone (MAILING_REPORT_TIME_ZONE). Default: the
    /// day the latest scheduled report covers.
    pub date: Option<String>,
}

#[derive(Default, Deserialize, Apiv2Schema)]
#[serde(deny_unknown_fields)]
pub struct SendReportInput {
    /// The day, YYYY-MM-DD, in the report's time zone. Default: the day the latest scheduled
    /// report covers.
    pub date: Option<String>,
}

/// The first day a report may be asked for: nothing is stored from before it.
const FIRST_DAY: NaiveDate = NaiveDate::from_ymd_opt(1970, 1, 1).expect("a valid date");

/// The day `raw` names, or the default day when it is absent or blank; a day that has not
/// begun in the report's zone is refused, as it has nothing to report.
pub fn report_date(
    raw: Option<&str>,
    calendar: &ReportCalendar,
    now: DateTime<Utc>,
    problems: &mut Problems,
) -> Option<NaiveDate> {
    let Some(raw) = raw.map(str::trim).filter(|raw| !raw.is_empty()) else {
        return Some(calendar.default_date(now));
    };
    let example = examples::example("date").unwrap_or_default();
    match NaiveDate::parse_from_str(raw, "%Y-%m-%d") {
        Ok(date) if date > calendar.today(now) => {
            problems.push(FieldError::new(
                "date",
                "date_in_future",
                format!(
                    "is after today ({} in {}), which has nothing to report yet; for example {example}",
                    calendar.today(now),
                    calendar.zone.name()
                ),
            ));
            None
        }
        Ok(date) if date < FIRST_DAY => {
            problems.push(FieldError::new(
                "date",
                "date_out_of_range",
                format!("is before {FIRST_DAY}, before anything was sent; for example {example}"),
            ));
            None
        }
        Ok(date) => Some(date),
        Err(_) => {
            problems.push(FieldError::new(
                "date",
                "date_format",
                format!("is not a date written as YYYY-MM-DD; for example {example}"),
            ));
            None
        }
    }
}

/// The day a query names at `now`; problems make a 400, as for every query.
pub fn queried_date(
    query: &DailyReportQuery,
    calendar: &ReportCalendar,
    now: DateTime<Utc>,
) -> Result<NaiveDate, ApiError> {
    let mut problems = Problems::default();
    let date = report_date(query.date.as_deref(), calendar, now, &mut problems);
    problems.finish_query(|| date.expect("checked"))
}

/// The day a body names at `now`; problems make a 422.
pub fn requested_date(
    input: &SendReportInput,
    calendar: &ReportCalendar,
    now: DateTime<Utc>,
) -> Result<NaiveDate, ApiError> {
    let mut problems = Problems::default();
    let date = report_date(input.date.as_deref(), calendar, now, &mut problems);
    problems.finish(|| date.expect("checked"))
}

/// `date`'s report as the store holds it now, with where its e-mail stands.
pub async fn daily_report(state: &AppState, date: NaiveDate) -> Result<DailyReport, ApiError> {
    let zone = state.reports.calendar.zone;
    state
        .run(move |store| compose(store, date, zone, Utc::now()))
        .await
}

/// Sends `date`'s report to the configured recipients now. If the day's scheduled e-mail is
/// due already and has not gone out, the day counts as sent, so it is not sent twice; before
/// then the scheduled one still goes out at its time, with the whole day in it.
pub async fn send_daily_report(state: &AppState, date: NaiveDate) -> Result<ReportSent, ApiError> {
    let Some(mailer) = state.reports.mailer.as_ref() else {
        return Err(email_off());
    };
    let report = daily_report(state, date).await?;
    let sent = mailer
        .send(&report, Sending::Manual, Utc::now())
        .await
        .map_err(|error| {
            tracing::warn!(date = %report.date, %error, "the daily report could not be sent on request");
            smtp_failed(&error)
        })?;
    if state.reports.calendar.due_at(date) <= sent.at {
        let zone = state.reports.calendar.zone.name();
        let recorded = sent.clone();
        state
            .run(move |store| store.daily_report_sent(date, zone, &recorded))
            .await?;
    }
    tracing::info!(date = %report.date, recipients = %sent.recipients, message_id = %sent.message_id, "daily report sent on request");
    Ok(sent)
}

/// 409: sending was asked for, but no SMTP server or no recipients are configured.
pub fn email_off() -> ApiError {
    ApiError::Conflict {
        code: "report_email_off",
        message: "the daily report e-mail is off: set MAILING_SMTP_URL and \
                  MAILING_REPORT_RECIPIENTS to send it"
            .to_owned(),
        details: vec![],
    }
}

/// 502: the SMTP server did not take the report; `error` has its answer, never the password.
pub fn smtp_failed(error: &dyn std::fmt::Display) -> ApiError {
    ApiError::Upstream {
        code: "smtp_failed",
        message: error.to_string(),
    }
}

/// A calendar for the error catalog's examples.
pub fn example_calendar() -> ReportCalendar {
    ReportCalendar {
        time: chrono::NaiveTime::MIN,
        zone: chrono_tz::UTC,
        day: mailing_domain::report::ReportDay::Previous,
    }
}
