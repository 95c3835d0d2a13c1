//! The `mailing` binary as a user runs it: no PostgreSQL, no RabbitMQ, only a working
//! directory. A mailing created through the API reaches the built-in simulator, and the data
//! survives a restart.

use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Running {
    child: Child,
    api: String,
    sim: String,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts the binary in `dir` on free ports, reading the addresses it prints.
fn start(dir: &std::path::Path) -> Running {
    let mut child = Command::new(env!("CARGO_BIN_EXE_mailing"))
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("MAILING_HTTP_ADDR", "127.0.0.1:0")
        .env("PROBE_SIM_ADDR", "127.0.0.1:0")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the mailing binary starts");
    let stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
    let (mut api, mut sim) = (None, None);
    for line in stdout.lines() {
        let line = line.expect("stdout is text");
        let address = |line: &str| line.split_whitespace().last().map(str::to_owned);
        if line.trim_start().starts_with("API:") {
            api = address(&line);
        } else if line.trim_start().starts_with("probe simulator:") {
            sim = address(&line).map(|url| url.trim_end_matches("/_sim/stats").to_owned());
        }
        if api.is_some() && sim.is_some() {
            break;
        }
    }
    Running {
        child,
        api: api.expect("the API address is printed"),
        sim: sim.expect("the simulator address is printed"),
    }
}

async fn token(http: &reqwest::Client, api: &str) -> String {
    let login: Value = http
        .post(format!("{api}/auth/token"))
        .json(&json!({ "username": "admin", "password": "12345" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    login["access_token"].as_str().unwrap().to_owned()
}

async fn sent(http: &reqwest::Client, api: &str, token: &str, mailing: i64) -> u64 {
    let stats: Value = http
        .get(format!("{api}/mailings/{mailing}/stats"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    stats["by_status"]["sent"].as_u64().unwrap()
}

#[tokio::test]
async fn one_process_delivers_and_keeps_its_data() {
    let dir = std::env::temp_dir().join(format!("mailing-aio-{:016x}", rand_id()));
    std::fs::create_dir_all(&dir).unwrap();
    let http = reqwest::Client::new();

    let first = start(&dir);
    let token = token(&http, &first.api).await;
    let now = chrono::Utc::now();
    let mailing: Value = http
        .post(format!("{}/mailings", first.api))
        .bearer_auth(&token)
        .json(&json!({
            "text": "Hello from one process",
            "start_at": now.to_rfc3339(),
            "end_at": (now + chrono::Duration::hours(1)).to_rfc3339(),
            "filter": {},
        }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = mailing["id"].as_i64().expect("the mailing is created");

    // The fixtures hold two clients; both must be delivered to the built-in simulator.
    let deadline = Instant::now() + Duration::from_secs(30);
    while sent(&http, &first.api, &token, id).await < 2 {
        assert!(Instant::now() < deadline, "two messages sent within 30 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let sim: Value = http
        .get(format!("{}/_sim/stats", first.sim))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        (sim["unique_ids"].as_u64(), sim["duplicates"].as_u64()),
        (Some(2), Some(0))
    );
    drop(first);

    let second = start(&dir);
    let token = self::token(&http, &second.api).await;
    assert_eq!(
        sent(&http, &second.api, &token, id).await,
        2,
        "data survives a restart"
    );
    let clients: Value = http
        .get(format!("{}/clients", second.api))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(clients["total"], 2, "fixtures are loaded once");
    drop(second);
    let _ = std::fs::remove_dir_all(&dir);
}

fn rand_id() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
        ^ u64::from(std::process::id())
}
