//! Which starts of `mailing` load the development fixtures: their two clients carry
//! real-looking phone numbers that a mailing to everyone would text, so only a dev start
//! towards a simulator on this machine gets them unless `MAILING_LOAD_FIXTURES` says otherwise.

use serde_json::{Value, json};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const PASSWORD: &str = "a-long-passphrase-for-this-test";

/// The production profile's required secrets.
const PRODUCTION: &[(&str, &str)] = &[
    ("MAILING_PROFILE", "production"),
    ("MAILING_ADMIN_PASSWORD", PASSWORD),
    (
        "MAILING_JWT_SECRET",
        "0123456789abcdef0123456789abcdef-test",
    ),
    ("MAILING_PROBE_TOKEN", "a-token-the-provider-issued"),
];

struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .expect("a free port")
}

/// Starts `mailing` in a fresh directory with `env`, and returns how many clients its API lists
/// once it answers. The production profile migrates nowhere at start, so the database is
/// migrated first, as an operator's release step would.
async fn clients_after_start(env: &[(&str, &str)]) -> u64 {
    let dir = std::env::temp_dir().join(format!(
        "mailing-fixtures-{}-{}",
        std::process::id(),
        free_port()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let database = format!("sqlite://{}/mailing.db", dir.display());
    let options = mailing_storage::ConnectOptions {
        max_connections: 1,
        acquire_timeout: Duration::from_secs(5),
    };
    mailing_storage::open(&database, &options)
        .and_then(|store| store.migrate())
        .expect("the test database is migrated");
    let port = free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_mailing"))
        .current_dir(&dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("MAILING_HTTP_ADDR", format!("127.0.0.1:{port}"))
        .env("PROBE_SIM_ADDR", "127.0.0.1:0")
        .env("RUST_LOG", "warn")
        .env("MAILING_DATABASE_URL", &database)
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the mailing binary starts");
    let _running = Running(child);
    let api = format!("http://127.0.0.1:{port}/api/v1");
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let password = env
        .iter()
        .find(|(name, _)| *name == "MAILING_ADMIN_PASSWORD")
        .map_or("12345", |(_, value)| value);
    let deadline = Instant::now() + Duration::from_secs(60);
    let token = loop {
        let login = http
            .post(format!("{api}/auth/token"))
            .json(&json!({ "username": "admin", "password": password }))
            .send()
            .await;
        if let Ok(response) = login
            && response.status().is_success()
        {
            let body: Value = response.json().await.unwrap();
            break body["access_token"].as_str().unwrap().to_owned();
        }
        assert!(Instant::now() < deadline, "mailing answers within 60 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let clients: Value = http
        .get(format!("{api}/clients"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    clients["total"].as_u64().expect("a client list")
}

#[tokio::test]
async fn the_dev_profile_with_its_own_simulator_loads_them() {
    assert_eq!(clients_after_start(&[]).await, 2);
}

#[tokio::test]
async fn production_loads_them_only_when_asked() {
    let local_provider = ("MAILING_PROBE_URL", "http://127.0.0.1:9");
    let production = [PRODUCTION, &[local_provider]].concat();
    assert_eq!(
        clients_after_start(&production).await,
        0,
        "production never loads them by default, even towards a local provider"
    );
    let asked = [production.as_slice(), &[("MAILING_LOAD_FIXTURES", "true")]].concat();
    assert_eq!(clients_after_start(&asked).await, 2);
}

#[tokio::test]
async fn a_provider_off_this_machine_does_not_get_them() {
    // Never reached: nothing is sent without clients.
    let remote = [("MAILING_PROBE_URL", "https://probe.example.com")];
    assert_eq!(clients_after_start(&remote).await, 0);
}
