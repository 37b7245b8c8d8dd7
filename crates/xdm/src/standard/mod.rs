//! The standard (Adobe-defined and Rapport-defined) field groups, built once and shared.

mod event;
mod profile;

use std::sync::OnceLock;

use crate::class::{identity_map_field, Class};
use crate::field::{Field, ObjectField};
use crate::FieldGroup;

/// Every standard field group id starts with this; the rest is the group's short name.
pub const STANDARD_ID_PREFIX: &str = "https://ns.adobe.com/xdm/context/";

/// All standard field groups, profile groups first.
pub fn standard_field_groups() -> &'static [FieldGroup] {
    static GROUPS: OnceLock<Vec<FieldGroup>> = OnceLock::new();
    GROUPS.get_or_init(|| {
        let mut groups = vec![identity_map_group(), audit_group()];
        groups.extend(profile::groups());
        groups.extend(event::groups());
        groups
    })
}

/// The standard field group with the given `$id`, or with the given short name
/// (`profile-person-details` for `https://ns.adobe.com/xdm/context/profile-person-details`).
pub fn standard_field_group(id: &str) -> Option<&'static FieldGroup> {
    let short_name = id.strip_prefix(STANDARD_ID_PREFIX).unwrap_or(id);
    standard_field_groups()
        .iter()
        .find(|group| group.id.strip_prefix(STANDARD_ID_PREFIX) == Some(short_name))
}

fn group(
    name: &str,
    title: &str,
    description: &str,
    classes: &[Class],
    root: ObjectField,
) -> FieldGroup {
    FieldGroup {
        id: format!("{STANDARD_ID_PREFIX}{name}"),
        title: title.to_string(),
        description: description.to_string(),
        intended_classes: classes.to_vec(),
        root,
        custom: false,
    }
}

/// The `identityMap` field on its own, for schemas that reference it as a field group.
fn identity_map_group() -> FieldGroup {
    group(
        "identitymap",
        "IdentityMap",
        "Identities of the subject keyed by identity namespace.",
        &Class::ALL,
        ObjectField::new().with("identityMap", identity_map_field()),
    )
}

fn audit_group() -> FieldGroup {
    let audit = ObjectField::new()
        .with("createdBy", Field::string().titled("Created by"))
        .with("createdDate", Field::date_time().titled("Created date"))
        .with("lastUpdatedBy", Field::string().titled("Last updated by"))
        .with(
            "lastUpdatedDate",
            Field::date_time().titled("Last updated date"),
        )
        .with(
            "lastActivityDate",
            Field::date_time().titled("Last activity date"),
        )
        .with(
            "lastReferencedDate",
            Field::date_time().titled("Last referenced date"),
        )
        .with(
            "lastViewedDate",
            Field::date_time().titled("Last viewed date"),
        )
        .with(
            "externalKey",
            Field::object(
                ObjectField::new().with("sourceKey", Field::string().titled("Source key")),
            )
            .titled("External key"),
        );
    group(
        "external-source-system-audit-details",
        "External Source System Audit Details",
        "Audit attributes of the record in the external system it came from.",
        &Class::ALL,
        ObjectField::new().with(
            "extSourceSystemAudit",
            Field::object(audit).titled("External source system audit"),
        ),
    )
}

/// An object with a single numeric `value`, XDM's "measure".
fn measure(title: &str) -> Field {
    Field::object(ObjectField::new().with("value", Field::number().titled("Value"))).titled(title)
}
