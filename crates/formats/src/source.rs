//! Opening a file as a buffered byte stream: counts the bytes read from disk and undoes gzip or
//! zstd compression, detected from the first bytes.

use std::cell::Cell;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;
use std::rc::Rc;

use flate2::read::MultiGzDecoder;

use crate::error::{lowercase_first, CorruptStream, FileError};

const BUFFER_BYTES: usize = 64 * 1024;

/// How a file is compressed as a whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Compression {
    None,
    Gzip,
    Zstd,
}

impl Compression {
    /// Detects the compression from a file's first bytes.
    pub(crate) fn detect(head: &[u8]) -> Self {
        if head.starts_with(&[0x1f, 0x8b]) {
            Compression::Gzip
        } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Compression::Zstd
        } else {
            Compression::None
        }
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Compression::None => "no",
            Compression::Gzip => "gzip",
            Compression::Zstd => "zstd",
        }
    }
}

/// The number of bytes read from disk so far.
#[derive(Debug, Clone, Default)]
pub(crate) struct ByteCounter(Rc<Cell<u64>>);

impl ByteCounter {
    pub(crate) fn get(&self) -> u64 {
        self.0.get()
    }
}

/// Opens `path` for reading as plain bytes (decompressed if need be). Fails with
/// [`FileError::Empty`] when there is no byte to read.
pub(crate) fn open(path: &Path) -> Result<(Box<dyn BufRead>, ByteCounter), FileError> {
    let file = File::open(path).map_err(|e| FileError::Open(lowercase_first(&e.to_string())))?;
    let counter = ByteCounter::default();
    let mut disk = BufReader::with_capacity(
        BUFFER_BYTES,
        Counted {
            inner: file,
            counter: counter.clone(),
        },
    );
    let head = disk.fill_buf().map_err(FileError::from_io)?;
    let compression = Compression::detect(head);
    let mut input: Box<dyn BufRead> = match compression {
        Compression::None => Box::new(disk),
        Compression::Gzip => decoded(compression, MultiGzDecoder::new(disk)),
        Compression::Zstd => decoded(compression, crate::zstd::Decoder::new(disk)),
    };
    if input.fill_buf().map_err(FileError::from_io)?.is_empty() {
        return Err(FileError::Empty);
    }
    Ok((input, counter))
}

fn decoded(compression: Compression, decoder: impl Read + 'static) -> Box<dyn BufRead> {
    let marked = Marked {
        inner: decoder,
        codec: compression.name(),
    };
    Box::new(BufReader::with_capacity(BUFFER_BYTES, marked))
}

/// Counts the bytes read through it.
struct Counted<R> {
    inner: R,
    counter: ByteCounter,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        let total = &self.counter.0;
        total.set(total.get() + n as u64);
        Ok(n)
    }
}

/// Marks a decompressor's own errors (those without an OS error code) as [`CorruptStream`].
struct Marked<R> {
    inner: R,
    codec: &'static str,
}

impl<R: Read> Read for Marked<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(buf).map_err(|e| {
            if e.raw_os_error().is_some() || e.kind() == io::ErrorKind::Interrupted {
                return e;
            }
            let message = lowercase_first(&e.to_string());
            io::Error::new(
                io::ErrorKind::InvalidData,
                CorruptStream {
                    codec: self.codec,
                    message,
                },
            )
        })
    }
}
