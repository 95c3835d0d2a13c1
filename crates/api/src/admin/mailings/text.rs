//! The mailing form's text: its counter (characters, encoding, SMS parts) while it is typed,
//! and the preview of what the mailing would send, both worked out by the same code as the
//! API's preview.

use super::fields::Mailings;
use crate::admin::error::AdminError;
use crate::admin::field_errors::FieldErrors;
use crate::admin::form::Form;
use crate::admin::record::RecordPages;
use crate::admin::session::Viewer;
use crate::admin::view;
use crate::operations::preview::{self, MailingPreview};
use crate::state::AppState;
use actix_web::{HttpRequest, HttpResponse, web};
use mailing_domain::{Encoding, MailingText, Segments, Template};

/// The counter under the text: its length against the limit, then how it travels, e.g.
/// "71 / 1600 characters · UCS-2 · 71 SMS characters in 2 parts · not in GSM-7: ж".
pub fn describe(text: &str) -> String {
    // Line breaks as the API keeps them: a browser sends each as CR LF.
    let text = text.replace("\r\n", "\n");
    let typed = text.chars().count();
    let max = MailingText::MAX_CHARS;
    let mut line = format!("{typed} / {max} characters");
    if typed > max {
        line.push_str(&format!(" ({} too many)", typed - max));
    }
    let template = Template::parse(&text);
    let counted = match &template {
        Ok(template) => Segments::of(&template.with_fallbacks()),
        Err(_) => Segments::of(&text),
    };
    let encoding = match counted.encoding {
        Encoding::Gsm7 => "GSM-7",
        Encoding::Ucs2 => "UCS-2",
    };
    let parts = match counted.parts {
        1 => "1 part".to_owned(),
        n => format!("{n} parts"),
    };
    line.push_str(&format!(
        " · {encoding} · {} SMS characters in {parts}",
        counted.characters
    ));
    if !counted.ucs2_characters.is_empty() {
        let shown: Vec<String> = counted
            .ucs2_characters
            .iter()
            .map(|c| match c {
                '\t' => "tab".to_owned(),
                c => c.to_string(),
            })
            .collect();
        line.push_str(&format!(" · not in GSM-7: {}", shown.join(" ")));
    }
    if template.is_ok_and(|template| template.has_variables()) {
        line.push_str(" · each variable counted as its fallback; Preview counts every client");
    }
    line
}

/// `GET /admin/mailings/counter?text=…`: the counter for a text, as the form shows it.
pub async fn counter(_: Viewer, req: HttpRequest) -> HttpResponse {
    let query = Form::parse(req.query_string().as_bytes());
    HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .body(describe(query.value("text")))
}

#[derive(askama::Template)]
#[template(path = "admin/mailing_preview.html")]
struct PreviewPart {
    preview: Option<MailingPreview>,
    problems: Vec<String>,
}

impl PreviewPart {
    fn encoding(&self, encoding: Encoding) -> u64 {
        self.preview
            .as_ref()
            .and_then(|p| p.tally.by_encoding.get(&encoding).copied())
            .unwrap_or(0)
    }
}

/// `POST /admin/mailings/preview`: the form's mailing previewed, as a part of the page; a
/// form the API would refuse lists its problems instead.
pub async fn preview(
    viewer: Viewer,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, AdminError> {
    let form = viewer.verify_csrf_token(&body)?;
    let fields = Mailings::from_form(&form);
    let previewed = match fields.to_input(viewer.zone, None) {
        Ok(input) => preview::preview(&state, input).await,
        Err(error) => Err(error),
    };
    let part = match previewed {
        Ok(preview) => PreviewPart {
            preview: Some(preview),
            problems: vec![],
        },
        Err(error) => {
            let errors = FieldErrors::from_api(
                error,
                <Mailings as RecordPages>::form_field,
                <Mailings as RecordPages>::LABELS,
            )?;
            PreviewPart {
                preview: None,
                problems: errors.all().map(str::to_owned).collect(),
            }
        }
    };
    view::render_ok(&part)
}

#[cfg(test)]
mod tests {
    use super::describe;

    #[test]
    fn the_counter_says_encoding_characters_and_parts() {
        assert_eq!(
            describe("Hello"),
            "5 / 1600 characters · GSM-7 · 5 SMS characters in 1 part"
        );
        assert_eq!(
            describe(&"ж".repeat(71)),
            "71 / 1600 characters · UCS-2 · 71 SMS characters in 2 parts · not in GSM-7: ж"
        );
        assert_eq!(
            describe("a\r\nb{}"),
            "5 / 1600 characters · GSM-7 · 7 SMS characters in 1 part"
        );
        assert_eq!(
            describe("Hi {{ attributes.name | default: \"Ann\" }}"),
            "41 / 1600 characters · GSM-7 · 6 SMS characters in 1 part · each variable counted \
             as its fallback; Preview counts every client"
        );
    }
}
