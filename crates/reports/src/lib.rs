//! The daily statistics report: composing one day's report from the store, rendering it as an
//! e-mail (plain text and HTML), sending it over SMTP, and the loop each scheduler runs so that
//! every day's e-mail goes out once at its configured local time.
//!
//! The api serves the same report as JSON and in the admin UI, and sends it on request.

pub mod compose;
pub mod mail;
pub mod metrics;
pub mod render;
pub mod schedule;
#[cfg(feature = "testing")]
pub mod testing;

pub use compose::{ByStatus, DailyReport, EmailState, compose};
pub use mail::{Mailer, MailerError, SendError, Sending};
pub use schedule::{ReportLoop, ReportStatus};
