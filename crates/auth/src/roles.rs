//! Console roles: the labels a role may see and the actions it may take, the built-in roles
//! seeded at first start, and creating, replacing and deleting roles.

use std::collections::BTreeSet;
use std::sync::Arc;

use rapport_types::{Action, ActionSet, Code};
use serde::{Deserialize, Serialize};

use crate::error::{AuthError, Result};
use crate::stored::{self, ROLE_PREFIX};
use crate::users::{Change, Users};

/// The built-in role that holds everything; it cannot be changed or deleted.
pub(crate) const ADMIN: &str = "admin";
/// The longest role name, in characters.
const ROLE_NAME_MAX_CHARS: usize = 64;
/// The longest label name, in characters.
const LABEL_MAX_CHARS: usize = 64;

/// The standard data-usage labels (contract C1–C12, identity I1–I2, sensitive S1–S2). Custom
/// labels are any name of a letter followed by up to 63 letters, digits, `_` and `-`.
pub const STANDARD_LABELS: &[&str] = &[
    "C1", "C2", "C3", "C4", "C5", "C6", "C7", "C8", "C9", "C10", "C11", "C12", "I1", "I2", "S1",
    "S2",
];

/// The labels a role may see. On the wire (and in storage) a list of names, `["*"]` for all.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "Vec<String>", try_from = "Vec<String>")]
pub enum LabelGrant {
    All,
    Only(BTreeSet<String>),
}

impl LabelGrant {
    /// Whether a field carrying `label` may be shown under this grant (a field with several
    /// labels needs every one of them).
    pub fn allows(&self, label: &str) -> bool {
        match self {
            LabelGrant::All => true,
            LabelGrant::Only(labels) => labels.contains(label),
        }
    }

    /// The names, `["*"]` for every label.
    pub fn names(&self) -> Vec<String> {
        match self {
            LabelGrant::All => vec!["*".to_owned()],
            LabelGrant::Only(labels) => labels.iter().cloned().collect(),
        }
    }

    /// The grant named by a list: `"*"` alone is every label; otherwise each entry must be a
    /// label name, and an empty list grants only unlabelled fields. The error says what is
    /// wrong, without a field name.
    pub fn parse(names: &[String]) -> Result<LabelGrant, String> {
        if names.iter().any(|n| n == "*") {
            return if names.len() == 1 {
                Ok(LabelGrant::All)
            } else {
                Err("\"*\" (every label) must be the only entry".to_owned())
            };
        }
        let labels: BTreeSet<String> = names.iter().cloned().collect();
        LabelGrant::check_names(&labels)?;
        Ok(LabelGrant::Only(labels))
    }

    /// Whether `text` is a label name: a letter, then up to 63 letters, digits, `_` and `-`.
    pub fn is_label(text: &str) -> bool {
        let mut bytes = text.bytes();
        bytes.next().is_some_and(|b| b.is_ascii_alphabetic())
            && text.len() <= LABEL_MAX_CHARS
            && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    }

    fn check_names(labels: &BTreeSet<String>) -> Result<(), String> {
        match labels.iter().find(|l| !LabelGrant::is_label(l)) {
            Some(bad) => Err(format!(
                "\"{bad}\" is not a label: a letter, then up to {} letters, digits, _ and -",
                LABEL_MAX_CHARS - 1
            )),
            None => Ok(()),
        }
    }
}

impl From<LabelGrant> for Vec<String> {
    fn from(grant: LabelGrant) -> Vec<String> {
        grant.names()
    }
}

impl TryFrom<Vec<String>> for LabelGrant {
    type Error = String;

    fn try_from(names: Vec<String>) -> Result<LabelGrant, String> {
        LabelGrant::parse(&names)
    }
}

/// What a console user may see and do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Role {
    /// `[a-z][a-z0-9-]{0,63}`.
    pub name: String,
    pub labels: LabelGrant,
    pub actions: ActionSet,
    /// Seeded at first start. `admin` cannot be changed or deleted; the others can.
    pub built_in: bool,
    /// When the role was seeded or last put (ms since the epoch).
    pub updated_ms: i64,
}

impl Role {
    /// `admin`: every label and every action, including actions added by a later Rapport.
    fn admin(updated_ms: i64) -> Role {
        Role {
            name: ADMIN.to_owned(),
            labels: LabelGrant::All,
            actions: ActionSet::all(),
            built_in: true,
            updated_ms,
        }
    }
}

/// The roles seeded at first start, `updated_ms` set to `now_ms`.
pub(crate) fn built_in_roles(now_ms: i64) -> Vec<Role> {
    let agent_actions: ActionSet = [
        Action::ProfilesRead,
        Action::EventsRead,
        Action::IdentitiesRead,
        Action::SegmentsRead,
        Action::AttributesRead,
        Action::ModelsRead,
    ]
    .into_iter()
    .collect();
    let contract_labels = || STANDARD_LABELS.iter().filter(|l| l.starts_with('C'));
    let only =
        |labels: Vec<&str>| LabelGrant::Only(labels.into_iter().map(str::to_owned).collect());
    let role = |name: &str, labels: LabelGrant, actions: ActionSet| Role {
        name: name.to_owned(),
        labels,
        actions,
        built_in: true,
        updated_ms: now_ms,
    };
    let mut supervisor_actions = agent_actions;
    supervisor_actions.insert(Action::AuditRead);
    vec![
        Role::admin(now_ms),
        role("supervisor", LabelGrant::All, supervisor_actions),
        role(
            "agent",
            only(
                contract_labels()
                    .copied()
                    .chain(["I1", "I2", "S2", "SUPPORT"])
                    .collect(),
            ),
            agent_actions,
        ),
        role(
            "sales",
            only(contract_labels().copied().chain(["I1", "S2"]).collect()),
            agent_actions,
        ),
        role("integration", LabelGrant::All, ActionSet::all()),
    ]
}

/// The stored layout of a role (postcard is not self-describing: append fields only under a
/// new version).
#[derive(Serialize, Deserialize)]
struct StoredRoleV1 {
    name: String,
    labels: Vec<String>,
    actions: ActionSet,
    built_in: bool,
    updated_ms: i64,
}

pub(crate) fn role_key(name: &str) -> Vec<u8> {
    stored::key(ROLE_PREFIX, name)
}

pub(crate) fn encode_role(role: &Role) -> Result<Vec<u8>> {
    let stored = StoredRoleV1 {
        name: role.name.clone(),
        labels: role.labels.names(),
        actions: role.actions,
        built_in: role.built_in,
        updated_ms: role.updated_ms,
    };
    stored::encode(&role_key(&role.name), &stored)
}

/// Decodes the role stored under `key`, checking that the name inside matches the key. The
/// stored `admin` is read as every label and every action, whatever it holds.
pub(crate) fn decode_role(key: &[u8], value: &[u8]) -> Result<Role> {
    let stored: StoredRoleV1 = stored::decode(key, value)?;
    if role_key(&stored.name) != key {
        return Err(stored::unreadable(
            key,
            format!("holds the record of role \"{}\"", stored.name),
        ));
    }
    if stored.name == ADMIN {
        return Ok(Role::admin(stored.updated_ms));
    }
    let labels = LabelGrant::parse(&stored.labels).map_err(|why| stored::unreadable(key, why))?;
    Ok(Role {
        name: stored.name,
        labels,
        actions: stored.actions,
        built_in: stored.built_in,
        updated_ms: stored.updated_ms,
    })
}

impl Users {
    /// Every role, by name.
    pub fn roles(&self) -> Vec<Arc<Role>> {
        self.roles.load().values().cloned().collect()
    }

    /// The role with this name; `404 role_not_found` for an unknown one.
    pub fn role(&self, name: &str) -> Result<Arc<Role>> {
        self.roles
            .load()
            .get(name)
            .cloned()
            .ok_or_else(|| AuthError::role_not_found(name))
    }

    /// Creates the role `name`, or replaces its labels and actions. A replaced built-in role
    /// stays built in; `admin` cannot be changed (`400 invalid_role`).
    pub fn put_role(
        &self,
        name: &str,
        labels: LabelGrant,
        actions: ActionSet,
        now_ms: i64,
    ) -> Result<Arc<Role>> {
        check_role_name(name)?;
        if name == ADMIN {
            return Err(AuthError::invalid_role(
                "/name: admin is built in and cannot be changed",
            ));
        }
        if let LabelGrant::Only(names) = &labels {
            LabelGrant::check_names(names)
                .map_err(|why| AuthError::invalid_role(format!("/labels: {why}")))?;
        }
        if actions == ActionSet::empty() {
            return Err(AuthError::invalid_role("/actions: at least one action"));
        }
        let writing = self.lock_writes();
        let built_in = self.roles.load().get(name).is_some_and(|r| r.built_in);
        let role = Arc::new(Role {
            name: name.to_owned(),
            labels,
            actions,
            built_in,
            updated_ms: now_ms,
        });
        self.commit(
            &writing,
            Change {
                put_roles: vec![Arc::clone(&role)],
                ..Change::default()
            },
        )?;
        Ok(role)
    }

    /// Deletes a role no user holds. `admin` cannot be deleted (`400 invalid_role`); a role a
    /// user holds is `409 role_in_use`, naming the user.
    pub fn delete_role(&self, name: &str) -> Result<()> {
        if name == ADMIN {
            return Err(AuthError::invalid_role(
                "/name: admin is built in and cannot be deleted",
            ));
        }
        let writing = self.lock_writes();
        self.role(name)?;
        let users = self.users.load();
        let mut holders: Vec<&str> = users
            .values()
            .filter(|u| u.role == name)
            .map(|u| u.name.as_str())
            .collect();
        holders.sort_unstable();
        if let Some(first) = holders.first() {
            let more = match holders.len() - 1 {
                0 => String::new(),
                1 => " and 1 other".to_owned(),
                others => format!(" and {others} others"),
            };
            return Err(AuthError::new(
                Code::RoleInUse,
                format!(
                    "role \"{name}\" is held by user \"{first}\"{more}: give them another role first"
                ),
            ));
        }
        self.commit(
            &writing,
            Change {
                removed_roles: vec![name.to_owned()],
                ..Change::default()
            },
        )
    }
}

fn check_role_name(name: &str) -> Result<()> {
    let mut bytes = name.bytes();
    let valid = bytes.next().is_some_and(|b| b.is_ascii_lowercase())
        && name.len() <= ROLE_NAME_MAX_CHARS
        && bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !valid {
        return Err(AuthError::invalid_role(format!(
            "/name: 1 to {ROLE_NAME_MAX_CHARS} characters of a-z, 0-9 and -, starting with a letter"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(names: &[&str]) -> Vec<String> {
        names.iter().map(|n| n.to_string()).collect()
    }

    #[test]
    fn label_grants_parse_star_alone_label_names_and_reject_the_rest() {
        assert_eq!(LabelGrant::parse(&names(&["*"])), Ok(LabelGrant::All));
        let only = LabelGrant::parse(&names(&["I1", "C1", "SUPPORT", "my_label-2"])).unwrap();
        assert_eq!(only.names(), ["C1", "I1", "SUPPORT", "my_label-2"]);
        assert!(only.allows("I1") && !only.allows("I2") && !only.allows("i1"));
        assert_eq!(
            LabelGrant::parse(&[]),
            Ok(LabelGrant::Only(BTreeSet::new()))
        );
        assert!(LabelGrant::parse(&names(&["*", "C1"])).is_err());
        for bad in ["", "1C", "C 1", "_x", "é", &"L".repeat(65)] {
            let error = LabelGrant::parse(&names(&[bad])).unwrap_err();
            assert!(error.contains(&format!("\"{bad}\"")), "{error}");
        }
        assert!(LabelGrant::is_label(&"L".repeat(64)));
        assert!(STANDARD_LABELS.iter().all(|l| LabelGrant::is_label(l)));
    }

    #[test]
    fn a_role_round_trips_through_its_stored_form() {
        let role = Role {
            name: "auditor".to_owned(),
            labels: LabelGrant::parse(&names(&["C1", "I1"])).unwrap(),
            actions: ActionSet::parse(["profiles.read"]).unwrap(),
            built_in: false,
            updated_ms: 7,
        };
        let key = role_key(&role.name);
        let bytes = encode_role(&role).unwrap();
        assert_eq!(decode_role(&key, &bytes).unwrap(), role);
        assert!(decode_role(b"role\0other", &bytes).is_err());
    }

    #[test]
    fn stored_admin_always_reads_as_every_label_and_action() {
        let narrowed = Role {
            actions: ActionSet::parse(["profiles.read"]).unwrap(),
            labels: LabelGrant::Only(BTreeSet::new()),
            ..Role::admin(3)
        };
        let bytes = encode_role(&narrowed).unwrap();
        assert_eq!(
            decode_role(&role_key(ADMIN), &bytes).unwrap(),
            Role::admin(3)
        );
    }
}
