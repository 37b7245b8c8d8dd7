//! The rapport crate's one integration-test binary: every test goes through the real HTTP router.

mod common;
