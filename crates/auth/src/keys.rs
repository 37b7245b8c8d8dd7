//! The API keys of the server: a map in memory for checking tokens without touching the store,
//! kept in step with `Table::Auth`, where every create, change, rotation and revocation is
//! written before it takes effect.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use arc_swap::ArcSwap;
use rapport_types::{ActionSet, Code, Scope};
use store::{Store, Table};

use crate::error::{AuthError, Result};
use crate::record::{decode_record, encode_record, storage_key, STORAGE_PREFIX};
pub use crate::record::{ApiKeyRecord, KeyId, KeyPatch, KeyRateLimit, NewKey, SandboxScope};
use crate::secret::{
    format_token, hashes_equal, random_secret_text, secret_hash, split_token, TOKEN_PREFIX,
};

/// The longest name a key may have, in characters.
const NAME_MAX_CHARS: usize = 100;
/// The longest description a key may have, in characters.
const DESCRIPTION_MAX_CHARS: usize = 1000;
/// The longest an old secret may keep working after a rotation: seven days.
const MAX_GRACE_MS: i64 = 7 * 24 * 60 * 60 * 1000;
/// How many fresh ids to draw before giving up on finding an unused one (80 random bits: the
/// second draw practically never happens).
const ID_ATTEMPTS: usize = 4;

type KeyMap = HashMap<String, Arc<ApiKeyRecord>>;

/// Every API key, loaded from the store at start and updated by each write.
pub struct Keys {
    store: Arc<dyn Store>,
    records: ArcSwap<KeyMap>,
    /// Held for the whole of each write, so two writers never build on the same old map.
    write_lock: Mutex<()>,
}

impl Keys {
    /// Loads every key record from `Table::Auth`.
    pub fn open(store: Arc<dyn Store>) -> Result<Keys> {
        let rows = {
            let txn = store.read()?;
            store::collect_prefix(&*txn, Table::Auth, STORAGE_PREFIX)?
        };
        let mut records = KeyMap::with_capacity(rows.len());
        for (key, value) in rows {
            let record = decode_record(&key, &value)?;
            records.insert(record.id.as_str().to_owned(), Arc::new(record));
        }
        Ok(Keys {
            store,
            records: ArcSwap::from_pointee(records),
            write_lock: Mutex::new(()),
        })
    }

    /// Creates a key and returns its record and its token, which is shown this once.
    ///
    /// `granted` is what the creator holds (actions, sandboxes): the new key must be a subset
    /// of both.
    pub fn create(
        &self,
        new: NewKey,
        granted: (ActionSet, &SandboxScope),
        created_by: &str,
        now_ms: i64,
    ) -> Result<(Arc<ApiKeyRecord>, String)> {
        check_name(&new.name)?;
        check_description(new.description.as_deref())?;
        check_actions(new.actions)?;
        check_sandboxes(new.actions, &new.sandboxes)?;
        check_expiry(new.expires_ms, now_ms)?;
        check_rate_limit(new.rate_limit)?;
        check_no_escalation(new.actions, &new.sandboxes, granted)?;

        let writing = self.lock_writes();
        let id = self.unused_id()?;
        let secret = random_secret_text()?;
        let token = format_token(id.as_str(), &secret);
        let record = ApiKeyRecord {
            id,
            name: new.name,
            description: new.description,
            secret_sha256: Some(secret_hash(&secret)),
            previous_secret: None,
            actions: new.actions,
            sandboxes: new.sandboxes,
            expires_ms: new.expires_ms,
            created_ms: now_ms,
            created_by: created_by.to_owned(),
            revoked_ms: None,
            updated_ms: now_ms,
            role: new.role,
            rate_limit: new.rate_limit,
        };
        let record = self.save(&writing, record)?;
        Ok((record, token))
    }

    /// Every key, revoked ones included, oldest first (ties by id).
    pub fn list(&self) -> Vec<Arc<ApiKeyRecord>> {
        let mut records: Vec<Arc<ApiKeyRecord>> = self.records.load().values().cloned().collect();
        records.sort_by(|a, b| (a.created_ms, &a.id).cmp(&(b.created_ms, &b.id)));
        records
    }

    /// The key with this id; `404 api_key_not_found` for an unknown or malformed id.
    pub fn get(&self, id: &str) -> Result<Arc<ApiKeyRecord>> {
        self.records
            .load()
            .get(id)
            .cloned()
            .ok_or_else(|| key_not_found(id))
    }

    /// Changes a key's name, description or expiry; a revoked key cannot be changed.
    pub fn patch(&self, id: &str, patch: KeyPatch, now_ms: i64) -> Result<Arc<ApiKeyRecord>> {
        if let Some(name) = &patch.name {
            check_name(name)?;
        }
        if let Some(description) = &patch.description {
            check_description(description.as_deref())?;
        }
        if let Some(expires_ms) = patch.expires_ms {
            check_expiry(expires_ms, now_ms)?;
        }
        if let Some(rate_limit) = patch.rate_limit {
            check_rate_limit(rate_limit)?;
        }
        let writing = self.lock_writes();
        let current = self.get(id)?;
        check_not_revoked(&current)?;
        let mut changed = ApiKeyRecord::clone(&current);
        if let Some(name) = patch.name {
            changed.name = name;
        }
        if let Some(description) = patch.description {
            changed.description = description;
        }
        if let Some(expires_ms) = patch.expires_ms {
            changed.expires_ms = expires_ms;
        }
        if let Some(rate_limit) = patch.rate_limit {
            changed.rate_limit = rate_limit;
        }
        changed.updated_ms = now_ms;
        self.save(&writing, changed)
    }

    /// Gives the key a new secret under the same id and returns the new token, shown this once.
    /// The old secret keeps working until `now_ms + grace_ms` (0 to 7 days); an older secret
    /// still in a previous grace stops working at once.
    pub fn rotate(
        &self,
        id: &str,
        grace_ms: i64,
        now_ms: i64,
    ) -> Result<(Arc<ApiKeyRecord>, String)> {
        if !(0..=MAX_GRACE_MS).contains(&grace_ms) {
            return Err(AuthError::invalid_body(format!(
                "/graceSeconds: 0 to {}",
                MAX_GRACE_MS / 1000
            )));
        }
        let writing = self.lock_writes();
        let current = self.get(id)?;
        check_not_revoked(&current)?;
        let secret = random_secret_text()?;
        let token = format_token(current.id.as_str(), &secret);
        let mut changed = ApiKeyRecord::clone(&current);
        changed.secret_sha256 = Some(secret_hash(&secret));
        changed.previous_secret = match current.secret_sha256 {
            Some(old_hash) if grace_ms > 0 => Some((old_hash, now_ms.saturating_add(grace_ms))),
            _ => None,
        };
        changed.updated_ms = now_ms;
        let record = self.save(&writing, changed)?;
        Ok((record, token))
    }

    /// Revokes a key: its hashes are erased and `revoked_ms` set; the record stays. Revoking a
    /// revoked key changes nothing.
    pub fn revoke(&self, id: &str, now_ms: i64) -> Result<Arc<ApiKeyRecord>> {
        let writing = self.lock_writes();
        let current = self.get(id)?;
        if current.is_revoked() {
            return Ok(current);
        }
        let mut changed = ApiKeyRecord::clone(&current);
        changed.secret_sha256 = None;
        changed.previous_secret = None;
        changed.revoked_ms = Some(now_ms);
        changed.updated_ms = now_ms;
        self.save(&writing, changed)
    }

    /// The record of the key a caller presents.
    ///
    /// A malformed, unknown, revoked or wrong token is `401 invalid_api_key`; a right one whose
    /// key has expired is `401 api_key_expired`. The secret is compared by its hash in constant
    /// time, and the previous secret is accepted while its grace lasts.
    pub fn authenticate(&self, token: &str, now_ms: i64) -> Result<Arc<ApiKeyRecord>> {
        let (id, secret) = split_token(token).ok_or_else(AuthError::invalid_api_key)?;
        let record = self
            .records
            .load()
            .get(id)
            .cloned()
            .ok_or_else(AuthError::invalid_api_key)?;
        let presented = secret_hash(secret);
        let current_matches = record
            .secret_sha256
            .is_some_and(|stored| hashes_equal(&stored, &presented));
        let previous_matches = record
            .previous_secret
            .is_some_and(|(stored, valid_until_ms)| {
                now_ms < valid_until_ms && hashes_equal(&stored, &presented)
            });
        if record.is_revoked() || !(current_matches | previous_matches) {
            return Err(AuthError::invalid_api_key());
        }
        if let Some(expires_ms) = record.expires_ms {
            if now_ms >= expires_ms {
                return Err(AuthError::new(
                    Code::ApiKeyExpired,
                    format!(
                        "the API key {} expired at {}",
                        record.prefix(),
                        rfc3339(expires_ms)
                    ),
                ));
            }
        }
        Ok(record)
    }

    fn lock_writes(&self) -> MutexGuard<'_, ()> {
        // The lock guards no data, so a writer that panicked left nothing half-done behind it.
        self.write_lock
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// An id no key has yet.
    fn unused_id(&self) -> Result<KeyId> {
        let records = self.records.load();
        for _ in 0..ID_ATTEMPTS {
            let id = KeyId::random()?;
            if !records.contains_key(id.as_str()) {
                return Ok(id);
            }
        }
        Err(AuthError::internal(
            "could not draw an unused API key id: the system random source repeats itself",
        ))
    }

    /// Writes `record` in one transaction, then makes it visible in memory. The caller holds
    /// the write lock for the whole read-change-save.
    fn save(
        &self,
        _writing: &MutexGuard<'_, ()>,
        record: ApiKeyRecord,
    ) -> Result<Arc<ApiKeyRecord>> {
        let value = encode_record(&record)?;
        let mut txn = self.store.write()?;
        txn.put(Table::Auth, &storage_key(&record.id), &value)?;
        txn.commit()?;
        let record = Arc::new(record);
        let mut records = KeyMap::clone(&self.records.load());
        records.insert(record.id.as_str().to_owned(), Arc::clone(&record));
        self.records.store(Arc::new(records));
        Ok(record)
    }
}

fn key_not_found(id: &str) -> AuthError {
    let message = if id.starts_with(TOKEN_PREFIX) {
        // Someone passed a whole token where its id belongs: never echo the secret.
        format!(
            "no API key \"{TOKEN_PREFIX}…\": give the key's id (20 hex characters), not the key"
        )
    } else {
        format!("no API key \"{id}\"")
    };
    AuthError::new(Code::ApiKeyNotFound, message)
}

fn check_not_revoked(record: &ApiKeyRecord) -> Result<()> {
    if record.is_revoked() {
        return Err(AuthError::invalid_body("the key is revoked"));
    }
    Ok(())
}

fn check_name(name: &str) -> Result<()> {
    if name.trim().is_empty() || name.chars().count() > NAME_MAX_CHARS {
        return Err(AuthError::invalid_body(format!(
            "/name: 1 to {NAME_MAX_CHARS} characters"
        )));
    }
    Ok(())
}

fn check_description(description: Option<&str>) -> Result<()> {
    if description.is_some_and(|d| d.chars().count() > DESCRIPTION_MAX_CHARS) {
        return Err(AuthError::invalid_body(format!(
            "/description: at most {DESCRIPTION_MAX_CHARS} characters"
        )));
    }
    Ok(())
}

fn check_actions(actions: ActionSet) -> Result<()> {
    if actions == ActionSet::empty() {
        return Err(AuthError::invalid_body("/actions: at least one action"));
    }
    Ok(())
}

/// A key limited to some sandboxes cannot hold an action that applies to the whole server.
fn check_sandboxes(actions: ActionSet, sandboxes: &SandboxScope) -> Result<()> {
    let SandboxScope::Only(names) = sandboxes else {
        return Ok(());
    };
    if names.is_empty() {
        return Err(AuthError::invalid_body(
            "/sandboxes: at least one sandbox, or [\"*\"] for all",
        ));
    }
    if let Some(server_action) = actions.iter().find(|a| a.scope() == Scope::Server) {
        return Err(AuthError::invalid_body(format!(
            "/sandboxes: {server_action} is server-wide; use [\"*\"]"
        )));
    }
    Ok(())
}

fn check_expiry(expires_ms: Option<i64>, now_ms: i64) -> Result<()> {
    if expires_ms.is_some_and(|expires_ms| expires_ms <= now_ms) {
        return Err(AuthError::invalid_body("/expiresAt: must be in the future"));
    }
    Ok(())
}

/// A key's own rate limit: 1 to 100,000 requests a second, a burst of 1 to 1,000,000.
fn check_rate_limit(rate_limit: Option<KeyRateLimit>) -> Result<()> {
    let Some(limit) = rate_limit else {
        return Ok(());
    };
    if !(1..=100_000).contains(&limit.per_second) {
        return Err(AuthError::invalid_body(format!(
            "/rateLimit/perSecond: 1 to 100000 requests a second, got {}",
            limit.per_second
        )));
    }
    if !(1..=1_000_000).contains(&limit.burst) {
        return Err(AuthError::invalid_body(format!(
            "/rateLimit/burst: 1 to 1000000 requests at once, got {}",
            limit.burst
        )));
    }
    Ok(())
}

/// The new key may grant nothing its creator does not hold.
fn check_no_escalation(
    actions: ActionSet,
    sandboxes: &SandboxScope,
    (granted_actions, granted_sandboxes): (ActionSet, &SandboxScope),
) -> Result<()> {
    if let Some(not_held) = actions.iter().find(|a| !granted_actions.contains(*a)) {
        return Err(AuthError::new(
            Code::ActionNotPermitted,
            format!("/actions: you do not hold {not_held}, so a key you create cannot grant it"),
        ));
    }
    let SandboxScope::Only(reachable) = granted_sandboxes else {
        return Ok(());
    };
    match sandboxes {
        SandboxScope::All => Err(AuthError::new(
            Code::SandboxNotPermitted,
            format!(
                "/sandboxes: you reach only {}, so a key you create cannot reach every sandbox (\"*\")",
                granted_sandboxes.names().join(", ")
            ),
        )),
        SandboxScope::Only(wanted) => match wanted.difference(reachable).next() {
            Some(not_reachable) => Err(AuthError::new(
                Code::SandboxNotPermitted,
                format!(
                    "/sandboxes: you cannot reach sandbox \"{not_reachable}\", so a key you create cannot either"
                ),
            )),
            None => Ok(()),
        },
    }
}

/// `ms` since the epoch as RFC 3339 text (UTC), for messages.
fn rfc3339(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|at| {
            at.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| format!("{ms} ms after the Unix epoch"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_formats_milliseconds_in_utc() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_767_225_600_500), "2026-01-01T00:00:00.5Z");
    }

    #[test]
    fn a_whole_token_given_as_an_id_is_not_echoed() {
        let token = format!("rpk_0123456789abcdef0123_{}", "s".repeat(43));
        let error = key_not_found(&token);
        assert_eq!(error.code, Code::ApiKeyNotFound);
        assert!(!error.message.contains(&"s".repeat(43)));
        assert_eq!(
            key_not_found("nope").message,
            "no API key \"nope\"".to_owned()
        );
    }
}
