//! What a probe reply means and when to try again: pure rules the sender applies.

use std::time::Duration;

/// The meaning of one attempt to deliver a message to the probe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt {
    /// The probe accepted the message.
    Delivered,
    /// Worth trying again later: timeouts, connection errors, 429, 5xx, malformed replies.
    Retryable(String),
    /// The probe says the request itself is wrong; trying again cannot help.
    Permanent(String),
    /// The probe refused our credentials: stop sending for everyone, lose nothing.
    TokenRejected,
}

/// Classifies an HTTP reply of the probe (`POST /send/{msgId}`).
///
/// Success is exactly HTTP 200 with `{"code": 0, ...}`; any other 200 body is a malformed
/// reply (the earlier implementation took any JSON as success).
pub fn classify_reply(status: u16, body: &[u8]) -> Attempt {
    match status {
        200 => match serde_json::from_slice::<serde_json::Value>(body) {
            Ok(reply) if reply.get("code").and_then(serde_json::Value::as_i64) == Some(0) => {
                Attempt::Delivered
            }
            Ok(_) => Attempt::Retryable("malformed reply: 200 without code 0".to_owned()),
            Err(_) => {
                Attempt::Retryable("malformed reply: 200 with a body that is not JSON".to_owned())
            }
        },
        401 | 403 => Attempt::TokenRejected,
        408 | 425 | 429 => Attempt::Retryable(format!("probe answered {status}")),
        400..=499 => Attempt::Permanent(format!(
            "probe refused the request with {status}: {}",
            snippet(body)
        )),
        _ => Attempt::Retryable(format!("probe answered {status}")),
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

    #[test]
    fn only_code_zero_is_delivered() {
        assert_eq!(
            classify_reply(200, br#"{"code":0,"message":"OK"}"#),
            Attempt::Delivered
        );
        assert!(matches!(
            classify_reply(200, br#"{"code":1}"#),
            Attempt::Retryable(_)
        ));
        assert!(matches!(classify_reply(200, b"OK"), Attempt::Retryable(_)));
        assert!(matches!(classify_reply(200, b""), Attempt::Retryable(_)));
    }

    #[test]
    fn statuses_are_classified_as_the_spec_says() {
        assert_eq!(classify_reply(401, b""), Attempt::TokenRejected);
        assert!(
            matches!(classify_reply(400, b"empty body"), Attempt::Permanent(m) if m.contains("400"))
        );
        assert!(matches!(classify_reply(404, b""), Attempt::Permanent(_)));
        for status in [429, 500, 502, 503, 504] {
            assert!(
                matches!(classify_reply(status, b""), Attempt::Retryable(_)),
                "{status}"
            );
        }
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
