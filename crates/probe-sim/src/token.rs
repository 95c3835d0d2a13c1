//! Bearer tokens as the real provider issued them: HS256 JWTs with the claims `exp`, `iss` and
//! `name`. The simulator checks the signature and the expiry, nothing else, as the provider did.

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

/// Issuer written into minted tokens; not checked on the way in.
pub const ISSUER: &str = "probe-sim";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub exp: i64,
    pub iss: String,
    pub name: String,
}

/// A token for `name`, signed with `secret` and valid for `ttl_seconds` from `now` (Unix
/// seconds). A negative `ttl_seconds` gives an already expired token, which tests need.
pub fn mint(
    secret: &[u8],
    name: &str,
    now: i64,
    ttl_seconds: i64,
) -> Result<String, jsonwebtoken::errors::Error> {
    let claims = Claims {
        exp: now.saturating_add(ttl_seconds),
        iss: ISSUER.to_owned(),
        name: name.to_owned(),
    };
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(secret),
    )
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    #[error("no Authorization header")]
    Missing,
    #[error("the Authorization header is not \"Bearer <token>\"")]
    NotBearer,
    #[error("the token has expired")]
    Expired,
    #[error("the token is not valid")]
    Invalid,
}

/// Checks bearer tokens against one secret.
#[derive(Clone)]
pub struct Verifier {
    key: DecodingKey,
    validation: Validation,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Verifier { .. }")
    }
}

impl Verifier {
    pub fn new(secret: &[u8]) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_required_spec_claims(&["exp"]);
        // An expired token is refused at once, so tests can rely on a just-expired one.
        validation.leeway = 0;
        Self {
            key: DecodingKey::from_secret(secret),
            validation,
        }
    }

    /// Checks the value of an `Authorization` header, if there was one.
    pub fn check_header(&self, header: Option<&[u8]>) -> Result<(), Rejection> {
        let header = header.ok_or(Rejection::Missing)?;
        let token = std::str::from_utf8(header)
            .ok()
            .and_then(|value| {
                let (scheme, token) = value.split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
            })
            .ok_or(Rejection::NotBearer)?;
        // Only the checks matter; the claims' values are not used.
        jsonwebtoken::decode::<serde::de::IgnoredAny>(token, &self.key, &self.validation)
            .map(|_| ())
            .map_err(|error| match error.kind() {
                ErrorKind::ExpiredSignature => Rejection::Expired,
                _ => Rejection::Invalid,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"test-secret";

    fn now() -> i64 {
        chrono::Utc::now().timestamp()
    }

    fn bearer(token: &str) -> Vec<u8> {
        format!("Bearer {token}").into_bytes()
    }

    #[test]
    fn minted_tokens_pass() {
        let token = mint(SECRET, "mailing", now(), 60).unwrap();
        let verifier = Verifier::new(SECRET);
        assert_eq!(verifier.check_header(Some(&bearer(&token))), Ok(()));
        let lower = format!("bearer {token}").into_bytes();
        assert_eq!(verifier.check_header(Some(&lower)), Ok(()));
    }

    #[test]
    fn bad_tokens_are_told_apart() {
        let verifier = Verifier::new(SECRET);
        assert_eq!(verifier.check_header(None), Err(Rejection::Missing));
        let token = mint(SECRET, "mailing", now(), 60).unwrap();
        assert_eq!(
            verifier.check_header(Some(token.as_bytes())),
            Err(Rejection::NotBearer)
        );
        let expired = mint(SECRET, "mailing", now(), -5).unwrap();
        assert_eq!(
            verifier.check_header(Some(&bearer(&expired))),
            Err(Rejection::Expired)
        );
        let foreign = mint(b"another-secret", "mailing", now(), 60).unwrap();
        assert_eq!(
            verifier.check_header(Some(&bearer(&foreign))),
            Err(Rejection::Invalid)
        );
        assert_eq!(
            verifier.check_header(Some(b"Bearer not.a.token")),
            Err(Rejection::Invalid)
        );
    }

    #[test]
    fn a_token_without_expiry_is_refused() {
        #[derive(Serialize)]
        struct NoExpiry {
            iss: &'static str,
            name: &'static str,
        }
        let token = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &NoExpiry {
                iss: ISSUER,
                name: "mailing",
            },
            &EncodingKey::from_secret(SECRET),
        )
        .unwrap();
        assert_eq!(
            Verifier::new(SECRET).check_header(Some(&bearer(&token))),
            Err(Rejection::Invalid)
        );
    }
}
