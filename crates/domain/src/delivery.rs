//! What a probe reply means and when to try again: pure rules the sender applies.

use chrono::{DateTime, NaiveDateTime, Utc};
use std::time::Duration;

/// The meaning of one attempt to deliver a message to the probe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt {
    /// The probe accepted the message.
    Delivered,
    /// Worth trying again later: timeouts, connection errors, 429, 5xx, malformed replies.
    /// `retry_after` is the wait the probe asked for, on the replies that may ask for one.
    Retryable {
        error: String,
        retry_after: Option<RetryAfter>,
    },
    /// The probe says the request itself is wrong; trying again cannot help.
    Permanent(String),
    /// The probe refused our credentials: stop sending for everyone, lose nothing.
    TokenRejected,
}

impl Attempt {
    /// A retryable failure without a wait asked for.
    pub fn retryable(error: impl Into<String>) -> Self {
        Self::Retryable {
            error: error.into(),
            retry_after: None,
        }
    }
}

/// The wait a reply's `Retry-After` header asks for (RFC 9110, section 10.2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryAfter {
    /// `delay-seconds`, counted from the reply.
    Seconds(u64),
    /// An HTTP-date: not before this instant.
    Date(DateTime<Utc>),
}

impl RetryAfter {
    /// Reads a header value: a non-negative number of seconds, or an HTTP-date in the
    /// IMF-fixdate form (`Sun, 06 Nov 1994 08:49:37 GMT`) or one of the obsolete forms
    /// recipients must still accept (RFC 850, asctime). Anything else is `None`.
    pub fn parse(value: &[u8]) -> Option<Self> {
        let text = std::str::from_utf8(value).ok()?.trim();
        if !text.is_empty() && text.bytes().all(|byte| byte.is_ascii_digit()) {
            // More seconds than fit are as good as forever: saturate rather than refuse.
            let seconds = text.bytes().fold(0u64, |seconds, digit| {
                seconds
                    .saturating_mul(10)
                    .saturating_add(u64::from(digit - b'0'))
            });
            return Some(Self::Seconds(seconds));
        }
        // IMF-fixdate is an RFC 5322 date in GMT, which chrono's RFC 2822 parser reads.
        if let Ok(date) = DateTime::parse_from_rfc2822(text) {
            return Some(Self::Date(date.to_utc()));
        }
        // The obsolete forms: RFC 850 (`Sunday, 06-Nov-94 08:49:37 GMT`) and asctime.
        ["%A, %d-%b-%y %H:%M:%S GMT", "%a %b %e %H:%M:%S %Y"]
            .iter()
            .find_map(|form| NaiveDateTime::parse_from_str(text, form).ok())
            .map(|date| Self::Date(date.and_utc()))
    }

    /// The instant before which the next attempt may not start, for a reply received at
    /// `now`; `None` if that is not after `now` (a date passed, zero seconds). A wait too long
    /// to represent ends at the latest representable instant.
    pub fn until(self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let until = match self {
            Self::Seconds(seconds) => i64::try_from(seconds)
                .ok()
                .and_then(chrono::Duration::try_seconds)
                .and_then(|wait| now.checked_add_signed(wait))
                .unwrap_or(DateTime::<Utc>::MAX_UTC),
            Self::Date(date) => date,
        };
        (until > now).then_some(until)
    }
}

/// Whether a reply with `status` may ask for a wait with `Retry-After`: 429 Too Many Requests
/// and 503 Service Unavailable. The header of any other reply is not read.
pub fn honours_retry_after(status: u16) -> bool {
    matches!(status, 429 | 503)
}

/// Classifies an HTTP reply of the probe (`POST /send/{msgId}`); `retry_after` is its
/// `Retry-After` header as read, kept only where [`honours_retry_after`] says so.
///
/// Success is exactly HTTP 200 with `{"code": 0, ...}`; any other 200 body is a malformed
/// reply (the earlier implementation took any JSON as success).
pub fn classify_reply(status: u16, body: &[u8], retry_after: Option<RetryAfter>) -> Attempt {
    match status {
        200 => match serde_json::from_slice::<serde_json::Value>(body) {
            Ok(reply) if reply.get("code").and_then(serde_json::Value::as_i64) == Some(0) => {
                Attempt::Delivered
            }
            Ok(_) => Attempt::retryable("malformed reply: 200 without code 0"),
            Err(_) => Attempt::retryable("malformed reply: 200 with a body that is not JSON"),
        },
        401 | 403 => Attempt::TokenRejected,
        _ if honours_retry_after(status) => Attempt::Retryable {
            error: format!("probe answered {status}"),
            retry_after,
        },
        408 | 425 => Attempt::retryable(format!("probe answered {status}")),
        400..=499 => Attempt::Permanent(format!(
            "probe refused the request with {status}: {}",
            snippet(body)
        )),
        _ => Attempt::retryable(format!("probe answered {status}")),
    }
}

fn snippet(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let mut short: String = text.chars().take(200).collect();
    if text.chars().count() > 200 {
        short.push('…');
    }
    short
}

/// How long to wait before attempt number `attempts + 1`: exponential from `base`, capped at
/// `cap`, with "equal jitter" (half fixed, half random) so a burst of failures does not come
/// back as a burst. `random` is uniform in `[0, 1)`.
pub fn backoff(attempts: u32, base: Duration, cap: Duration, random: f64) -> Duration {
    let exponent = attempts.saturating_sub(1).min(30);
    let ceiling = base.saturating_mul(1u32 << exponent).min(cap);
    let half = ceiling / 2;
    half + half.mul_f64(random.clamp(0.0, 1.0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone as _;

    fn classify(status: u16, body: &[u8]) -> Attempt {
        classify_reply(status, body, None)
    }

    #[test]
    fn only_code_zero_is_delivered() {
        assert_eq!(
            classify(200, br#"{"code":0,"message":"OK"}"#),
            Attempt::Delivered
        );
        assert!(matches!(
            classify(200, br#"{"code":1}"#),
            Attempt::Retryable { .. }
        ));
        assert!(matches!(classify(200, b"OK"), Attempt::Retryable { .. }));
        assert!(matches!(classify(200, b""), Attempt::Retryable { .. }));
    }

    #[test]
    fn statuses_are_classified_as_the_spec_says() {
        assert_eq!(classify(401, b""), Attempt::TokenRejected);
        assert!(matches!(classify(400, b"empty body"), Attempt::Permanent(m) if m.contains("400")));
        assert!(matches!(classify(404, b""), Attempt::Permanent(_)));
        for status in [429, 500, 502, 503, 504] {
            assert!(
                matches!(classify(status, b""), Attempt::Retryable { .. }),
                "{status}"
            );
        }
    }

    fn read(text: &str) -> Option<RetryAfter> {
        RetryAfter::parse(text.as_bytes())
    }

    #[test]
    fn retry_after_reads_seconds() {
        assert_eq!(read("120"), Some(RetryAfter::Seconds(120)));
        assert_eq!(read("0"), Some(RetryAfter::Seconds(0)));
        assert_eq!(read(" 7 "), Some(RetryAfter::Seconds(7)));
        assert_eq!(
            read("99999999999999999999999"),
            Some(RetryAfter::Seconds(u64::MAX))
        );
    }

    #[test]
    fn retry_after_reads_http_dates_in_every_form() {
        let at = Some(RetryAfter::Date(
            Utc.with_ymd_and_hms(1994, 11, 6, 8, 49, 37).unwrap(),
        ));
        assert_eq!(read("Sun, 06 Nov 1994 08:49:37 GMT"), at);
        assert_eq!(read("Sunday, 06-Nov-94 08:49:37 GMT"), at);
        assert_eq!(read("Sun Nov  6 08:49:37 1994"), at);
    }

    #[test]
    fn retry_after_refuses_garbage() {
        for garbage in [
            "",
            "soon",
            "-5",
            "+5",
            "1.5",
            "12 s",
            "0x10",
            "Sun, 06 Nov 1994",
            "2026-05-01T10:00:00Z",
        ] {
            assert_eq!(read(garbage), None, "{garbage:?}");
        }
        assert_eq!(RetryAfter::parse(b"\xff\xfe"), None);
    }

    #[test]
    fn retry_after_ends_after_the_reply_or_not_at_all() {
        let now = Utc.with_ymd_and_hms(2026, 5, 1, 10, 0, 0).unwrap();
        assert_eq!(
            RetryAfter::Seconds(120).until(now),
            Some(now + chrono::Duration::seconds(120))
        );
        assert_eq!(RetryAfter::Seconds(0).until(now), None);
        let past = read("Sun, 06 Nov 1994 08:49:37 GMT").unwrap();
        assert_eq!(past.until(now), None);
        let later = Utc.with_ymd_and_hms(2026, 5, 1, 10, 5, 0).unwrap();
        assert_eq!(RetryAfter::Date(later).until(now), Some(later));
        assert_eq!(
            RetryAfter::Seconds(u64::MAX).until(now),
            Some(DateTime::<Utc>::MAX_UTC)
        );
    }

    #[test]
    fn only_429_and_503_keep_their_retry_after() {
        let wait = Some(RetryAfter::Seconds(30));
        for status in [429, 503] {
            assert_eq!(
                classify_reply(status, b"", wait),
                Attempt::Retryable {
                    error: format!("probe answered {status}"),
                    retry_after: wait
                }
            );
        }
        for status in [500, 502, 504, 408] {
            assert_eq!(
                classify_reply(status, b"", wait),
                Attempt::retryable(format!("probe answered {status}")),
                "{status}"
            );
        }
        assert_eq!(
            classify_reply(200, br#"{"code":0}"#, wait),
            Attempt::Delivered
        );
        assert!(matches!(
            classify_reply(404, b"", wait),
            Attempt::Permanent(_)
        ));
    }

    #[test]
    fn backoff_grows_is_capped_and_jittered() {
        let base = Duration::from_secs(1);
        let cap = Duration::from_secs(60);
        assert_eq!(backoff(1, base, cap, 0.0), Duration::from_millis(500));
        assert_eq!(backoff(1, base, cap, 0.999_999).as_millis(), 999);
        assert_eq!(backoff(3, base, cap, 0.0), Duration::from_secs(2));
        assert_eq!(backoff(20, base, cap, 0.0), Duration::from_secs(30));
        assert!(backoff(20, base, cap, 1.0) <= cap);
        assert!(backoff(u32::MAX, base, cap, 0.5) <= cap);
    }
}
