//! Console users: maps in memory of users, roles and sessions, kept in step with `Table::Auth`,
//! where every change is written before it takes effect; and creating, changing and deleting
//! users.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use arc_swap::ArcSwap;
use rapport_types::Code;
use serde::{Deserialize, Serialize};
use store::{Store, Table};

use crate::error::{AuthError, Result};
use crate::password::{self, PasswordParams};
use crate::record::SandboxScope;
use crate::roles::{self, Role, ADMIN};
use crate::sessions::{self, Session, SessionHash};
use crate::stored::{self, ROLE_PREFIX, SESSION_PREFIX, USER_PREFIX};

/// The longest user name, in characters.
const NAME_MAX_CHARS: usize = 64;
/// The longest display name, in characters.
const DISPLAY_NAME_MAX_CHARS: usize = 100;

pub(crate) type UserMap = HashMap<String, Arc<UserRecord>>;
pub(crate) type RoleMap = BTreeMap<String, Arc<Role>>;
pub(crate) type SessionMap = HashMap<SessionHash, Arc<Session>>;

/// How console passwords are hashed and how long sessions last.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UserSettings {
    pub password: PasswordParams,
    /// A session unused for longer than this ends.
    pub session_idle_ms: i64,
    /// A session older than this ends, however busy.
    pub session_max_ms: i64,
}

impl UserSettings {
    /// Argon2id at m = 19 MiB, t = 2, p = 1; sessions end after 30 minutes idle or 12 hours.
    pub const fn production() -> UserSettings {
        UserSettings {
            password: PasswordParams::production(),
            session_idle_ms: 30 * 60 * 1000,
            session_max_ms: 12 * 60 * 60 * 1000,
        }
    }
}

/// Everything kept about one console user. It holds the password's Argon2id hash, never the
/// password, and `Debug` leaves even the hash out.
#[derive(Clone, PartialEq, Eq)]
pub struct UserRecord {
    /// Lower-cased: 1 to 64 characters of `a-z`, `0-9`, `.`, `_`, `@` and `-`.
    pub name: String,
    pub display_name: Option<String>,
    /// The PHC string of the password's Argon2id hash.
    pub(crate) password_phc: String,
    /// The name of the user's role.
    pub role: String,
    pub sandboxes: SandboxScope,
    /// A disabled user cannot sign in and has no session.
    pub disabled: bool,
    pub created_ms: i64,
    /// When the user was created or last changed by an administrator or a password change.
    pub updated_ms: i64,
    pub password_changed_ms: i64,
    /// Failed sign-ins since the last successful one.
    pub failed_logins: u32,
    /// Set after 5 failed sign-ins in a row: no sign-in is tried before then.
    pub locked_until_ms: Option<i64>,
}

impl UserRecord {
    /// Whether sign-ins are refused at `now_ms` after failed ones.
    pub fn is_locked(&self, now_ms: i64) -> bool {
        self.locked_until_ms.is_some_and(|until| now_ms < until)
    }
}

impl fmt::Debug for UserRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UserRecord")
            .field("name", &self.name)
            .field("display_name", &self.display_name)
            .field("password_phc", &format_args!("***"))
            .field("role", &self.role)
            .field("sandboxes", &self.sandboxes.names())
            .field("disabled", &self.disabled)
            .field("created_ms", &self.created_ms)
            .field("updated_ms", &self.updated_ms)
            .field("password_changed_ms", &self.password_changed_ms)
            .field("failed_logins", &self.failed_logins)
            .field("locked_until_ms", &self.locked_until_ms)
            .finish()
    }
}

/// A request to create a user. `password: None` asks for a generated one.
#[derive(Clone, PartialEq, Eq)]
pub struct NewUser {
    pub name: String,
    pub display_name: Option<String>,
    pub password: Option<String>,
    pub role: String,
    pub sandboxes: SandboxScope,
}

impl fmt::Debug for NewUser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewUser")
            .field("name", &self.name)
            .field("display_name", &self.display_name)
            .field(
                "password",
                &format_args!(
                    "{}",
                    if self.password.is_some() {
                        "Some(***)"
                    } else {
                        "None"
                    }
                ),
            )
            .field("role", &self.role)
            .field("sandboxes", &self.sandboxes.names())
            .finish()
    }
}

/// A change to a user: `None` leaves a field alone; `Some(None)` clears the display name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserPatch {
    pub display_name: Option<Option<String>>,
    pub role: Option<String>,
    pub sandboxes: Option<SandboxScope>,
    pub disabled: Option<bool>,
}

/// Every console user, role and session, loaded from the store at start and updated by each
/// write.
pub struct Users {
    store: Arc<dyn Store>,
    pub(crate) settings: UserSettings,
    /// The hash an unknown user's password is checked against.
    pub(crate) dummy_phc: String,
    /// Passwords checked since the store was opened ([`Users::password_verifications`]).
    pub(crate) verifications: std::sync::atomic::AtomicU64,
    pub(crate) users: ArcSwap<UserMap>,
    pub(crate) roles: ArcSwap<RoleMap>,
    pub(crate) sessions: ArcSwap<SessionMap>,
    /// Held for the whole of each write, so two writers never build on the same old maps.
    write_lock: Mutex<()>,
}

/// The writes of one change, committed in one transaction and then made visible in memory.
#[derive(Default)]
pub(crate) struct Change {
    pub(crate) put_users: Vec<Arc<UserRecord>>,
    pub(crate) removed_users: Vec<String>,
    pub(crate) put_roles: Vec<Arc<Role>>,
    pub(crate) removed_roles: Vec<String>,
    pub(crate) put_sessions: Vec<(SessionHash, Arc<Session>)>,
    pub(crate) removed_sessions: Vec<SessionHash>,
}

impl Users {
    /// Loads every user, role and session from `Table::Auth`. At first start (no role stored
    /// yet) it stores the built-in roles; a built-in role deleted later is not seeded again,
    /// except `admin`, which is stored again whenever it is missing.
    ///
    /// `settings.password` must be parameters Argon2 accepts (at least 8 KiB and 1 iteration).
    pub fn open(store: Arc<dyn Store>, settings: UserSettings) -> Result<Users> {
        let dummy_phc = password::dummy_hash(settings.password)?;
        let (user_rows, role_rows, session_rows) = {
            let txn = store.read()?;
            (
                store::collect_prefix(&*txn, Table::Auth, USER_PREFIX)?,
                store::collect_prefix(&*txn, Table::Auth, ROLE_PREFIX)?,
                store::collect_prefix(&*txn, Table::Auth, SESSION_PREFIX)?,
            )
        };
        let mut users = UserMap::with_capacity(user_rows.len());
        for (key, value) in user_rows {
            let user = decode_user(&key, &value)?;
            users.insert(user.name.clone(), Arc::new(user));
        }
        let mut roles = RoleMap::new();
        for (key, value) in role_rows {
            let role = roles::decode_role(&key, &value)?;
            roles.insert(role.name.clone(), Arc::new(role));
        }
        let mut sessions = SessionMap::with_capacity(session_rows.len());
        for (key, value) in session_rows {
            let (hash, session) = sessions::decode_session(&key, &value)?;
            sessions.insert(hash, Arc::new(session));
        }
        let seeds: Vec<Role> = roles::built_in_roles(system_now_ms())
            .into_iter()
            .filter(|r| roles.is_empty() || (r.name == ADMIN && !roles.contains_key(ADMIN)))
            .collect();
        let opened = Users {
            store,
            settings,
            dummy_phc,
            verifications: std::sync::atomic::AtomicU64::new(0),
            users: ArcSwap::from_pointee(users),
            roles: ArcSwap::from_pointee(roles),
            sessions: ArcSwap::from_pointee(sessions),
            write_lock: Mutex::new(()),
        };
        if !seeds.is_empty() {
            let writing = opened.lock_writes();
            let put_roles = seeds.into_iter().map(Arc::new).collect();
            opened.commit(
                &writing,
                Change {
                    put_roles,
                    ..Change::default()
                },
            )?;
        }
        Ok(opened)
    }

    /// Creates a user. With no password given, one of 20 characters is generated and returned,
    /// to be shown this once; a given one must meet the password rules.
    pub fn create_user(
        &self,
        new: NewUser,
        now_ms: i64,
    ) -> Result<(Arc<UserRecord>, Option<String>)> {
        let name = new.name.to_lowercase();
        check_name(&name)?;
        check_display_name(new.display_name.as_deref())?;
        check_sandboxes(&new.sandboxes)?;
        self.check_absent(&name)?;
        self.check_role_exists(&new.role)?;
        let (password, generated) = match new.password {
            Some(password) => (password, None),
            None => {
                let generated = password::generate()?;
                (generated.clone(), Some(generated))
            }
        };
        password::check_rules(&name, &password)?;
        // Hashing takes tens of milliseconds: done before taking the write lock.
        let password_phc = password::hash(self.settings.password, &password)?;

        let writing = self.lock_writes();
        self.check_absent(&name)?;
        self.check_role_exists(&new.role)?;
        let user = Arc::new(UserRecord {
            name,
            display_name: new.display_name,
            password_phc,
            role: new.role,
            sandboxes: new.sandboxes,
            disabled: false,
            created_ms: now_ms,
            updated_ms: now_ms,
            password_changed_ms: now_ms,
            failed_logins: 0,
            locked_until_ms: None,
        });
        self.commit(
            &writing,
            Change {
                put_users: vec![Arc::clone(&user)],
                ..Change::default()
            },
        )?;
        Ok((user, generated))
    }

    /// Every user, by name.
    pub fn users(&self) -> Vec<Arc<UserRecord>> {
        let mut users: Vec<Arc<UserRecord>> = self.users.load().values().cloned().collect();
        users.sort_by(|a, b| a.name.cmp(&b.name));
        users
    }

    /// The user with this name, in any case; `404 user_not_found` for an unknown one.
    pub fn user(&self, name: &str) -> Result<Arc<UserRecord>> {
        let name = name.to_lowercase();
        self.users
            .load()
            .get(&name)
            .cloned()
            .ok_or_else(|| AuthError::user_not_found(&name))
    }

    /// Changes a user's display name, role, sandboxes or whether it is disabled. Disabling a
    /// user ends its sessions.
    pub fn update_user(
        &self,
        name: &str,
        patch: UserPatch,
        now_ms: i64,
    ) -> Result<Arc<UserRecord>> {
        if let Some(display_name) = &patch.display_name {
            check_display_name(display_name.as_deref())?;
        }
        if let Some(sandboxes) = &patch.sandboxes {
            check_sandboxes(sandboxes)?;
        }
        let writing = self.lock_writes();
        let current = self.user(name)?;
        let mut changed = UserRecord::clone(&current);
        if let Some(display_name) = patch.display_name {
            changed.display_name = display_name;
        }
        if let Some(role) = patch.role {
            self.check_role_exists(&role)?;
            changed.role = role;
        }
        if let Some(sandboxes) = patch.sandboxes {
            changed.sandboxes = sandboxes;
        }
        if let Some(disabled) = patch.disabled {
            changed.disabled = disabled;
        }
        changed.updated_ms = now_ms;
        let removed_sessions = if changed.disabled {
            self.session_hashes_of(&changed.name)
        } else {
            Vec::new()
        };
        let changed = Arc::new(changed);
        self.commit(
            &writing,
            Change {
                put_users: vec![Arc::clone(&changed)],
                removed_sessions,
                ..Change::default()
            },
        )?;
        Ok(changed)
    }

    /// Gives a user a new password, which must meet the password rules; this also clears its
    /// failed sign-ins and ends its sessions.
    pub fn set_password(
        &self,
        name: &str,
        new_password: &str,
        now_ms: i64,
    ) -> Result<Arc<UserRecord>> {
        let name = self.user(name)?.name.clone();
        password::check_rules(&name, new_password)?;
        let password_phc = password::hash(self.settings.password, new_password)?;

        let writing = self.lock_writes();
        let mut changed = UserRecord::clone(&*self.user(&name)?);
        changed.password_phc = password_phc;
        changed.password_changed_ms = now_ms;
        changed.updated_ms = now_ms;
        changed.failed_logins = 0;
        changed.locked_until_ms = None;
        let changed = Arc::new(changed);
        self.commit(
            &writing,
            Change {
                put_users: vec![Arc::clone(&changed)],
                removed_sessions: self.session_hashes_of(&name),
                ..Change::default()
            },
        )?;
        Ok(changed)
    }

    /// Deletes a user and ends its sessions.
    pub fn delete_user(&self, name: &str) -> Result<()> {
        let writing = self.lock_writes();
        let name = self.user(name)?.name.clone();
        self.commit(
            &writing,
            Change {
                removed_sessions: self.session_hashes_of(&name),
                removed_users: vec![name],
                ..Change::default()
            },
        )
    }

    pub(crate) fn lock_writes(&self) -> MutexGuard<'_, ()> {
        // The lock guards no data, so a writer that panicked left nothing half-done behind it.
        self.write_lock
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Writes `change` in one transaction, then makes it visible in memory. The caller holds
    /// the write lock for the whole read-change-commit.
    pub(crate) fn commit(&self, _writing: &MutexGuard<'_, ()>, change: Change) -> Result<()> {
        let mut txn = self.store.write()?;
        for user in &change.put_users {
            txn.put(Table::Auth, &user_key(&user.name), &encode_user(user)?)?;
        }
        for name in &change.removed_users {
            txn.delete(Table::Auth, &user_key(name))?;
        }
        for role in &change.put_roles {
            txn.put(
                Table::Auth,
                &roles::role_key(&role.name),
                &roles::encode_role(role)?,
            )?;
        }
        for name in &change.removed_roles {
            txn.delete(Table::Auth, &roles::role_key(name))?;
        }
        let mut stored_last_seen = Vec::with_capacity(change.put_sessions.len());
        for (hash, session) in &change.put_sessions {
            let (value, last_seen_ms) = sessions::encode_session(hash, session)?;
            txn.put(Table::Auth, &sessions::session_key(hash), &value)?;
            stored_last_seen.push(last_seen_ms);
        }
        for hash in &change.removed_sessions {
            txn.delete(Table::Auth, &sessions::session_key(hash))?;
        }
        txn.commit()?;

        for ((_, session), last_seen_ms) in change.put_sessions.iter().zip(stored_last_seen) {
            session.stored(last_seen_ms);
        }
        if !(change.put_users.is_empty() && change.removed_users.is_empty()) {
            let mut users = UserMap::clone(&self.users.load());
            for user in change.put_users {
                users.insert(user.name.clone(), user);
            }
            for name in &change.removed_users {
                users.remove(name);
            }
            self.users.store(Arc::new(users));
        }
        if !(change.put_roles.is_empty() && change.removed_roles.is_empty()) {
            let mut roles = RoleMap::clone(&self.roles.load());
            for role in change.put_roles {
                roles.insert(role.name.clone(), role);
            }
            for name in &change.removed_roles {
                roles.remove(name);
            }
            self.roles.store(Arc::new(roles));
        }
        if !(change.put_sessions.is_empty() && change.removed_sessions.is_empty()) {
            let mut sessions = SessionMap::clone(&self.sessions.load());
            for (hash, session) in change.put_sessions {
                sessions.insert(hash, session);
            }
            for hash in &change.removed_sessions {
                sessions.remove(hash);
            }
            self.sessions.store(Arc::new(sessions));
        }
        Ok(())
    }

    /// The store the records live in, for writes that bypass `commit` (a session's last use).
    pub(crate) fn store(&self) -> &dyn Store {
        &*self.store
    }

    fn check_absent(&self, name: &str) -> Result<()> {
        if self.users.load().contains_key(name) {
            return Err(AuthError::new(
                Code::UserExists,
                format!("a user \"{name}\" already exists"),
            ));
        }
        Ok(())
    }

    fn check_role_exists(&self, role: &str) -> Result<()> {
        if !self.roles.load().contains_key(role) {
            return Err(AuthError::invalid_user(format!(
                "/role: no role \"{role}\""
            )));
        }
        Ok(())
    }
}

/// Milliseconds since the epoch by the system clock: only the time stamp of seeded roles.
fn system_now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

fn check_name(name: &str) -> Result<()> {
    let valid = (1..=NAME_MAX_CHARS).contains(&name.len())
        && name.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'@' | b'-')
        });
    if !valid {
        return Err(AuthError::invalid_user(format!(
            "/name: 1 to {NAME_MAX_CHARS} characters of a-z, 0-9, ., _, @ and -"
        )));
    }
    Ok(())
}

fn check_display_name(display_name: Option<&str>) -> Result<()> {
    if display_name
        .is_some_and(|d| d.trim().is_empty() || d.chars().count() > DISPLAY_NAME_MAX_CHARS)
    {
        return Err(AuthError::invalid_user(format!(
            "/displayName: 1 to {DISPLAY_NAME_MAX_CHARS} characters"
        )));
    }
    Ok(())
}

fn check_sandboxes(sandboxes: &SandboxScope) -> Result<()> {
    if matches!(sandboxes, SandboxScope::Only(names) if names.is_empty()) {
        return Err(AuthError::invalid_user(
            "/sandboxes: at least one sandbox, or [\"*\"] for all",
        ));
    }
    Ok(())
}

/// The stored layout of a user (postcard is not self-describing: append fields only under a
/// new version).
#[derive(Serialize, Deserialize)]
struct StoredUserV1 {
    name: String,
    display_name: Option<String>,
    password_phc: String,
    role: String,
    sandboxes: SandboxScope,
    disabled: bool,
    created_ms: i64,
    updated_ms: i64,
    password_changed_ms: i64,
    failed_logins: u32,
    locked_until_ms: Option<i64>,
}

fn user_key(name: &str) -> Vec<u8> {
    stored::key(USER_PREFIX, name)
}

fn encode_user(user: &UserRecord) -> Result<Vec<u8>> {
    let stored = StoredUserV1 {
        name: user.name.clone(),
        display_name: user.display_name.clone(),
        password_phc: user.password_phc.clone(),
        role: user.role.clone(),
        sandboxes: user.sandboxes.clone(),
        disabled: user.disabled,
        created_ms: user.created_ms,
        updated_ms: user.updated_ms,
        password_changed_ms: user.password_changed_ms,
        failed_logins: user.failed_logins,
        locked_until_ms: user.locked_until_ms,
    };
    stored::encode(&user_key(&user.name), &stored)
}

/// Decodes the user stored under `key`, checking that the name inside matches the key.
fn decode_user(key: &[u8], value: &[u8]) -> Result<UserRecord> {
    let stored: StoredUserV1 = stored::decode(key, value)?;
    if user_key(&stored.name) != key {
        return Err(stored::unreadable(
            key,
            format!("holds the record of user \"{}\"", stored.name),
        ));
    }
    Ok(UserRecord {
        name: stored.name,
        display_name: stored.display_name,
        password_phc: stored.password_phc,
        role: stored.role,
        sandboxes: stored.sandboxes,
        disabled: stored.disabled,
        created_ms: stored.created_ms,
        updated_ms: stored.updated_ms,
        password_changed_ms: stored.password_changed_ms,
        failed_logins: stored.failed_logins,
        locked_until_ms: stored.locked_until_ms,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_user_round_trips_through_its_stored_form() {
        let user = UserRecord {
            name: "alice@example.com".to_owned(),
            display_name: Some("Alice".to_owned()),
            password_phc: "$argon2id$v=19$m=64,t=1,p=1$c2FsdA$aGFzaA".to_owned(),
            role: "agent".to_owned(),
            sandboxes: SandboxScope::All,
            disabled: true,
            created_ms: 1,
            updated_ms: 2,
            password_changed_ms: 3,
            failed_logins: 4,
            locked_until_ms: Some(5),
        };
        let key = user_key(&user.name);
        let bytes = encode_user(&user).unwrap();
        assert_eq!(decode_user(&key, &bytes).unwrap(), user);
        assert!(decode_user(b"user\0bob", &bytes).is_err());
        assert!(!format!("{user:?}").contains("argon2"));
    }

    #[test]
    fn user_names_are_one_to_64_of_the_allowed_characters() {
        for good in ["a", "alice.smith@example.com", "bob_2-x", &"n".repeat(64)] {
            assert!(check_name(good).is_ok(), "{good}");
        }
        for bad in ["", "Alice", "al ice", "bob!", "é", &"n".repeat(65)] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
    }
}
