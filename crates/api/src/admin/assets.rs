//! The stylesheet and script, compiled into the binary so a deployment is one file, and the
//! list of time zone names the forms suggest.

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use std::sync::LazyLock;

const STYLESHEET: &str = include_str!("../../assets/admin.css");
const SCRIPT: &str = include_str!("../../assets/admin.js");

/// The parts of time zone names that name a region of the world; the names outside them are
/// old aliases (`US/Pacific`, `Zulu`) and fixed offsets (`Etc/GMT+3`), still accepted but not
/// suggested.
const REGIONS: [&str; 10] = [
    "Africa",
    "America",
    "Antarctica",
    "Arctic",
    "Asia",
    "Atlantic",
    "Australia",
    "Europe",
    "Indian",
    "Pacific",
];

/// The time zone names a form suggests, one a line: every region's zones, and UTC.
static TIME_ZONES: LazyLock<String> = LazyLock::new(|| {
    let mut names: Vec<&str> = chrono_tz::TZ_VARIANTS
        .iter()
        .map(|zone| zone.name())
        .filter(|name| {
            name.split_once('/')
                .is_some_and(|(region, _)| REGIONS.contains(&region))
        })
        .collect();
    names.push("UTC");
    names.sort_unstable();
    names.join("\n")
});

/// Where forms fetch the time zone names. The name carries the time zone database's version,
/// so a browser keeps the list until a release brings a new one.
pub fn time_zones_url() -> String {
    format!(
        "/admin/assets/time-zones-{}.txt",
        chrono_tz::IANA_TZDB_VERSION
    )
}

pub async fn serve(name: web::Path<String>) -> HttpResponse {
    if *name == time_zones_url()["/admin/assets/".len()..] {
        return HttpResponse::Ok()
            .insert_header((header::CONTENT_TYPE, "text/plain; charset=utf-8"))
            .insert_header((header::CACHE_CONTROL, "public, max-age=31536000, immutable"))
            .body(TIME_ZONES.as_str());
    }
    let (body, content_type) = match name.as_str() {
        "admin.css" => (STYLESHEET, "text/css; charset=utf-8"),
        "admin.js" => (SCRIPT, "text/javascript; charset=utf-8"),
        _ => return super::error::not_found().await,
    };
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, content_type))
        // Revalidated each time: a new release must not run with the previous script.
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .body(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggested_time_zones_are_names_clients_may_have() {
        let names: Vec<&str> = TIME_ZONES.lines().collect();
        for name in [
            "Europe/Moscow",
            "Asia/Vladivostok",
            "America/New_York",
            "UTC",
        ] {
            assert!(names.contains(&name), "{name} is suggested");
        }
        assert!(!names.contains(&"US/Pacific") && !names.contains(&"Etc/GMT+3"));
        for name in &names {
            assert!(
                mailing_domain::TimeZone::parse(name).is_ok(),
                "{name} is accepted"
            );
        }
    }
}
