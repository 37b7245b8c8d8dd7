//! The nesting depth cap.

use pql::{parse, Error, MAX_DEPTH, MAX_HEIGHT};

fn nested(n: usize) -> String {
    format!("{}x{}", "(".repeat(n), ")".repeat(n))
}

#[test]
fn nesting_up_to_the_cap_parses() {
    parse(&nested(MAX_DEPTH - 1)).unwrap();
}

#[test]
fn nesting_beyond_the_cap_is_its_own_error() {
    let err = parse(&nested(MAX_DEPTH)).unwrap_err();
    assert_eq!(
        err,
        Error::TooDeep {
            line: 1,
            column: MAX_DEPTH as u32 + 1,
            limit: MAX_DEPTH
        }
    );
    assert!(err.to_string().contains("nested deeper than 64"), "{err}");
}

#[test]
fn very_deep_input_does_not_overflow_the_stack() {
    for src in [
        nested(100_000),
        "not ".repeat(100_000) + "x",
        "[".repeat(100_000),
        "a[".repeat(100_000),
        "-".repeat(100_000) + "(x)",
    ] {
        assert!(matches!(parse(&src), Err(Error::TooDeep { .. })));
    }
}

#[test]
fn very_long_chains_are_rejected_without_overflowing_the_stack() {
    for src in [
        "x".to_string() + &".y".repeat(100_000),
        "a".to_string() + &" or a".repeat(100_000),
        "a".to_string() + &"[b]".repeat(100_000),
        "t".to_string() + &" occurs today".repeat(100_000),
    ] {
        assert!(matches!(parse(&src), Err(Error::TooTall { .. })));
    }
}

#[test]
fn chains_up_to_the_height_limit_parse_print_and_convert() {
    let n = MAX_HEIGHT - 1;
    let src = "a".to_string() + &" or a".repeat(n - 1);
    let e = parse(&src).unwrap();
    assert_eq!(e.height(), n);
    let printed = e.to_string();
    assert_eq!(printed, src);
    assert_eq!(parse(&printed).unwrap(), e);
    let json = pql::to_pql_json(&e);
    assert_eq!(pql::from_pql_json(&json).unwrap(), e);
    let too_long = "a".to_string() + &" or a".repeat(MAX_HEIGHT);
    assert_eq!(
        parse(&too_long).unwrap_err(),
        Error::TooTall {
            height: MAX_HEIGHT + 1,
            limit: MAX_HEIGHT
        }
    );
}

/// Found by the fuzzer: a chain of bare unary minus signs within the cap was printed with a
/// parenthesis per sign, and the printed form no longer parsed under the cap.
#[test]
fn printed_unary_chains_parse_back_under_the_depth_cap() {
    for (prefix, name) in [("-", "minus"), ("not ", "not"), ("!", "bang")] {
        let source = format!("{}x", prefix.repeat(40));
        let ast = parse(&source).unwrap_or_else(|e| panic!("{name}: {e}"));
        let printed = ast.to_string();
        let reparsed = parse(&printed)
            .unwrap_or_else(|e| panic!("{name}: printed {printed:?} does not parse: {e}"));
        assert_eq!(reparsed, ast, "{name}");
    }
}
