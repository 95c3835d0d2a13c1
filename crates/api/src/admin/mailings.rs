//! Mailings: the list, the form to create or change one (with how many clients it would
//! reach), and one mailing's page with its live progress, chart and messages.

use super::catalog::{Catalog, Choice, describe_filter};
use super::error::AdminError;
use super::form::Form;
use super::progress::{Chart, ProgressBar, still_waiting};
use super::session::Viewer;
use super::view::{self, Clock, FieldErrors, Layout, Pager, base_field};
use crate::operations::client_filters::FilterInput;
use crate::operations::clients::parse_phone_prefix;
use crate::operations::mailings::{self, MailingInput, SendWindowBody};
use crate::operations::messages::parse_status;
use crate::operations::problems::Problems;
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use chrono::{DateTime, FixedOffset, NaiveDateTime, TimeZone as _, Utc};
use chrono_tz::Tz;
use mailing_domain::store::{Mailing, MessageQuery, StatusCounts};
use mailing_domain::{
    ClientFilter, ClientFilterId, MailingId, MailingStatus, MailingText, MessageStatus,
};
use std::collections::HashMap;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/mailings", web::get().to(list))
        .route("/mailings", web::post().to(create))
        .route("/mailings/new", web::get().to(new))
        .route("/mailings/matching", web::get().to(matching))
        .route("/mailings/{id}", web::get().to(show))
        .route("/mailings/{id}", web::post().to(update))
        .route("/mailings/{id}/live", web::get().to(live))
        .route("/mailings/{id}/edit", web::get().to(edit))
        .route("/mailings/{id}/cancel", web::post().to(cancel))
        .route("/mailings/{id}/delete", web::post().to(delete));
}

/// How often pages with something running refresh their live parts, in milliseconds.
pub const REFRESH_MS: u32 = 2000;
/// The span over which the sending rate is measured.
const RATE_WINDOW_SECONDS: i64 = 60;

/// A mailing as lists and pages show it.
pub struct Summary {
    pub id: i64,
    pub text: String,
    pub status: &'static str,
    pub start: String,
    pub end: String,
    pub reaches: String,
    pub bar: ProgressBar,
    pub failed: u64,
    /// Messages sent per second over the last minute.
    pub rate: String,
}

impl Summary {
    pub fn new(
        mailing: &Mailing,
        counts: &StatusCounts,
        sent_last_minute: u64,
        clock: Clock,
        now: DateTime<Utc>,
    ) -> Self {
        let text = mailing.text.as_str();
        let short: String = text.chars().take(80).collect();
        Self {
            id: mailing.id.0,
            text: if short.len() < text.len() {
                format!("{short}…")
            } else {
                short
            },
            status: mailing.status(now).as_str(),
            start: show_time(
                mailing.schedule.start_at(),
                mailing.schedule.local_time(),
                clock,
            ),
            end: show_time(
                mailing.schedule.end_at(),
                mailing.schedule.local_time(),
                clock,
            ),
            reaches: describe_filter(&mailing.filter),
            bar: ProgressBar::of(counts),
            failed: counts.get(MessageStatus::Failed),
            rate: sending_rate(sent_last_minute),
        }
    }
}

/// Messages sent per second, from those sent over the last minute.
pub fn sending_rate(sent_last_minute: u64) -> String {
    format!(
        "{:.1}",
        sent_last_minute as f64 / RATE_WINDOW_SECONDS as f64
    )
}

/// A start or end: in the viewer's zone, or as the clock reading each client's zone applies.
fn show_time(instant: DateTime<Utc>, local_time: bool, clock: Clock) -> String {
    if local_time {
        format!(
            "{} in each client's zone",
            instant.naive_utc().format("%Y-%m-%d %H:%M")
        )
    } else {
        clock.minute(instant)
    }
}

/// Counts and the last minute's sends for the given mailings.
pub async fn progress_of(
    state: &AppState,
    ids: Vec<MailingId>,
    now: DateTime<Utc>,
) -> Result<(HashMap<MailingId, StatusCounts>, HashMap<MailingId, u64>), AdminError> {
    let since = now - chrono::Duration::seconds(RATE_WINDOW_SECONDS);
    Ok(state
        .run(move |s| Ok((s.count_messages_of(&ids)?, s.sent_since(&ids, since)?)))
        .await?)
}

#[derive(Template)]
#[template(path = "admin/mailings.html")]
struct ListPage {
    layout: Layout,
    mailings: Vec<Summary>,
    pager: Pager,
}

async fn list(
    viewer: Viewer,
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, AdminError> {
    let query = Form::parse(req.query_string().as_bytes());
    let page = query.page();
    let mailings = state
        .run(move |s| s.list_mailings(Pager::request(page)))
        .await?;
    let now = Utc::now();
    let ids = mailings.items.iter().map(|m| m.id).collect();
    let (counts, sent) = progress_of(&state, ids, now).await?;
    let clock = Clock(viewer.zone);
    let summaries = mailings
        .items
        .iter()
        .map(|m| {
            let counts = counts.get(&m.id).copied().unwrap_or_default();
            Summary::new(
                m,
                &counts,
                sent.get(&m.id).copied().unwrap_or(0),
                clock,
                now,
            )
        })
        .collect();
    view::render_ok(&ListPage {
        layout: Layout::new(&viewer, "mailings", "Mailings").with_notice("Mailing", &query),
        mailings: summaries,
        pager: Pager::new(page, mailings.total, &[]),
    })
}

/// The form's fields as typed (or as stored, when editing).
struct Fields {
    text: String,
    start_at: String,
    end_at: String,
    operator_codes: Vec<String>,
    tags: Vec<String>,
    client_filter_id: Option<i64>,
    window_start: String,
    window_end: String,
    local_time: bool,
}

impl Fields {
    fn blank(clock: Clock, now: DateTime<Utc>) -> Self {
        Self {
            text: String::new(),
            start_at: clock.input(now),
            end_at: clock.input(now + chrono::Duration::days(1)),
            operator_codes: vec![],
            tags: vec![],
            client_filter_id: None,
            window_start: String::new(),
            window_end: String::new(),
            local_time: false,
        }
    }

    fn of(mailing: &Mailing, clock: Clock) -> Self {
        let local_time = mailing.schedule.local_time();
        let window = mailing.schedule.send_window();
        Self {
            text: mailing.text.as_str().to_owned(),
            start_at: input_time(mailing.schedule.start_at(), local_time, clock),
            end_at: input_time(mailing.schedule.end_at(), local_time, clock),
            operator_codes: mailing
                .filter
                .operator_codes()
                .map(|c| c.as_str().to_owned())
                .collect(),
            tags: mailing
                .filter
                .tags()
                .map(|t| t.as_str().to_owned())
                .collect(),
            client_filter_id: mailing.client_filter_id.map(|id| id.0),
            window_start: window.map(|w| w.start_hhmm()).unwrap_or_default(),
            window_end: window.map(|w| w.end_hhmm()).unwrap_or_default(),
            local_time,
        }
    }

    fn typed(form: &Form) -> Self {
        Self {
            // Browsers send a textarea's line breaks as CRLF; a text message has plain ones.
            text: form.value("text").replace("\r\n", "\n"),
            start_at: form.value("start_at").trim().to_owned(),
            end_at: form.value("end_at").trim().to_owned(),
            operator_codes: form.values("operator_codes"),
            tags: form.values("tags"),
            client_filter_id: form.value("client_filter_id").parse().ok(),
            window_start: form.value("window_start").trim().to_owned(),
            window_end: form.value("window_end").trim().to_owned(),
            local_time: form.checked("local_time"),
        }
    }

    /// The API's input for these fields; times are read in the viewer's zone unless the
    /// mailing uses each client's clock. `stored` keeps a stored instant that the form shows
    /// to the minute, so saving an unchanged form changes nothing.
    fn input(&self, zone: Tz, stored: Option<&Mailing>) -> Result<MailingInput, FieldErrors> {
        let mut errors = FieldErrors::default();
        let clock = Clock(zone);
        let mut read = |field: &str, raw: &str, stored: Option<DateTime<Utc>>| {
            if let Some(instant) = stored
                && input_time(instant, self.local_time, clock) == raw
            {
                return Some(instant.fixed_offset());
            }
            match read_time(raw, self.local_time, zone) {
                Ok(time) => Some(time),
                Err(problem) => {
                    errors.add(field, problem);
                    None
                }
            }
        };
        let unchanged = stored.filter(|m| m.schedule.local_time() == self.local_time);
        let start_at = read(
            "start_at",
            &self.start_at,
            unchanged.map(|m| m.schedule.start_at()),
        );
        let end_at = read(
            "end_at",
            &self.end_at,
            unchanged.map(|m| m.schedule.end_at()),
        );
        let (Some(start_at), Some(end_at)) = (start_at, end_at) else {
            return Err(errors);
        };
        let send_window =
            (!self.window_start.is_empty() || !self.window_end.is_empty()).then(|| {
                SendWindowBody {
                    start: self.window_start.clone(),
                    end: self.window_end.clone(),
                }
            });
        let (filter, client_filter_id) = match self.client_filter_id {
            Some(id) => (None, Some(id)),
            None => (
                Some(FilterInput {
                    operator_codes: Some(self.operator_codes.clone()),
                    tags: Some(self.tags.clone()),
                }),
                None,
            ),
        };
        Ok(MailingInput {
            text: self.text.clone(),
            start_at,
            end_at,
            filter,
            client_filter_id,
            send_window,
            local_time: Some(self.local_time),
        })
    }
}

/// A `datetime-local` value for a stored instant.
fn input_time(instant: DateTime<Utc>, local_time: bool, clock: Clock) -> String {
    if local_time {
        instant.naive_utc().format("%Y-%m-%dT%H:%M").to_string()
    } else {
        clock.input(instant)
    }
}

/// Reads a `datetime-local` value: on the viewer's clock, or as a clock reading for each
/// client's zone (stored with offset zero).
fn read_time(raw: &str, local_time: bool, zone: Tz) -> Result<DateTime<FixedOffset>, String> {
    if raw.is_empty() {
        return Err("must be given".to_owned());
    }
    let naive = NaiveDateTime::parse_from_str(raw, "%Y-%m-%dT%H:%M")
        .or_else(|_| NaiveDateTime::parse_from_str(raw, "%Y-%m-%dT%H:%M:%S"))
        .map_err(|_| "must be a date and time, e.g. 2026-12-31T09:00".to_owned())?;
    if local_time {
        return Ok(naive.and_utc().fixed_offset());
    }
    zone.from_local_datetime(&naive)
        .earliest()
        .map(|time| time.fixed_offset())
        .ok_or_else(|| {
            format!(
                "does not exist in {} (the clocks skip it); pick another time",
                zone.name()
            )
        })
}

fn form_field(path: &str) -> Option<&'static str> {
    match path {
        "send_window" | "send_window.start" => Some("window_start"),
        "send_window.end" => Some("window_end"),
        "filter" => Some("operator_codes"),
        _ => match base_field(path) {
            "text" => Some("text"),
            "start_at" => Some("start_at"),
            "end_at" => Some("end_at"),
            "client_filter_id" => Some("client_filter_id"),
            "local_time" => Some("local_time"),
            "filter" if path.contains("tags") => Some("tags"),
            "filter" => Some("operator_codes"),
            _ => None,
        },
    }
}

#[derive(Template)]
#[template(path = "admin/mailing_form.html")]
struct FormPage {
    layout: Layout,
    action: String,
    /// Fields a running mailing may no longer change are shown but locked.
    running: bool,
    fields: Fields,
    operators: Vec<Choice>,
    tags: Vec<Choice>,
    filters: Vec<Choice>,
    matching: String,
    start_hint: String,
    max_chars: usize,
    text_chars: usize,
    errors: FieldErrors,
}

async fn new(viewer: Viewer, state: web::Data<AppState>) -> Result<HttpResponse, AdminError> {
    let fields = Fields::blank(Clock(viewer.zone), Utc::now());
    form_page(&viewer, &state, None, fields, FieldErrors::default()).await
}

async fn edit(
    viewer: Viewer,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, AdminError> {
    let id = MailingId(id.into_inner());
    let mailing = state.run(move |s| s.get_mailing(id)).await?;
    let fields = Fields::of(&mailing, Clock(viewer.zone));
    form_page(
        &viewer,
        &state,
        Some(&mailing),
        fields,
        FieldErrors::default(),
    )
    .await
}

async fn form_page(
    viewer: &Viewer,
    state: &AppState,
    editing: Option<&Mailing>,
    fields: Fields,
    errors: FieldErrors,
) -> Result<HttpResponse, AdminError> {
    let catalog = Catalog::load(state).await?;
    let matching = match fields.client_filter_id {
        Some(id) => Selection::Saved(ClientFilterId(id)),
        None => Selection::parse(&fields.operator_codes, &fields.tags),
    }
    .describe_reach(state)
    .await?;
    let (title, action, running) = match editing {
        Some(m) => (
            format!("Edit mailing #{}", m.id.0),
            format!("/admin/mailings/{}", m.id.0),
            m.status(Utc::now()) == MailingStatus::Running,
        ),
        None => (
            "New mailing".to_owned(),
            "/admin/mailings".to_owned(),
            false,
        ),
    };
    let status = errors.status();
    view::render(
        status,
        &FormPage {
            layout: Layout::new(viewer, "mailings", title),
            action,
            running,
            operators: catalog.operator_choices(&fields.operator_codes),
            tags: catalog.tag_choices(&fields.tags),
            filters: catalog.filter_choices(fields.client_filter_id),
            matching,
            start_hint: format!("In {}, unless Local time is ticked.", viewer.zone.name()),
            max_chars: MailingText::MAX_CHARS,
            text_chars: fields.text.chars().count(),
            fields,
            errors,
        },
    )
}

async fn create(
    viewer: Viewer,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, AdminError> {
    let form = viewer.verify_csrf_token(&body)?;
    let fields = Fields::typed(&form);
    let errors = match fields.input(viewer.zone, None) {
        Ok(input) => match mailings::create(&state, input).await {
            Ok(mailing) => {
                tracing::info!(mailing_id = mailing.id.0, username = %viewer.username, "mailing created in the admin UI");
                return Ok(view::see_other(
                    &format!("/admin/mailings/{}", mailing.id.0),
                    "saved",
                ));
            }
            Err(error) => FieldErrors::from_api(error, form_field)?,
        },
        Err(errors) => errors,
    };
    form_page(&viewer, &state, None, fields, errors).await
}

async fn update(
    viewer: Viewer,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    body: web::Bytes,
) -> Result<HttpResponse, AdminError> {
    let form = viewer.verify_csrf_token(&body)?;
    let id = MailingId(id.into_inner());
    let stored = state.run(move |s| s.get_mailing(id)).await?;
    let fields = Fields::typed(&form);
    let errors = match fields.input(viewer.zone, Some(&stored)) {
        Ok(input) => match mailings::replace(&state, id, input).await {
            Ok(_) => {
                tracing::info!(mailing_id = id.0, username = %viewer.username, "mailing updated in the admin UI");
                return Ok(view::see_other(
                    &format!("/admin/mailings/{}", id.0),
                    "saved",
                ));
            }
            Err(error) => FieldErrors::from_api(error, form_field)?,
        },
        Err(errors) => errors,
    };
    form_page(&viewer, &state, Some(&stored), fields, errors).await
}

async fn cancel(
    viewer: Viewer,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, AdminError> {
    viewer.verify_csrf_token(&body)?;
    let id = MailingId(id.into_inner());
    match mailings::cancel(&state, id).await {
        Ok(_) => {
            tracing::info!(mailing_id = id.0, username = %viewer.username, "mailing cancelled in the admin UI");
            Ok(view::see_other(
                &format!("/admin/mailings/{}", id.0),
                "cancelled",
            ))
        }
        Err(error) => match AdminError::from(error) {
            refusal @ AdminError::Refused { .. } => {
                mailing_page(&viewer, &state, id, &req, Some(refusal)).await
            }
            other => Err(other),
        },
    }
}

async fn delete(
    viewer: Viewer,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    body: web::Bytes,
) -> Result<HttpResponse, AdminError> {
    viewer.verify_csrf_token(&body)?;
    let id = MailingId(id.into_inner());
    mailings::delete(&state, id).await?;
    tracing::info!(mailing_id = id.0, username = %viewer.username, "mailing deleted in the admin UI");
    Ok(view::see_other("/admin/mailings", "deleted"))
}

/// Which clients the form selects, for the count beside it.
enum Selection {
    Inline(ClientFilter),
    Saved(ClientFilterId),
    /// Something in the form is not a valid filter yet.
    Invalid,
}

impl Selection {
    /// The ticked operators and tags, read by the API's filter rules.
    fn parse(codes: &[String], tags: &[String]) -> Self {
        let input = FilterInput {
            operator_codes: Some(codes.to_vec()),
            tags: Some(tags.to_vec()),
        };
        let mut problems = Problems::default();
        match input.parse("filter", &mut problems) {
            Some(filter) if problems.finish(|| ()).is_ok() => Selection::Inline(filter),
            _ => Selection::Invalid,
        }
    }

    /// "3 clients match", or why no number can be given.
    async fn describe_reach(self, state: &AppState) -> Result<String, AdminError> {
        let filter = match self {
            Selection::Inline(filter) => filter,
            Selection::Saved(id) => match state.run(move |s| s.get_client_filter(id)).await {
                Ok(saved) => saved.filter,
                Err(crate::error::ApiError::NotFound(_)) => {
                    return Ok("That saved filter no longer exists".to_owned());
                }
                Err(error) => return Err(error.into()),
            },
            Selection::Invalid => return Ok("The selection is not valid".to_owned()),
        };
        let count = state.run(move |s| s.count_matching(&filter)).await?;
        Ok(match count {
            1 => "1 client matches".to_owned(),
            n => format!("{n} clients match"),
        })
    }
}

/// `GET /admin/mailings/matching`: how many clients the form's selection reaches now, as
/// text for the form's counter.
async fn matching(
    _: Viewer,
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, AdminError> {
    let query = Form::parse(req.query_string().as_bytes());
    let selection = match query.value("client_filter_id").parse() {
        Ok(id) => Selection::Saved(ClientFilterId(id)),
        Err(_) => Selection::parse(&query.values("operator_codes"), &query.values("tags")),
    };
    let text = selection.describe_reach(&state).await?;
    Ok(HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .body(text))
}

/// The parts of a mailing's page that change while it runs.
struct Live {
    id: i64,
    status: &'static str,
    bar: ProgressBar,
    chart: Chart,
    counts: Vec<(&'static str, u64)>,
    total: u64,
    rate: String,
    /// Whether the page should keep refreshing.
    active: bool,
    refresh_ms: u32,
}

async fn live_state(state: &AppState, mailing: &Mailing) -> Result<Live, AdminError> {
    let now = Utc::now();
    let (counts, sent) = progress_of(state, vec![mailing.id], now).await?;
    let counts = counts.get(&mailing.id).copied().unwrap_or_default();
    let status = mailing.status(now);
    let settled = counts.total() > 0 && still_waiting(&counts) == 0;
    Ok(Live {
        id: mailing.id.0,
        status: status.as_str(),
        bar: ProgressBar::of(&counts),
        chart: Chart::of(&counts),
        counts: counts.iter().map(|(s, n)| (s.as_str(), n)).collect(),
        total: counts.total(),
        rate: sending_rate(sent.get(&mailing.id).copied().unwrap_or(0)),
        active: status == MailingStatus::Running && !settled
            || status == MailingStatus::Scheduled
                && mailing.schedule.earliest_start() - now < chrono::Duration::minutes(5),
        refresh_ms: REFRESH_MS,
    })
}

#[derive(Template)]
#[template(path = "admin/mailing_live.html")]
struct LiveFragment {
    live: Live,
}

async fn live(
    _: Viewer,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, AdminError> {
    let id = MailingId(id.into_inner());
    let mailing = state.run(move |s| s.get_mailing(id)).await?;
    view::render_ok(&LiveFragment {
        live: live_state(&state, &mailing).await?,
    })
}

struct MessageRow {
    phone: String,
    status: &'static str,
    attempts: u32,
    last_error: String,
    sent_at: String,
}

#[derive(Template)]
#[template(path = "admin/mailing.html")]
struct MailingPage {
    layout: Layout,
    id: i64,
    text: String,
    start: String,
    end: String,
    reaches: String,
    window: String,
    /// Scheduled or running: it can still be edited and cancelled.
    open: bool,
    live: Live,
    statuses: Vec<(&'static str, bool)>,
    phone: String,
    messages: Vec<MessageRow>,
    pager: Pager,
    errors: FieldErrors,
}

async fn show(
    viewer: Viewer,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    req: HttpRequest,
) -> Result<HttpResponse, AdminError> {
    mailing_page(&viewer, &state, MailingId(id.into_inner()), &req, None).await
}

async fn mailing_page(
    viewer: &Viewer,
    state: &AppState,
    id: MailingId,
    req: &HttpRequest,
    refusal: Option<AdminError>,
) -> Result<HttpResponse, AdminError> {
    let query = Form::parse(req.query_string().as_bytes());
    let mailing = state.run(move |s| s.get_mailing(id)).await?;
    let clock = Clock(viewer.zone);
    let live = live_state(state, &mailing).await?;

    // The search is checked by the API's own rules for these parameters.
    let status_raw = query.value("status").to_owned();
    let phone = query.value("phone").trim().to_owned();
    let mut problems = Problems::default();
    let status = parse_status(query.filled("status"), &mut problems);
    let phone_prefix = parse_phone_prefix("phone", query.filled("phone"), &mut problems);
    let errors = match problems.finish_query(|| ()) {
        Ok(()) => FieldErrors::default(),
        Err(error) => FieldErrors::from_api(error, |path| match path {
            "status" => Some("status"),
            "phone" => Some("phone"),
            _ => None,
        })?,
    };
    let page = query.page();
    let (messages, phones) = if errors.is_empty() {
        let filter = MessageQuery {
            mailing_id: Some(id),
            status,
            phone_prefix,
            ..MessageQuery::default()
        };
        state
            .run(move |s| {
                let messages = s.list_messages(&filter, Pager::request(page))?;
                let clients: Vec<_> = messages.items.iter().filter_map(|m| m.client_id).collect();
                let phones = s.phones_of(&clients)?;
                Ok((messages, phones))
            })
            .await?
    } else {
        (
            mailing_domain::store::Page {
                items: vec![],
                total: 0,
            },
            HashMap::new(),
        )
    };
    let rows = messages
        .items
        .iter()
        .map(|m| MessageRow {
            phone: m
                .client_id
                .and_then(|c| phones.get(&c))
                .map_or_else(|| "deleted client".to_owned(), |p| p.as_str().to_owned()),
            status: m.status.as_str(),
            attempts: m.attempts,
            last_error: m.last_error.clone().unwrap_or_default(),
            sent_at: m.sent_at.map(|t| clock.second(t)).unwrap_or_default(),
        })
        .collect();
    let now = Utc::now();
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
    let http_status = layout.show_refusal(refusal);
    view::render(
        if errors.is_empty() {
            http_status
        } else {
            StatusCode::BAD_REQUEST
        },
        &MailingPage {
            layout,
            id: id.0,
            text: mailing.text.as_str().to_owned(),
            start: show_time(mailing.schedule.start_at(), local_time, clock),
            end: show_time(mailing.schedule.end_at(), local_time, clock),
            reaches: describe_filter(&mailing.filter),
            window,
            open: matches!(
                mailing.status(now),
                MailingStatus::Scheduled | MailingStatus::Running
            ),
            live,
            statuses: MessageStatus::ALL
                .iter()
                .map(|s| (s.as_str(), status == Some(*s)))
                .collect(),
            pager: Pager::new(
                page,
                messages.total,
                &[("status", &status_raw), ("phone", &phone)],
            ),
            phone,
            messages: rows,
            errors,
        },
    )
}
