//! Compile errors: the exact line and column, and a fragment of the message.

use super::fixtures::compile;

/// (definition, line, column, message fragment)
const ERRORS: &[(&str, u32, u32, &str)] = &[
    // unknown fields
    (
        r#"homeAddress.countryCodee = "US""#,
        1,
        1,
        r#"unknown field "homeAddress.countryCodee" in the profile schema"#,
    ),
    (
        "xEvent[commerce.order.priceTotl > 1]",
        1,
        8,
        r#"unknown field "commerce.order.priceTotl" in the event schema"#,
    ),
    (
        "exists E from xEvent where (E.foo = 1)",
        1,
        29,
        r#"unknown field "E.foo" in the event schema"#,
    ),
    (
        "homeAddress.countryCode = \"US\" and\n  person.birthYaer > 1",
        2,
        3,
        r#"unknown field "person.birthYaer""#,
    ),
    (
        r#"homeAddress.countryCode.foo = "x""#,
        1,
        1,
        r#"homeAddress.countryCode is a string, it has no field "foo""#,
    ),
    // type mismatches
    (
        r#"person.birthDate = "yesterday-ish""#,
        1,
        20,
        r#"type mismatch: person.birthDate is a date, but "yesterday-ish" is not a date or date-time"#,
    ),
    (
        r#"person.birthYear = "1990""#,
        1,
        1,
        r#"type mismatch: cannot compare person.birthYear (an integer) with "1990" (a string)"#,
    ),
    (
        "person.birthDate > 3",
        1,
        1,
        "cannot compare person.birthDate (a date) with 3 (an integer)",
    ),
    (
        r#"person.birthYear.startsWith("19")"#,
        1,
        1,
        "startsWith() is a string method, but person.birthYear is an integer",
    ),
    (
        "person.name.firstName.equals(3)",
        1,
        30,
        "equals() compares with a string, but 3 is an integer",
    ),
    (
        "person.birthYear occurs today",
        1,
        1,
        "occurs needs a date or date-time, but person.birthYear is an integer",
    ),
    (
        "xEvent.sum(eventType) > 1",
        1,
        1,
        "sum() needs numbers, but eventType is a string",
    ),
    (
        r#"xEvent[timestamp occurs <= 7 days before "soon"]"#,
        1,
        42,
        r#""soon" is not a date or date-time"#,
    ),
    (
        r#"homeAddress.countryCode in "US""#,
        1,
        28,
        "in needs a list on the right",
    ),
    (
        r#"_rapport.tags.intersects("vip")"#,
        1,
        26,
        "intersects() needs an array argument",
    ),
    (
        "person.gender.count() > 1",
        1,
        1,
        "person.gender is a string, not a collection",
    ),
    (
        "chain(xEvent, commerce.order.priceTotal, [A: WHAT(true)])",
        1,
        15,
        "chain orders by a date-time, but commerce.order.priceTotal is a number",
    ),
    (
        "person.name.firstName < null",
        1,
        1,
        "null can only be compared with = or !=",
    ),
    // unknown segments, functions, methods; arity
    (r#"inSegment("nope")"#, 1, 11, r#"unknown segment "nope""#),
    (
        "inSegment(person.gender)",
        1,
        11,
        "inSegment() needs a segment id literal",
    ),
    (
        "person.name.firstName.shout()",
        1,
        1,
        r#"unknown method "shout""#,
    ),
    (
        "frobnicate(1) = 2",
        1,
        1,
        r#"unknown function "frobnicate""#,
    ),
    (
        "xEvent.groupBy(eventType).count() > 1",
        1,
        1,
        "groupBy() is not supported",
    ),
    (
        r#"person.name.firstName.equals("a", true, 3)"#,
        1,
        1,
        "equals() takes 1 or 2 arguments, found 3",
    ),
    (
        "xEvent.count(1) > 0",
        1,
        1,
        "count() takes no arguments, found 1",
    ),
    (
        "date(2024, 1) < now",
        1,
        1,
        "date() takes 3 or 6 arguments, found 2",
    ),
    (
        "date(2023, 2, 29) = person.birthDate",
        1,
        1,
        "invalid date: date(2023, 2, 29)",
    ),
    // regular expressions
    (
        "person.name.firstName.matches(person.name.lastName)",
        1,
        31,
        "matches() needs a string literal pattern",
    ),
    (
        r#"person.name.firstName.matches("(\\w{100}){100}")"#,
        1,
        31,
        "regular expression too large",
    ),
    (
        r#"person.name.firstName.matches("(")"#,
        1,
        31,
        "invalid regular expression",
    ),
    // references, lambdas, top level
    (r#"$2.person.gender = "x""#, 1, 1, "$2 is not defined"),
    (
        r#"^.person.gender = "x""#,
        1,
        1,
        "^ goes 1 levels up, but only 0 enclosing filter levels are open",
    ),
    (
        "(a, b) => a",
        1,
        1,
        "a definition's lambda takes one parameter, the profile; found 2",
    ),
    ("xEvent[(x) => true]", 1, 8, "a lambda is only allowed"),
    (
        "person.birthYear + 1",
        1,
        1,
        "expected a condition (true or false), but person.birthYear + 1 is an integer",
    ),
    (
        "person.name",
        1,
        1,
        "expected a condition (true or false), but person.name is an object",
    ),
    // parse errors
    (
        "homeAddress.countryCode = ",
        1,
        27,
        "expected expression but found end of input",
    ),
    (
        r#"xEvent[eventType = "a""#,
        1,
        23,
        r#"expected "]" but found end of input"#,
    ),
    (
        "a and\n  or b",
        2,
        3,
        r#"expected expression but found "or""#,
    ),
];

#[test]
fn each_error_is_reported_where_it_is() {
    let mut failures = Vec::new();
    for (pql, line, column, fragment) in ERRORS {
        match compile(pql) {
            Ok(_) => failures.push(format!("{pql}: compiled")),
            Err(e) => {
                if (e.line, e.column) != (*line, *column) || !e.message.contains(fragment) {
                    failures.push(format!(
                        "{pql}: expected {line}:{column} containing {fragment:?}, got {e}"
                    ));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn error_display_names_the_position() {
    let e = compile(r#"inSegment("nope")"#).unwrap_err();
    assert_eq!(
        e.to_string(),
        r#"line 1, column 11: unknown segment "nope""#
    );
}

#[test]
fn json_input_has_no_positions() {
    let parsed = pql::parse(r#"homeAddress.countryCodee = "US""#).unwrap();
    let json = pql::to_pql_json(&parsed);
    let tree = pql::from_pql_json(&json).unwrap();
    let e = segments::compile_expr(&tree, &super::fixtures::ctx()).unwrap_err();
    assert_eq!((e.line, e.column), (0, 0));
    assert!(e.message.contains("unknown field"), "{e}");
}
