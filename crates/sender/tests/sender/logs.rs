//! What the sender logs at info about a send job: one line per mailing of the job, with its
//! counts and the ids of the messages to look at, and nothing per message.

use crate::{SECRET, fixture, token};
use mailing_domain::MailingId;
use probe_sim::state::ConfigPatch;
use serde_json::Value;
use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

/// The log lines written while it lives, as JSON, on the test's own thread: the sender's tasks
/// run there (the test's runtime has one thread), while other tests' logs stay out.
struct Captured {
    lines: Arc<Mutex<Vec<u8>>>,
    _guard: tracing::subscriber::DefaultGuard,
}

#[derive(Clone)]
struct Sink(Arc<Mutex<Vec<u8>>>);

impl Write for Sink {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A dispatcher that hears nothing, alive for the whole test process. With a single live
/// dispatcher, tracing decides whether a log statement is heard by asking the dispatcher of
/// whichever thread first reaches it; another test's thread, which has none, would then mute
/// the statement for the capture too. With two, it asks them all.
static SECOND: OnceLock<tracing::Dispatch> = OnceLock::new();

impl Captured {
    /// From now on, the lines at info and above.
    fn info() -> Self {
        SECOND.get_or_init(|| tracing::Dispatch::new(tracing::subscriber::NoSubscriber::default()));
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = Sink(lines.clone());
        let subscriber = tracing_subscriber::fmt()
            .json()
            .flatten_event(true)
            .with_max_level(tracing::Level::INFO)
            .with_writer(move || sink.clone())
            .finish();
        Self {
            lines,
            _guard: tracing::subscriber::set_default(subscriber),
        }
    }

    /// Makes sure every log statement reaches the capture from here on. A statement first
    /// reached by another test's thread while the capture was being set up may have been
    /// marked as having nobody to hear it; this asks every statement again.
    fn listening(&self) {
        tracing::callsite::rebuild_interest_cache();
    }

    /// The sender's lines so far.
    fn sender_lines(&self) -> Vec<Value> {
        let text = String::from_utf8(self.lines.lock().unwrap().clone()).unwrap();
        text.lines()
            .map(|line| serde_json::from_str::<Value>(line).unwrap())
            .filter(|line| {
                line["target"]
                    .as_str()
                    .is_some_and(|t| t.starts_with("mailing_sender"))
            })
            .collect()
    }
}

fn summary(line: &Value, mailing: MailingId) -> [u64; 8] {
    assert_eq!(line["message"], "send job done", "{line}");
    assert_eq!(line["level"], "INFO", "{line}");
    assert_eq!(line["mailing_id"], mailing.0, "{line}");
    [
        "messages",
        "sent",
        "failed",
        "retried",
        "expired",
        "deferred",
        "cancelled",
        "skipped",
    ]
    .map(|field| {
        line[field]
            .as_u64()
            .unwrap_or_else(|| panic!("{field} in {line}"))
    })
}

#[tokio::test]
async fn a_delivered_job_is_one_line_at_info() {
    let captured = Captured::info();
    let f = fixture().await;
    let (mailing, job) = f.claimed_messages(5, None).await;
    captured.listening();
    f.run_job(job, token(SECRET)).await;

    let lines = captured.sender_lines();
    let summaries: Vec<&Value> = lines
        .iter()
        .filter(|line| line["message"] == "send job done")
        .collect();
    assert_eq!(summaries.len(), 1, "{lines:#?}");
    assert_eq!(summary(summaries[0], mailing), [5, 5, 0, 0, 0, 0, 0, 0]);
    assert_eq!(summaries[0].get("failures"), None);
    // Nothing else per message: the other lines are the service's own start and stop.
    assert!(
        lines.iter().all(|line| line.get("message_id").is_none()),
        "{lines:#?}"
    );
    assert!(lines.len() <= 4, "{lines:#?}");
    f.test_bus.finish().await;
}

#[tokio::test]
async fn a_failing_job_names_its_failed_messages() {
    let captured = Captured::info();
    let f = fixture().await;
    f.sim
        .update(&ConfigPatch::from_json(br#"{"error_500_share": 1.0}"#).unwrap())
        .unwrap();
    let (mailing, job) = f.claimed_messages(3, None).await;
    let mut ids: Vec<i64> = job.message_ids.iter().map(|id| id.0).collect();
    ids.sort_unstable();
    captured.listening();
    f.run_job(job, token(SECRET)).await;

    let lines = captured.sender_lines();
    let summaries: Vec<&Value> = lines
        .iter()
        .filter(|line| line["message"] == "send job done")
        .collect();
    assert_eq!(summaries.len(), 1, "{lines:#?}");
    assert_eq!(summary(summaries[0], mailing), [3, 0, 0, 3, 0, 0, 0, 0]);
    let mut listed: Vec<i64> = summaries[0]["failures"]
        .as_str()
        .unwrap()
        .split(", ")
        .map(|id| id.parse().unwrap())
        .collect();
    listed.sort_unstable();
    assert_eq!(listed, ids);
    assert!(
        lines.iter().all(|line| line.get("message_id").is_none()),
        "{lines:#?}"
    );
    f.test_bus.finish().await;
}
