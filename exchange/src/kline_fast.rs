//! The fast path of [`KlineParser::parse_event`](super::KlineParser::parse_event):
//! a single pass over a kline event in the compact layout Binance sends
//! (no whitespace, ASCII strings without escapes, integers, booleans,
//! `null`, one nested object `k`).
//!
//! It returns the kline only when serde would parse the message to the same
//! fields; for anything else (whitespace, escapes, floats, duplicate fields,
//! another event, malformed JSON) it returns `None` and the caller takes the
//! serde path, which gives the same result or the precise error.

use crate::kline_event::StreamKline;

/// The `k` object of a compact kline event, or `None` (use serde).
pub(super) fn kline_event(msg: &[u8]) -> Option<StreamKline<'_>> {
    let mut scan = Scan { b: msg, pos: 0 };
    scan.byte(b'{')?;
    let mut event = None;
    let mut kline = None;
    loop {
        let key = scan.raw_string()?;
        scan.byte(b':')?;
        match key {
            b"e" if event.is_none() => event = Some(scan.string()?),
            b"k" if kline.is_none() => kline = Some(scan.kline()?),
            b"e" | b"k" => return None,
            _ => scan.skip_simple()?,
        }
        if !scan.end_of_member()? {
            break;
        }
    }
    (scan.pos == msg.len() && event == Some("kline")).then_some(())?;
    kline
}

struct Scan<'a> {
    b: &'a [u8],
    pos: usize,
}

impl<'a> Scan<'a> {
    fn byte(&mut self, want: u8) -> Option<()> {
        (self.b.get(self.pos) == Some(&want)).then(|| self.pos += 1)
    }

    /// After a member: `,` (more follow: true) or `}` (the object ends: false).
    fn end_of_member(&mut self) -> Option<bool> {
        let more = match self.b.get(self.pos)? {
            b',' => true,
            b'}' => false,
            _ => return None,
        };
        self.pos += 1;
        Some(more)
    }

    /// A string of printable ASCII without escapes, as bytes (a key).
    fn raw_string(&mut self) -> Option<&'a [u8]> {
        self.byte(b'"')?;
        // Binance's strings are short: a plain loop beats memchr's set-up.
        let start = self.pos;
        loop {
            let c = *self.b.get(self.pos)?;
            if c == b'"' {
                break;
            }
            if !(0x20..0x7f).contains(&c) || c == b'\\' {
                return None;
            }
            self.pos += 1;
        }
        let text = &self.b[start..self.pos];
        self.pos += 1;
        Some(text)
    }

    /// A string of printable ASCII without escapes.
    fn string(&mut self) -> Option<&'a str> {
        std::str::from_utf8(self.raw_string()?).ok()
    }

    /// An integer of at most 18 digits, without leading zeros.
    fn int(&mut self) -> Option<i64> {
        let negative = self.byte(b'-').is_some();
        let start = self.pos;
        let mut value: i64 = 0;
        while let Some(&c) = self.b.get(self.pos) {
            if !c.is_ascii_digit() {
                break;
            }
            value = value * 10 + i64::from(c - b'0');
            self.pos += 1;
            if self.pos - start > 18 {
                return None;
            }
        }
        let digits = &self.b[start..self.pos];
        if digits.is_empty() || (digits.len() > 1 && digits[0] == b'0') {
            return None;
        }
        Some(if negative { -value } else { value })
    }

    fn literal(&mut self, word: &[u8]) -> Option<()> {
        self.b
            .get(self.pos..)?
            .starts_with(word)
            .then(|| self.pos += word.len())
    }

    fn bool(&mut self) -> Option<bool> {
        match self.b.get(self.pos)? {
            b't' => self.literal(b"true").map(|()| true),
            b'f' => self.literal(b"false").map(|()| false),
            _ => None,
        }
    }

    /// A value this path accepts in a field it does not read.
    fn skip_simple(&mut self) -> Option<()> {
        match self.b.get(self.pos)? {
            b'"' => self.raw_string().map(drop),
            b't' | b'f' => self.bool().map(drop),
            b'n' => self.literal(b"null"),
            _ => self.int().map(drop),
        }
    }

    /// The `k` object: every field read exactly once.
    fn kline(&mut self) -> Option<StreamKline<'a>> {
        self.byte(b'{')?;
        let mut k = StreamKline {
            t: 0,
            s: "",
            i: "",
            o: "",
            h: "",
            l: "",
            c: "",
            v: "",
            x: false,
        };
        let mut seen = 0u16;
        loop {
            let key = self.raw_string()?;
            self.byte(b':')?;
            let bit = match key {
                b"t" => {
                    k.t = self.int()?;
                    0
                }
                b"x" => {
                    k.x = self.bool()?;
                    1
                }
                b"s" | b"i" | b"o" | b"h" | b"l" | b"c" | b"v" => {
                    let value = self.string()?;
                    let (slot, bit) = match key {
                        b"s" => (&mut k.s, 2),
                        b"i" => (&mut k.i, 3),
                        b"o" => (&mut k.o, 4),
                        b"h" => (&mut k.h, 5),
                        b"l" => (&mut k.l, 6),
                        b"c" => (&mut k.c, 7),
                        _ => (&mut k.v, 8),
                    };
                    *slot = value;
                    bit
                }
                _ => {
                    self.skip_simple()?;
                    if !self.end_of_member()? {
                        break;
                    }
                    continue;
                }
            };
            if seen & (1 << bit) != 0 {
                return None;
            }
            seen |= 1 << bit;
            if !self.end_of_member()? {
                break;
            }
        }
        (seen == 0x1ff).then_some(k)
    }
}
