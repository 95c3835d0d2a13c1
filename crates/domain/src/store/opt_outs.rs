//! The numbers that opted out and the replies that opt them out or back in.

use super::{Page, PageRequest, StoreResult};
use crate::client::PhoneNumber;
use crate::opt_out::{
    InboundMessage, InboundRecorded, NewInboundMessage, NewOptOut, OptOut, OptOutAdded, OptOutQuery,
};

pub trait OptOutStore {
    /// Opts a number out and, in the same transaction, suppresses its messages waiting for an
    /// attempt (`scheduled` or `retrying`, saying [`crate::opt_out::SUPPRESSED_REASON`]); a
    /// message a sender holds (`queued`) is suppressed by the sender right before its attempt.
    /// A number that opted out already keeps its first entry, which is answered with
    /// `created: false` (its waiting messages are suppressed all the same).
    fn add_opt_out(&self, new: &NewOptOut) -> StoreResult<OptOutAdded>;
    /// The number's opt-out; [`super::StoreError::NotFound`] if it has none.
    fn get_opt_out(&self, phone: &PhoneNumber) -> StoreResult<OptOut>;
    /// Newest first.
    fn list_opt_outs(&self, query: &OptOutQuery, page: PageRequest) -> StoreResult<Page<OptOut>>;
    /// Opts the number back in; [`super::StoreError::NotFound`] if it had not opted out.
    /// Messages suppressed meanwhile stay suppressed.
    fn remove_opt_out(&self, phone: &PhoneNumber) -> StoreResult<()>;
    /// Keeps a reply and, in the same transaction, does what its action says: opts the number
    /// out (source `inbound`, as [`OptOutStore::add_opt_out`]) or back in.
    fn record_inbound(&self, new: &NewInboundMessage) -> StoreResult<InboundRecorded>;
    /// Replies, newest first, of one number if `phone` is given.
    fn list_inbound(
        &self,
        phone: Option<&PhoneNumber>,
        page: PageRequest,
    ) -> StoreResult<Page<InboundMessage>>;
}
