//! The mailing form's fields, as stored or as typed, and how the typed ones become the API's
//! input: times are read on the viewer's clock, unless the mailing uses each client's. The
//! frequency cap and the auto-pause rule are always sent as the form shows them, so saving a
//! form keeps or changes them as it says, never drops them unseen.

use crate::admin::form::Form;
use crate::admin::view::Clock;
use crate::error::{ApiError, FieldError};
use crate::operations::client_filters::FilterInput;
use crate::operations::input::{Field, Given, UnknownFields};
use crate::operations::mailings::{
    AutoPauseInput, FrequencyCapInput, MailingInput, SendWindowInput,
};
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
    /// The mailing's own frequency cap: both empty for none.
    pub cap_max: String,
    pub cap_hours: String,
    /// Its auto-pause rule: `on`, `off`, or empty for the deployment's; the attempts and the
    /// share, empty for the deployment's.
    pub auto_pause: String,
    pub auto_pause_attempts: String,
    pub auto_pause_share: String,
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
            cap_max: String::new(),
            cap_hours: String::new(),
            auto_pause: String::new(),
            auto_pause_attempts: String::new(),
            auto_pause_share: String::new(),
        }
    }

    pub fn from_stored(mailing: &Mailing, clock: Clock) -> Self {
        let local_time = mailing.schedule.local_time();
        let window = mailing.schedule.send_window();
        let cap = mailing.frequency_cap;
        let rule = mailing.auto_pause;
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
            cap_max: cap.map(|c| c.max().to_string()).unwrap_or_default(),
            cap_hours: cap.map(|c| c.per_hours().to_string()).unwrap_or_default(),
            auto_pause: match rule.enabled {
                Some(true) => "on",
                Some(false) => "off",
                None => "",
            }
            .to_owned(),
            auto_pause_attempts: rule.attempts.map(|n| n.to_string()).unwrap_or_default(),
            auto_pause_share: rule
                .failure_share
                .map(|share| share.as_f64().to_string())
                .unwrap_or_default(),
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
            cap_max: form.value("cap_max").trim().to_owned(),
            cap_hours: form.value("cap_hours").trim().to_owned(),
            auto_pause: form.value("auto_pause").trim().to_owned(),
            auto_pause_attempts: form.value("auto_pause_attempts").trim().to_owned(),
            auto_pause_share: form.value("auto_pause_share").trim().to_owned(),
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
            None => {
                let lists = FilterInput::new(self.operator_codes.clone(), self.tags.clone());
                // The form has no place for required attribute values: a saved mailing keeps
                // the ones its filter has.
                let filter = match stored {
                    Some(mailing) => lists.with_attributes(mailing.filter.attributes().to_json()),
                    None => lists,
                };
                (Some(filter), None)
            }
        };
        problems.finish(|| MailingInput {
            text: Field::value(self.text.clone()),
            start_at: Field::value(start_at.expect("read").to_rfc3339()),
            end_at: Field::value(end_at.expect("read").to_rfc3339()),
            filter: Field::from_option(filter),
            client_filter_id: Field::from_option(client_filter_id),
            send_window: Field::from_option(send_window),
            local_time: Field::value(self.local_time),
            frequency_cap: self.frequency_cap(),
            auto_pause: Field::value(self.auto_pause_rule()),
            unknown: UnknownFields::default(),
        })
    }

    /// The cap as the form gives it; both halves empty leave it out, which a whole mailing
    /// reads as "none of its own". One half alone is sent as it is, for the API to say what is
    /// missing.
    fn frequency_cap(&self) -> Field<FrequencyCapInput> {
        if self.cap_max.is_empty() && self.cap_hours.is_empty() {
            return Field::absent();
        }
        Field::value(FrequencyCapInput {
            max: whole_number(&self.cap_max),
            per_hours: whole_number(&self.cap_hours),
            unknown: UnknownFields::default(),
        })
    }

    /// The auto-pause rule as the form gives it, always sent whole: what is left empty is the
    /// deployment's.
    fn auto_pause_rule(&self) -> AutoPauseInput {
        AutoPauseInput {
            enabled: match self.auto_pause.as_str() {
                "on" => Field::value(true),
                "off" => Field::value(false),
                "" => Field::absent(),
                _ => wrong("must be On, Off or the deployment's setting"),
            },
            attempts: whole_number(&self.auto_pause_attempts),
            failure_share: match self.auto_pause_share.as_str() {
                "" => Field::absent(),
                raw => raw.parse::<f64>().map_or_else(
                    |_| wrong("must be a number from 0 up to but not including 1, such as 0.8"),
                    Field::value,
                ),
            },
            unknown: UnknownFields::default(),
        }
    }
}

/// A number field as typed: empty is left out, and what is not a whole number is refused as
/// the API refuses a value of the wrong type.
fn whole_number<R>(raw: &str) -> Field<u32, R> {
    if raw.is_empty() {
        return Field::absent();
    }
    raw.parse().map_or_else(
        |_| wrong("must be a whole number, such as 24"),
        Field::value,
    )
}

fn wrong<T, R>(message: &str) -> Field<T, R> {
    Given::WrongType {
        path: String::new(),
        message: message.to_owned(),
    }
    .into()
}

/// A `datetime-local` value for a stored instant.
pub(super) fn input_time(instant: DateTime<Utc>, local_time: bool, clock: Clock) -> String {
    if local_time {
        instant.naive_utc().format("%Y-%m-%dT%H:%M").to_string()
    } else {
        clock.input(instant)
    }
}

/// Reads a `datetime-local` value: on the viewer's clock, or as a clock reading for each
/// client's zone (stored with offset zero).
pub(super) fn read_time(
    raw: &str,
    local_time: bool,
    zone: Tz,
) -> Result<DateTime<FixedOffset>, String> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::operations::input::Given;
    use mailing_domain::campaign::FailureShare;
    use mailing_domain::{
        AutoPauseOverride, ClientFilter, FrequencyCap, MailingId, MailingSchedule, MailingText,
    };

    fn stored(cap: Option<FrequencyCap>, auto_pause: AutoPauseOverride) -> Mailing {
        let at = |h| Utc.with_ymd_and_hms(2030, 1, 1, h, 0, 0).unwrap();
        Mailing {
            id: MailingId(3),
            text: MailingText::parse("hi").unwrap(),
            schedule: MailingSchedule::new(at(9), at(18), false, None).unwrap(),
            filter: ClientFilter::default(),
            client_filter_id: None,
            created_at: at(8),
            updated_at: at(8),
            cancelled_at: None,
            paused: None,
            paused_before: chrono::Duration::zero(),
            auto_pauses: 0,
            cap_deferrals: 0,
            resend_of: None,
            frequency_cap: cap,
            auto_pause,
        }
    }

    fn value<T: std::fmt::Debug, R>(field: Field<T, R>) -> T {
        match field.into_given() {
            Given::Value(value) => value,
            other => panic!("not a value: {other:?}"),
        }
    }

    #[test]
    fn an_unchanged_form_sends_the_stored_cap_and_auto_pause_rule_back() {
        let rule = AutoPauseOverride {
            enabled: Some(true),
            attempts: Some(3),
            failure_share: Some(FailureShare::new(0.5).unwrap()),
        };
        let mailing = stored(Some(FrequencyCap::new(2, 24).unwrap()), rule);
        let fields = Mailings::from_stored(&mailing, Clock(chrono_tz::UTC));
        assert_eq!(
            (fields.cap_max.as_str(), fields.cap_hours.as_str()),
            ("2", "24")
        );
        assert_eq!(
            (
                fields.auto_pause.as_str(),
                fields.auto_pause_attempts.as_str(),
                fields.auto_pause_share.as_str()
            ),
            ("on", "3", "0.5")
        );
        let input = fields.to_input(chrono_tz::UTC, Some(&mailing)).unwrap();
        let cap = value(input.frequency_cap);
        assert_eq!((value(cap.max), value(cap.per_hours)), (2, 24));
        let rule = value(input.auto_pause);
        assert!(value(rule.enabled));
        assert_eq!(value(rule.attempts), 3);
        assert_eq!(value(rule.failure_share), 0.5);
    }

    #[test]
    fn empty_rule_fields_leave_the_cap_out_and_the_deployment_rule_in_place() {
        let mailing = stored(None, AutoPauseOverride::default());
        let fields = Mailings::from_stored(&mailing, Clock(chrono_tz::UTC));
        let input = fields.to_input(chrono_tz::UTC, Some(&mailing)).unwrap();
        assert!(matches!(input.frequency_cap.given(), Given::Absent));
        // Sent whole, each part left to the deployment.
        let rule = value(input.auto_pause);
        assert!(matches!(rule.enabled.given(), Given::Absent));
        assert!(matches!(rule.attempts.given(), Given::Absent));
        assert!(matches!(rule.failure_share.given(), Given::Absent));
    }

    #[test]
    fn unreadable_numbers_are_refused_as_values_of_the_wrong_type() {
        let mut fields = Mailings::new(Clock(chrono_tz::UTC), Utc::now());
        fields.cap_max = "two".to_owned();
        fields.auto_pause = "sometimes".to_owned();
        fields.auto_pause_share = "80%".to_owned();
        let input = fields.to_input(chrono_tz::UTC, None).unwrap();
        let cap = value(input.frequency_cap);
        assert!(matches!(cap.max.given(), Given::WrongType { .. }));
        // The half left empty is missing, which the API says.
        assert!(matches!(cap.per_hours.given(), Given::Absent));
        let rule = value(input.auto_pause);
        assert!(matches!(rule.enabled.given(), Given::WrongType { .. }));
        assert!(matches!(
            rule.failure_share.given(),
            Given::WrongType { .. }
        ));
    }
}
