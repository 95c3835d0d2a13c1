//! The report as people read it: the e-mail's subject, its plain-text and HTML parts, and the
//! number formats the admin UI's page shares with them.

use crate::compose::{DailyReport, DayTotals, MailingReport};
use askama::Template;

/// A whole number with thousands separated: 12,345.
pub fn count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A share as a percentage with one decimal, or a dash when there is none.
pub fn percent(share: Option<f64>) -> String {
    match share {
        Some(share) => format!("{:.1}%", share * 100.0),
        None => "–".to_owned(),
    }
}

/// How `now` compares with `before`: "+12", "−3" or "±0".
pub fn change(now: u64, before: u64) -> String {
    match now.cmp(&before) {
        std::cmp::Ordering::Greater => format!("+{}", count(now - before)),
        std::cmp::Ordering::Less => format!("−{}", count(before - now)),
        std::cmp::Ordering::Equal => "±0".to_owned(),
    }
}

/// How a share compares with the day before's, in percentage points: "+1.5 pt".
pub fn change_points(now: Option<f64>, before: Option<f64>) -> String {
    match (now, before) {
        (Some(now), Some(before)) => {
            let points = (now - before) * 100.0;
            if points.abs() < 0.05 {
                "±0 pt".to_owned()
            } else if points > 0.0 {
                format!("+{points:.1} pt")
            } else {
                format!("−{:.1} pt", -points)
            }
        }
        _ => "–".to_owned(),
    }
}

/// A mailing's text cut to `limit` characters for a table cell.
pub fn excerpt(text: &str, limit: usize) -> String {
    let one_line: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if one_line.chars().count() <= limit {
        one_line
    } else {
        let cut: String = one_line.chars().take(limit.saturating_sub(1)).collect();
        format!("{}…", cut.trim_end())
    }
}

/// Whether the provider needs a look: any trip, token rejection or auto-pause that day.
pub fn provider_troubled(report: &DailyReport) -> bool {
    let provider = &report.provider;
    provider.breaker_trips > 0 || provider.token_rejections > 0 || provider.auto_pauses > 0
}

/// The e-mail's subject: the day and its two numbers a reader looks for first.
pub fn subject(report: &DailyReport) -> String {
    format!(
        "Mailing daily report for {}: {} sent, {} delivered",
        report.date,
        count(report.totals.sent),
        percent(report.totals.delivery_rate)
    )
}

/// One line of the totals: what it counts, that day's number and how it changed.
pub struct TotalRow {
    pub label: &'static str,
    pub value: String,
    pub change: String,
}

/// The totals as rows, in the order a reader scans them.
pub fn total_rows(today: &DayTotals, before: &DayTotals) -> Vec<TotalRow> {
    vec![
        TotalRow {
            label: "Sent",
            value: count(today.sent),
            change: change(today.sent, before.sent),
        },
        TotalRow {
            label: "Delivery rate",
            value: percent(today.delivery_rate),
            change: change_points(today.delivery_rate, before.delivery_rate),
        },
        TotalRow {
            label: "Failed",
            value: count(today.failed),
            change: change(today.failed, before.failed),
        },
        TotalRow {
            label: "Expired",
            value: count(today.expired),
            change: change(today.expired, before.expired),
        },
        TotalRow {
            label: "SMS segments",
            value: count(today.segments_sent),
            change: change(today.segments_sent, before.segments_sent),
        },
        TotalRow {
            label: "Active mailings",
            value: count(today.mailings),
            change: change(today.mailings, before.mailings),
        },
        TotalRow {
            label: "Pauses",
            value: count(today.pauses),
            change: change(today.pauses, before.pauses),
        },
    ]
}

/// A mailing as its row and notes show it.
pub struct MailingLine<'a> {
    pub mailing: &'a MailingReport,
    pub title: String,
    pub sent: String,
    pub failed: String,
    pub expired: String,
    pub segments: String,
    pub delivery_rate: String,
    pub totals_now: String,
    /// Reasons and pauses, one sentence each.
    pub notes: Vec<String>,
}

impl<'a> MailingLine<'a> {
    pub fn new(mailing: &'a MailingReport) -> Self {
        let now = &mailing.now;
        let day = &mailing.day;
        let mut notes = Vec::new();
        for reason in &day.failure_reasons {
            notes.push(format!(
                "{} failed: {}",
                count(reason.messages),
                excerpt(&reason.reason, 200)
            ));
        }
        for reason in &day.expiry_reasons {
            notes.push(format!(
                "{} expired: {}",
                count(reason.messages),
                excerpt(&reason.reason, 200)
            ));
        }
        for pause in &mailing.pauses {
            let why = match (pause.reason.as_str(), &pause.detail) {
                ("provider_failing", Some(detail)) => format!("paused itself ({detail})"),
                ("provider_failing", None) => "paused itself as the provider failed".to_owned(),
                _ => "paused by hand".to_owned(),
            };
            let until = match pause.resumed_at {
                Some(at) => format!("until {}", at.format("%Y-%m-%d %H:%M UTC")),
                None => "and still paused".to_owned(),
            };
            notes.push(format!(
                "{why} at {} {until}",
                pause.paused_at.format("%Y-%m-%d %H:%M UTC")
            ));
        }
        Self {
            mailing,
            title: format!("#{} {}", mailing.id, excerpt(&mailing.text, 60)),
            sent: count(day.sent),
            failed: count(day.failed),
            expired: count(day.expired),
            segments: count(day.segments_sent),
            delivery_rate: percent(mailing.delivery_rate),
            totals_now: format!(
                "{} messages: {} sent, {} failed, {} expired, {} waiting, {} suppressed, {} cancelled",
                count(mailing.total),
                count(now.sent),
                count(now.failed),
                count(now.expired),
                count(now.scheduled + now.queued + now.retrying),
                count(now.suppressed),
                count(now.cancelled)
            ),
            notes,
        }
    }
}

#[derive(Template)]
#[template(path = "email.txt")]
struct TextPart<'a> {
    report: &'a DailyReport,
    totals: Vec<TotalRow>,
    mailings: Vec<MailingLine<'a>>,
    troubled: bool,
    retry_share: String,
    link: &'a str,
}

#[derive(Template)]
#[template(path = "email.html")]
struct HtmlPart<'a> {
    report: &'a DailyReport,
    subject: String,
    totals: Vec<TotalRow>,
    mailings: Vec<MailingLine<'a>>,
    troubled: bool,
    retry_share: String,
    link: &'a str,
}

/// The e-mail's subject, plain text and HTML.
pub struct RenderedEmail {
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// Renders the report as an e-mail whose link opens its page at `link`.
pub fn email(report: &DailyReport, link: &str) -> Result<RenderedEmail, askama::Error> {
    let totals = || total_rows(&report.totals, &report.previous_day);
    let mailings = || report.mailings.iter().map(MailingLine::new).collect();
    let retry_share = percent(report.provider.retry_share);
    let text = TextPart {
        report,
        totals: totals(),
        mailings: mailings(),
        troubled: provider_troubled(report),
        retry_share: retry_share.clone(),
        link,
    }
    .render()?;
    let html = HtmlPart {
        report,
        subject: subject(report),
        totals: totals(),
        mailings: mailings(),
        troubled: provider_troubled(report),
        retry_share,
        link,
    }
    .render()?;
    Ok(RenderedEmail {
        subject: subject(report),
        text,
        html,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_as_people_write_them() {
        assert_eq!(count(0), "0");
        assert_eq!(count(999), "999");
        assert_eq!(count(1_000), "1,000");
        assert_eq!(count(1_234_567), "1,234,567");
        assert_eq!(percent(Some(0.98765)), "98.8%");
        assert_eq!(percent(None), "–");
        assert_eq!(change(12, 10), "+2");
        assert_eq!(change(10, 1_012), "−1,002");
        assert_eq!(change(3, 3), "±0");
        assert_eq!(change_points(Some(0.9), Some(0.95)), "−5.0 pt");
        assert_eq!(change_points(Some(0.9), None), "–");
    }

    #[test]
    fn a_long_text_is_cut_on_one_line() {
        assert_eq!(excerpt("Hello\nthere", 20), "Hello there");
        assert_eq!(excerpt("abcdefghij", 5), "abcd…");
    }
}
