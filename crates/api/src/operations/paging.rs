//! Which page of a list to return: `page` (from 1) and `page_size` (1 to 500, default 50),
//! checked the same for every list.

use crate::error::ApiError;
use crate::operations::input::{QueryValue, whole_number};
use crate::operations::problems::Problems;
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
    pub page: Option<QueryValue<u32>>,
    /// Items per page, 1 to 500 (default 50).
    pub page_size: Option<QueryValue<u32>>,
}

impl ListQuery {
    pub fn paging(&self) -> Result<Paging, ApiError> {
        let mut problems = Problems::default();
        let paging = Paging::read(self.page.as_ref(), self.page_size.as_ref(), &mut problems);
        problems.finish_query(|| paging.expect("checked"))
    }
}

/// The page asked for, checked.
#[derive(Debug, Clone, Copy)]
pub struct Paging {
    pub page: u32,
    pub page_size: u32,
}

impl Paging {
    /// The page asked for; a value out of range or not a number is recorded.
    pub fn read(
        page: Option<&QueryValue<u32>>,
        page_size: Option<&QueryValue<u32>>,
        problems: &mut Problems,
    ) -> Option<Self> {
        let page = match page {
            Some(raw) => whole_number("page", raw.raw(), 1, MAX_PAGE, problems),
            None => Some(1),
        };
        let page_size = match page_size {
            Some(raw) => whole_number("page_size", raw.raw(), 1, MAX_PAGE_SIZE, problems),
            None => Some(DEFAULT_PAGE_SIZE),
        };
        Some(Self {
            page: page?,
            page_size: page_size?,
        })
    }

    pub fn request(&self) -> PageRequest {
        PageRequest {
            offset: u64::from(self.page - 1) * u64::from(self.page_size),
            limit: self.page_size,
        }
    }
}
