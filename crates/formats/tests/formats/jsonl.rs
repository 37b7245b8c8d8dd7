//! JSON Lines: nested records, blank lines, each row error with its line and raw text, early
//! stop, and a proptest that random records read back equal.

use std::ops::ControlFlow;

use formats::{read_file, FileError, InputFormat, NoColumnTypes, MAX_RECORD_BYTES};
use proptest::prelude::*;
use serde_json::{json, Value};

use crate::common::{file_error, read_all, row_error, rows, values, Fixtures};

const FORMAT: InputFormat = InputFormat::JsonLines;

#[test]
fn nested_records_are_read_in_order_and_blank_lines_keep_their_numbers() {
    let fixtures = Fixtures::new();
    let text = "{\"person\":{\"name\":{\"firstName\":\"Ana\"}},\"identityMap\":{\"Email\":[{\"id\":\"a@x.io\",\"primary\":true}]}}\n\
                \n   \n\
                {\"loyalty\":{\"points\":12.5,\"tier\":null}}\r\n";
    let path = fixtures.plain("people.json", text.as_bytes());
    let (rows, summary) = read_all(&path, &FORMAT, &NoColumnTypes);
    assert_eq!(rows.iter().map(|r| r.number).collect::<Vec<_>>(), [1, 4]);
    assert_eq!(
        values(&rows),
        [
            json!({"person": {"name": {"firstName": "Ana"}}, "identityMap": {"Email": [{"id": "a@x.io", "primary": true}]}}),
            json!({"loyalty": {"points": 12.5, "tier": null}}),
        ]
    );
    assert_eq!(rows[1].raw, "{\"loyalty\":{\"points\":12.5,\"tier\":null}}");
    assert_eq!((summary.rows, summary.bad_rows), (2, 0));
    assert_eq!(summary.bytes_read, text.len() as u64);
}

#[test]
fn a_byte_order_mark_and_a_last_line_without_newline_are_fine() {
    let fixtures = Fixtures::new();
    let path = fixtures.plain("bom.json", b"\xEF\xBB\xBF{\"a\":1}\n{\"b\":2}");
    assert_eq!(
        values(&rows(&path, &FORMAT)),
        [json!({"a": 1}), json!({"b": 2})]
    );
}

#[test]
fn invalid_json_is_a_1401_row_naming_the_column_and_reading_goes_on() {
    let fixtures = Fixtures::new();
    let path = fixtures.plain("bad.json", b"{\"a\":1}\n{missingQuotes: 'v1'}\n{\"c\":3}\n");
    let (rows, summary) = read_all(&path, &FORMAT, &NoColumnTypes);
    assert_eq!(rows.len(), 3);
    let bad = &rows[1];
    assert_eq!((bad.number, bad.raw.as_str()), (2, "{missingQuotes: 'v1'}"));
    let error = row_error(bad);
    assert_eq!(error.code, "1401");
    assert_eq!(
        error.message,
        "invalid json at column 2: key must be a string"
    );
    assert_eq!(rows[2].value, Ok(json!({"c": 3})));
    assert_eq!((summary.rows, summary.bad_rows), (3, 1));
}

#[test]
fn a_truncated_line_says_where_it_ended() {
    let fixtures = Fixtures::new();
    let path = fixtures.plain("cut.json", b"{\"a\": [1, 2\n");
    let rows = rows(&path, &FORMAT);
    let error = row_error(&rows[0]);
    assert_eq!(error.code, "1401");
    assert_eq!(
        error.message,
        "invalid json at column 11: end of input while parsing a list"
    );
}

#[test]
fn a_json_value_that_is_not_an_object_is_a_1401_row() {
    let fixtures = Fixtures::new();
    let path = fixtures.plain("values.json", b"[{\"a\":1}]\n\"text\"\n42\n");
    let rows = rows(&path, &FORMAT);
    let messages: Vec<(u64, &str, &str)> = rows
        .iter()
        .map(|r| (r.number, r.raw.as_str(), row_error(r).message.as_str()))
        .collect();
    assert_eq!(
        messages,
        [
            (1, "[{\"a\":1}]", "expected a JSON object, found an array"),
            (2, "\"text\"", "expected a JSON object, found a string"),
            (3, "42", "expected a JSON object, found a number"),
        ]
    );
    assert!(rows.iter().all(|r| row_error(r).code == "1401"));
}

#[test]
fn a_line_over_the_limit_is_a_1401_row_and_the_next_line_is_read() {
    let fixtures = Fixtures::new();
    let mut text = b"{\"a\":\"".to_vec();
    text.resize(MAX_RECORD_BYTES + 10, b'x');
    text.extend_from_slice(b"\"}\n{\"next\":true}\n");
    let path = fixtures.plain("long.json", &text);
    let rows = rows(&path, &FORMAT);
    assert_eq!(rows.len(), 2);
    let error = row_error(&rows[0]);
    assert_eq!(error.code, "1401");
    assert_eq!(
        error.message,
        format!(
            "the line is {} bytes long, more than the 16 MiB limit",
            MAX_RECORD_BYTES + 12
        )
    );
    assert_eq!(rows[0].raw.len(), formats::MAX_RAW_BYTES);
    assert!(rows[0].raw.starts_with("{\"a\":\"xxx") && rows[0].raw.ends_with('…'));
    assert_eq!(
        (rows[1].number, rows[1].value.clone()),
        (2, Ok(json!({"next": true})))
    );
}

#[test]
fn visiting_stops_when_the_visitor_breaks() {
    let fixtures = Fixtures::new();
    let path = fixtures.plain("many.json", "{\"n\":1}\n{\"n\":2}\n{\"n\":3}\n".as_bytes());
    let mut seen = Vec::new();
    let summary = read_file(&path, &FORMAT, &NoColumnTypes, &mut |row| {
        seen.push(row.number);
        if row.number == 2 {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    })
    .expect("read");
    assert_eq!(seen, [1, 2]);
    assert_eq!(summary.rows, 2);
}

#[test]
fn an_empty_or_blank_file_and_a_missing_file_are_file_errors() {
    let fixtures = Fixtures::new();
    let empty = fixtures.plain("empty.json", b"");
    assert!(matches!(
        file_error(&empty, &FORMAT, &NoColumnTypes),
        FileError::Empty
    ));
    assert_eq!(FileError::Empty.to_string(), "the file is empty");
    let missing = fixtures.path("missing.json");
    let error = file_error(&missing, &FORMAT, &NoColumnTypes);
    assert!(matches!(error, FileError::Open(_)));
    assert_eq!(
        error.to_string(),
        "cannot open the file: no such file or directory (os error 2)"
    );
    let blank = fixtures.plain("blank.json", b"\n \r\n");
    assert!(matches!(
        file_error(&blank, &FORMAT, &NoColumnTypes),
        FileError::Empty
    ));
}

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        // Binary fractions: exact in any float parser.
        (-1_000_000i64..1_000_000).prop_map(|n| Value::from(n as f64 / 8.0)),
        ".{0,12}".prop_map(Value::from),
    ]
}

fn record() -> impl Strategy<Value = Value> {
    let value = scalar().prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            prop::collection::btree_map("[a-zA-Z_]{1,8}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    });
    prop::collection::btree_map("[a-zA-Z_]{1,8}", value, 0..6)
        .prop_map(|m| Value::Object(m.into_iter().collect()))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn random_records_written_as_json_lines_read_back_equal(records in prop::collection::vec(record(), 1..20)) {
        let fixtures = Fixtures::new();
        let text: String = records.iter().map(|r| format!("{r}\n")).collect();
        let path = fixtures.plain("random.json", text.as_bytes());
        let rows = rows(&path, &FORMAT);
        prop_assert_eq!(values(&rows), records);
        prop_assert_eq!(rows.iter().map(|r| r.number).collect::<Vec<_>>(), (1..=rows.len() as u64).collect::<Vec<_>>());
    }
}
