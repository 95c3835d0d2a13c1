//! The `mailing` binary as a user runs it: no PostgreSQL, no RabbitMQ, only a working
//! directory. A mailing created through the API reaches the built-in simulator, and the data
//! survives a restart; pointed at another provider, it starts no simulator and sends there.

use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Running {
    child: Child,
    api: String,
    /// The built-in simulator's base URL, when the banner names one.
    sim: Option<String>,
    banner: Vec<String>,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts the binary in `dir` on free ports with `env` added, reading the banner it prints.
fn start(dir: &std::path::Path, env: &[(&str, &str)]) -> Running {
    let mut child = Command::new(env!("CARGO_BIN_EXE_mailing"))
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("MAILING_HTTP_ADDR", "127.0.0.1:0")
        .env("PROBE_SIM_ADDR", "127.0.0.1:0")
        .env("RUST_LOG", "warn")
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the mailing binary starts");
    let stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
    let (mut api, mut sim, mut banner) = (None, None, Vec::new());
    for line in stdout.lines() {
        let line = line.expect("stdout is text");
        let address = |line: &str| line.split_whitespace().last().map(str::to_owned);
        if line.trim_start().starts_with("API:") {
            api = address(&line);
        } else if line.trim_start().starts_with("probe simulator:") {
            sim = address(&line).map(|url| url.trim_end_matches("/_sim/stats").to_owned());
        }
        // The data line closes the banner.
        let last = line.trim_start().starts_with("data:");
        banner.push(line);
        if last {
            break;
        }
    }
    Running {
        child,
        api: api.unwrap_or_else(|| panic!("the API address is printed: {banner:?}")),
        sim,
        banner,
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

/// Creates a mailing to every client, starting now.
async fn create_mailing(http: &reqwest::Client, api: &str, token: &str, text: &str) -> i64 {
    let now = chrono::Utc::now();
    let mailing: Value = http
        .post(format!("{api}/mailings"))
        .bearer_auth(token)
        .json(&json!({
            "text": text,
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
    mailing["id"].as_i64().expect("the mailing is created")
}

/// Waits until `count` messages of the mailing are sent.
async fn wait_sent(http: &reqwest::Client, api: &str, token: &str, mailing: i64, count: u64) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while sent(http, api, token, mailing).await < count {
        assert!(
            Instant::now() < deadline,
            "{count} messages sent within 30 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn temp_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("mailing-aio-{:016x}", rand_id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[tokio::test]
async fn one_process_delivers_and_keeps_its_data() {
    let dir = temp_dir();
    let http = reqwest::Client::new();

    let first = start(&dir, &[]);
    let token = token(&http, &first.api).await;
    let id = create_mailing(&http, &first.api, &token, "Hello from one process").await;

    // The fixtures hold two clients; both must be delivered to the built-in simulator.
    wait_sent(&http, &first.api, &token, id, 2).await;
    let sim: Value = http
        .get(format!(
            "{}/_sim/stats",
            first
                .sim
                .as_deref()
                .expect("the simulator's address is printed")
        ))
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

    let second = start(&dir, &[]);
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

#[tokio::test]
async fn a_provider_named_by_url_is_used_instead_of_the_simulator() {
    const SECRET: &str = "all-in-one-provider-secret-0123456789";
    let provider = probe_sim::Simulator::build(probe_sim::SimSettings::for_tests(SECRET)).unwrap();
    let (provider_port, provider_state) = (provider.port(), provider.state());
    tokio::spawn(provider.run_until_stopped());
    let probe_token = probe_sim::token::mint(
        SECRET.as_bytes(),
        "all-in-one",
        chrono::Utc::now().timestamp(),
        3600,
    )
    .unwrap();
    // Where a simulator would listen if one were started anyway.
    let sim_addr = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .unwrap();
    let provider_url = format!("http://127.0.0.1:{provider_port}");
    let dir = temp_dir();
    let http = reqwest::Client::new();

    let running = start(
        &dir,
        &[
            ("MAILING_PROBE_URL", &provider_url),
            ("MAILING_PROBE_TOKEN", &probe_token),
            ("PROBE_SIM_ADDR", &sim_addr.to_string()),
        ],
    );
    let banner = running.banner.join("\n");
    assert!(running.sim.is_none(), "no simulator is announced: {banner}");
    assert!(
        running.banner.iter().any(|line| line
            .split_whitespace()
            .eq(["probe:", &format!("{provider_url}/")])),
        "the banner names the provider: {banner}"
    );
    assert!(
        !banner.contains(&probe_token),
        "the banner must not show the token: {banner}"
    );
    assert!(
        std::net::TcpStream::connect(sim_addr).is_err(),
        "no simulator listens on {sim_addr}"
    );

    let token = token(&http, &running.api).await;
    let id = create_mailing(&http, &running.api, &token, "To the real provider").await;
    wait_sent(&http, &running.api, &token, id, 2).await;
    let stats = provider_state.stats();
    assert_eq!((stats.unique_ids, stats.duplicates), (2, 0));
    drop(running);
    let _ = std::fs::remove_dir_all(&dir);
}

/// `MAILING_COMPONENTS` decides what runs: the api alone stores a mailing that nothing sends,
/// and the whole product, started on the same data, delivers it.
#[tokio::test]
async fn only_the_components_named_run() {
    let dir = temp_dir();
    let http = reqwest::Client::new();

    let api_only = start(&dir, &[("MAILING_COMPONENTS", "api,sim")]);
    let token = token(&http, &api_only.api).await;
    let id = create_mailing(&http, &api_only.api, &token, "Waits for a sender").await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        sent(&http, &api_only.api, &token, id).await,
        0,
        "without a scheduler and a sender nothing is sent"
    );
    drop(api_only);

    let everything = start(&dir, &[]);
    let token = self::token(&http, &everything.api).await;
    wait_sent(&http, &everything.api, &token, id, 2).await;
    drop(everything);
    let _ = std::fs::remove_dir_all(&dir);
}

fn rand_id() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
        ^ u64::from(std::process::id())
}
