//! Compiling a PQL tree into the program: names resolved against the schemas, types checked,
//! literals folded, regular expressions and patterns compiled, windows turned into bounds, and
//! the dependencies collected.

use std::collections::BTreeSet;

use pql::{
    BinOp, CmpOp, Direction, Expr, ExprKind, PeriodWhich, QuantifierKind, Span, TimeCondition,
    TimeWord, UnaryOp, Unit,
};
use regex::RegexBuilder;

use crate::error::CompileError;
use crate::ir::Seg;
use crate::ir::{
    AggKind, Anchor, ArithOp, Base, BoundSpec, ChainNode, Clause, Coll, Const, CountCmp, ElemFn,
    Like, Node, Part, PathNode, SetOp, Step, StrOp, TimeCond, TypeGuard,
};
use crate::text::like_pattern;
use crate::timeutil::{self, parse_time, Bound, DAY};
use crate::types::{FieldError, Ty};
use crate::{Definition, Dependencies, SchemaContext};

type R<T> = Result<T, CompileError>;

/// The most memory one compiled regular expression may take.
const REGEX_SIZE_LIMIT: usize = 1 << 20;
/// The longest regular expression accepted, in characters.
const REGEX_MAX_LENGTH: usize = 1_000;

/// A compiled expression and its type.
struct Typed<'s> {
    node: Node,
    ty: Ty<'s>,
}

impl<'s> Typed<'s> {
    fn new(node: Node, ty: Ty<'s>) -> Typed<'s> {
        Typed { node, ty }
    }

    fn bool(node: Node) -> Typed<'s> {
        Typed::new(node, Ty::Bool)
    }

    fn constant(&self) -> Option<&Const> {
        match &self.node {
            Node::Const(c) => Some(c),
            _ => None,
        }
    }
}

/// What a variable name stands for.
enum Binding<'s> {
    /// The profile (the parameter of a top-level lambda).
    Profile,
    Slot(u32, Ty<'s>),
}

struct Compiler<'s, 'c> {
    ctx: &'c SchemaContext<'s>,
    /// The implicit objects of the enclosing filter levels; `levels[0]` is the profile.
    levels: Vec<Ty<'s>>,
    vars: Vec<(String, Binding<'s>)>,
    next_var: u32,
    time_relative: bool,
    /// For each use of `xEvent`: the event types it is restricted to, if it is.
    event_uses: Vec<Option<BTreeSet<String>>>,
    /// Cache slots given to window bounds so far.
    slots: usize,
    /// How many per-element contexts (filter conditions, quantifier conditions, aggregation
    /// arguments, chain steps) enclose the node being compiled: explanations do not look
    /// inside them, so their nodes carry no text.
    inner: u32,
    /// What the definition reads by name, for [`crate::EventFields`].
    reads: Reads,
}

/// Every field step and every use of a variable or level, to tell which field names a
/// definition reads and which values it uses whole. Expressions are told apart by address
/// (the tree outlives the compilation).
#[derive(Default)]
struct Reads {
    /// `(expression, field name, whether its value is structured)` for each step.
    steps: Vec<(*const Expr, String, bool)>,
    /// Variables and levels holding structured values (not events), by expression.
    elems: Vec<*const Expr>,
    /// Expressions whose value was stepped into (`a` of `a.b`).
    stepped: std::collections::HashSet<*const Expr>,
}

impl Reads {
    fn fields(&self) -> Option<crate::EventFields> {
        if self.elems.iter().any(|e| !self.stepped.contains(e)) {
            return None;
        }
        let mut fields = crate::EventFields::default();
        for (e, name, structured) in &self.steps {
            if *structured && !self.stepped.contains(e) {
                fields.whole.insert(name.clone());
            }
            fields.names.insert(name.clone());
        }
        Some(fields)
    }
}

/// Compiles a definition: the top level must be a condition.
pub(crate) fn compile(expr: &Expr, ctx: &SchemaContext) -> R<Definition> {
    compile_with(expr, ctx, true)
}

pub(crate) fn compile_with(expr: &Expr, ctx: &SchemaContext, condition: bool) -> R<Definition> {
    let mut c = Compiler {
        ctx,
        levels: vec![Ty::Profile],
        vars: Vec::new(),
        next_var: 0,
        time_relative: false,
        event_uses: Vec::new(),
        slots: 0,
        inner: 0,
        reads: Reads::default(),
    };
    let body = match &expr.kind {
        ExprKind::Lambda { params, body } => {
            if params.len() != 1 {
                return Err(CompileError::at(
                    expr.span,
                    format!(
                        "a definition's lambda takes one parameter, the profile; found {}",
                        params.len()
                    ),
                ));
            }
            c.vars.push((params[0].clone(), Binding::Profile));
            &**body
        }
        _ => expr,
    };
    let root = if condition {
        c.cond(body)?
    } else {
        c.expr(body)?.node
    };
    let root = explained(expr, root);
    let deps = c.dependencies(&root);
    Ok(Definition {
        root,
        deps,
        text: expr.to_string(),
    })
}

/// The expression as PQL, shortened for messages.
fn show(e: &Expr) -> String {
    let s = e.to_string();
    if s.chars().count() > 80 {
        s.chars().take(77).chain("...".chars()).collect()
    } else {
        s
    }
}

fn err(span: Span, message: impl Into<String>) -> CompileError {
    CompileError::at(span, message)
}

/// Wraps a node with the text it was compiled from, for explanations.
fn explained(e: &Expr, node: Node) -> Node {
    match node {
        Node::Explained(_) => node,
        node => Node::Explained(Box::new((e.to_string(), node))),
    }
}

fn arity(e: &Expr, name: &str, args: &[Expr], min: usize, max: usize) -> R<()> {
    if (min..=max).contains(&args.len()) {
        return Ok(());
    }
    let want = match (min, max) {
        (0, 0) => "no arguments".to_string(),
        (1, 1) => "1 argument".to_string(),
        (a, b) if a == b => format!("{a} arguments"),
        (a, b) if b == a + 1 => format!("{a} or {b} arguments"),
        (a, b) => format!("{a} to {b} arguments"),
    };
    Err(err(
        e.span,
        format!("{name}() takes {want}, found {}", args.len()),
    ))
}

/// A node that yields an instant for a value of a date or date-time type.
fn timed(t: Typed) -> Node {
    match t.node {
        n @ (Node::EventTs(_)
        | Node::Const(Const::Time(_))
        | Node::ToTime(_)
        | Node::Now
        | Node::PeriodStart { .. }
        | Node::DateFn(_)) => n,
        n => Node::ToTime(Box::new(n)),
    }
}

fn unify<'s>(a: &Ty<'s>, b: &Ty<'s>) -> Ty<'s> {
    match (a, b) {
        (Ty::Null, x) | (x, Ty::Null) => x.clone(),
        (Ty::Int, Ty::Int) => Ty::Int,
        (x, y) if x.is_num() && y.is_num() => Ty::Num,
        (x, y) if std::mem::discriminant(x) == std::mem::discriminant(y) => x.clone(),
        _ => Ty::Any,
    }
}

fn mirror(op: CmpOp) -> CmpOp {
    match op {
        CmpOp::Lt => CmpOp::Gt,
        CmpOp::Le => CmpOp::Ge,
        CmpOp::Gt => CmpOp::Lt,
        CmpOp::Ge => CmpOp::Le,
        other => other,
    }
}

fn offset(which: PeriodWhich) -> i64 {
    match which {
        PeriodWhich::This => 0,
        PeriodWhich::Last => -1,
        PeriodWhich::Next => 1,
    }
}

/// Compiles a regular expression with a bounded size.
fn regex(e: &Expr, pattern: &str) -> R<regex::Regex> {
    let length = pattern.chars().count();
    if length > REGEX_MAX_LENGTH {
        return Err(err(
            e.span,
            format!("regular expression too long: {length} characters, at most {REGEX_MAX_LENGTH}"),
        ));
    }
    RegexBuilder::new(pattern)
        .size_limit(REGEX_SIZE_LIMIT)
        .dfa_size_limit(REGEX_SIZE_LIMIT)
        .build()
        .map_err(|error| match error {
            regex::Error::CompiledTooBig(_) => err(
                e.span,
                format!(
                    "regular expression too large: it compiles to more than {} KiB",
                    REGEX_SIZE_LIMIT / 1024
                ),
            ),
            other => {
                let text = other.to_string();
                let reason = text
                    .lines()
                    .rev()
                    .find(|l| !l.trim().is_empty())
                    .unwrap_or("")
                    .trim()
                    .trim_start_matches("error: ")
                    .to_string();
                err(e.span, format!("invalid regular expression: {reason}"))
            }
        })
}

/// `count() op k` (or `k op count()`) with a number literal `k`: how far to count.
fn count_cmp(op: CmpOp, lhs: &Node, rhs: &Node) -> Option<CountCmp> {
    let (k, op, count_on_left) = match (lhs.unwrap_explained(), rhs.unwrap_explained()) {
        (Node::Count(_), Node::Const(k)) => (k, op, true),
        (Node::Const(k), Node::Count(_)) => (k, mirror(op), false),
        _ => return None,
    };
    let k = match k {
        Const::Int(i) => *i as f64,
        Const::Num(x) => *x,
        _ => return None,
    };
    let limit = if k < 0.0 {
        1
    } else {
        (k.floor() as usize).saturating_add(1)
    };
    Some(CountCmp {
        count_on_left,
        op,
        k,
        limit,
    })
}

/// The event types a condition on an element restricts it to: `eventType = "x"`,
/// `eventType.equals("x")` (case-sensitive), `eventType in [...]`, and their `and` / `or`.
fn restriction(n: &Node, elem: Base) -> Option<BTreeSet<String>> {
    let is_type = |x: &Node| {
        matches!(x.unwrap_explained(), Node::Path(p)
            if p.base == elem && p.segs.len() == 1 && &*p.segs[0].name == "eventType")
    };
    let literal = |x: &Node| match x.unwrap_explained() {
        Node::Const(Const::Str(s)) => Some(BTreeSet::from([s.to_string()])),
        _ => None,
    };
    match n.unwrap_explained() {
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
        } if is_type(subject)
            && matches!(
                case_sensitive.unwrap_explained(),
                Node::Const(Const::Bool(true))
            ) =>
        {
            literal(arg)
        }
        Node::In {
            negate: false,
            needle,
            hay,
        } if is_type(needle) => match hay.unwrap_explained() {
            Node::Const(Const::List(items)) => items
                .iter()
                .map(|c| match c {
                    Const::Str(s) => Some(s.to_string()),
                    _ => None,
                })
                .collect(),
            _ => None,
        },
        Node::And(items) => items
            .iter()
            .filter_map(|i| restriction(i, elem))
            .reduce(|a, b| a.intersection(&b).cloned().collect()),
        Node::Or(items) => items
            .iter()
            .map(|i| restriction(i, elem))
            .collect::<Option<Vec<_>>>()
            .map(|sets| sets.into_iter().flatten().collect()),
        _ => None,
    }
}

impl<'s, 'c> Compiler<'s, 'c> {
    fn new_var(&mut self) -> u32 {
        self.next_var += 1;
        self.next_var - 1
    }

    /// A cache slot for a bound that does not depend on the data, while there are some.
    fn slot(&mut self) -> Option<u8> {
        if self.slots < timeutil::CACHED_BOUNDS {
            self.slots += 1;
            u8::try_from(self.slots - 1).ok()
        } else {
            None
        }
    }

    fn is_var(&self, name: &str) -> bool {
        self.vars.iter().any(|(n, _)| n == name)
    }

    fn dependencies(&self, root: &Node) -> Dependencies {
        let mut d = Dependencies::default();
        root.visit(&mut |n| match n {
            Node::Path(p) if p.base == Base::Root && p.dep_len > 0 => {
                let names: Vec<&str> = p.segs[..p.dep_len].iter().map(|s| &*s.name).collect();
                d.profile_fields.insert(names.join("."));
            }
            Node::Elem(Base::Root) => {
                d.profile_fields.insert(String::new());
            }
            Node::InSegment(id) => {
                d.segments.insert(id.to_string());
            }
            _ => {}
        });
        d.reads_events = !self.event_uses.is_empty();
        d.event_types = if d.reads_events {
            self.event_uses
                .iter()
                .cloned()
                .collect::<Option<Vec<_>>>()
                .map(|sets| sets.into_iter().flatten().collect())
        } else {
            None
        };
        d.time_relative = self.time_relative;
        d.event_fields = self.reads.fields();
        d
    }

    /// Compiles a condition.
    fn cond(&mut self, e: &Expr) -> R<Node> {
        let t = self.expr(e)?;
        self.as_condition(e, t)
    }

    fn as_condition(&mut self, e: &Expr, t: Typed<'s>) -> R<Node> {
        match t.ty {
            Ty::Bool => Ok(t.node),
            Ty::Any | Ty::Null => Ok(Node::Truthy(Box::new(t.node))),
            Ty::Array(_) => {
                let coll = match t.node {
                    Node::CollValue(c) => *c,
                    n => Coll::Value(n),
                };
                let node = Node::NonEmpty(Box::new(coll));
                Ok(if self.inner == 0 {
                    explained(e, node)
                } else {
                    node
                })
            }
            other => Err(err(
                e.span,
                format!(
                    "expected a condition (true or false), but {} is {}",
                    show(e),
                    other.describe()
                ),
            )),
        }
    }

    fn expr(&mut self, e: &Expr) -> R<Typed<'s>> {
        let t = self.expr_inner(e)?;
        let wrap = match &e.kind {
            ExprKind::Binary { op, .. } => !matches!(
                op,
                BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div | BinOp::Mod
            ),
            ExprKind::Unary {
                op: UnaryOp::Not, ..
            }
            | ExprKind::Occurs { .. }
            | ExprKind::Quantifier { .. }
            | ExprKind::Chain { .. }
            | ExprKind::Let { .. } => true,
            ExprKind::Method { name, .. } => {
                matches!(t.ty, Ty::Bool)
                    || matches!(name.as_str(), "count" | "sum" | "average" | "min" | "max")
            }
            ExprKind::Call { name, .. } => name == "inSegment" || name == "exists",
            _ => false,
        };
        Ok(if wrap && self.inner == 0 {
            Typed::new(explained(e, t.node), t.ty)
        } else {
            t
        })
    }

    fn expr_inner(&mut self, e: &Expr) -> R<Typed<'s>> {
        Ok(match &e.kind {
            ExprKind::Null => Typed::new(Node::Const(Const::Null), Ty::Null),
            ExprKind::Bool(b) => Typed::new(Node::Const(Const::Bool(*b)), Ty::Bool),
            ExprKind::Int(i) => Typed::new(Node::Const(Const::Int(*i)), Ty::Int),
            ExprKind::Decimal(x) => Typed::new(Node::Const(Const::Num(*x)), Ty::Num),
            ExprKind::String(s) => Typed::new(Node::Const(Const::Str(s.as_str().into())), Ty::Str),
            ExprKind::Array(items) => self.array(items)?,
            ExprKind::Time(w) => {
                self.time_relative = true;
                match w {
                    TimeWord::Now => Typed::new(Node::Now, Ty::DateTime),
                    w => Typed::new(
                        Node::PeriodStart {
                            unit: Unit::Day,
                            offset: day_offset(*w),
                        },
                        Ty::Date,
                    ),
                }
            }
            ExprKind::Period { which, unit } => {
                self.time_relative = true;
                Typed::new(
                    Node::PeriodStart {
                        unit: *unit,
                        offset: offset(*which),
                    },
                    Ty::DateTime,
                )
            }
            ExprKind::Ident(name) => self.ident(name, e)?,
            ExprKind::Param(n) => {
                if *n != 1 {
                    return Err(err(
                        e.span,
                        format!("${n} is not defined: only $1, the profile, is"),
                    ));
                }
                Typed::new(Node::Elem(Base::Root), Ty::Profile)
            }
            ExprKind::Outer(n) => {
                let depth = self.levels.len() - 1;
                let n = *n as usize;
                if n > depth {
                    return Err(err(
                        e.span,
                        format!(
                            "{} goes {n} levels up, but only {depth} enclosing filter levels are open",
                            "^".repeat(n)
                        ),
                    ));
                }
                let index = depth - n;
                let base = if index == 0 {
                    Base::Root
                } else {
                    if self.levels[index].is_structured() {
                        self.reads.elems.push(e);
                    }
                    Base::Level(n as u32)
                };
                Typed::new(Node::Elem(base), self.levels[index].clone())
            }
            ExprKind::Field { object, name } => {
                let obj = self.expr(object)?;
                self.step(obj, name, e, object)?
            }
            ExprKind::Method { object, name, args } => self.method(e, object, name, args)?,
            ExprKind::Call { name, args } => self.call(e, name, args)?,
            ExprKind::Filter { .. } | ExprKind::Select(_) => {
                let (coll, elem) = self.coll_any(e)?;
                Typed::new(Node::CollValue(Box::new(coll)), Ty::Array(Box::new(elem)))
            }
            ExprKind::Unary {
                op: UnaryOp::Not,
                operand,
            } => Typed::bool(Node::Not(Box::new(self.cond(operand)?))),
            ExprKind::Unary {
                op: UnaryOp::Neg,
                operand,
            } => {
                let t = self.expr(operand)?;
                if !(t.ty.is_num() || matches!(t.ty, Ty::Any | Ty::Null)) {
                    return Err(err(
                        e.span,
                        format!(
                            "type mismatch: cannot negate {} ({})",
                            show(operand),
                            t.ty.describe()
                        ),
                    ));
                }
                Typed::new(Node::Neg(Box::new(t.node)), t.ty)
            }
            ExprKind::Binary { op, lhs, rhs } => match op {
                BinOp::And | BinOp::Or => {
                    let mut operands = Vec::new();
                    flatten(e, *op, &mut operands);
                    let nodes = operands
                        .into_iter()
                        .map(|o| self.cond(o))
                        .collect::<R<Vec<_>>>()?
                        .into_boxed_slice();
                    Typed::bool(if *op == BinOp::And {
                        Node::And(nodes)
                    } else {
                        Node::Or(nodes)
                    })
                }
                BinOp::Cmp(c) => self.compare(e, *c, lhs, rhs)?,
                BinOp::Like => self.like(lhs, rhs)?,
                BinOp::In | BinOp::NotIn => self.in_list(e, *op == BinOp::NotIn, lhs, rhs)?,
                BinOp::Add => self.arith(e, ArithOp::Add, lhs, rhs)?,
                BinOp::Sub => self.arith(e, ArithOp::Sub, lhs, rhs)?,
                BinOp::Mul => self.arith(e, ArithOp::Mul, lhs, rhs)?,
                BinOp::Div => self.arith(e, ArithOp::Div, lhs, rhs)?,
                BinOp::Mod => self.arith(e, ArithOp::Mod, lhs, rhs)?,
            },
            ExprKind::Occurs { subject, time } => {
                let s = self.expr(subject)?;
                if !s.ty.timeish() {
                    return Err(err(
                        subject.span,
                        format!(
                            "type mismatch: occurs needs a date or date-time, but {} is {}",
                            show(subject),
                            s.ty.describe()
                        ),
                    ));
                }
                let cond = self.time_cond(time)?;
                Typed::bool(Node::Occurs {
                    subject: Box::new(timed(s)),
                    cond: Box::new(cond),
                })
            }
            ExprKind::Quantifier { kind, clauses } => {
                let forall = *kind == QuantifierKind::Forall;
                let mut out = Vec::with_capacity(clauses.len());
                let saved = self.vars.len();
                for cl in clauses {
                    let (coll, elem, raw) = self.coll(&cl.source)?;
                    let var = self.new_var();
                    self.vars.push((cl.var.clone(), Binding::Slot(var, elem)));
                    self.inner += 1;
                    let cond = self.cond(&cl.cond);
                    self.inner -= 1;
                    let cond = cond?;
                    let mut guard = None;
                    if raw {
                        let r = if forall {
                            None
                        } else {
                            guard = TypeGuard::of(&cond, Base::Var(var));
                            restriction(&cond, Base::Var(var))
                        };
                        self.event_uses.push(r);
                    }
                    out.push(Clause {
                        var,
                        coll,
                        cond,
                        guard,
                    });
                }
                self.vars.truncate(saved);
                Typed::bool(Node::Quant {
                    forall,
                    clauses: out.into_boxed_slice(),
                })
            }
            ExprKind::Let { name, value, body } => {
                let v = self.expr(value)?;
                let var = self.new_var();
                self.vars.push((name.clone(), Binding::Slot(var, v.ty)));
                let b = self.expr(body)?;
                self.vars.pop();
                Typed::new(
                    Node::Let {
                        var,
                        value: Box::new(v.node),
                        body: Box::new(b.node),
                    },
                    b.ty,
                )
            }
            ExprKind::Lambda { .. } => {
                return Err(err(
                    e.span,
                    "a lambda is only allowed as the whole definition or as the argument of \
                     filter, map, sum, average, min, max, topN or bottomN",
                ))
            }
            ExprKind::Chain {
                events,
                timestamp,
                steps,
            } => {
                let (coll, elem, raw) = self.coll(events)?;
                self.levels.push(elem);
                self.inner += 1;
                let ts = self.expr(timestamp)?;
                if !ts.ty.timeish() {
                    return Err(err(
                        timestamp.span,
                        format!(
                            "type mismatch: chain orders by a date-time, but {} is {}",
                            show(timestamp),
                            ts.ty.describe()
                        ),
                    ));
                }
                let mut out = Vec::with_capacity(steps.len());
                let mut types = Some(BTreeSet::new());
                for s in steps {
                    let what = self.cond(&s.what)?;
                    types = match (types, restriction(&what, Base::Level(0))) {
                        (Some(a), Some(b)) => Some(a.into_iter().chain(b).collect()),
                        _ => None,
                    };
                    let when = s.when.as_ref().map(|t| self.time_cond(t)).transpose()?;
                    out.push(Step {
                        label: s.label.clone(),
                        what,
                        when,
                    });
                }
                self.levels.pop();
                self.inner -= 1;
                if raw {
                    self.event_uses.push(types);
                }
                Typed::bool(Node::Chain(Box::new(ChainNode {
                    coll,
                    ts: timed(ts),
                    steps: out,
                })))
            }
        })
    }

    fn array(&mut self, items: &[Expr]) -> R<Typed<'s>> {
        let typed = items.iter().map(|i| self.expr(i)).collect::<R<Vec<_>>>()?;
        let elem = typed
            .iter()
            .map(|t| t.ty.clone())
            .reduce(|a, b| unify(&a, &b))
            .unwrap_or(Ty::Any);
        let ty = Ty::Array(Box::new(elem));
        if typed.iter().all(|t| t.constant().is_some()) {
            let consts = typed
                .into_iter()
                .filter_map(|t| match t.node {
                    Node::Const(c) => Some(c),
                    _ => None,
                })
                .collect();
            return Ok(Typed::new(Node::Const(Const::List(consts)), ty));
        }
        Ok(Typed::new(
            Node::List(typed.into_iter().map(|t| t.node).collect()),
            ty,
        ))
    }

    fn ident(&mut self, name: &str, e: &Expr) -> R<Typed<'s>> {
        if let Some((_, b)) = self.vars.iter().rev().find(|(n, _)| n == name) {
            return Ok(match b {
                Binding::Profile => Typed::new(Node::Elem(Base::Root), Ty::Profile),
                Binding::Slot(id, ty) => {
                    if ty.is_structured() {
                        self.reads.elems.push(e);
                    }
                    Typed::new(Node::Elem(Base::Var(*id)), ty.clone())
                }
            });
        }
        if name == "xEvent" {
            self.event_uses.push(None);
            return Ok(Typed::new(
                Node::CollValue(Box::new(Coll::Events)),
                Ty::Array(Box::new(Ty::Event)),
            ));
        }
        let depth = self.levels.len() - 1;
        let base = if depth == 0 {
            Base::Root
        } else {
            Base::Level(0)
        };
        let level = Typed::new(Node::Elem(base), self.levels[depth].clone());
        self.step(level, name, e, e)
    }

    /// `obj.name`: a field, a map key, or the field of every item.
    fn step(&mut self, obj: Typed<'s>, name: &str, e: &Expr, object: &Expr) -> R<Typed<'s>> {
        let ty = match obj.ty.field(self.ctx, name) {
            Ok(t) => t,
            Err(FieldError::Unknown(schema)) => {
                return Err(err(
                    e.span,
                    format!("unknown field \"{}\" in {}", show(e), schema.name()),
                ))
            }
            Err(FieldError::NotObject) => {
                return Err(err(
                    e.span,
                    format!(
                        "{} is {}, it has no field \"{name}\"",
                        show(object),
                        obj.ty.describe()
                    ),
                ))
            }
        };
        if !std::ptr::eq(e, object) {
            self.reads.stepped.insert(object);
        }
        self.reads
            .steps
            .push((e, name.to_owned(), ty.is_structured()));
        let key = matches!(obj.ty, Ty::Map(_));
        let node = match obj.node {
            Node::Elem(base) if matches!(obj.ty, Ty::Event) && name == "timestamp" => {
                Node::EventTs(base)
            }
            Node::Elem(base) => Node::Path(Box::new(PathNode::new(
                base,
                vec![Seg::new(name)].into_boxed_slice(),
                usize::from(!key),
                key,
            ))),
            Node::Path(p) => {
                let mut segs = p.segs.into_vec();
                segs.push(Seg::new(name));
                let (mut dep_len, mut keyed) = (p.dep_len, p.keyed);
                if !keyed {
                    if key {
                        keyed = true;
                    } else {
                        dep_len += 1;
                    }
                }
                Node::Path(Box::new(PathNode::new(
                    p.base,
                    segs.into_boxed_slice(),
                    dep_len,
                    keyed,
                )))
            }
            Node::Get { object, segs } => {
                let mut segs = segs.into_vec();
                segs.push(Seg::new(name));
                Node::Get {
                    object,
                    segs: segs.into_boxed_slice(),
                }
            }
            other => Node::Get {
                object: Box::new(other),
                segs: vec![Seg::new(name)].into_boxed_slice(),
            },
        };
        Ok(Typed::new(node, ty))
    }

    /// A collection to iterate, its element type, and whether it is `xEvent` itself (whose use
    /// the caller records).
    fn coll(&mut self, e: &Expr) -> R<(Coll, Ty<'s>, bool)> {
        match &e.kind {
            ExprKind::Ident(n) if n == "xEvent" && !self.is_var(n) => {
                Ok((Coll::Events, Ty::Event, true))
            }
            ExprKind::Filter { object, cond } => {
                let (source, elem, raw) = self.coll(object)?;
                self.levels.push(elem.clone());
                self.inner += 1;
                let c = self.cond(cond)?;
                self.inner -= 1;
                self.levels.pop();
                let guard = if raw {
                    self.event_uses.push(restriction(&c, Base::Level(0)));
                    TypeGuard::of(&c, Base::Level(0))
                } else {
                    None
                };
                Ok((
                    Coll::Filter {
                        source: Box::new(source),
                        cond: c,
                        guard,
                    },
                    elem,
                    false,
                ))
            }
            ExprKind::Select(clause) => self.var_filter(&clause.source, &clause.var, &clause.cond),
            ExprKind::Method { object, name, args } if name == "filter" => {
                arity(e, name, args, 1, 1)?;
                match &args[0].kind {
                    ExprKind::Lambda { params, body } if params.len() == 1 => {
                        self.var_filter(object, &params[0], body)
                    }
                    _ => Err(err(
                        args[0].span,
                        "filter() takes a lambda with one parameter, such as (x) => x > 1",
                    )),
                }
            }
            _ => {
                let t = self.expr(e)?;
                let elem = match &t.ty {
                    Ty::Map(v) => (**v).clone(),
                    Ty::Object(..) | Ty::Profile | Ty::Event => Ty::Any,
                    ty => ty.elem().ok_or_else(|| {
                        err(
                            e.span,
                            format!("{} is {}, not a collection", show(e), ty.describe()),
                        )
                    })?,
                };
                let coll = match t.node {
                    Node::CollValue(c) => *c,
                    n => Coll::Value(n),
                };
                Ok((coll, elem, false))
            }
        }
    }

    fn var_filter(&mut self, source: &Expr, var: &str, cond: &Expr) -> R<(Coll, Ty<'s>, bool)> {
        let (source, elem, raw) = self.coll(source)?;
        let id = self.new_var();
        self.vars
            .push((var.to_string(), Binding::Slot(id, elem.clone())));
        self.inner += 1;
        let c = self.cond(cond)?;
        self.inner -= 1;
        self.vars.pop();
        let guard = if raw {
            self.event_uses.push(restriction(&c, Base::Var(id)));
            TypeGuard::of(&c, Base::Var(id))
        } else {
            None
        };
        Ok((
            Coll::VarFilter {
                source: Box::new(source),
                var: id,
                cond: c,
                guard,
            },
            elem,
            false,
        ))
    }

    /// A collection whose every element may matter.
    fn coll_any(&mut self, e: &Expr) -> R<(Coll, Ty<'s>)> {
        let (coll, elem, raw) = self.coll(e)?;
        if raw {
            self.event_uses.push(None);
        }
        Ok((coll, elem))
    }

    /// What an aggregation computes on each element: the element, a lambda, or an expression
    /// with the element as a new level.
    fn elem_fn(&mut self, arg: Option<&Expr>, elem: &Ty<'s>) -> R<(ElemFn, Ty<'s>)> {
        let Some(arg) = arg else {
            return Ok((ElemFn::Identity, elem.clone()));
        };
        if let ExprKind::Lambda { params, body } = &arg.kind {
            if params.len() != 1 {
                return Err(err(
                    arg.span,
                    format!("the lambda takes one parameter, found {}", params.len()),
                ));
            }
            let id = self.new_var();
            self.vars
                .push((params[0].clone(), Binding::Slot(id, elem.clone())));
            self.inner += 1;
            let t = self.expr(body)?;
            self.inner -= 1;
            self.vars.pop();
            return Ok((ElemFn::Var(id, t.node), t.ty));
        }
        self.levels.push(elem.clone());
        self.inner += 1;
        let t = self.expr(arg)?;
        self.inner -= 1;
        self.levels.pop();
        Ok((ElemFn::Level(t.node), t.ty))
    }

    fn method(&mut self, e: &Expr, object: &Expr, name: &str, args: &[Expr]) -> R<Typed<'s>> {
        let string_op = |name: &str| {
            Some(match name {
                "equals" => (StrOp::Equals, false),
                "notEqualTo" => (StrOp::Equals, true),
                "contains" => (StrOp::Contains, false),
                "doesNotContain" => (StrOp::Contains, true),
                "startsWith" => (StrOp::StartsWith, false),
                "doesNotStartWith" => (StrOp::StartsWith, true),
                "endsWith" => (StrOp::EndsWith, false),
                "doesNotEndWith" => (StrOp::EndsWith, true),
                _ => return None,
            })
        };
        match name {
            "count" => {
                arity(e, name, args, 0, 0)?;
                let (coll, _) = self.coll_any(object)?;
                Ok(Typed::new(Node::Count(Box::new(coll)), Ty::Int))
            }
            "sum" | "average" | "min" | "max" => {
                arity(e, name, args, 0, 1)?;
                let kind = match name {
                    "sum" => AggKind::Sum,
                    "average" => AggKind::Average,
                    "min" => AggKind::Min,
                    _ => AggKind::Max,
                };
                let (coll, elem) = self.coll_any(object)?;
                let (f, ty) = self.elem_fn(args.first(), &elem)?;
                let item = match ty {
                    Ty::Array(i) => *i,
                    t => t,
                };
                let ok = item.is_num()
                    || matches!(item, Ty::Any | Ty::Null)
                    || (matches!(kind, AggKind::Min | AggKind::Max) && item.is_time());
                if !ok {
                    let what = args.first().map_or_else(|| show(object), show);
                    return Err(err(
                        e.span,
                        format!(
                            "type mismatch: {name}() needs numbers, but {what} is {}",
                            item.describe()
                        ),
                    ));
                }
                let ty = match kind {
                    AggKind::Sum if matches!(item, Ty::Int) => Ty::Int,
                    AggKind::Sum | AggKind::Average => Ty::Num,
                    _ => item,
                };
                let f = if ty.is_time() {
                    match f {
                        ElemFn::Identity => ElemFn::Identity,
                        ElemFn::Level(n) => ElemFn::Level(Node::ToTime(Box::new(n))),
                        ElemFn::Var(v, n) => ElemFn::Var(v, Node::ToTime(Box::new(n))),
                    }
                } else {
                    f
                };
                Ok(Typed::new(
                    Node::Agg {
                        kind,
                        coll: Box::new(coll),
                        f: Box::new(f),
                    },
                    ty,
                ))
            }
            "head" => {
                arity(e, name, args, 0, 0)?;
                let (coll, elem) = self.coll_any(object)?;
                Ok(Typed::new(Node::Head(Box::new(coll)), elem))
            }
            "distinct" => {
                arity(e, name, args, 0, 0)?;
                let (coll, elem) = self.coll_any(object)?;
                Ok(Typed::new(
                    Node::Distinct(Box::new(coll)),
                    Ty::Array(Box::new(elem)),
                ))
            }
            "filter" => {
                let (coll, elem) = self.coll_any(e)?;
                Ok(Typed::new(
                    Node::CollValue(Box::new(coll)),
                    Ty::Array(Box::new(elem)),
                ))
            }
            "map" => {
                arity(e, name, args, 1, 1)?;
                let (coll, elem) = self.coll_any(object)?;
                let (f, ty) = self.elem_fn(args.first(), &elem)?;
                Ok(Typed::new(
                    Node::MapItems {
                        coll: Box::new(coll),
                        f: Box::new(f),
                    },
                    Ty::Array(Box::new(ty)),
                ))
            }
            "topN" | "bottomN" => {
                arity(e, name, args, 2, 2)?;
                let (coll, elem) = self.coll_any(object)?;
                let (f, _) = self.elem_fn(args.first(), &elem)?;
                let n = self.expr(&args[1])?;
                if !matches!(n.ty, Ty::Int | Ty::Any) {
                    return Err(err(
                        args[1].span,
                        format!("{name}() needs an integer count, found {}", n.ty.describe()),
                    ));
                }
                Ok(Typed::new(
                    Node::TopN {
                        coll: Box::new(coll),
                        f: Box::new(f),
                        n: Box::new(n.node),
                        bottom: name == "bottomN",
                    },
                    Ty::Array(Box::new(elem)),
                ))
            }
            "intersects" | "intersection" | "subsetOf" | "supersetOf" | "includes" => {
                arity(e, name, args, 1, 1)?;
                let a = self.expr(object)?;
                let Some(elem) = a.ty.elem() else {
                    return Err(err(
                        e.span,
                        format!(
                            "{name}() needs an array, but {} is {}",
                            show(object),
                            a.ty.describe()
                        ),
                    ));
                };
                let b = self.expr(&args[0])?;
                let b_elem = if name == "includes" {
                    b.ty.clone()
                } else {
                    b.ty.elem().ok_or_else(|| {
                        err(
                            args[0].span,
                            format!(
                                "{name}() needs an array argument, but {} is {}",
                                show(&args[0]),
                                b.ty.describe()
                            ),
                        )
                    })?
                };
                if !elem.comparable(&b_elem) {
                    return Err(err(
                        e.span,
                        format!(
                            "type mismatch: {} holds {} values, {} {}",
                            show(object),
                            elem.describe(),
                            show(&args[0]),
                            if name == "includes" {
                                format!("is {}", b_elem.describe())
                            } else {
                                format!("holds {} values", b_elem.describe())
                            }
                        ),
                    ));
                }
                let (a, b) = (Box::new(a.node), Box::new(b.node));
                Ok(match name {
                    "includes" => Typed::bool(Node::Includes { list: a, item: b }),
                    "intersection" => Typed::new(
                        Node::SetFn {
                            op: SetOp::Intersection,
                            a,
                            b,
                        },
                        Ty::Array(Box::new(elem)),
                    ),
                    _ => Typed::bool(Node::SetFn {
                        op: match name {
                            "intersects" => SetOp::Intersects,
                            "subsetOf" => SetOp::SubsetOf,
                            _ => SetOp::SupersetOf,
                        },
                        a,
                        b,
                    }),
                })
            }
            "get" => {
                arity(e, name, args, 1, 1)?;
                let obj = self.expr(object)?;
                if let ExprKind::String(key) = &args[0].kind {
                    return self.step(obj, key, e, object);
                }
                let key = self.expr(&args[0])?;
                if !matches!(key.ty, Ty::Str | Ty::Any | Ty::Null) {
                    return Err(err(
                        args[0].span,
                        format!("get() needs a string key, found {}", key.ty.describe()),
                    ));
                }
                let ty = match &obj.ty {
                    Ty::Map(v) => (**v).clone(),
                    Ty::Any | Ty::Object(..) | Ty::Profile | Ty::Event => Ty::Any,
                    other => {
                        return Err(err(
                            e.span,
                            format!(
                                "get() needs a map, but {} is {}",
                                show(object),
                                other.describe()
                            ),
                        ))
                    }
                };
                Ok(Typed::new(
                    Node::MapGet {
                        map: Box::new(obj.node),
                        key: Box::new(key.node),
                    },
                    ty,
                ))
            }
            "keys" | "values" => {
                arity(e, name, args, 0, 0)?;
                let obj = self.expr(object)?;
                let value_ty = match &obj.ty {
                    Ty::Map(v) => (**v).clone(),
                    Ty::Any | Ty::Null | Ty::Object(..) | Ty::Profile | Ty::Event => Ty::Any,
                    other => {
                        return Err(err(
                            e.span,
                            format!(
                                "{name}() needs a map, but {} is {}",
                                show(object),
                                other.describe()
                            ),
                        ))
                    }
                };
                Ok(if name == "keys" {
                    Typed::new(Node::Keys(Box::new(obj.node)), Ty::Array(Box::new(Ty::Str)))
                } else {
                    Typed::new(
                        Node::Values(Box::new(obj.node)),
                        Ty::Array(Box::new(value_ty)),
                    )
                })
            }
            "isNull" | "isNotNull" => {
                arity(e, name, args, 0, 0)?;
                let v = self.expr(object)?;
                Ok(Typed::bool(Node::IsNull {
                    negate: name == "isNotNull",
                    value: Box::new(v.node),
                }))
            }
            "matches" | "regexGroup" => {
                arity(
                    e,
                    name,
                    args,
                    if name == "matches" { 1 } else { 2 },
                    if name == "matches" { 1 } else { 2 },
                )?;
                let subject = self.text_subject(e, object, name)?;
                let ExprKind::String(pattern) = &args[0].kind else {
                    return Err(err(
                        args[0].span,
                        format!(
                            "{name}() needs a string literal pattern, found {}",
                            show(&args[0])
                        ),
                    ));
                };
                let re = Box::new(regex(&args[0], pattern)?);
                if name == "matches" {
                    return Ok(Typed::bool(Node::Matches { subject, re }));
                }
                let group = self.expr(&args[1])?;
                if !matches!(group.ty, Ty::Int | Ty::Any) {
                    return Err(err(
                        args[1].span,
                        format!(
                            "regexGroup() needs an integer group, found {}",
                            group.ty.describe()
                        ),
                    ));
                }
                Ok(Typed::new(
                    Node::RegexGroup {
                        subject,
                        re,
                        group: Box::new(group.node),
                    },
                    Ty::Str,
                ))
            }
            "getYear" | "getMonth" | "getDayOfMonth" => {
                arity(e, name, args, 0, 0)?;
                let part = match name {
                    "getYear" => Part::Year,
                    "getMonth" => Part::Month,
                    _ => Part::Day,
                };
                if matches!(object.kind, ExprKind::Time(TimeWord::Now)) {
                    self.time_relative = true;
                    return Ok(Typed::new(Node::Current(part), Ty::Int));
                }
                let v = self.expr(object)?;
                if !v.ty.timeish() {
                    return Err(err(
                        e.span,
                        format!(
                            "type mismatch: {name}() needs a date or date-time, but {} is {}",
                            show(object),
                            v.ty.describe()
                        ),
                    ));
                }
                Ok(Typed::new(
                    Node::GetPart {
                        part,
                        value: Box::new(timed(v)),
                    },
                    Ty::Int,
                ))
            }
            "groupBy" | "mapEntry" => Err(err(e.span, format!("{name}() is not supported"))),
            _ => {
                let Some((op, negate)) = string_op(name) else {
                    return Err(err(e.span, format!("unknown method \"{name}\"")));
                };
                arity(e, name, args, 1, 2)?;
                let subject = self.text_subject(e, object, name)?;
                let arg = self.expr(&args[0])?;
                if !arg.ty.textual() || matches!(arg.ty, Ty::Array(_)) {
                    return Err(err(
                        args[0].span,
                        format!(
                            "type mismatch: {name}() compares with a string, but {} is {}",
                            show(&args[0]),
                            arg.ty.describe()
                        ),
                    ));
                }
                let case_sensitive = match args.get(1) {
                    None => Node::Const(Const::Bool(true)),
                    Some(a) => {
                        let t = self.expr(a)?;
                        if !matches!(t.ty, Ty::Bool | Ty::Any) {
                            return Err(err(
                                a.span,
                                format!(
                                    "type mismatch: the case-sensitivity argument of {name}() is a \
                                     boolean, but {} is {}",
                                    show(a),
                                    t.ty.describe()
                                ),
                            ));
                        }
                        t.node
                    }
                };
                Ok(Typed::bool(Node::StrTest {
                    op,
                    negate,
                    subject,
                    arg: Box::new(arg.node),
                    case_sensitive: Box::new(case_sensitive),
                }))
            }
        }
    }

    /// The receiver of a string method, which must be a string.
    fn text_subject(&mut self, e: &Expr, object: &Expr, name: &str) -> R<Box<Node>> {
        let s = self.expr(object)?;
        if !s.ty.textual() {
            return Err(err(
                e.span,
                format!(
                    "type mismatch: {name}() is a string method, but {} is {}",
                    show(object),
                    s.ty.describe()
                ),
            ));
        }
        Ok(Box::new(s.node))
    }

    fn call(&mut self, e: &Expr, name: &str, args: &[Expr]) -> R<Typed<'s>> {
        match name {
            "date" => {
                if args.len() != 3 && args.len() != 6 {
                    return Err(err(
                        e.span,
                        format!("date() takes 3 or 6 arguments, found {}", args.len()),
                    ));
                }
                let ty = if args.len() == 3 {
                    Ty::Date
                } else {
                    Ty::DateTime
                };
                let typed = args.iter().map(|a| self.expr(a)).collect::<R<Vec<_>>>()?;
                for (t, a) in typed.iter().zip(args) {
                    if !matches!(t.ty, Ty::Int | Ty::Any) {
                        return Err(err(
                            a.span,
                            format!(
                                "date() takes integers, but {} is {}",
                                show(a),
                                t.ty.describe()
                            ),
                        ));
                    }
                }
                let ints: Option<Vec<i64>> = typed
                    .iter()
                    .map(|t| match t.constant() {
                        Some(Const::Int(i)) => Some(*i),
                        _ => None,
                    })
                    .collect();
                if let Some(v) = ints {
                    let ms = crate::eval::date_of(&v)
                        .ok_or_else(|| err(e.span, format!("invalid date: {}", show(e))))?;
                    return Ok(Typed::new(Node::Const(Const::Time(ms)), ty));
                }
                Ok(Typed::new(
                    Node::DateFn(typed.into_iter().map(|t| t.node).collect()),
                    ty,
                ))
            }
            "if" => {
                arity(e, name, args, 3, 3)?;
                let test = self.cond(&args[0])?;
                let a = self.expr(&args[1])?;
                let b = self.expr(&args[2])?;
                let ty = unify(&a.ty, &b.ty);
                Ok(Typed::new(Node::If(Box::new([test, a.node, b.node])), ty))
            }
            "exists" => {
                arity(e, name, args, 1, 1)?;
                let v = self.expr(&args[0])?;
                Ok(Typed::bool(Node::IsNull {
                    negate: true,
                    value: Box::new(v.node),
                }))
            }
            "inSegment" => {
                arity(e, name, args, 1, 1)?;
                let ExprKind::String(id) = &args[0].kind else {
                    return Err(err(
                        args[0].span,
                        format!(
                            "inSegment() needs a segment id literal, found {}",
                            show(&args[0])
                        ),
                    ));
                };
                if !(self.ctx.segment_exists)(id) {
                    return Err(err(args[0].span, format!("unknown segment \"{id}\"")));
                }
                Ok(Typed::bool(Node::InSegment(id.as_str().into())))
            }
            "currentYear" | "currentMonth" | "currentDayOfMonth" => {
                arity(e, name, args, 0, 0)?;
                self.time_relative = true;
                let part = match name {
                    "currentYear" => Part::Year,
                    "currentMonth" => Part::Month,
                    _ => Part::Day,
                };
                Ok(Typed::new(Node::Current(part), Ty::Int))
            }
            _ => Err(err(e.span, format!("unknown function \"{name}\""))),
        }
    }

    /// A time word or period, as a bound that moves with the evaluation time.
    fn static_anchor(&mut self, e: &Expr) -> Option<timeutil::Base> {
        let base = match &e.kind {
            ExprKind::Time(TimeWord::Now) => timeutil::Base::Now,
            ExprKind::Time(w) => timeutil::Base::Period {
                unit: Unit::Day,
                offset: day_offset(*w),
            },
            ExprKind::Period { which, unit } => timeutil::Base::Period {
                unit: *unit,
                offset: offset(*which),
            },
            _ => return None,
        };
        self.time_relative = true;
        Some(base)
    }

    fn compare(&mut self, e: &Expr, op: CmpOp, lhs: &Expr, rhs: &Expr) -> R<Typed<'s>> {
        let is_null = |x: &Expr| matches!(x.kind, ExprKind::Null);
        if is_null(lhs) || is_null(rhs) {
            let negate = match op {
                CmpOp::Eq => false,
                CmpOp::Ne => true,
                _ => {
                    return Err(err(
                        e.span,
                        format!(
                            "null can only be compared with = or !=, not {}",
                            op.symbol()
                        ),
                    ))
                }
            };
            let other = if is_null(rhs) { lhs } else { rhs };
            let v = self.expr(other)?;
            return Ok(Typed::bool(Node::IsNull {
                negate,
                value: Box::new(v.node),
            }));
        }
        for (anchor, value, op) in [(rhs, lhs, op), (lhs, rhs, mirror(op))] {
            if let Some(base) = self.static_anchor(anchor) {
                let v = self.expr(value)?;
                if !v.ty.timeish() || matches!(v.ty, Ty::Array(_)) {
                    return Err(err(
                        e.span,
                        format!(
                            "type mismatch: cannot compare {} ({}) with {} (a date-time)",
                            show(value),
                            v.ty.describe(),
                            show(anchor)
                        ),
                    ));
                }
                let slot = self.slot();
                return Ok(Typed::bool(Node::TimeCmp {
                    op,
                    value: Box::new(timed(v)),
                    bound: Bound {
                        base,
                        end: false,
                        shift: 0,
                        unit: Unit::Millisecond,
                    },
                    slot,
                }));
            }
        }
        let l = self.expr(lhs)?;
        let r = self.expr(rhs)?;
        let (l, r) = self.coerce(e, l, r, lhs, rhs)?;
        let count = count_cmp(op, &l, &r);
        Ok(Typed::bool(Node::Cmp {
            op,
            lhs: Box::new(l),
            rhs: Box::new(r),
            count,
        }))
    }

    /// Checks two compared operands and converts date strings: a string literal compared with
    /// a date becomes an instant (or is refused), date-typed values are read as instants.
    fn coerce(
        &mut self,
        e: &Expr,
        l: Typed<'s>,
        r: Typed<'s>,
        lhs: &Expr,
        rhs: &Expr,
    ) -> R<(Node, Node)> {
        let item = |t: &Ty<'s>| match t {
            Ty::Array(i) => (**i).clone(),
            t => t.clone(),
        };
        let (li, ri) = (item(&l.ty), item(&r.ty));
        let l = self.literal_time(l, &ri, rhs, lhs)?;
        let r = self.literal_time(r, &li, lhs, rhs)?;
        if !l.ty.comparable(&r.ty) {
            return Err(err(
                e.span,
                format!(
                    "type mismatch: cannot compare {} ({}) with {} ({})",
                    show(lhs),
                    l.ty.describe(),
                    show(rhs),
                    r.ty.describe()
                ),
            ));
        }
        let conv = |t: Typed<'s>| {
            if item(&t.ty).is_time() {
                timed(t)
            } else {
                t.node
            }
        };
        Ok((conv(l), conv(r)))
    }

    /// A string literal (or list of them) compared with a date becomes an instant; a string
    /// that is not a date is a type error.
    fn literal_time(
        &mut self,
        t: Typed<'s>,
        other: &Ty<'s>,
        other_expr: &Expr,
        this: &Expr,
    ) -> R<Typed<'s>> {
        if !other.is_time() {
            return Ok(t);
        }
        let convert = |c: &Const| -> Result<Const, String> {
            match c {
                Const::Str(s) => parse_time(s)
                    .map(|(ms, _)| Const::Time(ms))
                    .ok_or_else(|| s.to_string()),
                other => Ok(other.clone()),
            }
        };
        let mismatch = |s: String| {
            err(
                this.span,
                format!(
                    "type mismatch: {} is {}, but \"{s}\" is not a date or date-time",
                    show(other_expr),
                    other.describe()
                ),
            )
        };
        match &t.node {
            Node::Const(c @ Const::Str(_)) => {
                let c = convert(c).map_err(mismatch)?;
                Ok(Typed::new(Node::Const(c), other.clone()))
            }
            Node::Const(Const::List(items)) => {
                let items = items
                    .iter()
                    .map(convert)
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(mismatch)?;
                Ok(Typed::new(
                    Node::Const(Const::List(items.into())),
                    Ty::Array(Box::new(other.clone())),
                ))
            }
            _ => Ok(t),
        }
    }

    fn like(&mut self, lhs: &Expr, rhs: &Expr) -> R<Typed<'s>> {
        let subject = self.text_subject(lhs, lhs, "like")?;
        let pattern = match &rhs.kind {
            ExprKind::String(p) => Like::Literal(p.clone(), like_pattern(p)),
            _ => {
                let p = self.expr(rhs)?;
                if !matches!(p.ty, Ty::Str | Ty::Any | Ty::Null) {
                    return Err(err(
                        rhs.span,
                        format!(
                            "type mismatch: like needs a string pattern, found {}",
                            p.ty.describe()
                        ),
                    ));
                }
                Like::Dynamic(Box::new(p.node))
            }
        };
        Ok(Typed::bool(Node::Like { subject, pattern }))
    }

    fn in_list(&mut self, e: &Expr, negate: bool, lhs: &Expr, rhs: &Expr) -> R<Typed<'s>> {
        let needle = self.expr(lhs)?;
        let hay = self.expr(rhs)?;
        let Some(hay_item) = hay.ty.elem() else {
            return Err(err(
                rhs.span,
                format!(
                    "{} needs a list on the right, but {} is {}",
                    if negate { "notIn" } else { "in" },
                    show(rhs),
                    hay.ty.describe()
                ),
            ));
        };
        let (needle, hay) = self.coerce(
            e,
            needle,
            Typed::new(hay.node, Ty::Array(Box::new(hay_item))),
            lhs,
            rhs,
        )?;
        Ok(Typed::bool(Node::In {
            negate,
            needle: Box::new(needle),
            hay: Box::new(hay),
        }))
    }

    fn arith(&mut self, e: &Expr, op: ArithOp, lhs: &Expr, rhs: &Expr) -> R<Typed<'s>> {
        let l = self.expr(lhs)?;
        let r = self.expr(rhs)?;
        let ty = match (&l.ty, &r.ty) {
            (Ty::Int, Ty::Int) if op != ArithOp::Div => Ty::Int,
            (a, b) if a.is_num() && b.is_num() => Ty::Num,
            (Ty::Str, Ty::Str) if op == ArithOp::Add => Ty::Str,
            (Ty::Any | Ty::Null, b) | (b, Ty::Any | Ty::Null)
                if b.is_num() || matches!(b, Ty::Any | Ty::Null | Ty::Str) =>
            {
                Ty::Any
            }
            (a, b) => {
                return Err(err(
                    e.span,
                    format!(
                        "type mismatch: cannot compute {} with {} ({}) and {} ({})",
                        match op {
                            ArithOp::Add => "+",
                            ArithOp::Sub => "-",
                            ArithOp::Mul => "*",
                            ArithOp::Div => "/",
                            ArithOp::Mod => "%",
                        },
                        show(lhs),
                        a.describe(),
                        show(rhs),
                        b.describe()
                    ),
                ))
            }
        };
        Ok(Typed::new(
            Node::Arith {
                op,
                lhs: Box::new(l.node),
                rhs: Box::new(r.node),
            },
            ty,
        ))
    }

    /// An `occurs` anchor.
    fn anchor(&mut self, e: &Expr) -> R<Anchor> {
        if let Some(base) = self.static_anchor(e) {
            return Ok(Anchor::Static(base));
        }
        let t = self.expr(e)?;
        let fixed = |start: i64, day: bool| {
            Anchor::Static(timeutil::Base::Fixed {
                start,
                end: start.saturating_add(if day { DAY } else { 1 }),
            })
        };
        match t.constant() {
            Some(Const::Time(ms)) => return Ok(fixed(*ms, matches!(t.ty, Ty::Date))),
            Some(Const::Str(s)) => {
                return match parse_time(s) {
                    Some((ms, day)) => Ok(fixed(ms, day)),
                    None => Err(err(
                        e.span,
                        format!("type mismatch: \"{s}\" is not a date or date-time"),
                    )),
                }
            }
            _ => {}
        }
        if !t.ty.timeish() || matches!(t.ty, Ty::Null) {
            return Err(err(
                e.span,
                format!(
                    "type mismatch: occurs needs a date or date-time anchor, but {} is {}",
                    show(e),
                    t.ty.describe()
                ),
            ));
        }
        let day = matches!(t.ty, Ty::Date);
        Ok(Anchor::Dyn {
            node: timed(t),
            day,
        })
    }

    fn time_cond(&mut self, t: &TimeCondition) -> R<TimeCond> {
        let at = |anchor: usize, end: bool, inclusive: bool| BoundSpec {
            anchor,
            end,
            shift: 0,
            unit: Unit::Millisecond,
            inclusive,
            slot: None,
        };
        let mut cond = match t {
            TimeCondition::Relative {
                cmp,
                amount,
                unit,
                direction,
                anchor,
            } => {
                let a = self.anchor(anchor)?;
                let n = i64::try_from(*amount).unwrap_or(i64::MAX / 2).min(1 << 40);
                let moved = |shift: i64, inclusive: bool| BoundSpec {
                    anchor: 0,
                    end: false,
                    shift,
                    unit: *unit,
                    inclusive,
                    slot: None,
                };
                let cmp = cmp.unwrap_or(CmpOp::Eq);
                let (lower, upper) = if *direction == Direction::Before {
                    match cmp {
                        CmpOp::Le => (Some(moved(-n, true)), Some(at(0, false, true))),
                        CmpOp::Lt => (Some(moved(-n, false)), Some(at(0, false, true))),
                        CmpOp::Ge => (None, Some(moved(-n, true))),
                        CmpOp::Gt => (None, Some(moved(-n, false))),
                        CmpOp::Eq | CmpOp::Ne => {
                            (Some(moved(-n - 1, false)), Some(moved(-n, true)))
                        }
                    }
                } else {
                    match cmp {
                        CmpOp::Le => (Some(at(0, false, true)), Some(moved(n, true))),
                        CmpOp::Lt => (Some(at(0, false, true)), Some(moved(n, false))),
                        CmpOp::Ge => (Some(moved(n, true)), None),
                        CmpOp::Gt => (Some(moved(n, false)), None),
                        CmpOp::Eq | CmpOp::Ne => (Some(moved(n, true)), Some(moved(n + 1, false))),
                    }
                };
                TimeCond {
                    anchors: vec![a],
                    lower,
                    upper,
                    negate: cmp == CmpOp::Ne,
                }
            }
            TimeCondition::Before(a) => TimeCond {
                anchors: vec![self.anchor(a)?],
                lower: None,
                upper: Some(at(0, false, false)),
                negate: false,
            },
            TimeCondition::After(a) => TimeCond {
                anchors: vec![self.anchor(a)?],
                lower: Some(at(0, true, true)),
                upper: None,
                negate: false,
            },
            TimeCondition::On(a) => TimeCond {
                anchors: vec![self.anchor(a)?],
                lower: Some(at(0, false, true)),
                upper: Some(at(0, true, false)),
                negate: false,
            },
            TimeCondition::Between(a, b) => TimeCond {
                anchors: vec![self.anchor(a)?, self.anchor(b)?],
                lower: Some(at(0, false, true)),
                upper: Some(at(1, true, false)),
                negate: false,
            },
        };
        for spec in [&mut cond.lower, &mut cond.upper].into_iter().flatten() {
            if matches!(cond.anchors[spec.anchor], Anchor::Static(_)) {
                spec.slot = self.slot();
            }
        }
        Ok(cond)
    }
}

fn day_offset(w: TimeWord) -> i64 {
    match w {
        TimeWord::Yesterday => -1,
        TimeWord::Tomorrow => 1,
        _ => 0,
    }
}

/// The operands of a run of the same `and` / `or`.
fn flatten<'e>(e: &'e Expr, op: BinOp, out: &mut Vec<&'e Expr>) {
    match &e.kind {
        ExprKind::Binary { op: o, lhs, rhs } if *o == op => {
            flatten(lhs, op, out);
            flatten(rhs, op, out);
        }
        _ => out.push(e),
    }
}
