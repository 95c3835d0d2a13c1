//! Pagination shared by every list: `page` (from 1) and `page_size` (1 to 500, default 50).

use crate::error::{ApiError, FieldError};
use mailing_domain::store::PageRequest;

pub const DEFAULT_PAGE_SIZE: u32 = 50;
pub const MAX_PAGE_SIZE: u32 = 500;
/// Pages are numbered in a `u32`.
pub const MAX_PAGE: u32 = u32::MAX;

/// The page asked for, checked.
#[derive(Debug, Clone, Copy)]
pub struct Paging {
    pub page: u32,
    pub page_size: u32,
}

impl Paging {
    pub fn parse(page: Option<u32>, page_size: Option<u32>) -> Result<Self, ApiError> {
        let page = page.unwrap_or(1);
        let page_size = page_size.unwrap_or(DEFAULT_PAGE_SIZE);
        let mut details = vec![];
        if page == 0 {
            details.push(FieldError::new(
                "page",
                "out_of_range",
                "must be at least 1",
            ));
        }
        if !(1..=MAX_PAGE_SIZE).contains(&page_size) {
            details.push(FieldError::new(
                "page_size",
                "out_of_range",
                format!("must be 1 to {MAX_PAGE_SIZE}"),
            ));
        }
        if details.is_empty() {
            Ok(Self { page, page_size })
        } else {
            Err(query_error(details))
        }
    }

    pub fn request(&self) -> PageRequest {
        PageRequest {
            offset: u64::from(self.page - 1) * u64::from(self.page_size),
            limit: self.page_size,
        }
    }
}

/// A 400 for query parameters that parsed but make no sense.
pub fn query_error(details: Vec<FieldError>) -> ApiError {
    ApiError::BadRequest {
        code: "invalid_query",
        message: "the query string has invalid parameters; see details".to_owned(),
        details,
    }
}

/// Declares a page type for one kind of item (paperclip documents concrete types best).
macro_rules! page_of {
    ($(#[$doc:meta])* $name:ident, $item:ty) => {
        $(#[$doc])*
        #[derive(serde::Serialize, paperclip::actix::Apiv2Schema)]
        pub struct $name {
            pub items: Vec<$item>,
            /// The page returned, from 1.
            pub page: u32,
            pub page_size: u32,
            /// Items in the whole list, over all pages.
            pub total: u64,
        }

        impl $name {
            pub fn new(
                page: mailing_domain::store::Page<impl Into<$item>>,
                paging: crate::routes::paging::Paging,
            ) -> Self {
                Self {
                    items: page.items.into_iter().map(Into::into).collect(),
                    page: paging.page,
                    page_size: paging.page_size,
                    total: page.total,
                }
            }
        }
    };
}
pub(crate) use page_of;
