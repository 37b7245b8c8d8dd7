//! Runtime values: a small enum that borrows from the profile, its events and the compiled
//! definition instead of cloning JSON, with the comparison and equality rules of PQL.

use std::cmp::Ordering;
use std::rc::Rc;

use pql::CmpOp;
use serde_json::Value;

use crate::ir::Const;
use crate::timeutil::{format_time, parse_time};
use crate::EventRef;

/// A value during evaluation. JSON scalars are converted on read; objects and arrays stay
/// borrowed.
#[derive(Clone, Debug)]
pub(crate) enum Val<'a> {
    Null,
    Bool(bool),
    Int(i64),
    Num(f64),
    Str(&'a str),
    Owned(Rc<str>),
    /// An instant, epoch milliseconds (dates are midnight UTC).
    Time(i64),
    /// A JSON object or array of the profile or of an event.
    Json(&'a Value),
    /// One ExperienceEvent.
    Event(&'a EventRef<'a>),
    /// A computed list.
    List(Rc<[Val<'a>]>),
    /// A literal list of the definition.
    Consts(&'a [Const]),
}

/// The value of a JSON node.
pub(crate) fn from_json(v: &Value) -> Val<'_> {
    match v {
        Value::Null => Val::Null,
        Value::Bool(b) => Val::Bool(*b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => Val::Int(i),
            None => n.as_f64().map_or(Val::Null, Val::Num),
        },
        Value::String(s) => Val::Str(s),
        Value::Array(_) | Value::Object(_) => Val::Json(v),
    }
}

impl Const {
    /// The value of a literal.
    pub(crate) fn val(&self) -> Val<'_> {
        match self {
            Const::Null => Val::Null,
            Const::Bool(b) => Val::Bool(*b),
            Const::Int(i) => Val::Int(*i),
            Const::Num(x) => Val::Num(*x),
            Const::Str(s) => Val::Str(s),
            Const::Time(t) => Val::Time(*t),
            Const::List(items) => Val::Consts(items),
        }
    }
}

impl<'a> Val<'a> {
    pub(crate) fn is_null(&self) -> bool {
        matches!(self, Val::Null)
    }

    /// Booleans are themselves; a collection is true when it is not empty; anything else
    /// (null included) is false.
    pub(crate) fn truthy(&self) -> bool {
        match self {
            Val::Bool(b) => *b,
            Val::List(l) => !l.is_empty(),
            Val::Consts(c) => !c.is_empty(),
            Val::Json(Value::Array(a)) => !a.is_empty(),
            _ => false,
        }
    }

    pub(crate) fn as_str(&self) -> Option<&str> {
        match self {
            Val::Str(s) => Some(s),
            Val::Owned(s) => Some(s),
            _ => None,
        }
    }

    pub(crate) fn as_f64(&self) -> Option<f64> {
        match self {
            Val::Int(i) => Some(*i as f64),
            Val::Num(x) => Some(*x),
            _ => None,
        }
    }

    /// The instant of a time value or of a date / date-time string.
    pub(crate) fn as_time(&self) -> Option<i64> {
        match self {
            Val::Time(t) => Some(*t),
            Val::Str(_) | Val::Owned(_) => parse_time(self.as_str()?).map(|(t, _)| t),
            _ => None,
        }
    }

    /// Whether the value is a list (an array of the data, a computed or a literal list).
    pub(crate) fn is_list(&self) -> bool {
        matches!(
            self,
            Val::List(_) | Val::Consts(_) | Val::Json(Value::Array(_))
        )
    }

    /// Calls `f` on each item of a list until it returns `false`; returns whether every call
    /// returned `true`. A non-list is no items.
    pub(crate) fn each_item(&self, mut f: impl FnMut(Val<'a>) -> bool) -> bool {
        match self {
            Val::List(l) => l.iter().all(|v| f(v.clone())),
            Val::Consts(c) => c.iter().all(|k| f(k.val())),
            Val::Json(Value::Array(a)) => a.iter().all(|v| f(from_json(v))),
            _ => true,
        }
    }

    /// The number of items of a list, keys of an object; 0 for null; 1 for a scalar.
    pub(crate) fn count(&self) -> usize {
        match self {
            Val::Null => 0,
            Val::List(l) => l.len(),
            Val::Consts(c) => c.len(),
            Val::Json(Value::Array(a)) => a.len(),
            Val::Json(Value::Object(o)) => o.len(),
            _ => 1,
        }
    }

    /// The items of a list, copied out.
    pub(crate) fn items(&self) -> Vec<Val<'a>> {
        let mut out = Vec::new();
        self.each_item(|v| {
            out.push(v);
            true
        });
        out
    }

    /// The value as text for string operations (instants are printed in RFC 3339).
    pub(crate) fn text(&self) -> Option<std::borrow::Cow<'_, str>> {
        match self {
            Val::Str(s) => Some((*s).into()),
            Val::Owned(s) => Some((**s).into()),
            Val::Time(t) => Some(format_time(*t).into()),
            _ => None,
        }
    }

    /// The value as JSON, for explanations: lists are cut at `limit` items, strings at 200
    /// characters.
    pub(crate) fn to_json(&self, limit: usize) -> Value {
        match self {
            Val::Null => Value::Null,
            Val::Bool(b) => Value::Bool(*b),
            Val::Int(i) => Value::from(*i),
            Val::Num(x) => serde_json::Number::from_f64(*x).map_or(Value::Null, Value::Number),
            Val::Str(_) | Val::Owned(_) => {
                let s = self.as_str().unwrap_or_default();
                if s.chars().count() > 200 {
                    Value::String(s.chars().take(200).chain("…".chars()).collect())
                } else {
                    Value::String(s.to_string())
                }
            }
            Val::Time(t) => Value::String(format_time(*t)),
            Val::Event(e) => {
                serde_json::json!({"id": e.id, "timestamp": format_time(e.timestamp_ms)})
            }
            Val::Json(Value::Object(o)) => {
                let mut out = serde_json::Map::new();
                for (k, v) in o.iter().take(limit) {
                    out.insert(k.clone(), from_json(v).to_json(limit));
                }
                Value::Object(out)
            }
            Val::Json(_) | Val::List(_) | Val::Consts(_) => {
                let mut out = Vec::new();
                let mut total = 0usize;
                self.each_item(|v| {
                    if total < limit {
                        out.push(v.to_json(limit));
                    }
                    total += 1;
                    true
                });
                if total > limit {
                    out.push(Value::String(format!("… {} more", total - limit)));
                }
                Value::Array(out)
            }
        }
    }
}

/// The order of two scalars of comparable kinds: numbers numerically, strings by code point,
/// instants in time (a date / date-time string against an instant is read as an instant),
/// booleans only for equality. `None` when they are not comparable.
pub(crate) fn order(a: &Val, b: &Val) -> Option<Ordering> {
    match (a, b) {
        (Val::Int(x), Val::Int(y)) => Some(x.cmp(y)),
        (Val::Int(_) | Val::Num(_), Val::Int(_) | Val::Num(_)) => {
            a.as_f64()?.partial_cmp(&b.as_f64()?)
        }
        (Val::Str(_) | Val::Owned(_), Val::Str(_) | Val::Owned(_)) => {
            Some(a.as_str()?.cmp(b.as_str()?))
        }
        (Val::Time(x), Val::Time(y)) => Some(x.cmp(y)),
        (Val::Time(x), Val::Str(_) | Val::Owned(_)) => Some(x.cmp(&b.as_time()?)),
        (Val::Str(_) | Val::Owned(_), Val::Time(y)) => Some(a.as_time()?.cmp(y)),
        _ => None,
    }
}

/// Value equality, used by `=`, `in`, `includes`, set functions and `distinct`.
pub(crate) fn equal(a: &Val, b: &Val) -> bool {
    match (a, b) {
        (Val::Null, Val::Null) => true,
        (Val::Bool(x), Val::Bool(y)) => x == y,
        (Val::Event(x), Val::Event(y)) => x.id == y.id && x.timestamp_ms == y.timestamp_ms,
        (Val::Json(Value::Object(x)), Val::Json(Value::Object(y))) => x == y,
        _ if a.is_list() && b.is_list() => {
            let (xs, ys) = (a.items(), b.items());
            xs.len() == ys.len() && xs.iter().zip(&ys).all(|(x, y)| equal(x, y))
        }
        _ => order(a, b) == Some(Ordering::Equal),
    }
}

/// `a op b`. Null on either side is false. A list against a scalar is true when some item
/// compares true; two lists are compared whole (`=` and `!=` only). Values of kinds that do
/// not compare are unequal.
pub(crate) fn compare(op: CmpOp, a: &Val, b: &Val) -> bool {
    // The common cases first, with the result the general rules below give them.
    match (a, b) {
        (Val::Str(x), Val::Str(y)) => {
            return match op {
                CmpOp::Eq => x == y,
                CmpOp::Ne => x != y,
                _ => cmp_holds(op, x.cmp(y)),
            }
        }
        (Val::Int(x), Val::Int(y)) => return cmp_holds(op, x.cmp(y)),
        (Val::Time(x), Val::Time(y)) => return cmp_holds(op, x.cmp(y)),
        (Val::Num(x), Val::Num(y)) => {
            return x
                .partial_cmp(y)
                .map_or(op == CmpOp::Ne, |o| cmp_holds(op, o))
        }
        (Val::Int(x), Val::Num(y)) => {
            return (*x as f64)
                .partial_cmp(y)
                .map_or(op == CmpOp::Ne, |o| cmp_holds(op, o))
        }
        (Val::Num(x), Val::Int(y)) => {
            return x
                .partial_cmp(&(*y as f64))
                .map_or(op == CmpOp::Ne, |o| cmp_holds(op, o))
        }
        _ => {}
    }
    if a.is_null() || b.is_null() {
        return false;
    }
    match (a.is_list(), b.is_list()) {
        (true, true) => {
            return match op {
                CmpOp::Eq => equal(a, b),
                CmpOp::Ne => !equal(a, b),
                _ => false,
            }
        }
        (true, false) => return !a.each_item(|x| !compare(op, &x, b)),
        (false, true) => return !b.each_item(|y| !compare(op, a, &y)),
        (false, false) => {}
    }
    if let (Val::Bool(_), Val::Bool(_))
    | (Val::Json(_), Val::Json(_))
    | (Val::Event(_), Val::Event(_)) = (a, b)
    {
        return match op {
            CmpOp::Eq => equal(a, b),
            CmpOp::Ne => !equal(a, b),
            _ => false,
        };
    }
    match order(a, b) {
        Some(o) => cmp_holds(op, o),
        None => op == CmpOp::Ne,
    }
}

/// Whether an ordering satisfies the operator.
pub(crate) fn cmp_holds(op: CmpOp, o: Ordering) -> bool {
    match op {
        CmpOp::Eq => o == Ordering::Equal,
        CmpOp::Ne => o != Ordering::Equal,
        CmpOp::Lt => o == Ordering::Less,
        CmpOp::Le => o != Ordering::Greater,
        CmpOp::Gt => o == Ordering::Greater,
        CmpOp::Ge => o != Ordering::Less,
    }
}
