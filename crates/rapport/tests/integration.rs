//! The rapport crate's integration tests. Every feature is a module of this one root, so cargo
//! builds and links a single test binary instead of one per file, which keeps builds short.
//!
//! Every test goes through the real HTTP router over a temporary data directory (`common`),
//! except the crash test, which drives the real `rapport` binary over TCP.

mod access;
mod audit_log;
mod catalog_effects;
mod cli_ingest;
mod common;
mod computed;
mod consent;
mod console;
mod console_audit;
mod console_signin;

mod bad_input;
mod batch_lookup;
mod batches;
mod crash_safety;
mod delete;
mod demo;
mod empty_bodies;
mod end_to_end;
mod events_paging;
mod guardrails;
mod identity_api;
mod labels;
mod lookup_validation;
mod merge_policies;
mod models;
mod namespaces;
mod privacy_api;
mod restart;
mod sandboxes;
mod schema_registry;
mod segments;
mod signin;
mod stitching;
mod streaming;
mod tls;
mod unique_namespace;
