//! The stylesheet and script, compiled into the binary so a deployment is one file.

use actix_web::http::header;
use actix_web::{HttpResponse, web};

const STYLESHEET: &str = include_str!("../../assets/admin.css");
const SCRIPT: &str = include_str!("../../assets/admin.js");

pub async fn serve(name: web::Path<String>) -> HttpResponse {
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
