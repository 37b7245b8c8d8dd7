//! Identity namespaces: the standard ones, custom ones, and the linking settings each carries
//! (unique in a graph, priority for choosing an event's primary identity).

use serde::{Deserialize, Serialize};

/// The identity type of a namespace, in the reference's spelling.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum IdType {
    Cookie,
    CrossDevice,
    Device,
    Email,
    Phone,
    NonPeople,
    Partner,
}

impl IdType {
    pub fn parse(text: &str) -> Option<IdType> {
        Some(
            match text.to_ascii_uppercase().replace(['-', ' '], "_").as_str() {
                "COOKIE" => IdType::Cookie,
                "CROSS_DEVICE" => IdType::CrossDevice,
                "DEVICE" => IdType::Device,
                "EMAIL" => IdType::Email,
                "PHONE" => IdType::Phone,
                "NON_PEOPLE" => IdType::NonPeople,
                "PARTNER" => IdType::Partner,
                _ => return None,
            },
        )
    }

    pub fn as_str(self) -> &'static str {
        match self {
            IdType::Cookie => "COOKIE",
            IdType::CrossDevice => "CROSS_DEVICE",
            IdType::Device => "DEVICE",
            IdType::Email => "EMAIL",
            IdType::Phone => "PHONE",
            IdType::NonPeople => "NON_PEOPLE",
            IdType::Partner => "PARTNER",
        }
    }

    /// The order in which the graph limit removes identities: lower goes first.
    pub fn removal_rank(self) -> u8 {
        match self {
            IdType::Cookie => 0,
            IdType::Device => 1,
            IdType::Partner | IdType::NonPeople => 2,
            IdType::CrossDevice | IdType::Email | IdType::Phone => 3,
        }
    }

    /// The priority used when no explicit one is set: people ids above devices above cookies.
    pub fn default_priority(self) -> u32 {
        match self {
            IdType::CrossDevice => 100,
            IdType::Email => 80,
            IdType::Phone => 70,
            IdType::Device => 50,
            IdType::Partner => 40,
            IdType::Cookie => 30,
            IdType::NonPeople => 10,
        }
    }

    /// Graphs are not built for non-people and partner identities.
    pub fn links(self) -> bool {
        !matches!(self, IdType::NonPeople | IdType::Partner)
    }
}

/// A namespace as stored in the catalog and shown by `/data/core/idnamespace/identities`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Namespace {
    pub id: u32,
    pub code: String,
    pub name: String,
    pub description: String,
    pub id_type: IdType,
    pub custom: bool,
    /// A graph holds at most one identity of a unique namespace; the newest link wins.
    pub unique: bool,
    /// Higher wins when choosing an event's primary identity; `None` uses the type's default.
    pub priority: Option<u32>,
    pub create_time_ms: i64,
    pub update_time_ms: i64,
}

impl Namespace {
    pub fn effective_priority(&self) -> u32 {
        self.priority.unwrap_or(self.id_type.default_priority())
    }
}

/// Creation time shown for the standard namespaces (they exist from the start).
const STANDARD_CREATED_MS: i64 = 1_495_153_678_000;

/// The reference's standard namespaces, with their documented numeric ids where known.
pub fn standard_namespaces() -> Vec<Namespace> {
    let table: &[(u32, &str, &str, IdType)] = &[
        (0, "CORE", "CORE", IdType::Cookie),
        (4, "ECID", "ECID", IdType::Cookie),
        (6, "Email", "Email", IdType::Email),
        (7, "Phone", "Phone", IdType::Phone),
        (
            8,
            "Email_LC_SHA256",
            "Emails (SHA256, lowercased)",
            IdType::Email,
        ),
        (9, "Phone_SHA256", "Phone (SHA256)", IdType::Phone),
        (10, "Phone_E164", "Phone (E.164)", IdType::Phone),
        (
            11,
            "Phone_SHA256_E164",
            "Phone (SHA256_E.164)",
            IdType::Phone,
        ),
        (12, "AAID", "Adobe Analytics (Legacy ID)", IdType::Cookie),
        (13, "TNTID", "Adobe Target", IdType::Cookie),
        (14, "GAID", "Google Ad ID", IdType::Device),
        (15, "IDFA", "Apple IDFA", IdType::Device),
        (16, "WAID", "Windows AID", IdType::Device),
        (
            17,
            "APNS",
            "Apple Push Notification service",
            IdType::Device,
        ),
        (18, "FCM", "Firebase Cloud Messaging", IdType::Device),
        (411, "AdCloud", "AdCloud", IdType::Cookie),
    ];
    table
        .iter()
        .map(|(id, code, name, id_type)| Namespace {
            id: *id,
            code: (*code).to_owned(),
            name: (*name).to_owned(),
            description: format!("{name} Namespace"),
            id_type: *id_type,
            custom: false,
            unique: false,
            priority: None,
            create_time_ms: STANDARD_CREATED_MS,
            update_time_ms: STANDARD_CREATED_MS,
        })
        .collect()
}

/// Custom namespace ids start here.
pub const FIRST_CUSTOM_ID: u32 = 1000;

/// A namespace code: 1 to 64 characters of letters, digits, `_` and `-`, starting with a letter.
pub fn valid_code(code: &str) -> bool {
    let mut chars = code.chars();
    let starts_with_letter = chars.next().is_some_and(|c| c.is_ascii_alphabetic());
    starts_with_letter
        && code.len() <= 64
        && code
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}
