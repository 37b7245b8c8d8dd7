//! Identities: keys, value checks, namespaces, the graph's linking rules and XIDs.

pub mod graph;
pub mod namespace;
pub mod value;
pub mod xid;

use serde::{Deserialize, Serialize};

/// One identity: a namespace code (in its registered spelling) and a value.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct IdentityKey {
    pub namespace: String,
    pub value: String,
}

impl IdentityKey {
    pub fn new(namespace: impl Into<String>, value: impl Into<String>) -> IdentityKey {
        IdentityKey {
            namespace: namespace.into(),
            value: value.into(),
        }
    }
}

impl std::fmt::Display for IdentityKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.namespace, self.value)
    }
}
