//! Composing a schema from a class and field groups, and the union of several schemas.
//!
//! Both use one merge rule: objects merge property by property (required names are united),
//! arrays merge their items and maps their values, and two leaves at the same path must be
//! identical apart from title and description. Anything else is a `SchemaError` naming the path.

use crate::class::{class_fields, Class};
use crate::field::{Field, FieldType, ObjectField, StringFormat, StringRules};
use crate::{FieldGroup, SchemaError};

/// The field tree of a schema of `class` made of `groups`.
pub fn compose(class: Class, groups: &[&FieldGroup]) -> Result<ObjectField, SchemaError> {
    let mut root = class_fields(class);
    for group in groups {
        if !group.is_intended_for(class) {
            let intended: Vec<&str> = group.intended_classes.iter().map(|c| c.id()).collect();
            return Err(SchemaError::IncompatibleFieldGroup {
                group: group.id.clone(),
                class: class.id().to_string(),
                intended: intended.join(", "),
            });
        }
        merge_object(&mut root, &group.root, "")?;
    }
    Ok(root)
}

/// One field tree holding every field of every tree.
pub fn union(trees: &[&ObjectField]) -> Result<ObjectField, SchemaError> {
    let mut root = ObjectField::default();
    for tree in trees {
        merge_object(&mut root, tree, "")?;
    }
    Ok(root)
}

/// Merges `incoming` into `target`; `path` is the dotted path of `target` ("" for the root).
pub(crate) fn merge_object(
    target: &mut ObjectField,
    incoming: &ObjectField,
    path: &str,
) -> Result<(), SchemaError> {
    for (name, field) in &incoming.properties {
        match target.properties.get_mut(name) {
            None => {
                target.properties.insert(name.clone(), field.clone());
            }
            Some(existing) => {
                let child_path = if path.is_empty() {
                    name.clone()
                } else {
                    format!("{path}.{name}")
                };
                merge_field(existing, field, &child_path)?;
            }
        }
    }
    target.required.extend(incoming.required.iter().cloned());
    Ok(())
}

fn merge_field(target: &mut Field, incoming: &Field, path: &str) -> Result<(), SchemaError> {
    if target.title.is_none() {
        target.title.clone_from(&incoming.title);
    }
    if target.description.is_none() {
        target.description.clone_from(&incoming.description);
    }
    match (&mut target.ty, &incoming.ty) {
        (FieldType::Object(target), FieldType::Object(incoming)) => {
            merge_object(target, incoming, path)
        }
        (FieldType::Array(target), FieldType::Array(incoming)) => {
            merge_field(target, incoming, &format!("{path}[]"))
        }
        (FieldType::Map(target), FieldType::Map(incoming)) => {
            merge_field(target, incoming, &format!("{path}.*"))
        }
        (existing, incoming) => {
            let existing_kind = describe_kind(existing);
            let incoming_kind = describe_kind(incoming);
            if existing_kind != incoming_kind {
                return Err(SchemaError::TypeConflict {
                    path: path.to_string(),
                    existing: existing_kind.to_string(),
                    incoming: incoming_kind.to_string(),
                });
            }
            match rule_difference(existing, incoming) {
                None => Ok(()),
                Some(difference) => Err(SchemaError::ConstraintConflict {
                    path: path.to_string(),
                    kind: existing_kind.to_string(),
                    difference,
                }),
            }
        }
    }
}

/// How a type is named in conflict messages.
fn describe_kind(ty: &FieldType) -> &'static str {
    match ty {
        FieldType::String(rules) => match rules.format {
            Some(format) => match format {
                StringFormat::DateTime => "a date-time string",
                StringFormat::Date => "a date string",
                StringFormat::Email => "an email string",
                StringFormat::Uri => "a uri string",
            },
            None => "a string",
        },
        FieldType::Integer { .. } => "an integer",
        FieldType::Number { .. } => "a number",
        FieldType::Boolean => "a boolean",
        FieldType::Object(_) => "an object",
        FieldType::Array(_) => "an array",
        FieldType::Map(_) => "a map",
    }
}

/// The first rule two leaves of the same kind disagree on, described for a message.
fn rule_difference(existing: &FieldType, incoming: &FieldType) -> Option<String> {
    match (existing, incoming) {
        (FieldType::String(a), FieldType::String(b)) => string_rule_difference(a, b),
        (
            FieldType::Integer {
                minimum: min_a,
                maximum: max_a,
            },
            FieldType::Integer {
                minimum: min_b,
                maximum: max_b,
            },
        ) => differ("minimum", min_a, min_b).or_else(|| differ("maximum", max_a, max_b)),
        (
            FieldType::Number {
                minimum: min_a,
                maximum: max_a,
            },
            FieldType::Number {
                minimum: min_b,
                maximum: max_b,
            },
        ) => differ("minimum", min_a, min_b).or_else(|| differ("maximum", max_a, max_b)),
        _ => None,
    }
}

fn string_rule_difference(a: &StringRules, b: &StringRules) -> Option<String> {
    let enum_text =
        |values: &Option<Vec<String>>| values.as_ref().map(|values| format!("{values:?}"));
    differ(
        "enum",
        &enum_text(&a.enum_values),
        &enum_text(&b.enum_values),
    )
    .or_else(|| differ("maxLength", &a.max_length, &b.max_length))
    .or_else(|| differ("minLength", &a.min_length, &b.min_length))
    .or_else(|| differ("pattern", &a.pattern, &b.pattern))
}

fn differ<T: PartialEq + std::fmt::Display>(
    rule: &str,
    a: &Option<T>,
    b: &Option<T>,
) -> Option<String> {
    if a == b {
        return None;
    }
    let show = |value: &Option<T>| match value {
        Some(value) => value.to_string(),
        None => "none".to_string(),
    };
    Some(format!("{rule} differs ({} vs {})", show(a), show(b)))
}
