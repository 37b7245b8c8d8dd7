//! What an API key is: its id, the sandboxes it reaches, the record kept for it, the requests
//! that create and change it, and how a record is encoded in `Table::Auth`.

use std::collections::BTreeSet;
use std::fmt;

use rapport_types::{ActionSet, SandboxName};
use serde::{Deserialize, Serialize};

use crate::error::{AuthError, Result};
use crate::secret;

/// The public id of an API key: 20 lowercase hex characters (10 random bytes).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KeyId(String);

impl KeyId {
    /// The id, or `None` unless `text` is exactly 20 lowercase hex characters.
    pub fn parse(text: &str) -> Option<KeyId> {
        secret::is_key_id(text).then(|| KeyId(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub(crate) fn random() -> Result<KeyId> {
        secret::random_id_text().map(KeyId)
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The sandboxes a key reaches. On the wire (and in storage) a list of names, `["*"]` for all.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "Vec<String>", try_from = "Vec<String>")]
pub enum SandboxScope {
    All,
    Only(BTreeSet<SandboxName>),
}

impl SandboxScope {
    /// The names, `["*"]` for every sandbox.
    pub fn names(&self) -> Vec<String> {
        match self {
            SandboxScope::All => vec!["*".to_owned()],
            SandboxScope::Only(names) => names.iter().map(|n| n.as_str().to_owned()).collect(),
        }
    }

    pub fn allows(&self, sandbox: &SandboxName) -> bool {
        match self {
            SandboxScope::All => true,
            SandboxScope::Only(names) => names.contains(sandbox),
        }
    }

    /// The scope named by a list: `"*"` alone is every sandbox; otherwise each entry must be a
    /// sandbox name. The error says what is wrong, without a field name.
    pub fn parse(names: &[String]) -> Result<SandboxScope, String> {
        if names.is_empty() {
            return Err("at least one sandbox, or [\"*\"] for all".to_owned());
        }
        if names.iter().any(|n| n == "*") {
            return if names.len() == 1 {
                Ok(SandboxScope::All)
            } else {
                Err("\"*\" (every sandbox) must be the only entry".to_owned())
            };
        }
        let mut sandboxes = BTreeSet::new();
        for name in names {
            let sandbox = SandboxName::parse(name).ok_or_else(|| {
                format!("\"{name}\" is not a sandbox name: 1 to 64 characters of a-z, 0-9 and -")
            })?;
            sandboxes.insert(sandbox);
        }
        Ok(SandboxScope::Only(sandboxes))
    }
}

impl From<SandboxScope> for Vec<String> {
    fn from(scope: SandboxScope) -> Vec<String> {
        scope.names()
    }
}

impl TryFrom<Vec<String>> for SandboxScope {
    type Error = String;

    fn try_from(names: Vec<String>) -> Result<SandboxScope, String> {
        SandboxScope::parse(&names)
    }
}

/// Everything kept about one API key. It holds hashes, never a secret.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKeyRecord {
    pub id: KeyId,
    pub name: String,
    pub description: Option<String>,
    /// `None` once revoked; the record stays for the audit.
    pub secret_sha256: Option<[u8; 32]>,
    /// After a rotation: the old secret's hash and until when (ms since the epoch) it still works.
    pub previous_secret: Option<([u8; 32], i64)>,
    pub actions: ActionSet,
    pub sandboxes: SandboxScope,
    pub expires_ms: Option<i64>,
    pub created_ms: i64,
    pub created_by: String,
    pub revoked_ms: Option<i64>,
    pub updated_ms: i64,
    /// The console role whose data usage labels the key may see; `None`: every label (a
    /// machine key, as the built-in `integration` role).
    pub role: Option<String>,
    /// The key's own rate limit; `None`: the server's (`--rate-limit-per-second`).
    pub rate_limit: Option<KeyRateLimit>,
}

/// A key's own rate limit: `per_second` sustained, `burst` at once (both at least 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct KeyRateLimit {
    pub per_second: u32,
    pub burst: u32,
}

impl ApiKeyRecord {
    /// The public start of the key's token, `rpk_<id>_`, shown in lists and messages.
    pub fn prefix(&self) -> String {
        format!("{}{}_", secret::TOKEN_PREFIX, self.id)
    }

    pub fn is_revoked(&self) -> bool {
        self.revoked_ms.is_some()
    }
}

/// Leaves the hashes out, so a record logged by mistake carries nothing derived from a secret.
impl fmt::Debug for ApiKeyRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let redacted_hash = |present: bool| if present { "Some(***)" } else { "None" };
        f.debug_struct("ApiKeyRecord")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("description", &self.description)
            .field(
                "secret_sha256",
                &format_args!("{}", redacted_hash(self.secret_sha256.is_some())),
            )
            .field(
                "previous_secret_valid_until",
                &self.previous_secret.map(|(_, until)| until),
            )
            .field("actions", &self.actions.names())
            .field("sandboxes", &self.sandboxes.names())
            .field("expires_ms", &self.expires_ms)
            .field("created_ms", &self.created_ms)
            .field("created_by", &self.created_by)
            .field("revoked_ms", &self.revoked_ms)
            .field("updated_ms", &self.updated_ms)
            .finish()
    }
}

/// A request to create a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewKey {
    pub name: String,
    pub description: Option<String>,
    pub actions: ActionSet,
    pub sandboxes: SandboxScope,
    pub expires_ms: Option<i64>,
    /// The role whose labels the key may see (`None`: every label).
    pub role: Option<String>,
    /// Its own rate limit (`None`: the server's).
    pub rate_limit: Option<KeyRateLimit>,
}

/// A change to a key: `None` leaves a field alone; `Some(None)` clears an optional one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyPatch {
    pub name: Option<String>,
    pub description: Option<Option<String>>,
    pub expires_ms: Option<Option<i64>>,
    pub rate_limit: Option<Option<KeyRateLimit>>,
}

/// The first byte of every stored record, so a later layout can be told apart: 1 before keys
/// had a role, 2 with a role, 3 with a rate limit of their own.
const STORED_VERSION: u8 = 3;

/// The stored layout of a record (postcard is not self-describing: append fields only under a
/// new version).
#[derive(Serialize, Deserialize)]
struct StoredKeyV1 {
    id: String,
    name: String,
    description: Option<String>,
    secret_sha256: Option<[u8; 32]>,
    previous_secret: Option<([u8; 32], i64)>,
    actions: ActionSet,
    sandboxes: SandboxScope,
    expires_ms: Option<i64>,
    created_ms: i64,
    created_by: String,
    revoked_ms: Option<i64>,
    updated_ms: i64,
}

/// Layout 2: layout 1 and the key's role.
#[derive(Serialize, Deserialize)]
struct StoredKeyV2 {
    v1: StoredKeyV1,
    role: Option<String>,
}

/// Layout 3: layout 2 and the key's own rate limit.
#[derive(Serialize, Deserialize)]
struct StoredKeyV3 {
    v2: StoredKeyV2,
    rate_limit: Option<KeyRateLimit>,
}

/// The key of a record in `Table::Auth`: `key\0<id>`.
pub(crate) fn storage_key(id: &KeyId) -> Vec<u8> {
    let mut key = STORAGE_PREFIX.to_vec();
    key.extend_from_slice(id.as_str().as_bytes());
    key
}

/// Every API key record in `Table::Auth` starts with this.
pub(crate) const STORAGE_PREFIX: &[u8] = b"key\0";

pub(crate) fn encode_record(record: &ApiKeyRecord) -> Result<Vec<u8>> {
    let v1 = StoredKeyV1 {
        id: record.id.as_str().to_owned(),
        name: record.name.clone(),
        description: record.description.clone(),
        secret_sha256: record.secret_sha256,
        previous_secret: record.previous_secret,
        actions: record.actions,
        sandboxes: record.sandboxes.clone(),
        expires_ms: record.expires_ms,
        created_ms: record.created_ms,
        created_by: record.created_by.clone(),
        revoked_ms: record.revoked_ms,
        updated_ms: record.updated_ms,
    };
    let stored = StoredKeyV3 {
        v2: StoredKeyV2 {
            v1,
            role: record.role.clone(),
        },
        rate_limit: record.rate_limit,
    };
    let mut bytes = vec![STORED_VERSION];
    let body = postcard::to_stdvec(&stored).map_err(|e| {
        AuthError::internal(format!("API key {} could not be encoded: {e}", record.id))
    })?;
    bytes.extend_from_slice(&body);
    Ok(bytes)
}

/// Decodes the record stored under `key`, checking that the id inside matches the key.
pub(crate) fn decode_record(key: &[u8], value: &[u8]) -> Result<ApiKeyRecord> {
    let key_text = String::from_utf8_lossy(key).replace('\0', "\\0");
    let unreadable = |why: String| AuthError::internal(format!("{key_text} in auth: {why}"));
    let (version, body) = value
        .split_first()
        .ok_or_else(|| unreadable("empty record".to_owned()))?;
    let (stored, role, rate_limit) = match *version {
        1 => (
            postcard::from_bytes::<StoredKeyV1>(body).map_err(|e| unreadable(e.to_string()))?,
            None,
            None,
        ),
        2 => {
            let stored: StoredKeyV2 =
                postcard::from_bytes(body).map_err(|e| unreadable(e.to_string()))?;
            (stored.v1, stored.role, None)
        }
        STORED_VERSION => {
            let stored: StoredKeyV3 =
                postcard::from_bytes(body).map_err(|e| unreadable(e.to_string()))?;
            (stored.v2.v1, stored.v2.role, stored.rate_limit)
        }
        other => {
            return Err(unreadable(format!(
                "stored by a newer Rapport (layout {other})"
            )))
        }
    };
    let id = KeyId::parse(&stored.id)
        .ok_or_else(|| unreadable(format!("\"{}\" is not a key id", stored.id)))?;
    if storage_key(&id) != key {
        return Err(unreadable(format!("holds the record of key {id}")));
    }
    Ok(ApiKeyRecord {
        id,
        name: stored.name,
        description: stored.description,
        secret_sha256: stored.secret_sha256,
        previous_secret: stored.previous_secret,
        actions: stored.actions,
        sandboxes: stored.sandboxes,
        expires_ms: stored.expires_ms,
        created_ms: stored.created_ms,
        created_by: stored.created_by,
        revoked_ms: stored.revoked_ms,
        updated_ms: stored.updated_ms,
        role,
        rate_limit,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rapport_types::Action;

    fn sandboxes(names: &[&str]) -> Vec<String> {
        names.iter().map(|n| n.to_string()).collect()
    }

    #[test]
    fn sandbox_scope_parses_star_alone_names_and_rejects_the_rest() {
        assert_eq!(
            SandboxScope::parse(&sandboxes(&["*"])),
            Ok(SandboxScope::All)
        );
        let only = SandboxScope::parse(&sandboxes(&["prod", "dev"])).unwrap();
        assert_eq!(only.names(), ["dev", "prod"]);
        assert!(only.allows(&SandboxName::parse("prod").unwrap()));
        assert!(!only.allows(&SandboxName::parse("stage").unwrap()));
        assert!(SandboxScope::parse(&[]).is_err());
        assert!(SandboxScope::parse(&sandboxes(&["*", "prod"])).is_err());
        assert!(SandboxScope::parse(&sandboxes(&["Prod"]))
            .unwrap_err()
            .contains("\"Prod\""));
    }

    #[test]
    fn a_record_round_trips_through_its_stored_form() {
        let record = ApiKeyRecord {
            id: KeyId::parse("0123456789abcdef0123").unwrap(),
            name: "crm-loader".to_owned(),
            description: Some("nightly".to_owned()),
            secret_sha256: Some([7; 32]),
            previous_secret: Some(([9; 32], 42)),
            actions: [Action::IngestWrite].into_iter().collect(),
            sandboxes: SandboxScope::parse(&sandboxes(&["prod"])).unwrap(),
            expires_ms: Some(1_000),
            created_ms: 1,
            created_by: "master".to_owned(),
            revoked_ms: None,
            updated_ms: 2,
            role: Some("sales".to_owned()),
            rate_limit: Some(KeyRateLimit {
                per_second: 5,
                burst: 20,
            }),
        };
        let key = storage_key(&record.id);
        let bytes = encode_record(&record).unwrap();
        assert_eq!(bytes[0], 3);
        assert_eq!(decode_record(&key, &bytes).unwrap(), record);
        assert!(decode_record(b"key\0ffffffffffffffffffff", &bytes).is_err());
        assert!(decode_record(&key, &[]).is_err());

        // A record stored before keys had a rate limit (layout 2) reads without one.
        let stored: StoredKeyV3 = postcard::from_bytes(&bytes[1..]).unwrap();
        let mut older = vec![2u8];
        older.extend(postcard::to_stdvec(&stored.v2).unwrap());
        let decoded = decode_record(&key, &older).unwrap();
        assert_eq!(decoded.rate_limit, None);
        assert_eq!(decoded.role.as_deref(), Some("sales"));
    }
}
