//! CSV imports in the browser: the upload form, each job's page with its progress and report,
//! the list of recent jobs, and the clients' CSV export. An upload starts the job through the
//! same operation as `POST /api/v1/clients/import` (and its opt-out twin), so the file is
//! checked, limited and imported by the same rules.

use super::error::AdminError;
use super::form::Form;
use super::session::Viewer;
use super::view::{self, Clock, Layout};
use crate::error::ApiError;
use crate::operations::imports::{self, ImportLimit, ImportOptions};
use crate::state::AppState;
use actix_multipart::{Field, Multipart};
use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use futures_util::{StreamExt, TryStreamExt};
use mailing_domain::import::{ImportId, ImportJob, ImportKind, ImportMode, ImportStatus};
use mailing_domain::store::PageRequest;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/imports", web::get().to(list))
        .route("/imports/new", web::get().to(new))
        .route("/imports/new", web::post().to(upload))
        .route("/imports/{id}", web::get().to(job))
        .route("/imports/{id}/live", web::get().to(live))
        .route("/clients/export", web::get().to(export));
}

/// How often a running job's page looks again, in milliseconds.
const REFRESH_MS: u32 = 1000;
/// Jobs of each kind the list shows.
const RECENT: u32 = 20;

fn kind_words(kind: ImportKind) -> &'static str {
    match kind {
        ImportKind::Clients => "clients",
        ImportKind::OptOuts => "opt-outs",
    }
}

/// The form as typed, and what was wrong with it.
#[derive(Template)]
#[template(path = "admin/import_form.html")]
struct FormPage {
    layout: Layout,
    kind: &'static str,
    insert: bool,
    dry_run: bool,
    /// The problems with the file (its size, header or emptiness), each a sentence.
    file_problems: Vec<String>,
    /// Problems with the other fields or the request.
    general: Vec<String>,
}

impl FormPage {
    fn blank(viewer: &Viewer, kind: ImportKind) -> Self {
        Self {
            layout: Layout::new(viewer, "imports", format!("Import {}", kind_words(kind))),
            kind: kind.as_str(),
            insert: false,
            dry_run: true,
            file_problems: vec![],
            general: vec![],
        }
    }
}

fn kind_of(form: &Form) -> ImportKind {
    ImportKind::parse(form.value("kind")).unwrap_or(ImportKind::Clients)
}

async fn new(viewer: Viewer, request: HttpRequest) -> AdminResult {
    let query = Form::parse(request.query_string().as_bytes());
    let mut page = FormPage::blank(&viewer, kind_of(&query));
    page.insert = query.value("mode") == "insert";
    view::render_ok(&page)
}

type AdminResult = Result<HttpResponse, AdminError>;

/// Reads a small text part of the form.
async fn text_of(mut field: Field) -> Result<String, AdminError> {
    const MAX: usize = 4096;
    let mut text = Vec::new();
    while let Some(chunk) = field.next().await {
        let chunk = chunk.map_err(|_| AdminError::Forbidden)?;
        if text.len() + chunk.len() > MAX {
            return Err(AdminError::Forbidden);
        }
        text.extend_from_slice(&chunk);
    }
    Ok(String::from_utf8_lossy(&text).into_owned())
}

/// The upload: the form's text fields come before its file (the page puts them there), so the
/// CSRF token is checked before a byte of the file is kept.
async fn upload(
    viewer: Viewer,
    state: web::Data<AppState>,
    request: HttpRequest,
    mut parts: Multipart,
) -> AdminResult {
    let limit = request
        .app_data::<ImportLimit>()
        .copied()
        .unwrap_or(ImportLimit(u64::MAX));
    let mut fields = form_urlencoded::Serializer::new(String::new());
    while let Some(field) = parts.next().await {
        let field = field.map_err(|_| AdminError::Forbidden)?;
        let name = field.name().unwrap_or_default().to_owned();
        if name != "file" {
            let value = text_of(field).await?;
            fields.append_pair(&name, &value);
            continue;
        }
        let form = viewer.verify_csrf_token(fields.finish().as_bytes())?;
        let kind = kind_of(&form);
        let mut page = FormPage::blank(&viewer, kind);
        page.insert = form.value("mode") == "insert";
        page.dry_run = form.checked("dry_run");
        let options = ImportOptions {
            mode: if page.insert && kind == ImportKind::Clients {
                ImportMode::Insert
            } else {
                ImportMode::Upsert
            },
            dry_run: page.dry_run,
            wait: false,
        };
        let body = field.map_err(|error| std::io::Error::other(error.to_string()));
        return match imports::start(&state, kind, options, Box::pin(body), None, limit).await {
            Ok((job, _running)) => Ok(HttpResponse::SeeOther()
                .insert_header((header::LOCATION, format!("/admin/imports/{}", job.id)))
                .finish()),
            Err(error) => {
                let status = show_problems(&mut page, error)?;
                view::render(status, &page)
            }
        };
    }
    // No file part: the form was not sent from the page, or no file was chosen.
    let form = viewer.verify_csrf_token(fields.finish().as_bytes())?;
    let mut page = FormPage::blank(&viewer, kind_of(&form));
    page.file_problems
        .push("Choose a CSV file to import.".to_owned());
    view::render(StatusCode::UNPROCESSABLE_ENTITY, &page)
}

/// Puts an import's refusal on the form: the file's problems beside the file field; failures
/// that are not about the input stay errors.
fn show_problems(page: &mut FormPage, error: ApiError) -> Result<StatusCode, AdminError> {
    use actix_web::ResponseError as _;
    let status = error.status_code();
    match error {
        ApiError::Validation(details) => {
            for detail in details {
                let sentence = capital_sentence(&detail.message);
                if detail.field.starts_with("header") {
                    page.file_problems.push(sentence);
                } else {
                    page.general.push(sentence);
                }
            }
        }
        too_large @ ApiError::PayloadTooLarge { .. } => {
            page.file_problems
                .push(capital_sentence(&too_large.to_string()));
        }
        other => return Err(other.into()),
    }
    Ok(status)
}

fn capital_sentence(text: &str) -> String {
    let mut sentence = view::capitalised(text.trim_end_matches('.'));
    sentence.push('.');
    sentence
}

/// A job as its page shows it.
struct JobView {
    id: i64,
    kind: &'static str,
    kind_words: &'static str,
    mode: &'static str,
    dry_run: bool,
    status: &'static str,
    /// Per mille of the file read, for `<progress>`.
    per_mille: u64,
    percent: u64,
    rows: u64,
    created: u64,
    updated: u64,
    unchanged: u64,
    rejected: u64,
    rejections: Vec<(u64, String, String, String)>,
    error: Option<String>,
    started: String,
    finished: Option<String>,
    refresh_ms: Option<u32>,
}

impl JobView {
    fn of(job: ImportJob, clock: Clock) -> Self {
        let progress = job.progress();
        Self {
            id: job.id.0,
            kind: job.kind.as_str(),
            kind_words: kind_words(job.kind),
            mode: job.mode.as_str(),
            dry_run: job.dry_run,
            status: job.status.as_str(),
            per_mille: (progress * 1000.0).floor() as u64,
            percent: (progress * 100.0).floor() as u64,
            rows: job.tally.rows,
            created: job.tally.created,
            updated: job.tally.updated,
            unchanged: job.tally.unchanged,
            rejected: job.tally.rejected,
            rejections: job
                .tally
                .rejections
                .into_iter()
                .map(|r| {
                    (
                        r.line,
                        r.column.unwrap_or_default(),
                        r.reason,
                        r.value.unwrap_or_default(),
                    )
                })
                .collect(),
            error: job.error,
            started: clock.second(job.created_at),
            finished: job.finished_at.map(|at| clock.second(at)),
            refresh_ms: (job.status == ImportStatus::Running).then_some(REFRESH_MS),
        }
    }
}

#[derive(Template)]
#[template(path = "admin/import.html")]
struct JobPage {
    layout: Layout,
    job: JobView,
}

#[derive(Template)]
#[template(path = "admin/import_live.html")]
struct JobLive {
    job: JobView,
}

async fn load(state: &AppState, id: i64, viewer: &Viewer) -> Result<JobView, AdminError> {
    let job = imports::get(state, ImportId(id)).await?;
    Ok(JobView::of(job, Clock(viewer.zone)))
}

async fn job(viewer: Viewer, state: web::Data<AppState>, id: web::Path<i64>) -> AdminResult {
    let job = load(&state, id.into_inner(), &viewer).await?;
    let layout = Layout::new(&viewer, "imports", format!("Import {}", job.id));
    view::render_ok(&JobPage { layout, job })
}

async fn live(viewer: Viewer, state: web::Data<AppState>, id: web::Path<i64>) -> AdminResult {
    let job = load(&state, id.into_inner(), &viewer).await?;
    view::render_ok(&JobLive { job })
}

#[derive(Template)]
#[template(path = "admin/imports.html")]
struct ListPage {
    layout: Layout,
    lists: Vec<(&'static str, &'static str, Vec<JobView>)>,
}

async fn list(viewer: Viewer, state: web::Data<AppState>) -> AdminResult {
    imports::fail_stale(&state).await?;
    let clock = Clock(viewer.zone);
    let mut lists = vec![];
    for kind in [ImportKind::Clients, ImportKind::OptOuts] {
        let page = state
            .run(move |s| {
                s.list_imports(
                    kind,
                    PageRequest {
                        offset: 0,
                        limit: RECENT,
                    },
                )
            })
            .await?;
        let jobs = page
            .items
            .into_iter()
            .map(|j| JobView::of(j, clock))
            .collect();
        lists.push((kind.as_str(), kind_words(kind), jobs));
    }
    let layout = Layout::new(&viewer, "imports", "Imports");
    view::render_ok(&ListPage { layout, lists })
}

/// The export of the clients a search of the clients page selects.
pub(super) fn export_url(search: &[(&str, &str)]) -> String {
    let query = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(search.iter().filter(|(_, value)| !value.is_empty()))
        .finish();
    if query.is_empty() {
        "/admin/clients/export".to_owned()
    } else {
        format!("/admin/clients/export?{query}")
    }
}

/// The clients page's search as CSV, through the API's export.
async fn export(_: Viewer, state: web::Data<AppState>, request: HttpRequest) -> AdminResult {
    let search = Form::parse(request.query_string().as_bytes());
    let (filter, _) = super::clients::search_query(&search, None).parse()?;
    Ok(crate::routes::imports::export_download(state, filter).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_export_keeps_the_search_but_not_its_blanks() {
        assert_eq!(
            export_url(&[("phone", ""), ("tag", "")]),
            "/admin/clients/export"
        );
        assert_eq!(
            export_url(&[("phone", "79"), ("tag", ""), ("attributes", "city = Kazan")]),
            "/admin/clients/export?phone=79&attributes=city+%3D+Kazan"
        );
    }
}
