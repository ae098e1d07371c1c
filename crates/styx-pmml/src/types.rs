//! Data types, operational types and the compact value representation used while scoring.

use std::collections::HashMap;

use crate::error::PmmlError;

/// The data type of a field (PMML `dataType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DataType {
    /// Text.
    String,
    /// A 32-bit integer (JPMML's `Integer`).
    Integer,
    /// A 32-bit IEEE float.
    Float,
    /// A 64-bit IEEE double.
    Double,
    /// `true` or `false`.
    Boolean,
    /// A calendar date (`2024-02-29`), held as days since 1970-01-01.
    Date,
    /// A time of day (`13:45:30.25`), held as seconds since midnight.
    Time,
    /// A date and time (`2024-02-29T13:45:30`), held as seconds since 1970-01-01T00:00.
    DateTime,
    /// `dateDaysSince[YEAR]`: a date (written `2024-02-29`), held as the number of days
    /// since January 1st of the year; a continuous number.
    DateDaysSince(u16),
    /// `timeSeconds`: a duration written `H:MM:SS` (hours may exceed 23, a leading `-`
    /// negates it), held as seconds; a continuous number.
    TimeSeconds,
    /// `dateTimeSecondsSince[YEAR]`: a date and time, held as whole seconds since January
    /// 1st of the year; a continuous number.
    DateTimeSecondsSince(u16),
}

/// The epochs of `dateDaysSince[...]` and `dateTimeSecondsSince[...]` that PMML 4.4
/// defines and JPMML implements (it refuses year 0, and does not read the later epochs
/// of its own extension from a document).
const EPOCHS: [u16; 3] = [1960, 1970, 1980];

impl DataType {
    pub(crate) fn parse(s: &str, element: &str) -> Result<DataType, PmmlError> {
        Ok(match s {
            "string" => DataType::String,
            "integer" => DataType::Integer,
            "float" => DataType::Float,
            "double" => DataType::Double,
            "boolean" => DataType::Boolean,
            "date" => DataType::Date,
            "time" => DataType::Time,
            "dateTime" => DataType::DateTime,
            "timeSeconds" => DataType::TimeSeconds,
            "dateDaysSince[0]" | "dateTimeSecondsSince[0]" => {
                return Err(PmmlError::unsupported(
                    element,
                    format!("dataType=\"{s}\" (the epoch of year 0) is not supported"),
                ))
            }
            _ => {
                let epoch = |prefix: &str| {
                    s.strip_prefix(prefix)
                        .and_then(|r| r.strip_suffix(']'))
                        .and_then(|y| y.parse::<u16>().ok())
                        .filter(|y| EPOCHS.contains(y))
                };
                if let Some(y) = epoch("dateDaysSince[") {
                    DataType::DateDaysSince(y)
                } else if let Some(y) = epoch("dateTimeSecondsSince[") {
                    DataType::DateTimeSecondsSince(y)
                } else {
                    return Err(PmmlError::invalid(
                        element,
                        format!("unknown dataType \"{s}\""),
                    ));
                }
            }
        })
    }

    /// Whether values of this type are numbers.
    pub fn is_numeric(self) -> bool {
        matches!(self, DataType::Integer | DataType::Float | DataType::Double)
    }

    /// Whether this is a date, time or date-time type (an instant, ordinal by default).
    pub fn is_instant(self) -> bool {
        matches!(self, DataType::Date | DataType::Time | DataType::DateTime)
    }

    /// Whether this is a period type (`dateDaysSince[...]`, `timeSeconds`,
    /// `dateTimeSecondsSince[...]`): a count of days or seconds, continuous.
    pub fn is_period(self) -> bool {
        matches!(
            self,
            DataType::DateDaysSince(_) | DataType::TimeSeconds | DataType::DateTimeSecondsSince(_)
        )
    }

    /// The PMML name of the type.
    pub fn name(self) -> &'static str {
        match self {
            DataType::String => "string",
            DataType::Integer => "integer",
            DataType::Float => "float",
            DataType::Double => "double",
            DataType::Boolean => "boolean",
            DataType::Date => "date",
            DataType::Time => "time",
            DataType::DateTime => "dateTime",
            DataType::TimeSeconds => "timeSeconds",
            DataType::DateDaysSince(y) => match y {
                1960 => "dateDaysSince[1960]",
                1970 => "dateDaysSince[1970]",
                _ => "dateDaysSince[1980]",
            },
            DataType::DateTimeSecondsSince(y) => match y {
                1960 => "dateTimeSecondsSince[1960]",
                1970 => "dateTimeSecondsSince[1970]",
                _ => "dateTimeSecondsSince[1980]",
            },
        }
    }
}

/// The operational type of a field (PMML `optype`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OpType {
    Categorical,
    Ordinal,
    Continuous,
}

impl OpType {
    pub(crate) fn parse(s: &str, element: &str) -> Result<OpType, PmmlError> {
        Ok(match s {
            "categorical" => OpType::Categorical,
            "ordinal" => OpType::Ordinal,
            "continuous" => OpType::Continuous,
            _ => {
                return Err(PmmlError::invalid(
                    element,
                    format!("unknown optype \"{s}\""),
                ))
            }
        })
    }

    pub(crate) fn default_for(t: DataType) -> OpType {
        match t {
            DataType::Integer | DataType::Float | DataType::Double => OpType::Continuous,
            t if t.is_period() => OpType::Continuous,
            t if t.is_instant() => OpType::Ordinal,
            _ => OpType::Categorical,
        }
    }
}

/// Strings with the high bit set live in the scratch buffer of one evaluation; the others
/// are interned in the compiled model.
pub(crate) const DYN: u32 = 1 << 31;

/// One value while scoring. Numbers of every numeric type are held as `f64` (float values
/// are exactly representable; integers up to 2^53); strings are interned ids.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
#[repr(u64)]
pub(crate) enum Val {
    #[default]
    Missing,
    Num(f64),
    Bool(bool),
    Str(u32),
}

impl Val {
    pub(crate) fn is_missing(self) -> bool {
        matches!(self, Val::Missing)
    }

    /// The numeric value of a number or boolean.
    pub(crate) fn num(self) -> Option<f64> {
        match self {
            Val::Num(x) => Some(x),
            Val::Bool(b) => Some(if b { 1.0 } else { 0.0 }),
            _ => None,
        }
    }
}

/// The interned strings of a compiled model.
#[derive(Debug, Default, Clone)]
pub(crate) struct Symbols {
    pub strings: Vec<Box<str>>,
    /// By text; a fast fixed hash, as every string cell of a record is looked up here.
    pub index: HashMap<Box<str>, u32, foldhash::fast::FixedState>,
    /// Each string read as an integer, a float and a double (see [`Symbols::frozen`]).
    numbers: Vec<[Option<f64>; 3]>,
}

impl Symbols {
    pub(crate) fn intern(&mut self, s: &str) -> u32 {
        if let Some(&i) = self.index.get(s) {
            return i;
        }
        let i = self.strings.len() as u32;
        self.strings.push(s.into());
        self.index.insert(s.into(), i);
        i
    }

    pub(crate) fn get(&self, s: &str) -> Option<u32> {
        self.index.get(s).copied()
    }

    /// The strings, complete: each is read as a number once, for
    /// [`Symbols::number`].
    pub(crate) fn frozen(mut self) -> Self {
        self.numbers = self
            .strings
            .iter()
            .map(|s| [parse_integer(s), parse_float(s), parse_double(s)])
            .collect();
        self
    }

    /// String `id` read as a number of type `t` (as [`parse_number`] reads it), when
    /// `t` is a number type and `id` a string of the frozen model.
    pub(crate) fn number(&self, id: u32, t: DataType) -> Option<Option<f64>> {
        let kind = match t {
            DataType::Integer => 0,
            DataType::Float => 1,
            DataType::Double => 2,
            _ => return None,
        };
        self.numbers.get(id as usize).map(|n| n[kind])
    }
}

/// Parses an integer as JPMML does: an optional sign and digits (Java's `Long.parseLong`),
/// else a double with no fractional part (`3.0`, ` 3`, `3d`), else `true` or `false` (1
/// and 0); within the 32-bit range.
pub(crate) fn parse_integer(s: &str) -> Option<f64> {
    if let Ok(i) = s.parse::<i64>() {
        return i32::try_from(i).ok().map(f64::from);
    }
    let x = parse_double(s)?;
    if x.is_finite() && x.fract() == 0.0 && x.abs() <= i32::MAX as f64 + 1.0 {
        i32::try_from(x as i64).ok().map(f64::from)
    } else {
        None
    }
}

/// A plain decimal `[+-]digits[.digits][(e|E)[+-]digits]` without surrounding blanks,
/// split into sign, an integer mantissa of at most 19 significant digits and a decimal
/// exponent. `None` for anything else (the callers then use the general parser).
#[inline(always)]
fn split_decimal(b: &[u8]) -> Option<(bool, u64, i32)> {
    let n = b.len();
    let mut i = 0;
    let mut neg = false;
    if n > 0 && (b[0] == b'-' || b[0] == b'+') {
        neg = b[0] == b'-';
        i = 1;
    }
    // Most cells are short: up to eight bytes are read at once, up to seventeen in two
    // parts of at most eight digits around the dot.
    let parts = match n - i {
        1..=8 => split_short_decimal(&b[i..]),
        9..=17 => split_two_part_decimal(&b[i..]),
        _ => None,
    };
    if let Some((mant, exp)) = parts {
        return Some((neg, mant, exp));
    }
    split_decimal_digits(b, i, neg)
}

/// One in each byte of a word.
const ONES: u64 = u64::MAX / 255;

/// The bytes of `w` equal to `.`, each flagged by its top bit: the lowest flag is exact
/// (higher ones may be false).
#[inline(always)]
fn dots(w: u64) -> u64 {
    let x = w ^ (ONES * b'.' as u64);
    x.wrapping_sub(ONES) & !x & (ONES * 0x80)
}

/// The number written by the `count` (at most eight) ASCII digits in the low bytes of
/// `w`, none giving 0: aligned to the right of eight, checked and combined at once.
#[inline(always)]
fn digits_of_word(w: u64, count: usize) -> Option<u64> {
    let pad = 8 * (8 - count) as u32;
    let aligned = w.checked_shl(pad).unwrap_or(0)
        | (ONES * b'0' as u64) & !u64::MAX.checked_shl(pad).unwrap_or(0);
    eight_digits(aligned).then(|| parse_eight_digits(aligned))
}

/// `digits.digits` of 9 to 17 bytes with at most eight digits on either side of the dot
/// (`0.0454725`, `1546.123456`), each side read as one word; `None` for anything else.
#[inline(always)]
fn split_two_part_decimal(b: &[u8]) -> Option<(u64, i32)> {
    // The dot is among the first nine bytes.
    let found = dots(load_le(&b[..8]));
    let d = if found != 0 {
        (found.trailing_zeros() / 8) as usize
    } else if b[8] == b'.' {
        8
    } else {
        return None;
    };
    let frac = &b[d + 1..];
    if frac.len() > 8 {
        return None;
    }
    let int = digits_of_word(load_le(&b[..d]), d)?;
    let fraction = digits_of_word(load_le(frac), frac.len())?;
    Some((int * POW10_U64[frac.len()] + fraction, -(frac.len() as i32)))
}

/// `digits[.digits]` of 1 to 8 bytes, read as one word: the dot is found and taken out,
/// and the digits are read at once, without a branch per digit. `None` for anything else
/// (an exponent, a second dot, no digit), which [`split_decimal_digits`] then reads.
#[inline(always)]
fn split_short_decimal(b: &[u8]) -> Option<(u64, i32)> {
    let n = b.len();
    let w = load_le(b);
    let used = u64::MAX.checked_shr(64 - 8 * n as u32).unwrap_or(0);
    let found = dots(w) & used;
    let (digits, count, frac) = if found == 0 {
        (w, n, 0)
    } else {
        let d = found.trailing_zeros() / 8;
        let below = w & !(u64::MAX << (8 * d));
        let above = w.checked_shr(8 * (d + 1)).unwrap_or(0) << (8 * d);
        (below | above, n - 1, n - 1 - d as usize)
    };
    if count == 0 {
        return None;
    }
    Some((digits_of_word(digits, count)?, -(frac as i32)))
}

/// Up to eight bytes as a little-endian word (the missing high bytes zero), with at most
/// two loads.
#[inline(always)]
fn load_le(b: &[u8]) -> u64 {
    let n = b.len();
    if n >= 8 {
        u64::from_le_bytes(b[..8].try_into().expect("eight bytes"))
    } else if n >= 4 {
        let lo = u32::from_le_bytes(b[..4].try_into().expect("four bytes")) as u64;
        let hi = u32::from_le_bytes(b[n - 4..].try_into().expect("four bytes")) as u64;
        lo | hi << (8 * (n - 4))
    } else if n >= 2 {
        let lo = u16::from_le_bytes([b[0], b[1]]) as u64;
        let hi = u16::from_le_bytes([b[n - 2], b[n - 1]]) as u64;
        lo | hi << (8 * (n - 2))
    } else if n == 1 {
        b[0] as u64
    } else {
        0
    }
}

/// [`split_decimal`] after the sign, digit by digit (eight at a time in long fractions).
#[inline(never)]
fn split_decimal_digits(b: &[u8], start: usize, neg: bool) -> Option<(bool, u64, i32)> {
    let n = b.len();
    let mut i = start;
    let int_start = i;
    // Leading zeros are not significant (nor, after them, the fraction's).
    while i < n && b[i] == b'0' {
        i += 1;
    }
    let mut mant: u64 = 0;
    let sig_start = i;
    while i < n {
        let d = b[i].wrapping_sub(b'0');
        if d > 9 {
            break;
        }
        mant = mant.wrapping_mul(10).wrapping_add(d as u64);
        i += 1;
    }
    let mut sig = i - sig_start;
    let mut digits = i - int_start;
    let mut exp: i32 = 0;
    if i < n && b[i] == b'.' {
        i += 1;
        let frac_start = i;
        if mant == 0 {
            while i < n && b[i] == b'0' {
                i += 1;
            }
        }
        let frac_sig = i;
        // Long fractions (as models' training data often have) eight digits at a time.
        while i + 8 <= n {
            let v = u64::from_le_bytes(b[i..i + 8].try_into().expect("eight bytes"));
            if !eight_digits(v) {
                break;
            }
            mant = mant
                .wrapping_mul(100_000_000)
                .wrapping_add(parse_eight_digits(v));
            i += 8;
        }
        // The last one to seven digits, at once when they end the text.
        let r = n - i;
        if (1..8).contains(&r) && n >= 8 {
            let v = u64::from_le_bytes(b[n - 8..].try_into().expect("eight bytes"));
            // The bytes before the digits (the low ones) become zeros.
            let low = (1u64 << (8 * (8 - r))) - 1;
            let v = (v & !low) | (0x3030_3030_3030_3030 & low);
            if eight_digits(v) {
                mant = mant
                    .wrapping_mul(POW10_U64[r])
                    .wrapping_add(parse_eight_digits(v));
                i = n;
            }
        }
        while i < n {
            let d = b[i].wrapping_sub(b'0');
            if d > 9 {
                break;
            }
            mant = mant.wrapping_mul(10).wrapping_add(d as u64);
            i += 1;
        }
        sig += i - frac_sig;
        digits += i - frac_start;
        exp = -((i - frac_start).min(1 << 20) as i32);
    }
    // Wrapping above is harmless: more than 19 significant digits are refused here.
    if digits == 0 || sig > 19 {
        return None;
    }
    if i < n && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        let mut eneg = false;
        if i < n && (b[i] == b'-' || b[i] == b'+') {
            eneg = b[i] == b'-';
            i += 1;
        }
        if i == n || n - i > 5 {
            return None;
        }
        let mut e: i32 = 0;
        while i < n {
            let d = b[i].wrapping_sub(b'0');
            if d > 9 {
                return None;
            }
            e = e * 10 + d as i32;
            i += 1;
        }
        exp += if eneg { -e } else { e };
    }
    if i != n {
        return None;
    }
    Some((neg, mant, exp))
}

/// Whether the eight bytes of `v` (little-endian) are all ASCII digits: no byte is below
/// `'0'` (the subtraction would borrow into its top bit) or above `'9'` (adding 0x46 would
/// reach 0x80).
#[inline(always)]
fn eight_digits(v: u64) -> bool {
    let below = v.wrapping_sub(0x3030_3030_3030_3030);
    let above = v.wrapping_add(0x4646_4646_4646_4646);
    (below | above) & 0x8080_8080_8080_8080 == 0
}

/// The number written by eight ASCII digits (little-endian, first digit in the low byte),
/// combined pairwise in three multiplications instead of eight dependent steps.
#[inline(always)]
fn parse_eight_digits(v: u64) -> u64 {
    const MASK: u64 = 0x0000_00FF_0000_00FF;
    // 100 and 1_000_000 for the low and high halves; 1 and 10_000 likewise.
    const MUL1: u64 = 100 + (1_000_000 << 32);
    const MUL2: u64 = 1 + (10_000 << 32);
    let mut v = v - 0x3030_3030_3030_3030;
    // Each byte pair becomes a two-digit number in its low byte.
    v = v * 10 + (v >> 8);
    ((v & MASK).wrapping_mul(MUL1) + ((v >> 16) & MASK).wrapping_mul(MUL2)) >> 32
}

const POW10_U64: [u64; 9] = [
    1,
    10,
    100,
    1_000,
    10_000,
    100_000,
    1_000_000,
    10_000_000,
    100_000_000,
];

const POW10_F64: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

const POW10_F32: [f32; 11] = [1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10];

/// The doubles nearest to `10^-k`. For a mantissa `m` up to `2^24` and `k` up to 10, `m`
/// times `RECIP_POW10_F64[k]` rounded to a float is `m / 10^k` correctly rounded to a float
/// (checked for every such `m` and `k` by `float_quotients_by_reciprocals`): a
/// multiplication instead of a division, whose latency a row of float fields waits for.
const RECIP_POW10_F64: [f64; 11] = [
    1e0, 1e-1, 1e-2, 1e-3, 1e-4, 1e-5, 1e-6, 1e-7, 1e-8, 1e-9, 1e-10,
];

/// A plain decimal (at most 19 significant digits): computed at once in the exact case (a
/// mantissa and a power of ten that are both exact doubles: one correctly rounded
/// operation), else by Rust's correctly rounded parser, which reads the same syntax;
/// `None` for any other text.
#[inline]
fn fast_double(s: &str) -> Option<f64> {
    let (neg, mant, exp) = split_decimal(s.as_bytes())?;
    match exact_double(mant, exp) {
        Some(x) => Some(if neg { -x } else { x }),
        None => s.parse::<f64>().ok(),
    }
}

/// `mant` x 10^`exp` correctly rounded, when both are exact doubles (Clinger's fast
/// path: one correctly rounded operation).
#[inline]
fn exact_double(mant: u64, exp: i32) -> Option<f64> {
    if mant > (1u64 << 53) || !(-22..=22).contains(&exp) {
        return None;
    }
    let m = mant as f64;
    Some(if exp >= 0 {
        m * POW10_F64[exp as usize]
    } else {
        m / POW10_F64[(-exp) as usize]
    })
}

/// Parses a double as JPMML does: `NaN`, `INF` and `-INF` in any case; else what Java's
/// `Double.parseDouble` reads (see [`java_decimal`] and [`java_word`]); else `true` or
/// `false` (1 and 0).
pub(crate) fn parse_double(s: &str) -> Option<f64> {
    // JPMML reads -0.0 as 0.0.
    if let Some(x) = fast_double(s) {
        return Some(x + 0.0);
    }
    parse_general(s, false).map(|x| x + 0.0)
}

/// A number that is not a plain decimal, read as JPMML reads it into a double or (with
/// `float`) a float: its words, Java's decimal and hexadecimal numerals, then a flag.
fn parse_general(s: &str, float: bool) -> Option<f64> {
    if let Some(x) = pmml_word(s).or_else(|| java_word(s)) {
        return Some(x);
    }
    match java_decimal(s) {
        // A float read as f32 to round once, as Java's Float.parseFloat does.
        Some(t) if float => t.parse::<f32>().ok().map(f64::from),
        Some(t) => t.parse::<f64>().ok(),
        None if float => java_hex(s, 24, 126).or_else(|| java_flag(s)),
        None => java_hex(s, 53, 1022).or_else(|| java_flag(s)),
    }
}

/// JPMML's words for numbers, checked before Java's parser: `NaN`, `INF` and `-INF`, in any
/// case, nothing around them.
fn pmml_word(s: &str) -> Option<f64> {
    if s.eq_ignore_ascii_case("NaN") {
        Some(f64::NAN)
    } else if s.eq_ignore_ascii_case("INF") {
        Some(f64::INFINITY)
    } else if s.eq_ignore_ascii_case("-INF") {
        Some(f64::NEG_INFINITY)
    } else {
        None
    }
}

/// Java's blanks, which its number parsers ignore around a number: the characters up to
/// U+0020.
fn java_trim(s: &str) -> &str {
    s.trim_matches(|c: char| c <= ' ')
}

/// A numeral as Java's number parsers see it: without the blanks around it and its type
/// suffix (`f`, `F`, `d`, `D`).
fn java_numeral(s: &str) -> &str {
    let t = java_trim(s);
    t.strip_suffix(['f', 'F', 'd', 'D']).unwrap_or(t)
}

/// Whether `t` starts with a minus, and the rest after its sign (if any).
fn java_sign(t: &str) -> (bool, &str) {
    match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    }
}

/// Java's words for numbers: `NaN` and `Infinity` with an optional sign, in that case,
/// blanks around allowed.
fn java_word(s: &str) -> Option<f64> {
    let (negative, word) = java_sign(java_trim(s));
    match word {
        "NaN" => Some(f64::NAN),
        "Infinity" if negative => Some(f64::NEG_INFINITY),
        "Infinity" => Some(f64::INFINITY),
        _ => None,
    }
}

/// The decimal number Java's `Double.parseDouble` and `Float.parseFloat` read in `s`
/// (`[+-]digits[.digits][(e|E)[+-]digits]`, digits on at least one side of the point,
/// blanks around and a type suffix `f`, `F`, `d` or `D` allowed), as the text Rust's
/// parsers read: without the blanks and the suffix. `None` for anything else (Java's
/// hexadecimal floats are not read).
fn java_decimal(s: &str) -> Option<&str> {
    let t = java_numeral(s);
    let b = t.as_bytes();
    let digits = |from: usize| {
        b[from.min(b.len())..]
            .iter()
            .take_while(|c| c.is_ascii_digit())
            .count()
    };
    let mut i = usize::from(matches!(b.first(), Some(b'+' | b'-')));
    let whole = digits(i);
    i += whole;
    let mut fraction = 0;
    if b.get(i) == Some(&b'.') {
        fraction = digits(i + 1);
        i += 1 + fraction;
    }
    if whole + fraction == 0 {
        return None;
    }
    if let Some(b'e' | b'E') = b.get(i) {
        i += 1;
        if let Some(b'+' | b'-') = b.get(i) {
            i += 1;
        }
        let exponent = digits(i);
        if exponent == 0 {
            return None;
        }
        i += exponent;
    }
    (i == b.len()).then_some(t)
}

/// A hexadecimal float as Java reads it (`[+-]0x[hex digits][.hex digits](p|P)[+-]digits`,
/// blanks around and a type suffix allowed), rounded to the nearest number of `bits`
/// significant bits (53 for a double, 24 for a float; ties to even) whose exponent is at
/// least `-min_exponent` (smaller: subnormal, fewer bits).
fn java_hex(s: &str, bits: u32, min_exponent: i64) -> Option<f64> {
    let (negative, t) = java_sign(java_numeral(s));
    let t = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X"))?;
    let (significand, exponent) = t.split_once(['p', 'P'])?;
    let (whole, fraction) = significand.split_once('.').unwrap_or((significand, ""));
    let exponent_digits = exponent.strip_prefix(['+', '-']).unwrap_or(exponent);
    if whole.len() + fraction.len() == 0
        || exponent_digits.is_empty()
        || !exponent_digits.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    // The exponent, saturated far beyond any finite or nonzero result.
    let e: i64 = exponent_digits
        .bytes()
        .fold(0i64, |e, d| (e * 10 + i64::from(d - b'0')).min(1 << 20));
    let mut e = if exponent.starts_with('-') { -e } else { e };
    // The significand's first 60 bits, with whether any bit after them is set.
    let (mut m, mut sticky) = (0u64, false);
    for (i, c) in whole.chars().chain(fraction.chars()).enumerate() {
        let d = u64::from(c.to_digit(16)?);
        if m >> 56 == 0 {
            m = m << 4 | d;
            if i >= whole.len() {
                e -= 4;
            }
        } else {
            sticky |= d != 0;
            if i < whole.len() {
                e += 4;
            }
        }
    }
    let sign = if negative { -1.0 } else { 1.0 };
    if m == 0 {
        return Some(sign * 0.0);
    }
    // The value is m x 2^e; its leading bit's exponent:
    let length = i64::from(64 - m.leading_zeros());
    let top = e + length - 1;
    if top > min_exponent + 1 {
        return Some(sign * f64::INFINITY);
    }
    if top < -min_exponent - i64::from(bits) {
        // Below half the smallest subnormal.
        return Some(sign * 0.0);
    }
    // Bits kept (0 to `bits`): all of the format's, fewer below its smallest normal
    // exponent.
    let keep = i64::from(bits) - (-min_exponent - top).max(0);
    let drop = length - keep;
    let kept = if drop <= 0 {
        m << -drop
    } else {
        // Round to nearest, ties to even: the bits dropped against half a unit.
        let kept = if drop == 64 { 0 } else { m >> drop };
        let rest = if drop == 64 {
            m
        } else {
            m & ((1u64 << drop) - 1)
        };
        let half = 1u64 << (drop - 1);
        kept + u64::from(rest > half || (rest == half && (sticky || kept & 1 == 1)))
    };
    // kept x 2^(e + drop), exact (the rounding made it a number of the format), scaled
    // in two steps so that no step leaves the range of doubles.
    let scale = e + drop;
    let x = kept as f64 * 2f64.powi((scale / 2) as i32) * 2f64.powi((scale - scale / 2) as i32);
    Some(sign * x)
}

/// `true` or `false` in any case, nothing around them, read by JPMML as the number 1 or 0
/// where a number cannot be read.
fn java_flag(s: &str) -> Option<f64> {
    if s.eq_ignore_ascii_case("true") {
        Some(1.0)
    } else if s.eq_ignore_ascii_case("false") {
        Some(0.0)
    } else {
        None
    }
}

/// Parses a float (rounded to the nearest 32-bit float), held as `f64`.
pub(crate) fn parse_float(s: &str) -> Option<f64> {
    if let Some((neg, mant, exp)) = split_decimal(s.as_bytes()) {
        if mant <= (1u64 << 24) && (-10..=10).contains(&exp) {
            let m = mant as f32;
            let x = if exp >= 0 {
                m * POW10_F32[exp as usize]
            } else {
                ((mant as f64) * RECIP_POW10_F64[(-exp) as usize]) as f32
            };
            return Some(if neg { -x } else { x } as f64 + 0.0);
        }
        if let Some(x) = float_of_exact_double(mant, exp) {
            return Some(if neg { -x } else { x } + 0.0);
        }
        // Plain decimal syntax: rounded once to a float, as Java's Float.parseFloat does.
        return s.parse::<f32>().ok().map(|f| f as f64 + 0.0);
    }
    parse_general(s, true).map(|x| x + 0.0)
}

/// The decimal `mant` x 10^`exp` rounded to the nearest float, through the correctly
/// rounded double (Clinger's exact case), when that double is no float midpoint: a
/// midpoint is a double, so a value within half a double's step of a double that is none
/// rounds to the float the double rounds to. `None` otherwise (and outside the floats'
/// normal range).
fn float_of_exact_double(mant: u64, exp: i32) -> Option<f64> {
    let d = exact_double(mant, exp)?;
    // The 29 mantissa bits a float drops: exactly half of its step is a midpoint.
    let dropped = d.to_bits() & ((1 << 29) - 1);
    let normal = (f32::MIN_POSITIVE as f64..=f32::MAX as f64).contains(&d);
    (dropped != 1 << 28 && normal).then_some(d as f32 as f64)
}

/// Parses a boolean as JPMML does: `true`/`false` in any case (nothing around them), or
/// a number that is 0 or 1.
pub(crate) fn parse_boolean(s: &str) -> Option<bool> {
    if s.eq_ignore_ascii_case("true") {
        Some(true)
    } else if s.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        match parse_double(s) {
            Some(1.0) => Some(true),
            Some(0.0) => Some(false),
            _ => None,
        }
    }
}

/// Parses a number of the given numeric type.
#[inline]
pub(crate) fn parse_number(t: DataType, s: &str) -> Option<f64> {
    match t {
        DataType::Integer => parse_integer(s),
        DataType::Float => parse_float(s),
        DataType::Double => parse_double(s),
        t => crate::temporal::parse(t, s),
    }
}

/// Rounds to the nearest 32-bit float when `float` is set.
#[inline]
pub(crate) fn round_to(float: bool, x: f64) -> f64 {
    if float {
        x as f32 as f64
    } else {
        x
    }
}

/// `e` as JPMML-Evaluator's float math context writes it: the double literal `2.7182817`
/// (the shortest decimal of the float nearest to `e`, but taken as a double).
const FLOAT_E: f64 = 2.7182817;

/// `exp` in the float math context (`x-mathContext="float"`), computed the way
/// JPMML-Evaluator's `FloatValue.exp(float)` does: the argument is rounded to a float, raised
/// as a power of the double `2.7182817`, and the result rounded to a float. This is not the
/// float nearest to the true `exp(x)`: the base is about 4.7e-8 relative below `e`, so
/// results differ by an ulp or so from `(x as f32).exp()` for larger `|x|`. Every inverse
/// link and softmax of a float model goes through here; PMML's built-in `exp` function
/// does not (it computes in double and rounds the result).
#[inline]
pub(crate) fn float_exp(x: f64) -> f64 {
    FLOAT_E.powf(x as f32 as f64) as f32 as f64
}

/// Orders two numbers as Java's `Double.compareTo` does, which is how JPMML compares
/// values with predicates and with each other: `-0.0` is below `0.0`, and NaN (which an
/// invalid value treated `asIs` can be) equals itself and is above every other number.
#[inline]
pub(crate) fn java_cmp(x: f64, y: f64) -> std::cmp::Ordering {
    match (x.is_nan(), y.is_nan()) {
        (false, false) => x.total_cmp(&y),
        (true, true) => std::cmp::Ordering::Equal,
        (true, false) => std::cmp::Ordering::Greater,
        (false, true) => std::cmp::Ordering::Less,
    }
}

/// Java's `Math.max`: NaN when either is, +0 above -0.
pub(crate) fn java_max(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else if a > b || (a == b && a.is_sign_positive()) {
        a
    } else {
        b
    }
}

/// Java's `Math.pow` where it differs from a general power (HotSpot's intrinsics): `x * x`
/// for 2 and a square root for 0.5 (but at -0 and -infinity), each one rounding.
pub(crate) fn java_pow(x: f64, p: f64) -> f64 {
    if p == 2.0 {
        x * x
    } else if p == 1.0 {
        x
    } else if p == 0.5 && x > f64::NEG_INFINITY && x != 0.0 {
        x.sqrt()
    } else {
        x.powf(p)
    }
}

/// A number's place in the order of [`java_cmp`], as an unsigned integer: `java_key(x) <
/// java_key(y)` exactly when `x` is below `y` (every NaN has the one key above all others).
#[inline]
pub(crate) fn java_key(x: f64) -> u64 {
    let bits = if x.is_nan() {
        f64::NAN.to_bits()
    } else {
        x.to_bits()
    };
    if bits >> 63 == 1 {
        !bits
    } else {
        bits | 1 << 63
    }
}

/// The number of a [`java_key`] (NaN for the key of NaN).
#[inline]
pub(crate) fn from_java_key(key: u64) -> f64 {
    f64::from_bits(if key >> 63 == 1 {
        key & !(1 << 63)
    } else {
        !key
    })
}

#[cfg(test)]
mod tests {
    use super::{parse_boolean, parse_double, parse_float, parse_integer};

    /// Texts read as JPMML-Evaluator 1.7.7 reads them into a double, an integer and a
    /// float field (its results through the `jpmml_evaluator` wheel; `None`: invalid).
    #[test]
    fn numbers_are_read_as_jpmml_reads_them() {
        let inf = f64::INFINITY;
        #[rustfmt::skip]
        // A text, then how a double, an integer and a float field read it.
        type Read = (&'static str, Option<f64>, Option<f64>, Option<f64>);
        let cases: &[Read] = &[
            ("true", Some(1.0), Some(1.0), Some(1.0)),
            ("TRUE", Some(1.0), Some(1.0), Some(1.0)),
            ("False", Some(0.0), Some(0.0), Some(0.0)),
            (" true", None, None, None),
            ("true ", None, None, None),
            ("-0", Some(0.0), Some(0.0), Some(0.0)),
            ("+3", Some(3.0), Some(3.0), Some(3.0)),
            ("3.", Some(3.0), Some(3.0), Some(3.0)),
            (".5", Some(0.5), None, Some(0.5)),
            ("007", Some(7.0), Some(7.0), Some(7.0)),
            (" 1.5", Some(1.5), None, Some(1.5)),
            ("\t8\t", Some(8.0), Some(8.0), Some(8.0)),
            ("\u{1}7", Some(7.0), Some(7.0), Some(7.0)),
            ("inf", Some(inf), None, Some(inf)),
            ("iNf", Some(inf), None, Some(inf)),
            ("inf ", None, None, None),
            ("+INF", None, None, None),
            ("Infinity", Some(inf), None, Some(inf)),
            ("-Infinity", Some(-inf), None, Some(-inf)),
            ("Infinityd", None, None, None),
            ("1d", Some(1.0), Some(1.0), Some(1.0)),
            ("1.5F", Some(1.5), None, Some(1.5)),
            ("+.5e-3d", Some(0.0005), None, Some(0.0005f32 as f64)),
            ("1.e5", Some(1e5), Some(1e5), Some(1e5)),
            ("1e", None, None, None),
            ("e5", None, None, None),
            (".", None, None, None),
            ("-", None, None, None),
            ("1ee5", None, None, None),
            ("+-1", None, None, None),
            ("1_0", None, None, None),
            ("1,5", None, None, None),
            ("0x10", None, None, None),
            ("0x1p3", Some(8.0), Some(8.0), Some(8.0)),
            ("1e308", Some(1e308), None, Some(inf)),
            ("2147483648", Some(2147483648.0), None, Some(2147483648.0)),
            (
                "-2147483648",
                Some(-2147483648.0),
                Some(-2147483648.0),
                Some(-2147483648.0),
            ),
            (
                "2147483647.0",
                Some(2147483647.0),
                Some(2147483647.0),
                Some(2147483648.0),
            ),
            ("1e-400", Some(0.0), Some(0.0), Some(0.0)),
            ("4.9e-324", Some(5e-324), None, Some(0.0)),
        ];
        let bits = |x: Option<f64>| x.map(f64::to_bits);
        for (text, double, integer, float) in cases {
            assert_eq!(bits(parse_double(text)), bits(*double), "double {text:?}");
            assert_eq!(
                bits(parse_integer(text)),
                bits(*integer),
                "integer {text:?}"
            );
            assert_eq!(bits(parse_float(text)), bits(*float), "float {text:?}");
        }
        for text in ["NaN", "nan", " NaN", "+NaN"] {
            assert!(parse_double(text).is_some_and(f64::is_nan), "{text:?}");
            assert_eq!(parse_integer(text), None, "{text:?}");
        }
        assert_eq!(parse_boolean("TRUE"), Some(true));
        assert_eq!(parse_boolean(" true"), None);
        assert_eq!(parse_boolean("1.0"), Some(true));
    }

    #[test]
    fn hexadecimal_floats_are_rounded_to_nearest_even() {
        let min = f64::from_bits(1);
        #[rustfmt::skip]
        let cases: &[(&str, f64)] = &[
            ("0x1.8p1", 3.0),
            ("-0x.8p0", -0.5),
            ("0X1P-2d", 0.25),
            ("0x1.fffffffffffffp1023", f64::MAX),
            ("0x1.fffffffffffff8p1023", f64::INFINITY),
            ("0x1p1024", f64::INFINITY),
            ("0x1p-1074", min),
            ("0x1p-1075", 0.0),
            ("0x1.0000000001p-1075", min),
            ("0x1.8p-1074", 2.0 * min),
            ("0x1p-1076", 0.0),
            ("0x1p-1022", f64::MIN_POSITIVE),
            ("0x1fffffffffffffp0", 9007199254740991.0),
            ("0x20000000000001p0", 9007199254740992.0),
            ("0x20000000000003p0", 9007199254740996.0),
            // 2^53 + 1 and a bit far after it: above the tie, so up.
            ("0x20000000000001000000000000000001p-72", 9007199254740994.0),
            ("0x20000000000001000000000000000000p-72", 9007199254740992.0),
            ("0x0.00000000000000000000001p+92", 1.0),
            ("0x0p5", 0.0),
        ];
        for (text, want) in cases {
            assert_eq!(
                parse_double(text).map(f64::to_bits),
                Some(want.to_bits()),
                "{text}"
            );
        }
        // Floats: 24 bits, subnormal below 2^-126.
        assert_eq!(parse_float("0x1.000001p0"), Some(1.0));
        assert_eq!(
            parse_float("0x1.000003p0"),
            Some((1.0 + 2f64.powi(-22)) as f32 as f64)
        );
        assert_eq!(parse_float("0x1p-149"), Some(f32::from_bits(1) as f64));
        assert_eq!(parse_float("0x1p128"), Some(f64::INFINITY));
    }

    use super::*;

    #[test]
    fn java_keys_order_numbers_as_java_cmp_and_give_them_back() {
        let xs = [
            f64::NEG_INFINITY,
            -1e300,
            -1.5,
            -5e-324,
            -0.0,
            0.0,
            5e-324,
            1.0,
            1e300,
            f64::INFINITY,
            f64::NAN,
            -f64::NAN,
        ];
        for x in xs {
            let back = from_java_key(java_key(x));
            assert!(back.to_bits() == x.to_bits() || (x.is_nan() && back.is_nan()));
            for y in xs {
                assert_eq!(java_key(x).cmp(&java_key(y)), java_cmp(x, y), "{x} {y}");
            }
        }
    }

    #[test]
    fn numbers_compare_as_java_does() {
        use std::cmp::Ordering::*;
        assert_eq!(java_cmp(1.0, 2.0), Less);
        assert_eq!(java_cmp(-0.0, 0.0), Less);
        assert_eq!(java_cmp(f64::NAN, f64::INFINITY), Greater);
        assert_eq!(java_cmp(f64::NAN, -f64::NAN), Equal);
        assert_eq!(java_cmp(f64::NEG_INFINITY, f64::NAN), Less);
    }

    #[test]
    fn float_exp_follows_the_float_math_context() {
        assert_eq!(float_exp(0.0), 1.0);
        assert_eq!(float_exp(1.0), 2.7182817f32 as f64);
        // Below the correctly rounded float exp for large arguments (base below e) ...
        assert!(float_exp(7.0) < (7.0f64.exp() as f32 as f64));
        // ... and above it for large negative ones.
        assert!(float_exp(-7.0) > ((-7.0f64).exp() as f32 as f64));
        assert_eq!(float_exp(-7.0), FLOAT_E.powf(-7.0) as f32 as f64);
    }

    #[test]
    fn fast_paths_agree_with_the_general_parser() {
        let cases = [
            "0",
            "-0",
            "+0",
            "0.0",
            "-0.0",
            "1",
            "-1",
            "1.5",
            ".5",
            "5.",
            "-.25",
            "+3.25",
            "0.1",
            "0.2",
            "0.3",
            "123456789012345678",
            "1234567890123456789",
            "12345678901234567890",
            "9007199254740993",
            "9007199254740992",
            "1e22",
            "1e23",
            "1e-22",
            "1e-23",
            "4.035827315661417e-06",
            "0.0003485576190657147",
            "1E5",
            "2.5e+3",
            "7e-0",
            "0.000000000000000000001",
            "00000123.4500000",
            "3.4028235e38",
            "1.17549435e-38",
            "16777217",
            "16777216",
            "0.1e1",
            "123.456",
            "-99999.99999",
            "1e",
            "1e+",
            "e5",
            ".",
            "-",
            "+",
            "1.2.3",
            "-0.0454725",
            "0.00121528",
            "12.3456789",
            "1234567.8",
            "-1.2345678e5",
            "0.1234567e1",
            "1.5e-10000",
            "1e99999",
            " 1.5",
            "1.5 ",
            "0x10",
        ];
        for c in cases {
            let general = c.trim().parse::<f64>().ok();
            let fast = fast_double(c);
            if let Some(x) = fast {
                assert_eq!(Some(x.to_bits()), general.map(f64::to_bits), "{c}");
            }
            assert_eq!(
                parse_double(c).map(f64::to_bits),
                parse_general(c, false).map(|x| (x + 0.0).to_bits()),
                "{c}"
            );
            let general32 = parse_general(c, false).map(|x| {
                if x.is_finite() {
                    c.trim().parse::<f32>().unwrap() as f64 + 0.0
                } else {
                    x
                }
            });
            assert_eq!(
                parse_float(c).map(f64::to_bits),
                general32.map(f64::to_bits),
                "{c}"
            );
        }
    }

    #[test]
    fn eight_digits_at_once() {
        for t in ["12345678", "00000000", "99999999", "01020304", "90000001"] {
            let v = u64::from_le_bytes(t.as_bytes().try_into().unwrap());
            assert!(eight_digits(v), "{t}");
            assert_eq!(parse_eight_digits(v), t.parse::<u64>().unwrap(), "{t}");
        }
        for t in [
            "1234567.", "/2345678", ":2345678", "1234567a", "123 4567", "-1234567",
        ] {
            let v = u64::from_le_bytes(t.as_bytes().try_into().unwrap());
            assert!(!eight_digits(v), "{t}");
        }
    }

    /// Floats read through the double agree with reading the text as a float at once.
    #[test]
    fn floats_through_doubles_round_once() {
        use proptest::prelude::*;
        proptest!(ProptestConfig::with_cases(50_000), |(m in 0u64..(1u64 << 54), e in -24i32..24)| {
            let s = format!("{m}e{e}");
            let direct = s.parse::<f32>().unwrap() as f64;
            if let Some(x) = float_of_exact_double(m, e) {
                prop_assert_eq!(x.to_bits(), direct.to_bits(), "{}", s);
            }
        });
        // A float midpoint (1 + 2^-24) as a decimal: left to the direct reading.
        assert_eq!(float_of_exact_double(16_777_217, 0), None);
        assert_eq!(parse_float("16777217"), Some(16_777_216.0));
        assert_eq!(
            parse_float("1.459007191925067"),
            Some(1.459_007_2_f32 as f64)
        );
    }

    /// Every plain decimal of up to 20 bytes over digits, dots, signs and exponents
    /// splits as digit-by-digit reading splits it.
    #[test]
    fn short_decimals_split_as_digit_by_digit() {
        use proptest::prelude::*;
        let text = proptest::collection::vec(
            prop_oneof![
                8 => proptest::char::range('0', '9'),
                1 => Just('.'),
                1 => proptest::sample::select(vec!['-', '+', 'e', 'x', ' ']),
            ],
            0..20,
        );
        proptest!(ProptestConfig::with_cases(40_000), |(chars in text)| {
            let s: String = chars.into_iter().collect();
            let b = s.as_bytes();
            let (neg, start) = match b.first() {
                Some(b'-') => (true, 1),
                Some(b'+') => (false, 1),
                _ => (false, 0),
            };
            prop_assert_eq!(split_decimal(b), split_decimal_digits(b, start, neg), "{}", s);
        });
        for s in [
            "13.23",
            "0.005568",
            ".5",
            "5.",
            "1546.0",
            "12345678",
            "-1234567.",
            "7",
        ] {
            let b = s.as_bytes();
            assert!(
                split_short_decimal(b.strip_prefix(b"-").unwrap_or(b)).is_some(),
                "{s}"
            );
        }
        for s in ["0.0454725", "0.00259226", "12345678.12345678", "12345678."] {
            assert!(split_two_part_decimal(s.as_bytes()).is_some(), "{s}");
        }
        for s in [".123456789", "123456789.1", "1.2.345678", "1234.5e678"] {
            assert_eq!(split_two_part_decimal(s.as_bytes()), None, "{s}");
        }
    }

    proptest::proptest! {
        #[test]
        fn fast_double_matches_std(s in "[-+]?[0-9]{0,20}(\\.[0-9]{0,20})?([eE][-+]?[0-9]{1,3})?") {
            if let Some(x) = fast_double(&s) {
                proptest::prop_assert_eq!(Some(x.to_bits()), s.parse::<f64>().ok().map(f64::to_bits));
            }
            if let Some(x) = parse_float(&s) {
                proptest::prop_assert_eq!(x.to_bits(), (s.parse::<f32>().unwrap() as f64 + 0.0).to_bits());
            }
        }
    }

    /// Every quotient [`parse_float`] computes by a multiplication with a reciprocal is
    /// the correctly rounded one (the division of two exact floats).
    #[test]
    #[cfg_attr(debug_assertions, ignore = "exhaustive: run optimized")]
    fn float_quotients_by_reciprocals() {
        for k in 1..=10 {
            for m in 0..=(1u32 << 24) {
                let want = (m as f32) / POW10_F32[k];
                let got = ((m as f64) * RECIP_POW10_F64[k]) as f32;
                assert_eq!(got.to_bits(), want.to_bits(), "{m}e-{k}");
            }
        }
    }

    #[test]
    fn parses_numbers() {
        assert_eq!(parse_integer("42"), Some(42.0));
        assert_eq!(parse_integer("3.0"), Some(3.0));
        assert_eq!(parse_integer("3.5"), None);
        assert_eq!(parse_double("1E-5"), Some(1e-5));
        assert_eq!(parse_double(" 2.5 "), Some(2.5));
        assert_eq!(parse_double("abc"), None);
        assert_eq!(parse_double("infinity"), None);
        assert!(parse_double("NaN").unwrap().is_nan());
        assert_eq!(parse_float("0.1"), Some(0.1f32 as f64));
        assert_eq!(parse_boolean("true"), Some(true));
    }
}
