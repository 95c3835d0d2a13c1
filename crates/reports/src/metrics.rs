//! The report e-mail's metrics: sendings by outcome, and how long today's report is overdue.

use std::time::Duration;

/// Describes the metrics and registers them at 0, so an alert has its series from the start.
pub fn register() {
    mailing_runtime::metrics::install();
    metrics::describe_counter!(
        "mailing_report_emails_total",
        "Attempts to send the daily report e-mail, by outcome: sent or failed (retried with backoff)"
    );
    metrics::describe_gauge!(
        "mailing_report_overdue_seconds",
        metrics::Unit::Seconds,
        "How long today's daily report has been due and not sent; 0 once it is sent or before its time"
    );
    for outcome in ["sent", "failed"] {
        metrics::counter!("mailing_report_emails_total", "outcome" => outcome).increment(0);
    }
    metrics::gauge!("mailing_report_overdue_seconds").set(0.0);
}

pub(crate) fn sent() {
    metrics::counter!("mailing_report_emails_total", "outcome" => "sent").increment(1);
}

pub(crate) fn failed() {
    metrics::counter!("mailing_report_emails_total", "outcome" => "failed").increment(1);
}

pub(crate) fn overdue(by: Duration) {
    metrics::gauge!("mailing_report_overdue_seconds").set(by.as_secs_f64());
}
