//! `lookup` by dotted path and JSON pointer, and the JSON Schema export.

use serde_json::json;
use xdm::{lookup, to_json_schema, Class, Field, FieldType, ObjectField, StringFormat};

use crate::common::{full_tree, tree};

#[test]
fn lookup_by_dotted_path_and_pointer() {
    let profile = full_tree(Class::Profile);
    let by_dots = lookup(&profile, "person.name.firstName").unwrap();
    let by_pointer = lookup(&profile, "/person/name/firstName").unwrap();
    assert_eq!(by_dots, by_pointer);
    assert_eq!(by_dots.title.as_deref(), Some("First name"));
    assert!(matches!(
        lookup(&profile, "person").unwrap().ty,
        FieldType::Object(_)
    ));
    assert_eq!(
        lookup(&profile, "person.birthDate").unwrap().ty,
        Field::date().ty
    );
}

#[test]
fn lookup_misses() {
    let profile = full_tree(Class::Profile);
    for path in [
        "",
        "/",
        "person.",
        "person..name",
        "nobody",
        "person.name.firstName.more",
        "_id.x",
    ] {
        assert_eq!(lookup(&profile, path), None, "{path:?}");
    }
}

#[test]
fn lookup_through_arrays() {
    let event = full_tree(Class::ExperienceEvent);
    let sku = lookup(&event, "productListItems.SKU").unwrap();
    assert_eq!(sku.title.as_deref(), Some("SKU"));
    assert_eq!(lookup(&event, "/productListItems/0/SKU"), Some(sku));
    assert_eq!(lookup(&event, "/productListItems/SKU"), Some(sku));
    assert_eq!(
        lookup(&event, "productListItems.productCategories.categoryName")
            .unwrap()
            .title
            .as_deref(),
        Some("Category name")
    );
    assert!(matches!(
        lookup(&event, "productListItems").unwrap().ty,
        FieldType::Array(_)
    ));
    assert!(matches!(
        lookup(&event, "/productListItems/3").unwrap().ty,
        FieldType::Object(_)
    ));
    assert!(matches!(
        lookup(&event, "commerce.order.payments.paymentAmount")
            .unwrap()
            .ty,
        FieldType::Number { .. }
    ));
}

#[test]
fn lookup_through_maps() {
    let profile = full_tree(Class::Profile);
    let id = lookup(&profile, "identityMap.ECID.id").unwrap();
    assert_eq!(id.title.as_deref(), Some("Identifier"));
    assert_eq!(lookup(&profile, "/identityMap/Email/0/id"), Some(id));
    assert!(matches!(
        lookup(&profile, "identityMap.ECID").unwrap().ty,
        FieldType::Array(_)
    ));
    let status = lookup(&profile, "segmentMembership.ups.seg-1.status").unwrap();
    assert!(
        matches!(&status.ty, FieldType::String(rules) if rules.enum_values.as_ref().unwrap().len() == 3)
    );
    assert!(lookup(&profile, "consents.idSpecific.ECID.123.adID.val").is_some());
    assert!(lookup(
        &profile,
        "/consents/marketing/email/subscriptions/a~1b/subscribers/x@y.z/time"
    )
    .is_some());
}

#[test]
fn json_schema_export_of_an_event() {
    let event = tree(
        Class::ExperienceEvent,
        &[
            "experienceevent-product-list-items",
            "experienceevent-support-interactions",
        ],
    );
    let schema = to_json_schema(&event);
    assert_eq!(schema["type"], "object");
    assert_eq!(schema["required"], json!(["_id", "timestamp"]));
    let properties = &schema["properties"];
    assert_eq!(
        properties["timestamp"],
        json!({"title": "Timestamp", "description": "When the event occurred.", "type": "string",
               "meta:xdmType": "date-time", "format": "date-time"})
    );
    assert_eq!(properties["_id"]["meta:xdmType"], "string");
    let items = &properties["productListItems"];
    assert_eq!(items["type"], "array");
    assert_eq!(items["meta:xdmType"], "array");
    assert_eq!(
        items["items"]["properties"]["quantity"],
        json!({"title": "Quantity", "type": "integer", "meta:xdmType": "long", "minimum": 0})
    );
    assert_eq!(
        items["items"]["properties"]["priceTotal"]["meta:xdmType"],
        "number"
    );
    let support = &properties["support"]["properties"];
    assert_eq!(support["satisfaction"]["maximum"], 5);
    assert_eq!(support["notes"]["maxLength"], 4000);
    assert_eq!(
        support["outcome"]["enum"],
        json!([
            "resolved",
            "escalated",
            "unresolved",
            "callback_scheduled",
            "transferred"
        ])
    );
    let identity_map = &properties["identityMap"];
    assert_eq!(identity_map["type"], "object");
    assert_eq!(identity_map["meta:xdmType"], "map");
    let identity = &identity_map["additionalProperties"]["items"];
    assert_eq!(identity["required"], json!(["id"]));
    assert_eq!(identity["properties"]["primary"]["meta:xdmType"], "boolean");
}

#[test]
fn json_schema_export_of_a_profile() {
    let profile = tree(
        Class::Profile,
        &["profile-person-details", "profile-personal-details"],
    );
    let schema = to_json_schema(&profile);
    assert!(
        schema.get("required").is_none(),
        "no required fields, no required keyword"
    );
    let person = &schema["properties"]["person"];
    assert_eq!(person["meta:xdmType"], "object");
    assert_eq!(person["properties"]["birthDate"]["meta:xdmType"], "date");
    assert_eq!(person["properties"]["birthDate"]["format"], "date");
    assert_eq!(
        person["properties"]["name"]["properties"]["firstName"]["type"],
        "string"
    );
    let email = &schema["properties"]["personalEmail"]["properties"]["address"];
    assert_eq!(email["format"], "email");
    assert_eq!(email["meta:xdmType"], "string");
    let code = &schema["properties"]["homeAddress"]["properties"]["countryCode"];
    assert_eq!(
        (code["minLength"].clone(), code["maxLength"].clone()),
        (json!(2), json!(2))
    );
}

#[test]
fn json_schema_export_of_handmade_fields() {
    let root = ObjectField::new()
        .with_required("score", Field::number_range(Some(-1.5), None))
        .with("tags", Field::map(Field::boolean()))
        .with(
            "site",
            Field::formatted(StringFormat::Uri).described("Home page"),
        );
    assert_eq!(
        to_json_schema(&root),
        json!({
            "type": "object",
            "meta:xdmType": "object",
            "required": ["score"],
            "properties": {
                "score": {"type": "number", "meta:xdmType": "number", "minimum": -1.5},
                "tags": {"type": "object", "meta:xdmType": "map",
                         "additionalProperties": {"type": "boolean", "meta:xdmType": "boolean"}},
                "site": {"description": "Home page", "type": "string", "meta:xdmType": "string", "format": "uri"}
            }
        })
    );
}
