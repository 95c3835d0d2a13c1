//! Message statuses, the transitions allowed between them, and why a message expires.

use crate::campaign::FrequencyCap;
use crate::client::TimeZone;
use crate::planning::TooLate;
use crate::segments::{Encoding, Segments};
use crate::window::SendWindow;
use serde::Serialize;
use std::fmt;
use std::str::FromStr;

/// Where one message of one mailing to one client stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageStatus {
    /// Waiting for its send time or its client's window.
    Scheduled,
    /// Handed to a sender.
    Queued,
    /// The probe accepted it.
    Sent,
    /// An attempt failed; another one is planned at `next_attempt_at`.
    Retrying,
    /// The probe refused it for good.
    Failed,
    /// The mailing's end came first.
    Expired,
    /// The mailing or the client was removed or cancelled.
    Cancelled,
    /// Its phone number opted out, so it is never sent.
    Suppressed,
}

impl MessageStatus {
    pub const ALL: [MessageStatus; 8] = [
        MessageStatus::Scheduled,
        MessageStatus::Queued,
        MessageStatus::Sent,
        MessageStatus::Retrying,
        MessageStatus::Failed,
        MessageStatus::Expired,
        MessageStatus::Cancelled,
        MessageStatus::Suppressed,
    ];

    /// Statuses from which the message may still reach the probe.
    pub const UNSENT: [MessageStatus; 3] = [
        MessageStatus::Scheduled,
        MessageStatus::Queued,
        MessageStatus::Retrying,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            MessageStatus::Scheduled => "scheduled",
            MessageStatus::Queued => "queued",
            MessageStatus::Sent => "sent",
            MessageStatus::Retrying => "retrying",
            MessageStatus::Failed => "failed",
            MessageStatus::Expired => "expired",
            MessageStatus::Cancelled => "cancelled",
            MessageStatus::Suppressed => "suppressed",
        }
    }

    pub fn is_terminal(self) -> bool {
        !Self::UNSENT.contains(&self)
    }

    /// Whether a message in this status may move to `next`.
    ///
    /// `queued → scheduled` returns a message whose sender vanished; `queued → retrying`
    /// records a failed attempt. A delivery the probe accepted is recorded whatever happened
    /// meanwhile (a cancel or an end that came while the request was in flight), since the
    /// statistics must match what the provider received; otherwise terminal statuses never
    /// change. A message whose number opted out is suppressed before its next attempt, from any
    /// status that may still reach the probe.
    pub fn can_become(self, next: MessageStatus) -> bool {
        use MessageStatus::*;
        matches!(
            (self, next),
            (Scheduled, Queued | Expired | Cancelled | Sent | Suppressed)
                | (
                    Queued,
                    Sent | Retrying | Failed | Scheduled | Expired | Cancelled | Suppressed
                )
                | (Retrying, Queued | Expired | Cancelled | Sent | Suppressed)
                | (Expired | Cancelled, Sent)
        )
    }
}

impl fmt::Display for MessageStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The text a message was sent with, rendered for its client, and what it cost in SMS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageText {
    pub text: String,
    pub encoding: Encoding,
    /// The paid parts it took.
    pub segments: u32,
}

impl MessageText {
    /// Counts `text`'s parts.
    pub fn counted(text: String) -> Self {
        let counted = Segments::of(&text);
        Self {
            text,
            encoding: counted.encoding,
            segments: u32::try_from(counted.parts).unwrap_or(u32::MAX),
        }
    }
}

/// The text is not a message status name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("must be one of scheduled, queued, sent, retrying, failed, expired, cancelled, suppressed")]
pub struct UnknownStatus;

impl FromStr for MessageStatus {
    type Err = UnknownStatus;

    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|status| status.as_str() == raw)
            .ok_or(UnknownStatus)
    }
}

/// Why a message ended `expired`: what its `last_error` says, in plain words. The words are
/// stable (operators search for them) and carry nothing secret: at most the error of the last
/// attempt, which the sender wrote itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExpiryReason {
    /// The client's send window did not open again before the mailing's end.
    WindowClosed { window: SendWindow, zone: TimeZone },
    /// The mailing's end came before the message was attempted.
    EndedBeforeTurn,
    /// The mailing's end came while attempts were failing; `last_error` is the last one's.
    EndedWhileFailing { last_error: String },
    /// An attempt just failed with `last_error` and no retry fits before the mailing's end.
    NoRetryFits { last_error: String },
    /// The client's frequency cap allowed no message before the mailing's end.
    FrequencyCapped { cap: FrequencyCap },
}

impl ExpiryReason {
    /// What [`ExpiryReason::EndedWhileFailing`] says before the last attempt's error, for
    /// statements that expire messages in bulk and append each one's stored error.
    pub const ENDED_WHILE_FAILING: &'static str =
        "the mailing ended before delivery succeeded; last attempt: ";
    /// What [`ExpiryReason::NoRetryFits`] says before the last attempt's error.
    pub const NO_RETRY_FITS: &'static str =
        "no retry fits before the mailing's end; last attempt: ";
    /// What [`ExpiryReason::EndedBeforeTurn`] says.
    pub const ENDED_BEFORE_TURN: &'static str = "the mailing ended before its turn came";

    /// Why a message of a client in `zone` expires when planning found it [`TooLate`]: the
    /// failure of its last attempt, if one failed (`last_error`), or else what planning ran
    /// into.
    pub fn planned(too_late: TooLate, zone: TimeZone, last_error: Option<&str>) -> Self {
        match (last_error, too_late) {
            (Some(error), _) => ExpiryReason::EndedWhileFailing {
                last_error: error.to_owned(),
            },
            (None, TooLate::Ended) => ExpiryReason::EndedBeforeTurn,
            (None, TooLate::WindowClosed(window)) => ExpiryReason::WindowClosed { window, zone },
        }
    }
}

impl fmt::Display for ExpiryReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExpiryReason::WindowClosed { window, zone } => write!(
                f,
                "the mailing ended before the client's send window opened (window {}\u{2013}{} {})",
                window.start_hhmm(),
                window.end_hhmm(),
                zone.name()
            ),
            ExpiryReason::EndedBeforeTurn => f.write_str(Self::ENDED_BEFORE_TURN),
            ExpiryReason::EndedWhileFailing { last_error } => {
                write!(f, "{}{last_error}", Self::ENDED_WHILE_FAILING)
            }
            ExpiryReason::NoRetryFits { last_error } => {
                write!(f, "{}{last_error}", Self::NO_RETRY_FITS)
            }
            ExpiryReason::FrequencyCapped { cap } => write!(
                f,
                "the client's frequency cap ({cap}) allowed no message before the mailing's end"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::MessageStatus::*;
    use super::*;

    #[test]
    fn names_round_trip() {
        for status in MessageStatus::ALL {
            assert_eq!(status.as_str().parse::<MessageStatus>(), Ok(status));
        }
        assert_eq!("Sent".parse::<MessageStatus>(), Err(UnknownStatus));
    }

    #[test]
    fn terminal_statuses_change_only_to_a_late_confirmed_delivery() {
        for from in [Sent, Failed, Expired, Cancelled, Suppressed] {
            assert!(from.is_terminal());
            for to in MessageStatus::ALL {
                let late_delivery = to == Sent && matches!(from, Expired | Cancelled);
                assert_eq!(from.can_become(to), late_delivery, "{from} -> {to}");
            }
        }
    }

    #[test]
    fn delivery_paths() {
        assert!(Scheduled.can_become(Queued));
        assert!(Queued.can_become(Sent));
        assert!(Queued.can_become(Retrying));
        assert!(Retrying.can_become(Queued));
        assert!(Queued.can_become(Scheduled));
        assert!(Queued.can_become(Failed));
        for unsent in MessageStatus::UNSENT {
            assert!(unsent.can_become(Expired));
            assert!(unsent.can_become(Cancelled));
            assert!(unsent.can_become(Suppressed));
        }
        assert!(!Sent.can_become(Sent));
        assert!(!Failed.can_become(Sent));
        assert!(!Scheduled.can_become(Scheduled));
    }

    #[test]
    fn expiry_reasons_say_why_in_plain_words() {
        let moscow = TimeZone::parse("Europe/Moscow").unwrap();
        let window = SendWindow::parse("09:00", "10:00").unwrap();
        let planned = |too_late, error| ExpiryReason::planned(too_late, moscow, error).to_string();
        assert_eq!(
            planned(TooLate::WindowClosed(window), None),
            "the mailing ended before the client's send window opened \
             (window 09:00\u{2013}10:00 Europe/Moscow)"
        );
        assert_eq!(
            planned(TooLate::Ended, None),
            "the mailing ended before its turn came"
        );
        // A failed attempt is the more useful reason, whatever planning ran into.
        for too_late in [TooLate::Ended, TooLate::WindowClosed(window)] {
            assert_eq!(
                planned(too_late, Some("probe answered 500")),
                "the mailing ended before delivery succeeded; last attempt: probe answered 500"
            );
        }
        let no_retry = ExpiryReason::NoRetryFits {
            last_error: "probe answered 503".to_owned(),
        };
        assert_eq!(
            no_retry.to_string(),
            "no retry fits before the mailing's end; last attempt: probe answered 503"
        );
        let capped = ExpiryReason::FrequencyCapped {
            cap: FrequencyCap::new(2, 24).unwrap(),
        };
        assert_eq!(
            capped.to_string(),
            "the client's frequency cap (2 messages per 24 hours) allowed no message before \
             the mailing's end"
        );
    }
}
