//! The PQL abstract syntax tree: [`Expr`] nodes carrying a [`Span`] that equality ignores.

/// Where a node or token sits in the source text.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Span {
    /// Byte offset of the first byte.
    pub start: usize,
    /// Byte offset one past the last byte.
    pub end: usize,
    /// 1-based line of `start`.
    pub line: u32,
    /// 1-based column (in characters) of `start`.
    pub column: u32,
}

/// One expression node. `PartialEq` compares the [`ExprKind`] only, never the spans, so a tree
/// parsed from text equals the same tree built by hand or re-parsed from printed text.
#[derive(Debug, Clone)]
pub struct Expr {
    /// What the node is.
    pub kind: ExprKind,
    /// Where it was parsed from (all zero for built trees).
    pub span: Span,
}

impl PartialEq for Expr {
    fn eq(&self, other: &Self) -> bool {
        self.kind == other.kind
    }
}

impl Expr {
    /// A node with an empty span.
    pub fn new(kind: ExprKind) -> Self {
        Expr {
            kind,
            span: Span::default(),
        }
    }

    /// A node with the given span.
    pub fn with_span(kind: ExprKind, span: Span) -> Self {
        Expr { kind, span }
    }
}

impl From<ExprKind> for Expr {
    fn from(kind: ExprKind) -> Self {
        Expr::new(kind)
    }
}

/// The node kinds.
#[derive(Debug, Clone, PartialEq)]
pub enum ExprKind {
    /// `null`
    Null,
    /// `true` / `false`
    Bool(bool),
    /// An integer literal such as `42` or `-7`.
    Int(i64),
    /// A decimal literal such as `1.5`, `-0.25` or `1e-7`.
    Decimal(f64),
    /// A double-quoted string literal (escapes already resolved).
    String(String),
    /// `[a, b, c]`
    Array(Vec<Expr>),
    /// `now`, `today`, `yesterday`, `tomorrow`.
    Time(TimeWord),
    /// `this month`, `last year`, `next week`...
    Period {
        /// `this` / `last` / `next`.
        which: PeriodWhich,
        /// The calendar unit.
        unit: Unit,
    },
    /// A bare name: a field of the implicit profile (`homeAddress`), `xEvent`, or a variable.
    Ident(String),
    /// A positional parameter: `$1` is the profile.
    Param(u32),
    /// `^` (1), `^^` (2)...: the object of an enclosing filter level.
    Outer(u32),
    /// `object.name`
    Field {
        /// The object looked into.
        object: Box<Expr>,
        /// The field name.
        name: String,
    },
    /// `object.name(args)`: every method (`equals`, `count`, `isNull`, `get`, ...).
    Method {
        /// The receiver.
        object: Box<Expr>,
        /// The method name.
        name: String,
        /// The arguments.
        args: Vec<Expr>,
    },
    /// `name(args)`: plain functions (`date`, `if`, `exists`, `inSegment`, `currentYear`, ...).
    Call {
        /// The function name.
        name: String,
        /// The arguments.
        args: Vec<Expr>,
    },
    /// `object[cond]`
    Filter {
        /// The array filtered.
        object: Box<Expr>,
        /// The condition each element must satisfy.
        cond: Box<Expr>,
    },
    /// `not (e)` / `!e`, `-(e)`.
    Unary {
        /// The operator.
        op: UnaryOp,
        /// The operand.
        operand: Box<Expr>,
    },
    /// Infix operators.
    Binary {
        /// The operator.
        op: BinOp,
        /// Left operand.
        lhs: Box<Expr>,
        /// Right operand.
        rhs: Box<Expr>,
    },
    /// `subject occurs ...`
    Occurs {
        /// The timestamp tested.
        subject: Box<Expr>,
        /// The time condition.
        time: TimeCondition,
    },
    /// `exists E from xEvent where (cond)` / `forall ...`, with one or more clauses.
    Quantifier {
        /// `exists` or `forall`.
        kind: QuantifierKind,
        /// The `VAR from SOURCE where COND` clauses (at least one).
        clauses: Vec<Clause>,
    },
    /// `select X from xEvent where cond`
    Select(Box<Clause>),
    /// `let NAME = (value) in (body)`
    Let {
        /// The bound name.
        name: String,
        /// The bound value.
        value: Box<Expr>,
        /// The body using the name.
        body: Box<Expr>,
    },
    /// `(P1, P2) => body`: a lambda (`(Profile) => Profile.homeAddress`, `(K, G) => mapEntry(K, G)`).
    Lambda {
        /// The parameter names.
        params: Vec<String>,
        /// The body.
        body: Box<Expr>,
    },
    /// `chain(events, timestamp, [A: WHAT(cond) WHEN(time), ...])`
    Chain {
        /// The events (usually `xEvent`).
        events: Box<Expr>,
        /// The timestamp field ordering them.
        timestamp: Box<Expr>,
        /// The ordered steps (at least one).
        steps: Vec<ChainStep>,
    },
}

/// A `VAR from SOURCE where COND` clause of a quantifier or `select`.
#[derive(Debug, Clone, PartialEq)]
pub struct Clause {
    /// The variable bound to each element.
    pub var: String,
    /// The collection iterated.
    pub source: Expr,
    /// The condition.
    pub cond: Expr,
}

/// One step of a `chain`: `label: WHAT(cond) WHEN(time)`.
#[derive(Debug, Clone, PartialEq)]
pub struct ChainStep {
    /// The step label.
    pub label: String,
    /// The event predicate.
    pub what: Expr,
    /// The optional time condition (on the chain's timestamp field).
    pub when: Option<TimeCondition>,
}

/// The part after `occurs` (also the content of `WHEN(...)`).
#[derive(Debug, Clone, PartialEq)]
pub enum TimeCondition {
    /// `[cmp] N unit before|after|from anchor`, e.g. `<= 30 days before now`.
    Relative {
        /// Optional comparison (`<= 30 days before now`).
        cmp: Option<CmpOp>,
        /// How many units.
        amount: u64,
        /// The unit.
        unit: Unit,
        /// `before`, `after` or `from`.
        direction: Direction,
        /// The reference time.
        anchor: Box<Expr>,
    },
    /// `before anchor`
    Before(Box<Expr>),
    /// `after anchor`
    After(Box<Expr>),
    /// `[on] anchor` (`today`, `last month`, `date(2019, 12, 31)`...).
    On(Box<Expr>),
    /// `between a and b`
    Between(Box<Expr>, Box<Expr>),
}

/// `now`, `today`, `yesterday`, `tomorrow`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TimeWord {
    /// The evaluation time.
    Now,
    /// Start of the evaluation day.
    Today,
    /// The day before.
    Yesterday,
    /// The day after.
    Tomorrow,
}

/// `this`, `last`, `next`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PeriodWhich {
    /// `this`
    This,
    /// `last`
    Last,
    /// `next`
    Next,
}

/// Time units (singular and plural spellings parse to the same unit).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Unit {
    /// millisecond(s)
    Millisecond,
    /// second(s)
    Second,
    /// minute(s)
    Minute,
    /// hour(s)
    Hour,
    /// day(s)
    Day,
    /// week(s)
    Week,
    /// month(s)
    Month,
    /// year(s)
    Year,
    /// decade(s)
    Decade,
    /// century / centuries
    Century,
    /// millennium / millennia
    Millennium,
}

/// `before`, `after`, `from`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// `before`
    Before,
    /// `after`
    After,
    /// `from`
    From,
}

/// `exists` / `forall`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum QuantifierKind {
    /// At least one element matches.
    Exists,
    /// Every element matches.
    Forall,
}

/// Prefix operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UnaryOp {
    /// `not` / `!`
    Not,
    /// `-`
    Neg,
}

/// Comparison operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CmpOp {
    /// `=`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

/// Infix operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BinOp {
    /// `or`
    Or,
    /// `and`
    And,
    /// A comparison.
    Cmp(CmpOp),
    /// `like`
    Like,
    /// `in`
    In,
    /// `notIn`
    NotIn,
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/`
    Div,
    /// `%`
    Mod,
}

impl Unit {
    /// All units, smallest first.
    pub const ALL: [Unit; 11] = [
        Unit::Millisecond,
        Unit::Second,
        Unit::Minute,
        Unit::Hour,
        Unit::Day,
        Unit::Week,
        Unit::Month,
        Unit::Year,
        Unit::Decade,
        Unit::Century,
        Unit::Millennium,
    ];

    /// The singular spelling.
    pub fn singular(self) -> &'static str {
        match self {
            Unit::Millisecond => "millisecond",
            Unit::Second => "second",
            Unit::Minute => "minute",
            Unit::Hour => "hour",
            Unit::Day => "day",
            Unit::Week => "week",
            Unit::Month => "month",
            Unit::Year => "year",
            Unit::Decade => "decade",
            Unit::Century => "century",
            Unit::Millennium => "millennium",
        }
    }

    /// The plural spelling.
    pub fn plural(self) -> &'static str {
        match self {
            Unit::Century => "centuries",
            Unit::Millennium => "millennia",
            Unit::Millisecond => "milliseconds",
            Unit::Second => "seconds",
            Unit::Minute => "minutes",
            Unit::Hour => "hours",
            Unit::Day => "days",
            Unit::Week => "weeks",
            Unit::Month => "months",
            Unit::Year => "years",
            Unit::Decade => "decades",
        }
    }

    /// Parses either spelling.
    pub fn from_word(word: &str) -> Option<Unit> {
        Unit::ALL
            .into_iter()
            .find(|u| u.singular() == word || u.plural() == word)
    }
}

impl CmpOp {
    /// The operator's text.
    pub fn symbol(self) -> &'static str {
        match self {
            CmpOp::Eq => "=",
            CmpOp::Ne => "!=",
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
        }
    }
}

impl BinOp {
    /// The operator's text.
    pub fn symbol(self) -> &'static str {
        match self {
            BinOp::Or => "or",
            BinOp::And => "and",
            BinOp::Cmp(c) => c.symbol(),
            BinOp::Like => "like",
            BinOp::In => "in",
            BinOp::NotIn => "notIn",
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
            BinOp::Mod => "%",
        }
    }

    /// Binding power (higher binds tighter); all infix operators are left-associative.
    pub fn precedence(self) -> u8 {
        match self {
            BinOp::Or => 1,
            BinOp::And => 2,
            BinOp::Cmp(_) | BinOp::Like | BinOp::In | BinOp::NotIn => 4,
            BinOp::Add | BinOp::Sub => 5,
            BinOp::Mul | BinOp::Div | BinOp::Mod => 6,
        }
    }
}

impl TimeWord {
    /// The keyword.
    pub fn word(self) -> &'static str {
        match self {
            TimeWord::Now => "now",
            TimeWord::Today => "today",
            TimeWord::Yesterday => "yesterday",
            TimeWord::Tomorrow => "tomorrow",
        }
    }
}

impl PeriodWhich {
    /// The keyword.
    pub fn word(self) -> &'static str {
        match self {
            PeriodWhich::This => "this",
            PeriodWhich::Last => "last",
            PeriodWhich::Next => "next",
        }
    }
}

impl Direction {
    /// The keyword.
    pub fn word(self) -> &'static str {
        match self {
            Direction::Before => "before",
            Direction::After => "after",
            Direction::From => "from",
        }
    }
}

impl TimeCondition {
    /// The anchor expressions, in source order.
    pub fn anchors(&self) -> Vec<&Expr> {
        match self {
            TimeCondition::Relative { anchor, .. }
            | TimeCondition::Before(anchor)
            | TimeCondition::After(anchor)
            | TimeCondition::On(anchor) => vec![anchor],
            TimeCondition::Between(a, b) => vec![a, b],
        }
    }

    fn into_anchors(self, out: &mut Vec<Expr>) {
        match self {
            TimeCondition::Relative { anchor, .. }
            | TimeCondition::Before(anchor)
            | TimeCondition::After(anchor)
            | TimeCondition::On(anchor) => out.push(*anchor),
            TimeCondition::Between(a, b) => {
                out.push(*a);
                out.push(*b);
            }
        }
    }
}

impl Expr {
    /// The direct sub-expressions, in source order.
    pub fn children(&self) -> Vec<&Expr> {
        let mut out = Vec::new();
        match &self.kind {
            ExprKind::Null
            | ExprKind::Bool(_)
            | ExprKind::Int(_)
            | ExprKind::Decimal(_)
            | ExprKind::String(_)
            | ExprKind::Time(_)
            | ExprKind::Period { .. }
            | ExprKind::Ident(_)
            | ExprKind::Param(_)
            | ExprKind::Outer(_) => {}
            ExprKind::Array(items) | ExprKind::Call { args: items, .. } => out.extend(items),
            ExprKind::Field { object, .. } => out.push(&**object),
            ExprKind::Method { object, args, .. } => {
                out.push(&**object);
                out.extend(args);
            }
            ExprKind::Filter { object, cond } => {
                out.push(&**object);
                out.push(&**cond);
            }
            ExprKind::Unary { operand, .. } | ExprKind::Lambda { body: operand, .. } => {
                out.push(&**operand)
            }
            ExprKind::Binary { lhs, rhs, .. } => {
                out.push(&**lhs);
                out.push(&**rhs);
            }
            ExprKind::Occurs { subject, time } => {
                out.push(&**subject);
                out.extend(time.anchors());
            }
            ExprKind::Quantifier { clauses, .. } => {
                for c in clauses {
                    out.push(&c.source);
                    out.push(&c.cond);
                }
            }
            ExprKind::Select(c) => {
                out.push(&c.source);
                out.push(&c.cond);
            }
            ExprKind::Let { value, body, .. } => {
                out.push(&**value);
                out.push(&**body);
            }
            ExprKind::Chain {
                events,
                timestamp,
                steps,
            } => {
                out.push(&**events);
                out.push(&**timestamp);
                for s in steps {
                    out.push(&s.what);
                    if let Some(t) = &s.when {
                        out.extend(t.anchors());
                    }
                }
            }
        }
        out
    }

    /// The height of the tree (a leaf is 1), computed without recursion.
    pub fn height(&self) -> usize {
        let mut max = 0;
        let mut stack = vec![(self, 1usize)];
        while let Some((e, h)) = stack.pop() {
            max = max.max(h);
            stack.extend(e.children().into_iter().map(|c| (c, h + 1)));
        }
        max
    }
}

/// Moves the direct sub-expressions of `kind` into `out`.
fn take_children(kind: ExprKind, out: &mut Vec<Expr>) {
    match kind {
        ExprKind::Null
        | ExprKind::Bool(_)
        | ExprKind::Int(_)
        | ExprKind::Decimal(_)
        | ExprKind::String(_)
        | ExprKind::Time(_)
        | ExprKind::Period { .. }
        | ExprKind::Ident(_)
        | ExprKind::Param(_)
        | ExprKind::Outer(_) => {}
        ExprKind::Array(items) | ExprKind::Call { args: items, .. } => out.extend(items),
        ExprKind::Field { object, .. }
        | ExprKind::Unary {
            operand: object, ..
        }
        | ExprKind::Lambda { body: object, .. } => out.push(*object),
        ExprKind::Method { object, args, .. } => {
            out.push(*object);
            out.extend(args);
        }
        ExprKind::Filter { object: a, cond: b }
        | ExprKind::Binary { lhs: a, rhs: b, .. }
        | ExprKind::Let {
            value: a, body: b, ..
        } => {
            out.push(*a);
            out.push(*b);
        }
        ExprKind::Occurs { subject, time } => {
            out.push(*subject);
            time.into_anchors(out);
        }
        ExprKind::Quantifier { clauses, .. } => {
            for c in clauses {
                out.push(c.source);
                out.push(c.cond);
            }
        }
        ExprKind::Select(c) => {
            out.push(c.source);
            out.push(c.cond);
        }
        ExprKind::Chain {
            events,
            timestamp,
            steps,
        } => {
            out.push(*events);
            out.push(*timestamp);
            for s in steps {
                out.push(s.what);
                if let Some(t) = s.when {
                    t.into_anchors(out);
                }
            }
        }
    }
}

/// Dropping is iterative, so arbitrarily deep trees never overflow the stack when freed.
impl Drop for Expr {
    fn drop(&mut self) {
        if matches!(
            self.kind,
            ExprKind::Null
                | ExprKind::Bool(_)
                | ExprKind::Int(_)
                | ExprKind::Decimal(_)
                | ExprKind::String(_)
                | ExprKind::Time(_)
                | ExprKind::Period { .. }
                | ExprKind::Ident(_)
                | ExprKind::Param(_)
                | ExprKind::Outer(_)
        ) {
            return;
        }
        let mut stack = Vec::new();
        take_children(
            std::mem::replace(&mut self.kind, ExprKind::Null),
            &mut stack,
        );
        while let Some(mut e) = stack.pop() {
            take_children(std::mem::replace(&mut e.kind, ExprKind::Null), &mut stack);
        }
    }
}
