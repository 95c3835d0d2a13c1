//! The daily report page: any day's report as the e-mail tells it, with links to the days
//! around it, where that day's e-mail stands, and for admins a button that sends it now.

use super::error::AdminError;
use super::form::Form;
use super::session::Viewer;
use super::view::{self, Clock, Layout};
use crate::operations::problems::Problems;
use crate::operations::reports::{daily_report, report_date, send_daily_report};
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use chrono::{Days, Utc};
use mailing_reports::DailyReport;
use mailing_reports::render::{MailingLine, TotalRow, percent, provider_troubled, total_rows};

#[derive(Template)]
#[template(path = "admin/daily_report.html")]
struct ReportPage<'a> {
    layout: Layout,
    report: &'a DailyReport,
    totals: Vec<TotalRow>,
    mailings: Vec<MailingLine<'a>>,
    troubled: bool,
    retry_share: String,
    previous: String,
    /// `None` on today's page: there is no report of tomorrow.
    next: Option<String>,
    /// Where the e-mail of the day stands, in a sentence.
    email: String,
    /// Whether the e-mail is on, so the page offers to send it.
    can_send: bool,
    span: String,
}

pub(super) async fn page(
    viewer: Viewer,
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, AdminError> {
    let query = Form::parse(req.query_string().as_bytes());
    let layout = Layout::new(&viewer, "reports", "Daily report").with_notice("Report", &query);
    show(&viewer, &state, layout, query.filled("date"), None).await
}

/// Sends the shown day's report now (admins: the role rule holds the rest back).
pub(super) async fn send(
    viewer: Viewer,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, AdminError> {
    let form = viewer.verify_csrf_token(&body)?;
    let raw = form.filled("date");
    let mut problems = Problems::default();
    let date = report_date(
        raw.as_deref(),
        &state.reports.calendar,
        Utc::now(),
        &mut problems,
    );
    let refusal = match date {
        Some(date) => match send_daily_report(&state, date).await {
            Ok(_) => {
                return Ok(view::see_other(
                    &format!("/admin/reports/daily?date={date}"),
                    "sent",
                ));
            }
            Err(error) => AdminError::from(error),
        },
        None => date_refusal(&problems),
    };
    let layout = Layout::new(&viewer, "reports", "Daily report");
    show(&viewer, &state, layout, raw, Some(refusal)).await
}

/// The refusal of a date the page cannot show, in the words the API uses.
fn date_refusal(problems: &Problems) -> AdminError {
    let message = problems
        .details()
        .first()
        .map(|problem| format!("the date {}", problem.message))
        .unwrap_or_else(|| "the date is not valid".to_owned());
    AdminError::Refused {
        status: StatusCode::BAD_REQUEST,
        message,
    }
}

async fn show(
    viewer: &Viewer,
    state: &AppState,
    mut layout: Layout,
    raw_date: Option<String>,
    refusal: Option<AdminError>,
) -> Result<HttpResponse, AdminError> {
    let calendar = &state.reports.calendar;
    let now = Utc::now();
    let mut problems = Problems::default();
    let (date, refusal) = match report_date(raw_date.as_deref(), calendar, now, &mut problems) {
        Some(date) => (date, refusal),
        None => (
            calendar.default_date(now),
            refusal.or_else(|| Some(date_refusal(&problems))),
        ),
    };
    let status = layout.show_refusal(refusal);
    let report = daily_report(state, date).await?;
    let clock = Clock(viewer.zone);
    let email = match &report.email {
        Some(email) if email.state == "sent" => format!(
            "The e-mail of this day went to {} at {}.",
            email.recipients.as_deref().unwrap_or_default(),
            email.sent_at.map(|at| clock.minute(at)).unwrap_or_default()
        ),
        Some(email) if email.state == "retrying" => format!(
            "The e-mail of this day has not gone out yet: attempt {} failed ({}); the next is at {}.",
            email.attempts,
            email.last_error.as_deref().unwrap_or("no reason recorded"),
            email
                .next_attempt_at
                .map(|at| clock.minute(at))
                .unwrap_or_default()
        ),
        Some(email) if email.state == "sending" => {
            "The e-mail of this day is being sent.".to_owned()
        }
        _ if state.reports.mailer.is_none() => {
            "The e-mail is off: MAILING_SMTP_URL and MAILING_REPORT_RECIPIENTS turn it on."
                .to_owned()
        }
        _ if calendar.due_at(date) > now => format!(
            "The e-mail of this day goes out at {}.",
            clock.minute(calendar.due_at(date))
        ),
        _ => "No e-mail of this day has been sent.".to_owned(),
    };
    let today = calendar.today(now);
    let page = ReportPage {
        report: &report,
        totals: total_rows(&report.totals, &report.previous_day),
        mailings: report.mailings.iter().map(MailingLine::new).collect(),
        troubled: provider_troubled(&report),
        retry_share: percent(report.provider.retry_share),
        previous: date
            .checked_sub_days(Days::new(1))
            .unwrap_or(date)
            .to_string(),
        next: (date < today).then(|| {
            date.checked_add_days(Days::new(1))
                .unwrap_or(date)
                .to_string()
        }),
        email,
        can_send: state.reports.mailer.is_some() && layout.can_administer(),
        span: format!(
            "{} to {}",
            clock.minute(report.from),
            clock.minute(report.to)
        ),
        layout: {
            layout.title = format!("Daily report for {date}");
            layout
        },
    };
    view::render(status, &page)
}
