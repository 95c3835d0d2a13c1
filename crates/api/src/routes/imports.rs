//! CSV imports of clients and opt-outs, their jobs, and the client export.

use crate::auth::Authenticated;
use crate::error::ApiError;
use crate::extract::QueryParams;
use crate::operations::clients::ClientExportQuery;
use crate::operations::imports::{self, ImportLimit, ImportQuery};
use crate::operations::paging::ListQuery;
use crate::routes::page::page_of;
use crate::state::AppState;
use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, Responder};
use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use mailing_domain::import::{ImportId, ImportJob, ImportKind, RowRejection};
use paperclip::actix::{Apiv2Schema, OperationModifier, api_v2_operation, web};
use paperclip::v2::models::{DefaultOperationRaw, DefaultSchemaRaw, Either, Response};
use paperclip::v2::schema::Apiv2Schema as _;
use serde::Serialize;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/clients/import").route(web::post().to(import_clients)))
        .service(web::resource("/clients/imports").route(web::get().to(list_client_imports)))
        .service(web::resource("/clients/imports/{id}").route(web::get().to(get_client_import)))
        .service(web::resource("/clients/export").route(web::get().to(export_clients)))
        .service(web::resource("/opt-outs/import").route(web::post().to(import_opt_outs)))
        .service(web::resource("/opt-outs/imports").route(web::get().to(list_opt_out_imports)))
        .service(web::resource("/opt-outs/imports/{id}").route(web::get().to(get_opt_out_import)));
}

/// Why one row was not imported.
#[derive(Serialize, Apiv2Schema)]
pub struct RowRejectionBody {
    /// The row's line in the file; the header is line 1.
    pub line: u64,
    /// The header column at fault; `null` when the row as a whole is (its cell count, or text
    /// that is not UTF-8).
    pub column: Option<String>,
    pub reason: String,
    /// The cell as written (its first 100 characters), when it helps.
    pub value: Option<String>,
}

impl From<RowRejection> for RowRejectionBody {
    fn from(rejection: RowRejection) -> Self {
        Self {
            line: rejection.line,
            column: rejection.column,
            reason: rejection.reason,
            value: rejection.value,
        }
    }
}

/// A CSV import: its options, progress and report.
#[derive(Serialize, Apiv2Schema)]
pub struct ImportBody {
    pub id: i64,
    /// `clients` or `opt_outs`.
    pub kind: String,
    /// `upsert` or `insert`.
    pub mode: String,
    /// Whether the import only reports what it would do, storing nothing.
    pub dry_run: bool,
    /// `running`, `done` or `failed`.
    pub status: String,
    /// The file's size in bytes.
    pub bytes_total: Option<u64>,
    /// How much of the file was read.
    pub bytes_read: u64,
    /// `bytes_read / bytes_total`, from 0 to 1; 1 once done.
    pub progress: f64,
    /// Rows read so far, header and blank lines aside.
    pub rows: u64,
    pub created: u64,
    pub updated: u64,
    /// Rows that matched what was stored already.
    pub unchanged: u64,
    pub rejected: u64,
    /// The first 1,000 rejected rows, in file order.
    pub rejections: Vec<RowRejectionBody>,
    /// Why a failed import stopped.
    pub error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

impl From<ImportJob> for ImportBody {
    fn from(job: ImportJob) -> Self {
        Self {
            id: job.id.0,
            kind: job.kind.as_str().to_owned(),
            mode: job.mode.as_str().to_owned(),
            dry_run: job.dry_run,
            status: job.status.as_str().to_owned(),
            bytes_total: job.bytes_total,
            bytes_read: job.bytes_read,
            progress: job.progress(),
            rows: job.tally.rows,
            created: job.tally.created,
            updated: job.tally.updated,
            unchanged: job.tally.unchanged,
            rejected: job.tally.rejected,
            rejections: job.tally.rejections.into_iter().map(Into::into).collect(),
            error: job.error,
            created_at: job.created_at,
            updated_at: job.updated_at,
            finished_at: job.finished_at,
        }
    }
}

page_of!(ImportPage, ImportBody);

/// Where a job of `kind` is read.
pub fn job_path(kind: ImportKind, id: ImportId) -> String {
    match kind {
        ImportKind::Clients => format!("/api/v1/clients/imports/{id}"),
        ImportKind::OptOuts => format!("/api/v1/opt-outs/imports/{id}"),
    }
}

/// An import's answer: 202 with the job just started, or 200 with the finished job (`wait`);
/// `Location` leads to the job either way.
pub struct JobAnswer {
    status: StatusCode,
    job: ImportBody,
    location: String,
}

impl Responder for JobAnswer {
    type Body = actix_web::body::BoxBody;

    fn respond_to(self, _: &HttpRequest) -> HttpResponse {
        HttpResponse::build(self.status)
            .insert_header((header::LOCATION, self.location))
            .json(self.job)
    }
}

impl paperclip::v2::schema::Apiv2Schema for JobAnswer {
    fn name() -> Option<String> {
        ImportBody::name()
    }

    fn raw_schema() -> DefaultSchemaRaw {
        ImportBody::raw_schema()
    }
}

impl OperationModifier for JobAnswer {
    fn update_response(op: &mut DefaultOperationRaw) {
        for status in [StatusCode::ACCEPTED, StatusCode::OK] {
            op.responses.insert(
                status.as_str().into(),
                Either::Right(Response {
                    description: Some(
                        match status {
                            StatusCode::OK => "The finished import (`wait=true`)",
                            _ => "The import, started",
                        }
                        .to_owned(),
                    ),
                    schema: Some({
                        let mut def = ImportBody::schema_with_ref();
                        def.retain_ref();
                        def
                    }),
                    ..Default::default()
                }),
            );
        }
    }
}

async fn import(
    state: web::Data<AppState>,
    request: HttpRequest,
    kind: ImportKind,
    query: ImportQuery,
    body: web::Payload,
) -> Result<JobAnswer, ApiError> {
    let options = query.parse(kind)?;
    let limit = request
        .app_data::<ImportLimit>()
        .copied()
        .unwrap_or(ImportLimit(u64::MAX));
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse().ok());
    let (job, task) = imports::start(&state, kind, options, body, declared, limit).await?;
    let location = job_path(kind, job.id);
    if !options.wait {
        return Ok(JobAnswer {
            status: StatusCode::ACCEPTED,
            job: job.into(),
            location,
        });
    }
    task.await
        .map_err(|error| ApiError::Internal(format!("an import task ended abnormally: {error}")))?;
    let id = job.id;
    let done = state.run(move |s| s.get_import(id)).await?;
    Ok(JobAnswer {
        status: StatusCode::OK,
        job: done.into(),
        location,
    })
}

/// Import clients from CSV
///
/// The body is a CSV file (`text/csv`, UTF-8, comma-separated) whose first line names its
/// columns: `phone_number` (required), `operator_code`, `tags` (separated by `;`),
/// `time_zone`, and `attr.<key>` for attributes. Phone numbers may be written as people write
/// them (`+7 (900) 123-45-67`, `8 900 123 45 67`). A column left out leaves that field of
/// stored clients alone; a new client needs `operator_code`. A rejected row never stops the
/// others; the job reports each (line, column, reason). A bad header is a 422 and starts
/// nothing. See docs/contacts.md, "Import and export".
#[api_v2_operation(operation_id = "importClients", tags(Clients), consumes = "text/csv")]
pub async fn import_clients(
    _: Authenticated,
    state: web::Data<AppState>,
    request: HttpRequest,
    query: QueryParams<ImportQuery>,
    body: web::Payload,
) -> Result<JobAnswer, ApiError> {
    import(state, request, ImportKind::Clients, query.0, body).await
}

/// Import opt-outs from CSV
///
/// The body is a CSV file with the columns `phone_number` (required) and `reason`. Each number
/// is opted out with source `import`, and its messages still waiting are suppressed; a number
/// opted out already is `unchanged`.
#[api_v2_operation(operation_id = "importOptOuts", tags(OptOuts), consumes = "text/csv")]
pub async fn import_opt_outs(
    _: Authenticated,
    state: web::Data<AppState>,
    request: HttpRequest,
    query: QueryParams<ImportQuery>,
    body: web::Payload,
) -> Result<JobAnswer, ApiError> {
    import(state, request, ImportKind::OptOuts, query.0, body).await
}

async fn list(
    state: web::Data<AppState>,
    kind: ImportKind,
    query: ListQuery,
) -> Result<web::Json<ImportPage>, ApiError> {
    let paging = query.paging()?;
    imports::fail_stale(&state).await?;
    let page = state
        .run(move |s| s.list_imports(kind, paging.request()))
        .await?;
    Ok(web::Json(ImportPage::new(page, paging)))
}

async fn get(
    state: web::Data<AppState>,
    kind: ImportKind,
    id: i64,
) -> Result<web::Json<ImportBody>, ApiError> {
    let job = imports::get(&state, ImportId(id)).await?;
    if job.kind != kind {
        return Err(ApiError::NotFound(mailing_domain::store::Entity::Import));
    }
    Ok(web::Json(job.into()))
}

/// List client imports
///
/// Newest first.
#[api_v2_operation(operation_id = "listClientImports", tags(Clients))]
pub async fn list_client_imports(
    _: Authenticated,
    state: web::Data<AppState>,
    query: QueryParams<ListQuery>,
) -> Result<web::Json<ImportPage>, ApiError> {
    list(state, ImportKind::Clients, query.0).await
}

/// Get a client import
///
/// Its progress while `running`, and its report.
#[api_v2_operation(operation_id = "getClientImport", tags(Clients))]
pub async fn get_client_import(
    _: Authenticated,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<web::Json<ImportBody>, ApiError> {
    get(state, ImportKind::Clients, id.into_inner()).await
}

/// List opt-out imports
///
/// Newest first.
#[api_v2_operation(operation_id = "listOptOutImports", tags(OptOuts))]
pub async fn list_opt_out_imports(
    _: Authenticated,
    state: web::Data<AppState>,
    query: QueryParams<ListQuery>,
) -> Result<web::Json<ImportPage>, ApiError> {
    list(state, ImportKind::OptOuts, query.0).await
}

/// Get an opt-out import
#[api_v2_operation(operation_id = "getOptOutImport", tags(OptOuts))]
pub async fn get_opt_out_import(
    _: Authenticated,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<web::Json<ImportBody>, ApiError> {
    get(state, ImportKind::OptOuts, id.into_inner()).await
}

/// Export clients as CSV
///
/// Streams every client the list's filters select as a CSV file in the columns
/// an import reads: `phone_number`, `operator_code`, `tags`, `time_zone`, then
/// `attr.<key>` for every attribute key the exported clients have, sorted. Importing the file
/// back changes nothing.
#[api_v2_operation(operation_id = "exportClients", tags(Clients), produces = "text/csv")]
pub async fn export_clients(
    _: Authenticated,
    state: web::Data<AppState>,
    query: QueryParams<ClientExportQuery>,
) -> Result<HttpResponse, ApiError> {
    let filter = query.0.parse()?;
    export_download(state, filter).await
}

/// The CSV file of the clients `filter` selects, as a download; the API and the admin UI both
/// answer with it.
pub(crate) async fn export_download(
    state: web::Data<AppState>,
    filter: mailing_domain::store::ClientQuery,
) -> Result<HttpResponse, ApiError> {
    // A failure midway can only cut the file short: the status is sent already. It is logged.
    let stream = imports::export(state, filter).await?.map(|chunk| {
        chunk.map_err(|error| {
            tracing::error!(%error, "a client export stopped");
            std::io::Error::other(error.to_string())
        })
    });
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            header::CONTENT_DISPOSITION,
            "attachment; filename=\"clients.csv\"",
        ))
        .streaming(stream))
}
