//! The daily report against a real database and a real SMTP server (aiosmtpd): the e-mail's
//! parts and numbers, one e-mail however many schedulers look, and a server that refuses at
//! first getting the report later.

use chrono::{DateTime, Duration, NaiveTime, Utc};
use mailing_domain::report::{ReportCalendar, ReportDay};
use mailing_domain::store::{
    FilterSource, MailingDraft, NewClient, NewMessage, NewOperator, Store,
};
use mailing_domain::{
    Attributes, ClientFilter, MailingSchedule, MailingText, MessageStatus, OperatorCode,
    PhoneNumber, TimeZone,
};
use mailing_reports::testing::{SinkOptions, SmtpSink};
use mailing_reports::{Mailer, ReportLoop, Sending, compose};
use mailing_runtime::settings::{ReportSettings, SmtpSettings};
use mailing_storage::testing::TestDatabase;
use secrecy::SecretString;
use std::sync::Arc;
use std::time::Duration as StdDuration;

const WAIT: StdDuration = StdDuration::from_secs(20);

fn calendar(day: ReportDay) -> ReportCalendar {
    ReportCalendar {
        time: NaiveTime::MIN,
        zone: chrono_tz::UTC,
        day,
    }
}

fn mailer(url: String) -> Mailer {
    let report = ReportSettings {
        calendar: calendar(ReportDay::Current),
        recipients: vec!["ops@example.com".to_owned(), "lead@example.com".to_owned()],
        from: "Mailing reports <reports@example.com>".to_owned(),
        admin_url: "https://mailing.example.com/admin".parse().unwrap(),
    };
    let smtp = SmtpSettings {
        url: SecretString::from(url),
        timeout: StdDuration::from_secs(10),
    };
    Mailer::from_settings(Some(&smtp), &report)
        .unwrap()
        .expect("recipients and a server make a mailer")
}

/// A mailing running today with three messages sent now (one after a retry), one refused for
/// good and one waiting.
fn a_day_of_sending(store: &dyn Store, now: DateTime<Utc>) -> i64 {
    store
        .create_operator(&NewOperator {
            code: OperatorCode::parse("mts").unwrap(),
            name: mailing_domain::operator::OperatorName::parse("MTS").unwrap(),
            price_per_segment: None,
        })
        .unwrap();
    let clients: Vec<_> = (0..5)
        .map(|i| {
            store
                .create_client(&NewClient {
                    phone: PhoneNumber::parse(&format!("7900000000{i}")).unwrap(),
                    operator_code: OperatorCode::parse("mts").unwrap(),
                    tags: vec![],
                    time_zone: TimeZone::utc(),
                    attributes: Attributes::default(),
                })
                .unwrap()
                .id
        })
        .collect();
    let mailing = store
        .create_mailing(&MailingDraft {
            text: MailingText::parse("Our shop opens at 9 <b>sharp</b>").unwrap(),
            schedule: MailingSchedule::new(
                now - Duration::minutes(10),
                now + Duration::hours(1),
                false,
                None,
            )
            .unwrap(),
            filter: FilterSource::Inline(ClientFilter::default()),
            frequency_cap: None,
            auto_pause: Default::default(),
        })
        .unwrap();
    let message = |client, status, attempts, error: Option<&str>| NewMessage {
        mailing_id: mailing.id,
        client_id: client,
        status,
        attempts,
        next_attempt_at: None,
        sent_at: (status == MessageStatus::Sent).then_some(now - Duration::minutes(1)),
        last_error: error.map(str::to_owned),
    };
    store
        .insert_messages(&[
            message(clients[0], MessageStatus::Sent, 1, None),
            message(clients[1], MessageStatus::Sent, 1, None),
            message(clients[2], MessageStatus::Sent, 2, None),
            message(
                clients[3],
                MessageStatus::Failed,
                1,
                Some("the provider refused the number"),
            ),
            message(clients[4], MessageStatus::Scheduled, 0, None),
        ])
        .unwrap();
    mailing.id.0
}

#[tokio::test(flavor = "multi_thread")]
async fn the_email_has_both_parts_with_the_days_numbers_and_a_link() {
    let db = TestDatabase::create();
    let store = db.store();
    let now = Utc::now();
    let mailing = a_day_of_sending(&*store, now);
    let sink = SmtpSink::start();
    let today = now.date_naive();
    let report = compose(&*store, today, chrono_tz::UTC, now).unwrap();
    assert_eq!(report.totals.sent, 3);
    assert_eq!(report.totals.failed, 1);
    assert_eq!(report.totals.mailings, 1);
    assert_eq!(report.totals.delivery_rate, Some(0.75));
    assert_eq!(report.provider.retry_share, Some(1.0 / 3.0));
    assert_eq!(report.mailings[0].now.scheduled, 1);

    let sent = mailer(sink.url())
        .send(&report, Sending::Scheduled, now)
        .await
        .unwrap();
    let mail = sink.wait_for(1, WAIT);
    assert_eq!(mail.len(), 1);
    let mail = &mail[0];
    assert_eq!(mail.content_type, "multipart/alternative");
    assert!(
        mail.parts.contains(&"text/plain".to_owned()),
        "{:?}",
        mail.parts
    );
    assert!(
        mail.parts.contains(&"text/html".to_owned()),
        "{:?}",
        mail.parts
    );
    assert_eq!(mail.rcpt_tos, ["ops@example.com", "lead@example.com"]);
    assert_eq!(mail.mail_from, "reports@example.com");
    assert_eq!(mail.message_id, sent.message_id);
    assert_eq!(
        mail.subject,
        format!("Mailing daily report for {today}: 3 sent, 75.0% delivered")
    );
    let text = mail.text.as_deref().unwrap();
    let html = mail.html.as_deref().unwrap();
    let link = format!("https://mailing.example.com/admin/reports/daily?date={today}");
    for part in [text, html] {
        assert!(part.contains(&link), "the link to the admin UI: {part}");
        assert!(
            part.contains(&format!("#{mailing} Our shop opens at 9")),
            "{part}"
        );
        assert!(part.contains("the provider refused the number"), "{part}");
        assert!(part.contains("33.3%"), "the retry share: {part}");
    }
    assert!(
        text.contains("that day: 3 sent (0 segments), 1 failed, 0 expired"),
        "{text}"
    );
    assert!(
        text.contains("5 messages: 3 sent, 1 failed, 0 expired, 1 waiting"),
        "the counts so far, as the statistics show them: {text}"
    );
    assert!(
        html.contains("&#60;b&#62;sharp"),
        "the text is escaped: {html}"
    );
    assert!(!html.contains("<b>sharp"), "{html}");
    assert!(
        html.contains("<meta name=\"viewport\""),
        "readable on a phone"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_server_is_signed_in_to_with_the_urls_user_and_password() {
    let db = TestDatabase::create();
    let store = db.store();
    let now = Utc::now();
    let sink = SmtpSink::start_with(SinkOptions {
        credentials: Some(("reports@example.com".to_owned(), "p@ss:word".to_owned())),
        ..SinkOptions::default()
    });
    let report = compose(&*store, now.date_naive(), chrono_tz::UTC, now).unwrap();
    let wrong = mailer(sink.url_with("reports%40example.com", "nope"))
        .send(&report, Sending::Manual, now)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        !wrong.contains("nope"),
        "the password is never told: {wrong}"
    );
    assert!(sink.received().is_empty());
    mailer(sink.url_with("reports%40example.com", "p%40ss%3Aword"))
        .send(&report, Sending::Manual, now)
        .await
        .unwrap();
    let mail = sink.wait_for(1, WAIT);
    assert_eq!(
        mail[0].authenticated_as.as_deref(),
        Some("reports@example.com")
    );
}

fn report_loop(store: &Arc<dyn Store>, mailer: Mailer) -> ReportLoop {
    ReportLoop::new(store.clone(), calendar(ReportDay::Current), mailer)
}

#[tokio::test(flavor = "multi_thread")]
async fn two_schedulers_looking_at_once_send_one_email() {
    let db = TestDatabase::create();
    let store = db.store();
    let now = Utc::now();
    a_day_of_sending(&*store, now);
    let sink = SmtpSink::start();
    let first = report_loop(&store, mailer(sink.url()));
    let second = report_loop(&store, mailer(sink.url()));
    for _ in 0..3 {
        let (a, b) = tokio::join!(first.check(now), second.check(now));
        a.unwrap();
        b.unwrap();
    }
    let mail = sink.wait_for(2, StdDuration::from_secs(3));
    assert_eq!(mail.len(), 1, "{mail:?}");
    let record = store.daily_report(now.date_naive()).unwrap().unwrap();
    assert_eq!(record.attempts, 1);
    assert_eq!(record.sent.unwrap().message_id, mail[0].message_id);
    for status in [first.status(), second.status()] {
        assert_eq!(status.lock().unwrap().state, "sent");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_server_that_refuses_at_first_gets_the_report_after_the_backoff() {
    let db = TestDatabase::create();
    let store = db.store();
    let now = Utc::now();
    a_day_of_sending(&*store, now);
    let sink = SmtpSink::start_with(SinkOptions {
        refuse_first: 1,
        ..SinkOptions::default()
    });
    let scheduler = report_loop(&store, mailer(sink.url()));
    scheduler.check(now).await.unwrap();
    let record = store.daily_report(now.date_naive()).unwrap().unwrap();
    assert!(record.sent.is_none());
    let error = record.last_error.unwrap();
    assert!(error.contains("451"), "the server's answer: {error}");
    assert!(record.next_attempt_at > now + Duration::seconds(9));
    {
        let status = scheduler.status();
        let status = status.lock().unwrap();
        assert_eq!(status.state, "retrying");
        assert_eq!(status.attempts, 1);
    }

    scheduler.check(now + Duration::seconds(5)).await.unwrap();
    assert!(sink.received().is_empty(), "not before the backoff ends");
    scheduler.check(now + Duration::seconds(12)).await.unwrap();
    let mail = sink.wait_for(1, WAIT);
    assert_eq!(mail.len(), 1);
    let record = store.daily_report(now.date_naive()).unwrap().unwrap();
    assert_eq!(record.attempts, 2);
    assert!(record.sent.is_some());
    assert_eq!(record.last_error, None);
}

#[tokio::test(flavor = "multi_thread")]
async fn nothing_is_sent_before_the_configured_time() {
    let db = TestDatabase::create();
    let store = db.store();
    let sink = SmtpSink::start();
    let now = Utc::now();
    let later = ReportCalendar {
        time: (now + Duration::hours(1)).time(),
        ..calendar(ReportDay::Current)
    };
    // Not near midnight, where "an hour later" is tomorrow.
    if later.todays_report(now).due_at <= now {
        return;
    }
    let scheduler = ReportLoop::new(store.clone(), later, mailer(sink.url()));
    scheduler.check(now).await.unwrap();
    assert_eq!(scheduler.status().lock().unwrap().state, "waiting");
    assert_eq!(store.daily_report(now.date_naive()).unwrap(), None);
}
