//! Helpers for the delivery-pipeline tests (outbox, scheduler, sender): a database with a few
//! operators, clients in named zones, mailings built from a schedule, and a raw view of the
//! message columns the domain records do not expose (`expires_at`, `queued_at`).

pub use crate::backend::Row;
use crate::backend::{Backend, NewRow, TestDb};
use crate::helpers::*;
use chrono::{DateTime, Utc};
use mailing_domain::store::{Client, FilterSource, Mailing, MailingDraft, NewClient, Store};
use mailing_domain::{
    ClientFilter, MailingId, MailingSchedule, MailingText, MessageId, MessageStatus, SendWindow,
    TimeZone,
};
use std::cell::Cell;
use std::sync::Arc;

pub const MOSCOW: &str = "Europe/Moscow";
pub const VLADIVOSTOK: &str = "Asia/Vladivostok";
pub const UTC: &str = "UTC";

pub fn zone(name: &str) -> TimeZone {
    TimeZone::parse(name).unwrap()
}

/// One test's database on a backend, with operators `bln`, `mts` and `tele2` in place.
pub struct Fixture {
    pub db: TestDb,
    pub store: Arc<dyn Store>,
    next_phone: Cell<u64>,
}

impl Fixture {
    pub fn new(backend: Backend) -> Self {
        let db = TestDb::create(backend);
        let store = db.store();
        for code in ["bln", "mts", "tele2"] {
            operator(&*store, code);
        }
        Self {
            db,
            store,
            // Above the numbers `bulk_clients` hands out, so the two never collide.
            next_phone: Cell::new(79_000_000_000),
        }
    }

    /// A client with a fresh phone number.
    pub fn client(&self, time_zone: &str, operator_code: &str, tags: &[&str]) -> Client {
        let number = self.next_phone.get();
        self.next_phone.set(number + 1);
        self.store
            .create_client(&NewClient {
                phone: phone(&number.to_string()),
                operator_code: code(operator_code),
                tags: tags.iter().map(|t| tag(t)).collect(),
                time_zone: zone(time_zone),
                attributes: mailing_domain::Attributes::default(),
            })
            .unwrap()
    }

    /// `count` `bln` clients in `time_zone`, through SQL. Call it at most once per fixture.
    pub fn bulk_clients(&self, count: u32, time_zone: &str) {
        self.db.bulk_clients(count, time_zone);
    }

    /// Every message of `mailing` as stored, by id.
    pub fn rows(&self, mailing: MailingId) -> Vec<Row> {
        self.db.rows(mailing)
    }

    pub fn row(&self, id: MessageId) -> Row {
        self.db.row(id)
    }

    /// The message `mailing` has for `client`.
    pub fn row_for(&self, mailing: MailingId, client: &Client) -> Row {
        self.rows(mailing)
            .into_iter()
            .find(|row| row.client_id == Some(client.id.0))
            .unwrap_or_else(|| panic!("client {} has no message", client.id))
    }

    /// A message written straight into the table in any state, for a fresh `UTC` client.
    pub fn seed(&self, mailing: MailingId, seed: Seed) -> MessageId {
        let client = self.client(UTC, "bln", &[]);
        let sent = seed.status == MessageStatus::Sent;
        self.db.insert_message(
            mailing,
            client.id,
            &NewRow {
                status: seed.status,
                next_attempt_at: seed.next_attempt_at,
                expires_at: seed.expires_at,
                queued_at: seed.queued_at,
                sent_at: sent.then_some(seed.next_attempt_at).flatten(),
            },
        )
    }

    /// Rows anywhere that break "queued exactly when claimed".
    pub fn claim_mismatches(&self) -> i64 {
        self.db.count(
            "SELECT count(*) AS count FROM messages
             WHERE (status = 'queued') <> (queued_at IS NOT NULL)",
        )
    }
}

/// The state of a seeded message. For `sent`, `next_attempt_at` doubles as `sent_at`.
#[derive(Clone, Copy)]
pub struct Seed {
    pub status: MessageStatus,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub expires_at: Option<DateTime<Utc>>,
    pub queued_at: Option<DateTime<Utc>>,
}

impl Seed {
    /// Waiting in `status` (scheduled or retrying) for `next`, deliverable until `expires`.
    pub fn waiting(status: MessageStatus, next: DateTime<Utc>, expires: DateTime<Utc>) -> Seed {
        Seed {
            status,
            next_attempt_at: Some(next),
            expires_at: Some(expires),
            queued_at: None,
        }
    }

    pub fn queued(at: DateTime<Utc>, expires: DateTime<Utc>) -> Seed {
        Seed {
            status: MessageStatus::Queued,
            next_attempt_at: Some(at),
            expires_at: Some(expires),
            queued_at: Some(at),
        }
    }

    /// A finished message whose old `next_attempt_at` and deadline would make it due.
    pub fn finished(status: MessageStatus, due: DateTime<Utc>, expires: DateTime<Utc>) -> Seed {
        Seed {
            status,
            next_attempt_at: Some(due),
            expires_at: Some(expires),
            queued_at: None,
        }
    }
}

impl Row {
    pub fn id(&self) -> MessageId {
        MessageId(self.id)
    }

    #[track_caller]
    pub fn assert_status(&self, status: MessageStatus) {
        assert_eq!(
            self.status,
            status.as_str(),
            "message {}: {self:?}",
            self.id
        );
    }

    /// Scheduled for `next`, deliverable until `expires`, not claimed.
    #[track_caller]
    pub fn assert_planned(&self, next: DateTime<Utc>, expires: DateTime<Utc>) {
        self.assert_status(MessageStatus::Scheduled);
        assert_eq!(
            (self.next_attempt_at, self.expires_at, self.queued_at),
            (Some(next), Some(expires), None),
            "message {} (next_attempt_at, expires_at, queued_at)",
            self.id
        );
    }
}

/// A mailing to create: a schedule and a filter, reaching everyone unless told otherwise.
#[derive(Clone)]
pub struct Spec {
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    local_time: bool,
    window: Option<SendWindow>,
    filter: ClientFilter,
}

/// A mailing from `start` to `end`, no window, not local, empty filter.
pub fn spec(start: DateTime<Utc>, end: DateTime<Utc>) -> Spec {
    Spec {
        start,
        end,
        local_time: false,
        window: None,
        filter: ClientFilter::default(),
    }
}

impl Spec {
    pub fn window(mut self, start: &str, end: &str) -> Self {
        self.window = Some(SendWindow::parse(start, end).unwrap());
        self
    }

    /// `start` and `end` are wall-clock readings on each client's own clock.
    pub fn local_time(mut self) -> Self {
        self.local_time = true;
        self
    }

    pub fn filter(mut self, filter: ClientFilter) -> Self {
        self.filter = filter;
        self
    }

    pub fn schedule(&self) -> MailingSchedule {
        MailingSchedule::new(self.start, self.end, self.local_time, self.window).unwrap()
    }

    pub fn create(&self, store: &dyn Store) -> Mailing {
        store
            .create_mailing(&MailingDraft {
                text: MailingText::parse("Hello from the pipeline").unwrap(),
                schedule: self.schedule(),
                filter: FilterSource::Inline(self.filter.clone()),
                frequency_cap: None,
                auto_pause: Default::default(),
            })
            .unwrap()
    }
}

/// `ids` sorted, for comparing sets of messages.
pub fn sorted(mut ids: Vec<MessageId>) -> Vec<MessageId> {
    ids.sort();
    ids
}
