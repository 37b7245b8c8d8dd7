//! The engine crate's one integration-test binary: the identity graph held against a simple
//! model, merge policies, computed attributes, forwarding, and privacy jobs and work orders.

mod computed_model;
mod forwarding;
mod identity_model;
mod merge_model;
mod privacy;
