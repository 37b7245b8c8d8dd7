//! `SchemaError`: why a field group could not be parsed or a schema could not be composed.

/// An error in a schema definition.
///
/// Paths come in two forms. Errors about a field group body name a JSON pointer into that body
/// (`/definitions/custom/properties/_acme/type`, `#` for the body itself). Errors about
/// composition name the dotted field path (`person.birthDate`), where `[]` stands for the items
/// of an array and `.*` for the values of a map.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SchemaError {
    #[error("invalid field group at {}: {reason}", shown(.path))]
    InvalidBody { path: String, reason: String },

    #[error(
        "unknown type {ty:?} at {}: supported types are string, integer, number, boolean, object and array",
        shown(.path)
    )]
    UnknownType { path: String, ty: String },

    #[error(
        "unsupported format {format:?} at {}: supported formats are date-time, date, email and uri",
        shown(.path)
    )]
    UnknownFormat { path: String, format: String },

    #[error(
        "field {property:?} at {} is outside the tenant namespace: every top-level field of a tenant field group must be under {namespace:?}",
        shown(.path)
    )]
    OutsideTenantNamespace {
        path: String,
        property: String,
        namespace: String,
    },

    #[error("field at {} is nested more than {limit} levels deep", shown(.path))]
    TooDeep { path: String, limit: usize },

    #[error("field group declares no fields: expected \"properties\", or \"definitions\" whose entries have \"properties\"")]
    NoFields,

    #[error(
        "unsupported class {class:?} at {}: expected https://ns.adobe.com/xdm/context/profile or https://ns.adobe.com/xdm/context/experienceevent",
        shown(.path)
    )]
    UnknownClass { path: String, class: String },

    #[error("field group {group:?} cannot extend class {class}: it is intended for {intended}")]
    IncompatibleFieldGroup {
        group: String,
        class: String,
        intended: String,
    },

    #[error(
        "conflicting definitions for field {path:?}: one is {existing}, the other is {incoming}"
    )]
    TypeConflict {
        path: String,
        existing: String,
        incoming: String,
    },

    #[error("conflicting definitions for field {path:?}: both are {kind} but {difference}")]
    ConstraintConflict {
        path: String,
        kind: String,
        difference: String,
    },
}

fn shown(pointer: &str) -> &str {
    if pointer.is_empty() {
        "#"
    } else {
        pointer
    }
}
