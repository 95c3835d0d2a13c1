//! How big a run is: the full suite `make faults` runs, and the short one `make test` runs.

use crate::plan::{Between, Shape};
use std::time::Duration;

/// The size of a run, and the settings that make the mailing last long enough for its faults.
#[derive(Debug, Clone, PartialEq)]
pub struct Scale {
    pub name: &'static str,
    /// Clients, and recipients of the main mailing (every client).
    pub recipients: u64,
    pub schedulers: usize,
    pub senders: usize,
    /// Probe requests one sender has in flight at most (`MAILING_SENDER_CONCURRENCY`): the
    /// in-flight limit that bounds what the probe may receive twice.
    pub sender_concurrency: u64,
    /// The probe's latency when nothing is wrong, in milliseconds: with the concurrency, it
    /// sets the pace of delivery.
    pub baseline_latency_ms: (u64, u64),
    pub shape: Shape,
    pub process_downtime: Between,
    pub server_downtime: Between,
    pub probe_outage: Between,
    /// How long the whole run may take before it counts as hung.
    pub limit: Duration,
}

impl Scale {
    /// `make faults`: a 100,000-recipient mailing through several of every fault.
    pub fn full() -> Scale {
        Scale {
            name: "full",
            recipients: 100_000,
            schedulers: 2,
            senders: 3,
            sender_concurrency: 16,
            baseline_latency_ms: (20, 80),
            shape: Shape {
                sender_kills: 5,
                scheduler_kills: 3,
                api_kills: 2,
                postgres_restarts: 2,
                rabbitmq_restarts: 2,
                probe_outages: 2,
            },
            process_downtime: Between(Duration::from_millis(100), Duration::from_secs(3)),
            server_downtime: Between(Duration::from_secs(1), Duration::from_secs(5)),
            probe_outage: Between(Duration::from_secs(4), Duration::from_secs(10)),
            limit: Duration::from_secs(30 * 60),
        }
    }

    /// `make test`: every kind of fault once, on a mailing small enough for debug binaries.
    pub fn short() -> Scale {
        Scale {
            name: "short",
            recipients: 6_000,
            schedulers: 2,
            senders: 3,
            sender_concurrency: 4,
            baseline_latency_ms: (20, 80),
            shape: Shape {
                sender_kills: 3,
                scheduler_kills: 2,
                api_kills: 1,
                postgres_restarts: 1,
                rabbitmq_restarts: 1,
                probe_outages: 1,
            },
            process_downtime: Between(Duration::from_millis(100), Duration::from_secs(1)),
            server_downtime: Between(Duration::from_secs(1), Duration::from_secs(2)),
            probe_outage: Between(Duration::from_secs(2), Duration::from_secs(4)),
            limit: Duration::from_secs(8 * 60),
        }
    }

    /// Recipients of the ending mailing: clients on `mts` tagged "Important" (see
    /// [`crate::mailings`]).
    pub fn ending_recipients(&self) -> u64 {
        crate::mailings::Mailing::Ending.recipients(self.recipients)
    }
}
