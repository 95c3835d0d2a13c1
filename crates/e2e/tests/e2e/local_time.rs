//! With `local_time`, start and end are wall-clock readings on each client's own clock.

use crate::helpers::delivered_all;
use chrono::{Duration as Span, DurationRound, NaiveDateTime, TimeZone as _, Utc};
use chrono_tz::America::New_York;
use mailing_e2e::{Cluster, ClusterOptions, Setup, bounded, population};
use serde_json::json;
use std::collections::BTreeSet;
use std::time::Duration;

const NAME: &str = "local_time";
const UTC_CLIENTS: u64 = 20;
const NEW_YORK_CLIENTS: u64 = 5;

/// A wall-clock reading as the api takes it; with `local_time` the offset is ignored.
fn wall_clock(reading: NaiveDateTime) -> String {
    format!("{}Z", reading.format("%Y-%m-%dT%H:%M:%S"))
}

async fn local_time_starts_each_zone_at_its_own_clock(setup: Setup) {
    let options = ClusterOptions::new(NAME, setup);
    bounded(options.name(), Duration::from_secs(120), async {
        let cluster = Cluster::start(&options).await;
        cluster
            .insert_clients(population::generated(0, UTC_CLIENTS, "UTC"))
            .await;
        cluster
            .insert_clients(population::generated(
                UTC_CLIENTS,
                NEW_YORK_CLIENTS,
                New_York.name(),
            ))
            .await;

        let utc_start = (Utc::now() + Span::seconds(4))
            .duration_trunc(Span::seconds(1))
            .expect("whole second");
        let start_reading = utc_start.naive_utc();
        let new_york_start = New_York
            .from_local_datetime(&start_reading)
            .earliest()
            .expect("the reading exists in New York")
            .with_timezone(&Utc);
        let mailing_id = cluster
            .api()
            .create_mailing(&json!({
                "text": "Good morning, wherever you are",
                "start_at": wall_clock(start_reading),
                "end_at": wall_clock(start_reading + Span::hours(1)),
                "local_time": true,
                "filter": {},
            }))
            .await;

        let messages = cluster
            .wait_until(
                "the mailing to be expanded",
                Duration::from_secs(20),
                || async {
                    let messages = cluster.messages(mailing_id).await;
                    if messages.len() as u64 == UTC_CLIENTS + NEW_YORK_CLIENTS {
                        Ok(messages)
                    } else {
                        Err(format!("{} messages", messages.len()))
                    }
                },
            )
            .await;
        let utc_ids: BTreeSet<i64> = messages
            .iter()
            .filter(|m| m.time_zone.as_deref() == Some("UTC"))
            .map(|m| m.id)
            .collect();

        while Utc::now() < utc_start - Span::milliseconds(200) {
            let early = cluster.sim().stats().await.received_ok_total;
            assert_eq!(
                early, 0,
                "{early} messages reached the probe before {utc_start}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        cluster
            .wait_until(
                "the UTC clients to get the message at their start",
                Duration::from_secs(30),
                || async {
                    let sent = crate::helpers::message_ids(&cluster, mailing_id, "sent").await;
                    if sent == utc_ids {
                        Ok(())
                    } else {
                        Err(format!(
                            "{} of {} UTC messages sent",
                            sent.len(),
                            utc_ids.len()
                        ))
                    }
                },
            )
            .await;
        for delivered in delivered_all(cluster.sim(), &utc_ids).await {
            assert!(
                delivered.first_at >= utc_start,
                "message {} reached the probe at {}, before the UTC start {utc_start}",
                delivered.id,
                delivered.first_at
            );
        }

        let received = crate::helpers::received_ids(&cluster).await;
        assert_eq!(received, utc_ids, "only the UTC clients' start has come");
        for message in cluster.messages(mailing_id).await {
            if message.time_zone.as_deref() == Some(New_York.name()) {
                assert_eq!(
                    (message.status.as_str(), message.next_attempt_at),
                    ("scheduled", Some(new_york_start)),
                    "the New York client's message {} must wait for {start_reading} New York time",
                    message.id
                );
            }
        }
    })
    .await;
}

scenario!(local_time_starts_each_zone_at_its_own_clock);
