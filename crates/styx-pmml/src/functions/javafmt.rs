//! Java's `String.format` (`java.util.Formatter`) for one argument, as `formatNumber`
//! and `formatDatetime` use it: `%[index$][flags][width][.precision]conversion`, with
//! Java's checks (a conversion that does not fit the argument, a bad flag or a second
//! argument is an error) and its rounding (half up on the shortest decimal digits).
//! The English locale; `%a` (hexadecimal floats) is not implemented.

use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::rc::Rc;

use crate::temporal;

/// The one argument of a format.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Arg {
    /// A Java `Integer`.
    Int(i64),
    /// A Java `Float`.
    Float(f32),
    /// A Java `Double`.
    Double(f64),
    /// A `LocalDate` (days since 1970-01-01).
    Date(i64),
    /// A `LocalTime` (seconds since midnight).
    Time(f64),
    /// A `LocalDateTime` (seconds since 1970-01-01T00:00).
    DateTime(f64),
}

#[derive(Default, Clone, Copy)]
struct Flags {
    left: bool,
    alt: bool,
    plus: bool,
    space: bool,
    zero: bool,
    group: bool,
    paren: bool,
}

struct Spec {
    index: Option<usize>,
    relative: bool,
    flags: Flags,
    width: Option<usize>,
    precision: Option<usize>,
    upper: bool,
    date: bool,
    conv: char,
}

fn parse_spec(chars: &[char], mut i: usize) -> Result<(Spec, usize), String> {
    let start = i;
    let bad = |i: usize| {
        format!(
            "unknown format conversion '{}'",
            chars.get(i).copied().unwrap_or('%')
        )
    };
    // An argument index: digits followed by '$'.
    let mut index = None;
    let mut j = i;
    while j < chars.len() && chars[j].is_ascii_digit() {
        j += 1;
    }
    if j > i && j < chars.len() && chars[j] == '$' {
        let n: String = chars[i..j].iter().collect();
        index = Some(n.parse::<usize>().map_err(|_| bad(i))?);
        i = j + 1;
    }
    let mut flags = Flags::default();
    let mut relative = false;
    while i < chars.len() {
        let c = chars[i];
        let seen = match c {
            '-' => std::mem::replace(&mut flags.left, true),
            '#' => std::mem::replace(&mut flags.alt, true),
            '+' => std::mem::replace(&mut flags.plus, true),
            ' ' => std::mem::replace(&mut flags.space, true),
            '0' => std::mem::replace(&mut flags.zero, true),
            ',' => std::mem::replace(&mut flags.group, true),
            '(' => std::mem::replace(&mut flags.paren, true),
            '<' => std::mem::replace(&mut relative, true),
            _ => break,
        };
        if seen {
            return Err(format!("duplicate format flag '{c}'"));
        }
        i += 1;
    }
    let num = |i: &mut usize| -> Option<usize> {
        let s = *i;
        while *i < chars.len() && chars[*i].is_ascii_digit() {
            *i += 1;
        }
        (*i > s).then(|| {
            chars[s..*i]
                .iter()
                .collect::<String>()
                .parse()
                .unwrap_or(usize::MAX)
        })
    };
    let width = num(&mut i);
    let mut precision = None;
    if i < chars.len() && chars[i] == '.' {
        i += 1;
        precision = Some(num(&mut i).ok_or_else(|| bad(i))?);
    }
    // Java would run out of memory long before.
    if width.max(precision).is_some_and(|n| n > 1 << 16) {
        return Err("format width or precision too large".into());
    }
    let mut date = false;
    let mut upper = false;
    if i < chars.len() && (chars[i] == 't' || chars[i] == 'T') {
        date = true;
        upper = chars[i] == 'T';
        i += 1;
    }
    let conv = *chars.get(i).ok_or_else(|| bad(start))?;
    if !conv.is_ascii_alphabetic() && conv != '%' {
        return Err(bad(i));
    }
    if !date && conv.is_ascii_uppercase() && "BHSCXEGAT".contains(conv) {
        upper = true;
    }
    Ok((
        Spec {
            index,
            relative,
            flags,
            width,
            precision,
            upper,
            date,
            conv: if date {
                conv
            } else {
                conv.to_ascii_lowercase()
            },
        },
        i + 1,
    ))
}

/// How a pattern is written.
#[derive(Clone, Copy)]
pub(crate) enum Syntax {
    /// Java's `String.format` (`formatNumber`).
    Java,
    /// `formatDatetime`'s: JPMML makes it Java's by writing `1$t` after every `%` that
    /// is not followed by another `%`.
    Datetime,
}

/// Formats `arg` with `pattern` of `syntax` as Java's `String.format(pattern, arg)`;
/// the patterns this thread used last are kept compiled (a model formats every record
/// with the same few patterns).
pub(crate) fn format_cached(
    syntax: Syntax,
    pattern: &str,
    arg: Arg,
    out: &mut String,
) -> Result<(), String> {
    /// Patterns kept per thread and syntax (all are dropped when one more comes).
    const KEPT: usize = 64;
    type Kept = [HashMap<String, Rc<Compiled>>; 2];
    thread_local! {
        static COMPILED: RefCell<Kept> = RefCell::new([HashMap::new(), HashMap::new()]);
    }
    let compiled = COMPILED.with_borrow_mut(|kept| {
        let kept = &mut kept[syntax as usize];
        if let Some(c) = kept.get(pattern) {
            return c.clone();
        }
        if kept.len() >= KEPT {
            kept.clear();
        }
        let c = Rc::new(match syntax {
            Syntax::Java => compile(pattern),
            Syntax::Datetime => compile(&datetime_to_java(pattern)),
        });
        kept.insert(pattern.to_string(), c.clone());
        c
    });
    match &*compiled {
        Ok(pieces) => write(pieces, arg, out),
        Err(e) => Err(e.clone()),
    }
}

/// JPMML's translation of a `formatDatetime` pattern: `1$t` after every `%` that is not
/// followed by another `%`.
fn datetime_to_java(pattern: &str) -> String {
    let chars: Vec<char> = pattern.chars().collect();
    let mut s = String::with_capacity(pattern.len() + 8);
    for (i, &c) in chars.iter().enumerate() {
        s.push(c);
        if c == '%' && i + 1 < chars.len() && chars[i + 1] != '%' {
            s.push_str("1$t");
        }
    }
    s
}

/// A pattern read: its pieces, or why Java refuses it whatever the argument.
type Compiled = Result<Vec<Piece>, String>;

/// A piece of a pattern.
enum Piece {
    /// Text written as it is (`%%` and `%n` included).
    Text(String),
    /// A conversion of the argument.
    Convert(Spec),
}

/// Reads `pattern` into pieces, with Java's checks that need no argument.
fn compile(pattern: &str) -> Compiled {
    let chars: Vec<char> = pattern.chars().collect();
    let mut pieces = Vec::new();
    let mut text = String::new();
    let mut i = 0;
    let mut ordinary = 0usize;
    let mut last: Option<usize> = None;
    while i < chars.len() {
        if chars[i] != '%' {
            text.push(chars[i]);
            i += 1;
            continue;
        }
        let (spec, next) = parse_spec(&chars, i + 1)?;
        i = next;
        if spec.conv == '%' && !spec.date {
            if spec.precision.is_some() {
                return Err("precision with %%".into());
            }
            let f = spec.flags;
            if f.alt || f.plus || f.space || f.zero || f.group || f.paren {
                return Err("bad flags with %%".into());
            }
            if f.left && spec.width.is_none() {
                return Err("missing format width".into());
            }
            pad(&mut text, "%", spec.width, f.left);
            continue;
        }
        if spec.conv == 'n' && !spec.date {
            if spec.width.is_some() || spec.precision.is_some() {
                return Err("bad format specifier %n".into());
            }
            text.push('\n');
            continue;
        }
        // Which argument: explicit, the previous one, or the next ordinary one.
        let idx = if spec.relative {
            last.ok_or("missing format argument")?
        } else if let Some(n) = spec.index {
            if n == 0 {
                return Err("illegal format argument index 0".into());
            }
            n - 1
        } else {
            ordinary += 1;
            ordinary - 1
        };
        if idx != 0 {
            return Err(format!("missing format argument for %{}", spec.conv));
        }
        last = Some(idx);
        if !text.is_empty() {
            pieces.push(Piece::Text(std::mem::take(&mut text)));
        }
        pieces.push(Piece::Convert(spec));
    }
    if !text.is_empty() {
        pieces.push(Piece::Text(text));
    }
    Ok(pieces)
}

/// Writes `arg` as the compiled pattern `pieces` says.
fn write(pieces: &[Piece], arg: Arg, out: &mut String) -> Result<(), String> {
    for piece in pieces {
        let spec = match piece {
            Piece::Text(t) => {
                out.push_str(t);
                continue;
            }
            Piece::Convert(spec) => spec,
        };
        let start = out.len();
        if spec.date {
            date_conv(spec, arg, out)?;
        } else {
            conv(spec, arg, out)?;
        }
        if spec.upper {
            if out[start..].is_ascii() {
                out[start..].make_ascii_uppercase();
            } else {
                let upper = out[start..].to_uppercase();
                out.truncate(start);
                out.push_str(&upper);
            }
        }
    }
    Ok(())
}

/// Pads what was written to `out` from `start` on with spaces to `width` characters, on
/// the left (right-aligned) unless `left`.
fn pad_from(out: &mut String, start: usize, width: Option<usize>, left: bool) {
    let Some(width) = width else { return };
    let fill = width.saturating_sub(out[start..].chars().count());
    if fill == 0 {
        return;
    }
    if left {
        out.extend(std::iter::repeat_n(' ', fill));
    } else {
        out.insert_str(start, &" ".repeat(fill));
    }
}

fn pad(out: &mut String, s: &str, width: Option<usize>, left: bool) {
    let start = out.len();
    out.push_str(s);
    pad_from(out, start, width, left);
}

fn mismatch(c: char) -> String {
    format!("format conversion '{c}' does not fit the argument")
}

fn bad_flags(
    spec: &Spec,
    alt: bool,
    plus: bool,
    space: bool,
    zero: bool,
    group: bool,
    paren: bool,
) -> Result<(), String> {
    let f = spec.flags;
    if (alt && f.alt)
        || (plus && f.plus)
        || (space && f.space)
        || (zero && f.zero)
        || (group && f.group)
        || (paren && f.paren)
    {
        return Err(format!("flags do not fit the conversion '{}'", spec.conv));
    }
    if f.left && spec.width.is_none() {
        return Err("missing format width".into());
    }
    Ok(())
}

/// Java's checks of the flags of a numeric conversion.
fn check_numeric(spec: &Spec) -> Result<(), String> {
    let f = spec.flags;
    if (f.left || f.zero) && spec.width.is_none() {
        return Err("missing format width".into());
    }
    if (f.plus && f.space) || (f.left && f.zero) {
        return Err("illegal combination of format flags".into());
    }
    Ok(())
}

fn java_string(arg: Arg, out: &mut String) {
    match arg {
        Arg::Int(i) => out.push_str(&i.to_string()),
        Arg::Float(x) => crate::format::write_java_float(x, out),
        Arg::Double(x) => crate::format::write_java_double(x, out),
        Arg::Date(d) => temporal::write_date(d, out),
        Arg::Time(t) => temporal::write_time(t, out),
        Arg::DateTime(t) => temporal::write(crate::types::DataType::DateTime, t, out),
    }
}

fn conv(spec: &Spec, arg: Arg, out: &mut String) -> Result<(), String> {
    let c = spec.conv;
    let f = spec.flags;
    match c {
        's' | 'b' | 'h' => {
            bad_flags(spec, c != 's' || f.alt, true, true, true, true, true)?;
            let mut s = String::new();
            match c {
                's' => java_string(arg, &mut s),
                'b' => s.push_str("true"),
                _ => {
                    let h: u32 = match arg {
                        Arg::Int(i) => i as i32 as u32,
                        Arg::Float(x) => x.to_bits(),
                        Arg::Double(x) => {
                            let b = x.to_bits();
                            (b ^ (b >> 32)) as u32
                        }
                        _ => return Err(mismatch(c)),
                    };
                    s = format!("{h:x}");
                }
            }
            if let Some(p) = spec.precision {
                s = s.chars().take(p).collect();
            }
            pad(out, &s, spec.width, f.left);
        }
        'c' => {
            if spec.precision.is_some() {
                return Err("precision with %c".into());
            }
            bad_flags(spec, true, true, true, true, true, true)?;
            let Arg::Int(i) = arg else {
                return Err(mismatch(c));
            };
            let ch = u32::try_from(i)
                .ok()
                .and_then(char::from_u32)
                .ok_or_else(|| format!("illegal code point {i}"))?;
            pad(out, &ch.to_string(), spec.width, f.left);
        }
        'd' | 'o' | 'x' => {
            if spec.precision.is_some() {
                return Err(format!("precision with %{c}"));
            }
            check_numeric(spec)?;
            let Arg::Int(i) = arg else {
                return Err(mismatch(c));
            };
            if c == 'd' {
                if f.alt {
                    return Err("flag '#' with %d".into());
                }
                let digits = i.unsigned_abs().to_string();
                let digits = if f.group { group(&digits) } else { digits };
                signed(spec, i < 0, digits, out);
            } else {
                if f.group || f.plus || f.space || f.paren {
                    return Err(format!("flags do not fit the conversion '{c}'"));
                }
                let u = i as i32 as u32;
                let (digits, prefix) = if c == 'o' {
                    (format!("{u:o}"), "0")
                } else {
                    (format!("{u:x}"), "0x")
                };
                let mut s = String::new();
                if f.alt {
                    s.push_str(prefix);
                }
                if f.zero {
                    let w = spec.width.unwrap_or(0);
                    let n = s.len() + digits.len();
                    s.extend(std::iter::repeat_n('0', w.saturating_sub(n)));
                }
                s.push_str(&digits);
                pad(out, &s, spec.width, f.left);
            }
        }
        'e' | 'f' | 'g' => {
            check_numeric(spec)?;
            let x = match arg {
                Arg::Float(x) => x as f64,
                Arg::Double(x) => x,
                _ => return Err(mismatch(c)),
            };
            if (c == 'e' && f.group) || (c == 'g' && f.alt) {
                return Err(format!("flags do not fit the conversion '{c}'"));
            }
            if x.is_nan() || x.is_infinite() {
                let mut s = String::new();
                if x.is_nan() {
                    s.push_str("NaN");
                } else {
                    let neg = x < 0.0;
                    if neg && f.paren {
                        s.push('(');
                    } else if neg {
                        s.push('-');
                    } else if f.plus {
                        s.push('+');
                    } else if f.space {
                        s.push(' ');
                    }
                    s.push_str("Infinity");
                    if neg && f.paren {
                        s.push(')');
                    }
                }
                pad(out, &s, spec.width, f.left);
                return Ok(());
            }
            let prec = spec.precision.unwrap_or(6);
            let neg = x.is_sign_negative();
            let body = match c {
                'f' => fixed(x.abs(), prec, f.group, f.alt),
                'e' => sci(x.abs(), prec, f.alt),
                _ => general(x.abs(), prec, f.group, f.alt),
            };
            signed(spec, neg, body, out);
        }
        'a' => return Err("%a is not supported".into()),
        _ => return Err(format!("unknown format conversion '{c}'")),
    }
    Ok(())
}

/// Sign, parentheses, zero padding and width around the digits of a number.
fn signed(spec: &Spec, neg: bool, body: String, out: &mut String) {
    let f = spec.flags;
    let mut pre = String::new();
    let mut post = "";
    if neg {
        if f.paren {
            pre.push('(');
            post = ")";
        } else {
            pre.push('-');
        }
    } else if f.plus {
        pre.push('+');
    } else if f.space {
        pre.push(' ');
    }
    let mut s = pre;
    if f.zero {
        let w = spec.width.unwrap_or(0);
        let n = s.chars().count() + body.chars().count() + post.len();
        s.extend(std::iter::repeat_n('0', w.saturating_sub(n)));
    }
    s.push_str(&body);
    s.push_str(post);
    pad(out, &s, spec.width, f.left);
}

fn group(int: &str) -> String {
    let n = int.len();
    let mut s = String::with_capacity(n + n / 3);
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (n - i) % 3 == 0 {
            s.push(',');
        }
        s.push(c);
    }
    s
}

/// The shortest decimal digits of `x` (> 0 or 0) and its decimal exponent: `x = 0.d1d2... *
/// 10^exp`.
fn shortest(x: f64) -> (Vec<u8>, i32) {
    if x == 0.0 {
        return (vec![0], 1);
    }
    let s = crate::format::java_sci(x);
    let (m, e) = s.split_once('e').unwrap_or((&s, "0"));
    let digits: Vec<u8> = m
        .bytes()
        .filter(u8::is_ascii_digit)
        .map(|b| b - b'0')
        .collect();
    (digits, e.parse::<i32>().unwrap_or(0) + 1)
}

/// Rounds digits half up to `keep` digits; when all of them carry (999 -> 1000) the
/// result has one digit more and the flag is set.
fn round_half_up(mut d: Vec<u8>, keep: usize) -> (Vec<u8>, bool) {
    if d.len() <= keep {
        d.resize(keep, 0);
        return (d, false);
    }
    let up = d[keep] >= 5;
    d.truncate(keep);
    if !up {
        return (d, false);
    }
    for i in (0..keep).rev() {
        if d[i] == 9 {
            d[i] = 0;
        } else {
            d[i] += 1;
            return (d, false);
        }
    }
    d.insert(0, 1);
    (d, true)
}

fn digit_str(d: &[u8]) -> String {
    d.iter().map(|b| (b + b'0') as char).collect()
}

/// `%f`: fixed notation with `prec` decimals.
fn fixed(x: f64, prec: usize, grouping: bool, alt: bool) -> String {
    let (d, mut exp) = shortest(x);
    let keep = exp + prec as i32;
    let (mut int, frac) = if keep < 0 {
        ("0".to_string(), "0".repeat(prec))
    } else {
        let (r, carry) = round_half_up(d, keep as usize);
        if carry {
            exp += 1;
        }
        // r holds 0.r * 10^exp with exp + prec digits.
        if exp <= 0 {
            let mut frac = "0".repeat((-exp) as usize);
            frac.push_str(&digit_str(&r));
            frac.truncate(prec);
            ("0".to_string(), frac)
        } else {
            let e = exp as usize;
            (digit_str(&r[..e]), digit_str(&r[e..]))
        }
    };
    if grouping {
        int = group(&int);
    }
    let mut s = int;
    if prec > 0 {
        s.push('.');
        s.push_str(&frac);
    } else if alt {
        s.push('.');
    }
    s
}

/// `%e`: one digit, `prec` decimals, `e+XX`.
fn sci(x: f64, prec: usize, alt: bool) -> String {
    let (d, mut exp) = shortest(x);
    let (mut r, carry) = round_half_up(d, prec + 1);
    if carry {
        r.truncate(prec + 1);
        exp += 1;
    }
    let e = if x == 0.0 { 0 } else { exp - 1 };
    let mut s = String::new();
    s.push((r[0] + b'0') as char);
    if prec > 0 || alt {
        s.push('.');
    }
    for b in &r[1..] {
        s.push((b + b'0') as char);
    }
    s.push('e');
    s.push(if e < 0 { '-' } else { '+' });
    s.push_str(&format!("{:02}", e.abs()));
    s
}

/// `%g`: `prec` significant digits, fixed notation for 1e-4 <= x < 10^prec (after
/// rounding), else scientific.
fn general(x: f64, prec: usize, grouping: bool, alt: bool) -> String {
    let prec = if prec == 0 { 1 } else { prec };
    if x == 0.0 {
        return fixed(0.0, prec - 1, grouping, alt);
    }
    let (d, exp) = shortest(x);
    let (_, carry) = round_half_up(d, prec);
    let e = exp - 1 + carry as i32;
    if (-4..prec as i32).contains(&e) {
        fixed(x, (prec as i32 - 1 - e) as usize, grouping, alt)
    } else {
        sci(x, prec - 1, alt)
    }
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const DAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];

/// A `%t` conversion of a date, a time or a date-time.
fn date_conv(spec: &Spec, arg: Arg, out: &mut String) -> Result<(), String> {
    if spec.precision.is_some() {
        return Err("precision with a date conversion".into());
    }
    bad_flags(spec, true, true, true, true, true, true)?;
    let (day, secs) = match arg {
        Arg::Date(d) => (Some(d), None),
        Arg::Time(t) => (None, Some(t)),
        Arg::DateTime(t) => {
            let (d, s) = temporal::split_datetime(t);
            (Some(d), Some(s))
        }
        _ => return Err(mismatch('t')),
    };
    let c = spec.conv;
    let unsupported = || format!("unsupported field for the conversion '{c}'");
    let date = || day.ok_or_else(unsupported);
    let time = || secs.ok_or_else(unsupported);
    let ymd = |d: i64| temporal::civil_from_days(d);
    // Java writes the year of the era: 1 BC (year 0) is 1, 2 BC (year -1) is 2.
    let year_of_era = |d: i64| {
        let y = ymd(d).0;
        if y <= 0 {
            1 - y
        } else {
            y
        }
    };
    let hms = |t: f64| {
        let w = t.floor();
        let s = w as i64;
        (
            s / 3600,
            s / 60 % 60,
            s % 60,
            ((t - w) * 1e9).round() as i64,
        )
    };
    let start = out.len();
    let s = &mut *out;
    // Writing to a string cannot fail.
    let _ = match c {
        'Y' => write!(s, "{:04}", year_of_era(date()?)),
        'y' => write!(s, "{:02}", year_of_era(date()?) % 100),
        'C' => write!(s, "{:02}", year_of_era(date()?) / 100),
        'm' => write!(s, "{:02}", ymd(date()?).1),
        'd' => write!(s, "{:02}", ymd(date()?).2),
        'e' => write!(s, "{}", ymd(date()?).2),
        'j' => {
            let d = date()?;
            let y = ymd(d).0;
            write!(s, "{:03}", d - temporal::year_start(y) + 1)
        }
        'B' => {
            s.push_str(MONTHS[ymd(date()?).1 as usize - 1]);
            Ok(())
        }
        'b' | 'h' => {
            s.push_str(&MONTHS[ymd(date()?).1 as usize - 1][..3]);
            Ok(())
        }
        'A' => {
            s.push_str(DAYS[(date()? + 4).rem_euclid(7) as usize]);
            Ok(())
        }
        'a' => {
            s.push_str(&DAYS[(date()? + 4).rem_euclid(7) as usize][..3]);
            Ok(())
        }
        'H' => write!(s, "{:02}", hms(time()?).0),
        'k' => write!(s, "{}", hms(time()?).0),
        'I' => write!(s, "{:02}", (hms(time()?).0 + 11) % 12 + 1),
        'l' => write!(s, "{}", (hms(time()?).0 + 11) % 12 + 1),
        'M' => write!(s, "{:02}", hms(time()?).1),
        'S' => write!(s, "{:02}", hms(time()?).2),
        'L' => write!(s, "{:03}", hms(time()?).3 / 1_000_000),
        'N' => write!(s, "{:09}", hms(time()?).3),
        'p' => {
            s.push_str(if hms(time()?).0 < 12 { "am" } else { "pm" });
            Ok(())
        }
        'R' | 'T' | 'r' => {
            let (h, m, sec, _) = hms(time()?);
            match c {
                'R' => write!(s, "{h:02}:{m:02}"),
                'T' => write!(s, "{h:02}:{m:02}:{sec:02}"),
                _ => write!(
                    s,
                    "{:02}:{m:02}:{sec:02} {}",
                    (h + 11) % 12 + 1,
                    if h < 12 { "AM" } else { "PM" }
                ),
            }
        }
        'D' | 'F' => {
            let (y, m, d) = ymd(date()?);
            if c == 'D' {
                write!(s, "{m:02}/{d:02}/{:02}", y.rem_euclid(100))
            } else {
                write!(s, "{y:04}-{m:02}-{d:02}")
            }
        }
        // Zones, instants and the full form need a zone, which local dates lack.
        'Z' | 'z' | 's' | 'Q' | 'c' => return Err(unsupported()),
        _ => return Err(format!("unknown date conversion '{c}'")),
    };
    pad_from(out, start, spec.width, spec.flags.left);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(p: &str, a: Arg) -> String {
        let mut s = String::new();
        format_cached(Syntax::Java, p, a, &mut s)
            .map(|_| s)
            .unwrap_or_else(|e| format!("ERR {e}"))
    }

    #[test]
    fn numbers_as_java_formats_them() {
        assert_eq!(f("%.2f", Arg::Double(0.125)), "0.13");
        assert_eq!(f("%.1f", Arg::Double(0.15)), "0.2");
        assert_eq!(f("%f", Arg::Double(-1.5)), "-1.500000");
        assert_eq!(f("%,.2f", Arg::Double(1234567.891)), "1,234,567.89");
        assert_eq!(f("%08.3f", Arg::Double(-3.25159)), "-003.252");
        assert_eq!(f("%e", Arg::Double(12345.678)), "1.234568e+04");
        assert_eq!(f("%.0f", Arg::Double(9.5)), "10");
        assert_eq!(f("%g", Arg::Double(0.0001234)), "0.000123400");
        assert_eq!(f("%g", Arg::Double(1234567.0)), "1.23457e+06");
        assert_eq!(f("%d", Arg::Int(-42)), "-42");
        assert_eq!(f("%(,d", Arg::Int(-1234)), "(1,234)");
        assert_eq!(f("%05d", Arg::Int(42)), "00042");
        assert_eq!(f("%x", Arg::Int(-1)), "ffffffff");
        assert_eq!(f("%#X", Arg::Int(255)), "0XFF");
        assert_eq!(f("[%-6s]", Arg::Double(2.0)), "[2.0   ]");
        assert_eq!(f("%s%%", Arg::Int(5)), "5%");
        assert!(f("%d", Arg::Double(1.0)).starts_with("ERR"));
        assert!(f("%f", Arg::Int(1)).starts_with("ERR"));
        assert!(f("%s %s", Arg::Int(1)).starts_with("ERR"));
        assert_eq!(f("%.3e", Arg::Double(9.9996)), "1.000e+01");
        assert_eq!(f("%.2f", Arg::Double(99.999)), "100.00");
        assert_eq!(f("%.2f", Arg::Double(0.001)), "0.00");
        assert_eq!(f("%.2f", Arg::Double(0.005)), "0.01");
    }

    #[test]
    fn dates_as_java_formats_them() {
        let d = temporal::parse_date("2024-02-29").unwrap();
        assert_eq!(
            f("%1$tY/%1$tm/%1$td %1$tA %1$tj", Arg::Date(d)),
            "2024/02/29 Thursday 060"
        );
        assert!(f("%1$tH", Arg::Date(d)).starts_with("ERR"));
        // Years of the era: -2012 (2013 BC) is written 2013, as JPMML writes it.
        let bc = temporal::parse_date("-2012-09-08").unwrap();
        assert_eq!(
            f("%1$tY %1$ty %1$tC %1$tA", Arg::Date(bc)),
            "2013 13 20 Thursday"
        );
        let year_zero = temporal::parse_date("0000-01-01").unwrap();
        assert_eq!(f("%1$tY", Arg::Date(year_zero)), "0001");
    }
}
