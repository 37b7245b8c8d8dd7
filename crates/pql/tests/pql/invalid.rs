//! Malformed expressions and their exact error positions.

use pql::{parse, Error, ParseError};

/// (source, line, column, expected, found)
const INVALID: &[(&str, u32, u32, &str, &str)] = &[
    (r#"(a = "US" and"#, 1, 14, "expression", "end of input"),
    (r#"(a = "US" b"#, 1, 11, "\")\"", "\"b\""),
    ("a = ", 1, 5, "expression", "end of input"),
    ("a == 1", 1, 4, "expression", "\"=\""),
    ("a and or b", 1, 7, "expression", "\"or\""),
    ("[1, 2", 1, 6, "\",\" or \"]\"", "end of input"),
    ("f(1 2)", 1, 5, "\",\" or \")\"", "\"2\""),
    ("a.", 1, 3, "identifier", "end of input"),
    ("a.1", 1, 3, "identifier", "\"1\""),
    ("\"abc", 1, 5, "\"\\\"\"", "end of input"),
    ("\"a\\qb\"", 1, 4, "escape sequence", "\"q\""),
    ("a # b", 1, 3, "token", "\"#\""),
    (
        "timestamp occurs <= 30 parsecs before now",
        1,
        24,
        "time unit",
        "\"parsecs\"",
    ),
    (
        "timestamp occurs <= 30 days around now",
        1,
        29,
        "\"before\", \"after\" or \"from\"",
        "\"around\"",
    ),
    (
        "timestamp occurs <= days before now",
        1,
        21,
        "integer",
        "\"days\"",
    ),
    (
        "timestamp occurs between today or now",
        1,
        32,
        "\"and\"",
        "\"or\"",
    ),
    (
        "exists E in xEvent where (E.a)",
        1,
        10,
        "\"from\"",
        "\"in\"",
    ),
    (
        "exists E from xEvent when (E.a)",
        1,
        22,
        "\"where\" or \":\"",
        "\"when\"",
    ),
    ("select from xEvent where x", 1, 8, "identifier", "\"from\""),
    ("let S = 1 S", 1, 11, "\"in\"", "\"S\""),
    (
        "chain(xEvent, timestamp, [A WHAT(x)])",
        1,
        29,
        "\":\"",
        "\"WHAT\"",
    ),
    (
        "chain(xEvent, timestamp, [A: WHO(x)])",
        1,
        30,
        "\"WHAT\"",
        "\"WHO\"",
    ),
    ("xEvent[a = 1", 1, 13, "\"]\"", "end of input"),
    ("a = 1)", 1, 6, "end of input", "\")\""),
    ("a = 1 and\n  b = )", 2, 7, "expression", "\")\""),
    (
        "a = 99999999999999999999",
        1,
        5,
        "number",
        "\"99999999999999999999\"",
    ),
    ("$x = 1", 1, 2, "parameter number", "\"x\""),
    ("", 1, 1, "expression", "end of input"),
    ("(a, b) => ", 1, 11, "expression", "end of input"),
    ("(a, not) => a", 1, 5, "identifier", "\"not\""),
];

#[test]
fn table_is_large_enough() {
    assert!(INVALID.len() >= 15);
}

#[test]
fn every_malformed_expression_fails_where_expected() {
    for &(src, line, column, expected, found) in INVALID {
        let err = parse(src).expect_err(src);
        let want = Error::Syntax(ParseError {
            line,
            column,
            expected: expected.to_string(),
            found: found.to_string(),
        });
        assert_eq!(err, want, "{src:?}: {err}");
    }
}

#[test]
fn display_format() {
    let err = parse(r#"(a = "US" and b)) and c"#).unwrap_err();
    assert_eq!(
        err.to_string(),
        r#"line 1, column 17: expected end of input but found ")""#
    );
    let err = parse(r#"f(a = "US" and b and"#).unwrap_err();
    assert_eq!(
        err.to_string(),
        "line 1, column 21: expected expression but found end of input"
    );
    let err = parse(r#"(a = "US"  and b and c"#).unwrap_err();
    assert_eq!(
        err.to_string(),
        r#"line 1, column 23: expected ")" but found end of input"#
    );
    let err = parse(r#"(homeAddress.x) and)"#).unwrap_err();
    assert_eq!(
        err.to_string(),
        r#"line 1, column 20: expected expression but found ")""#
    );
}
