//! The crate's one integration-test binary: each feature's tests live in `tests/xdm/`.

#[path = "xdm/common.rs"]
mod common;

#[path = "xdm/compose.rs"]
mod compose;
#[path = "xdm/lookup_export.rs"]
mod lookup_export;
#[path = "xdm/properties.rs"]
mod properties;
#[path = "xdm/tenant.rs"]
mod tenant;
#[path = "xdm/validate.rs"]
mod validate;
