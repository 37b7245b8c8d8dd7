//! The compiled program a definition evaluates: resolved paths split into segments, literals
//! parsed (dates to epoch milliseconds), regular expressions compiled, functions chosen, time
//! windows turned into bounds, variables numbered.

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
}

/// Something iterated: the events, an array value, or a filtered collection.
#[derive(Debug)]
pub(crate) enum Coll {
    /// `xEvent`.
    Events,
    /// An array-valued expression.
    Value(Node),
    /// `source[cond]`: `cond` is evaluated with the element as a new level.
    Filter { source: Box<Coll>, cond: Node },
    /// `select X from source where cond`, `source.filter((X) => cond)`.
    VarFilter {
        source: Box<Coll>,
        var: u32,
        cond: Node,
    },
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
            Coll::Filter { source, cond } | Coll::VarFilter { source, cond, .. } => {
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
