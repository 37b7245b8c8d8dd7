//! Random material, the stored hash of a secret, and the `rpk_<id>_<secret>` token format.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::error::{AuthError, Result};

/// Every token starts with this, so secret scanners recognise a leaked key.
pub(crate) const TOKEN_PREFIX: &str = "rpk_";
/// Random bytes behind a key id.
const ID_BYTES: usize = 10;
/// Characters of a key id: two lowercase hex digits per byte.
pub(crate) const ID_CHARS: usize = ID_BYTES * 2;
/// Random bytes behind a secret.
const SECRET_BYTES: usize = 32;
/// Characters of a secret: base64url without padding of 32 bytes.
pub(crate) const SECRET_CHARS: usize = 43;
/// Domain separation of the stored hash, so it can never be confused with another SHA-256.
const HASH_DOMAIN: &[u8] = b"rapport-api-key-v1\0";

/// `N` bytes from the operating system's random source.
pub(crate) fn random_bytes<const N: usize>() -> Result<[u8; N]> {
    let mut buffer = [0u8; N];
    getrandom::fill(&mut buffer)
        .map_err(|e| AuthError::internal(format!("the system random source failed: {e}")))?;
    Ok(buffer)
}

/// A fresh key id: 20 lowercase hex characters.
pub(crate) fn random_id_text() -> Result<String> {
    let bytes: [u8; ID_BYTES] = random_bytes()?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// A fresh secret: 43 base64url characters without padding (32 random bytes).
pub(crate) fn random_secret_text() -> Result<String> {
    let bytes: [u8; SECRET_BYTES] = random_bytes()?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

/// What is stored for a secret: `sha256("rapport-api-key-v1\0" ‖ secret)`.
pub(crate) fn secret_hash(secret: &str) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(HASH_DOMAIN);
    hasher.update(secret.as_bytes());
    hasher.finalize().into()
}

/// Whether two hashes are equal, in time that does not depend on where they differ.
pub(crate) fn hashes_equal(left: &[u8; 32], right: &[u8; 32]) -> bool {
    bool::from(left.ct_eq(right))
}

/// The token shown to the caller once.
pub(crate) fn format_token(id: &str, secret: &str) -> String {
    format!("{TOKEN_PREFIX}{id}_{secret}")
}

/// Whether `text` is a key id: exactly 20 lowercase hex characters.
pub(crate) fn is_key_id(text: &str) -> bool {
    text.len() == ID_CHARS
        && text
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Splits a token into its id and secret, or `None` when it does not have the token's shape.
pub(crate) fn split_token(token: &str) -> Option<(&str, &str)> {
    let rest = token.strip_prefix(TOKEN_PREFIX)?;
    let id = rest.get(..ID_CHARS)?;
    let secret = rest.get(ID_CHARS..)?.strip_prefix('_')?;
    let secret_shaped = secret.len() == SECRET_CHARS
        && secret
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    (is_key_id(id) && secret_shaped).then_some((id, secret))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_formatted_token_splits_back_into_id_and_secret() {
        let id = random_id_text().unwrap();
        let secret = random_secret_text().unwrap();
        assert_eq!(secret.len(), SECRET_CHARS);
        let token = format_token(&id, &secret);
        assert_eq!(split_token(&token), Some((id.as_str(), secret.as_str())));
    }

    #[test]
    fn key_ids_are_twenty_lowercase_hex_characters() {
        assert!(is_key_id(&random_id_text().unwrap()));
        assert!(is_key_id("0123456789abcdef0123"));
        assert!(!is_key_id("0123456789ABCDEF0123"));
        assert!(!is_key_id("0123456789abcdef012"));
        assert!(!is_key_id("0123456789abcdef012g"));
    }
}
