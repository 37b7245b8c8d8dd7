//! Random trees: parse(print(ast)) == ast.

use pql::*;
use proptest::prelude::*;

const IDENTS: &[&str] = &["a", "b", "xEvent", "timestamp", "person", "SKU", "E", "X"];
const FIELDS: &[&str] = &["name", "country", "timestamp", "b", "count"];
const METHODS: &[&str] = &["equals", "count", "sum", "get", "isNull", "startsWith"];
const CALLS: &[&str] = &["f", "inSegment", "date", "if", "currentYear", "exists"];
const VARS: &[&str] = &["E", "X", "S"];
const LABELS: &[&str] = &["A", "B", "C0"];

fn b(e: Expr) -> Box<Expr> {
    Box::new(e)
}

fn e(kind: ExprKind) -> Expr {
    Expr::new(kind)
}

fn name(pool: &'static [&'static str]) -> impl Strategy<Value = String> {
    prop::sample::select(pool).prop_map(str::to_string)
}

fn unit() -> impl Strategy<Value = Unit> {
    prop::sample::select(Unit::ALL.to_vec())
}

fn cmp() -> impl Strategy<Value = CmpOp> {
    prop::sample::select(vec![
        CmpOp::Eq,
        CmpOp::Ne,
        CmpOp::Lt,
        CmpOp::Le,
        CmpOp::Gt,
        CmpOp::Ge,
    ])
}

fn binop() -> impl Strategy<Value = BinOp> {
    prop_oneof![
        Just(BinOp::Or),
        Just(BinOp::And),
        cmp().prop_map(BinOp::Cmp),
        Just(BinOp::Like),
        Just(BinOp::In),
        Just(BinOp::NotIn),
        Just(BinOp::Add),
        Just(BinOp::Sub),
        Just(BinOp::Mul),
        Just(BinOp::Div),
        Just(BinOp::Mod),
    ]
}

fn leaf() -> impl Strategy<Value = Expr> {
    prop_oneof![
        Just(ExprKind::Null),
        any::<bool>().prop_map(ExprKind::Bool),
        any::<i64>().prop_map(ExprKind::Int),
        (-1e12f64..1e12).prop_map(ExprKind::Decimal),
        prop::num::f64::NORMAL.prop_map(ExprKind::Decimal),
        "[a-zA-Z0-9 %_\"\\\\\n\t\u{e9}]{0,6}".prop_map(ExprKind::String),
        prop::sample::select(vec![
            TimeWord::Now,
            TimeWord::Today,
            TimeWord::Yesterday,
            TimeWord::Tomorrow
        ])
        .prop_map(ExprKind::Time),
        (
            prop::sample::select(vec![
                PeriodWhich::This,
                PeriodWhich::Last,
                PeriodWhich::Next
            ]),
            unit()
        )
            .prop_map(|(which, unit)| ExprKind::Period { which, unit }),
        name(IDENTS).prop_map(ExprKind::Ident),
        (1u32..4).prop_map(ExprKind::Param),
        (1u32..3).prop_map(ExprKind::Outer),
    ]
    .prop_map(e)
}

fn time(inner: BoxedStrategy<Expr>) -> impl Strategy<Value = TimeCondition> {
    let dir = prop::sample::select(vec![Direction::Before, Direction::After, Direction::From]);
    prop_oneof![
        (
            prop::option::of(cmp()),
            0u64..1000,
            unit(),
            dir,
            inner.clone()
        )
            .prop_map(
                |(cmp, amount, unit, direction, a)| TimeCondition::Relative {
                    cmp,
                    amount,
                    unit,
                    direction,
                    anchor: b(a),
                }
            ),
        inner.clone().prop_map(|a| TimeCondition::Before(b(a))),
        inner.clone().prop_map(|a| TimeCondition::After(b(a))),
        inner.clone().prop_map(|a| TimeCondition::On(b(a))),
        (inner.clone(), inner).prop_map(|(x, y)| TimeCondition::Between(b(x), b(y))),
    ]
}

fn clause(inner: BoxedStrategy<Expr>) -> impl Strategy<Value = Clause> {
    (name(VARS), inner.clone(), inner).prop_map(|(var, source, cond)| Clause { var, source, cond })
}

fn expr() -> impl Strategy<Value = Expr> {
    leaf().prop_recursive(4, 48, 3, |inner| {
        let args = prop::collection::vec(inner.clone(), 0..3);
        let step = (
            name(LABELS),
            inner.clone(),
            prop::option::of(time(inner.clone())),
        )
            .prop_map(|(label, what, when)| ChainStep { label, what, when });
        prop_oneof![
            args.clone().prop_map(ExprKind::Array),
            (inner.clone(), name(FIELDS))
                .prop_map(|(o, name)| ExprKind::Field { object: b(o), name }),
            (inner.clone(), name(METHODS), args.clone()).prop_map(|(o, name, args)| {
                ExprKind::Method {
                    object: b(o),
                    name,
                    args,
                }
            }),
            (name(CALLS), args).prop_map(|(name, args)| ExprKind::Call { name, args }),
            (inner.clone(), inner.clone()).prop_map(|(o, c)| ExprKind::Filter {
                object: b(o),
                cond: b(c)
            }),
            (
                prop::sample::select(vec![UnaryOp::Not, UnaryOp::Neg]),
                inner.clone()
            )
                .prop_map(|(op, o)| ExprKind::Unary { op, operand: b(o) }),
            (binop(), inner.clone(), inner.clone()).prop_map(|(op, l, r)| ExprKind::Binary {
                op,
                lhs: b(l),
                rhs: b(r)
            }),
            (inner.clone(), time(inner.clone())).prop_map(|(s, time)| ExprKind::Occurs {
                subject: b(s),
                time
            }),
            (
                prop::sample::select(vec![QuantifierKind::Exists, QuantifierKind::Forall]),
                prop::collection::vec(clause(inner.clone()), 1..3)
            )
                .prop_map(|(kind, clauses)| ExprKind::Quantifier { kind, clauses }),
            clause(inner.clone()).prop_map(|c| ExprKind::Select(Box::new(c))),
            (prop::collection::vec(name(VARS), 0..3), inner.clone()).prop_map(|(params, body)| {
                ExprKind::Lambda {
                    params,
                    body: b(body),
                }
            }),
            (name(VARS), inner.clone(), inner.clone()).prop_map(|(name, v, body)| {
                ExprKind::Let {
                    name,
                    value: b(v),
                    body: b(body),
                }
            }),
            (
                inner.clone(),
                inner.clone(),
                prop::collection::vec(step, 1..3)
            )
                .prop_map(|(ev, ts, steps)| ExprKind::Chain {
                    events: b(ev),
                    timestamp: b(ts),
                    steps
                }),
        ]
        .prop_map(e)
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn print_then_parse_is_identity(ast in expr()) {
        let text = ast.to_string();
        let back = parse(&text).map_err(|err| TestCaseError::fail(format!("{text}: {err}")))?;
        prop_assert_eq!(&back, &ast, "{}", text);
    }

    #[test]
    fn pql_json_round_trips(ast in expr()) {
        let json = to_pql_json(&ast);
        let back = from_pql_json(&json).map_err(|err| TestCaseError::fail(format!("{json}: {err}")))?;
        prop_assert_eq!(&back, &ast, "{}", json);
    }
}
