/// Why a bus operation did not succeed. Messages never contain credentials.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BusError {
    /// The URL or the options are unusable; retrying will not help.
    #[error("invalid bus configuration: {0}")]
    InvalidConfig(String),
    /// The broker cannot be reached, or the connection broke while the operation was under
    /// way. Worth retrying: the bus reconnects by itself.
    #[error("message bus unavailable: {0}")]
    Unavailable(String),
    /// The broker refused to take some of the published messages (a negative confirm, or no
    /// queue to route them to). Worth retrying.
    #[error("the broker refused {refused} of {total} published messages")]
    Rejected { refused: usize, total: usize },
    /// [`crate::Bus::close`] was called.
    #[error("the message bus is closed")]
    Closed,
    /// The broker refused an operation (access refused, a topology that differs from ours,
    /// a subscription cancelled because its queue was deleted, ...).
    #[error("message bus protocol error: {0}")]
    Protocol(String),
}

impl BusError {
    /// Whether the same call may succeed later without anyone changing anything.
    pub fn is_transient(&self) -> bool {
        matches!(self, BusError::Unavailable(_) | BusError::Rejected { .. })
    }
}
