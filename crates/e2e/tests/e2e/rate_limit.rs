//! `MAILING_SENDER_RATE_LIMIT` is the rate the provider sees from the whole deployment: three
//! senders share it, and while one is killed and another starts, no second at the simulator
//! holds more requests than the limit. The rate is also used: the senders together keep close
//! to it, so sharing too cautiously fails as well. Times are the simulator's, when each
//! request arrived: the provider's view, whatever the load on the machine does to the senders.
//!
//! In the embedded setup the one sender takes the whole limit.

use crate::helpers::mailing_to_all;
use chrono::{Duration as Span, Utc};
use mailing_e2e::{Cluster, ClusterOptions, Service, Setup, bounded, population};
use std::time::Duration;

const NAME: &str = "rate_limit_shared";
const CLIENTS: u64 = 3_000;
/// Requests per second the provider allows: 3,000 messages take 15 s or more.
const LIMIT: u64 = 200;
/// The senders must use at least this part of the limit over the run, a sender's death and a
/// newcomer's joining included (they aim at 90%).
const LEAST_USE: f64 = 0.7;

/// The most requests in any one-second window. A window `[t, t + 1 s)` meets at most 1,001
/// milliseconds; summing 1,001 of them makes the count an upper bound for any `t`, not only
/// whole milliseconds.
fn busiest_second(arrivals: &[(i64, u32)]) -> u64 {
    let mut most = 0;
    let mut in_window = 0u64;
    let mut first = 0;
    for &(ms, count) in arrivals {
        in_window += u64::from(count);
        while arrivals[first].0 <= ms - 1_001 {
            in_window -= u64::from(arrivals[first].1);
            first += 1;
        }
        most = most.max(in_window);
    }
    most
}

/// A sender's gauge `name`, from its metrics text.
fn gauge(metrics: &str, name: &str) -> Option<f64> {
    metrics
        .lines()
        .find(|line| line.split_whitespace().next() == Some(name))
        .and_then(|line| line.split_whitespace().last())
        .and_then(|value| value.parse().ok())
}

async fn the_provider_never_sees_more_than_the_limit(setup: Setup) {
    let mut options = ClusterOptions::new(NAME, setup).sender("MAILING_SENDER_RATE_LIMIT", LIMIT);
    if setup == Setup::Distributed {
        options = options.replicas(Service::Sender, 3);
    }
    bounded(options.name(), Duration::from_secs(240), async {
        let mut cluster = Cluster::start(&options).await;
        cluster
            .insert_clients(population::generated(0, CLIENTS, "UTC"))
            .await;
        let now = Utc::now();
        let mailing_id = cluster
            .api()
            .create_mailing(&mailing_to_all("Shared rate", now, now + Span::minutes(30)))
            .await;

        if setup == Setup::Distributed {
            // Well under way: about three seconds' worth sent.
            let sim = cluster.sim().clone();
            mailing_e2e::wait_until("sending under way", Duration::from_secs(60), || {
                let sim = sim.clone();
                async move {
                    let requests = sim.stats().await.requests_total;
                    if requests >= 3 * LIMIT * 9 / 10 {
                        Ok(())
                    } else {
                        Err(format!("{requests} requests"))
                    }
                }
            })
            .await;
            // A crash: its share stays unused until its lease runs out, and a newcomer
            // starts meanwhile, while the dead one still counts.
            cluster.kill_replica(Service::Sender, 0);
            cluster.restart_replica(Service::Sender, 0).await;
            let metrics = cluster
                .wait_until("the newcomer sharing", Duration::from_secs(30), || {
                    let cluster = &cluster;
                    async move {
                        let metrics = cluster.metrics(Service::Sender).await;
                        let live = gauge(&metrics, "mailing_sender_live_senders");
                        let share = gauge(&metrics, "mailing_sender_rate_share");
                        match (live, share) {
                            (Some(live), Some(share)) if live == 3.0 && share > 0.0 => {
                                Ok((live, share))
                            }
                            _ => Err(format!("live senders {live:?}, share {share:?}")),
                        }
                    }
                })
                .await;
            // 90% of 200, less two tokens per sender, in three.
            assert_eq!(metrics, (3.0, 58.0), "the newcomer's share");
        }

        let stats = cluster
            .wait_settled(mailing_id, Duration::from_secs(120))
            .await;
        assert_eq!(
            stats.count("sent"),
            CLIENTS,
            "every message must be sent; stats: {stats}"
        );

        let arrivals = cluster.sim().arrivals().await;
        let total: u64 = arrivals.iter().map(|(_, count)| u64::from(*count)).sum();
        assert!(total >= CLIENTS, "{total} requests recorded");
        let busiest = busiest_second(&arrivals);
        // The rate over the run: from the first request until 95% of them arrived, leaving out
        // the tail (messages a killed sender held come back only after their claim lapses).
        let first_ms = arrivals[0].0;
        let mut counted = 0;
        let mut bulk_end_ms = first_ms;
        for &(ms, count) in &arrivals {
            counted += u64::from(count);
            bulk_end_ms = ms;
            if counted * 100 >= total * 95 {
                break;
            }
        }
        let seconds = (bulk_end_ms - first_ms) as f64 / 1_000.0;
        let rate = counted as f64 / seconds;
        println!(
            "{NAME}-{setup}: {total} requests, at most {busiest} in one second, \
             {rate:.1}/s over {seconds:.1} s (the first 95%), limit {LIMIT}/s"
        );
        assert!(
            busiest <= LIMIT,
            "the provider saw {busiest} requests within one second, above the limit of {LIMIT}"
        );
        assert!(
            rate >= LEAST_USE * LIMIT as f64,
            "the senders used {rate:.1}/s of the {LIMIT}/s allowed"
        );
    })
    .await;
}

scenario!(the_provider_never_sees_more_than_the_limit);

#[test]
fn the_busiest_second_counts_any_window_of_a_second() {
    assert_eq!(busiest_second(&[]), 0);
    let arrivals = [(0, 5), (500, 5), (1_000, 5), (2_001, 1), (3_002, 7)];
    // [0 ms, 1 s) does not hold the third five, but [0.5 ms, 1000.5 ms) may hold all three.
    assert_eq!(busiest_second(&arrivals), 15);
    assert_eq!(busiest_second(&[(0, 5), (1_001, 5)]), 5);
    assert_eq!(busiest_second(&[(0, 5), (1_000, 5), (1_001, 1)]), 10);
}
