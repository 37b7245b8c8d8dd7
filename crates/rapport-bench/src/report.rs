//! The Markdown a run prints as it goes, kept to be written to a file and into BENCHMARKS.md.

use crate::measure::Row;

/// Where `rapport-bench --write-benchmarks` puts its tables in BENCHMARKS.md: everything between
/// these two lines is replaced, the rest of the file is left as it is.
pub const BEGIN: &str =
    "<!-- rapport-bench: begin (written by rapport-bench --write-benchmarks) -->";
pub const END: &str = "<!-- rapport-bench: end -->";

#[derive(Default)]
pub struct Markdown {
    text: String,
}

impl Markdown {
    /// Prints `line` and keeps it.
    pub fn line(&mut self, line: impl AsRef<str>) {
        println!("{}", line.as_ref());
        self.text.push_str(line.as_ref());
        self.text.push('\n');
    }

    /// A table's heading, with a blank line on either side.
    pub fn heading(&mut self, title: impl AsRef<str>) {
        self.line("");
        self.line(format!("#### {}", title.as_ref()));
        self.line("");
    }

    /// A latency table.
    pub fn rows(&mut self, rows: &[Row]) {
        self.line("| connections | target | requests/s | p50 µs | p90 µs | p99 µs | p99.9 µs | max µs | p50 ratio | p99 ratio | p99.9 ratio |");
        self.line("|---|---|---|---|---|---|---|---|---|---|---|");
        for row in rows {
            self.line(row.markdown());
        }
    }

    pub fn text(&self) -> &str {
        &self.text
    }
}

/// `benchmarks` with what lies between [`BEGIN`] and [`END`] replaced by `tables`; the markers
/// are added at the end when the file has none.
pub fn replace_between_markers(benchmarks: &str, tables: &str) -> String {
    match (benchmarks.find(BEGIN), benchmarks.find(END)) {
        (Some(begin), Some(end)) if begin < end => format!(
            "{}{BEGIN}\n{tables}\n{}",
            &benchmarks[..begin],
            &benchmarks[end..]
        ),
        _ => format!("{}\n{BEGIN}\n{tables}\n{END}\n", benchmarks.trim_end()),
    }
}
