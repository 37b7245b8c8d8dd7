//! Classes, standard field groups, composition and union.

use std::collections::BTreeSet;

use xdm::{
    class_fields, compose, lookup, standard_field_group, standard_field_groups, union, Class,
    Field, FieldGroup, FieldType, ObjectField, SchemaError, STANDARD_ID_PREFIX,
};

use crate::common::{full_tree, group, tree};

fn custom_group(root: ObjectField) -> FieldGroup {
    FieldGroup {
        id: "https://ns.adobe.com/acme/mixins/test".to_string(),
        title: "Test".to_string(),
        description: String::new(),
        intended_classes: vec![Class::Profile],
        root,
        custom: true,
    }
}

#[test]
fn class_ids_names_and_titles() {
    assert_eq!(
        Class::Profile.id(),
        "https://ns.adobe.com/xdm/context/profile"
    );
    assert_eq!(
        Class::ExperienceEvent.id(),
        "https://ns.adobe.com/xdm/context/experienceevent"
    );
    assert_eq!(Class::Profile.ups_name(), "_xdm.context.profile");
    assert_eq!(
        Class::ExperienceEvent.ups_name(),
        "_xdm.context.experienceevent"
    );
    assert_eq!(Class::Profile.title(), "XDM Individual Profile");
    assert_eq!(Class::ExperienceEvent.title(), "XDM ExperienceEvent");
    for class in Class::ALL {
        assert_eq!(Class::from_id(class.id()), Some(class));
        assert_eq!(Class::from_id(class.ups_name()), Some(class));
    }
    assert_eq!(
        Class::from_id("https://ns.adobe.com/xdm/context/account"),
        None
    );
}

#[test]
fn class_fields_match_the_classes() {
    let profile = class_fields(Class::Profile);
    let names: Vec<&str> = profile.properties.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        [
            "_id",
            "createdByBatchID",
            "identityMap",
            "modifiedByBatchID",
            "repositoryCreatedBy",
            "repositoryLastModifiedBy"
        ]
    );
    assert!(profile.required.is_empty());

    let event = class_fields(Class::ExperienceEvent);
    let required: Vec<&str> = event.required.iter().map(String::as_str).collect();
    assert_eq!(required, ["_id", "timestamp"]);
    assert_eq!(
        event.properties["timestamp"],
        Field::date_time()
            .titled("Timestamp")
            .described("When the event occurred.")
    );
    assert!(matches!(
        event.properties["identityMap"].ty,
        FieldType::Map(_)
    ));
}

#[test]
fn standard_groups_are_unique_and_findable() {
    let groups = standard_field_groups();
    let ids: BTreeSet<&str> = groups.iter().map(|group| group.id.as_str()).collect();
    assert_eq!(ids.len(), groups.len());
    for group in groups {
        assert!(group.id.starts_with(STANDARD_ID_PREFIX), "{}", group.id);
        assert!(!group.custom);
        assert!(!group.title.is_empty() && !group.description.is_empty());
        assert!(!group.intended_classes.is_empty());
        assert_eq!(standard_field_group(&group.id), Some(group));
    }
    let names = [
        "profile-person-details",
        "profile-personal-details",
        "profile-work-details",
        "profile-consents",
        "profile-loyalty-details",
        "external-source-system-audit-details",
        "profile-segmentation",
        "profile-test-details",
        "experienceevent-commerce",
        "experienceevent-product-list-items",
        "experienceevent-web",
        "experienceevent-environment-details",
        "experienceevent-marketing",
        "experienceevent-support-interactions",
        "experienceevent-place-context",
    ];
    for name in names {
        let by_name = group(name);
        assert_eq!(by_name.id, format!("{STANDARD_ID_PREFIX}{name}"));
    }
    assert_eq!(standard_field_group("profile-unknown"), None);
    let audit = group("external-source-system-audit-details");
    assert!(audit.is_intended_for(Class::Profile) && audit.is_intended_for(Class::ExperienceEvent));
}

#[test]
fn profile_composes_with_groups() {
    let profile = tree(
        Class::Profile,
        &[
            "profile-person-details",
            "profile-personal-details",
            "profile-consents",
        ],
    );
    for path in [
        "_id",
        "identityMap",
        "person.name.firstName",
        "person.birthDate",
        "personalEmail.address",
        "homeAddress.countryCode",
        "consents.marketing.email.subscriptions",
        "consents.metadata.time",
    ] {
        assert!(lookup(&profile, path).is_some(), "missing {path}");
    }
    assert!(lookup(&profile, "workEmail").is_none());
}

#[test]
fn event_composes_with_groups() {
    let event = tree(
        Class::ExperienceEvent,
        &[
            "experienceevent-commerce",
            "experienceevent-product-list-items",
            "experienceevent-web",
            "external-source-system-audit-details",
        ],
    );
    for path in [
        "timestamp",
        "commerce.order.priceTotal",
        "commerce.purchases.value",
        "productListItems.quantity",
        "web.webPageDetails.URL",
        "extSourceSystemAudit.externalKey.sourceKey",
    ] {
        assert!(lookup(&event, path).is_some(), "missing {path}");
    }
    assert_eq!(
        event.required,
        BTreeSet::from(["_id".to_string(), "timestamp".to_string()])
    );
}

#[test]
fn every_standard_group_composes_with_its_classes() {
    let profile = full_tree(Class::Profile);
    assert!(lookup(&profile, "segmentMembership").is_some());
    assert!(lookup(&profile, "testProfile").is_some());
    let event = full_tree(Class::ExperienceEvent);
    assert!(lookup(&event, "support.satisfaction").is_some());
    assert!(lookup(&event, "placeContext.geo._schema.latitude").is_some());
}

#[test]
fn composing_the_same_group_twice_changes_nothing() {
    let once = tree(Class::Profile, &["profile-person-details"]);
    let twice = tree(
        Class::Profile,
        &["profile-person-details", "profile-person-details"],
    );
    assert_eq!(once, twice);
}

#[test]
fn group_for_another_class_is_rejected() {
    let error = compose(Class::ExperienceEvent, &[group("profile-person-details")]).unwrap_err();
    assert_eq!(
        error.to_string(),
        "field group \"https://ns.adobe.com/xdm/context/profile-person-details\" cannot extend class \
         https://ns.adobe.com/xdm/context/experienceevent: it is intended for https://ns.adobe.com/xdm/context/profile"
    );
}

#[test]
fn conflicting_types_name_the_path() {
    let person_is_text = custom_group(ObjectField::new().with("person", Field::string()));
    let error = compose(
        Class::Profile,
        &[group("profile-person-details"), &person_is_text],
    )
    .unwrap_err();
    assert_eq!(
        error.to_string(),
        "conflicting definitions for field \"person\": one is an object, the other is a string"
    );

    let birth_date_is_number = custom_group(ObjectField::new().with(
        "person",
        Field::object(ObjectField::new().with("birthDate", Field::integer())),
    ));
    let error = compose(
        Class::Profile,
        &[group("profile-person-details"), &birth_date_is_number],
    )
    .unwrap_err();
    assert_eq!(
        error,
        SchemaError::TypeConflict {
            path: "person.birthDate".to_string(),
            existing: "a date string".to_string(),
            incoming: "an integer".to_string(),
        }
    );
}

#[test]
fn conflicting_constraints_name_the_path_and_rule() {
    let other_gender = custom_group(ObjectField::new().with(
        "person",
        Field::object(
            ObjectField::new().with("birthYear", Field::integer_range(Some(1800), Some(2100))),
        ),
    ));
    let error = compose(
        Class::Profile,
        &[group("profile-person-details"), &other_gender],
    )
    .unwrap_err();
    assert_eq!(
        error.to_string(),
        "conflicting definitions for field \"person.birthYear\": both are an integer but minimum differs (1900 vs 1800)"
    );
}

#[test]
fn conflicts_inside_arrays_and_maps_name_the_item_path() {
    let quantity_as_text = FieldGroup {
        intended_classes: vec![Class::ExperienceEvent],
        ..custom_group(ObjectField::new().with(
            "productListItems",
            Field::array(Field::object(
                ObjectField::new().with("quantity", Field::string()),
            )),
        ))
    };
    let error = compose(
        Class::ExperienceEvent,
        &[
            group("experienceevent-product-list-items"),
            &quantity_as_text,
        ],
    )
    .unwrap_err();
    assert!(
        matches!(&error, SchemaError::TypeConflict { path, .. } if path == "productListItems[].quantity"),
        "{error}"
    );

    let identity_as_text =
        custom_group(ObjectField::new().with("identityMap", Field::map(Field::string())));
    let error = compose(Class::Profile, &[&identity_as_text]).unwrap_err();
    assert!(
        matches!(&error, SchemaError::TypeConflict { path, .. } if path == "identityMap.*"),
        "{error}"
    );
}

#[test]
fn union_merges_schemas_of_a_class() {
    let first = tree(Class::Profile, &["profile-person-details"]);
    let second = tree(
        Class::Profile,
        &["profile-personal-details", "profile-loyalty-details"],
    );
    let merged = union(&[&first, &second]).unwrap();
    assert!(lookup(&merged, "person.name.lastName").is_some());
    assert!(lookup(&merged, "homeAddress.city").is_some());
    assert!(lookup(&merged, "loyalty.points").is_some());
    assert_eq!(union(&[&first]).unwrap(), first);
    assert_eq!(union(&[]).unwrap(), ObjectField::default());
}

#[test]
fn union_reports_conflicts() {
    let first = tree(Class::Profile, &["profile-loyalty-details"]);
    let second = ObjectField::new().with(
        "loyalty",
        Field::object(ObjectField::new().with("points", Field::string())),
    );
    let error = union(&[&first, &second]).unwrap_err();
    assert_eq!(
        error.to_string(),
        "conflicting definitions for field \"loyalty.points\": one is a number, the other is a string"
    );
}
