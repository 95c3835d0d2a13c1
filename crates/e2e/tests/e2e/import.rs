//! A spreadsheet export of 100,000 contacts, with phone numbers written every way people write
//! them and a few bad rows, imports with an exact report; the export of the result imports back
//! unchanged.

use mailing_e2e::{Cluster, ClusterOptions, Setup, bounded};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::time::Duration;

const NAME: &str = "spreadsheet_import";
const ROWS: u64 = 100_000;

/// Client `n`'s number written one of four ways, all meaning `7900` followed by `n` in 7 digits.
fn written(n: u64) -> String {
    let digits = format!("{n:07}");
    let (a, b, c) = (&digits[..3], &digits[3..5], &digits[5..]);
    match n % 4 {
        0 => format!("7900{digits}"),
        1 => format!("\"+7 (900) {a}-{b}-{c}\""),
        2 => format!("8 900 {a} {b} {c}"),
        _ => format!("900{digits}"),
    }
}

/// The file, and the lines of its bad rows with the column each names, in file order.
fn spreadsheet() -> (String, Vec<(u64, &'static str)>) {
    let mut csv = String::from("phone_number,operator_code,tags,time_zone,attr.city,attr.vip\n");
    let mut bad = Vec::new();
    for n in 0..ROWS {
        let line = n + 2;
        let operator = if n % 2 == 0 { "bln" } else { "mts" };
        let city = ["Kazan", "Omsk", "Tver"][(n % 3) as usize];
        let row = match n {
            10 => {
                bad.push((line, "phone_number"));
                "12-34,bln,,UTC,,\n".to_owned()
            }
            20_000 => {
                bad.push((line, "operator_code"));
                format!("{},tele2,,UTC,,\n", written(n))
            }
            40_000 => {
                bad.push((line, "phone_number"));
                format!("{},bln,,UTC,,\n", written(7))
            }
            60_000 => {
                bad.push((line, "time_zone"));
                format!("{},bln,,Moscow,,\n", written(n))
            }
            80_000 => {
                bad.push((line, "operator_code"));
                format!("{},,,UTC,,\n", written(n))
            }
            _ => format!(
                "{},{operator},{},Europe/Moscow,{city},{}\n",
                written(n),
                if n % 5 == 0 { "vip;spring" } else { "spring" },
                n % 7 == 0
            ),
        };
        csv.push_str(&row);
    }
    (csv, bad)
}

async fn import(cluster: &Cluster, http: &reqwest::Client, csv: String) -> Value {
    let api = cluster.api();
    let response = http
        .request(
            Method::POST,
            format!("{}/api/v1/clients/import?wait=true", api.base_url()),
        )
        .bearer_auth(api.token())
        .header("content-type", "text/csv")
        .body(csv)
        .send()
        .await
        .expect("the api answers");
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.expect("a JSON job")
}

fn counts(job: &Value) -> [u64; 5] {
    ["rows", "created", "updated", "unchanged", "rejected"].map(|key| job[key].as_u64().unwrap())
}

async fn a_spreadsheet_imports_with_an_exact_report(setup: Setup) {
    let options = ClusterOptions::new(NAME, setup);
    bounded(options.name(), Duration::from_secs(300), async {
        let cluster = Cluster::start(&options).await;
        let api = cluster.api();
        for code in ["bln", "mts"] {
            api.post("/api/v1/operators", &json!({ "code": code, "name": code }))
                .await;
        }
        let http = reqwest::Client::new();
        let (csv, bad) = spreadsheet();
        let job = import(&cluster, &http, csv).await;
        let good = ROWS - bad.len() as u64;
        assert_eq!(job["status"], "done", "{job}");
        assert_eq!(counts(&job), [ROWS, good, 0, 0, bad.len() as u64], "{job}");
        let reported: Vec<(u64, &str)> = job["rejections"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| (r["line"].as_u64().unwrap(), r["column"].as_str().unwrap()))
            .collect();
        assert_eq!(reported, bad);
        assert_eq!(
            job["rejections"][2]["reason"],
            "repeats the phone number of line 9"
        );

        let export = http
            .get(format!("{}/api/v1/clients/export", api.base_url()))
            .bearer_auth(api.token())
            .send()
            .await
            .expect("the api answers")
            .text()
            .await
            .expect("the file");
        let mut lines = export.lines();
        assert_eq!(
            lines.next(),
            Some("phone_number,operator_code,tags,time_zone,attr.city,attr.vip")
        );
        assert_eq!(
            lines.next(),
            Some("79000000000,bln,spring;vip,Europe/Moscow,Kazan,true")
        );
        assert_eq!(export.lines().count() as u64, good + 1);

        let again = import(&cluster, &http, export).await;
        assert_eq!(counts(&again), [good, 0, 0, good, 0], "{again}");
        println!("{NAME}: {good} clients imported, exported and imported back unchanged");
    })
    .await;
}

scenario!(a_spreadsheet_imports_with_an_exact_report);
