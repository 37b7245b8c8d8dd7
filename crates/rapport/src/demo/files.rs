//! `rapport demo --out DIR`: every demo dataset as JSON Lines and as CSV, for loading through
//! the batch path.
//!
//! The CSV header is XDM dotted paths (`person.name.firstName`, `identityMap.Email.0.id`,
//! `productListItems.1.SKU`): every leaf of every record has its column, arrays by index, so the
//! CSV holds exactly what the JSON Lines hold (as text). Columns appear in the order they are
//! first met. Records are streamed: rows go to a scratch file as they come, then the header
//! (known only at the end) is written and the rows copied after it, padded to the final width.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use serde_json::Value;

use super::generator::{DemoDataset, Generator};

/// What `write` produced for one dataset.
#[derive(Debug, Clone)]
pub struct WrittenDataset {
    pub dataset: DemoDataset,
    pub records: u64,
    pub json_lines: PathBuf,
    pub csv: PathBuf,
    pub csv_columns: usize,
}

/// What `write` produced.
#[derive(Debug, Clone)]
pub struct WrittenFiles {
    pub datasets: Vec<WrittenDataset>,
    pub customers: u64,
    pub seconds: f64,
}

/// Writes every dataset of `generator` into `dir` (created if needed) as `<name>.jsonl` and
/// `<name>.csv`. Reports progress on standard error every second.
pub fn write(dir: &Path, generator: &Generator) -> anyhow::Result<WrittenFiles> {
    let started = Instant::now();
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut writers = Vec::with_capacity(DemoDataset::ALL.len());
    for dataset in DemoDataset::ALL {
        writers.push(DatasetWriter::create(dir, dataset)?);
    }
    let customers = generator.customers();
    let mut failure: Option<anyhow::Error> = None;
    let mut last_report = Instant::now();
    let mut cells = Vec::new();
    let mut path = String::new();
    // Blocks of customers, so a failure stops the run early and progress is cheap to check.
    let block = 1_000;
    let mut start = 0;
    while start < customers && failure.is_none() {
        let end = (start + block).min(customers);
        generator.for_each_record(start..end, |_, record| {
            if failure.is_some() {
                return;
            }
            let writer = &mut writers[record.dataset.index()];
            if let Err(error) = writer.append(&record.value, &mut cells, &mut path) {
                failure = Some(error);
            }
        });
        start = end;
        if last_report.elapsed().as_secs() >= 1 {
            last_report = Instant::now();
            eprintln!(
                "demo: wrote {start} of {customers} customers ({:.0} customers/s)",
                start as f64 / started.elapsed().as_secs_f64()
            );
        }
    }
    if let Some(error) = failure {
        return Err(error);
    }
    let mut datasets = Vec::with_capacity(writers.len());
    for writer in writers {
        datasets.push(writer.finish()?);
    }
    Ok(WrittenFiles {
        datasets,
        customers,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// The two files of one dataset while they are written.
struct DatasetWriter {
    dataset: DemoDataset,
    json_lines_path: PathBuf,
    json_lines: BufWriter<File>,
    csv_path: PathBuf,
    rows_path: PathBuf,
    rows: BufWriter<File>,
    columns: Vec<String>,
    column_of: HashMap<String, usize>,
    /// `(first row, width)`: rows from `first row` on have `width` cells (widths only grow).
    widths: Vec<(u64, usize)>,
    records: u64,
    row: Vec<Option<String>>,
}

impl DatasetWriter {
    fn create(dir: &Path, dataset: DemoDataset) -> anyhow::Result<DatasetWriter> {
        let open = |path: &Path| -> anyhow::Result<BufWriter<File>> {
            let file =
                File::create(path).with_context(|| format!("creating {}", path.display()))?;
            Ok(BufWriter::with_capacity(1 << 20, file))
        };
        let json_lines_path = dir.join(format!("{}.jsonl", dataset.file_stem()));
        let csv_path = dir.join(format!("{}.csv", dataset.file_stem()));
        let rows_path = dir.join(format!(".{}.csv.rows", dataset.file_stem()));
        Ok(DatasetWriter {
            dataset,
            json_lines: open(&json_lines_path)?,
            json_lines_path,
            rows: open(&rows_path)?,
            rows_path,
            csv_path,
            columns: Vec::new(),
            column_of: HashMap::new(),
            widths: Vec::new(),
            records: 0,
            row: Vec::new(),
        })
    }

    fn append(
        &mut self,
        value: &Value,
        cells: &mut Vec<(usize, String)>,
        path: &mut String,
    ) -> anyhow::Result<()> {
        serde_json::to_writer(&mut self.json_lines, value)?;
        self.json_lines.write_all(b"\n")?;

        cells.clear();
        path.clear();
        self.flatten(value, path, cells);
        let width = self.columns.len();
        if self.widths.last().map(|(_, w)| *w) != Some(width) {
            self.widths.push((self.records, width));
        }
        self.row.clear();
        self.row.resize(width, None);
        for (column, text) in cells.drain(..) {
            self.row[column] = Some(text);
        }
        for (i, cell) in self.row.iter().enumerate() {
            if i > 0 {
                self.rows.write_all(b",")?;
            }
            if let Some(text) = cell {
                write_cell(&mut self.rows, text)?;
            }
        }
        self.rows.write_all(b"\n")?;
        self.records += 1;
        Ok(())
    }

    /// Every leaf of `value` as `(column, text)`; new paths become new columns.
    fn flatten(&mut self, value: &Value, path: &mut String, cells: &mut Vec<(usize, String)>) {
        let mut leaf = |this: &mut DatasetWriter, path: &str, text: String| {
            let column = match this.column_of.get(path) {
                Some(column) => *column,
                None => {
                    this.columns.push(path.to_owned());
                    this.column_of
                        .insert(path.to_owned(), this.columns.len() - 1);
                    this.columns.len() - 1
                }
            };
            cells.push((column, text));
        };
        match value {
            Value::Object(object) => {
                for (key, child) in object {
                    let length = path.len();
                    if !path.is_empty() {
                        path.push('.');
                    }
                    path.push_str(key);
                    self.flatten(child, path, cells);
                    path.truncate(length);
                }
            }
            Value::Array(items) => {
                for (index, child) in items.iter().enumerate() {
                    let length = path.len();
                    path.push('.');
                    path.push_str(&index.to_string());
                    self.flatten(child, path, cells);
                    path.truncate(length);
                }
            }
            Value::String(text) => leaf(self, path, text.clone()),
            Value::Number(number) => leaf(self, path, number.to_string()),
            Value::Bool(flag) => leaf(self, path, flag.to_string()),
            Value::Null => {}
        }
    }

    /// Writes the CSV: the header, then every row padded to the final width.
    fn finish(mut self) -> anyhow::Result<WrittenDataset> {
        self.json_lines.flush()?;
        self.rows.flush()?;
        drop(self.rows);
        let width = self.columns.len();
        let file = File::create(&self.csv_path)
            .with_context(|| format!("creating {}", self.csv_path.display()))?;
        let mut csv = BufWriter::with_capacity(1 << 20, file);
        for (i, column) in self.columns.iter().enumerate() {
            if i > 0 {
                csv.write_all(b",")?;
            }
            write_cell(&mut csv, column)?;
        }
        csv.write_all(b"\n")?;
        let rows = File::open(&self.rows_path)
            .with_context(|| format!("reading {}", self.rows_path.display()))?;
        let mut rows = BufReader::with_capacity(1 << 20, rows);
        let mut widths = self.widths.iter().peekable();
        let mut row_width = 0;
        let mut row_number = 0u64;
        let mut in_quotes = false;
        let mut buffer = vec![0u8; 1 << 16];
        let mut start_of_row = true;
        loop {
            let read = rows.read(&mut buffer)?;
            if read == 0 {
                break;
            }
            let mut from = 0;
            for i in 0..read {
                let byte = buffer[i];
                if start_of_row {
                    start_of_row = false;
                    while let Some((first, width)) = widths.peek() {
                        if *first <= row_number {
                            row_width = *width;
                            widths.next();
                        } else {
                            break;
                        }
                    }
                }
                if byte == b'"' {
                    in_quotes = !in_quotes;
                } else if byte == b'\n' && !in_quotes {
                    csv.write_all(&buffer[from..i])?;
                    // A row of width 0 is one empty cell; pad the rest.
                    for _ in row_width.max(1)..width {
                        csv.write_all(b",")?;
                    }
                    csv.write_all(b"\n")?;
                    from = i + 1;
                    row_number += 1;
                    start_of_row = true;
                }
            }
            csv.write_all(&buffer[from..read])?;
        }
        csv.flush()?;
        std::fs::remove_file(&self.rows_path)
            .with_context(|| format!("removing {}", self.rows_path.display()))?;
        Ok(WrittenDataset {
            dataset: self.dataset,
            records: self.records,
            json_lines: self.json_lines_path,
            csv: self.csv_path,
            csv_columns: width,
        })
    }
}

/// A CSV cell, quoted when it holds a separator, a quote or a line break.
fn write_cell(out: &mut impl Write, text: &str) -> std::io::Result<()> {
    if text.contains([',', '"', '\n', '\r']) {
        out.write_all(b"\"")?;
        out.write_all(text.replace('"', "\"\"").as_bytes())?;
        out.write_all(b"\"")
    } else {
        out.write_all(text.as_bytes())
    }
}

impl WrittenFiles {
    /// What was written, for the terminal.
    pub fn report(&self) -> String {
        let mut text = format!(
            "Wrote the demo retailer's data for {} customers in {:.1} s:\n",
            group_digits(self.customers),
            self.seconds
        );
        for written in &self.datasets {
            text.push_str(&format!(
                "  {:<26} {:>12} records  {}  {} ({} columns)\n",
                written.dataset.name(),
                group_digits(written.records),
                written.json_lines.display(),
                written.csv.display(),
                written.csv_columns
            ));
        }
        text
    }
}

/// `1234567` as `1,234,567`.
pub fn group_digits(number: u64) -> String {
    let digits = number.to_string();
    let head = match digits.len() % 3 {
        0 => 3,
        short => short,
    }
    .min(digits.len());
    let mut grouped = digits[..head].to_owned();
    for group in digits.as_bytes()[head..].chunks(3) {
        grouped.push(',');
        grouped.extend(group.iter().map(|&b| char::from(b)));
    }
    grouped
}
