//! The mailing form's fields, as stored or as typed, and how the typed ones become the API's
//! input: times are read on the viewer's clock, unless the mailing uses each client's.

use crate::admin::form::Form;
use crate::admin::view::Clock;
use crate::error::{ApiError, FieldError};
use crate::operations::client_filters::FilterInput;
use crate::operations::input::{Field, UnknownFields};
use crate::operations::mailings::{MailingInput, SendWindowInput};
use crate::operations::problems::Problems;
use chrono::{DateTime, FixedOffset, NaiveDateTime, TimeZone as _, Utc};
use chrono_tz::Tz;
use mailing_domain::store::Mailing;

/// The form's fields as typed (or as stored, when editing).
pub struct Mailings {
    pub text: String,
    pub start_at: String,
    pub end_at: String,
    pub operator_codes: Vec<String>,
    pub tags: Vec<String>,
    pub client_filter_id: Option<i64>,
    pub window_start: String,
    pub window_end: String,
    pub local_time: bool,
}

impl Mailings {
    /// A new mailing: from now, for a day, to every client.
    pub fn new(clock: Clock, now: DateTime<Utc>) -> Self {
        Self {
            text: String::new(),
            start_at: clock.input(now),
            end_at: clock.input(now + chrono::Duration::days(1)),
            operator_codes: vec![],
            tags: vec![],
            client_filter_id: None,
            window_start: String::new(),
            window_end: String::new(),
            local_time: false,
        }
    }

    pub fn from_stored(mailing: &Mailing, clock: Clock) -> Self {
        let local_time = mailing.schedule.local_time();
        let window = mailing.schedule.send_window();
        Self {
            text: mailing.text.as_str().to_owned(),
            start_at: input_time(mailing.schedule.start_at(), local_time, clock),
            end_at: input_time(mailing.schedule.end_at(), local_time, clock),
            operator_codes: mailing
                .filter
                .operator_codes()
                .map(|c| c.as_str().to_owned())
                .collect(),
            tags: mailing
                .filter
                .tags()
                .map(|t| t.as_str().to_owned())
                .collect(),
            client_filter_id: mailing.client_filter_id.map(|id| id.0),
            window_start: window.map(|w| w.start_hhmm()).unwrap_or_default(),
            window_end: window.map(|w| w.end_hhmm()).unwrap_or_default(),
            local_time,
        }
    }

    pub fn from_form(form: &Form) -> Self {
        Self {
            // Browsers send a textarea's line breaks as CRLF; a text message has plain ones.
            text: form.value("text").replace("\r\n", "\n"),
            start_at: form.value("start_at").trim().to_owned(),
            end_at: form.value("end_at").trim().to_owned(),
            operator_codes: form.values("operator_codes"),
            tags: form.values("tags"),
            client_filter_id: form.value("client_filter_id").parse().ok(),
            window_start: form.value("window_start").trim().to_owned(),
            window_end: form.value("window_end").trim().to_owned(),
            local_time: form.checked("local_time"),
        }
    }

    /// The API's input for these fields; times are read in the viewer's zone unless the
    /// mailing uses each client's clock. `stored` keeps a stored instant that the form shows
    /// to the minute, so saving an unchanged form changes nothing. A time that cannot be read
    /// is refused as the API refuses a field.
    pub fn to_input(&self, zone: Tz, stored: Option<&Mailing>) -> Result<MailingInput, ApiError> {
        let mut problems = Problems::default();
        let clock = Clock(zone);
        let mut read = |field: &str, raw: &str, stored: Option<DateTime<Utc>>| {
            if let Some(instant) = stored
                && input_time(instant, self.local_time, clock) == raw
            {
                return Some(instant.fixed_offset());
            }
            match read_time(raw, self.local_time, zone) {
                Ok(time) => Some(time),
                Err(problem) => {
                    problems.push(FieldError::new(field, "datetime_local", problem));
                    None
                }
            }
        };
        let unchanged = stored.filter(|m| m.schedule.local_time() == self.local_time);
        let start_at = read(
            "start_at",
            &self.start_at,
            unchanged.map(|m| m.schedule.start_at()),
        );
        let end_at = read(
            "end_at",
            &self.end_at,
            unchanged.map(|m| m.schedule.end_at()),
        );
        let send_window = (!self.window_start.is_empty() || !self.window_end.is_empty())
            .then(|| SendWindowInput::new(self.window_start.clone(), self.window_end.clone()));
        let (filter, client_filter_id) = match self.client_filter_id {
            Some(id) => (None, Some(id)),
            None => (
                Some(FilterInput::new(
                    self.operator_codes.clone(),
                    self.tags.clone(),
                )),
                None,
            ),
        };
        problems.finish(|| MailingInput {
            text: Field::value(self.text.clone()),
            start_at: Field::value(start_at.expect("read").to_rfc3339()),
            end_at: Field::value(end_at.expect("read").to_rfc3339()),
            filter: Field::from_option(filter),
            client_filter_id: Field::from_option(client_filter_id),
            send_window: Field::from_option(send_window),
            local_time: Field::value(self.local_time),
            frequency_cap: Field::absent(),
            auto_pause: Field::absent(),
            unknown: UnknownFields::default(),
        })
    }
}

/// A `datetime-local` value for a stored instant.
fn input_time(instant: DateTime<Utc>, local_time: bool, clock: Clock) -> String {
    if local_time {
        instant.naive_utc().format("%Y-%m-%dT%H:%M").to_string()
    } else {
        clock.input(instant)
    }
}

/// Reads a `datetime-local` value: on the viewer's clock, or as a clock reading for each
/// client's zone (stored with offset zero).
fn read_time(raw: &str, local_time: bool, zone: Tz) -> Result<DateTime<FixedOffset>, String> {
    if raw.is_empty() {
        return Err("must be given".to_owned());
    }
    let naive = NaiveDateTime::parse_from_str(raw, "%Y-%m-%dT%H:%M")
        .or_else(|_| NaiveDateTime::parse_from_str(raw, "%Y-%m-%dT%H:%M:%S"))
        .map_err(|_| "must be a date and time, e.g. 2026-12-31T09:00".to_owned())?;
    if local_time {
        return Ok(naive.and_utc().fixed_offset());
    }
    zone.from_local_datetime(&naive)
        .earliest()
        .map(|time| time.fixed_offset())
        .ok_or_else(|| {
            format!(
                "does not exist in {} (the clocks skip it); pick another time",
                zone.name()
            )
        })
}
