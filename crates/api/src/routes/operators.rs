//! Mobile operators.

use crate::auth::Authenticated;
use crate::error::ApiError;
use crate::extract::{JsonBody, QueryParams};
use crate::operations::operators::{self, OperatorInput, OperatorPatchInput};
use crate::operations::paging::ListQuery;
use crate::routes::page::page_of;
use crate::state::AppState;
use chrono::{DateTime, Utc};
use mailing_domain::OperatorId;
use mailing_domain::store::Operator;
use paperclip::actix::{Apiv2Schema, CreatedJson, NoContent, api_v2_operation, web};
use serde::Serialize;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/operators")
            .route(web::get().to(list))
            .route(web::post().to(create)),
    )
    .service(
        web::resource("/operators/{id}")
            .route(web::get().to(get))
            .route(web::put().to(replace))
            .route(web::patch().to(patch))
            .route(web::delete().to(delete)),
    );
}

#[derive(Serialize, Apiv2Schema)]
pub struct OperatorBody {
    pub id: i64,
    /// Short code clients refer to, e.g. `bln`.
    pub code: String,
    /// Display name, e.g. `Beeline`.
    pub name: String,
    /// What one SMS part costs here, as a decimal string such as `"0.45"`; `null` when not
    /// set.
    pub price_per_segment: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<Operator> for OperatorBody {
    fn from(operator: Operator) -> Self {
        Self {
            id: operator.id.0,
            code: operator.code.as_str().to_owned(),
            name: operator.name.as_str().to_owned(),
            price_per_segment: operator.price_per_segment.map(|price| price.to_string()),
            created_at: operator.created_at,
            updated_at: operator.updated_at,
        }
    }
}

page_of!(OperatorPage, OperatorBody);

/// List operators
#[api_v2_operation(operation_id = "listOperators", tags(Operators))]
pub async fn list(
    _: Authenticated,
    state: web::Data<AppState>,
    query: QueryParams<ListQuery>,
) -> Result<web::Json<OperatorPage>, ApiError> {
    let paging = query.0.paging()?;
    let page = state
        .run(move |s| s.list_operators(paging.request()))
        .await?;
    Ok(web::Json(OperatorPage::new(page, paging)))
}

/// Create an operator
#[api_v2_operation(operation_id = "createOperator", tags(Operators))]
pub async fn create(
    _: Authenticated,
    state: web::Data<AppState>,
    body: JsonBody<OperatorInput>,
) -> Result<CreatedJson<OperatorBody>, ApiError> {
    let operator = operators::create(&state, body.0).await?;
    Ok(CreatedJson(operator.into()))
}

/// Get an operator
#[api_v2_operation(operation_id = "getOperator", tags(Operators))]
pub async fn get(
    _: Authenticated,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<web::Json<OperatorBody>, ApiError> {
    let id = OperatorId(id.into_inner());
    let operator = operators::get(&state, id).await?;
    Ok(web::Json(operator.into()))
}

/// Replace an operator
///
/// Changing the code of an operator that clients use is refused (409).
#[api_v2_operation(operation_id = "replaceOperator", tags(Operators))]
pub async fn replace(
    _: Authenticated,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    body: JsonBody<OperatorInput>,
) -> Result<web::Json<OperatorBody>, ApiError> {
    let operator = operators::replace(&state, OperatorId(id.into_inner()), body.0).await?;
    Ok(web::Json(operator.into()))
}

/// Update some fields of an operator
///
/// Changing the code of an operator that clients use is refused (409).
#[api_v2_operation(operation_id = "updateOperator", tags(Operators))]
pub async fn patch(
    _: Authenticated,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    body: JsonBody<OperatorPatchInput>,
) -> Result<web::Json<OperatorBody>, ApiError> {
    let operator = operators::patch(&state, OperatorId(id.into_inner()), body.0).await?;
    Ok(web::Json(operator.into()))
}

/// Delete an operator
///
/// Refused (409) while clients use the operator.
#[api_v2_operation(operation_id = "deleteOperator", tags(Operators))]
pub async fn delete(
    _: Authenticated,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<NoContent, ApiError> {
    operators::delete(&state, OperatorId(id.into_inner())).await?;
    Ok(NoContent)
}
