//! A running mailing's form. The fields a running mailing may no longer change (the domain's
//! rule, [`MailingField::editable_while_running`]) are shown read-only with their stored
//! values, and saving sends only the fields that may still change, so a form that shows them
//! unchanged is never refused for them.

use super::fields::Mailings;
use crate::admin::view::Clock;
use crate::error::ApiError;
use crate::operations::input::{Field, Given, UnknownFields};
use crate::operations::mailings::{self, MailingInput, MailingPatchInput};
use crate::state::AppState;
use chrono::Utc;
use mailing_domain::mailing::MailingField;
use mailing_domain::store::Mailing;
use mailing_domain::{MailingId, MailingStatus};

/// What saving the mailing form sends: every field, or, for a mailing that is running, only
/// those it may still change (the others come from the stored mailing and are left out).
pub struct Save {
    pub whole: MailingInput,
    pub only_editable: bool,
}

/// The form's fields that show each part of a mailing.
const FORM_FIELDS: [(MailingField, &[&str]); 8] = [
    (MailingField::Text, &["text"]),
    (MailingField::StartAt, &["start_at"]),
    (MailingField::EndAt, &["end_at"]),
    (MailingField::LocalTime, &["local_time"]),
    (MailingField::SendWindow, &["window_start", "window_end"]),
    (
        MailingField::Filter,
        &["operator_codes", "tags", "client_filter_id"],
    ),
    (MailingField::FrequencyCap, &["cap_max", "cap_hours"]),
    (
        MailingField::AutoPause,
        &["auto_pause", "auto_pause_attempts", "auto_pause_share"],
    ),
];

/// Whether the mailing has started and not ended, so that some of its fields are locked: one
/// paused since is locked alike.
pub fn is_running(mailing: &Mailing) -> bool {
    mailing.clock_status(Utc::now()) == MailingStatus::Running
}

/// Whether the form was shown with the locked fields read-only, which a browser does not
/// send: then they keep their stored values. A form shown before the mailing started sends
/// them, and the API judges whether they changed. The start is locked while running and
/// required otherwise, so it arrives empty only from a locked form.
pub fn sent_without_locked(typed: &Mailings) -> bool {
    typed.start_at.is_empty()
}

/// The form fields a running mailing may no longer change.
pub fn locked_fields() -> Vec<&'static str> {
    FORM_FIELDS
        .iter()
        .filter(|(part, _)| !part.editable_while_running())
        .flat_map(|(_, fields)| fields.iter().copied())
        .collect()
}

/// The form as typed where the mailing may still change, and as stored where it may not:
/// locked fields are shown read-only, so a browser does not send them.
pub fn keep_locked(typed: &Mailings, stored: &Mailing, clock: Clock) -> Mailings {
    use MailingField::*;
    let kept = Mailings::from_stored(stored, clock);
    Mailings {
        text: pick(Text, typed.text.clone(), kept.text),
        start_at: pick(StartAt, typed.start_at.clone(), kept.start_at),
        end_at: pick(EndAt, typed.end_at.clone(), kept.end_at),
        local_time: pick(LocalTime, typed.local_time, kept.local_time),
        window_start: pick(SendWindow, typed.window_start.clone(), kept.window_start),
        window_end: pick(SendWindow, typed.window_end.clone(), kept.window_end),
        operator_codes: pick(Filter, typed.operator_codes.clone(), kept.operator_codes),
        tags: pick(Filter, typed.tags.clone(), kept.tags),
        client_filter_id: pick(Filter, typed.client_filter_id, kept.client_filter_id),
        cap_max: pick(FrequencyCap, typed.cap_max.clone(), kept.cap_max),
        cap_hours: pick(FrequencyCap, typed.cap_hours.clone(), kept.cap_hours),
        auto_pause: pick(AutoPause, typed.auto_pause.clone(), kept.auto_pause),
        auto_pause_attempts: pick(
            AutoPause,
            typed.auto_pause_attempts.clone(),
            kept.auto_pause_attempts,
        ),
        auto_pause_share: pick(
            AutoPause,
            typed.auto_pause_share.clone(),
            kept.auto_pause_share,
        ),
    }
}

/// The typed value if a running mailing may change `part`, else the stored one.
fn pick<T>(part: MailingField, typed: T, stored: T) -> T {
    if part.editable_while_running() {
        typed
    } else {
        stored
    }
}

/// Only the parts of the input a running mailing may still change.
fn editable_part(input: MailingInput) -> MailingPatchInput {
    fn only<T, R>(part: MailingField, given: Given<T>) -> Field<T, R> {
        if part.editable_while_running() {
            given.into()
        } else {
            Field::absent()
        }
    }
    // The whole form leaves the window and the cap out to mean "none"; a patch says so with
    // `null`.
    fn none_as_null<T>(given: Given<T>) -> Given<T> {
        match given {
            Given::Absent => Given::Null,
            given => given,
        }
    }
    let send_window = none_as_null(input.send_window.into_given());
    let frequency_cap = none_as_null(input.frequency_cap.into_given());
    MailingPatchInput {
        text: only(MailingField::Text, input.text.into_given()),
        start_at: only(MailingField::StartAt, input.start_at.into_given()),
        end_at: only(MailingField::EndAt, input.end_at.into_given()),
        filter: only(MailingField::Filter, input.filter.into_given()),
        client_filter_id: only(MailingField::Filter, input.client_filter_id.into_given()),
        send_window: only(MailingField::SendWindow, send_window),
        local_time: only(MailingField::LocalTime, input.local_time.into_given()),
        frequency_cap: only(MailingField::FrequencyCap, frequency_cap),
        auto_pause: only(MailingField::AutoPause, input.auto_pause.into_given()),
        unknown: UnknownFields::default(),
    }
}

pub async fn create(state: &AppState, save: Save) -> Result<Mailing, ApiError> {
    mailings::create(state, save.whole).await
}

/// Replaces the mailing, or, when it runs, changes only what it may still change.
pub async fn replace(state: &AppState, id: MailingId, save: Save) -> Result<Mailing, ApiError> {
    if save.only_editable {
        mailings::patch(state, id, editable_part(save.whole)).await
    } else {
        mailings::replace(state, id, save.whole).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_part_of_a_mailing_has_its_form_fields() {
        for part in MailingField::ALL {
            assert!(
                FORM_FIELDS.iter().any(|(p, _)| *p == part),
                "{part:?} has no form fields"
            );
        }
    }

    #[test]
    fn a_running_mailing_form_without_a_cap_removes_it_and_replaces_the_rule_whole() {
        let mut fields = Mailings::new(Clock(chrono_tz::UTC), Utc::now());
        fields.text = "hi".to_owned();
        fields.auto_pause = "off".to_owned();
        let patch = editable_part(fields.to_input(chrono_tz::UTC, None).unwrap());
        assert!(matches!(patch.frequency_cap.given(), Given::Null));
        let Given::Value(rule) = patch.auto_pause.into_given() else {
            panic!("the rule is sent");
        };
        assert_eq!(rule.enabled.into_given(), Given::Value(false));
        // What may not change while running is left out.
        assert!(matches!(patch.start_at.given(), Given::Absent));
        assert!(matches!(patch.filter.given(), Given::Absent));
    }

    #[test]
    fn a_running_mailing_locks_its_start_local_time_and_recipients() {
        assert_eq!(
            locked_fields(),
            [
                "start_at",
                "local_time",
                "operator_codes",
                "tags",
                "client_filter_id"
            ]
        );
    }
}
