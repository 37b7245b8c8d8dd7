//! Property tests for merge policies: the merged entity equals a leaf-by-leaf model, is the same
//! whatever order the fragments are stored in, and never loses an identity of the graph.

use std::collections::BTreeMap;

use engine::catalog::{AttributeMerge, IdentityGraphType, MergePolicy};
use engine::identity::graph::{Graph, Node, Source};
use engine::merge::{merge_entity, MergeInput};
use engine::records::StoredFragment;
use engine::{IdentityKey, SandboxCatalog};
use proptest::prelude::*;
use rapport_types::ProfileId;
use serde_json::{json, Map, Value};

/// A fragment as generated: dataset index, merge time, and leaves (path → value).
type RawFragment = (usize, i64, BTreeMap<Vec<&'static str>, i64>);

const DATASETS: [&str; 3] = ["ds-a", "ds-b", "ds-c"];

fn leaf_paths() -> impl Strategy<Value = Vec<&'static str>> {
    prop::sample::select(vec![
        vec!["person", "name", "firstName"],
        vec!["person", "name", "lastName"],
        vec!["loyalty", "tier"],
        vec!["loyalty", "points"],
        vec!["homeAddress", "city"],
        vec!["score"],
    ])
}

fn fragment() -> impl Strategy<Value = RawFragment> {
    (
        0..DATASETS.len(),
        0..50i64,
        prop::collection::btree_map(leaf_paths(), 0..100i64, 1..4),
    )
}

fn to_json(leaves: &BTreeMap<Vec<&'static str>, i64>) -> Value {
    let mut root = Map::new();
    for (path, value) in leaves {
        let mut node = &mut root;
        for part in &path[..path.len() - 1] {
            node = node
                .entry(*part)
                .or_insert_with(|| json!({}))
                .as_object_mut()
                .expect("object");
        }
        node.insert(path[path.len() - 1].to_owned(), json!(value));
    }
    Value::Object(root)
}

fn stored(raw: &[RawFragment]) -> Vec<StoredFragment> {
    raw.iter()
        .enumerate()
        .map(|(i, (dataset, time, leaves))| StoredFragment {
            dataset: DATASETS[*dataset].to_owned(),
            primary: IdentityKey::new("Email", format!("p{i}@example.com")),
            ingested_ms: 1_000 + i as i64,
            sequence: i as u64,
            source_updated_ms: Some(*time),
            json: serde_json::to_vec(&to_json(leaves)).expect("json"),
        })
        .collect()
}

fn policy(attribute_merge: AttributeMerge) -> MergePolicy {
    MergePolicy {
        id: "policy".into(),
        name: "test".into(),
        schema_name: "_xdm.context.profile".into(),
        identity_graph: IdentityGraphType::Pdg,
        attribute_merge,
        is_active_on_edge: false,
        default: true,
        version: 1,
        update_epoch_s: 0,
    }
}

fn graph(count: usize) -> Graph {
    let source = Source {
        dataset: "ds-a".into(),
        record: "r".into(),
    };
    Graph {
        nodes: (0..count)
            .map(|i| Node {
                identity: IdentityKey::new("Email", format!("p{i}@example.com")),
                first_seen_ms: i as i64,
                last_seen_ms: i as i64,
                source: source.clone(),
            })
            .collect(),
        ..Graph::default()
    }
}

fn merged(policy: &MergePolicy, fragments: &[StoredFragment], graph: &Graph) -> Value {
    let catalog = SandboxCatalog::default();
    let input = MergeInput {
        catalog: &catalog,
        profile_id: ProfileId(1),
        graph,
        fragments,
        focus: None,
    };
    merge_entity(policy, &input)
}

fn leaf(entity: &Value, path: &[&str]) -> Option<i64> {
    path.iter()
        .try_fold(entity, |v, part| v.get(part))
        .and_then(Value::as_i64)
}

proptest! {
    #[test]
    fn timestamp_ordered_takes_each_leaf_from_the_latest_fragment(raw in prop::collection::vec(fragment(), 1..6)) {
        let fragments = stored(&raw);
        let result = merged(&policy(AttributeMerge::TimestampOrdered), &fragments, &graph(raw.len()));
        let mut expected: BTreeMap<Vec<&str>, (i64, i64, i64)> = BTreeMap::new();
        for (i, (_, time, leaves)) in raw.iter().enumerate() {
            for (path, value) in leaves {
                let candidate = (*time, 1_000 + i as i64, *value);
                let entry = expected.entry(path.clone()).or_insert(candidate);
                if (candidate.0, candidate.1) >= (entry.0, entry.1) {
                    *entry = candidate;
                }
            }
        }
        for (path, (_, _, value)) in &expected {
            prop_assert_eq!(leaf(&result["entity"], path), Some(*value), "leaf {:?}", path);
        }
    }

    #[test]
    fn dataset_precedence_takes_each_leaf_from_the_first_listed_dataset(raw in prop::collection::vec(fragment(), 1..6)) {
        let fragments = stored(&raw);
        let order = vec!["ds-b".to_owned(), "ds-a".to_owned()];
        let result = merged(&policy(AttributeMerge::DataSetPrecedence { order: order.clone() }), &fragments, &graph(raw.len()));
        let rank = |d: usize| order.iter().position(|o| o == DATASETS[d]);
        let mut expected: BTreeMap<Vec<&str>, (usize, i64, i64, i64)> = BTreeMap::new();
        for (i, (dataset, time, leaves)) in raw.iter().enumerate() {
            let Some(r) = rank(*dataset) else { continue };
            for (path, value) in leaves {
                // Lower rank wins; within a dataset the later time wins.
                let candidate = (usize::MAX - r, *time, i as i64, *value);
                let entry = expected.entry(path.clone()).or_insert(candidate);
                if (candidate.0, candidate.1) >= (entry.0, entry.1) {
                    *entry = candidate;
                }
            }
        }
        for (path, (_, _, _, value)) in &expected {
            prop_assert_eq!(leaf(&result["entity"], path), Some(*value), "leaf {:?}", path);
        }
        let listed: Vec<&str> = result["sources"].as_array().expect("sources").iter().filter_map(Value::as_str).collect();
        prop_assert!(!listed.contains(&"ds-c"), "an unlisted dataset contributed: {:?}", listed);
    }

    #[test]
    fn merging_ignores_storage_order_and_keeps_every_identity(raw in prop::collection::vec(fragment(), 1..6), rotate in 0..6usize) {
        let fragments = stored(&raw);
        let mut rotated = fragments.clone();
        rotated.rotate_left(rotate % fragments.len());
        let timestamp = policy(AttributeMerge::TimestampOrdered);
        let graph = graph(raw.len());
        let first = merged(&timestamp, &fragments, &graph);
        prop_assert_eq!(&first, &merged(&timestamp, &rotated, &graph));
        let listed = first["entity"]["identityMap"]["Email"].as_array().map(Vec::len).unwrap_or(0);
        prop_assert_eq!(listed, raw.len());
    }
}
