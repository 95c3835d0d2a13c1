//! Messages are written by the scheduler and the sender, never here; what can be asked of
//! them is a search, whose query is read into domain values the same for every list.

use crate::error::{ApiError, FieldError};
use crate::operations::input::{QueryValue, whole_number};
use crate::operations::paging::Paging;
use crate::operations::problems::Problems;
use mailing_domain::store::MessageQuery;
use mailing_domain::{ClientId, MailingId, MessageStatus};
use paperclip::actix::Apiv2Schema;
use serde::Deserialize;

#[derive(Deserialize, Apiv2Schema)]
#[serde(deny_unknown_fields)]
pub struct MessageListQuery {
    /// Page number, from 1.
    pub page: Option<QueryValue<u32>>,
    /// Items per page, 1 to 500 (default 50).
    pub page_size: Option<QueryValue<u32>>,
    /// Only messages of this mailing.
    pub mailing_id: Option<QueryValue<i64>>,
    /// Only messages to this client.
    pub client_id: Option<QueryValue<i64>>,
    /// One of `scheduled`, `queued`, `sent`, `retrying`, `failed`, `expired`, `cancelled`,
    /// `suppressed`.
    pub status: Option<String>,
}

/// The query of one mailing's messages, beside its statistics.
#[derive(Deserialize, Apiv2Schema)]
#[serde(deny_unknown_fields)]
pub struct MailingStatsQuery {
    /// Page of messages, from 1.
    pub page: Option<QueryValue<u32>>,
    /// Messages per page, 1 to 500 (default 50).
    pub page_size: Option<QueryValue<u32>>,
    /// Only messages in this status.
    pub status: Option<String>,
}

/// Parses a `status` query parameter.
pub fn parse_status(raw: Option<String>, problems: &mut Problems) -> Option<MessageStatus> {
    let raw = raw?;
    match raw.parse() {
        Ok(status) => Some(status),
        Err(error) => {
            problems.push(FieldError::new(
                "status",
                "unknown_status",
                error.to_string(),
            ));
            None
        }
    }
}

impl MessageListQuery {
    /// The conditions and the page asked for; problems make a 400.
    pub fn parse(self) -> Result<(MessageQuery, Paging), ApiError> {
        let mut problems = Problems::default();
        let paging = Paging::read(self.page.as_ref(), self.page_size.as_ref(), &mut problems);
        let id = |field: &str, raw: Option<QueryValue<i64>>, problems: &mut Problems| {
            raw.and_then(|raw| whole_number(field, raw.raw(), 1, i64::MAX, problems))
        };
        let mailing_id = id("mailing_id", self.mailing_id, &mut problems);
        let client_id = id("client_id", self.client_id, &mut problems);
        let status = parse_status(self.status, &mut problems);
        problems.finish_query(|| {
            let filter = MessageQuery {
                mailing_id: mailing_id.map(MailingId),
                client_id: client_id.map(ClientId),
                status,
                phone_prefix: None,
            };
            (filter, paging.expect("checked"))
        })
    }
}

impl MailingStatsQuery {
    /// The mailing's messages asked for, and the page; problems make a 400.
    pub fn parse(self, mailing_id: MailingId) -> Result<(MessageQuery, Paging), ApiError> {
        MessageListQuery {
            page: self.page,
            page_size: self.page_size,
            mailing_id: Some(QueryValue::of(mailing_id.0)),
            client_id: None,
            status: self.status,
        }
        .parse()
    }
}
