//! Access tokens: HS256 JWTs with an expiry and an id, by which the database knows whether
//! the token was revoked (see `AccessTokenStore`).

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, errors::ErrorKind};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use std::time::Duration;

const ISSUER: &str = "mailing-api";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub iss: String,
    pub iat: i64,
    pub exp: i64,
    /// The token's id: 128 random bits in hex.
    pub jti: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("token expired")]
    Expired,
    #[error("token invalid")]
    Invalid,
}

/// Issues and checks access tokens with one secret.
pub struct Tokens {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    ttl: Duration,
}

impl Tokens {
    pub fn new(secret: &SecretString, ttl: Duration) -> Self {
        let bytes = secret.expose_secret().as_bytes();
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[ISSUER]);
        validation.set_required_spec_claims(&["exp", "iss", "sub", "jti"]);
        // Expiry is exact: the API says how long a token lives and keeps to it.
        validation.leeway = 0;
        Self {
            encoding: EncodingKey::from_secret(bytes),
            decoding: DecodingKey::from_secret(bytes),
            validation,
            ttl,
        }
    }

    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// A token for `username`, valid for the configured time from `now` (Unix seconds), with
    /// its claims (their `jti` is the id to store).
    pub fn issue(
        &self,
        username: &str,
        now: i64,
    ) -> Result<(String, Claims), jsonwebtoken::errors::Error> {
        let claims = Claims {
            sub: username.to_owned(),
            iss: ISSUER.to_owned(),
            iat: now,
            exp: now + i64::try_from(self.ttl.as_secs()).unwrap_or(i64::MAX / 2),
            jti: super::secrets::random_hex::<16>(),
        };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)?;
        Ok((token, claims))
    }

    pub fn verify(&self, token: &str) -> Result<Claims, TokenError> {
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map(|data| data.claims)
            .map_err(|error| match error.kind() {
                ErrorKind::ExpiredSignature => TokenError::Expired,
                _ => TokenError::Invalid,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(secret: &str) -> Tokens {
        Tokens::new(&SecretString::from(secret), Duration::from_secs(60))
    }

    fn now() -> i64 {
        chrono::Utc::now().timestamp()
    }

    #[test]
    fn issued_tokens_verify() {
        let t = tokens("0123456789abcdef0123456789abcdef");
        let (token, issued) = t.issue("admin", now()).unwrap();
        let claims = t.verify(&token).unwrap();
        assert_eq!(claims, issued);
        assert_eq!(claims.sub, "admin");
        assert_eq!(claims.exp - claims.iat, 60);
        assert_eq!(claims.jti.len(), 32);
        assert_ne!(t.issue("admin", now()).unwrap().1.jti, claims.jti);
    }

    #[test]
    fn expired_and_foreign_tokens_fail() {
        let t = tokens("0123456789abcdef0123456789abcdef");
        let (old, _) = t.issue("admin", now() - 120).unwrap();
        assert_eq!(t.verify(&old), Err(TokenError::Expired));
        let other = tokens("another-secret-another-secret-0000");
        assert_eq!(
            t.verify(&other.issue("admin", now()).unwrap().0),
            Err(TokenError::Invalid)
        );
        assert_eq!(t.verify("not.a.token"), Err(TokenError::Invalid));
    }
}
