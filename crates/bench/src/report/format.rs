//! How numbers read in the table.

use crate::stats::Spread;
pub use mailing_e2e::numbers::thousands;

pub fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// A measure over runs in its unit; with several runs, the range follows the median.
pub fn spread(value: Spread, unit: &str) -> String {
    let one = |v: f64| match unit {
        "s" => seconds(v),
        "ms" => millis(v),
        "msg/s" => format!("{} msg/s", thousands(v)),
        "MiB" => format!("{v:.1} MiB"),
        _ => thousands(v),
    };
    if value.runs > 1 {
        let bare = |v: f64| {
            let text = one(v);
            text.split(' ').next().unwrap_or(&text).to_owned()
        };
        format!(
            "{} ({}–{})",
            one(value.median),
            bare(value.min),
            bare(value.max)
        )
    } else {
        one(value.median)
    }
}

pub fn seconds(value: f64) -> String {
    if value < 100.0 {
        format!("{value:.2} s")
    } else {
        format!("{value:.0} s")
    }
}

pub fn millis(value: f64) -> String {
    if value < 10.0 {
        format!("{value:.2} ms")
    } else if value < 1000.0 {
        format!("{value:.1} ms")
    } else {
        format!("{value:.0} ms")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_spread_shows_its_range_only_over_several_runs() {
        let one = Spread::of(&[12.345]).unwrap();
        assert_eq!(spread(one, "s"), "12.35 s");
        let three = Spread::of(&[3_000.0, 4_000.0, 5_000.0]).unwrap();
        assert_eq!(spread(three, "msg/s"), "4,000 msg/s (3,000–5,000)");
    }
}
