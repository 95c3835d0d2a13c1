//! Saved client filters: named selections of clients that mailings can reuse.

use super::catalog::{Catalog, Choice, describe_filter};
use super::error::AdminError;
use super::form::Form;
use super::session::Viewer;
use super::view::{self, FieldErrors, Layout, Pager, base_field};
use crate::operations::client_filters::{self, ClientFilterInput};
use crate::state::AppState;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use mailing_domain::ClientFilterId;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/client-filters", web::get().to(list))
        .route("/client-filters", web::post().to(create))
        .route("/client-filters/new", web::get().to(new))
        .route("/client-filters/{id}", web::post().to(update))
        .route("/client-filters/{id}/edit", web::get().to(edit))
        .route("/client-filters/{id}/delete", web::post().to(delete));
}

struct Row {
    id: i64,
    name: String,
    selects: String,
    matching: u64,
}

#[derive(Template)]
#[template(path = "admin/client_filters.html")]
struct ListPage {
    layout: Layout,
    rows: Vec<Row>,
    pager: Pager,
}

#[derive(Template)]
#[template(path = "admin/client_filter_form.html")]
struct FormPage {
    layout: Layout,
    action: String,
    name: String,
    operators: Vec<Choice>,
    tags: Vec<Choice>,
    errors: FieldErrors,
}

async fn list(
    viewer: Viewer,
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, AdminError> {
    let query = Form::parse(req.query_string().as_bytes());
    let page = query.page();
    let (filters, counts) = state
        .run(move |s| {
            let filters = s.list_client_filters(Pager::request(page))?;
            let counts = filters
                .items
                .iter()
                .map(|saved| s.count_matching(&saved.filter))
                .collect::<Result<Vec<_>, _>>()?;
            Ok((filters, counts))
        })
        .await?;
    let rows = filters
        .items
        .iter()
        .zip(counts)
        .map(|(saved, matching)| Row {
            id: saved.id.0,
            name: saved.name.clone().unwrap_or_default(),
            selects: describe_filter(&saved.filter),
            matching,
        })
        .collect();
    view::render_ok(&ListPage {
        layout: Layout::new(&viewer, "client-filters", "Client filters")
            .with_notice("Client filter", &query),
        rows,
        pager: Pager::new(page, filters.total, &[]),
    })
}

async fn new(viewer: Viewer, state: web::Data<AppState>) -> Result<HttpResponse, AdminError> {
    let catalog = Catalog::load(&state).await?;
    form_page(
        &viewer,
        &catalog,
        None,
        String::new(),
        &[],
        &[],
        FieldErrors::default(),
    )
}

async fn edit(
    viewer: Viewer,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, AdminError> {
    let id = ClientFilterId(id.into_inner());
    let saved = state.run(move |s| s.get_client_filter(id)).await?;
    let catalog = Catalog::load(&state).await?;
    let codes: Vec<String> = saved
        .filter
        .operator_codes()
        .map(|c| c.as_str().to_owned())
        .collect();
    let tags: Vec<String> = saved.filter.tags().map(|t| t.as_str().to_owned()).collect();
    form_page(
        &viewer,
        &catalog,
        Some(id),
        saved.name.unwrap_or_default(),
        &codes,
        &tags,
        FieldErrors::default(),
    )
}

fn form_page(
    viewer: &Viewer,
    catalog: &Catalog,
    id: Option<ClientFilterId>,
    name: String,
    codes: &[String],
    tags: &[String],
    errors: FieldErrors,
) -> Result<HttpResponse, AdminError> {
    let (title, action) = match id {
        Some(id) => (
            "Edit client filter",
            format!("/admin/client-filters/{}", id.0),
        ),
        None => ("New client filter", "/admin/client-filters".to_owned()),
    };
    let status = errors.status();
    view::render(
        status,
        &FormPage {
            layout: Layout::new(viewer, "client-filters", title),
            action,
            name,
            operators: catalog.operator_choices(codes),
            tags: catalog.tag_choices(tags),
            errors,
        },
    )
}

fn form_field(path: &str) -> Option<&'static str> {
    match base_field(path) {
        "name" => Some("name"),
        "operator_codes" => Some("operator_codes"),
        "tags" => Some("tags"),
        _ => None,
    }
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
    save(viewer, state, Some(ClientFilterId(id.into_inner())), body).await
}

async fn save(
    viewer: Viewer,
    state: web::Data<AppState>,
    id: Option<ClientFilterId>,
    body: web::Bytes,
) -> Result<HttpResponse, AdminError> {
    let form = viewer.verify_csrf_token(&body)?;
    let name = form.filled("name");
    let codes = form.values("operator_codes");
    let tags = form.values("tags");
    let input = ClientFilterInput {
        name,
        operator_codes: Some(codes.clone()),
        tags: Some(tags.clone()),
    };
    let saved = match id {
        // The form shows every field, so saving replaces them all; a cleared name removes it.
        Some(id) => client_filters::replace(&state, id, input).await,
        None => client_filters::create(&state, input).await,
    };
    match saved {
        Ok(saved) => {
            tracing::info!(client_filter_id = saved.id.0, username = %viewer.username, "client filter saved in the admin UI");
            Ok(view::see_other("/admin/client-filters", "saved"))
        }
        Err(error) => {
            let errors = FieldErrors::from_api(error, form_field)?;
            let catalog = Catalog::load(&state).await?;
            form_page(
                &viewer,
                &catalog,
                id,
                form.value("name").to_owned(),
                &codes,
                &tags,
                errors,
            )
        }
    }
}

async fn delete(
    viewer: Viewer,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    body: web::Bytes,
) -> Result<HttpResponse, AdminError> {
    viewer.verify_csrf_token(&body)?;
    let id = ClientFilterId(id.into_inner());
    client_filters::delete(&state, id).await?;
    tracing::info!(client_filter_id = id.0, username = %viewer.username, "client filter deleted in the admin UI");
    Ok(view::see_other("/admin/client-filters", "deleted"))
}
