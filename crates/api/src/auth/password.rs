//! Password hashing with argon2id and a random salt per hash. Callers run these off the async
//! workers: hashing takes tens of milliseconds of CPU on purpose.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};

pub fn hash_password(password: &str) -> Result<String, argon2::password_hash::Error> {
    let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
    Ok(Argon2::default()
        .hash_password(password.as_bytes(), &salt)?
        .to_string())
}

/// Whether `password` matches `stored`; a hash that does not parse matches nothing.
pub fn verify_password(password: &str, stored: &str) -> bool {
    PasswordHash::new(stored).is_ok_and(|hash| {
        Argon2::default()
            .verify_password(password.as_bytes(), &hash)
            .is_ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_only_their_password() {
        let hash = hash_password("12345").unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password("12345", &hash));
        assert!(!verify_password("123456", &hash));
        assert!(!verify_password("12345", "not a hash"));
        assert_ne!(hash, hash_password("12345").unwrap(), "salts differ");
    }
}
