//! Reading a `memory://<name>` URL.

use crate::BusError;

const MAX_NAME_LEN: usize = 200;

/// The name in `url`, which [`crate::connect`] already found to start with `memory://` in any
/// case.
///
/// Errors never repeat the URL: a mangled one may hold credentials meant for another scheme.
pub(super) fn name(url: &str) -> Result<&str, BusError> {
    let name = url.split_once("://").map_or("", |(_, name)| name);
    let valid_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_');
    if name.is_empty() || name.len() > MAX_NAME_LEN || !name.chars().all(valid_char) {
        return Err(BusError::InvalidConfig(format!(
            "an in-process bus URL is memory://<name>, the name 1 to {MAX_NAME_LEN} letters, \
             digits, '.', '-' or '_'"
        )));
    }
    Ok(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_name_follows_the_scheme() {
        assert_eq!(name("memory://mailing"), Ok("mailing"));
        assert_eq!(name("MEMORY://Test-01.a_b"), Ok("Test-01.a_b"));
    }

    #[test]
    fn anything_but_a_plain_name_is_refused_without_being_repeated() {
        for bad in [
            "memory://",
            "memory://a/b",
            "memory://a?shared=true",
            "memory://with space",
            "memory://user:Secret-Pw@host",
            &format!("memory://{}", "x".repeat(201)),
        ] {
            match name(bad) {
                Err(BusError::InvalidConfig(message)) => {
                    assert!(!message.contains("Secret"), "{message}");
                }
                other => panic!("{bad:?} gave {other:?}"),
            }
        }
    }
}
