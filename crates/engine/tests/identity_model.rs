//! Property test: random records stitched by the engine give exactly the connected components
//! of a naive model of the linking rules (newest link wins on a unique namespace; a graph over
//! the limit unlinks its least specific, oldest identities), and every lookup agrees.

use std::collections::{BTreeMap, BTreeSet};

use engine::identity::graph::LAST_SEEN_RESOLUTION_MS;
use engine::{Engine, EngineConfig, EntityRef, IdentityKey, Job, ProfileRequest};
use proptest::prelude::*;
use rapport_types::SandboxName;
use serde_json::{json, Value};

const GRAPH_LIMIT: usize = 4;

/// One random record: identities by (namespace index, value index); the first is primary.
type Record = Vec<(usize, usize)>;

const NAMESPACES: [&str; 4] = ["CRMID", "Email", "Phone", "ECID"];

fn identity(namespace: usize, value: usize) -> IdentityKey {
    let value = match NAMESPACES[namespace] {
        "ECID" => format!("{:038}", 1000 + value),
        "Email" => format!("person{value}@example.com"),
        "Phone" => format!("+1555000{value:04}"),
        _ => format!("crm-{value}"),
    };
    IdentityKey::new(NAMESPACES[namespace], value)
}

/// Removal order rank, as the namespaces' types: ECID is a cookie, the rest people ids.
fn rank(key: &IdentityKey) -> u8 {
    if key.namespace == "ECID" {
        0
    } else {
        3
    }
}

/// The model: active links with their last-seen time, and node last-seen times.
#[derive(Default)]
struct Model {
    edges: BTreeMap<(IdentityKey, IdentityKey), i64>,
    nodes: BTreeMap<IdentityKey, i64>,
}

impl Model {
    fn observe(&mut self, record: &[IdentityKey], at: i64) {
        // Sightings within LAST_SEEN_RESOLUTION_MS of the recorded one change nothing.
        let refreshed = |seen: i64| {
            if at - seen >= LAST_SEEN_RESOLUTION_MS {
                at
            } else {
                seen
            }
        };
        for key in record {
            let seen = self.nodes.entry(key.clone()).or_insert(at);
            *seen = refreshed(*seen);
        }
        let primary = &record[0];
        for other in &record[1..] {
            if other != primary {
                let pair = if primary < other {
                    (primary.clone(), other.clone())
                } else {
                    (other.clone(), primary.clone())
                };
                let seen = self.edges.entry(pair).or_insert(at);
                *seen = refreshed(*seen);
            }
        }
        self.apply_rules();
    }

    fn components_of(
        &self,
        edges: &BTreeSet<(IdentityKey, IdentityKey)>,
    ) -> Vec<BTreeSet<IdentityKey>> {
        let mut remaining: BTreeSet<IdentityKey> = self.nodes.keys().cloned().collect();
        let mut components = Vec::new();
        while let Some(start) = remaining.iter().next().cloned() {
            let mut component = BTreeSet::new();
            let mut stack = vec![start];
            while let Some(node) = stack.pop() {
                if !remaining.remove(&node) {
                    continue;
                }
                component.insert(node.clone());
                for (a, b) in edges {
                    if *a == node && remaining.contains(b) {
                        stack.push(b.clone());
                    }
                    if *b == node && remaining.contains(a) {
                        stack.push(a.clone());
                    }
                }
            }
            components.push(component);
        }
        components
    }

    fn apply_rules(&mut self) {
        let mut order: Vec<((IdentityKey, IdentityKey), i64)> =
            self.edges.iter().map(|(k, v)| (k.clone(), *v)).collect();
        order.sort_by(|x, y| y.1.cmp(&x.1).then_with(|| x.0.cmp(&y.0)));
        let mut kept: BTreeSet<(IdentityKey, IdentityKey)> = BTreeSet::new();
        for (pair, _) in order {
            let mut trial = kept.clone();
            trial.insert(pair.clone());
            let broken = self
                .components_of(&trial)
                .iter()
                .any(|component| component.iter().filter(|k| k.namespace == "CRMID").count() > 1);
            if !broken {
                kept.insert(pair);
            }
        }
        for component in self.components_of(&kept) {
            if component.len() > GRAPH_LIMIT {
                let mut by_removal: Vec<&IdentityKey> = component.iter().collect();
                by_removal.sort_by(|x, y| {
                    (rank(x), self.nodes[*x], *x).cmp(&(rank(y), self.nodes[*y], *y))
                });
                for isolated in by_removal.into_iter().take(component.len() - GRAPH_LIMIT) {
                    kept.retain(|(a, b)| a != isolated && b != isolated);
                }
            }
        }
        self.edges.retain(|pair, _| kept.contains(pair));
    }

    fn components(&self) -> Vec<BTreeSet<IdentityKey>> {
        self.components_of(&self.edges.keys().cloned().collect())
    }
}

fn setup(dir: &std::path::Path) -> (Engine, String) {
    let engine = Engine::open(&EngineConfig {
        data_dir: dir.to_path_buf(),
        map_size_bytes: 1 << 30,
        tenant_id: "rapport".into(),
        graph_limit: GRAPH_LIMIT,
        blocked_identity_values: vec![],
    })
    .expect("engine");
    let sandbox = SandboxName::default_sandbox();
    engine
        .create_namespace(
            &sandbox,
            &json!({"code": "CRMID", "idType": "CROSS_DEVICE", "unique": true}),
        )
        .expect("namespace");
    let schema = engine
        .create_schema(&sandbox, &json!({"title": "People", "allOf": [{"$ref": "https://ns.adobe.com/xdm/context/profile"}, {"$ref": "https://ns.adobe.com/xdm/context/profile-person-details"}], "meta:immutableTags": ["union"]}))
        .expect("schema");
    let dataset = engine
        .create_dataset(&sandbox, &json!({"name": "people", "schemaRef": {"id": schema.id}, "tags": {"unifiedProfile": ["enabled:true"], "unifiedIdentity": ["enabled:true"]}}))
        .expect("dataset");
    (engine, dataset.id)
}

fn ingest(engine: &Engine, dataset: &str, record: &[IdentityKey], index: usize, at: i64) {
    let sandbox = SandboxName::default_sandbox();
    let catalog = engine.sandbox(&sandbox).expect("catalog");
    let mut identity_map: BTreeMap<&str, Vec<Value>> = BTreeMap::new();
    for (i, key) in record.iter().enumerate() {
        identity_map
            .entry(key.namespace.as_str())
            .or_default()
            .push(json!({"id": key.value, "primary": i == 0}));
    }
    let entity = json!({"identityMap": identity_map, "person": {"name": {"firstName": format!("record {index}")}}});
    let write = engine
        .prepare(&catalog, dataset, entity, format!("test:{index}"), at)
        .expect("valid record");
    let (sender, receiver) = std::sync::mpsc::channel();
    engine
        .submit(Job::Ingest {
            writes: vec![write],
            reply: Box::new(move |r| sender.send(r).expect("send")),
        })
        .expect("submit");
    let results = receiver.recv().expect("reply").expect("committed");
    results.into_iter().for_each(|r| {
        r.expect("applied");
    });
}

fn record_strategy() -> impl Strategy<Value = Record> {
    prop::collection::vec((0..NAMESPACES.len(), 0..3usize), 1..4)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn stitched_graphs_equal_the_model_components(records in prop::collection::vec(record_strategy(), 1..14)) {
        let dir = tempfile::tempdir().expect("dir");
        let (engine, dataset) = setup(dir.path());
        let sandbox = SandboxName::default_sandbox();
        let mut model = Model::default();
        for (index, raw) in records.iter().enumerate() {
            let mut record: Vec<IdentityKey> = Vec::new();
            for (namespace, value) in raw {
                let key = identity(*namespace, *value);
                if !record.contains(&key) {
                    record.push(key);
                }
            }
            // A record may carry one CRMID; the model and the engine both take it as given.
            let crm_count = record.iter().filter(|k| k.namespace == "CRMID").count();
            if crm_count > 1 {
                continue;
            }
            // 25 s apart: some sightings fall within the last-seen resolution and some do not.
            let at = 1_700_000_000_000 + index as i64 * 25_000;
            ingest(&engine, &dataset, &record, index, at);
            model.observe(&record, at);
        }
        let expected = model.components();
        for component in &expected {
            for key in component {
                let (profile_id, graph) = engine
                    .graph(&sandbox, &EntityRef::Identity(key.clone()))
                    .expect("read")
                    .unwrap_or_else(|| panic!("{key} has no profile"));
                let actual: BTreeSet<IdentityKey> = graph.nodes.iter().map(|n| n.identity.clone()).collect();
                prop_assert_eq!(&actual, component, "graph of {} (profile {})", key, profile_id);
                prop_assert!(actual.len() <= GRAPH_LIMIT);
                let (_, item) = engine
                    .profile(&sandbox, &EntityRef::Identity(key.clone()), &ProfileRequest::default(), &engine::Redaction::none())
                    .expect("lookup")
                    .expect("profile exists");
                let item: Value = serde_json::from_slice(&item).expect("json");
                let mut listed = BTreeSet::new();
                for (namespace, items) in item["entity"]["identityMap"].as_object().expect("identityMap") {
                    for entry in items.as_array().expect("array") {
                        listed.insert(IdentityKey::new(namespace.clone(), entry["id"].as_str().expect("id")));
                    }
                }
                prop_assert_eq!(&listed, component, "prepared view of {}", key);
            }
        }
    }
}
