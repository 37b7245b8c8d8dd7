//! The compiled program a definition evaluates: resolved paths split into segments, literals
//! parsed (dates to epoch milliseconds), regular expressions compiled, functions chosen, time
//! windows turned into bounds, variables numbered.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock, PoisonError};

use pql::{CmpOp, Unit};
use regex::Regex;

use crate::text::LikeTok;
use crate::timeutil::Base as TimeBase;

/// A literal value.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Const {
    Null,
    Bool(bool),
    Int(i64),
    Num(f64),
    Str(Box<str>),
    Time(i64),
    List(Box<[Const]>),
}

/// Where a path starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Base {
    /// The profile.
    Root,
    /// The element of an enclosing filter or aggregation level, `n` levels up (0: innermost).
    Level(u32),
    /// A variable (`let`, quantifier, `select`, lambda parameter).
    Var(u32),
}

/// One field name of a path, with what it means on an event decided once.
#[derive(Debug)]
pub(crate) struct Seg {
    pub name: Box<str>,
    /// On an event: `timestamp` (read from [`crate::EventRef::timestamp_ms`]) or `_id`
    /// (from [`crate::EventRef::id`]).
    pub event_field: EventField,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EventField {
    Other,
    Timestamp,
    Id,
    /// `eventType`, which [`crate::evaluate_all`] reads once per event for all definitions.
    EventType,
}

impl Seg {
    pub(crate) fn new(name: &str) -> Seg {
        Seg {
            name: name.into(),
            event_field: match name {
                "timestamp" => EventField::Timestamp,
                "_id" => EventField::Id,
                "eventType" => EventField::EventType,
                _ => EventField::Other,
            },
        }
    }
}

/// `base.a.b.c`, with the number of leading segments that are schema fields (before a map key),
/// for the dependencies.
#[derive(Debug)]
pub(crate) struct PathNode {
    pub base: Base,
    pub segs: Box<[Seg]>,
    pub dep_len: usize,
    pub keyed: bool,
    /// [`path_key`] of `segs`.
    pub key: u32,
}

impl PathNode {
    pub(crate) fn new(base: Base, segs: Box<[Seg]>, dep_len: usize, keyed: bool) -> PathNode {
        PathNode {
            base,
            key: path_key(&segs),
            segs,
            dep_len,
            keyed,
        }
    }
}

/// A number for a path, the same for equal paths in every definition compiled by the process:
/// evaluations of several definitions on one subject keep what they read of each event under
/// it ([`crate::SharedWork`]).
pub(crate) fn path_key(segs: &[Seg]) -> u32 {
    type Keys = Mutex<HashMap<Box<[Box<str>]>, u32>>;
    static KEYS: OnceLock<Keys> = OnceLock::new();
    let names: Box<[Box<str>]> = segs.iter().map(|s| s.name.clone()).collect();
    let mut keys = KEYS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    let next = u32::try_from(keys.len()).unwrap_or(u32::MAX);
    *keys.entry(names).or_insert(next)
}

/// Something iterated: the events, an array value, or a filtered collection.
#[derive(Debug)]
pub(crate) enum Coll {
    /// `xEvent`.
    Events,
    /// An array-valued expression.
    Value(Node),
    /// `source[cond]`: `cond` is evaluated with the element as a new level.
    Filter {
        source: Box<Coll>,
        cond: Node,
        guard: Option<TypeGuard>,
    },
    /// `select X from source where cond`, `source.filter((X) => cond)`.
    VarFilter {
        source: Box<Coll>,
        var: u32,
        cond: Node,
        guard: Option<TypeGuard>,
    },
}

/// The `eventType` test of a condition on an event (`eventType = "x"`, `eventType in [...]`,
/// `eventType.equals("x")`), alone or as one conjunct of an `and`: decided first, from the
/// event types read once per subject, so that only the events of those types are visited.
/// An event whose type is not one of `types` fails the condition at every instant, whatever
/// the rest of it would say, so skipping it changes neither the result nor what the
/// evaluation depends on.
#[derive(Debug)]
pub(crate) struct TypeGuard {
    /// The test holds for an event whose `eventType` is a string exactly when it is one of
    /// these; never when it is missing; for another kind of value the whole condition is
    /// evaluated.
    pub types: Box<[Box<str>]>,
    /// The position of the test in the condition's `and`, or `None` when the test is the
    /// whole condition.
    pub conjunct: Option<usize>,
}

/// What an aggregation evaluates on each element.
#[derive(Debug)]
pub(crate) enum ElemFn {
    /// The element itself.
    Identity,
    /// An expression with the element as a new level (`sum(commerce.order.priceTotal)`).
    Level(Node),
    /// A lambda with the element bound to a variable.
    Var(u32, Node),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum AggKind {
    Sum,
    Average,
    Min,
    Max,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum StrOp {
    Equals,
    Contains,
    StartsWith,
    EndsWith,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SetOp {
    Intersects,
    Intersection,
    SubsetOf,
    SupersetOf,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ArithOp {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Part {
    Year,
    Month,
    Day,
}

/// A time anchor: known at compile time up to the evaluation time, or computed from the data.
#[derive(Debug)]
pub(crate) enum Anchor {
    Static(TimeBase),
    /// A value of the data; `day` when it is a date (a whole day) rather than an instant.
    Dyn {
        node: Node,
        day: bool,
    },
}

/// One bound of a window: an anchor's start or end, moved by `shift` units.
#[derive(Debug)]
pub(crate) struct BoundSpec {
    pub anchor: usize,
    pub end: bool,
    pub shift: i64,
    pub unit: Unit,
    pub inclusive: bool,
    /// Where the evaluation keeps the bound once computed, for bounds that do not depend on
    /// the data.
    pub slot: Option<u8>,
}

/// A compiled `occurs` condition: `lower <= ts <= upper` (bounds optional, each inclusive or
/// not), negated for `!=`.
#[derive(Debug)]
pub(crate) struct TimeCond {
    pub anchors: Vec<Anchor>,
    pub lower: Option<BoundSpec>,
    pub upper: Option<BoundSpec>,
    pub negate: bool,
}

/// One `chain` step.
#[derive(Debug)]
pub(crate) struct Step {
    pub label: String,
    pub what: Node,
    pub when: Option<TimeCond>,
}

#[derive(Debug)]
pub(crate) struct ChainNode {
    pub coll: Coll,
    /// The ordering timestamp, evaluated with the element as a level.
    pub ts: Node,
    pub steps: Vec<Step>,
}

/// One `VAR from SOURCE where COND` of a quantifier.
#[derive(Debug)]
pub(crate) struct Clause {
    pub var: u32,
    pub coll: Coll,
    pub cond: Node,
    /// For `exists` over the events: the `eventType` test of `cond`.
    pub guard: Option<TypeGuard>,
}

/// `count() op k` with a literal `k` (either side), recognised at compile time: counting stops
/// once `limit` elements are found, as more cannot change the result.
#[derive(Clone, Copy, Debug)]
pub(crate) struct CountCmp {
    /// Whether the count is the left operand.
    pub count_on_left: bool,
    /// The operator with the count on the left.
    pub op: CmpOp,
    pub k: f64,
    pub limit: usize,
}

/// A compiled expression.
#[derive(Debug)]
pub(crate) enum Node {
    Const(Const),
    /// An array literal with computed items.
    List(Vec<Node>),
    Path(Box<PathNode>),
    /// The `timestamp` of an event (from [`crate::EventRef::timestamp_ms`]).
    EventTs(Base),
    /// Fields of a computed value.
    Get {
        object: Box<Node>,
        segs: Box<[Seg]>,
    },
    /// `map.get(key)` with a computed key.
    MapGet {
        map: Box<Node>,
        key: Box<Node>,
    },
    /// A level or variable itself (`$1`, `^`, `E`).
    Elem(Base),
    /// A collection as a value (materialised).
    CollValue(Box<Coll>),
    /// Reads a date / date-time string as an instant.
    ToTime(Box<Node>),
    Not(Box<Node>),
    And(Box<[Node]>),
    Or(Box<[Node]>),
    /// A value of unknown type in a condition.
    Truthy(Box<Node>),
    NonEmpty(Box<Coll>),
    Cmp {
        op: CmpOp,
        lhs: Box<Node>,
        rhs: Box<Node>,
        /// Set when one side is a `count()` and the other a number literal.
        count: Option<CountCmp>,
    },
    /// `value op bound`, the bound moving with the evaluation time (`now`, `today`...).
    TimeCmp {
        op: CmpOp,
        value: Box<Node>,
        bound: crate::timeutil::Bound,
        slot: Option<u8>,
    },
    IsNull {
        negate: bool,
        value: Box<Node>,
    },
    In {
        negate: bool,
        needle: Box<Node>,
        hay: Box<Node>,
    },
    Like {
        subject: Box<Node>,
        pattern: Like,
    },
    StrTest {
        op: StrOp,
        negate: bool,
        subject: Box<Node>,
        arg: Box<Node>,
        case_sensitive: Box<Node>,
    },
    Matches {
        subject: Box<Node>,
        re: Box<Regex>,
    },
    RegexGroup {
        subject: Box<Node>,
        re: Box<Regex>,
        group: Box<Node>,
    },
    If(Box<[Node; 3]>),
    Arith {
        op: ArithOp,
        lhs: Box<Node>,
        rhs: Box<Node>,
    },
    Neg(Box<Node>),
    InSegment(Box<str>),
    Count(Box<Coll>),
    Agg {
        kind: AggKind,
        coll: Box<Coll>,
        f: Box<ElemFn>,
    },
    Head(Box<Coll>),
    Distinct(Box<Coll>),
    SetFn {
        op: SetOp,
        a: Box<Node>,
        b: Box<Node>,
    },
    Includes {
        list: Box<Node>,
        item: Box<Node>,
    },
    Keys(Box<Node>),
    Values(Box<Node>),
    /// `coll.map(f)`.
    MapItems {
        coll: Box<Coll>,
        f: Box<ElemFn>,
    },
    /// `coll.topN(f, n)` / `bottomN`.
    TopN {
        coll: Box<Coll>,
        f: Box<ElemFn>,
        n: Box<Node>,
        bottom: bool,
    },
    Quant {
        forall: bool,
        clauses: Box<[Clause]>,
    },
    Let {
        var: u32,
        value: Box<Node>,
        body: Box<Node>,
    },
    Chain(Box<ChainNode>),
    Occurs {
        subject: Box<Node>,
        cond: Box<TimeCond>,
    },
    /// `now` as a plain value (changes every millisecond).
    Now,
    /// The start of a calendar period as a plain value (`today`, `this month`).
    PeriodStart {
        unit: Unit,
        offset: i64,
    },
    /// `currentYear()`, `currentMonth()`, `currentDayOfMonth()`.
    Current(Part),
    /// `getYear()`, `getMonth()`, `getDayOfMonth()`.
    GetPart {
        part: Part,
        value: Box<Node>,
    },
    /// `date(y, m, d[, h, mi, s])` with computed arguments.
    DateFn(Box<[Node]>),
    /// A node shown in explanations with the PQL text it was compiled from.
    Explained(Box<(String, Node)>),
}

/// A `like` pattern, split at compile time when it is a literal.
#[derive(Debug)]
pub(crate) enum Like {
    /// The pattern text and its elements.
    Literal(String, Vec<LikeTok>),
    Dynamic(Box<Node>),
}

impl Node {
    /// The node inside an explanation wrapper.
    pub(crate) fn unwrap_explained(&self) -> &Node {
        match self {
            Node::Explained(b) => b.1.unwrap_explained(),
            n => n,
        }
    }

    /// Calls `f` on every node of the tree, this one included.
    pub(crate) fn visit<'n>(&'n self, f: &mut dyn FnMut(&'n Node)) {
        f(self);
        self.visit_children(&mut |n| n.visit(&mut *f));
    }

    /// Calls `f` on each direct sub-node.
    pub(crate) fn visit_children<'n>(&'n self, f: &mut dyn FnMut(&'n Node)) {
        match self {
            Node::Const(_)
            | Node::Path(_)
            | Node::EventTs(_)
            | Node::Elem(_)
            | Node::InSegment(_)
            | Node::Now
            | Node::PeriodStart { .. }
            | Node::Current(_) => {}
            Node::List(items) => items.iter().for_each(f),
            Node::And(items) | Node::Or(items) => items.iter().for_each(f),
            Node::DateFn(items) => items.iter().for_each(f),
            Node::Get { object: a, .. }
            | Node::ToTime(a)
            | Node::Not(a)
            | Node::Truthy(a)
            | Node::IsNull { value: a, .. }
            | Node::Matches { subject: a, .. }
            | Node::Neg(a)
            | Node::Keys(a)
            | Node::Values(a)
            | Node::GetPart { value: a, .. }
            | Node::TimeCmp { value: a, .. } => f(a),
            Node::MapGet { map: a, key: b }
            | Node::Cmp { lhs: a, rhs: b, .. }
            | Node::In {
                needle: a, hay: b, ..
            }
            | Node::RegexGroup {
                subject: a,
                group: b,
                ..
            }
            | Node::Arith { lhs: a, rhs: b, .. }
            | Node::SetFn { a, b, .. }
            | Node::Includes { list: a, item: b }
            | Node::Let {
                value: a, body: b, ..
            } => {
                f(a);
                f(b);
            }
            Node::Like { subject, pattern } => {
                f(subject);
                if let Like::Dynamic(p) = pattern {
                    f(p);
                }
            }
            Node::StrTest {
                subject,
                arg,
                case_sensitive,
                ..
            } => {
                f(subject);
                f(arg);
                f(case_sensitive);
            }
            Node::If(parts) => parts.iter().for_each(f),
            Node::CollValue(c)
            | Node::NonEmpty(c)
            | Node::Count(c)
            | Node::Head(c)
            | Node::Distinct(c) => c.visit_children(f),
            Node::Agg { coll, f: g, .. } | Node::MapItems { coll, f: g } => {
                coll.visit_children(f);
                g.visit_children(f);
            }
            Node::TopN { coll, f: g, n, .. } => {
                coll.visit_children(f);
                g.visit_children(f);
                f(n);
            }
            Node::Quant { clauses, .. } => {
                for c in clauses.iter() {
                    c.coll.visit_children(f);
                    f(&c.cond);
                }
            }
            Node::Chain(c) => {
                c.coll.visit_children(f);
                f(&c.ts);
                for s in &c.steps {
                    f(&s.what);
                    if let Some(w) = &s.when {
                        w.visit_children(f);
                    }
                }
            }
            Node::Occurs { subject, cond } => {
                f(subject);
                cond.visit_children(f);
            }
            Node::Explained(b) => f(&b.1),
        }
    }
}

impl Coll {
    pub(crate) fn visit_children<'n>(&'n self, f: &mut dyn FnMut(&'n Node)) {
        match self {
            Coll::Events => {}
            Coll::Value(n) => f(n),
            Coll::Filter { source, cond, .. } | Coll::VarFilter { source, cond, .. } => {
                source.visit_children(f);
                f(cond);
            }
        }
    }

    /// Whether the elements are events.
    pub(crate) fn over_events(&self) -> bool {
        match self {
            Coll::Events => true,
            Coll::Value(_) => false,
            Coll::Filter { source, .. } | Coll::VarFilter { source, .. } => source.over_events(),
        }
    }
}

impl ElemFn {
    fn visit_children<'n>(&'n self, f: &mut dyn FnMut(&'n Node)) {
        match self {
            ElemFn::Identity => {}
            ElemFn::Level(n) | ElemFn::Var(_, n) => f(n),
        }
    }
}

impl TimeCond {
    fn visit_children<'n>(&'n self, f: &mut dyn FnMut(&'n Node)) {
        for a in &self.anchors {
            if let Anchor::Dyn { node, .. } = a {
                f(node);
            }
        }
    }
}

impl TypeGuard {
    /// The guard of `cond`, a condition on the event `elem` (a filter level or a variable).
    pub(crate) fn of(cond: &Node, elem: Base) -> Option<TypeGuard> {
        if let Some(types) = type_test(cond, elem) {
            return Some(TypeGuard {
                types,
                conjunct: None,
            });
        }
        let Node::And(items) = cond else {
            return None;
        };
        items.iter().enumerate().find_map(|(i, item)| {
            type_test(item, elem).map(|types| TypeGuard {
                types,
                conjunct: Some(i),
            })
        })
    }
}

/// The types `n` accepts when it tests the `eventType` of `elem` against string literals and
/// holds, for an event whose `eventType` is a string, exactly when that string is one of them:
/// `eventType = "x"` (either side), `eventType in ["x", "y"]`, `eventType.equals("x")`
/// (case-sensitive).
fn type_test(n: &Node, elem: Base) -> Option<Box<[Box<str>]>> {
    let is_type = |x: &Node| {
        matches!(x, Node::Path(p)
            if p.base == elem && p.segs.len() == 1 && p.segs[0].event_field == EventField::EventType)
    };
    let literal = |x: &Node| match x {
        Node::Const(Const::Str(s)) => Some(Box::from([s.clone()])),
        _ => None,
    };
    match n {
        Node::Cmp {
            op: CmpOp::Eq,
            lhs,
            rhs,
            ..
        } => {
            if is_type(lhs) {
                literal(rhs)
            } else if is_type(rhs) {
                literal(lhs)
            } else {
                None
            }
        }
        Node::StrTest {
            op: StrOp::Equals,
            negate: false,
            subject,
            arg,
            case_sensitive,
        } if is_type(subject) && matches!(**case_sensitive, Node::Const(Const::Bool(true))) => {
            literal(arg)
        }
        Node::In {
            negate: false,
            needle,
            hay,
        } if is_type(needle) => match &**hay {
            Node::Const(Const::List(items)) => items
                .iter()
                .map(|c| match c {
                    Const::Str(s) => Some(s.clone()),
                    _ => None,
                })
                .collect(),
            _ => None,
        },
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn compile(text: &str) -> crate::Definition {
        let profile = xdm::compose(xdm::Class::Profile, &[]).unwrap();
        let event = xdm::compose(
            xdm::Class::ExperienceEvent,
            &[xdm::standard_field_group("experienceevent-commerce").unwrap()],
        )
        .unwrap();
        let ctx = crate::SchemaContext {
            profile: &profile,
            event: &event,
            segment_exists: &|_| false,
        };
        crate::compile(text, &ctx).unwrap()
    }

    /// The type guards of a definition's filters and `exists` clauses over the events.
    fn guards(text: &str) -> Vec<Option<(Vec<String>, Option<usize>)>> {
        let def = compile(text);
        let mut out = Vec::new();
        let show = |g: &Option<TypeGuard>| {
            g.as_ref()
                .map(|g| (g.types.iter().map(|t| t.to_string()).collect(), g.conjunct))
        };
        def.root.visit(&mut |n| {
            let colls: Vec<&Coll> = match n {
                Node::Count(c) | Node::NonEmpty(c) | Node::Agg { coll: c, .. } => vec![&**c],
                Node::Quant { clauses, .. } => {
                    for c in clauses.iter() {
                        if matches!(c.coll, Coll::Events) {
                            out.push(show(&c.guard));
                        }
                    }
                    clauses.iter().map(|c| &c.coll).collect()
                }
                _ => Vec::new(),
            };
            for c in colls {
                if let Coll::Filter { source, guard, .. } | Coll::VarFilter { source, guard, .. } =
                    c
                {
                    if matches!(**source, Coll::Events) {
                        out.push(show(guard));
                    }
                }
            }
        });
        out
    }

    fn some(types: &[&str], conjunct: Option<usize>) -> Option<(Vec<String>, Option<usize>)> {
        Some((types.iter().map(|t| t.to_string()).collect(), conjunct))
    }

    #[test]
    fn event_type_tests_become_guards() {
        assert_eq!(
            guards(r#"xEvent[eventType = "a"].count() > 0"#),
            [some(&["a"], None)]
        );
        assert_eq!(
            guards(r#"xEvent[timestamp occurs <= 1 days before now and "a" = eventType]"#),
            [some(&["a"], Some(1))]
        );
        assert_eq!(
            guards(
                r#"xEvent[eventType in ["a", "b"] and commerce.order.priceTotal > 1].count() > 0"#
            ),
            [some(&["a", "b"], Some(0))]
        );
        assert_eq!(
            guards(r#"xEvent[eventType.equals("a")].sum(commerce.order.priceTotal) > 0"#),
            [some(&["a"], None)]
        );
        assert_eq!(
            guards(r#"exists E from xEvent where (E.eventType = "a" and E.timestamp > now)"#),
            [some(&["a"], Some(0))]
        );
        assert_eq!(
            guards(r#"(select X from xEvent where X.eventType = "a").count() > 0"#),
            [some(&["a"], None)]
        );
    }

    #[test]
    fn other_tests_are_not_guards() {
        for text in [
            r#"xEvent[eventType = "a" or eventType = "b"].count() > 0"#,
            r#"xEvent[eventType != "a"].count() > 0"#,
            r#"xEvent[not (eventType = "a")].count() > 0"#,
            r#"xEvent[eventType.equals("a", false)].count() > 0"#,
            r#"xEvent[eventType in ["a", 1]].count() > 0"#,
            r#"xEvent[eventType like "a%"].count() > 0"#,
            r#"forall E from xEvent where (E.eventType = "a")"#,
        ] {
            assert!(guards(text).iter().all(Option::is_none), "{text}");
        }
    }

    #[test]
    fn equal_paths_have_equal_keys() {
        let a = PathNode::new(
            Base::Level(0),
            [Seg::new("a"), Seg::new("b")].into(),
            2,
            false,
        );
        let b = PathNode::new(Base::Root, [Seg::new("a"), Seg::new("b")].into(), 2, false);
        let c = PathNode::new(
            Base::Level(0),
            [Seg::new("a"), Seg::new("c")].into(),
            2,
            false,
        );
        assert_eq!(a.key, b.key);
        assert_ne!(a.key, c.key);
    }
}
