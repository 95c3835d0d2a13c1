//! What a bus URL names: a RabbitMQ broker, or the in-process bus of the process that runs the
//! services. Read once, when settings are loaded, so a malformed URL stops a service at start.

use crate::BusError;

/// A bus URL, understood.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BusAddress {
    /// `amqp://` or `amqps://`: a RabbitMQ broker, shared by separate processes.
    RabbitMq,
    /// `memory://` or `memory://<name>`: an in-process bus, which only services running in one
    /// process share. The name, if any, is a label for logs.
    InProcess { name: Option<String> },
}

/// Longest label of an in-process bus.
const MAX_NAME_LEN: usize = 200;

/// URL schemes a bus URL may have.
pub const SUPPORTED_SCHEMES: [&str; 3] = ["amqp://", "amqps://", "memory://"];

impl BusAddress {
    /// Reads `url`. A RabbitMQ URL is checked in full (host, port, vhost), as a connection
    /// would read it.
    ///
    /// Errors never repeat the URL, which may hold a password.
    pub fn parse(url: &str) -> Result<BusAddress, BusError> {
        let scheme = url.split_once("://").map(|(scheme, _)| scheme);
        match scheme.map(str::to_ascii_lowercase).as_deref() {
            Some("amqp" | "amqps") => {
                crate::rabbitmq::check_url(url)?;
                Ok(BusAddress::RabbitMq)
            }
            Some("memory") => in_process(url),
            _ => Err(unsupported_scheme(scheme)),
        }
    }
}

fn in_process(url: &str) -> Result<BusAddress, BusError> {
    let name = url.split_once("://").map_or("", |(_, name)| name);
    if name.is_empty() {
        return Ok(BusAddress::InProcess { name: None });
    }
    let valid_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_');
    if name.len() > MAX_NAME_LEN || !name.chars().all(valid_char) {
        return Err(BusError::InvalidConfig(format!(
            "an in-process bus URL is memory:// or memory://<name>, the name 1 to \
             {MAX_NAME_LEN} letters, digits, '.', '-' or '_'"
        )));
    }
    Ok(BusAddress::InProcess {
        name: Some(name.to_owned()),
    })
}

fn unsupported_scheme(scheme: Option<&str>) -> BusError {
    // Echoed only when it looks like a scheme: in a mangled URL the part before "://" may
    // hold the credentials.
    let named = scheme
        .filter(|scheme| {
            let scheme_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.');
            !scheme.is_empty() && scheme.len() <= 32 && scheme.chars().all(scheme_char)
        })
        .map(|scheme| format!(" scheme \"{scheme}\""))
        .unwrap_or_default();
    BusError::InvalidConfig(format!(
        "unsupported bus URL{named}: expected one of {}",
        SUPPORTED_SCHEMES.join(", ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_urls_with_or_without_a_name_are_in_process() {
        assert_eq!(
            BusAddress::parse("memory://"),
            Ok(BusAddress::InProcess { name: None })
        );
        assert_eq!(
            BusAddress::parse("MEMORY://Test-01.a_b"),
            Ok(BusAddress::InProcess {
                name: Some("Test-01.a_b".to_owned())
            })
        );
    }

    #[test]
    fn amqp_urls_are_rabbitmq() {
        for url in [
            "amqp://guest:guest@127.0.0.1:5672/%2f",
            "amqps://user:pw@rabbit.example.com/prod",
            "amqp://localhost",
        ] {
            assert_eq!(BusAddress::parse(url), Ok(BusAddress::RabbitMq), "{url}");
        }
    }

    #[test]
    fn anything_else_is_refused_without_being_repeated() {
        for bad in [
            "memory://a/b",
            "memory://a?shared=true",
            "memory://with space",
            "memory://user:Secret-Pw@host",
            "redis://user:Secret-Pw@host",
            "user:Secret-Pw@host",
            "amqp://user:Secret-Pw@",
            "",
            &format!("memory://{}", "x".repeat(201)),
        ] {
            match BusAddress::parse(bad) {
                Err(BusError::InvalidConfig(message)) => {
                    assert!(!message.contains("Secret"), "{message}");
                }
                other => panic!("{bad:?} gave {other:?}"),
            }
        }
    }

    #[test]
    fn an_unsupported_scheme_is_named_when_it_is_one() {
        let Err(BusError::InvalidConfig(message)) = BusAddress::parse("redis://host") else {
            panic!("redis accepted");
        };
        assert!(message.contains("\"redis\""), "{message}");
        assert!(message.contains("memory://"), "{message}");
    }
}
