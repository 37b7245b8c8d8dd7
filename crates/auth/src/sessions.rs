//! Console sign-in and sessions: checking a password with throttling after failures, issuing a
//! session token, finding the session a token names (idle and absolute expiry), and ending
//! sessions. Only `sha256(token)` is stored.

use std::fmt;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use store::Table;
use subtle::ConstantTimeEq;

use crate::error::{AuthError, Result};
use crate::password;
use crate::secret::random_bytes;
use crate::stored::{self, SESSION_PREFIX};
use crate::users::{Change, UserRecord, Users};

/// What a session is found by: the SHA-256 of its token.
pub(crate) type SessionHash = [u8; 32];

/// Random bytes behind a session token and behind a CSRF token.
const TOKEN_BYTES: usize = 32;
/// Characters of a session token: base64url without padding of 32 bytes.
const TOKEN_CHARS: usize = 43;
/// Failed sign-ins in a row after which the user must wait before the next one.
const FREE_FAILURES: u32 = 5;
/// The longest wait after failed sign-ins: 15 minutes.
const MAX_LOCK_MS: i64 = 15 * 60 * 1000;
/// A session's last use is written to the store at most this often; a restart forgets at
/// most this much of it.
const LAST_SEEN_WRITE_MS: i64 = 60 * 1000;

/// A session in memory. Its last use changes on every lookup without a write to the store.
pub(crate) struct Session {
    pub(crate) user: String,
    created_ms: i64,
    csrf: [u8; TOKEN_BYTES],
    last_seen_ms: AtomicI64,
    /// The `last_seen_ms` the store holds.
    stored_last_seen_ms: AtomicI64,
}

impl Session {
    fn new(user: String, created_ms: i64, last_seen_ms: i64, csrf: [u8; TOKEN_BYTES]) -> Session {
        Session {
            user,
            created_ms,
            csrf,
            last_seen_ms: AtomicI64::new(last_seen_ms),
            stored_last_seen_ms: AtomicI64::new(last_seen_ms),
        }
    }

    fn last_seen_ms(&self) -> i64 {
        self.last_seen_ms.load(Ordering::Relaxed)
    }

    /// Records that the store now holds `last_seen_ms`.
    pub(crate) fn stored(&self, last_seen_ms: i64) {
        self.stored_last_seen_ms
            .fetch_max(last_seen_ms, Ordering::Relaxed);
    }

    fn expired(&self, idle_ms: i64, max_ms: i64, now_ms: i64) -> bool {
        now_ms.saturating_sub(self.last_seen_ms()) > idle_ms
            || now_ms.saturating_sub(self.created_ms) > max_ms
    }
}

/// What a successful sign-in returns. `Debug` leaves the tokens out.
#[derive(Clone)]
pub struct SignedIn {
    /// The session token for the cookie: 43 base64url characters, shown only here.
    pub token: String,
    pub user: Arc<UserRecord>,
    /// The session's CSRF token: 43 base64url characters.
    pub csrf: String,
}

impl fmt::Debug for SignedIn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignedIn")
            .field("token", &format_args!("***"))
            .field("user", &self.user)
            .field("csrf", &format_args!("***"))
            .finish()
    }
}

/// The live session a token names, and its user as it is now. `Debug` leaves the CSRF token
/// out.
#[derive(Clone)]
pub struct ActiveSession {
    pub user: Arc<UserRecord>,
    /// The session's CSRF token: 43 base64url characters.
    pub csrf: String,
    pub created_ms: i64,
    pub last_seen_ms: i64,
}

impl ActiveSession {
    /// Whether `presented` is the session's CSRF token, compared in constant time.
    pub fn csrf_matches(&self, presented: &str) -> bool {
        bool::from(self.csrf.as_bytes().ct_eq(presented.as_bytes()))
    }
}

impl fmt::Debug for ActiveSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ActiveSession")
            .field("user", &self.user)
            .field("csrf", &format_args!("***"))
            .field("created_ms", &self.created_ms)
            .field("last_seen_ms", &self.last_seen_ms)
            .finish()
    }
}

impl Users {
    /// How many passwords sign-ins have checked since the store was opened (one per attempt
    /// that was not throttled, whether or not the user exists).
    pub fn password_verifications(&self) -> u64 {
        self.verifications
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Signs a user in with a password and opens a new session.
    ///
    /// An unknown name, a wrong password and a disabled user are all `401 invalid_credentials`
    /// with one message, and all cost one Argon2 verification (an unknown name is checked
    /// against a dummy hash). After 5 failures in a row the user is locked for 2^(failures − 5)
    /// seconds, at most 15 minutes: a sign-in then is `429 login_throttled`, with the wait in
    /// the message and in `retry_after_seconds`, and is not checked. A success clears the count.
    pub fn sign_in(&self, name: &str, password: &str, now_ms: i64) -> Result<SignedIn> {
        let name = name.to_lowercase();
        let found = self.users.load().get(&name).cloned();
        if let Some(user) = &found {
            check_not_locked(user, now_ms)?;
        }
        let within_limit = password.chars().count() <= password::MAX_CHARS;
        let phc = match &found {
            Some(user) if within_limit => user.password_phc.as_str(),
            _ => self.dummy_phc.as_str(),
        };
        // Verified whatever was found, so that the time taken does not tell.
        let verified = password::verify(phc, if within_limit { password } else { "" });
        self.verifications
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let Some(user) = found else {
            return Err(AuthError::invalid_credentials());
        };
        let password_right = verified && within_limit;

        let writing = self.lock_writes();
        let current = self
            .users
            .load()
            .get(&name)
            .cloned()
            .ok_or_else(AuthError::invalid_credentials)?;
        check_not_locked(&current, now_ms)?;
        if current.disabled || current.password_phc != user.password_phc {
            // Disabled, or the password was changed while this one was being checked.
            return Err(AuthError::invalid_credentials());
        }
        if !password_right {
            let mut changed = UserRecord::clone(&current);
            changed.failed_logins = changed.failed_logins.saturating_add(1);
            if changed.failed_logins >= FREE_FAILURES {
                changed.locked_until_ms =
                    Some(now_ms.saturating_add(lock_ms(changed.failed_logins)));
            }
            self.commit(
                &writing,
                Change {
                    put_users: vec![Arc::new(changed)],
                    ..Change::default()
                },
            )?;
            return Err(AuthError::invalid_credentials());
        }

        let (user, put_users) = if current.failed_logins == 0 && current.locked_until_ms.is_none() {
            (current, Vec::new())
        } else {
            let mut cleared = UserRecord::clone(&current);
            cleared.failed_logins = 0;
            cleared.locked_until_ms = None;
            let cleared = Arc::new(cleared);
            (Arc::clone(&cleared), vec![cleared])
        };
        let token_bytes: [u8; TOKEN_BYTES] = random_bytes()?;
        let token = URL_SAFE_NO_PAD.encode(token_bytes);
        let csrf: [u8; TOKEN_BYTES] = random_bytes()?;
        let session = Arc::new(Session::new(user.name.clone(), now_ms, now_ms, csrf));
        self.commit(
            &writing,
            Change {
                put_users,
                put_sessions: vec![(token_hash(&token), session)],
                ..Change::default()
            },
        )?;
        Ok(SignedIn {
            token,
            user,
            csrf: URL_SAFE_NO_PAD.encode(csrf),
        })
    }

    /// The live session `token` names, or `None` when the token is malformed or unknown, the
    /// session has been idle longer than `session_idle_ms` or is older than `session_max_ms`,
    /// or its user is disabled or deleted; such a session is deleted.
    ///
    /// Each call counts as a use: the session's last use is updated in memory, and written to
    /// the store at most once a minute.
    pub fn session(&self, token: &str, now_ms: i64) -> Result<Option<ActiveSession>> {
        let Some(hash) = parse_token(token) else {
            return Ok(None);
        };
        let Some(session) = self.sessions.load().get(&hash).cloned() else {
            return Ok(None);
        };
        let user = self.users.load().get(&session.user).cloned();
        let expired = session.expired(
            self.settings.session_idle_ms,
            self.settings.session_max_ms,
            now_ms,
        );
        let user = match user {
            Some(user) if !user.disabled && !expired => user,
            _ => {
                self.end_session(&hash)?;
                return Ok(None);
            }
        };
        let last_seen_ms = session
            .last_seen_ms
            .fetch_max(now_ms, Ordering::Relaxed)
            .max(now_ms);
        let stored_ms = session.stored_last_seen_ms.load(Ordering::Relaxed);
        if last_seen_ms.saturating_sub(stored_ms) >= LAST_SEEN_WRITE_MS {
            self.write_last_seen(&hash, &session)?;
        }
        Ok(Some(ActiveSession {
            user,
            csrf: URL_SAFE_NO_PAD.encode(session.csrf),
            created_ms: session.created_ms,
            last_seen_ms,
        }))
    }

    /// Whether `token` names a live session at `now_ms` (known, neither idle nor too old, its
    /// user enabled), without counting as a use: a page kept open does not keep it alive.
    pub fn session_is_live(&self, token: &str, now_ms: i64) -> bool {
        let Some(hash) = parse_token(token) else {
            return false;
        };
        let Some(session) = self.sessions.load().get(&hash).cloned() else {
            return false;
        };
        let user_enabled = self
            .users
            .load()
            .get(&session.user)
            .is_some_and(|user| !user.disabled);
        user_enabled
            && !session.expired(
                self.settings.session_idle_ms,
                self.settings.session_max_ms,
                now_ms,
            )
    }

    /// Ends the session `token` names; an unknown or malformed token changes nothing.
    pub fn sign_out(&self, token: &str) -> Result<()> {
        match parse_token(token) {
            Some(hash) => self.end_session(&hash),
            None => Ok(()),
        }
    }

    /// Ends every session of the user `name` (in any case) and returns how many there were.
    pub fn end_sessions_of(&self, name: &str) -> Result<usize> {
        let writing = self.lock_writes();
        let removed_sessions = self.session_hashes_of(&name.to_lowercase());
        self.remove_sessions(&writing, removed_sessions)
    }

    /// Deletes every session that has expired by `now_ms` or whose user is disabled or gone,
    /// and returns how many there were: a sweep for sessions nobody comes back to.
    pub fn end_expired_sessions(&self, now_ms: i64) -> Result<usize> {
        let writing = self.lock_writes();
        let users = self.users.load();
        let removed_sessions: Vec<SessionHash> = self
            .sessions
            .load()
            .iter()
            .filter(|(_, session)| {
                session.expired(
                    self.settings.session_idle_ms,
                    self.settings.session_max_ms,
                    now_ms,
                ) || users.get(&session.user).is_none_or(|u| u.disabled)
            })
            .map(|(hash, _)| *hash)
            .collect();
        self.remove_sessions(&writing, removed_sessions)
    }

    /// Deletes these sessions (under the write lock held as `writing`); returns how many.
    fn remove_sessions(
        &self,
        writing: &std::sync::MutexGuard<'_, ()>,
        removed_sessions: Vec<SessionHash>,
    ) -> Result<usize> {
        let ended = removed_sessions.len();
        if ended > 0 {
            self.commit(
                writing,
                Change {
                    removed_sessions,
                    ..Change::default()
                },
            )?;
        }
        Ok(ended)
    }

    /// The hashes of every session of the user `name` (lower-cased).
    pub(crate) fn session_hashes_of(&self, name: &str) -> Vec<SessionHash> {
        self.sessions
            .load()
            .iter()
            .filter(|(_, session)| session.user == name)
            .map(|(hash, _)| *hash)
            .collect()
    }

    fn end_session(&self, hash: &SessionHash) -> Result<()> {
        let writing = self.lock_writes();
        if !self.sessions.load().contains_key(hash) {
            return Ok(());
        }
        self.commit(
            &writing,
            Change {
                removed_sessions: vec![*hash],
                ..Change::default()
            },
        )
    }

    /// Writes the session's last use to the store, unless it has ended meanwhile or another
    /// caller wrote it.
    fn write_last_seen(&self, hash: &SessionHash, session: &Arc<Session>) -> Result<()> {
        let _writing = self.lock_writes();
        let current = self.sessions.load().get(hash).cloned();
        if !current.is_some_and(|current| Arc::ptr_eq(&current, session)) {
            return Ok(());
        }
        let (value, last_seen_ms) = encode_session(hash, session)?;
        if last_seen_ms.saturating_sub(session.stored_last_seen_ms.load(Ordering::Relaxed))
            < LAST_SEEN_WRITE_MS
        {
            return Ok(());
        }
        let mut txn = self.store().write()?;
        txn.put(Table::Auth, &session_key(hash), &value)?;
        txn.commit()?;
        session.stored(last_seen_ms);
        Ok(())
    }
}

fn check_not_locked(user: &UserRecord, now_ms: i64) -> Result<()> {
    match user.locked_until_ms {
        Some(until) if now_ms < until => Err(AuthError::login_throttled(until - now_ms)),
        _ => Ok(()),
    }
}

/// How long a user waits after `failures` failed sign-ins in a row (at least 5): 2^(failures
/// − 5) seconds, at most 15 minutes.
fn lock_ms(failures: u32) -> i64 {
    let doublings = failures.saturating_sub(FREE_FAILURES).min(20);
    (1000_i64 << doublings).min(MAX_LOCK_MS)
}

/// What is stored for a session token: the SHA-256 of its text.
fn token_hash(token: &str) -> SessionHash {
    Sha256::digest(token.as_bytes()).into()
}

/// The hash of `token`, or `None` unless it has the shape of a session token.
fn parse_token(token: &str) -> Option<SessionHash> {
    let shaped = token.len() == TOKEN_CHARS
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    shaped.then(|| token_hash(token))
}

/// The stored layout of a session (postcard is not self-describing: append fields only under
/// a new version).
#[derive(Serialize, Deserialize)]
struct StoredSessionV1 {
    user: String,
    created_ms: i64,
    last_seen_ms: i64,
    csrf: [u8; TOKEN_BYTES],
}

/// The key of a session in `Table::Auth`: `session\0<hex of sha256(token)>`.
pub(crate) fn session_key(hash: &SessionHash) -> Vec<u8> {
    let hex: String = hash.iter().map(|b| format!("{b:02x}")).collect();
    stored::key(SESSION_PREFIX, &hex)
}

/// The stored value of a session, and the last use it records.
pub(crate) fn encode_session(hash: &SessionHash, session: &Session) -> Result<(Vec<u8>, i64)> {
    let last_seen_ms = session.last_seen_ms();
    let stored = StoredSessionV1 {
        user: session.user.clone(),
        created_ms: session.created_ms,
        last_seen_ms,
        csrf: session.csrf,
    };
    Ok((stored::encode(&session_key(hash), &stored)?, last_seen_ms))
}

/// Decodes the session stored under `key`, with the token hash its key holds.
pub(crate) fn decode_session(key: &[u8], value: &[u8]) -> Result<(SessionHash, Session)> {
    let hash = stored::key_name(SESSION_PREFIX, key)
        .and_then(parse_hex_hash)
        .ok_or_else(|| stored::unreadable(key, "not the key of a session"))?;
    let stored: StoredSessionV1 = stored::decode(key, value)?;
    let session = Session::new(
        stored.user,
        stored.created_ms,
        stored.last_seen_ms,
        stored.csrf,
    );
    Ok((hash, session))
}

/// 64 lowercase hex characters as 32 bytes.
fn parse_hex_hash(hex: &str) -> Option<SessionHash> {
    let digits = hex.as_bytes();
    if digits.len() != 64
        || !digits
            .iter()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(b))
    {
        return None;
    }
    let mut hash = [0u8; 32];
    for (byte, pair) in hash.iter_mut().zip(digits.chunks_exact(2)) {
        *byte = u8::from_str_radix(std::str::from_utf8(pair).ok()?, 16).ok()?;
    }
    Some(hash)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wait_doubles_from_one_second_after_five_failures_up_to_fifteen_minutes() {
        let waits: Vec<i64> = (5..=16).map(lock_ms).collect();
        assert_eq!(
            waits,
            [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 900, 900].map(|s| s * 1000)
        );
        assert_eq!(lock_ms(u32::MAX), MAX_LOCK_MS);
    }

    #[test]
    fn a_session_round_trips_through_its_stored_form() {
        let hash = token_hash("t");
        let session = Session::new("alice".to_owned(), 1, 2, [9; 32]);
        let (bytes, last_seen_ms) = encode_session(&hash, &session).unwrap();
        assert_eq!(last_seen_ms, 2);
        let (decoded_hash, decoded) = decode_session(&session_key(&hash), &bytes).unwrap();
        assert_eq!(decoded_hash, hash);
        assert_eq!(
            (
                decoded.user.as_str(),
                decoded.created_ms,
                decoded.last_seen_ms(),
                decoded.csrf
            ),
            ("alice", 1, 2, [9; 32])
        );
        assert!(decode_session(b"session\0abc", &bytes).is_err());
    }

    #[test]
    fn only_43_base64url_characters_are_a_session_token() {
        let token = URL_SAFE_NO_PAD.encode([7u8; 32]);
        assert_eq!(parse_token(&token), Some(token_hash(&token)));
        assert_eq!(parse_token(&token[..42]), None);
        assert_eq!(parse_token(&format!("{token}A")), None);
        assert_eq!(parse_token(&format!("{}=", &token[..42])), None);
    }
}
