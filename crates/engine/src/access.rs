//! Field-level access by data usage label: which labels each profile and event field carries
//! ([`LabelIndex`], rebuilt with the catalog), and what a caller whose role holds some labels may
//! not see ([`Redaction`]), applied by the lookups to every profile and event they return.
//!
//! A field is visible to a role only when the role holds every label of the field. Labels come
//! from label descriptors (`xdm:descriptorLabel`) on schema fields, and are inherited:
//! - `identityMap.<NS>` carries the labels of `/identityMap/<NS>` (in any schema of either
//!   class) and of every field an identity descriptor of that namespace points at;
//! - a computed attribute (`_{tenant}.SystemComputedAttributes.<name>`) carries the labels of
//!   the event fields its filter and its aggregated field read, and so do the built-in scores of
//!   the event fields they read;
//! - a segment's membership (`segmentMembership.ups.<id>`) carries the labels of everything its
//!   definition reads: profile fields, event fields, computed attributes and the segments it
//!   names through `inSegment`.
//!
//! Reading a path reads everything under it, so a path's inherited labels also include those of
//! its ancestors and descendants.

use std::collections::{BTreeMap, BTreeSet};
use std::hash::{Hash, Hasher};

use serde_json::Value;
use xdm::{Class, FieldType, ObjectField};

use rapport_types::Code;

use crate::catalog::SandboxCatalog;
use crate::error::{Error, Result};

/// A set of data usage labels.
pub type Labels = BTreeSet<String>;

/// The event fields the built-in scores read.
const SCORE_EVENT_FIELDS: &[&str] = &[
    "timestamp",
    "eventType",
    "commerce.order.priceTotal",
    "support.satisfaction",
];
/// The built-in scores, as profile fields under `_{tenant}.SystemComputedAttributes`.
const SCORES: &[&str] = &["lifetimeValue", "churnPropensity"];

/// Labels by dotted path, for one class.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct PathLabels(BTreeMap<String, Labels>);

impl PathLabels {
    fn add(&mut self, path: &str, labels: &Labels) {
        if !labels.is_empty() {
            self.0
                .entry(path.to_owned())
                .or_default()
                .extend(labels.iter().cloned());
        }
    }

    /// Everything reading `path` may expose: the labels of the path, its ancestors and its
    /// descendants.
    fn read_through(&self, path: &str) -> Labels {
        let mut out = Labels::new();
        for (labelled, labels) in &self.0 {
            if covers(labelled, path) || covers(path, labelled) {
                out.extend(labels.iter().cloned());
            }
        }
        out
    }
}

/// Whether dotted path `outer` is `inner` or an ancestor of it.
fn covers(outer: &str, inner: &str) -> bool {
    inner == outer
        || inner
            .strip_prefix(outer)
            .is_some_and(|rest| rest.starts_with('.'))
}

/// A JSON pointer (`/person/birthDate`) as a dotted path (`person.birthDate`).
fn dotted(pointer: &str) -> String {
    pointer.trim_start_matches('/').replace('/', ".")
}

/// Every leaf path of a field tree (objects are stepped into; arrays into their items).
fn leaf_paths(tree: &ObjectField, prefix: &str, out: &mut Vec<String>) {
    for (name, field) in &tree.properties {
        let path = if prefix.is_empty() {
            name.clone()
        } else {
            format!("{prefix}.{name}")
        };
        match &field.ty {
            FieldType::Object(inner) => leaf_paths(inner, &path, out),
            FieldType::Array(item) => match &item.ty {
                FieldType::Object(inner) => leaf_paths(inner, &path, out),
                _ => out.push(path),
            },
            _ => out.push(path),
        }
    }
}

/// Which labels each field carries in one sandbox, directly or inherited.
#[derive(Debug, Clone, Default)]
pub struct LabelIndex {
    profile: PathLabels,
    event: PathLabels,
    /// By segment id: the labels of what the definition reads.
    segments: BTreeMap<String, Labels>,
    /// A hash of all of it: a redaction built from another index is another redaction.
    stamp: u64,
}

impl LabelIndex {
    /// Reads the label descriptors of `catalog` and works out what derived data inherits. Runs
    /// after the computed and segment indexes are built.
    pub fn build(catalog: &SandboxCatalog) -> LabelIndex {
        let mut index = LabelIndex::default();
        if catalog.label_descriptors.is_empty() {
            return index;
        }
        for descriptor in catalog.label_descriptors.values() {
            let Some(compiled) = catalog.compiled.get(&descriptor.schema_id) else {
                continue;
            };
            let labels: Labels = descriptor.labels.iter().cloned().collect();
            let paths = match compiled.class {
                Class::Profile => &mut index.profile,
                Class::ExperienceEvent => &mut index.event,
            };
            if descriptor.properties.is_empty() {
                let mut leaves = Vec::new();
                leaf_paths(&compiled.tree, "", &mut leaves);
                let excluded: Vec<String> = descriptor.excluded.iter().map(|p| dotted(p)).collect();
                for leaf in leaves {
                    if !excluded.iter().any(|e| covers(e, &leaf)) {
                        paths.add(&leaf, &labels);
                    }
                }
            } else {
                for pointer in &descriptor.properties {
                    paths.add(&dotted(pointer), &labels);
                }
            }
        }

        // Namespaces: `identityMap.<NS>` and the fields identity descriptors point at. The
        // profile's identity map holds the identities of its events too, so both classes share.
        let mut namespaces: BTreeMap<String, Labels> = BTreeMap::new();
        for namespace in catalog.namespaces.values() {
            let path = format!("identityMap.{}", namespace.code);
            let mut labels = index.profile.0.get(&path).cloned().unwrap_or_default();
            labels.extend(index.event.0.get(&path).cloned().unwrap_or_default());
            if !labels.is_empty() {
                namespaces.insert(namespace.code.clone(), labels);
            }
        }
        for descriptor in catalog.descriptors.values() {
            let Some(compiled) = catalog.compiled.get(&descriptor.schema_id) else {
                continue;
            };
            let paths = match compiled.class {
                Class::Profile => &index.profile,
                Class::ExperienceEvent => &index.event,
            };
            let field = dotted(&descriptor.source_property);
            let mut labels = Labels::new();
            for (labelled, found) in &paths.0 {
                if covers(labelled, &field) {
                    labels.extend(found.iter().cloned());
                }
            }
            if !labels.is_empty() {
                namespaces
                    .entry(descriptor.namespace.clone())
                    .or_default()
                    .extend(labels);
            }
        }
        for (namespace, labels) in &namespaces {
            let path = format!("identityMap.{namespace}");
            index.profile.add(&path, labels);
            index.event.add(&path, labels);
        }

        // Computed attributes and scores: what they read of events.
        let computed_root = format!("{}.SystemComputedAttributes", catalog.tenant_key);
        for attribute in &catalog.computed_index.attributes {
            let mut labels = Labels::new();
            if let Some(dependencies) = attribute.filter_dependencies() {
                labels.extend(index.event_labels_read(dependencies));
            }
            let field = attribute.field_path().join(".");
            if !field.is_empty() {
                labels.extend(index.event.read_through(&field));
            }
            index.profile.add(
                &format!("{computed_root}.{}", attribute.definition.name),
                &labels,
            );
        }
        let mut score_labels = Labels::new();
        for field in SCORE_EVENT_FIELDS {
            score_labels.extend(index.event.read_through(field));
        }
        for score in SCORES {
            index
                .profile
                .add(&format!("{computed_root}.{score}"), &score_labels);
        }

        // Segments, each after those it names through inSegment.
        for compiled in &catalog.segment_index.ordered {
            let labels = index.expression_labels(compiled.program.dependencies());
            let id = compiled.definition.id.clone();
            index
                .profile
                .add(&format!("segmentMembership.ups.{id}"), &labels);
            index.segments.insert(id, labels);
        }

        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        index.profile.0.hash(&mut hasher);
        index.event.0.hash(&mut hasher);
        index.stamp = hasher.finish();
        index
    }

    /// The labels of what a PQL expression reads: the profile and event fields, and through
    /// `inSegment` what the segments it names read.
    pub fn expression_labels(&self, dependencies: &segments::Dependencies) -> Labels {
        let mut labels = Labels::new();
        for path in &dependencies.profile_fields {
            if path == "segmentMembership" || path.starts_with("segmentMembership.") {
                continue; // inSegment, below
            }
            labels.extend(self.profile.read_through(path));
        }
        labels.extend(self.event_labels_read(dependencies));
        for used in &dependencies.segments {
            if let Some(inherited) = self.segments.get(used) {
                labels.extend(inherited.iter().cloned());
            }
        }
        labels
    }

    /// The labels of the event fields a definition (or filter) reads: every labelled event path
    /// whose every step is a name it reads, or under a name it uses whole; all of them when it
    /// uses whole events.
    fn event_labels_read(&self, dependencies: &segments::Dependencies) -> Labels {
        let mut out = Labels::new();
        if !dependencies.reads_events {
            return out;
        }
        let Some(fields) = &dependencies.event_fields else {
            for labels in self.event.0.values() {
                out.extend(labels.iter().cloned());
            }
            return out;
        };
        for (path, labels) in &self.event.0 {
            let steps: Vec<&str> = path.split('.').collect();
            let read = steps.iter().all(|s| fields.names.contains(*s))
                || steps.iter().any(|s| fields.whole.contains(*s));
            if read {
                out.extend(labels.iter().cloned());
            }
        }
        out
    }

    /// Whether no field carries a label (every caller sees everything).
    pub fn is_empty(&self) -> bool {
        self.profile.0.is_empty() && self.event.0.is_empty()
    }

    /// The labels of a profile field (its own and its ancestors').
    pub fn profile_field_labels(&self, path: &str) -> Labels {
        let mut out = Labels::new();
        for (labelled, labels) in &self.profile.0 {
            if covers(labelled, path) {
                out.extend(labels.iter().cloned());
            }
        }
        out
    }

    /// The labels a segment definition inherits from what it reads.
    pub fn segment_labels(&self, id: &str) -> Labels {
        self.segments.get(id).cloned().unwrap_or_default()
    }

    /// What a caller holding the labels `allows` accepts may not see.
    pub fn redaction(&self, allows: impl Fn(&str) -> bool) -> Redaction {
        let denied = |paths: &PathLabels| -> Vec<Vec<String>> {
            paths
                .0
                .iter()
                .filter(|(_, labels)| !labels.iter().all(|l| allows(l)))
                .map(|(path, _)| path.split('.').map(str::to_owned).collect())
                .collect()
        };
        let denied_labels = |labels: &Labels| {
            labels
                .iter()
                .filter(|l| !allows(l))
                .cloned()
                .collect::<Vec<_>>()
        };
        let mut segments = BTreeMap::new();
        for (id, labels) in &self.segments {
            let missing = denied_labels(labels);
            if !missing.is_empty() {
                segments.insert(id.clone(), missing);
            }
        }
        let mut field_labels = BTreeMap::new();
        for (class, paths) in [("profile", &self.profile), ("event", &self.event)] {
            for (path, labels) in &paths.0 {
                let missing = denied_labels(labels);
                if !missing.is_empty() {
                    field_labels.insert((class, path.clone()), missing);
                }
            }
        }
        Redaction {
            profile: denied(&self.profile),
            event: denied(&self.event),
            segments,
            missing: field_labels,
            stamp: self.stamp,
        }
    }
}

/// The labels a caller may see, for the definitions they make: a role may define segments and
/// computed attributes only over fields it may see (else it could read a labelled value back
/// through a segment's size or an attribute's value).
#[derive(Clone, Copy)]
pub enum Clearance<'a> {
    /// Every label (the engine's own definitions, callers holding every label).
    All,
    /// The labels this predicate accepts.
    Only(&'a dyn Fn(&str) -> bool),
}

impl std::fmt::Debug for Clearance<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Clearance::All => f.write_str("Clearance::All"),
            Clearance::Only(_) => f.write_str("Clearance::Only(..)"),
        }
    }
}

impl Clearance<'_> {
    /// Refuses (403 `field_access_denied`, at `pointer`) a definition whose inherited `labels`
    /// are not all cleared.
    pub fn check(&self, labels: &Labels, pointer: &str, what: &str) -> Result<()> {
        let Clearance::Only(allows) = self else {
            return Ok(());
        };
        let missing: Vec<&str> = labels
            .iter()
            .map(String::as_str)
            .filter(|l| !allows(l))
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        Err(Error::user(
            Code::FieldAccessDenied,
            format!(
                "{pointer}: {what} reads fields labelled {}, which the caller's role may not see; a role may define only over fields it may see",
                missing.join(", ")
            ),
        ))
    }
}

/// What one caller may not see in one sandbox: the profile and event paths to remove from every
/// answer, and the segments whose definitions read such paths. Built by
/// [`LabelIndex::redaction`]; [`Redaction::none`] hides nothing.
#[derive(Debug, Clone, Default)]
pub struct Redaction {
    profile: Vec<Vec<String>>,
    event: Vec<Vec<String>>,
    /// Denied segments, with the labels the caller lacks.
    segments: BTreeMap<String, Vec<String>>,
    /// Denied paths, with the labels the caller lacks (for messages).
    missing: BTreeMap<(&'static str, String), Vec<String>>,
    /// The label index it was built from.
    pub stamp: u64,
}

impl Redaction {
    /// Hides nothing: for callers whose role holds every label, and for the engine's own reads.
    pub fn none() -> Redaction {
        Redaction::default()
    }

    pub fn is_empty(&self) -> bool {
        self.profile.is_empty() && self.event.is_empty()
    }

    /// Removes the denied paths from a profile's entity item (`{"entity": {...}, ...}`) or from
    /// a bare entity; returns how many values were removed.
    pub fn redact_profile_item(&self, item: &mut Value) -> usize {
        match item.get_mut("entity") {
            Some(entity) => remove_paths(entity, &self.profile),
            None => remove_paths(item, &self.profile),
        }
    }

    /// Whether events lose anything to this redaction.
    pub fn redacts_events(&self) -> bool {
        !self.event.is_empty()
    }

    /// Removes the denied paths from one event (a bare event or an events page child with an
    /// `entity`); returns how many values were removed.
    pub fn redact_event(&self, event: &mut Value) -> usize {
        match event.get_mut("entity") {
            Some(entity) => remove_paths(entity, &self.event),
            None => remove_paths(event, &self.event),
        }
    }

    /// The labels the caller lacks to read profile path `path` (a path asked for by name, a
    /// filter, an order), or `None` when they may: reading a denied path or anything under one
    /// is refused; reading an ancestor of one is allowed (the denied part is removed).
    pub fn profile_path_denied(&self, path: &str) -> Option<String> {
        self.path_denied("profile", path)
    }

    /// Whether the values of identity namespace `namespace` are hidden from the caller (their
    /// role lacks a label of `identityMap.<namespace>`), and with them every XID encoding one.
    pub fn namespace_masked(&self, namespace: &str) -> bool {
        self.profile_path_denied(&format!("identityMap.{namespace}"))
            .is_some()
    }

    /// As [`Redaction::profile_path_denied`], for event paths.
    pub fn event_path_denied(&self, path: &str) -> Option<String> {
        self.path_denied("event", path)
    }

    fn path_denied(&self, class: &'static str, path: &str) -> Option<String> {
        self.missing
            .iter()
            .find(|((c, denied), _)| *c == class && covers(denied, path))
            .map(|((_, denied), labels)| format!("{denied} is labelled {}", labels.join(", ")))
    }

    /// The labels the caller lacks to see segment `id`'s membership or explanation, if any.
    pub fn segment_denied(&self, id: &str) -> Option<&[String]> {
        self.segments.get(id).map(Vec::as_slice)
    }
}

/// Removes each path (a list of keys; arrays are stepped through) from `value`.
fn remove_paths(value: &mut Value, paths: &[Vec<String>]) -> usize {
    paths.iter().map(|path| remove_path(value, path)).sum()
}

fn remove_path(value: &mut Value, path: &[String]) -> usize {
    match value {
        Value::Array(items) => items.iter_mut().map(|item| remove_path(item, path)).sum(),
        Value::Object(object) => match path {
            [] => 0,
            [last] => usize::from(object.remove(last).is_some()),
            [first, rest @ ..] => object
                .get_mut(first)
                .map_or(0, |inner| remove_path(inner, rest)),
        },
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn paths_are_removed_through_arrays_and_ancestors_cover_descendants() {
        let mut value = json!({"a": {"b": 1, "c": 2}, "items": [{"x": 1, "y": 2}, {"x": 3}]});
        let removed = remove_paths(
            &mut value,
            &[
                vec!["a".into(), "b".into()],
                vec!["items".into(), "x".into()],
                vec!["missing".into()],
            ],
        );
        assert_eq!(removed, 3);
        assert_eq!(value, json!({"a": {"c": 2}, "items": [{"y": 2}, {}]}));
        assert!(covers("a", "a.b") && covers("a.b", "a.b") && !covers("a.b", "a.bc"));
        assert!(!covers("a.b", "a"));
    }
}
