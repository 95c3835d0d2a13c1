//! How far a mailing got, drawn from its message counts: a progress bar split by status and a
//! bar chart. Both are SVG with sizes in attributes, which the page's content security policy
//! allows where inline styles would not be.

use mailing_domain::MessageStatus;
use mailing_domain::store::StatusCounts;

/// The order of a bar's segments: finished outcomes first, then what is still waiting.
const BAR_ORDER: [MessageStatus; 8] = [
    MessageStatus::Sent,
    MessageStatus::Failed,
    MessageStatus::Expired,
    MessageStatus::Cancelled,
    MessageStatus::Suppressed,
    MessageStatus::Retrying,
    MessageStatus::Queued,
    MessageStatus::Scheduled,
];

/// Messages that may still be sent.
pub fn still_waiting(counts: &StatusCounts) -> u64 {
    counts.get(MessageStatus::Scheduled)
        + counts.get(MessageStatus::Queued)
        + counts.get(MessageStatus::Retrying)
}

pub struct Segment {
    pub status: &'static str,
    /// Position and width in percent of the bar.
    pub x: String,
    pub width: String,
}

pub struct ProgressBar {
    /// Share of messages no longer waiting, rounded down, so 100 means all are done.
    pub percent: u64,
    pub summary: String,
    pub segments: Vec<Segment>,
}

impl ProgressBar {
    pub fn of(counts: &StatusCounts) -> Self {
        let total = counts.total();
        let done = total - still_waiting(counts);
        let percent = (done * 100).checked_div(total).unwrap_or(0);
        let mut segments = vec![];
        let mut x = 0.0;
        for status in BAR_ORDER {
            let count = counts.get(status);
            if count == 0 {
                continue;
            }
            let width = count as f64 * 100.0 / total as f64;
            segments.push(Segment {
                status: status.as_str(),
                x: format!("{x:.3}"),
                width: format!("{width:.3}"),
            });
            x += width;
        }
        let summary = if total == 0 {
            "no messages yet".to_owned()
        } else {
            let mut summary = format!(
                "{} of {total} sent, {} failed",
                counts.get(MessageStatus::Sent),
                counts.get(MessageStatus::Failed)
            );
            // Messages that will never go out say so by name; their reasons are in the list.
            for status in [
                MessageStatus::Expired,
                MessageStatus::Cancelled,
                MessageStatus::Suppressed,
            ] {
                let count = counts.get(status);
                if count > 0 {
                    summary.push_str(&format!(", {count} {status}"));
                }
            }
            summary
        };
        Self {
            percent,
            summary,
            segments,
        }
    }
}

pub struct ChartRow {
    pub status: &'static str,
    pub count: u64,
    /// Top of the row in the chart's coordinates.
    pub y: u32,
    pub text_y: u32,
    pub width: String,
    pub count_x: String,
}

/// A horizontal bar per status, scaled to the largest count.
pub struct Chart {
    pub label: String,
    pub rows: Vec<ChartRow>,
    pub height: u32,
}

impl Chart {
    pub const LABEL_WIDTH: f64 = 90.0;
    pub const BAR_SPACE: f64 = 260.0;
    const ROW: u32 = 26;

    pub fn of(counts: &StatusCounts) -> Self {
        let largest = counts
            .iter()
            .map(|(_, count)| count)
            .max()
            .unwrap_or(0)
            .max(1);
        let mut rows = vec![];
        for (i, (status, count)) in counts.iter().enumerate() {
            let width = count as f64 * Self::BAR_SPACE / largest as f64;
            let y = u32::try_from(i).unwrap_or(0) * Self::ROW;
            rows.push(ChartRow {
                status: status.as_str(),
                count,
                y: y + 4,
                text_y: y + 18,
                width: format!("{width:.2}"),
                count_x: format!("{:.2}", Self::LABEL_WIDTH + width + 6.0),
            });
        }
        let label = format!(
            "Messages by status: {}",
            rows.iter()
                .map(|row| format!("{} {}", row.status, row.count))
                .collect::<Vec<_>>()
                .join(", ")
        );
        Self {
            label,
            height: u32::try_from(rows.len()).unwrap_or(0) * Self::ROW,
            rows,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(pairs: &[(MessageStatus, u64)]) -> StatusCounts {
        pairs.iter().copied().collect()
    }

    #[test]
    fn progress_counts_what_no_longer_waits_and_reaches_100_only_when_all_did() {
        let bar = ProgressBar::of(&counts(&[
            (MessageStatus::Sent, 197),
            (MessageStatus::Failed, 2),
            (MessageStatus::Retrying, 1),
        ]));
        assert_eq!(bar.percent, 99);
        assert_eq!(bar.summary, "197 of 200 sent, 2 failed");
        let expired = ProgressBar::of(&counts(&[(MessageStatus::Expired, 6)]));
        assert_eq!(expired.summary, "0 of 6 sent, 0 failed, 6 expired");
        let statuses: Vec<_> = bar.segments.iter().map(|s| s.status).collect();
        assert_eq!(statuses, ["sent", "failed", "retrying"]);
        assert_eq!(bar.segments[1].x, "98.500");
        assert_eq!(bar.segments[1].width, "1.000");

        let done = ProgressBar::of(&counts(&[
            (MessageStatus::Sent, 3),
            (MessageStatus::Expired, 1),
        ]));
        assert_eq!(done.percent, 100);

        let suppressed = ProgressBar::of(&counts(&[
            (MessageStatus::Sent, 3),
            (MessageStatus::Suppressed, 1),
        ]));
        assert_eq!(suppressed.percent, 100);
        assert_eq!(suppressed.summary, "3 of 4 sent, 0 failed, 1 suppressed");
        let statuses: Vec<_> = suppressed.segments.iter().map(|s| s.status).collect();
        assert_eq!(statuses, ["sent", "suppressed"]);
    }

    #[test]
    fn an_empty_mailing_is_at_zero() {
        let bar = ProgressBar::of(&StatusCounts::default());
        assert_eq!((bar.percent, bar.segments.len()), (0, 0));
        assert_eq!(bar.summary, "no messages yet");
    }

    #[test]
    fn the_chart_scales_to_the_largest_count_and_names_every_status() {
        let chart = Chart::of(&counts(&[
            (MessageStatus::Sent, 10),
            (MessageStatus::Failed, 5),
        ]));
        assert_eq!(chart.rows.len(), MessageStatus::ALL.len());
        let sent = chart.rows.iter().find(|r| r.status == "sent").unwrap();
        let failed = chart.rows.iter().find(|r| r.status == "failed").unwrap();
        assert_eq!(sent.width, "260.00");
        assert_eq!(failed.width, "130.00");
        assert!(chart.label.starts_with("Messages by status: scheduled 0"));
        assert!(chart.label.contains("sent 10"));
    }
}
