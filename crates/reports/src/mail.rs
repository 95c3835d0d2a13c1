//! Sending the report by SMTP: the transport built once from MAILING_SMTP_URL, and one message
//! with a plain-text and an HTML part to every recipient.

use crate::compose::DailyReport;
use crate::render;
use chrono::{DateTime, Utc};
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use mailing_domain::store::ReportSent;
use mailing_runtime::settings::{ReportSettings, SmtpSettings};
use percent_encoding::percent_decode_str;
use secrecy::ExposeSecret as _;
use std::time::Duration;

/// Why the mailer could not be built from the settings.
#[derive(Debug, thiserror::Error)]
pub enum MailerError {
    #[error("MAILING_SMTP_URL {0}")]
    Url(String),
    #[error("{variable} names \"{value}\", which is not an e-mail address: {problem}")]
    Address {
        variable: &'static str,
        value: String,
        problem: String,
    },
}

/// Why one report could not be sent. Never holds the SMTP password: lettre's errors carry the
/// server's answer, not the credentials.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error("the report could not be rendered: {0}")]
    Render(#[from] askama::Error),
    #[error("the message could not be built: {0}")]
    Build(#[from] lettre::error::Error),
    #[error("the SMTP server did not take the report: {0}")]
    Smtp(#[from] lettre::transport::smtp::Error),
}

/// How the connection to the server is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Protection {
    /// Upgrade with STARTTLS, refusing a server that cannot.
    StartTls,
    /// TLS from the first byte (smtps, usually port 465).
    Implicit,
    /// In the clear: only for a relay on the same host.
    Clear,
}

/// Which Message-ID a sending carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sending {
    /// The day's scheduled e-mail: one Message-ID per day, so that a copy sent again after a
    /// crash between the server's answer and its record is recognisably the same message.
    Scheduled,
    /// Asked for by hand: a new message each time (mail services drop a repeated Message-ID).
    Manual,
}

/// Sends reports through the configured server to the configured recipients.
#[derive(Clone)]
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    to: Vec<Mailbox>,
    /// The admin UI's report page, to which the e-mail links.
    report_page: url::Url,
    /// The Message-ID's domain.
    domain: String,
    /// The longest one conversation with the server may take.
    timeout: Duration,
}

impl Mailer {
    /// The mailer, when an SMTP server and recipients are configured.
    pub fn from_settings(
        smtp: Option<&SmtpSettings>,
        report: &ReportSettings,
    ) -> Result<Option<Self>, MailerError> {
        match smtp {
            Some(smtp) if !report.recipients.is_empty() => Self::new(smtp, report).map(Some),
            _ => Ok(None),
        }
    }

    fn new(smtp: &SmtpSettings, report: &ReportSettings) -> Result<Self, MailerError> {
        let url = url::Url::parse(smtp.url.expose_secret())
            .map_err(|_| MailerError::Url("is not a URL".to_owned()))?;
        let host = url
            .host_str()
            .ok_or_else(|| MailerError::Url("has no host".to_owned()))?
            .to_owned();
        let protection = match url.query_pairs().find(|(name, _)| name == "tls") {
            Some((_, value)) if value == "none" => Protection::Clear,
            Some((_, value)) if value == "tls" => Protection::Implicit,
            Some((_, value)) if value == "starttls" => Protection::StartTls,
            Some(_) => return Err(MailerError::Url("has an unknown tls".to_owned())),
            None if url.scheme() == "smtps" => Protection::Implicit,
            None => Protection::StartTls,
        };
        let port = url.port().unwrap_or(match protection {
            Protection::Implicit => 465,
            Protection::StartTls => 587,
            Protection::Clear => 25,
        });
        let builder = match protection {
            Protection::Clear => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&host),
            Protection::StartTls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&host)
                .map_err(|e| MailerError::Url(format!("cannot set up STARTTLS: {e}")))?,
            Protection::Implicit => AsyncSmtpTransport::<Tokio1Executor>::relay(&host)
                .map_err(|e| MailerError::Url(format!("cannot set up TLS: {e}")))?,
        };
        let mut builder = builder.port(port).timeout(Some(smtp.timeout));
        if !url.username().is_empty() {
            let decode = |raw: &str| percent_decode_str(raw).decode_utf8_lossy().into_owned();
            builder = builder.credentials(Credentials::new(
                decode(url.username()),
                decode(url.password().unwrap_or("")),
            ));
        }
        let address = |variable: &'static str, value: &str| {
            value.parse::<Mailbox>().map_err(|e| MailerError::Address {
                variable,
                value: value.to_owned(),
                problem: e.to_string(),
            })
        };
        let from = address("MAILING_REPORT_FROM", &report.from)?;
        let to = report
            .recipients
            .iter()
            .map(|recipient| address("MAILING_REPORT_RECIPIENTS", recipient))
            .collect::<Result<Vec<_>, _>>()?;
        let mut report_page = report.admin_url.clone();
        let path = format!("{}/reports/daily", report_page.path().trim_end_matches('/'));
        report_page.set_path(&path);
        Ok(Self {
            transport: builder.build(),
            domain: from.email.domain().to_owned(),
            timeout: smtp.timeout,
            from,
            to,
            report_page,
        })
    }

    /// The longest one conversation with the server may take (MAILING_SMTP_TIMEOUT_MS).
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// The recipients, comma-separated, as recorded.
    pub fn recipients(&self) -> String {
        self.to
            .iter()
            .map(|mailbox| mailbox.email.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The admin UI's page of `date`'s report.
    pub fn report_link(&self, date: &str) -> String {
        let mut page = self.report_page.clone();
        page.query_pairs_mut().clear().append_pair("date", date);
        page.to_string()
    }

    /// Sends `report` to every recipient; returns what to record once the server took it.
    pub async fn send(
        &self,
        report: &DailyReport,
        sending: Sending,
        now: DateTime<Utc>,
    ) -> Result<ReportSent, SendError> {
        let rendered = render::email(report, &self.report_link(&report.date))?;
        let message_id = match sending {
            Sending::Scheduled => format!(
                "<daily-report-{}-{}@{}>",
                report.date,
                report.time_zone.replace('/', "."),
                self.domain
            ),
            Sending::Manual => format!(
                "<daily-report-{}-{}-{:016x}@{}>",
                report.date,
                report.time_zone.replace('/', "."),
                rand::random::<u64>(),
                self.domain
            ),
        };
        let mut builder = Message::builder()
            .from(self.from.clone())
            .subject(rendered.subject)
            .message_id(Some(message_id.clone()))
            .date(now.into());
        for recipient in &self.to {
            builder = builder.to(recipient.clone());
        }
        let message = builder.multipart(MultiPart::alternative_plain_html(
            rendered.text,
            rendered.html,
        ))?;
        self.transport.send(message).await?;
        Ok(ReportSent {
            at: now,
            recipients: self.recipients(),
            message_id,
        })
    }
}
