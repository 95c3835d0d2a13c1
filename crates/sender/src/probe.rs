//! The probe's HTTP client: `POST {base}/v1/send/{msgId}` with the bearer token, a timeout per
//! request, and the reply classified by the domain's rules (with its `Retry-After`, where the
//! reply may carry one).

use mailing_domain::MessageId;
use mailing_domain::delivery::{Attempt, RetryAfter, classify_reply, honours_retry_after};
use reqwest::header::RETRY_AFTER;
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use std::time::Duration;

#[derive(Serialize)]
struct SendBody<'a> {
    id: i64,
    phone: u64,
    text: &'a str,
}

pub struct ProbeClient {
    http: reqwest::Client,
    base: String,
    token: Option<SecretString>,
}

impl ProbeClient {
    pub fn new(
        base: &str,
        token: Option<SecretString>,
        concurrency: usize,
    ) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .pool_max_idle_per_host(concurrency)
            .build()?;
        Ok(Self {
            http,
            base: base.trim_end_matches('/').to_owned(),
            token,
        })
    }

    /// One attempt; never fails, every problem is an [`Attempt`] the sender acts on.
    pub async fn send(&self, id: MessageId, phone: u64, text: &str, timeout: Duration) -> Attempt {
        let mut request = self
            .http
            .post(format!("{}/v1/send/{}", self.base, id.0))
            .timeout(timeout)
            .json(&SendBody {
                id: id.0,
                phone,
                text,
            });
        if let Some(token) = &self.token {
            request = request.bearer_auth(token.expose_secret());
        }
        let response = match request.send().await {
            Ok(response) => response,
            Err(error) => return Attempt::retryable(describe(&error, timeout)),
        };
        let status = response.status().as_u16();
        // Read before the body takes the response, and only on the replies that may ask.
        let retry_after = if honours_retry_after(status) {
            let header = response.headers().get(RETRY_AFTER);
            header.and_then(|value| RetryAfter::parse(value.as_bytes()))
        } else {
            None
        };
        match response.bytes().await {
            Ok(body) => classify_reply(status, &body, retry_after),
            Err(error) => Attempt::retryable(describe(&error, timeout)),
        }
    }
}

fn describe(error: &reqwest::Error, timeout: Duration) -> String {
    if error.is_timeout() {
        format!("no reply within {} ms", timeout.as_millis())
    } else if error.is_connect() {
        "cannot connect to the probe".to_owned()
    } else {
        // reqwest's message names the URL, never the headers, so the token stays out.
        format!("request failed: {error}")
    }
}
