//! What the services tell each other over the bus. Every payload carries a version, so a
//! consumer can refuse (dead-letter) a shape it does not know instead of misreading it.

use crate::ids::{MailingId, MessageId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The payload version this build writes and reads.
pub const VERSION: u16 = 1;

/// A change to a mailing, published by the api through its outbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum MailingEvent {
    MailingCreated {
        mailing_id: MailingId,
    },
    MailingUpdated {
        mailing_id: MailingId,
    },
    MailingCancelled {
        mailing_id: MailingId,
    },
    MailingDeleted {
        mailing_id: MailingId,
    },
    /// Paused by hand or by itself: nothing to re-plan, since the claim passes its messages
    /// over while it is paused.
    MailingPaused {
        mailing_id: MailingId,
    },
    /// Its due messages may be claimed at once.
    MailingResumed {
        mailing_id: MailingId,
    },
}

impl MailingEvent {
    pub fn mailing_id(&self) -> MailingId {
        match self {
            MailingEvent::MailingCreated { mailing_id }
            | MailingEvent::MailingUpdated { mailing_id }
            | MailingEvent::MailingCancelled { mailing_id }
            | MailingEvent::MailingDeleted { mailing_id }
            | MailingEvent::MailingPaused { mailing_id }
            | MailingEvent::MailingResumed { mailing_id } => *mailing_id,
        }
    }
}

/// Messages a sender should deliver now; several ids per bus message keep the broker's
/// per-message cost off the hot path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendJob {
    pub message_ids: Vec<MessageId>,
    /// When the scheduler claimed them. A message claimed again since (its claim lease ran
    /// out while this job waited) belongs to a newer job, and this one leaves it alone.
    pub claimed_at: DateTime<Utc>,
}

#[derive(Serialize, Deserialize)]
struct Versioned<T> {
    v: u16,
    #[serde(flatten)]
    body: T,
}

/// Why a payload could not be read.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("payload version {0} is not supported (this build reads {VERSION})")]
    UnknownVersion(u16),
    #[error("malformed payload: {0}")]
    Malformed(#[from] serde_json::Error),
}

/// Serialises `body` with the current version.
pub fn encode<T: Serialize>(body: &T) -> Vec<u8> {
    serde_json::to_vec(&Versioned { v: VERSION, body }).expect("event types always serialise")
}

/// Reads a payload written by [`encode`].
pub fn decode<T: for<'de> Deserialize<'de>>(payload: &[u8]) -> Result<T, DecodeError> {
    #[derive(Deserialize)]
    struct Header {
        v: u16,
    }
    let header: Header = serde_json::from_slice(payload)?;
    if header.v != VERSION {
        return Err(DecodeError::UnknownVersion(header.v));
    }
    let versioned: Versioned<T> = serde_json::from_slice(payload)?;
    Ok(versioned.body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_round_trip_with_their_version() {
        let event = MailingEvent::MailingCreated {
            mailing_id: MailingId(7),
        };
        let payload = encode(&event);
        assert_eq!(
            std::str::from_utf8(&payload).unwrap(),
            r#"{"v":1,"type":"MailingCreated","mailing_id":7}"#
        );
        assert_eq!(decode::<MailingEvent>(&payload).unwrap(), event);
        let job = SendJob {
            message_ids: vec![MessageId(1), MessageId(2)],
            claimed_at: "2030-01-01T10:00:00.123456Z".parse().unwrap(),
        };
        assert_eq!(decode::<SendJob>(&encode(&job)).unwrap(), job);
    }

    #[test]
    fn unknown_versions_and_shapes_are_refused() {
        assert!(matches!(
            decode::<MailingEvent>(br#"{"v":2,"type":"MailingCreated","mailing_id":7}"#),
            Err(DecodeError::UnknownVersion(2))
        ));
        assert!(matches!(
            decode::<MailingEvent>(br#"{"v":1,"type":"Nope"}"#),
            Err(DecodeError::Malformed(_))
        ));
        assert!(decode::<SendJob>(b"not json").is_err());
    }
}
