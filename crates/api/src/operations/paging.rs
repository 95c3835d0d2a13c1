//! Which page of a list to return: `page` (from 1) and `page_size` (1 to 500, default 50),
//! checked the same for every list.

use crate::error::{ApiError, FieldError};
use mailing_domain::store::PageRequest;
use paperclip::actix::Apiv2Schema;
use serde::Deserialize;

pub const DEFAULT_PAGE_SIZE: u32 = 50;
pub const MAX_PAGE_SIZE: u32 = 500;
/// Pages are numbered in a `u32`.
pub const MAX_PAGE: u32 = u32::MAX;

/// The query of a list that has no filters of its own.
#[derive(Deserialize, Apiv2Schema)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Page number, from 1.
    pub page: Option<u32>,
    /// Items per page, 1 to 500 (default 50).
    pub page_size: Option<u32>,
}

impl ListQuery {
    pub fn paging(&self) -> Result<Paging, ApiError> {
        Paging::parse(self.page, self.page_size)
    }
}

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
            Err(ApiError::invalid_query(details))
        }
    }

    pub fn request(&self) -> PageRequest {
        PageRequest {
            offset: u64::from(self.page - 1) * u64::from(self.page_size),
            limit: self.page_size,
        }
    }
}
