//! Explanations: the result of a definition on a subject as a tree over its conditions, each
//! with its PQL text, its value, the values it compared and the events it matched, bounded so
//! it can be shown to a person.

use serde::Serialize;
use serde_json::Value;

use crate::eval::{Cx, Env};
use crate::ir::{Coll, Like, Node};
use crate::timeutil::{format_time, Bound};
use crate::value::Val;
use crate::{Definition, Subject};

/// At most this many matched events are listed per node (the count is always complete).
pub const MAX_MATCHED_EVENTS: usize = 20;
/// Lists in values are cut at this many items.
const MAX_LIST_ITEMS: usize = 20;

/// Why a profile is (or is not) in a segment.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Explanation {
    pub qualified: bool,
    /// The evaluation instant (RFC 3339).
    pub evaluated_at: String,
    /// When the result may next change with the same data (RFC 3339), if time can change it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_change: Option<String>,
    /// The definition's conditions.
    pub root: ExplainNode,
}

/// One condition (or count, sum...) of the definition.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExplainNode {
    /// The sub-expression, in PQL.
    pub text: String,
    /// What it evaluated to.
    pub value: Value,
    /// The two sides of a comparison (or test), as evaluated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compared: Option<Compared>,
    /// Events that satisfied it (at most [`MAX_MATCHED_EVENTS`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub matched_events: Option<Vec<MatchedEvent>>,
    /// How many events satisfied it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub matched_event_count: Option<usize>,
    /// Its conditions.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub children: Vec<ExplainNode>,
}

/// The values on each side of a comparison.
#[derive(Debug, Clone, Serialize)]
pub struct Compared {
    pub left: Value,
    pub right: Value,
}

/// An event an explanation refers to.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MatchedEvent {
    pub id: String,
    /// RFC 3339.
    pub timestamp: String,
    /// The `chain` step the event matched.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub step: Option<String>,
}

pub(crate) fn explain(def: &Definition, subject: &Subject, now: i64) -> Explanation {
    let outcome = def.evaluate(subject, now);
    let cx = Cx::new(subject, now);
    let env = cx.root_env();
    let mut root = node(&cx, &def.root, &env);
    if root.text.is_empty() {
        root.text = def.text.clone();
    }
    Explanation {
        qualified: outcome.qualified,
        evaluated_at: format_time(now),
        next_change: outcome.next_change_ms.map(format_time),
        root,
    }
}

fn event_of(v: &Val, step: Option<&str>) -> Option<MatchedEvent> {
    match v {
        Val::Event(e) => Some(MatchedEvent {
            id: e.id.to_string(),
            timestamp: format_time(e.timestamp_ms),
            step: step.map(str::to_string),
        }),
        _ => None,
    }
}

/// The events of a collection: the first few and how many.
fn events<'a>(cx: &Cx<'a>, c: &'a Coll, env: &Env<'_, 'a>) -> (Vec<MatchedEvent>, usize) {
    let mut listed = Vec::new();
    let mut total = 0;
    cx.each(c, env, &mut |x| {
        if let Some(m) = event_of(&x, None) {
            if listed.len() < MAX_MATCHED_EVENTS {
                listed.push(m);
            }
            total += 1;
        }
        true
    });
    (listed, total)
}

/// Explained nodes reachable from `n` without entering a per-element context.
fn nested<'a>(n: &'a Node, out: &mut Vec<&'a Node>) {
    match n {
        Node::Explained(_) => out.push(n),
        Node::CollValue(_)
        | Node::NonEmpty(_)
        | Node::Count(_)
        | Node::Head(_)
        | Node::Distinct(_)
        | Node::Agg { .. }
        | Node::MapItems { .. }
        | Node::TopN { .. }
        | Node::Quant { .. }
        | Node::Let { .. }
        | Node::Chain(_)
        | Node::Occurs { .. } => {}
        _ => n.visit_children(&mut |c| nested(c, out)),
    }
}

fn node<'a>(cx: &Cx<'a>, n: &'a Node, env: &Env<'_, 'a>) -> ExplainNode {
    let (text, inner) = match n {
        Node::Explained(b) => (b.0.clone(), &b.1),
        other => (String::new(), other),
    };
    let json = |v: Val<'a>| v.to_json(MAX_LIST_ITEMS);
    let mut out = ExplainNode {
        text,
        value: json(cx.eval(inner, env)),
        compared: None,
        matched_events: None,
        matched_event_count: None,
        children: Vec::new(),
    };
    let compared = |l: &'a Node, r: Value| {
        Some(Compared {
            left: json(cx.eval(l, env)),
            right: r,
        })
    };
    let mut sides: Vec<&'a Node> = Vec::new();
    match inner {
        Node::And(items) | Node::Or(items) => {
            out.children = items.iter().map(|i| node(cx, i, env)).collect();
        }
        Node::Not(x) => out.children = vec![node(cx, x, env)],
        Node::Cmp { lhs, rhs, .. }
        | Node::In {
            needle: lhs,
            hay: rhs,
            ..
        }
        | Node::SetFn { a: lhs, b: rhs, .. }
        | Node::Includes {
            list: lhs,
            item: rhs,
        }
        | Node::StrTest {
            subject: lhs,
            arg: rhs,
            ..
        } => {
            out.compared = compared(lhs, json(cx.eval(rhs, env)));
            sides = vec![lhs, rhs];
        }
        Node::Like { subject, pattern } => {
            let right = match pattern {
                Like::Literal(p, _) => Value::String(p.clone()),
                Like::Dynamic(p) => json(cx.eval(p, env)),
            };
            out.compared = compared(subject, right);
            sides = vec![subject];
        }
        Node::Matches { subject, re } => {
            out.compared = compared(subject, Value::String(re.as_str().to_string()));
            sides = vec![subject];
        }
        Node::IsNull { value, .. } => {
            out.compared = compared(value, Value::Null);
            sides = vec![value];
        }
        Node::TimeCmp { value, bound, .. } => {
            out.compared = compared(value, Value::String(format_time(bound.value(cx.now))));
            sides = vec![value];
        }
        Node::Occurs { subject, cond } => {
            let mut window = serde_json::Map::new();
            if let Some(bases) = cx.anchors(cond, env) {
                for (name, spec) in [("from", &cond.lower), ("to", &cond.upper)] {
                    if let Some(s) = spec {
                        let b = Bound {
                            base: bases[s.anchor],
                            end: s.end,
                            shift: s.shift,
                            unit: s.unit,
                        };
                        window.insert(
                            name.to_string(),
                            Value::String(format_time(b.value(cx.now))),
                        );
                        window.insert(format!("{name}Inclusive"), Value::Bool(s.inclusive));
                    }
                }
                if cond.negate {
                    window.insert("outside".to_string(), Value::Bool(true));
                }
            }
            out.compared = compared(subject, Value::Object(window));
        }
        Node::Count(c)
        | Node::Agg { coll: c, .. }
        | Node::NonEmpty(c)
        | Node::Head(c)
        | Node::Distinct(c)
        | Node::CollValue(c)
            if c.over_events() =>
        {
            let (listed, total) = events(cx, c, env);
            out.matched_events = Some(listed);
            out.matched_event_count = Some(total);
        }
        Node::Quant { clauses, .. } if clauses.first().is_some_and(|c| c.coll.over_events()) => {
            let first = &clauses[0];
            let mut listed = Vec::new();
            let mut total = 0;
            cx.each(&first.coll, env, &mut |x| {
                let inner = env.with_var(first.var, x.clone());
                if cx.truth(&first.cond, &inner) {
                    if let Some(m) = event_of(&x, None) {
                        if listed.len() < MAX_MATCHED_EVENTS {
                            listed.push(m);
                        }
                        total += 1;
                    }
                }
                true
            });
            out.matched_events = Some(listed);
            out.matched_event_count = Some(total);
        }
        Node::Chain(c) => {
            let mut chosen = Vec::new();
            cx.chain(c, env, Some(&mut chosen));
            let listed: Vec<MatchedEvent> = chosen
                .iter()
                .zip(&c.steps)
                .filter_map(|(v, s)| event_of(v, Some(&s.label)))
                .collect();
            out.matched_event_count = Some(listed.len());
            out.matched_events = Some(listed);
        }
        Node::Let { var, value, body } => {
            let v = cx.eval(value, env);
            let inner = env.with_var(*var, v);
            out.children = vec![node(cx, body, &inner)];
        }
        other => sides = vec![other],
    }
    for side in sides {
        let mut found = Vec::new();
        if std::ptr::eq(side, inner) {
            side.visit_children(&mut |c| nested(c, &mut found));
        } else {
            nested(side, &mut found);
        }
        out.children
            .extend(found.into_iter().map(|f| node(cx, f, env)));
    }
    out
}
