//! The JSON shape of one page of a list: its items, where it stands and how many there are.

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
                paging: crate::operations::paging::Paging,
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
