//! Helpers shared by the test modules: standard groups by name, composed trees, short results.

use serde_json::Value;
use xdm::{
    compose, standard_field_group, standard_field_groups, validate, Class, FieldGroup, ObjectField,
};

pub fn group(name: &str) -> &'static FieldGroup {
    standard_field_group(name).unwrap_or_else(|| panic!("no standard field group {name}"))
}

/// The class composed with the named standard groups.
pub fn tree(class: Class, names: &[&str]) -> ObjectField {
    let groups: Vec<&FieldGroup> = names.iter().map(|name| group(name)).collect();
    compose(class, &groups).expect("standard groups compose")
}

/// The class composed with every standard group intended for it.
pub fn full_tree(class: Class) -> ObjectField {
    let groups: Vec<&FieldGroup> = standard_field_groups()
        .iter()
        .filter(|group| group.is_intended_for(class))
        .collect();
    compose(class, &groups).expect("all standard groups of a class compose")
}

/// `(pointer, keyword)` of every violation.
pub fn violations(tree: &ObjectField, record: &Value) -> Vec<(String, &'static str)> {
    validate(tree, record)
        .into_iter()
        .map(|violation| (violation.pointer, violation.keyword))
        .collect()
}

pub fn one(pointer: &str, keyword: &'static str) -> Vec<(String, &'static str)> {
    vec![(pointer.to_string(), keyword)]
}
