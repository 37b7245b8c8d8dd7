//! Integration tests for the `pql` crate: valid and malformed expressions, the depth cap,
//! printer round trips (table and proptest) and the pql/json format.

mod pql {
    mod depth;
    mod invalid;
    mod json;
    mod proptests;
    mod valid;
}
