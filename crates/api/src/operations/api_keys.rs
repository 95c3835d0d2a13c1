//! Integrators' API keys: made with a name, a role and an optional expiry, shown once, listed
//! by their prefix, revoked by deleting them.

use crate::auth::Caller;
use crate::auth::api_keys::NewKey;
use crate::error::{ApiError, FieldError};
use crate::operations::examples;
use crate::operations::input::{Field, Required, UnknownFields};
use crate::operations::paging::Paging;
use crate::operations::problems::Problems;
use crate::state::AppState;
use chrono::{DateTime, Utc};
use mailing_domain::store::{ApiKey, NewApiKey, Page};
use mailing_domain::{ApiKeyId, Invalid, Role};
use paperclip::actix::Apiv2Schema;
use serde::Deserialize;

const MAX_NAME: usize = 100;

#[derive(Default, Deserialize, Apiv2Schema)]
#[serde(default)]
pub struct ApiKeyInput {
    /// What the key is for, e.g. `crm-sync`: 1 to 100 characters, unique.
    pub name: Required<String>,
    /// `admin`, `manager` or `viewer`.
    pub role: Required<String>,
    /// When the key stops working, RFC 3339, in the future. Left out: never.
    pub expires_at: Field<String>,
    #[serde(flatten)]
    pub unknown: UnknownFields,
}

/// A key just made, with its secret, which is never shown again.
pub struct CreatedKey {
    pub key: ApiKey,
    pub secret: String,
}

pub async fn create(
    state: &AppState,
    caller: &Caller,
    input: ApiKeyInput,
) -> Result<CreatedKey, ApiError> {
    let mut problems = Problems::default();
    let name = input.name.require("name", &mut problems).and_then(|raw| {
        let trimmed = raw.trim();
        let rule = if trimmed.is_empty() {
            Err(Invalid::Empty)
        } else if trimmed.chars().count() > MAX_NAME {
            Err(Invalid::TooLong { max: MAX_NAME })
        } else if trimmed.chars().any(char::is_control) {
            Err(Invalid::ControlCharacters)
        } else {
            Ok(trimmed.to_owned())
        };
        problems.check("name", rule)
    });
    let role = input
        .role
        .require("role", &mut problems)
        .and_then(|raw| problems.check("role", Role::read(&raw)));
    let now = Utc::now();
    let expires_at = input
        .expires_at
        .optional("expires_at", &mut problems)
        .and_then(|raw| future_instant("expires_at", &raw, now, &mut problems));
    input.unknown.report("", &mut problems);
    let (name, role) = problems.finish(|| (name.expect("checked"), role.expect("checked")))?;
    let generated = NewKey::generate();
    let new = NewApiKey {
        name,
        prefix: generated.prefix(),
        secret_hash: generated.hash(),
        role,
        created_by: caller.name().to_owned(),
        created_at: now,
        expires_at,
    };
    let key = state.run(move |s| s.create_api_key(&new)).await?;
    tracing::info!(key = %key.name, prefix = %key.prefix, role = %key.role, "API key created");
    Ok(CreatedKey {
        key,
        secret: generated.secret,
    })
}

pub async fn list(state: &AppState, paging: Paging) -> Result<Page<ApiKey>, ApiError> {
    state.run(move |s| s.list_api_keys(paging.request())).await
}

pub async fn delete(state: &AppState, id: ApiKeyId) -> Result<ApiKey, ApiError> {
    let key = state.run(move |s| s.delete_api_key(id)).await?;
    tracing::info!(key = %key.name, prefix = %key.prefix, "API key revoked");
    Ok(key)
}

/// An RFC 3339 instant after `now`.
pub fn future_instant(
    field: &str,
    raw: &str,
    now: DateTime<Utc>,
    problems: &mut Problems,
) -> Option<DateTime<Utc>> {
    match DateTime::parse_from_rfc3339(raw.trim()) {
        Ok(at) if at.with_timezone(&Utc) > now => Some(at.with_timezone(&Utc)),
        Ok(_) => {
            problems.invalid(field, &Invalid::InPast);
            None
        }
        Err(_) => {
            problems.push(FieldError::new(
                field,
                "datetime_format",
                format!(
                    "is not a date-time with an offset; write it like {}",
                    examples::example(field).unwrap_or_default()
                ),
            ));
            None
        }
    }
}
