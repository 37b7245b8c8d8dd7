//! The compiled definitions of a sandbox, in dependency order, indexed by what they read so a
//! write re-evaluates only the definitions it can affect.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use super::definitions::SegmentDefinition;
use crate::catalog::SandboxCatalog;

/// One definition ready to evaluate.
pub struct CompiledSegment {
    pub definition: SegmentDefinition,
    pub program: Arc<segments::Definition>,
}

/// What changed on a profile, deciding which definitions must be evaluated again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trigger {
    /// The profile's identities or data moved (a merge, a split, a rebuild): everything.
    Everything,
    /// Profile attributes changed.
    Attributes,
    /// An event of this type (`None`: no `eventType`) was stored.
    Event(Option<String>),
    /// Time passed (a scheduled re-evaluation).
    Time,
    /// These definitions (a segment job), and every definition using them.
    Definitions(BTreeSet<String>),
    /// Computed attribute values changed; the payload is the tenant field (`_{tenant}`) they
    /// live under.
    Computed(String),
}

/// The compiled definitions of one sandbox.
#[derive(Default)]
pub struct SegmentIndex {
    /// Definitions that compile, each after every definition it uses through `inSegment`.
    pub ordered: Vec<CompiledSegment>,
    /// Definitions that no longer compile against the current schemas, with the reason.
    pub failed: BTreeMap<String, String>,
    /// For each position in `ordered`, the positions of the definitions that use it.
    users: Vec<Vec<usize>>,
    /// Each definition's position in `ordered`, by id.
    positions: std::collections::HashMap<String, usize>,
    /// What evaluating them decodes of a profile's view and events.
    pub decoding: super::membership::Decoding,
    /// [`SegmentIndex::affected`] for an event of each type some definition names, and for
    /// any other type: computed once, not per event.
    event_masks: std::collections::HashMap<String, Vec<bool>>,
    other_event_mask: Vec<bool>,
    /// The definitions reading computed attribute values (and those using them).
    reads_computed: Vec<bool>,
}

impl std::fmt::Debug for SegmentIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SegmentIndex")
            .field("ordered", &self.ordered.len())
            .field("failed", &self.failed)
            .finish()
    }
}

/// Whether one dotted path is the other or lies under it (`""` covers everything).
fn paths_overlap(a: &str, b: &str) -> bool {
    let under = |long: &str, short: &str| {
        short.is_empty()
            || long == short
            || (long.starts_with(short) && long.as_bytes().get(short.len()) == Some(&b'.'))
    };
    under(a, b) || under(b, a)
}

/// Whether a definition reads computed attribute values (`_{tenant}.SystemComputedAttributes`,
/// or an object enclosing them).
pub fn reads_computed_values(program: &segments::Definition, tenant_key: &str) -> bool {
    let group = format!("{tenant_key}.{}", crate::computed::FIELD_GROUP);
    program
        .dependencies()
        .profile_fields
        .iter()
        .any(|path| paths_overlap(path, &group))
}

/// The ids a PQL text uses with `inSegment("...")` (empty when it does not parse).
pub fn segments_used(expression: &str) -> BTreeSet<String> {
    let mut used = BTreeSet::new();
    if let Ok(expr) = pql::parse(expression) {
        let mut stack = vec![&expr];
        while let Some(node) = stack.pop() {
            if let pql::ExprKind::Call { name, args } = &node.kind {
                if name.eq_ignore_ascii_case("inSegment") {
                    if let Some(pql::ExprKind::String(id)) = args.first().map(|a| &a.kind) {
                        used.insert(id.clone());
                    }
                }
            }
            stack.extend(node.children());
        }
    }
    used
}

impl SegmentIndex {
    /// Compiles every definition of the catalog against its current union schemas.
    pub fn build(catalog: &SandboxCatalog) -> SegmentIndex {
        let mut index = SegmentIndex::default();
        if catalog.segments.is_empty() {
            return index;
        }
        let trees = (
            crate::catalog::schemas::union_tree(catalog, xdm::Class::Profile),
            crate::catalog::schemas::union_tree(catalog, xdm::Class::ExperienceEvent),
        );
        let (profile, event) = match trees {
            (Ok(profile), Ok(event)) => (profile, event),
            (Err(error), _) | (_, Err(error)) => {
                for id in catalog.segments.keys() {
                    index.failed.insert(id.clone(), error.to_string());
                }
                return index;
            }
        };
        let exists = |id: &str| catalog.segments.contains_key(id);
        let context = segments::SchemaContext {
            profile: &profile,
            event: &event,
            segment_exists: &exists,
        };
        let mut compiled: BTreeMap<&str, CompiledSegment> = BTreeMap::new();
        for definition in catalog.segments.values() {
            match segments::compile(&definition.expression, &context) {
                Ok(program) => {
                    compiled.insert(
                        definition.id.as_str(),
                        CompiledSegment {
                            definition: definition.clone(),
                            program: Arc::new(program),
                        },
                    );
                }
                Err(error) => {
                    index
                        .failed
                        .insert(definition.id.clone(), error.to_string());
                }
            }
        }
        // A definition using a failed one fails too; the rest go in dependency order.
        let mut placed: BTreeSet<String> = BTreeSet::new();
        loop {
            let ready: Vec<&str> = compiled
                .iter()
                .filter(|(_, c)| {
                    c.program
                        .dependencies()
                        .segments
                        .iter()
                        .all(|used| placed.contains(used))
                })
                .map(|(id, _)| *id)
                .collect();
            if ready.is_empty() {
                break;
            }
            for id in ready {
                if let Some(segment) = compiled.remove(id) {
                    placed.insert(id.to_owned());
                    index.ordered.push(segment);
                }
            }
        }
        for (id, segment) in compiled {
            let missing: Vec<&String> = segment
                .program
                .dependencies()
                .segments
                .iter()
                .filter(|used| !placed.contains(*used))
                .collect();
            index.failed.insert(
                id.to_owned(),
                format!(
                    "uses segment definitions that cannot be evaluated: {}",
                    missing
                        .iter()
                        .map(|s| s.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            );
        }
        let position: BTreeMap<&str, usize> = index
            .ordered
            .iter()
            .enumerate()
            .map(|(i, s)| (s.definition.id.as_str(), i))
            .collect();
        let mut users = vec![Vec::new(); index.ordered.len()];
        for (i, segment) in index.ordered.iter().enumerate() {
            for used in &segment.program.dependencies().segments {
                if let Some(&j) = position.get(used.as_str()) {
                    users[j].push(i);
                }
            }
        }
        index.users = users;
        index.positions = index
            .ordered
            .iter()
            .enumerate()
            .map(|(i, s)| (s.definition.id.clone(), i))
            .collect();
        index.decoding = super::membership::Decoding::of(
            &catalog.tenant_key,
            index.ordered.iter().map(|s| &*s.program),
        );
        let types: BTreeSet<String> = index
            .ordered
            .iter()
            .filter_map(|s| s.program.dependencies().event_types.clone())
            .flatten()
            .collect();
        index.other_event_mask = index.compute_affected(&Trigger::Event(None));
        index.reads_computed =
            index.compute_affected(&Trigger::Computed(catalog.tenant_key.clone()));
        index.event_masks = types
            .into_iter()
            .map(|t| {
                let mask = index.compute_affected(&Trigger::Event(Some(t.clone())));
                (t, mask)
            })
            .collect();
        index
    }

    pub fn is_empty(&self) -> bool {
        self.ordered.is_empty()
    }

    /// The position of a definition in `ordered`.
    pub fn position(&self, id: &str) -> Option<usize> {
        self.positions.get(id).copied()
    }

    /// Which definitions `trigger` may change, as a mask over `ordered`: those reading what
    /// changed, and every definition using one of them through `inSegment`.
    pub fn affected(&self, trigger: &Trigger) -> Vec<bool> {
        match trigger {
            Trigger::Event(Some(t)) if self.other_event_mask.len() == self.ordered.len() => self
                .event_masks
                .get(t)
                .unwrap_or(&self.other_event_mask)
                .clone(),
            Trigger::Event(None) if self.other_event_mask.len() == self.ordered.len() => {
                self.other_event_mask.clone()
            }
            Trigger::Computed(_) if self.reads_computed.len() == self.ordered.len() => {
                self.reads_computed.clone()
            }
            _ => self.compute_affected(trigger),
        }
    }

    /// The definitions that read computed attribute values (and those using them), as a mask
    /// over `ordered`.
    pub fn reads_computed(&self) -> &[bool] {
        &self.reads_computed
    }

    /// Whether any definition reads computed attribute values.
    pub fn any_reads_computed(&self) -> bool {
        self.reads_computed.iter().any(|r| *r)
    }

    fn compute_affected(&self, trigger: &Trigger) -> Vec<bool> {
        let mut mask: Vec<bool> = self
            .ordered
            .iter()
            .map(|segment| {
                let deps = segment.program.dependencies();
                match trigger {
                    Trigger::Everything => true,
                    Trigger::Attributes => {
                        !deps.profile_fields.is_empty() || segment.definition.exclude_opt_out
                    }
                    Trigger::Event(event_type) => {
                        deps.reads_events
                            && match (&deps.event_types, event_type) {
                                (None, _) => true,
                                (Some(types), Some(t)) => types.contains(t),
                                (Some(_), None) => false,
                            }
                    }
                    Trigger::Time => deps.time_relative,
                    Trigger::Definitions(ids) => ids.contains(&segment.definition.id),
                    Trigger::Computed(tenant) => {
                        reads_computed_values(segment.program.as_ref(), tenant)
                    }
                }
            })
            .collect();
        self.with_users(&mut mask);
        mask
    }

    /// Adds to a mask every definition that uses a selected one through `inSegment`.
    /// `ordered` is in dependency order, so one forward pass reaches every user.
    fn with_users(&self, mask: &mut [bool]) {
        for i in 0..mask.len() {
            if mask[i] {
                for &user in &self.users[i] {
                    mask[user] = true;
                }
            }
        }
    }

    /// Restricts a mask to the given definitions and everything using them.
    pub fn only(&self, ids: &BTreeSet<String>) -> Vec<bool> {
        self.affected(&Trigger::Definitions(ids.clone()))
    }
}
