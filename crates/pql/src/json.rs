//! Conversion to and from the `pql/json` node format.
//!
//! The documented node types are used where the reference shows them:
//! * a bare name is `{"nodeType":"fieldLookup","fieldName":N,"object":{"nodeType":"parameterReference","position":1}}`
//!   (the implicit profile), `a.b` is a `fieldLookup` on the node of `a`, `$N` is a
//!   `parameterReference` with `"explicit":true` (so `$1.a` and `a` stay distinct);
//! * literals are `{"nodeType":"literal","literalType":T,"value":V}` with `T` one of `String`,
//!   `Integer`, `Decimal`, `Boolean`, `Null` (no value) and `List` (value = array of nodes);
//! * operators and functions are `{"nodeType":"fnApply","fnName":F,"params":[...]}`: `F` is the
//!   operator text (`=`, `and`, `notIn`, `like`, `+`...), `not`, `-` with one parameter for
//!   negation, or the function name; a method call `o.m(a)` is `fnApply` `m` with params
//!   `[o, a]` and `"method":true`.
//!
//! The remaining constructs have no documented encoding; they use these node types:
//! `variableReference` (`name`: a quantifier, `select` or `let` variable in scope),
//! `outerReference` (`levels`), `lambda` (`params`, `body`), `time` (`value`: `now`/`today`/...), `period` (`which`,
//! `unit`), `filter` (`object`, `condition`), `occurs` (`subject`, `time`), `quantifier`
//! (`quantifier`, `clauses`), `select` (`clause`), `let` (`variable`, `value`, `body`) and
//! `chain` (`events`, `timestamp`, `steps`). Clauses are `{"variable","source","condition"}`;
//! time conditions are `{"kind": "relative"|"before"|"after"|"on"|"between", ...}`.

use serde_json::{json, Map, Value};

use crate::ast::*;

/// A `pql/json` document that does not describe a PQL expression.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid pql/json: {0}")]
pub struct JsonError(pub String);

/// Converts an expression to the `pql/json` node format.
pub fn to_pql_json(e: &Expr) -> Value {
    Encoder { scope: Vec::new() }.expr(e)
}

/// Reads an expression from the `pql/json` node format.
pub fn from_pql_json(v: &Value) -> Result<Expr, JsonError> {
    decode(v, 0)
}

struct Encoder {
    scope: Vec<String>,
}

fn profile() -> Value {
    json!({"nodeType": "parameterReference", "position": 1})
}

fn literal(t: &str, v: Value) -> Value {
    json!({"nodeType": "literal", "literalType": t, "value": v})
}

fn fn_apply(name: &str, params: Vec<Value>) -> Value {
    json!({"nodeType": "fnApply", "fnName": name, "params": params})
}

fn unit_name(u: Unit) -> &'static str {
    u.singular()
}

impl Encoder {
    fn list(&mut self, items: &[Expr]) -> Vec<Value> {
        items.iter().map(|e| self.expr(e)).collect()
    }

    /// Dispatches the forms that can form long chains to small functions, keeping the
    /// recursion's stack frames small; everything else goes to [`Encoder::other`].
    fn expr(&mut self, e: &Expr) -> Value {
        match &e.kind {
            ExprKind::Field { object, name } => self.field_lookup(object, name),
            ExprKind::Method { object, name, args } => self.method(object, name, args),
            ExprKind::Filter { object, cond } => self.filter(object, cond),
            ExprKind::Binary { op, lhs, rhs } => self.binary(*op, lhs, rhs),
            ExprKind::Occurs { subject, time } => self.occurs(subject, time),
            _ => self.other(e),
        }
    }

    #[inline(never)]
    fn field_lookup(&mut self, object: &Expr, name: &str) -> Value {
        let object = self.expr(object);
        let mut m = Map::new();
        m.insert("nodeType".into(), Value::from("fieldLookup"));
        m.insert("fieldName".into(), Value::from(name));
        m.insert("object".into(), object);
        Value::Object(m)
    }

    #[inline(never)]
    fn method(&mut self, object: &Expr, name: &str, args: &[Expr]) -> Value {
        let mut params = vec![self.expr(object)];
        for a in args {
            params.push(self.expr(a));
        }
        let mut m = Map::new();
        m.insert("nodeType".into(), Value::from("fnApply"));
        m.insert("fnName".into(), Value::from(name));
        m.insert("params".into(), Value::Array(params));
        m.insert("method".into(), Value::Bool(true));
        Value::Object(m)
    }

    #[inline(never)]
    fn filter(&mut self, object: &Expr, cond: &Expr) -> Value {
        let object = self.expr(object);
        let cond = self.expr(cond);
        let mut m = Map::new();
        m.insert("nodeType".into(), Value::from("filter"));
        m.insert("object".into(), object);
        m.insert("condition".into(), cond);
        Value::Object(m)
    }

    #[inline(never)]
    fn binary(&mut self, op: BinOp, lhs: &Expr, rhs: &Expr) -> Value {
        let params = vec![self.expr(lhs), self.expr(rhs)];
        let mut m = Map::new();
        m.insert("nodeType".into(), Value::from("fnApply"));
        m.insert("fnName".into(), Value::from(op.symbol()));
        m.insert("params".into(), Value::Array(params));
        Value::Object(m)
    }

    #[inline(never)]
    fn occurs(&mut self, subject: &Expr, time: &TimeCondition) -> Value {
        let subject = self.expr(subject);
        let time = self.time(time);
        let mut m = Map::new();
        m.insert("nodeType".into(), Value::from("occurs"));
        m.insert("subject".into(), subject);
        m.insert("time".into(), time);
        Value::Object(m)
    }

    #[inline(never)]
    fn other(&mut self, e: &Expr) -> Value {
        match &e.kind {
            ExprKind::Null => json!({"nodeType": "literal", "literalType": "Null"}),
            ExprKind::Bool(b) => literal("Boolean", json!(b)),
            ExprKind::Int(n) => literal("Integer", json!(n)),
            ExprKind::Decimal(x) => literal("Decimal", json!(x)),
            ExprKind::String(s) => literal("String", json!(s)),
            ExprKind::Array(items) => literal("List", Value::Array(self.list(items))),
            ExprKind::Time(t) => json!({"nodeType": "time", "value": t.word()}),
            ExprKind::Period { which, unit } => {
                json!({"nodeType": "period", "which": which.word(), "unit": unit_name(*unit)})
            }
            ExprKind::Ident(name) => {
                if self.scope.iter().any(|s| s == name) {
                    json!({"nodeType": "variableReference", "name": name})
                } else {
                    json!({"nodeType": "fieldLookup", "fieldName": name, "object": profile()})
                }
            }
            ExprKind::Param(n) => {
                json!({"nodeType": "parameterReference", "position": n, "explicit": true})
            }
            ExprKind::Outer(n) => json!({"nodeType": "outerReference", "levels": n}),
            ExprKind::Field { object, name } => {
                json!({"nodeType": "fieldLookup", "fieldName": name, "object": self.expr(object)})
            }
            ExprKind::Method { object, name, args } => {
                let mut params = vec![self.expr(object)];
                params.extend(self.list(args));
                let mut v = fn_apply(name, params);
                v["method"] = json!(true);
                v
            }
            ExprKind::Call { name, args } => {
                let params = self.list(args);
                fn_apply(name, params)
            }
            ExprKind::Filter { object, cond } => {
                json!({"nodeType": "filter", "object": self.expr(object), "condition": self.expr(cond)})
            }
            ExprKind::Unary { op, operand } => {
                let name = match op {
                    UnaryOp::Not => "not",
                    UnaryOp::Neg => "-",
                };
                fn_apply(name, vec![self.expr(operand)])
            }
            ExprKind::Binary { op, lhs, rhs } => {
                fn_apply(op.symbol(), vec![self.expr(lhs), self.expr(rhs)])
            }
            ExprKind::Occurs { subject, time } => {
                json!({"nodeType": "occurs", "subject": self.expr(subject), "time": self.time(time)})
            }
            ExprKind::Quantifier { kind, clauses } => {
                let mark = self.scope.len();
                let cs: Vec<Value> = clauses.iter().map(|c| self.clause(c)).collect();
                self.scope.truncate(mark);
                let q = match kind {
                    QuantifierKind::Exists => "exists",
                    QuantifierKind::Forall => "forall",
                };
                json!({"nodeType": "quantifier", "quantifier": q, "clauses": cs})
            }
            ExprKind::Select(c) => {
                let mark = self.scope.len();
                let c = self.clause(c);
                self.scope.truncate(mark);
                json!({"nodeType": "select", "clause": c})
            }
            ExprKind::Let { name, value, body } => {
                let value = self.expr(value);
                self.scope.push(name.clone());
                let body = self.expr(body);
                self.scope.pop();
                json!({"nodeType": "let", "variable": name, "value": value, "body": body})
            }
            ExprKind::Lambda { params, body } => {
                let mark = self.scope.len();
                self.scope.extend(params.iter().cloned());
                let body = self.expr(body);
                self.scope.truncate(mark);
                json!({"nodeType": "lambda", "params": params, "body": body})
            }
            ExprKind::Chain {
                events,
                timestamp,
                steps,
            } => {
                let steps: Vec<Value> = steps
                    .iter()
                    .map(|s| {
                        let mut m = Map::new();
                        m.insert("label".into(), json!(s.label));
                        m.insert("what".into(), self.expr(&s.what));
                        if let Some(t) = &s.when {
                            m.insert("when".into(), self.time(t));
                        }
                        Value::Object(m)
                    })
                    .collect();
                json!({"nodeType": "chain", "events": self.expr(events),
                       "timestamp": self.expr(timestamp), "steps": steps})
            }
        }
    }

    /// Encodes a clause; its variable stays in scope for the following clauses.
    fn clause(&mut self, c: &Clause) -> Value {
        let source = self.expr(&c.source);
        self.scope.push(c.var.clone());
        let cond = self.expr(&c.cond);
        json!({"variable": c.var, "source": source, "condition": cond})
    }

    fn time(&mut self, t: &TimeCondition) -> Value {
        match t {
            TimeCondition::Relative {
                cmp,
                amount,
                unit,
                direction,
                anchor,
            } => json!({
                "kind": "relative",
                "cmp": cmp.map(CmpOp::symbol),
                "amount": amount,
                "unit": unit_name(*unit),
                "direction": direction.word(),
                "anchor": self.expr(anchor),
            }),
            TimeCondition::Before(a) => json!({"kind": "before", "anchor": self.expr(a)}),
            TimeCondition::After(a) => json!({"kind": "after", "anchor": self.expr(a)}),
            TimeCondition::On(a) => json!({"kind": "on", "anchor": self.expr(a)}),
            TimeCondition::Between(a, b) => {
                json!({"kind": "between", "from": self.expr(a), "to": self.expr(b)})
            }
        }
    }
}

fn err<T>(msg: impl Into<String>) -> Result<T, JsonError> {
    Err(JsonError(msg.into()))
}

fn field<'a>(v: &'a Value, key: &str) -> Result<&'a Value, JsonError> {
    v.get(key)
        .ok_or_else(|| JsonError(format!("missing \"{key}\" in {v}")))
}

fn str_field<'a>(v: &'a Value, key: &str) -> Result<&'a str, JsonError> {
    field(v, key)?
        .as_str()
        .ok_or_else(|| JsonError(format!("\"{key}\" is not a string in {v}")))
}

fn u64_field(v: &Value, key: &str) -> Result<u64, JsonError> {
    field(v, key)?
        .as_u64()
        .ok_or_else(|| JsonError(format!("\"{key}\" is not an unsigned integer in {v}")))
}

fn u32_field(v: &Value, key: &str) -> Result<u32, JsonError> {
    u32::try_from(u64_field(v, key)?).map_err(|_| JsonError(format!("\"{key}\" too large")))
}

fn array_field<'a>(v: &'a Value, key: &str) -> Result<&'a Vec<Value>, JsonError> {
    field(v, key)?
        .as_array()
        .ok_or_else(|| JsonError(format!("\"{key}\" is not an array in {v}")))
}

fn unit_from(s: &str) -> Result<Unit, JsonError> {
    Unit::from_word(s).ok_or_else(|| JsonError(format!("unknown unit {s:?}")))
}

fn decode_box(v: &Value, depth: usize) -> Result<Box<Expr>, JsonError> {
    Ok(Box::new(decode(v, depth)?))
}

/// Dispatches the node types that can form long chains to small functions, keeping the
/// recursion's stack frames small; everything else goes to [`decode_other`].
fn decode(v: &Value, depth: usize) -> Result<Expr, JsonError> {
    if depth >= crate::MAX_HEIGHT {
        return err("nested too deeply");
    }
    match v.get("nodeType").and_then(Value::as_str) {
        Some("fieldLookup") => decode_field_lookup(v, depth + 1),
        Some("fnApply") => decode_fn_apply(v, depth + 1),
        _ => decode_other(v, depth),
    }
}

#[inline(never)]
fn decode_field_lookup(v: &Value, d: usize) -> Result<Expr, JsonError> {
    let name = str_field(v, "fieldName")?.to_string();
    let object = field(v, "object")?;
    let implicit = object.get("nodeType").and_then(Value::as_str) == Some("parameterReference")
        && object.get("position").and_then(Value::as_u64) == Some(1)
        && object.get("explicit").and_then(Value::as_bool) != Some(true);
    let kind = if implicit {
        ExprKind::Ident(name)
    } else {
        ExprKind::Field {
            object: decode_box(object, d)?,
            name,
        }
    };
    Ok(Expr::new(kind))
}

#[inline(never)]
fn decode_fn_apply(v: &Value, d: usize) -> Result<Expr, JsonError> {
    let name = str_field(v, "fnName")?;
    let mut params = Vec::new();
    for p in array_field(v, "params")? {
        params.push(decode(p, d)?);
    }
    let kind = if v.get("method").and_then(Value::as_bool) == Some(true) {
        if params.is_empty() {
            return err("method without receiver");
        }
        let object = Box::new(params.remove(0));
        ExprKind::Method {
            object,
            name: name.to_string(),
            args: params,
        }
    } else {
        fn_kind(name, params)?
    };
    Ok(Expr::new(kind))
}

#[inline(never)]
fn decode_other(v: &Value, depth: usize) -> Result<Expr, JsonError> {
    let d = depth + 1;
    let kind = match str_field(v, "nodeType")? {
        "literal" => match str_field(v, "literalType")? {
            "Null" => ExprKind::Null,
            "Boolean" => ExprKind::Bool(
                field(v, "value")?
                    .as_bool()
                    .ok_or_else(|| JsonError(format!("not a boolean: {v}")))?,
            ),
            "Integer" => ExprKind::Int(
                field(v, "value")?
                    .as_i64()
                    .ok_or_else(|| JsonError(format!("not an integer: {v}")))?,
            ),
            "Decimal" => ExprKind::Decimal(
                field(v, "value")?
                    .as_f64()
                    .ok_or_else(|| JsonError(format!("not a number: {v}")))?,
            ),
            "String" => ExprKind::String(str_field(v, "value")?.to_string()),
            "List" => ExprKind::Array(
                array_field(v, "value")?
                    .iter()
                    .map(|x| decode(x, d))
                    .collect::<Result<_, _>>()?,
            ),
            other => return err(format!("unknown literalType {other:?}")),
        },
        "time" => ExprKind::Time(match str_field(v, "value")? {
            "now" => TimeWord::Now,
            "today" => TimeWord::Today,
            "yesterday" => TimeWord::Yesterday,
            "tomorrow" => TimeWord::Tomorrow,
            other => return err(format!("unknown time {other:?}")),
        }),
        "period" => ExprKind::Period {
            which: match str_field(v, "which")? {
                "this" => PeriodWhich::This,
                "last" => PeriodWhich::Last,
                "next" => PeriodWhich::Next,
                other => return err(format!("unknown period {other:?}")),
            },
            unit: unit_from(str_field(v, "unit")?)?,
        },
        "variableReference" => ExprKind::Ident(str_field(v, "name")?.to_string()),
        "parameterReference" => ExprKind::Param(u32_field(v, "position")?),
        "outerReference" => ExprKind::Outer(u32_field(v, "levels")?),
        "fieldLookup" => {
            let name = str_field(v, "fieldName")?.to_string();
            let object = field(v, "object")?;
            let implicit = object.get("nodeType") == Some(&json!("parameterReference"))
                && object.get("position") == Some(&json!(1))
                && object.get("explicit") != Some(&json!(true));
            if implicit {
                ExprKind::Ident(name)
            } else {
                ExprKind::Field {
                    object: decode_box(object, d)?,
                    name,
                }
            }
        }
        "fnApply" => {
            let name = str_field(v, "fnName")?;
            let mut params = array_field(v, "params")?
                .iter()
                .map(|x| decode(x, d))
                .collect::<Result<Vec<_>, _>>()?;
            if v.get("method") == Some(&json!(true)) {
                if params.is_empty() {
                    return err(format!("method without receiver: {v}"));
                }
                let object = Box::new(params.remove(0));
                ExprKind::Method {
                    object,
                    name: name.to_string(),
                    args: params,
                }
            } else {
                fn_kind(name, params)?
            }
        }
        "filter" => ExprKind::Filter {
            object: decode_box(field(v, "object")?, d)?,
            cond: decode_box(field(v, "condition")?, d)?,
        },
        "occurs" => ExprKind::Occurs {
            subject: decode_box(field(v, "subject")?, d)?,
            time: decode_time(field(v, "time")?, d)?,
        },
        "quantifier" => ExprKind::Quantifier {
            kind: match str_field(v, "quantifier")? {
                "exists" => QuantifierKind::Exists,
                "forall" => QuantifierKind::Forall,
                other => return err(format!("unknown quantifier {other:?}")),
            },
            clauses: array_field(v, "clauses")?
                .iter()
                .map(|c| decode_clause(c, d))
                .collect::<Result<_, _>>()?,
        },
        "select" => ExprKind::Select(Box::new(decode_clause(field(v, "clause")?, d)?)),
        "let" => ExprKind::Let {
            name: str_field(v, "variable")?.to_string(),
            value: decode_box(field(v, "value")?, d)?,
            body: decode_box(field(v, "body")?, d)?,
        },
        "lambda" => ExprKind::Lambda {
            params: array_field(v, "params")?
                .iter()
                .map(|p| {
                    p.as_str()
                        .map(str::to_string)
                        .ok_or_else(|| JsonError(format!("lambda parameter {p} is not a string")))
                })
                .collect::<Result<_, _>>()?,
            body: decode_box(field(v, "body")?, d)?,
        },
        "chain" => ExprKind::Chain {
            events: decode_box(field(v, "events")?, d)?,
            timestamp: decode_box(field(v, "timestamp")?, d)?,
            steps: array_field(v, "steps")?
                .iter()
                .map(|s| {
                    Ok(ChainStep {
                        label: str_field(s, "label")?.to_string(),
                        what: decode(field(s, "what")?, d)?,
                        when: match s.get("when") {
                            Some(t) => Some(decode_time(t, d)?),
                            None => None,
                        },
                    })
                })
                .collect::<Result<_, JsonError>>()?,
        },
        other => return err(format!("unknown nodeType {other:?}")),
    };
    Ok(Expr::new(kind))
}

/// `fnApply` without `"method"`: operators, `not`, negation, or a plain function.
fn fn_kind(name: &str, mut params: Vec<Expr>) -> Result<ExprKind, JsonError> {
    let op = match name {
        "or" => Some(BinOp::Or),
        "and" => Some(BinOp::And),
        "=" => Some(BinOp::Cmp(CmpOp::Eq)),
        "!=" => Some(BinOp::Cmp(CmpOp::Ne)),
        "<" => Some(BinOp::Cmp(CmpOp::Lt)),
        "<=" => Some(BinOp::Cmp(CmpOp::Le)),
        ">" => Some(BinOp::Cmp(CmpOp::Gt)),
        ">=" => Some(BinOp::Cmp(CmpOp::Ge)),
        "like" => Some(BinOp::Like),
        "in" => Some(BinOp::In),
        "notIn" => Some(BinOp::NotIn),
        "+" => Some(BinOp::Add),
        "-" => Some(BinOp::Sub),
        "*" => Some(BinOp::Mul),
        "/" => Some(BinOp::Div),
        "%" => Some(BinOp::Mod),
        _ => None,
    };
    if (name == "not" || name == "-") && params.len() == 1 {
        let op = if name == "not" {
            UnaryOp::Not
        } else {
            UnaryOp::Neg
        };
        return Ok(ExprKind::Unary {
            op,
            operand: Box::new(params.remove(0)),
        });
    }
    if let Some(op) = op {
        if params.len() != 2 {
            return err(format!("{name:?} takes two parameters"));
        }
        let rhs = Box::new(params.remove(1));
        let lhs = Box::new(params.remove(0));
        return Ok(ExprKind::Binary { op, lhs, rhs });
    }
    Ok(ExprKind::Call {
        name: name.to_string(),
        args: params,
    })
}

fn decode_clause(v: &Value, d: usize) -> Result<Clause, JsonError> {
    Ok(Clause {
        var: str_field(v, "variable")?.to_string(),
        source: decode(field(v, "source")?, d)?,
        cond: decode(field(v, "condition")?, d)?,
    })
}

fn decode_time(v: &Value, d: usize) -> Result<TimeCondition, JsonError> {
    let anchor = |key: &str| decode_box(field(v, key)?, d);
    Ok(match str_field(v, "kind")? {
        "relative" => TimeCondition::Relative {
            cmp: match field(v, "cmp")? {
                Value::Null => None,
                Value::String(s) => Some(match s.as_str() {
                    "=" => CmpOp::Eq,
                    "!=" => CmpOp::Ne,
                    "<" => CmpOp::Lt,
                    "<=" => CmpOp::Le,
                    ">" => CmpOp::Gt,
                    ">=" => CmpOp::Ge,
                    other => return err(format!("unknown comparison {other:?}")),
                }),
                other => return err(format!("bad cmp {other}")),
            },
            amount: u64_field(v, "amount")?,
            unit: unit_from(str_field(v, "unit")?)?,
            direction: match str_field(v, "direction")? {
                "before" => Direction::Before,
                "after" => Direction::After,
                "from" => Direction::From,
                other => return err(format!("unknown direction {other:?}")),
            },
            anchor: anchor("anchor")?,
        },
        "before" => TimeCondition::Before(anchor("anchor")?),
        "after" => TimeCondition::After(anchor("anchor")?),
        "on" => TimeCondition::On(anchor("anchor")?),
        "between" => TimeCondition::Between(anchor("from")?, anchor("to")?),
        other => return err(format!("unknown time kind {other:?}")),
    })
}
