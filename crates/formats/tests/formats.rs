//! The crate's one integration-test binary: each format's tests live in `tests/formats/`.

#[path = "formats/common.rs"]
mod common;

#[path = "formats/compression.rs"]
mod compression;
#[path = "formats/csv.rs"]
mod csv;
#[path = "formats/jsonl.rs"]
mod jsonl;
#[path = "formats/multiline.rs"]
mod multiline;
#[path = "formats/parquet.rs"]
mod parquet;
