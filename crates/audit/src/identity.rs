//! Identity references: the identity a request used, kept only as a keyed hash. The key (the
//! pepper) is 32 random bytes made when the log is first opened and stored in its environment.

use std::fmt;

use hmac::{Hmac, Mac};
use sha2::Sha256;
use store::{Store, Table};

use crate::entry::IdentityRef;
use crate::error::{AuditError, Result};
use crate::stored::PEPPER_KEY;

const PEPPER_BYTES: usize = 32;

/// The HMAC key of identity references.
pub(crate) struct Pepper([u8; PEPPER_BYTES]);

/// Never prints the key.
impl fmt::Debug for Pepper {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Pepper(..)")
    }
}

impl Pepper {
    /// The stored pepper, or a new one, stored and committed, when there is none yet.
    pub(crate) fn load_or_create(store: &dyn Store) -> Result<Pepper> {
        let mut txn = store.write()?;
        if let Some(stored) = txn.get(Table::Audit, PEPPER_KEY)? {
            let bytes: [u8; PEPPER_BYTES] = stored
                .try_into()
                .map_err(|_| AuditError::unreadable(PEPPER_KEY, "the pepper is not 32 bytes"))?;
            return Ok(Pepper(bytes));
        }
        let mut bytes = [0u8; PEPPER_BYTES];
        getrandom::fill(&mut bytes).map_err(|e| AuditError::Random(e.to_string()))?;
        txn.put(Table::Audit, PEPPER_KEY, &bytes)?;
        txn.commit()?;
        Ok(Pepper(bytes))
    }

    /// `HMAC-SHA-256(pepper, namespace \0 value)` cut to 16 bytes, where namespace and value
    /// are trimmed and lowercased (namespace codes match case-insensitively, and so do the
    /// values a person types). The reference keeps the namespace as given, trimmed.
    pub(crate) fn identity_ref(&self, namespace: &str, value: &str) -> IdentityRef {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.0)
            .unwrap_or_else(|_| unreachable!("HMAC takes a key of any length"));
        mac.update(namespace.trim().to_lowercase().as_bytes());
        mac.update(&[0]);
        mac.update(value.trim().to_lowercase().as_bytes());
        let digest = mac.finalize().into_bytes();
        let mut hmac = [0u8; 16];
        hmac.copy_from_slice(&digest[..16]);
        IdentityRef {
            namespace: namespace.trim().to_owned(),
            hmac,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reference_is_the_truncated_hmac_of_the_normalised_identity() {
        let pepper = Pepper([7; PEPPER_BYTES]);
        let reference = pepper.identity_ref(" Email ", "  Ana@Example.COM ");
        assert_eq!(reference.namespace, "Email");
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&[7; PEPPER_BYTES]).unwrap();
        mac.update(b"email\0ana@example.com");
        assert_eq!(reference.hmac[..], mac.finalize().into_bytes()[..16]);
        assert_eq!(
            pepper.identity_ref("email", "ana@example.com").hmac,
            reference.hmac
        );
        assert_ne!(
            pepper.identity_ref("phone", "ana@example.com").hmac,
            reference.hmac
        );
        assert_ne!(
            Pepper([8; PEPPER_BYTES])
                .identity_ref("email", "ana@example.com")
                .hmac,
            reference.hmac
        );
    }
}
