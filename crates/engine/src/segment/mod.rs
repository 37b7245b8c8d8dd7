//! Segments (audiences): definitions, their compiled index, memberships evaluated inside the
//! write that changes a profile, the schedule of time-based changes, batch jobs, previews and
//! explanations.
//!
//! Every definition is evaluated in real time: a write re-evaluates the definitions that read
//! what it changed before it is acknowledged, and a profile whose result may change as time
//! passes has an entry in the Schedule table at that instant, which the scheduler turns into a
//! re-evaluation without any new data.

pub mod definitions;
pub mod index;
pub mod jobs;
pub mod membership;

use rapport_types::{ProfileId, SandboxName};
use serde_json::Value;
use store::{Table, WriteTxn};

use crate::catalog::SandboxCatalog;
use crate::error::Result;
use crate::keys;
use crate::records::{decode_view, encode_view};

pub use definitions::SegmentDefinition;
pub use index::{SegmentIndex, Trigger};
pub use membership::{LoadedEvents, Membership, Memberships, Status};

/// Re-evaluates the definitions `trigger` may affect for a profile whose merged attributes are
/// `profile`, stores the memberships, and returns the `segmentMembership` object its view
/// carries (`None` when the sandbox has no definitions).
pub fn reevaluate(
    txn: &mut dyn WriteTxn,
    catalog: &SandboxCatalog,
    sandbox: &SandboxName,
    profile_id: ProfileId,
    profile: &Value,
    trigger: &Trigger,
    now_ms: i64,
) -> Result<Option<Value>> {
    let index = &catalog.segment_index;
    if index.is_empty() {
        // No definitions (the job that follows a deletion clears what is left).
        return Ok(None);
    }
    let mask = index.affected(trigger);
    let (previous, evaluated) =
        evaluate_stored(&*txn, index, &mask, sandbox, profile_id, profile, now_ms)?;
    let rendered = evaluated.memberships.to_json(now_ms);
    if evaluated.memberships != previous {
        membership::store(
            txn,
            sandbox,
            profile_id,
            evaluated.memberships,
            previous.next_check_ms,
        )?;
    }
    Ok(Some(rendered))
}

/// Evaluates the definitions `mask` selects over a profile's stored memberships and the events
/// they need; returns the memberships before and after.
fn evaluate_stored(
    txn: &dyn WriteTxn,
    index: &SegmentIndex,
    mask: &[bool],
    sandbox: &SandboxName,
    profile_id: ProfileId,
    profile: &Value,
    now_ms: i64,
) -> Result<(Memberships, membership::Evaluated)> {
    let previous = membership::load(txn, sandbox, profile_id)?;
    let events = membership::load_needed(
        txn,
        sandbox,
        profile_id,
        &membership::events_needed(index, mask),
        &index.decoding,
    )?;
    let refs = events.as_ref().map(LoadedEvents::refs);
    let evaluated = membership::evaluate(index, mask, profile, refs.as_deref(), &previous, now_ms);
    Ok((previous, evaluated))
}

/// After an event was stored without the profile's view being rebuilt: re-evaluates the
/// definitions reading that event type and patches `segmentMembership` into the view when a
/// membership changed. Returns false when the view is missing or stale, so the caller rebuilds it.
pub fn after_event(
    txn: &mut dyn WriteTxn,
    catalog: &SandboxCatalog,
    sandbox: &SandboxName,
    profile_id: ProfileId,
    event_type: Option<&str>,
    now_ms: i64,
) -> Result<bool> {
    patch_view(
        txn,
        catalog,
        sandbox,
        profile_id,
        &Trigger::Event(event_type.map(str::to_owned)),
        now_ms,
    )
}

/// Re-evaluates a profile from its prepared view (no merge): for new events and for time.
/// Returns false when the view is missing or stale, so the caller rebuilds it.
pub fn patch_view(
    txn: &mut dyn WriteTxn,
    catalog: &SandboxCatalog,
    sandbox: &SandboxName,
    profile_id: ProfileId,
    trigger: &Trigger,
    now_ms: i64,
) -> Result<bool> {
    let index = &catalog.segment_index;
    let mask = index.affected(trigger);
    // Time and jobs look even with nothing to evaluate: expired exits and the memberships of
    // deleted definitions go.
    let housekeeping = matches!(trigger, Trigger::Time | Trigger::Definitions(_));
    if !mask.iter().any(|m| *m) && !housekeeping {
        return Ok(true);
    }
    let key = keys::profile(sandbox, profile_id);
    // Evaluation reads only what the definitions read of the view; the whole view is parsed
    // again only to show changed memberships.
    let view = match txn.get(Table::Views, &key)?.and_then(decode_view) {
        Some((stamp, json)) if stamp == catalog.view_stamp => index.decoding.parse_view(json),
        _ => return Ok(false),
    };
    let Some(entity) = view.get("entity") else {
        return Ok(false);
    };
    let (previous, evaluated) =
        evaluate_stored(&*txn, index, &mask, sandbox, profile_id, entity, now_ms)?;
    // What the view shows changes only with the memberships themselves (or when it never
    // showed them: a view built before the first definition existed).
    let rendered = (evaluated.memberships.segments != previous.segments
        || entity.get("segmentMembership").is_none())
    .then(|| evaluated.memberships.to_json(now_ms));
    if evaluated.memberships != previous || *trigger == Trigger::Time {
        membership::store(
            txn,
            sandbox,
            profile_id,
            evaluated.memberships,
            previous.next_check_ms,
        )?;
    }
    if let Some(rendered) = rendered {
        let mut view = match txn.get(Table::Views, &key)?.and_then(decode_view) {
            Some((_, json)) => membership::parse_json(json),
            None => return Ok(false),
        };
        if let Some(Value::Object(object)) = view.get_mut("entity") {
            object.insert("segmentMembership".into(), rendered);
        }
        let json = serde_json::to_vec(&view).map_err(crate::error::Error::internal)?;
        txn.put(Table::Views, &key, &encode_view(&catalog.view_stamp, &json))?;
    }
    Ok(true)
}
