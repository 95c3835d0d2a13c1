use chrono::{DateTime, TimeZone as _, Utc};
use mailing_domain::store::{
    Client, FilterSource, Mailing, MailingDraft, NewClient, NewMessage, NewOperator,
    NewSavedFilter, Operator, PageRequest, Rejection, SavedFilter, Store, StoreError, StoreResult,
};
use mailing_domain::{
    ClientFilter, ClientId, ExpiryReason, MailingId, MailingSchedule, MailingText, MessageStatus,
    OperatorCode, OperatorName, PhoneNumber, TagValue, TimeZone,
};
use std::fmt::Debug;

pub const ALL: PageRequest = PageRequest {
    offset: 0,
    limit: 1000,
};

pub fn page(offset: u64, limit: u32) -> PageRequest {
    PageRequest { offset, limit }
}

pub fn code(raw: &str) -> OperatorCode {
    OperatorCode::parse(raw).unwrap()
}

pub fn tag(raw: &str) -> TagValue {
    TagValue::parse(raw).unwrap()
}

pub fn phone(raw: &str) -> PhoneNumber {
    PhoneNumber::parse(raw).unwrap()
}

pub fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
}

pub fn filter(codes: &[&str], tags: &[&str]) -> ClientFilter {
    ClientFilter::new(codes.iter().map(|c| code(c)), tags.iter().map(|t| tag(t))).unwrap()
}

/// The rejection a call was refused with; panics on success or any other error.
#[track_caller]
pub fn rejection<T: Debug>(result: StoreResult<T>) -> Rejection {
    match result {
        Err(StoreError::Rejected(rejection)) => rejection,
        other => panic!("expected a rejection, got {other:?}"),
    }
}

#[track_caller]
pub fn assert_not_found<T: Debug>(result: StoreResult<T>, entity: mailing_domain::store::Entity) {
    match result {
        Err(StoreError::NotFound(found)) => assert_eq!(found, entity),
        other => panic!("expected {entity} not found, got {other:?}"),
    }
}

pub fn operator(store: &dyn Store, raw_code: &str) -> Operator {
    store
        .create_operator(&NewOperator {
            code: code(raw_code),
            name: OperatorName::parse(&format!("Operator {raw_code}")).unwrap(),
            price_per_segment: None,
        })
        .unwrap()
}

pub fn client(store: &dyn Store, raw_phone: &str, raw_code: &str, tags: &[&str]) -> Client {
    store
        .create_client(&NewClient {
            phone: phone(raw_phone),
            operator_code: code(raw_code),
            tags: tags.iter().map(|t| tag(t)).collect(),
            time_zone: TimeZone::parse("Europe/Moscow").unwrap(),
            attributes: mailing_domain::Attributes::default(),
        })
        .unwrap()
}

pub fn saved_filter(store: &dyn Store, codes: &[&str], tags: &[&str]) -> SavedFilter {
    store
        .create_client_filter(&NewSavedFilter {
            name: Some("saved".to_owned()),
            filter: filter(codes, tags),
        })
        .unwrap()
}

pub fn schedule(start: DateTime<Utc>, end: DateTime<Utc>) -> MailingSchedule {
    MailingSchedule::new(start, end, false, None).unwrap()
}

pub fn draft(start: DateTime<Utc>, end: DateTime<Utc>, source: FilterSource) -> MailingDraft {
    MailingDraft {
        text: MailingText::parse("Hello").unwrap(),
        schedule: schedule(start, end),
        filter: source,
        frequency_cap: None,
        auto_pause: Default::default(),
    }
}

/// A mailing from 2030-01-01 10:00 to 12:00 UTC that reaches everyone.
pub fn mailing(store: &dyn Store) -> Mailing {
    store
        .create_mailing(&draft(
            utc(2030, 1, 1, 10, 0),
            utc(2030, 1, 1, 12, 0),
            FilterSource::Inline(ClientFilter::default()),
        ))
        .unwrap()
}

/// An expired one says why, as the database requires.
pub fn new_message(mailing: MailingId, client: ClientId, status: MessageStatus) -> NewMessage {
    let sent = status == MessageStatus::Sent;
    NewMessage {
        mailing_id: mailing,
        client_id: client,
        status,
        attempts: u32::from(sent),
        next_attempt_at: None,
        sent_at: sent.then(|| utc(2030, 1, 1, 10, 30)),
        last_error: (status == MessageStatus::Expired)
            .then(|| ExpiryReason::EndedBeforeTurn.to_string()),
    }
}
