//! The common case of decoding, read in one pass without a deserializer: a record that is
//! one JSON object of plain values (strings without escapes, numbers, `true`, `false`,
//! `null`), as most event streams are.
//!
//! Anything else (an escape, a nested value, a number that needs care, text that is not
//! JSON) makes [`decode`] give up, and the general decoder reads the record (and says
//! what is wrong with it). So this path never accepts what the general one refuses, and
//! what it accepts it reads to the same event: tested against serde_json by the
//! property tests of `event.rs` and the `event_decode` fuzz target.

use serde_json::{Number, Value};

use super::{first_to_escape, Event, Names};

/// The event of `text` keeping the fields named in `only` (all without it), or `None`
/// when the record is not a flat object of plain values.
pub(super) fn decode(text: &str, names: &mut Names, only: Option<&[String]>) -> Option<Event> {
    let mut c = Cursor {
        text,
        bytes: text.as_bytes(),
        at: 0,
    };
    c.space();
    c.eat(b'{')?;
    c.space();
    // Room for the fields kept: those asked for (the event is not passed on), or as
    // many as the widest record yet and half as many again for fields transforms add
    // (growing a wide event copies it).
    let widest = names.by_position.len();
    let room = only.map_or(widest + widest / 2 + 2, <[String]>::len);
    let mut event = Event::with_capacity(room.max(1));
    let mut met = 0;
    if c.eat(b'}').is_none() {
        loop {
            c.eat(b'"')?;
            let name = c.string()?;
            c.space();
            c.eat(b':')?;
            c.space();
            let keep = only.is_none_or(|only| only.iter().any(|f| same(f.as_bytes(), name)));
            let value = c.value(keep)?;
            if keep {
                let name = names.at(event.fields.len(), c.str(name)?);
                event.put_decoded(name, value, &mut met);
            }
            c.space();
            match c.next()? {
                b',' => c.space(),
                b'}' => break,
                _ => return None,
            }
        }
    }
    c.space();
    (c.at == c.bytes.len()).then_some(event)
}

/// Whether two short byte strings are equal (names: a loop costs less than a call).
#[inline(always)]
pub(super) fn same(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    // Eight bytes at a time, then the rest.
    let word = |c: &[u8]| {
        let mut w = [0; 8];
        w.copy_from_slice(c);
        u64::from_ne_bytes(w)
    };
    let (mut x, mut y) = (a.chunks_exact(8), b.chunks_exact(8));
    (&mut x).zip(&mut y).all(|(x, y)| word(x) == word(y))
        && x.remainder().iter().zip(y.remainder()).all(|(x, y)| x == y)
}

/// A position in the record.
struct Cursor<'a> {
    text: &'a str,
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    #[inline(always)]
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    #[inline(always)]
    fn next(&mut self) -> Option<u8> {
        let b = self.peek()?;
        self.at += 1;
        Some(b)
    }

    #[inline(always)]
    fn eat(&mut self, b: u8) -> Option<()> {
        (self.peek()? == b).then(|| self.at += 1)
    }

    /// Skips JSON's white space.
    #[inline(always)]
    fn space(&mut self) {
        while let Some(b' ' | b'\n' | b'\r' | b'\t') = self.peek() {
            self.at += 1;
        }
    }

    /// The bytes of a string after its opening quote, up to the closing one (skipped);
    /// `None` at an escape, a control character or the end of the record.
    #[inline(always)]
    fn string(&mut self) -> Option<&'a [u8]> {
        let start = self.at;
        let end = start + first_to_escape(self.bytes.get(start..)?)?;
        (self.bytes[end] == b'"').then(|| {
            self.at = end + 1;
            &self.bytes[start..end]
        })
    }

    /// The text of `bytes`, a string's contents: the record is UTF-8 and quotes are
    /// ASCII, so this always succeeds.
    #[inline(always)]
    fn str(&self, bytes: &[u8]) -> Option<&'a str> {
        let start = bytes.as_ptr() as usize - self.bytes.as_ptr() as usize;
        self.text.get(start..start + bytes.len())
    }

    /// A plain value (`Null` in place of one not kept).
    fn value(&mut self, keep: bool) -> Option<Value> {
        Some(match self.peek()? {
            b'"' => {
                self.at += 1;
                let s = self.string()?;
                if keep {
                    Value::String(self.str(s)?.to_owned())
                } else {
                    Value::Null
                }
            }
            b't' => self.word(b"true", Value::Bool(true))?,
            b'f' => self.word(b"false", Value::Bool(false))?,
            b'n' => self.word(b"null", Value::Null)?,
            _ => Value::Number(self.number()?),
        })
    }

    /// Reads decimal digits into `mantissa` (wrapping past 19 of them); how many.
    fn digits(&mut self, mantissa: &mut u64) -> u32 {
        let mut n = 0;
        while let Some(b @ b'0'..=b'9') = self.peek() {
            self.at += 1;
            *mantissa = mantissa.wrapping_mul(10).wrapping_add(u64::from(b - b'0'));
            n += 1;
        }
        n
    }

    fn word(&mut self, word: &[u8], value: Value) -> Option<Value> {
        let end = self.at + word.len();
        (self.bytes.get(self.at..end)? == word).then(|| {
            self.at = end;
            value
        })
    }

    /// A JSON number as serde_json reads it: an integer that fits 64 bits as one, any
    /// other as the nearest double. `None` for what the general decoder should judge:
    /// not a number, `-0`, an integer of more than 18 digits, a double out of range or
    /// that rounds to zero.
    fn number(&mut self) -> Option<Number> {
        let start = self.at;
        let negative = self.eat(b'-').is_some();
        let mut mantissa: u64 = 0;
        let first = self.peek()?;
        let mut digits = self.digits(&mut mantissa);
        // No digits, or a leading zero before others (which JSON does not allow).
        if digits == 0 || (digits > 1 && first == b'0') {
            return None;
        }
        let mut scale: i32 = 0;
        let mut float = false;
        if self.eat(b'.').is_some() {
            float = true;
            let fraction = self.digits(&mut mantissa);
            if fraction == 0 {
                return None;
            }
            digits += fraction;
            scale = -(fraction as i32);
        }
        if let Some(b'e' | b'E') = self.peek() {
            float = true;
            self.at += 1;
            let negative = match self.peek()? {
                b'-' => {
                    self.at += 1;
                    true
                }
                b'+' => {
                    self.at += 1;
                    false
                }
                _ => false,
            };
            let mut exponent: i32 = 0;
            let mut n = 0;
            while let Some(b @ b'0'..=b'9') = self.peek() {
                self.at += 1;
                n += 1;
                if n > 4 {
                    return None;
                }
                exponent = exponent * 10 + i32::from(b - b'0');
            }
            if n == 0 {
                return None;
            }
            scale += if negative { -exponent } else { exponent };
        }
        if !float {
            return match (digits > 18, negative, mantissa) {
                (true, ..) | (false, true, 0) => None,
                (false, true, m) => Some(Number::from(-(m as i64))),
                (false, false, m) => Some(Number::from(m)),
            };
        }
        // Clinger's fast path: an exact mantissa times or over an exact power of ten
        // is one correctly rounded operation.
        let magnitude = if digits <= 19 && mantissa <= 1 << 53 && (-22..=22).contains(&scale) {
            let m = mantissa as f64;
            let p = POWERS[scale.unsigned_abs() as usize];
            if scale < 0 {
                m / p
            } else {
                m * p
            }
        } else {
            let text = self.text.get(start..self.at)?;
            let x: f64 = text.parse().ok()?;
            if x == 0.0 || !x.is_finite() {
                return None;
            }
            return Number::from_f64(x);
        };
        Number::from_f64(if negative { -magnitude } else { magnitude })
    }
}

/// The powers of ten a double holds exactly.
const POWERS: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_repeated_name_keeps_its_first_place_and_its_last_value() {
        let mut names = Names::default();
        for _ in 0..2 {
            let text = r#"{"b":1,"a":2,"c":"s","b":3,"a":4}"#;
            let event = decode(text, &mut names, None).unwrap();
            assert_eq!(event.to_string(), r#"{"b":3,"a":4,"c":"s"}"#);
        }
    }

    #[test]
    fn names_are_told_apart_whatever_their_length() {
        for (a, b) in [
            ("", ""),
            ("abcdefgh", "abcdefgh"),
            ("abcdefghi", "abcdefghj"),
            ("a", "b"),
        ] {
            assert_eq!(same(a.as_bytes(), b.as_bytes()), a == b, "{a} {b}");
        }
        assert!(!same(b"abcdefgh", b"abcdefg"));
        assert!(!same(b"xbcdefghij", b"abcdefghij"));
    }

    proptest::proptest! {
        /// Numbers are read as serde_json reads them, or left to the general decoder.
        #[test]
        fn numbers_are_read_as_serde_json_reads_them(
            text in "-?(0|[1-9][0-9]{0,24})(\\.[0-9]{1,25})?([eE][-+]?[0-9]{1,4})?",
        ) {
            let mut c = Cursor { text: &text, bytes: text.as_bytes(), at: 0 };
            if let Some(ours) = c.number() {
                proptest::prop_assert_eq!(c.at, text.len());
                let theirs: Value = serde_json::from_str(&text).unwrap();
                proptest::prop_assert_eq!(Value::Number(ours.clone()), theirs);
                // Equal as numbers and as kinds (-0.0 == 0.0, so the sign too).
                proptest::prop_assert_eq!(ours.to_string(), serde_json::from_str::<Value>(&text).unwrap().to_string());
            }
        }
    }
}
