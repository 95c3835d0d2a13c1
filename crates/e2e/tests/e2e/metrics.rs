//! Right after start, before anything happened, every service's `/metrics` already shows every
//! series docs/metrics.md documents, counters at 0: an alert on `increase(...) > 0` fires on
//! the first event only if the series existed before it. Each page is valid Prometheus text as
//! `promtool check metrics` reads it.

use mailing_e2e::{Cluster, ClusterOptions, Service, Setup, bounded};
use std::io::Write as _;
use std::process::{Command, Stdio};
use std::time::Duration;

const NAME: &str = "metrics";
const SERVICES: [Service; 3] = [Service::Api, Service::Scheduler, Service::Sender];

/// The value of a series exactly as rendered, `None` when the page does not have it.
fn value(page: &str, series: &str) -> Option<f64> {
    page.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .map(|value| {
            value
                .trim()
                .parse()
                .unwrap_or_else(|e| panic!("{series}: {value:?}: {e}"))
        })
}

/// Whether the page has any series of the family `name`.
fn has_family(page: &str, name: &str, histogram: bool) -> bool {
    let sample = if histogram {
        format!("{name}_count")
    } else {
        name.to_owned()
    };
    page.lines().any(|line| {
        line.strip_prefix(&sample)
            .is_some_and(|rest| rest.starts_with(' ') || rest.starts_with('{'))
    })
}

/// The metrics docs/metrics.md's tables document: the name in the first cell (a table row
/// whose first cell is a metric name) and whether the second calls it a histogram.
fn documented() -> Vec<(String, bool)> {
    let text = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/metrics.md"),
    )
    .expect("docs/metrics.md");
    let metrics: Vec<(String, bool)> = text
        .lines()
        .filter_map(|line| {
            let mut cells = line.strip_prefix("| `")?.split('|');
            let name = cells.next()?.trim().strip_suffix('`')?.to_owned();
            // Other tables (ports, alerts) name services and alerts, not metrics.
            if !(name.starts_with("mailing_") || name.starts_with("process_")) {
                return None;
            }
            let histogram = cells.next()?.trim().starts_with("histogram");
            Some((name, histogram))
        })
        .collect();
    assert!(
        metrics.len() > 30,
        "docs/metrics.md's tables were not read: {metrics:?}"
    );
    metrics
}

/// Runs `promtool check metrics` on a page.
///
/// # Panics
/// If promtool is not installed (`make promtool-deps` installs it, and `make test` runs that),
/// or finds a problem.
fn promtool_check(service: Service, page: &str) {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run promtool ({e}): install it with `make promtool-deps` (Debian's \
                 prometheus package); `make test` does"
            )
        });
    child
        .stdin
        .take()
        .expect("piped")
        .write_all(page.as_bytes())
        .expect("writing to promtool");
    let output = child.wait_with_output().expect("promtool ran");
    assert!(
        output.status.success(),
        "promtool check metrics on {service:?}'s page: {}{}\n{page}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Series every service's page has from start, with their value then (`None`: any value).
fn everywhere() -> Vec<(String, Option<f64>)> {
    let mut series: Vec<(String, Option<f64>)> = [
        "process_cpu_seconds_total",
        "process_resident_memory_bytes",
        "process_virtual_memory_bytes",
        "process_open_fds",
        "process_max_fds",
        "process_start_time_seconds",
    ]
    .into_iter()
    .map(|name| (name.to_owned(), None))
    .collect();
    series.extend([
        ("mailing_database_up".to_owned(), Some(1.0)),
        ("mailing_broker_up".to_owned(), Some(1.0)),
        (
            r#"mailing_sample_failures_total{sampler="dependencies"}"#.to_owned(),
            Some(0.0),
        ),
    ]);
    series
}

/// Series the service's page has from start at 0, beside [`everywhere`]'s.
fn at_zero(service: Service) -> Vec<String> {
    let mut series: Vec<String> = Vec::new();
    let transitions = |pairs: &[(&str, &str)]| -> Vec<String> {
        pairs
            .iter()
            .map(|(from, to)| {
                format!(r#"mailing_message_transitions_total{{from="{from}",to="{to}"}}"#)
            })
            .collect()
    };
    match service {
        Service::Api => {
            series.push("mailing_outbox_events_published_total".to_owned());
            series.push(r#"mailing_sample_failures_total{sampler="outbox"}"#.to_owned());
        }
        Service::Scheduler => {
            series.extend(
                [
                    "mailing_scheduler_tick_failures_total",
                    "mailing_expansions_total",
                    "mailing_send_jobs_published_total",
                    r#"mailing_sample_failures_total{sampler="messages"}"#,
                    r#"mailing_sample_failures_total{sampler="queues"}"#,
                    // Sampled, and nothing is paused yet.
                    "mailing_mailings_paused",
                    // The report e-mail is off here; its series exist all the same.
                    r#"mailing_report_emails_total{outcome="sent"}"#,
                    r#"mailing_report_emails_total{outcome="failed"}"#,
                    "mailing_report_overdue_seconds",
                ]
                .map(str::to_owned),
            );
            series.extend(transitions(&[
                ("new", "scheduled"),
                ("new", "expired"),
                ("waiting", "queued"),
                ("waiting", "expired"),
                ("queued", "scheduled"),
            ]));
        }
        Service::Sender => {
            for outcome in ["delivered", "retryable", "permanent", "token_rejected"] {
                series.push(format!(
                    r#"mailing_probe_requests_total{{outcome="{outcome}"}}"#
                ));
                series.push(format!(
                    r#"mailing_probe_request_duration_seconds_count{{outcome="{outcome}"}}"#
                ));
            }
            for redelivered in ["true", "false"] {
                series.push(format!(
                    r#"mailing_send_jobs_received_total{{redelivered="{redelivered}"}}"#
                ));
            }
            for reason in ["provider_failing", "token_rejected"] {
                series.push(format!(
                    r#"mailing_sender_breaker_trips_total{{reason="{reason}"}}"#
                ));
            }
            series.push(r#"mailing_sample_failures_total{sampler="sender"}"#.to_owned());
            series.extend(
                [
                    "mailing_auto_pauses_total",
                    "mailing_frequency_cap_deferrals_total",
                ]
                .map(str::to_owned),
            );
            series.extend(transitions(&[
                ("queued", "sent"),
                ("queued", "retrying"),
                ("queued", "failed"),
                ("queued", "scheduled"),
                ("queued", "expired"),
                ("queued", "cancelled"),
            ]));
        }
        Service::ProbeSim => unreachable!("not a mailing service"),
    }
    series
}

/// The samplers whose last-success timestamp the service's page has, recent.
fn samplers(service: Service) -> &'static [&'static str] {
    match service {
        Service::Api => &["dependencies", "outbox"],
        Service::Scheduler => &["dependencies", "messages", "queues"],
        Service::Sender => &["dependencies", "sender"],
        Service::ProbeSim => &[],
    }
}

async fn fresh_pages_show_every_documented_series(setup: Setup) {
    // A rate limit far above what the run sends, so the gauges of the limiter's share exist
    // too: they describe a limiter that is absent without one.
    let options = ClusterOptions::new(NAME, setup).sender("MAILING_SENDER_RATE_LIMIT", 100_000);
    bounded(options.name(), Duration::from_secs(90), async {
        let cluster = Cluster::start(&options).await;
        // One request of our own, so the api's request metrics exist whatever the harness did.
        cluster.health(Service::Api).await;
        let started = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("after the epoch")
            .as_secs_f64();
        let mut pages = Vec::new();
        for service in SERVICES {
            pages.push((service, cluster.metrics(service).await));
        }

        for (service, page) in &pages {
            promtool_check(*service, page);
            for (series, expected) in everywhere() {
                let found = value(page, &series);
                assert!(found.is_some(), "{service:?}: no {series}\n{page}");
                if let Some(expected) = expected {
                    assert_eq!(found, Some(expected), "{service:?}: {series}\n{page}");
                }
            }
            let info = page
                .lines()
                .find(|line| line.starts_with("mailing_build_info{"))
                .unwrap_or_else(|| panic!("{service:?}: no mailing_build_info\n{page}"));
            assert!(
                info.contains(r#"version=""#)
                    && info.contains(r#"commit=""#)
                    && info.ends_with(" 1"),
                "{info}"
            );
            for series in at_zero(*service) {
                assert_eq!(
                    value(page, &series),
                    Some(0.0),
                    "{service:?}: {series} must exist at 0 from start\n{page}"
                );
            }
            for sampler in samplers(*service) {
                let series = format!(
                    r#"mailing_sample_last_success_timestamp_seconds{{sampler="{sampler}"}}"#
                );
                let at = value(page, &series)
                    .unwrap_or_else(|| panic!("{service:?}: no {series}\n{page}"));
                assert!(
                    (started - 60.0..started + 60.0).contains(&at),
                    "{service:?}: {series} is {at}, the scrape was at {started}"
                );
            }
        }

        // Documentation and code cannot drift: every metric docs/metrics.md's tables list is on
        // a fresh page of the deployment, and every metric a page has is in those tables.
        let union: String = pages.iter().map(|(_, page)| page.as_str()).collect();
        for (name, histogram) in documented() {
            assert!(
                has_family(&union, &name, histogram),
                "docs/metrics.md documents {name}, which no fresh page shows"
            );
        }
        let documented: Vec<String> = documented().into_iter().map(|(name, _)| name).collect();
        for (service, page) in &pages {
            for name in page
                .lines()
                .filter_map(|line| line.strip_prefix("# TYPE "))
                .filter_map(|kind| kind.split(' ').next())
            {
                assert!(
                    documented.iter().any(|d| d == name),
                    "{service:?} shows {name}, which docs/metrics.md's tables do not document"
                );
            }
        }
    })
    .await;
}

scenario!(fresh_pages_show_every_documented_series);
