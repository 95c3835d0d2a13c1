//! How a record's pages reach its resource. A kind names the operations that read and write
//! it, the same functions the JSON API calls (`operators::get`, `operators::create`, …);
//! calling them is written once, here.

use super::RecordPages;
use crate::error::ApiError;
use crate::state::AppState;

/// The operations that read one record of a kind, create it, replace it and delete it.
pub struct Operations<Get, Create, Replace, Delete> {
    pub get: Get,
    pub create: Create,
    pub replace: Replace,
    pub delete: Delete,
}

/// What the shared flow asks of a kind's operations.
pub trait Resource<R: RecordPages> {
    async fn get(&self, state: &AppState, id: R::Id) -> Result<R::Stored, ApiError>;
    /// Stores the input: over the record `id` names, or as a new one.
    async fn save(
        &self,
        state: &AppState,
        id: Option<R::Id>,
        input: R::Input,
    ) -> Result<R::Stored, ApiError>;
    async fn delete(&self, state: &AppState, id: R::Id) -> Result<(), ApiError>;
}

impl<R, Get, Create, Replace, Delete> Resource<R> for Operations<Get, Create, Replace, Delete>
where
    R: RecordPages,
    Get: AsyncFn(&AppState, R::Id) -> Result<R::Stored, ApiError>,
    Create: AsyncFn(&AppState, R::Input) -> Result<R::Stored, ApiError>,
    Replace: AsyncFn(&AppState, R::Id, R::Input) -> Result<R::Stored, ApiError>,
    Delete: AsyncFn(&AppState, R::Id) -> Result<(), ApiError>,
{
    async fn get(&self, state: &AppState, id: R::Id) -> Result<R::Stored, ApiError> {
        (self.get)(state, id).await
    }

    async fn save(
        &self,
        state: &AppState,
        id: Option<R::Id>,
        input: R::Input,
    ) -> Result<R::Stored, ApiError> {
        match id {
            Some(id) => (self.replace)(state, id, input).await,
            None => (self.create)(state, input).await,
        }
    }

    async fn delete(&self, state: &AppState, id: R::Id) -> Result<(), ApiError> {
        (self.delete)(state, id).await
    }
}
