//! Opt-outs: numbers that are never texted, whatever client or mailing names them.

use crate::auth::Authenticated;
use crate::error::ApiError;
use crate::extract::{JsonBody, QueryParams};
use crate::operations::opt_outs::{self, OptOutInput, OptOutListQuery, path_phone};
use crate::routes::page::page_of;
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, Responder};
use chrono::{DateTime, Utc};
use mailing_domain::OptOutSource;
use mailing_domain::opt_out::{OptOut, OptOutAdded};
use paperclip::actix::{Apiv2Schema, NoContent, OperationModifier, api_v2_operation, web};
use paperclip::v2::models::{DefaultOperationRaw, DefaultSchemaRaw, Either, Response};
use paperclip::v2::schema::Apiv2Schema as Schema;
use serde::Serialize;

/// One number's path: its segment is anything but letters, so that sibling paths named by a
/// word (such as `/opt-outs/import`) stay free.
pub const ONE_PATH: &str = "/opt-outs/{phone_number:[^/a-zA-Z]+}";

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/opt-outs")
            .route(web::get().to(list))
            .route(web::post().to(create)),
    )
    .service(
        web::resource(ONE_PATH)
            .route(web::get().to(get))
            .route(web::delete().to(delete)),
    );
}

#[derive(Serialize, Apiv2Schema)]
pub struct OptOutBody {
    /// `79001234567`.
    pub phone_number: String,
    /// Where it came from: `api`, `import`, `inbound` (a reply) or `ui` (the admin UI).
    pub source: String,
    pub reason: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl From<OptOut> for OptOutBody {
    fn from(opt_out: OptOut) -> Self {
        Self {
            phone_number: opt_out.phone.as_str().to_owned(),
            source: opt_out.source.as_str().to_owned(),
            reason: opt_out.reason.map(|r| r.as_str().to_owned()),
            created_at: opt_out.created_at,
        }
    }
}

#[derive(Serialize, Apiv2Schema)]
pub struct OptOutAddedBody {
    pub phone_number: String,
    /// `api`, `import`, `inbound` or `ui`: the first entry's, when the number had opted out
    /// already.
    pub source: String,
    pub reason: Option<String>,
    pub created_at: DateTime<Utc>,
    /// Waiting messages to the number that this request suppressed.
    pub suppressed: u64,
}

impl From<OptOutAdded> for OptOutAddedBody {
    fn from(added: OptOutAdded) -> Self {
        let body = OptOutBody::from(added.opt_out);
        Self {
            phone_number: body.phone_number,
            source: body.source,
            reason: body.reason,
            created_at: body.created_at,
            suppressed: added.suppressed,
        }
    }
}

page_of!(OptOutPage, OptOutBody);

/// A JSON answer that is 201 when it created its record and 200 when the record was there.
pub struct CreatedOrFound<T> {
    pub created: bool,
    pub body: T,
}

impl<T: Serialize> Responder for CreatedOrFound<T> {
    type Body = actix_web::body::BoxBody;

    fn respond_to(self, _: &HttpRequest) -> HttpResponse {
        let status = if self.created {
            StatusCode::CREATED
        } else {
            StatusCode::OK
        };
        HttpResponse::build(status).json(self.body)
    }
}

impl<T: Schema> Schema for CreatedOrFound<T> {
    fn name() -> Option<String> {
        T::name()
    }

    fn raw_schema() -> DefaultSchemaRaw {
        T::raw_schema()
    }
}

impl<T: Schema> OperationModifier for CreatedOrFound<T> {
    fn update_response(op: &mut DefaultOperationRaw) {
        for (status, description) in [
            (StatusCode::CREATED, "Created"),
            (StatusCode::OK, "Found: it was there already"),
        ] {
            op.responses.insert(
                status.as_str().into(),
                Either::Right(Response {
                    description: Some(description.to_owned()),
                    schema: Some({
                        let mut def = T::schema_with_ref();
                        def.retain_ref();
                        def
                    }),
                    ..Default::default()
                }),
            );
        }
    }
}

/// List opt-outs
///
/// Newest first. `phone_number` finds one number (written as for `POST`), `phone_prefix` the
/// numbers starting with its digits.
#[api_v2_operation(operation_id = "listOptOuts", tags(OptOuts))]
pub async fn list(
    _: Authenticated,
    state: web::Data<AppState>,
    query: QueryParams<OptOutListQuery>,
) -> Result<web::Json<OptOutPage>, ApiError> {
    let (query, paging) = query.0.parse()?;
    let page = opt_outs::list(&state, query, paging).await?;
    Ok(web::Json(OptOutPage::new(page, paging)))
}

/// Opt a number out
///
/// The number is never texted again: its messages waiting for an attempt are `suppressed` at
/// once (`suppressed` counts them), a message being sent is suppressed right before its
/// attempt, and mailings expanded later suppress theirs. 201 for a new opt-out; 200 when the
/// number had opted out already, answering its first entry unchanged (source, reason, time).
#[api_v2_operation(operation_id = "createOptOut", tags(OptOuts))]
pub async fn create(
    _: Authenticated,
    state: web::Data<AppState>,
    body: JsonBody<OptOutInput>,
) -> Result<CreatedOrFound<OptOutAddedBody>, ApiError> {
    let new = body.0.parse(OptOutSource::Api)?;
    let added = opt_outs::add(&state, new).await?;
    Ok(CreatedOrFound {
        created: added.created,
        body: added.into(),
    })
}

/// Get a number's opt-out
///
/// 404 when the number has not opted out. The number may be written as for `POST`.
#[api_v2_operation(operation_id = "getOptOut", tags(OptOuts))]
pub async fn get(
    _: Authenticated,
    state: web::Data<AppState>,
    phone_number: web::Path<String>,
) -> Result<web::Json<OptOutBody>, ApiError> {
    let phone = path_phone(&phone_number)?;
    Ok(web::Json(opt_outs::get(&state, phone).await?.into()))
}

/// Opt a number back in
///
/// Removes its opt-out (404 if it has none); messages suppressed meanwhile stay suppressed,
/// later mailings reach it again.
#[api_v2_operation(operation_id = "deleteOptOut", tags(OptOuts))]
pub async fn delete(
    _: Authenticated,
    state: web::Data<AppState>,
    phone_number: web::Path<String>,
) -> Result<NoContent, ApiError> {
    let phone = path_phone(&phone_number)?;
    opt_outs::remove(&state, phone).await?;
    Ok(NoContent)
}
