//! The canonical printer: `Display` for [`Expr`] and [`TimeCondition`], such that
//! `parse(&expr.to_string()) == expr` (spans aside). Parentheses are added only where precedence
//! needs them; `not`, `let` and quantifier conditions always print with their conventional
//! parentheses.

use std::fmt::{self, Display, Formatter, Write};

use crate::ast::*;

/// Precedence of atoms (literals, names, calls, postfix forms).
const ATOM: u8 = 10;
/// Precedence of the greedy forms (quantifiers, `select`, `let`): always parenthesized as operands.
const LOWEST: u8 = 0;

/// How tightly a printed node binds.
fn prec(e: &Expr) -> u8 {
    match &e.kind {
        ExprKind::Quantifier { .. }
        | ExprKind::Select(_)
        | ExprKind::Let { .. }
        | ExprKind::Lambda { .. } => LOWEST,
        ExprKind::Binary { op, .. } => op.precedence(),
        ExprKind::Occurs { .. } => 4,
        ExprKind::Unary {
            op: UnaryOp::Not, ..
        } => 3,
        ExprKind::Unary {
            op: UnaryOp::Neg, ..
        } => 7,
        _ => ATOM,
    }
}

/// Writes `e`, in parentheses when its precedence is below `min`.
fn child(f: &mut Formatter<'_>, e: &Expr, min: u8) -> fmt::Result {
    if prec(e) < min {
        write!(f, "({e})")
    } else {
        write!(f, "{e}")
    }
}

fn list(f: &mut Formatter<'_>, items: &[Expr]) -> fmt::Result {
    for (i, e) in items.iter().enumerate() {
        if i > 0 {
            f.write_str(", ")?;
        }
        if matches!(e.kind, ExprKind::Lambda { .. }) {
            write!(f, "{e}")?;
        } else {
            child(f, e, LOWEST + 1)?;
        }
    }
    Ok(())
}

fn string(f: &mut Formatter<'_>, s: &str) -> fmt::Result {
    f.write_char('"')?;
    for c in s.chars() {
        match c {
            '"' => f.write_str("\\\"")?,
            '\\' => f.write_str("\\\\")?,
            '\n' => f.write_str("\\n")?,
            '\t' => f.write_str("\\t")?,
            '\r' => f.write_str("\\r")?,
            c if (c as u32) < 0x20 => write!(f, "\\u{:04x}", c as u32)?,
            c => f.write_char(c)?,
        }
    }
    f.write_char('"')
}

fn clause(f: &mut Formatter<'_>, c: &Clause) -> fmt::Result {
    write!(f, "{} from ", c.var)?;
    child(f, &c.source, LOWEST + 1)?;
    write!(f, " where ({})", c.cond)
}

impl Display for Expr {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match &self.kind {
            ExprKind::Null => f.write_str("null"),
            ExprKind::Bool(b) => write!(f, "{b}"),
            ExprKind::Int(n) => write!(f, "{n}"),
            ExprKind::Decimal(x) => write!(f, "{x:?}"),
            ExprKind::String(s) => string(f, s),
            ExprKind::Array(items) => {
                f.write_char('[')?;
                list(f, items)?;
                f.write_char(']')
            }
            ExprKind::Time(t) => f.write_str(t.word()),
            ExprKind::Period { which, unit } => {
                write!(f, "{} {}", which.word(), unit.singular())
            }
            ExprKind::Ident(name) => f.write_str(name),
            ExprKind::Param(n) => write!(f, "${n}"),
            ExprKind::Outer(n) => {
                for _ in 0..*n {
                    f.write_char('^')?;
                }
                Ok(())
            }
            ExprKind::Field { object, name } => {
                child(f, object, ATOM)?;
                write!(f, ".{name}")
            }
            ExprKind::Method { object, name, args } => {
                child(f, object, ATOM)?;
                write!(f, ".{name}(")?;
                list(f, args)?;
                f.write_char(')')
            }
            ExprKind::Call { name, args } => {
                write!(f, "{name}(")?;
                list(f, args)?;
                f.write_char(')')
            }
            ExprKind::Filter { object, cond } => {
                child(f, object, ATOM)?;
                write!(f, "[{cond}]")
            }
            ExprKind::Unary {
                op: UnaryOp::Not,
                operand,
            } => write!(f, "not ({operand})"),
            ExprKind::Unary {
                op: UnaryOp::Neg,
                operand,
            } => write!(f, "-({operand})"),
            ExprKind::Binary { op, lhs, rhs } => {
                let p = op.precedence();
                child(f, lhs, p)?;
                write!(f, " {} ", op.symbol())?;
                child(f, rhs, p + 1)
            }
            ExprKind::Occurs { subject, time } => {
                child(f, subject, 4)?;
                write!(f, " occurs {time}")
            }
            ExprKind::Quantifier { kind, clauses } => {
                f.write_str(match kind {
                    QuantifierKind::Exists => "exists ",
                    QuantifierKind::Forall => "forall ",
                })?;
                for (i, c) in clauses.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    clause(f, c)?;
                }
                Ok(())
            }
            ExprKind::Select(c) => {
                f.write_str("select ")?;
                clause(f, c)
            }
            ExprKind::Let { name, value, body } => {
                write!(f, "let {name} = ({value}) in ({body})")
            }
            ExprKind::Lambda { params, body } => {
                write!(f, "({}) => ", params.join(", "))?;
                child(f, body, LOWEST + 1)
            }
            ExprKind::Chain {
                events,
                timestamp,
                steps,
            } => {
                f.write_str("chain(")?;
                child(f, events, LOWEST + 1)?;
                f.write_str(", ")?;
                child(f, timestamp, LOWEST + 1)?;
                f.write_str(", [")?;
                for (i, s) in steps.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{}: WHAT({})", s.label, s.what)?;
                    if let Some(t) = &s.when {
                        write!(f, " WHEN({t})")?;
                    }
                }
                f.write_str("])")
            }
        }
    }
}

/// Anchors parse above the comparison level.
fn anchor(f: &mut Formatter<'_>, e: &Expr) -> fmt::Result {
    child(f, e, 5)
}

impl Display for TimeCondition {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            TimeCondition::Relative {
                cmp,
                amount,
                unit,
                direction,
                anchor: a,
            } => {
                if let Some(c) = cmp {
                    write!(f, "{} ", c.symbol())?;
                }
                let u = if *amount == 1 {
                    unit.singular()
                } else {
                    unit.plural()
                };
                write!(f, "{amount} {u} {} ", direction.word())?;
                anchor(f, a)
            }
            TimeCondition::Before(a) => {
                f.write_str("before ")?;
                anchor(f, a)
            }
            TimeCondition::After(a) => {
                f.write_str("after ")?;
                anchor(f, a)
            }
            TimeCondition::Between(a, b) => {
                f.write_str("between ")?;
                anchor(f, a)?;
                f.write_str(" and ")?;
                anchor(f, b)
            }
            TimeCondition::On(a) => {
                let bare = match &a.kind {
                    ExprKind::Time(_) | ExprKind::Period { .. } => true,
                    ExprKind::Call { name, .. } => name == "date",
                    _ => false,
                };
                if !bare {
                    f.write_str("on ")?;
                }
                anchor(f, a)
            }
        }
    }
}
