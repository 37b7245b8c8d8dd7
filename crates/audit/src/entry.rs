//! What one audit entry says: who acted (actor, channel, client), what they did (action,
//! object), on whom (sandbox, profile ids, a keyed hash of the identity used), which fields came
//! back, and how it ended. Never the personal data itself.
//!
//! On the wire (query answers, exports) an entry is camelCase JSON; absent options are left out.

use std::borrow::Cow;
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The most profile ids one entry keeps (a batch lookup returns at most this many); the writer
/// keeps the first ones of a longer list.
pub const MAX_PROFILES_PER_ENTRY: usize = 1000;

/// One audited request or change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditEntry {
    /// When the request was made, in milliseconds since the Unix epoch (negative times are
    /// written as 0).
    pub at_ms: i64,
    /// Which entry of its millisecond this is. The log assigns it when it writes the entry;
    /// whatever the recorder set is replaced.
    #[serde(default)]
    pub seq: u32,
    pub actor: Actor,
    pub via: Via,
    #[serde(default)]
    pub client: Client,
    pub action: AuditAction,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sandbox: Option<String>,
    /// The profiles returned or acted on (at most `MAX_PROFILES_PER_ENTRY`).
    #[serde(default)]
    pub profiles: Vec<u64>,
    /// The identity a lookup was made with, as a keyed hash (see `AuditLog::identity_ref`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<IdentityRef>,
    /// What a change acted on: a key id, a user name, a job id, a segment or dataset id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fields: Option<FieldsReturned>,
    pub outcome: Outcome,
}

impl AuditEntry {
    /// An entry with no client details, sandbox, profiles, identity, object or fields.
    pub fn new(
        at_ms: i64,
        actor: Actor,
        via: Via,
        action: AuditAction,
        outcome: Outcome,
    ) -> AuditEntry {
        AuditEntry {
            at_ms,
            seq: 0,
            actor,
            via,
            client: Client::default(),
            action,
            sandbox: None,
            profiles: Vec::new(),
            identity: None,
            object: None,
            fields: None,
            outcome,
        }
    }
}

/// Who made the request.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Actor {
    pub kind: ActorKind,
    /// The key id, the user name, or a fixed word for the master key, development mode and the
    /// server itself.
    pub id: String,
    /// The console user's role when the request was made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
}

impl Actor {
    pub fn new(kind: ActorKind, id: impl Into<String>) -> Actor {
        Actor {
            kind,
            id: id.into(),
            role: None,
        }
    }

    pub fn with_role(self, role: impl Into<String>) -> Actor {
        Actor {
            role: Some(role.into()),
            ..self
        }
    }
}

/// `kind:id`, the form the `actor` query parameter takes.
impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.kind.as_str(), self.id)
    }
}

/// What kind of caller an actor is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ActorKind {
    Master,
    Dev,
    Key,
    User,
    System,
}

impl ActorKind {
    pub const ALL: [ActorKind; 5] = [
        ActorKind::Master,
        ActorKind::Dev,
        ActorKind::Key,
        ActorKind::User,
        ActorKind::System,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ActorKind::Master => "master",
            ActorKind::Dev => "dev",
            ActorKind::Key => "key",
            ActorKind::User => "user",
            ActorKind::System => "system",
        }
    }

    pub fn parse(text: &str) -> Option<ActorKind> {
        ActorKind::ALL
            .into_iter()
            .find(|kind| kind.as_str() == text)
    }
}

/// Which door the request came through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Via {
    Api,
    Console,
    Cli,
}

/// Where the request came from.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Client {
    /// The peer's IP address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// The id of the API key presented (never its secret).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key: Option<String>,
}

/// The wire name of what was done, such as `profile.lookup` or `key.create`: 1 to 64
/// characters of `a-z`, `0-9`, `.`, `_` and `-`, starting with a letter. The log gives no
/// meaning to the names, so the server can add actions without changing this crate.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AuditAction(Cow<'static, str>);

/// The longest action name.
pub const MAX_ACTION_CHARS: usize = 64;

impl AuditAction {
    /// The action, or `None` unless `text` follows the naming rule.
    pub fn parse(text: &str) -> Option<AuditAction> {
        is_action_name(text).then(|| AuditAction(Cow::Owned(text.to_owned())))
    }

    /// An action from a name written in the source, checked when compiled if used in a
    /// constant: `const PROFILE_LOOKUP: AuditAction = AuditAction::from_static("profile.lookup");`.
    ///
    /// # Panics
    ///
    /// When `name` breaks the naming rule.
    pub const fn from_static(name: &'static str) -> AuditAction {
        assert!(is_action_name(name), "not an audit action name");
        AuditAction(Cow::Borrowed(name))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for AuditAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for AuditAction {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for AuditAction {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<AuditAction, D::Error> {
        let text = String::deserialize(deserializer)?;
        if is_action_name(&text) {
            Ok(AuditAction(Cow::Owned(text)))
        } else {
            Err(serde::de::Error::custom(format!(
                "\"{text}\" is not an audit action name: 1 to {MAX_ACTION_CHARS} characters of a-z, 0-9, '.', '_' and '-', starting with a letter"
            )))
        }
    }
}

const fn is_action_name(text: &str) -> bool {
    let bytes = text.as_bytes();
    if bytes.is_empty() || bytes.len() > MAX_ACTION_CHARS || !bytes[0].is_ascii_lowercase() {
        return false;
    }
    let mut at = 1;
    while at < bytes.len() {
        let byte = bytes[at];
        if !(byte.is_ascii_lowercase()
            || byte.is_ascii_digit()
            || byte == b'.'
            || byte == b'_'
            || byte == b'-')
        {
            return false;
        }
        at += 1;
    }
    true
}

/// The identity a request used, as `HMAC-SHA-256(pepper, namespace \0 value)` truncated to 16
/// bytes (see `AuditLog::identity_ref`). On the wire the hash is 32 lowercase hex digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IdentityRef {
    pub namespace: String,
    #[serde(with = "hex16")]
    pub hmac: [u8; 16],
}

impl IdentityRef {
    /// The hash as 32 lowercase hex digits.
    pub fn hmac_hex(&self) -> String {
        hex16::encode(&self.hmac)
    }

    /// A reference from its namespace and the hex form of its hash, or `None` unless `hex` is
    /// 32 hex digits.
    pub fn from_hex(namespace: impl Into<String>, hex: &str) -> Option<IdentityRef> {
        Some(IdentityRef {
            namespace: namespace.into(),
            hmac: hex16::decode(hex)?,
        })
    }
}

/// 16 bytes as 32 lowercase hex digits, for serde.
mod hex16 {
    use serde::{Deserialize, Deserializer, Serializer};

    pub(crate) fn encode(bytes: &[u8; 16]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    pub(crate) fn decode(hex: &str) -> Option<[u8; 16]> {
        if hex.len() != 32 || !hex.is_ascii() {
            return None;
        }
        let mut bytes = [0u8; 16];
        for (at, byte) in bytes.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&hex[2 * at..2 * at + 2], 16).ok()?;
        }
        Some(bytes)
    }

    pub(crate) fn serialize<S: Serializer>(
        bytes: &[u8; 16],
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&encode(bytes))
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<[u8; 16], D::Error> {
        let text = String::deserialize(deserializer)?;
        decode(&text).ok_or_else(|| serde::de::Error::custom("expected 32 hex digits"))
    }
}

/// Which fields a read returned: what was asked for, and which of it was hidden.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FieldsReturned {
    pub requested: RequestedFields,
    /// The stamp of the redaction applied, which names exactly the paths hidden.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redaction_stamp: Option<u64>,
    /// How many paths the redaction hid.
    #[serde(default)]
    pub redacted: u16,
}

/// The `fields` a read asked for: on the wire `"all"` or a list of paths.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestedFields {
    All,
    Paths(Vec<String>),
}

impl Serialize for RequestedFields {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            RequestedFields::All => serializer.serialize_str("all"),
            RequestedFields::Paths(paths) => paths.serialize(serializer),
        }
    }
}

impl<'de> Deserialize<'de> for RequestedFields {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<RequestedFields, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Wire {
            Word(String),
            Paths(Vec<String>),
        }
        match Wire::deserialize(deserializer)? {
            Wire::Word(word) if word == "all" => Ok(RequestedFields::All),
            Wire::Word(word) => Err(serde::de::Error::custom(format!(
                "expected \"all\" or a list of paths, found \"{word}\""
            ))),
            Wire::Paths(paths) => Ok(RequestedFields::Paths(paths)),
        }
    }
}

/// How the request ended: the HTTP status and, for a problem, its public code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Outcome {
    pub status: u16,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
}

impl Outcome {
    /// A success or a failure without a code.
    pub fn status(status: u16) -> Outcome {
        Outcome { status, code: None }
    }

    /// A problem answer with its public code.
    pub fn problem(status: u16, code: impl Into<String>) -> Outcome {
        Outcome {
            status,
            code: Some(code.into()),
        }
    }
}
