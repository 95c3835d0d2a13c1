//! Tags: list, create, rename, delete.

use super::error::AdminError;
use super::form::Form;
use super::session::Viewer;
use super::view::{self, FieldErrors, Layout, Pager, base_field};
use crate::operations::tags::{self, TagInput};
use crate::state::AppState;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use mailing_domain::TagId;
use mailing_domain::store::Tag;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/tags", web::get().to(list))
        .route("/tags", web::post().to(create))
        .route("/tags/new", web::get().to(new))
        .route("/tags/{id}", web::post().to(update))
        .route("/tags/{id}/edit", web::get().to(edit))
        .route("/tags/{id}/delete", web::post().to(delete));
}

#[derive(Template)]
#[template(path = "admin/tags.html")]
struct ListPage {
    layout: Layout,
    tags: Vec<Tag>,
    pager: Pager,
}

#[derive(Template)]
#[template(path = "admin/tag_form.html")]
struct FormPage {
    layout: Layout,
    action: String,
    value: String,
    errors: FieldErrors,
}

async fn list(
    viewer: Viewer,
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, AdminError> {
    let query = Form::parse(req.query_string().as_bytes());
    let page = query.page();
    let tags = state
        .run(move |s| s.list_tags(Pager::request(page)))
        .await?;
    view::render_ok(&ListPage {
        layout: Layout::new(&viewer, "tags", "Tags").with_notice("Tag", &query),
        pager: Pager::new(page, tags.total, &[]),
        tags: tags.items,
    })
}

async fn new(viewer: Viewer) -> Result<HttpResponse, AdminError> {
    form_page(&viewer, None, String::new(), FieldErrors::default())
}

async fn edit(
    viewer: Viewer,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, AdminError> {
    let id = TagId(id.into_inner());
    let tag = state.run(move |s| s.get_tag(id)).await?;
    form_page(
        &viewer,
        Some(id),
        tag.value.as_str().to_owned(),
        FieldErrors::default(),
    )
}

fn form_page(
    viewer: &Viewer,
    id: Option<TagId>,
    value: String,
    errors: FieldErrors,
) -> Result<HttpResponse, AdminError> {
    let (title, action) = match id {
        Some(id) => ("Edit tag", format!("/admin/tags/{}", id.0)),
        None => ("New tag", "/admin/tags".to_owned()),
    };
    let status = errors.status();
    view::render(
        status,
        &FormPage {
            layout: Layout::new(viewer, "tags", title),
            action,
            value,
            errors,
        },
    )
}

async fn create(
    viewer: Viewer,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, AdminError> {
    save(viewer, state, None, body).await
}

async fn update(
    viewer: Viewer,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    body: web::Bytes,
) -> Result<HttpResponse, AdminError> {
    save(viewer, state, Some(TagId(id.into_inner())), body).await
}

async fn save(
    viewer: Viewer,
    state: web::Data<AppState>,
    id: Option<TagId>,
    body: web::Bytes,
) -> Result<HttpResponse, AdminError> {
    let form = viewer.verify_csrf_token(&body)?;
    let input = TagInput {
        value: form.value("value").to_owned(),
    };
    let saved = match id {
        Some(id) => tags::rename(&state, id, input).await,
        None => tags::create(&state, input).await,
    };
    match saved {
        Ok(tag) => {
            tracing::info!(tag_id = tag.id.0, username = %viewer.username, "tag saved in the admin UI");
            Ok(view::see_other("/admin/tags", "saved"))
        }
        Err(error) => form_page(
            &viewer,
            id,
            form.value("value").to_owned(),
            FieldErrors::from_api(error, |path| {
                (base_field(path) == "value").then_some("value")
            })?,
        ),
    }
}

async fn delete(
    viewer: Viewer,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    body: web::Bytes,
) -> Result<HttpResponse, AdminError> {
    viewer.verify_csrf_token(&body)?;
    let id = TagId(id.into_inner());
    tags::delete(&state, id).await?;
    tracing::info!(tag_id = id.0, username = %viewer.username, "tag deleted in the admin UI");
    Ok(view::see_other("/admin/tags", "deleted"))
}
