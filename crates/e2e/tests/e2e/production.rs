//! The binaries as a production deployment runs them (`MAILING_PROFILE=production`): readiness
//! that waits for the release's migrations and names what is missing, `mailing-api
//! wait-for-migrations` for init containers, and logs that are JSON lines from the first line
//! to the last, fatal errors, the all-in-one's banner and the simulator's request lines
//! included.

use mailing_bus::testing::TestBus;
use mailing_e2e::cluster::{bin_dir, free_port, log_dir};
use mailing_storage::testing::{TestDatabase, TestSqliteDatabase};
use serde_json::Value;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

const ADMIN_PASSWORD: &str = "a-long-production-password";
const JWT_SECRET: &str = "e2e-production-jwt-secret-of-forty-bytes!";

/// A child killed when the test ends, however it ends, its stderr in a file.
struct Running {
    child: Child,
    stderr: PathBuf,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Where this test's processes write stderr, emptied first.
fn logs(test: &str) -> PathBuf {
    let dir = log_dir(&format!("production-{test}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a log directory");
    dir
}

/// `binary args` in the production profile with `vars`, and nothing of the developer's shell
/// but PATH; stderr goes to `<dir>/<name>.log`.
fn command(
    dir: &Path,
    name: &str,
    binary: &str,
    args: &[&str],
    vars: &[(&str, &str)],
) -> (Command, PathBuf) {
    let stderr = dir.join(format!("{name}.log"));
    let mut command = Command::new(bin_dir().join(binary));
    command
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("MAILING_PROFILE", "production")
        .envs(vars.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(File::create(&stderr).expect("a log file"));
    (command, stderr)
}

fn spawn(dir: &Path, name: &str, binary: &str, args: &[&str], vars: &[(&str, &str)]) -> Running {
    let (mut command, stderr) = command(dir, name, binary, args, vars);
    let child = command
        .spawn()
        .unwrap_or_else(|e| panic!("{binary} starts: {e}"));
    Running { child, stderr }
}

/// Runs `binary args` to its end (within `limit`); returns how it exited and its stderr lines.
async fn run(
    dir: &Path,
    name: &str,
    binary: &str,
    args: &[&str],
    vars: &[(&str, &str)],
    limit: Duration,
) -> (ExitStatus, Vec<Value>) {
    let mut running = spawn(dir, name, binary, args, vars);
    let status = exit_within(&mut running, limit).await;
    (status, json_lines(&running.stderr))
}

async fn exit_within(running: &mut Running, limit: Duration) -> ExitStatus {
    let started = Instant::now();
    loop {
        if let Some(status) = running.child.try_wait().expect("waiting") {
            return status;
        }
        assert!(
            started.elapsed() < limit,
            "still running after {limit:?}; it wrote:\n{}",
            std::fs::read_to_string(&running.stderr).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Every line of a log file, each of which must be one JSON object.
fn json_lines(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).expect("the log file");
    text.lines()
        .map(|line| {
            let value: Value = serde_json::from_str(line).unwrap_or_else(|error| {
                panic!(
                    "{}: a line that is not JSON ({error}): {line}",
                    path.display()
                )
            });
            assert!(value.is_object(), "{}: {line}", path.display());
            for (field, value) in value.as_object().into_iter().flatten() {
                // Rust's debug text of a value (`Some(..)`, `Foo { .. }`) is not for a collector.
                if let Value::String(text) = value {
                    assert!(
                        !text.starts_with("Some(") && !text.contains(" { "),
                        "{}: {field} holds debug text: {line}",
                        path.display()
                    );
                }
            }
            value
        })
        .collect()
}

async fn get(url: &str) -> Option<(u16, Value)> {
    let response = reqwest::Client::new()
        .get(url)
        .timeout(Duration::from_secs(3))
        .send()
        .await
        .ok()?;
    let status = response.status().as_u16();
    Some((status, response.json().await.unwrap_or_default()))
}

/// Waits until `url` answers `status` with a body `accept`s; returns the body.
async fn answers(
    url: &str,
    status: u16,
    accept: impl Fn(&Value) -> bool,
    running: &mut Running,
) -> Value {
    let deadline = Instant::now() + Duration::from_secs(40);
    let mut last = None;
    loop {
        if let Some(exited) = running.child.try_wait().expect("waiting") {
            panic!(
                "exited with {exited} before {url} answered {status}:\n{}",
                std::fs::read_to_string(&running.stderr).unwrap_or_default()
            );
        }
        if let Some((answered, body)) = get(url).await {
            if answered == status && accept(&body) {
                return body;
            }
            last = Some((answered, body));
        }
        assert!(
            Instant::now() < deadline,
            "{url} never answered {status} as expected; last: {last:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The names of the migrations the binaries carry for PostgreSQL, oldest first.
fn postgres_migrations() -> Vec<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../migrations/postgres");
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("the migrations folder")
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

struct Service {
    name: &'static str,
    binary: &'static str,
    address_variable: &'static str,
    address: String,
}

impl Service {
    fn all() -> [Service; 3] {
        let at = |name, binary, address_variable| Service {
            name,
            binary,
            address_variable,
            address: format!("127.0.0.1:{}", free_port()),
        };
        [
            at("api", "mailing-api", "MAILING_HTTP_ADDR"),
            at(
                "scheduler",
                "mailing-scheduler",
                "MAILING_SCHEDULER_HEALTH_ADDR",
            ),
            at("sender", "mailing-sender", "MAILING_SENDER_HEALTH_ADDR"),
        ]
    }

    fn ready_url(&self) -> String {
        format!("http://{}/readyz", self.address)
    }

    fn spawn(&self, dir: &Path, common: &[(&str, &str)]) -> Running {
        let mut vars = common.to_vec();
        vars.push((self.address_variable, &self.address));
        spawn(dir, self.name, self.binary, &[], &vars)
    }
}

/// The settings every service of a production deployment gets.
fn production_vars<'a>(
    database: &'a str,
    amqp: &'a str,
    namespace: &'a str,
    probe: &'a str,
) -> Vec<(&'a str, &'a str)> {
    vec![
        ("MAILING_DATABASE_URL", database),
        ("MAILING_DATABASE_MAX_CONNECTIONS", "2"),
        ("MAILING_DATABASE_ACQUIRE_TIMEOUT_MS", "500"),
        ("MAILING_AMQP_URL", amqp),
        ("MAILING_AMQP_NAMESPACE", namespace),
        ("MAILING_ADMIN_PASSWORD", ADMIN_PASSWORD),
        ("MAILING_JWT_SECRET", JWT_SECRET),
        ("MAILING_PROBE_URL", probe),
        ("MAILING_PROBE_TOKEN", "a-token-the-test-never-uses"),
    ]
}

/// A new release on an empty database: every service is unready and says which migrations are
/// missing, `wait-for-migrations` gives up after its timeout, and once `migrate` ran it exits 0
/// and every service becomes ready, with no restart.
#[tokio::test]
async fn services_are_unready_until_the_release_migrations_ran() {
    let dir = logs("migrations");
    let db = tokio::task::spawn_blocking(TestDatabase::create_unmigrated)
        .await
        .unwrap();
    let bus = TestBus::new();
    let probe = format!("http://127.0.0.1:{}", free_port());
    let vars = production_vars(db.url(), bus.url(), bus.namespace(), &probe);
    let services = Service::all();
    let mut running: Vec<Running> = services.iter().map(|s| s.spawn(&dir, &vars)).collect();
    let carried = postgres_migrations();

    for (service, process) in services.iter().zip(&mut running) {
        let body = answers(
            &service.ready_url(),
            503,
            |body| body["pending_migrations"].is_array(),
            process,
        )
        .await;
        assert_eq!(body["status"], "not_ready", "{}: {body}", service.name);
        let pending: Vec<String> =
            serde_json::from_value(body["pending_migrations"].clone()).unwrap();
        assert_eq!(pending, carried, "{}: {body}", service.name);
        let reason = body["reason"].as_str().unwrap();
        assert!(
            reason.contains(&format!("{} migrations pending", carried.len()))
                && reason.contains(&carried[0]),
            "{}: {reason}",
            service.name
        );
    }

    let (status, lines) = run(
        &dir,
        "wait-timeout",
        "mailing-api",
        &["wait-for-migrations", "--timeout-seconds", "1"],
        &vars,
        Duration::from_secs(20),
    )
    .await;
    assert!(!status.success(), "gave up with {status}");
    let last = lines.last().expect("it said why");
    assert_eq!(last["level"], "ERROR", "{last}");
    let error = last["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("did not get this release's migrations") && error.contains(&carried[0]),
        "{last}"
    );

    let mut waiting = spawn(
        &dir,
        "wait",
        "mailing-api",
        &["wait-for-migrations", "--timeout-seconds", "120"],
        &vars,
    );
    let (status, _) = run(
        &dir,
        "migrate",
        "mailing-api",
        &["migrate"],
        &vars,
        Duration::from_secs(60),
    )
    .await;
    assert!(status.success(), "migrate exited with {status}");
    let waited = exit_within(&mut waiting, Duration::from_secs(30)).await;
    assert!(waited.success(), "wait-for-migrations exited with {waited}");
    json_lines(&waiting.stderr);

    for (service, process) in services.iter().zip(&mut running) {
        answers(&service.ready_url(), 200, |_| true, process).await;
    }
    drop(running);
    for service in &services {
        let lines = json_lines(&dir.join(format!("{}.log", service.name)));
        assert!(!lines.is_empty(), "{} logged nothing", service.name);
    }
    // The scheduler waited instead of failing a tick on the missing tables.
    let scheduler = json_lines(&dir.join("scheduler.log"));
    let said = |text: &str| {
        scheduler
            .iter()
            .any(|line| line["message"].as_str().is_some_and(|m| m.contains(text)))
    };
    assert!(
        said("waiting for this release's migrations"),
        "{scheduler:?}"
    );
    assert!(said("the database schema is current"), "{scheduler:?}");
    assert!(!said("tick failed"), "{scheduler:?}");
}

/// A broker that does not answer makes every service unready, naming the broker.
#[tokio::test]
async fn an_unreachable_broker_makes_every_service_unready() {
    let dir = logs("broker");
    let db = tokio::task::spawn_blocking(TestDatabase::create)
        .await
        .unwrap();
    let amqp = format!("amqp://guest:guest@127.0.0.1:{}/%2f", free_port());
    let probe = format!("http://127.0.0.1:{}", free_port());
    let vars = production_vars(db.url(), &amqp, "unreachable", &probe);
    let services = Service::all();
    let mut running: Vec<Running> = services.iter().map(|s| s.spawn(&dir, &vars)).collect();
    for (service, process) in services.iter().zip(&mut running) {
        let body = answers(&service.ready_url(), 503, |_| true, process).await;
        assert_eq!(
            body["reason"], "broker unreachable",
            "{}: {body}",
            service.name
        );
    }
    // The api's load balancer leaves the broker out: writes wait in the outbox meanwhile.
    let api = &services[0];
    assert_eq!(api.name, "api");
    let url = api.ready_url();
    let body = answers(
        &format!("{url}?exclude=broker"),
        200,
        |_| true,
        &mut running[0],
    )
    .await;
    assert_eq!(body["broker"], "disconnected", "{body}");
    let body = answers(
        &format!("{url}?exclude=database"),
        400,
        |_| true,
        &mut running[0],
    )
    .await;
    assert_eq!(body["details"][0]["field"], "exclude", "{body}");
    drop(running);
    for service in &services {
        json_lines(&dir.join(format!("{}.log", service.name)));
    }
}

/// Fatal start-up errors, an api waiting for its database, the all-in-one's banner and the
/// simulator's request lines: each line one JSON object.
#[tokio::test]
async fn production_logs_are_json_lines_from_start_to_failure() {
    let dir = logs("json");
    let nothing_listens = free_port();
    let dead_database = format!("postgres://postgres@127.0.0.1:{nothing_listens}/mailing");
    let dead_broker = format!("amqp://guest:guest@127.0.0.1:{nothing_listens}/%2f");
    let probe = format!("http://127.0.0.1:{nothing_listens}");
    let vars = production_vars(&dead_database, &dead_broker, "nowhere", &probe);

    // A one-off job cannot wait: it fails at once, in one JSON line.
    let (status, lines) = run(
        &dir,
        "migrate",
        "mailing-api",
        &["migrate"],
        &vars,
        Duration::from_secs(20),
    )
    .await;
    assert!(!status.success());
    let last = lines.last().expect("it said why");
    assert_eq!(last["level"], "ERROR", "{last}");
    assert_eq!(last["message"], "cannot start", "{last}");
    assert!(
        last["error"]
            .as_str()
            .unwrap_or_default()
            .contains("MAILING_DATABASE_URL"),
        "{last}"
    );

    // The server waits for its database, saying so in JSON.
    let address = format!("127.0.0.1:{}", free_port());
    let mut serving_vars = vars.clone();
    serving_vars.push(("MAILING_HTTP_ADDR", &address));
    let mut api = spawn(&dir, "api", "mailing-api", &["serve"], &serving_vars);
    let body = answers(&format!("http://{address}/readyz"), 503, |_| true, &mut api).await;
    assert_eq!(body["database"], "unreachable", "{body}");
    tokio::time::sleep(Duration::from_secs(1)).await;
    drop(api);
    let lines = json_lines(&dir.join("api.log"));
    assert!(
        lines.iter().any(|line| line["level"] == "WARN"),
        "the api said nothing of its database: {lines:?}"
    );

    // The all-in-one's banner is a log line with the facts as fields.
    let sqlite = tokio::task::spawn_blocking(TestSqliteDatabase::create)
        .await
        .unwrap();
    let address = format!("127.0.0.1:{}", free_port());
    let sim_address = format!("127.0.0.1:{}", free_port());
    let mut mailing = spawn(
        &dir,
        "mailing",
        "mailing",
        &[],
        &[
            ("MAILING_DATABASE_URL", sqlite.url()),
            ("MAILING_AMQP_URL", "memory://"),
            ("MAILING_HTTP_ADDR", &address),
            ("PROBE_SIM_ADDR", &sim_address),
            ("MAILING_ADMIN_PASSWORD", ADMIN_PASSWORD),
            ("MAILING_JWT_SECRET", JWT_SECRET),
        ],
    );
    answers(
        &format!("http://{address}/readyz"),
        200,
        |_| true,
        &mut mailing,
    )
    .await;
    // The banner follows readiness closely; give it a moment.
    let deadline = Instant::now() + Duration::from_secs(10);
    let banner = loop {
        let lines = json_lines(&mailing.stderr);
        if let Some(banner) = lines
            .into_iter()
            .find(|line| line["message"] == "mailing is running")
        {
            break banner;
        }
        assert!(Instant::now() < deadline, "no banner line");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(banner["level"], "INFO", "{banner}");
    assert!(
        banner["admin_ui"]
            .as_str()
            .unwrap_or_default()
            .ends_with("/admin"),
        "{banner}"
    );
    assert_eq!(banner["admin_username"], "admin", "{banner}");
    assert_eq!(banner["probe_simulator"], true, "{banner}");
    assert!(!banner.to_string().contains(ADMIN_PASSWORD), "{banner}");
    drop(mailing);
    json_lines(&dir.join("mailing.log"));

    // The simulator on its own logs its requests with the message id as a number.
    let sim_address = format!("127.0.0.1:{}", free_port());
    let mut sim = spawn(
        &dir,
        "probe-sim",
        "probe-sim",
        &[],
        &[("PROBE_SIM_ADDR", &sim_address)],
    );
    answers(
        &format!("http://{sim_address}/healthz"),
        200,
        |_| true,
        &mut sim,
    )
    .await;
    let client = reqwest::Client::new();
    for id in ["42", "not-a-number"] {
        let response = client
            .post(format!("http://{sim_address}/v1/send/{id}"))
            .json(&serde_json::json!({ "id": 42, "phone": 79990000000u64, "text": "hi" }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401, "no token");
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    drop(sim);
    let lines = json_lines(&dir.join("probe-sim.log"));
    let sends: Vec<&Value> = lines
        .iter()
        .filter(|line| line["message"] == "send")
        .collect();
    assert_eq!(sends.len(), 2, "{lines:?}");
    assert_eq!(sends[0]["message_id"], 42, "{}", sends[0]);
    assert_eq!(sends[1]["message_id_sent"], "not-a-number", "{}", sends[1]);
    assert!(sends[1].get("message_id").is_none(), "{}", sends[1]);
}
