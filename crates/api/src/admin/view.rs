//! What every page shares: the frame around it, field errors beside their fields, times in the
//! viewer's zone, page links and the HTML response itself.

use super::error::AdminError;
use super::session::Viewer;
use crate::error::ApiError;
use actix_web::HttpResponse;
use actix_web::http::{StatusCode, header};
use askama::Template;
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use std::collections::BTreeMap;

/// The parts of the frame that depend on the viewer and the page.
pub struct Layout {
    pub title: String,
    /// The navigation entry to mark as the current page.
    pub section: &'static str,
    pub username: String,
    pub csrf_token: String,
    pub zone: String,
    /// A confirmation after a redirect, e.g. "Operator saved."
    pub notice: Option<String>,
    /// Why the last action was refused, e.g. "Not deleted: the operator is used by clients."
    pub alert: Option<String>,
}

impl Layout {
    pub fn new(viewer: &Viewer, section: &'static str, title: impl Into<String>) -> Self {
        Self {
            title: title.into(),
            section,
            username: viewer.username.clone(),
            csrf_token: viewer.csrf_token().to_owned(),
            zone: viewer.zone.name().to_owned(),
            notice: None,
            alert: None,
        }
    }

    /// Shows why an action on the page was refused; the page answers with the refusal's status.
    pub fn show_refusal(&mut self, refusal: Option<AdminError>) -> StatusCode {
        use actix_web::ResponseError as _;
        match refusal {
            Some(error) => {
                self.notice = None;
                self.alert = Some(format!("Not done: {error}."));
                error.status_code()
            }
            None => StatusCode::OK,
        }
    }

    /// Shows the confirmation a redirect asked for with `?notice=`.
    pub fn with_notice(mut self, noun: &str, query: &super::form::Form) -> Self {
        self.notice = notice(noun, query.value("notice"));
        self
    }

    /// `aria-current` for a navigation entry.
    pub fn current(&self, section: &str) -> &'static str {
        if self.section == section {
            "page"
        } else {
            "false"
        }
    }
}

/// The confirmations a redirect may ask for. Only these words are accepted, so a link cannot
/// make the page say something else.
fn notice(noun: &str, word: &str) -> Option<String> {
    let done = match word {
        "saved" => "saved",
        "deleted" => "deleted",
        "cancelled" => "cancelled",
        _ => return None,
    };
    Some(format!("{noun} {done}."))
}

/// Where to go after a successful write, with its confirmation.
pub fn see_other(location: &str, notice: &str) -> HttpResponse {
    let separator = if location.contains('?') { '&' } else { '?' };
    HttpResponse::SeeOther()
        .insert_header((
            header::LOCATION,
            format!("{location}{separator}notice={notice}"),
        ))
        .finish()
}

/// Renders a page with the given status.
pub fn render(status: StatusCode, template: &impl Template) -> Result<HttpResponse, AdminError> {
    let body = template
        .render()
        .map_err(|error| AdminError::Internal(format!("rendering a page: {error}")))?;
    Ok(HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .body(body))
}

pub fn render_ok(template: &impl Template) -> Result<HttpResponse, AdminError> {
    render(StatusCode::OK, template)
}

/// Problems with a submitted form: each beside the field it concerns, the rest above the form.
#[derive(Debug, Default)]
pub struct FieldErrors {
    by_field: BTreeMap<String, String>,
    pub general: Vec<String>,
}

impl FieldErrors {
    /// The problem with the field, if any.
    pub fn get(&self, field: &str) -> Option<&str> {
        self.by_field.get(field).map(String::as_str)
    }

    pub fn add(&mut self, field: &str, message: impl Into<String>) {
        self.by_field
            .entry(field.to_owned())
            .or_insert_with(|| message.into());
    }

    pub fn is_empty(&self) -> bool {
        self.by_field.is_empty() && self.general.is_empty()
    }

    /// A form shown again with problems answers 422, as the API does.
    pub fn status(&self) -> StatusCode {
        if self.is_empty() {
            StatusCode::OK
        } else {
            StatusCode::UNPROCESSABLE_ENTITY
        }
    }

    /// Sorts the API's answer to input onto the form's fields. `field` names the form field
    /// for an API field path (`filter.tags[2]` → `tags`); `None` puts the problem above the
    /// form. Failures that are not about the input stay errors.
    pub fn from_api(
        error: ApiError,
        field: impl Fn(&str) -> Option<&'static str>,
    ) -> Result<Self, AdminError> {
        let (message, details) = match error {
            ApiError::Validation(details) => (None, details),
            ApiError::BadRequest {
                message, details, ..
            }
            | ApiError::Conflict {
                message, details, ..
            } => (Some(message), details),
            other => return Err(other.into()),
        };
        let mut errors = Self::default();
        for detail in &details {
            let message = detail.message.clone();
            match field(&detail.field) {
                Some(name) => errors.add(name, entry_message(&detail.field, message)),
                None => errors.general.push(format!("{}: {message}", detail.field)),
            }
        }
        if details.is_empty() {
            errors.general.extend(message);
        }
        Ok(errors)
    }
}

/// A problem with one entry of a list names the entry: "entry 2 must not be empty".
fn entry_message(path: &str, message: String) -> String {
    let index = path
        .rsplit_once('[')
        .and_then(|(_, rest)| rest.strip_suffix(']'))
        .and_then(|i| i.parse::<usize>().ok());
    match index {
        Some(i) => format!("entry {}: {message}", i + 1),
        None => message,
    }
}

/// The field a top-level API path refers to, without its list index.
pub fn base_field(path: &str) -> &str {
    path.split(['[', '.']).next().unwrap_or(path)
}

/// Times as the viewer reads them: in their zone, to the minute (or second where it matters).
#[derive(Clone, Copy)]
pub struct Clock(pub Tz);

impl Clock {
    pub fn minute(&self, instant: DateTime<Utc>) -> String {
        instant
            .with_timezone(&self.0)
            .format("%Y-%m-%d %H:%M")
            .to_string()
    }

    pub fn second(&self, instant: DateTime<Utc>) -> String {
        instant
            .with_timezone(&self.0)
            .format("%Y-%m-%d %H:%M:%S")
            .to_string()
    }

    /// The value of a `datetime-local` input.
    pub fn input(&self, instant: DateTime<Utc>) -> String {
        instant
            .with_timezone(&self.0)
            .format("%Y-%m-%dT%H:%M")
            .to_string()
    }
}

/// Links between the pages of a list.
pub struct Pager {
    pub page: u32,
    pub pages: u64,
    pub total: u64,
    /// The list's query string without `page`, to keep its filters.
    query: String,
}

impl Pager {
    pub const PAGE_SIZE: u32 = 50;

    pub fn new(page: u32, total: u64, query: &[(&str, &str)]) -> Self {
        let query = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(query.iter().filter(|(_, value)| !value.is_empty()))
            .finish();
        Self {
            page,
            pages: total.div_ceil(u64::from(Self::PAGE_SIZE)).max(1),
            total,
            query,
        }
    }

    pub fn request(page: u32) -> mailing_domain::store::PageRequest {
        crate::operations::paging::Paging {
            page,
            page_size: Self::PAGE_SIZE,
        }
        .request()
    }

    pub fn previous(&self) -> Option<String> {
        (self.page > 1).then(|| self.link(self.page - 1))
    }

    pub fn next(&self) -> Option<String> {
        (u64::from(self.page) < self.pages).then(|| self.link(self.page + 1))
    }

    fn link(&self, page: u32) -> String {
        if self.query.is_empty() {
            format!("?page={page}")
        } else {
            format!("?{}&page={page}", self.query)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::FieldError;

    #[test]
    fn api_problems_land_beside_their_fields() {
        let error = ApiError::Validation(vec![
            FieldError::new("phone_number", "phone_format", "must be 11 digits"),
            FieldError::new("tags[1]", "empty", "must not be empty"),
            FieldError::new("mystery", "x", "is odd"),
        ]);
        let errors = FieldErrors::from_api(error, |path| match base_field(path) {
            "phone_number" => Some("phone_number"),
            "tags" => Some("tags"),
            _ => None,
        })
        .unwrap();
        assert_eq!(errors.get("phone_number"), Some("must be 11 digits"));
        assert_eq!(errors.get("tags"), Some("entry 2: must not be empty"));
        assert_eq!(errors.general, ["mystery: is odd"]);
    }

    #[test]
    fn a_conflict_without_fields_goes_above_the_form() {
        let error = ApiError::Conflict {
            code: "operator_in_use",
            message: "the operator is used by clients".into(),
            details: vec![],
        };
        let errors = FieldErrors::from_api(error, |_| None).unwrap();
        assert_eq!(errors.general, ["the operator is used by clients"]);
        assert!(FieldErrors::from_api(ApiError::Unavailable, |_| None).is_err());
    }

    #[test]
    fn only_known_notices_are_shown() {
        assert_eq!(notice("Tag", "saved").as_deref(), Some("Tag saved."));
        assert_eq!(notice("Tag", "<script>"), None);
    }

    #[test]
    fn pages_link_to_their_neighbours_keeping_the_filters() {
        let pager = Pager::new(2, 120, &[("phone", "79"), ("tag", "")]);
        assert_eq!(pager.pages, 3);
        assert_eq!(pager.previous().as_deref(), Some("?phone=79&page=1"));
        assert_eq!(pager.next().as_deref(), Some("?phone=79&page=3"));
        let single = Pager::new(1, 0, &[]);
        assert_eq!(
            (single.pages, single.previous(), single.next()),
            (1, None, None)
        );
    }
}
