//! Property tests: generated valid records validate clean, and breaking one leaf's type gives
//! exactly one violation at that leaf.

use proptest::prelude::*;
use proptest::sample::Index;
use serde_json::{json, Map, Value};
use xdm::{validate, Class, Field, FieldType, ObjectField, StringFormat, StringRules};

use crate::common::full_tree;

/// Values that follow `field`.
fn valid_value(field: &Field) -> BoxedStrategy<Value> {
    match &field.ty {
        FieldType::String(rules) => valid_string(rules),
        FieldType::Integer { minimum, maximum } => {
            let low = minimum.unwrap_or(-1_000);
            let high = maximum.unwrap_or(low.max(0) + 1_000);
            (low..=high).prop_map(Value::from).boxed()
        }
        FieldType::Number { minimum, maximum } => {
            let low = minimum.unwrap_or(-1.0e6);
            let high = maximum.unwrap_or(1.0e6);
            prop_oneof![
                (low..=high).prop_map(|number| json!(number)),
                (low.ceil() as i64..=high.floor() as i64).prop_map(Value::from),
            ]
            .boxed()
        }
        FieldType::Boolean => any::<bool>().prop_map(Value::from).boxed(),
        FieldType::Object(object) => valid_object(object),
        FieldType::Array(item) => prop::collection::vec(valid_value(item), 0..3)
            .prop_map(Value::from)
            .boxed(),
        FieldType::Map(value) => {
            // Keys with `/` and `~` exercise pointer escaping.
            prop::collection::btree_map("[a-zA-Z0-9_/~.@-]{1,6}", valid_value(value), 0..3)
                .prop_map(|entries| Value::Object(entries.into_iter().collect()))
                .boxed()
        }
    }
}

fn valid_string(rules: &StringRules) -> BoxedStrategy<Value> {
    if let Some(values) = &rules.enum_values {
        return prop::sample::select(values.clone())
            .prop_map(Value::from)
            .boxed();
    }
    let date = (1900..2100i32, 1..=12u8, 1..=28u8);
    match rules.format {
        Some(StringFormat::DateTime) => (date, 0..24u8, 0..60u8, prop::bool::ANY)
            .prop_map(|((year, month, day), hour, minute, utc)| {
                let offset = if utc { "Z" } else { "+02:00" };
                json!(format!(
                    "{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:07{offset}"
                ))
            })
            .boxed(),
        Some(StringFormat::Date) => date
            .prop_map(|(year, month, day)| json!(format!("{year:04}-{month:02}-{day:02}")))
            .boxed(),
        Some(StringFormat::Email) => "[a-z.]{1,8}@[a-z]{1,8}\\.example"
            .prop_map(Value::from)
            .boxed(),
        Some(StringFormat::Uri) => "https://[a-z]{1,8}\\.example/[a-z]{0,8}"
            .prop_map(Value::from)
            .boxed(),
        None => {
            let min = rules.min_length.unwrap_or(0);
            let max = rules.max_length.unwrap_or(12).min(min + 12);
            prop::collection::vec(prop::char::range('a', 'é'), min..=max)
                .prop_map(|chars| Value::from(String::from_iter(chars)))
                .boxed()
        }
    }
}

/// Objects with every required property and some optional ones, some of them `null`.
fn valid_object(object: &ObjectField) -> BoxedStrategy<Value> {
    let entries: Vec<BoxedStrategy<Option<(String, Value)>>> = object
        .properties
        .iter()
        .map(|(name, field)| {
            let name = name.clone();
            let value = valid_value(field);
            if object.required.contains(&name) {
                return value
                    .prop_map(move |value| Some((name.clone(), value)))
                    .boxed();
            }
            let null_entry = Some((name.clone(), Value::Null));
            prop_oneof![
                3 => Just(None),
                1 => Just(null_entry),
                3 => value.prop_map(move |value| Some((name.clone(), value))),
            ]
            .boxed()
        })
        .collect();
    entries
        .prop_map(|entries| Value::Object(entries.into_iter().flatten().collect::<Map<_, _>>()))
        .boxed()
}

/// JSON pointers of every non-null scalar in `value`.
fn leaf_pointers(value: &Value, pointer: &mut String, leaves: &mut Vec<String>) {
    let mut visit = |segment: &str, child: &Value, pointer: &mut String| {
        let length = pointer.len();
        pointer.push('/');
        pointer.push_str(&segment.replace('~', "~0").replace('/', "~1"));
        leaf_pointers(child, pointer, leaves);
        pointer.truncate(length);
    };
    match value {
        Value::Null => {}
        Value::Object(entries) => {
            for (key, child) in entries {
                visit(key, child, pointer);
            }
        }
        Value::Array(items) => {
            for (index, child) in items.iter().enumerate() {
                visit(&index.to_string(), child, pointer);
            }
        }
        _ => leaves.push(pointer.clone()),
    }
}

fn wrong_type(value: &Value) -> Value {
    match value {
        Value::String(_) => json!(7),
        Value::Number(_) => json!("7"),
        _ => json!("true"),
    }
}

fn check_record(tree: &ObjectField, record: &Value, pick: Index) -> Result<(), TestCaseError> {
    prop_assert_eq!(validate(tree, record), vec![]);
    let mut leaves = Vec::new();
    leaf_pointers(record, &mut String::new(), &mut leaves);
    prop_assume!(!leaves.is_empty());
    let pointer = &leaves[pick.index(leaves.len())];
    let mut broken = record.clone();
    let leaf = broken.pointer_mut(pointer).expect("leaf pointer resolves");
    *leaf = wrong_type(leaf);
    let found = validate(tree, &broken);
    prop_assert_eq!(found.len(), 1, "{:?}", found);
    prop_assert_eq!(&found[0].pointer, pointer);
    prop_assert_eq!(found[0].keyword, "type");
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn generated_profiles_validate_and_one_flip_is_one_violation(
        record in valid_object(&full_tree(Class::Profile)),
        pick in any::<Index>(),
    ) {
        check_record(&full_tree(Class::Profile), &record, pick)?;
    }

    #[test]
    fn generated_events_validate_and_one_flip_is_one_violation(
        record in valid_object(&full_tree(Class::ExperienceEvent)),
        pick in any::<Index>(),
    ) {
        check_record(&full_tree(Class::ExperienceEvent), &record, pick)?;
    }
}
