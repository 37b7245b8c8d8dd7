//! Fuzz target: any text either fails to parse with an error, or parses to an AST whose printed
//! form parses back to the same AST and whose pql/json form converts back to it too. Never a panic.
//!
//! Known limit: the canonical printer may add parentheses (`a / !b` prints as `a / (not (b))`),
//! so an expression close to the nesting cap can print to text over the cap; that one refusal is
//! tolerated here.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(ast) = pql::parse(text) else { return };
    let printed = ast.to_string();
    let reparsed = match pql::parse(&printed) {
        Ok(reparsed) => reparsed,
        Err(pql::Error::TooDeep { .. }) => return,
        Err(e) => panic!("printed form {printed:?} of {text:?} does not parse: {e}"),
    };
    assert_eq!(reparsed, ast, "print/parse round trip changed {text:?} (printed {printed:?})");
    let json = pql::to_pql_json(&ast);
    let back = pql::from_pql_json(&json).unwrap_or_else(|e| panic!("pql/json of {text:?} does not convert back: {e}"));
    assert_eq!(back, ast, "pql/json round trip changed {text:?}");
});
