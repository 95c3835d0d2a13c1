//! The form of an integrator's API key: `mlk_` and 40 random characters. The prefix makes a
//! leaked key recognisable to secret scanners and to people; the first 12 characters name it
//! in lists and logs. It is stored only as its SHA-256: a key is 238 random bits, so a fast
//! hash is as safe as a slow one and keeps every request cheap.

use rand::Rng as _;

pub const KEY_PREFIX: &str = "mlk_";
const RANDOM_CHARACTERS: usize = 40;
/// How much of a key lists show.
const SHOWN: usize = 12;
const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// A new key, shown once.
pub struct NewKey {
    pub secret: String,
}

impl NewKey {
    pub fn generate() -> Self {
        let mut rng = rand::rng();
        let random: String = (0..RANDOM_CHARACTERS)
            .map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())]))
            .collect();
        Self {
            secret: format!("{KEY_PREFIX}{random}"),
        }
    }

    /// What lists show of it.
    pub fn prefix(&self) -> String {
        self.secret.chars().take(SHOWN).collect()
    }

    pub fn hash(&self) -> String {
        hash_key(&self.secret)
    }
}

/// Whether a bearer credential is an API key rather than an access token.
pub fn is_api_key(credential: &str) -> bool {
    credential.starts_with(KEY_PREFIX)
}

/// What the database keeps of a key.
pub fn hash_key(secret: &str) -> String {
    super::secrets::sha256_hex(secret)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_recognisable_unique_and_stored_as_hashes() {
        let (a, b) = (NewKey::generate(), NewKey::generate());
        assert!(is_api_key(&a.secret));
        assert_eq!(a.secret.len(), KEY_PREFIX.len() + RANDOM_CHARACTERS);
        assert_ne!(a.secret, b.secret);
        assert_eq!(a.prefix().len(), SHOWN);
        assert!(a.secret.starts_with(&a.prefix()));
        assert_eq!(a.hash(), hash_key(&a.secret));
        assert_ne!(a.hash(), b.hash());
        assert!(!a.hash().contains(&a.secret[KEY_PREFIX.len()..]));
        assert!(!is_api_key("eyJhbGciOiJIUzI1NiJ9.e30.sig"));
    }
}
