//! The PQL evaluator: segment definitions compiled against the XDM union schemas, evaluated on
//! a merged profile and its ExperienceEvents, explained, and told when their result may next
//! change as time passes. No HTTP, no storage.
//!
//! ```
//! use segments::{compile, EventRef, SchemaContext, Subject};
//! let profile_schema = xdm::compose(xdm::Class::Profile, &[
//!     xdm::standard_field_group("profile-personal-details").unwrap(),
//! ]).unwrap();
//! let event_schema = xdm::compose(xdm::Class::ExperienceEvent, &[]).unwrap();
//! let ctx = SchemaContext { profile: &profile_schema, event: &event_schema, segment_exists: &|_| false };
//! let def = compile(r#"homeAddress.countryCode = "FR" and
//!     xEvent[eventType = "commerce.purchases" and timestamp occurs <= 7 days before now].count() > 0"#, &ctx).unwrap();
//!
//! let profile = serde_json::json!({"homeAddress": {"countryCode": "FR"}});
//! let purchase = serde_json::json!({"eventType": "commerce.purchases"});
//! let day = 86_400_000;
//! let events = [EventRef { id: "e1", timestamp_ms: 10 * day, value: &purchase }];
//! let subject = Subject { profile: &profile, events: &events, in_segment: &|_| false };
//! let outcome = def.evaluate(&subject, 12 * day);
//! assert!(outcome.qualified);
//! // The purchase leaves the 7-day window one millisecond after 17 days.
//! assert_eq!(outcome.next_change_ms, Some(17 * day + 1));
//! assert!(!def.evaluate(&subject, 17 * day + 1).qualified);
//! ```
//!
//! # Compiling
//!
//! [`compile`] parses with [`pql::parse`] and resolves every name against the
//! [`SchemaContext`]: bare names and `$1.` paths on the profile union schema; inside a filter
//! (`xEvent[...]`, `productListItems[...]`) or an aggregation argument (`sum(...)`), bare names
//! resolve on the element, `^` one level out, `^^` two; quantifier, `select`, `let` and lambda
//! variables carry the type of what they are bound to (`E from xEvent` is an event). The names
//! `segmentMembership`, `identityMap`, `_id` and `timestamp` are always known. Literal dates are
//! parsed to epoch milliseconds, regular expressions and `like` patterns compiled once, functions
//! chosen, variables numbered, so evaluation does no name lookups beyond the JSON keys.
//! Type errors (a date compared with a string that is not a date, a number with a string, a
//! string method on a number), unknown fields, functions, methods and segments, wrong argument
//! counts, non-literal or too large regular expressions and a top level that is not a condition
//! are refused with the position of the offending node ([`CompileError`]).
//!
//! # Semantics where the reference is silent
//!
//! - **Null and missing** are the same. A comparison with null is false (`!=` too); `and`, `or`,
//!   `not` treat null as false (`not (x = 1)` is true when `x` is missing). `x = null` and
//!   `x != null` test for null. `in` and `notIn` are both false when the value is null; a missing
//!   list is empty. String tests (`equals`, `notEqualTo`, `contains`, `doesNotContain`...) are all
//!   false when the subject is null. `count()` of null is 0; `sum` of nothing is 0; `average`,
//!   `min`, `max` of nothing are null. Division by zero is null.
//! - **Numbers** compare numerically across integers and decimals; `/` gives an integer only when
//!   the division is exact. **Strings** compare by code point. **Dates and date-times** compare
//!   as instants; a string compared with a date is read as a date (`YYYY-MM-DD`, midnight UTC) or
//!   an RFC 3339 date-time; one that is neither compares false. Booleans, objects and events only
//!   compare with `=` / `!=`.
//! - **Arrays**: a path through an array collects the field of every item
//!   (`productListItems.SKU` is the list of SKUs, nested arrays flattened). A list compared with a
//!   single value, or tested with a string method or `like`, is true when some item is
//!   (`doesNotContain` and the other negative tests: when no item is). Two lists compare whole.
//!   A collection used as a condition is true when it is not empty
//!   (`xEvent[productListItems[SKU = "PS"]]`).
//! - **Filters** keep the order of the data; events come in the order they are given, except that
//!   `head()` of events is the earliest one. `exists` / `forall` with several clauses nest
//!   (`exists A from S where C, B from T where D` is: some `A` with `C` and some `B` with `D`,
//!   `D` seeing `A`); `forall` over nothing is true. `select X from S where C` is the filtered
//!   collection (as a condition: not empty).
//! - **`like`** is case-sensitive with `%` (any run) and `_` (one character), no escape.
//!   **`matches`** uses the Rust `regex` syntax (close to Java's, without look-around and
//!   back-references) and searches (`^` anchors), like the reference's `matches("(?i)^John")`.
//!   `regexGroup(re, n)` is group `n` of the first match, or null.
//! - **Time** is UTC. `now` is the evaluation instant; `today`, `yesterday`, `tomorrow`,
//!   `this|last|next <unit>` are calendar periods (weeks start on Monday; decades, centuries and
//!   millennia at years divisible by 10, 100, 1000). As a plain value a period is its start.
//!   Moving by months or years keeps the day and time; a day the target month lacks (the 31st,
//!   the 29th of February) moves to the first instant of the next month.
//!   `occurs` compares an event's (or any date's) instant `ts` with anchors (`now`, a period, a
//!   date, a date-time, a value of the data); a date (`date(2019, 12, 31)`, a `date` field) is
//!   a whole day as an anchor, a date-time an instant:
//!   - `occurs on A` / `occurs A`: `start(A) <= ts < end(A)`;
//!     `before A`: `ts < start(A)`; `after A`: `ts >= end(A)`;
//!     `between A and B`: `start(A) <= ts < end(B)`.
//!   - `occurs <cmp> N <unit> before A` measures back from `r = start(A)`, with
//!     `A_k = r - k units`: `<= N`: `A_N <= ts <= r`; `< N`: `A_N < ts <= r`; `>= N`: `ts <= A_N`;
//!     `> N`: `ts < A_N`; `= N` (and no comparison): `A_(N+1) < ts <= A_N`; `!= N`: not `= N`.
//!   - `after` / `from` measure forward from `r = start(A)` with `B_k = r + k units`:
//!     `<= N`: `r <= ts <= B_N`; `< N`: `r <= ts < B_N`; `>= N`: `ts >= B_N`; `> N`: `ts > B_N`;
//!     `= N`: `B_N <= ts < B_(N+1)`; `!= N`: not `= N`.
//! - **`chain(events, ts, [steps])`** is true when there are events `e1, e2, ...` with strictly
//!   increasing `ts`, `e_i` matching step `i`'s `WHAT` and `WHEN` (WHEN applies to `ts`, relative
//!   to the evaluation time). Found greedily (earliest match for each step), which is exact.
//! - **`inSegment(id)`** asks [`Subject::in_segment`].
//! - `getYear()`, `getMonth()` (1-12), `getDayOfMonth()` read the UTC calendar of a date or
//!   date-time; `currentYear()`, `currentMonth()`, `currentDayOfMonth()` that of the evaluation
//!   time.
//! - Not supported (refused at compile time): `groupBy`, `mapEntry`, `$2` and beyond.
//!
//! # Performance
//!
//! Evaluation borrows from the profile and the events (no JSON is cloned), counts and sums over
//! filters without building lists, stops counting once `count() > k` is decided (how far to
//! count is worked out at compile time), reads the events' `timestamp` from
//! [`EventRef::timestamp_ms`], and computes each window bound once per evaluation. A condition
//! on the events that tests their `eventType` against literals (`xEvent[eventType = "x" and
//! ...]`, `eventType in [...]`, `eventType.equals("x")`, in a filter, `select` or `exists`) has
//! that test decided first, wherever it stands in its `and`: the events of other types are not
//! visited.
//!
//! [`SharedWork`] is the work that depends only on the subject, done once for all the
//! definitions evaluated on it ([`Definition::evaluate_shared`], [`evaluate_all`]): each
//! event's `eventType` is read and numbered, so that the filters above go straight to the events
//! of their types, and the value of each path read on an event (and, with
//! [`SharedWork::with_profile`], on the profile) is kept for the next definition that reads it
//! (equal paths have the same number in every definition the process compiles). Use it whenever
//! several definitions are evaluated on the same subject: on write, in segment jobs.
//!
//! # When the result may change
//!
//! [`Outcome::next_change_ms`] is the earliest instant after `now` at which a time-dependent part
//! of the evaluation (a window bound crossing an event's timestamp, a calendar boundary under
//! `today` or `currentMonth()`, ...) changes value; with the data unchanged, the result is the
//! same at every instant before it. It may be earlier than the instant the overall result
//! actually flips (re-evaluating then is harmless), never later. Only what the evaluation looked
//! at counts: in `a and b` with `a` false, `b` is not evaluated and cannot matter until `a`
//! changes, whose own instant is counted; in `count() > k`, once `k + 1` elements matched the
//! rest cannot make it false; an event whose `eventType` a filter's type test rejects is not
//! looked at (it fails the filter at every instant). Windows move with `now` exactly (to the millisecond); month and
//! year windows are solved on the calendar (checked, with a bisection on their monotone bounds
//! as a fallback). `now` used as a plain value (neither compared with a date nor an `occurs`
//! anchor) changes every millisecond, and is reported so.

mod compile;
mod error;
mod eval;
mod explain;
mod ir;
mod projection;
mod text;
mod timeutil;
mod types;
mod value;

use std::collections::BTreeSet;

pub use error::CompileError;
pub use explain::{Compared, ExplainNode, Explanation, MatchedEvent, MAX_MATCHED_EVENTS};
pub use projection::{EventProjection, PathProjection};

/// The schemas names are resolved against, and the segments `inSegment` may name.
pub struct SchemaContext<'a> {
    /// The profile union schema.
    pub profile: &'a xdm::ObjectField,
    /// The ExperienceEvent union schema.
    pub event: &'a xdm::ObjectField,
    /// Whether a segment id exists.
    pub segment_exists: &'a dyn Fn(&str) -> bool,
}

/// Parses and compiles a `pql/text` definition.
pub fn compile(text: &str, ctx: &SchemaContext) -> Result<Definition, CompileError> {
    let expr = pql::parse(text)?;
    compile_expr(&expr, ctx)
}

/// Compiles a parsed definition (for `pql/json` input, through [`pql::from_pql_json`]).
pub fn compile_expr(expr: &pql::Expr, ctx: &SchemaContext) -> Result<Definition, CompileError> {
    compile::compile(expr, ctx)
}

/// Evaluates several definitions on one subject at `now_ms` (as [`Definition::evaluate`] each),
/// sharing the work that depends only on the subject ([`SharedWork::with_profile`]). Use it
/// when a change to a profile re-evaluates all affected definitions, and in batch evaluation.
pub fn evaluate_all<'d>(
    definitions: impl IntoIterator<Item = &'d Definition>,
    subject: &Subject,
    now_ms: i64,
) -> Vec<Outcome> {
    let shared = SharedWork::with_profile(subject.profile, subject.events);
    definitions
        .into_iter()
        .map(|d| d.evaluate_shared(subject, &shared, now_ms))
        .collect()
}

/// Work that depends only on the subject, done once and shared by the evaluations of several
/// definitions on it ([`Definition::evaluate_shared`]): each event's `eventType`, numbered, so
/// that a filter on the type (`xEvent[eventType = "x" and ...]`) visits only the events of
/// that type, and the values of the paths read so far on each event (and on the profile), so
/// that the next definition reading one does not look it up again. It holds nothing that
/// depends on the evaluation time. Its cache makes it `Send` but not `Sync`: one thread uses
/// it.
pub struct SharedWork<'a> {
    shared: eval::Shared<'a>,
}

impl<'a> SharedWork<'a> {
    /// Shares the work on `events`; profile fields are read by each evaluation.
    pub fn new(events: &'a [EventRef<'a>]) -> SharedWork<'a> {
        SharedWork {
            shared: eval::Shared::new(None, events),
        }
    }

    /// Shares the work on `events` and on `profile`.
    pub fn with_profile(profile: &'a serde_json::Value, events: &'a [EventRef<'a>]) -> Self {
        SharedWork {
            shared: eval::Shared::new(Some(profile), events),
        }
    }
}

impl Definition {
    /// [`Definition::evaluate`] with the work shared across definitions done once; the result
    /// is the same. `shared` is used only if it was made from this very `subject.events` slice
    /// (and, for the profile, this very `subject.profile`); otherwise the evaluation does all
    /// its work itself.
    pub fn evaluate_shared(&self, subject: &Subject, shared: &SharedWork, now_ms: i64) -> Outcome {
        let cx = eval::Cx::new(subject, now_ms).with_shared(&shared.shared);
        let qualified = cx.truth(&self.root, &cx.root_env());
        Outcome {
            qualified,
            next_change_ms: cx.next_change(),
        }
    }
}

/// Compiles an expression whose value need not be a condition (a count, a sum...), to look at
/// with [`Definition::evaluate_value`]; for tests and previews.
#[doc(hidden)]
pub fn compile_value(text: &str, ctx: &SchemaContext) -> Result<Definition, CompileError> {
    let expr = pql::parse(text)?;
    compile::compile_with(&expr, ctx, false)
}

/// A compiled definition: immutable, `Send + Sync`, cheap to share in an `Arc`.
#[derive(Debug)]
pub struct Definition {
    pub(crate) root: ir::Node,
    pub(crate) deps: Dependencies,
    pub(crate) text: String,
}

/// What a definition reads, so that a change elsewhere need not re-evaluate it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Dependencies {
    /// Dotted paths read on the profile (`homeAddress.countryCode`). A path covers everything
    /// under it; a path into a map stops at the map (`identityMap`, `segmentMembership`).
    pub profile_fields: BTreeSet<String>,
    /// Whether any event is read.
    pub reads_events: bool,
    /// `Some(types)` when every use of `xEvent` only looks at events whose `eventType` is one
    /// of `types` (compared case-sensitively), so other events cannot change the result;
    /// `None` when any event may matter (or no event is read).
    pub event_types: Option<BTreeSet<String>>,
    /// Segment ids named by `inSegment(...)`.
    pub segments: BTreeSet<String>,
    /// Whether the result may change as time passes with the same data.
    pub time_relative: bool,
    /// The field names read on events; `None` when some structured value (an object of an
    /// event, a map) is used through a variable, so whole events are needed.
    pub event_fields: Option<EventFields>,
}

/// Field names read on events, at any depth: enough to decode only what a definition can see
/// ([`EventProjection`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventFields {
    /// Every field name stepped through (`commerce`, `order`, `priceTotal`), and map keys read
    /// by name.
    pub names: BTreeSet<String>,
    /// Names whose structured value is used whole (`productListItems` filtered, an object
    /// compared): everything under them is needed.
    pub whole: BTreeSet<String>,
}

/// What a definition is evaluated on.
pub struct Subject<'a> {
    /// The merged profile (an XDM JSON object).
    pub profile: &'a serde_json::Value,
    /// The profile's ExperienceEvents, in any order.
    pub events: &'a [EventRef<'a>],
    /// Current membership of other segments.
    pub in_segment: &'a dyn Fn(&str) -> bool,
}

/// One ExperienceEvent.
#[derive(Debug, Clone, Copy)]
pub struct EventRef<'a> {
    /// The event `_id`.
    pub id: &'a str,
    /// The event `timestamp`, epoch milliseconds (what `timestamp` reads).
    pub timestamp_ms: i64,
    /// The event (an XDM JSON object).
    pub value: &'a serde_json::Value,
}

/// The result of an evaluation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    /// Whether the profile qualifies.
    pub qualified: bool,
    /// The earliest instant after the evaluation time at which the result may change with the
    /// same data; `None` when time alone cannot change it.
    pub next_change_ms: Option<i64>,
}

impl Definition {
    /// What the definition reads.
    pub fn dependencies(&self) -> &Dependencies {
        &self.deps
    }

    /// The definition in canonical PQL.
    pub fn pql(&self) -> &str {
        &self.text
    }

    /// Evaluates the definition at `now_ms`.
    pub fn evaluate(&self, subject: &Subject, now_ms: i64) -> Outcome {
        let cx = eval::Cx::new(subject, now_ms);
        let qualified = cx.truth(&self.root, &cx.root_env());
        Outcome {
            qualified,
            next_change_ms: cx.next_change(),
        }
    }

    /// Evaluates the definition at `now_ms` and says why, clause by clause.
    pub fn explain(&self, subject: &Subject, now_ms: i64) -> Explanation {
        explain::explain(self, subject, now_ms)
    }

    /// Evaluates a definition whose result is not a condition (a count, a sum...), as JSON;
    /// for tests and previews.
    #[doc(hidden)]
    pub fn evaluate_value(&self, subject: &Subject, now_ms: i64) -> serde_json::Value {
        let cx = eval::Cx::new(subject, now_ms);
        cx.eval(&self.root, &cx.root_env()).to_json(usize::MAX)
    }
}
