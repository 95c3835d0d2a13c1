//! Whether a bus is still open, in a form both adapters' subscriptions can wait on.

/// Whether the bus still wants its connection. Closed once, never reopened.
#[derive(Debug)]
pub(crate) struct Gate {
    closed: tokio::sync::watch::Sender<bool>,
}

impl Default for Gate {
    fn default() -> Self {
        Gate {
            closed: tokio::sync::watch::Sender::new(false),
        }
    }
}

impl Gate {
    /// Returns whether this call was the one that closed it.
    pub(crate) fn close(&self) -> bool {
        !self.closed.send_replace(true)
    }

    pub(crate) fn is_closed(&self) -> bool {
        *self.closed.borrow()
    }

    /// Resolves once the gate is closed.
    pub(crate) async fn closed(&self) {
        // The sender lives in `self`, so waiting cannot fail.
        let _ = self.closed.subscribe().wait_for(|closed| *closed).await;
    }
}
