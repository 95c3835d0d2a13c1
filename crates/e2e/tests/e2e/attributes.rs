//! Mailings chosen by client attributes: an inline filter requiring two values reaches exactly
//! the clients holding both, and a saved filter picks the values clients hold when the mailing
//! starts, so a client whose city changed is reached by the new city's mailing and not the old.

use crate::helpers::mailing_to_all;
use chrono::{Duration as Span, Utc};
use mailing_e2e::{Cluster, ClusterOptions, Setup, bounded};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::time::Duration;

const NAME: &str = "attributes";
const CLIENTS: u64 = 12;
const CITIES: [&str; 3] = ["Kazan", "Omsk", "Tver"];

fn phone(n: u64) -> u64 {
    79_000_000_000 + n
}

/// Client `n`'s attributes: a city in turn, `vip` on even clients, and none on the last two,
/// whom no attribute filter matches.
fn attributes(n: u64) -> Value {
    if n >= CLIENTS - 2 {
        json!({})
    } else {
        json!({ "city": CITIES[(n % 3) as usize], "vip": n.is_multiple_of(2), "visits": n })
    }
}

/// The numbers a mailing's messages were delivered to, as the provider received them.
async fn reached(cluster: &Cluster, mailing_id: i64) -> BTreeSet<u64> {
    let stats = cluster
        .wait_settled(mailing_id, Duration::from_secs(120))
        .await;
    assert_eq!(stats.total, stats.count("sent"), "all delivered: {stats}");
    let mut phones = BTreeSet::new();
    for message in cluster.messages(mailing_id).await {
        let delivered = cluster
            .sim()
            .delivered(message.id)
            .await
            .unwrap_or_else(|| panic!("message {} never reached the provider", message.id));
        phones.insert(delivered.phone);
    }
    phones
}

async fn mailings_reach_the_clients_holding_their_attributes(setup: Setup) {
    let options = ClusterOptions::new(NAME, setup);
    bounded(options.name(), Duration::from_secs(240), async {
        let cluster = Cluster::start(&options).await;
        let api = cluster.api();
        api.post(
            "/api/v1/operators",
            &json!({ "code": "bln", "name": "Beeline" }),
        )
        .await;
        let mut ids = Vec::new();
        for n in 0..CLIENTS {
            let client = api
                .post(
                    "/api/v1/clients",
                    &json!({
                        "phone_number": phone(n).to_string(),
                        "operator_code": "bln",
                        "tags": [],
                        "time_zone": "UTC",
                        "attributes": attributes(n),
                    }),
                )
                .await;
            assert_eq!(client["attributes"], attributes(n), "{client}");
            ids.push(client["id"].as_i64().expect("an id"));
        }
        let (start, end) = (
            Utc::now() - Span::minutes(1),
            Utc::now() + Span::minutes(30),
        );

        // Kazan and vip: clients 0 and 6.
        let mut vip_kazan = mailing_to_all("Kazan VIP evening", start, end);
        vip_kazan["filter"] = json!({ "attributes": { "city": "Kazan", "vip": true } });
        let vip_kazan = api.create_mailing(&vip_kazan).await;
        assert_eq!(
            api.mailing(vip_kazan).await["filter"]["attributes"],
            json!({ "city": "Kazan", "vip": true })
        );
        assert_eq!(
            reached(&cluster, vip_kazan).await,
            BTreeSet::from([phone(0), phone(6)])
        );
        // Values keep their type: the string "true" is not the boolean, so this matches nobody,
        // and saving the mailing says so.
        let mut typed = mailing_to_all("Nobody", start, end);
        typed["filter"] = json!({ "attributes": { "vip": "true" } });
        let typed = api.post("/api/v1/mailings", &typed).await;
        assert_eq!(
            typed["warnings"][0]["code"], "no_matching_clients",
            "{typed}"
        );

        // Client 3 moves from Kazan to Omsk before the Omsk mailing starts.
        let moved = api
            .patch(
                &format!("/api/v1/clients/{}", ids[3]),
                &json!({ "attributes": { "city": "Omsk", "vip": false, "visits": 3 } }),
            )
            .await;
        assert_eq!(moved["attributes"]["city"], "Omsk", "{moved}");
        let omsk = api
            .post(
                "/api/v1/client-filters",
                &json!({ "name": "Omsk", "attributes": { "city": "Omsk" } }),
            )
            .await;
        let mut to_omsk = mailing_to_all("Omsk weekend", start, end);
        to_omsk
            .as_object_mut()
            .expect("a mailing is an object")
            .remove("filter");
        to_omsk["client_filter_id"] = omsk["id"].clone();
        let to_omsk = api.create_mailing(&to_omsk).await;
        assert_eq!(
            reached(&cluster, to_omsk).await,
            BTreeSet::from([phone(1), phone(3), phone(4), phone(7)]),
            "clients 1, 4 and 7 live in Omsk, and client 3 moved there"
        );
        println!("{NAME}: attribute filters reached exactly their clients");
    })
    .await;
}

scenario!(mailings_reach_the_clients_holding_their_attributes);
