//! The simulator's shared state: the settings in force (swapped whole when the admin API
//! changes them, so a request sees one consistent set), the request counters and the record of
//! deliveries. Tests that run the simulator in-process may drive it through this type directly.

use crate::arrivals::Arrivals;
use crate::faults::{Faults, FaultsError, FaultsPatch, OutageWindow};
use crate::record::{Recorder, Totals};
use crate::replies::{Replier, ReplySettings};
use crate::token::Verifier;
use chrono::{DateTime, Utc};
use reqwest::Url;
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};

/// What became of one request to the send endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Ok,
    Error500,
    Error429,
    Error503,
    Malformed,
    Hang,
    Outage,
    Unauthorized,
    BadRequest,
}

impl Outcome {
    pub const ALL: [Outcome; 9] = [
        Outcome::Ok,
        Outcome::Error500,
        Outcome::Error429,
        Outcome::Error503,
        Outcome::Malformed,
        Outcome::Hang,
        Outcome::Outage,
        Outcome::Unauthorized,
        Outcome::BadRequest,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Error500 => "error_500",
            Outcome::Error429 => "error_429",
            Outcome::Error503 => "error_503",
            Outcome::Malformed => "malformed",
            Outcome::Hang => "hang",
            Outcome::Outage => "outage",
            Outcome::Unauthorized => "unauthorized",
            Outcome::BadRequest => "bad_request",
        }
    }
}

/// The settings in force for requests.
#[derive(Debug)]
pub struct Runtime {
    pub faults: Faults,
    pub seed: u64,
    pub outage: Option<OutageWindow>,
    pub verifier: Verifier,
    pub replies: ReplySettings,
}

/// A partial update of the settings in force, as `PUT /_sim/config` takes it.
#[derive(Debug, Default)]
pub struct ConfigPatch {
    pub faults: FaultsPatch,
    /// Restarts the sequence of decisions, so the outcomes that follow repeat a run with it.
    pub seed: Option<u64>,
    pub jwt_secret: Option<SecretString>,
    /// `Some(None)` (JSON null) turns replies off.
    pub reply_url: Option<Option<Url>>,
    pub reply_secret: Option<SecretString>,
    pub reply_text: Option<String>,
    pub reply_every: Option<u64>,
}

impl ConfigPatch {
    /// Reads a JSON object of fault fields plus `seed`, `jwt_secret` and the reply settings; an
    /// unknown field is an error, so a misspelt setting does not pass for applied.
    pub fn from_json(body: &[u8]) -> Result<Self, serde_json::Error> {
        use serde::de::Error as _;
        /// Removes the field `name`, read as a `T`; its error names it.
        fn take<T: serde::de::DeserializeOwned>(
            fields: &mut serde_json::Map<String, serde_json::Value>,
            name: &str,
        ) -> Result<Option<T>, serde_json::Error> {
            fields
                .remove(name)
                .map(serde_json::from_value::<T>)
                .transpose()
                .map_err(|error| serde_json::Error::custom(format!("{name}: {error}")))
        }
        let mut fields: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(body)?;
        let seed = take::<u64>(&mut fields, "seed")?;
        let jwt_secret = take::<SecretString>(&mut fields, "jwt_secret")?;
        let reply_url = take::<Option<String>>(&mut fields, "reply_url")?
            .map(|url| url.as_deref().map(Url::parse).transpose())
            .transpose()
            .map_err(|error| serde_json::Error::custom(format!("reply_url: {error}")))?;
        let reply_secret = take::<SecretString>(&mut fields, "reply_secret")?;
        let reply_text = take::<String>(&mut fields, "reply_text")?;
        let reply_every = take::<u64>(&mut fields, "reply_every")?;
        Ok(Self {
            faults: serde_json::from_value(serde_json::Value::Object(fields))?,
            seed,
            jwt_secret,
            reply_url,
            reply_secret,
            reply_text,
            reply_every,
        })
    }

    /// The reply settings `current` becomes with this patch (unchecked).
    fn patched_replies(&self, current: &ReplySettings) -> ReplySettings {
        ReplySettings {
            url: self
                .reply_url
                .clone()
                .unwrap_or_else(|| current.url.clone()),
            secret: self.reply_secret.clone().or_else(|| current.secret.clone()),
            text: self
                .reply_text
                .clone()
                .unwrap_or_else(|| current.text.clone()),
            every: self.reply_every.unwrap_or(current.every),
        }
    }
}

/// How a secret shows where the settings are displayed: that it is set, never what it is.
pub const REDACTED: &str = "[redacted]";

/// The settings in force, as `GET /_sim/config` shows them (without the secrets).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConfigView {
    #[serde(flatten)]
    pub faults: Faults,
    pub seed: u64,
    pub outage: Option<OutageView>,
    pub reply_url: Option<String>,
    /// [`REDACTED`] when set, null when not.
    pub reply_secret: Option<&'static str>,
    pub reply_text: String,
    pub reply_every: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OutageView {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub active: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Stats {
    pub received_ok_total: u64,
    pub unique_ids: u64,
    pub duplicates: u64,
    pub requests_total: u64,
    pub in_flight: u64,
    pub max_in_flight: u64,
    pub by_outcome: std::collections::BTreeMap<&'static str, u64>,
    /// Replies the target answered 2xx.
    pub replies_sent: u64,
    /// Replies the target refused or did not answer.
    pub replies_failed: u64,
}

#[derive(Debug, Default)]
struct Counters {
    requests_total: AtomicU64,
    in_flight: AtomicU64,
    max_in_flight: AtomicU64,
    by_outcome: [AtomicU64; Outcome::ALL.len()],
}

#[derive(Debug)]
pub struct SimState {
    runtime: RwLock<Arc<Runtime>>,
    sequence: AtomicU64,
    counters: Counters,
    recorder: Recorder,
    arrivals: Arrivals,
    replier: Replier,
}

impl SimState {
    /// The state with replies off; see [`SimState::with_replies`].
    pub fn new(faults: Faults, seed: u64, secret: &SecretString) -> Self {
        Self::with_replies(faults, seed, secret, ReplySettings::default())
    }

    /// `replies` must have passed [`ReplySettings::validate`].
    pub fn with_replies(
        faults: Faults,
        seed: u64,
        secret: &SecretString,
        replies: ReplySettings,
    ) -> Self {
        Self {
            runtime: RwLock::new(Arc::new(Runtime {
                faults,
                seed,
                outage: None,
                verifier: Verifier::new(secret.expose_secret().as_bytes()),
                replies,
            })),
            sequence: AtomicU64::new(0),
            counters: Counters::default(),
            recorder: Recorder::default(),
            arrivals: Arrivals::default(),
            replier: Replier::new(),
        }
    }

    /// The settings in force; a request holds on to them for its whole life.
    pub fn runtime(&self) -> Arc<Runtime> {
        self.runtime
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn replace(
        &self,
        change: impl FnOnce(&Runtime) -> Result<Runtime, FaultsError>,
    ) -> Result<(), FaultsError> {
        let mut current = self.runtime.write().unwrap_or_else(PoisonError::into_inner);
        *current = Arc::new(change(&current)?);
        Ok(())
    }

    /// Applies `patch` if the settings it leads to are valid; otherwise changes nothing.
    pub fn update(&self, patch: &ConfigPatch) -> Result<(), FaultsError> {
        if patch
            .jwt_secret
            .as_ref()
            .is_some_and(|secret| secret.expose_secret().is_empty())
        {
            return Err(FaultsError::Invalid {
                field: "jwt_secret",
                problem: "must not be empty".to_owned(),
            });
        }
        self.replace(|current| {
            let faults = current.faults.patched(&patch.faults)?;
            let verifier = match &patch.jwt_secret {
                Some(secret) => Verifier::new(secret.expose_secret().as_bytes()),
                None => current.verifier.clone(),
            };
            let replies = patch.patched_replies(&current.replies);
            replies.validate()?;
            Ok(Runtime {
                faults,
                seed: patch.seed.unwrap_or(current.seed),
                outage: current.outage,
                verifier,
                replies,
            })
        })?;
        if patch.seed.is_some() {
            self.sequence.store(0, Ordering::SeqCst);
        }
        Ok(())
    }

    /// Opens an outage window (or, with `None`, closes any).
    pub fn set_outage(&self, outage: Option<OutageWindow>) {
        // Cannot fail: nothing here is validated.
        let _ = self.replace(|current| {
            Ok(Runtime {
                faults: current.faults.clone(),
                seed: current.seed,
                outage,
                verifier: current.verifier.clone(),
                replies: current.replies.clone(),
            })
        });
    }

    pub fn config(&self, now: DateTime<Utc>) -> ConfigView {
        let runtime = self.runtime();
        ConfigView {
            faults: runtime.faults.clone(),
            seed: runtime.seed,
            outage: runtime.outage.map(|window| OutageView {
                start: window.start,
                end: window.end,
                active: window.contains(now),
            }),
            reply_url: runtime.replies.url.as_ref().map(Url::to_string),
            reply_secret: runtime.replies.secret.as_ref().map(|_| REDACTED),
            reply_text: runtime.replies.text.clone(),
            reply_every: runtime.replies.every,
        }
    }

    /// The sequence number of the next fault decision.
    pub fn next_sequence(&self) -> u64 {
        self.sequence.fetch_add(1, Ordering::Relaxed)
    }

    /// Counts a request to the send endpoint; the guard counts it out of flight when dropped,
    /// also when the client gives up and the request is abandoned.
    pub fn begin_request(&self) -> InFlight<'_> {
        self.arrivals.record(Utc::now());
        self.counters.requests_total.fetch_add(1, Ordering::Relaxed);
        let now = self.counters.in_flight.fetch_add(1, Ordering::Relaxed) + 1;
        self.counters
            .max_in_flight
            .fetch_max(now, Ordering::Relaxed);
        InFlight(self)
    }

    pub fn count(&self, outcome: Outcome) {
        self.counters.by_outcome[outcome as usize].fetch_add(1, Ordering::Relaxed);
    }

    pub fn recorder(&self) -> &Recorder {
        &self.recorder
    }

    /// Posts the replies and counts them.
    pub fn replier(&self) -> &Replier {
        &self.replier
    }

    /// When each request arrived, whatever its answer.
    pub fn arrivals(&self) -> &Arrivals {
        &self.arrivals
    }

    pub fn stats(&self) -> Stats {
        let Totals {
            ok_total,
            unique_ids,
            duplicates,
        } = self.recorder.totals();
        let load = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        let (replies_sent, replies_failed) = self.replier.counts();
        Stats {
            received_ok_total: ok_total,
            unique_ids,
            duplicates,
            requests_total: load(&self.counters.requests_total),
            in_flight: load(&self.counters.in_flight),
            max_in_flight: load(&self.counters.max_in_flight),
            by_outcome: Outcome::ALL
                .iter()
                .map(|&outcome| {
                    (
                        outcome.as_str(),
                        load(&self.counters.by_outcome[outcome as usize]),
                    )
                })
                .collect(),
            replies_sent,
            replies_failed,
        }
    }

    /// Forgets the deliveries and zeroes the counters (the replies' too), for a fresh
    /// measurement. Requests in flight stay counted as in flight. The settings and the decision
    /// sequence are kept.
    pub fn reset(&self) {
        self.recorder.clear();
        self.replier.reset();
        self.arrivals.clear();
        self.counters.requests_total.store(0, Ordering::Relaxed);
        self.counters.max_in_flight.store(
            self.counters.in_flight.load(Ordering::Relaxed),
            Ordering::Relaxed,
        );
        for counter in &self.counters.by_outcome {
            counter.store(0, Ordering::Relaxed);
        }
    }
}

/// A request in flight; see [`SimState::begin_request`].
pub struct InFlight<'a>(&'a SimState);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.counters.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state() -> SimState {
        SimState::new(Faults::default(), 5, &SecretString::from("first"))
    }

    #[test]
    fn a_patch_reads_faults_seed_and_secret() {
        let patch =
            ConfigPatch::from_json(br#"{"hang_share": 0.5, "seed": 9, "jwt_secret": "new"}"#)
                .unwrap();
        assert_eq!(patch.faults.hang_share, Some(0.5));
        assert_eq!(patch.seed, Some(9));
        assert_eq!(patch.jwt_secret.unwrap().expose_secret(), "new");
        let error = ConfigPatch::from_json(br#"{"seed": -1}"#).unwrap_err();
        assert!(error.to_string().starts_with("seed"), "{error}");
        assert!(ConfigPatch::from_json(br#"{"hang": 1}"#).is_err());
        assert!(ConfigPatch::from_json(b"[]").is_err());
    }

    #[test]
    fn a_patch_reads_the_reply_settings_and_null_turns_replies_off() {
        let patch = ConfigPatch::from_json(
            r#"{"reply_url": "http://127.0.0.1:8000/api/v1/inbound", "reply_secret": "s",
                "reply_text": "СТОП", "reply_every": 4}"#
                .as_bytes(),
        )
        .unwrap();
        assert_eq!(
            patch.reply_url.clone().flatten().map(String::from),
            Some("http://127.0.0.1:8000/api/v1/inbound".to_owned())
        );
        assert_eq!(
            (patch.reply_text.as_deref(), patch.reply_every),
            (Some("СТОП"), Some(4))
        );
        let state = state();
        state.update(&patch).unwrap();
        let shown = state.config(Utc::now());
        assert_eq!(shown.reply_secret, Some(REDACTED));
        assert_eq!(shown.reply_every, 4);
        let off = ConfigPatch::from_json(br#"{"reply_url": null, "reply_every": 0}"#).unwrap();
        assert!(matches!(off.reply_url, Some(None)));
        state.update(&off).unwrap();
        assert_eq!(state.config(Utc::now()).reply_url, None);
        let error = ConfigPatch::from_json(br#"{"reply_url": "not a url"}"#).unwrap_err();
        assert!(error.to_string().starts_with("reply_url"), "{error}");
    }

    #[test]
    fn an_update_swaps_the_secret_and_restarts_the_sequence() {
        let state = state();
        state.next_sequence();
        state.next_sequence();
        let patch = ConfigPatch::from_json(br#"{"seed": 6, "jwt_secret": "second"}"#).unwrap();
        state.update(&patch).unwrap();
        assert_eq!(state.next_sequence(), 0);
        let runtime = state.runtime();
        assert_eq!(runtime.seed, 6);
        let token = crate::token::mint(b"second", "t", Utc::now().timestamp(), 60).unwrap();
        let header = format!("Bearer {token}");
        assert_eq!(
            runtime.verifier.check_header(Some(header.as_bytes())),
            Ok(())
        );
    }

    #[test]
    fn a_refused_update_changes_nothing() {
        let state = state();
        let before = state.config(Utc::now());
        let patch = ConfigPatch::from_json(br#"{"seed": 1, "hang_share": 2.0}"#).unwrap();
        assert!(state.update(&patch).is_err());
        let empty_secret = ConfigPatch::from_json(br#"{"jwt_secret": ""}"#).unwrap();
        assert!(state.update(&empty_secret).is_err());
        assert_eq!(state.config(Utc::now()), before);
    }

    #[test]
    fn requests_in_flight_are_counted_out_when_dropped() {
        let state = state();
        let first = state.begin_request();
        let second = state.begin_request();
        assert_eq!(state.stats().in_flight, 2);
        drop(first);
        drop(second);
        let stats = state.stats();
        assert_eq!((stats.in_flight, stats.max_in_flight), (0, 2));
        assert_eq!(stats.requests_total, 2);
    }

    #[test]
    fn reset_zeroes_the_counts_and_keeps_the_settings() {
        let state = state();
        let _request = state.begin_request();
        state.count(Outcome::Ok);
        state.recorder().record(1, 2, "t", Utc::now());
        assert_eq!(state.arrivals().per_millisecond().len(), 1);
        state.reset();
        assert!(state.arrivals().per_millisecond().is_empty());
        let stats = state.stats();
        assert_eq!(stats.requests_total, 0);
        assert_eq!(stats.received_ok_total, 0);
        assert!(stats.by_outcome.values().all(|count| *count == 0));
        assert_eq!(stats.in_flight, 1);
        assert_eq!(state.runtime().seed, 5);
    }
}
