//! Reading the audit log: by actor, resource, id and time, newest first, a page at a time.

use crate::error::ApiError;
use crate::operations::api_keys::future_instant;
use crate::operations::input::QueryValue;
use crate::operations::paging::Paging;
use crate::operations::problems::Problems;
use chrono::{DateTime, Utc};
use mailing_domain::store::AuditQuery;
use paperclip::actix::Apiv2Schema;
use serde::Deserialize;

#[derive(Default, Deserialize, Apiv2Schema)]
#[serde(deny_unknown_fields)]
pub struct AuditLogQuery {
    /// Page number, from 1.
    pub page: Option<QueryValue<u32>>,
    /// Entries per page, 1 to 500 (default 50).
    pub page_size: Option<QueryValue<u32>>,
    /// Only changes by this username or API key name.
    pub actor: Option<String>,
    /// Only changes to this resource, as the API's path names it: `mailings`, `clients`,
    /// `users`, `api-keys`, `session` (sign-ins and sign-outs), ...
    pub resource: Option<String>,
    /// Only changes to the record with this id.
    pub resource_id: Option<String>,
    /// Only changes at or after this time, RFC 3339.
    pub since: Option<String>,
    /// Only changes before this time, RFC 3339.
    pub until: Option<String>,
}

impl AuditLogQuery {
    /// The conditions and the page asked for; problems make a 400.
    pub fn parse(self) -> Result<(AuditQuery, Paging), ApiError> {
        let mut problems = Problems::default();
        let paging = Paging::read(self.page.as_ref(), self.page_size.as_ref(), &mut problems);
        let nonempty =
            |value: Option<String>| value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        let since = nonempty(self.since).and_then(|raw| instant("since", &raw, &mut problems));
        let until = nonempty(self.until).and_then(|raw| instant("until", &raw, &mut problems));
        let query = AuditQuery {
            actor: nonempty(self.actor),
            resource: nonempty(self.resource),
            resource_id: nonempty(self.resource_id),
            since,
            until,
        };
        problems.finish_query(|| (query, paging.expect("checked")))
    }
}

/// Any RFC 3339 instant (past ones too: [`future_instant`] with the earliest `now`).
fn instant(field: &str, raw: &str, problems: &mut Problems) -> Option<DateTime<Utc>> {
    future_instant(field, raw, DateTime::<Utc>::MIN_UTC, problems)
}
