//! The XDM schema subset Rapport understands: classes, field groups, composition and validation.
//!
//! Everything here is synchronous and storage-free. A schema is a [`Class`] plus
//! [`FieldGroup`]s; [`compose`] deep-merges them into one [`ObjectField`] tree, [`union`] merges
//! the trees of several schemas, [`to_json_schema`] exports a tree, [`lookup`] finds a field by
//! path and [`validate`] checks a JSON record against a tree. Standard field groups come from
//! [`standard_field_groups`]; tenant field groups are parsed from the JSON Schema a client
//! posts with [`parse_field_group`].

mod class;
mod compose;
mod error;
mod field;
mod json_schema;
mod lookup;
mod standard;
mod tenant;
mod validate;

pub use class::{class_fields, Class};
pub use compose::{compose, union};
pub use error::SchemaError;
pub use field::{
    compile_pattern, Field, FieldType, ObjectField, StringFormat, StringRules, MAX_PATTERN_LENGTH,
};
pub use json_schema::to_json_schema;
pub use lookup::lookup;
pub use standard::{standard_field_group, standard_field_groups, STANDARD_ID_PREFIX};
pub use tenant::{parse_field_group, MAX_NESTING_DEPTH};
pub use validate::{validate, Violation, MAX_VIOLATIONS};

/// A reusable set of fields that extends one or more classes.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldGroup {
    /// `https://ns.adobe.com/xdm/context/<name>` for standard groups,
    /// `https://ns.adobe.com/<tenant>/mixins/<name>` for tenant groups.
    pub id: String,
    pub title: String,
    pub description: String,
    /// The classes the group may extend; empty means any class.
    pub intended_classes: Vec<Class>,
    /// The fields the group adds, from the schema root.
    pub root: ObjectField,
    /// Whether a tenant defined the group.
    pub custom: bool,
}

impl FieldGroup {
    /// Whether the group may be added to a schema of `class`.
    pub fn is_intended_for(&self, class: Class) -> bool {
        self.intended_classes.is_empty() || self.intended_classes.contains(&class)
    }
}
