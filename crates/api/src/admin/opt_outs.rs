//! Opt-outs and the replies people send: the numbers never to be texted, searchable by number
//! as people write it, with a form to add one and a button to remove one; and the list of
//! forwarded replies with what each did. Both read and write through the same operations as
//! `/api/v1/opt-outs` and `/api/v1/inbound`.

use super::error::AdminError;
use super::field_errors::FieldErrors;
use super::form::Form;
use super::session::Viewer;
use super::view::{self, Clock, Layout, Pager};
use crate::error::ApiError;
use crate::operations::inbound::{self, InboundListQuery};
use crate::operations::input::QueryValue;
use crate::operations::input::{Field, Required, UnknownFields};
use crate::operations::opt_outs::{self, OptOutInput, OptOutListQuery};
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use mailing_domain::store::Page;
use mailing_domain::{OptOutSource, PhoneNumber};

/// Registers the opt-out and reply pages.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/opt-outs", web::get().to(list))
        .route("/opt-outs", web::post().to(add))
        .route("/opt-outs/{phone}/delete", web::post().to(remove))
        .route("/inbound", web::get().to(replies));
}

/// One opt-out as the list shows it.
struct OptOutRow {
    phone: String,
    source: &'static str,
    reason: String,
    time: String,
}

#[derive(Template)]
#[template(path = "admin/opt_outs.html")]
struct OptOutsPage {
    layout: Layout,
    rows: Vec<OptOutRow>,
    pager: Pager,
    /// The search as typed.
    phone: String,
    search_errors: FieldErrors,
    /// The add form as submitted when it had problems, else empty.
    new_phone: String,
    new_reason: String,
    errors: FieldErrors,
}

/// The add form's fields, as typed.
#[derive(Default)]
struct Submitted {
    phone: String,
    reason: String,
    errors: FieldErrors,
}

async fn list(
    viewer: Viewer,
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, AdminError> {
    let query = Form::parse(req.query_string().as_bytes());
    let layout = Layout::new(&viewer, "opt-outs", "Opt-outs").with_notice("Opt-out", &query);
    show(&viewer, &state, &query, layout, Submitted::default()).await
}

/// `POST /admin/opt-outs`: opts a number out with the source `ui`. The list answers with how
/// many waiting messages to the number were suppressed, or the form again beside its problems.
async fn add(
    viewer: Viewer,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, AdminError> {
    let form = viewer.verify_csrf_token(&body)?;
    let (phone, reason) = (
        form.value("phone_number").trim().to_owned(),
        form.value("reason").trim().to_owned(),
    );
    let input = OptOutInput {
        phone_number: Required::value(phone.clone()),
        reason: if reason.is_empty() {
            Field::absent()
        } else {
            Field::value(reason.clone())
        },
        unknown: UnknownFields::default(),
    };
    let mut layout = Layout::new(&viewer, "opt-outs", "Opt-outs");
    let added = match input.parse(OptOutSource::Ui) {
        Ok(new) => opt_outs::add(&state, new).await,
        Err(error) => Err(error),
    };
    let submitted = match added {
        Ok(added) => {
            let number = added.opt_out.phone.as_str();
            tracing::info!(username = %viewer.username, "number opted out in the admin UI");
            layout.notice = Some(if added.created {
                format!(
                    "{number} opted out; {} suppressed.",
                    waiting_messages(added.suppressed)
                )
            } else {
                format!("{number} had opted out already; nothing changed.")
            });
            Submitted::default()
        }
        Err(error) => Submitted {
            errors: FieldErrors::from_api(error, add_field, &[])?,
            phone,
            reason,
        },
    };
    show(&viewer, &state, &Form::parse(b""), layout, submitted).await
}

/// "1 waiting message", "no waiting messages".
fn waiting_messages(count: u64) -> String {
    match count {
        0 => "no waiting messages".to_owned(),
        1 => "1 waiting message".to_owned(),
        n => format!("{n} waiting messages"),
    }
}

fn add_field(path: &str) -> Option<&'static str> {
    match path {
        "phone_number" => Some("phone_number"),
        "reason" => Some("reason"),
        _ => None,
    }
}

/// `POST /admin/opt-outs/{phone}/delete`: opts the number back in.
async fn remove(
    viewer: Viewer,
    state: web::Data<AppState>,
    phone: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, AdminError> {
    viewer.verify_csrf_token(&body)?;
    let phone = opt_outs::path_phone(&phone)?;
    opt_outs::remove(&state, phone).await?;
    tracing::info!(username = %viewer.username, "number opted back in in the admin UI");
    Ok(view::see_other("/admin/opt-outs", "removed"))
}

/// The search reads a whole number in any written form as that number, and anything else as
/// the digits numbers start with, by the API's rules for `phone_number` and `phone_prefix`.
fn phone_search(typed: &str) -> (Option<String>, Option<String>) {
    if typed.is_empty() {
        (None, None)
    } else if PhoneNumber::normalise(typed).is_ok() {
        (Some(typed.to_owned()), None)
    } else {
        (None, Some(typed.to_owned()))
    }
}

/// The list with its search and the add form; a search the API refuses finds nothing and
/// answers 400, its problem beside the search field.
async fn show(
    viewer: &Viewer,
    state: &AppState,
    query: &Form,
    layout: Layout,
    submitted: Submitted,
) -> Result<HttpResponse, AdminError> {
    let clock = Clock(viewer.zone);
    let phone = query.value("phone").trim().to_owned();
    let (phone_number, phone_prefix) = phone_search(&phone);
    let parsed = OptOutListQuery {
        page: Some(QueryValue::of(query.page())),
        page_size: Some(QueryValue::of(Pager::PAGE_SIZE)),
        phone_number,
        phone_prefix,
    }
    .parse();
    let (found, search_errors) = searched(parsed, |(filter, paging)| {
        opt_outs::list(state, filter, paging)
    })
    .await?;
    let status = if !submitted.errors.is_empty() {
        submitted.errors.status()
    } else if !search_errors.is_empty() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    view::render(
        status,
        &OptOutsPage {
            pager: Pager::new(query.page(), found.total, &[("phone", &phone)]),
            rows: found
                .items
                .iter()
                .map(|opt_out| OptOutRow {
                    phone: opt_out.phone.as_str().to_owned(),
                    source: opt_out.source.as_str(),
                    reason: opt_out
                        .reason
                        .as_ref()
                        .map_or_else(String::new, |r| r.as_str().to_owned()),
                    time: clock.minute(opt_out.created_at),
                })
                .collect(),
            layout,
            phone,
            search_errors,
            new_phone: submitted.phone,
            new_reason: submitted.reason,
            errors: submitted.errors,
        },
    )
}

/// Runs a list's search, or answers an empty page and the search's problems beside its
/// `phone` field when the API's rules refuse it.
async fn searched<Q, T, F>(
    parsed: Result<Q, ApiError>,
    run: impl FnOnce(Q) -> F,
) -> Result<(Page<T>, FieldErrors), AdminError>
where
    F: Future<Output = Result<Page<T>, ApiError>>,
{
    match parsed {
        Ok(query) => Ok((run(query).await?, FieldErrors::default())),
        Err(error) => Ok((
            Page {
                items: vec![],
                total: 0,
            },
            FieldErrors::from_api(
                error,
                |path| match path {
                    "phone_number" | "phone_prefix" => Some("phone"),
                    _ => None,
                },
                &[],
            )?,
        )),
    }
}

/// One reply as the list shows it.
struct ReplyRow {
    phone: String,
    text: String,
    action: &'static str,
    time: String,
}

#[derive(Template)]
#[template(path = "admin/inbound.html")]
struct RepliesPage {
    layout: Layout,
    rows: Vec<ReplyRow>,
    pager: Pager,
    phone: String,
    errors: FieldErrors,
}

/// `GET /admin/inbound`: the replies providers forwarded, newest first.
async fn replies(
    viewer: Viewer,
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, AdminError> {
    let query = Form::parse(req.query_string().as_bytes());
    let clock = Clock(viewer.zone);
    let phone = query.value("phone").trim().to_owned();
    let parsed = InboundListQuery {
        page: Some(QueryValue::of(query.page())),
        page_size: Some(QueryValue::of(Pager::PAGE_SIZE)),
        phone_number: (!phone.is_empty()).then(|| phone.clone()),
    }
    .parse();
    let (found, errors) = searched(parsed, |(phone, paging)| {
        inbound::list(&state, phone, paging)
    })
    .await?;
    view::render(
        if errors.is_empty() {
            StatusCode::OK
        } else {
            StatusCode::BAD_REQUEST
        },
        &RepliesPage {
            layout: Layout::new(&viewer, "inbound", "Replies"),
            pager: Pager::new(query.page(), found.total, &[("phone", &phone)]),
            rows: found
                .items
                .iter()
                .map(|reply| ReplyRow {
                    phone: reply.phone.as_str().to_owned(),
                    text: reply.text.as_str().to_owned(),
                    action: match reply.action {
                        mailing_domain::opt_out::InboundAction::OptOut => "Opted out",
                        mailing_domain::opt_out::InboundAction::OptIn => "Opted back in",
                        mailing_domain::opt_out::InboundAction::None => "None",
                    },
                    time: clock.second(reply.received_at),
                })
                .collect(),
            phone,
            errors,
        },
    )
}
