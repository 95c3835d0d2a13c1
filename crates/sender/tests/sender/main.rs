//! One send job at a time through the sender service (built as the binary builds it, driven
//! through its one-step entry point), against a real database, broker and the project's probe
//! simulator, with the outcome read back from the database.

use chrono::{Duration, Utc};
use mailing_bus::testing::TestBus;
use mailing_bus::{Bus, Topic};
use mailing_domain::events::{self, SendJob};
use mailing_domain::opt_out::{NewOptOut, SUPPRESSED_REASON};
use mailing_domain::store::SenderStore;
use mailing_domain::store::{
    FilterSource, MailingDraft, Message, MessageQuery, NewClient, NewOperator, PageRequest, Store,
    storage_instant,
};
use mailing_domain::{
    ClientFilter, MailingId, MailingSchedule, MailingText, MessageStatus, OperatorCode,
    OperatorName, OptOutSource, PhoneNumber, SendWindow, TimeZone,
};
use mailing_runtime::{Handles, Program, Settings, Stopper, stop};
use mailing_sender::SenderService;
use mailing_sender::breaker::OpenReason;
use mailing_storage::testing::TestDatabase;
use probe_sim::state::ConfigPatch;
use secrecy::{ExposeSecret as _, SecretString};
use std::sync::Arc;

mod logs;
mod retry_after;

const SECRET: &str = "sender-tests-secret-0123456789abcdef";

struct Fixture {
    _db: TestDatabase,
    store: Arc<dyn Store>,
    test_bus: TestBus,
    bus: Arc<dyn Bus>,
    sim: actix_web::web::Data<probe_sim::state::SimState>,
    sim_port: u16,
}

async fn fixture() -> Fixture {
    let db = tokio::task::spawn_blocking(TestDatabase::create)
        .await
        .unwrap();
    let store = db.store();
    let test_bus = TestBus::new();
    let bus = test_bus.connect("sender").await;
    let sim = probe_sim::Simulator::build(probe_sim::SimSettings::for_tests(SECRET)).unwrap();
    let (sim_port, state) = (sim.port(), sim.state());
    tokio::spawn(sim.run_until_stopped());
    let operators = store.clone();
    tokio::task::spawn_blocking(move || {
        operators
            .create_operator(&NewOperator {
                code: OperatorCode::parse("bln").unwrap(),
                name: OperatorName::parse("Beeline").unwrap(),
                price_per_segment: None,
            })
            .unwrap();
    })
    .await
    .unwrap();
    Fixture {
        _db: db,
        store,
        test_bus,
        bus,
        sim: state,
        sim_port,
    }
}

/// A sender under test, built as the binary builds it, driven one job at a time.
struct TestSender {
    service: SenderService,
    stopper: Stopper,
}

impl TestSender {
    /// Stops it as a signal would: whatever it holds is finished and committed. Returns why
    /// sending was paused at the end, if it was.
    async fn finish(self) -> Option<OpenReason> {
        let paused = self.service.paused();
        self.stopper.stop();
        self.service
            .run_until_stopped()
            .await
            .expect("the sender stops cleanly");
        paused
    }
}

fn token(secret: &str) -> SecretString {
    let now = Utc::now().timestamp();
    SecretString::from(probe_sim::token::mint(secret.as_bytes(), "tests", now, 3600).unwrap())
}

impl Fixture {
    /// Clients in `zone`, a mailing to them with `window`, expanded and claimed: the state a
    /// send job finds its messages in.
    async fn claimed_messages(
        &self,
        clients: usize,
        window: Option<SendWindow>,
    ) -> (MailingId, SendJob) {
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || {
            for i in 0..clients {
                store
                    .create_client(&NewClient {
                        phone: PhoneNumber::parse(&format!("7900000{i:04}")).unwrap(),
                        operator_code: OperatorCode::parse("bln").unwrap(),
                        tags: vec![],
                        time_zone: TimeZone::utc(),
                        attributes: mailing_domain::Attributes::default(),
                    })
                    .unwrap();
            }
            let now = Utc::now();
            let mailing = store
                .create_mailing(&MailingDraft {
                    text: MailingText::parse("Hello from the tests").unwrap(),
                    schedule: MailingSchedule::new(
                        now - Duration::minutes(1),
                        now + Duration::days(1),
                        false,
                        window,
                    )
                    .unwrap(),
                    filter: FilterSource::Inline(ClientFilter::default()),
                    frequency_cap: None,
                    auto_pause: Default::default(),
                })
                .unwrap();
            store.expand_mailing(mailing.id, now).unwrap();
            // A closed window leaves the messages waiting; claim them anyway (as a scheduler
            // that planned under an older window would have) by claiming as of later.
            let claim_at = if window.is_some() {
                now + Duration::hours(7)
            } else {
                now
            };
            let claimed = store.claim_due(claim_at, 1000).unwrap();
            assert_eq!(claimed.len(), clients, "every message is claimed");
            let job = SendJob {
                message_ids: claimed,
                claimed_at: storage_instant(claim_at),
            };
            (mailing.id, job)
        })
        .await
        .unwrap()
    }

    /// Runs one job through a sender whose probe client uses `token`; every outcome is
    /// committed when this returns. Returns why sending was paused, if it was.
    async fn run_job(&self, job: SendJob, token: SecretString) -> Option<OpenReason> {
        self.run_job_renewing(job, token, std::time::Duration::from_secs(30))
            .await
    }

    /// As [`Fixture::run_job`], with claims counted fresh for `claim_renew_every`.
    async fn run_job_renewing(
        &self,
        job: SendJob,
        token: SecretString,
        claim_renew_every: std::time::Duration,
    ) -> Option<OpenReason> {
        self.bus
            .publish(Topic::SendJobs, vec![events::encode(&job)])
            .await
            .unwrap();
        let sender = self.sender(token, claim_renew_every, 16).await;
        let mut subscription = self.bus.subscribe(Topic::SendJobs, 1).await.unwrap();
        let delivery = subscription.next().await.unwrap().unwrap();
        sender.service.run_one_job(delivery).await;
        sender.finish().await
    }

    /// A sender with at most `concurrency` attempts in flight.
    async fn sender(
        &self,
        token: SecretString,
        claim_renew_every: std::time::Duration,
        concurrency: usize,
    ) -> TestSender {
        self.sender_with_timeout(
            token,
            claim_renew_every,
            concurrency,
            std::time::Duration::from_secs(2),
        )
        .await
    }

    async fn sender_with_timeout(
        &self,
        token: SecretString,
        claim_renew_every: std::time::Duration,
        concurrency: usize,
        probe_timeout: std::time::Duration,
    ) -> TestSender {
        let vars = [
            ("MAILING_SENDER_HEALTH_ADDR", "127.0.0.1:0".to_owned()),
            (
                "MAILING_PROBE_URL",
                format!("http://127.0.0.1:{}", self.sim_port),
            ),
            ("MAILING_PROBE_TOKEN", token.expose_secret().to_owned()),
            (
                "MAILING_PROBE_TIMEOUT_MS",
                probe_timeout.as_millis().to_string(),
            ),
            ("MAILING_SENDER_CONCURRENCY", concurrency.to_string()),
            (
                "MAILING_SENDER_CLAIM_RENEW_MS",
                claim_renew_every.as_millis().max(1).to_string(),
            ),
            ("MAILING_SENDER_BREAKER_THRESHOLD", "100".to_owned()),
            ("MAILING_SENDER_RETRY_BASE_MS", "10000".to_owned()),
            ("MAILING_SENDER_RETRY_CAP_MS", "60000".to_owned()),
            ("MAILING_SENDER_OUTCOME_BATCH", "100".to_owned()),
            ("MAILING_SENDER_OUTCOME_FLUSH_MS", "5".to_owned()),
        ];
        let settings = Settings::load_from(
            Program::Sender,
            vars.into_iter()
                .map(|(name, value)| (name.to_owned(), value)),
        )
        .expect("valid settings");
        let (stopper, stop) = stop::channel();
        let handles: Handles<dyn SenderStore> = Handles {
            store: self.store.clone(),
            bus: self.test_bus.connect("sender-service").await,
            stop,
        };
        let service = SenderService::build(&settings, handles).expect("the sender builds");
        TestSender { service, stopper }
    }

    async fn messages(&self, mailing: MailingId) -> Vec<Message> {
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || {
            store
                .list_messages(
                    &MessageQuery {
                        mailing_id: Some(mailing),
                        ..Default::default()
                    },
                    PageRequest {
                        offset: 0,
                        limit: 1000,
                    },
                )
                .unwrap()
                .items
        })
        .await
        .unwrap()
    }

    /// Waits until the broker has no job left, acknowledged or waiting.
    async fn job_acknowledged(&self) -> bool {
        for _ in 0..50 {
            if self.bus.pending(Topic::SendJobs).await.unwrap() == 0 {
                return true;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        false
    }
}

#[tokio::test]
async fn accepted_messages_are_sent_and_the_job_acknowledged() {
    let f = fixture().await;
    let (mailing, job) = f.claimed_messages(5, None).await;
    f.run_job(job, token(SECRET)).await;

    let messages = f.messages(mailing).await;
    assert!(
        messages
            .iter()
            .all(|m| m.status == MessageStatus::Sent && m.attempts == 1)
    );
    assert!(messages.iter().all(|m| m.sent_at.is_some()));
    let stats = f.sim.stats();
    assert_eq!((stats.received_ok_total, stats.duplicates), (5, 0));
    assert!(f.job_acknowledged().await);
    f.test_bus.finish().await;
}

#[tokio::test]
async fn claims_older_than_the_renewal_period_are_renewed_then_sent() {
    let f = fixture().await;
    let (mailing, job) = f.claimed_messages(3, None).await;
    // Every claim counts as old: the job takes the renewing path.
    f.run_job_renewing(job, token(SECRET), std::time::Duration::ZERO)
        .await;

    let messages = f.messages(mailing).await;
    assert!(
        messages.iter().all(|m| m.status == MessageStatus::Sent),
        "renewed claims are attempted: {messages:?}"
    );
    let stats = f.sim.stats();
    assert_eq!((stats.received_ok_total, stats.duplicates), (3, 0));
    assert!(f.job_acknowledged().await);
    f.test_bus.finish().await;
}

#[tokio::test]
async fn server_errors_are_retried_later_with_the_error_kept() {
    let f = fixture().await;
    f.sim
        .update(&ConfigPatch::from_json(br#"{"error_500_share": 1.0}"#).unwrap())
        .unwrap();
    let (mailing, job) = f.claimed_messages(2, None).await;
    let before = Utc::now();
    f.run_job(job, token(SECRET)).await;

    for message in f.messages(mailing).await {
        assert_eq!(message.status, MessageStatus::Retrying);
        assert_eq!(message.attempts, 1);
        assert!(message.last_error.as_deref().unwrap().contains("500"));
        // The first backoff is half to all of the 10 s base.
        let next = message.next_attempt_at.unwrap();
        assert!(next >= before + Duration::seconds(5), "{next}");
    }
    assert_eq!(f.sim.stats().received_ok_total, 0);
    f.test_bus.finish().await;
}

#[tokio::test]
async fn a_rejected_token_pauses_sending_and_keeps_every_message() {
    let f = fixture().await;
    let (mailing, job) = f.claimed_messages(3, None).await;
    let paused = f
        .run_job(job, token("a-secret-the-probe-does-not-know-000"))
        .await;

    assert_eq!(paused, Some(OpenReason::TokenRejected));
    for message in f.messages(mailing).await {
        // Back to waiting, no attempt counted, nothing lost.
        assert_eq!(message.status, MessageStatus::Scheduled);
        assert_eq!(message.attempts, 0);
        assert!(message.next_attempt_at.unwrap() > Utc::now());
    }
    // Only requests already in flight when the first refusal came back reached the probe.
    assert!(f.sim.stats().by_outcome["unauthorized"] <= 3);
    f.test_bus.finish().await;
}

#[tokio::test]
async fn a_closed_window_defers_without_calling_the_probe() {
    let f = fixture().await;
    // A one-minute window far from now in UTC.
    let opening = (Utc::now() + Duration::hours(6)).time();
    let start = opening.format("%H:%M").to_string();
    let end = (opening + Duration::minutes(1)).format("%H:%M").to_string();
    let window = SendWindow::parse(&start, &end).unwrap();
    let (mailing, job) = f.claimed_messages(2, Some(window)).await;
    f.run_job(job, token(SECRET)).await;

    for message in f.messages(mailing).await {
        assert_eq!(message.status, MessageStatus::Scheduled);
        assert!(message.next_attempt_at.unwrap() > Utc::now() + Duration::hours(5));
    }
    assert_eq!(f.sim.stats().requests_total, 0);
    f.test_bus.finish().await;
}

#[tokio::test]
async fn messages_of_a_cancelled_mailing_are_never_attempted() {
    let f = fixture().await;
    let (mailing, job) = f.claimed_messages(2, None).await;
    // Cancelled after the claim, before the job runs. Cancelling settles claimed messages
    // itself, so the worker finds nothing left to do.
    let store = f.store.clone();
    tokio::task::spawn_blocking(move || store.cancel_mailing(mailing, Utc::now()).unwrap())
        .await
        .unwrap();
    f.run_job(job, token(SECRET)).await;

    for message in f.messages(mailing).await {
        assert_eq!(message.status, MessageStatus::Cancelled);
    }
    assert_eq!(f.sim.stats().requests_total, 0);
    assert!(f.job_acknowledged().await);
    f.test_bus.finish().await;
}

#[tokio::test]
async fn a_number_that_opted_out_after_the_claim_is_suppressed_not_sent() {
    let f = fixture().await;
    let (mailing, job) = f.claimed_messages(3, None).await;
    // The first client's number opts out while its message waits in the job.
    let store = f.store.clone();
    tokio::task::spawn_blocking(move || {
        store
            .add_opt_out(&NewOptOut {
                phone: PhoneNumber::parse("79000000000").unwrap(),
                source: OptOutSource::Inbound,
                reason: None,
            })
            .unwrap()
    })
    .await
    .unwrap();
    f.run_job(job, token(SECRET)).await;

    let messages = f.messages(mailing).await;
    let suppressed: Vec<&Message> = messages
        .iter()
        .filter(|m| m.status == MessageStatus::Suppressed)
        .collect();
    assert_eq!(suppressed.len(), 1, "{messages:?}");
    assert_eq!(
        suppressed[0].phone.as_ref().map(PhoneNumber::as_str),
        Some("79000000000")
    );
    assert_eq!(suppressed[0].last_error.as_deref(), Some(SUPPRESSED_REASON));
    assert_eq!(suppressed[0].attempts, 0);
    let sent = messages
        .iter()
        .filter(|m| m.status == MessageStatus::Sent)
        .count();
    assert_eq!(sent, 2, "{messages:?}");
    // The probe heard only of the other two.
    assert_eq!(f.sim.stats().requests_total, 2);
    assert!(f.job_acknowledged().await);
    f.test_bus.finish().await;
}

#[tokio::test]
async fn a_job_the_broker_takes_back_is_left_to_its_next_holder() {
    let f = fixture().await;
    // One request at a time, each taking a while, so the job is mid-way when its connection
    // goes.
    f.sim
        .update(&ConfigPatch::from_json(br#"{"latency_ms": 100}"#).unwrap())
        .unwrap();
    let (mailing, job) = f.claimed_messages(10, None).await;
    f.bus
        .publish(Topic::SendJobs, vec![events::encode(&job)])
        .await
        .unwrap();
    // Generous timeouts: a busy machine must not turn a slow reply into a retry, which would
    // leave a message to neither holder and hide what this test is about.
    let patient = std::time::Duration::from_secs(30);
    let first = f
        .sender_with_timeout(token(SECRET), patient, 1, patient)
        .await;
    let mut subscription = f.bus.subscribe(Topic::SendJobs, 1).await.unwrap();
    let delivery = subscription.next().await.unwrap().unwrap();
    let taking_back = async {
        while f.sim.stats().requests_total < 3 {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        // The broker takes the job back, as when the connection breaks or the broker
        // restarts, and will hand it out again: this sender must not go on with it.
        f.test_bus.force_close_connection("sender");
    };
    tokio::join!(first.service.run_one_job(delivery), taking_back);
    first.finish().await;
    let attempted = f.sim.stats().requests_total;
    assert!(
        attempted <= 4,
        "{attempted} of the 10 messages went to the probe: the sender went on with a job it no longer held"
    );
    let queued = f
        .messages(mailing)
        .await
        .into_iter()
        .filter(|m| m.status == MessageStatus::Queued)
        .count() as u64;
    assert_eq!(
        queued,
        10 - attempted,
        "the rest wait for the job's next holder"
    );

    // Its next holder sends the rest, each once.
    let redelivered = subscription.next().await.unwrap().unwrap();
    assert!(redelivered.redelivered);
    let second = f
        .sender_with_timeout(token(SECRET), patient, 4, patient)
        .await;
    second.service.run_one_job(redelivered).await;
    second.finish().await;
    let messages = f.messages(mailing).await;
    assert!(
        messages.iter().all(|m| m.status == MessageStatus::Sent),
        "{messages:?}"
    );
    let stats = f.sim.stats();
    assert_eq!((stats.unique_ids, stats.duplicates), (10, 0));
    assert!(f.job_acknowledged().await);
    f.test_bus.finish().await;
}

#[tokio::test]
async fn a_message_goes_to_the_number_it_is_addressed_to() {
    let f = fixture().await;
    let (mailing, job) = f.claimed_messages(1, None).await;
    let addressed = f.messages(mailing).await[0].clone();
    // The client changes number while a sender holds the message: it goes where it was
    // addressed when handed out, and says so.
    let store = f.store.clone();
    let client = addressed.client_id.unwrap();
    tokio::task::spawn_blocking(move || {
        store
            .update_client(
                client,
                &mailing_domain::store::ClientPatch {
                    phone: Some(PhoneNumber::parse("79999999999").unwrap()),
                    ..Default::default()
                },
            )
            .unwrap()
    })
    .await
    .unwrap();
    f.run_job(job, token(SECRET)).await;

    let sent = f.messages(mailing).await.remove(0);
    assert_eq!(sent.status, MessageStatus::Sent);
    assert_eq!(sent.phone, addressed.phone);
    let received = f.sim.recorder().get(sent.id.0).expect("the probe got it");
    assert_eq!(received.phone, addressed.phone.unwrap().as_u64());
    f.test_bus.finish().await;
}
