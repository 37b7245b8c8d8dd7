//! Newtype ids: profiles, sandboxes, datasets and merge policies are never bare strings or integers.

use std::fmt;

/// The internal id of a profile: one per identity graph, stable until the graph merges into an older one.
///
/// On the wire it is the opaque `entityId` string of the reference (`P` followed by 16 hex digits).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub struct ProfileId(pub u64);

impl ProfileId {
    pub fn to_be_bytes(self) -> [u8; 8] {
        self.0.to_be_bytes()
    }

    pub fn from_be_slice(bytes: &[u8]) -> Option<ProfileId> {
        let array: [u8; 8] = bytes.get(..8)?.try_into().ok()?;
        Some(ProfileId(u64::from_be_bytes(array)))
    }

    /// Parses the wire form written by `Display`.
    pub fn parse(text: &str) -> Option<ProfileId> {
        let hex = text.strip_prefix('P')?;
        if hex.len() != 16 {
            return None;
        }
        u64::from_str_radix(hex, 16).ok().map(ProfileId)
    }
}

impl fmt::Display for ProfileId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "P{:016x}", self.0)
    }
}

/// A validated sandbox name: 1 to 64 characters of `a-z`, `0-9` and `-`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SandboxName(String);

impl SandboxName {
    pub const DEFAULT: &'static str = "prod";

    pub fn parse(text: &str) -> Option<SandboxName> {
        let valid_chars = text
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        (valid_chars && !text.is_empty() && text.len() <= 64).then(|| SandboxName(text.to_owned()))
    }

    pub fn default_sandbox() -> SandboxName {
        SandboxName(Self::DEFAULT.to_owned())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SandboxName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A dataset id: 24 lowercase hex digits, as the Catalog service issues them.
#[derive(
    Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(transparent)]
pub struct DatasetId(pub String);

impl fmt::Display for DatasetId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A merge policy id (a UUID string).
#[derive(
    Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(transparent)]
pub struct MergePolicyId(pub String);

impl fmt::Display for MergePolicyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
