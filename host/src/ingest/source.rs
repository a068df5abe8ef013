//! Input files: finding them under directories and reading them.
//!
//! Plain files are memory-mapped and parsed in place; `.gz` files (detected by their magic
//! bytes, as AWS delivers every file to S3 gzipped) are decompressed as a stream. Either way
//! memory stays at one item, whatever the size of the file.

use std::cell::Cell;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use super::forms::{self, Document, DocumentError, Form, ItemEvent};
use super::inventory;
use crate::audited::mmap;
use crate::canonical::ContentHash;

/// File names picked up when walking a directory (an S3 `AWSLogs/` sync holds other files,
/// such as `ConfigWritabilityCheckFile`, that are not data).
const DATA_SUFFIXES: &[&str] = &[
    ".json",
    ".json.gz",
    ".ndjson",
    ".ndjson.gz",
    ".jsonl",
    ".jsonl.gz",
];

/// How much input one file and one item may be: inputs are untrusted, and a small `.gz` can
/// expand to anything. Every limit has a flag to raise it (README, "Limits").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InputLimits {
    /// Bytes of one item's JSON (AWS's largest items are a few hundred KiB).
    pub max_item_bytes: u64,
    /// Bytes of one file, after decompression.
    pub max_file_bytes: u64,
    /// Decompressed bytes per compressed byte of a `.gz`, judged once it has expanded past
    /// `RATIO_GRACE` (AWS's deliveries compress about 7 to 1; a bomb, hundreds to 1).
    pub max_gzip_ratio: u64,
}

impl Default for InputLimits {
    fn default() -> Self {
        InputLimits {
            max_item_bytes: 32 << 20,
            max_file_bytes: 4 << 30,
            max_gzip_ratio: 100,
        }
    }
}

/// Expansion a `.gz` may reach before its ratio is judged: small files compress unevenly.
const RATIO_GRACE: u64 = 16 << 20;

/// Why a file could not be read as a document.
#[derive(Debug)]
pub enum FileError {
    Io(std::io::Error),
    Empty,
    NotUtf8 {
        line: usize,
        column: usize,
    },
    Document(DocumentError),
    /// An inventory (Terraform state, a Kubernetes list) not shaped as its form is: where,
    /// and what is wrong.
    Shape {
        pointer: String,
        message: String,
    },
    /// A limit of `InputLimits` was passed; the item it happened in, when in one.
    Limit {
        item: Option<usize>,
        message: String,
    },
}

/// A limit passed while streaming, carried through serde_json's I/O error to `read_file`.
#[derive(Debug)]
struct LimitPassed {
    item_bytes: bool,
    message: String,
}

impl std::fmt::Display for LimitPassed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for LimitPassed {}

/// Counts the compressed bytes read from a file.
struct Counting<'a, R> {
    inner: R,
    read: &'a Cell<u64>,
}

impl<R: Read> Read for Counting<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read.set(self.read.get() + n as u64);
        Ok(n)
    }
}

/// Stops a decompressed stream at the first limit it passes: the file's size, the ratio, or
/// the bytes since the last item ended (`item_start`, moved by the reader's sink), so the
/// parser never buffers more than one item's limit.
struct Limited<'a, R> {
    inner: R,
    limits: InputLimits,
    compressed: &'a Cell<u64>,
    expanded: &'a Cell<u64>,
    /// `None` when the document is read whole (an inventory), which only the file's limit
    /// bounds.
    item_start: Option<&'a Cell<u64>>,
}

impl<R: Read> Read for Limited<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        let expanded = self.expanded.get() + n as u64;
        self.expanded.set(expanded);
        let l = &self.limits;
        let passed = |item_bytes: bool, message: String| {
            Err(std::io::Error::other(LimitPassed {
                item_bytes,
                message,
            }))
        };
        if expanded > l.max_file_bytes {
            return passed(
                false,
                format!(
                    "decompresses to more than {} bytes, the limit per file (--max-file-bytes)",
                    l.max_file_bytes
                ),
            );
        }
        let compressed = self.compressed.get().max(1);
        if expanded > RATIO_GRACE && expanded / compressed > l.max_gzip_ratio {
            return passed(
                false,
                format!(
                    "decompresses more than {} to 1 ({expanded} bytes from {compressed}): \
                     refused as a decompression bomb (--max-gzip-ratio)",
                    l.max_gzip_ratio
                ),
            );
        }
        if let Some(item_start) = self.item_start
            && expanded - item_start.get() > l.max_item_bytes
        {
            return passed(
                true,
                format!(
                    "is more than {} bytes, the limit per item (--max-item-bytes)",
                    l.max_item_bytes
                ),
            );
        }
        Ok(n)
    }
}

/// Whether a file found in a directory is read: a data suffix (`.json`, `.json.gz`, ...) and
/// not hidden. Temporary files of a sync in progress (`x.json.gz.1a2b`, `.x.json`) are not.
pub fn is_data_file_name(name: &str) -> bool {
    !name.starts_with('.') && DATA_SUFFIXES.iter().any(|s| name.ends_with(s))
}

/// Expands files and directories into the files to read, directories walked in name order so
/// that an ingest is reproducible.
pub fn expand(inputs: &[PathBuf]) -> Result<Vec<PathBuf>, (PathBuf, std::io::Error)> {
    let mut files = Vec::new();
    for input in inputs {
        let meta = std::fs::metadata(input).map_err(|e| (input.clone(), e))?;
        if !meta.is_dir() {
            files.push(input.clone());
            continue;
        }
        for entry in walkdir::WalkDir::new(input)
            .follow_links(true)
            .sort_by_file_name()
        {
            let entry = entry.map_err(|e| {
                let path = e.path().map_or_else(|| input.clone(), Path::to_path_buf);
                (path, std::io::Error::other(e.to_string()))
            })?;
            let name = entry.file_name().to_string_lossy();
            if !entry.file_type().is_file() || name.starts_with('.') {
                continue;
            }
            if is_data_file_name(&name) {
                files.push(entry.into_path());
            } else {
                tracing::debug!(path = %entry.path().display(), "not a data file name; skipped");
            }
        }
    }
    Ok(files)
}

/// About how many items `files` hold, judged from their sizes, to size the table of resources
/// before reading: growing it by doubling copied it, into fresh pages, several times over (a
/// tenth of a `check`). AWS's configuration items run from under a kilobyte to a few (0.8 to
/// 3.4 KB compact in the captured samples), about 1.5 KB typically, and gzip shrinks them about
/// eightfold. A guess too low means the table grows once more, as it would have; one too high
/// costs memory, zeroed by the kernel as it is first touched (at 1 KB per item, a twentieth of
/// a first ingest of 1.4 KB items went to zeroing a table twice the size it needed).
pub fn expected_items(files: &[PathBuf]) -> usize {
    const BYTES_PER_ITEM: u64 = 1536;
    const GZIP_RATIO: u64 = 8;
    let bytes: u64 = files
        .iter()
        .filter_map(|path| {
            let len = std::fs::metadata(path).ok()?.len();
            let gzipped = path.to_string_lossy().ends_with(".gz");
            Some(if gzipped {
                len.saturating_mul(GZIP_RATIO)
            } else {
                len
            })
        })
        .sum();
    usize::try_from(bytes / BYTES_PER_ITEM).unwrap_or(usize::MAX)
}

/// Reads `path`, handing each item to `sink` with the file's whole text when it is mapped
/// (to turn an item's position into a line number; `None` for streams).
pub fn read_file(
    path: &Path,
    limits: InputLimits,
    sink: &mut dyn FnMut(ItemEvent<'_>, Option<&str>) -> forms::KeepReading,
) -> Result<Document, FileError> {
    let file = File::open(path).map_err(FileError::Io)?;
    let mut magic = [0u8; 2];
    let is_gzip = (&file).read(&mut magic).map_err(FileError::Io)? == 2 && magic == [0x1f, 0x8b];
    if is_gzip {
        if let Some(form) = inventory::detect(&gzip_prefix(path, limits)?) {
            let mut bytes = Vec::new();
            let (compressed, expanded) = (Cell::new(0), Cell::new(0));
            limited_gzip(path, limits, &compressed, &expanded, None)?
                .read_to_end(&mut bytes)
                .map_err(
                    |e| match e.get_ref().and_then(|e| e.downcast_ref::<LimitPassed>()) {
                        Some(limit) => FileError::Limit {
                            item: None,
                            message: limit.message.clone(),
                        },
                        None => FileError::Io(e),
                    },
                )?;
            let text = std::str::from_utf8(&bytes).map_err(|e| {
                let (line, column) = line_column(&bytes[..e.valid_up_to()]);
                FileError::NotUtf8 { line, column }
            })?;
            return read_inventory(form, text, sink);
        }
        let (compressed, expanded, item_start) = (Cell::new(0), Cell::new(0), Cell::new(0));
        let items = Cell::new(0usize);
        let limited = limited_gzip(path, limits, &compressed, &expanded, Some(&item_start))?;
        // The parser reads ahead of the item it is in by at most this buffer.
        let stream = BufReader::with_capacity(256 * 1024, limited);
        let read = forms::read_stream(stream, &mut |event| {
            items.set(event.index + 1);
            item_start.set(expanded.get());
            sink(event, None)
        });
        return read.map_err(|e| match e {
            DocumentError::Syntax(s) if s.is_io() => {
                let io = std::io::Error::from(s);
                match io.get_ref().and_then(|e| e.downcast_ref::<LimitPassed>()) {
                    Some(limit) => FileError::Limit {
                        item: limit.item_bytes.then(|| items.get()),
                        message: limit.message.clone(),
                    },
                    None => FileError::Io(io),
                }
            }
            other => FileError::Document(other),
        });
    }
    let size = file.metadata().map_err(FileError::Io)?.len();
    if size > limits.max_file_bytes {
        return Err(FileError::Limit {
            item: None,
            message: format!(
                "is {size} bytes, more than the limit per file of {} (--max-file-bytes)",
                limits.max_file_bytes
            ),
        });
    }
    let map = mmap::map_file(&file)
        .map_err(FileError::Io)?
        .ok_or(FileError::Empty)?;
    // SIMD validation for the common case; the standard library finds the position on failure.
    let text = match simdutf8::basic::from_utf8(&map) {
        Ok(text) => text,
        Err(_) => {
            let valid_up_to = std::str::from_utf8(&map)
                .err()
                .map_or(map.len(), |e| e.valid_up_to());
            let (line, column) = line_column(&map[..valid_up_to]);
            return Err(FileError::NotUtf8 { line, column });
        }
    };
    if let Some(form) = inventory::detect(&text.as_bytes()[..text.len().min(inventory::PREFIX)]) {
        return read_inventory(form, text, sink);
    }
    forms::read_str(text, &mut |event| sink(event, Some(text))).map_err(FileError::Document)
}

/// Reads Terraform state or a Kubernetes list: the whole document, then the items made of it,
/// through the same reader as any other items (located by index: they have no line).
fn read_inventory(
    form: inventory::Inventory,
    text: &str,
    sink: &mut dyn FnMut(ItemEvent<'_>, Option<&str>) -> forms::KeepReading,
) -> Result<Document, FileError> {
    let value: serde_json::Value = serde_json::from_str(text.trim_start_matches('\u{feff}'))
        .map_err(|e| FileError::Document(DocumentError::Syntax(e)))?;
    let translated = inventory::translate(form, value)
        .map_err(|(pointer, message)| FileError::Shape { pointer, message })?;
    let mut doc = forms::read_str(&translated.items, &mut |event| sink(event, None))
        .map_err(FileError::Document)?;
    doc.form = Form::Inventory {
        form,
        notes: translated.notes,
    };
    Ok(doc)
}

/// A `.gz` file's decompressed bytes, stopped at the first limit they pass.
fn limited_gzip<'a>(
    path: &Path,
    limits: InputLimits,
    compressed: &'a Cell<u64>,
    expanded: &'a Cell<u64>,
    item_start: Option<&'a Cell<u64>>,
) -> Result<impl Read + 'a, FileError> {
    let file = File::open(path).map_err(FileError::Io)?;
    let counted = Counting {
        inner: BufReader::new(file),
        read: compressed,
    };
    Ok(Limited {
        inner: flate2::read::MultiGzDecoder::new(counted),
        limits,
        compressed,
        expanded,
        item_start,
    })
}

/// The first `inventory::PREFIX` bytes of a `.gz` file, decompressed.
fn gzip_prefix(path: &Path, limits: InputLimits) -> Result<Vec<u8>, FileError> {
    let (compressed, expanded) = (Cell::new(0), Cell::new(0));
    let mut prefix = Vec::with_capacity(inventory::PREFIX);
    limited_gzip(path, limits, &compressed, &expanded, None)?
        .take(inventory::PREFIX as u64)
        .read_to_end(&mut prefix)
        .map_err(FileError::Io)?;
    Ok(prefix)
}

/// The XXH3-128 of a file's bytes, through a map: how ingest knows a file it stored before
/// without parsing it.
pub fn hash_file(path: &Path) -> std::io::Result<ContentHash> {
    let file = File::open(path)?;
    let hash = match mmap::map_file(&file)? {
        Some(map) => xxhash_rust::xxh3::xxh3_128(&map),
        None => xxhash_rust::xxh3::xxh3_128(&[]),
    };
    Ok(ContentHash(hash))
}

/// 1-based line and column of the end of `before`.
pub fn line_column(before: &[u8]) -> (usize, usize) {
    let line = before.iter().filter(|b| **b == b'\n').count() + 1;
    let column = before.len()
        - before
            .iter()
            .rposition(|b| *b == b'\n')
            .map_or(0, |p| p + 1)
        + 1;
    (line, column)
}

/// The byte offset of `inner` within `text`, if `inner` is a slice of it (borrowed raw values
/// of a mapped file are; values read from a nested document are not).
pub fn offset_of(text: &str, inner: &str) -> Option<usize> {
    let start = text.as_ptr() as usize;
    let at = inner.as_ptr() as usize;
    (at >= start && at < start + text.len()).then(|| at - start)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_and_column() {
        assert_eq!(line_column(b""), (1, 1));
        assert_eq!(line_column(b"ab\ncd"), (2, 3));
    }

    #[test]
    fn offset_of_a_slice() {
        let text = "a\nbc\nd";
        assert_eq!(offset_of(text, &text[3..4]), Some(3));
        let elsewhere = String::from("elsewhere");
        assert_eq!(offset_of(text, &elsewhere), None);
    }
}
