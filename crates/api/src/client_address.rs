//! Who the client is: the address login throttling keys on, request logs name and the admin
//! UI uses. Computed here only, once per request (see [`observe`](crate::observe)).
//!
//! The connection's peer is the client unless it is one of the trusted proxies
//! (`MAILING_TRUSTED_PROXIES`). Then `X-Forwarded-For` is read from the right, each trusted
//! proxy having appended the address it received the request from, and the client is the
//! first address that is not a trusted proxy: entries to its left were written by the client
//! itself and prove nothing. If every entry is a trusted proxy, the leftmost is the client. An
//! entry that is not an address (`unknown`, garbage) ends the walk, and the client is the last
//! address read before it: the trusted proxy that passed it on, never a value a client could
//! have chosen. The `Forwarded` header (RFC 7239) is not read: proxies that set only it are
//! not believed, and the peer is the client.

use actix_web::dev::Payload;
use actix_web::http::header::HeaderMap;
use actix_web::{FromRequest, HttpMessage as _, HttpRequest, web};
use ipnet::IpNet;
use std::fmt;
use std::net::{IpAddr, SocketAddr};

/// The proxies whose `X-Forwarded-For` is believed, as app data.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    pub fn new(proxies: Vec<IpNet>) -> Self {
        Self(proxies)
    }

    fn contains(&self, address: IpAddr) -> bool {
        self.0.iter().any(|net| net.contains(&address))
    }
}

/// The client's address, or `unknown` when the connection has no peer address (a Unix socket
/// or a test request). Handlers take it as an argument; it never fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddress(pub Option<IpAddr>);

impl fmt::Display for ClientAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(address) => address.fmt(f),
            None => f.write_str("unknown"),
        }
    }
}

impl ClientAddress {
    /// The request's client: as computed for it already, or now.
    pub fn of(request: &HttpRequest) -> Self {
        if let Some(known) = request.extensions().get::<ClientAddress>() {
            return *known;
        }
        let trusted = request.app_data::<web::Data<TrustedProxies>>();
        let client = client_of(
            request.peer_addr().map(|peer| peer.ip()),
            request.headers(),
            trusted.map_or(&TrustedProxies::default(), |data| data.get_ref()),
        );
        request.extensions_mut().insert(client);
        client
    }
}

impl FromRequest for ClientAddress {
    type Error = std::convert::Infallible;
    type Future = std::future::Ready<Result<Self, Self::Error>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(Ok(ClientAddress::of(request)))
    }
}

/// The client of a request from `peer` carrying `headers`.
fn client_of(peer: Option<IpAddr>, headers: &HeaderMap, trusted: &TrustedProxies) -> ClientAddress {
    let Some(peer) = peer.map(|peer| peer.to_canonical()) else {
        return ClientAddress(None);
    };
    if !trusted.contains(peer) {
        return ClientAddress(Some(peer));
    }
    // Several X-Forwarded-For lines are one list, in order (RFC 9110, 5.3). A value that is
    // not text cannot be read from the right, so it is as good as garbage at its end.
    let mut entries = Vec::new();
    for value in headers.get_all("x-forwarded-for") {
        match value.to_str() {
            Ok(text) => entries.extend(text.split(',').map(str::trim)),
            Err(_) => entries.push(""),
        }
    }
    ClientAddress(Some(walk(peer, &entries, trusted)))
}

/// Reads `entries` (X-Forwarded-For, left to right) from the right, starting at the trusted
/// `peer`, as the module documentation says.
fn walk(peer: IpAddr, entries: &[&str], trusted: &TrustedProxies) -> IpAddr {
    let mut client = peer;
    for entry in entries.iter().rev() {
        let Some(address) = parse_entry(entry) else {
            return client;
        };
        client = address;
        if !trusted.contains(address) {
            return address;
        }
    }
    client
}

/// An address as proxies write it in X-Forwarded-For: bare, or with a port (`1.2.3.4:5`,
/// `[::1]:5`), which some add.
fn parse_entry(entry: &str) -> Option<IpAddr> {
    entry
        .parse::<IpAddr>()
        .or_else(|_| entry.parse::<SocketAddr>().map(|socket| socket.ip()))
        .ok()
        .map(|address| address.to_canonical())
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::header::{HeaderName, HeaderValue};

    fn trusted(list: &[&str]) -> TrustedProxies {
        TrustedProxies::new(list.iter().map(|net| net.parse().unwrap()).collect())
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn client(peer: &str, forwarded: &[&str], proxies: &[&str]) -> String {
        let mut headers = HeaderMap::new();
        for value in forwarded {
            headers.append(
                HeaderName::from_static("x-forwarded-for"),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        client_of(Some(ip(peer)), &headers, &trusted(proxies)).to_string()
    }

    #[test]
    fn without_trusted_proxies_the_peer_is_the_client_whatever_the_header_says() {
        assert_eq!(client("203.0.113.9", &["198.51.100.1"], &[]), "203.0.113.9");
        assert_eq!(
            client("10.0.0.2", &["198.51.100.1, 10.0.0.3"], &["10.0.0.3/32"]),
            "10.0.0.2",
            "the peer itself is not trusted"
        );
    }

    #[test]
    fn behind_a_trusted_proxy_the_rightmost_untrusted_entry_is_the_client() {
        let proxies = ["10.0.0.0/8"];
        assert_eq!(
            client("10.0.0.2", &["198.51.100.7"], &proxies),
            "198.51.100.7"
        );
        // The leftmost entry is whatever the client sent: it does not change the key.
        assert_eq!(
            client("10.0.0.2", &["1.1.1.1, 198.51.100.7"], &proxies),
            "198.51.100.7"
        );
        assert_eq!(
            client("10.0.0.2", &["6.6.6.6, 198.51.100.7, 10.1.2.3"], &proxies),
            "198.51.100.7",
            "a chain of trusted proxies is walked through"
        );
        assert_eq!(
            client("10.0.0.2", &["6.6.6.6", "198.51.100.7, 10.1.2.3"], &proxies),
            "198.51.100.7",
            "several header lines are one list"
        );
    }

    #[test]
    fn when_every_entry_is_trusted_the_leftmost_is_the_client() {
        assert_eq!(
            client("10.0.0.2", &["10.9.9.9, 10.1.2.3"], &["10.0.0.0/8"]),
            "10.9.9.9"
        );
        assert_eq!(client("10.0.0.2", &[], &["10.0.0.0/8"]), "10.0.0.2");
    }

    #[test]
    fn an_entry_that_is_not_an_address_ends_the_walk_at_the_proxy_that_passed_it() {
        let proxies = ["10.0.0.0/8"];
        assert_eq!(client("10.0.0.2", &["unknown"], &proxies), "10.0.0.2");
        assert_eq!(
            client("10.0.0.2", &["6.6.6.6, garbage, 10.1.2.3"], &proxies),
            "10.1.2.3"
        );
        assert_eq!(client("10.0.0.2", &[""], &proxies), "10.0.0.2");
        // An untrusted address to the right of garbage ends the walk first.
        assert_eq!(
            client("10.0.0.2", &["garbage, 198.51.100.7"], &proxies),
            "198.51.100.7"
        );
    }

    #[test]
    fn ports_and_mapped_addresses_are_read_as_the_address() {
        let proxies = ["10.0.0.0/8", "::1/128"];
        assert_eq!(
            client("10.0.0.2", &["198.51.100.7:4711"], &proxies),
            "198.51.100.7"
        );
        assert_eq!(
            client("::1", &["[2001:db8::17]:4711"], &proxies),
            "2001:db8::17"
        );
        assert_eq!(
            client("::ffff:10.0.0.2", &["::ffff:198.51.100.7"], &proxies),
            "198.51.100.7",
            "an IPv4 peer on an IPv6 socket is trusted as its IPv4 address"
        );
    }

    #[test]
    fn no_peer_is_unknown() {
        let headers = HeaderMap::new();
        assert_eq!(
            client_of(None, &headers, &trusted(&["0.0.0.0/0"])).to_string(),
            "unknown"
        );
    }
}
