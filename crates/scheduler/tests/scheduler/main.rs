//! The scheduler's tick against a real database and broker, driven with explicit instants.

use chrono::{DateTime, Duration, Utc};
use mailing_bus::testing::TestBus;
use mailing_bus::{Bus, Topic};
use mailing_domain::events::{self, SendJob};
use mailing_domain::store::{FilterSource, MailingDraft, NewClient, NewOperator, Store};
use mailing_domain::{
    ClientFilter, ClientId, MailingId, MailingSchedule, MailingText, MessageId, MessageStatus,
    OperatorCode, OperatorName, PhoneNumber, TimeZone,
};
use mailing_scheduler::Scheduler;
use mailing_storage::testing::TestDatabase;
use std::collections::BTreeSet;
use std::sync::Arc;

struct Fixture {
    _db: TestDatabase,
    store: Arc<dyn Store>,
    bus_namespace: TestBus,
    bus: Arc<dyn Bus>,
    scheduler: Scheduler,
}

async fn fixture() -> Fixture {
    let db = tokio::task::spawn_blocking(TestDatabase::create)
        .await
        .unwrap();
    let store = db.store();
    let bus_namespace = TestBus::new();
    let bus = bus_namespace.connect("scheduler").await;
    let scheduler = Scheduler::new(
        store.clone(),
        bus.clone(),
        1000,
        2,
        std::time::Duration::from_secs(60),
    );
    let operators = store.clone();
    tokio::task::spawn_blocking(move || {
        for code in ["bln", "mts"] {
            operators
                .create_operator(&NewOperator {
                    code: OperatorCode::parse(code).unwrap(),
                    name: OperatorName::parse(code).unwrap(),
                    price_per_segment: None,
                })
                .unwrap();
        }
    })
    .await
    .unwrap();
    Fixture {
        _db: db,
        store,
        bus_namespace,
        bus,
        scheduler,
    }
}

impl Fixture {
    async fn client(&self, phone: &str, operator: &str) -> ClientId {
        let store = self.store.clone();
        let new = NewClient {
            phone: PhoneNumber::parse(phone).unwrap(),
            operator_code: OperatorCode::parse(operator).unwrap(),
            tags: vec![],
            time_zone: TimeZone::utc(),
            attributes: mailing_domain::Attributes::default(),
        };
        tokio::task::spawn_blocking(move || store.create_client(&new).unwrap().id)
            .await
            .unwrap()
    }

    async fn mailing(&self, start: DateTime<Utc>, operator: &str) -> MailingId {
        let store = self.store.clone();
        let draft = MailingDraft {
            text: MailingText::parse("Hello").unwrap(),
            schedule: MailingSchedule::new(start, start + Duration::hours(1), false, None).unwrap(),
            filter: FilterSource::Inline(
                ClientFilter::new([OperatorCode::parse(operator).unwrap()], []).unwrap(),
            ),
            frequency_cap: None,
            auto_pause: Default::default(),
        };
        tokio::task::spawn_blocking(move || store.create_mailing(&draft).unwrap().id)
            .await
            .unwrap()
    }

    /// The message ids of the next send jobs on the bus, until `expected` ids were read.
    async fn published_ids(&self, expected: usize) -> BTreeSet<MessageId> {
        let mut ids = BTreeSet::new();
        let mut subscription = self.bus.subscribe(Topic::SendJobs, 10).await.unwrap();
        while ids.len() < expected {
            let delivery =
                tokio::time::timeout(std::time::Duration::from_secs(5), subscription.next())
                    .await
                    .expect("a send job within 5 s")
                    .unwrap()
                    .unwrap();
            let job: SendJob = events::decode(&delivery.payload).unwrap();
            assert!(job.message_ids.len() <= 2, "jobs hold at most job_size ids");
            ids.extend(job.message_ids);
            delivery.ack().await.unwrap();
        }
        ids
    }

    async fn statuses(&self, mailing: MailingId) -> Vec<MessageStatus> {
        self.messages(mailing)
            .await
            .into_iter()
            .map(|m| m.status)
            .collect()
    }

    async fn messages(&self, mailing: MailingId) -> Vec<mailing_domain::store::Message> {
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || {
            store
                .list_messages(
                    &mailing_domain::store::MessageQuery {
                        mailing_id: Some(mailing),
                        ..Default::default()
                    },
                    mailing_domain::store::PageRequest {
                        offset: 0,
                        limit: 100,
                    },
                )
                .unwrap()
                .items
        })
        .await
        .unwrap()
    }
}

#[tokio::test]
async fn a_started_mailing_is_expanded_and_dispatched_once() {
    let f = fixture().await;
    for phone in ["79000000001", "79000000002", "79000000003"] {
        f.client(phone, "bln").await;
    }
    f.client("79000000004", "mts").await;
    let now = Utc::now();
    let mailing = f.mailing(now - Duration::seconds(1), "bln").await;

    let report = f.scheduler.tick(now).await.unwrap();
    assert_eq!(report.mailings_expanded, 1);
    assert_eq!(report.messages_created, 3);
    assert_eq!(report.messages_dispatched, 3);
    assert_eq!(f.statuses(mailing).await, vec![MessageStatus::Queued; 3]);
    assert_eq!(f.published_ids(3).await.len(), 3);
    assert_eq!(f.bus.pending(Topic::SendJobs).await.unwrap(), 0);

    let again = f.scheduler.tick(now).await.unwrap();
    assert_eq!(
        again,
        Default::default(),
        "a second tick finds nothing to do"
    );
    f.bus_namespace.finish().await;
}

#[tokio::test]
async fn a_future_mailing_starts_when_its_time_comes() {
    let f = fixture().await;
    f.client("79000000001", "bln").await;
    let now = Utc::now();
    let mailing = f.mailing(now + Duration::minutes(10), "bln").await;

    let early = f.scheduler.tick(now).await.unwrap();
    assert_eq!(early.messages_created, 0);
    assert!(f.statuses(mailing).await.is_empty());

    let at_start = f.scheduler.tick(now + Duration::minutes(10)).await.unwrap();
    assert_eq!(at_start.messages_created, 1);
    assert_eq!(at_start.messages_dispatched, 1);
    f.bus_namespace.finish().await;
}

#[tokio::test]
async fn messages_a_vanished_sender_left_queued_are_dispatched_again() {
    let f = fixture().await;
    f.client("79000000001", "bln").await;
    let now = Utc::now();
    let mailing = f.mailing(now - Duration::minutes(30), "bln").await;
    let store = f.store.clone();
    tokio::task::spawn_blocking(move || {
        // Expanded earlier; the claim dates from before the lease.
        store
            .expand_mailing(mailing, now - Duration::minutes(30))
            .unwrap();
        let claimed = store.claim_due(now - Duration::minutes(5), 10).unwrap();
        assert_eq!(claimed.len(), 1);
    })
    .await
    .unwrap();

    let report = f.scheduler.tick(now).await.unwrap();
    assert_eq!(report.messages_reclaimed, 1);
    assert_eq!(report.messages_dispatched, 1);
    assert_eq!(f.statuses(mailing).await, vec![MessageStatus::Queued]);
    f.bus_namespace.finish().await;
}

#[tokio::test]
async fn late_messages_expire_instead_of_being_dispatched() {
    let f = fixture().await;
    f.client("79000000001", "bln").await;
    let now = Utc::now();
    let mailing = f.mailing(now - Duration::minutes(30), "bln").await;
    let store = f.store.clone();
    tokio::task::spawn_blocking(move || {
        store
            .expand_mailing(mailing, now - Duration::minutes(30))
            .unwrap();
    })
    .await
    .unwrap();

    // The scheduler was down until after the end.
    let report = f.scheduler.tick(now + Duration::hours(2)).await.unwrap();
    assert_eq!(report.messages_expired, 1);
    assert_eq!(report.messages_dispatched, 0);
    assert_eq!(f.statuses(mailing).await, vec![MessageStatus::Expired]);
    assert_eq!(
        f.messages(mailing).await[0].last_error.as_deref(),
        Some("the mailing ended before its turn came")
    );
    f.bus_namespace.finish().await;
}
