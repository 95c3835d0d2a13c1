//! What a kind of record brings to the pages every record shares: its types, its fields and
//! names, its form, and the operations that read and write it. The flow itself (`flow`), the
//! list table (`table`) and the calls to the operations (`resource`) are written once, beside
//! this.

mod flow;
mod frame;
mod resource;
mod table;

pub use flow::routes;
pub use frame::{FormFrame, FormParts, ListFrame};
pub use resource::{Operations, Resource};
pub use table::{Cell, Column, Listing, RecordTable, Row, Table};

use super::error::AdminError;
use super::field_errors::{Labels, base_field};
use super::form::Form;
use super::session::Viewer;
use crate::error::ApiError;
use crate::state::AppState;
use actix_web::HttpResponse;
use serde::de::DeserializeOwned;
use std::fmt::Display;

/// One kind of record's pages, implemented by the fields of its form.
pub trait RecordPages: Sized + 'static {
    type Id: Copy + Display + DeserializeOwned + 'static;
    /// The record as stored, which fills the form and which the operations answer with.
    type Stored;
    /// What the operations take to create or replace the record: every field.
    type Input;
    /// The form's fields by the names the API gives them, so that a problem the API finds with
    /// one is shown beside it.
    const FIELDS: &'static [&'static str];
    /// The form's labels where they are not the field's name in words, so that its problems
    /// are told in the form's words: `("client_filter_id", "Saved client filter")`.
    const LABELS: Labels = &[];
    /// Its name in notices, titles and logs, in lower case: "client filter".
    const NOUN: &'static str;
    /// Its part of the UI, which names its paths and its navigation entry: `client-filters`.
    /// Its list is titled by it: "Client filters".
    const SECTION: &'static str;

    /// The form as submitted.
    fn submitted(form: &Form) -> Self;
    /// The form filled from the stored record.
    fn stored(viewer: &Viewer, stored: &Self::Stored) -> Self;
    /// The form for a new record: an empty one, unless the kind fills some fields in.
    fn blank(_viewer: &Viewer) -> Self {
        Self::submitted(&Form::default())
    }
    /// The operations' input, read from the form; `stored` is the record being edited.
    fn input(
        &self,
        viewer: &Viewer,
        stored: Option<&Self::Stored>,
    ) -> Result<Self::Input, ApiError>;
    /// The form field an API field path concerns; `None` puts its problem above the form.
    fn form_field(path: &str) -> Option<&'static str> {
        field_of(Self::FIELDS, path)
    }
    /// The title of the form: "New operator", "Edit operator".
    fn form_title(id: Option<Self::Id>) -> String {
        match id {
            Some(_) => format!("Edit {}", Self::NOUN),
            None => format!("New {}", Self::NOUN),
        }
    }
    /// The form, in the frame the shared flow made for it.
    async fn form_page(self, frame: FormFrame<'_, Self>) -> Result<HttpResponse, AdminError>;
    /// Where a saved record is shown: its list, unless it has a page of its own.
    fn saved_location(_id: Self::Id) -> String {
        list_location::<Self>()
    }
    /// The operations that read and write the record: `operators::get`, `operators::create`, …
    fn operations() -> impl Resource<Self>;
    /// The stored record's id, which a new record learns from the operations.
    fn id(stored: &Self::Stored) -> Self::Id;
}

/// How a kind's list is shown: a [`RecordTable`]'s rows, or a page of the kind's own.
pub trait ListPage {
    async fn list_page(
        viewer: &Viewer,
        state: &AppState,
        frame: ListFrame,
    ) -> Result<HttpResponse, AdminError>;
}

/// The one of `fields` an API field path concerns (`tags[2]` concerns `tags`).
pub fn field_of(fields: &[&'static str], path: &str) -> Option<&'static str> {
    let field = base_field(path);
    fields.iter().copied().find(|name| *name == field)
}

pub fn list_location<R: RecordPages>() -> String {
    format!("/admin/{}", R::SECTION)
}
