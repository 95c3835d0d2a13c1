//! Replies a provider forwards (`POST`, signed with the shared secret instead of a bearer
//! token), and their list.

use crate::auth::Authenticated;
use crate::error::ApiError;
use crate::extract::QueryParams;
use crate::operations::inbound::{self, InboundInput, InboundListQuery};
use crate::routes::page::page_of;
use crate::state::AppState;
use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest};
use chrono::{DateTime, Utc};
use futures_util::future::LocalBoxFuture;
use mailing_domain::opt_out::{InboundMessage, InboundRecorded};
use paperclip::actix::{Apiv2Schema, CreatedJson, OperationModifier, api_v2_operation, web};
use paperclip::v2::models::{DefaultOperationRaw, DefaultSchemaRaw};
use paperclip::v2::schema::Apiv2Schema as Schema;
use serde::Serialize;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/inbound")
            .route(web::get().to(list))
            .route(web::post().to(receive)),
    );
}

#[derive(Serialize, Apiv2Schema)]
pub struct InboundBody {
    pub id: i64,
    /// The number the reply came from, `79001234567`.
    pub phone_number: String,
    /// The reply as received.
    pub text: String,
    /// What it did: `opt_out` (it was an opt-out keyword), `opt_in` (an opt-in keyword) or
    /// `none`.
    pub action: String,
    pub received_at: DateTime<Utc>,
}

impl From<InboundMessage> for InboundBody {
    fn from(message: InboundMessage) -> Self {
        Self {
            id: message.id,
            phone_number: message.phone.as_str().to_owned(),
            text: message.text.as_str().to_owned(),
            action: message.action.as_str().to_owned(),
            received_at: message.received_at,
        }
    }
}

#[derive(Serialize, Apiv2Schema)]
pub struct InboundReceivedBody {
    pub id: i64,
    pub phone_number: String,
    pub text: String,
    /// `opt_out`, `opt_in` or `none`.
    pub action: String,
    pub received_at: DateTime<Utc>,
    /// Whether the number is opted out now, after the reply.
    pub opted_out: bool,
    /// Waiting messages to the number that the reply suppressed.
    pub suppressed: u64,
}

impl From<InboundRecorded> for InboundReceivedBody {
    fn from(recorded: InboundRecorded) -> Self {
        let opted_out = match recorded.message.action {
            mailing_domain::InboundAction::OptOut => true,
            mailing_domain::InboundAction::OptIn => false,
            // A reply without a keyword changes nothing, and the answer does not look it up.
            mailing_domain::InboundAction::None => false,
        };
        let suppressed = recorded
            .opt_out
            .as_ref()
            .map_or(0, |added| added.suppressed);
        let message = InboundBody::from(recorded.message);
        Self {
            id: message.id,
            phone_number: message.phone_number,
            text: message.text,
            action: message.action,
            received_at: message.received_at,
            opted_out,
            suppressed,
        }
    }
}

page_of!(InboundPage, InboundBody);

/// A reply body whose `X-Signature` header signs it; read only once the signature holds.
pub struct SignedReply(pub InboundInput);

impl FromRequest for SignedReply {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        let mut payload = payload.take();
        Box::pin(async move {
            let state = req
                .app_data::<web::Data<AppState>>()
                .cloned()
                .ok_or_else(|| ApiError::Internal("no application state".to_owned()))?;
            inbound::read_signed(&state, &req, &mut payload)
                .await
                .map(SignedReply)
        })
    }
}

impl Schema for SignedReply {
    fn name() -> Option<String> {
        InboundInput::name()
    }

    fn raw_schema() -> DefaultSchemaRaw {
        InboundInput::raw_schema()
    }
}

impl OperationModifier for SignedReply {
    fn update_parameter(op: &mut DefaultOperationRaw) {
        paperclip::actix::web::Json::<InboundInput>::update_parameter(op);
    }
}

/// Receive a reply
///
/// For the provider: each reply a person sends back, as `{"from": "79001234567", "text":
/// "STOP"}`, signed instead of carrying a bearer token: the `X-Signature` header is
/// `sha256=<hex>`, the HMAC-SHA256 of the raw body keyed with `MAILING_INBOUND_SECRET`. A
/// missing or wrong signature, or no secret configured, is 401 and keeps nothing; the body is
/// read only once the signature holds. A reply that is exactly an opt-out keyword
/// (`MAILING_INBOUND_OPT_OUT_KEYWORDS`, by default STOP, СТОП, ОТПИСКА, UNSUBSCRIBE) opts the
/// number out, as `POST /opt-outs` would with source `inbound`; an opt-in keyword
/// (`MAILING_INBOUND_OPT_IN_KEYWORDS`, by default START, СТАРТ) removes its opt-out. Case,
/// surrounding space and trailing punctuation (`.`, `!`, `?`, `,`, `;`, `:`, `…`) are ignored.
/// Every reply is kept (201), whatever it says.
#[api_v2_operation(operation_id = "receiveInbound", tags(Inbound))]
pub async fn receive(
    state: web::Data<AppState>,
    body: SignedReply,
) -> Result<CreatedJson<InboundReceivedBody>, ApiError> {
    let recorded = inbound::record(&state, body.0).await?;
    Ok(CreatedJson(recorded.into()))
}

/// List replies
///
/// Newest first; `phone_number` keeps one number's.
#[api_v2_operation(operation_id = "listInbound", tags(Inbound))]
pub async fn list(
    _: Authenticated,
    state: web::Data<AppState>,
    query: QueryParams<InboundListQuery>,
) -> Result<web::Json<InboundPage>, ApiError> {
    let (phone, paging) = query.0.parse()?;
    let page = inbound::list(&state, phone, paging).await?;
    Ok(web::Json(InboundPage::new(page, paging)))
}
