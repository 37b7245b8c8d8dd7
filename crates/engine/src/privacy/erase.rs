//! Erasure inside the writer's transaction (`Job::Erase`): a privacy job's whole profile, or a
//! work order's records of some primary identities. Every function here is idempotent:
//! deleting an absent key changes nothing, so a job interrupted by a stop runs it again.
//!
//! What a profile erase removes, by table (security design §7):
//!
//! | table | what goes |
//! |---|---|
//! | `fragments` | every key under `sandbox \0 pid` |
//! | `events` | every event and the id entry that files it; the computed record |
//! | `views` | every key under `sandbox \0 pid` (the view and the memberships) |
//! | `schedule` | the entry the memberships record names, and the leftovers the worker found |
//! | `identities` | with `identity`: every node of the graph |
//! | `profiles` | with `identity`: the live graph and every forward listed in `merged_profiles` |
//! | other graphs | with `identity`: removed links and refused identities naming a deleted identity |
//!
//! Without `identity` the graph stays (the profile can form again from new data) and the
//! profile's view is rebuilt from it alone.

use std::collections::BTreeSet;

use rapport_types::{ProfileId, SandboxName};
use store::{collect_prefix, ReadTxn, Table, WriteTxn};

use crate::catalog::SandboxCatalog;
use crate::error::Result;
use crate::identity::graph::{Graph, RemovalReason, RemovedLink};
use crate::identity::IdentityKey;
use crate::ingest::apply::{profile_events, refresh_view};
use crate::keys;
use crate::records::{decode, encode_live, ProfileRecord, StoredEvent, StoredFragment};
use crate::segment::Trigger;

/// What one `Job::Erase` removes from one profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EraseScope {
    /// A privacy job's delete: everything of the profile; with `identity`, its graph too.
    Profile(ProfileErase),
    /// A work order: the fragments (of `dataset`, or of every dataset) and events stored
    /// against these primary identities; the view is then rebuilt.
    Records {
        dataset: Option<String>,
        identities: Vec<IdentityKey>,
    },
}

/// A privacy job's delete of one profile, with what the worker found beforehand in a read
/// transaction (so the writer does no scan of a whole table).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProfileErase {
    /// The identity graph goes too (the job includes the `identity` product).
    pub identity: bool,
    /// The person's identities in this sandbox (the graph's and the request's): other graphs'
    /// history naming one of them is rewritten without it.
    pub identities: Vec<IdentityKey>,
    /// Schedule entries (due times) of the profile found by a scan.
    pub schedule: Vec<i64>,
    /// Other profiles whose graph history names one of `identities`.
    pub neighbours: Vec<ProfileId>,
}

/// What an erase removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EraseOutcome {
    /// The live profile the id led to (following a forward), `None` when there was none.
    pub profile: Option<ProfileId>,
    pub fragments: u64,
    pub events: u64,
    pub identities: u64,
    /// Other graphs rewritten without the deleted identities.
    pub neighbours: u64,
}

/// The live profile an id leads to: itself, or the survivor it forwards to (one hop).
pub fn live_profile(
    txn: &(impl ReadTxn + ?Sized),
    sandbox: &SandboxName,
    profile_id: ProfileId,
) -> Result<Option<(ProfileId, Graph)>> {
    let mut id = profile_id;
    for _ in 0..2 {
        let Some(bytes) = txn.get(Table::Profiles, &keys::profile(sandbox, id))? else {
            return Ok(None);
        };
        match decode::<ProfileRecord>(bytes)? {
            ProfileRecord::Live(graph) => return Ok(Some((id, graph))),
            ProfileRecord::Forward(next) => id = next,
        }
    }
    Ok(None)
}

/// Applies one erase in the writer's transaction.
pub fn erase(
    txn: &mut dyn WriteTxn,
    catalog: &SandboxCatalog,
    sandbox: &SandboxName,
    profile_id: ProfileId,
    scope: &EraseScope,
    now_ms: i64,
) -> Result<EraseOutcome> {
    let Some((live, graph)) = live_profile(txn, sandbox, profile_id)? else {
        return Ok(EraseOutcome::default());
    };
    match scope {
        EraseScope::Profile(plan) => {
            erase_profile(txn, catalog, sandbox, live, graph, plan, now_ms)
        }
        EraseScope::Records {
            dataset,
            identities,
        } => erase_records(
            txn,
            catalog,
            sandbox,
            live,
            dataset.as_deref(),
            identities,
            now_ms,
        ),
    }
}

/// Deletes every key under `prefix` in `table`; returns how many went.
fn delete_prefix(txn: &mut dyn WriteTxn, table: Table, prefix: &[u8]) -> Result<u64> {
    let rows = collect_prefix(txn, table, prefix)?;
    for (key, _) in &rows {
        txn.delete(table, key)?;
    }
    Ok(rows.len() as u64)
}

/// Removes a profile's data rows: fragments, events and their ids, the computed record, the
/// view, the memberships and their schedule entries.
fn erase_data(
    txn: &mut dyn WriteTxn,
    sandbox: &SandboxName,
    profile_id: ProfileId,
    schedule: &[i64],
    outcome: &mut EraseOutcome,
) -> Result<()> {
    let prefix = keys::profile(sandbox, profile_id);
    outcome.fragments += delete_prefix(txn, Table::Fragments, &prefix)?;
    for (key, value) in profile_events(txn, sandbox, profile_id)? {
        let event: StoredEvent = decode(&value)?;
        crate::guardrails::remove_event(txn, &key, &event)?;
        outcome.events += 1;
    }
    // The memberships record names the profile's schedule entry: it goes first.
    crate::segment::membership::forget(txn, sandbox, profile_id)?;
    crate::computed::forget(txn, sandbox, profile_id)?;
    for due in schedule {
        txn.delete(Table::Schedule, &keys::schedule(sandbox, *due, profile_id))?;
    }
    // Whatever else is left under the profile's prefix (the computed record, the view and
    // the memberships, and anything a later layout adds).
    delete_prefix(txn, Table::Events, &prefix)?;
    delete_prefix(txn, Table::Views, &prefix)?;
    Ok(())
}

fn erase_profile(
    txn: &mut dyn WriteTxn,
    catalog: &SandboxCatalog,
    sandbox: &SandboxName,
    profile_id: ProfileId,
    graph: Graph,
    plan: &ProfileErase,
    now_ms: i64,
) -> Result<EraseOutcome> {
    let mut outcome = EraseOutcome {
        profile: Some(profile_id),
        ..EraseOutcome::default()
    };
    erase_data(txn, sandbox, profile_id, &plan.schedule, &mut outcome)?;
    if !plan.identity {
        // The graph stays; the profile shows its identities and nothing else.
        refresh_view(
            txn,
            catalog,
            sandbox,
            profile_id,
            &Trigger::Everything,
            now_ms,
        )?;
        return Ok(outcome);
    }
    let own_id = profile_id.to_be_bytes();
    for node in &graph.nodes {
        let key = keys::identity(sandbox, &node.identity);
        let ours = txn.get(Table::Identities, &key)? == Some(&own_id[..]);
        if ours {
            txn.delete(Table::Identities, &key)?;
            outcome.identities += 1;
        }
    }
    txn.delete(Table::Profiles, &keys::profile(sandbox, profile_id))?;
    for merged in &graph.merged_profiles {
        let merged = ProfileId(*merged);
        let key = keys::profile(sandbox, merged);
        let forwards_here = match txn.get(Table::Profiles, &key)? {
            Some(bytes) => {
                matches!(decode::<ProfileRecord>(bytes)?, ProfileRecord::Forward(to) if to == profile_id)
            }
            None => false,
        };
        if forwards_here {
            txn.delete(Table::Profiles, &key)?;
            // Nothing should be left under a merged-away id; make sure of it.
            erase_data(txn, sandbox, merged, &[], &mut outcome)?;
        }
    }

    // Other graphs' history naming one of the deleted identities.
    let mut names: BTreeSet<IdentityKey> = graph.nodes.iter().map(|n| n.identity.clone()).collect();
    names.extend(plan.identities.iter().cloned());
    let mut neighbours: BTreeSet<ProfileId> = plan.neighbours.iter().copied().collect();
    for link in &graph.removed {
        for other in link_identities(link) {
            if names.contains(&other) {
                continue;
            }
            let owner = txn
                .get(Table::Identities, &keys::identity(sandbox, &other))?
                .and_then(ProfileId::from_be_slice);
            if let Some(owner) = owner {
                neighbours.insert(owner);
            }
        }
    }
    neighbours.remove(&profile_id);
    for neighbour in neighbours {
        let Some((live, mut other)) = live_profile(txn, sandbox, neighbour)? else {
            continue;
        };
        if live == profile_id {
            continue;
        }
        if scrub_graph(&mut other, &names) {
            txn.put(
                Table::Profiles,
                &keys::profile(sandbox, live),
                &encode_live(&other)?,
            )?;
            outcome.neighbours += 1;
        }
    }
    Ok(outcome)
}

/// Every identity a removed link names: its two ends, and the kept and refused values of a
/// unique-namespace conflict.
pub fn link_identities(link: &RemovedLink) -> Vec<IdentityKey> {
    let mut named = vec![link.a.clone(), link.b.clone()];
    if let RemovalReason::UniqueNamespace {
        namespace,
        kept,
        refused,
    } = &link.reason
    {
        named.push(IdentityKey::new(namespace.clone(), kept.clone()));
        named.push(IdentityKey::new(namespace.clone(), refused.clone()));
    }
    named
}

/// Whether a graph's history (removed links, refused identities) names one of `names`.
pub fn graph_names(graph: &Graph, names: &BTreeSet<IdentityKey>) -> bool {
    graph
        .removed
        .iter()
        .any(|link| link_identities(link).iter().any(|k| names.contains(k)))
        || graph.refused.iter().any(|r| names.contains(&r.identity))
}

/// Drops from a graph's history every entry naming one of `names`; returns whether it changed.
pub fn scrub_graph(graph: &mut Graph, names: &BTreeSet<IdentityKey>) -> bool {
    let before = (graph.removed.len(), graph.refused.len());
    graph
        .removed
        .retain(|link| !link_identities(link).iter().any(|k| names.contains(k)));
    graph.refused.retain(|r| !names.contains(&r.identity));
    before != (graph.removed.len(), graph.refused.len())
}

fn erase_records(
    txn: &mut dyn WriteTxn,
    catalog: &SandboxCatalog,
    sandbox: &SandboxName,
    profile_id: ProfileId,
    dataset: Option<&str>,
    identities: &[IdentityKey],
    now_ms: i64,
) -> Result<EraseOutcome> {
    let wanted: BTreeSet<&IdentityKey> = identities.iter().collect();
    let mut outcome = EraseOutcome {
        profile: Some(profile_id),
        ..EraseOutcome::default()
    };
    let mut prefix = keys::profile(sandbox, profile_id);
    if let Some(dataset) = dataset {
        prefix.extend_from_slice(dataset.as_bytes());
        prefix.push(0);
    }
    for (key, value) in collect_prefix(txn, Table::Fragments, &prefix)? {
        let fragment: StoredFragment = decode(&value)?;
        if wanted.contains(&fragment.primary) {
            txn.delete(Table::Fragments, &key)?;
            outcome.fragments += 1;
        }
    }
    for (key, value) in profile_events(txn, sandbox, profile_id)? {
        let event: StoredEvent = decode(&value)?;
        let in_dataset = dataset.is_none_or(|d| d == event.dataset);
        if in_dataset && wanted.contains(&event.primary) {
            crate::guardrails::remove_event(txn, &key, &event)?;
            outcome.events += 1;
        }
    }
    if outcome.fragments + outcome.events > 0 {
        refresh_view(
            txn,
            catalog,
            sandbox,
            profile_id,
            &Trigger::Everything,
            now_ms,
        )?;
    }
    Ok(outcome)
}
