use crate::BusError;
use lapin::ErrorKind;
use lapin::protocol::{AMQPErrorKind, AMQPHardError};

/// Sorts lapin's errors into what a caller can act on: worth retrying, or not.
pub(super) fn from_lapin(error: &lapin::Error) -> BusError {
    match error.kind() {
        // An operator (or a broker shutting down) closed the connection: recovery follows.
        ErrorKind::ProtocolError(amqp)
            if matches!(
                amqp.kind(),
                AMQPErrorKind::Hard(AMQPHardError::CONNECTIONFORCED)
            ) =>
        {
            BusError::Unavailable(amqp.to_string())
        }
        ErrorKind::ProtocolError(amqp) => BusError::Protocol(amqp.to_string()),
        ErrorKind::InvalidProtocolVersion(_)
        | ErrorKind::ChannelsLimitReached
        | ErrorKind::AuthProviderError(_) => BusError::Protocol(error.to_string()),
        _ => BusError::Unavailable(error.to_string()),
    }
}
