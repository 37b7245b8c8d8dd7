//! The identity graph of one person and its linking rules.
//!
//! The edges (with when and where they were seen) are the truth; which identities form one
//! person is derived from them by [`resolve`], which applies the rules in a fixed order:
//!
//! 1. Edges are taken newest first (ties by key). An edge that would put two different values of
//!    a unique namespace into one component is removed: the most recent link wins.
//! 2. A component with more identities than the limit isolates its identities in removal order
//!    (cookies, then devices, then the rest; oldest first; ties by key) until it fits; an isolated
//!    identity loses its edges and becomes a graph of its own.
//!
//! `resolve` is deterministic and pure, so a split recomputes only the affected component.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::{Deserialize, Serialize};

use super::value::Refusal;
use super::IdentityKey;

/// Where a link or an identity came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Source {
    pub dataset: String,
    /// The ingestion request or batch and the record's index in it.
    pub record: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Node {
    pub identity: IdentityKey,
    pub first_seen_ms: i64,
    pub last_seen_ms: i64,
    pub source: Source,
}

/// An undirected link, stored with `a < b`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Edge {
    pub a: IdentityKey,
    pub b: IdentityKey,
    pub first_seen_ms: i64,
    pub last_seen_ms: i64,
    pub source: Source,
}

/// Why the rules removed a link or isolated an identity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum RemovalReason {
    /// Keeping the link would have put two identities of this unique namespace into one graph.
    UniqueNamespace {
        namespace: String,
        kept: String,
        refused: String,
    },
    /// The graph would have exceeded its identity limit.
    GraphLimit { limit: usize },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemovedLink {
    pub a: IdentityKey,
    pub b: IdentityKey,
    pub removed_at_ms: i64,
    pub last_seen_ms: i64,
    pub source: Source,
    pub reason: RemovalReason,
}

/// An identity value that was never linked, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefusedIdentity {
    pub identity: IdentityKey,
    pub refused_at_ms: i64,
    pub source: Source,
    pub reason: Refusal,
}

/// Re-seeing an identity or a link within this long of its recorded last sighting changes
/// nothing: link recency is kept to the minute, so a burst of events does not rewrite the graph.
pub const LAST_SEEN_RESOLUTION_MS: i64 = 60_000;

/// What recording a sighting did to the graph.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Touch {
    /// Already known, and seen recently enough that nothing was recorded.
    Unchanged,
    /// Already known; its first or last sighting moved.
    Refreshed,
    /// New to the graph.
    New,
}

fn refresh(first_seen_ms: &mut i64, last_seen_ms: &mut i64, at_ms: i64) -> Touch {
    let mut touch = Touch::Unchanged;
    if at_ms < *first_seen_ms {
        *first_seen_ms = at_ms;
        touch = Touch::Refreshed;
    }
    if at_ms - *last_seen_ms >= LAST_SEEN_RESOLUTION_MS {
        *last_seen_ms = at_ms;
        touch = Touch::Refreshed;
    }
    touch
}

/// How many removed links and refused values a graph remembers.
pub const HISTORY_LIMIT: usize = 50;

/// One person's graph: its identities, its links, and what the rules removed or refused.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Graph {
    pub nodes: Vec<Node>,
    pub edges: Vec<Edge>,
    pub removed: Vec<RemovedLink>,
    pub refused: Vec<RefusedIdentity>,
    /// The last time identities or links were added or removed.
    pub changed_ms: i64,
    /// Profile ids merged into this graph's profile; each forwards straight here.
    pub merged_profiles: Vec<u64>,
    /// What guardrails did to this profile (`guardrails::note`), shown on every lookup as its
    /// `warnings`. Kept here so that a re-merge keeps it; the writer hands a merged-away or
    /// split profile's hits to the profile that keeps its id, or to the survivor.
    pub guardrails: Vec<crate::guardrails::GuardrailHit>,
}

impl Graph {
    pub fn node(&self, identity: &IdentityKey) -> Option<&Node> {
        self.nodes.iter().find(|node| node.identity == *identity)
    }

    pub fn contains(&self, identity: &IdentityKey) -> bool {
        self.node(identity).is_some()
    }

    /// Adds every identity, link and history entry of `other`.
    pub fn absorb(&mut self, other: Graph) {
        for node in other.nodes {
            match self.nodes.iter_mut().find(|n| n.identity == node.identity) {
                Some(existing) => {
                    existing.first_seen_ms = existing.first_seen_ms.min(node.first_seen_ms);
                    existing.last_seen_ms = existing.last_seen_ms.max(node.last_seen_ms);
                }
                None => self.nodes.push(node),
            }
        }
        for edge in other.edges {
            self.merge_edge(edge);
        }
        self.removed.extend(other.removed);
        self.refused.extend(other.refused);
        for hit in other.guardrails {
            crate::guardrails::note(&mut self.guardrails, hit);
        }
        self.changed_ms = self.changed_ms.max(other.changed_ms);
        self.trim_history();
    }

    /// Records that `identity` was seen at `at_ms`.
    pub fn touch_node(&mut self, identity: &IdentityKey, at_ms: i64, source: &Source) -> Touch {
        if let Some(node) = self.nodes.iter_mut().find(|n| n.identity == *identity) {
            return refresh(&mut node.first_seen_ms, &mut node.last_seen_ms, at_ms);
        }
        self.nodes.push(Node {
            identity: identity.clone(),
            first_seen_ms: at_ms,
            last_seen_ms: at_ms,
            source: source.clone(),
        });
        Touch::New
    }

    /// Records a link between two different identities seen together at `at_ms`.
    pub fn touch_edge(
        &mut self,
        x: &IdentityKey,
        y: &IdentityKey,
        at_ms: i64,
        source: &Source,
    ) -> Touch {
        let (a, b) = if x < y { (x, y) } else { (y, x) };
        if let Some(edge) = self.edges.iter_mut().find(|e| e.a == *a && e.b == *b) {
            return refresh(&mut edge.first_seen_ms, &mut edge.last_seen_ms, at_ms);
        }
        self.edges.push(Edge {
            a: a.clone(),
            b: b.clone(),
            first_seen_ms: at_ms,
            last_seen_ms: at_ms,
            source: source.clone(),
        });
        Touch::New
    }

    fn merge_edge(&mut self, edge: Edge) {
        if let Some(existing) = self
            .edges
            .iter_mut()
            .find(|e| e.a == edge.a && e.b == edge.b)
        {
            existing.first_seen_ms = existing.first_seen_ms.min(edge.first_seen_ms);
            existing.last_seen_ms = existing.last_seen_ms.max(edge.last_seen_ms);
        } else {
            self.edges.push(edge);
        }
    }

    /// Drops duplicate history (both sides of a merge remember the same removal) and keeps the newest.
    pub fn trim_history(&mut self) {
        self.removed
            .sort_by(|x, y| (&x.a, &x.b, y.removed_at_ms).cmp(&(&y.a, &y.b, x.removed_at_ms)));
        self.removed.dedup_by(|later, earlier| {
            later.a == earlier.a && later.b == earlier.b && later.reason == earlier.reason
        });
        self.refused
            .sort_by(|x, y| (&x.identity, y.refused_at_ms).cmp(&(&y.identity, x.refused_at_ms)));
        self.refused
            .dedup_by(|later, earlier| later.identity == earlier.identity);
        trim_oldest(&mut self.removed, |r| r.removed_at_ms);
        trim_oldest(&mut self.refused, |r| r.refused_at_ms);
    }

    /// Puts nodes and edges in key order, so equal graphs encode to equal bytes.
    pub fn normalize(&mut self) {
        self.nodes.sort_by(|x, y| x.identity.cmp(&y.identity));
        self.edges.sort_by(|x, y| (&x.a, &x.b).cmp(&(&y.a, &y.b)));
    }
}

fn trim_oldest<T>(items: &mut Vec<T>, time: impl Fn(&T) -> i64) {
    if items.len() > HISTORY_LIMIT {
        items.sort_by_key(|item| std::cmp::Reverse(time(item)));
        items.truncate(HISTORY_LIMIT);
    }
}

/// What the rules need to know about namespaces.
pub trait LinkingRules {
    /// Whether a graph may hold only one identity of this namespace.
    fn is_unique(&self, namespace: &str) -> bool;
    /// The graph limit's removal order for this namespace (lower goes first).
    fn removal_rank(&self, namespace: &str) -> u8;
    /// The most identities one graph may hold.
    fn graph_limit(&self) -> usize;
}

/// The outcome of applying the rules: connected components and what was removed on the way.
#[derive(Debug, Clone, Default)]
pub struct Resolution {
    pub components: Vec<Graph>,
    pub removed: Vec<RemovedLink>,
}

struct UnionFind {
    parent: Vec<usize>,
    /// Per root: unique namespace → the value the component holds.
    unique_values: Vec<BTreeMap<String, String>>,
    /// Per root: when its most recent kept edge was last seen (`None` for a lone identity).
    linked_ms: Vec<Option<i64>>,
}

impl UnionFind {
    fn find(&mut self, mut x: usize) -> usize {
        while self.parent[x] != x {
            self.parent[x] = self.parent[self.parent[x]];
            x = self.parent[x];
        }
        x
    }
}

/// Applies the linking rules to `graph` (which may be disconnected or break the rules) at `now_ms`.
pub fn resolve(mut graph: Graph, rules: &dyn LinkingRules, now_ms: i64) -> Resolution {
    graph.normalize();
    let mut removed = Vec::new();
    let index: HashMap<IdentityKey, usize> = graph
        .nodes
        .iter()
        .enumerate()
        .map(|(i, n)| (n.identity.clone(), i))
        .collect();

    let mut order: Vec<usize> = (0..graph.edges.len()).collect();
    order.sort_by(|&x, &y| {
        let (ex, ey) = (&graph.edges[x], &graph.edges[y]);
        ey.last_seen_ms
            .cmp(&ex.last_seen_ms)
            .then_with(|| (&ex.a, &ex.b).cmp(&(&ey.a, &ey.b)))
    });

    let mut kept_edges = vec![false; graph.edges.len()];
    let mut union_find = UnionFind {
        parent: (0..graph.nodes.len()).collect(),
        unique_values: graph
            .nodes
            .iter()
            .map(|n| {
                let mut values = BTreeMap::new();
                if rules.is_unique(&n.identity.namespace) {
                    values.insert(n.identity.namespace.clone(), n.identity.value.clone());
                }
                values
            })
            .collect(),
        linked_ms: vec![None; graph.nodes.len()],
    };
    for edge_index in order {
        let edge = &graph.edges[edge_index];
        let (Some(&a), Some(&b)) = (index.get(&edge.a), index.get(&edge.b)) else {
            continue;
        };
        let (root_a, root_b) = (union_find.find(a), union_find.find(b));
        if root_a == root_b {
            kept_edges[edge_index] = true;
            continue;
        }
        let conflict = union_find.unique_values[root_a]
            .iter()
            .find_map(|(namespace, value_a)| {
                let value_b = union_find.unique_values[root_b].get(namespace)?;
                (value_a != value_b).then(|| (namespace.clone(), value_a.clone(), value_b.clone()))
            });
        if let Some((namespace, value_a, value_b)) = conflict {
            // The side already linked by newer edges keeps its value; the edge is refused.
            let (kept, refused) = if union_find.linked_ms[root_b] > union_find.linked_ms[root_a] {
                (value_b, value_a)
            } else {
                (value_a, value_b)
            };
            removed.push(RemovedLink {
                a: edge.a.clone(),
                b: edge.b.clone(),
                removed_at_ms: now_ms,
                last_seen_ms: edge.last_seen_ms,
                source: edge.source.clone(),
                reason: RemovalReason::UniqueNamespace {
                    namespace,
                    kept,
                    refused,
                },
            });
            continue;
        }
        kept_edges[edge_index] = true;
        let moved = std::mem::take(&mut union_find.unique_values[root_b]);
        union_find.unique_values[root_a].extend(moved);
        union_find.linked_ms[root_a] = union_find.linked_ms[root_a]
            .max(union_find.linked_ms[root_b])
            .max(Some(edge.last_seen_ms));
        union_find.parent[root_b] = root_a;
    }

    let mut kept: Vec<Edge> = graph
        .edges
        .iter()
        .zip(&kept_edges)
        .filter(|(_, keep)| **keep)
        .map(|(e, _)| e.clone())
        .collect();
    let mut isolated: BTreeSet<usize> = BTreeSet::new();
    let limit = rules.graph_limit().max(1);
    let mut members: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for node in 0..graph.nodes.len() {
        members.entry(union_find.find(node)).or_default().push(node);
    }
    for component in members.values().filter(|c| c.len() > limit) {
        let mut by_removal_order = component.clone();
        by_removal_order.sort_by(|&x, &y| {
            let (nx, ny) = (&graph.nodes[x], &graph.nodes[y]);
            (
                rules.removal_rank(&nx.identity.namespace),
                nx.last_seen_ms,
                &nx.identity,
            )
                .cmp(&(
                    rules.removal_rank(&ny.identity.namespace),
                    ny.last_seen_ms,
                    &ny.identity,
                ))
        });
        isolated.extend(by_removal_order.into_iter().take(component.len() - limit));
    }
    if !isolated.is_empty() {
        let isolated_keys: BTreeSet<&IdentityKey> =
            isolated.iter().map(|&i| &graph.nodes[i].identity).collect();
        kept.retain(|edge| {
            let drop = isolated_keys.contains(&edge.a) || isolated_keys.contains(&edge.b);
            if drop {
                removed.push(RemovedLink {
                    a: edge.a.clone(),
                    b: edge.b.clone(),
                    removed_at_ms: now_ms,
                    last_seen_ms: edge.last_seen_ms,
                    source: edge.source.clone(),
                    reason: RemovalReason::GraphLimit { limit },
                });
            }
            !drop
        });
    }

    let components = connected_components(&graph.nodes, &kept, &index);
    let mut resolution = Resolution {
        components: Vec::with_capacity(components.len()),
        removed: removed.clone(),
    };
    for component_nodes in components {
        let keys: BTreeSet<&IdentityKey> = component_nodes
            .iter()
            .map(|&i| &graph.nodes[i].identity)
            .collect();
        let nodes: Vec<Node> = component_nodes
            .iter()
            .map(|&i| graph.nodes[i].clone())
            .collect();
        let edges: Vec<Edge> = kept
            .iter()
            .filter(|e| keys.contains(&e.a))
            .cloned()
            .collect();
        let touches = |a: &IdentityKey, b: &IdentityKey| keys.contains(a) || keys.contains(b);
        let mut history: Vec<RemovedLink> = graph
            .removed
            .iter()
            .filter(|r| touches(&r.a, &r.b))
            .cloned()
            .collect();
        history.extend(removed.iter().filter(|r| touches(&r.a, &r.b)).cloned());
        let refused = graph
            .refused
            .iter()
            .filter(|r| keys.contains(&r.identity))
            .cloned()
            .collect();
        let mut component = Graph {
            nodes,
            edges,
            removed: history,
            refused,
            changed_ms: graph.changed_ms,
            merged_profiles: Vec::new(),
            guardrails: Vec::new(),
        };
        component.trim_history();
        component.normalize();
        resolution.components.push(component);
    }
    resolution
}

/// Components of the nodes under the kept edges, each sorted, ordered by their first node.
fn connected_components(
    nodes: &[Node],
    edges: &[Edge],
    index: &HashMap<IdentityKey, usize>,
) -> Vec<Vec<usize>> {
    let mut parent: Vec<usize> = (0..nodes.len()).collect();
    fn find(parent: &mut [usize], mut x: usize) -> usize {
        while parent[x] != x {
            parent[x] = parent[parent[x]];
            x = parent[x];
        }
        x
    }
    for edge in edges {
        if let (Some(&a), Some(&b)) = (index.get(&edge.a), index.get(&edge.b)) {
            let (root_a, root_b) = (find(&mut parent, a), find(&mut parent, b));
            if root_a != root_b {
                parent[root_a.max(root_b)] = root_a.min(root_b);
            }
        }
    }
    let mut groups: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for node in 0..nodes.len() {
        let root = find(&mut parent, node);
        groups.entry(root).or_default().push(node);
    }
    groups.into_values().collect()
}
