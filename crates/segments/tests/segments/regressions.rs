//! Inputs the fuzz target (`crates/pql/fuzz`, target `evaluate`) found, kept so they stay fixed.

use super::fixtures::{def, empty, now, vip};

/// `null` (and any untyped value used as the condition) compiled to a truthiness test whose
/// evaluation recursed until the stack overflowed: in the writer that aborts the server.
#[test]
fn untyped_values_as_conditions_evaluate_without_recursing() {
    for pql in [
        "null",
        "person.name.firstName",
        "identityMap.get(\"Email\")",
        "segmentMembership",
    ] {
        let Ok(definition) = super::fixtures::compile(pql) else {
            continue;
        };
        for fixture in [vip(), empty()] {
            let outcome = fixture.eval(&definition, now());
            fixture.with(|subject| {
                let _ = definition.explain(subject, now());
            });
            if pql == "null" {
                assert!(!outcome.qualified, "null never qualifies");
            }
        }
    }
    // The input the fuzzer found compiles, and evaluates to false.
    assert!(!vip().eval(&def("null"), now()).qualified);
}
