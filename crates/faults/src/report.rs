//! A run's report as text: what was done when, what the probe saw, and each promise's count
//! beside its bound.

use crate::run::RunReport;
use crate::verdict::Verdict;
use std::fmt::Write as _;

fn thousands(count: u64) -> String {
    mailing_e2e::numbers::thousands(count as f64)
}

pub fn render(report: &RunReport) -> String {
    let mut out = String::new();
    let verdict = &report.verdict;
    let _ = writeln!(
        out,
        "fault run {} (seed {}): {:.0} s",
        report.scale,
        report.seed,
        report.took.as_secs_f64()
    );
    let _ = writeln!(out, "\n  {:>8}  {:>10}  what (took)", "at", "delivered");
    for incident in &report.incidents {
        let _ = writeln!(
            out,
            "  {:>6.1} s  {:>10}  {} ({:.1} s)",
            incident.at.as_secs_f64(),
            thousands(incident.deliveries),
            incident.what,
            incident.took.as_secs_f64()
        );
    }
    let outcomes: Vec<String> = report
        .probe
        .by_outcome
        .iter()
        .filter(|(_, count)| **count > 0)
        .map(|(outcome, count)| format!("{outcome} {}", thousands(*count)))
        .collect();
    let _ = writeln!(
        out,
        "\n  probe: {} requests: {}",
        thousands(report.probe.requests_total),
        outcomes.join(", ")
    );
    let _ = writeln!(
        out,
        "  api during the run: {} ok, {} 503 (database away), {} unanswered (api down), {} other",
        thousands(verdict.api.ok),
        thousands(verdict.api.unavailable),
        thousands(verdict.api.unreachable),
        thousands(verdict.api.wrong)
    );
    mailings(&mut out, verdict);
    promises(&mut out, verdict);
    if !report.extra_by_fault.is_empty() {
        let _ = writeln!(
            out,
            "\n  deliveries the database does not account for, by the fault before them:"
        );
        for (fault, count) in &report.extra_by_fault {
            let fault = fault
                .as_deref()
                .unwrap_or("(no fault between its deliveries)");
            let _ = writeln!(out, "  {count:>7}  {fault}");
        }
    }
    let failures = verdict.failures();
    if failures.is_empty() {
        let _ = writeln!(out, "\n  PASSED");
    } else {
        let _ = writeln!(out, "\n  FAILED: {}", failures.join("; "));
        for dir in &report.logs {
            let _ = writeln!(out, "  logs: {}", dir.display());
        }
    }
    out
}

fn mailings(out: &mut String, verdict: &Verdict) {
    let _ = writeln!(
        out,
        "\n  {:<8} {:>10} {:>9} {:>8} {:>8} {:>6} {:>5} {:>10} {:>10} {:>10} {:>9} {:>9}",
        "mailing",
        "recipients",
        "messages",
        "sent",
        "expired",
        "other",
        "lost",
        "sent, not",
        "received,",
        "received",
        "after",
        "checked"
    );
    let _ = writeln!(
        out,
        "  {:<8} {:>10} {:>9} {:>8} {:>8} {:>6} {:>5} {:>10} {:>10} {:>10} {:>9} {:>9}",
        "", "", "", "", "", "", "", "received", "not sent", "twice", "the end", "at probe"
    );
    for m in &verdict.mailings {
        let status = |name: &str| m.by_status.get(name).copied().unwrap_or(0);
        let other = m.messages - status("sent") - status("expired");
        let _ = writeln!(
            out,
            "  {:<8} {:>10} {:>9} {:>8} {:>8} {:>6} {:>5} {:>10} {:>10} {:>10} {:>9} {:>9}",
            m.mailing.name(),
            thousands(m.recipients),
            thousands(m.messages),
            thousands(status("sent")),
            thousands(status("expired")),
            thousands(other),
            thousands(m.lost),
            thousands(m.sent_not_received),
            thousands(m.received_not_sent),
            thousands(m.received_twice),
            thousands(m.after_end),
            thousands(m.deliveries_checked)
        );
    }
}

fn promises(out: &mut String, verdict: &Verdict) {
    let _ = writeln!(out, "\n  {:<52} {:>7} {:>7}", "promise", "count", "bound");
    let rows = [
        ("messages lost", verdict.lost, 0),
        ("duplicate message rows", verdict.duplicate_rows, 0),
        (
            "deliveries at or after a mailing's end",
            verdict.after_end,
            0,
        ),
        (
            "deliveries with the wrong phone or text",
            verdict.wrong_content,
            0,
        ),
        (
            "deliveries of ids that are no message",
            verdict.unknown_deliveries,
            0,
        ),
        (
            "deliveries the database does not account for",
            verdict.extra_deliveries,
            verdict.extra_bound,
        ),
    ];
    for (what, count, bound) in rows {
        let mark = if count <= bound { "ok" } else { "BROKEN" };
        let _ = writeln!(out, "  {what:<52} {count:>7} {bound:>7}  {mark}");
    }
    let _ = writeln!(
        out,
        "  {:<52} {:>7}",
        "  of them: messages the probe received twice", verdict.received_twice
    );
    let _ = writeln!(
        out,
        "  {:<52} {:>7}",
        "  of them: accepted, recorded unsent",
        verdict
            .mailings
            .iter()
            .map(|m| m.received_not_sent)
            .sum::<u64>()
    );
}
