//! Typed ids, so a client id can never be passed where a mailing id is expected.

use serde::{Deserialize, Serialize};
use std::fmt;

macro_rules! id_type {
    ($($(#[$doc:meta])* $name:ident),+ $(,)?) => {$(
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub i64);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl From<i64> for $name {
            fn from(raw: i64) -> Self {
                Self(raw)
            }
        }
    )+};
}

id_type!(
    /// An operator's id.
    OperatorId,
    /// A tag's id.
    TagId,
    /// A client's id.
    ClientId,
    /// A saved client filter's id.
    ClientFilterId,
    /// A mailing's id.
    MailingId,
    /// A message's id; also the `msgId` the probe receives.
    MessageId,
    /// An account's id.
    UserId,
    /// An integrator's API key's id.
    ApiKeyId,
);
