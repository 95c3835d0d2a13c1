//! `POST /mailings/preview`: what a mailing would send, in SMS parts and money, before it is
//! saved.

use crate::auth::Authenticated;
use crate::error::ApiError;
use crate::extract::JsonBody;
use crate::operations::mailings::{MailingInput, MailingWarning};
use crate::operations::preview::{self, MailingPreview};
use crate::routes::messages::MessageEncoding;
use crate::state::AppState;
use mailing_domain::preview::Sample;
use mailing_domain::template::Variable;
use mailing_domain::{Encoding, Segments};
use paperclip::actix::{Apiv2Schema, api_v2_operation, web};
use serde::Serialize;
use std::collections::BTreeMap;

/// How a text counts as SMS.
#[derive(Serialize, Apiv2Schema)]
pub struct TextCountBody {
    pub encoding: MessageEncoding,
    /// Places the text takes: GSM characters, with `€ [ ] { } ^ ~ \ |` as two, or UTF-16
    /// units for UCS-2 (an emoji is two).
    pub characters: usize,
    /// Paid SMS parts: one up to 160 GSM or 70 UCS-2 characters, else parts of 153 or 67.
    pub segments: usize,
    /// The characters outside the GSM alphabet that made the text UCS-2, each once.
    pub ucs2_characters: Vec<String>,
}

impl From<&Segments> for TextCountBody {
    fn from(counted: &Segments) -> Self {
        Self {
            encoding: counted.encoding.into(),
            characters: counted.characters,
            segments: counted.parts,
            ucs2_characters: counted
                .ucs2_characters
                .iter()
                .map(char::to_string)
                .collect(),
        }
    }
}

/// How many of the messages travel in each encoding.
#[derive(Serialize, Apiv2Schema)]
pub struct ByEncodingBody {
    pub gsm7: u64,
    pub ucs2: u64,
}

/// One recipient's message as it would be sent.
#[derive(Serialize, Apiv2Schema)]
pub struct PreviewSampleBody {
    pub client_id: i64,
    pub phone_number: String,
    pub operator_code: String,
    /// The text rendered for this client.
    pub text: String,
    #[serde(flatten)]
    pub count: TextCountBody,
    /// Variables this client has no value for and that have no fallback: they are empty in
    /// its text.
    pub missing_variables: Vec<String>,
}

impl From<&Sample> for PreviewSampleBody {
    fn from(sample: &Sample) -> Self {
        Self {
            client_id: sample.client.id.0,
            phone_number: sample.client.phone.as_str().to_owned(),
            operator_code: sample.client.operator_code.as_str().to_owned(),
            text: sample.text.clone(),
            count: TextCountBody::from(&sample.segments),
            missing_variables: sample.missing.iter().map(Variable::to_string).collect(),
        }
    }
}

/// What the messages at one operator would cost.
#[derive(Serialize, Apiv2Schema)]
pub struct OperatorCostBody {
    pub operator_code: String,
    pub messages: u64,
    pub segments: u64,
    /// The operator's price per part, a decimal string.
    pub price_per_segment: String,
    /// `segments` × `price_per_segment`, a decimal string.
    pub cost: String,
}

/// The estimated cost, from operators' `price_per_segment`.
#[derive(Serialize, Apiv2Schema)]
pub struct CostBody {
    /// The cost at every operator with a price, a decimal string; `"0.00"` when none has one.
    pub total: String,
    pub by_operator: Vec<OperatorCostBody>,
    /// Operators with messages but no price: their parts are not in `total`.
    pub unpriced_operators: Vec<String>,
}

#[derive(Serialize, Apiv2Schema)]
pub struct MailingPreviewBody {
    /// Clients the filter matches now.
    pub recipients: u64,
    /// Of them, those whose number opted out: their messages would be suppressed, not sent.
    pub suppressed: u64,
    /// Messages that would be sent: `recipients` − `suppressed`.
    pub messages: u64,
    /// Those messages by encoding.
    pub by_encoding: ByEncodingBody,
    /// Those messages by how many SMS parts each takes, keyed by the number of parts:
    /// `{"1": 950, "2": 50}`.
    pub by_parts: BTreeMap<String, u64>,
    /// SMS parts of all those messages: what the provider would bill.
    pub segments_total: u64,
    pub cost: CostBody,
    /// The text as written, with each variable's fallback in its place (or nothing for one
    /// without), counted; exact for a text without variables.
    pub text_count: TextCountBody,
    /// Whether the text shows something of each client (`{{ … }}`).
    pub has_variables: bool,
    /// The messages of the first few recipients (by client id), as they would be sent.
    pub samples: Vec<PreviewSampleBody>,
    /// What saving the mailing now would warn about.
    pub warnings: Vec<MailingWarning>,
}

impl From<MailingPreview> for MailingPreviewBody {
    fn from(preview: MailingPreview) -> Self {
        let tally = &preview.tally;
        let by = |encoding| tally.by_encoding.get(&encoding).copied().unwrap_or(0);
        Self {
            recipients: tally.recipients,
            suppressed: tally.suppressed,
            messages: tally.recipients - tally.suppressed,
            by_encoding: ByEncodingBody {
                gsm7: by(Encoding::Gsm7),
                ucs2: by(Encoding::Ucs2),
            },
            by_parts: tally
                .by_parts
                .iter()
                .map(|(parts, messages)| (parts.to_string(), *messages))
                .collect(),
            segments_total: tally.segments_total,
            cost: CostBody {
                total: preview.cost.total.to_string(),
                by_operator: preview
                    .cost
                    .by_operator
                    .iter()
                    .map(|(code, price, cost)| {
                        let at = tally.by_operator.get(code).copied().unwrap_or_default();
                        OperatorCostBody {
                            operator_code: code.as_str().to_owned(),
                            messages: at.messages,
                            segments: at.segments,
                            price_per_segment: price.to_string(),
                            cost: cost.to_string(),
                        }
                    })
                    .collect(),
                unpriced_operators: preview
                    .cost
                    .unpriced
                    .iter()
                    .map(|code| code.as_str().to_owned())
                    .collect(),
            },
            text_count: TextCountBody::from(&preview.text),
            has_variables: preview.has_variables,
            samples: tally.samples.iter().map(PreviewSampleBody::from).collect(),
            warnings: preview.warnings,
        }
    }
}

/// Preview a mailing
///
/// Takes the body of a new mailing and stores nothing. Renders its text for every client the
/// filter matches now and answers how many messages that makes, their encodings and SMS parts,
/// the parts in all and their cost at each operator's `price_per_segment`, the messages of the
/// first few recipients, and the warnings saving it would give. The body is checked as
/// `createMailing` checks it: the same problems give the same 422.
#[api_v2_operation(operation_id = "previewMailing", tags(Mailings))]
pub async fn preview(
    _: Authenticated,
    state: web::Data<AppState>,
    body: JsonBody<MailingInput>,
) -> Result<web::Json<MailingPreviewBody>, ApiError> {
    let preview = preview::preview(&state, body.0).await?;
    Ok(web::Json(preview.into()))
}
