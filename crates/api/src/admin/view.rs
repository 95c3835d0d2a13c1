//! What every page shares: the frame around it, times in the viewer's zone, page links and the
//! HTML response itself.

use super::error::AdminError;
use super::session::Viewer;
use actix_web::HttpResponse;
use actix_web::http::{StatusCode, header};
use askama::Template;
use chrono::{DateTime, Utc};
use chrono_tz::Tz;

/// The parts of the frame that depend on the viewer and the page.
pub struct Layout {
    pub title: String,
    /// The navigation entry to mark as the current page.
    pub section: &'static str,
    pub username: String,
    pub role: mailing_domain::Role,
    pub csrf_token: String,
    pub zone: String,
    /// A confirmation after a redirect, e.g. "Operator saved."
    pub notice: Option<String>,
    /// What the reader should know about what was just saved although it was saved, shown
    /// under the notice: the place for the API's warnings about a saved mailing (such as one
    /// that reaches no client now).
    pub warnings: Vec<String>,
    /// Why the last action was refused, e.g. "Not deleted: the operator is used by clients."
    pub alert: Option<String>,
}

impl Layout {
    pub fn new(viewer: &Viewer, section: &'static str, title: impl Into<String>) -> Self {
        Self {
            title: title.into(),
            section,
            username: viewer.username.clone(),
            role: viewer.role,
            csrf_token: viewer.csrf_token().to_owned(),
            zone: viewer.zone.name().to_owned(),
            notice: None,
            warnings: vec![],
            alert: None,
        }
    }

    /// Shows why an action on the page was refused; the page answers with the refusal's status.
    pub fn show_refusal(&mut self, refusal: Option<AdminError>) -> StatusCode {
        use actix_web::ResponseError as _;
        match refusal {
            Some(error) => {
                self.notice = None;
                self.warnings.clear();
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

    /// Whether the page shows the controls that change clients, tags, filters, mailings,
    /// imports and opt-outs.
    pub fn can_manage(&self) -> bool {
        self.role.allows(mailing_domain::Role::Manager)
    }

    /// Whether the page shows the controls of operators, users, API keys and the audit log.
    pub fn can_administer(&self) -> bool {
        self.role.allows(mailing_domain::Role::Admin)
    }

    /// Whether the viewer may change what this page's section lists (operators: admins;
    /// the rest: managers), by the rule the server enforces.
    pub fn may_change(&self) -> bool {
        let path = format!("/admin/{}", self.section);
        self.role.allows(crate::auth::policy::required_role(
            &actix_web::http::Method::POST,
            &path,
        ))
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
        "paused" => "paused",
        "resumed" => "resumed",
        "created" => "created",
        "removed" => "removed",
        "revoked" => "revoked",
        "sent" => "sent",
        _ => return None,
    };
    Some(format!("{noun} {done}."))
}

/// The text with its first letter in upper case: "client filter" → "Client filter".
pub fn capitalised(text: &str) -> String {
    let mut text = text.to_owned();
    if let Some(first) = text.get_mut(0..1) {
        first.make_ascii_uppercase();
    }
    text
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
