//! Validation of records against composed trees: every keyword, with exact pointers.

use serde_json::{json, Value};
use xdm::{validate, Class, Field, ObjectField, StringRules, Violation, MAX_VIOLATIONS};

use crate::common::{full_tree, one, violations};

fn profile() -> ObjectField {
    full_tree(Class::Profile)
}

fn event() -> ObjectField {
    full_tree(Class::ExperienceEvent)
}

fn messages(tree: &ObjectField, record: &Value) -> Vec<String> {
    validate(tree, record)
        .iter()
        .map(Violation::to_string)
        .collect()
}

fn valid_event() -> Value {
    json!({"_id": "e1", "timestamp": "2024-05-01T10:00:00Z"})
}

#[test]
fn a_full_profile_record_is_valid() {
    let record = json!({
        "_id": "p1",
        "identityMap": {
            "ECID": [{"id": "83238819066235616291057085344313877718", "authenticatedState": "ambiguous", "primary": true}],
            "Email": [{"id": "jane@example.com", "authenticatedState": "authenticated", "primary": false}]
        },
        "person": {
            "name": {"firstName": "Jane", "lastName": "Doe", "courtesyTitle": "Dr"},
            "birthDate": "1990-12-31",
            "birthYear": 1990,
            "gender": "female"
        },
        "personalEmail": {"address": "jane@example.com", "primary": true, "status": "active"},
        "mobilePhone": {"number": "+1 555 0100", "primary": true},
        "homeAddress": {"city": "Lyon", "countryCode": "FR", "primary": true},
        "workEmail": {"address": "jane@corp.example"},
        "consents": {
            "collect": {"val": "y"},
            "share": {"val": "y"},
            "personalize": {"content": {"val": "y"}},
            "marketing": {
                "preferred": "email",
                "any": {"val": "u"},
                "email": {"val": "n", "reason": "Too Frequent", "time": "2020-09-30T01:02:33+00:00",
                          "subscriptions": {"daily-mail": {"val": "y", "type": "paid",
                             "subscribers": {"john@xyz.com": {"time": "2019-01-01T15:52:25+00:00", "source": "website"}}}}},
                "push": {"val": "y"},
                "sms": {"val": "y"}
            },
            "idSpecific": {
                "ECID": {"37784337855396895622558625508046772577": {"adID": {"val": "n"}, "marketing": {"push": {"val": "n"}}}},
                "email": {"john@xyz.com": {"marketing": {"email": {"val": "y"}}}}
            },
            "metadata": {"time": "2019-01-01T15:52:25+00:00"}
        },
        "loyalty": {"loyaltyID": ["L1"], "points": 120.5, "lifetimePoints": 900, "joinDate": "2020-01-01T00:00:00Z"},
        "segmentMembership": {"ups": {"seg-1": {"status": "realized", "lastQualificationTime": "2024-01-01T00:00:00Z"}}},
        "extSourceSystemAudit": {"createdDate": "2024-01-01T00:00:00.123+02:00", "externalKey": {"sourceKey": "crm-1"}},
        "testProfile": false,
        "preferredLanguage": "fr-FR"
    });
    assert_eq!(validate(&profile(), &record), vec![]);
}

#[test]
fn a_full_event_record_is_valid() {
    let record = json!({
        "_id": "e1",
        "timestamp": "2024-05-01T10:00:00Z",
        "eventType": "commerce.purchases",
        "identityMap": {"Email": [{"id": "jane@example.com"}]},
        "commerce": {
            "order": {"purchaseID": "o1", "priceTotal": 42, "currencyCode": "EUR",
                      "payments": [{"paymentType": "credit_card", "paymentAmount": 42.0}]},
            "purchases": {"value": 1}
        },
        "productListItems": [
            {"SKU": "A", "quantity": 2, "priceTotal": 20.0, "productCategories": [{"categoryID": "c1"}]},
            {"SKU": "B", "quantity": 0}
        ],
        "web": {"webPageDetails": {"URL": "https://shop.example/cart", "isHomePage": false, "pageViews": {"value": 1}},
                "webInteraction": {"URL": "/checkout"}},
        "environment": {"browserDetails": {"name": "Firefox"}},
        "device": {"type": "mobile"},
        "marketing": {"channel": "email", "campaignID": "c-9"},
        "directMarketing": {"opens": {"value": 1}},
        "support": {"channel": "call", "outcome": "resolved", "satisfaction": 5, "durationSeconds": 300},
        "placeContext": {"localTime": "2024-05-01T12:00:00+02:00", "geo": {"_schema": {"latitude": 45.76, "longitude": 4.83}}}
    });
    assert_eq!(validate(&event(), &record), vec![]);
}

#[test]
fn bad_date_is_a_format_violation() {
    let record = json!({"person": {"birthDate": "31/12/1990"}});
    assert_eq!(
        validate(&profile(), &record),
        vec![Violation {
            pointer: "/person/birthDate".to_string(),
            keyword: "format",
            message: "expected a string in date format YYYY-MM-DD, found \"31/12/1990\""
                .to_string(),
        }]
    );
    let impossible = json!({"person": {"birthDate": "1990-02-30"}});
    assert_eq!(
        violations(&profile(), &impossible),
        one("/person/birthDate", "format")
    );
}

#[test]
fn date_time_email_and_uri_formats_are_checked() {
    let record = json!({
        "personalEmail": {"address": "jane at example.com"},
        "workEmail": {"address": "a@b@c"},
        "loyalty": {"joinDate": "2024-01-01 10:00"},
        "extSourceSystemAudit": {"createdDate": "2024-01-01T10:00:00"}
    });
    assert_eq!(
        violations(&profile(), &record),
        vec![
            ("/extSourceSystemAudit/createdDate".to_string(), "format"),
            ("/loyalty/joinDate".to_string(), "format"),
            ("/personalEmail/address".to_string(), "format"),
            ("/workEmail/address".to_string(), "format"),
        ]
    );
    let event_record = json!({
        "_id": "e", "timestamp": "yesterday",
        "web": {"webPageDetails": {"URL": "shop.example/cart"}, "webReferrer": {"URL": "android-app://x"}}
    });
    assert_eq!(
        messages(&event(), &event_record),
        [
            "/timestamp: expected a string in date-time format (RFC 3339, e.g. 2024-01-31T12:00:00Z), found \"yesterday\"",
            "/web/webPageDetails/URL: expected a uri starting with a scheme and a colon (e.g. https:), found \"shop.example/cart\"",
        ]
    );
    assert_eq!(
        messages(&profile(), &json!({"personalEmail": {"address": "@example.com"}})),
        ["/personalEmail/address: expected an email address (one @ with text on both sides and no spaces), found \"@example.com\""]
    );
}

#[test]
fn unknown_fields_are_rejected() {
    let record = json!({"person": {"name": {"firstname": "Jane"}}, "nickname": "J"});
    assert_eq!(
        messages(&profile(), &record),
        [
            "/nickname: unknown field \"nickname\": the schema has no such field",
            "/person/name/firstname: unknown field \"firstname\": the schema has no such field (did you mean \"firstName\"?)",
        ]
    );
    assert_eq!(
        violations(&profile(), &record)[0],
        ("/nickname".to_string(), "additionalProperties")
    );
}

#[test]
fn event_requires_id_and_timestamp() {
    assert_eq!(
        violations(
            &event(),
            &json!({"eventType": "web.webpagedetails.pageViews"})
        ),
        vec![
            ("/_id".to_string(), "required"),
            ("/timestamp".to_string(), "required")
        ]
    );
    assert_eq!(
        messages(&event(), &json!({"timestamp": "2024-05-01T10:00:00Z"})),
        ["/_id: missing required field \"_id\""]
    );
}

#[test]
fn null_is_absent_when_optional_and_a_type_error_when_required() {
    let record = json!({"_id": "e1", "timestamp": null, "eventType": null, "web": null});
    assert_eq!(
        messages(&event(), &record),
        ["/timestamp: expected type string, found null (the field is required)"]
    );
    assert_eq!(violations(&event(), &record), one("/timestamp", "type"));
}

#[test]
fn wrong_type_array_item_is_pinpointed() {
    let mut record = valid_event();
    record["productListItems"] =
        json!([{"SKU": "A", "quantity": 1}, {"SKU": "B", "quantity": "2"}]);
    assert_eq!(
        messages(&event(), &record),
        ["/productListItems/1/quantity: expected type integer, found string"]
    );
    record["productListItems"] = json!([{"quantity": 2.5}, {"quantity": 3.0}, {"quantity": -1}]);
    assert_eq!(
        messages(&event(), &record),
        [
            "/productListItems/0/quantity: expected type integer, found number 2.5",
            "/productListItems/1/quantity: expected type integer, found number 3.0 (write integers without a fraction or exponent)",
            "/productListItems/2/quantity: expected a value >= 0, found -1",
        ]
    );
    record["productListItems"] = json!({"SKU": "A"});
    assert_eq!(
        violations(&event(), &record),
        one("/productListItems", "type")
    );
}

#[test]
fn invalid_identity_map_entries_are_pinpointed() {
    let record = json!({"identityMap": {
        "ECID": [{"id": "1", "authenticatedState": "anonymous"}],
        "Email": [{"primary": true}, {"id": 7}],
        "Phone": {"id": "555"}
    }});
    assert_eq!(
        violations(&profile(), &record),
        vec![
            ("/identityMap/ECID/0/authenticatedState".to_string(), "enum"),
            ("/identityMap/Email/0/id".to_string(), "required"),
            ("/identityMap/Email/1/id".to_string(), "type"),
            ("/identityMap/Phone".to_string(), "type"),
        ]
    );
    assert_eq!(
        messages(&profile(), &json!({"identityMap": {"ECID": [{"id": "1", "authenticatedState": "anonymous"}]}})),
        ["/identityMap/ECID/0/authenticatedState: expected one of \"ambiguous\", \"authenticated\", \"loggedOut\", found \"anonymous\""]
    );
}

#[test]
fn enum_violation() {
    let record = json!({"person": {"gender": "Female"}});
    assert_eq!(
        violations(&profile(), &record),
        one("/person/gender", "enum")
    );
    let record = json!({"consents": {"collect": {"val": "yes"}}});
    assert_eq!(
        violations(&profile(), &record),
        one("/consents/collect/val", "enum")
    );
}

#[test]
fn length_violations() {
    assert_eq!(
        messages(&profile(), &json!({"homeAddress": {"countryCode": "FRA"}})),
        ["/homeAddress/countryCode: expected at most 2 characters, found 3"]
    );
    assert_eq!(
        violations(&profile(), &json!({"workAddress": {"countryCode": "F"}})),
        one("/workAddress/countryCode", "minLength")
    );
    // Length counts characters, not bytes.
    assert_eq!(
        violations(&profile(), &json!({"homeAddress": {"countryCode": "ÉÉ"}})),
        vec![]
    );
    let mut record = valid_event();
    record["support"] = json!({"notes": "x".repeat(4001)});
    assert_eq!(
        violations(&event(), &record),
        one("/support/notes", "maxLength")
    );
}

#[test]
fn range_violations() {
    assert_eq!(
        messages(&profile(), &json!({"person": {"birthYear": 1899}})),
        ["/person/birthYear: expected a value >= 1900, found 1899"]
    );
    assert_eq!(
        violations(&profile(), &json!({"person": {"birthYear": 2101}})),
        one("/person/birthYear", "maximum")
    );
    let mut record = valid_event();
    record["placeContext"] = json!({"geo": {"_schema": {"latitude": 90.5, "longitude": -180}}});
    assert_eq!(
        messages(&event(), &record),
        ["/placeContext/geo/_schema/latitude: expected a value <= 90, found 90.5"]
    );
    record["placeContext"] = json!({});
    record["support"] = json!({"satisfaction": 0, "durationSeconds": 18446744073709551615u64});
    assert_eq!(
        violations(&event(), &record),
        vec![
            ("/support/durationSeconds".to_string(), "maximum"),
            ("/support/satisfaction".to_string(), "minimum"),
        ]
    );
    record["support"] = json!({});
    record["commerce"] = json!({"order": {"priceTotal": -0.01}});
    assert_eq!(
        violations(&event(), &record),
        one("/commerce/order/priceTotal", "minimum")
    );
}

#[test]
fn scalar_types_are_strict() {
    let record = json!({
        "person": {"name": {"firstName": 7}},
        "testProfile": "true",
        "loyalty": {"points": "10", "loyaltyID": "L1"}
    });
    assert_eq!(
        messages(&profile(), &record),
        [
            "/loyalty/loyaltyID: expected type array, found string",
            "/loyalty/points: expected type number, found string",
            "/person/name/firstName: expected type string, found number",
            "/testProfile: expected type boolean, found string",
        ]
    );
}

#[test]
fn map_values_are_validated_and_keys_escaped() {
    let record = json!({"segmentMembership": {"ups": {
        "seg/1": {"status": "gone"},
        "seg~2": {"status": "exited", "validUntil": "soon"}
    }}});
    assert_eq!(
        violations(&profile(), &record),
        vec![
            ("/segmentMembership/ups/seg~11/status".to_string(), "enum"),
            (
                "/segmentMembership/ups/seg~02/validUntil".to_string(),
                "format"
            ),
        ]
    );
    let record = json!({"segmentMembership": {"ups": []}});
    assert_eq!(
        violations(&profile(), &record),
        one("/segmentMembership/ups", "type")
    );
}

#[test]
fn root_must_be_an_object() {
    let found = validate(&profile(), &json!([1, 2]));
    assert_eq!(violations(&profile(), &json!([1, 2])), one("", "type"));
    assert_eq!(found[0].to_string(), "#: expected type object, found array");
}

#[test]
fn display_shows_pointer_and_message() {
    let violation = Violation {
        pointer: "/person/birthDate".to_string(),
        keyword: "format",
        message: "expected a string in date format YYYY-MM-DD, found \"x\"".to_string(),
    };
    assert_eq!(
        violation.to_string(),
        "/person/birthDate: expected a string in date format YYYY-MM-DD, found \"x\""
    );
}

#[test]
fn validation_stops_after_ten_violations() {
    let mut record = serde_json::Map::new();
    for index in 0..25 {
        record.insert(format!("unknown{index:02}"), json!(index));
    }
    let found = validate(&profile(), &Value::Object(record));
    assert_eq!(found.len(), MAX_VIOLATIONS);
    assert_eq!(found[9].pointer, "/unknown09");
}

#[test]
fn long_values_are_cut_in_messages() {
    let long = "x".repeat(500);
    let found = validate(&profile(), &json!({"person": {"gender": long}}));
    assert!(found[0].message.len() < 200, "{}", found[0].message);
    assert!(found[0].message.ends_with("\"..."));
}

#[test]
fn an_event_with_an_empty_id_violates_min_length_at_id() {
    let record = json!({"_id": "", "timestamp": "2024-05-01T10:00:00Z"});
    assert_eq!(violations(&event(), &record), one("/_id", "minLength"));
    assert_eq!(
        messages(&event(), &record),
        ["/_id: expected at least 1 character, found 0"]
    );
    // One character is enough; the profile class keeps its optional `_id` as it was.
    assert!(validate(
        &event(),
        &json!({"_id": "e", "timestamp": "2024-05-01T10:00:00Z"})
    )
    .is_empty());
    assert!(validate(&profile(), &json!({"_id": ""})).is_empty());
}

#[test]
fn an_event_with_an_empty_timestamp_is_a_format_violation() {
    let record = json!({"_id": "e1", "timestamp": ""});
    assert_eq!(violations(&event(), &record), one("/timestamp", "format"));
}

#[test]
fn a_string_that_does_not_match_its_pattern_is_a_pattern_violation() {
    let rules = StringRules::default()
        .with_pattern("^[A-Z]{3}-[0-9]+$")
        .expect("a valid pattern");
    let tree = ObjectField::new().with("code", Field::string_with(rules));
    assert!(validate(&tree, &json!({"code": "ABC-12"})).is_empty());
    assert_eq!(
        violations(&tree, &json!({"code": "abc-12"})),
        one("/code", "pattern")
    );
    assert_eq!(
        messages(&tree, &json!({"code": "ABC-"})),
        ["/code: expected a string matching the pattern \"^[A-Z]{3}-[0-9]+$\", found \"ABC-\""]
    );
}

#[test]
fn a_pattern_matches_anywhere_unless_anchored() {
    let rules = StringRules::default().with_pattern("b+").expect("valid");
    let tree = ObjectField::new().with("s", Field::string_with(rules));
    assert!(validate(&tree, &json!({"s": "abbc"})).is_empty());
    assert_eq!(violations(&tree, &json!({"s": "ac"})), one("/s", "pattern"));
}

#[test]
fn a_pattern_given_as_text_only_is_still_enforced() {
    // Rules built by hand without `with_pattern` carry no compiled regex; validation compiles it.
    let rules = StringRules {
        pattern: Some("^x".to_string()),
        ..StringRules::default()
    };
    let tree = ObjectField::new().with("s", Field::string_with(rules));
    assert!(validate(&tree, &json!({"s": "xy"})).is_empty());
    assert_eq!(violations(&tree, &json!({"s": "yx"})), one("/s", "pattern"));
}

#[test]
fn rules_with_the_same_pattern_text_are_equal() {
    let compiled = StringRules::default().with_pattern("^a").expect("valid");
    let text_only = StringRules {
        pattern: Some("^a".to_string()),
        ..StringRules::default()
    };
    assert_eq!(compiled, text_only);
    assert_ne!(
        compiled,
        StringRules::default().with_pattern("^b").expect("valid")
    );
}
