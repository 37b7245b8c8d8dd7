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
use crate::records::{decode_view, render_view};

pub use definitions::SegmentDefinition;
pub use index::{SegmentIndex, Trigger};
pub use membership::{LoadedEvents, Membership, Memberships, Status};

/// Re-evaluates the definitions `trigger` may affect for a profile whose merged attributes are
/// `profile`, stores the memberships, and returns the JSON of the `segmentMembership` object its
/// view carries (`None` when the sandbox has no definitions).
pub fn reevaluate(
    txn: &mut dyn WriteTxn,
    catalog: &SandboxCatalog,
    sandbox: &SandboxName,
    profile_id: ProfileId,
    profile: &Value,
    trigger: &Trigger,
    now_ms: i64,
) -> Result<Option<Vec<u8>>> {
    let index = &catalog.segment_index;
    if index.is_empty() {
        // No definitions (the job that follows a deletion clears what is left).
        return Ok(None);
    }
    let mask = index.affected(trigger);
    let evaluated = evaluate_stored(&*txn, index, &mask, sandbox, profile_id, profile, now_ms)?;
    let rendered = evaluated.memberships.render(now_ms);
    if evaluated.dirty {
        membership::store(
            txn,
            sandbox,
            profile_id,
            evaluated.memberships,
            evaluated.previous_check,
        )?;
    }
    Ok(Some(rendered))
}

/// Evaluates the definitions `mask` selects over a profile's stored memberships and the events
/// they need.
fn evaluate_stored(
    txn: &dyn WriteTxn,
    index: &SegmentIndex,
    mask: &[bool],
    sandbox: &SandboxName,
    profile_id: ProfileId,
    profile: &Value,
    now_ms: i64,
) -> Result<membership::Evaluated> {
    let previous = membership::load(txn, sandbox, profile_id)?;
    let events = membership::load_needed(
        txn,
        sandbox,
        profile_id,
        &membership::events_needed(index, mask),
        &index.decoding,
    )?;
    let refs = events.as_ref().map(LoadedEvents::refs);
    Ok(membership::evaluate(
        index,
        mask,
        profile,
        refs.as_deref(),
        previous,
        now_ms,
    ))
}

/// After an event was stored without the profile's view being rebuilt: brings the computed
/// attributes up to date with it, re-evaluates the definitions reading that event type (and
/// those reading computed attributes, when a value moved), and patches the view. Returns false
/// when the view is missing or stale, so the caller rebuilds it.
pub fn after_event(
    txn: &mut dyn WriteTxn,
    catalog: &SandboxCatalog,
    sandbox: &SandboxName,
    profile_id: ProfileId,
    event_type: Option<&str>,
    event: &crate::computed::NewEvent<'_>,
    now_ms: i64,
) -> Result<bool> {
    patch_view(
        txn,
        catalog,
        sandbox,
        profile_id,
        &Trigger::Event(event_type.map(str::to_owned)),
        Some(event),
        now_ms,
    )
}

/// Re-evaluates a profile from its prepared view (no merge): for new events, for time, for
/// jobs. Returns false when the view is missing or stale, so the caller rebuilds it. The view
/// is written again only when its memberships change: computed attribute values are not in it.
pub fn patch_view(
    txn: &mut dyn WriteTxn,
    catalog: &SandboxCatalog,
    sandbox: &SandboxName,
    profile_id: ProfileId,
    trigger: &Trigger,
    event: Option<&crate::computed::NewEvent<'_>>,
    now_ms: i64,
) -> Result<bool> {
    let key = keys::profile(sandbox, profile_id);
    // One read of the view: what follows writes other tables only, so this copy stays current.
    let Some(view_bytes) = txn.get(Table::Views, &key)?.map(<[u8]>::to_vec) else {
        return Ok(false);
    };
    let stored = match decode_view(&view_bytes) {
        Some(stored) if stored.stamp == catalog.view_stamp => stored,
        _ => return Ok(false),
    };
    let shows_memberships = stored.membership.is_some();
    let computed =
        crate::computed::maintain(txn, catalog, sandbox, profile_id, event, false, now_ms)?;
    let index = &catalog.segment_index;
    let mut mask = index.affected(trigger);
    let reads_computed = index.reads_computed();
    if computed {
        for (selected, also) in mask.iter_mut().zip(reads_computed) {
            *selected |= also;
        }
    }
    // Time and jobs look even with nothing to evaluate: expired exits and the memberships of
    // deleted definitions go.
    let housekeeping = matches!(trigger, Trigger::Time | Trigger::Definitions(_));
    // With no definitions left, a view still showing memberships is evaluated once more, which
    // clears them.
    let evaluate =
        (!index.is_empty() || shows_memberships) && (mask.iter().any(|m| *m) || housekeeping);
    if !evaluate {
        return Ok(true);
    }
    // Evaluation reads only what the definitions read of the view, and the attribute values
    // when a definition to evaluate reads them.
    let mut view = index.decoding.parse_view(&stored.json);
    let values = match mask.iter().zip(reads_computed).any(|(m, r)| *m && *r) {
        true => crate::computed::read_values_at(&*txn, catalog, sandbox, profile_id, now_ms)?,
        false => None,
    };
    if let (Some(values), Some(Value::Object(entity))) = (values, view.get_mut("entity")) {
        crate::computed::place_values(entity, &catalog.tenant_key, values);
    }
    let Some(entity) = view.get("entity") else {
        return Ok(false);
    };
    let evaluated = evaluate_stored(&*txn, index, &mask, sandbox, profile_id, entity, now_ms)?;
    // What the view shows changes only with the memberships themselves (or when it never
    // showed them: a view built before the first definition existed).
    let rendered_memberships =
        (evaluated.changed || !shows_memberships).then(|| evaluated.memberships.render(now_ms));
    if evaluated.dirty || *trigger == Trigger::Time {
        membership::store(
            txn,
            sandbox,
            profile_id,
            evaluated.memberships,
            evaluated.previous_check,
        )?;
    }
    let Some(memberships) = rendered_memberships else {
        return Ok(true);
    };
    let rendered = match stored.replace(None, Some(&memberships)) {
        Some(rendered) => rendered,
        // The view lacks the memberships' place: render it whole.
        None => {
            let mut view = membership::parse_json(&stored.json);
            if let Some(Value::Object(entity)) = view.get_mut("entity") {
                entity.remove("segmentMembership");
            }
            render_view(
                &view,
                &catalog.tenant_key,
                Some(crate::computed::PLACEHOLDER),
                Some(&memberships),
            )?
        }
    };
    txn.put(Table::Views, &key, &rendered.encode(&catalog.view_stamp))?;
    Ok(true)
}
