//! Reading an AMQP URL without ever repeating its password.

use crate::BusError;
use lapin::uri::AMQPUri;
use url::{Host, Url};

/// The largest AMQP frame we ask the broker for, unless the URL says otherwise.
const FRAME_MAX: u32 = 8 * 1024;

/// A parsed broker URL and what must be scrubbed from any text derived from it.
pub(super) struct BrokerUrl {
    pub(super) uri: AMQPUri,
    secrets: Vec<String>,
}

impl BrokerUrl {
    pub(super) fn parse(raw: &str) -> Result<BrokerUrl, BusError> {
        // `url`'s own errors name the problem, never the input.
        let url = Url::parse(raw)
            .map_err(|error| BusError::InvalidConfig(format!("malformed AMQP URL: {error}")))?;
        let mut secrets: Vec<String> = url
            .password()
            .filter(|password| !password.is_empty())
            .map(|password| vec![password.to_owned()])
            .unwrap_or_default();
        let host = match url.host() {
            Some(host) => host.to_owned(),
            None => {
                return Err(BusError::InvalidConfig(
                    "the AMQP URL has no host".to_owned(),
                ));
            }
        };
        let mut uri: AMQPUri = raw.parse().map_err(|error: String| {
            BusError::InvalidConfig(format!("malformed AMQP URL: {}", scrub(&error, &secrets)))
        })?;
        if url.password().is_some_and(|password| !password.is_empty()) {
            secrets.push(uri.authority.userinfo.password.clone());
        }
        // amq-protocol-uri reads the host with `Url::domain`, which is `None` for an IP
        // address, and then silently falls back to "localhost": `amqp://10.0.0.5` would
        // connect to this machine.
        match host {
            Host::Ipv4(ip) => uri.authority.host = ip.to_string(),
            Host::Ipv6(ip) => uri.authority.host = ip.to_string(),
            Host::Domain(_) => {}
        }
        // lapin keeps a send and a receive buffer of 32 frames each, written through, so the
        // broker's usual 128 KiB frames hold 8 MiB per connection; the services' payloads are
        // a few KiB at most (a send job of 100 ids is about 1 KiB), and a larger one is split
        // into frames. A frame_max in the URL still decides.
        if uri.query.frame_max.is_none() {
            uri.query.frame_max = Some(FRAME_MAX);
        }
        Ok(BrokerUrl { uri, secrets })
    }

    pub(super) fn host(&self) -> &str {
        &self.uri.authority.host
    }

    pub(super) fn port(&self) -> u16 {
        self.uri.authority.port
    }

    /// `error` with every occurrence of the password replaced, for errors whose text came
    /// from somewhere that saw the URL.
    pub(super) fn scrub_error(&self, error: BusError) -> BusError {
        let scrub = |text: String| scrub(&text, &self.secrets);
        match error {
            BusError::InvalidConfig(text) => BusError::InvalidConfig(scrub(text)),
            BusError::Unavailable(text) => BusError::Unavailable(scrub(text)),
            BusError::Protocol(text) => BusError::Protocol(scrub(text)),
            other @ (BusError::Rejected { .. } | BusError::Closed) => other,
        }
    }
}

fn scrub(text: &str, secrets: &[String]) -> String {
    secrets
        .iter()
        .filter(|secret| !secret.is_empty())
        .fold(text.to_owned(), |text, secret| {
            text.replace(secret.as_str(), "***")
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_frames_are_asked_for_unless_the_url_says_otherwise() {
        let url = BrokerUrl::parse("amqp://localhost/%2f").expect("valid");
        assert_eq!(url.uri.query.frame_max, Some(FRAME_MAX));
        let url = BrokerUrl::parse("amqp://localhost/%2f?frame_max=131072").expect("valid");
        assert_eq!(url.uri.query.frame_max, Some(131_072));
    }

    #[test]
    fn ip_hosts_are_kept() {
        let url = BrokerUrl::parse("amqp://user:pw@10.1.2.3:5673/%2f").expect("valid");
        assert_eq!(url.host(), "10.1.2.3");
        assert_eq!(url.port(), 5673);
        let url = BrokerUrl::parse("amqp://user:pw@[::1]/%2f").expect("valid");
        assert_eq!(url.host(), "::1");
        assert_eq!(url.port(), 5672);
    }

    #[test]
    fn domain_hosts_vhost_and_credentials_are_read() {
        let url = BrokerUrl::parse("amqps://mailing:p%40ss@rabbit.internal/prod").expect("valid");
        assert_eq!(url.host(), "rabbit.internal");
        assert_eq!(url.port(), 5671);
        assert_eq!(url.uri.vhost, "prod");
        assert_eq!(url.uri.authority.userinfo.username, "mailing");
        assert_eq!(url.uri.authority.userinfo.password, "p@ss");
    }

    #[test]
    fn malformed_urls_are_refused_without_their_password() {
        for raw in [
            "amqp://user:hunter2secret@host:notaport/",
            "amqp://user:hunter2secret@/",
            "amqp:user:hunter2secret",
            "amqp://user:hunter2secret@host/?heartbeat=often",
            "amqp://user:hunter2secret@host/?auth_mechanism=hunter2secret",
        ] {
            let error = BrokerUrl::parse(raw).err().expect(raw);
            assert!(
                matches!(error, BusError::InvalidConfig(_)),
                "{raw}: {error}"
            );
            assert!(!error.to_string().contains("hunter2"), "{raw}: {error}");
            assert!(
                !format!("{error:?}").contains("hunter2"),
                "{raw}: {error:?}"
            );
        }
    }

    #[test]
    fn scrubbing_covers_the_raw_and_the_decoded_password() {
        let url = BrokerUrl::parse("amqp://u:s%23cret@host/").expect("valid");
        let error = url.scrub_error(BusError::Protocol("s#cret and s%23cret".to_owned()));
        assert_eq!(error, BusError::Protocol("*** and ***".to_owned()));
    }
}
