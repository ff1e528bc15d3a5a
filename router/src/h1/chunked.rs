//! Finding where an HTTP/1.1 chunked message body ends (RFC 9112 §7.1),
//! so the proxy can forward the body byte for byte without decoding it.
//!
//! [`ChunkedScanner`] only tracks framing: it is fed the body in pieces as
//! they arrive and says when, and after which byte, the body ended. It never
//! allocates, never copies, and skips chunk data in bulk by the remaining
//! chunk length rather than looking at each byte.
//!
//! ```text
//! chunked-body = *chunk last-chunk trailer-section CRLF
//! chunk        = chunk-size [ chunk-ext ] CRLF chunk-data CRLF
//! last-chunk   = 1*("0") [ chunk-ext ] CRLF
//! ```
//!
//! # States
//! | state | reading |
//! | --- | --- |
//! | `Size` | hex digits of the chunk size |
//! | `SizeWs` | optional SP / HTAB after the digits (before `;` or CRLF) |
//! | `Ext` | chunk extensions after `;`, skipped up to the CR |
//! | `SizeLf` | the LF ending the size line |
//! | `Data` | chunk data, skipped by the remaining length |
//! | `DataCr`, `DataLf` | the CRLF ending the chunk data |
//! | `TrailerStart` | the start of a trailer line, or the CR of the final empty line |
//! | `Trailer`, `TrailerLf` | a trailer field line, skipped up to its CRLF |
//! | `FinalLf` | the LF of the final empty line |
//! | `Done` | the body has ended |
//! | `Failed` | the body was refused; the same error is returned again |
//!
//! # Strictness and limits
//! - the chunk size is 1 to [`MAX_SIZE_DIGITS`] hex digits (so it always fits
//!   in a `u64`; more digits, even leading zeros, are [`ChunkedError::SizeTooLarge`]);
//! - every line ends with CRLF: a bare LF, or a CR not followed by LF, is
//!   [`ChunkedError::BadLineEnd`], as is anything but CRLF after chunk data;
//! - a size line, extensions included and CRLF excluded, is at most
//!   [`MAX_SIZE_LINE`] bytes; a trailer line at most [`MAX_TRAILER_LINE`]
//!   bytes; at most [`MAX_TRAILERS`] trailer lines;
//! - a trailer line must not start with SP or HTAB (obsolete line folding).
//!
//! Extension and trailer contents are otherwise not checked: they are
//! forwarded as they are.

use thiserror::Error;

/// Most hex digits in a chunk size: 16 digits always fit in a `u64`.
pub const MAX_SIZE_DIGITS: u8 = 16;
/// Most bytes in a chunk size line, extensions included, CRLF excluded.
pub const MAX_SIZE_LINE: usize = 4096;
/// Most bytes in one trailer field line, CRLF excluded.
pub const MAX_TRAILER_LINE: usize = 8192;
/// Most trailer field lines after the last chunk.
pub const MAX_TRAILERS: usize = 64;

/// Why a chunked body was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum ChunkedError {
    #[error("chunked body: chunk size is not a hex number")]
    BadSize,
    #[error("chunked body: chunk size has more than 16 hex digits")]
    SizeTooLarge,
    #[error("chunked body: line does not end with CRLF")]
    BadLineEnd,
    #[error("chunked body: chunk size line longer than 4096 bytes")]
    LineTooLong,
    #[error("chunked body: trailer line longer than 8192 bytes")]
    TrailerTooLong,
    #[error("chunked body: more than 64 trailer lines")]
    TooManyTrailers,
    #[error("chunked body: trailer line starts with whitespace (obsolete line folding)")]
    BadTrailer,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum State {
    #[default]
    Size,
    SizeWs,
    Ext,
    SizeLf,
    Data,
    DataCr,
    DataLf,
    TrailerStart,
    Trailer,
    TrailerLf,
    FinalLf,
    Done,
    Failed(ChunkedError),
}

/// Tracks the framing of one chunked body; see the [module docs](self).
#[derive(Debug, Clone, Default)]
pub struct ChunkedScanner {
    state: State,
    /// While reading a size line: the size so far. In `Data`: the bytes of
    /// chunk data still to come.
    size: u64,
    /// Hex digits read in the current size line.
    digits: u8,
    /// Bytes read in the current size or trailer line, CRLF excluded.
    line: usize,
    /// Trailer lines started so far.
    trailers: usize,
}

impl ChunkedScanner {
    /// A scanner at the start of a chunked body.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds the next bytes of the body.
    ///
    /// `Ok(Some(n))`: the body ended after the first `n` bytes of `data`
    /// (`n <= data.len()`; the bytes after `n` belong to the next message).
    /// Once done, every further call returns `Ok(Some(0))`.
    /// `Ok(None)`: all of `data` is body and more is needed.
    /// `Err(_)`: not a valid chunked body; further calls return the same error.
    pub fn feed(&mut self, data: &[u8]) -> Result<Option<usize>, ChunkedError> {
        let mut pos = 0;
        loop {
            match self.state {
                State::Done => return Ok(Some(pos)),
                State::Failed(e) => return Err(e),
                _ => {}
            }
            let rest = match data.get(pos..) {
                Some(rest) if !rest.is_empty() => rest,
                _ => return Ok(None),
            };
            match self.step(rest) {
                // `step` consumes at most `rest.len()` bytes, so this stays
                // within `data.len()`.
                Ok(n) => pos += n,
                Err(e) => {
                    self.state = State::Failed(e);
                    return Err(e);
                }
            }
        }
    }

    /// Whether the scanner has seen the end of the body.
    #[cfg(test)]
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Consumes between 1 and `rest.len()` bytes of a non-empty `rest`.
    fn step(&mut self, rest: &[u8]) -> Result<usize, ChunkedError> {
        let Some(&b) = rest.first() else {
            return Ok(0);
        };
        match self.state {
            State::Size => {
                if let Some(v) = hex_value(b) {
                    if self.digits >= MAX_SIZE_DIGITS {
                        return Err(ChunkedError::SizeTooLarge);
                    }
                    // At most 16 digits: never shifts out a set bit.
                    self.size = (self.size << 4) | v;
                    self.digits += 1;
                    self.line += 1;
                } else if self.digits == 0 {
                    return Err(if b == b'\n' {
                        ChunkedError::BadLineEnd
                    } else {
                        ChunkedError::BadSize
                    });
                } else {
                    self.after_size(b)?;
                }
                Ok(1)
            }
            State::SizeWs => {
                self.after_size(b)?;
                Ok(1)
            }
            State::Ext => {
                let (n, found) = skip_line(
                    rest,
                    MAX_SIZE_LINE,
                    &mut self.line,
                    ChunkedError::LineTooLong,
                )?;
                if found {
                    self.state = State::SizeLf;
                }
                Ok(n)
            }
            State::SizeLf => {
                expect_lf(b)?;
                self.line = 0;
                self.digits = 0;
                self.state = if self.size == 0 {
                    State::TrailerStart
                } else {
                    State::Data
                };
                Ok(1)
            }
            State::Data => {
                let avail = u64::try_from(rest.len()).unwrap_or(u64::MAX);
                let take = self.size.min(avail);
                self.size -= take;
                if self.size == 0 {
                    self.state = State::DataCr;
                }
                // `take <= rest.len()`, so the conversion cannot fail.
                Ok(usize::try_from(take).unwrap_or(rest.len()))
            }
            State::DataCr => {
                if b != b'\r' {
                    return Err(ChunkedError::BadLineEnd);
                }
                self.state = State::DataLf;
                Ok(1)
            }
            State::DataLf => {
                expect_lf(b)?;
                self.size = 0;
                self.state = State::Size;
                Ok(1)
            }
            State::TrailerStart => {
                match b {
                    b'\r' => self.state = State::FinalLf,
                    b'\n' => return Err(ChunkedError::BadLineEnd),
                    b' ' | b'\t' => return Err(ChunkedError::BadTrailer),
                    _ => {
                        if self.trailers >= MAX_TRAILERS {
                            return Err(ChunkedError::TooManyTrailers);
                        }
                        self.trailers += 1;
                        self.line = 1;
                        self.state = State::Trailer;
                    }
                }
                Ok(1)
            }
            State::Trailer => {
                let (n, found) = skip_line(
                    rest,
                    MAX_TRAILER_LINE,
                    &mut self.line,
                    ChunkedError::TrailerTooLong,
                )?;
                if found {
                    self.state = State::TrailerLf;
                }
                Ok(n)
            }
            State::TrailerLf => {
                expect_lf(b)?;
                self.state = State::TrailerStart;
                Ok(1)
            }
            State::FinalLf => {
                expect_lf(b)?;
                self.state = State::Done;
                Ok(1)
            }
            // `feed` returns before stepping in these states.
            State::Done | State::Failed(_) => Ok(rest.len()),
        }
    }

    /// A byte after at least one size digit, in `Size` or `SizeWs`.
    fn after_size(&mut self, b: u8) -> Result<(), ChunkedError> {
        match b {
            b' ' | b'\t' => {
                self.line += 1;
                if self.line > MAX_SIZE_LINE {
                    return Err(ChunkedError::LineTooLong);
                }
                self.state = State::SizeWs;
            }
            b';' => {
                self.line += 1;
                if self.line > MAX_SIZE_LINE {
                    return Err(ChunkedError::LineTooLong);
                }
                self.state = State::Ext;
            }
            b'\r' => self.state = State::SizeLf,
            b'\n' => return Err(ChunkedError::BadLineEnd),
            _ => return Err(ChunkedError::BadSize),
        }
        Ok(())
    }
}

fn hex_value(b: u8) -> Option<u64> {
    char::from(b).to_digit(16).map(u64::from)
}

fn expect_lf(b: u8) -> Result<(), ChunkedError> {
    if b == b'\n' {
        Ok(())
    } else {
        Err(ChunkedError::BadLineEnd)
    }
}

/// Skips line content up to and including the CR ending it, counting the
/// content into `line`. Returns the bytes consumed and whether the CR was
/// found. A bare LF is [`ChunkedError::BadLineEnd`]; content beyond `max`
/// bytes is `too_long`.
fn skip_line(
    rest: &[u8],
    max: usize,
    line: &mut usize,
    too_long: ChunkedError,
) -> Result<(usize, bool), ChunkedError> {
    let budget = max.saturating_sub(*line);
    // Look at one byte more than the budget allows: if that one is not the
    // end of the line either, the line is too long.
    let window = rest.get(..budget.saturating_add(1)).unwrap_or(rest);
    match window.iter().position(|&b| b == b'\r' || b == b'\n') {
        Some(i) => {
            if window.get(i) == Some(&b'\n') {
                return Err(ChunkedError::BadLineEnd);
            }
            *line += i;
            Ok((i + 1, true))
        }
        None => {
            *line += window.len();
            if *line > max {
                Err(too_long)
            } else {
                Ok((window.len(), false))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Feeds `input` whole.
    fn scan(input: &[u8]) -> Result<Option<usize>, ChunkedError> {
        ChunkedScanner::new().feed(input)
    }

    /// Feeds `input` in pieces cut at `cuts` (sorted, deduplicated, clamped),
    /// and returns the result in the same terms as one whole feed: the end
    /// offset within `input`, `None`, or the error. Checks on the way that
    /// no piece reports an end before the last one fed.
    fn scan_split(input: &[u8], cuts: &[usize]) -> Result<Option<usize>, ChunkedError> {
        let mut bounds: Vec<usize> = cuts.iter().map(|&c| c.min(input.len())).collect();
        bounds.push(0);
        bounds.push(input.len());
        bounds.sort_unstable();
        bounds.dedup();
        let mut scanner = ChunkedScanner::new();
        for pair in bounds.windows(2) {
            let (start, end) = (pair[0], pair[1]);
            match scanner.feed(&input[start..end])? {
                Some(n) => {
                    assert!(n <= end - start);
                    assert!(scanner.is_done());
                    assert_eq!(scanner.feed(b"more"), Ok(Some(0)));
                    return Ok(Some(start + n));
                }
                None => assert!(!scanner.is_done()),
            }
        }
        Ok(None)
    }

    fn one_byte_at_a_time(input: &[u8]) -> Result<Option<usize>, ChunkedError> {
        let cuts: Vec<usize> = (0..=input.len()).collect();
        scan_split(input, &cuts)
    }

    const SIMPLE: &[u8] = b"5\r\nhello\r\n0\r\n\r\n";

    #[test]
    fn simple_body() {
        assert_eq!(scan(SIMPLE), Ok(Some(SIMPLE.len())));
        assert_eq!(scan(b"0\r\n\r\n"), Ok(Some(5)));
        let body = b"3\r\nabc\r\nA\r\n0123456789\r\nb\r\nhello world\r\n0\r\n\r\n";
        assert_eq!(scan(body), Ok(Some(body.len())));
    }

    #[test]
    fn chunk_data_may_hold_anything() {
        let body = b"8\r\n\r\n0\r\n\r\n\n\r\n0\r\n\r\n";
        assert_eq!(scan(body), Ok(Some(body.len())));
    }

    #[test]
    fn hex_digits_and_leading_zeros() {
        let data = [b'x'; 0x1f];
        for size in ["1f", "1F", "001f", "000000000000001F"] {
            let mut body = format!("{size}\r\n").into_bytes();
            body.extend_from_slice(&data);
            body.extend_from_slice(b"\r\n00\r\n\r\n");
            assert_eq!(scan(&body), Ok(Some(body.len())), "{size}");
        }
    }

    #[test]
    fn largest_size_is_accepted() {
        let mut scanner = ChunkedScanner::new();
        assert_eq!(scanner.feed(b"ffffffffffffffff\r\n"), Ok(None));
        let big = vec![0u8; 1 << 20];
        for _ in 0..4 {
            assert_eq!(scanner.feed(&big), Ok(None));
        }
        assert!(!scanner.is_done());
    }

    #[test]
    fn big_chunk_is_skipped_in_pieces() {
        let size = 100_000;
        let mut body = format!("{size:x}\r\n").into_bytes();
        body.extend(std::iter::repeat_n(b'\n', size));
        body.extend_from_slice(b"\r\n0\r\n\r\n");
        assert_eq!(scan(&body), Ok(Some(body.len())));
        let cuts: Vec<usize> = (0..body.len()).step_by(4093).collect();
        assert_eq!(scan_split(&body, &cuts), Ok(Some(body.len())));
    }

    #[test]
    fn extensions() {
        for body in [
            &b"5;name=value\r\nhello\r\n0\r\n\r\n"[..],
            b"5;a;b=\"quoted; \\\" value\"\r\nhello\r\n0;last\r\n\r\n",
            b"5 ;a\r\nhello\r\n0\t;x=y\r\n\r\n",
            b"5 \t \r\nhello\r\n0 \r\n\r\n",
            b"5; a = b ;c\r\nhello\r\n0\r\n\r\n",
        ] {
            assert_eq!(
                scan(body),
                Ok(Some(body.len())),
                "{:?}",
                body.escape_ascii()
            );
            assert_eq!(one_byte_at_a_time(body), Ok(Some(body.len())));
        }
    }

    #[test]
    fn trailers() {
        let body = b"5\r\nhello\r\n0\r\nX-Checksum: abc\r\nExpires: never\r\n\r\n";
        assert_eq!(scan(body), Ok(Some(body.len())));
        assert_eq!(one_byte_at_a_time(body), Ok(Some(body.len())));
        let mut many = b"0\r\n".to_vec();
        for i in 0..MAX_TRAILERS {
            many.extend_from_slice(format!("T{i}: v\r\n").as_bytes());
        }
        many.extend_from_slice(b"\r\n");
        assert_eq!(scan(&many), Ok(Some(many.len())));
    }

    #[test]
    fn bytes_after_the_end() {
        let mut input = SIMPLE.to_vec();
        input.extend_from_slice(b"GET /next HTTP/1.1\r\nHost: a\r\n\r\n");
        let mut scanner = ChunkedScanner::new();
        assert_eq!(scanner.feed(&input), Ok(Some(SIMPLE.len())));
        assert!(scanner.is_done());
        assert_eq!(scanner.feed(b"anything"), Ok(Some(0)));
        assert_eq!(scanner.feed(b""), Ok(Some(0)));
    }

    #[test]
    fn one_byte_at_a_time_reports_the_last_byte() {
        let mut scanner = ChunkedScanner::new();
        let (last, head) = SIMPLE.split_last().expect("not empty");
        for b in head {
            assert_eq!(scanner.feed(std::slice::from_ref(b)), Ok(None));
            assert!(!scanner.is_done());
        }
        assert_eq!(scanner.feed(&[*last, b'X']), Ok(Some(1)));
        assert!(scanner.is_done());
        assert_eq!(scanner.feed(b"X"), Ok(Some(0)));
    }

    #[test]
    fn empty_feeds_change_nothing() {
        let mut scanner = ChunkedScanner::new();
        assert_eq!(scanner.feed(b""), Ok(None));
        assert_eq!(scanner.feed(b"5\r\nhel"), Ok(None));
        assert_eq!(scanner.feed(b""), Ok(None));
        assert_eq!(scanner.feed(b"lo\r\n0\r\n\r\nX"), Ok(Some(9)));
    }

    #[test]
    fn incomplete_bodies_need_more() {
        for end in 0..SIMPLE.len() {
            let prefix = SIMPLE.get(..end).expect("in range");
            assert_eq!(scan(prefix), Ok(None), "{end}");
        }
    }

    #[test]
    fn bad_sizes() {
        use ChunkedError::*;
        for (body, err) in [
            (&b"\r\n"[..], BadSize),
            (b"x\r\n", BadSize),
            (b";ext\r\n", BadSize),
            (b" 5\r\n", BadSize),
            (b"-1\r\n", BadSize),
            (b"+1\r\n", BadSize),
            (b"0x5\r\n", BadSize),
            (b"5 5\r\n", BadSize),
            (b"5g\r\n", BadSize),
            (b"5\r\nhello\r\nz\r\n", BadSize),
            (b"00000000000000001\r\n", SizeTooLarge),
            (b"10000000000000000\r\n", SizeTooLarge),
            (b"fffffffffffffffff", SizeTooLarge),
        ] {
            assert_eq!(scan(body), Err(err), "{:?}", body.escape_ascii());
            assert_eq!(one_byte_at_a_time(body), Err(err));
        }
    }

    #[test]
    fn bad_line_ends() {
        for body in [
            &b"\n"[..],
            b"5\n",
            b"5\rhello",
            b"5 \n",
            b"5;ext\n",
            b"5;ext\rx",
            b"5\r\nhelloX",
            b"5\r\nhello\n",
            b"5\r\nhello\r\r",
            b"5\r\nhello\rX",
            b"5\r\nhello\r\n0\n",
            b"0\r\n\n",
            b"0\r\n\r\r",
            b"0\r\n\rX",
            b"0\r\nA: b\n",
            b"0\r\nA: b\rX",
            b"0\r\nA: b\r\n\r\r\n",
        ] {
            assert_eq!(
                scan(body),
                Err(ChunkedError::BadLineEnd),
                "{:?}",
                body.escape_ascii()
            );
            assert_eq!(one_byte_at_a_time(body), Err(ChunkedError::BadLineEnd));
        }
    }

    #[test]
    fn size_line_limit() {
        let line_of = |len: usize| {
            let mut line = b"1;".to_vec();
            line.resize(len, b'e');
            line.extend_from_slice(b"\r\nx\r\n0\r\n\r\n");
            line
        };
        let ok = line_of(MAX_SIZE_LINE);
        assert_eq!(scan(&ok), Ok(Some(ok.len())));
        assert_eq!(one_byte_at_a_time(&ok), Ok(Some(ok.len())));
        let long = line_of(MAX_SIZE_LINE + 1);
        assert_eq!(scan(&long), Err(ChunkedError::LineTooLong));
        assert_eq!(one_byte_at_a_time(&long), Err(ChunkedError::LineTooLong));
        // Whitespace counts too, and an endless line is refused early.
        let mut spaces = b"1".to_vec();
        spaces.resize(MAX_SIZE_LINE + 1, b' ');
        assert_eq!(scan(&spaces), Err(ChunkedError::LineTooLong));
        let mut scanner = ChunkedScanner::new();
        assert_eq!(scanner.feed(b"1;"), Ok(None));
        let endless = vec![b'e'; 1 << 20];
        assert_eq!(scanner.feed(&endless), Err(ChunkedError::LineTooLong));
    }

    #[test]
    fn trailer_limits() {
        let trailer_of = |len: usize| {
            let mut body = b"0\r\nX:".to_vec();
            body.resize(3 + len, b'v');
            body.extend_from_slice(b"\r\n\r\n");
            body
        };
        let ok = trailer_of(MAX_TRAILER_LINE);
        assert_eq!(scan(&ok), Ok(Some(ok.len())));
        assert_eq!(one_byte_at_a_time(&ok), Ok(Some(ok.len())));
        let long = trailer_of(MAX_TRAILER_LINE + 1);
        assert_eq!(scan(&long), Err(ChunkedError::TrailerTooLong));
        assert_eq!(one_byte_at_a_time(&long), Err(ChunkedError::TrailerTooLong));

        let mut many = b"0\r\n".to_vec();
        for i in 0..=MAX_TRAILERS {
            many.extend_from_slice(format!("T{i}: v\r\n").as_bytes());
        }
        assert_eq!(scan(&many), Err(ChunkedError::TooManyTrailers));

        for folded in [&b"0\r\nA: b\r\n c\r\n\r\n"[..], b"0\r\n\tA: b\r\n\r\n"] {
            assert_eq!(scan(folded), Err(ChunkedError::BadTrailer));
        }
    }

    #[test]
    fn errors_are_sticky() {
        let mut scanner = ChunkedScanner::new();
        assert_eq!(scanner.feed(b"5\r\nhelloXX"), Err(ChunkedError::BadLineEnd));
        assert_eq!(
            scanner.feed(b"\r\n0\r\n\r\n"),
            Err(ChunkedError::BadLineEnd)
        );
        assert_eq!(scanner.feed(b""), Err(ChunkedError::BadLineEnd));
        assert!(!scanner.is_done());
    }

    #[test]
    fn errors_display() {
        assert_eq!(
            ChunkedError::SizeTooLarge.to_string(),
            "chunked body: chunk size has more than 16 hex digits"
        );
    }

    /// One chunk as generated: data, size digits' case and leading zeros,
    /// whitespace and extensions on the size line.
    #[derive(Debug, Clone)]
    struct Chunk {
        data: Vec<u8>,
        upper: bool,
        zeros: usize,
        ws: String,
        ext: String,
    }

    fn chunk_ext() -> impl Strategy<Value = String> {
        prop_oneof![
            3 => Just(String::new()),
            1 => "(;[a-z]{1,8}(=[a-z0-9]{1,8})?){1,3}",
            1 => ";[ \t]?[a-z]{1,5}[ \t]?=[ \t]?\"[ -~&&[^\"\\\\]]{0,20}\"",
        ]
    }

    fn chunk(min: usize) -> impl Strategy<Value = Chunk> {
        (
            prop::collection::vec(any::<u8>(), min..300),
            any::<bool>(),
            0usize..4,
            "[ \t]{0,2}",
            chunk_ext(),
        )
            .prop_map(|(data, upper, zeros, ws, ext)| Chunk {
                data,
                upper,
                zeros,
                ws,
                ext,
            })
    }

    fn encode_size_line(out: &mut Vec<u8>, c: &Chunk) {
        let hex = if c.upper {
            format!("{:X}", c.data.len())
        } else {
            format!("{:x}", c.data.len())
        };
        out.extend(std::iter::repeat_n(b'0', c.zeros));
        out.extend_from_slice(hex.as_bytes());
        out.extend_from_slice(c.ws.as_bytes());
        out.extend_from_slice(c.ext.as_bytes());
        out.extend_from_slice(b"\r\n");
    }

    /// Encodes `chunks` (the empty ones are left out: they would end the
    /// body), the last chunk and `trailers`.
    fn encode(chunks: &[Chunk], last: &Chunk, trailers: &[String]) -> Vec<u8> {
        let mut out = Vec::new();
        for c in chunks.iter().filter(|c| !c.data.is_empty()) {
            encode_size_line(&mut out, c);
            out.extend_from_slice(&c.data);
            out.extend_from_slice(b"\r\n");
        }
        encode_size_line(&mut out, last);
        for t in trailers {
            out.extend_from_slice(t.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"\r\n");
        out
    }

    fn body() -> impl Strategy<Value = Vec<u8>> {
        (
            prop::collection::vec(chunk(0), 0..8),
            chunk(0).prop_map(|c| Chunk {
                data: Vec::new(),
                ..c
            }),
            prop::collection::vec("[A-Za-z][A-Za-z0-9-]{0,15}:[ -~]{0,30}", 0..4),
        )
            .prop_map(|(chunks, last, trailers)| encode(&chunks, &last, &trailers))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn finds_the_exact_end(
            body in body(),
            after in prop::collection::vec(any::<u8>(), 0..64),
            cuts in prop::collection::vec(any::<usize>(), 0..10),
        ) {
            let mut input = body.clone();
            input.extend_from_slice(&after);
            let cuts: Vec<usize> = cuts.iter().map(|c| c % (input.len() + 1)).collect();
            prop_assert_eq!(scan(&input), Ok(Some(body.len())));
            prop_assert_eq!(scan_split(&input, &cuts), Ok(Some(body.len())));
            // Any proper prefix of the body is incomplete, never an error.
            let cut = cuts.first().copied().unwrap_or(0).min(body.len().saturating_sub(1));
            prop_assert_eq!(scan(&input[..cut]), Ok(None));
        }

        #[test]
        fn one_byte_at_a_time_matches(body in body()) {
            prop_assert_eq!(one_byte_at_a_time(&body), Ok(Some(body.len())));
        }

        #[test]
        fn arbitrary_bytes_never_panic(
            input in prop::collection::vec(any::<u8>(), 0..512),
            cuts in prop::collection::vec(any::<usize>(), 0..10),
        ) {
            let whole = scan(&input);
            if let Ok(Some(n)) = whole {
                prop_assert!(n <= input.len());
            }
            let cuts: Vec<usize> = cuts.iter().map(|c| c % (input.len() + 1)).collect();
            prop_assert_eq!(scan_split(&input, &cuts), whole);
        }

        #[test]
        fn mutated_bodies_never_panic_and_split_consistently(
            body in body(),
            edits in prop::collection::vec((any::<usize>(), any::<u8>(), 0u8..3), 1..4),
            cuts in prop::collection::vec(any::<usize>(), 0..10),
        ) {
            let mut input = body;
            for (at, byte, kind) in edits {
                let at = at % (input.len() + 1);
                match kind {
                    0 => input.insert(at, byte),
                    1 if at < input.len() => { input.remove(at); }
                    _ => if let Some(b) = input.get_mut(at) { *b = byte },
                }
            }
            let whole = scan(&input);
            if let Ok(Some(n)) = whole {
                prop_assert!(n <= input.len());
            }
            let cuts: Vec<usize> = cuts.iter().map(|c| c % (input.len() + 1)).collect();
            prop_assert_eq!(scan_split(&input, &cuts), whole);
            prop_assert_eq!(one_byte_at_a_time(&input), whole);
        }
    }
}
