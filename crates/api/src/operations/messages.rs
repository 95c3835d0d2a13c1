//! Messages are written by the scheduler and the sender, never here; what can be asked of
//! them is a search, whose query is read into domain values the same for every list.

use crate::error::{ApiError, FieldError};
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
    pub page: Option<u32>,
    /// Items per page, 1 to 500 (default 50).
    pub page_size: Option<u32>,
    pub mailing_id: Option<i64>,
    pub client_id: Option<i64>,
    /// One of `scheduled`, `queued`, `sent`, `retrying`, `failed`, `expired`, `cancelled`.
    pub status: Option<String>,
}

/// The query of one mailing's messages, beside its statistics.
#[derive(Deserialize, Apiv2Schema)]
#[serde(deny_unknown_fields)]
pub struct MailingStatsQuery {
    /// Page of messages, from 1.
    pub page: Option<u32>,
    /// Messages per page, 1 to 500 (default 50).
    pub page_size: Option<u32>,
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
        let paging = Paging::parse(self.page, self.page_size)?;
        let mut problems = Problems::default();
        let status = parse_status(self.status, &mut problems);
        let filter = problems.finish_query(|| MessageQuery {
            mailing_id: self.mailing_id.map(MailingId),
            client_id: self.client_id.map(ClientId),
            status,
            phone_prefix: None,
        })?;
        Ok((filter, paging))
    }
}

impl MailingStatsQuery {
    /// The mailing's messages asked for, and the page; problems make a 400.
    pub fn parse(self, mailing_id: MailingId) -> Result<(MessageQuery, Paging), ApiError> {
        MessageListQuery {
            page: self.page,
            page_size: self.page_size,
            mailing_id: Some(mailing_id.0),
            client_id: None,
            status: self.status,
        }
        .parse()
    }
}
