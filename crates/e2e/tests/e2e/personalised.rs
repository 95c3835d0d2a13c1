//! A personalised mailing: "Здравствуйте, {{ attributes.name | default: "клиент" }}!" with a long
//! tail reaches the provider rendered for each client (its name, or the fallback), each message
//! shows the text the provider received with its encoding and parts, and the preview made
//! before saving predicted exactly the parts the statistics then count as sent.

use crate::helpers::mailing_to_all;
use chrono::{Duration as Span, Utc};
use mailing_e2e::{Cluster, ClusterOptions, Setup, bounded};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::time::Duration;

const NAME: &str = "personalised";
const TEMPLATE: &str = "Здравствуйте, {{ attributes.name | default: \"клиент\" }}! Ваш номер \
                        {{ phone_number }}, оператор {{ operator_code }}.";

/// Names of some clients: short, long enough to push the text into a second part, or none.
fn name(n: u64) -> Option<String> {
    match n % 3 {
        0 => Some(format!("Анна{n}")),
        1 => Some("Александра-Валентина".repeat(2)),
        _ => None,
    }
}

fn phone(n: u64) -> u64 {
    79_100_000_000 + n
}

async fn each_client_gets_its_own_text_and_the_preview_predicts_the_parts(setup: Setup) {
    let options = ClusterOptions::new(NAME, setup);
    bounded(options.name(), Duration::from_secs(240), async {
        let cluster = Cluster::start(&options).await;
        let api = cluster.api();
        api.post(
            "/api/v1/operators",
            &json!({ "code": "bln", "name": "Beeline", "price_per_segment": "0.45" }),
        )
        .await;
        let mut expected: BTreeMap<u64, String> = BTreeMap::new();
        for n in 0..9 {
            let attributes = match name(n) {
                Some(name) => json!({ "name": name }),
                None => json!({}),
            };
            api.post(
                "/api/v1/clients",
                &json!({
                    "phone_number": phone(n).to_string(), "operator_code": "bln",
                    "time_zone": "UTC", "attributes": attributes,
                }),
            )
            .await;
            let shown = name(n).unwrap_or_else(|| "клиент".to_owned());
            expected.insert(
                phone(n),
                format!(
                    "Здравствуйте, {shown}! Ваш номер {}, оператор bln.",
                    phone(n)
                ),
            );
        }
        let body = mailing_to_all(
            TEMPLATE,
            Utc::now() - Span::minutes(1),
            Utc::now() + Span::minutes(30),
        );
        let preview = api.post("/api/v1/mailings/preview", &body).await;
        assert_eq!(preview["recipients"], 9, "{preview}");
        assert_eq!(preview["warnings"], json!([]), "{preview}");

        let mailing = api.create_mailing(&body).await;
        let stats = cluster
            .wait_settled(mailing, Duration::from_secs(120))
            .await;
        assert_eq!(stats.count("sent"), 9, "{stats}");

        let messages: Vec<Value> = api.messages(&format!("mailing_id={mailing}")).await;
        let mut parts = 0;
        for message in &messages {
            let id = message["id"].as_i64().expect("an id");
            let delivered = cluster
                .sim()
                .delivered(id)
                .await
                .unwrap_or_else(|| panic!("message {id} never reached the provider"));
            assert_eq!(
                delivered.text, expected[&delivered.phone],
                "the provider received the text rendered for its client"
            );
            assert_eq!(message["text"], delivered.text.as_str(), "{message}");
            assert_eq!(message["encoding"], "ucs2", "{message}");
            let long = delivered.text.encode_utf16().count() > 70;
            assert_eq!(message["segments"], if long { 2 } else { 1 }, "{message}");
            parts += message["segments"].as_u64().expect("segments");
        }
        let detail = api.get(&format!("/api/v1/mailings/{mailing}/stats")).await;
        assert_eq!(detail["segments_sent"], parts, "{detail}");
        assert_eq!(
            preview["segments_total"], parts,
            "the preview predicted the parts sent"
        );
        assert_eq!(preview["by_parts"], json!({"1": 6, "2": 3}), "{preview}");
        println!("{NAME}: 9 clients got their own text, {parts} parts as the preview said");
    })
    .await;
}

scenario!(each_client_gets_its_own_text_and_the_preview_predicts_the_parts);
