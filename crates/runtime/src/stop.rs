//! One stop signal for everything a process runs: the signal (SIGTERM from Kubernetes or
//! docker, Ctrl-C in a terminal) or a test asks once, and every service sees it.

use tokio::sync::watch;

/// Asks the services holding the matching [`Stop`] to stop.
#[derive(Debug, Clone)]
pub struct Stopper(watch::Sender<bool>);

/// What a service watches to know when to stop. Cloning it watches the same signal.
#[derive(Debug, Clone)]
pub struct Stop(watch::Receiver<bool>);

/// A new signal, not yet given.
pub fn channel() -> (Stopper, Stop) {
    let (sender, receiver) = watch::channel(false);
    (Stopper(sender), Stop(receiver))
}

impl Stopper {
    /// Asks every holder to stop; asking twice changes nothing.
    pub fn stop(&self) {
        self.0.send_replace(true);
    }

    /// Stops when the process gets SIGTERM or Ctrl-C. Call it inside a tokio runtime.
    pub fn on_signal(&self) {
        let stopper = self.clone();
        tokio::spawn(async move {
            signal().await;
            tracing::info!("stop requested");
            stopper.stop();
        });
    }
}

impl Stop {
    /// Resolves once the stop is asked (at once if it was already).
    pub async fn requested(&mut self) {
        // An error means every Stopper is gone: nobody can ask any more, which counts as asked.
        let _ = self.0.wait_for(|stopped| *stopped).await;
    }

    /// Whether the stop was asked.
    pub fn is_requested(&self) -> bool {
        *self.0.borrow()
    }
}

/// Resolves when the process is asked to stop.
async fn signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut stream) => {
                stream.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn every_holder_sees_the_stop() {
        let (stopper, stop) = channel();
        let mut first = stop.clone();
        let mut second = stop;
        assert!(!first.is_requested());
        stopper.stop();
        first.requested().await;
        second.requested().await;
        assert!(second.is_requested());
    }
}
