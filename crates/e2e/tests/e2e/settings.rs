//! Starting the binaries as an operator does, with settings that are wrong: a malformed value
//! stops each at once with one line naming the variable, while a database or broker that is
//! not there yet is waited for, the service up and reporting itself not ready.

use mailing_e2e::cluster::{bin_dir, free_port};
use std::io::Read as _;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// What a bad setting exits with (`EX_CONFIG`).
const BAD_SETTING: i32 = 78;
/// How long a binary may take to refuse a bad setting.
const AT_ONCE: Duration = Duration::from_secs(2);

const PROGRAMS: [&str; 4] = [
    "mailing-api",
    "mailing-scheduler",
    "mailing-sender",
    "mailing",
];

/// `binary` with nothing but `vars` (and PATH) in its environment.
fn command(binary: &str, vars: &[(&str, &str)]) -> Command {
    let mut command = Command::new(bin_dir().join(binary));
    command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("NO_COLOR", "1")
        .envs(vars.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    command
}

/// Runs `binary` with `vars`; it must exit within [`AT_ONCE`]. Returns how it exited and what
/// it wrote to stderr.
fn refused(binary: &str, vars: &[(&str, &str)]) -> (ExitStatus, String) {
    let started = Instant::now();
    let mut child = command(binary, vars).spawn().expect("the binary starts");
    let status = loop {
        if let Some(status) = child.try_wait().expect("waiting for the binary") {
            break status;
        }
        if started.elapsed() > AT_ONCE {
            let _ = child.kill();
            panic!("{binary} with {vars:?} still ran after {AT_ONCE:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .expect("piped")
        .read_to_string(&mut stderr)
        .expect("stderr is text");
    (status, stderr)
}

fn assert_one_line_naming(binary: &str, vars: &[(&str, &str)], variable: &str) -> String {
    let (status, stderr) = refused(binary, vars);
    assert_eq!(
        status.code(),
        Some(BAD_SETTING),
        "{binary} {vars:?}: {stderr}"
    );
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{binary} {vars:?} wrote: {stderr}");
    let line = lines[0];
    assert!(line.contains(variable), "{binary}: {line}");
    assert!(line.contains("for example"), "{binary}: {line}");
    line.to_owned()
}

#[test]
fn a_malformed_setting_stops_every_binary_at_once_naming_it() {
    let cases = [
        ("MAILING_PROFILE", "staging"),
        ("MAILING_DATABASE_URL", "mysql://db/mailing"),
        ("MAILING_AMQP_URL", "kafka://broker:9092"),
        ("MAILING_PROBE_URL", "probe.example.com"),
        ("MAILING_DATABASE_MAX_CONNECTIONS", "0"),
        ("MAILING_SENDER_CONCURRENCY", "0"),
        ("MAILING_HTTP_ADDR", "8000"),
        ("MAILING_SCHEDULER_HEALTH_ADDR", "localhost"),
        ("MAILING_SCHEDULER_TICK_MS", "5s"),
        ("MAILING_JWT_TTL_SECONDS", "an hour"),
    ];
    for program in PROGRAMS {
        for (variable, value) in cases {
            let line = assert_one_line_naming(program, &[(variable, value)], variable);
            assert!(
                line.starts_with(&format!("{program}: invalid setting {variable}")),
                "{line}"
            );
        }
    }
    for (variable, value) in [
        ("PROBE_SIM_ADDR", "nonsense"),
        ("PROBE_SIM_LATENCY_MS", "9..1"),
    ] {
        assert_one_line_naming("probe-sim", &[(variable, value)], variable);
        assert_one_line_naming("mailing", &[(variable, value)], variable);
    }
}

#[test]
fn the_production_profile_reports_a_bad_setting_as_json() {
    for program in PROGRAMS {
        let line = assert_one_line_naming(
            program,
            &[
                ("MAILING_PROFILE", "production"),
                ("MAILING_SENDER_OUTCOME_BATCH", "lots"),
            ],
            "MAILING_SENDER_OUTCOME_BATCH",
        );
        let json: serde_json::Value = serde_json::from_str(&line)
            .unwrap_or_else(|error| panic!("{program}: not JSON ({error}): {line}"));
        assert_eq!(json["level"], "ERROR", "{line}");
        assert_eq!(json["setting"], "MAILING_SENDER_OUTCOME_BATCH", "{line}");
        assert_eq!(
            json["example"], "MAILING_SENDER_OUTCOME_BATCH=500",
            "{line}"
        );
    }
}

#[test]
fn missing_production_secrets_stop_the_services_that_need_them() {
    let production = [("MAILING_PROFILE", "production")];
    assert_one_line_naming("mailing-api", &production, "MAILING_ADMIN_PASSWORD");
    assert_one_line_naming("mailing-sender", &production, "MAILING_PROBE_TOKEN");
    let secret_in_the_line = assert_one_line_naming(
        "mailing-api",
        &[
            ("MAILING_PROFILE", "production"),
            ("MAILING_ADMIN_PASSWORD", "a-long-enough-password"),
            ("MAILING_JWT_SECRET", "short-Secret-Value"),
        ],
        "MAILING_JWT_SECRET",
    );
    assert!(
        !secret_in_the_line.contains("short-Secret-Value"),
        "{secret_in_the_line}"
    );
}

#[test]
fn the_in_process_bus_is_refused_by_a_service_that_runs_alone() {
    for program in ["mailing-api", "mailing-scheduler", "mailing-sender"] {
        let line = assert_one_line_naming(
            program,
            &[("MAILING_AMQP_URL", "memory://")],
            "MAILING_AMQP_URL",
        );
        assert!(line.contains("runs alone"), "{line}");
    }
}

/// A child that is killed when the test ends, however it ends.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn status_of(url: &str) -> Option<(u16, serde_json::Value)> {
    let response = reqwest::Client::new()
        .get(url)
        .timeout(Duration::from_secs(2))
        .send()
        .await
        .ok()?;
    let status = response.status().as_u16();
    Some((status, response.json().await.unwrap_or_default()))
}

/// Waits until `url` answers `status`; returns the body.
async fn answers(url: &str, status: u16, running: &mut Running) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(exited) = running.0.try_wait().expect("waiting for the child") {
            panic!("exited with {exited} before {url} answered {status}");
        }
        if let Some((answered, body)) = status_of(url).await
            && answered == status
        {
            return body;
        }
        assert!(Instant::now() < deadline, "{url} never answered {status}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn mailing_runs_on_an_in_process_bus_with_or_without_a_name() {
    for bus in ["memory://", "memory://mailing"] {
        let dir = std::env::temp_dir().join(format!("mailing-e2e-{:016x}", rand::random::<u64>()));
        std::fs::create_dir_all(&dir).expect("a temporary directory");
        let port = free_port();
        let database = format!("sqlite://{}", dir.join("mailing.db").display());
        let address = format!("127.0.0.1:{port}");
        let mut running = Running(
            command(
                "mailing",
                &[
                    ("MAILING_AMQP_URL", bus),
                    ("MAILING_DATABASE_URL", &database),
                    ("MAILING_HTTP_ADDR", &address),
                    ("PROBE_SIM_ADDR", "127.0.0.1:0"),
                    ("MAILING_LOAD_FIXTURES", "false"),
                ],
            )
            .stderr(Stdio::null())
            .spawn()
            .expect("mailing starts"),
        );
        answers(&format!("http://{address}/readyz"), 200, &mut running).await;
        drop(running);
        let _ = std::fs::remove_dir_all(&dir);
    }
}

/// Only an unreachable database or broker is waited for: the worker stays up, says what it
/// waits for, and stops on SIGTERM.
#[tokio::test]
async fn a_worker_waits_for_an_unreachable_database_and_broker() {
    let nothing_listens = free_port();
    for (binary, health) in [
        ("mailing-scheduler", "MAILING_SCHEDULER_HEALTH_ADDR"),
        ("mailing-sender", "MAILING_SENDER_HEALTH_ADDR"),
    ] {
        let address = format!("127.0.0.1:{}", free_port());
        let mut running = Running(
            command(
                binary,
                &[
                    (
                        "MAILING_DATABASE_URL",
                        &format!("postgres://postgres@127.0.0.1:{nothing_listens}/mailing"),
                    ),
                    (
                        "MAILING_AMQP_URL",
                        &format!("amqp://guest:guest@127.0.0.1:{nothing_listens}/%2f"),
                    ),
                    ("MAILING_DATABASE_ACQUIRE_TIMEOUT_MS", "200"),
                    (health, &address),
                ],
            )
            .stderr(Stdio::null())
            .spawn()
            .expect("the worker starts"),
        );
        answers(&format!("http://{address}/healthz"), 200, &mut running).await;
        let not_ready = answers(&format!("http://{address}/readyz"), 503, &mut running).await;
        assert_eq!(
            not_ready["reason"], "database unreachable",
            "{binary}: {not_ready}"
        );
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert!(
            running.0.try_wait().expect("waiting").is_none(),
            "{binary} gave up on an unreachable database"
        );
        let signalled = Command::new("kill")
            .args(["-TERM", &running.0.id().to_string()])
            .status()
            .expect("running kill");
        assert!(signalled.success());
        let started = Instant::now();
        let exited = loop {
            if let Some(status) = running.0.try_wait().expect("waiting") {
                break status;
            }
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "{binary} ignored SIGTERM"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        assert!(exited.success(), "{binary} exited with {exited}");
    }
}
