//! Console passwords: the rules a new one must meet, generating one, and hashing and checking
//! them with Argon2id into PHC strings (`$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`).

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

use crate::error::{AuthError, Result};
use crate::secret::random_bytes;

/// The shortest password accepted, in characters.
pub(crate) const MIN_CHARS: usize = 12;
/// The longest password accepted, in characters (Argon2 takes any length; this bounds the work
/// a request can ask for).
pub(crate) const MAX_CHARS: usize = 200;
/// Characters of a generated password.
pub(crate) const GENERATED_CHARS: usize = 20;
/// What a generated password is made of: letters and digits, without the look-alikes 0, O, 1,
/// I and l, so it can be read out and typed. 57 symbols: about 5.8 bits each, 117 in all.
const GENERATED_ALPHABET: &[u8] = b"23456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
/// Random bytes behind a salt (the PHC string holds it as base64).
const SALT_BYTES: usize = 16;
/// Argon2 lanes. One: the server hashes on a blocking thread of its own.
const LANES: u32 = 1;

/// The cost of hashing a password with Argon2id. A stored hash keeps the parameters it was made
/// with, so changing them affects only passwords set afterwards.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordParams {
    /// Memory per hash, in KiB (at least 8).
    pub memory_kib: u32,
    /// Passes over the memory (at least 1).
    pub iterations: u32,
}

impl PasswordParams {
    /// OWASP's minimum for Argon2id: m = 19 MiB, t = 2, p = 1.
    pub const fn production() -> PasswordParams {
        PasswordParams {
            memory_kib: 19 * 1024,
            iterations: 2,
        }
    }

    fn hasher(self) -> Result<Argon2<'static>> {
        let params = Params::new(self.memory_kib, self.iterations, LANES, None).map_err(|e| {
            AuthError::internal(format!(
                "password parameters m={} KiB, t={}: {e}",
                self.memory_kib, self.iterations
            ))
        })?;
        Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
    }
}

/// Checks the rules a new password must meet for the user `name` (already lower-cased).
pub(crate) fn check_rules(name: &str, password: &str) -> Result<()> {
    let chars = password.chars().count();
    if chars < MIN_CHARS {
        return Err(AuthError::invalid_user(format!(
            "/password: at least {MIN_CHARS} characters"
        )));
    }
    if chars > MAX_CHARS {
        return Err(AuthError::invalid_user(format!(
            "/password: at most {MAX_CHARS} characters"
        )));
    }
    if password.to_lowercase() == name.to_lowercase() {
        return Err(AuthError::invalid_user(
            "/password: must not be the user name",
        ));
    }
    Ok(())
}

/// A fresh password of 20 characters from the system random source.
pub(crate) fn generate() -> Result<String> {
    // The largest multiple of the alphabet's size that fits a byte: bytes at or above it are
    // drawn again, so every symbol is equally likely.
    let limit = 256 - 256 % GENERATED_ALPHABET.len();
    let mut password = String::with_capacity(GENERATED_CHARS);
    while password.len() < GENERATED_CHARS {
        let bytes: [u8; 32] = random_bytes()?;
        for byte in bytes.into_iter().map(usize::from).filter(|b| *b < limit) {
            if password.len() == GENERATED_CHARS {
                break;
            }
            password.push(char::from(
                GENERATED_ALPHABET[byte % GENERATED_ALPHABET.len()],
            ));
        }
    }
    Ok(password)
}

/// The PHC string of `password` under `params`, with a fresh random salt.
pub(crate) fn hash(params: PasswordParams, password: &str) -> Result<String> {
    let salt_bytes: [u8; SALT_BYTES] = random_bytes()?;
    let salt = SaltString::encode_b64(&salt_bytes)
        .map_err(|e| AuthError::internal(format!("password salt: {e}")))?;
    let hashed = params
        .hasher()?
        .hash_password(password.as_bytes(), &salt)
        .map_err(|e| AuthError::internal(format!("password hashing: {e}")))?;
    Ok(hashed.to_string())
}

/// Whether `password` is the one `phc` was made from, hashing it with the parameters and salt
/// the PHC string holds. A malformed PHC string matches nothing.
pub(crate) fn verify(phc: &str, password: &str) -> bool {
    let Ok(stored) = PasswordHash::new(phc) else {
        return false;
    };
    Argon2::default()
        .verify_password(password.as_bytes(), &stored)
        .is_ok()
}

/// Checks that `params` can hash at all, and returns the hash of a random password under them:
/// what an unknown user's password is checked against, so that it costs as much as a known one.
pub(crate) fn dummy_hash(params: PasswordParams) -> Result<String> {
    hash(params, &generate()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FAST: PasswordParams = PasswordParams {
        memory_kib: 64,
        iterations: 1,
    };

    #[test]
    fn a_hash_is_an_argon2id_phc_string_that_verifies_only_its_password() {
        let phc = hash(FAST, "correct horse battery").unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=64,t=1,p=1$"), "{phc}");
        assert!(verify(&phc, "correct horse battery"));
        assert!(!verify(&phc, "correct horse batterY"));
        assert!(!verify("not a phc string", "correct horse battery"));
        assert_ne!(phc, hash(FAST, "correct horse battery").unwrap());
    }

    #[test]
    fn production_parameters_are_owasps_minimum() {
        let phc = hash(PasswordParams::production(), "correct horse battery").unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
    }

    #[test]
    fn generated_passwords_have_twenty_unambiguous_characters_and_pass_the_rules() {
        let password = generate().unwrap();
        assert_eq!(password.chars().count(), GENERATED_CHARS);
        assert!(password.bytes().all(|b| GENERATED_ALPHABET.contains(&b)));
        assert!(check_rules("alice", &password).is_ok());
        assert_ne!(password, generate().unwrap());
    }

    #[test]
    fn parameters_argon2_cannot_use_are_an_internal_error() {
        let error = dummy_hash(PasswordParams {
            memory_kib: 1,
            iterations: 1,
        })
        .unwrap_err();
        assert_eq!(error.code, rapport_types::Code::Internal);
        assert!(error.message.contains("m=1 KiB"), "{error}");
    }
}
