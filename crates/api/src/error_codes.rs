//! Every error the JSON API answers, each with a real example: the OpenAPI document lists, for
//! each operation and status, the codes of the rows that apply to it, with one example body per
//! code ([`crate::openapi`] reads [`catalog`]).
//!
//! # Adding a code
//!
//! Add one row to [`catalog`], next to its kin:
//!
//! ```text
//! code(Only(vec!["deleteTag"]), "clients carry the tag", || Rejection::TagInUse.into()),
//! detail(filters(), "no tag has this value", || …the 422 with that detail…),
//! ```
//!
//! - `code` documents a top-level `code`; `detail` documents a `details[].code` (the first
//!   detail of the example), for the 422s and 400s that name fields.
//! - The first argument says which operations can answer it (see [`Answered`]): every
//!   operation, those that take the token, a body, a query, a path id or an
//!   `Idempotency-Key`, those under a path, or operations by their operationId (the lists below, such as [`CLIENT_WRITES`], name
//!   each resource's writes).
//! - The second says when it happens, in a few words for an integrator.
//! - The third builds the error the way the API does (the same constructor, conversion or
//!   parser). The status, the code and the example body are read from it, so the document
//!   cannot disagree with what the API sends.
//!
//! When several rows document one code (a 404 per resource, a 422 with an example that fits
//! clients), an operation shows the first that covers it: put the narrower rows first.
//!
//! Then regenerate the document with `make openapi`. The unit tests check that every
//! operationId named here exists, and that every storage rejection is documented.

use crate::auth;
use crate::error::{ApiError, ErrorBody, FieldError};
use crate::extract::{body_unreadable, invalid_path, parse_json, parse_query};
use crate::idempotency::{self, KeyProblem};
use crate::operations::api_keys;
use crate::operations::audit_log::AuditLogQuery;
use crate::operations::clients::ClientListQuery;
use crate::operations::examples;
use crate::operations::imports;
use crate::operations::inbound::{self, InboundListQuery};
use crate::operations::input::{Field, Required};
use crate::operations::mailings::MailingListQuery;
use crate::operations::messages::MessageListQuery;
use crate::operations::opt_outs;
use crate::operations::paging::ListQuery;
use crate::operations::problems::Problems;
use crate::operations::references::{unknown_operator, unknown_tag};
use crate::operations::reports;
use crate::operations::tags::TagInput;
use crate::operations::users;
use mailing_domain::access::{check_password, parse_username};
use mailing_domain::campaign::FailureShare;
use mailing_domain::import::ImportKind;
use mailing_domain::mailing::{MailingField, UpdateRefused};
use mailing_domain::opt_out::{InboundText, OptOutReason};
use mailing_domain::store::{Entity, Rejection, TagUse};
use mailing_domain::window::WindowInvalid;
use mailing_domain::{
    ClientFilter, FrequencyCap, Invalid, MailingStatus, MailingText, OperatorCode, PhoneNumber,
    Price, SendWindow, TagValue, TimeZone,
};
use std::time::Duration;

/// The writes of each resource, by operationId.
pub const OPERATOR_WRITES: &[&str] = &["createOperator", "replaceOperator", "updateOperator"];
pub const TAG_WRITES: &[&str] = &["createTag", "replaceTag", "updateTag"];
pub const CLIENT_WRITES: &[&str] = &["createClient", "replaceClient", "updateClient"];
pub const CLIENT_FILTER_WRITES: &[&str] = &[
    "createClientFilter",
    "replaceClientFilter",
    "updateClientFilter",
];
/// The operations that read a mailing body: its writes, and a preview of one.
pub const MAILING_WRITES: &[&str] = &[
    "createMailing",
    "replaceMailing",
    "updateMailing",
    "previewMailing",
];
/// Changes to an existing mailing.
pub const MAILING_UPDATES: &[&str] = &["replaceMailing", "updateMailing"];
/// The operations that read a mailing's `start_at` and `end_at`: its writes, and a resend.
pub const MAILING_TIMES: &[&str] = &[
    "createMailing",
    "replaceMailing",
    "updateMailing",
    "previewMailing",
    "resendMailing",
];
/// Writes of people's accounts.
pub const USER_WRITES: &[&str] = &["createUser", "updateUser"];
/// Operations on one's own sign-in that an API key cannot do.
pub const OWN_ACCOUNT: &[&str] = &["logout", "changePassword"];
/// Pausing and resuming a mailing.
pub const MAILING_PAUSES: &[&str] = &["pauseMailing", "resumeMailing"];

/// Which operations can answer an error.
#[derive(Debug, Clone)]
pub enum Answered {
    /// Every operation.
    ByEvery,
    /// Every operation that takes the bearer token (all but `login`).
    WithToken,
    /// Every operation that reads a JSON body.
    WithBody,
    /// Every operation with query parameters.
    WithQuery,
    /// Every operation with a path parameter.
    WithId,
    /// Every operation that takes an `Idempotency-Key` (the `POST`s that take the token).
    WithIdempotencyKey,
    /// Every operation whose path starts with this, e.g. `/api/v1/clients/{id}`.
    Under(&'static str),
    /// Every operation that takes the token and needs more than the viewer role (see
    /// [`crate::auth::policy`]).
    NeedingRole,
    /// These operations, by operationId.
    Only(Vec<&'static str>),
}
use Answered::*;

/// What [`Answered`] looks at in an operation.
#[derive(Debug, Clone, Copy)]
pub struct Operation<'a> {
    pub id: &'a str,
    /// Lowercase, as the document's keys are: `get`, `post`, …
    pub method: &'a str,
    pub path: &'a str,
    pub token: bool,
    pub body: bool,
    pub query: bool,
    pub path_id: bool,
}

impl Answered {
    pub fn covers(&self, op: &Operation<'_>) -> bool {
        match self {
            ByEvery => true,
            WithToken => op.token,
            WithBody => op.body,
            WithQuery => op.query,
            WithId => op.path_id,
            WithIdempotencyKey => op.method == "post" && op.token,
            Under(prefix) => op.path.starts_with(prefix),
            NeedingRole => {
                let method = op.method.to_ascii_uppercase();
                let method = actix_web::http::Method::from_bytes(method.as_bytes())
                    .unwrap_or(actix_web::http::Method::GET);
                op.token
                    && auth::policy::required_role(&method, op.path) > mailing_domain::Role::Viewer
            }
            Only(ids) => ids.contains(&op.id),
        }
    }
}

/// Whether a row documents the top-level `code` or a `details[].code`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Code,
    Detail,
}

/// One documented error code.
pub struct Documented {
    pub answered: Answered,
    pub level: Level,
    /// When it happens.
    pub meaning: &'static str,
    /// Builds the error as the API does.
    pub example: fn() -> ApiError,
}

impl Documented {
    pub fn status(&self) -> u16 {
        actix_web::ResponseError::status_code(&(self.example)()).as_u16()
    }

    pub fn body(&self) -> ErrorBody {
        (self.example)().body()
    }

    /// The code this row documents: the body's, or its first detail's.
    pub fn code(&self) -> String {
        let body = self.body();
        match self.level {
            Level::Code => body.code,
            Level::Detail => body
                .details
                .first()
                .map(|detail| detail.code.clone())
                .unwrap_or_default(),
        }
    }

    /// For a detail, the field its example names.
    pub fn field(&self) -> Option<String> {
        match self.level {
            Level::Code => None,
            Level::Detail => self.body().details.first().map(|d| d.field.clone()),
        }
    }
}

fn code(answered: Answered, meaning: &'static str, example: fn() -> ApiError) -> Documented {
    Documented {
        answered,
        level: Level::Code,
        meaning,
        example,
    }
}

fn detail(answered: Answered, meaning: &'static str, example: fn() -> ApiError) -> Documented {
    Documented {
        answered,
        level: Level::Detail,
        meaning,
        example,
    }
}

/// The 400 the daily report's query gets for the day `raw`.
fn report_date_in_query(raw: &str) -> ApiError {
    refusal(
        parse_query::<reports::DailyReportQuery>(&format!("date={raw}")).and_then(|query| {
            reports::queried_date(&query, &reports::example_calendar(), examples::now())
        }),
    )
}

/// The 422 sending the daily report gets for the day `raw`.
fn report_date_in_body(raw: &str) -> ApiError {
    let input = reports::SendReportInput {
        date: Some(raw.to_owned()),
    };
    refusal(reports::requested_date(
        &input,
        &reports::example_calendar(),
        examples::now(),
    ))
}

/// The 422 a mailing's text with a template problem gets.
fn template_problem(text: &str) -> ApiError {
    let mut problems = Problems::default();
    crate::operations::mailings::read_text(text, &mut problems);
    refusal(problems.finish(|| ()))
}

/// Operations by id from several lists.
fn only(lists: &[&[&'static str]]) -> Answered {
    Only(lists.concat())
}

/// The error of a result that must be one.
fn refusal<T>(result: Result<T, ApiError>) -> ApiError {
    match result {
        Err(error) => error,
        Ok(_) => panic!("the example was accepted"),
    }
}

/// The 422 with one detail, as the operations report a field that broke `rule`.
fn invalid(field: &str, rule: Result<impl Sized, Invalid>) -> ApiError {
    let mut problems = Problems::default();
    problems.check(field, rule);
    refusal(problems.finish(|| ()))
}

/// The detail of a resend naming, at `index` of `statuses`, a status it cannot pick clients by,
/// as the API words it.
fn unknown_resend_status(index: usize, name: &str) -> FieldError {
    FieldError::new(
        format!("statuses[{index}]"),
        "unknown_status",
        format!(
            "must be one of failed, expired, cancelled, not {name:?}; e.g. [\"failed\", \
             \"expired\"]"
        ),
    )
}

/// The 400 of a list without filters of its own given `query`.
fn list_query(query: &str) -> ApiError {
    refusal(parse_query::<ListQuery>(query).and_then(|query| query.paging()))
}

/// The 400 of the client list given `query`.
fn client_query(query: &str) -> ApiError {
    refusal(parse_query::<ClientListQuery>(query).and_then(|query| query.parse()))
}

/// The 422 of a tag given `body`, read as the API reads it.
fn tag_body(body: &[u8]) -> ApiError {
    let input = match parse_json::<TagInput>(body) {
        Ok(input) => input,
        Err(error) => return error,
    };
    let mut problems = Problems::default();
    input.value.require("value", &mut problems);
    input.unknown.report("", &mut problems);
    refusal(problems.finish(|| ()))
}

/// The CSV imports, by operationId.
pub const IMPORTS: &[&str] = &["importClients", "importOptOuts"];

/// The 422 of an import whose header row holds `cells`, as the API reads it.
fn csv_header(kind: ImportKind, cells: &[&str]) -> ApiError {
    match imports::parse_header(kind, cells) {
        Err(error) => error,
        Ok(_) => panic!("the example header was accepted"),
    }
}

/// Every error code the API answers, in status order.
pub fn catalog() -> Vec<Documented> {
    let writes = || {
        only(&[
            OPERATOR_WRITES,
            TAG_WRITES,
            CLIENT_WRITES,
            CLIENT_FILTER_WRITES,
            MAILING_WRITES,
        ])
    };
    let filters = || only(&[CLIENT_WRITES, CLIENT_FILTER_WRITES, MAILING_WRITES]);
    vec![
        // 400: requests that cannot be read.
        code(WithBody, "the body is not JSON", || {
            refusal(parse_json::<serde_json::Value>(br#"{"text": "#))
        }),
        code(
            WithBody,
            "the body broke off before its end",
            body_unreadable,
        ),
        code(
            WithId,
            "the path id is not a whole number; `details` names it",
            || invalid_path("abc"),
        ),
        detail(WithId, "the path id is not a whole number", || {
            invalid_path("abc")
        }),
        code(
            WithQuery,
            "query parameters are unknown, of the wrong type or out of range; `details` \
             names each",
            || list_query("page=0&page_size=1000"),
        ),
        detail(WithQuery, "a parameter this list does not take", || {
            refusal(parse_query::<ListQuery>("colour=red"))
        }),
        detail(WithQuery, "a number that is not a whole number", || {
            list_query("page=first")
        }),
        detail(WithQuery, "`page` or `page_size` out of its range", || {
            list_query("page_size=1000")
        }),
        detail(
            Only(vec!["listMessages", "getMailingStats"]),
            "`status` is not a message status",
            || refusal(parse_query::<MessageListQuery>("status=delivered").and_then(|q| q.parse())),
        ),
        detail(
            Only(vec!["listMailings"]),
            "`status` is not a mailing status",
            || refusal(parse_query::<MailingListQuery>("status=sleeping").and_then(|q| q.parse())),
        ),
        detail(
            Only(vec!["listClients", "listOptOuts"]),
            "`phone_prefix` is not 1 to 11 digits",
            || client_query("phone_prefix=%2B7900"),
        ),
        detail(
            Only(vec!["listClients"]),
            "`operator_code` is not an operator code",
            || client_query("operator_code=Beeline"),
        ),
        detail(Only(vec!["listClients"]), "`tag` is too long", || {
            client_query(&format!("tag={}", "x".repeat(TagValue::MAX_LEN + 1)))
        }),
        detail(
            Only(vec!["listOptOuts", "listInbound"]),
            "`phone_number` is not a phone number",
            || {
                refusal(
                    parse_query::<InboundListQuery>("phone_number=12345").and_then(|q| q.parse()),
                )
            },
        ),
        code(
            Only(vec!["getOptOut", "deleteOptOut"]),
            "the path names a number that is not a phone number; `details` says why",
            || refusal(opt_outs::path_phone("12345")),
        ),
        detail(
            Only(vec!["getOptOut", "deleteOptOut"]),
            "the path names a number that is not a phone number",
            || refusal(opt_outs::path_phone("12345")),
        ),
        code(
            WithIdempotencyKey,
            "the `Idempotency-Key` header cannot be a key; `details` says why",
            || idempotency::invalid_key(KeyProblem::InvalidCharacters),
        ),
        detail(
            WithIdempotencyKey,
            "the `Idempotency-Key` header is empty",
            || idempotency::invalid_key(KeyProblem::Empty),
        ),
        detail(
            WithIdempotencyKey,
            "the `Idempotency-Key` header is longer than 255 characters",
            || idempotency::invalid_key(KeyProblem::TooLong),
        ),
        detail(
            WithIdempotencyKey,
            "the `Idempotency-Key` header holds other than visible ASCII characters",
            || idempotency::invalid_key(KeyProblem::InvalidCharacters),
        ),
        detail(
            WithIdempotencyKey,
            "the `Idempotency-Key` header is sent more than once",
            || idempotency::invalid_key(KeyProblem::Repeated),
        ),
        // 401: who is asking.
        code(WithToken, "no `Authorization` header", auth::missing_token),
        code(
            WithToken,
            "the token is not one this API issued, or not a bearer token",
            auth::invalid_token,
        ),
        code(
            WithToken,
            "the token has expired; log in again",
            auth::token_expired,
        ),
        code(
            WithToken,
            "the token was revoked (logged out), or its account was disabled or deleted",
            auth::token_revoked,
        ),
        code(
            WithToken,
            "the API key was revoked, has expired, or is mistyped",
            auth::invalid_api_key,
        ),
        code(
            Only(vec!["login"]),
            "wrong username or password",
            auth::credentials::invalid_credentials,
        ),
        code(
            Only(vec!["receiveInbound"]),
            "no `X-Signature` header",
            inbound::missing_signature,
        ),
        code(
            Only(vec!["receiveInbound"]),
            "the `X-Signature` header does not sign this body with the shared secret",
            inbound::invalid_signature,
        ),
        code(
            Only(vec!["receiveInbound"]),
            "no `MAILING_INBOUND_SECRET` is configured, so no reply is accepted",
            inbound::no_secret,
        ),
        // 403: what the caller may do.
        code(
            NeedingRole,
            "the caller's role does not allow this; the message names the role it needs",
            || {
                ApiError::role_required(
                    mailing_domain::Role::Manager,
                    "the account ann is a viewer",
                )
            },
        ),
        code(
            Only(vec!["login"]),
            "signing in with a password is turned off (`MAILING_PASSWORD_LOGIN=false`)",
            auth::routes::password_login_off,
        ),
        // 404: the path names nothing.
        code(Under("/api/v1/operators/{id}"), "no such operator", || {
            ApiError::NotFound(Entity::Operator)
        }),
        code(Under("/api/v1/tags/{id}"), "no such tag", || {
            ApiError::NotFound(Entity::Tag)
        }),
        code(Under("/api/v1/clients/{id}"), "no such client", || {
            ApiError::NotFound(Entity::Client)
        }),
        code(
            Under("/api/v1/client-filters/{id}"),
            "no such client filter",
            || ApiError::NotFound(Entity::ClientFilter),
        ),
        code(
            Under("/api/v1/mailings/{id}"),
            "no such mailing, or it was deleted",
            || ApiError::NotFound(Entity::Mailing),
        ),
        code(Under("/api/v1/messages/{id}"), "no such message", || {
            ApiError::NotFound(Entity::Message)
        }),
        code(Under("/api/v1/users/{id}"), "no such account", || {
            ApiError::NotFound(Entity::User)
        }),
        code(
            Under("/api/v1/api-keys/{id}"),
            "no such API key, or it was already revoked",
            || ApiError::NotFound(Entity::ApiKey),
        ),
        code(
            Only(vec!["getClientImport", "getOptOutImport"]),
            "no import of this kind has this id",
            || ApiError::NotFound(Entity::Import),
        ),
        code(
            Under("/api/v1/opt-outs/{phone_number}"),
            "the number has not opted out",
            || ApiError::NotFound(Entity::OptOut),
        ),
        // 409: stored data stands in the way.
        code(
            Only(OPERATOR_WRITES.into()),
            "another operator has this code",
            || Rejection::DuplicateOperatorCode.into(),
        ),
        code(
            Only(vec!["replaceOperator", "updateOperator", "deleteOperator"]),
            "clients use the operator, so it cannot be deleted nor its code changed",
            || Rejection::OperatorInUse.into(),
        ),
        code(
            Only(TAG_WRITES.into()),
            "another tag has this value",
            || Rejection::DuplicateTag.into(),
        ),
        code(
            Only(vec!["deleteTag"]),
            "clients carry the tag (delete with ?detach=true to take it off them), or a saved \
             filter or a mailing yet to start names it",
            || {
                Rejection::TagInUse(TagUse {
                    clients: 3,
                    client_filters: vec![],
                    mailings: vec![],
                })
                .into()
            },
        ),
        code(
            Only(CLIENT_WRITES.into()),
            "another client has this phone number",
            || Rejection::DuplicatePhone.into(),
        ),
        code(
            Only(MAILING_UPDATES.into()),
            "the mailing is finished or cancelled and can no longer change",
            || Rejection::MailingLocked(UpdateRefused::NotEditable(MailingStatus::Finished)).into(),
        ),
        code(
            Only(MAILING_UPDATES.into()),
            "the mailing is running (or paused after its start): only `text`, `end_at`, \
             `send_window`, `frequency_cap` and `auto_pause` may change; `details` names the \
             locked fields",
            || {
                Rejection::MailingLocked(UpdateRefused::RunningFieldsLocked(vec![
                    MailingField::StartAt,
                    MailingField::Filter,
                ]))
                .into()
            },
        ),
        code(
            Only(vec!["cancelMailing"]),
            "the mailing is finished and cannot be cancelled",
            || Rejection::MailingFinished.into(),
        ),
        code(
            WithIdempotencyKey,
            "the first request with this `Idempotency-Key` is still being answered; retry in \
             a moment to get its answer",
            idempotency::key_in_flight,
        ),
        code(
            Only(MAILING_PAUSES.into()),
            "the mailing is finished or cancelled, so it can no longer be paused or resumed",
            || Rejection::MailingOver(MailingStatus::Finished).into(),
        ),
        code(
            Only(vec!["createUser"]),
            "another account has this username",
            || Rejection::DuplicateUsername.into(),
        ),
        code(
            Only(vec!["createApiKey"]),
            "another API key has this name",
            || Rejection::DuplicateApiKeyName.into(),
        ),
        code(
            Only(vec!["updateUser", "deleteUser", "changePassword"]),
            "the account is the one `MAILING_ADMIN_USERNAME` configures; only the \
             configuration changes it",
            users::configured_account_example,
        ),
        code(
            Only(vec!["updateUser", "deleteUser"]),
            "an admin cannot demote, disable or delete their own account",
            users::own_account,
        ),
        code(
            Only(vec!["sendDailyReport"]),
            "no SMTP server or no recipients are configured (`MAILING_SMTP_URL`, \
             `MAILING_REPORT_RECIPIENTS`)",
            reports::email_off,
        ),
        // 413, 415: bodies the API does not read.
        code(
            Only(IMPORTS.into()),
            "the file is larger than the limit (MAILING_IMPORT_MAX_BYTES, 512 MiB by default)",
            || ApiError::PayloadTooLarge { limit: 536_870_912 },
        ),
        code(
            WithBody,
            "the body is larger than the limit (MAILING_MAX_BODY_BYTES, 65536 by default)",
            || ApiError::PayloadTooLarge { limit: 65536 },
        ),
        code(
            WithBody,
            "the body is not sent as JSON (`application/json` or another `…+json` type)",
            || ApiError::UnsupportedMediaType,
        ),
        // 422: fields that break rules. The first row that covers an operation gives its
        // example: a client's two bad fields, or an unknown field anywhere else.
        code(
            Only(IMPORTS.into()),
            "the file's header row cannot be read; `details` names each column at fault",
            || csv_header(ImportKind::Clients, &["phone", "tags"]),
        ),
        detail(
            Only(IMPORTS.into()),
            "a header column that is not one of the file's columns",
            || csv_header(ImportKind::Clients, &["phone_number", "phone"]),
        ),
        detail(Only(IMPORTS.into()), "a header column named twice", || {
            csv_header(ImportKind::Clients, &["phone_number", "tags", "tags"])
        }),
        detail(
            Only(vec!["importClients"]),
            "an `attr.<key>` column whose key is not 1 to 64 of `a-z`, `0-9`, `_`",
            || csv_header(ImportKind::Clients, &["phone_number", "attr.City"]),
        ),
        detail(
            Only(IMPORTS.into()),
            "the header has no `phone_number` column",
            || csv_header(ImportKind::OptOuts, &["reason"]),
        ),
        detail(Only(IMPORTS.into()), "the file is empty", || {
            csv_header(ImportKind::Clients, &[""])
        }),
        code(
            Only(CLIENT_WRITES.into()),
            "fields break rules; `details` names each field and rule",
            || {
                let mut problems = Problems::default();
                problems.check("phone_number", PhoneNumber::parse("89001234567"));
                problems.check("time_zone", TimeZone::parse("Moscow"));
                refusal(problems.finish(|| ()))
            },
        ),
        code(
            Only(vec!["resendMailing"]),
            "fields break rules; `details` names each field and rule",
            || {
                let mut problems = Problems::default();
                problems.push(unknown_resend_status(0, "sent"));
                Required::<String>::absent().require("end_at", &mut problems);
                refusal(problems.finish(|| ()))
            },
        ),
        code(
            WithBody,
            "fields break rules; `details` names each field and rule",
            || tag_body(br#"{"value": "vip", "colour": "red"}"#),
        ),
        detail(WithBody, "the body is not a JSON object", || {
            refusal(parse_json::<TagInput>(br#"["vip"]"#))
        }),
        detail(WithBody, "a field the body must have is missing", || {
            tag_body(br"{}")
        }),
        detail(
            WithBody,
            "`null` for a field that cannot be empty; leave the field out to keep its value",
            || {
                let mut problems = Problems::default();
                Field::<String>::null().set_only("value", &mut problems);
                refusal(problems.finish(|| ()))
            },
        ),
        detail(WithBody, "a field of the wrong JSON type", || {
            tag_body(br#"{"value": 5}"#)
        }),
        detail(WithBody, "a field the body does not take", || {
            tag_body(br#"{"value": "vip", "colour": "red"}"#)
        }),
        detail(writes(), "a text that must not be blank is blank", || {
            invalid("text", MailingText::parse("  "))
        }),
        detail(
            Only(MAILING_WRITES.into()),
            "the text names a variable that does not exist; `message` gives its position",
            || template_problem("Hi {{ first_name }}!"),
        ),
        detail(
            Only(MAILING_WRITES.into()),
            "the text's `{{ … }}` cannot be read (not closed, empty, or an unknown filter)",
            || template_problem("Hi {{ attributes.name"),
        ),
        detail(
            Only(OPERATOR_WRITES.into()),
            "a price that is not a decimal string such as \"0.45\"",
            || invalid("price_per_segment", Price::parse("0,45")),
        ),
        detail(writes(), "a text is longer than its limit", || {
            invalid(
                "tags[0]",
                TagValue::parse(&"x".repeat(TagValue::MAX_LEN + 1)),
            )
        }),
        detail(writes(), "a label holds control characters", || {
            invalid("name", TagValue::parse("two\nlines"))
        }),
        detail(
            only(&[
                OPERATOR_WRITES,
                CLIENT_WRITES,
                CLIENT_FILTER_WRITES,
                MAILING_WRITES,
            ]),
            "not an operator code (lowercase latin letters, digits, `-`, `_`)",
            || invalid("operator_code", OperatorCode::parse("Beeline")),
        ),
        detail(filters(), "a list is longer than its limit", || {
            let max = ClientFilter::MAX_ENTRIES;
            invalid("tags", Err::<(), _>(Invalid::TooMany { max }))
        }),
        detail(
            Only(CLIENT_WRITES.into()),
            "not a phone number `7XXXXXXXXXX`",
            || invalid("phone_number", PhoneNumber::parse("89001234567")),
        ),
        detail(
            Only(CLIENT_WRITES.into()),
            "not an IANA time zone name",
            || invalid("time_zone", TimeZone::parse("Moscow")),
        ),
        detail(
            filters(),
            "no operator has this code; create the operator first",
            || {
                let code = OperatorCode::parse("tele2").expect("a code");
                ApiError::Validation(vec![unknown_operator("operator_code", &code)])
            },
        ),
        detail(
            // The same, found by storage when the operator goes between the check and the write.
            Only(CLIENT_WRITES.into()),
            "no operator has this code; create the operator first",
            || Rejection::UnknownOperator.into(),
        ),
        detail(
            only(&[CLIENT_FILTER_WRITES, MAILING_WRITES]),
            "a filter names a tag that does not exist, so it would match nobody through it",
            || {
                let tag = TagValue::parse("vip").expect("a tag");
                ApiError::Validation(vec![unknown_tag("filter.tags[0]", &tag)])
            },
        ),
        detail(
            Only(MAILING_TIMES.into()),
            "a date-time that is not RFC 3339",
            || {
                // The API's own message shows tomorrow's date; this one a fixed day.
                ApiError::Validation(vec![FieldError::new(
                    "start_at",
                    "datetime_format",
                    "is not a date-time; write it like \"2026-12-07T09:00:00Z\"",
                )])
            },
        ),
        detail(
            Only(MAILING_TIMES.into()),
            "a date-time without an offset, while `local_time` is false",
            || {
                ApiError::Validation(vec![FieldError::new(
                    "start_at",
                    "offset_required",
                    "needs an offset such as Z or +03:00: write it like \
                     \"2026-12-07T09:00:00Z\", or set local_time to true to read it on each \
                     client's clock",
                )])
            },
        ),
        detail(
            Only(MAILING_WRITES.into()),
            "both `filter` and `client_filter_id` are given",
            || {
                ApiError::Validation(vec![FieldError::new(
                    "client_filter_id",
                    "exclusive",
                    "give either filter or client_filter_id, not both",
                )])
            },
        ),
        detail(
            Only(MAILING_WRITES.into()),
            "no saved client filter has this id",
            || Rejection::UnknownClientFilter.into(),
        ),
        detail(
            Only(MAILING_WRITES.into()),
            "a send window bound is not `HH:MM`",
            || {
                let rule = match SendWindow::parse("9:00", "18:00") {
                    Err(WindowInvalid::Start(rule)) => Err::<(), _>(rule),
                    _ => unreachable!("9:00 is not HH:MM"),
                };
                invalid("send_window.start", rule)
            },
        ),
        detail(
            Only(MAILING_WRITES.into()),
            "a send window starts and ends at the same time",
            || {
                let rule = match SendWindow::parse("09:00", "09:00") {
                    Err(WindowInvalid::Window(rule)) => Err::<(), _>(rule),
                    _ => unreachable!("an empty window"),
                };
                invalid("send_window", rule)
            },
        ),
        detail(
            Only(MAILING_TIMES.into()),
            "`end_at` is not after `start_at`",
            || {
                Rejection::Invalid {
                    field: "end_at",
                    rule: Invalid::EndNotAfterStart,
                }
                .into()
            },
        ),
        detail(
            Only(MAILING_UPDATES.into()),
            "the filter of a resend, whose recipients were fixed when it was made",
            || {
                Rejection::Invalid {
                    field: "filter",
                    rule: Invalid::FixedRecipients,
                }
                .into()
            },
        ),
        detail(Only(MAILING_TIMES.into()), "`end_at` has passed", || {
            Rejection::Invalid {
                field: "end_at",
                rule: Invalid::InPast,
            }
            .into()
        }),
        // One row for a mailing's numbers and times, listed first for its writes; the next
        // two give the other examples of the code (and a resend's only one).
        detail(
            Only(MAILING_WRITES.into()),
            "a number or a time out of its range: `frequency_cap.max` 1 to 1000, \
             `frequency_cap.per_hours` 1 to 8760, `auto_pause.attempts` 1 to 100000, \
             `auto_pause.failure_share` 0 up to but not including 1; times between the years \
             1970 and 9999",
            || {
                invalid(
                    "frequency_cap.max",
                    FrequencyCap::new(0, 24).map_err(|(_, rule)| rule),
                )
            },
        ),
        detail(
            Only(MAILING_WRITES.into()),
            "`auto_pause.failure_share` is not below 1 (1 would never pause: set `enabled` to \
             false instead)",
            || invalid("auto_pause.failure_share", FailureShare::new(1.0)),
        ),
        detail(
            Only(MAILING_TIMES.into()),
            "a time outside the years 1970 to 9999",
            || {
                Rejection::Invalid {
                    field: "start_at",
                    rule: Invalid::OutOfRange,
                }
                .into()
            },
        ),
        code(
            WithIdempotencyKey,
            "this `Idempotency-Key` was sent within the last 24 hours with another request \
             (method, path, query or body); use a new key for a new request",
            idempotency::key_reused,
        ),
        detail(
            Only(vec!["resendMailing"]),
            "no message of the mailing ended in the statuses given, so the resend would reach \
             nobody",
            || Rejection::NoResendRecipients.into(),
        ),
        detail(
            Only(vec!["resendMailing"]),
            "a status a resend cannot pick its clients by: only `failed`, `expired` and \
             `cancelled`",
            || ApiError::Validation(vec![unknown_resend_status(0, "sent")]),
        ),
        detail(
            Only(vec!["resendMailing"]),
            "`statuses` is empty; name at least one",
            || invalid("statuses", Err::<(), _>(Invalid::Empty)),
        ),
        detail(
            Only(vec!["createOptOut"]),
            "not a phone number: 11 digits starting with 7, or a number written as people \
             write one (`+7 (900) 123-45-67`, `8 900 123 45 67`)",
            || invalid("phone_number", PhoneNumber::normalise("12345")),
        ),
        detail(
            Only(vec!["createOptOut"]),
            "`reason` is blank or longer than 500 characters",
            || invalid("reason", OptOutReason::parse(&"x".repeat(501))),
        ),
        detail(
            Only(vec!["receiveInbound"]),
            "`from` is not a phone number",
            || invalid("from", PhoneNumber::normalise("12345")),
        ),
        detail(
            Only(vec!["receiveInbound"]),
            "`text` is longer than 1,600 characters",
            || invalid("text", InboundText::parse(&"x".repeat(1601))),
        ),
        code(
            Only(OWN_ACCOUNT.into()),
            "an API key has no session nor password of its own",
            users::not_an_account_example,
        ),
        detail(
            Only(vec!["createUser"]),
            "`username` is not 1 to 100 of latin letters, digits, `.`, `_`, `@`, `-`",
            || invalid("username", parse_username("ann smith")),
        ),
        detail(
            Only(vec!["createUser", "updateUser", "createApiKey"]),
            "`role` is not `admin`, `manager` or `viewer`",
            || invalid("role", mailing_domain::Role::read("root")),
        ),
        detail(
            Only(USER_WRITES.into()),
            "the password is shorter than 10 or longer than 1,000 characters",
            || invalid("password", check_password("short")),
        ),
        detail(
            Only(vec!["changePassword"]),
            "`current_password` is not the account's password",
            users::wrong_password,
        ),
        detail(
            Only(vec!["createApiKey"]),
            "`expires_at` is not a date-time with an offset",
            || {
                let mut problems = Problems::default();
                api_keys::future_instant(
                    "expires_at",
                    "tomorrow",
                    chrono::Utc::now(),
                    &mut problems,
                );
                refusal(problems.finish(|| ()))
            },
        ),
        detail(
            Only(vec!["createApiKey"]),
            "`expires_at` is not in the future",
            || invalid("expires_at", Err::<(), _>(Invalid::InPast)),
        ),
        detail(
            Only(vec!["listAuditLog"]),
            "`since` or `until` is not a date-time with an offset",
            || refusal(parse_query::<AuditLogQuery>("since=yesterday").and_then(|q| q.parse())),
        ),
        detail(
            Only(vec!["getDailyReport"]),
            "`date` is not a date written as YYYY-MM-DD",
            || report_date_in_query("06.12.2026"),
        ),
        detail(
            Only(vec!["getDailyReport"]),
            "`date` is after today in the report's time zone",
            || report_date_in_query("9999-12-31"),
        ),
        detail(
            Only(vec!["getDailyReport"]),
            "`date` is before 1970-01-01",
            || report_date_in_query("1969-12-31"),
        ),
        detail(
            Only(vec!["sendDailyReport"]),
            "`date` is before 1970-01-01",
            || report_date_in_body("1969-12-31"),
        ),
        detail(
            Only(vec!["sendDailyReport"]),
            "`date` is not a date written as YYYY-MM-DD",
            || report_date_in_body("06.12.2026"),
        ),
        detail(
            Only(vec!["sendDailyReport"]),
            "`date` is after today in the report's time zone",
            || report_date_in_body("9999-12-31"),
        ),
        // 429: login throttling.
        code(
            Only(vec!["login"]),
            "too many failed logins from this client; retry after `Retry-After` seconds",
            || ApiError::TooManyAttempts {
                retry_after: Duration::from_secs(42),
            },
        ),
        // 5xx.
        code(
            Only(vec!["sendDailyReport"]),
            "the SMTP server refused the report or could not be reached; `message` has its \
             answer",
            || {
                reports::smtp_failed(
                    &"the SMTP server did not take the report: transient error (451): 4.3.0 \
                      Mailbox busy, try again later",
                )
            },
        ),
        code(
            ByEvery,
            "a bug or an unexpected failure; the log line with the same `X-Request-Id` says \
             more",
            || ApiError::Internal("an unexpected failure".to_owned()),
        ),
        code(
            ByEvery,
            "the database is unavailable, or still being prepared while the service starts; \
             retry later",
            || ApiError::Unavailable,
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn every_row_documents_one_code_with_its_own_example() {
        let mut seen = BTreeSet::new();
        for row in catalog() {
            let body = row.body();
            let code = row.code();
            assert!(!code.is_empty(), "{}: no code", row.meaning);
            assert!(
                code.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
                "{code}"
            );
            if row.level == Level::Detail {
                assert!(!body.details.is_empty(), "{code}: no detail");
            }
            let example = serde_json::to_string(&body).unwrap();
            assert!(
                seen.insert((
                    row.status(),
                    row.level == Level::Code,
                    code.clone(),
                    example
                )),
                "{code} is documented twice with one example"
            );
        }
    }

    /// A storage rejection added to the domain fails to compile here, as a reminder to map it in
    /// `error.rs` and document it above.
    #[test]
    fn every_rejection_is_documented() {
        let rejections = [
            Rejection::DuplicatePhone,
            Rejection::DuplicateTag,
            Rejection::DuplicateOperatorCode,
            Rejection::DuplicateUsername,
            Rejection::DuplicateApiKeyName,
            Rejection::UnknownOperator,
            Rejection::OperatorInUse,
            Rejection::TagInUse(TagUse {
                clients: 1,
                client_filters: vec![],
                mailings: vec![],
            }),
            Rejection::UnknownClientFilter,
            Rejection::MailingLocked(UpdateRefused::NotEditable(MailingStatus::Cancelled)),
            Rejection::MailingLocked(UpdateRefused::RunningFieldsLocked(vec![])),
            Rejection::MailingFinished,
            Rejection::MailingOver(MailingStatus::Finished),
            Rejection::NoResendRecipients,
            Rejection::Invalid {
                field: "end_at",
                rule: Invalid::InPast,
            },
        ];
        let documented: BTreeSet<(u16, String)> = catalog()
            .iter()
            .map(|row| (row.status(), row.code()))
            .collect();
        for rejection in rejections {
            match &rejection {
                Rejection::DuplicatePhone
                | Rejection::DuplicateTag
                | Rejection::DuplicateOperatorCode
                | Rejection::DuplicateUsername
                | Rejection::DuplicateApiKeyName
                | Rejection::UnknownOperator
                | Rejection::OperatorInUse
                | Rejection::TagInUse(_)
                | Rejection::UnknownClientFilter
                | Rejection::MailingLocked(_)
                | Rejection::MailingFinished
                | Rejection::MailingOver(_)
                | Rejection::NoResendRecipients
                | Rejection::Invalid { .. } => {}
            }
            let error = ApiError::from(rejection);
            let status = actix_web::ResponseError::status_code(&error).as_u16();
            let body = error.body();
            let code = match body.code.as_str() {
                // A field rule: the detail's code is what the document lists.
                "validation_failed" => body.details[0].code.clone(),
                other => other.to_owned(),
            };
            assert!(
                documented.contains(&(status, code.clone())),
                "{status} {code} is not documented in error_codes.rs"
            );
        }
    }
}
