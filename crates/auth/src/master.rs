//! The master key: the one credential given to `rapport serve` at start, never stored. It
//! grants every action in every sandbox; the server keeps only its SHA-256.

use std::fmt;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sha2::{Digest, Sha256};

use crate::error::{AuthError, Result};
use crate::secret::{hashes_equal, random_bytes};

/// The shortest master key accepted, in characters.
const MIN_CHARS: usize = 32;

/// The SHA-256 of the master key; the key itself is not kept.
pub struct MasterKey {
    sha256: [u8; 32],
}

impl MasterKey {
    /// Keeps the hash of `key`, which must be at least 32 characters long.
    pub fn new(key: &str) -> Result<MasterKey> {
        if key.chars().count() < MIN_CHARS {
            return Err(AuthError::invalid_body(format!(
                "master key: at least {MIN_CHARS} characters"
            )));
        }
        Ok(MasterKey {
            sha256: Sha256::digest(key.as_bytes()).into(),
        })
    }

    /// Whether `token` is the master key, compared in constant time.
    pub fn verify(&self, token: &str) -> bool {
        hashes_equal(&self.sha256, &Sha256::digest(token.as_bytes()).into())
    }

    /// A fresh master key: 43 base64url characters (32 random bytes). It fails only when the
    /// system random source does.
    pub fn generate() -> Result<String> {
        let bytes: [u8; 32] = random_bytes()?;
        Ok(URL_SAFE_NO_PAD.encode(bytes))
    }
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MasterKey(***)")
    }
}
