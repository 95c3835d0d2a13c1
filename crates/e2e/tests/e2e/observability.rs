//! An operator follows one mailing, one message and one client through the JSON logs of every
//! service by id, and watches the delivery in the services' metrics.

use crate::helpers::mailing_to_all;
use chrono::{Duration as Span, Utc};
use mailing_e2e::observe::{component, json_lines, names, series};
use mailing_e2e::{Cluster, ClusterOptions, Service, Setup, bounded};
use serde_json::Value;
use std::time::Duration;

const NAME: &str = "observability";
const GENERATED: u64 = 40;

/// JSON logs everywhere, and the sender's per-message lines (debug), as an operator following
/// one message would set them (docs/operations.md).
fn json_logs(options: ClusterOptions) -> ClusterOptions {
    [Service::Api, Service::Scheduler, Service::Sender]
        .into_iter()
        .fold(options, |options, service| {
            options.env(service, "MAILING_LOG_FORMAT", "json")
        })
        .env(Service::Sender, "RUST_LOG", "info,mailing_sender=debug")
}

/// The log lines of every mailing service that name `field` = `id`, with the components they
/// come from.
fn story(lines: &[Value], field: &str, id: i64) -> Vec<(String, String)> {
    lines
        .iter()
        .filter(|line| names(line, field, id))
        .map(|line| {
            let message = line["message"].as_str().unwrap_or_default().to_owned();
            (component(line).to_owned(), message)
        })
        .collect()
}

fn told_by(story: &[(String, String)], component: &str, message: &str) -> usize {
    story
        .iter()
        .filter(|(c, m)| c == component && m == message)
        .count()
}

async fn one_mailing_can_be_followed_in_logs_and_metrics(setup: Setup) {
    let options = json_logs(ClusterOptions::new(NAME, setup));
    bounded(options.name(), Duration::from_secs(120), async {
        let cluster = Cluster::start(&options).await;
        let api = cluster.api();
        api.create_fixtures().await;
        let client_id = api
            .create_client("79001112233", "bln", &["Important"], "Europe/Moscow")
            .await;
        cluster
            .insert_generated_clients(0, GENERATED, "UTC")
            .await;
        // The fixtures' two clients, ours and the generated ones.
        let recipients = 2 + 1 + GENERATED;

        let now = Utc::now();
        let mailing_id = api
            .create_mailing(&mailing_to_all(
                "Observed",
                now - Span::minutes(1),
                now + Span::minutes(30),
            ))
            .await;
        let stats = cluster
            .wait_settled(mailing_id, Duration::from_secs(60))
            .await;
        assert_eq!(stats.count("sent"), recipients, "{stats}");
        let message_id = cluster
            .messages(mailing_id)
            .await
            .into_iter()
            .find(|m| m.client_id == Some(client_id))
            .expect("the client got a message")
            .id;
        api.get(&format!("/api/v1/messages?client_id={client_id}"))
            .await;

        // Metrics: each figure as the service that knows it reports it.
        let sender = cluster.metrics(Service::Sender).await;
        let delivered = series(&sender, r#"mailing_probe_requests_total{outcome="delivered"}"#);
        assert_eq!(delivered, recipients as f64, "{sender}");
        assert_eq!(
            series(&sender, r#"mailing_message_transitions_total{from="queued",to="sent"}"#),
            recipients as f64
        );
        assert!(
            series(
                &sender,
                r#"mailing_probe_request_duration_seconds_count{outcome="delivered"}"#
            ) == recipients as f64
        );
        assert_eq!(series(&sender, "mailing_sender_breaker_open"), 0.0);
        assert_eq!(series(&sender, "mailing_sender_probe_token_rejected"), 0.0);

        let scheduler = cluster.metrics(Service::Scheduler).await;
        assert_eq!(
            series(&scheduler, r#"mailing_messages{status="sent"}"#),
            recipients as f64,
            "{scheduler}"
        );
        assert_eq!(
            series(
                &scheduler,
                r#"mailing_message_transitions_total{from="new",to="scheduled"}"#
            ),
            recipients as f64
        );
        assert_eq!(series(&scheduler, "mailing_expansions_total"), 1.0);
        assert_eq!(series(&scheduler, "mailing_messages_due"), 0.0);
        assert_eq!(
            series(&scheduler, r#"mailing_queue_messages{queue="send-jobs"}"#),
            0.0
        );

        let api_page = cluster.metrics(Service::Api).await;
        assert_eq!(
            series(
                &api_page,
                r#"mailing_http_requests_total{method="POST",route="/api/v1/mailings",status="201"}"#
            ),
            1.0,
            "{api_page}"
        );
        assert_eq!(series(&api_page, "mailing_outbox_pending_events"), 0.0);

        // Every metric a service shows is documented for operators.
        let documented = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/metrics.md"),
        )
        .expect("docs/metrics.md");
        for page in [&api_page, &scheduler, &sender] {
            for name in page
                .lines()
                .filter_map(|line| line.strip_prefix("# HELP "))
                .filter_map(|help| help.split(' ').next())
            {
                assert!(
                    documented.contains(&format!("`{name}`")),
                    "{name} is missing from docs/metrics.md"
                );
            }
        }

        // Logs: every line is JSON, and each id leads through every service it passed.
        let lines: Vec<Value> = cluster
            .service_logs()
            .into_iter()
            .flat_map(json_lines)
            .collect();

        let mailing = story(&lines, "mailing_id", mailing_id);
        assert_eq!(told_by(&mailing, "mailing_api", "mailing created"), 1, "{mailing:?}");
        // Its creation, then the harness polling its statistics.
        assert!(told_by(&mailing, "mailing_api", "request answered") >= 2, "{mailing:?}");
        assert_eq!(
            told_by(&mailing, "mailing_scheduler", "mailing expanded into messages"),
            1,
            "{mailing:?}"
        );
        // At info, one line per send job tells what became of the mailing's messages.
        let sent_in_jobs: u64 = lines
            .iter()
            .filter(|line| names(line, "mailing_id", mailing_id))
            .filter(|line| line["message"] == "send job done")
            .filter_map(|line| line["sent"].as_u64())
            .sum();
        assert_eq!(sent_in_jobs, recipients, "{mailing:?}");
        assert_eq!(
            told_by(&mailing, "mailing_sender", "probe attempt settled"),
            recipients as usize,
            "{mailing:?}"
        );

        let message = story(&lines, "message_id", message_id);
        assert_eq!(
            told_by(&message, "mailing_sender", "probe attempt settled"),
            1,
            "{message:?}"
        );

        let client = story(&lines, "client_id", client_id);
        assert_eq!(told_by(&client, "mailing_api", "client created"), 1, "{client:?}");
        assert_eq!(
            told_by(&client, "mailing_api", "request answered"),
            2,
            "its creation and the query for its messages: {client:?}"
        );
        assert_eq!(
            told_by(&client, "mailing_sender", "probe attempt settled"),
            1,
            "{client:?}"
        );

        // The line the handler wrote and the request's closing line share the request's id.
        let request_of = |message: &str| -> Vec<&str> {
            lines
                .iter()
                .filter(|line| names(line, "mailing_id", mailing_id))
                .filter(|line| line["message"] == message)
                .filter(|line| line["span"]["method"] == "POST")
                .filter_map(|line| line["span"]["request_id"].as_str())
                .collect()
        };
        let created = request_of("mailing created");
        assert_eq!(created.len(), 1);
        assert_eq!(request_of("request answered"), created);
    })
    .await;
}

scenario!(one_mailing_can_be_followed_in_logs_and_metrics);
