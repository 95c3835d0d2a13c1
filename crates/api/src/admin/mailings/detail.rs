//! One mailing's page: what it sends, when and to whom, under which rules, its live progress,
//! its pauses, and its messages, searchable by status and by the number each was addressed
//! to; and, once some of its messages failed, expired or were cancelled, a form to resend to
//! their clients. Its progress, pauses, the page of messages shown and its actions are the
//! parts that change while it delivers ([`Parts`]); the page's script refreshes them in place,
//! keeping the search and the page of messages.

use super::campaign::{Pauses, describe_auto_pause, describe_cap};
use super::live::Live;
use super::resend::{ResendForm, Typed};
use super::summary::{describe_reach, show_time};
use crate::admin::error::AdminError;
use crate::admin::field_errors::{FieldErrors, sentence};
use crate::admin::form::Form;
use crate::admin::session::Viewer;
use crate::admin::view::{self, Clock, Layout, Pager};
use crate::operations::clients::parse_phone_prefix;
use crate::operations::mailings;
use crate::operations::messages::parse_status;
use crate::operations::problems::Problems;
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use chrono::Utc;
use mailing_domain::store::{Mailing, Message, MessageQuery, Page};
use mailing_domain::{MailingId, MailingStatus, MessageStatus};

struct MessageRow {
    phone: String,
    status: &'static str,
    attempts: u32,
    last_error: String,
    sent_at: String,
    /// The text sent, with its encoding and parts, once attempted; empty until then.
    text: String,
    parts: String,
}

#[derive(Template)]
#[template(path = "admin/mailing.html")]
struct MailingPage {
    layout: Layout,
    text: String,
    start: String,
    end: String,
    reaches: String,
    window: String,
    frequency_cap: String,
    auto_pause: String,
    /// The mailing this one resends to the unreached clients of.
    resend_of: Option<i64>,
    /// While some of its messages failed, expired or were cancelled.
    resend: Option<ResendForm>,
    parts: Parts,
    statuses: Vec<(&'static str, bool)>,
    phone: String,
    errors: FieldErrors,
}

/// The parts of a mailing's page that change while it delivers, shown at load and refreshed by
/// the page's script from [`fragment`]. Fetched together, the progress and the message list
/// always agree.
struct Parts {
    id: i64,
    csrf_token: String,
    /// Whether the viewer may act on the mailing.
    can_manage: bool,
    /// Scheduled, running or paused: it can still be edited and cancelled.
    open: bool,
    /// Scheduled or running: it can be paused.
    can_pause: bool,
    /// Paused: it can be resumed.
    can_resume: bool,
    live: Live,
    pauses: Pauses,
    /// One page of the messages the search found.
    messages: Vec<MessageRow>,
    pager: Pager,
    /// Where the page fetches fresh parts: for its search and its page of messages.
    live_url: String,
}

/// `GET /admin/mailings/{id}`.
pub async fn show(
    viewer: Viewer,
    state: web::Data<AppState>,
    id: web::Path<MailingId>,
    req: HttpRequest,
) -> Result<HttpResponse, AdminError> {
    page(&viewer, &state, id.into_inner(), &req, Shown::default()).await
}

/// What the page shows besides the mailing after an action on it: why it was refused, or the
/// resend form as typed with its problems.
#[derive(Default)]
pub struct Shown {
    refusal: Option<AdminError>,
    resend: Option<Typed>,
}

impl Shown {
    pub fn refused(refusal: AdminError) -> Self {
        Self {
            refusal: Some(refusal),
            resend: None,
        }
    }

    pub fn resend(typed: Typed) -> Self {
        Self {
            refusal: None,
            resend: Some(typed),
        }
    }
}

/// The parts of the page that change, for the search and the page of messages asked for.
async fn parts(
    viewer: &Viewer,
    state: &AppState,
    mailing: &Mailing,
    search: &Search,
    page: u32,
) -> Result<Parts, AdminError> {
    let id = mailing.id;
    let clock = Clock(viewer.zone);
    let live = Live::of(state, mailing).await?;
    let history = state.run(move |s| s.mailing_pauses(id)).await?;
    let messages = search.run(state, id, page).await?;
    let rows = messages
        .items
        .iter()
        .map(|m| MessageRow {
            phone: m
                .phone
                .as_ref()
                .map_or_else(|| "not recorded".to_owned(), |p| p.as_str().to_owned()),
            status: m.status.as_str(),
            attempts: m.attempts,
            last_error: m.last_error.clone().unwrap_or_default(),
            sent_at: m.sent_at.map(|t| clock.second(t)).unwrap_or_default(),
            text: m.text.as_ref().map(|t| t.text.clone()).unwrap_or_default(),
            parts: m
                .text
                .as_ref()
                .map(|t| format!("{} · {}", t.segments, t.encoding))
                .unwrap_or_default(),
        })
        .collect();
    let searched = [("status", &*search.status_raw), ("phone", &*search.phone)];
    let mut live_query = form_urlencoded::Serializer::new(String::new());
    live_query.extend_pairs(searched.iter().filter(|(_, value)| !value.is_empty()));
    if page > 1 {
        live_query.append_pair("page", &page.to_string());
    }
    let now = Utc::now();
    let status = mailing.status(now);
    Ok(Parts {
        id: id.0,
        csrf_token: viewer.csrf_token().to_owned(),
        can_manage: viewer.can_manage(),
        open: matches!(
            status,
            MailingStatus::Scheduled | MailingStatus::Running | MailingStatus::Paused
        ),
        can_pause: matches!(status, MailingStatus::Scheduled | MailingStatus::Running),
        can_resume: status == MailingStatus::Paused,
        pauses: Pauses::new(mailing, &history, clock, now),
        live,
        messages: rows,
        pager: Pager::new(page, messages.total, &searched),
        live_url: format!("/admin/mailings/{}/live?{}", id.0, live_query.finish()),
    })
}

/// The page, with what an action on the mailing left to show.
pub async fn page(
    viewer: &Viewer,
    state: &AppState,
    id: MailingId,
    req: &HttpRequest,
    shown: Shown,
) -> Result<HttpResponse, AdminError> {
    let query = Form::parse(req.query_string().as_bytes());
    let mailing = mailings::get(state, id).await?;
    let search = Search::read(&query)?;
    let parts = parts(viewer, state, &mailing, &search, query.page()).await?;
    let clock = Clock(viewer.zone);
    let local_time = mailing.schedule.local_time();
    let window = mailing
        .schedule
        .send_window()
        .map(|w| {
            format!(
                "{} to {}, each client's local time",
                w.start_hhmm(),
                w.end_hhmm()
            )
        })
        .unwrap_or_else(|| "any time of day".to_owned());
    let mut layout = Layout::new(viewer, "mailings", format!("Mailing #{}", id.0))
        .with_notice("Mailing", &query);
    // The same warnings the API answers about the mailing, while it has not ended.
    layout.warnings = mailings::warnings(state, &mailing)
        .await?
        .into_iter()
        .map(|warning| sentence(&warning.message))
        .collect();
    let mut http_status = layout.show_refusal(shown.refusal);
    let resend = ResendForm::of(
        &mailing,
        &parts.live.by_status,
        shown.resend,
        viewer,
        Utc::now(),
    );
    if let Some(form) = resend.as_ref().filter(|form| !form.errors.is_empty()) {
        http_status = form.errors.status();
    }
    view::render(
        if search.errors.is_empty() {
            http_status
        } else {
            StatusCode::BAD_REQUEST
        },
        &MailingPage {
            layout,
            text: mailing.text.as_str().to_owned(),
            start: show_time(mailing.schedule.start_at(), local_time, clock),
            end: show_time(mailing.schedule.end_at(), local_time, clock),
            reaches: describe_reach(&mailing),
            window,
            frequency_cap: describe_cap(mailing.frequency_cap),
            auto_pause: describe_auto_pause(mailing.auto_pause),
            resend_of: mailing.resend_of.map(|original| original.0),
            resend,
            parts,
            statuses: MessageStatus::ALL
                .iter()
                .map(|s| (s.as_str(), search.status == Some(*s)))
                .collect(),
            phone: search.phone,
            errors: search.errors,
        },
    )
}

#[derive(Template)]
#[template(path = "admin/mailing_parts.html")]
struct PartsFragment {
    parts: Parts,
}

/// `GET /admin/mailings/{id}/live?status=…&phone=…&page=…`: the parts of the page that change,
/// for the page's search and page of messages, for the page to swap in.
pub async fn fragment(
    viewer: Viewer,
    state: web::Data<AppState>,
    id: web::Path<MailingId>,
    req: HttpRequest,
) -> Result<HttpResponse, AdminError> {
    let query = Form::parse(req.query_string().as_bytes());
    let mailing = mailings::get(&state, id.into_inner()).await?;
    let search = Search::read(&query)?;
    view::render_ok(&PartsFragment {
        parts: parts(&viewer, &state, &mailing, &search, query.page()).await?,
    })
}

/// The search over the mailing's messages, checked by the API's own rules for these
/// parameters; one they refuse finds nothing, its problems beside its fields.
struct Search {
    /// As typed, to keep in the form and the page links.
    status_raw: String,
    phone: String,
    status: Option<MessageStatus>,
    phone_prefix: Option<String>,
    errors: FieldErrors,
}

impl Search {
    fn read(query: &Form) -> Result<Self, AdminError> {
        let mut problems = Problems::default();
        let status = parse_status(query.filled("status"), &mut problems);
        let phone_prefix = parse_phone_prefix("phone", query.filled("phone"), &mut problems);
        let errors = match problems.finish_query(|| ()) {
            Ok(()) => FieldErrors::default(),
            Err(error) => FieldErrors::from_api(
                error,
                |path| match path {
                    "status" => Some("status"),
                    "phone" => Some("phone"),
                    _ => None,
                },
                &[],
            )?,
        };
        Ok(Self {
            status_raw: query.value("status").to_owned(),
            phone: query.value("phone").trim().to_owned(),
            status,
            phone_prefix,
            errors,
        })
    }

    /// One page of the messages found.
    async fn run(
        &self,
        state: &AppState,
        mailing_id: MailingId,
        page: u32,
    ) -> Result<Page<Message>, AdminError> {
        if !self.errors.is_empty() {
            return Ok(Page {
                items: vec![],
                total: 0,
            });
        }
        let filter = MessageQuery {
            mailing_id: Some(mailing_id),
            status: self.status,
            phone_prefix: self.phone_prefix.clone(),
            ..MessageQuery::default()
        };
        Ok(state
            .run(move |s| s.list_messages(&filter, Pager::request(page)))
            .await?)
    }
}
