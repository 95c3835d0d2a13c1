//! Which fault, if any, a well-formed request meets, and how long it waits first. The choice is
//! made from a generator seeded by the run's seed and the request's sequence number, so a run
//! that sends the same requests in the same order meets the same faults.

use chrono::{DateTime, Utc};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Latency the sender would see before any answer: the longest a simulated delay may be.
pub const MAX_LATENCY_MS: u64 = 600_000;
/// A hang outlives any client timeout the project uses; longer ones only pin memory.
pub const MAX_HANG_MS: u64 = 3_600_000;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FaultsError {
    #[error("{field}: {problem}")]
    Invalid {
        field: &'static str,
        problem: String,
    },
}

fn invalid(field: &'static str, problem: impl Into<String>) -> FaultsError {
    FaultsError::Invalid {
        field,
        problem: problem.into(),
    }
}

/// Simulated delay in milliseconds, drawn uniformly from `min..=max` (equal bounds: fixed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Latency {
    pub min: u64,
    pub max: u64,
}

impl Latency {
    pub fn fixed(ms: u64) -> Self {
        Self { min: ms, max: ms }
    }

    /// Reads `"200"` (fixed) or `"100..300"` (uniform range), as flags and variables give it.
    pub fn parse(text: &str) -> Result<Self, FaultsError> {
        let number = |part: &str| {
            part.trim().parse::<u64>().map_err(|_| {
                invalid(
                    "latency_ms",
                    "must be milliseconds, e.g. 200, or a range, e.g. 100..300",
                )
            })
        };
        let latency = match text.split_once("..") {
            Some((min, max)) => Self {
                min: number(min)?,
                max: number(max)?,
            },
            None => Self::fixed(number(text)?),
        };
        latency.check()?;
        Ok(latency)
    }

    fn check(self) -> Result<(), FaultsError> {
        if self.min > self.max {
            return Err(invalid("latency_ms", "min must not exceed max"));
        }
        if self.max > MAX_LATENCY_MS {
            return Err(invalid(
                "latency_ms",
                format!("must not exceed {MAX_LATENCY_MS} ms"),
            ));
        }
        Ok(())
    }

    fn draw(self, rng: &mut impl Rng) -> Duration {
        Duration::from_millis(if self.min == self.max {
            self.min
        } else {
            rng.random_range(self.min..=self.max)
        })
    }
}

impl<'de> Deserialize<'de> for Latency {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Given {
            Fixed(u64),
            Text(String),
            Range { min: u64, max: u64 },
        }
        let latency = match Given::deserialize(deserializer).map_err(|_| {
            serde::de::Error::custom(
                "latency_ms must be milliseconds (200), a range string (\"100..300\") or {\"min\": 100, \"max\": 300}",
            )
        })? {
            Given::Fixed(ms) => Latency::fixed(ms),
            Given::Text(text) => Latency::parse(&text).map_err(serde::de::Error::custom)?,
            Given::Range { min, max } => Latency { min, max },
        };
        latency.check().map_err(serde::de::Error::custom)?;
        Ok(latency)
    }
}

/// How the simulator behaves while an outage window is open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OutageMode {
    /// Answer 503 Service Unavailable.
    #[default]
    Unavailable,
    /// Close the connection without answering, as a crashed upstream or a proxy reset does.
    Drop,
}

/// How 429 and 503 answers write their `Retry-After` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RetryAfterFormat {
    /// A number of seconds: `Retry-After: 7`.
    #[default]
    Seconds,
    /// An HTTP-date (IMF-fixdate): the answer's time plus the seconds, rounded up to a whole
    /// second, e.g. `Retry-After: Fri, 01 May 2026 10:00:07 GMT`.
    Date,
    /// No header at all.
    #[serde(rename = "none")]
    Omitted,
}

/// The `Retry-After` a 429 or 503 answer carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryAfter {
    pub seconds: u64,
    pub format: RetryAfterFormat,
}

impl RetryAfter {
    /// The header's value for an answer given at `now`; `None` when it carries none.
    pub fn header_value(self, now: DateTime<Utc>) -> Option<String> {
        match self.format {
            RetryAfterFormat::Seconds => Some(self.seconds.to_string()),
            RetryAfterFormat::Date => {
                let wait = i64::try_from(self.seconds).unwrap_or(i64::MAX);
                let at = now.timestamp().saturating_add(wait);
                // Rounded up, so that the date is never sooner than the seconds say.
                let at = at.saturating_add(i64::from(now.timestamp_subsec_nanos() > 0));
                let at = DateTime::from_timestamp(at, 0).unwrap_or(DateTime::<Utc>::MAX_UTC);
                Some(at.format("%a, %d %b %Y %H:%M:%S GMT").to_string())
            }
            RetryAfterFormat::Omitted => None,
        }
    }
}

/// The fault settings a run starts with and the admin API changes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Faults {
    pub latency_ms: Latency,
    pub error_500_share: f64,
    pub error_429_share: f64,
    pub error_503_share: f64,
    pub retry_after_seconds: u64,
    pub retry_after_format: RetryAfterFormat,
    pub malformed_share: f64,
    pub hang_share: f64,
    pub hang_ms: u64,
    pub outage_mode: OutageMode,
}

impl Default for Faults {
    fn default() -> Self {
        Self {
            latency_ms: Latency::default(),
            error_500_share: 0.0,
            error_429_share: 0.0,
            error_503_share: 0.0,
            retry_after_seconds: 1,
            retry_after_format: RetryAfterFormat::Seconds,
            malformed_share: 0.0,
            hang_share: 0.0,
            hang_ms: 600_000,
            outage_mode: OutageMode::Unavailable,
        }
    }
}

/// A partial update of [`Faults`]: fields left out keep their value.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultsPatch {
    pub latency_ms: Option<Latency>,
    pub error_500_share: Option<f64>,
    pub error_429_share: Option<f64>,
    pub error_503_share: Option<f64>,
    pub retry_after_seconds: Option<u64>,
    pub retry_after_format: Option<RetryAfterFormat>,
    pub malformed_share: Option<f64>,
    pub hang_share: Option<f64>,
    pub hang_ms: Option<u64>,
    pub outage_mode: Option<OutageMode>,
}

impl Faults {
    /// The settings with `patch` applied, if the result is valid.
    pub fn patched(&self, patch: &FaultsPatch) -> Result<Self, FaultsError> {
        let faults = Self {
            latency_ms: patch.latency_ms.unwrap_or(self.latency_ms),
            error_500_share: patch.error_500_share.unwrap_or(self.error_500_share),
            error_429_share: patch.error_429_share.unwrap_or(self.error_429_share),
            error_503_share: patch.error_503_share.unwrap_or(self.error_503_share),
            retry_after_seconds: patch
                .retry_after_seconds
                .unwrap_or(self.retry_after_seconds),
            retry_after_format: patch.retry_after_format.unwrap_or(self.retry_after_format),
            malformed_share: patch.malformed_share.unwrap_or(self.malformed_share),
            hang_share: patch.hang_share.unwrap_or(self.hang_share),
            hang_ms: patch.hang_ms.unwrap_or(self.hang_ms),
            outage_mode: patch.outage_mode.unwrap_or(self.outage_mode),
        };
        faults.validate()?;
        Ok(faults)
    }

    pub fn validate(&self) -> Result<(), FaultsError> {
        self.latency_ms.check()?;
        let shares = [
            ("error_500_share", self.error_500_share),
            ("error_429_share", self.error_429_share),
            ("error_503_share", self.error_503_share),
            ("malformed_share", self.malformed_share),
            ("hang_share", self.hang_share),
        ];
        for (field, share) in shares {
            if !(0.0..=1.0).contains(&share) {
                return Err(invalid(field, "must be a share from 0.0 to 1.0"));
            }
        }
        let total: f64 = shares.iter().map(|(_, share)| share).sum();
        // A little slack so that shares such as 0.1 + 0.2 + 0.7 pass despite rounding.
        if total > 1.0 + 1e-9 {
            return Err(invalid(
                "error_500_share",
                format!("the fault shares add up to {total}, more than 1.0"),
            ));
        }
        if self.retry_after_seconds > 86_400 {
            return Err(invalid(
                "retry_after_seconds",
                "must not exceed 86400 seconds",
            ));
        }
        if self.hang_ms > MAX_HANG_MS {
            return Err(invalid(
                "hang_ms",
                format!("must not exceed {MAX_HANG_MS} ms"),
            ));
        }
        Ok(())
    }

    /// Draws the fault and the delay for one request.
    pub fn decide(&self, rng: &mut impl Rng) -> Decision {
        let draw: f64 = rng.random();
        let mut bound = 0.0;
        let mut falls_under = |share: f64| {
            bound += share;
            draw < bound
        };
        let retry_after = RetryAfter {
            seconds: self.retry_after_seconds,
            format: self.retry_after_format,
        };
        let fault = if falls_under(self.error_500_share) {
            Fault::Error500
        } else if falls_under(self.error_429_share) {
            Fault::Error429(retry_after)
        } else if falls_under(self.error_503_share) {
            Fault::Error503(retry_after)
        } else if falls_under(self.malformed_share) {
            Fault::Malformed(MALFORMED_REPLIES[rng.random_range(0..MALFORMED_REPLIES.len())])
        } else if falls_under(self.hang_share) {
            Fault::Hang(Duration::from_millis(self.hang_ms))
        } else {
            Fault::None
        };
        Decision {
            fault,
            latency: self.latency_ms.draw(rng),
        }
    }
}

/// The generator for the request with `sequence` in a run seeded with `seed`. Deriving one per
/// request keeps the handlers free of a shared, locked generator.
pub fn request_rng(seed: u64, sequence: u64) -> SmallRng {
    SmallRng::seed_from_u64(seed ^ sequence.wrapping_mul(0x9E37_79B9_7F4A_7C15))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    pub fault: Fault,
    pub latency: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    None,
    Error500,
    Error429(RetryAfter),
    Error503(RetryAfter),
    Malformed(MalformedReply),
    Hang(Duration),
}

/// A 200 answer that is not the provider's success body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MalformedReply {
    pub content_type: &'static str,
    pub body: &'static str,
}

/// The kinds of wrong success replies a sender must not take for a delivery.
const MALFORMED_REPLIES: [MalformedReply; 5] = [
    MalformedReply {
        content_type: "text/html",
        body: "<html><body><h1>502 Bad Gateway</h1></body></html>",
    },
    MalformedReply {
        content_type: "application/json",
        body: r#"{"code": 0, "message": "OK""#,
    },
    MalformedReply {
        content_type: "application/json",
        body: r#"{"code": 1, "message": "Internal error"}"#,
    },
    MalformedReply {
        content_type: "application/json",
        body: r#"{"message": "OK"}"#,
    },
    MalformedReply {
        content_type: "application/json",
        body: "",
    },
];

/// A span of time in which the provider is down: `[start, end)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct OutageWindow {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

impl OutageWindow {
    pub fn new(start: DateTime<Utc>, duration: Duration) -> Self {
        let duration = chrono::Duration::from_std(duration).unwrap_or(chrono::Duration::MAX);
        Self {
            start,
            end: start
                .checked_add_signed(duration)
                .unwrap_or(DateTime::<Utc>::MAX_UTC),
        }
    }

    pub fn contains(&self, now: DateTime<Utc>) -> bool {
        self.start <= now && now < self.end
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn faults(patch: FaultsPatch) -> Faults {
        Faults::default().patched(&patch).unwrap()
    }

    #[test]
    fn latency_reads_fixed_values_and_ranges() {
        assert_eq!(Latency::parse("200").unwrap(), Latency::fixed(200));
        assert_eq!(
            Latency::parse("100..300").unwrap(),
            Latency { min: 100, max: 300 }
        );
        assert!(Latency::parse("300..100").is_err());
        assert!(Latency::parse("fast").is_err());
        assert!(Latency::parse("-5").is_err());
        let from_json: Latency = serde_json::from_str(r#"{"min": 5, "max": 9}"#).unwrap();
        assert_eq!(from_json, Latency { min: 5, max: 9 });
        let from_json: Latency = serde_json::from_str("7").unwrap();
        assert_eq!(from_json, Latency::fixed(7));
        assert!(serde_json::from_str::<Latency>(r#"{"min": 9, "max": 5}"#).is_err());
    }

    #[test]
    fn shares_must_be_shares_and_fit_in_one() {
        let too_much = FaultsPatch {
            error_500_share: Some(0.6),
            hang_share: Some(0.6),
            ..FaultsPatch::default()
        };
        assert!(Faults::default().patched(&too_much).is_err());
        let negative = FaultsPatch {
            malformed_share: Some(-0.1),
            ..FaultsPatch::default()
        };
        let err = Faults::default().patched(&negative).unwrap_err();
        assert!(err.to_string().starts_with("malformed_share"), "{err}");
        let rounded = FaultsPatch {
            error_500_share: Some(0.1),
            error_429_share: Some(0.2),
            malformed_share: Some(0.7),
            ..FaultsPatch::default()
        };
        assert!(Faults::default().patched(&rounded).is_ok());
    }

    #[test]
    fn a_patch_keeps_what_it_does_not_name() {
        let base = faults(FaultsPatch {
            error_500_share: Some(0.25),
            ..FaultsPatch::default()
        });
        let patched = base
            .patched(&FaultsPatch {
                hang_share: Some(0.5),
                ..FaultsPatch::default()
            })
            .unwrap();
        assert_eq!(patched.error_500_share, 0.25);
        assert_eq!(patched.hang_share, 0.5);
        assert!(serde_json::from_str::<FaultsPatch>(r#"{"eror_500_share": 1}"#).is_err());
    }

    #[test]
    fn outcomes_follow_their_shares() {
        let faults = faults(FaultsPatch {
            error_500_share: Some(0.1),
            error_429_share: Some(0.2),
            error_503_share: Some(0.1),
            malformed_share: Some(0.2),
            hang_share: Some(0.1),
            ..FaultsPatch::default()
        });
        let mut counts = [0u32; 6];
        let draws = 20_000;
        for sequence in 0..draws {
            let index = match faults.decide(&mut request_rng(7, sequence)).fault {
                Fault::Error500 => 0,
                Fault::Error429(_) => 1,
                Fault::Error503(_) => 2,
                Fault::Malformed(_) => 3,
                Fault::Hang(_) => 4,
                Fault::None => 5,
            };
            counts[index] += 1;
        }
        let expected = [0.1, 0.2, 0.1, 0.2, 0.1, 0.3];
        for (count, share) in counts.iter().zip(expected) {
            let seen = f64::from(*count) / draws as f64;
            assert!((seen - share).abs() < 0.02, "{counts:?}");
        }
    }

    #[test]
    fn the_same_seed_gives_the_same_decisions() {
        let faults = faults(FaultsPatch {
            error_500_share: Some(0.5),
            latency_ms: Some(Latency { min: 0, max: 1000 }),
            ..FaultsPatch::default()
        });
        let run = |seed| {
            (0..100)
                .map(|sequence| faults.decide(&mut request_rng(seed, sequence)))
                .collect::<Vec<_>>()
        };
        assert_eq!(run(1), run(1));
        assert_ne!(run(1), run(2));
    }

    #[test]
    fn retry_after_is_written_as_seconds_or_as_a_date() {
        let at = |seconds, format| RetryAfter { seconds, format };
        let now = DateTime::parse_from_rfc3339("2026-05-01T10:00:00Z")
            .unwrap()
            .to_utc();
        assert_eq!(
            at(7, RetryAfterFormat::Seconds)
                .header_value(now)
                .as_deref(),
            Some("7")
        );
        assert_eq!(
            at(7, RetryAfterFormat::Date).header_value(now).as_deref(),
            Some("Fri, 01 May 2026 10:00:07 GMT")
        );
        let later = now + chrono::Duration::milliseconds(1);
        assert_eq!(
            at(7, RetryAfterFormat::Date).header_value(later).as_deref(),
            Some("Fri, 01 May 2026 10:00:08 GMT")
        );
        assert_eq!(at(7, RetryAfterFormat::Omitted).header_value(now), None);
        let format: RetryAfterFormat = serde_json::from_str(r#""none""#).unwrap();
        assert_eq!(format, RetryAfterFormat::Omitted);
        assert!(serde_json::from_str::<RetryAfterFormat>(r#""http-date""#).is_err());
    }

    #[test]
    fn range_latency_stays_in_range() {
        let latency = Latency { min: 10, max: 20 };
        for sequence in 0..1000 {
            let drawn = latency.draw(&mut request_rng(3, sequence));
            assert!((10..=20).contains(&drawn.as_millis()), "{drawn:?}");
        }
    }

    #[test]
    fn an_outage_window_is_half_open() {
        let start = DateTime::parse_from_rfc3339("2026-01-01T10:00:00Z")
            .unwrap()
            .to_utc();
        let window = OutageWindow::new(start, Duration::from_secs(30));
        assert!(!window.contains(start - chrono::Duration::milliseconds(1)));
        assert!(window.contains(start));
        assert!(window.contains(start + chrono::Duration::seconds(29)));
        assert!(!window.contains(start + chrono::Duration::seconds(30)));
    }
}
