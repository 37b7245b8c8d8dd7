//! What an access job gives the data subject for one profile: the reference's
//! `{"sandbox", "mergePolicyId": "none", "result"}` with the merged entity unredacted, and
//! under `rapport` every stored part of the profile (fragments, events, computed attributes,
//! scores, segment memberships and the identity graph).

use rapport_types::{ProfileId, SandboxName};
use serde_json::{json, Map, Value};
use store::{collect_range, ReadTxn, Table};

use super::jobs::Product;
use crate::catalog::SandboxCatalog;
use crate::error::Result;
use crate::identity::graph::{Graph, RemovalReason};
use crate::ingest::apply::load_fragments;
use crate::keys;
use crate::lookup::{self, EntityRef, ProfileRequest};
use crate::records::{decode, StoredEvent};
use crate::segment::membership::parse_json;
use crate::time::format_rfc3339_ms;

fn identity_json(namespace: &str, id: &str) -> Value {
    json!({"namespace": {"code": namespace}, "id": id})
}

/// The identity graph as the data subject reads it.
pub fn graph_json(graph: &Graph) -> Value {
    let nodes: Vec<Value> = graph
        .nodes
        .iter()
        .map(|n| {
            json!({
                "identity": identity_json(&n.identity.namespace, &n.identity.value),
                "firstSeen": format_rfc3339_ms(n.first_seen_ms, true),
                "lastSeen": format_rfc3339_ms(n.last_seen_ms, true),
                "datasetId": n.source.dataset,
            })
        })
        .collect();
    let edges: Vec<Value> = graph
        .edges
        .iter()
        .map(|e| {
            json!({
                "from": identity_json(&e.a.namespace, &e.a.value),
                "to": identity_json(&e.b.namespace, &e.b.value),
                "firstSeen": format_rfc3339_ms(e.first_seen_ms, true),
                "lastSeen": format_rfc3339_ms(e.last_seen_ms, true),
                "datasetId": e.source.dataset,
            })
        })
        .collect();
    let removed: Vec<Value> = graph
        .removed
        .iter()
        .map(|r| {
            let reason = match &r.reason {
                RemovalReason::UniqueNamespace {
                    namespace,
                    kept,
                    refused,
                } => format!(
                    "{namespace} is unique in a graph: the link to {namespace} {kept} won and the link to {namespace} {refused} was removed"
                ),
                RemovalReason::GraphLimit { limit } => {
                    format!("the graph would have held more than {limit} identities")
                }
            };
            json!({
                "from": identity_json(&r.a.namespace, &r.a.value),
                "to": identity_json(&r.b.namespace, &r.b.value),
                "removedAt": format_rfc3339_ms(r.removed_at_ms, true),
                "datasetId": r.source.dataset,
                "reason": reason,
            })
        })
        .collect();
    let refused: Vec<Value> = graph
        .refused
        .iter()
        .map(|r| {
            json!({
                "identity": identity_json(&r.identity.namespace, &r.identity.value),
                "refusedAt": format_rfc3339_ms(r.refused_at_ms, true),
                "datasetId": r.source.dataset,
                "reason": r.reason.describe(),
            })
        })
        .collect();
    json!({
        "identities": nodes,
        "links": edges,
        "removedLinks": removed,
        "refusedIdentities": refused,
        "mergedProfiles": graph.merged_profiles.iter().map(|id| ProfileId(*id).to_string()).collect::<Vec<_>>(),
    })
}

/// One profile's part of an access result.
pub fn profile_json(
    txn: &dyn ReadTxn,
    catalog: &SandboxCatalog,
    sandbox: &SandboxName,
    profile_id: ProfileId,
    graph: &Graph,
    products: &[Product],
) -> Result<Value> {
    let mut rapport = Map::new();
    rapport.insert("profileId".into(), json!(profile_id.to_string()));
    let mut entry = json!({"sandbox": sandbox.as_str(), "mergePolicyId": "none"});
    if products.contains(&Product::ProfileService) {
        let request = ProfileRequest {
            with_computed: true,
            ..ProfileRequest::default()
        };
        let item = lookup::profile(
            txn,
            catalog,
            sandbox,
            &EntityRef::Profile(profile_id),
            &request,
            // A person's access request returns everything kept about them.
            &crate::access::Redaction::none(),
        )?
        .map(|(_, bytes)| parse_json(&bytes))
        .unwrap_or(Value::Null);
        entry["result"] = item.get("entity").cloned().unwrap_or(Value::Null);

        let fragments: Vec<Value> = load_fragments(txn, sandbox, profile_id)?
            .into_iter()
            .map(|f| {
                json!({
                    "datasetId": f.dataset,
                    "primaryIdentity": identity_json(&f.primary.namespace, &f.primary.value),
                    "ingestedAt": format_rfc3339_ms(f.ingested_ms, true),
                    "record": f.record_json().map(|json| parse_json(&json)).unwrap_or(Value::Null),
                })
            })
            .collect();
        rapport.insert("fragments".into(), Value::Array(fragments));

        let mut events = Vec::new();
        for (_, value) in collect_range(
            txn,
            Table::Events,
            &keys::profile(sandbox, profile_id),
            &keys::events_end(sandbox, profile_id),
        )? {
            let event: StoredEvent = decode(&value)?;
            events.push(json!({
                "datasetId": event.dataset,
                "primaryIdentity": identity_json(&event.primary.namespace, &event.primary.value),
                "ingestedAt": format_rfc3339_ms(event.ingested_ms, true),
                "event": parse_json(&event.json),
            }));
        }
        rapport.insert("events".into(), Value::Array(events));

        let score_names: Vec<&str> = crate::scores::schema_fields()
            .into_iter()
            .map(|(name, _)| name)
            .collect();
        let mut computed = Map::new();
        let mut scores = Map::new();
        if let Some(Value::Object(values)) =
            crate::computed::read_values(txn, catalog, sandbox, profile_id)?
        {
            for (name, value) in values {
                if score_names.contains(&name.as_str()) {
                    scores.insert(name, value);
                } else {
                    computed.insert(name, value);
                }
            }
        }
        rapport.insert("computedAttributes".into(), Value::Object(computed));
        rapport.insert("scores".into(), Value::Object(scores));

        let memberships = crate::segment::membership::load(txn, sandbox, profile_id)?;
        let segments: Map<String, Value> = memberships
            .segments
            .iter()
            .map(|(id, m)| {
                (
                    id.clone(),
                    json!({
                        "name": catalog.segments.get(id).map(|s| s.name.clone()),
                        "status": m.status.as_str(),
                        "lastQualificationTime": format_rfc3339_ms(m.last_qualification_ms, false),
                    }),
                )
            })
            .collect();
        rapport.insert(
            "segmentMembership".into(),
            json!({ "ups": Value::Object(segments) }),
        );
    }
    if products.contains(&Product::Identity) {
        rapport.insert("identityGraph".into(), graph_json(graph));
    }
    entry["rapport"] = Value::Object(rapport);
    Ok(entry)
}
