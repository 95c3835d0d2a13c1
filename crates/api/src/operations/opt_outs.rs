//! Opt-outs, the numbers never to be texted: what a body may say about one, and adding,
//! reading and removing them. Numbers are read as people write them (`+7 (900) 123-45-67`,
//! `8 900 123 45 67`) and kept as `79001234567`.

use crate::error::{ApiError, FieldError};
use crate::operations::clients::parse_phone_prefix;
use crate::operations::input::{Field, QueryValue, Required, UnknownFields};
use crate::operations::paging::Paging;
use crate::operations::problems::Problems;
use crate::state::AppState;
use mailing_domain::opt_out::{NewOptOut, OptOut, OptOutAdded, OptOutQuery, OptOutReason};
use mailing_domain::store::Page;
use mailing_domain::{OptOutSource, PhoneNumber};
use paperclip::actix::Apiv2Schema;
use serde::Deserialize;

#[derive(Default, Deserialize, Apiv2Schema)]
#[serde(default)]
pub struct OptOutInput {
    /// The number, as people write it: `79001234567`, `+7 (900) 123-45-67`,
    /// `8 900 123 45 67` or `9001234567`; kept as `79001234567`.
    pub phone_number: Required<String>,
    /// Why, in 1 to 500 characters; optional.
    pub reason: Field<String>,
    #[serde(flatten)]
    pub unknown: UnknownFields,
}

impl OptOutInput {
    pub fn parse(self, source: OptOutSource) -> Result<NewOptOut, ApiError> {
        let mut problems = Problems::default();
        let phone = self
            .phone_number
            .require("phone_number", &mut problems)
            .and_then(|raw| problems.check("phone_number", PhoneNumber::normalise(&raw)));
        let reason = self
            .reason
            .optional("reason", &mut problems)
            .and_then(|raw| problems.check("reason", OptOutReason::parse(&raw)));
        self.unknown.report("", &mut problems);
        problems.finish(|| NewOptOut {
            phone: phone.expect("checked"),
            source,
            reason,
        })
    }
}

/// The query of the opt-out list.
#[derive(Deserialize, Apiv2Schema)]
#[serde(deny_unknown_fields)]
pub struct OptOutListQuery {
    /// Page number, from 1.
    pub page: Option<QueryValue<u32>>,
    /// Items per page, 1 to 500 (default 50).
    pub page_size: Option<QueryValue<u32>>,
    /// Only this number, written as for `POST`.
    pub phone_number: Option<String>,
    /// Only numbers starting with these digits.
    pub phone_prefix: Option<String>,
}

impl OptOutListQuery {
    /// The conditions and the page asked for; problems make a 400.
    pub fn parse(self) -> Result<(OptOutQuery, Paging), ApiError> {
        let mut problems = Problems::default();
        let paging = Paging::read(self.page.as_ref(), self.page_size.as_ref(), &mut problems);
        let phone = self
            .phone_number
            .and_then(|raw| problems.check("phone_number", PhoneNumber::normalise(&raw)));
        let phone_prefix = parse_phone_prefix("phone_prefix", self.phone_prefix, &mut problems);
        problems.finish_query(|| {
            let query = OptOutQuery {
                phone,
                phone_prefix,
            };
            (query, paging.expect("checked"))
        })
    }
}

/// A number named in a path, read as a body's `phone_number` is; a 400 if it is none.
pub fn path_phone(raw: &str) -> Result<PhoneNumber, ApiError> {
    PhoneNumber::normalise(raw).map_err(|rule| ApiError::BadRequest {
        code: "invalid_path",
        message: "the path names a number that is not a phone number; see details".to_owned(),
        details: vec![FieldError::invalid("phone_number", &rule)],
    })
}

/// Opts a number out (see [`mailing_domain::store::OptOutStore::add_opt_out`]): its waiting
/// messages are suppressed at once. A number that opted out already keeps its first entry.
pub async fn add(state: &AppState, new: NewOptOut) -> Result<OptOutAdded, ApiError> {
    let added = state.run(move |s| s.add_opt_out(&new)).await?;
    if added.created {
        tracing::info!(
            source = %added.opt_out.source,
            suppressed = added.suppressed,
            "number opted out"
        );
    }
    Ok(added)
}

pub async fn get(state: &AppState, phone: PhoneNumber) -> Result<OptOut, ApiError> {
    state.run(move |s| s.get_opt_out(&phone)).await
}

pub async fn list(
    state: &AppState,
    query: OptOutQuery,
    paging: Paging,
) -> Result<Page<OptOut>, ApiError> {
    state
        .run(move |s| s.list_opt_outs(&query, paging.request()))
        .await
}

/// Opts a number back in; not found if it had not opted out.
pub async fn remove(state: &AppState, phone: PhoneNumber) -> Result<(), ApiError> {
    state.run(move |s| s.remove_opt_out(&phone)).await?;
    tracing::info!("number opted back in");
    Ok(())
}
