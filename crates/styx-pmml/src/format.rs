//! Number formatting for result cells.
//!
//! Doubles are written in their shortest round-trip form with the layout of Python's
//! `repr` (fixed notation for decimal exponents -4..16, else `1.5e-05` / `1e+16`), the
//! convention of the reference tables. Floats use the shortest digits that read back to
//! the same 32-bit float, with the same layout.

use std::fmt::Write;

/// Writes `x` (a double) as the shortest round-trip decimal, Python `repr` layout (NaN
/// and the infinities as Java writes them: `NaN`, `Infinity`, `-Infinity`).
pub fn write_double(x: f64, out: &mut String) {
    if !write_special(x, out) {
        let mut buf = String::with_capacity(32);
        let _ = write!(buf, "{x:e}");
        layout(&buf, out);
    }
}

/// Writes `x` (a 32-bit float) as the shortest decimal that reads back to the same float,
/// Python `repr` layout.
pub fn write_float(x: f32, out: &mut String) {
    if !write_special(x as f64, out) {
        let mut buf = String::with_capacity(32);
        let _ = write!(buf, "{x:e}");
        layout(&buf, out);
    }
}

/// Writes an integral value without a decimal point, or as a double when it is not
/// integral or too large to be held exactly.
pub fn write_integer(x: f64, out: &mut String) {
    if x.fract() == 0.0 && x.abs() < 9.007_199_254_740_992e15 {
        let _ = write!(out, "{}", x as i64);
    } else {
        write_double(x, out);
    }
}

/// Writes a double the way Java's `Double.toString` lays out shortest digits
/// (`1.0`, `0.001`, `1.0E-4`, `1.0E7`), used when a number is converted to a string
/// inside an expression.
pub fn write_java_double(x: f64, out: &mut String) {
    if x.is_nan() {
        out.push_str("NaN");
        return;
    }
    if x.is_infinite() {
        out.push_str(if x > 0.0 { "Infinity" } else { "-Infinity" });
        return;
    }
    if x == 0.0 {
        out.push_str(if x.is_sign_negative() { "-0.0" } else { "0.0" });
        return;
    }
    let buf = java_sci(x);
    java_layout(&buf, out);
}

/// The digits Java 17's `Double.toString`/`Float.toString` give an integral value below
/// 2^63 (its exact path: the integer's digits, the last insignificant ones rounded
/// away), as `{:e}` would write them; `None` for other values. `significant` is the
/// type's number of significand bits.
fn java_integral_digits(x: f64, significant: u32) -> Option<String> {
    if x.fract() != 0.0 || x.abs() >= 9.223_372_036_854_776e18 || x == 0.0 {
        return None;
    }
    let bin_exp = 63 - (x.abs() as u64).leading_zeros();
    let mut value = x.abs() as u64;
    let mut exp10 = 0i32;
    if bin_exp > significant {
        let p2 = bin_exp - significant - 1;
        let insignificant = if p2 > 1 && p2 < 64 {
            (p2 as f64 * std::f64::consts::LOG10_2).floor() as u32
        } else {
            0
        };
        if insignificant > 0 {
            let pow10 = 10u64.pow(insignificant);
            let residue = value % pow10;
            value /= pow10;
            exp10 = insignificant as i32;
            if residue >= pow10 / 2 {
                value += 1;
            }
        }
    }
    let digits = value.to_string();
    let trimmed = digits.trim_end_matches('0');
    let exp = exp10 + digits.len() as i32 - 1;
    Some(sci_text(x < 0.0, trimmed, exp))
}

/// The decimal digits Java 17 gives a finite, non-zero double (`Double.toString`,
/// `String.format`), written as `{:e}` writes them: the shortest digits, but an integral
/// value's own digits (see [`java_integral_digits`]) and `4.9e-324` for the smallest
/// subnormal.
pub(crate) fn java_sci(x: f64) -> String {
    if x.abs() == f64::from_bits(1) {
        return if x < 0.0 { "-4.9e-324" } else { "4.9e-324" }.to_string();
    }
    match java_integral_digits(x, 53) {
        Some(d) => d,
        None => java_tie(x, format!("{x:e}")),
    }
}

/// `digits` (at least one) times `10^exp` as `{:e}` writes it (`-1.25e-3`).
fn sci_text(neg: bool, digits: &str, exp: i32) -> String {
    let mut s = String::with_capacity(digits.len() + 8);
    if neg {
        s.push('-');
    }
    s.push_str(&digits[..1]);
    if digits.len() > 1 {
        s.push('.');
        s.push_str(&digits[1..]);
    }
    let _ = write!(s, "e{exp}");
    s
}

/// Java breaks a tie between two shortest decimals of a float (the float exactly halfway
/// between them) towards the even last digit; `sci` is Rust's choice (`{:e}`).
fn java_float_tie(x: f32, sci: String) -> String {
    java_tie(x as f64, sci)
}

/// [`java_float_tie`] for a double (or a float held as one).
fn java_tie(x: f64, sci: String) -> String {
    let (neg, digits, exp) = split(&sci);
    let n = digits.len();
    // Only an odd last digit can be the wrong side of a tie.
    if digits.as_bytes()[n - 1] % 2 == 0 || n > 17 {
        return sci;
    }
    let Ok(d) = digits.parse::<u64>() else {
        return sci;
    };
    // The tie is between `lower` and `lower + 1` (n digits), one of which Rust chose.
    let m = n as i32 - exp;
    let tie = [Some(d), d.checked_sub(1)]
        .into_iter()
        .flatten()
        .filter(|c| c.to_string().len() == n)
        .find(|c| is_decimal(x.abs(), c * 10 + 5, m));
    let Some(lower) = tie else {
        return sci;
    };
    let chosen = if lower % 2 == 0 { lower } else { lower + 1 }.to_string();
    if chosen.len() != n {
        return sci;
    }
    sci_text(neg, &chosen, exp)
}

/// Whether the positive double `x` is exactly `d * 10^-m`. With `x = mant * 2^e` (`mant`
/// odd), that is `mant * 5^m * 2^(m + e) == d`: an integer equation, decided in 128 bits
/// (an `m` above 27 would need a `d` above 2^64).
fn is_decimal(x: f64, d: u64, m: i32) -> bool {
    if !x.is_finite() || x <= 0.0 {
        return false;
    }
    if m <= 0 {
        // An integral `x` (below 2^128, where 128 bits hold it).
        return x.fract() == 0.0
            && x < 3.4e38
            && 10u128
                .checked_pow((-m) as u32)
                .and_then(|p| p.checked_mul(d as u128))
                == Some(x as u128);
    }
    if m > 27 {
        return false;
    }
    let bits = x.to_bits();
    let biased = (bits >> 52) as i32;
    let fraction = bits & ((1 << 52) - 1);
    let (mut mant, mut e) = if biased == 0 {
        (fraction, -1074)
    } else {
        (fraction | 1 << 52, biased - 1075)
    };
    let zeros = mant.trailing_zeros();
    mant >>= zeros;
    e += zeros as i32;
    let shift = m + e;
    if !(0..64).contains(&shift) {
        return false;
    }
    (mant as u128)
        .checked_mul(5u128.pow(m as u32))
        .and_then(|p| p.checked_mul(1u128 << shift))
        == Some(d as u128)
}

/// Lays out shortest digits (Rust's `{:e}` form) as Java's `toString` does: plain from
/// 1e-3 up to 1e7, else `d.dddE±x`.
fn java_layout(buf: &str, out: &mut String) {
    let (neg, digits, exp) = split(buf);
    if neg {
        out.push('-');
    }
    if (-3..7).contains(&exp) {
        fixed(&digits, exp, out);
    } else {
        out.push_str(&digits[..1]);
        out.push('.');
        if digits.len() > 1 {
            out.push_str(&digits[1..]);
        } else {
            out.push('0');
        }
        let _ = write!(out, "E{exp}");
    }
}

/// Writes a float the way Java's `Float.toString` lays out its digits.
pub fn write_java_float(x: f32, out: &mut String) {
    if !x.is_finite() || x == 0.0 {
        write_java_double(x as f64, out);
        return;
    }
    let mut buf = String::with_capacity(24);
    match java_integral_digits(x as f64, 24) {
        Some(d) => buf = d,
        None => {
            let _ = write!(buf, "{x:e}");
            buf = java_float_tie(x, buf);
        }
    }
    java_layout(&buf, out);
}

fn write_special(x: f64, out: &mut String) -> bool {
    if x.is_nan() {
        out.push_str("NaN");
    } else if x.is_infinite() {
        out.push_str(if x > 0.0 { "Infinity" } else { "-Infinity" });
    } else if x == 0.0 {
        out.push_str(if x.is_sign_negative() { "-0.0" } else { "0.0" });
    } else {
        return false;
    }
    true
}

/// Splits Rust's `{:e}` output (`-1.2345e-5`) into sign, digit string and decimal exponent.
fn split(s: &str) -> (bool, String, i32) {
    let (neg, s) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    let (mant, exp) = s.split_once('e').unwrap_or((s, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mant.chars().filter(|c| *c != '.').collect();
    (neg, digits, exp)
}

fn fixed(digits: &str, exp: i32, out: &mut String) {
    if exp < 0 {
        out.push_str("0.");
        for _ in 0..(-exp - 1) {
            out.push('0');
        }
        out.push_str(digits);
    } else {
        let int_len = exp as usize + 1;
        if digits.len() <= int_len {
            out.push_str(digits);
            for _ in digits.len()..int_len {
                out.push('0');
            }
            out.push_str(".0");
        } else {
            out.push_str(&digits[..int_len]);
            out.push('.');
            out.push_str(&digits[int_len..]);
        }
    }
}

fn layout(sci: &str, out: &mut String) {
    let (neg, digits, exp) = split(sci);
    if neg {
        out.push('-');
    }
    if (-4..16).contains(&exp) {
        fixed(&digits, exp, out);
    } else {
        out.push_str(&digits[..1]);
        if digits.len() > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        let _ = write!(out, "e{}{:02}", if exp < 0 { '-' } else { '+' }, exp.abs());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The tie-break as the exact decimal expansion decides it (the reference for
    /// [`java_tie`]).
    fn exact_tie(x: f64, sci: String, parse: impl Fn(&str) -> Option<f64>) -> String {
        let (neg, digits, exp) = split(&sci);
        let n = digits.len();
        if digits.as_bytes()[n - 1] % 2 == 0 {
            return sci;
        }
        let midpoint = |d: &str| format!("{}.{}5e{exp}", &d[..1], &d[1..]);
        let below = digits
            .parse::<u64>()
            .ok()
            .and_then(|v| v.checked_sub(1))
            .map(|v| v.to_string());
        let candidates = [Some(digits.clone()), below.filter(|b| b.len() == n)];
        if !candidates
            .iter()
            .flatten()
            .any(|d| parse(&midpoint(d)) == Some(x.abs()))
        {
            return sci;
        }
        let exact = format!("{:.800e}", x.abs());
        let (ed, ee) = exact.split_once('e').unwrap();
        let exact_digits: String = ed.chars().filter(|c| *c != '.').collect();
        let exact_digits = exact_digits.trim_end_matches('0');
        if ee.parse::<i32>().ok() != Some(exp)
            || exact_digits.len() != n + 1
            || !exact_digits.ends_with('5')
        {
            return sci;
        }
        let lower = &exact_digits[..n];
        let chosen = if (lower.as_bytes()[n - 1] - b'0') % 2 == 0 {
            lower.to_string()
        } else {
            (lower.parse::<u64>().unwrap() + 1).to_string()
        };
        if chosen.len() != n {
            return sci;
        }
        sci_text(neg, &chosen, exp)
    }

    #[test]
    fn ties_are_found_as_the_exact_expansion_finds_them() {
        let mut ties = 0;
        let mut check = |x: f64| {
            let want = exact_tie(x, format!("{x:e}"), |s| s.parse::<f64>().ok());
            let got = java_tie(x, format!("{x:e}"));
            assert_eq!(got, want, "{x:e}");
            let f = x as f32;
            if f.is_finite() && f != 0.0 {
                let want = exact_tie(f as f64, format!("{f:e}"), |s| {
                    s.parse::<f32>().ok().map(f64::from)
                });
                let got = java_float_tie(f, format!("{f:e}"));
                assert_eq!(got, want, "{f:e}");
                ties += usize::from(got != format!("{f:e}"));
            }
        };
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        for i in 0..50_000u64 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            // Dyadic fractions, short decimals, floats' values and arbitrary doubles.
            check((state % 1_000_000) as f64 / (1u64 << (i % 40)) as f64);
            check((state % 100_000) as f64 / 10f64.powi((i % 12) as i32));
            check(f32::from_bits((state >> 32) as u32 & 0x7f7f_ffff) as f64);
            check(f64::from_bits(state & 0x7fef_ffff_ffff_ffff));
            check(-((state % 4096) as f64) * 2f64.powi((i % 200) as i32 - 100));
        }
        assert!(ties > 0, "no tie was met");
    }

    fn d(x: f64) -> String {
        let mut s = String::new();
        write_double(x, &mut s);
        s
    }

    fn f(x: f32) -> String {
        let mut s = String::new();
        write_float(x, &mut s);
        s
    }

    #[test]
    fn doubles_use_python_repr_layout() {
        assert_eq!(d(0.1), "0.1");
        assert_eq!(d(1.0), "1.0");
        assert_eq!(d(-2.5), "-2.5");
        assert_eq!(d(1e-5), "1e-05");
        assert_eq!(d(0.0001), "0.0001");
        assert_eq!(d(0.0003485576190657147), "0.0003485576190657147");
        assert_eq!(d(4.035827315661417e-06), "4.035827315661417e-06");
        assert_eq!(d(1e16), "1e+16");
        assert_eq!(d(123456789012345.6), "123456789012345.6");
        assert_eq!(d(1.2345678901234568e17), "1.2345678901234568e+17");
        assert_eq!(d(100.0), "100.0");
        assert_eq!(d(0.0), "0.0");
        assert_eq!(d(f64::NAN), "NaN");
        assert_eq!(d(6.971055417313705e-21), "6.971055417313705e-21");
    }

    #[test]
    fn floats_use_shortest_float32_digits() {
        assert_eq!(f(0.015560508), "0.015560508");
        assert_eq!(f(172.02222), "172.02222");
        assert_eq!(f(1.0), "1.0");
        assert_eq!(f(0.1), "0.1");
        assert_eq!(f(1e-7), "1e-07");
    }

    #[test]
    fn integers_and_java_layout() {
        let mut s = String::new();
        write_integer(4.0, &mut s);
        assert_eq!(s, "4");
        s.clear();
        write_integer(-1.0, &mut s);
        assert_eq!(s, "-1");
        s.clear();
        write_java_double(1e-4, &mut s);
        assert_eq!(s, "1.0E-4");
        s.clear();
        write_java_double(0.001, &mut s);
        assert_eq!(s, "0.001");
        s.clear();
        write_java_double(12345678.0, &mut s);
        assert_eq!(s, "1.2345678E7");
        s.clear();
        write_java_double(2.0, &mut s);
        assert_eq!(s, "2.0");
    }
}
