//! How database failures become [`StoreError`]s.
//!
//! Unique constraints have one meaning wherever they fire, so they are mapped here by name. The
//! operator reference means "no such operator" when a client is written and "still in use" when
//! an operator is changed, so call sites translate it with [`refusing`].

use diesel::result::{DatabaseErrorKind, Error as DieselError};
use mailing_domain::store::{Rejection, StoreError};

/// What a transaction body can fail with: a database error still to be classified, or an
/// outcome already decided (a rejection, a missing row, a stored value that does not parse).
#[derive(Debug)]
pub(crate) enum Failure {
    Db(DieselError),
    Store(StoreError),
}

impl From<DieselError> for Failure {
    fn from(error: DieselError) -> Self {
        Failure::Db(error)
    }
}

impl From<StoreError> for Failure {
    fn from(error: StoreError) -> Self {
        Failure::Store(error)
    }
}

impl From<Rejection> for Failure {
    fn from(rejection: Rejection) -> Self {
        Failure::Store(StoreError::Rejected(rejection))
    }
}

impl From<Failure> for StoreError {
    fn from(failure: Failure) -> Self {
        match failure {
            Failure::Db(error) => classify(error),
            Failure::Store(error) => error,
        }
    }
}

pub(crate) const OPERATOR_REFERENCE: &str = "clients_operator_code_fkey";
pub(crate) const CLIENT_FILTER_REFERENCE: &str = "mailings_client_filter_id_fkey";
pub(crate) const TAG_REFERENCE: &str = "client_tags_tag_id_fkey";

/// Turns a violation of the foreign key `constraint` into `rejection`; other errors pass on.
pub(crate) fn refusing(
    constraint: &'static str,
    rejection: Rejection,
) -> impl FnOnce(DieselError) -> Failure {
    move |error| {
        if violates(&error, constraint) {
            rejection.into()
        } else {
            Failure::Db(error)
        }
    }
}

/// Whether `error` is a violation of the foreign key `constraint` (on SQLite, of whichever
/// reference the statement broke; see [`constraint_of`]).
pub(crate) fn violates(error: &DieselError, constraint: &str) -> bool {
    match error {
        DieselError::DatabaseError(
            DatabaseErrorKind::ForeignKeyViolation
            | DatabaseErrorKind::RestrictViolation
            | DatabaseErrorKind::Unknown,
            info,
        ) => matches!(
            constraint_of(kind_of(error), info.constraint_name(), info.message()),
            Some(found) if found == constraint || found == SQLITE_REFERENCE
        ),
        _ => false,
    }
}

fn kind_of(error: &DieselError) -> Option<&DatabaseErrorKind> {
    match error {
        DieselError::DatabaseError(kind, _) => Some(kind),
        _ => None,
    }
}

/// The PostgreSQL name of the constraint an error reports. SQLite names no unique or foreign
/// key constraint: it says "UNIQUE constraint failed: table.column" and "FOREIGN KEY constraint
/// failed", so those are mapped back to the names the PostgreSQL migrations give them. A
/// SQLite reference failure counts as the one reference the failing statement can break,
/// which holds for every call site passing one to [`refusing`].
fn constraint_of<'a>(
    kind: Option<&DatabaseErrorKind>,
    named: Option<&'a str>,
    message: &str,
) -> Option<&'a str> {
    if named.is_some() {
        return named;
    }
    match kind? {
        DatabaseErrorKind::UniqueViolation => {
            let columns = message.strip_prefix("UNIQUE constraint failed: ")?;
            Some(match columns {
                "clients.phone_number" => "clients_phone_number_key",
                "tags.value" => "tags_value_key",
                "operators.code" => "operators_code_key",
                "users.username" => "users_username_key",
                "api_keys.name" => "api_keys_name_key",
                "messages.mailing_id, messages.client_id" => "messages_mailing_client_key",
                _ => return None,
            })
        }
        // diesel reports a SQLite reference failure as `Unknown`, by its extended code.
        DatabaseErrorKind::ForeignKeyViolation | DatabaseErrorKind::Unknown
            if message == "FOREIGN KEY constraint failed" =>
        {
            Some(SQLITE_REFERENCE)
        }
        _ => None,
    }
}

/// Stands for whichever reference a SQLite statement broke; see [`constraint_of`].
const SQLITE_REFERENCE: &str = "(a foreign key)";

fn unique_rejection(constraint: &str) -> Option<Rejection> {
    match constraint {
        "clients_phone_number_key" => Some(Rejection::DuplicatePhone),
        "tags_value_key" => Some(Rejection::DuplicateTag),
        "operators_code_key" => Some(Rejection::DuplicateOperatorCode),
        "users_username_key" => Some(Rejection::DuplicateUsername),
        "api_keys_name_key" => Some(Rejection::DuplicateApiKeyName),
        _ => None,
    }
}

/// Classifies an error no call site handled. Messages carry PostgreSQL's primary message and the
/// constraint name, never its detail line, which quotes the offending row's values.
pub(crate) fn classify(error: DieselError) -> StoreError {
    match error {
        DieselError::DatabaseError(kind, info) => {
            let constraint = constraint_of(Some(&kind), info.constraint_name(), info.message());
            if kind == DatabaseErrorKind::UniqueViolation
                && let Some(rejection) = constraint.and_then(unique_rejection)
            {
                return rejection.into();
            }
            if kind == DatabaseErrorKind::ClosedConnection {
                return StoreError::Unavailable(format!(
                    "the database connection was lost: {}",
                    info.message()
                ));
            }
            match constraint {
                Some(constraint) => StoreError::Internal(format!(
                    "database error ({kind:?}, constraint {constraint}): {}",
                    info.message()
                )),
                None => {
                    StoreError::Internal(format!("database error ({kind:?}): {}", info.message()))
                }
            }
        }
        DieselError::NotFound => {
            StoreError::Internal("a row the query relied on does not exist".to_owned())
        }
        other => StoreError::Internal(other.to_string()),
    }
}

/// Removes a database URL's password from text that may quote it, such as libpq's connection
/// errors, before that text reaches an error or a log line.
#[derive(Debug, Clone, Default)]
pub(crate) struct Redactor {
    /// Longest first, so a secret that contains another is removed whole.
    secrets: Vec<String>,
}

impl Redactor {
    pub(crate) fn for_url(url: &str) -> Self {
        let mut secrets = Vec::new();
        let password = url
            .split_once("://")
            .and_then(|(_, rest)| rest.rsplit_once('@'))
            .and_then(|(userinfo, _)| userinfo.split_once(':'))
            .map(|(_, password)| password)
            .filter(|password| !password.is_empty());
        if let Some(password) = password {
            secrets.push(password.to_owned());
            secrets.push(percent_decode(password));
            // libpq ends the credentials at the first '@', so an unencoded '@' in a password
            // makes it quote the rest as a host name; hide those pieces too, unless they are
            // so short that hiding them would garble the whole message.
            secrets.extend(
                password
                    .split('@')
                    .filter(|piece| piece.len() >= 4)
                    .map(str::to_owned),
            );
        }
        secrets.sort_by_key(|secret| std::cmp::Reverse(secret.len()));
        secrets.dedup();
        Self { secrets }
    }

    pub(crate) fn redact(&self, text: &str) -> String {
        self.secrets
            .iter()
            .fold(text.to_owned(), |text, secret| text.replace(secret, "***"))
    }
}

fn percent_decode(raw: &str) -> String {
    let bytes = raw.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = (bytes[i] == b'%')
            .then(|| bytes.get(i + 1..i + 3))
            .flatten()
            .and_then(|hex| std::str::from_utf8(hex).ok())
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match escaped {
            Some(byte) => {
                decoded.push(byte);
                i += 3;
            }
            None => {
                decoded.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&decoded).into_owned()
}

/// Whether `error` is PostgreSQL's answer to a deadlock it broke by rolling this transaction
/// back: running the transaction again is safe, and the other side has gone on by then.
pub(crate) fn is_deadlock(error: &StoreError) -> bool {
    matches!(error, StoreError::Internal(message) if message.ends_with(": deadlock detected"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_plain_and_percent_encoded_passwords() {
        let redactor = Redactor::for_url("postgres://app:s%40cret@db:5432/mailing");
        assert_eq!(
            redactor.redact("bad password s%40cret or s@cret"),
            "bad password *** or ***"
        );
    }

    #[test]
    fn redacts_an_unencoded_at_sign_in_the_password() {
        let redactor = Redactor::for_url("postgresql://app:first@second@db/mailing");
        let message = r#"could not translate host name "second@db" to address"#;
        assert_eq!(
            redactor.redact(message),
            r#"could not translate host name "***@db" to address"#
        );
        assert_eq!(redactor.redact("first@second"), "***");
    }

    #[test]
    fn urls_without_password_redact_nothing() {
        let redactor = Redactor::for_url("postgres://postgres@127.0.0.1:5432/postgres");
        assert_eq!(redactor.redact("postgres@127.0.0.1"), "postgres@127.0.0.1");
        assert_eq!(Redactor::for_url("not a url").redact("x:y"), "x:y");
    }

    #[test]
    fn only_a_deadlock_counts_as_one() {
        let deadlock = StoreError::Internal("database error (Unknown): deadlock detected".into());
        assert!(is_deadlock(&deadlock));
        let other = StoreError::Internal("database error (Unknown): division by zero".into());
        assert!(!is_deadlock(&other));
        assert!(!is_deadlock(&StoreError::Unavailable(
            "deadlock detected".into()
        )));
    }
}
