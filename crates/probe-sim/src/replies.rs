//! Replies the simulator makes up, as the provider forwards what a client answered: the JSON
//! `{"from", "text"}` posted to the configured URL (the api's `POST /api/v1/inbound`), signed
//! with the shared secret in `X-Signature`. Every N-th send answered OK gets one, and
//! `POST /_sim/replies` posts one on demand.

use crate::faults::FaultsError;
use actix_web::web::Bytes;
use mailing_runtime::signature;
use reqwest::Url;
use reqwest::header::CONTENT_TYPE;
use secrecy::{ExposeSecret as _, SecretString};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Long enough for the api to record a reply, short enough that a stuck target does not pile
/// up background posts.
const POST_TIMEOUT: Duration = Duration::from_secs(5);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// What a reply says unless told otherwise.
pub const DEFAULT_TEXT: &str = "STOP";

/// Where replies go, what they say and how often they are made.
#[derive(Debug, Clone)]
pub struct ReplySettings {
    /// Unset: replies are off.
    pub url: Option<Url>,
    /// Set whenever `url` is: the api refuses unsigned replies.
    pub secret: Option<SecretString>,
    pub text: String,
    /// Reply to every this many sends answered OK; 0: only on demand.
    pub every: u64,
}

impl Default for ReplySettings {
    fn default() -> Self {
        Self {
            url: None,
            secret: None,
            text: DEFAULT_TEXT.to_owned(),
            every: 0,
        }
    }
}

impl ReplySettings {
    /// Checks the settings together; the error names the setting to fix.
    pub fn validate(&self) -> Result<(), FaultsError> {
        let invalid = |field, problem: &str| FaultsError::Invalid {
            field,
            problem: problem.to_owned(),
        };
        if let Some(url) = &self.url
            && (!matches!(url.scheme(), "http" | "https") || url.host().is_none())
        {
            return Err(invalid(
                "reply_url",
                "must be an http:// or https:// URL with a host",
            ));
        }
        let secret_set = self
            .secret
            .as_ref()
            .is_some_and(|secret| !secret.expose_secret().is_empty());
        if self.url.is_some() && !secret_set {
            return Err(invalid(
                "reply_secret",
                "must be set with reply_url: the replies are signed with it",
            ));
        }
        if self.text.trim().is_empty() {
            return Err(invalid("reply_text", "must not be empty"));
        }
        if self.every > 0 && self.url.is_none() {
            return Err(invalid(
                "reply_every",
                "needs reply_url: without it there is nowhere to post the replies",
            ));
        }
        Ok(())
    }

    /// Whether the `accepted`-th send answered OK (counted from 1) gets a reply.
    pub fn replies_to(&self, accepted: u64) -> bool {
        self.url.is_some() && self.every > 0 && accepted.is_multiple_of(self.every)
    }
}

/// Why a reply was not posted.
#[derive(Debug, thiserror::Error)]
pub enum ReplyError {
    #[error(
        "replies are off: set PROBE_SIM_REPLY_URL and PROBE_SIM_REPLY_SECRET, or reply_url and \
         reply_secret with PUT /_sim/config"
    )]
    NotConfigured,
    #[error("posting the reply failed: {0}")]
    Unreachable(#[source] reqwest::Error),
}

/// How the target answered a reply.
#[derive(Debug, Clone)]
pub struct TargetAnswer {
    pub status: u16,
    pub content_type: Option<String>,
    pub body: Bytes,
}

/// Posts replies with one HTTP client and counts them.
#[derive(Debug)]
pub struct Replier {
    client: reqwest::Client,
    accepted: AtomicU64,
    sent: AtomicU64,
    failed: AtomicU64,
}

impl Default for Replier {
    fn default() -> Self {
        Self::new()
    }
}

impl Replier {
    /// # Panics
    /// If the HTTP client cannot be built, which only a broken system's TLS setup causes.
    pub fn new() -> Self {
        let client = reqwest::Client::builder()
            .timeout(POST_TIMEOUT)
            .connect_timeout(CONNECT_TIMEOUT)
            .build()
            .expect("an HTTP client with timeouts");
        Self {
            client,
            accepted: AtomicU64::new(0),
            sent: AtomicU64::new(0),
            failed: AtomicU64::new(0),
        }
    }

    /// Counts a send answered OK; whether `settings` ask for a reply to it.
    pub fn count_accepted(&self, settings: &ReplySettings) -> bool {
        let accepted = self.accepted.fetch_add(1, Ordering::Relaxed) + 1;
        settings.replies_to(accepted)
    }

    /// Posts `{"from", "text"}`, signed, to the configured URL. A reply the target does not
    /// answer with a 2xx counts as failed; either way its answer is returned.
    pub async fn post(
        &self,
        settings: &ReplySettings,
        from: &str,
        text: &str,
    ) -> Result<TargetAnswer, ReplyError> {
        let (Some(url), Some(secret)) = (&settings.url, &settings.secret) else {
            return Err(ReplyError::NotConfigured);
        };
        let body = serde_json::json!({ "from": from, "text": text }).to_string();
        let signed = signature::sign(secret.expose_secret().as_bytes(), body.as_bytes());
        let answer = async {
            let response = self
                .client
                .post(url.clone())
                .header(CONTENT_TYPE, "application/json")
                .header(signature::HEADER, signed)
                .body(body)
                .send()
                .await?;
            let status = response.status().as_u16();
            let content_type = response
                .headers()
                .get(CONTENT_TYPE)
                .and_then(|value| value.to_str().ok())
                .map(str::to_owned);
            let body = response.bytes().await?;
            Ok(TargetAnswer {
                status,
                content_type,
                body,
            })
        }
        .await;
        match answer {
            Ok(answer) if (200..300).contains(&answer.status) => {
                self.sent.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(from, status = answer.status, "reply posted");
                Ok(answer)
            }
            Ok(answer) => {
                self.failed.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(
                    from,
                    url = %url,
                    status = answer.status,
                    body = %String::from_utf8_lossy(&answer.body),
                    "reply refused"
                );
                Ok(answer)
            }
            Err(error) => {
                self.failed.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(from, url = %url, error = %error, "reply not posted");
                Err(ReplyError::Unreachable(error))
            }
        }
    }

    /// Replies answered 2xx, and the rest.
    pub fn counts(&self) -> (u64, u64) {
        (
            self.sent.load(Ordering::Relaxed),
            self.failed.load(Ordering::Relaxed),
        )
    }

    /// Starts the counts afresh, the sends answered OK included, so the next reply comes after
    /// N more.
    pub fn reset(&self) {
        self.accepted.store(0, Ordering::Relaxed);
        self.sent.store(0, Ordering::Relaxed);
        self.failed.store(0, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn configured(every: u64) -> ReplySettings {
        ReplySettings {
            url: Some(Url::parse("http://127.0.0.1:8000/api/v1/inbound").unwrap()),
            secret: Some(SecretString::from("shared")),
            text: DEFAULT_TEXT.to_owned(),
            every,
        }
    }

    fn field_of(settings: &ReplySettings) -> &'static str {
        let FaultsError::Invalid { field, .. } = settings.validate().unwrap_err();
        field
    }

    #[test]
    fn settings_are_checked_together() {
        assert!(ReplySettings::default().validate().is_ok());
        assert!(configured(3).validate().is_ok());
        let mut ftp = configured(0);
        ftp.url = Some(Url::parse("ftp://example.com/inbound").unwrap());
        assert_eq!(field_of(&ftp), "reply_url");
        let mut unsigned = configured(0);
        unsigned.secret = Some(SecretString::from(""));
        assert_eq!(field_of(&unsigned), "reply_secret");
        let mut silent = configured(0);
        silent.text = " ".to_owned();
        assert_eq!(field_of(&silent), "reply_text");
        let nowhere = ReplySettings {
            every: 2,
            ..ReplySettings::default()
        };
        assert_eq!(field_of(&nowhere), "reply_every");
    }

    #[test]
    fn every_nth_accepted_send_gets_a_reply() {
        let replier = Replier::new();
        let every_third = configured(3);
        let replied: Vec<bool> = (0..7)
            .map(|_| replier.count_accepted(&every_third))
            .collect();
        assert_eq!(
            replied,
            [false, false, true, false, false, true, false],
            "the third and the sixth"
        );
        assert!(!replier.count_accepted(&configured(0)));
        replier.reset();
        assert!(!replier.count_accepted(&every_third));
    }
}
