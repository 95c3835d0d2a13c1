//! What the shared flow hands a kind's list and form pages: the frame around the page, with
//! the notice or refusal to show, and for a form where it posts and its problems.

use super::RecordPages;
use crate::admin::error::AdminError;
use crate::admin::field_errors::FieldErrors;
use crate::admin::form::Form;
use crate::admin::view::{self, Clock, Layout, Pager};
use crate::state::AppState;
use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use askama::Template;
use mailing_domain::store::PageRequest;

/// What a list page starts from: the query it was asked with, and its frame, which carries
/// the notice a redirect asked for, or why an action on the list was refused.
pub struct ListFrame {
    pub query: Form,
    pub layout: Layout,
    /// What the page answers: 200, or the refusal's status.
    pub status: StatusCode,
}

impl ListFrame {
    /// The page of the list asked for.
    pub fn page(&self) -> u32 {
        self.query.page()
    }

    pub fn request(&self) -> PageRequest {
        Pager::request(self.page())
    }
}

/// What a form page starts from: its frame, titled for a new record or the one edited, the
/// parts every record's form has, the record edited as stored, the viewer's clock, and the
/// state to read what else the form offers.
pub struct FormFrame<'a, R: RecordPages> {
    pub layout: Layout,
    pub clock: Clock,
    pub form: FormParts,
    pub stored: Option<&'a R::Stored>,
    pub state: &'a AppState,
}

/// What every record's form has around its own fields: where it posts, the problems to show
/// beside its fields or above them, and the list it goes back to.
pub struct FormParts {
    pub action: String,
    pub errors: FieldErrors,
    /// The list in words: "client filters".
    pub list: String,
}

impl<R: RecordPages> FormFrame<'_, R> {
    /// Renders the kind's form page around the frame; it answers 422 when the form comes back
    /// with problems.
    pub fn render<T: Template>(
        self,
        page: impl FnOnce(Layout, FormParts) -> T,
    ) -> Result<HttpResponse, AdminError> {
        let status = self.form.errors.status();
        view::render(status, &page(self.layout, self.form))
    }
}
