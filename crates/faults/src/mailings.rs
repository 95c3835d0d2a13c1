//! The mailings of a run. Their recipients are computed here from the generated clients (see
//! `mailing_e2e::population::generated`), not read back from the system under test.
//!
//! - **main**: every client; ends long after the run, so every message must be sent.
//! - **ending**: clients on `mts` tagged "Important" (one in six); created first, so it is
//!   delivered first, and its end is moved to a moment just ahead while it is being
//!   delivered: part of it is sent, the rest expires, and nothing may reach the probe at or
//!   after the end.
//! - **late**: clients on `bln` tagged "Another Tag" (one in six); created mid-run, with the
//!   api killed right after it answered; every message must be sent.

use chrono::{DateTime, SecondsFormat, Utc};
use mailing_e2e::population::generated;
use serde_json::{Value, json};
use std::collections::BTreeSet;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Mailing {
    Main,
    Ending,
    Late,
}

impl Mailing {
    pub const ALL: [Mailing; 3] = [Mailing::Main, Mailing::Ending, Mailing::Late];

    pub fn name(self) -> &'static str {
        match self {
            Mailing::Main => "main",
            Mailing::Ending => "ending",
            Mailing::Late => "late",
        }
    }

    /// Operator codes and tags of its filter.
    fn filter(self) -> (&'static [&'static str], &'static [&'static str]) {
        match self {
            Mailing::Main => (&[], &[]),
            Mailing::Ending => (&["mts"], &["Important"]),
            Mailing::Late => (&["bln"], &["Another Tag"]),
        }
    }

    /// Its text, different for each, so the probe's record shows which one a delivery was.
    pub fn text(self) -> String {
        format!("Fault suite: the {} mailing", self.name())
    }

    /// Whether every recipient must end up with a sent message: its end comes long after the
    /// run and nothing the probe does is a permanent refusal.
    pub fn must_all_be_sent(self) -> bool {
        self != Mailing::Ending
    }

    /// The api's body creating it, running from `start` to `end`.
    pub fn body(self, start: DateTime<Utc>, end: DateTime<Utc>) -> Value {
        let (operators, tags) = self.filter();
        json!({
            "text": self.text(),
            "start_at": rfc3339(start),
            "end_at": rfc3339(end),
            "filter": { "operator_codes": operators, "tags": tags },
        })
    }

    /// The phones of its recipients among `clients` generated clients.
    pub fn recipient_phones(self, clients: u64) -> BTreeSet<String> {
        let (operators, tags) = self.filter();
        generated(0, clients, "UTC")
            .into_iter()
            .filter(|client| client.matches(operators, tags))
            .map(|client| client.phone)
            .collect()
    }

    pub fn recipients(self, clients: u64) -> u64 {
        self.recipient_phones(clients).len() as u64
    }
}

impl std::fmt::Display for Mailing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

pub fn rfc3339(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Micros, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_filters_pick_a_sixth_each_and_never_the_same_client() {
        let main = Mailing::Main.recipient_phones(6_000);
        let ending = Mailing::Ending.recipient_phones(6_000);
        let late = Mailing::Late.recipient_phones(6_000);
        assert_eq!(
            (main.len(), ending.len(), late.len()),
            (6_000, 1_000, 1_000)
        );
        assert!(ending.is_disjoint(&late));
        assert!(ending.is_subset(&main) && late.is_subset(&main));
    }
}
