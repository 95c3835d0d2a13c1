//! One provider rate for the whole deployment: `MAILING_SENDER_RATE_LIMIT` is what the provider
//! may see from all senders together, and the live senders share it.
//!
//! Every sender beats in the database's `sender_heartbeats` table every [`BEAT_EVERY`]; a row
//! whose last beat is younger than [`LEASE`] (in the database's clock) is a live sender. Each
//! sender, after each beat, sets its bucket (see [`crate::limiter`]) to [`share_of`] the limit
//! among the live senders, itself included. Why the sum stays below the limit:
//!
//! - **Steady state**: the shares add up to [`aim`] minus two tokens per sender, which leaves
//!   room for each bucket's burst of two; [`HEADROOM`] is left for what the network and the
//!   machines add between a token being taken and its request arriving at the provider.
//! - **A sender starts** (or comes back after its share lapsed): it counts in the others'
//!   shares from their first beat after its registration, but takes no token before it saw
//!   every other live sender beat after its registration ([`Membership`]): until then the
//!   others may still be at their larger shares.
//! - **A sender dies or leaves**: the others keep their smaller shares until its row is gone
//!   (deleted on a graceful stop, past its lease after a crash), so the total only drops.
//! - **A sender loses its database**: the others will drop it when its lease runs out and take
//!   its share, so it stops sending [`STOP_MARGIN`] before that could happen: a share is only
//!   valid until `start of the last successful beat + LEASE - STOP_MARGIN` (the beat's stamp
//!   in the database is later than that start, so the others see the lease end later still).
//!   When it beats again after its share lapsed it joins anew, as a starting sender does.
//!
//! Senders should run with the same limit: each shares its own among all live senders.
//! Without a limit (0) a sender neither beats nor is counted: nothing to share.

use crate::limiter::{CAPACITY, RateLimiter, Share};
use chrono::{DateTime, Utc};
use mailing_domain::store::{BeatView, SenderBeat, SenderStore};
use mailing_runtime::blocking;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// How often a sender beats: a sender that joins waits for one beat of every other one, and
/// a share changes at most this long after the count of live senders did.
pub const BEAT_EVERY: Duration = Duration::from_millis(250);
/// How long a beat keeps a sender counted: eight beats, so a slow database call or two does
/// not drop a sender, while a crashed one's share is taken over within about two seconds.
pub const LEASE: Duration = Duration::from_secs(2);
/// How long before its lease could run out, seen from the others, a sender that cannot beat
/// stops sending: covers requests already on their way and clocks drifting over a lease.
pub const STOP_MARGIN: Duration = Duration::from_millis(500);
/// The part of the limit left unused, for the time between a token being taken and its
/// request arriving at the provider varying (scheduling, connections, the network): a request
/// delayed by up to a tenth of a second does not push a second's count above the limit.
pub const HEADROOM: f64 = 0.1;

/// The requests per second all senders together aim at: the limit less [`HEADROOM`].
pub fn aim(limit: u32) -> f64 {
    f64::from(limit) * (1.0 - HEADROOM)
}

/// A sender's rate when `live` senders (itself included) share `limit`: its part of the aim
/// less the tokens its bucket may burst (see [`crate::limiter`]), so `live` buckets take at
/// most the aim in any second. With a limit so small that the bursts would eat more than half
/// the aim (below about four requests per second per sender) the rates keep half the aim and
/// the bursts may exceed the limit within a second, never over longer spans.
pub fn share_of(limit: u32, live: usize) -> f64 {
    let aim = aim(limit);
    let live = live.max(1) as f64;
    (aim - CAPACITY * live).max(aim / 2.0) / live
}

/// Where a sender stands in the sharing (see the module's documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Its last beat may have (re)created its row: others may not have counted it yet, and
    /// a beat starting now is the first that surely comes after the row was committed.
    Registered,
    /// Waits until every other live sender beat after `reference`, the stamp of its first
    /// beat after its registration: such a beat counted it.
    Waiting { reference: DateTime<Utc> },
    /// Every other sender counts it: it takes its share.
    Sharing,
}

/// What a sender may do after a beat.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Decision {
    pub share: Share,
    /// Beat again at once rather than after [`BEAT_EVERY`]: the next beat is the reference of
    /// a joining sender, and the sooner it is taken the sooner the sender sends.
    pub beat_now: bool,
}

/// A sender's membership in the sharing, moved along by its beats.
#[derive(Debug)]
pub struct Membership {
    limit: u32,
    phase: Phase,
    /// Until when the last successful beat keeps this sender's row live in every other
    /// sender's eyes, less the margin; `None` before the first beat.
    live_until: Option<Instant>,
}

impl Membership {
    pub fn new(limit: u32) -> Self {
        Self {
            limit,
            phase: Phase::Registered,
            live_until: None,
        }
    }

    /// After a beat that started at `started`, returned at `returned` and saw `view`.
    pub fn beat(&mut self, view: &BeatView, started: Instant, returned: Instant) -> Decision {
        let lapsed = self.live_until.is_none_or(|until| returned >= until);
        let until = started + LEASE - STOP_MARGIN;
        self.live_until = Some(until);
        if lapsed {
            // The others may have dropped this sender's row and the beat just made it again.
            self.phase = Phase::Registered;
        } else {
            if self.phase == Phase::Registered {
                self.phase = Phase::Waiting { reference: view.at };
            }
            if let Phase::Waiting { reference } = self.phase
                && view.peers.iter().all(|beat| *beat > reference)
            {
                self.phase = Phase::Sharing;
            }
        }
        let live_senders = view.peers.len() + 1;
        let per_second = match self.phase {
            Phase::Sharing => share_of(self.limit, live_senders),
            Phase::Registered | Phase::Waiting { .. } => 0.0,
        };
        Decision {
            share: Share {
                per_second,
                until,
                live_senders,
            },
            beat_now: self.phase == Phase::Registered,
        }
    }
}

/// Who this sender is in the heartbeat table: a random id, and its host and pid for operators.
pub fn identity(limit: u32) -> SenderBeat {
    let host = std::env::var("HOSTNAME")
        .ok()
        .filter(|host| !host.is_empty())
        .or_else(|| {
            std::fs::read_to_string("/proc/sys/kernel/hostname")
                .ok()
                .map(|host| host.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".to_owned());
    SenderBeat {
        sender_id: rand::random(),
        host,
        pid: std::process::id(),
        rate_limit: limit,
    }
}

/// The running heartbeat; [`Heartbeat::leave`] ends it.
pub struct Heartbeat {
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

impl Heartbeat {
    /// Starts beating for `me` and granting `limiter` its share. It beats until
    /// [`Heartbeat::leave`], not until the stop signal: requests still finishing after the
    /// signal need their share.
    pub fn spawn(store: Arc<dyn SenderStore>, limiter: Arc<RateLimiter>, me: SenderBeat) -> Self {
        let (stop, stopped) = oneshot::channel();
        let task = tokio::spawn(beat(store, limiter, me, stopped));
        Self { stop, task }
    }

    /// Stops beating and deletes this sender's row, so the others take its share at their
    /// next beat. Call it once no request can go out any more.
    pub async fn leave(self) {
        let _ = self.stop.send(());
        let _ = self.task.await;
    }
}

async fn beat(
    store: Arc<dyn SenderStore>,
    limiter: Arc<RateLimiter>,
    me: SenderBeat,
    mut stopped: oneshot::Receiver<()>,
) {
    let mut membership = Membership::new(me.rate_limit);
    let mut failing = false;
    let mut last_live = 0;
    let mut sharing = false;
    loop {
        let started = Instant::now();
        let call = me.clone();
        let mut beat_now = false;
        match blocking::call(&store, move |store| store.sender_beat(&call, LEASE)).await {
            Ok(view) => {
                let returned = Instant::now();
                let decision = membership.beat(&view, started, returned);
                limiter.set_share(decision.share, returned);
                beat_now = decision.beat_now;
                if failing {
                    tracing::info!("heartbeat written again");
                    failing = false;
                }
                let now_sharing = decision.share.per_second > 0.0;
                if now_sharing != sharing || decision.share.live_senders != last_live {
                    tracing::info!(
                        live_senders = decision.share.live_senders,
                        share_per_second = decision.share.per_second,
                        sending = now_sharing,
                        "provider rate shared"
                    );
                }
                sharing = now_sharing;
                last_live = decision.share.live_senders;
            }
            Err(error) => {
                // Once per outage: it beats four times a second.
                if !failing {
                    tracing::warn!(%error, "cannot write the heartbeat; sending stops if this lasts {} ms", (LEASE - STOP_MARGIN).as_millis());
                    failing = true;
                }
            }
        }
        let next = if beat_now {
            started
        } else {
            started + BEAT_EVERY
        };
        tokio::select! {
            _ = tokio::time::sleep_until(next.into()) => {}
            _ = &mut stopped => break,
        }
    }
    let id = me.sender_id;
    if let Err(error) = blocking::call(&store, move |store| store.sender_leave(id)).await {
        // Harmless: the row lapses with its lease, and the others wait that long.
        tracing::warn!(%error, "cannot delete the heartbeat; the others take its share once its lease runs out");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(at_ms: i64, peers_ms: &[i64]) -> BeatView {
        let t = |ms: i64| DateTime::<Utc>::from_timestamp_millis(1_900_000_000_000 + ms).unwrap();
        BeatView {
            at: t(at_ms),
            peers: peers_ms.iter().map(|ms| t(*ms)).collect(),
        }
    }

    #[test]
    fn shares_leave_the_bursts_and_the_headroom() {
        assert_eq!(aim(200), 180.0);
        assert_eq!(share_of(200, 1), 178.0);
        assert_eq!(share_of(200, 3), 58.0);
        assert_eq!(share_of(200, 0), 178.0, "counts itself at least");
        for live in 1..=40 {
            let total = share_of(200, live) * live as f64 + CAPACITY * live as f64;
            assert!(total <= aim(200) + 1e-9, "{live} senders: {total}");
        }
        // Too small a limit for the bursts: half the aim is kept for the rates.
        assert_eq!(share_of(4, 3), 0.6);
    }

    #[test]
    fn a_single_sender_takes_everything_after_its_second_beat() {
        let t0 = Instant::now();
        let mut membership = Membership::new(200);
        let first = membership.beat(&view(0, &[]), t0, t0);
        assert_eq!(first.share.per_second, 0.0);
        assert!(first.beat_now, "the reference is taken at once");
        let second = membership.beat(&view(5, &[]), t0, t0 + Duration::from_millis(5));
        assert_eq!(second.share.per_second, 178.0);
        assert_eq!(second.share.until, t0 + LEASE - STOP_MARGIN);
        assert!(!second.beat_now);
    }

    #[test]
    fn a_joining_sender_waits_until_every_other_one_beat_after_its_registration() {
        let t0 = Instant::now();
        let ms = |ms: u64| t0 + Duration::from_millis(ms);
        let mut membership = Membership::new(200);
        membership.beat(&view(0, &[-100, -50]), ms(0), ms(1));
        // The reference: 10. Peers beat at -100 and -50, then one of them at 150.
        let waiting = membership.beat(&view(10, &[-100, -50]), ms(2), ms(3));
        assert_eq!(waiting.share.per_second, 0.0);
        assert_eq!(waiting.share.live_senders, 3);
        let one_seen = membership.beat(&view(260, &[-50, 150]), ms(250), ms(251));
        assert_eq!(one_seen.share.per_second, 0.0);
        // Exactly at the reference is not after it.
        let at_reference = membership.beat(&view(510, &[10, 150]), ms(500), ms(501));
        assert_eq!(at_reference.share.per_second, 0.0);
        let both = membership.beat(&view(760, &[200, 400]), ms(750), ms(751));
        assert_eq!(both.share.per_second, share_of(200, 3));
        // From then on, whatever the peers' beats: a fourth comes, the share shrinks at once.
        let fourth = membership.beat(&view(1010, &[600, 650, 1000]), ms(1000), ms(1001));
        assert_eq!(fourth.share.per_second, share_of(200, 4));
        // One dies: its row lapses, the share grows.
        let died = membership.beat(&view(1260, &[900, 1250]), ms(1250), ms(1251));
        assert_eq!(died.share.per_second, share_of(200, 3));
    }

    #[test]
    fn a_dead_peer_is_waited_for_until_its_row_is_gone() {
        let t0 = Instant::now();
        let ms = |ms: u64| t0 + Duration::from_millis(ms);
        let mut membership = Membership::new(200);
        membership.beat(&view(0, &[-300]), ms(0), ms(1));
        membership.beat(&view(5, &[-300]), ms(2), ms(3));
        let still = membership.beat(&view(1500, &[-300]), ms(1500), ms(1501));
        assert_eq!(still.share.per_second, 0.0);
        let gone = membership.beat(&view(1750, &[]), ms(1750), ms(1751));
        assert_eq!(gone.share.per_second, 178.0);
    }

    #[test]
    fn a_sender_whose_share_lapsed_joins_anew() {
        let t0 = Instant::now();
        let ms = |ms: u64| t0 + Duration::from_millis(ms);
        let mut membership = Membership::new(200);
        membership.beat(&view(0, &[-10]), ms(0), ms(1));
        let sharing = membership.beat(&view(5, &[20]), ms(2), ms(3));
        assert_eq!(sharing.share.per_second, share_of(200, 2));
        // The database was away: the next beat returns after the share lapsed (1.5 s after
        // the last beat's start), though the call started in time.
        let back = membership.beat(&view(1700, &[1600]), ms(1400), ms(1600));
        assert_eq!(back.share.per_second, 0.0, "the others may have dropped it");
        assert!(back.beat_now);
        let reference = membership.beat(&view(1610, &[1600]), ms(1601), ms(1602));
        assert_eq!(reference.share.per_second, 0.0);
        let seen = membership.beat(&view(1850, &[1800]), ms(1850), ms(1851));
        assert_eq!(seen.share.per_second, share_of(200, 2));
    }
}
