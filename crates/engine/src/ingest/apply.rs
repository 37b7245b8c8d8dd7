//! Applying prepared writes inside the writer's transaction: link identities, apply the graph
//! rules, move what changed hands, store the fragment or event, and refresh prepared views.
//!
//! Every consequence of a write lands in the same transaction as the write.

use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

use rapport_types::{ProfileId, SandboxName};
use store::{collect_prefix, collect_range, Table, WriteTxn};

use crate::catalog::SandboxCatalog;
use crate::error::{Error, Result};
use crate::guardrails::{self, Guardrail, GuardrailHit, Guardrails, Subject};
use crate::identity::graph::{
    resolve, Graph, LinkingRules, RefusedIdentity, RemovalReason, Resolution, Source, Touch,
};
use crate::identity::IdentityKey;
use crate::ingest::prepare::PreparedWrite;
use crate::keys;
use crate::merge::{merge_entity, MergeInput};
use crate::records::{
    decode, encode, encode_live, render_view, ProfileRecord, StoredEvent, StoredFragment,
};
use crate::segment::{self, Trigger};

/// The linking rules of one sandbox.
pub struct SandboxRules<'a> {
    pub catalog: &'a SandboxCatalog,
    pub graph_limit: usize,
}

impl LinkingRules for SandboxRules<'_> {
    fn is_unique(&self, namespace: &str) -> bool {
        self.catalog.namespace(namespace).is_some_and(|n| n.unique)
    }

    fn removal_rank(&self, namespace: &str) -> u8 {
        self.catalog
            .namespace(namespace)
            .map(|n| n.id_type.removal_rank())
            .unwrap_or(0)
    }

    fn graph_limit(&self) -> usize {
        self.graph_limit
    }
}

/// Reads the live graph of a profile, following nothing: forwards are resolved by callers.
pub fn load_graph(
    txn: &dyn WriteTxn,
    sandbox: &SandboxName,
    profile_id: ProfileId,
) -> Result<Option<Graph>> {
    match txn.get(Table::Profiles, &keys::profile(sandbox, profile_id))? {
        Some(bytes) => match decode::<ProfileRecord>(bytes)? {
            ProfileRecord::Live(graph) => Ok(Some(graph)),
            ProfileRecord::Forward(_) => Ok(None),
        },
        None => Ok(None),
    }
}

fn lookup_identity(
    txn: &dyn WriteTxn,
    sandbox: &SandboxName,
    identity: &IdentityKey,
) -> Result<Option<ProfileId>> {
    Ok(txn
        .get(Table::Identities, &keys::identity(sandbox, identity))?
        .and_then(ProfileId::from_be_slice))
}

fn allocate_profile_id(txn: &mut dyn WriteTxn) -> Result<ProfileId> {
    let next = txn
        .get(Table::Catalog, keys::PROFILE_COUNTER)?
        .and_then(ProfileId::from_be_slice)
        .map_or(1, |p| p.0 + 1);
    txn.put(Table::Catalog, keys::PROFILE_COUNTER, &next.to_be_bytes())?;
    Ok(ProfileId(next))
}

/// Everything the writer needs besides the write itself.
pub struct ApplyContext<'a> {
    pub catalog: &'a SandboxCatalog,
    pub graph_limit: usize,
    /// The other limits, and where hits are counted.
    pub guardrails: &'a Guardrails,
    /// This write's place in commit order.
    pub sequence: u64,
}

/// The component whose identities the graph limit isolated in this resolution (the largest
/// one the removed links touch), and how many identities it lost.
fn graph_limit_hit(resolution: &Resolution) -> Option<(usize, u64)> {
    let ends: BTreeSet<&IdentityKey> = resolution
        .removed
        .iter()
        .filter(|r| matches!(r.reason, RemovalReason::GraphLimit { .. }))
        .flat_map(|r| [&r.a, &r.b])
        .collect();
    let component_of = |identity: &IdentityKey| {
        resolution
            .components
            .iter()
            .position(|c| c.contains(identity))
    };
    let kept = ends
        .iter()
        .filter_map(|identity| component_of(identity))
        .max_by_key(|&i| (resolution.components[i].nodes.len(), std::cmp::Reverse(i)))?;
    let isolated = ends
        .iter()
        .filter(|identity| component_of(identity) != Some(kept))
        .count();
    Some((kept, isolated as u64))
}

/// Applies one write; returns the profile it landed in (`None` when its dataset feeds neither
/// the profile nor the identity graph).
pub fn apply_write(
    txn: &mut dyn WriteTxn,
    context: &ApplyContext<'_>,
    write: &PreparedWrite,
) -> Result<Option<ProfileId>> {
    if !write.to_profile && !write.link_identities {
        return Ok(None);
    }
    let sandbox = &write.sandbox;
    let now = write.received_ms;
    // An event dated before its dataset's expiration is not stored; its identities still link.
    let expired_after_days = expired_event(context.catalog, write);
    if let Some(days) = expired_after_days {
        if !write.link_identities && lookup_identity(txn, sandbox, &write.primary)?.is_none() {
            // No profile to tell: the dataset is named in the log instead.
            context.guardrails.hit(
                Guardrail::EventsExpired,
                Subject::Dataset(sandbox, &write.dataset_id),
                u64::from(days),
                1,
            );
            return Ok(None);
        }
    }
    let source = Source {
        dataset: write.dataset_id.clone(),
        record: write.source_record.clone(),
    };
    let linked: Vec<&IdentityKey> = if write.link_identities {
        write.identities.iter().collect()
    } else {
        vec![&write.primary]
    };

    let mut old_profiles: BTreeSet<ProfileId> = BTreeSet::new();
    for identity in &linked {
        if let Some(profile_id) = lookup_identity(txn, sandbox, identity)? {
            old_profiles.insert(profile_id);
        }
    }
    // A write that finds no profile creates them: their keys are put last.
    let placement = match old_profiles.is_empty() {
        true => Placement::Last,
        false => Placement::Anywhere,
    };
    let mut graph = Graph::default();
    let mut previous_owner: BTreeMap<IdentityKey, ProfileId> = BTreeMap::new();
    // Refused values are never nodes, so the rules cannot place them: they are set aside with
    // the profile they were on and given back once the profiles of the outcome are known.
    let mut refused_history: Vec<(ProfileId, RefusedIdentity)> = Vec::new();
    // Likewise the profile ids that forward to each old profile, and the guardrails' hits.
    let mut merged_into: BTreeMap<ProfileId, Vec<u64>> = BTreeMap::new();
    let mut hit_history: Vec<(ProfileId, Vec<GuardrailHit>)> = Vec::new();
    for profile_id in &old_profiles {
        if let Some(mut old_graph) = load_graph(txn, sandbox, *profile_id)? {
            merged_into.insert(*profile_id, std::mem::take(&mut old_graph.merged_profiles));
            hit_history.push((*profile_id, std::mem::take(&mut old_graph.guardrails)));
            refused_history.extend(
                std::mem::take(&mut old_graph.refused)
                    .into_iter()
                    .map(|refused| (*profile_id, refused)),
            );
            for node in &old_graph.nodes {
                previous_owner.insert(node.identity.clone(), *profile_id);
            }
            graph.absorb(old_graph);
        }
    }
    let mut structure_changed = old_profiles.len() > 1;
    let mut refreshed = false;
    let mut record = |touch: Touch| match touch {
        Touch::New => structure_changed = true,
        Touch::Refreshed => refreshed = true,
        Touch::Unchanged => {}
    };
    for identity in &linked {
        record(graph.touch_node(identity, now, &source));
    }
    if write.link_identities {
        for other in linked.iter().filter(|k| **k != &write.primary) {
            record(graph.touch_edge(&write.primary, other, now, &source));
        }
    }
    if structure_changed {
        graph.changed_ms = now;
    }

    let rules = SandboxRules {
        catalog: context.catalog,
        graph_limit: context.graph_limit,
    };
    let mut resolution = if structure_changed || old_profiles.is_empty() {
        resolve(graph, &rules, now)
    } else {
        graph.trim_history();
        graph.normalize();
        crate::identity::graph::Resolution {
            components: vec![graph],
            removed: Vec::new(),
        }
    };
    let split_or_merge =
        resolution.components.len() > 1 || old_profiles.len() > 1 || !resolution.removed.is_empty();

    // Give each component a profile id: components in order of their earliest identity take the
    // oldest (smallest) previous id of their members still free, or a new one.
    let mut order: Vec<usize> = (0..resolution.components.len()).collect();
    order.sort_by_key(|&i| {
        let component = &resolution.components[i];
        let earliest = component
            .nodes
            .iter()
            .map(|n| n.first_seen_ms)
            .min()
            .unwrap_or(i64::MAX);
        (
            earliest,
            component.nodes.first().map(|n| n.identity.clone()),
        )
    });
    let mut taken: BTreeSet<ProfileId> = BTreeSet::new();
    let mut assigned: Vec<Option<ProfileId>> = vec![None; resolution.components.len()];
    for &i in &order {
        let candidates: BTreeSet<ProfileId> = resolution.components[i]
            .nodes
            .iter()
            .filter_map(|n| previous_owner.get(&n.identity).copied())
            .filter(|p| !taken.contains(p))
            .collect();
        let profile_id = match candidates.first() {
            Some(p) => *p,
            None => allocate_profile_id(txn)?,
        };
        taken.insert(profile_id);
        assigned[i] = Some(profile_id);
    }
    let mut owner_of: BTreeMap<IdentityKey, ProfileId> = BTreeMap::new();
    for (i, component) in resolution.components.iter().enumerate() {
        let profile_id =
            assigned[i].ok_or_else(|| Error::internal("component without a profile id"))?;
        for node in &component.nodes {
            owner_of.insert(node.identity.clone(), profile_id);
        }
    }

    // Refusals stay with their profile id (or the survivor it now forwards to); this write's
    // go to the profile the write lands in.
    let component_of = |profile_id: ProfileId| assigned.iter().position(|a| *a == Some(profile_id));
    let survivor = taken.first().copied();
    for (old, refused) in refused_history {
        let home = if taken.contains(&old) {
            Some(old)
        } else {
            survivor
        };
        if let Some(i) = home.and_then(component_of) {
            resolution.components[i].refused.push(refused);
        }
    }
    if let Some(i) = owner_of.get(&write.primary).copied().and_then(component_of) {
        let component = &mut resolution.components[i];
        for (identity, reason) in &write.refused {
            component.refused.retain(|r| r.identity != *identity);
            component.refused.push(RefusedIdentity {
                identity: identity.clone(),
                refused_at_ms: now,
                source: source.clone(),
                reason: reason.clone(),
            });
        }
    }
    for component in &mut resolution.components {
        component.trim_history();
    }
    // Guardrail hits stay with their profile id too, or go to the survivor.
    for (old, hits) in hit_history {
        let home = if taken.contains(&old) {
            Some(old)
        } else {
            survivor
        };
        if let Some(i) = home.and_then(component_of) {
            for hit in hits {
                guardrails::note(&mut resolution.components[i].guardrails, hit);
            }
        }
    }
    // Components that get a new hit in this write: their graphs are written whatever else.
    let mut warned: BTreeSet<usize> = BTreeSet::new();
    let limits = *context.guardrails.limits();
    // `count` goes on the profile (what the guardrail acted on), `items` into the log.
    let mut flag =
        |components: &mut [Graph], i: usize, guardrail, limit: usize, count: u64, items: u64| {
            guardrails::note(
                &mut components[i].guardrails,
                GuardrailHit {
                    guardrail,
                    limit: limit as u64,
                    count,
                    last_at_ms: now,
                },
            );
            warned.insert(i);
            if let Some(profile_id) = assigned[i] {
                context.guardrails.hit(
                    guardrail,
                    Subject::Profile(sandbox, profile_id),
                    limit as u64,
                    items,
                );
            }
        };
    if let Some((i, isolated)) = graph_limit_hit(&resolution) {
        flag(
            &mut resolution.components,
            i,
            Guardrail::IdentityGraphLimit,
            context.graph_limit,
            isolated,
            isolated,
        );
    }

    // A profile id that lost all its identities forwards to the survivor, and so does every id
    // that forwarded to it: chains never grow past one hop.
    if let Some(&survivor) = taken.first() {
        let mut forwarded: Vec<u64> = Vec::new();
        for old in old_profiles.iter().filter(|old| !taken.contains(old)) {
            forwarded.push(old.0);
            forwarded.extend(merged_into.remove(old).unwrap_or_default());
            txn.delete(Table::Views, &keys::profile(sandbox, *old))?;
            segment::membership::forget(txn, sandbox, *old)?;
            crate::computed::forget(txn, sandbox, *old)?;
            context.guardrails.forget_event_count(sandbox, *old);
        }
        for id in &forwarded {
            txn.put(
                Table::Profiles,
                &keys::profile(sandbox, ProfileId(*id)),
                &encode(&ProfileRecord::Forward(survivor))?,
            )?;
        }
        for (i, component) in resolution.components.iter_mut().enumerate() {
            let Some(profile_id) = assigned[i] else {
                continue;
            };
            let mut merged = merged_into.remove(&profile_id).unwrap_or_default();
            if profile_id == survivor {
                merged.extend(&forwarded);
            }
            component.merged_profiles = merged;
        }
    }
    // The identity index now; the graphs once the guardrails had their say.
    for (i, component) in resolution.components.iter().enumerate() {
        let profile_id =
            assigned[i].ok_or_else(|| Error::internal("component without a profile id"))?;
        for node in &component.nodes {
            if previous_owner.get(&node.identity) != Some(&profile_id) {
                txn.put(
                    Table::Identities,
                    &keys::identity(sandbox, &node.identity),
                    &profile_id.to_be_bytes(),
                )?;
            }
        }
    }
    let mut touched: BTreeSet<ProfileId> = assigned.iter().flatten().copied().collect();
    if split_or_merge {
        for old in &old_profiles {
            move_data(txn, sandbox, *old, &owner_of, &mut touched)?;
        }
        // Events changed hands: each profile's events are counted afresh, and trimmed.
        for (i, profile_id) in assigned.iter().enumerate() {
            let Some(profile_id) = *profile_id else {
                continue;
            };
            context.guardrails.forget_event_count(sandbox, profile_id);
            let trimmed = guardrails::count_and_trim(
                txn,
                context.guardrails,
                sandbox,
                profile_id,
                0,
                limits.max_events_per_profile,
            )?;
            if trimmed > 0 {
                flag(
                    &mut resolution.components,
                    i,
                    Guardrail::EventsTrimmed,
                    limits.max_events_per_profile,
                    trimmed,
                    trimmed,
                );
                touched.insert(profile_id);
            }
        }
    }

    let target = *owner_of
        .get(&write.primary)
        .ok_or_else(|| Error::internal("primary identity has no profile"))?;
    let target_index = assigned
        .iter()
        .position(|p| *p == Some(target))
        .ok_or_else(|| Error::internal("the write's profile has no component"))?;
    let mut attributes_changed = structure_changed || split_or_merge;
    let mut new_fragment = None;
    let mut replaced_event = false;
    if write.to_profile {
        match (&write.event, expired_after_days) {
            (Some(_), Some(days)) => {
                flag(
                    &mut resolution.components,
                    target_index,
                    Guardrail::EventsExpired,
                    days as usize,
                    1,
                    1,
                );
            }
            (Some((event_id, timestamp_ms)), None) => {
                let (replaced, trimmed) = store_event(
                    txn,
                    context.guardrails,
                    sandbox,
                    target,
                    write,
                    event_id,
                    *timestamp_ms,
                )?;
                replaced_event = replaced;
                if trimmed > 0 {
                    flag(
                        &mut resolution.components,
                        target_index,
                        Guardrail::EventsTrimmed,
                        limits.max_events_per_profile,
                        trimmed,
                        trimmed,
                    );
                }
            }
            (None, _) => {
                let fragment = StoredFragment {
                    dataset: write.dataset_id.clone(),
                    primary: write.primary.clone(),
                    ingested_ms: write.received_ms,
                    sequence: context.sequence,
                    source_updated_ms: write.source_updated_ms,
                    json: crate::records::pack_json(&write.json),
                };
                let key = keys::fragment(sandbox, target, &write.dataset_id, &write.primary);
                put_placed(txn, placement, Table::Fragments, &key, &encode(&fragment)?)?;
                new_fragment = Some(fragment);
                attributes_changed = true;
            }
        }
        // An array longer than the guardrail allows is accepted, and its profile flagged.
        if let Some(items) = write.oversized_array {
            let (guardrail, limit) = match write.event {
                Some(_) => (Guardrail::EventArrayItems, limits.max_event_array_items),
                None => (Guardrail::ProfileArrayItems, limits.max_profile_array_items),
            };
            flag(
                &mut resolution.components,
                target_index,
                guardrail,
                limit,
                1,
                items as u64,
            );
        }
    }

    // Persist graphs (unless this write only re-saw known identities and links, and no
    // guardrail bit).
    let graph_changed = structure_changed
        || refreshed
        || split_or_merge
        || old_profiles.is_empty()
        || !write.refused.is_empty();
    for (i, component) in resolution.components.iter().enumerate() {
        if graph_changed || warned.contains(&i) {
            let profile_id =
                assigned[i].ok_or_else(|| Error::internal("component without a profile id"))?;
            let key = keys::profile(sandbox, profile_id);
            put_placed(
                txn,
                placement,
                Table::Profiles,
                &key,
                &encode_live(component)?,
            )?;
        }
    }

    // A hit shows on the profile's view at once; an event that trimmed others, or came with a
    // flag, rebuilds everything (its computed attributes and memberships are recomputed from
    // the events as they now stand).
    let target_warned = warned.contains(&target_index);
    let trigger = if structure_changed
        || split_or_merge
        || old_profiles.is_empty()
        || (target_warned && write.event.is_some())
    {
        Trigger::Everything
    } else {
        Trigger::Attributes
    };
    if attributes_changed || old_profiles.is_empty() || !write.refused.is_empty() || target_warned {
        touched.insert(target);
        // A profile this write created holds only what the write brought: build its view from
        // memory instead of reading back what was just written.
        let fresh = old_profiles.is_empty() && touched.len() == 1;
        match (fresh, assigned.iter().position(|p| *p == Some(target))) {
            (true, Some(i)) => {
                let fragments: Vec<StoredFragment> = new_fragment.into_iter().collect();
                write_view(
                    txn,
                    context.catalog,
                    sandbox,
                    target,
                    &resolution.components[i],
                    &fragments,
                    &trigger,
                    now,
                    placement,
                )?;
            }
            _ => {
                for profile_id in touched {
                    refresh_view(txn, context.catalog, sandbox, profile_id, &trigger, now)?;
                }
            }
        }
    } else if write.event.is_some()
        && write.to_profile
        && expired_after_days.is_none()
        && !segment::after_event(
            txn,
            context.catalog,
            sandbox,
            target,
            write.event_type.as_deref(),
            &crate::computed::NewEvent {
                id: write.event.as_ref().map_or("", |(id, _)| id.as_str()),
                event_type: write.event_type.as_deref(),
                timestamp_ms: write.event.as_ref().map_or(0, |(_, at)| *at),
                json: &write.json,
                replaced: replaced_event,
            },
            now,
        )?
    {
        refresh_view(
            txn,
            context.catalog,
            sandbox,
            target,
            &Trigger::Everything,
            now,
        )?;
    }
    Ok(Some(target))
}

/// The expiration (in days) of the write's dataset when the write is an event dated before it.
fn expired_event(catalog: &SandboxCatalog, write: &PreparedWrite) -> Option<u32> {
    let (_, timestamp_ms) = write.event.as_ref()?;
    let dataset = catalog.datasets.get(&write.dataset_id)?;
    let cutoff = dataset.event_expiry_cutoff_ms(write.received_ms)?;
    (*timestamp_ms < cutoff).then(|| dataset.event_ttl_days())?
}

/// Removes a profile's events that have expired (`cutoffs`: dataset → the instant before which
/// its events have), with their id entries; returns how many went, by dataset's
/// expiration in days. Events are keyed by time, so only the events older than the latest
/// cutoff are read.
pub(crate) fn expire_events(
    txn: &mut dyn WriteTxn,
    sandbox: &SandboxName,
    profile_id: ProfileId,
    cutoffs: &BTreeMap<String, (i64, u32)>,
) -> Result<Vec<(u32, u64)>> {
    let Some(latest) = cutoffs.values().map(|(cutoff, _)| *cutoff).max() else {
        return Ok(Vec::new());
    };
    let mut end = keys::profile(sandbox, profile_id);
    end.extend_from_slice(&keys::encode_time(latest));
    let old = collect_range(
        txn,
        Table::Events,
        &keys::profile(sandbox, profile_id),
        &end,
    )?;
    let mut expired: BTreeMap<u32, u64> = BTreeMap::new();
    for (key, value) in old {
        let event: StoredEvent = decode(&value)?;
        let Some((cutoff, days)) = cutoffs.get(&event.dataset) else {
            continue;
        };
        if event.timestamp_ms >= *cutoff {
            continue;
        }
        guardrails::remove_event(txn, &key, &event)?;
        *expired.entry(*days).or_default() += 1;
    }
    Ok(expired.into_iter().collect())
}

/// Moves the fragments and events of `from` whose primary identity now belongs to another profile.
fn move_data(
    txn: &mut dyn WriteTxn,
    sandbox: &SandboxName,
    from: ProfileId,
    owner_of: &BTreeMap<IdentityKey, ProfileId>,
    touched: &mut BTreeSet<ProfileId>,
) -> Result<()> {
    let prefix = keys::profile(sandbox, from);
    for (key, value) in collect_prefix(txn, Table::Fragments, &prefix)? {
        let fragment: StoredFragment = decode(&value)?;
        if let Some(&to) = owner_of.get(&fragment.primary).filter(|to| **to != from) {
            txn.delete(Table::Fragments, &key)?;
            txn.put(
                Table::Fragments,
                &keys::rekey_under(sandbox, &key, to),
                &value,
            )?;
            touched.insert(to);
            touched.insert(from);
        }
    }
    for (key, value) in profile_events(txn, sandbox, from)? {
        let event: StoredEvent = decode(&value)?;
        if let Some(&to) = owner_of.get(&event.primary).filter(|to| **to != from) {
            guardrails::remove_event(txn, &key, &event)?;
            file_moved_event(txn, sandbox, to, &key, &value, &event)?;
        }
    }
    Ok(())
}

/// Files an event moved from another profile under `to`. A profile holds one event per
/// (dataset, `_id`): when `to` already has one (the same event, sent before under an identity
/// that was not yet linked), the copy ingested last stays.
fn file_moved_event(
    txn: &mut dyn WriteTxn,
    sandbox: &SandboxName,
    to: ProfileId,
    old_key: &[u8],
    value: &[u8],
    event: &StoredEvent,
) -> Result<()> {
    let new_key = keys::rekey_under(sandbox, old_key, to);
    let id_key = guardrails::id_entry_of(&new_key)?;
    if let Some(filed_at) = txn.get(Table::Events, &id_key)?.and_then(keys::decode_time) {
        let suffix = keys::event_suffix(&event.dataset, &event.event_id);
        let held_key = keys::event(sandbox, to, filed_at, suffix);
        if let Some(bytes) = txn.get(Table::Events, &held_key)? {
            let held: StoredEvent = decode(bytes)?;
            if held.ingested_ms > event.ingested_ms {
                return Ok(());
            }
            txn.delete(Table::Events, &held_key)?;
        }
    }
    txn.put(Table::Events, &new_key, value)?;
    txn.put(
        Table::Events,
        &id_key,
        &keys::encode_time(event.timestamp_ms),
    )?;
    Ok(())
}

/// Every stored event of a profile (key and value), without its computed record.
pub(crate) fn profile_events(
    txn: &dyn WriteTxn,
    sandbox: &SandboxName,
    profile_id: ProfileId,
) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
    Ok(collect_range(
        txn,
        Table::Events,
        &keys::profile(sandbox, profile_id),
        &keys::events_end(sandbox, profile_id),
    )?)
}

/// Stores an event (replacing the profile's event with its (dataset, `_id`), if any), counts the
/// profile's events and trims the oldest beyond `max-events-per-profile`; returns whether it
/// replaced one, and how many went.
fn store_event(
    txn: &mut dyn WriteTxn,
    guardrails: &Guardrails,
    sandbox: &SandboxName,
    target: ProfileId,
    write: &PreparedWrite,
    event_id: &str,
    timestamp_ms: i64,
) -> Result<(bool, u64)> {
    let suffix = keys::event_suffix(&write.dataset_id, event_id);
    let id_key = keys::event_id(sandbox, target, suffix);
    // The same (dataset, _id) replaces the stored event instead of adding a second one.
    let mut replaced = false;
    let mut added = 1;
    if let Some(filed_at) = txn.get(Table::Events, &id_key)?.and_then(keys::decode_time) {
        let key = keys::event(sandbox, target, filed_at, suffix);
        if txn.get(Table::Events, &key)?.is_some() {
            txn.delete(Table::Events, &key)?;
            replaced = true;
            added = 0;
        }
    }
    let event = StoredEvent {
        dataset: write.dataset_id.clone(),
        event_id: event_id.to_owned(),
        primary: write.primary.clone(),
        timestamp_ms,
        ingested_ms: write.received_ms,
        json: write.json.clone(),
    };
    txn.put(
        Table::Events,
        &keys::event(sandbox, target, timestamp_ms, suffix),
        &encode(&event)?,
    )?;
    txn.put(Table::Events, &id_key, &keys::encode_time(timestamp_ms))?;
    let max_events = guardrails.limits().max_events_per_profile;
    let trimmed = guardrails::count_and_trim(txn, guardrails, sandbox, target, added, max_events)?;
    Ok((replaced, trimmed))
}

/// Reads every fragment of a profile.
pub fn load_fragments(
    txn: &(impl store::ReadTxn + ?Sized),
    sandbox: &SandboxName,
    profile_id: ProfileId,
) -> Result<Vec<StoredFragment>> {
    let prefix = keys::profile(sandbox, profile_id);
    let mut fragments = Vec::new();
    for (_, value) in collect_prefix(txn, Table::Fragments, &prefix)? {
        fragments.push(decode(&value)?);
    }
    Ok(fragments)
}

/// Rebuilds the prepared view of a profile under the sandbox's default merge policy.
pub fn refresh_view(
    txn: &mut dyn WriteTxn,
    catalog: &SandboxCatalog,
    sandbox: &SandboxName,
    profile_id: ProfileId,
    trigger: &Trigger,
    now_ms: i64,
) -> Result<()> {
    let key = keys::profile(sandbox, profile_id);
    let Some(graph) = load_graph(txn, sandbox, profile_id)? else {
        txn.delete(Table::Views, &key)?;
        return Ok(());
    };
    let fragments = load_fragments(txn, sandbox, profile_id)?;
    write_view(
        txn,
        catalog,
        sandbox,
        profile_id,
        &graph,
        &fragments,
        trigger,
        now_ms,
        Placement::Anywhere,
    )
}

/// Where a profile's keys fall in the tables keyed by profile id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Placement {
    /// Profiles this write created: their ids are the newest, so their keys sort last.
    Last,
    Anywhere,
}

/// Puts a profile's value, appending it when its key sorts last ([`WriteTxn::put_last`]).
fn put_placed(
    txn: &mut dyn WriteTxn,
    placement: Placement,
    table: Table,
    key: &[u8],
    value: &[u8],
) -> Result<()> {
    match placement {
        Placement::Last => txn.put_last(table, key, value)?,
        Placement::Anywhere => txn.put(table, key, value)?,
    }
    Ok(())
}

/// Merges a profile's graph and fragments under the default policy, re-evaluates the segment
/// definitions `trigger` may affect, and stores the view with its `segmentMembership`.
#[allow(clippy::too_many_arguments)]
fn write_view(
    txn: &mut dyn WriteTxn,
    catalog: &SandboxCatalog,
    sandbox: &SandboxName,
    profile_id: ProfileId,
    graph: &Graph,
    fragments: &[StoredFragment],
    trigger: &Trigger,
    now_ms: i64,
    placement: Placement,
) -> Result<()> {
    let key = keys::profile(sandbox, profile_id);
    let Some(policy) = catalog.default_merge_policy() else {
        return Err(Error::internal("sandbox has no default merge policy"));
    };
    let input = MergeInput {
        catalog,
        profile_id,
        graph,
        fragments,
        focus: None,
    };
    let mut entity = merge_entity(policy, &input);
    // Computed attributes first: segment definitions may read them. Anything but a plain
    // attribute change may have moved events, so their state is rebuilt from the events then.
    let rebuild = *trigger != Trigger::Attributes;
    crate::computed::maintain(txn, catalog, sandbox, profile_id, None, rebuild, now_ms)?;
    if let Some(Value::Object(attributes)) = entity.get_mut("entity") {
        attributes.remove("segmentMembership");
        if let Some(Value::Object(tenant)) = attributes.get_mut(&catalog.tenant_key) {
            tenant.remove(crate::computed::FIELD_GROUP);
        }
        if catalog.segment_index.any_reads_computed() {
            if let Some(values) =
                crate::computed::read_values_at(&*txn, catalog, sandbox, profile_id, now_ms)?
            {
                crate::computed::place_values(attributes, &catalog.tenant_key, values);
            }
        }
    }
    let memberships = segment::reevaluate(
        txn,
        catalog,
        sandbox,
        profile_id,
        &entity["entity"],
        trigger,
        now_ms,
    )?;
    // The view keeps a placeholder where the values go: they are composed in at read time.
    let rendered = render_view(
        &entity,
        &catalog.tenant_key,
        Some(crate::computed::PLACEHOLDER),
        memberships.as_deref(),
    )?;
    put_placed(
        txn,
        placement,
        Table::Views,
        &key,
        &rendered.encode(&catalog.view_stamp),
    )
}

/// Deletes a profile and everything stored under it: graph, identities, fragments, events, view.
pub fn delete_profile(
    txn: &mut dyn WriteTxn,
    sandbox: &SandboxName,
    profile_id: ProfileId,
) -> Result<bool> {
    let Some(graph) = load_graph(txn, sandbox, profile_id)? else {
        return Ok(false);
    };
    let prefix = keys::profile(sandbox, profile_id);
    for node in &graph.nodes {
        txn.delete(Table::Identities, &keys::identity(sandbox, &node.identity))?;
    }
    for (key, _) in collect_prefix(txn, Table::Fragments, &prefix)? {
        txn.delete(Table::Fragments, &key)?;
    }
    for (key, value) in profile_events(txn, sandbox, profile_id)? {
        let event: StoredEvent = decode(&value)?;
        guardrails::remove_event(txn, &key, &event)?;
    }
    txn.delete(Table::Profiles, &prefix)?;
    txn.delete(Table::Views, &prefix)?;
    segment::membership::forget(txn, sandbox, profile_id)?;
    crate::computed::forget(txn, sandbox, profile_id)?;
    Ok(true)
}

/// Removes every fragment and event of `dataset` from one profile (after the dataset was deleted).
pub fn purge_dataset(
    txn: &mut dyn WriteTxn,
    sandbox: &SandboxName,
    profile_id: ProfileId,
    dataset: &str,
) -> Result<()> {
    let mut fragments = keys::profile(sandbox, profile_id);
    fragments.extend_from_slice(dataset.as_bytes());
    fragments.push(0);
    for (key, _) in collect_prefix(txn, Table::Fragments, &fragments)? {
        txn.delete(Table::Fragments, &key)?;
    }
    for (key, value) in profile_events(txn, sandbox, profile_id)? {
        let event: StoredEvent = decode(&value)?;
        if event.dataset == dataset {
            guardrails::remove_event(txn, &key, &event)?;
        }
    }
    Ok(())
}
