//! The signature of a forwarded reply: `X-Signature: sha256=<hex>`, the HMAC-SHA256 of the raw
//! request body keyed with the shared secret. The api checks it; the probe simulator and the
//! tests make it.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The header that carries the signature.
pub const HEADER: &str = "X-Signature";

/// What the header's value starts with.
const SCHEME: &str = "sha256=";

/// The header value signing `body` with `secret`.
pub fn sign(secret: &[u8], body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes keys of any length");
    mac.update(body);
    format!("{SCHEME}{}", hex::encode(mac.finalize().into_bytes()))
}

/// Whether `header` signs `body` with `secret`. The comparison takes as long whatever the
/// header holds, so a forger learns nothing from timing; the hex digits may be in either case.
pub fn verify(secret: &[u8], body: &[u8], header: &str) -> bool {
    let Some(digits) = header.trim().strip_prefix(SCHEME) else {
        return false;
    };
    let Ok(given) = hex::decode(digits) else {
        return false;
    };
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes keys of any length");
    mac.update(body);
    mac.verify_slice(&given).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_matches_openssl_and_only_its_own_body_and_secret() {
        // printf '%s' '{"from":"79001234567","text":"STOP"}' \
        //   | openssl dgst -sha256 -hmac 'secret'
        let body = br#"{"from":"79001234567","text":"STOP"}"#;
        let signed = sign(b"secret", body);
        assert_eq!(
            signed,
            "sha256=c06c46b75466f63582b0b4c1697f519cde8c2ad1e0b2c5d80c8a0d509a2cef65"
        );
        assert!(verify(b"secret", body, &signed));
        assert!(verify(
            b"secret",
            body,
            &signed.to_uppercase().replace("SHA256=", "sha256=")
        ));
        assert!(!verify(b"other", body, &signed));
        assert!(!verify(b"secret", b"{}", &signed));
        assert!(!verify(b"secret", body, &signed[7..]));
        assert!(!verify(b"secret", body, "sha256=zz"));
        assert!(!verify(b"secret", body, ""));
    }
}
