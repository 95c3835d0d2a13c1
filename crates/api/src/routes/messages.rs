//! Messages: read only; the scheduler and the sender write them.

use crate::auth::Authenticated;
use crate::error::ApiError;
use crate::extract::QueryParams;
use crate::operations::messages::MessageListQuery;
use crate::routes::page::page_of;
use crate::state::AppState;
use chrono::{DateTime, Utc};
use mailing_domain::store::Message;
use mailing_domain::{Encoding, MessageId};
use paperclip::actix::{Apiv2Schema, api_v2_operation, web};
use serde::Serialize;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/messages").route(web::get().to(list)))
        .service(web::resource("/messages/{id}").route(web::get().to(get)));
}

#[derive(Serialize, Apiv2Schema)]
pub struct MessageBody {
    /// Also the `msgId` sent to the probe.
    pub id: i64,
    pub mailing_id: i64,
    /// `null` once the client was deleted.
    pub client_id: Option<i64>,
    /// The number the message is addressed to, taken from the client when the message was
    /// created. A sent message keeps it when its client changes number or is deleted; one not
    /// yet handed to a sender follows its client to a new number. `null` only for messages
    /// whose client was deleted before messages kept their number.
    pub phone_number: Option<String>,
    /// `scheduled`, `queued`, `sent`, `retrying`, `failed`, `expired`, `cancelled` or
    /// `suppressed` (never sent: the number opted out).
    pub status: String,
    pub attempts: u32,
    /// Why the last attempt failed; for an `expired` message, always why it expired, e.g.
    /// "the mailing ended before its turn came".
    pub last_error: Option<String>,
    /// When the next attempt may happen, while the message is unsent.
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub sent_at: Option<DateTime<Utc>>,
    /// The text sent to the provider, the mailing's text rendered for this client. Set by
    /// the first attempt and kept by later ones; `null` until then.
    pub text: Option<String>,
    /// `gsm7` or `ucs2`: how `text` travels; `null` until the first attempt.
    pub encoding: Option<MessageEncoding>,
    /// The SMS parts `text` takes (160 GSM or 70 UCS-2 characters in one, 153 or 67 per part
    /// of a longer one); `null` until the first attempt.
    pub segments: Option<u32>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// How a text travels as SMS: the GSM 03.38 alphabet, or UCS-2 when a character is not in it.
#[derive(Serialize, Apiv2Schema)]
#[serde(rename_all = "snake_case")]
pub enum MessageEncoding {
    Gsm7,
    Ucs2,
}

impl From<Encoding> for MessageEncoding {
    fn from(encoding: Encoding) -> Self {
        match encoding {
            Encoding::Gsm7 => Self::Gsm7,
            Encoding::Ucs2 => Self::Ucs2,
        }
    }
}

impl From<Message> for MessageBody {
    fn from(message: Message) -> Self {
        Self {
            id: message.id.0,
            mailing_id: message.mailing_id.0,
            client_id: message.client_id.map(|id| id.0),
            phone_number: message.phone.map(|phone| phone.as_str().to_owned()),
            status: message.status.as_str().to_owned(),
            attempts: message.attempts,
            last_error: message.last_error,
            next_attempt_at: message.next_attempt_at,
            sent_at: message.sent_at,
            encoding: message.text.as_ref().map(|sent| sent.encoding.into()),
            segments: message.text.as_ref().map(|sent| sent.segments),
            text: message.text.map(|sent| sent.text),
            created_at: message.created_at,
            updated_at: message.updated_at,
        }
    }
}

page_of!(MessagePage, MessageBody);

/// List messages
///
/// Filter by mailing, client and status; all given conditions must hold. A deleted mailing's
/// messages are not listed, as the mailing is not.
#[api_v2_operation(operation_id = "listMessages", tags(Messages))]
pub async fn list(
    _: Authenticated,
    state: web::Data<AppState>,
    query: QueryParams<MessageListQuery>,
) -> Result<web::Json<MessagePage>, ApiError> {
    let (filter, paging) = query.0.parse()?;
    let page = state
        .run(move |s| s.list_messages(&filter, paging.request()))
        .await?;
    Ok(web::Json(MessagePage::new(page, paging)))
}

/// Get a message
///
/// A message of a deleted mailing is not found (404), as the mailing is not.
#[api_v2_operation(operation_id = "getMessage", tags(Messages))]
pub async fn get(
    _: Authenticated,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<web::Json<MessageBody>, ApiError> {
    let id = MessageId(id.into_inner());
    let message = state.run(move |s| s.get_message(id)).await?;
    Ok(web::Json(message.into()))
}
