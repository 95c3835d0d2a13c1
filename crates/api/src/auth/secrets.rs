//! Random secrets and what the database keeps of them, for every kind the service makes:
//! session and CSRF tokens, access token ids, sign-in states and API keys.

use sha2::{Digest, Sha256};

/// `N` random bytes in hex: `N * 8` bits of secret.
pub fn random_hex<const N: usize>() -> String {
    hex(&rand::random::<[u8; N]>())
}

/// The hex SHA-256 of a secret, which is all the database keeps of one: a copy of a table
/// opens nothing. The secrets hashed are random and long, so a fast hash is as safe as a slow
/// one.
pub fn sha256_hex(secret: &str) -> String {
    hex(&Sha256::digest(secret.as_bytes()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}
