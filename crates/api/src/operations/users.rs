//! People's accounts: creating them with a role and an optional password, changing a role,
//! disabling, deleting, and one's own password. The configured admin account is set by the
//! configuration alone, and nobody can lock themselves out by changing their own account.

use crate::auth::{Actor, Caller, hash_password, verify_password};
use crate::error::{ApiError, FieldError};
use crate::operations::input::{Field, Required, UnknownFields};
use crate::operations::paging::Paging;
use crate::operations::problems::Problems;
use crate::state::AppState;
use mailing_domain::access::{check_password, parse_username};
use mailing_domain::store::{NewUser, Page, User, UserChange};
use mailing_domain::{Role, UserId};
use paperclip::actix::Apiv2Schema;
use serde::Deserialize;

#[derive(Default, Deserialize, Apiv2Schema)]
#[serde(default)]
pub struct UserInput {
    /// 1 to 100 characters: latin letters, digits, `.`, `_`, `@`, `-`. Unique.
    pub username: Required<String>,
    /// `admin`, `manager` or `viewer`.
    pub role: Required<String>,
    /// 10 to 1000 characters. Left out: the account signs in only through single sign-on.
    pub password: Field<String>,
    #[serde(flatten)]
    pub unknown: UnknownFields,
}

/// A merge patch: a field left out keeps its value.
#[derive(Default, Deserialize, Apiv2Schema)]
#[serde(default)]
pub struct UserPatchInput {
    /// `admin`, `manager` or `viewer`.
    pub role: Field<String>,
    /// `true` ends the account's sessions and tokens at once and refuses its sign-ins.
    pub disabled: Field<bool>,
    /// A new password, 10 to 1000 characters; `null` removes it (single sign-on only).
    pub password: Field<String>,
    #[serde(flatten)]
    pub unknown: UnknownFields,
}

#[derive(Default, Deserialize, Apiv2Schema)]
#[serde(default)]
pub struct PasswordChangeInput {
    pub current_password: Required<String>,
    /// 10 to 1000 characters.
    pub new_password: Required<String>,
    #[serde(flatten)]
    pub unknown: UnknownFields,
}

fn password_problem(field: &str, raw: &str, problems: &mut Problems) -> bool {
    problems.check(field, check_password(raw)).is_some()
}

/// Hashes on the blocking pool: argon2 takes tens of milliseconds of CPU.
async fn hashed(password: String) -> Result<String, ApiError> {
    actix_web::web::block(move || hash_password(&password))
        .await
        .map_err(|error| ApiError::Internal(error.to_string()))?
        .map_err(|error| ApiError::Internal(format!("hashing a password: {error}")))
}

pub async fn list(state: &AppState, paging: Paging) -> Result<Page<User>, ApiError> {
    state.run(move |s| s.list_users(paging.request())).await
}

pub async fn get(state: &AppState, id: UserId) -> Result<User, ApiError> {
    state.run(move |s| s.get_user(id)).await
}

pub async fn create(state: &AppState, input: UserInput) -> Result<User, ApiError> {
    let mut problems = Problems::default();
    let username = input
        .username
        .require("username", &mut problems)
        .and_then(|raw| problems.check("username", parse_username(&raw)));
    let role = input
        .role
        .require("role", &mut problems)
        .and_then(|raw| problems.check("role", Role::read(&raw)));
    let password = input
        .password
        .optional("password", &mut problems)
        .filter(|raw| password_problem("password", raw, &mut problems));
    input.unknown.report("", &mut problems);
    let (username, role) =
        problems.finish(|| (username.expect("checked"), role.expect("checked")))?;
    let password_hash = match password {
        Some(password) => Some(hashed(password).await?),
        None => None,
    };
    let new = NewUser {
        username,
        role,
        password_hash,
    };
    state.run(move |s| s.create_user(&new)).await
}

pub async fn change(
    state: &AppState,
    caller: &Caller,
    id: UserId,
    input: UserPatchInput,
) -> Result<User, ApiError> {
    let mut problems = Problems::default();
    let role = input
        .role
        .set_only("role", &mut problems)
        .and_then(|raw| problems.check("role", Role::read(&raw)));
    let disabled = input.disabled.set_only("disabled", &mut problems);
    let password = match input.password.change("password", &mut problems) {
        crate::operations::input::Change::Keep => None,
        crate::operations::input::Change::Clear => Some(None),
        crate::operations::input::Change::Set(raw) => {
            password_problem("password", &raw, &mut problems).then_some(Some(raw))
        }
    };
    input.unknown.report("", &mut problems);
    problems.finish(|| ())?;
    let user = get(state, id).await?;
    protect(
        state,
        caller,
        &user,
        role.is_some_and(|r| r != Role::Admin) || disabled == Some(true),
    )?;
    let password_hash = match password {
        Some(Some(password)) => Some(Some(hashed(password).await?)),
        Some(None) => Some(None),
        None => None,
    };
    let change = UserChange {
        role,
        disabled,
        password_hash,
    };
    state.run(move |s| s.change_user(id, &change)).await
}

pub async fn delete(state: &AppState, caller: &Caller, id: UserId) -> Result<(), ApiError> {
    let user = get(state, id).await?;
    protect(state, caller, &user, true)?;
    state.run(move |s| s.delete_user(id)).await
}

/// Refuses a change to the configured account, and one that would take an admin's own access
/// away (`removes_access`: demoting, disabling or deleting).
fn protect(
    state: &AppState,
    caller: &Caller,
    user: &User,
    removes_access: bool,
) -> Result<(), ApiError> {
    if user.username == state.admin_username {
        return Err(configured_account(&user.username));
    }
    let own = matches!(&caller.actor, Actor::User { id, .. } if *id == user.id);
    if own && removes_access {
        return Err(own_account());
    }
    Ok(())
}

/// 409: the account `MAILING_ADMIN_USERNAME` configures.
pub fn configured_account(username: &str) -> ApiError {
    ApiError::Conflict {
        code: "configured_account",
        message: format!(
            "{username} is the account MAILING_ADMIN_USERNAME configures, with the password \
             MAILING_ADMIN_PASSWORD; change it in the configuration"
        ),
        details: vec![],
    }
}

pub fn configured_account_example() -> ApiError {
    configured_account("admin")
}

/// 409: an admin taking their own access away.
pub fn own_account() -> ApiError {
    ApiError::Conflict {
        code: "own_account",
        message: "you cannot demote, disable or delete your own account; ask another admin"
            .to_owned(),
        details: vec![],
    }
}

/// 422: an API key asking to log out or change a password.
pub fn not_an_account(what: &str) -> ApiError {
    ApiError::Unprocessable {
        code: "not_an_account",
        message: format!("an API key {what}"),
    }
}

pub fn not_an_account_example() -> ApiError {
    not_an_account("has no password; sign in as a person to change theirs")
}

/// 422: the current password given is not the account's.
pub fn wrong_password() -> ApiError {
    ApiError::Validation(vec![FieldError::new(
        "current_password",
        "wrong_password",
        "is not this account's password",
    )])
}

/// Changes the caller's own password, checking the current one first.
pub async fn change_own_password(
    state: &AppState,
    caller: &Caller,
    input: PasswordChangeInput,
) -> Result<(), ApiError> {
    let mut problems = Problems::default();
    let current = input
        .current_password
        .require("current_password", &mut problems);
    let new = input
        .new_password
        .require("new_password", &mut problems)
        .filter(|raw| password_problem("new_password", raw, &mut problems));
    input.unknown.report("", &mut problems);
    let (current, new) = problems.finish(|| (current.expect("given"), new.expect("checked")))?;
    let Actor::User { id, username } = &caller.actor else {
        return Err(not_an_account_example());
    };
    if *username == state.admin_username {
        return Err(configured_account(username));
    }
    let id = *id;
    let user = get(state, id).await?;
    let stored = user.password_hash.unwrap_or_default();
    let matches = actix_web::web::block(move || verify_password(&current, &stored))
        .await
        .map_err(|error| ApiError::Internal(error.to_string()))?;
    if !matches {
        return Err(wrong_password());
    }
    let change = UserChange {
        password_hash: Some(Some(hashed(new).await?)),
        ..UserChange::default()
    };
    state.run(move |s| s.change_user(id, &change)).await?;
    Ok(())
}
