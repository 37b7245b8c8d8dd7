//! Parsing tenant field groups: both body shapes, every supported keyword, and every error.

use serde_json::{json, Value};
use xdm::{
    compose, lookup, parse_field_group, to_json_schema, validate, Class, Field, FieldType,
    ObjectField, SchemaError, StringFormat, StringRules, MAX_NESTING_DEPTH,
};

use crate::common::{group, one, violations};

const ID: &str = "https://ns.adobe.com/acme/mixins/loyalty-extras";

fn parse(body: &Value) -> Result<xdm::FieldGroup, SchemaError> {
    parse_field_group(body, "acme", ID.to_string())
}

fn error(body: &Value) -> String {
    parse(body).unwrap_err().to_string()
}

/// A body in the documented shape whose tenant object has `fields` as its properties.
fn body_with(fields: Value) -> Value {
    json!({
        "title": "Loyalty extras",
        "description": "Extra loyalty fields",
        "type": "object",
        "meta:intendedToExtend": ["https://ns.adobe.com/xdm/context/profile"],
        "definitions": {
            "customFields": {
                "properties": {
                    "_acme": {"type": "object", "properties": fields}
                }
            }
        },
        "allOf": [
            {"$ref": "#/definitions/customFields"},
            {"$ref": "https://ns.adobe.com/xdm/common/extensible.schema.json#/definitions/@context"}
        ]
    })
}

fn rich_body() -> Value {
    body_with(json!({
        "tier": {"title": "Tier", "type": "string", "enum": ["gold", "silver"]},
        "memberSince": {"type": "string", "format": "date"},
        "lastVisit": {"type": "string", "meta:xdmType": "date-time"},
        "contact": {"type": "string", "format": "email", "maxLength": 64, "minLength": 3},
        "site": {"type": "string", "format": "uri", "pattern": "^https:"},
        "visits": {"type": "integer", "minimum": 0, "maximum": 1000},
        "score": {"type": "number", "minimum": -1.5, "maximum": 1.5},
        "vip": {"type": "boolean", "description": "Very important"},
        "level": {"type": "integer", "meta:xdmType": "short"},
        "badges": {"type": "array", "items": {"type": "object", "required": ["code"],
                   "properties": {"code": {"type": "string"}, "earned": {"type": "string", "format": "date-time"}}}},
        "counters": {"type": "object", "meta:xdmType": "map", "additionalProperties": {"type": "integer"}},
        "flags": {"type": "object", "additionalProperties": {"type": "boolean"}}
    }))
}

#[test]
fn documented_shape_parses() {
    let parsed = parse(&rich_body()).unwrap();
    assert_eq!(parsed.id, ID);
    assert_eq!(parsed.title, "Loyalty extras");
    assert_eq!(parsed.description, "Extra loyalty fields");
    assert_eq!(parsed.intended_classes, vec![Class::Profile]);
    assert!(parsed.custom);
    let root = &parsed.root;
    assert_eq!(root.properties.keys().collect::<Vec<_>>(), ["_acme"]);

    let field = |path: &str| {
        lookup(root, path)
            .unwrap_or_else(|| panic!("missing {path}"))
            .clone()
    };
    assert_eq!(
        field("_acme.tier"),
        Field::enumeration(&["gold", "silver"]).titled("Tier")
    );
    assert_eq!(field("_acme.memberSince"), Field::date());
    assert_eq!(field("_acme.lastVisit"), Field::date_time());
    assert_eq!(
        field("_acme.contact"),
        Field::string_with(StringRules {
            format: Some(StringFormat::Email),
            max_length: Some(64),
            min_length: Some(3),
            ..StringRules::default()
        })
    );
    assert_eq!(
        field("_acme.site").ty,
        FieldType::String(StringRules {
            format: Some(StringFormat::Uri),
            pattern: Some("^https:".to_string()),
            ..StringRules::default()
        })
    );
    assert_eq!(
        field("_acme.visits"),
        Field::integer_range(Some(0), Some(1000))
    );
    assert_eq!(
        field("_acme.score"),
        Field::number_range(Some(-1.5), Some(1.5))
    );
    assert_eq!(
        field("_acme.vip"),
        Field::boolean().described("Very important")
    );
    assert_eq!(
        field("_acme.level"),
        Field::integer_range(Some(-32768), Some(32767))
    );
    let badge = ObjectField::new()
        .with_required("code", Field::string())
        .with("earned", Field::date_time());
    assert_eq!(field("_acme.badges"), Field::array(Field::object(badge)));
    assert_eq!(field("_acme.counters"), Field::map(Field::integer()));
    assert_eq!(field("_acme.flags"), Field::map(Field::boolean()));
}

#[test]
fn simple_shape_parses() {
    let body = json!({
        "title": "Simple",
        "properties": {"_acme": {"type": "object", "required": ["code"], "properties": {"code": {"type": "string"}}}}
    });
    let parsed = parse(&body).unwrap();
    assert_eq!(parsed.description, "");
    assert!(parsed.intended_classes.is_empty());
    assert!(parsed.is_intended_for(Class::ExperienceEvent));
    assert_eq!(
        parsed.root,
        ObjectField::new().with(
            "_acme",
            Field::object(ObjectField::new().with_required("code", Field::string()))
        )
    );
    let with_underscore = parse_field_group(&body, "_acme", ID.to_string()).unwrap();
    assert_eq!(with_underscore.root, parsed.root);
}

#[test]
fn definitions_without_all_of_are_all_used() {
    let body = json!({
        "title": "Two parts",
        "definitions": {
            "a": {"properties": {"_acme": {"type": "object", "properties": {"x": {"type": "string"}}}}},
            "b": {"properties": {"_acme": {"type": "object", "properties": {"y": {"type": "boolean"}}}}}
        }
    });
    let parsed = parse(&body).unwrap();
    assert!(lookup(&parsed.root, "_acme.x").is_some());
    assert!(lookup(&parsed.root, "_acme.y").is_some());
}

#[test]
fn tenant_group_composes_and_validates() {
    let tenant = parse(&rich_body()).unwrap();
    let tree = compose(Class::Profile, &[group("profile-person-details"), &tenant]).unwrap();
    let record = json!({
        "person": {"name": {"firstName": "Jane"}},
        "_acme": {"tier": "gold", "visits": 3, "badges": [{"code": "b1"}], "counters": {"logins": 4}}
    });
    assert_eq!(validate(&tree, &record), vec![]);
    let record = json!({"_acme": {"tier": "bronze", "badges": [{"earned": "2024-01-01T00:00:00Z"}], "counters": {"logins": "4"}}});
    assert_eq!(
        violations(&tree, &record),
        vec![
            ("/_acme/badges/0/code".to_string(), "required"),
            ("/_acme/counters/logins".to_string(), "type"),
            ("/_acme/tier".to_string(), "enum"),
        ]
    );
    assert_eq!(
        violations(&tree, &json!({"_acme": {"level": 40000}})),
        one("/_acme/level", "maximum")
    );

    let error = compose(Class::ExperienceEvent, &[&tenant]).unwrap_err();
    assert!(
        matches!(error, SchemaError::IncompatibleFieldGroup { .. }),
        "{error}"
    );
}

#[test]
fn export_then_parse_round_trips() {
    let tenant = parse(&rich_body()).unwrap();
    let exported = to_json_schema(&tenant.root);
    let body = json!({"title": "Again", "properties": exported["properties"].clone()});
    let again = parse(&body).unwrap();
    assert_eq!(again.root, tenant.root);
}

#[test]
fn field_outside_the_tenant_namespace_is_rejected() {
    let mut body = rich_body();
    body["definitions"]["customFields"]["properties"]["loyaltyTier"] = json!({"type": "string"});
    assert_eq!(
        parse(&body).unwrap_err(),
        SchemaError::OutsideTenantNamespace {
            path: "/definitions/customFields/properties/loyaltyTier".to_string(),
            property: "loyaltyTier".to_string(),
            namespace: "_acme".to_string(),
        }
    );
    let simple = json!({"title": "t", "properties": {"person": {"type": "object"}}});
    assert_eq!(
        error(&simple),
        "field \"person\" at /properties/person is outside the tenant namespace: every top-level field of a tenant field group must be under \"_acme\""
    );
    let other_tenant = json!({"title": "t", "properties": {"_globex": {"type": "object"}}});
    assert!(matches!(
        parse(&other_tenant),
        Err(SchemaError::OutsideTenantNamespace { .. })
    ));
}

#[test]
fn unknown_type_names_the_path() {
    let body = body_with(json!({"tier": {"type": "strng"}}));
    assert_eq!(
        error(&body),
        "unknown type \"strng\" at /definitions/customFields/properties/_acme/properties/tier/type: \
         supported types are string, integer, number, boolean, object and array"
    );
    let nested = body_with(json!({"list": {"type": "array", "items": {"type": "date"}}}));
    assert_eq!(
        parse(&nested).unwrap_err(),
        SchemaError::UnknownType {
            path: "/definitions/customFields/properties/_acme/properties/list/items/type"
                .to_string(),
            ty: "date".to_string(),
        }
    );
}

#[test]
fn unknown_format_names_the_path() {
    let body = body_with(json!({"ip": {"type": "string", "format": "ipv4"}}));
    assert_eq!(
        error(&body),
        "unsupported format \"ipv4\" at /definitions/customFields/properties/_acme/properties/ip/format: \
         supported formats are date-time, date, email and uri"
    );
}

/// A chain of `levels` nested objects starting with `_acme` and ending with a string.
fn nested_body(levels: usize) -> Value {
    let mut schema = json!({"type": "string"});
    for level in (2..=levels).rev() {
        schema = json!({"type": "object", "properties": {format!("l{level}"): schema}});
    }
    json!({"title": "Deep", "properties": {"_acme": schema}})
}

#[test]
fn nesting_is_limited() {
    assert!(parse(&nested_body(MAX_NESTING_DEPTH)).is_ok());
    let error = parse(&nested_body(MAX_NESTING_DEPTH + 1)).unwrap_err();
    let SchemaError::TooDeep { path, limit } = &error else {
        panic!("unexpected {error}");
    };
    assert_eq!(*limit, 16);
    assert!(path.ends_with("/properties/l17"), "{path}");
    assert!(
        error
            .to_string()
            .ends_with("/properties/l17 is nested more than 16 levels deep"),
        "{error}"
    );
}

#[test]
fn unsupported_class_is_rejected() {
    let mut body = rich_body();
    body["meta:intendedToExtend"] = json!([
        "https://ns.adobe.com/xdm/context/profile",
        "https://ns.adobe.com/xdm/context/account"
    ]);
    assert_eq!(
        parse(&body).unwrap_err(),
        SchemaError::UnknownClass {
            path: "/meta:intendedToExtend/1".to_string(),
            class: "https://ns.adobe.com/xdm/context/account".to_string(),
        }
    );
}

#[test]
fn invalid_bodies_name_the_path_and_rule() {
    let cases = [
        (json!([]), "invalid field group at #: expected a JSON object"),
        (json!({"properties": {}}), "invalid field group at /title: expected a non-empty string"),
        (
            json!({"title": "t", "type": "array", "properties": {}}),
            "invalid field group at /type: a field group must have type \"object\"",
        ),
        (
            json!({"title": "t", "definitions": {"a": {}}, "allOf": [{"$ref": "#/definitions/b"}]}),
            "invalid field group at /allOf/0/$ref: no definition named \"b\"",
        ),
        (
            json!({"title": "t", "properties": {"_acme": {"type": "string"}}}),
            "invalid field group at /properties/_acme: the tenant namespace field must be an object",
        ),
        (
            body_with(json!({"list": {"type": "array"}})),
            "invalid field group at /definitions/customFields/properties/_acme/properties/list: an array needs \"items\" describing its items",
        ),
        (
            body_with(json!({"m": {"type": "object", "meta:xdmType": "map"}})),
            "invalid field group at /definitions/customFields/properties/_acme/properties/m: a map needs \"additionalProperties\" describing its values",
        ),
        (
            body_with(json!({"n": {"type": "integer", "enum": [1, 2]}})),
            "invalid field group at /definitions/customFields/properties/_acme/properties/n/enum: enum is supported on string fields only",
        ),
        (
            body_with(json!({"s": {"type": "string", "minLength": 5, "maxLength": 2}})),
            "invalid field group at /definitions/customFields/properties/_acme/properties/s: minLength 5 is greater than maxLength 2",
        ),
        (
            body_with(json!({"s": {"type": "string", "maxLength": -1}})),
            "invalid field group at /definitions/customFields/properties/_acme/properties/s/maxLength: expected a non-negative integer",
        ),
        (
            body_with(json!({"s": {"type": "string", "meta:xdmType": "long"}})),
            "invalid field group at /definitions/customFields/properties/_acme/properties/s/meta:xdmType: meta:xdmType \"long\" does not fit type \"string\"",
        ),
        (
            body_with(json!({"s": {"$ref": "https://ns.adobe.com/xdm/context/person-name"}})),
            "invalid field group at /definitions/customFields/properties/_acme/properties/s/$ref: references are not supported in field schemas; describe the field inline",
        ),
        (
            body_with(json!({"s": {"title": "no type"}})),
            "invalid field group at /definitions/customFields/properties/_acme/properties/s: missing \"type\"",
        ),
        (
            body_with(json!({"a.b": {"type": "string"}})),
            "invalid field group at /definitions/customFields/properties/_acme/properties/a.b: field names must be non-empty and contain no \".\"",
        ),
        (
            json!({"title": "t", "properties": {"_acme": {"type": "object", "required": ["x"], "properties": {}}}}),
            "invalid field group at /properties/_acme/required/0: required field \"x\" is not among the properties",
        ),
        (
            body_with(json!({"n": {"type": "integer", "minimum": "zero"}})),
            "invalid field group at /definitions/customFields/properties/_acme/properties/n/minimum: expected an integer",
        ),
    ];
    for (body, expected) in cases {
        assert_eq!(error(&body), expected, "for body {body}");
    }
}

#[test]
fn bodies_without_fields_are_rejected() {
    for body in [
        json!({"title": "t"}),
        json!({"title": "t", "properties": {}}),
        json!({"title": "t", "definitions": {"a": {"type": "object"}}}),
    ] {
        assert_eq!(
            parse(&body).unwrap_err(),
            SchemaError::NoFields,
            "for body {body}"
        );
    }
}

#[test]
fn conflicting_definitions_inside_one_group_are_rejected() {
    let body = json!({
        "title": "Two parts",
        "definitions": {
            "a": {"properties": {"_acme": {"type": "object", "properties": {"x": {"type": "string"}}}}},
            "b": {"properties": {"_acme": {"type": "object", "properties": {"x": {"type": "boolean"}}}}}
        }
    });
    assert_eq!(
        error(&body),
        "conflicting definitions for field \"_acme.x\": one is a string, the other is a boolean"
    );
}

fn pattern_error(pattern: &str) -> String {
    error(&body_with(
        json!({"s": {"type": "string", "pattern": pattern}}),
    ))
}

#[test]
fn an_invalid_pattern_is_refused_naming_its_path() {
    assert_eq!(
        pattern_error("["),
        "invalid field group at /definitions/customFields/properties/_acme/properties/s/pattern: not a valid regular expression: unclosed character class"
    );
    let look_around = pattern_error("(?=a)b");
    assert!(
        look_around.starts_with("invalid field group at /definitions/customFields/properties/_acme/properties/s/pattern: not a valid regular expression: look-around"),
        "{look_around}"
    );
    assert_eq!(
        error(&body_with(json!({"s": {"type": "string", "pattern": 5}}))),
        "invalid field group at /definitions/customFields/properties/_acme/properties/s/pattern: expected a string"
    );
}

#[test]
fn a_pattern_longer_than_1000_characters_is_refused() {
    assert!(parse(&body_with(
        json!({"s": {"type": "string", "pattern": "a".repeat(1000)}})
    ))
    .is_ok());
    assert_eq!(
        pattern_error(&"a".repeat(1001)),
        "invalid field group at /definitions/customFields/properties/_acme/properties/s/pattern: a pattern may have at most 1000 characters, found 1001"
    );
}

#[test]
fn a_pattern_that_compiles_too_big_is_refused() {
    let error = pattern_error(r"\w{1000}\w{1000}\w{1000}");
    assert_eq!(
        error,
        "invalid field group at /definitions/customFields/properties/_acme/properties/s/pattern: the pattern compiles to more than 1024 KiB; simplify it"
    );
}

#[test]
fn a_parsed_pattern_is_enforced() {
    let tenant = parse(&rich_body()).unwrap();
    let tree = compose(Class::Profile, &[&tenant]).unwrap();
    assert!(validate(&tree, &json!({"_acme": {"site": "https://acme.example"}})).is_empty());
    assert_eq!(
        violations(&tree, &json!({"_acme": {"site": "http://acme.example"}})),
        one("/_acme/site", "pattern")
    );
}
