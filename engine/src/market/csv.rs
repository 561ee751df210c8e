//! Fast streaming parser for CSV replay files
//! (`timestamp,open,high,low,close,volume`), the feed's backtest input.
//!
//! [`CsvReplay`] reads the file in large chunks (1 MiB by default) and
//! allocates nothing per line. A row of the common shape (integer timestamp,
//! plain decimals) is parsed in one pass straight from the buffer; any other
//! line is cut out with `memchr` and parsed field by field, with the same
//! results. It checks only the *shape* of each row (field count, timestamp,
//! numbers); the values are checked by a [`CandleValidator`], which
//! [`CsvReplay::validated`] applies for you.
//!
//! # Reading rows
//!
//! [`CsvReplay::next_row`] returns `Result<Option<Result<Row, RowError>>, CsvError>`:
//! the outer `Err` is fatal (an I/O error: stop), `Ok(None)` is the end of the
//! file, and the inner `Result` is one row, good or refused. `CsvReplay` is
//! also an [`Iterator`] over `Result<Result<Row, RowError>, CsvError>` that
//! ends after a fatal error:
//!
//! ```
//! use aegis_engine::market::csv::CsvReplay;
//!
//! let data = "timestamp,open,high,low,close,volume\n\
//!             1700000000000,10,11,9,10.5,3\n\
//!             1700000060000,10.5,12,10,11,-1\n";
//! let mut good = Vec::new();
//! let mut refused = Vec::new();
//! for item in CsvReplay::new(data.as_bytes())?.validated() {
//!     match item? {
//!         Ok(row) => good.push(row.candle.close),
//!         Err(e) => refused.push((e.line, e.reason.label())),
//!     }
//! }
//! assert_eq!(good, [10.5]);
//! assert_eq!(refused, [(3, "negative_volume")]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # File format
//!
//! - The first non-blank line is the header `timestamp,open,high,low,close,volume`,
//!   compared case-insensitively with surrounding whitespace, a UTF-8 BOM and
//!   `\r` ignored. A first line that looks like data (its first field is a
//!   number or an RFC 3339 timestamp) yields [`Rejection::MissingHeader`] once
//!   and is then parsed as data in the standard column order; any other first
//!   line is a fatal [`CsvError::BadHeader`], since the column mapping is
//!   unknown.
//! - A file of 0 bytes or only whitespace yields nothing
//!   ([`CsvReplay::is_empty_file`]). Blank lines are skipped silently. Line
//!   endings are `\n` or `\r\n`.
//! - `timestamp` is integer epoch milliseconds or RFC 3339
//!   (`2024-01-01T00:00:00Z`, `2024-01-01T01:00:00.250+01:00`), converted to
//!   epoch milliseconds (a sub-millisecond fraction is truncated).
//! - The five values are decimal numbers as Rust's `f64` parser accepts them
//!   (`12.5`, `1e3`, `NaN`, `inf`); surrounding spaces are tolerated.
//! - A row with fewer than 6 fields, or a last line without a newline that ends
//!   in an empty field, is [`Rejection::Truncated`]; more than 6 is
//!   [`Rejection::ExtraFields`]. A line longer than the chunk is refused the
//!   same way (by its field count) without being held in memory.
//!
//! Line numbers are 1-based lines of the file, counting blank lines and the
//! header.

mod fields;

use std::io::{self, Read};
use std::path::{Path, PathBuf};

use super::validate::{CandleValidator, Rejection};
use aegis_contract::records::Candle;
use fields::{fast_row, parse_row};
pub use fields::{parse_f64, parse_timestamp};

/// The default read size: lines may be up to this long.
pub const DEFAULT_CHUNK_SIZE: usize = 1 << 20;

/// The smallest chunk [`CsvReplay::with_chunk_size`] accepts.
pub const MIN_CHUNK_SIZE: usize = 128;

/// The header every replay file starts with.
pub const HEADER: &str = "timestamp,open,high,low,close,volume";

/// How many characters of an offending line a [`RowError`] keeps.
pub const MAX_ERROR_TEXT_CHARS: usize = 120;

const COLUMNS: [&str; 6] = ["timestamp", "open", "high", "low", "close", "volume"];

/// One well-formed row: its file line and the candle (`seq` and `ingest_ns` 0).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Row {
    /// 1-based line number in the file.
    pub line: u64,
    /// The parsed candle.
    pub candle: Candle,
}

/// A refused row: where, why, and the line itself.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {reason}: {text:?}")]
pub struct RowError {
    /// 1-based line number in the file.
    pub line: u64,
    /// Why it was refused.
    pub reason: Rejection,
    /// The offending line without its line ending, cut to
    /// [`MAX_ERROR_TEXT_CHARS`] characters (invalid UTF-8 replaced).
    pub text: String,
}

/// A fatal error: the replay cannot continue.
#[derive(Debug, thiserror::Error)]
pub enum CsvError {
    /// Opening or reading the file failed.
    #[error("cannot read replay file {}: {source}", path.display())]
    Io {
        /// The file (or `<reader>` for [`CsvReplay::new`]).
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// The first line is a header, but not the one this parser understands.
    #[error("replay file {}: header {found:?} is not `{HEADER}`", path.display())]
    BadHeader {
        /// The file (or `<reader>` for [`CsvReplay::new`]).
        path: PathBuf,
        /// The first line, cut to [`MAX_ERROR_TEXT_CHARS`] characters.
        found: String,
    },
}

/// A line located in the buffer: `buf[start..end]`, without its `\n`.
#[derive(Clone, Copy)]
struct LineSpan {
    number: u64,
    start: usize,
    end: usize,
    terminated: bool,
}

/// What the line reader found next.
enum NextLine {
    Line(LineSpan),
    /// A line longer than the chunk, already skipped.
    Overlong(RowError),
    End,
}

/// Streaming parser of a replay file; see the [module docs](self).
pub struct CsvReplay<R: Read> {
    reader: R,
    path: PathBuf,
    buf: Vec<u8>,
    /// Start of the unconsumed bytes in `buf`.
    start: usize,
    /// End of the valid bytes in `buf`.
    end: usize,
    eof: bool,
    /// Number of the next line `next_line` returns.
    next_line_number: u64,
    bytes_read: u64,
    empty_file: bool,
    /// The first line when it is data: reported once as `MissingHeader`.
    missing_header: Option<RowError>,
    /// Set after a fatal error: iteration is over.
    failed: bool,
}

impl<R: Read> CsvReplay<R> {
    /// Parses from `reader` (errors name it `<reader>`) and reads the header.
    pub fn new(reader: R) -> Result<Self, CsvError> {
        Self::with_chunk_size(reader, Path::new("<reader>"), DEFAULT_CHUNK_SIZE)
    }

    /// Parses from `reader`, naming it `name` in errors, reading
    /// `chunk_size` bytes at a time (at least [`MIN_CHUNK_SIZE`]); lines longer
    /// than the chunk are refused.
    pub fn with_chunk_size(reader: R, name: &Path, chunk_size: usize) -> Result<Self, CsvError> {
        let mut replay = CsvReplay {
            reader,
            path: name.to_path_buf(),
            buf: vec![0; chunk_size.max(MIN_CHUNK_SIZE)],
            start: 0,
            end: 0,
            eof: false,
            next_line_number: 1,
            bytes_read: 0,
            empty_file: false,
            missing_header: None,
            failed: false,
        };
        replay.read_header()?;
        Ok(replay)
    }

    /// True when the file holds nothing but whitespace (no header, no rows).
    pub fn is_empty_file(&self) -> bool {
        self.empty_file
    }

    /// Bytes read from the underlying reader so far (for progress reports).
    pub fn bytes_read(&self) -> u64 {
        self.bytes_read
    }

    /// The file's path, or `<reader>`.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Wraps this replay so each row is also checked by a fresh
    /// [`CandleValidator`].
    pub fn validated(self) -> ValidatedReplay<R> {
        self.validated_with(CandleValidator::new())
    }

    /// Wraps this replay so each row is also checked by `validator` (e.g. one
    /// made with [`CandleValidator::resume_after`]).
    pub fn validated_with(self, validator: CandleValidator) -> ValidatedReplay<R> {
        ValidatedReplay {
            replay: self,
            validator,
        }
    }

    /// The next row: `Err` on a fatal I/O error, `Ok(None)` at the end of the
    /// file, otherwise a parsed row or the reason it was refused.
    pub fn next_row(&mut self) -> Result<Option<Result<Row, RowError>>, CsvError> {
        self.next_item(None)
    }

    fn next_item(
        &mut self,
        mut validator: Option<&mut CandleValidator>,
    ) -> Result<Option<Result<Row, RowError>>, CsvError> {
        if let Some(err) = self.missing_header.take() {
            return Ok(Some(Err(err)));
        }
        loop {
            // The line's number and bytes (for an error's text) and its shape.
            let (number, start, end, parsed) =
                if let Some((candle, len)) = fast_row(&self.buf[self.start..self.end]) {
                    let (number, start) = (self.next_line_number, self.start);
                    self.start += len;
                    self.next_line_number += 1;
                    (number, start, start + len - 1, Ok(candle))
                } else {
                    let span = match self.next_line()? {
                        NextLine::Line(span) => span,
                        NextLine::Overlong(err) => return Ok(Some(Err(err))),
                        NextLine::End => return Ok(None),
                    };
                    let line = trim_cr(&self.buf[span.start..span.end]);
                    if is_blank(line) {
                        continue;
                    }
                    let parsed = parse_row(line, span.terminated);
                    (span.number, span.start, span.end, parsed)
                };
            let checked = parsed.and_then(|candle| match validator.as_deref_mut() {
                Some(v) => v.check(&candle).map(|()| candle),
                None => Ok(candle),
            });
            return Ok(Some(match checked {
                Ok(candle) => Ok(Row {
                    line: number,
                    candle,
                }),
                Err(reason) => Err(RowError {
                    line: number,
                    reason,
                    text: error_text(&self.buf[start..end]),
                }),
            }));
        }
    }

    /// Finds the first non-blank line and checks it is the header; if it is
    /// data, arranges for it to be reported and then parsed as a row.
    fn read_header(&mut self) -> Result<(), CsvError> {
        loop {
            let span = match self.next_line()? {
                NextLine::Line(span) => span,
                NextLine::Overlong(err) => {
                    return Err(CsvError::BadHeader {
                        path: self.path.clone(),
                        found: err.text,
                    })
                }
                NextLine::End => {
                    self.empty_file = true;
                    return Ok(());
                }
            };
            let raw = &self.buf[span.start..span.end];
            let line = trim_cr(raw.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(raw));
            if is_blank(line) {
                continue;
            }
            if is_header(line) {
                return Ok(());
            }
            let first_field = line.split(|&b| b == b',').next().unwrap_or(line);
            if parse_timestamp(first_field).is_some() || parse_f64(first_field).is_some() {
                self.missing_header = Some(RowError {
                    line: span.number,
                    reason: Rejection::MissingHeader,
                    text: error_text(line),
                });
                // Un-read the line (still in the buffer) so it is parsed as data.
                self.start = span.start;
                self.next_line_number = span.number;
                return Ok(());
            }
            return Err(CsvError::BadHeader {
                path: self.path.clone(),
                found: error_text(line),
            });
        }
    }

    /// The next line of the file, reading more when the buffer holds no
    /// complete line.
    fn next_line(&mut self) -> Result<NextLine, CsvError> {
        loop {
            if let Some(pos) = memchr::memchr(b'\n', &self.buf[self.start..self.end]) {
                let span = LineSpan {
                    number: self.next_line_number,
                    start: self.start,
                    end: self.start + pos,
                    terminated: true,
                };
                self.start += pos + 1;
                self.next_line_number += 1;
                return Ok(NextLine::Line(span));
            }
            if self.eof {
                if self.start == self.end {
                    return Ok(NextLine::End);
                }
                let span = LineSpan {
                    number: self.next_line_number,
                    start: self.start,
                    end: self.end,
                    terminated: false,
                };
                self.start = self.end;
                self.next_line_number += 1;
                return Ok(NextLine::Line(span));
            }
            if self.start > 0 {
                self.buf.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
            }
            if self.end == self.buf.len() {
                return self.skip_overlong_line().map(NextLine::Overlong);
            }
            self.fill()?;
        }
    }

    /// Reads once into the free tail of the buffer; sets `eof` on 0 bytes.
    fn fill(&mut self) -> Result<(), CsvError> {
        loop {
            match self.reader.read(&mut self.buf[self.end..]) {
                Ok(0) => {
                    self.eof = true;
                    return Ok(());
                }
                Ok(n) => {
                    // A reader claiming more than the buffer it was given is
                    // broken; never index past the buffer because of it.
                    let n = n.min(self.buf.len() - self.end);
                    self.end += n;
                    self.bytes_read += n as u64;
                    return Ok(());
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(source) => {
                    self.failed = true;
                    return Err(CsvError::Io {
                        path: self.path.clone(),
                        source,
                    });
                }
            }
        }
    }

    /// The buffer is full and holds no newline: discard the line up to its
    /// newline (or the end of the file) and refuse it by its field count.
    fn skip_overlong_line(&mut self) -> Result<RowError, CsvError> {
        let number = self.next_line_number;
        let head = &self.buf[..self.end];
        let text = error_text(head);
        let timestamp_ok = memchr::memchr(b',', head)
            .is_some_and(|comma| parse_timestamp(&head[..comma]).is_some());
        let mut commas = memchr::memchr_iter(b',', head).count();
        self.start = 0;
        self.end = 0;
        loop {
            self.fill()?;
            if self.eof {
                break;
            }
            let chunk = &self.buf[..self.end];
            if let Some(pos) = memchr::memchr(b'\n', chunk) {
                commas += memchr::memchr_iter(b',', &chunk[..pos]).count();
                self.start = pos + 1;
                break;
            }
            commas += memchr::memchr_iter(b',', chunk).count();
            self.end = 0;
        }
        self.next_line_number += 1;
        let reason = match commas {
            0..=4 => Rejection::Truncated,
            5 if !timestamp_ok => Rejection::BadTimestamp,
            5 => Rejection::NonNumeric,
            _ => Rejection::ExtraFields,
        };
        Ok(RowError {
            line: number,
            reason,
            text,
        })
    }
}

impl<R: Read> Iterator for CsvReplay<R> {
    type Item = Result<Result<Row, RowError>, CsvError>;

    /// Rows in file order; a fatal error is returned once and ends iteration.
    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        self.next_row().transpose()
    }
}

/// A [`CsvReplay`] whose rows are also checked by a [`CandleValidator`]:
/// yields exactly the candles the feed may publish, in order, and every other
/// line with its [`Rejection`].
pub struct ValidatedReplay<R: Read> {
    replay: CsvReplay<R>,
    validator: CandleValidator,
}

impl<R: Read> ValidatedReplay<R> {
    /// Like [`CsvReplay::next_row`], with value and time-order checks.
    pub fn next_row(&mut self) -> Result<Option<Result<Row, RowError>>, CsvError> {
        self.replay.next_item(Some(&mut self.validator))
    }

    /// The underlying parser (for [`CsvReplay::bytes_read`] and the like).
    pub fn replay(&self) -> &CsvReplay<R> {
        &self.replay
    }

    /// The validator (its last accepted timestamp).
    pub fn validator(&self) -> &CandleValidator {
        &self.validator
    }
}

impl<R: Read> Iterator for ValidatedReplay<R> {
    type Item = Result<Result<Row, RowError>, CsvError>;

    /// Rows in file order; a fatal error is returned once and ends iteration.
    fn next(&mut self) -> Option<Self::Item> {
        if self.replay.failed {
            return None;
        }
        self.next_row().transpose()
    }
}

/// True when `line` (without `\r\n`) is the expected header.
fn is_header(line: &[u8]) -> bool {
    let mut fields = line.split(|&b| b == b',');
    COLUMNS.iter().all(|name| {
        fields
            .next()
            .is_some_and(|f| f.trim_ascii().eq_ignore_ascii_case(name.as_bytes()))
    }) && fields.next().is_none()
}

fn trim_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

fn is_blank(line: &[u8]) -> bool {
    match line.first() {
        None => true,
        Some(b) if b.is_ascii_whitespace() => line.iter().all(u8::is_ascii_whitespace),
        Some(_) => false,
    }
}

/// The line as text for an error: lossy UTF-8, at most
/// [`MAX_ERROR_TEXT_CHARS`] characters.
fn error_text(line: &[u8]) -> String {
    let head = &line[..line.len().min(MAX_ERROR_TEXT_CHARS * 4)];
    String::from_utf8_lossy(trim_cr(head))
        .chars()
        .take(MAX_ERROR_TEXT_CHARS)
        .collect()
}
