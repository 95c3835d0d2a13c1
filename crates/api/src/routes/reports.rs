//! The daily statistics report: read any day's (managers and admins), and send one by e-mail
//! now (admins).

use crate::auth::Authenticated;
use crate::error::ApiError;
use crate::extract::{JsonBody, QueryParams};
use crate::operations::reports::{
    DailyReportQuery, SendReportInput, daily_report, queried_date, requested_date,
    send_daily_report,
};
use crate::state::AppState;
use chrono::{DateTime, Utc};
use mailing_reports::DailyReport;
use paperclip::actix::{Apiv2Schema, api_v2_operation, web};
use serde::Serialize;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/reports/daily").route(web::get().to(get_daily)))
        .service(web::resource("/reports/daily/send").route(web::post().to(send_daily)));
}

/// Read a day's report
///
/// For one day in the report's time zone: each mailing whose time to send overlapped it, with
/// its messages by status now (as `/mailings/stats` counts them) and what happened to them
/// that day (sent, failed and expired, the most common reasons, pauses); the day's totals
/// beside the day before's; and how the provider fared (circuit breaker trips, token
/// rejections, retries, auto-pauses). `email` says whether that day's e-mail went out.
/// Managers and admins.
#[api_v2_operation(operation_id = "getDailyReport", tags(Statistics))]
pub async fn get_daily(
    _: Authenticated,
    state: web::Data<AppState>,
    query: QueryParams<DailyReportQuery>,
) -> Result<web::Json<DailyReport>, ApiError> {
    let date = queried_date(&query.0, &state.reports.calendar, Utc::now())?;
    Ok(web::Json(daily_report(&state, date).await?))
}

#[derive(Serialize, Apiv2Schema)]
pub struct ReportSentBody {
    /// The day reported on.
    pub date: String,
    pub sent_at: DateTime<Utc>,
    /// Whom it went to, comma-separated.
    pub recipients: String,
    /// The Message-ID it carried.
    pub message_id: String,
}

/// Send a day's report by e-mail now
///
/// Sends the report of `date` (default: the day the latest scheduled report covers) to
/// MAILING_REPORT_RECIPIENTS through MAILING_SMTP_URL, and answers once the SMTP server took
/// it. A day whose scheduled e-mail is due but has not gone out counts as sent, so it is not
/// sent twice; a day whose e-mail is not due yet (today's, for a morning report) still gets it
/// at its time. Send `{}` for the default day. Admins only.
#[api_v2_operation(operation_id = "sendDailyReport", tags(Statistics))]
pub async fn send_daily(
    _: Authenticated,
    state: web::Data<AppState>,
    body: JsonBody<SendReportInput>,
) -> Result<web::Json<ReportSentBody>, ApiError> {
    let date = requested_date(&body.0, &state.reports.calendar, Utc::now())?;
    let sent = send_daily_report(&state, date).await?;
    Ok(web::Json(ReportSentBody {
        date: date.to_string(),
        sent_at: sent.at,
        recipients: sent.recipients,
        message_id: sent.message_id,
    }))
}
