//! Merging a profile's fragments under a merge policy into the entity the lookup API returns.

mod dataset_precedence;
mod timestamp_ordered;

use rapport_types::ProfileId;
use serde_json::{json, Map, Value};

use crate::catalog::{AttributeMerge, IdentityGraphType, MergePolicy, SandboxCatalog};
use crate::identity::graph::Graph;
use crate::identity::IdentityKey;
use crate::records::StoredFragment;
use crate::time::format_rfc3339_ms;

/// Decides which fragments take part and in which order; later fragments win.
pub trait FragmentOrder {
    fn order<'f>(&self, fragments: Vec<&'f StoredFragment>) -> Vec<&'f StoredFragment>;
}

pub fn fragment_order(policy: &MergePolicy) -> Box<dyn FragmentOrder + '_> {
    match &policy.attribute_merge {
        AttributeMerge::TimestampOrdered => Box::new(timestamp_ordered::TimestampOrdered),
        AttributeMerge::DataSetPrecedence { order } => {
            Box::new(dataset_precedence::DataSetPrecedence { order })
        }
    }
}

/// Deep-merges `overlay` into `base`: objects merge key by key, anything else is replaced.
pub fn deep_merge(base: &mut Map<String, Value>, overlay: Map<String, Value>) {
    for (key, value) in overlay {
        match (base.get_mut(&key), value) {
            (Some(Value::Object(existing)), Value::Object(incoming)) => {
                deep_merge(existing, incoming)
            }
            (_, Value::Null) => {}
            (_, incoming) => {
                base.insert(key, incoming);
            }
        }
    }
}

/// The profile's primary identity: the highest-priority namespace, then the earliest seen.
pub fn primary_identity<'g>(catalog: &SandboxCatalog, graph: &'g Graph) -> Option<&'g IdentityKey> {
    graph
        .nodes
        .iter()
        .max_by(|x, y| {
            let priority = |k: &IdentityKey| {
                catalog
                    .namespace(&k.namespace)
                    .map(|n| n.effective_priority())
                    .unwrap_or(0)
            };
            priority(&x.identity)
                .cmp(&priority(&y.identity))
                .then_with(|| y.first_seen_ms.cmp(&x.first_seen_ms))
                .then_with(|| y.identity.cmp(&x.identity))
        })
        .map(|node| &node.identity)
}

/// Everything a merge needs about one profile.
pub struct MergeInput<'a> {
    pub catalog: &'a SandboxCatalog,
    pub profile_id: ProfileId,
    pub graph: &'a Graph,
    pub fragments: &'a [StoredFragment],
    /// With `identityGraph: none`, the identity that was looked up.
    pub focus: Option<&'a IdentityKey>,
}

/// What a profile's consents say, flagged on every lookup beside the entity:
/// `{"optedOutOfMarketing": bool, "optedOut": [channels answered "n"]}` (channels as named under
/// `consents.marketing`: `email`, `sms`, `call`, … and `any`). Segments that honour opt-outs
/// (`excludeOptOut`) leave out the profiles with `optedOutOfMarketing`.
pub fn consent_summary(entity: &Map<String, Value>) -> Value {
    let opted_out: Vec<&str> = entity
        .get("consents")
        .and_then(|c| c.get("marketing"))
        .and_then(Value::as_object)
        .map(|marketing| {
            marketing
                .iter()
                .filter(|(channel, _)| channel.as_str() != "preferred")
                .filter(|(_, choice)| {
                    choice
                        .get("val")
                        .and_then(Value::as_str)
                        .is_some_and(|v| v.eq_ignore_ascii_case("n"))
                })
                .map(|(channel, _)| channel.as_str())
                .collect()
        })
        .unwrap_or_default();
    // Only the consents are copied, to ask the rule segments use.
    let consents = json!({"consents": entity.get("consents").cloned().unwrap_or(Value::Null)});
    json!({
        "optedOutOfMarketing": crate::segment::membership::opted_out_of_marketing(&consents),
        "optedOut": opted_out,
    })
}

/// The merged entity: `{"entityId", "mergePolicy", "sources", "entity", "consent",
/// "lastModifiedAt"}`, and `"warnings"` when a guardrail bit the profile (none otherwise).
pub fn merge_entity(policy: &MergePolicy, input: &MergeInput<'_>) -> Value {
    let stitched = policy.identity_graph == IdentityGraphType::Pdg || input.focus.is_none();
    let in_scope: Vec<&StoredFragment> = input
        .fragments
        .iter()
        .filter(|f| stitched || Some(&f.primary) == input.focus)
        .collect();
    let ordered = fragment_order(policy).order(in_scope);
    let mut entity = Map::new();
    let mut sources: Vec<String> = Vec::new();
    let mut last_modified = input.graph.changed_ms;
    for fragment in ordered {
        let Ok(json) = fragment.record_json() else {
            continue;
        };
        let Ok(Value::Object(mut record)) = serde_json::from_slice::<Value>(&json) else {
            continue;
        };
        record.remove("identityMap");
        record.remove("_id");
        deep_merge(&mut entity, record);
        if !sources.contains(&fragment.dataset) {
            sources.push(fragment.dataset.clone());
        }
        last_modified = last_modified.max(fragment.ingested_ms);
    }
    let identities: Vec<&IdentityKey> = if stitched {
        input.graph.nodes.iter().map(|n| &n.identity).collect()
    } else {
        input.focus.into_iter().collect()
    };
    let primary = if stitched {
        primary_identity(input.catalog, input.graph)
    } else {
        input.focus
    };
    // Built in place: `json!` with an expression would copy the entity value by value.
    let mut identity_map = Map::new();
    for identity in identities {
        let mut item = Map::new();
        item.insert("id".into(), Value::String(identity.value.clone()));
        if Some(identity) == primary {
            item.insert("primary".into(), Value::Bool(true));
        }
        if let Value::Array(items) = identity_map
            .entry(identity.namespace.as_str())
            .or_insert_with(|| Value::Array(Vec::new()))
        {
            items.push(Value::Object(item));
        }
    }
    entity.insert("identityMap".into(), Value::Object(identity_map));
    sources.sort();
    let consent = consent_summary(&entity);
    let mut item = Map::new();
    item.insert(
        "entityId".into(),
        Value::String(input.profile_id.to_string()),
    );
    item.insert("mergePolicy".into(), json!({"id": policy.id}));
    item.insert(
        "sources".into(),
        Value::Array(sources.into_iter().map(Value::String).collect()),
    );
    item.insert("entity".into(), Value::Object(entity));
    item.insert("consent".into(), consent);
    item.insert(
        "lastModifiedAt".into(),
        Value::String(format_rfc3339_ms(last_modified, false)),
    );
    if !input.graph.guardrails.is_empty() {
        item.insert(
            "warnings".into(),
            crate::guardrails::warnings_json(&input.graph.guardrails),
        );
    }
    Value::Object(item)
}
