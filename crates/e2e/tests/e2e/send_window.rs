//! A send window holds each message until the window opens on its client's clock.

use crate::helpers::{delivered_all, message_ids, received_ids, rfc3339};
use chrono::{DateTime, Duration as Span, DurationRound, NaiveTime, TimeZone as _, Utc};
use chrono_tz::Tz;
use mailing_e2e::{Cluster, ClusterOptions, Setup, bounded, population};
use serde_json::json;
use std::collections::BTreeSet;
use std::time::Duration;

const NAME: &str = "send_window";
const UTC_CLIENTS: u64 = 50;
const KOLKATA_CLIENTS: u64 = 5;
/// UTC+05:30 all year: when the window is about to open in UTC it closed hours ago there.
const KOLKATA: Tz = chrono_tz::Asia::Kolkata;
const WINDOW: Span = Span::minutes(30);

/// The first instant after `from` at which the clock in `tz` reads `at`.
fn next_reading(tz: Tz, from: DateTime<Utc>, at: NaiveTime) -> DateTime<Utc> {
    let mut date = from.with_timezone(&tz).date_naive();
    loop {
        if let Some(candidate) = tz.from_local_datetime(&date.and_time(at)).earliest()
            && candidate > from
        {
            return candidate.with_timezone(&Utc);
        }
        date = date.succ_opt().expect("a next day");
    }
}

async fn a_send_window_holds_messages_until_it_opens(setup: Setup) {
    let options = ClusterOptions::new(NAME, setup);
    bounded(options.name(), Duration::from_secs(180), async {
        let cluster = Cluster::start(&options).await;
        cluster
            .insert_clients(population::generated(0, UTC_CLIENTS, "UTC"))
            .await;
        cluster
            .insert_clients(population::generated(
                UTC_CLIENTS,
                KOLKATA_CLIENTS,
                KOLKATA.name(),
            ))
            .await;

        // The window opens at the next whole minute in UTC, leaving time to set it up.
        let now = Utc::now();
        let mut opening = (now + Span::minutes(1))
            .duration_trunc(Span::minutes(1))
            .expect("whole minute");
        if opening - now < Span::seconds(8) {
            opening += Span::minutes(1);
        }
        let window_start = opening.time();
        let window_end = window_start + WINDOW;
        let kolkata_opening = next_reading(KOLKATA, now, window_start);
        assert!(
            kolkata_opening - now > Span::hours(1),
            "the Kolkata window must be closed for hours"
        );
        let mailing_id = cluster
            .api()
            .create_mailing(&json!({
                "text": "Only inside your window",
                "start_at": rfc3339(now - Span::minutes(1)),
                "end_at": rfc3339(now + Span::days(2)),
                "filter": {},
                "send_window": {
                    "start": window_start.format("%H:%M").to_string(),
                    "end": window_end.format("%H:%M").to_string(),
                },
            }))
            .await;

        let messages = cluster
            .wait_until(
                "the mailing to be expanded",
                Duration::from_secs(20),
                || async {
                    let messages = cluster.messages(mailing_id).await;
                    if messages.len() as u64 == UTC_CLIENTS + KOLKATA_CLIENTS {
                        Ok(messages)
                    } else {
                        Err(format!("{} messages", messages.len()))
                    }
                },
            )
            .await;
        for message in &messages {
            let expected = if message.time_zone.as_deref() == Some("UTC") {
                opening
            } else {
                kolkata_opening
            };
            assert_eq!(
                (message.status.as_str(), message.next_attempt_at),
                ("scheduled", Some(expected)),
                "message {} (client in {:?}) must wait for its window",
                message.id,
                message.time_zone
            );
        }

        while Utc::now() < opening - Span::milliseconds(200) {
            let early = cluster.sim().stats().await.received_ok_total;
            assert_eq!(
                early, 0,
                "{early} messages reached the probe before the window opened at {opening}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }

        let utc_ids: BTreeSet<i64> = messages
            .iter()
            .filter(|m| m.time_zone.as_deref() == Some("UTC"))
            .map(|m| m.id)
            .collect();
        cluster
            .wait_until(
                "every UTC client to get the message once its window opened",
                Duration::from_secs(30),
                || async {
                    let sent = message_ids(&cluster, mailing_id, "sent").await;
                    if sent == utc_ids {
                        Ok(())
                    } else {
                        Err(format!("{} of {} sent", sent.len(), utc_ids.len()))
                    }
                },
            )
            .await;
        for delivered in delivered_all(cluster.sim(), &utc_ids).await {
            assert!(
                delivered.first_at >= opening && delivered.last_at < opening + WINDOW,
                "message {} reached the probe at {}..{}, outside the window {opening}..{}",
                delivered.id,
                delivered.first_at,
                delivered.last_at,
                opening + WINDOW
            );
        }

        assert_eq!(
            received_ids(&cluster).await,
            utc_ids,
            "only the UTC clients' windows have opened"
        );
        for message in cluster.messages(mailing_id).await {
            if message.time_zone.as_deref() == Some(KOLKATA.name()) {
                assert_eq!(
                    (message.status.as_str(), message.next_attempt_at),
                    ("scheduled", Some(kolkata_opening)),
                    "the Kolkata client's message {} must wait for its window",
                    message.id
                );
            }
        }
    })
    .await;
}

scenario!(a_send_window_holds_messages_until_it_opens);
