//! How many clients a mailing's selection reaches now: beside the form, and as text its counter
//! asks for while operators and tags are ticked.

use crate::admin::error::AdminError;
use crate::admin::form::Form;
use crate::admin::session::Viewer;
use crate::error::ApiError;
use crate::operations::client_filters::{self, FilterInput};
use crate::operations::problems::Problems;
use crate::state::AppState;
use actix_web::{HttpRequest, HttpResponse, web};
use mailing_domain::{ClientFilter, ClientFilterId};

/// Which clients the form selects, for the count beside it.
pub enum Selection {
    Inline(ClientFilter),
    Saved(ClientFilterId),
    /// Something in the form is not a valid filter yet.
    Invalid,
}

impl Selection {
    /// The ticked operators and tags, read by the API's filter rules.
    pub fn parse(codes: &[String], tags: &[String]) -> Self {
        let input = FilterInput::new(codes.to_vec(), tags.to_vec());
        let mut problems = Problems::default();
        match input.parse("filter", &mut problems) {
            Some(filter) if problems.finish(|| ()).is_ok() => Selection::Inline(filter),
            _ => Selection::Invalid,
        }
    }

    /// "3 clients match", or why no number can be given.
    pub async fn describe_reach(self, state: &AppState) -> Result<String, AdminError> {
        let filter = match self {
            Selection::Inline(filter) => filter,
            Selection::Saved(id) => match client_filters::get(state, id).await {
                Ok(saved) => saved.filter,
                Err(ApiError::NotFound(_)) => {
                    return Ok("That saved filter no longer exists".to_owned());
                }
                Err(error) => return Err(error.into()),
            },
            Selection::Invalid => return Ok("The selection is not valid".to_owned()),
        };
        let count = state.run(move |s| s.count_matching(&filter)).await?;
        Ok(match count {
            1 => "1 client matches".to_owned(),
            n => format!("{n} clients match"),
        })
    }
}

/// `GET /admin/mailings/matching`: how many clients the form's selection reaches now, as
/// text for the form's counter.
pub async fn counter(
    _: Viewer,
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, AdminError> {
    let query = Form::parse(req.query_string().as_bytes());
    let selection = match query.value("client_filter_id").parse() {
        Ok(id) => Selection::Saved(ClientFilterId(id)),
        Err(_) => Selection::parse(&query.values("operator_codes"), &query.values("tags")),
    };
    let text = selection.describe_reach(&state).await?;
    Ok(HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .body(text))
}
