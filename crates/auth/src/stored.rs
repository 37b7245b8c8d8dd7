//! How console records (users, roles, sessions) are laid out in `Table::Auth`: a kind word, a
//! NUL and the record's name as the key; a layout version byte and the postcard body as the
//! value.

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::{AuthError, Result};

/// The first byte of every stored console record, so a later layout can be told apart.
const STORED_VERSION: u8 = 1;

/// Every user record in `Table::Auth` starts with this, followed by the lower-cased name.
pub(crate) const USER_PREFIX: &[u8] = b"user\0";
/// Every role record starts with this, followed by the role's name.
pub(crate) const ROLE_PREFIX: &[u8] = b"role\0";
/// Every session record starts with this, followed by the hex SHA-256 of the session token.
pub(crate) const SESSION_PREFIX: &[u8] = b"session\0";

/// `prefix ‖ name`.
pub(crate) fn key(prefix: &[u8], name: &str) -> Vec<u8> {
    let mut key = prefix.to_vec();
    key.extend_from_slice(name.as_bytes());
    key
}

/// The name part of a key under `prefix`, or `None` when it is not UTF-8.
pub(crate) fn key_name<'k>(prefix: &[u8], key: &'k [u8]) -> Option<&'k str> {
    std::str::from_utf8(key.strip_prefix(prefix)?).ok()
}

/// The readable form of a key for messages: its NUL shown as `\0`.
pub(crate) fn key_text(key: &[u8]) -> String {
    String::from_utf8_lossy(key).replace('\0', "\\0")
}

/// The version byte followed by the postcard encoding of `stored`.
pub(crate) fn encode<T: Serialize>(key: &[u8], stored: &T) -> Result<Vec<u8>> {
    let mut bytes = vec![STORED_VERSION];
    let body = postcard::to_stdvec(stored)
        .map_err(|e| AuthError::internal(format!("{} could not be encoded: {e}", key_text(key))))?;
    bytes.extend_from_slice(&body);
    Ok(bytes)
}

/// Decodes the value stored under `key`. The error names the key, never the value.
pub(crate) fn decode<T: DeserializeOwned>(key: &[u8], value: &[u8]) -> Result<T> {
    let (version, body) = value
        .split_first()
        .ok_or_else(|| unreadable(key, "empty record"))?;
    if *version != STORED_VERSION {
        return Err(unreadable(
            key,
            format!("stored by a newer Rapport (layout {version})"),
        ));
    }
    postcard::from_bytes(body).map_err(|e| unreadable(key, e))
}

/// A stored record that cannot be read back.
pub(crate) fn unreadable(key: &[u8], why: impl std::fmt::Display) -> AuthError {
    AuthError::internal(format!("{} in auth: {why}", key_text(key)))
}
