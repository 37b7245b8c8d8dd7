//! The pql/json node format.

use pql::{from_pql_json, parse, to_pql_json};
use serde_json::json;

#[test]
fn reference_example_matches_exactly() {
    let e = parse(r#"workAddress.country = "US""#).unwrap();
    let want = json!({"nodeType":"fnApply","fnName":"=","params":[
        {"nodeType":"fieldLookup","fieldName":"country","object":{"nodeType":"fieldLookup","fieldName":"workAddress","object":{"nodeType":"parameterReference","position":1}}},
        {"nodeType":"literal","literalType":"String","value":"US"}]});
    assert_eq!(to_pql_json(&e), want);
    assert_eq!(from_pql_json(&want).unwrap(), e);
}

#[test]
fn literal_types() {
    let cases = [
        (
            "42",
            json!({"nodeType":"literal","literalType":"Integer","value":42}),
        ),
        (
            "1.5",
            json!({"nodeType":"literal","literalType":"Decimal","value":1.5}),
        ),
        (
            "true",
            json!({"nodeType":"literal","literalType":"Boolean","value":true}),
        ),
        (
            "\"x\"",
            json!({"nodeType":"literal","literalType":"String","value":"x"}),
        ),
    ];
    for (src, want) in cases {
        assert_eq!(to_pql_json(&parse(src).unwrap()), want, "{src}");
    }
}

#[test]
fn variables_in_scope_are_variable_references() {
    let e = parse("exists E from xEvent where (E.a = 1)").unwrap();
    let v = to_pql_json(&e);
    let clause = &v["clauses"][0];
    assert_eq!(clause["source"]["nodeType"], "fieldLookup");
    assert_eq!(
        clause["condition"]["params"][0]["object"],
        json!({"nodeType":"variableReference","name":"E"})
    );
}

#[test]
fn every_valid_expression_round_trips_through_json() {
    for src in super::valid::VALID {
        let e = parse(src).unwrap();
        let v = to_pql_json(&e);
        // and through text, as the conversion endpoint would store it
        let text = serde_json::to_string(&v).unwrap();
        let back: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(from_pql_json(&back).unwrap(), e, "{src}: {text}");
    }
}

#[test]
fn malformed_json_is_rejected() {
    for v in [
        json!(1),
        json!({"nodeType":"nope"}),
        json!({"nodeType":"literal","literalType":"Integer","value":"x"}),
        json!({"nodeType":"fnApply","fnName":"=","params":[]}),
        json!({"nodeType":"fieldLookup","fieldName":"a"}),
    ] {
        assert!(from_pql_json(&v).is_err(), "{v}");
    }
}
