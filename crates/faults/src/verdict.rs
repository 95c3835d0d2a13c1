//! The reliability promises (docs/faults.md), counted from what a run left behind: the database's messages and
//! the probe simulator's record of what it accepted. Pure functions of that evidence, so each
//! count is tested here on evidence made to break it.

use crate::mailings::Mailing;
use chrono::{DateTime, Utc};
use mailing_e2e::db::MessageRow;
use mailing_e2e::sim::Delivered;
use std::collections::{BTreeMap, BTreeSet};

/// A status that may still reach the probe.
const UNSETTLED: [&str; 3] = ["scheduled", "queued", "retrying"];

/// What a run left behind, read once everything settled.
#[derive(Debug, Clone, Default)]
pub struct Evidence {
    pub mailings: Vec<MailingEvidence>,
    /// Every id the probe answered OK, with how many times.
    pub received: BTreeMap<i64, u32>,
    /// (mailing, client) pairs holding more than one message in the database.
    pub duplicate_rows: u64,
    /// What can legitimately make the probe receive a message the database does not record
    /// as sent (again): see [`Verdict::extra_bound`].
    pub exposure: Exposure,
    /// How the api answered the integrator's requests during the run.
    pub api: ApiTally,
    /// Processes that did not answer their readiness check at the end.
    pub unready: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct MailingEvidence {
    pub mailing: Mailing,
    pub end_at: DateTime<Utc>,
    /// Phones of the clients it must reach.
    pub recipients: BTreeSet<String>,
    /// Its messages as the database holds them.
    pub messages: Vec<MessageRow>,
    /// The probe's record of each of its messages it accepted, with arrival times, phone and
    /// text; read for the mailings whose end came during the run.
    pub deliveries: Option<Vec<Delivered>>,
}

/// The events during which an attempt can be cut off after the probe accepted it and before
/// its outcome was committed: a sender killed with attempts in flight, or a mailing's end
/// reached with attempts in flight (the sender stops waiting at the end).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Exposure {
    pub sender_concurrency: u64,
    pub senders: u64,
    pub sender_kills: u64,
    pub ends_during_run: u64,
}

/// The api's answers to the requests made during the run, by kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ApiTally {
    pub ok: u64,
    /// 503: the database was away, which the api says as it should.
    pub unavailable: u64,
    /// No answer: the api was down.
    pub unreachable: u64,
    /// Any other 4xx or 5xx: a 500 is a broken promise, a 4xx a broken request.
    pub wrong: u64,
}

/// The counts for one mailing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailingCounts {
    pub mailing: Mailing,
    pub recipients: u64,
    pub messages: u64,
    pub by_status: BTreeMap<String, u64>,
    /// Recipients without a message, or whose message is not in a state it may end in: not
    /// sent and received (and, for the ending mailing, not expired either).
    pub lost: u64,
    /// Messages still scheduled, queued or retrying once the run settled.
    pub unsettled: u64,
    /// Recorded `sent` but never accepted by the probe.
    pub sent_not_received: u64,
    /// Accepted by the probe but not recorded `sent` (expired at the end, say).
    pub received_not_sent: u64,
    /// Ids the probe accepted more than once.
    pub received_twice: u64,
    /// Deliveries the database does not account for: for each of its ids the probe
    /// accepted, the acceptances beyond one if the database says sent, all of them otherwise.
    pub extra_deliveries: u64,
    /// Deliveries that reached the probe at or after the end, or were recorded sent then.
    pub after_end: u64,
    /// Deliveries whose phone or text is not the message's.
    pub wrong_content: u64,
    /// How many of its deliveries were checked for time and content at the probe.
    pub deliveries_checked: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub mailings: Vec<MailingCounts>,
    pub lost: u64,
    pub duplicate_rows: u64,
    pub after_end: u64,
    pub wrong_content: u64,
    pub received_twice: u64,
    pub extra_deliveries: u64,
    /// The most deliveries the database may fail to account for.
    pub extra_bound: u64,
    /// Ids the probe accepted that are no message of the run.
    pub unknown_deliveries: u64,
    pub api: ApiTally,
    pub unready: Vec<String>,
}

impl Verdict {
    pub fn of(evidence: &Evidence) -> Verdict {
        let mailings: Vec<MailingCounts> = evidence
            .mailings
            .iter()
            .map(|mailing| count_mailing(mailing, &evidence.received))
            .collect();
        let known: BTreeSet<i64> = evidence
            .mailings
            .iter()
            .flat_map(|m| m.messages.iter().map(|row| row.id))
            .collect();
        let sum = |field: fn(&MailingCounts) -> u64| mailings.iter().map(field).sum::<u64>();
        let exposure = evidence.exposure;
        Verdict {
            lost: sum(|m| m.lost),
            after_end: sum(|m| m.after_end),
            wrong_content: sum(|m| m.wrong_content),
            received_twice: sum(|m| m.received_twice),
            extra_deliveries: sum(|m| m.extra_deliveries),
            extra_bound: exposure.sender_concurrency
                * (exposure.sender_kills + exposure.senders * exposure.ends_during_run),
            unknown_deliveries: evidence
                .received
                .keys()
                .filter(|id| !known.contains(id))
                .count() as u64,
            duplicate_rows: evidence.duplicate_rows,
            api: evidence.api,
            unready: evidence.unready.clone(),
            mailings,
        }
    }

    /// Each promise the run broke, in words; empty when it kept them all.
    pub fn failures(&self) -> Vec<String> {
        let mut failures = Vec::new();
        let mut must_be_zero = |count: u64, what: &str| {
            if count > 0 {
                failures.push(format!("{count} {what}"));
            }
        };
        must_be_zero(self.lost, "messages lost");
        must_be_zero(self.duplicate_rows, "duplicate message rows");
        must_be_zero(self.after_end, "deliveries at or after the end");
        must_be_zero(
            self.wrong_content,
            "deliveries with the wrong phone or text",
        );
        must_be_zero(
            self.unknown_deliveries,
            "deliveries of ids that are no message",
        );
        must_be_zero(self.api.wrong, "api answers other than 2xx, 503 or none");
        if self.extra_deliveries > self.extra_bound {
            failures.push(format!(
                "{} deliveries the database does not account for, over the bound of {}",
                self.extra_deliveries, self.extra_bound
            ));
        }
        for process in &self.unready {
            failures.push(format!("{process} was not ready at the end"));
        }
        failures
    }
}

fn count_mailing(evidence: &MailingEvidence, received: &BTreeMap<i64, u32>) -> MailingCounts {
    let mut by_status: BTreeMap<String, u64> = BTreeMap::new();
    for row in &evidence.messages {
        *by_status.entry(row.status.clone()).or_default() += 1;
    }
    let accepted = |row: &MessageRow| received.get(&row.id).copied().unwrap_or(0);
    let sent = |row: &MessageRow| row.status == "sent";
    // A recipient is accounted for by one message that was sent and received, or (ending
    // mailing) that expired; the first such message per phone counts.
    let mut accounted: BTreeSet<&str> = BTreeSet::new();
    for row in &evidence.messages {
        let Some(phone) = row.phone.as_deref() else {
            continue;
        };
        let delivered = sent(row) && accepted(row) > 0;
        let expired = !evidence.mailing.must_all_be_sent() && row.status == "expired";
        if (delivered || expired) && evidence.recipients.contains(phone) {
            accounted.insert(phone);
        }
    }
    let mut counts = MailingCounts {
        mailing: evidence.mailing,
        recipients: evidence.recipients.len() as u64,
        messages: evidence.messages.len() as u64,
        lost: (evidence.recipients.len() - accounted.len()) as u64,
        unsettled: evidence
            .messages
            .iter()
            .filter(|row| UNSETTLED.contains(&row.status.as_str()))
            .count() as u64,
        sent_not_received: evidence
            .messages
            .iter()
            .filter(|row| sent(row) && accepted(row) == 0)
            .count() as u64,
        received_not_sent: evidence
            .messages
            .iter()
            .filter(|row| !sent(row) && accepted(row) > 0)
            .count() as u64,
        received_twice: evidence
            .messages
            .iter()
            .filter(|row| accepted(row) > 1)
            .count() as u64,
        extra_deliveries: evidence
            .messages
            .iter()
            .map(|row| u64::from(accepted(row)).saturating_sub(u64::from(sent(row))))
            .sum(),
        after_end: evidence
            .messages
            .iter()
            .filter(|row| row.sent_at.is_some_and(|at| at >= evidence.end_at))
            .count() as u64,
        wrong_content: 0,
        deliveries_checked: 0,
        by_status,
    };
    if let Some(deliveries) = &evidence.deliveries {
        let rows: BTreeMap<i64, &MessageRow> =
            evidence.messages.iter().map(|row| (row.id, row)).collect();
        let text = evidence.mailing.text();
        counts.deliveries_checked = deliveries.len() as u64;
        // A delivery the database dates before the end but the probe after it counts once.
        let late_in_database: BTreeSet<i64> = evidence
            .messages
            .iter()
            .filter(|row| row.sent_at.is_some_and(|at| at >= evidence.end_at))
            .map(|row| row.id)
            .collect();
        counts.after_end += deliveries
            .iter()
            .filter(|d| d.last_at >= evidence.end_at && !late_in_database.contains(&d.id))
            .count() as u64;
        counts.wrong_content = deliveries
            .iter()
            .filter(|d| {
                let phone = rows
                    .get(&d.id)
                    .and_then(|row| row.phone.as_deref())
                    .and_then(|phone| phone.parse::<u64>().ok());
                phone != Some(d.phone) || d.text != text
            })
            .count() as u64;
    }
    counts
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone as _;

    fn at(second: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 1, 12, 0, second).unwrap()
    }

    fn row(id: i64, phone: &str, status: &str, sent_at: Option<DateTime<Utc>>) -> MessageRow {
        MessageRow {
            id,
            client_id: Some(id),
            phone: Some(phone.to_owned()),
            time_zone: Some("UTC".to_owned()),
            status: status.to_owned(),
            attempts: 1,
            last_error: None,
            next_attempt_at: None,
            sent_at,
        }
    }

    fn delivered(id: i64, phone: &str, mailing: Mailing, last_at: DateTime<Utc>) -> Delivered {
        Delivered {
            id,
            count: 1,
            phone: phone.parse().unwrap(),
            text: mailing.text(),
            first_at: last_at,
            last_at,
        }
    }

    const PHONES: [&str; 4] = ["79000000001", "79000000002", "79000000003", "79000000004"];

    /// A run that kept every promise: the main mailing fully sent, the ending one half sent
    /// and half expired at its end (second 30), the probe's record matching.
    fn kept() -> Evidence {
        let recipients: BTreeSet<String> = PHONES.iter().map(|p| p.to_string()).collect();
        let main = MailingEvidence {
            mailing: Mailing::Main,
            end_at: at(59),
            recipients: recipients.clone(),
            messages: (0..4)
                .map(|i| row(i + 1, PHONES[i as usize], "sent", Some(at(10))))
                .collect(),
            deliveries: None,
        };
        let ending = MailingEvidence {
            mailing: Mailing::Ending,
            end_at: at(30),
            recipients,
            messages: vec![
                row(11, PHONES[0], "sent", Some(at(20))),
                row(12, PHONES[1], "sent", Some(at(29))),
                row(13, PHONES[2], "expired", None),
                row(14, PHONES[3], "expired", None),
            ],
            deliveries: Some(vec![
                delivered(11, PHONES[0], Mailing::Ending, at(20)),
                delivered(12, PHONES[1], Mailing::Ending, at(29)),
            ]),
        };
        Evidence {
            mailings: vec![main, ending],
            received: [1, 2, 3, 4, 11, 12].into_iter().map(|id| (id, 1)).collect(),
            exposure: Exposure {
                sender_concurrency: 4,
                senders: 3,
                sender_kills: 2,
                ends_during_run: 1,
            },
            api: ApiTally {
                ok: 10,
                ..ApiTally::default()
            },
            ..Evidence::default()
        }
    }

    fn failures(evidence: &Evidence) -> Vec<String> {
        Verdict::of(evidence).failures()
    }

    #[test]
    fn a_run_that_kept_its_promises_passes() {
        let verdict = Verdict::of(&kept());
        assert_eq!(verdict.failures(), Vec::<String>::new());
        assert_eq!(verdict.extra_bound, 4 * (2 + 3));
        let ending = &verdict.mailings[1];
        assert_eq!((ending.lost, ending.deliveries_checked), (0, 2));
        assert_eq!(ending.by_status["expired"], 2);
    }

    #[test]
    fn a_message_never_created_never_sent_or_never_received_is_lost() {
        let mut missing = kept();
        missing.mailings[0].messages.pop();
        missing.received.remove(&4);
        assert_eq!(failures(&missing), ["1 messages lost"]);

        let mut stuck = kept();
        stuck.mailings[0].messages[0].status = "retrying".to_owned();
        stuck.received.remove(&1);
        assert_eq!(failures(&stuck), ["1 messages lost"]);
        assert_eq!(Verdict::of(&stuck).mailings[0].unsettled, 1);

        let mut phantom = kept();
        phantom.received.remove(&2);
        let verdict = Verdict::of(&phantom);
        assert_eq!(verdict.mailings[0].sent_not_received, 1);
        assert_eq!(verdict.failures(), ["1 messages lost"]);

        // Only the ending mailing may leave a recipient expired.
        let mut expired = kept();
        expired.mailings[0].messages[3].status = "expired".to_owned();
        expired.received.remove(&4);
        assert_eq!(failures(&expired), ["1 messages lost"]);
    }

    #[test]
    fn a_second_row_for_a_recipient_is_a_duplicate() {
        let mut evidence = kept();
        evidence.duplicate_rows = 1;
        assert_eq!(failures(&evidence), ["1 duplicate message rows"]);
    }

    #[test]
    fn a_delivery_at_the_end_breaks_the_promise() {
        let mut late_at_probe = kept();
        let ending = &mut late_at_probe.mailings[1];
        ending.deliveries.as_mut().unwrap()[1].last_at = at(30);
        assert_eq!(
            failures(&late_at_probe),
            ["1 deliveries at or after the end"]
        );

        let mut late_in_database = kept();
        late_in_database.mailings[1].messages[1].sent_at = Some(at(31));
        late_in_database.mailings[1].deliveries.as_mut().unwrap()[1].last_at = at(31);
        assert_eq!(
            failures(&late_in_database),
            ["1 deliveries at or after the end"]
        );
    }

    #[test]
    fn a_delivery_to_the_wrong_phone_or_with_the_wrong_text_is_caught() {
        let mut evidence = kept();
        let deliveries = evidence.mailings[1].deliveries.as_mut().unwrap();
        deliveries[0].phone = 79_999_999_999;
        deliveries[1].text = Mailing::Main.text();
        assert_eq!(
            failures(&evidence),
            ["2 deliveries with the wrong phone or text"]
        );
    }

    #[test]
    fn extra_deliveries_are_held_to_the_in_flight_bound() {
        let mut within = kept();
        // Three ids accepted twice, two accepted though expired: 5 of at most 20.
        for id in [1, 2, 11] {
            within.received.insert(id, 2);
        }
        within.received.insert(13, 1);
        within.received.insert(14, 1);
        let verdict = Verdict::of(&within);
        assert_eq!((verdict.received_twice, verdict.extra_deliveries), (3, 5));
        assert_eq!(verdict.mailings[1].received_not_sent, 2);
        assert!(verdict.failures().is_empty(), "{:?}", verdict.failures());

        let mut over = kept();
        over.received.insert(1, 22);
        assert_eq!(
            failures(&over),
            ["21 deliveries the database does not account for, over the bound of 20"]
        );
    }

    #[test]
    fn deliveries_of_no_message_api_errors_and_unready_processes_fail() {
        let mut evidence = kept();
        evidence.received.insert(999, 1);
        evidence.api.wrong = 2;
        evidence.unready = vec!["mailing-sender-2".to_owned()];
        assert_eq!(
            failures(&evidence),
            [
                "1 deliveries of ids that are no message",
                "2 api answers other than 2xx, 503 or none",
                "mailing-sender-2 was not ready at the end"
            ]
        );
    }
}
