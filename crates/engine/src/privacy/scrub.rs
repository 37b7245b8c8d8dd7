//! Scrubbing files of a deleted person's identity values: rows of batch error reports
//! (`batches/*/row_errors/*`, rewritten atomically without the lines that name them) and
//! earlier access results (`privacy/*/access.json`, removed whole).
//!
//! A value is looked for as given, lowercased, JSON-escaped (once, and again as it appears in
//! a raw line quoted inside an error row), and with non-ASCII characters as `\uXXXX` escapes;
//! the search ignores ASCII case. A match must stand on its own: a value is not found inside a
//! longer word or number (`12` is not found in `4123`), so short values do not wipe unrelated rows.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// The byte strings that betray an identity value, lowercased.
#[derive(Debug, Clone, Default)]
pub struct Needles {
    patterns: Vec<Vec<u8>>,
}

/// A JSON string's inside (no quotes).
fn json_escaped(value: &str) -> String {
    let quoted = serde_json::to_string(value).unwrap_or_default();
    quoted
        .get(1..quoted.len().saturating_sub(1))
        .unwrap_or_default()
        .to_owned()
}

/// A JSON string's inside with every non-ASCII character as a `\uXXXX` escape (lowercase hex).
fn ascii_escaped(value: &str) -> String {
    let mut out = String::new();
    for c in json_escaped(value).chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{unit:04x}"));
            }
        }
    }
    out
}

impl Needles {
    pub fn new<'a>(values: impl IntoIterator<Item = &'a str>) -> Needles {
        let mut patterns: Vec<Vec<u8>> = Vec::new();
        for value in values {
            let escaped = json_escaped(value);
            let variants = [
                value.to_owned(),
                escaped.clone(),
                json_escaped(&escaped),
                ascii_escaped(value),
                json_escaped(&ascii_escaped(value)),
            ];
            for variant in variants {
                let lowered = variant.to_ascii_lowercase().into_bytes();
                if !lowered.is_empty() && !patterns.contains(&lowered) {
                    patterns.push(lowered);
                }
            }
        }
        Needles { patterns }
    }

    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    /// Whether `bytes` holds one of the values (ASCII case ignored), standing on its own.
    pub fn found_in(&self, bytes: &[u8]) -> bool {
        if self.patterns.is_empty() {
            return false;
        }
        let lowered = bytes.to_ascii_lowercase();
        self.patterns.iter().any(|p| contains_word(&lowered, p))
    }
}

fn is_word_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric()
}

/// Whether `needle` occurs in `haystack` with no letter or digit glued to either end (when the
/// needle's own end is a letter or digit).
fn contains_word(haystack: &[u8], needle: &[u8]) -> bool {
    let (Some(&first), Some(&last)) = (needle.first(), needle.last()) else {
        return false;
    };
    if needle.len() > haystack.len() {
        return false;
    }
    for start in 0..=haystack.len() - needle.len() {
        if haystack[start] != first || &haystack[start..start + needle.len()] != needle {
            continue;
        }
        let before = start.checked_sub(1).map(|i| haystack[i]);
        let after = haystack.get(start + needle.len()).copied();
        let glued_before = is_word_byte(first) && before.is_some_and(is_word_byte);
        let glued_after = is_word_byte(last) && after.is_some_and(is_word_byte);
        if !glued_before && !glued_after {
            return true;
        }
    }
    false
}

fn io_error(path: &Path, error: std::io::Error) -> Error {
    Error::internal(format!("{}: {error}", path.display()))
}

/// Writes `bytes` to `path` atomically: a temporary file beside it, synced, then renamed over.
/// On Unix the file is made readable by its owner only.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let Some(dir) = path.parent() else {
        return Err(Error::internal(format!(
            "{}: no parent directory",
            path.display()
        )));
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temporary = dir.join(format!(".{name}.tmp"));
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(&temporary)
        .map_err(|e| io_error(&temporary, e))?;
    file.write_all(bytes).map_err(|e| io_error(&temporary, e))?;
    file.sync_all().map_err(|e| io_error(&temporary, e))?;
    drop(file);
    fs::rename(&temporary, path).map_err(|e| io_error(path, e))?;
    if let Ok(directory) = fs::File::open(dir) {
        let _ = directory.sync_all();
    }
    Ok(())
}

/// Rewrites one file without the lines that hold a value; returns how many lines went.
pub fn scrub_lines(path: &Path, needles: &Needles) -> Result<u64> {
    let bytes = fs::read(path).map_err(|e| io_error(path, e))?;
    let mut kept = Vec::with_capacity(bytes.len());
    let mut dropped = 0;
    for line in bytes.split_inclusive(|b| *b == b'\n') {
        if needles.found_in(line) {
            dropped += 1;
        } else {
            kept.extend_from_slice(line);
        }
    }
    if dropped > 0 {
        write_atomically(path, &kept)?;
    }
    Ok(dropped)
}

fn directories(root: &Path) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = fs::read_dir(root)
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| entry.path())
        .filter(|path| path.is_dir())
        .collect();
    found.sort();
    found
}

/// Drops the lines naming a value from every batch error report under `batches_root`;
/// returns how many lines went.
pub fn scrub_error_reports(batches_root: &Path, needles: &Needles) -> Result<u64> {
    if needles.is_empty() {
        return Ok(0);
    }
    let mut dropped = 0;
    for batch in directories(batches_root) {
        let reports = batch.join("row_errors");
        let Ok(entries) = fs::read_dir(&reports) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let temporary = entry.file_name().to_string_lossy().starts_with('.');
            if path.is_file() && !temporary {
                dropped += scrub_lines(&path, needles)?;
            }
        }
    }
    Ok(dropped)
}

/// The name of an access result inside a job's directory.
pub const ACCESS_FILE: &str = "access.json";

/// Removes the access results under `privacy_root` that hold a value, except those `keep`
/// says to keep (by job id); returns how many went.
pub fn remove_access_results(
    privacy_root: &Path,
    needles: &Needles,
    keep: &dyn Fn(&str) -> bool,
) -> Result<u64> {
    if needles.is_empty() {
        return Ok(0);
    }
    let mut removed = 0;
    for dir in directories(privacy_root) {
        let job = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if keep(&job) {
            continue;
        }
        let holds_value = fs::read_dir(&dir)
            .into_iter()
            .flatten()
            .flatten()
            .filter(|entry| entry.path().is_file())
            .any(|entry| fs::read(entry.path()).is_ok_and(|bytes| needles.found_in(&bytes)));
        if holds_value {
            fs::remove_dir_all(&dir).map_err(|e| io_error(&dir, e))?;
            removed += 1;
        }
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_found_as_given_lowercased_and_escaped_but_not_inside_words() {
        let needles = Needles::new(["Alice@Example.com", "12", "Zoë \"Z\""]);
        assert!(needles.found_in(b"{\"id\":\"alice@example.com\"}"));
        assert!(needles.found_in(b"ALICE@EXAMPLE.COM,x"));
        assert!(needles.found_in(b"\"id\":12}"));
        assert!(!needles.found_in(b"\"priceTotal\":4123}"));
        assert!(needles.found_in("Zoë \\\"Z\\\"".as_bytes()));
        assert!(needles.found_in(b"zo\\u00eb \\\"z\\\""));
        assert!(needles.found_in(b"zo\\\\u00eb \\\\\\\"z\\\\\\\""));
        assert!(!needles.found_in(b"nothing here"));
    }
}
