//! `rapport demo --out DIR`: every demo dataset as JSON Lines, CSV and Parquet, for loading
//! through the batch path.
//!
//! The CSV header is XDM dotted paths (`person.name.firstName`, `identityMap.Email.0.id`,
//! `productListItems.1.SKU`): every leaf of every record has its column, arrays by index, so the
//! CSV holds exactly what the JSON Lines hold (as text). Columns appear in the order they are
//! first met. Records are streamed: rows go to a scratch file as they come, then the header
//! (known only at the end) is written and the rows copied after it, padded to the final width.
//!
//! The Parquet file has nested columns ([`crate::xdm_parquet`]), its schema derived from the
//! dataset's XDM schema ([`super::setup::fields`]), so it is known before the first record. The
//! records go, once written as JSON Lines and CSV, to a second thread that shreds them into
//! columns and encodes a row group every 50,000 records of a dataset.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::fs::File;
use std::hash::{BuildHasherDefault, Hasher};
use std::io::{BufReader, BufWriter, Read, Write};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Instant;

use anyhow::Context;
use serde_json::Value;

use super::generator::{DemoDataset, Generator, Record};
use crate::xdm_parquet::ParquetRecordWriter;

/// What `write` produced for one dataset.
#[derive(Debug, Clone)]
pub struct WrittenDataset {
    pub dataset: DemoDataset,
    pub records: u64,
    pub json_lines: PathBuf,
    pub csv: PathBuf,
    pub csv_columns: usize,
    pub parquet: PathBuf,
    /// Leaf columns of the Parquet file (every leaf of the dataset's XDM schema).
    pub parquet_columns: usize,
}

/// What `write` produced.
#[derive(Debug, Clone)]
pub struct WrittenFiles {
    pub datasets: Vec<WrittenDataset>,
    pub customers: u64,
    pub seconds: f64,
}

/// Customers generated between two hand-overs to the Parquet thread.
const BLOCK_CUSTOMERS: u64 = 100;
/// Blocks waiting for the Parquet thread.
const BLOCKS_QUEUED: usize = 4;

/// Writes every dataset of `generator` into `dir` (created if needed) as `<name>.jsonl`,
/// `<name>.csv` and `<name>.parquet`. Reports progress on standard error every second.
pub fn write(dir: &Path, generator: &Generator) -> anyhow::Result<WrittenFiles> {
    let started = Instant::now();
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut writers = Vec::with_capacity(DemoDataset::ALL.len());
    let mut parquet_files = Vec::with_capacity(DemoDataset::ALL.len());
    for dataset in DemoDataset::ALL {
        writers.push(DatasetWriter::create(dir, dataset)?);
        parquet_files.push(ParquetFile::create(dir, dataset)?);
    }
    let customers = generator.customers();
    let (parquet, text) = std::thread::scope(|scope| {
        let (sender, receiver) = mpsc::sync_channel::<Vec<Record>>(BLOCKS_QUEUED);
        let parquet = scope.spawn(move || write_parquet(parquet_files, receiver));
        // The CSV files are finished (header, then the rows copied) while the Parquet thread
        // writes its last blocks.
        let text = write_text(&mut writers, generator, customers, started, sender).and_then(|()| {
            writers
                .into_iter()
                .map(DatasetWriter::finish)
                .collect::<anyhow::Result<Vec<_>>>()
        });
        (parquet.join(), text)
    });
    let parquet = match parquet {
        Ok(parquet) => parquet,
        Err(panic) => std::panic::resume_unwind(panic),
    };
    // The Parquet thread's error explains a text side that stopped because it went away.
    let parquet = parquet?;
    let mut datasets = text?;
    for (written, (parquet, parquet_columns)) in datasets.iter_mut().zip(parquet) {
        written.parquet = parquet;
        written.parquet_columns = parquet_columns;
    }
    Ok(WrittenFiles {
        datasets,
        customers,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// Generates every record, writes it as JSON Lines and CSV, and hands it on to the Parquet
/// thread, block by block.
fn write_text(
    writers: &mut [DatasetWriter],
    generator: &Generator,
    customers: u64,
    started: Instant,
    parquet: mpsc::SyncSender<Vec<Record>>,
) -> anyhow::Result<()> {
    let mut failure: Option<anyhow::Error> = None;
    let mut last_report = Instant::now();
    let mut cells = Cells::default();
    let mut path = String::new();
    let mut start = 0;
    while start < customers {
        let end = (start + BLOCK_CUSTOMERS).min(customers);
        let mut block = Vec::new();
        generator.for_each_record(start..end, |_, record| {
            if failure.is_some() {
                return;
            }
            let writer = &mut writers[record.dataset.index()];
            match writer.append(&record.value, &mut cells, &mut path) {
                Ok(()) => block.push(record),
                Err(error) => failure = Some(error),
            }
        });
        if let Some(error) = failure {
            return Err(error);
        }
        if parquet.send(block).is_err() {
            anyhow::bail!("the Parquet writer stopped");
        }
        start = end;
        if last_report.elapsed().as_secs() >= 1 {
            last_report = Instant::now();
            eprintln!(
                "demo: wrote {start} of {customers} customers ({:.0} customers/s)",
                start as f64 / started.elapsed().as_secs_f64()
            );
        }
    }
    Ok(())
}

/// Writes every record received into its dataset's Parquet file; returns each file's path and
/// leaf column count once the sender is done.
fn write_parquet(
    mut files: Vec<ParquetFile>,
    blocks: mpsc::Receiver<Vec<Record>>,
) -> anyhow::Result<Vec<(PathBuf, usize)>> {
    for block in blocks {
        for record in block {
            let file = &mut files[record.dataset.index()];
            file.writer
                .write(&record.value)
                .with_context(|| format!("writing {}", file.path.display()))?;
        }
    }
    let mut written = Vec::with_capacity(files.len());
    for file in files {
        let columns = file.writer.columns();
        let mut out = file
            .writer
            .finish()
            .with_context(|| format!("writing {}", file.path.display()))?;
        out.flush()
            .with_context(|| format!("writing {}", file.path.display()))?;
        written.push((file.path, columns));
    }
    Ok(written)
}

/// The Parquet file of one dataset while it is written.
struct ParquetFile {
    path: PathBuf,
    writer: ParquetRecordWriter<BufWriter<File>>,
}

impl ParquetFile {
    fn create(dir: &Path, dataset: DemoDataset) -> anyhow::Result<ParquetFile> {
        let path = dir.join(format!("{}.parquet", dataset.file_stem()));
        let fields = super::setup::fields(dataset)?;
        let file = File::create(&path).with_context(|| format!("creating {}", path.display()))?;
        let writer = ParquetRecordWriter::new(BufWriter::with_capacity(1 << 20, file), &fields)
            .with_context(|| format!("creating {}", path.display()))?;
        Ok(ParquetFile { path, writer })
    }
}

/// The JSON Lines and CSV files of one dataset while they are written.
struct DatasetWriter {
    dataset: DemoDataset,
    json_lines_path: PathBuf,
    json_lines: BufWriter<File>,
    csv_path: PathBuf,
    rows_path: PathBuf,
    rows: BufWriter<File>,
    columns: Vec<String>,
    column_of: HashMap<String, usize, BuildHasherDefault<Fnv>>,
    /// `(first row, width)`: rows from `first row` on have `width` cells (widths only grow).
    widths: Vec<(u64, usize)>,
    records: u64,
    /// The row being written: for each column, 1 + the index of its cell, or 0 when empty.
    row: Vec<usize>,
}

/// The leaves of one record: `(column, where its text is in text)`.
#[derive(Default)]
struct Cells {
    text: String,
    cells: Vec<(usize, Range<usize>)>,
}

/// FNV-1a, for the short column paths looked up once per leaf (SipHash is slower for them).
#[derive(Default)]
struct Fnv(u64);

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        let mut hash = if self.0 == 0 {
            0xcbf2_9ce4_8422_2325
        } else {
            self.0
        };
        for byte in bytes {
            hash = (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = hash;
    }
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
            column_of: HashMap::default(),
            widths: Vec::new(),
            records: 0,
            row: Vec::new(),
        })
    }

    fn append(
        &mut self,
        value: &Value,
        cells: &mut Cells,
        path: &mut String,
    ) -> anyhow::Result<()> {
        serde_json::to_writer(&mut self.json_lines, value)?;
        self.json_lines.write_all(b"\n")?;

        cells.text.clear();
        cells.cells.clear();
        path.clear();
        self.flatten(value, path, cells);
        let width = self.columns.len();
        if self.widths.last().map(|(_, w)| *w) != Some(width) {
            self.widths.push((self.records, width));
        }
        self.row.clear();
        self.row.resize(width, 0);
        for (index, (column, _)) in cells.cells.iter().enumerate() {
            self.row[*column] = index + 1;
        }
        for (i, cell) in self.row.iter().enumerate() {
            if i > 0 {
                self.rows.write_all(b",")?;
            }
            if *cell > 0 {
                let range = cells.cells[cell - 1].1.clone();
                write_cell(&mut self.rows, &cells.text[range])?;
            }
        }
        self.rows.write_all(b"\n")?;
        self.records += 1;
        Ok(())
    }

    /// Every leaf of `value` as a cell; new paths become new columns.
    fn flatten(&mut self, value: &Value, path: &mut String, cells: &mut Cells) {
        let start = cells.text.len();
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
                return;
            }
            Value::Array(items) => {
                for (index, child) in items.iter().enumerate() {
                    let length = path.len();
                    // Writing to a String cannot fail.
                    let _ = write!(path, ".{index}");
                    self.flatten(child, path, cells);
                    path.truncate(length);
                }
                return;
            }
            Value::String(text) => cells.text.push_str(text),
            Value::Number(number) => {
                let _ = write!(cells.text, "{number}");
            }
            Value::Bool(flag) => cells.text.push_str(if *flag { "true" } else { "false" }),
            Value::Null => return,
        }
        let column = self.column(path);
        cells.cells.push((column, start..cells.text.len()));
    }

    /// The column of a leaf's path, a new one the first time the path is met.
    fn column(&mut self, path: &str) -> usize {
        if let Some(column) = self.column_of.get(path) {
            return *column;
        }
        self.columns.push(path.to_owned());
        self.column_of
            .insert(path.to_owned(), self.columns.len() - 1);
        self.columns.len() - 1
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
            parquet: PathBuf::new(),
            parquet_columns: 0,
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
                "  {:<26} {:>12} records  {}\n{:42}{} ({} columns)\n{:42}{} ({} nested columns)\n",
                written.dataset.name(),
                group_digits(written.records),
                written.json_lines.display(),
                "",
                written.csv.display(),
                written.csv_columns,
                "",
                written.parquet.display(),
                written.parquet_columns,
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
