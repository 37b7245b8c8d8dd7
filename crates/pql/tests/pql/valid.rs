//! Expressions that must parse, and whose canonical printing must re-parse to the same tree.

use pql::{parse, ExprKind};

/// At least one example of every construct, mostly taken from the PQL documentation.
pub(super) const VALID: &[&str] = &[
    // field paths and references
    r#"workAddress.country = "US""#,
    r#"homeAddress.countryCode = "US""#,
    r#"$1.person.name.firstName = "John""#,
    "xEvent[^.timestamp occurs before today]",
    r#"xEvent[^^.person.gender = "female"]"#,
    "_tenant.loyalty.points >= 100",
    // literals
    r#""tab\tquote\" backslash\\ unicode\u00e9""#,
    "person.age = 42",
    "person.score > 3.75",
    "person.score > -1.5e3",
    "person.balance < -10",
    "person.isMember = true",
    "person.optOut = false",
    "person.middleName = null",
    "person.birthDate = date(2020, 3, 14)",
    "[1, 4, 7]",
    r#"homeAddress.countryCode in ["US", "CA"]"#,
    "[]",
    // comparisons
    "a = 1",
    "a != 1",
    "a < 1",
    "a <= 1",
    "a > 1",
    "a >= 1",
    // boolean
    r#"a = 1 and b = 2 or c = 3"#,
    r#"a = 1 and (b = 2 or c = 3)"#,
    r#"not (homeAddress.countryCode = "US")"#,
    r#"!(homeAddress.countryCode = "US")"#,
    r#"not (a = 1) and not (b = 2)"#,
    r#"if(person.age > 18, "adult", "minor") = "adult""#,
    // lists
    "person.age in [18, 21, 30]",
    r#"homeAddress.stateProvince notIn ["CA", "NY"]"#,
    r#"person.favoriteColors.intersects(["red", "blue"])"#,
    "person.tags.distinct().count() > 2",
    // strings
    r#"person.name.firstName like "%es%""#,
    r#"person.name.firstName like "J_hn""#,
    r#"person.name.firstName.equals("John", false)"#,
    r#"person.name.firstName.startsWith("Jo")"#,
    r#"person.name.firstName.startsWith("jo", false)"#,
    r#"person.name.lastName.endsWith("son")"#,
    r#"person.name.lastName.contains("mit")"#,
    r#"person.name.lastName.doesNotContain("x")"#,
    r#"person.name.lastName.doesNotStartWith("x")"#,
    r#"person.name.lastName.doesNotEndWith("x")"#,
    r#"person.name.lastName.notEqualTo("Smith")"#,
    r#"person.name.firstName.matches("(?i)^John")"#,
    r#"personalEmail.address.regexGroup("@(\\w+)", 1) = "example""#,
    // objects and maps
    "person.name.isNull()",
    "person.name.isNotNull()",
    r#"identityMap.get("Email").count() > 0"#,
    // aggregation
    "xEvent.count() > 3",
    "xEvent.sum(commerce.order.priceTotal) > 100.0",
    "xEvent.average(commerce.order.priceTotal) >= 25",
    "xEvent.min(commerce.order.priceTotal) < 5",
    "xEvent.max(commerce.order.priceTotal) > 500",
    // dates
    "person.birthDate.getMonth() = currentMonth()",
    "person.birthDate.getYear() < currentYear() - 18",
    "person.birthDate.getDayOfMonth() = currentDayOfMonth()",
    "timestamp occurs <= 30 days before now",
    "product.saleDate occurs = 3 hours before now",
    "timestamp occurs > 1 week after today",
    "timestamp occurs < 2 months from now",
    "timestamp occurs 5 minutes before now",
    "X.timestamp occurs before today",
    "timestamp occurs after date(2020, 1, 1)",
    "timestamp occurs today",
    "timestamp occurs on today",
    "timestamp occurs yesterday",
    "timestamp occurs tomorrow",
    "timestamp occurs this month",
    "timestamp occurs last month",
    "timestamp occurs next year",
    "timestamp occurs last week",
    "timestamp occurs on date(2019, 12, 31)",
    "timestamp occurs between date(2020, 1, 1) and date(2020, 6, 30)",
    "timestamp occurs between yesterday and now",
    "timestamp occurs >= 500 milliseconds before now",
    "timestamp occurs < 1 second before now",
    "timestamp occurs < 1 millisecond before now",
    "timestamp occurs < 2 decades before now",
    "timestamp occurs < 1 century before now",
    "timestamp occurs < 2 centuries before now",
    "timestamp occurs < 1 millennium before now",
    "timestamp occurs < 3 millennia before now",
    "timestamp occurs < 1 minute before now and eventType = \"web\"",
    // filters
    r#"xEvent[eventType = "commerce.checkouts"].count() > 0"#,
    r#"xEvent[productListItems[SKU = "PS"]]"#,
    r#"xEvent[(timestamp occurs < 7 days before now) and eventType = "transaction"].count() > 3"#,
    r#"xEvent[timestamp occurs < 7 days before now].sum(commerce.order.priceTotal) > 100"#,
    // quantifiers and selection
    r#"exists E from xEvent where (E.eventType = "commerce.purchases")"#,
    r#"forall E from xEvent where (E.commerce.order.priceTotal > 10)"#,
    r#"exists E from xEvent: (E.eventType = "commerce.purchases")"#,
    r#"exists A from xEvent where (A.eventType = "a"), B from xEvent where (B.timestamp > A.timestamp)"#,
    r#"select X from xEvent where X.eventType = "commerce.checkouts""#,
    r#"(select X from xEvent where X.eventType = "a") and person.age > 3"#,
    // functions
    r#"inSegment("e3be6d7f-1727-401f-a41e-c296b45f607a")"#,
    "exists(person.name)",
    r#"inSegment("a") or inSegment("b")"#,
    // sequences
    r#"chain(xEvent, timestamp, [C0: WHAT(eventType.equals("commerce.checkouts", false)) WHEN(<= 24 hours before now), C1: WHAT(eventType = "web") WHEN(today)])"#,
    r#"CHAIN(xEvent, timestamp, [A: WHAT(eventType = "a"), B: WHAT(eventType = "b") WHEN(> 2 days after now)])"#,
    // let
    "let S = (xEvent.sum(commerce.order.priceTotal)) in (S > 100 and S < 1000)",
    // arithmetic and grouping
    "(a + b) * 2 - -(c) % 3 / 4 > 1",
    "xEvent.groupBy(product).count() > 1",
    // lambdas
    r#"(Profile) => Profile.homeAddress.stateProvince = "CA""#,
    "xEvent.groupBy(product).map((K, G) => mapEntry(K, G.count()))",
    "person.tags.filter((t) => t like \"%vip%\").count() > 0",
    "multi\n  .line\n  .field = 1",
];

#[test]
fn table_is_large_enough() {
    assert!(VALID.len() >= 60, "{}", VALID.len());
}

#[test]
fn every_valid_expression_parses_and_round_trips() {
    for src in VALID {
        let e = parse(src).unwrap_or_else(|err| panic!("{src}: {err}"));
        let printed = e.to_string();
        let again = parse(&printed).unwrap_or_else(|err| panic!("{src} -> {printed}: {err}"));
        assert_eq!(again, e, "{src} -> {printed}");
        // printing is canonical: a second print is identical
        assert_eq!(again.to_string(), printed, "{src}");
    }
}

#[test]
fn canonical_printing() {
    let cases = [
        (
            r#"workAddress.country="US""#,
            r#"workAddress.country = "US""#,
        ),
        (r#"!(a = 1)"#, "not (a = 1)"),
        ("a and (b or c)", "a and (b or c)"),
        ("(a and b) or c", "a and b or c"),
        ("timestamp occurs on today", "timestamp occurs today"),
        (
            "ts occurs <= 1 days before now",
            "ts occurs <= 1 day before now",
        ),
        (
            "CHAIN(xEvent, timestamp, [A: WHAT(x)])",
            "chain(xEvent, timestamp, [A: WHAT(x)])",
        ),
        (
            "exists E from xEvent: E.a",
            "exists E from xEvent where (E.a)",
        ),
        ("ts occurs on a.b", "ts occurs on a.b"),
    ];
    for (src, want) in cases {
        assert_eq!(parse(src).unwrap().to_string(), want, "{src}");
    }
}

#[test]
fn structure_of_reference_example() {
    let e = parse(r#"workAddress.country = "US""#).unwrap();
    let ExprKind::Binary { lhs, rhs, .. } = &e.kind else {
        panic!("{e:?}")
    };
    assert!(matches!(&rhs.kind, ExprKind::String(s) if s == "US"));
    let ExprKind::Field { object, name } = &lhs.kind else {
        panic!("{lhs:?}")
    };
    assert_eq!(name, "country");
    assert!(matches!(&object.kind, ExprKind::Ident(s) if s == "workAddress"));
}

#[test]
fn spans_point_into_the_source() {
    let src = "a = 1 and\n  person.name.isNull()";
    let e = parse(src).unwrap();
    assert_eq!((e.span.start, e.span.end), (0, src.len()));
    let ExprKind::Binary { rhs, .. } = &e.kind else {
        panic!()
    };
    assert_eq!((rhs.span.line, rhs.span.column), (2, 3));
    assert_eq!(&src[rhs.span.start..rhs.span.end], "person.name.isNull()");
}
