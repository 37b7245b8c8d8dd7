//! Parquet: nested groups, lists, timestamps, dates, decimals and bytes become JSON; rows are
//! numbered across row groups; non-Parquet and compressed files are file errors.

use std::fs::File;
use std::ops::ControlFlow;
use std::path::Path;
use std::sync::Arc;

use formats::{read_file, FileError, InputFormat, NoColumnTypes};
use parquet::basic::Compression;
use parquet::data_type::{ByteArray, ByteArrayType, DataType, Int32Type, Int64Type};
use parquet::file::properties::WriterProperties;
use parquet::file::writer::{SerializedColumnWriter, SerializedFileWriter};
use parquet::schema::parser::parse_message_type;
use serde_json::json;

use crate::common::{file_error, gzip, read_all, rows, values, Fixtures};

/// One column chunk: values, definition levels, repetition levels (empty: not needed).
enum Column {
    Text(Vec<&'static [u8]>, Vec<i16>, Vec<i16>),
    Int(Vec<i32>, Vec<i16>, Vec<i16>),
    Long(Vec<i64>, Vec<i16>, Vec<i16>),
}

/// Writes a Parquet file of `schema` with one row group per entry of `groups` (columns in
/// schema order).
fn write_parquet(path: &Path, schema: &str, groups: Vec<Vec<Column>>) {
    let schema = Arc::new(parse_message_type(schema).expect("schema"));
    let props = WriterProperties::builder().set_compression(Compression::SNAPPY);
    let file = File::create(path).expect("create");
    let mut writer =
        SerializedFileWriter::new(file, schema, Arc::new(props.build())).expect("writer");
    for columns in groups {
        let mut group = writer.next_row_group().expect("row group");
        for column in columns {
            let mut out = group.next_column().expect("column").expect("a column left");
            match column {
                Column::Text(v, d, r) => {
                    let v: Vec<ByteArray> = v.iter().map(|b| ByteArray::from(b.to_vec())).collect();
                    write::<ByteArrayType>(&mut out, &v, &d, &r)
                }
                Column::Int(v, d, r) => write::<Int32Type>(&mut out, &v, &d, &r),
                Column::Long(v, d, r) => write::<Int64Type>(&mut out, &v, &d, &r),
            }
            out.close().expect("close column");
        }
        group.close().expect("close row group");
    }
    writer.close().expect("close file");
}

fn write<T: DataType>(out: &mut SerializedColumnWriter, values: &[T::T], def: &[i16], rep: &[i16]) {
    let (def, rep) = (
        (!def.is_empty()).then_some(def),
        (!rep.is_empty()).then_some(rep),
    );
    out.typed::<T>()
        .write_batch(values, def, rep)
        .expect("write");
}

const PEOPLE: &str = "message person {
    required binary id (UTF8);
    optional group person {
        optional group name { optional binary firstName (UTF8); optional binary lastName (UTF8); }
        optional int32 age;
    }
    optional group tags (LIST) { repeated group list { optional binary element (UTF8); } }
    optional int64 ts (TIMESTAMP_MILLIS);
    optional int32 birthDate (DATE);
    optional int64 amount (DECIMAL(10,2));
    optional binary blob;
    optional group attributes (MAP) {
        repeated group key_value { required binary key (UTF8); optional int32 value; }
    }
}";

fn people(path: &Path) {
    use Column::*;
    write_parquet(
        path,
        PEOPLE,
        vec![vec![
            Text(vec![b"a", b"b"], vec![], vec![]),
            Text(vec![b"Ana"], vec![3, 0], vec![]),
            Text(vec![], vec![2, 0], vec![]),
            Int(vec![30], vec![2, 0], vec![]),
            Text(vec![b"x", b"y"], vec![3, 3, 1], vec![0, 1, 0]),
            Long(vec![1_700_000_000_123], vec![1, 0], vec![]),
            Int(vec![19_000], vec![1, 0], vec![]),
            Long(vec![12_345, -5], vec![1, 1], vec![]),
            Text(vec![b"\xff\x00", b"hi"], vec![1, 1], vec![]),
            Text(vec![b"visits", b"score"], vec![2, 2, 0], vec![0, 1, 0]),
            Int(vec![3], vec![3, 2, 0], vec![0, 1, 0]),
        ]],
    );
}

#[test]
fn groups_lists_timestamps_dates_decimals_and_bytes_become_json() {
    let fixtures = Fixtures::new();
    let path = fixtures.path("people.parquet");
    people(&path);
    let (rows, summary) = read_all(&path, &InputFormat::Parquet, &NoColumnTypes);
    assert_eq!(
        values(&rows),
        [
            json!({
                "id": "a",
                "person": {"name": {"firstName": "Ana"}, "age": 30},
                "tags": ["x", "y"],
                "ts": "2023-11-14T22:13:20.123Z",
                "birthDate": "2022-01-08",
                "amount": 123.45,
                "blob": "/wA=",
                "attributes": {"visits": 3, "score": null},
            }),
            json!({"id": "b", "tags": [], "amount": -0.05, "blob": "hi"}),
        ]
    );
    assert_eq!(rows.iter().map(|r| r.number).collect::<Vec<_>>(), [1, 2]);
    assert_eq!(
        rows[1].raw,
        r#"{"amount":-0.05,"blob":"hi","id":"b","tags":[]}"#
    );
    let size = std::fs::metadata(&path).expect("metadata").len();
    assert!(
        summary.bytes_read > 0 && summary.bytes_read <= size,
        "{} of {size}",
        summary.bytes_read
    );
}

fn numbers(path: &Path) {
    let group = |from: i64| vec![Column::Long((from..from + 3).collect(), vec![], vec![])];
    write_parquet(
        path,
        "message numbers { required int64 n; }",
        vec![group(1), group(4)],
    );
}

#[test]
fn rows_are_numbered_across_row_groups_and_reading_stops_on_break() {
    let fixtures = Fixtures::new();
    let path = fixtures.path("numbers.parquet");
    numbers(&path);
    let all = rows(&path, &InputFormat::Parquet);
    let numbers: Vec<(u64, i64)> = all
        .iter()
        .map(|r| (r.number, r.value.as_ref().unwrap()["n"].as_i64().unwrap()))
        .collect();
    assert_eq!(numbers, [(1, 1), (2, 2), (3, 3), (4, 4), (5, 5), (6, 6)]);

    let mut seen = 0;
    let summary = read_file(&path, &InputFormat::Parquet, &NoColumnTypes, &mut |_| {
        seen += 1;
        if seen == 2 {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    })
    .expect("read");
    assert_eq!(summary.rows, 2);
    let whole = read_all(&path, &InputFormat::Parquet, &NoColumnTypes).1;
    assert!(
        summary.bytes_read < whole.bytes_read,
        "stopping early reads fewer bytes"
    );
}

#[test]
fn a_file_that_is_not_parquet_is_a_file_error() {
    let fixtures = Fixtures::new();
    let path = fixtures.plain("records.parquet", b"{\"a\": 1}\n{\"b\": 2}\n");
    let error = file_error(&path, &InputFormat::Parquet, &NoColumnTypes);
    assert_eq!(
        error.to_string(),
        "not a parquet file: the file does not start with \"PAR1\""
    );

    let good = fixtures.path("good.parquet");
    numbers(&good);
    let bytes = std::fs::read(&good).expect("read");
    let cut = fixtures.plain("cut.parquet", &bytes[..bytes.len() - 5]);
    let error = file_error(&cut, &InputFormat::Parquet, &NoColumnTypes);
    assert_eq!(
        error.to_string(),
        "not a parquet file: the file does not end with \"PAR1\"; is it truncated?"
    );

    let empty = fixtures.plain("empty.parquet", b"");
    assert!(matches!(
        file_error(&empty, &InputFormat::Parquet, &NoColumnTypes),
        FileError::Empty
    ));
}

#[test]
fn a_damaged_footer_is_a_file_error() {
    let fixtures = Fixtures::new();
    let good = fixtures.path("good.parquet");
    numbers(&good);
    let mut bytes = std::fs::read(&good).expect("read");
    let footer = bytes.len() - 8;
    bytes[footer - 20..footer].fill(0xEE);
    let path = fixtures.plain("damaged.parquet", &bytes);
    let error = file_error(&path, &InputFormat::Parquet, &NoColumnTypes);
    assert!(matches!(error, FileError::Parquet(_)), "{error:?}");
    assert!(
        error
            .to_string()
            .starts_with("invalid parquet file: the footer cannot be read: "),
        "{error}"
    );
}

#[test]
fn a_gzip_wrapped_parquet_file_is_a_file_error_saying_so() {
    let fixtures = Fixtures::new();
    let good = fixtures.path("good.parquet");
    numbers(&good);
    let path = fixtures.plain(
        "wrapped.parquet.gz",
        &gzip(&std::fs::read(&good).expect("read")),
    );
    let error = file_error(&path, &InputFormat::Parquet, &NoColumnTypes);
    assert!(matches!(
        error,
        FileError::CompressedParquet { codec: "gzip" }
    ));
    assert_eq!(
        error.to_string(),
        "the parquet file is wrapped in gzip compression; upload parquet files as they are (parquet compresses its pages itself)"
    );
}
