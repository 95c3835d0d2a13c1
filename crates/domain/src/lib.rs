//! The mailing service's domain: validated values, the rules a mailing follows, and the
//! interfaces through which the services reach storage.
//!
//! Everything here is pure: no I/O and no clock. Functions that decide "is it time yet?" take
//! `now` as a parameter, so time zones, send windows and DST transitions are testable with real
//! zones and a fixed instant. Storage backends implement the traits in [`store`]; the services
//! depend on those traits and never on a database library.

pub mod access;
pub mod attributes;
pub mod campaign;
pub mod client;
pub mod delivery;
pub mod events;
pub mod filter;
pub mod ids;
pub mod import;
pub mod invalid;
pub mod mailing;
pub mod message;
pub mod operator;
pub mod opt_out;
pub mod planning;
pub mod preview;
pub mod report;
pub mod segments;
pub mod store;
pub mod tag;
pub mod template;
pub mod window;

pub use access::{Role, RoleMap, SignInMethod};
pub use attributes::{AttributeKey, AttributeValue, Attributes};
pub use campaign::{AutoPause, AutoPauseOverride, FrequencyCap, PauseReason};
pub use client::{PhoneNumber, TimeZone};
pub use filter::ClientFilter;
pub use ids::{
    ApiKeyId, ClientFilterId, ClientId, MailingId, MessageId, OperatorId, TagId, UserId,
};
pub use invalid::Invalid;
pub use mailing::{MailingSchedule, MailingStatus, MailingText};
pub use message::{ExpiryReason, MessageStatus, MessageText};
pub use operator::{OperatorCode, OperatorName, Price};
pub use opt_out::{InboundAction, Keywords, OptOutSource};
pub use planning::{SendPlan, TooLate, plan_send};
pub use segments::{Encoding, Segments};
pub use tag::TagValue;
pub use template::{Template, TemplateError};
pub use window::SendWindow;
