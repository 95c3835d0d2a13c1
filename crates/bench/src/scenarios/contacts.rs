//! Contacts in bulk: a generated CSV of clients (phone numbers in mixed formats) posted to
//! `POST /api/v1/clients/import?wait=true`, timed from the first byte sent to the finished
//! job's answer, then every client read back through `GET /api/v1/clients/export`, timed to
//! the last byte.

use super::{Deployment, MemoryRecord, TIME_ZONE, progress, timed};
use crate::cli::Options;
use mailing_e2e::Setup;
use serde::Serialize;
use std::fmt::Write as _;
use std::time::Duration;

/// Imported phone numbers: `793` and eight digits, apart from every other scenario's.
const FIRST_PHONE: u64 = 79_300_000_000;

/// One run: an import, then an export of what it created.
#[derive(Debug, Clone, Serialize)]
pub struct ContactsRun {
    pub run: u32,
    pub database: String,
    /// Rows in the imported file (the header aside).
    pub rows: u64,
    pub import_seconds: Option<f64>,
    /// Clients the finished import reports created; every row should be.
    pub created: Option<u64>,
    pub import_error: Option<String>,
    pub export_seconds: Option<f64>,
    /// Client rows the export held (its header aside).
    pub exported: Option<u64>,
    pub export_error: Option<String>,
    pub memory: MemoryRecord,
}

/// The CSV of `rows` clients, the n-th numbered `FIRST_PHONE + n` and written in one of three
/// formats in turn (`7930…`, `+7 (930) 000-00-01`, `8 930 000 00 01`), with an operator, a tag,
/// a zone and an attribute each.
pub fn generated_csv(rows: u64) -> String {
    let mut csv = String::with_capacity(rows as usize * 64 + 64);
    csv.push_str("phone_number,operator_code,tags,time_zone,attr.city\n");
    for n in 0..rows {
        let digits = (FIRST_PHONE + n).to_string();
        let (area, rest) = (&digits[1..4], &digits[4..]);
        let phone = match n % 3 {
            0 => digits.clone(),
            1 => format!("+7 ({area}) {}-{}-{}", &rest[..3], &rest[3..5], &rest[5..]),
            _ => format!("8 {area} {} {} {}", &rest[..3], &rest[3..5], &rest[5..]),
        };
        let operator = if n % 2 == 0 { "mts" } else { "bln" };
        let city = if n % 10 == 0 { "Kazan" } else { "Moscow" };
        let _ = writeln!(csv, "\"{phone}\",{operator},Important,{TIME_ZONE},{city}");
    }
    csv
}

/// Imports `options.contacts_rows` generated clients into a fresh deployment and exports them.
pub async fn run_once(options: Options, setup: Setup, run: u32) -> ContactsRun {
    let say = |what: &str| progress(setup, "contacts", run, what);
    say("starting the deployment");
    let deployment = Deployment::start(&options, setup, "contacts", run, |o| o).await;
    let cluster = &deployment.cluster;
    // The operators and tags the generated rows name (and one generated client).
    cluster.insert_generated_clients(0, 1, TIME_ZONE).await;
    let rows = options.contacts_rows;
    let csv = generated_csv(rows);
    let api = cluster.api();
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(600))
        .build()
        .expect("an HTTP client");

    say(&format!("importing {rows} rows ({} bytes)", csv.len()));
    let (imported, import_seconds) = timed(async {
        let response = http
            .post(format!(
                "{}/api/v1/clients/import?wait=true",
                api.base_url()
            ))
            .bearer_auth(api.token())
            .header("content-type", "text/csv")
            .body(csv)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let status = response.status();
        let job: serde_json::Value = response.json().await.map_err(|e| e.to_string())?;
        match (status.is_success(), job["status"].as_str()) {
            (true, Some("done")) => Ok(job["created"].as_u64()),
            _ => Err(format!("{status}: {job}")),
        }
    })
    .await;

    say("exporting every client");
    let (exported, export_seconds) = timed(async {
        let response = http
            .get(format!("{}/api/v1/clients/export", api.base_url()))
            .bearer_auth(api.token())
            .send()
            .await
            .map_err(|e| e.to_string())?;
        if !response.status().is_success() {
            return Err(response.status().to_string());
        }
        let body = response.bytes().await.map_err(|e| e.to_string())?;
        let lines = body.iter().filter(|&&b| b == b'\n').count() as u64;
        Ok(lines.saturating_sub(1))
    })
    .await;

    ContactsRun {
        run,
        database: deployment.database.clone(),
        rows,
        import_seconds: imported.is_ok().then_some(import_seconds),
        created: imported.as_ref().ok().copied().flatten(),
        import_error: imported.err(),
        export_seconds: exported.is_ok().then_some(export_seconds),
        exported: exported.as_ref().ok().copied(),
        export_error: exported.err(),
        memory: deployment.memory_with_peaks(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_generated_file_writes_each_number_in_one_of_three_formats() {
        let csv = generated_csv(3);
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(
            lines,
            [
                "phone_number,operator_code,tags,time_zone,attr.city",
                "\"79300000000\",mts,Important,UTC,Kazan",
                "\"+7 (930) 000-00-01\",bln,Important,UTC,Moscow",
                "\"8 930 000 00 02\",mts,Important,UTC,Moscow",
            ]
        );
    }
}
