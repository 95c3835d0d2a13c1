//! Message statuses and the transitions allowed between them.

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
}

impl MessageStatus {
    pub const ALL: [MessageStatus; 7] = [
        MessageStatus::Scheduled,
        MessageStatus::Queued,
        MessageStatus::Sent,
        MessageStatus::Retrying,
        MessageStatus::Failed,
        MessageStatus::Expired,
        MessageStatus::Cancelled,
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
    /// change.
    pub fn can_become(self, next: MessageStatus) -> bool {
        use MessageStatus::*;
        matches!(
            (self, next),
            (Scheduled, Queued | Expired | Cancelled | Sent)
                | (
                    Queued,
                    Sent | Retrying | Failed | Scheduled | Expired | Cancelled
                )
                | (Retrying, Queued | Expired | Cancelled | Sent)
                | (Expired | Cancelled, Sent)
        )
    }
}

impl fmt::Display for MessageStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The text is not a message status name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("must be one of scheduled, queued, sent, retrying, failed, expired, cancelled")]
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
        for from in [Sent, Failed, Expired, Cancelled] {
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
        }
        assert!(!Sent.can_become(Sent));
        assert!(!Failed.can_become(Sent));
        assert!(!Scheduled.can_become(Scheduled));
    }
}
