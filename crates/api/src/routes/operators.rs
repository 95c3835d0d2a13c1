//! Mobile operators.

use crate::auth::Authenticated;
use crate::error::{ApiError, Problems};
use crate::extract::{JsonBody, QueryParams};
use crate::routes::paging::{Paging, page_of};
use crate::state::AppState;
use chrono::{DateTime, Utc};
use mailing_domain::store::{NewOperator, Operator, OperatorPatch};
use mailing_domain::{OperatorCode, OperatorId, OperatorName};
use paperclip::actix::{Apiv2Schema, CreatedJson, NoContent, api_v2_operation, web};
use serde::{Deserialize, Serialize};

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
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<Operator> for OperatorBody {
    fn from(operator: Operator) -> Self {
        Self {
            id: operator.id.0,
            code: operator.code.as_str().to_owned(),
            name: operator.name.as_str().to_owned(),
            created_at: operator.created_at,
            updated_at: operator.updated_at,
        }
    }
}

page_of!(OperatorPage, OperatorBody);

#[derive(Deserialize, Apiv2Schema)]
#[serde(deny_unknown_fields)]
pub struct OperatorInput {
    /// 1 to 32 characters: lowercase latin letters, digits, `-`, `_`. Unique.
    pub code: String,
    /// 1 to 100 characters.
    pub name: String,
}

#[derive(Deserialize, Apiv2Schema)]
#[serde(deny_unknown_fields)]
pub struct OperatorPatchInput {
    pub code: Option<String>,
    pub name: Option<String>,
}

#[derive(Deserialize, Apiv2Schema)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Page number, from 1.
    pub page: Option<u32>,
    /// Items per page, 1 to 500 (default 50).
    pub page_size: Option<u32>,
}

impl OperatorPatchInput {
    fn parse(self) -> Result<OperatorPatch, ApiError> {
        let mut problems = Problems::default();
        let code = self
            .code
            .map(|raw| problems.check("code", OperatorCode::parse(&raw)));
        let name = self
            .name
            .map(|raw| problems.check("name", OperatorName::parse(&raw)));
        problems.finish(|| OperatorPatch {
            code: code.flatten(),
            name: name.flatten(),
        })
    }
}

impl OperatorInput {
    pub(crate) fn parse(self) -> Result<NewOperator, ApiError> {
        let patch = OperatorPatchInput {
            code: Some(self.code),
            name: Some(self.name),
        }
        .parse()?;
        Ok(NewOperator {
            code: patch.code.expect("given"),
            name: patch.name.expect("given"),
        })
    }
}

/// List operators
#[api_v2_operation(tags(Operators))]
pub async fn list(
    _: Authenticated,
    state: web::Data<AppState>,
    query: QueryParams<ListQuery>,
) -> Result<web::Json<OperatorPage>, ApiError> {
    let paging = Paging::parse(query.0.page, query.0.page_size)?;
    let page = state
        .run(move |s| s.list_operators(paging.request()))
        .await?;
    Ok(web::Json(OperatorPage::new(page, paging)))
}

/// Create an operator
#[api_v2_operation(tags(Operators))]
pub async fn create(
    _: Authenticated,
    state: web::Data<AppState>,
    body: JsonBody<OperatorInput>,
) -> Result<CreatedJson<OperatorBody>, ApiError> {
    let new = body.0.parse()?;
    let operator = state.run(move |s| s.create_operator(&new)).await?;
    Ok(CreatedJson(operator.into()))
}

/// Get an operator
#[api_v2_operation(tags(Operators))]
pub async fn get(
    _: Authenticated,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<web::Json<OperatorBody>, ApiError> {
    let id = OperatorId(id.into_inner());
    let operator = state.run(move |s| s.get_operator(id)).await?;
    Ok(web::Json(operator.into()))
}

/// Replace an operator
///
/// Changing the code of an operator that clients use is refused (409).
#[api_v2_operation(tags(Operators))]
pub async fn replace(
    _: Authenticated,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    body: JsonBody<OperatorInput>,
) -> Result<web::Json<OperatorBody>, ApiError> {
    let id = OperatorId(id.into_inner());
    let new = body.0.parse()?;
    let patch = OperatorPatch {
        code: Some(new.code),
        name: Some(new.name),
    };
    let operator = state.run(move |s| s.update_operator(id, &patch)).await?;
    Ok(web::Json(operator.into()))
}

/// Update some fields of an operator
///
/// Changing the code of an operator that clients use is refused (409).
#[api_v2_operation(tags(Operators))]
pub async fn patch(
    _: Authenticated,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    body: JsonBody<OperatorPatchInput>,
) -> Result<web::Json<OperatorBody>, ApiError> {
    let id = OperatorId(id.into_inner());
    let patch = body.0.parse()?;
    let operator = state.run(move |s| s.update_operator(id, &patch)).await?;
    Ok(web::Json(operator.into()))
}

/// Delete an operator
///
/// Refused (409) while clients use the operator.
#[api_v2_operation(tags(Operators))]
pub async fn delete(
    _: Authenticated,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<NoContent, ApiError> {
    let id = OperatorId(id.into_inner());
    state.run(move |s| s.delete_operator(id)).await?;
    Ok(NoContent)
}
