//! CSV: dotted-path headers into nested objects and arrays, typed cells, mappings, RFC 4180
//! quoting, each row error with its row number and raw text, and each header/mapping error.

use std::ops::ControlFlow;

use formats::{read_file, CsvOptions, FileError, InputFormat, NoColumnTypes, ScalarKind};
use serde_json::json;

use crate::common::{file_error, read_all, row_error, values, Fixtures, Types};

fn csv() -> InputFormat {
    InputFormat::Csv(CsvOptions::default())
}

fn mapped(pairs: &[(&str, &str)]) -> InputFormat {
    let mapping = pairs
        .iter()
        .map(|(c, p)| (c.to_string(), p.to_string()))
        .collect();
    InputFormat::Csv(CsvOptions {
        delimiter: b',',
        mapping: Some(mapping),
    })
}

fn types() -> Types {
    Types(vec![
        ("identityMap.Email.id", ScalarKind::String),
        ("identityMap.Email.primary", ScalarKind::Boolean),
        ("loyalty.points", ScalarKind::Integer),
        ("loyalty.ratio", ScalarKind::Number),
        ("productListItems.SKU", ScalarKind::String),
        ("productListItems.quantity", ScalarKind::Integer),
    ])
}

#[test]
fn dotted_headers_build_nested_objects_and_empty_cells_are_absent() {
    let fixtures = Fixtures::new();
    let text = "person.name.firstName,person.name.lastName,homeAddress.countryCode\nAna,Silva,PT\nBo,,\n,,\n";
    let path = fixtures.plain("people.csv", text.as_bytes());
    let (rows, summary) = read_all(&path, &csv(), &NoColumnTypes);
    assert_eq!(rows.iter().map(|r| r.number).collect::<Vec<_>>(), [2, 3, 4]);
    assert_eq!(
        values(&rows),
        [
            json!({"person": {"name": {"firstName": "Ana", "lastName": "Silva"}}, "homeAddress": {"countryCode": "PT"}}),
            json!({"person": {"name": {"firstName": "Bo"}}}),
            json!({}),
        ]
    );
    assert_eq!(summary.bytes_read, text.len() as u64);
}

#[test]
fn identity_map_columns_build_arrays_and_typed_columns_are_converted() {
    let fixtures = Fixtures::new();
    let text = "identityMap.Email.0.id,identityMap.Email.0.primary,identityMap.Email.1.id,loyalty.points,loyalty.ratio,productListItems.1.SKU,productListItems.0.SKU,productListItems.0.quantity,notes\n\
                a@x.io,TRUE,b@x.io,120,0.25,sku-2,sku-1,3,hello\n\
                c@x.io,no,,-7,1e3,,,,\n";
    let path = fixtures.plain("identities.csv", text.as_bytes());
    let (rows, _) = read_all(&path, &csv(), &types());
    assert_eq!(
        values(&rows),
        [
            json!({
                "identityMap": {"Email": [{"id": "a@x.io", "primary": true}, {"id": "b@x.io"}]},
                "loyalty": {"points": 120, "ratio": 0.25},
                "productListItems": [{"SKU": "sku-1", "quantity": 3}, {"SKU": "sku-2"}],
                "notes": "hello",
            }),
            json!({
                "identityMap": {"Email": [{"id": "c@x.io", "primary": false}]},
                "loyalty": {"points": -7, "ratio": 1000.0},
            }),
        ]
    );
}

#[test]
fn booleans_take_six_spellings_in_any_case() {
    let fixtures = Fixtures::new();
    let path = fixtures.plain(
        "flags.csv",
        b"identityMap.Email.0.primary\ntrue\nFalse\n1\n0\nYES\nno\n",
    );
    let flags: Vec<_> = values(&read_all(&path, &csv(), &types()).0)
        .into_iter()
        .map(|v| v["identityMap"]["Email"][0]["primary"].clone())
        .collect();
    assert_eq!(flags, [true, false, true, false, true, false]);
}

#[test]
fn quoted_fields_with_delimiters_quotes_and_newlines_are_one_cell() {
    let fixtures = Fixtures::new();
    let text = "a;b\n\"x;y\";\"say \"\"hi\"\"\nbye\"\n";
    let path = fixtures.plain("quoted.csv", text.as_bytes());
    let format = InputFormat::Csv(CsvOptions {
        delimiter: b';',
        mapping: None,
    });
    let (rows, _) = read_all(&path, &format, &NoColumnTypes);
    assert_eq!(values(&rows), [json!({"a": "x;y", "b": "say \"hi\"\nbye"})]);
    assert_eq!(rows[0].raw, "\"x;y\";\"say \"\"hi\"\"\nbye\"");
}

#[test]
fn a_wrong_type_is_a_1555_row_naming_the_column() {
    let fixtures = Fixtures::new();
    let text = "person.id,loyalty.points,loyalty.ratio,identityMap.Email.0.primary\n\
                1,abc,,\n2,1.5,,\n3,,NaN,\n4,,,maybe\n5,99999999999999999999,,\n";
    let path = fixtures.plain("typed.csv", text.as_bytes());
    let (rows, summary) = read_all(&path, &csv(), &types());
    let errors: Vec<(u64, &str, &str, &str)> = rows
        .iter()
        .map(|r| {
            let e = row_error(r);
            (r.number, r.raw.as_str(), e.code, e.message.as_str())
        })
        .collect();
    assert_eq!(
        errors,
        [
            (2, "1,abc,,", "1555", "column \"loyalty.points\": expected an integer, found \"abc\""),
            (3, "2,1.5,,", "1555", "column \"loyalty.points\": expected an integer, found \"1.5\""),
            (4, "3,,NaN,", "1555", "column \"loyalty.ratio\": expected a number, found \"NaN\""),
            (5, "4,,,maybe", "1555", "column \"identityMap.Email.0.primary\": expected a boolean (true/false, 1/0 or yes/no), found \"maybe\""),
            (6, "5,99999999999999999999,,", "1555", "column \"loyalty.points\": expected an integer between -9223372036854775808 and 9223372036854775807, found \"99999999999999999999\""),
        ]
    );
    assert_eq!((summary.rows, summary.bad_rows), (5, 5));
}

#[test]
fn an_array_gap_is_a_1555_row_naming_the_column() {
    let fixtures = Fixtures::new();
    let text =
        "productListItems.0.SKU,productListItems.1.SKU,productListItems.2.SKU\n,b,\na,,c\na,b,c\n";
    let path = fixtures.plain("gaps.csv", text.as_bytes());
    let rows = read_all(&path, &csv(), &types()).0;
    let gap = |i: usize| row_error(&rows[i]).message.clone();
    assert_eq!(gap(0), "column \"productListItems.1.SKU\": array element 1 has a value but element 0 is empty (array elements must not leave gaps)");
    assert_eq!(gap(1), "column \"productListItems.2.SKU\": array element 2 has a value but element 1 is empty (array elements must not leave gaps)");
    assert_eq!(row_error(&rows[0]).code, "1555");
    assert_eq!(
        rows[2].value,
        Ok(json!({"productListItems": [{"SKU": "a"}, {"SKU": "b"}, {"SKU": "c"}]}))
    );
}

#[test]
fn a_row_with_too_many_or_too_few_cells_is_a_1401_row() {
    let fixtures = Fixtures::new();
    let path = fixtures.plain("ragged.csv", b"a,b\n1,2,3\n1\n1,2\n");
    let rows = read_all(&path, &csv(), &NoColumnTypes).0;
    assert_eq!((rows[0].number, rows[0].raw.as_str()), (2, "1,2,3"));
    assert_eq!(row_error(&rows[0]).code, "1401");
    assert_eq!(
        row_error(&rows[0]).message,
        "the row has 3 cells but the header has 2 columns"
    );
    assert_eq!(
        (rows[1].number, row_error(&rows[1]).message.as_str()),
        (3, "the row has 1 cells but the header has 2 columns")
    );
    assert_eq!(rows[2].value, Ok(json!({"a": "1", "b": "2"})));
}

#[test]
fn a_cell_that_is_not_utf8_is_a_1401_row() {
    let fixtures = Fixtures::new();
    let path = fixtures.plain("latin1.csv", b"person.name\nJos\xe9\n");
    let rows = read_all(&path, &csv(), &NoColumnTypes).0;
    let error = row_error(&rows[0]);
    assert_eq!(
        (error.code, error.message.as_str()),
        (
            "1401",
            "column \"person.name\": the cell is not valid utf-8"
        )
    );
    assert_eq!(rows[0].raw, "Jos\u{fffd}");
}

#[test]
fn a_mapping_renames_columns_and_a_value_in_an_unmapped_column_is_1560() {
    let fixtures = Fixtures::new();
    let text = "Email,Points,Notes\na@x.io,7,\nb@x.io,x,\nc@x.io,1,hello\n";
    let path = fixtures.plain("mapped.csv", text.as_bytes());
    let format = mapped(&[
        ("Email", "identityMap.Email.0.id"),
        ("Points", "loyalty.points"),
    ]);
    let rows = read_all(&path, &format, &types()).0;
    assert_eq!(
        rows[0].value,
        Ok(json!({"identityMap": {"Email": [{"id": "a@x.io"}]}, "loyalty": {"points": 7}}))
    );
    let error = row_error(&rows[1]);
    assert_eq!(
        (error.code, error.message.as_str()),
        (
            "1555",
            "column \"Points\" (loyalty.points): expected an integer, found \"x\""
        )
    );
    let error = row_error(&rows[2]);
    assert_eq!(
        (error.code, error.message.as_str()),
        (
            "1560",
            "column \"Notes\": the column is not in the mapping, but has a value"
        )
    );
    assert_eq!(
        (rows[2].number, rows[2].raw.as_str()),
        (4, "c@x.io,1,hello")
    );
}

#[test]
fn header_errors_name_the_column_and_why() {
    let fixtures = Fixtures::new();
    let cases = [
        ("a,,b\n1,2,3\n", "invalid csv header: column 2 has no name"),
        ("a,b,a\n", "invalid csv header: column \"a\" appears twice (columns 1 and 3)"),
        ("a..b\n", "invalid csv header: column \"a..b\": the path has an empty segment (a leading, trailing or doubled dot)"),
        ("a.\n", "invalid csv header: column \"a.\": the path has an empty segment (a leading, trailing or doubled dot)"),
        ("0.a\n", "invalid csv header: column \"0.a\": the path starts with an array index; records are objects"),
        ("a.99999999999\n", "invalid csv header: column \"a.99999999999\": array index 99999999999 is too large"),
        ("a,a.b\n", "invalid csv header: columns \"a\" and \"a.b\" conflict: \"a\" cannot be both a value and an object"),
        ("a.0.x,a.y\n", "invalid csv header: columns \"a.0.x\" and \"a.y\" conflict: \"a\" cannot be both an array and an object"),
        ("a.1,a.01\n", "invalid csv header: columns \"a.1\" and \"a.01\" both fill \"a.1\""),
        ("\n\n", "the file is empty"),
    ];
    for (text, expected) in cases {
        let path = fixtures.plain("header.csv", text.as_bytes());
        let error = file_error(&path, &csv(), &NoColumnTypes);
        assert_eq!(error.to_string(), expected, "{text:?}");
    }
}

#[test]
fn mapping_errors_name_the_column_and_why() {
    let fixtures = Fixtures::new();
    let path = fixtures.plain("mapped.csv", b"Email,Points\n");
    let cases = [
        (vec![("Mail", "identityMap.Email.0.id")], "invalid csv mapping: the mapping names column \"Mail\", which the header lacks"),
        (vec![("Email", "a"), ("Email", "b")], "invalid csv mapping: column \"Email\" is mapped more than once"),
        (vec![("Email", "a..b")], "invalid csv mapping: path \"a..b\" of column \"Email\": the path has an empty segment (a leading, trailing or doubled dot)"),
        (vec![("Email", "x.y"), ("Points", "x.y")], "invalid csv mapping: columns \"Email\" and \"Points\" both fill \"x.y\""),
    ];
    for (pairs, expected) in cases {
        let error = file_error(&path, &mapped(&pairs), &NoColumnTypes);
        assert!(matches!(error, FileError::CsvMapping(_)));
        assert_eq!(error.to_string(), expected);
    }
}

#[test]
fn a_quote_left_open_over_a_huge_file_is_a_file_error() {
    let fixtures = Fixtures::new();
    let mut text = b"a\nfine\n\"open".to_vec();
    text.resize(formats::MAX_RECORD_BYTES + (2 << 20), b'x');
    let path = fixtures.plain("open.csv", &text);
    let error = file_error(&path, &csv(), &NoColumnTypes);
    assert_eq!(
        error.to_string(),
        "csv row 3 is longer than 16 MiB; is a quoted field left open?"
    );
}

#[test]
fn a_bad_delimiter_is_refused() {
    let fixtures = Fixtures::new();
    let path = fixtures.plain("x.csv", b"a\n1\n");
    let format = InputFormat::Csv(CsvOptions {
        delimiter: b'"',
        mapping: None,
    });
    assert_eq!(
        file_error(&path, &format, &NoColumnTypes).to_string(),
        "invalid csv options: the delimiter cannot be '\\\"'"
    );
}

#[test]
fn a_byte_order_mark_and_spaces_around_header_names_are_ignored() {
    let fixtures = Fixtures::new();
    let path = fixtures.plain(
        "bom.csv",
        "\u{feff}person.id , homeAddress.city\r\n1,Lisboa\r\n".as_bytes(),
    );
    assert_eq!(
        values(&read_all(&path, &csv(), &NoColumnTypes).0),
        [json!({"person": {"id": "1"}, "homeAddress": {"city": "Lisboa"}})]
    );
}

#[test]
fn visiting_stops_when_the_visitor_breaks() {
    let fixtures = Fixtures::new();
    let path = fixtures.plain("many.csv", b"n\n1\n2\n3\n");
    let mut seen = Vec::new();
    let summary = read_file(&path, &csv(), &NoColumnTypes, &mut |row| {
        seen.push(row.number);
        ControlFlow::Break(())
    })
    .expect("read");
    assert_eq!((seen, summary.rows), (vec![2], 1));
}
