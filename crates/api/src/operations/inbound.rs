//! Replies a provider forwards: checking their signature, reading them, and doing what their
//! keyword asks (opting the number out or back in). Every reply is kept, whatever it says.

use crate::error::ApiError;
use crate::extract::{BodyLimit, body_unreadable, parse_json};
use crate::operations::input::{QueryValue, Required, UnknownFields};
use crate::operations::paging::Paging;
use crate::operations::problems::Problems;
use crate::state::AppState;
use actix_web::HttpRequest;
use actix_web::dev::Payload;
use futures_util::StreamExt as _;
use mailing_domain::PhoneNumber;
use mailing_domain::opt_out::{
    InboundMessage, InboundRecorded, InboundText, Keywords, NewInboundMessage,
};
use mailing_domain::store::Page;
use mailing_runtime::signature;
use paperclip::actix::Apiv2Schema;
use secrecy::{ExposeSecret as _, SecretString};
use serde::Deserialize;

/// How the api reads forwarded replies.
pub struct InboundConfig {
    /// The secret replies are signed with; `None` refuses them all.
    pub secret: Option<SecretString>,
    pub keywords: Keywords,
}

impl InboundConfig {
    pub fn new(settings: &mailing_runtime::settings::InboundSettings) -> Self {
        Self {
            secret: settings.secret.clone(),
            keywords: Keywords::new(&settings.opt_out_keywords, &settings.opt_in_keywords),
        }
    }
}

#[derive(Default, Deserialize, Apiv2Schema)]
#[serde(default)]
pub struct InboundInput {
    /// The number the reply came from, as the provider writes it (`79001234567`,
    /// `+7 (900) 123-45-67`, `8 900 123 45 67`).
    pub from: Required<String>,
    /// What the person wrote, at most 1,600 characters.
    pub text: Required<String>,
    #[serde(flatten)]
    pub unknown: UnknownFields,
}

impl InboundInput {
    fn parse(self, keywords: &Keywords) -> Result<NewInboundMessage, ApiError> {
        let mut problems = Problems::default();
        let phone = self
            .from
            .require("from", &mut problems)
            .and_then(|raw| problems.check("from", PhoneNumber::normalise(&raw)));
        let text = self
            .text
            .require("text", &mut problems)
            .and_then(|raw| problems.check("text", InboundText::parse(&raw)));
        self.unknown.report("", &mut problems);
        problems.finish(|| {
            let text = text.expect("checked");
            NewInboundMessage {
                phone: phone.expect("checked"),
                action: keywords.action(text.as_str()),
                text,
            }
        })
    }
}

/// Reads a reply's body (within the body limit) and checks its signature before anything in
/// it is looked at; then reads it as JSON. A missing or wrong signature, or no secret
/// configured, is a 401.
pub async fn read_signed(
    state: &AppState,
    req: &HttpRequest,
    payload: &mut Payload,
) -> Result<InboundInput, ApiError> {
    let limit = BodyLimit::of(req);
    let mut body = Vec::new();
    let mut stream = payload.take();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|_| body_unreadable())?;
        if body.len() + chunk.len() > limit {
            return Err(ApiError::PayloadTooLarge { limit });
        }
        body.extend_from_slice(&chunk);
    }
    let Some(secret) = &state.inbound.secret else {
        return Err(no_secret());
    };
    let Some(header) = req.headers().get(signature::HEADER) else {
        return Err(missing_signature());
    };
    let header = header.to_str().unwrap_or_default();
    if !signature::verify(secret.expose_secret().as_bytes(), &body, header) {
        return Err(invalid_signature());
    }
    parse_json(&body)
}

pub(crate) fn no_secret() -> ApiError {
    ApiError::Unauthorized {
        code: "inbound_disabled",
        message: "replies are not accepted: no MAILING_INBOUND_SECRET is configured",
    }
}

pub(crate) fn missing_signature() -> ApiError {
    ApiError::Unauthorized {
        code: "missing_signature",
        message: "send X-Signature: sha256=<hex HMAC-SHA256 of the body with the shared secret>",
    }
}

pub(crate) fn invalid_signature() -> ApiError {
    ApiError::Unauthorized {
        code: "invalid_signature",
        message: "the X-Signature header does not sign this body with the shared secret",
    }
}

/// Keeps a reply and does what its keyword asks.
pub async fn record(state: &AppState, input: InboundInput) -> Result<InboundRecorded, ApiError> {
    let new = input.parse(&state.inbound.keywords)?;
    let recorded = state.run(move |s| s.record_inbound(&new)).await?;
    tracing::info!(
        inbound_id = recorded.message.id,
        action = %recorded.message.action,
        "reply received"
    );
    Ok(recorded)
}

/// The query of the list of replies.
#[derive(Deserialize, Apiv2Schema)]
#[serde(deny_unknown_fields)]
pub struct InboundListQuery {
    /// Page number, from 1.
    pub page: Option<QueryValue<u32>>,
    /// Items per page, 1 to 500 (default 50).
    pub page_size: Option<QueryValue<u32>>,
    /// Only replies from this number.
    pub phone_number: Option<String>,
}

impl InboundListQuery {
    pub fn parse(self) -> Result<(Option<PhoneNumber>, Paging), ApiError> {
        let mut problems = Problems::default();
        let paging = Paging::read(self.page.as_ref(), self.page_size.as_ref(), &mut problems);
        let phone = self
            .phone_number
            .and_then(|raw| problems.check("phone_number", PhoneNumber::normalise(&raw)));
        problems.finish_query(|| (phone, paging.expect("checked")))
    }
}

pub async fn list(
    state: &AppState,
    phone: Option<PhoneNumber>,
    paging: Paging,
) -> Result<Page<InboundMessage>, ApiError> {
    state
        .run(move |s| s.list_inbound(phone.as_ref(), paging.request()))
        .await
}
