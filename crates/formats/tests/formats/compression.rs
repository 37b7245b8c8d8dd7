//! Compression, detected from the first bytes whatever the file name: gzip and zstd variants
//! of JSON Lines and CSV, concatenated streams, and corrupt streams as file errors.

use formats::{CsvOptions, FileError, InputFormat, NoColumnTypes};
use serde_json::json;

use crate::common::{file_error, gzip, read_all, rows, values, zstd, Fixtures};

const LINES: &str = "{\"person\":{\"name\":{\"firstName\":\"Ana\"}}}\n{\"x\":[1,2]}\n";
const CSV: &str = "person.name.firstName,homeAddress.countryCode\nAna,PT\nBo,SE\n";

fn csv() -> InputFormat {
    InputFormat::Csv(CsvOptions::default())
}

fn expected_lines() -> Vec<serde_json::Value> {
    vec![
        json!({"person": {"name": {"firstName": "Ana"}}}),
        json!({"x": [1, 2]}),
    ]
}

fn expected_csv() -> Vec<serde_json::Value> {
    vec![
        json!({"person": {"name": {"firstName": "Ana"}}, "homeAddress": {"countryCode": "PT"}}),
        json!({"person": {"name": {"firstName": "Bo"}}, "homeAddress": {"countryCode": "SE"}}),
    ]
}

#[test]
fn gzip_json_lines_and_csv_are_read_whatever_their_names() {
    let fixtures = Fixtures::new();
    let compressed = gzip(LINES.as_bytes());
    let path = fixtures.plain("records.json", &compressed);
    let (rows, summary) = read_all(&path, &InputFormat::JsonLines, &NoColumnTypes);
    assert_eq!(values(&rows), expected_lines());
    assert_eq!(summary.bytes_read, compressed.len() as u64);
    let path = fixtures.gzip("people.csv.gz", CSV.as_bytes());
    let (rows, _) = read_all(&path, &csv(), &NoColumnTypes);
    assert_eq!(values(&rows), expected_csv());
    assert_eq!((rows[1].number, rows[1].raw.as_str()), (3, "Bo,SE"));
}

#[test]
fn zstd_json_lines_and_csv_are_read() {
    let fixtures = Fixtures::new();
    let compressed = zstd(LINES.as_bytes());
    let path = fixtures.plain("records.jsonl.zst", &compressed);
    let (rows, summary) = read_all(&path, &InputFormat::JsonLines, &NoColumnTypes);
    assert_eq!(values(&rows), expected_lines());
    assert_eq!(summary.bytes_read, compressed.len() as u64);
    let path = fixtures.zstd("people.txt", CSV.as_bytes());
    assert_eq!(
        values(&read_all(&path, &csv(), &NoColumnTypes).0),
        expected_csv()
    );
}

#[test]
fn concatenated_streams_and_skippable_zstd_frames_are_one_stream() {
    let fixtures = Fixtures::new();
    let (first, second) = LINES.split_at(LINES.find('\n').expect("two lines") + 1);
    let gz = [gzip(first.as_bytes()), gzip(second.as_bytes())].concat();
    let path = fixtures.plain("two.gz", &gz);
    assert_eq!(
        values(&rows(&path, &InputFormat::JsonLines)),
        expected_lines()
    );

    // A skippable frame: magic 0x184D2A50, a 4-byte length, then that many bytes.
    let skippable = [
        &0x184D_2A50u32.to_le_bytes()[..],
        &3u32.to_le_bytes(),
        b"abc",
    ]
    .concat();
    let zst = [zstd(first.as_bytes()), skippable, zstd(second.as_bytes())].concat();
    let path = fixtures.plain("two.zst", &zst);
    assert_eq!(
        values(&rows(&path, &InputFormat::JsonLines)),
        expected_lines()
    );
}

#[test]
fn a_large_file_streams_through_the_decoders() {
    let fixtures = Fixtures::new();
    let text: String = (0..20_000)
        .map(|n| format!("{{\"n\":{n},\"pad\":\"{}\"}}\n", "p".repeat(n % 50)))
        .collect();
    for path in [
        fixtures.gzip("big.gz", text.as_bytes()),
        fixtures.zstd("big.zst", text.as_bytes()),
    ] {
        let rows = rows(&path, &InputFormat::JsonLines);
        assert_eq!(rows.len(), 20_000);
        assert_eq!(rows[19_999].value.as_ref().expect("good")["n"], 19_999);
    }
}

#[test]
fn a_corrupt_or_truncated_stream_is_a_file_error() {
    let fixtures = Fixtures::new();
    let mut broken = gzip(LINES.as_bytes());
    broken[12] ^= 0xff;
    broken[13] ^= 0xff;
    let path = fixtures.plain("broken.gz", &broken);
    let error = file_error(&path, &InputFormat::JsonLines, &NoColumnTypes);
    assert!(
        matches!(error, FileError::Compression { codec: "gzip", .. }),
        "{error:?}"
    );
    assert!(
        error.to_string().starts_with("corrupt gzip stream: "),
        "{error}"
    );

    let whole = gzip(LINES.as_bytes());
    let path = fixtures.plain("cut.gz", &whole[..whole.len() - 12]);
    let error = file_error(&path, &csv(), &NoColumnTypes);
    assert!(
        matches!(error, FileError::Compression { codec: "gzip", .. }),
        "{error:?}"
    );

    let whole = zstd(LINES.as_bytes());
    let path = fixtures.plain("cut.zst", &whole[..whole.len() - 3]);
    let error = file_error(&path, &InputFormat::MultiLineJson, &NoColumnTypes);
    assert!(
        matches!(error, FileError::Compression { codec: "zstd", .. }),
        "{error:?}"
    );
    assert!(
        error.to_string().starts_with("corrupt zstd stream: "),
        "{error}"
    );
}

#[test]
fn a_compressed_empty_file_is_empty() {
    let fixtures = Fixtures::new();
    let path = fixtures.gzip("nothing.gz", b"");
    assert!(matches!(
        file_error(&path, &InputFormat::JsonLines, &NoColumnTypes),
        FileError::Empty
    ));
}
