//! Multi-line JSON: a top-level array or objects one after another, pretty-printed; row numbers
//! are each record's first line; a syntax error is one 1401 row that ends the file.

use std::ops::ControlFlow;

use formats::{read_file, FileError, InputFormat, NoColumnTypes};
use serde_json::json;

use crate::common::{file_error, read_all, row_error, rows, values, Fixtures};

const FORMAT: InputFormat = InputFormat::MultiLineJson;

const PRETTY: &str = r#"{
  "person": {
    "name": {"firstName": "Ana"}
  },
  "identityMap": {"Email": [{"id": "a@x.io"}]}
}

{"loyalty": {"points": 10}}
  {
    "tags": ["a", "b"]
  }
"#;

#[test]
fn pretty_printed_objects_one_after_another_are_numbered_by_their_first_line() {
    let fixtures = Fixtures::new();
    let path = fixtures.plain("pretty.json", PRETTY.as_bytes());
    let (rows, summary) = read_all(&path, &FORMAT, &NoColumnTypes);
    assert_eq!(rows.iter().map(|r| r.number).collect::<Vec<_>>(), [1, 8, 9]);
    assert_eq!(
        values(&rows),
        [
            json!({"person": {"name": {"firstName": "Ana"}}, "identityMap": {"Email": [{"id": "a@x.io"}]}}),
            json!({"loyalty": {"points": 10}}),
            json!({"tags": ["a", "b"]}),
        ]
    );
    assert_eq!(rows[1].raw, r#"{"loyalty": {"points": 10}}"#);
    assert_eq!(rows[2].raw, "{\n    \"tags\": [\"a\", \"b\"]\n  }");
    assert_eq!(
        (summary.rows, summary.bad_rows, summary.bytes_read),
        (3, 0, PRETTY.len() as u64)
    );
}

#[test]
fn a_top_level_array_is_streamed_element_by_element() {
    let fixtures = Fixtures::new();
    let text = "\u{feff}[\n  {\"a\": 1},\n  {\n    \"b\": {\"c\": [true]}\n  }\n  ,\"text\", {\"d\": null}\n]\n";
    let path = fixtures.plain("array.json", text.as_bytes());
    let rows = rows(&path, &FORMAT);
    assert_eq!(
        rows.iter().map(|r| r.number).collect::<Vec<_>>(),
        [2, 3, 6, 6]
    );
    assert_eq!(rows[0].value, Ok(json!({"a": 1})));
    assert_eq!(rows[1].value, Ok(json!({"b": {"c": [true]}})));
    assert_eq!(rows[2].raw, "\"text\"");
    let error = row_error(&rows[2]);
    assert_eq!(
        (error.code, error.message.as_str()),
        ("1401", "expected a JSON object, found a string")
    );
    assert_eq!(rows[3].value, Ok(json!({"d": null})));
}

#[test]
fn an_empty_array_has_no_rows() {
    let fixtures = Fixtures::new();
    let path = fixtures.plain("none.json", b" [ ] ");
    assert_eq!(rows(&path, &FORMAT), []);
}

#[test]
fn a_syntax_error_is_one_1401_row_then_the_file_ends() {
    let fixtures = Fixtures::new();
    let text = "{\"a\": 1}\n{\n  \"b\": 2,\n  \"c\" 3\n}\n{\"d\": 4}\n";
    let path = fixtures.plain("broken.json", text.as_bytes());
    let (rows, summary) = read_all(&path, &FORMAT, &NoColumnTypes);
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].value, Ok(json!({"a": 1})));
    let bad = &rows[1];
    assert_eq!(bad.number, 2);
    assert_eq!(bad.raw, "{\n  \"b\": 2,\n  \"c\" 3");
    let error = row_error(bad);
    assert_eq!(error.code, "1401");
    assert_eq!(
        error.message,
        "invalid json at line 4 column 7: expected `:`"
    );
    assert_eq!((summary.rows, summary.bad_rows), (2, 1));
}

#[test]
fn a_syntax_error_inside_an_array_and_after_it() {
    let fixtures = Fixtures::new();
    let path = fixtures.plain("array.json", b"[{\"a\": 1}\n {\"b\": 2}]");
    let rows = rows(&path, &FORMAT);
    assert_eq!(rows.len(), 2);
    assert_eq!((rows[1].number, rows[1].raw.as_str()), (2, "{"));
    assert_eq!(
        row_error(&rows[1]).message,
        "invalid json at line 2 column 2: expected `,` or `]`"
    );

    let path = fixtures.plain("trailing.json", b"[{\"a\": 1}]\nnonsense");
    let rows = self::rows(&path, &FORMAT);
    assert_eq!(rows.len(), 2);
    assert_eq!((rows[1].number, rows[1].raw.as_str()), (2, "n"));
    assert_eq!(
        row_error(&rows[1]).message,
        "invalid json at line 2 column 1: trailing characters"
    );

    let path = fixtures.plain("unclosed.json", b"[{\"a\": 1},\n");
    let rows = self::rows(&path, &FORMAT);
    assert_eq!(
        row_error(&rows[1]).message,
        "invalid json at the end of the file: end of input while parsing a value"
    );
}

#[test]
fn a_record_over_the_limit_is_a_1401_row_and_ends_the_file() {
    let fixtures = Fixtures::new();
    let mut text = b"{\"a\": 1}\n[\n{\"big\": \"".to_vec();
    text.resize(formats::MAX_RECORD_BYTES + 100, b'x');
    text.extend_from_slice(b"\"}]");
    let path = fixtures.plain("big.json", &text);
    let rows = rows(&path, &FORMAT);
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[1].number, 2);
    let error = row_error(&rows[1]);
    assert_eq!(error.message, "the record is longer than the 16 MiB limit");
    assert!(rows[1].raw.starts_with("[\n{\"big\": \"xxx") && rows[1].raw.ends_with('…'));
}

#[test]
fn visiting_stops_when_the_visitor_breaks_in_both_layouts() {
    let fixtures = Fixtures::new();
    for text in [
        "[{\"n\":1},{\"n\":2},{\"n\":3}]",
        "{\"n\":1}{\"n\":2}{\"n\":3}",
    ] {
        let path = fixtures.plain("three.json", text.as_bytes());
        let mut seen = 0;
        let summary = read_file(&path, &FORMAT, &NoColumnTypes, &mut |_| {
            seen += 1;
            if seen == 2 {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        })
        .expect("read");
        assert_eq!((seen, summary.rows, summary.bad_rows), (2, 2, 0), "{text}");
    }
}

#[test]
fn a_whitespace_only_file_is_empty() {
    let fixtures = Fixtures::new();
    let path = fixtures.plain("blank.json", b" \n\t\n");
    assert!(matches!(
        file_error(&path, &FORMAT, &NoColumnTypes),
        FileError::Empty
    ));
}
