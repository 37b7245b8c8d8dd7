//! Reading the log: a page of the entries matching a filter, newest first, found through the
//! index that narrows most, with a cursor to the next page; and the export of a time window as
//! JSON Lines, oldest first, a thousand entries per read transaction.

use std::collections::BTreeSet;
use std::io::Write;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use store::{Direction, ReadTxn, Scan, Store, Table};

use crate::entry::{ActorKind, AuditAction, AuditEntry, IdentityRef};
use crate::error::{AuditError, Result};
use crate::identity::Pepper;
use crate::stored::{self, Stamp};

/// The page size when the caller names none.
pub const DEFAULT_QUERY_LIMIT: usize = 100;
/// The largest page.
pub const MAX_QUERY_LIMIT: usize = 1000;
/// The most entries one page reads; a page that stops there says where to go on.
pub const MAX_EXAMINED_PER_PAGE: usize = 20_000;
/// The most profile ids one query names.
pub const MAX_QUERY_PROFILES: usize = 1000;
/// Entries an export reads per read transaction, so it never pins old pages for long.
pub const EXPORT_ENTRIES_PER_READ: usize = 1000;

/// Which entries to read. Every filter given must match; `Default` reads everything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditQuery {
    /// Entries at or after this time (milliseconds since the Unix epoch).
    pub start_ms: i64,
    /// Entries before this time.
    pub end_ms: i64,
    /// `kind:id`, as `Actor` displays itself: `user:ana`, `key:0123…`.
    pub actor: Option<String>,
    /// An action's wire name.
    pub action: Option<String>,
    pub sandbox: Option<String>,
    /// Entries naming any of these profile ids (the caller adds the ids merged into them).
    pub profiles: Vec<u64>,
    pub identity: Option<IdentityFilter>,
    /// 1 to `MAX_QUERY_LIMIT` entries per page.
    pub limit: usize,
    /// Where the previous page stopped (its `next`).
    pub cursor: Option<String>,
}

impl Default for AuditQuery {
    fn default() -> AuditQuery {
        AuditQuery {
            start_ms: 0,
            end_ms: i64::MAX,
            actor: None,
            action: None,
            sandbox: None,
            profiles: Vec::new(),
            identity: None,
            limit: DEFAULT_QUERY_LIMIT,
            cursor: None,
        }
    }
}

/// The identity a query asks about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdentityFilter {
    /// A reference as entries show it.
    Ref(IdentityRef),
    /// An identity in clear, which the log hashes as it hashes the identities it records.
    Value { namespace: String, value: String },
}

/// One page of answers, newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditPage {
    pub entries: Vec<AuditEntry>,
    /// The cursor of the next page, when more entries may match.
    pub next: Option<String>,
}

/// A query checked and resolved into what an entry must be.
#[derive(Clone)]
struct Filter {
    /// The oldest stamp that can match.
    lower: Stamp,
    /// The first stamp past the window (the end, or the cursor).
    upper: Stamp,
    actor: Option<(ActorKind, String)>,
    action: Option<AuditAction>,
    sandbox: Option<String>,
    profiles: BTreeSet<u64>,
    identity: Option<[u8; 16]>,
}

impl Filter {
    fn new(query: &AuditQuery, pepper: &Pepper) -> Result<Filter> {
        if !(1..=MAX_QUERY_LIMIT).contains(&query.limit) {
            return Err(AuditError::invalid_query(format!(
                "limit: {} is not between 1 and {MAX_QUERY_LIMIT}",
                query.limit
            )));
        }
        if query.start_ms > query.end_ms {
            return Err(AuditError::invalid_query(format!(
                "start: {} is after end {}",
                query.start_ms, query.end_ms
            )));
        }
        if query.profiles.len() > MAX_QUERY_PROFILES {
            return Err(AuditError::invalid_query(format!(
                "profileId: at most {MAX_QUERY_PROFILES} profile ids, not {}",
                query.profiles.len()
            )));
        }
        let actor = query.actor.as_deref().map(parse_actor).transpose()?;
        let action = query
            .action
            .as_deref()
            .map(|name| {
                AuditAction::parse(name).ok_or_else(|| {
                    AuditError::invalid_query(format!(
                        "action: \"{name}\" is not an audit action name"
                    ))
                })
            })
            .transpose()?;
        let identity = query.identity.as_ref().map(|identity| match identity {
            IdentityFilter::Ref(reference) => reference.hmac,
            IdentityFilter::Value { namespace, value } => {
                pepper.identity_ref(namespace, value).hmac
            }
        });
        let end = Stamp::start_of(query.end_ms);
        let upper = match &query.cursor {
            Some(cursor) => decode_cursor(cursor)?.min(end),
            None => end,
        };
        Ok(Filter {
            lower: Stamp::start_of(query.start_ms),
            upper,
            actor,
            action,
            sandbox: query.sandbox.clone(),
            profiles: query.profiles.iter().copied().collect(),
            identity,
        })
    }

    fn matches(&self, entry: &AuditEntry) -> bool {
        self.actor
            .as_ref()
            .is_none_or(|(kind, id)| entry.actor.kind == *kind && entry.actor.id == *id)
            && self
                .action
                .as_ref()
                .is_none_or(|action| entry.action == *action)
            && self
                .sandbox
                .as_ref()
                .is_none_or(|sandbox| entry.sandbox.as_ref() == Some(sandbox))
            && (self.profiles.is_empty()
                || entry.profiles.iter().any(|id| self.profiles.contains(id)))
            && self.identity.is_none_or(|hmac| {
                entry
                    .identity
                    .as_ref()
                    .is_some_and(|identity| identity.hmac == hmac)
            })
    }

    /// The index prefixes each usable index would scan, most selective kind first, each with
    /// whether it is one whose keys the writer holds back (profiles, identities).
    fn index_plans(&self) -> Vec<(Vec<Vec<u8>>, bool)> {
        let mut plans = Vec::new();
        if let Some(hmac) = &self.identity {
            plans.push((vec![stored::identity_prefix(hmac)], true));
        }
        if let (Some(sandbox), false) = (&self.sandbox, self.profiles.is_empty()) {
            plans.push((
                self.profiles
                    .iter()
                    .map(|&profile| stored::profile_prefix(Some(sandbox), profile))
                    .collect(),
                true,
            ));
        }
        if let Some((kind, id)) = &self.actor {
            plans.push((vec![stored::actor_prefix(*kind, id)], false));
        }
        if let Some(action) = &self.action {
            plans.push((vec![stored::action_prefix(action)], false));
        }
        plans
    }
}

fn parse_actor(text: &str) -> Result<(ActorKind, String)> {
    text.split_once(':')
        .and_then(|(kind, id)| Some((ActorKind::parse(kind)?, id.to_owned())))
        .ok_or_else(|| {
            AuditError::invalid_query(format!(
                "actor: \"{text}\" is not kind:id, where kind is master, dev, key, user or system"
            ))
        })
}

fn encode_cursor(stamp: Stamp) -> String {
    URL_SAFE_NO_PAD.encode(stamp.bytes())
}

fn decode_cursor(cursor: &str) -> Result<Stamp> {
    URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|bytes| Stamp::from_bytes(&bytes))
        .ok_or_else(|| {
            AuditError::invalid_query(format!(
                "cursor: \"{cursor}\" is not a cursor from a previous page"
            ))
        })
}

/// Reads one page.
pub(crate) fn query(store: &dyn Store, pepper: &Pepper, query: &AuditQuery) -> Result<AuditPage> {
    let filter = Filter::new(query, pepper)?;
    if filter.lower >= filter.upper {
        return Ok(AuditPage {
            entries: Vec::new(),
            next: None,
        });
    }
    let txn = store.read()?;
    let plans = filter.index_plans();
    let chosen = if plans.len() > 1 {
        let mut counted = Vec::with_capacity(plans.len());
        for plan in plans {
            let count = count_keys(&*txn, &plan.0, &filter, MAX_EXAMINED_PER_PAGE + 1)?;
            counted.push((count, plan));
        }
        counted
            .into_iter()
            .min_by_key(|(count, _)| *count)
            .map(|(_, plan)| plan)
    } else {
        plans.into_iter().next()
    };
    let (prefixes, held_back) = match chosen {
        Some(plan) => plan,
        None => return read_in_time_order(&*txn, &filter, query.limit),
    };
    if !held_back {
        return read_through_index(&*txn, &prefixes, &filter, query.limit);
    }
    // The entries after `indexed-until` have no keys in this index yet: they are read in time
    // order (they are the newest), then the index below it.
    let Some(indexed_until) = stored::indexed_until(&*txn)? else {
        return read_through_index(&*txn, &prefixes, &filter, query.limit);
    };
    let mut recent = filter.clone();
    recent.lower = filter.lower.max(indexed_until);
    let mut page = if recent.lower < recent.upper {
        // Not capped: the writer bounds how many entries wait for their keys.
        read_in_time_order_examining(&*txn, &recent, query.limit, usize::MAX)?
    } else {
        AuditPage {
            entries: Vec::new(),
            next: None,
        }
    };
    if page.next.is_some() || filter.lower >= indexed_until {
        return Ok(page);
    }
    if page.entries.len() == query.limit {
        // The index may hold more: the next page starts below `indexed-until`.
        page.next = Some(encode_cursor(indexed_until.min(filter.upper)));
        return Ok(page);
    }
    let mut older = filter.clone();
    older.upper = filter.upper.min(indexed_until);
    let rest = read_through_index(&*txn, &prefixes, &older, query.limit - page.entries.len())?;
    page.entries.extend(rest.entries);
    page.next = rest.next;
    Ok(page)
}

/// How many index keys under `prefixes` fall in the window, counting no further than `cap`.
fn count_keys(
    txn: &dyn ReadTxn,
    prefixes: &[Vec<u8>],
    filter: &Filter,
    cap: usize,
) -> Result<usize> {
    let mut count = 0;
    for prefix in prefixes {
        txn.scan(
            Table::Audit,
            &stored::with_stamp(prefix.clone(), filter.lower),
            &stored::with_stamp(prefix.clone(), filter.upper),
            Direction::Backward,
            &mut |_, _| {
                count += 1;
                if count >= cap {
                    Scan::Stop
                } else {
                    Scan::Continue
                }
            },
        )?;
        if count >= cap {
            break;
        }
    }
    Ok(count)
}

/// The newest `MAX_EXAMINED_PER_PAGE` stamps under `prefixes` in the window, newest first, and
/// whether that is all of them.
fn newest_candidates(
    txn: &dyn ReadTxn,
    prefixes: &[Vec<u8>],
    filter: &Filter,
) -> Result<(Vec<Stamp>, bool)> {
    let mut kept = BTreeSet::new();
    let mut complete = true;
    for prefix in prefixes {
        txn.scan(
            Table::Audit,
            &stored::with_stamp(prefix.clone(), filter.lower),
            &stored::with_stamp(prefix.clone(), filter.upper),
            Direction::Backward,
            &mut |key, _| {
                let Some(stamp) = Stamp::of_key(key) else {
                    return Scan::Continue;
                };
                if kept.len() < MAX_EXAMINED_PER_PAGE {
                    kept.insert(stamp);
                    return Scan::Continue;
                }
                match kept.first() {
                    // Everything further down this prefix is older still.
                    Some(&oldest) if stamp < oldest => {
                        complete = false;
                        Scan::Stop
                    }
                    _ => {
                        if kept.insert(stamp) {
                            kept.pop_first();
                            complete = false;
                        }
                        Scan::Continue
                    }
                }
            },
        )?;
    }
    Ok((kept.into_iter().rev().collect(), complete))
}

fn read_through_index(
    txn: &dyn ReadTxn,
    prefixes: &[Vec<u8>],
    filter: &Filter,
    limit: usize,
) -> Result<AuditPage> {
    let (candidates, complete) = newest_candidates(txn, prefixes, filter)?;
    let mut entries = Vec::new();
    for (at, &stamp) in candidates.iter().enumerate() {
        let key = stored::entry_key(stamp);
        // An index key whose entry is gone (an unreadable entry pruned without it) is skipped.
        if let Some(value) = txn.get(Table::Audit, &key)? {
            let entry = stored::decode_entry(&key, value)?;
            if filter.matches(&entry) {
                entries.push(entry);
            }
        }
        if entries.len() == limit {
            let more = at + 1 < candidates.len() || !complete;
            return Ok(AuditPage {
                entries,
                next: more.then(|| encode_cursor(stamp)),
            });
        }
    }
    let next = match candidates.last() {
        Some(&oldest) if !complete => Some(encode_cursor(oldest)),
        _ => None,
    };
    Ok(AuditPage { entries, next })
}

fn read_in_time_order(txn: &dyn ReadTxn, filter: &Filter, limit: usize) -> Result<AuditPage> {
    read_in_time_order_examining(txn, filter, limit, MAX_EXAMINED_PER_PAGE)
}

/// [`read_in_time_order`], examining at most `max_examined` entries.
fn read_in_time_order_examining(
    txn: &dyn ReadTxn,
    filter: &Filter,
    limit: usize,
    max_examined: usize,
) -> Result<AuditPage> {
    let mut entries = Vec::new();
    let mut examined = 0;
    let mut last_examined = None;
    let mut more = false;
    let mut failure = None;
    txn.scan(
        Table::Audit,
        &stored::entry_key(filter.lower),
        &stored::entry_key(filter.upper),
        Direction::Backward,
        &mut |key, value| {
            if entries.len() == limit || examined == max_examined {
                more = true;
                return Scan::Stop;
            }
            examined += 1;
            last_examined = Stamp::of_key(key);
            match stored::decode_entry(key, value) {
                Ok(entry) => {
                    if filter.matches(&entry) {
                        entries.push(entry);
                    }
                    Scan::Continue
                }
                Err(error) => {
                    failure = Some(error);
                    Scan::Stop
                }
            }
        },
    )?;
    if let Some(error) = failure {
        return Err(error);
    }
    Ok(AuditPage {
        entries,
        next: last_examined.filter(|_| more).map(encode_cursor),
    })
}

/// Writes every entry in `[start_ms, end_ms)` to `out` as JSON Lines, oldest first; returns
/// how many.
pub(crate) fn export(
    store: &dyn Store,
    start_ms: i64,
    end_ms: i64,
    out: &mut dyn Write,
) -> Result<u64> {
    if start_ms > end_ms {
        return Err(AuditError::invalid_query(format!(
            "start: {start_ms} is after end {end_ms}"
        )));
    }
    let end = stored::entry_key(Stamp::start_of(end_ms));
    let mut from = Some(Stamp::start_of(start_ms));
    let mut count = 0u64;
    while let Some(start) = from {
        let mut batch = Vec::with_capacity(EXPORT_ENTRIES_PER_READ);
        {
            let txn = store.read()?;
            let mut failure = None;
            txn.scan(
                Table::Audit,
                &stored::entry_key(start),
                &end,
                Direction::Forward,
                &mut |key, value| match stored::decode_entry(key, value) {
                    Ok(entry) => {
                        batch.push(entry);
                        if batch.len() == EXPORT_ENTRIES_PER_READ {
                            Scan::Stop
                        } else {
                            Scan::Continue
                        }
                    }
                    Err(error) => {
                        failure = Some(error);
                        Scan::Stop
                    }
                },
            )?;
            if let Some(error) = failure {
                return Err(error);
            }
        }
        from = match batch.last() {
            Some(last) if batch.len() == EXPORT_ENTRIES_PER_READ => Stamp {
                ms: stored::millis(last.at_ms),
                seq: last.seq,
            }
            .successor(),
            _ => None,
        };
        let mut lines = Vec::new();
        for entry in &batch {
            serde_json::to_writer(&mut lines, entry).map_err(std::io::Error::from)?;
            lines.push(b'\n');
        }
        out.write_all(&lines)?;
        count += batch.len() as u64;
    }
    Ok(count)
}
