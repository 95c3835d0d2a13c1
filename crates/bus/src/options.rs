use crate::BusError;
use std::time::Duration;

/// Names that exchanges and queues may carry; RabbitMQ allows at most 255 bytes and the
/// longest suffix we add is 16.
const MAX_NAMESPACE_LEN: usize = 200;

/// How to connect, beyond the URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BusOptions {
    /// Prefix of every exchange and queue name, so several deployments (or parallel tests) can
    /// share one broker. Letters, digits, `.`, `-` and `_`.
    pub namespace: String,
    /// How long [`crate::connect`] keeps trying before it gives up.
    pub connect_timeout: Duration,
    /// Shown as the connection's name in the broker's tools, e.g. `mailing-sender`.
    pub client_name: String,
}

impl Default for BusOptions {
    fn default() -> Self {
        BusOptions {
            namespace: "mailing".to_owned(),
            connect_timeout: Duration::from_secs(10),
            client_name: "mailing".to_owned(),
        }
    }
}

impl BusOptions {
    /// Refuses a namespace that is no valid name, or a zero timeout.
    pub fn validate(&self) -> Result<(), BusError> {
        let valid_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_');
        if self.namespace.is_empty()
            || self.namespace.len() > MAX_NAMESPACE_LEN
            || !self.namespace.chars().all(valid_char)
        {
            return Err(BusError::InvalidConfig(format!(
                "namespace must be 1 to {MAX_NAMESPACE_LEN} letters, digits, '.', '-' or '_'"
            )));
        }
        if self.connect_timeout.is_zero() {
            return Err(BusError::InvalidConfig(
                "connect timeout must be positive".to_owned(),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_options_are_valid() {
        assert_eq!(BusOptions::default().validate(), Ok(()));
    }

    #[test]
    fn namespaces_are_restricted_to_safe_names() {
        for bad in ["", "has space", "slash/name", "star*", &"x".repeat(201)] {
            let options = BusOptions {
                namespace: bad.to_owned(),
                ..BusOptions::default()
            };
            assert!(
                matches!(options.validate(), Err(BusError::InvalidConfig(_))),
                "{bad:?} was accepted"
            );
        }
        let options = BusOptions {
            namespace: "test-01.a_b".to_owned(),
            ..BusOptions::default()
        };
        assert_eq!(options.validate(), Ok(()));
    }

    #[test]
    fn a_zero_connect_timeout_is_refused() {
        let options = BusOptions {
            connect_timeout: Duration::ZERO,
            ..BusOptions::default()
        };
        assert!(matches!(
            options.validate(),
            Err(BusError::InvalidConfig(_))
        ));
    }
}
