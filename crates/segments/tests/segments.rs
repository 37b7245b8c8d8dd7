//! Integration tests for the `segments` crate: the table of expressions over fixture customers,
//! compile errors with positions, when results change as time passes (with a property test),
//! dependencies, explanations, a workload of 50 definitions over 100 events, the server
//! benchmark's mix, and evaluation sharing work across definitions.

mod segments {
    mod deps;
    mod errors;
    mod explain;
    mod fixtures;
    mod next_change;
    mod perf;
    mod regressions;
    mod server_mix;
    mod shared;
    mod table;
    mod workload;
}
