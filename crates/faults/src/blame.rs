//! Which fault each delivery the database does not account for followed: the report shows
//! them by fault, so a count that grows can be traced to what caused it.

use crate::chaos::Incident;
use chrono::Duration;
use mailing_e2e::sim::Delivered;

/// How much later than a fault struck a request may still be dated at the probe: it was on
/// its way, or waiting for a worker, when the fault struck.
const SLACK: Duration = Duration::milliseconds(100);

/// For each incident (by its index), and for none (`None`), how many of `extra` deliveries
/// followed it: the first fault that struck after the message's first delivery (and, for a
/// message delivered again, before its last one). Once an outcome is lost, the first fault
/// after it is what lost it.
pub fn blame(incidents: &[Incident], extra: &[Delivered]) -> Vec<(Option<usize>, u64)> {
    let mut counts: Vec<(Option<usize>, u64)> = Vec::new();
    for delivery in extra {
        let culprit = incidents
            .iter()
            .position(|incident| incident.struck + SLACK >= delivery.first_at)
            .filter(|&index| delivery.count < 2 || incidents[index].struck <= delivery.last_at);
        match counts.iter_mut().find(|(index, _)| *index == culprit) {
            Some((_, count)) => *count += 1,
            None => counts.push((culprit, 1)),
        }
    }
    counts.sort();
    counts
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, TimeZone as _, Utc};

    fn at(second: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 1, 12, 0, second).unwrap()
    }

    fn incident(struck: u32) -> Incident {
        Incident {
            at: std::time::Duration::ZERO,
            struck: at(struck),
            deliveries: 0,
            what: String::new(),
            took: std::time::Duration::ZERO,
        }
    }

    fn delivered(first: u32, last: u32) -> Delivered {
        Delivered {
            id: 1,
            count: if first == last { 1 } else { 2 },
            phone: 1,
            text: String::new(),
            first_at: at(first),
            last_at: at(last),
        }
    }

    #[test]
    fn a_delivery_is_blamed_on_the_first_fault_after_it() {
        let incidents = [incident(12), incident(20), incident(40)];
        let extra = [
            delivered(11, 13), // in flight when the first fault struck
            delivered(19, 30), // the second fault struck a second after it went out
            delivered(20, 22),
            delivered(13, 14), // no fault struck while it was unaccounted for
            delivered(11, 41), // the first fault it met lost it, not the later ones
            delivered(39, 39), // delivered once, its outcome lost to the third fault
        ];
        assert_eq!(
            blame(&incidents, &extra),
            vec![(None, 1), (Some(0), 2), (Some(1), 2), (Some(2), 1)]
        );
    }
}
