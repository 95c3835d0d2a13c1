//! The daily report e-mail as an operator meets it, with a real SMTP server (aiosmtpd): after a
//! few mailings, exactly one e-mail arrives at the configured time with the numbers of
//! `/api/v1/mailings/stats`, with two schedulers of which one is killed just before the time
//! (distributed), and when everything was down at the time and starts again later the same day
//! (embedded).

use crate::helpers::mailing_to_all;
use chrono::{DateTime, Duration as Span, Timelike, Utc};
use mailing_e2e::{Cluster, ClusterOptions, Service, Setup, bounded, population};
use mailing_reports::testing::{ReceivedMail, SmtpSink};
use serde_json::Value;
use std::time::Duration;

const NAME: &str = "daily_report";
const CLIENTS: u64 = 40;

/// The report's time: far enough ahead to send two mailings first, on the same day.
async fn report_time(lead: Span) -> DateTime<Utc> {
    let mut now = Utc::now();
    if (now + lead + Span::minutes(1)).date_naive() != now.date_naive() {
        // Too close to midnight for "today" to hold: start the day over.
        let wait = (now + lead + Span::minutes(1))
            .with_hour(0)
            .unwrap()
            .with_minute(0)
            .unwrap()
            .with_second(5)
            .unwrap()
            - now;
        tokio::time::sleep(wait.to_std().unwrap_or_default()).await;
        now = Utc::now();
    }
    (now + lead).with_nanosecond(0).unwrap()
}

fn options(setup: Setup, sink: &SmtpSink, due: DateTime<Utc>) -> ClusterOptions {
    let mut options = ClusterOptions::new(NAME, setup);
    if setup == Setup::Distributed {
        options = options.replicas(Service::Scheduler, 2);
    }
    options
        .scheduler("MAILING_SMTP_URL", sink.url())
        .scheduler("MAILING_REPORT_RECIPIENTS", "ops@example.com")
        .scheduler("MAILING_REPORT_TIME", due.format("%H:%M:%S"))
        .scheduler("MAILING_REPORT_TIME_ZONE", "UTC")
        .scheduler("MAILING_REPORT_DAY", "current")
}

/// Two mailings to everyone, both sent to the end.
async fn a_day_of_mailings(cluster: &Cluster) -> Vec<i64> {
    cluster
        .insert_clients(population::generated(0, CLIENTS, "UTC"))
        .await;
    let now = Utc::now();
    let mut ids = vec![];
    for text in ["Morning offer", "Evening offer"] {
        let id = cluster
            .api()
            .create_mailing(&mailing_to_all(text, now, now + Span::hours(1)))
            .await;
        cluster.wait_settled(id, Duration::from_secs(60)).await;
        ids.push(id);
    }
    ids
}

/// The e-mail's numbers are the statistics': each mailing's line "so far" and the day's sent.
async fn assert_matches_the_statistics(cluster: &Cluster, mail: &ReceivedMail, mailings: &[i64]) {
    let stats = cluster.api().get("/api/v1/mailings/stats").await;
    let text = mail.text.as_deref().expect("a plain-text part");
    assert!(mail.html.is_some(), "an HTML part");
    let count = |item: &Value, status: &str| item["by_status"][status].as_u64().unwrap();
    for (item, id) in stats["items"].as_array().unwrap().iter().zip(mailings) {
        let line = format!(
            "so far: {} messages: {} sent, {} failed, {} expired",
            item["total"],
            count(item, "sent"),
            count(item, "failed"),
            count(item, "expired"),
        );
        assert!(text.contains(&line), "mailing {id}: {line:?} in {text}");
    }
    let sent = stats["by_status"]["sent"].as_u64().unwrap();
    assert_eq!(sent, 2 * CLIENTS);
    assert!(
        mail.subject
            .contains(&format!(": {sent} sent, 100.0% delivered")),
        "{}",
        mail.subject
    );
}

async fn one_email_arrives_at_its_time_from_two_schedulers_one_killed(setup: Setup) {
    bounded(NAME, Duration::from_secs(240), async {
        let sink = SmtpSink::start();
        // Room for the deployment to start and two mailings to finish on a busy machine.
        let due = report_time(Span::seconds(90)).await;
        let mut cluster = Cluster::start(&options(setup, &sink, due)).await;
        let mailings = a_day_of_mailings(&cluster).await;
        assert!(
            Utc::now() < due,
            "the mailings took longer than the lead; raise it"
        );
        assert!(sink.received().is_empty(), "nothing before its time");

        // Just before the time, one scheduler dies; the other sends.
        let until_kill = (due - Span::seconds(2) - Utc::now())
            .to_std()
            .unwrap_or_default();
        tokio::time::sleep(until_kill).await;
        cluster.kill_replica(Service::Scheduler, 0);
        let mail = sink.wait_for(1, Duration::from_secs(60));
        assert_eq!(mail.len(), 1, "the report arrives");
        let arrived = Utc::now();
        assert!(arrived >= due, "not before {due}");
        assert!(
            arrived < due + Span::seconds(20),
            "within a few looks of {due}: {arrived}"
        );
        assert_matches_the_statistics(&cluster, &mail[0], &mailings).await;

        // The killed one comes back the same day: the report went out already.
        cluster.restart_replica(Service::Scheduler, 0).await;
        let later = sink.wait_for(2, Duration::from_secs(12));
        assert_eq!(later.len(), 1, "exactly one e-mail: {later:?}");
        let health = cluster.health(Service::Scheduler).await;
        assert_eq!(health["daily_report"]["state"], "sent", "{health}");
    })
    .await;
}

scenario!(one_email_arrives_at_its_time_from_two_schedulers_one_killed: distributed);

async fn a_report_whose_time_passed_while_down_goes_out_at_the_next_start(setup: Setup) {
    bounded(NAME, Duration::from_secs(240), async {
        let sink = SmtpSink::start();
        let due = report_time(Span::seconds(75)).await;
        let mut cluster = Cluster::start(&options(setup, &sink, due)).await;
        let mailings = a_day_of_mailings(&cluster).await;
        cluster.kill(Service::Scheduler);
        let until_after = (due + Span::seconds(3) - Utc::now())
            .to_std()
            .unwrap_or_default();
        tokio::time::sleep(until_after).await;
        assert!(sink.received().is_empty(), "nobody ran at the time");

        cluster.restart(Service::Scheduler).await;
        let mail = sink.wait_for(1, Duration::from_secs(30));
        assert_eq!(mail.len(), 1, "sent late rather than never");
        assert_matches_the_statistics(&cluster, &mail[0], &mailings).await;
        let later = sink.wait_for(2, Duration::from_secs(8));
        assert_eq!(later.len(), 1, "once: {later:?}");
    })
    .await;
}

scenario!(a_report_whose_time_passed_while_down_goes_out_at_the_next_start: embedded);
