//! Clients: search by phone, operator and tag; create, edit, delete.

use super::catalog::{Catalog, Choice};
use super::error::AdminError;
use super::form::{Form, split_list};
use super::session::Viewer;
use super::view::{self, FieldErrors, Layout, Pager, base_field};
use crate::operations::clients::{self, ClientInput, ClientListQuery};
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use mailing_domain::ClientId;
use mailing_domain::store::Client;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/clients", web::get().to(list))
        .route("/clients", web::post().to(create))
        .route("/clients/new", web::get().to(new))
        .route("/clients/{id}", web::post().to(update))
        .route("/clients/{id}/edit", web::get().to(edit))
        .route("/clients/{id}/delete", web::post().to(delete));
}

#[derive(Template)]
#[template(path = "admin/clients.html")]
struct ListPage {
    layout: Layout,
    phone: String,
    operators: Vec<Choice>,
    tags: Vec<Choice>,
    clients: Vec<Client>,
    pager: Pager,
    errors: FieldErrors,
}

#[derive(Template)]
#[template(path = "admin/client_form.html")]
struct FormPage {
    layout: Layout,
    action: String,
    phone_number: String,
    operators: Vec<Choice>,
    tags: String,
    time_zone: String,
    zones: &'static [chrono_tz::Tz],
    errors: FieldErrors,
}

async fn list(
    viewer: Viewer,
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, AdminError> {
    let query = Form::parse(req.query_string().as_bytes());
    let page = query.page();
    let (phone, operator, tag) = (
        query.value("phone").trim().to_owned(),
        query.value("operator").to_owned(),
        query.value("tag").to_owned(),
    );
    let parsed = ClientListQuery {
        page: Some(page),
        page_size: Some(Pager::PAGE_SIZE),
        operator_code: (!operator.is_empty()).then(|| operator.clone()),
        tag: (!tag.is_empty()).then(|| tag.clone()),
        phone_prefix: (!phone.is_empty()).then(|| phone.clone()),
    }
    .parse();
    let (search, errors) = match parsed {
        Ok(search) => (Some(search), FieldErrors::default()),
        Err(error) => (
            None,
            FieldErrors::from_api(error, |path| match base_field(path) {
                "phone_prefix" => Some("phone"),
                "operator_code" => Some("operator"),
                "tag" => Some("tag"),
                _ => None,
            })?,
        ),
    };
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    };
    let clients = match search {
        Some((filter, paging)) => {
            state
                .run(move |s| s.list_clients(&filter, paging.request()))
                .await?
        }
        None => mailing_domain::store::Page {
            items: vec![],
            total: 0,
        },
    };
    let catalog = Catalog::load(&state).await?;
    view::render(
        status,
        &ListPage {
            layout: Layout::new(&viewer, "clients", "Clients").with_notice("Client", &query),
            pager: Pager::new(
                page,
                clients.total,
                &[("phone", &phone), ("operator", &operator), ("tag", &tag)],
            ),
            operators: catalog.operator_choices(std::slice::from_ref(&operator)),
            tags: catalog.tag_choices(std::slice::from_ref(&tag)),
            phone,
            clients: clients.items,
            errors,
        },
    )
}

/// What the form shows: a stored client, or what was typed.
struct Fields {
    phone_number: String,
    operator_code: String,
    tags: String,
    time_zone: String,
}

impl Fields {
    fn of(client: &Client) -> Self {
        Self {
            phone_number: client.phone.as_str().to_owned(),
            operator_code: client.operator_code.as_str().to_owned(),
            tags: client
                .tags
                .iter()
                .map(|t| t.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            time_zone: client.time_zone.name().to_owned(),
        }
    }

    fn typed(form: &Form) -> Self {
        Self {
            phone_number: form.value("phone_number").trim().to_owned(),
            operator_code: form.value("operator_code").to_owned(),
            tags: form.value("tags").to_owned(),
            time_zone: form.value("time_zone").trim().to_owned(),
        }
    }

    fn input(&self) -> ClientInput {
        ClientInput {
            phone_number: self.phone_number.clone(),
            operator_code: self.operator_code.clone(),
            tags: Some(split_list(&self.tags)),
            time_zone: (!self.time_zone.is_empty()).then(|| self.time_zone.clone()),
        }
    }
}

async fn new(viewer: Viewer, state: web::Data<AppState>) -> Result<HttpResponse, AdminError> {
    let fields = Fields {
        phone_number: String::new(),
        operator_code: String::new(),
        tags: String::new(),
        time_zone: "UTC".to_owned(),
    };
    form_page(&viewer, &state, None, fields, FieldErrors::default()).await
}

async fn edit(
    viewer: Viewer,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, AdminError> {
    let id = ClientId(id.into_inner());
    let client = state.run(move |s| s.get_client(id)).await?;
    form_page(
        &viewer,
        &state,
        Some(id),
        Fields::of(&client),
        FieldErrors::default(),
    )
    .await
}

async fn form_page(
    viewer: &Viewer,
    state: &AppState,
    id: Option<ClientId>,
    fields: Fields,
    errors: FieldErrors,
) -> Result<HttpResponse, AdminError> {
    let catalog = Catalog::load(state).await?;
    let (title, action) = match id {
        Some(id) => ("Edit client", format!("/admin/clients/{}", id.0)),
        None => ("New client", "/admin/clients".to_owned()),
    };
    let status = errors.status();
    view::render(
        status,
        &FormPage {
            layout: Layout::new(viewer, "clients", title),
            action,
            operators: catalog.operator_choices(std::slice::from_ref(&fields.operator_code)),
            phone_number: fields.phone_number,
            tags: fields.tags,
            time_zone: fields.time_zone,
            zones: &chrono_tz::TZ_VARIANTS,
            errors,
        },
    )
}

fn form_field(path: &str) -> Option<&'static str> {
    match base_field(path) {
        "phone_number" => Some("phone_number"),
        "operator_code" => Some("operator_code"),
        "tags" => Some("tags"),
        "time_zone" => Some("time_zone"),
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
    save(viewer, state, Some(ClientId(id.into_inner())), body).await
}

async fn save(
    viewer: Viewer,
    state: web::Data<AppState>,
    id: Option<ClientId>,
    body: web::Bytes,
) -> Result<HttpResponse, AdminError> {
    let form = viewer.verify_csrf_token(&body)?;
    let fields = Fields::typed(&form);
    let saved = match id {
        Some(id) => clients::replace(&state, id, fields.input()).await,
        None => clients::create(&state, fields.input()).await,
    };
    match saved {
        Ok(client) => {
            tracing::info!(client_id = client.id.0, username = %viewer.username, "client saved in the admin UI");
            Ok(view::see_other("/admin/clients", "saved"))
        }
        Err(error) => {
            let errors = FieldErrors::from_api(error, form_field)?;
            form_page(&viewer, &state, id, fields, errors).await
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
    let id = ClientId(id.into_inner());
    clients::delete(&state, id).await?;
    tracing::info!(client_id = id.0, username = %viewer.username, "client deleted in the admin UI");
    Ok(view::see_other("/admin/clients", "deleted"))
}
