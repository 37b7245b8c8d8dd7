//! Evaluating the compiled program on one subject at one instant, recording the earliest
//! instant at which any time-dependent part it looked at changes value; and the work several
//! evaluations on one subject share ([`Shared`]: the events' types, the paths read).

use std::cell::{Cell, RefCell};
use std::cmp::Ordering;
use std::rc::Rc;

use pql::{CmpOp, Unit};
use serde_json::Value;

use crate::ir::{
    AggKind, Anchor, ArithOp, Base, BoundSpec, ChainNode, Clause, Coll, CountCmp, ElemFn,
    EventField, Like, Node, Part, PathNode, Seg, SetOp, TimeCond, TypeGuard,
};
use crate::text::{like_match, like_pattern, str_test};
use crate::timeutil::{
    self, civil, next_boundary, period, ymd_ms, Bound, Prepared, CACHED_BOUNDS, DAY, HOUR, MINUTE,
    SECOND,
};
use crate::value::{cmp_holds, compare, equal, from_json, order, Val};
use crate::{EventRef, Subject};

/// An event whose `eventType` is missing or null.
const MISSING: u32 = u32::MAX;
/// An event whose `eventType` is neither a string nor null, or a string beyond the first
/// [`NAMES`] distinct ones: conditions on it are evaluated in full.
const OTHER: u32 = u32::MAX - 1;
/// The most distinct event types numbered (the bits of a mask).
const NAMES: usize = 64;

/// Each event's `eventType`, read once for several evaluations: the distinct strings, and per
/// event the position of its own among them (or [`MISSING`], [`OTHER`]).
pub(crate) struct EventTypes<'a> {
    ids: Vec<u32>,
    names: Vec<&'a str>,
    /// Whether some event is [`OTHER`].
    other: bool,
}

impl<'a> EventTypes<'a> {
    pub(crate) fn new(events: &'a [EventRef<'a>]) -> EventTypes<'a> {
        let mut names: Vec<&'a str> = Vec::new();
        let mut other = false;
        let ids = events
            .iter()
            .map(|e| match field(e.value, "eventType") {
                Some(Value::String(s)) => match names.iter().position(|n| *n == s.as_str()) {
                    Some(i) => i as u32,
                    None if names.len() < NAMES => {
                        names.push(s);
                        names.len() as u32 - 1
                    }
                    None => {
                        other = true;
                        OTHER
                    }
                },
                None | Some(Value::Null) => MISSING,
                Some(_) => {
                    other = true;
                    OTHER
                }
            })
            .collect();
        EventTypes { ids, names, other }
    }

    /// The positions of `types` among the names, as bits.
    fn mask(&self, types: &[Box<str>]) -> u64 {
        let mut mask = 0u64;
        for t in types {
            if let Some(i) = self.names.iter().position(|n| *n == &**t) {
                mask |= 1 << i;
            }
        }
        mask
    }
}

/// What evaluations of several definitions on one subject share: each event's type, and the
/// values of the paths read so far on each event and on the profile (when known).
pub(crate) struct Shared<'e> {
    events: &'e [EventRef<'e>],
    profile: Option<&'e Value>,
    types: EventTypes<'e>,
    paths: RefCell<PathColumns<'e>>,
}

/// Per path read (by [`crate::ir::path_key`]), one slot per event and one for the profile.
struct PathColumns<'e> {
    keys: Vec<u32>,
    slots: Vec<Option<Slot<'e>>>,
}

/// What a path (whose first field is an ordinary one) reads on an event or the profile.
#[derive(Clone, Copy)]
pub(crate) enum Slot<'e> {
    Missing,
    Found(&'e Value),
    /// The path goes through an array: its value is collected from the items, each time.
    Walk,
}

/// The value of key `k` of an object: a small object (all in one node of its B-tree) is
/// scanned comparing lengths first, which spares most string comparisons.
fn get<'v>(m: &'v serde_json::Map<String, Value>, k: &str) -> Option<&'v Value> {
    if m.len() > 11 {
        return m.get(k);
    }
    m.iter()
        .find(|(key, _)| key.len() == k.len() && key.as_bytes() == k.as_bytes())
        .map(|(_, v)| v)
}

/// Field `k` of `v` when it is an object.
fn field<'v>(v: &'v Value, k: &str) -> Option<&'v Value> {
    match v {
        Value::Object(m) => get(m, k),
        _ => None,
    }
}

/// Follows `segs` through objects from `v`.
fn resolve<'v>(mut v: &'v Value, segs: &[Seg]) -> Slot<'v> {
    for seg in segs {
        v = match v {
            Value::Object(m) => match get(m, &seg.name) {
                Some(x) => x,
                None => return Slot::Missing,
            },
            Value::Array(_) => return Slot::Walk,
            _ => return Slot::Missing,
        };
    }
    Slot::Found(v)
}

impl<'e> Shared<'e> {
    pub(crate) fn new(profile: Option<&'e Value>, events: &'e [EventRef<'e>]) -> Shared<'e> {
        Shared {
            events,
            profile,
            types: EventTypes::new(events),
            paths: RefCell::new(PathColumns {
                keys: Vec::new(),
                slots: Vec::new(),
            }),
        }
    }
}

/// [`Shared`] as an evaluation sees it: a trait, so that the lifetime its cells fix need not be
/// the evaluation's.
pub(crate) trait SharedView<'a> {
    fn events(&self) -> &'a [EventRef<'a>];
    fn profile(&self) -> Option<&'a Value>;
    fn types(&self) -> &EventTypes<'a>;
    /// What `segs` (with key `key`) reads on event `i`, or on the profile when `i` is the
    /// number of events.
    fn path(&self, key: u32, i: usize, segs: &[Seg]) -> Slot<'a>;
}

impl<'e: 'a, 'a> SharedView<'a> for Shared<'e> {
    fn events(&self) -> &'a [EventRef<'a>] {
        self.events
    }

    fn profile(&self) -> Option<&'a Value> {
        self.profile
    }

    fn types(&self) -> &EventTypes<'a> {
        &self.types
    }

    fn path(&self, key: u32, i: usize, segs: &[Seg]) -> Slot<'a> {
        let n = self.events.len() + 1;
        let c = self.paths.borrow();
        if let Some(col) = c.keys.iter().position(|k| *k == key) {
            if let Some(Some(slot)) = c.slots.get(col * n + i) {
                return *slot;
            }
        }
        drop(c);
        self.read(key, i, segs)
    }
}

impl<'e> Shared<'e> {
    /// Reads `segs` on event `i` (or the profile) and keeps it.
    #[inline(never)]
    fn read(&self, key: u32, i: usize, segs: &[Seg]) -> Slot<'e> {
        let n = self.events.len() + 1;
        let slot = match (self.events.get(i), self.profile) {
            (Some(e), _) => resolve(e.value, segs),
            (None, Some(profile)) => resolve(profile, segs),
            (None, None) => Slot::Walk,
        };
        let mut c = self.paths.borrow_mut();
        let col = match c.keys.iter().position(|k| *k == key) {
            Some(col) => col,
            None => {
                c.keys.push(key);
                let len = c.slots.len();
                c.slots.resize(len + n, None);
                c.keys.len() - 1
            }
        };
        if let Some(s) = c.slots.get_mut(col * n + i) {
            *s = Some(slot);
        }
        slot
    }
}

/// The evaluation context: the subject, the instant, and the earliest change seen so far.
pub(crate) struct Cx<'a> {
    subject: &'a Subject<'a>,
    /// Each event's `eventType`, when read once for several definitions.
    types: Option<&'a EventTypes<'a>>,
    /// The work shared with other evaluations on the subject.
    shared: Option<&'a (dyn SharedView<'a> + 'a)>,
    /// Whether `shared` holds the profile's paths.
    shared_profile: bool,
    pub(crate) now: i64,
    next: Cell<i64>,
    /// Bounds that do not depend on the data, computed once.
    bounds: RefCell<[Option<SlotState>; CACHED_BOUNDS]>,
    /// How many of `bounds` may have been computed.
    used: Cell<usize>,
}

/// A cached bound and the smallest target it has yet to reach (loose, strict): the instant a
/// bound first reaches a target grows with the target, so only the smallest one matters and
/// it is solved once, when the evaluation ends.
#[derive(Clone, Copy)]
struct SlotState {
    bound: Bound,
    prepared: Prepared,
    /// `bound.moves()`.
    moves: bool,
    pending: [i64; 2],
}

/// The scopes: filter levels (the profile at the root) and variables, innermost first.
pub(crate) struct Env<'e, 'a> {
    /// `None` for a level, the variable otherwise.
    var: Option<u32>,
    val: Val<'a>,
    parent: Option<&'e Env<'e, 'a>>,
}

impl<'e, 'a> Env<'e, 'a> {
    fn level(&self, mut k: u32) -> Option<&Val<'a>> {
        let mut e = self;
        loop {
            if e.var.is_none() {
                if k == 0 {
                    return Some(&e.val);
                }
                k -= 1;
            }
            e = e.parent?;
        }
    }

    fn var(&self, id: u32) -> Option<&Val<'a>> {
        let mut e = self;
        loop {
            if e.var == Some(id) {
                return Some(&e.val);
            }
            e = e.parent?;
        }
    }

    /// A level holding `val` inside this scope.
    pub(crate) fn with_level(&'e self, val: Val<'a>) -> Env<'e, 'a> {
        Env {
            var: None,
            val,
            parent: Some(self),
        }
    }

    /// Variable `id` bound to `val` inside this scope.
    pub(crate) fn with_var(&'e self, id: u32, val: Val<'a>) -> Env<'e, 'a> {
        Env {
            var: Some(id),
            val,
            parent: Some(self),
        }
    }
}

/// The instant of `date(y, m, d[, h, mi, s])`.
pub(crate) fn date_of(v: &[i64]) -> Option<i64> {
    let day = ymd_ms(v[0], v[1], v[2])?;
    if v.len() == 3 {
        return Some(day);
    }
    let (h, m, s) = (v[3], v[4], v[5]);
    if !(0..24).contains(&h) || !(0..60).contains(&m) || !(0..60).contains(&s) {
        return None;
    }
    Some(day + h * HOUR + m * MINUTE + s * SECOND)
}

fn part_of(part: Part, t: i64) -> i64 {
    let (year, month, day, _) = civil(t);
    match part {
        Part::Year => year,
        Part::Month => month,
        Part::Day => day,
    }
}

/// A value read as an instant (lists item by item); null when it is not a date.
fn to_time(v: Val<'_>) -> Val<'_> {
    match v {
        Val::Time(_) => v,
        Val::Str(_) | Val::Owned(_) => v.as_time().map_or(Val::Null, Val::Time),
        ref l if l.is_list() => {
            let mut out = Vec::new();
            l.each_item(|x| {
                out.push(to_time(x));
                true
            });
            Val::List(out.into())
        }
        _ => Val::Null,
    }
}

fn arith<'a>(op: ArithOp, a: &Val<'a>, b: &Val<'a>) -> Val<'a> {
    if let (Val::Int(x), Val::Int(y)) = (a, b) {
        let (x, y) = (*x, *y);
        let exact = match op {
            ArithOp::Add => x.checked_add(y),
            ArithOp::Sub => x.checked_sub(y),
            ArithOp::Mul => x.checked_mul(y),
            ArithOp::Div if y == 0 => return Val::Null,
            ArithOp::Div => match x.checked_rem(y) {
                Some(0) => x.checked_div(y),
                _ => return Val::Num(x as f64 / y as f64),
            },
            ArithOp::Mod if y == 0 => return Val::Null,
            ArithOp::Mod => Some(x.checked_rem(y).unwrap_or(0)),
        };
        if let Some(v) = exact {
            return Val::Int(v);
        }
    }
    if let (Some(x), Some(y)) = (a.as_f64(), b.as_f64()) {
        return match op {
            ArithOp::Add => Val::Num(x + y),
            ArithOp::Sub => Val::Num(x - y),
            ArithOp::Mul => Val::Num(x * y),
            ArithOp::Div | ArithOp::Mod if y == 0.0 => Val::Null,
            ArithOp::Div => Val::Num(x / y),
            ArithOp::Mod => Val::Num(x % y),
        };
    }
    if let (ArithOp::Add, Some(x), Some(y)) = (op, a.as_str(), b.as_str()) {
        return Val::Owned(format!("{x}{y}").into());
    }
    Val::Null
}

/// A running sum / average / minimum / maximum.
struct Acc<'a> {
    kind: AggKind,
    ints: i128,
    floats: f64,
    any_float: bool,
    n: usize,
    best: Option<Val<'a>>,
}

impl<'a> Acc<'a> {
    fn add(&mut self, v: Val<'a>) {
        if v.is_list() {
            v.each_item(|x| {
                self.add(x);
                true
            });
            return;
        }
        match self.kind {
            AggKind::Sum | AggKind::Average => match v {
                Val::Int(i) => {
                    self.ints += i128::from(i);
                    self.n += 1;
                }
                Val::Num(x) => {
                    self.floats += x;
                    self.any_float = true;
                    self.n += 1;
                }
                _ => {}
            },
            AggKind::Min | AggKind::Max => {
                if v.is_null() {
                    return;
                }
                let better = match &self.best {
                    None => matches!(
                        v,
                        Val::Int(_) | Val::Num(_) | Val::Time(_) | Val::Str(_) | Val::Owned(_)
                    ),
                    Some(b) => match order(&v, b) {
                        Some(Ordering::Less) => self.kind == AggKind::Min,
                        Some(Ordering::Greater) => self.kind == AggKind::Max,
                        _ => false,
                    },
                };
                if better {
                    self.best = Some(v);
                }
            }
        }
    }

    fn finish(self) -> Val<'a> {
        let total = || self.ints as f64 + self.floats;
        match self.kind {
            AggKind::Sum if self.any_float => Val::Num(total()),
            AggKind::Sum => i64::try_from(self.ints).map_or_else(|_| Val::Num(total()), Val::Int),
            AggKind::Average if self.n == 0 => Val::Null,
            AggKind::Average => Val::Num(total() / self.n as f64),
            AggKind::Min | AggKind::Max => self.best.unwrap_or(Val::Null),
        }
    }
}

/// The elements of a `chain`, in timestamp order.
enum Seq<'a> {
    /// The profile's events, already sorted.
    Events(&'a [crate::EventRef<'a>]),
    Sorted(Vec<(i64, Val<'a>)>),
}

impl<'a> Seq<'a> {
    fn len(&self) -> usize {
        match self {
            Seq::Events(e) => e.len(),
            Seq::Sorted(v) => v.len(),
        }
    }

    fn get(&self, i: usize) -> (i64, Val<'a>) {
        match self {
            Seq::Events(e) => (e[i].timestamp_ms, Val::Event(&e[i])),
            Seq::Sorted(v) => v[i].clone(),
        }
    }
}

impl<'a> Cx<'a> {
    pub(crate) fn new(subject: &'a Subject<'a>, now: i64) -> Cx<'a> {
        Cx {
            subject,
            types: None,
            shared: None,
            shared_profile: false,
            now,
            next: Cell::new(i64::MAX),
            bounds: RefCell::new([None; CACHED_BOUNDS]),
            used: Cell::new(0),
        }
    }

    /// A context using the work shared with other evaluations, when it was done on the
    /// subject's events (otherwise it does not use it).
    pub(crate) fn with_shared(mut self, shared: &'a (dyn SharedView<'a> + 'a)) -> Cx<'a> {
        if std::ptr::eq(shared.events(), self.subject.events) {
            self.types = Some(shared.types());
            self.shared = Some(shared);
            self.shared_profile = shared
                .profile()
                .is_some_and(|p| std::ptr::eq(p, self.subject.profile));
        }
        self
    }

    /// The position of an event of the subject.
    fn event_index(&self, ev: &'a EventRef<'a>) -> Option<usize> {
        let events = self.subject.events;
        let i = (ev as *const EventRef as usize).wrapping_sub(events.as_ptr() as usize)
            / std::mem::size_of::<EventRef>().max(1);
        events.get(i).filter(|e| std::ptr::eq(*e, ev)).map(|_| i)
    }

    /// The `eventType` of an event of the subject, from the shared table when there is one.
    fn event_type(&self, ev: &'a EventRef<'a>) -> Val<'a> {
        if let Some(types) = self.types {
            if let Some(i) = self.event_index(ev) {
                match types.ids[i] {
                    MISSING => return Val::Null,
                    OTHER => {}
                    id => return Val::Str(types.names[id as usize]),
                }
            }
        }
        field(ev.value, "eventType").map_or(Val::Null, from_json)
    }

    /// `segs` from an event of the subject, from the shared cache when there is one.
    fn event_path(&self, ev: &'a EventRef<'a>, key: u32, segs: &'a [Seg]) -> Val<'a> {
        if let (Some(shared), Some(EventField::Other)) =
            (self.shared, segs.first().map(|s| s.event_field))
        {
            if let Some(i) = self.event_index(ev) {
                match shared.path(key, i, segs) {
                    Slot::Missing => return Val::Null,
                    Slot::Found(v) => return from_json(v),
                    Slot::Walk => {}
                }
            }
        }
        self.walk(Val::Event(ev), segs)
    }

    /// Calls `f`, in order, on the events that may pass a condition with `guard`, with whether
    /// the type test is known to hold (`false` when the event's `eventType` is neither a string
    /// nor missing: the whole condition must decide), until `f` returns false; returns whether
    /// it went through all of them. The others fail the condition.
    fn guarded_events(
        &self,
        guard: &TypeGuard,
        mut f: impl FnMut(&'a EventRef<'a>, bool) -> bool,
    ) -> bool {
        let events = self.subject.events;
        let Some(types) = self.types else {
            return events.iter().all(|e| match field(e.value, "eventType") {
                Some(Value::String(s)) => !guard.types.iter().any(|t| **t == **s) || f(e, true),
                None | Some(Value::Null) => true,
                Some(_) => f(e, false),
            });
        };
        let mask = types.mask(&guard.types);
        if mask == 0 && !types.other {
            return true;
        }
        events.iter().zip(&types.ids).all(|(e, &id)| match id {
            MISSING => true,
            OTHER => f(e, false),
            id => (mask >> id) & 1 == 0 || f(e, true),
        })
    }

    /// Whether `cond`, guarded by `guard`, holds in `env`; `typed` when the type test is
    /// known to hold, so that only the rest of the condition is evaluated (in its order).
    fn passes(&self, guard: &TypeGuard, cond: &'a Node, typed: bool, env: &Env<'_, 'a>) -> bool {
        if !typed {
            return self.truth(cond, env);
        }
        match (guard.conjunct, cond) {
            (Some(skip), Node::And(items)) => items
                .iter()
                .enumerate()
                .all(|(i, n)| i == skip || self.truth(n, env)),
            _ => true,
        }
    }

    pub(crate) fn root_env<'e>(&self) -> Env<'e, 'a> {
        Env {
            var: None,
            val: from_json(self.subject.profile),
            parent: None,
        }
    }

    pub(crate) fn next_change(&self) -> Option<i64> {
        let bounds = self.bounds.borrow();
        for state in bounds[..self.used.get()].iter().flatten() {
            for (strict, target) in [(false, state.pending[0]), (true, state.pending[1])] {
                if target != i64::MAX {
                    self.reach(&state.bound, &state.prepared, target, strict);
                }
            }
        }
        let n = self.next.get();
        (n != i64::MAX).then_some(n)
    }

    /// Records that something evaluated changes value at `t`.
    fn flip(&self, t: i64) {
        if t > self.now && t < self.next.get() {
            self.next.set(t);
        }
    }

    /// Records when the moving `bound` first gets to `target` (past it when `strict`).
    fn reach(&self, bound: &Bound, p: &Prepared, target: i64, strict: bool) {
        if let Some(t) = bound.reach(p, target, strict, self.next.get()) {
            self.flip(t);
        }
    }

    /// A bound at this evaluation, from the cache when it has a slot.
    fn prepared(&self, bound: &Bound, slot: Option<u8>) -> Prepared {
        let Some(i) = slot.map(usize::from).filter(|i| *i < CACHED_BOUNDS) else {
            return bound.prepare(self.now);
        };
        if let Some(state) = &self.bounds.borrow()[i] {
            return state.prepared;
        }
        let prepared = bound.prepare(self.now);
        self.bounds.borrow_mut()[i] = Some(SlotState {
            bound: *bound,
            prepared,
            moves: bound.moves(),
            pending: [i64::MAX; 2],
        });
        self.used.set(self.used.get().max(i + 1));
        prepared
    }

    /// For a cached bound already computed: its value, having recorded (as
    /// [`Cx::watch`]) that the result depends on when it reaches `target`.
    fn watch_cached(&self, slot: u8, target: i64, strict: bool) -> Option<i64> {
        let mut bounds = self.bounds.borrow_mut();
        let state = bounds.get_mut(usize::from(slot))?.as_mut()?;
        let value = state.prepared.value;
        let reached = if strict {
            value > target
        } else {
            value >= target
        };
        let i = usize::from(strict);
        if state.moves && !reached && target < state.pending[i] {
            state.pending[i] = target;
        }
        Some(value)
    }

    /// Records that the result depends on when `bound` reaches `target` (passes it when
    /// `strict`): at once, or for a cached bound at the end of the evaluation.
    fn watch(&self, bound: &Bound, p: &Prepared, slot: Option<u8>, target: i64, strict: bool) {
        let reached = if strict {
            p.value > target
        } else {
            p.value >= target
        };
        if !bound.moves() || reached {
            return;
        }
        match slot.map(usize::from).filter(|i| *i < CACHED_BOUNDS) {
            Some(i) => {
                if let Some(state) = &mut self.bounds.borrow_mut()[i] {
                    let i = usize::from(strict);
                    if target < state.pending[i] {
                        state.pending[i] = target;
                    }
                }
            }
            None => self.reach(bound, p, target, strict),
        }
    }

    fn base(&self, b: Base, env: &Env<'_, 'a>) -> Val<'a> {
        match b {
            Base::Root => from_json(self.subject.profile),
            Base::Level(k) => env.level(k).cloned().unwrap_or(Val::Null),
            Base::Var(id) => env.var(id).cloned().unwrap_or(Val::Null),
        }
    }

    /// Follows field names from `cur`; through an array, collects the rest of the path from
    /// every item.
    fn walk(&self, mut cur: Val<'a>, segs: &'a [Seg]) -> Val<'a> {
        for (i, seg) in segs.iter().enumerate() {
            cur = match cur {
                Val::Json(Value::Object(m)) => match get(m, &seg.name) {
                    Some(v) => from_json(v),
                    None => return Val::Null,
                },
                Val::Event(ev) => match seg.event_field {
                    EventField::Timestamp => Val::Time(ev.timestamp_ms),
                    EventField::Id => Val::Str(ev.id),
                    EventField::EventType => self.event_type(ev),
                    EventField::Other => match field(ev.value, &seg.name) {
                        Some(v) => from_json(v),
                        None => return Val::Null,
                    },
                },
                ref list if list.is_list() => return self.project(list, &segs[i..]),
                _ => return Val::Null,
            };
        }
        cur
    }

    fn project(&self, list: &Val<'a>, segs: &'a [Seg]) -> Val<'a> {
        let mut out = Vec::new();
        list.each_item(|item| {
            let v = self.walk(item, segs);
            if v.is_list() {
                v.each_item(|x| {
                    out.push(x);
                    true
                });
            } else if !v.is_null() {
                out.push(v);
            }
            true
        });
        Val::List(out.into())
    }

    /// Calls `f` on every element of the collection until it returns `false`; returns whether
    /// it went through all of them.
    pub(crate) fn each(
        &self,
        c: &'a Coll,
        env: &Env<'_, 'a>,
        f: &mut dyn FnMut(Val<'a>) -> bool,
    ) -> bool {
        match c {
            Coll::Events => self.subject.events.iter().all(|e| f(Val::Event(e))),
            Coll::Value(n) => match self.eval(n, env) {
                Val::Json(Value::Object(o)) => o.values().all(|v| f(from_json(v))),
                v => v.each_item(f),
            },
            Coll::Filter {
                source,
                cond,
                guard: Some(g),
            } if matches!(**source, Coll::Events) => self.guarded_events(g, |e, typed| {
                !self.passes(g, cond, typed, &env.with_level(Val::Event(e))) || f(Val::Event(e))
            }),
            Coll::VarFilter {
                source,
                var,
                cond,
                guard: Some(g),
            } if matches!(**source, Coll::Events) => self.guarded_events(g, |e, typed| {
                !self.passes(g, cond, typed, &env.with_var(*var, Val::Event(e))) || f(Val::Event(e))
            }),
            Coll::Filter { source, cond, .. } => {
                let mut keep = |x: Val<'a>| !self.truth(cond, &env.with_level(x.clone())) || f(x);
                match &**source {
                    Coll::Events => self.subject.events.iter().all(|e| {
                        !self.truth(cond, &env.with_level(Val::Event(e))) || f(Val::Event(e))
                    }),
                    Coll::Value(n) => match self.eval(n, env) {
                        Val::Json(Value::Object(o)) => o.values().all(|v| keep(from_json(v))),
                        v => v.each_item(keep),
                    },
                    _ => self.each(source, env, &mut |x| {
                        let keep = self.truth(cond, &env.with_level(x.clone()));
                        !keep || f(x)
                    }),
                }
            }
            Coll::VarFilter {
                source, var, cond, ..
            } => self.each(source, env, &mut |x| {
                let keep = self.truth(cond, &env.with_var(*var, x.clone()));
                !keep || f(x)
            }),
        }
    }

    /// The number of elements, counting no further than `limit`.
    fn count(&self, c: &'a Coll, env: &Env<'_, 'a>, limit: usize) -> usize {
        match c {
            Coll::Events => self.subject.events.len(),
            Coll::Value(n) => self.eval(n, env).count(),
            Coll::Filter {
                source,
                cond,
                guard: Some(g),
            } if matches!(**source, Coll::Events) => {
                let mut k = 0;
                self.guarded_events(g, |e, typed| {
                    if self.passes(g, cond, typed, &env.with_level(Val::Event(e))) {
                        k += 1;
                    }
                    k < limit
                });
                k
            }
            Coll::Filter { source, cond, .. } if matches!(**source, Coll::Events) => {
                let mut k = 0;
                for e in self.subject.events {
                    if self.truth(cond, &env.with_level(Val::Event(e))) {
                        k += 1;
                        if k >= limit {
                            break;
                        }
                    }
                }
                k
            }
            _ => {
                let mut k = 0;
                self.each(c, env, &mut |_| {
                    k += 1;
                    k < limit
                });
                k
            }
        }
    }

    /// `count() op k` (or `k op count()`), counting only as far as the comparison needs: once
    /// the count passes `k`, more elements cannot change the result (and the elements counted
    /// carry their own instants of change).
    fn count_cmp(&self, cc: &CountCmp, lhs: &'a Node, rhs: &'a Node, env: &Env<'_, 'a>) -> bool {
        let side = if cc.count_on_left { lhs } else { rhs };
        match side.unwrap_explained() {
            Node::Count(c) => {
                let n = self.count(c, env, cc.limit);
                compare(cc.op, &Val::Int(n as i64), &Val::Num(cc.k))
            }
            _ => false,
        }
    }

    fn collect(&self, c: &'a Coll, env: &Env<'_, 'a>) -> Vec<Val<'a>> {
        let mut out = Vec::new();
        self.each(c, env, &mut |x| {
            out.push(x);
            true
        });
        out
    }

    fn apply(&self, f: &'a ElemFn, x: Val<'a>, env: &Env<'_, 'a>) -> Val<'a> {
        match f {
            ElemFn::Identity => x,
            ElemFn::Level(n) => self.eval(n, &env.with_level(x)),
            ElemFn::Var(id, n) => self.eval(n, &env.with_var(*id, x)),
        }
    }

    fn head(&self, c: &'a Coll, env: &Env<'_, 'a>) -> Val<'a> {
        let mut first: Option<Val<'a>> = None;
        if c.over_events() {
            self.each(c, env, &mut |x| {
                let earlier = match (&x, &first) {
                    (_, None) => true,
                    (Val::Event(a), Some(Val::Event(b))) => a.timestamp_ms < b.timestamp_ms,
                    _ => false,
                };
                if earlier {
                    first = Some(x);
                }
                true
            });
        } else {
            self.each(c, env, &mut |x| {
                first = Some(x);
                false
            });
        }
        first.unwrap_or(Val::Null)
    }

    /// Evaluates a node to a value: the common cases here, the others in
    /// [`Cx::eval_other`], which keeps the frame of this one small.
    pub(crate) fn eval(&self, n: &'a Node, env: &Env<'_, 'a>) -> Val<'a> {
        match n {
            Node::Const(c) => c.val(),
            Node::Path(p) => self.path(p, env),
            Node::Explained(b) => self.eval(&b.1, env),
            _ => self.eval_other(n, env),
        }
    }

    /// The instant of a value (an event's `timestamp` read directly).
    fn time_of(&self, n: &'a Node, env: &Env<'_, 'a>) -> Option<i64> {
        if let Node::EventTs(b) = n {
            let elem = match b {
                Base::Level(k) => env.level(*k),
                Base::Var(id) => env.var(*id),
                Base::Root => None,
            };
            if let Some(Val::Event(e)) = elem {
                return Some(e.timestamp_ms);
            }
        }
        self.eval(n, env).as_time()
    }

    /// The value of a path.
    fn path(&self, p: &'a PathNode, env: &Env<'_, 'a>) -> Val<'a> {
        let start = match p.base {
            Base::Root => {
                if let (Some(shared), true) = (self.shared, self.shared_profile) {
                    match shared.path(p.key, self.subject.events.len(), &p.segs) {
                        Slot::Missing => return Val::Null,
                        Slot::Found(v) => return from_json(v),
                        Slot::Walk => {}
                    }
                }
                from_json(self.subject.profile)
            }
            Base::Level(k) => match env.level(k) {
                Some(&Val::Event(e)) => return self.event_path(e, p.key, &p.segs),
                Some(&Val::Json(v)) => Val::Json(v),
                Some(other) => other.clone(),
                None => Val::Null,
            },
            Base::Var(id) => match env.var(id) {
                Some(&Val::Event(e)) => return self.event_path(e, p.key, &p.segs),
                Some(other) => other.clone(),
                None => Val::Null,
            },
        };
        self.walk(start, &p.segs)
    }

    #[inline(never)]
    fn eval_other(&self, n: &'a Node, env: &Env<'_, 'a>) -> Val<'a> {
        match n {
            Node::Const(c) => c.val(),
            Node::List(items) => Val::List(
                items
                    .iter()
                    .map(|i| self.eval(i, env))
                    .collect::<Vec<_>>()
                    .into(),
            ),
            Node::Path(p) => self.path(p, env),
            Node::EventTs(b) => match self.base(*b, env) {
                Val::Event(e) => Val::Time(e.timestamp_ms),
                Val::Json(Value::Object(m)) => m.get("timestamp").map_or(Val::Null, from_json),
                _ => Val::Null,
            },
            Node::Get { object, segs } => {
                let o = self.eval(object, env);
                self.walk(o, segs)
            }
            Node::MapGet { map, key } => {
                let m = self.eval(map, env);
                let k = self.eval(key, env);
                match (m, k.as_str()) {
                    (Val::Json(Value::Object(o)), Some(k)) => o.get(k).map_or(Val::Null, from_json),
                    (Val::Event(e), Some(k)) => e.value.get(k).map_or(Val::Null, from_json),
                    _ => Val::Null,
                }
            }
            Node::Elem(b) => self.base(*b, env),
            Node::CollValue(c) => Val::List(self.collect(c, env).into()),
            Node::ToTime(x) => to_time(self.eval(x, env)),
            Node::RegexGroup { subject, re, group } => {
                let s = self.eval(subject, env);
                let Some(g) = self.eval(group, env).as_f64() else {
                    return Val::Null;
                };
                if g < 0.0 {
                    return Val::Null;
                }
                let g = g as usize;
                match &s {
                    Val::Str(text) => re
                        .captures(text)
                        .and_then(|c| c.get(g))
                        .map_or(Val::Null, |m| Val::Str(&text[m.range()])),
                    other => match other.text() {
                        Some(text) => re
                            .captures(&text)
                            .and_then(|c| c.get(g))
                            .map_or(Val::Null, |m| Val::Owned(m.as_str().into())),
                        None => Val::Null,
                    },
                }
            }
            Node::If(parts) => {
                if self.truth(&parts[0], env) {
                    self.eval(&parts[1], env)
                } else {
                    self.eval(&parts[2], env)
                }
            }
            Node::Arith { op, lhs, rhs } => arith(*op, &self.eval(lhs, env), &self.eval(rhs, env)),
            Node::Neg(x) => match self.eval(x, env) {
                Val::Int(i) => i.checked_neg().map_or(Val::Num(-(i as f64)), Val::Int),
                Val::Num(x) => Val::Num(-x),
                _ => Val::Null,
            },
            Node::Count(c) => Val::Int(self.count(c, env, usize::MAX) as i64),
            Node::Agg { kind, coll, f } => {
                let mut acc = Acc {
                    kind: *kind,
                    ints: 0,
                    floats: 0.0,
                    any_float: false,
                    n: 0,
                    best: None,
                };
                self.each(coll, env, &mut |x| {
                    acc.add(self.apply(f, x, env));
                    true
                });
                acc.finish()
            }
            Node::Head(c) => self.head(c, env),
            Node::Distinct(c) => {
                let mut out: Vec<Val<'a>> = Vec::new();
                self.each(c, env, &mut |x| {
                    if !out.iter().any(|y| equal(&x, y)) {
                        out.push(x);
                    }
                    true
                });
                Val::List(out.into())
            }
            Node::SetFn {
                op: SetOp::Intersection,
                a,
                b,
            } => {
                let (a, b) = (self.eval(a, env), self.eval(b, env));
                let mut out: Vec<Val<'a>> = Vec::new();
                a.each_item(|x| {
                    let in_b = !b.each_item(|y| !equal(&x, &y));
                    if in_b && !out.iter().any(|y| equal(&x, y)) {
                        out.push(x);
                    }
                    true
                });
                Val::List(out.into())
            }
            Node::Keys(x) => match self.eval(x, env) {
                Val::Json(Value::Object(o)) => {
                    Val::List(o.keys().map(|k| Val::Str(k)).collect::<Vec<_>>().into())
                }
                _ => Val::List(Rc::from(Vec::new())),
            },
            Node::Values(x) => match self.eval(x, env) {
                Val::Json(Value::Object(o)) => {
                    Val::List(o.values().map(from_json).collect::<Vec<_>>().into())
                }
                _ => Val::List(Rc::from(Vec::new())),
            },
            Node::MapItems { coll, f } => {
                let mut out = Vec::new();
                self.each(coll, env, &mut |x| {
                    out.push(self.apply(f, x, env));
                    true
                });
                Val::List(out.into())
            }
            Node::TopN { coll, f, n, bottom } => {
                let Some(n) = self.eval(n, env).as_f64() else {
                    return Val::Null;
                };
                let mut keyed: Vec<(Val<'a>, Val<'a>)> = Vec::new();
                self.each(coll, env, &mut |x| {
                    let k = self.apply(f, x.clone(), env);
                    if !k.is_null() {
                        keyed.push((k, x));
                    }
                    true
                });
                keyed.sort_by(|(a, _), (b, _)| {
                    let o = order(a, b).unwrap_or(Ordering::Equal);
                    if *bottom {
                        o
                    } else {
                        o.reverse()
                    }
                });
                keyed.truncate(n.max(0.0) as usize);
                Val::List(keyed.into_iter().map(|(_, x)| x).collect::<Vec<_>>().into())
            }
            Node::Let { var, value, body } => {
                let v = self.eval(value, env);
                self.eval(body, &env.with_var(*var, v))
            }
            Node::Now => {
                self.flip(self.now.saturating_add(1));
                Val::Time(self.now)
            }
            Node::PeriodStart { unit, offset } => {
                self.flip(next_boundary(self.now, *unit));
                Val::Time(period(*offset, *unit, self.now).0)
            }
            Node::Current(part) => {
                let unit = match part {
                    Part::Year => Unit::Year,
                    Part::Month => Unit::Month,
                    Part::Day => Unit::Day,
                };
                self.flip(next_boundary(self.now, unit));
                Val::Int(part_of(*part, self.now))
            }
            Node::GetPart { part, value } => match self.eval(value, env) {
                Val::Time(t) => Val::Int(part_of(*part, t)),
                _ => Val::Null,
            },
            Node::DateFn(args) => {
                let mut v = Vec::with_capacity(args.len());
                for a in args.iter() {
                    match self.eval(a, env) {
                        Val::Int(i) => v.push(i),
                        _ => return Val::Null,
                    }
                }
                date_of(&v).map_or(Val::Null, Val::Time)
            }
            Node::Explained(b) => self.eval(&b.1, env),
            Node::Not(_)
            | Node::And(_)
            | Node::Or(_)
            | Node::Truthy(_)
            | Node::NonEmpty(_)
            | Node::Cmp { .. }
            | Node::TimeCmp { .. }
            | Node::IsNull { .. }
            | Node::In { .. }
            | Node::Like { .. }
            | Node::StrTest { .. }
            | Node::Matches { .. }
            | Node::SetFn { .. }
            | Node::Includes { .. }
            | Node::Quant { .. }
            | Node::Chain(_)
            | Node::Occurs { .. }
            | Node::InSegment(_) => Val::Bool(self.truth(n, env)),
        }
    }

    /// Whether `f` holds for the text of a value, or of some item of a list.
    fn text_any(&self, v: &Val<'a>, f: &dyn Fn(&str) -> bool) -> bool {
        if v.is_list() {
            return !v.each_item(|x| !x.text().is_some_and(|s| f(&s)));
        }
        v.text().is_some_and(|s| f(&s))
    }

    /// Evaluates a condition: the common cases here, the others in [`Cx::truth_other`].
    pub(crate) fn truth(&self, n: &'a Node, env: &Env<'_, 'a>) -> bool {
        match n {
            Node::Explained(b) => self.truth(&b.1, env),
            Node::Not(x) => !self.truth(x, env),
            Node::And(items) => items.iter().all(|i| self.truth(i, env)),
            Node::Or(items) => items.iter().any(|i| self.truth(i, env)),
            Node::Cmp {
                op,
                lhs,
                rhs,
                count: None,
            } => compare(*op, &self.eval(lhs, env), &self.eval(rhs, env)),
            _ => self.truth_other(n, env),
        }
    }

    #[inline(never)]
    fn truth_other(&self, n: &'a Node, env: &Env<'_, 'a>) -> bool {
        match n {
            Node::Explained(b) => self.truth(&b.1, env),
            Node::Const(c) => c.val().truthy(),
            Node::Not(x) => !self.truth(x, env),
            Node::And(items) => items.iter().all(|i| self.truth(i, env)),
            Node::Or(items) => items.iter().any(|i| self.truth(i, env)),
            Node::NonEmpty(c) => !self.each(c, env, &mut |_| false),
            Node::Cmp {
                op,
                lhs,
                rhs,
                count,
            } => match count {
                Some(cc) => self.count_cmp(cc, lhs, rhs, env),
                None => compare(*op, &self.eval(lhs, env), &self.eval(rhs, env)),
            },
            Node::TimeCmp {
                op,
                value,
                bound,
                slot,
            } => {
                let Some(v) = self.eval(value, env).as_time() else {
                    return false;
                };
                let p = self.prepared(bound, *slot);
                match op {
                    CmpOp::Lt | CmpOp::Ge => self.watch(bound, &p, *slot, v, true),
                    CmpOp::Le | CmpOp::Gt => self.watch(bound, &p, *slot, v, false),
                    CmpOp::Eq | CmpOp::Ne => {
                        self.watch(bound, &p, *slot, v, false);
                        self.watch(bound, &p, *slot, v, true);
                    }
                }
                cmp_holds(*op, v.cmp(&p.value))
            }
            Node::IsNull { negate, value } => self.eval(value, env).is_null() != *negate,
            Node::In {
                negate,
                needle,
                hay,
            } => {
                let needle = self.eval(needle, env);
                if needle.is_null() {
                    return false;
                }
                let hay = self.eval(hay, env);
                let contains = |x: &Val<'a>| !hay.each_item(|h| !equal(x, &h));
                let hit = if needle.is_list() {
                    !needle.each_item(|x| !contains(&x))
                } else {
                    contains(&needle)
                };
                hit != *negate
            }
            Node::Like { subject, pattern } => {
                let s = self.eval(subject, env);
                match pattern {
                    Like::Literal(_, p) => self.text_any(&s, &|t| like_match(p, t)),
                    Like::Dynamic(p) => match self.eval(p, env).as_str() {
                        Some(p) => {
                            let p = like_pattern(p);
                            self.text_any(&s, &|t| like_match(&p, t))
                        }
                        None => false,
                    },
                }
            }
            Node::StrTest {
                op,
                negate,
                subject,
                arg,
                case_sensitive,
            } => {
                let s = self.eval(subject, env);
                if s.is_null() {
                    return false;
                }
                let a = self.eval(arg, env);
                let Some(a) = a.text() else {
                    return false;
                };
                let cs = self.truth(case_sensitive, env);
                if s.is_list() {
                    return self.text_any(&s, &|t| str_test(*op, t, &a, cs)) != *negate;
                }
                match s.text() {
                    Some(t) => str_test(*op, &t, &a, cs) != *negate,
                    None => false,
                }
            }
            Node::Matches { subject, re } => {
                let s = self.eval(subject, env);
                self.text_any(&s, &|t| re.is_match(t))
            }
            Node::SetFn { op, a, b } => {
                let (a, b) = (self.eval(a, env), self.eval(b, env));
                if a.is_null() || b.is_null() {
                    return false;
                }
                let within = |x: &Val<'a>, set: &Val<'a>| !set.each_item(|y| !equal(x, &y));
                match op {
                    SetOp::Intersects => !a.each_item(|x| !within(&x, &b)),
                    SetOp::SubsetOf => a.each_item(|x| within(&x, &b)),
                    SetOp::SupersetOf => b.each_item(|x| within(&x, &a)),
                    SetOp::Intersection => self.eval(n, env).truthy(),
                }
            }
            Node::Includes { list, item } => {
                let (l, i) = (self.eval(list, env), self.eval(item, env));
                !i.is_null() && !l.each_item(|x| !equal(&x, &i))
            }
            Node::Quant { forall, clauses } => {
                if *forall {
                    self.forall(clauses, env)
                } else {
                    self.exists(clauses, env)
                }
            }
            Node::Chain(c) => self.chain(c, env, None),
            Node::Occurs { subject, cond } => match self.time_of(subject, env) {
                Some(ts) => self.time_cond(cond, ts, env),
                None => false,
            },
            Node::InSegment(id) => (self.subject.in_segment)(id),
            Node::Truthy(x) => self.eval(x, env).truthy(),
            _ => self.eval(n, env).truthy(),
        }
    }

    fn exists(&self, clauses: &'a [Clause], env: &Env<'_, 'a>) -> bool {
        let Some((first, rest)) = clauses.split_first() else {
            return true;
        };
        if let (Coll::Events, Some(g)) = (&first.coll, &first.guard) {
            return !self.guarded_events(g, |e, typed| {
                let inner = env.with_var(first.var, Val::Event(e));
                !(self.passes(g, &first.cond, typed, &inner) && self.exists(rest, &inner))
            });
        }
        !self.each(&first.coll, env, &mut |x| {
            let inner = env.with_var(first.var, x);
            !(self.truth(&first.cond, &inner) && self.exists(rest, &inner))
        })
    }

    fn forall(&self, clauses: &'a [Clause], env: &Env<'_, 'a>) -> bool {
        let Some((first, rest)) = clauses.split_first() else {
            return true;
        };
        self.each(&first.coll, env, &mut |x| {
            let inner = env.with_var(first.var, x);
            self.truth(&first.cond, &inner) && self.forall(rest, &inner)
        })
    }

    /// Runs a `chain`; the chosen elements are pushed to `chosen` when given.
    pub(crate) fn chain(
        &self,
        c: &'a ChainNode,
        env: &Env<'_, 'a>,
        mut chosen: Option<&mut Vec<Val<'a>>>,
    ) -> bool {
        let events = self.subject.events;
        let seq = if matches!(c.coll, Coll::Events)
            && matches!(c.ts, Node::EventTs(Base::Level(0)))
            && events.is_sorted_by_key(|e| e.timestamp_ms)
        {
            Seq::Events(events)
        } else {
            let mut items = Vec::new();
            self.each(&c.coll, env, &mut |x| {
                if let Some(t) = self.eval(&c.ts, &env.with_level(x.clone())).as_time() {
                    items.push((t, x));
                }
                true
            });
            items.sort_by_key(|(t, _)| *t);
            Seq::Sorted(items)
        };
        let mut last: Option<i64> = None;
        let mut i = 0;
        for step in &c.steps {
            loop {
                if i >= seq.len() {
                    return false;
                }
                let (ts, x) = seq.get(i);
                i += 1;
                if last.is_some_and(|l| ts <= l) {
                    continue;
                }
                let inner = env.with_level(x);
                if self.truth(&step.what, &inner)
                    && step
                        .when
                        .as_ref()
                        .is_none_or(|w| self.time_cond(w, ts, &inner))
                {
                    last = Some(ts);
                    if let Some(out) = chosen.as_deref_mut() {
                        out.push(inner.val.clone());
                    }
                    break;
                }
            }
        }
        true
    }

    /// The anchors of a window at this evaluation; `None` when one is null.
    pub(crate) fn anchors(
        &self,
        cond: &'a TimeCond,
        env: &Env<'_, 'a>,
    ) -> Option<[timeutil::Base; 2]> {
        let mut bases = [timeutil::Base::Fixed { start: 0, end: 0 }; 2];
        for (slot, a) in bases.iter_mut().zip(&cond.anchors) {
            *slot = match a {
                Anchor::Static(b) => *b,
                Anchor::Dyn { node, day } => {
                    let t = self.eval(node, env).as_time()?;
                    timeutil::Base::Fixed {
                        start: t,
                        end: t.saturating_add(if *day { DAY } else { 1 }),
                    }
                }
            };
        }
        Some(bases)
    }

    /// Whether `ts` is inside the window, recording when that changes.
    pub(crate) fn time_cond(&self, cond: &'a TimeCond, ts: i64, env: &Env<'_, 'a>) -> bool {
        // Anchors read from the data are computed first (a null one fails the condition);
        // the others only when a bound is not cached yet.
        let dynamic = cond.anchors.iter().any(|a| matches!(a, Anchor::Dyn { .. }));
        let bases = if dynamic {
            match self.anchors(cond, env) {
                Some(bases) => Some(bases),
                None => return false,
            }
        } else {
            None
        };
        let inside = 'inside: {
            if let Some(s) = &cond.lower {
                // ts >= v turns false once v passes ts; ts > v once v reaches it.
                let v = self.window_bound(cond, s, bases, ts, s.inclusive);
                if (s.inclusive && ts < v) || (!s.inclusive && ts <= v) {
                    break 'inside false;
                }
            }
            if let Some(s) = &cond.upper {
                // ts <= v turns true once v reaches ts; ts < v once v passes it.
                let v = self.window_bound(cond, s, bases, ts, !s.inclusive);
                if (s.inclusive && ts > v) || (!s.inclusive && ts >= v) {
                    break 'inside false;
                }
            }
            true
        };
        inside != cond.negate
    }

    /// A bound of a window at this evaluation, having recorded that the result depends on when
    /// it reaches `ts` (passes it when `strict`). `bases` are the anchors when some is read
    /// from the data; otherwise they are all known at compile time.
    fn window_bound(
        &self,
        cond: &TimeCond,
        s: &BoundSpec,
        bases: Option<[timeutil::Base; 2]>,
        ts: i64,
        strict: bool,
    ) -> i64 {
        // A bound with a slot has a compile-time anchor.
        if let Some(slot) = s.slot {
            if let Some(v) = self.watch_cached(slot, ts, strict) {
                return v;
            }
        }
        let base = match bases {
            Some(bases) => bases[s.anchor],
            None => match cond.anchors.get(s.anchor) {
                Some(Anchor::Static(b)) => *b,
                _ => timeutil::Base::Fixed { start: 0, end: 0 },
            },
        };
        let b = Bound {
            base,
            end: s.end,
            shift: s.shift,
            unit: s.unit,
        };
        let p = self.prepared(&b, s.slot);
        self.watch(&b, &p, s.slot, ts, strict);
        p.value
    }
}
