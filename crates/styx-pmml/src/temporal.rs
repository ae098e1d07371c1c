//! Dates and times as JPMML reads them (`java.time`'s ISO formats) and the numbers they
//! are held as: a `date` as days since 1970-01-01, a `time` as seconds since midnight,
//! a `dateTime` as seconds since 1970-01-01T00:00; the period types as their count of days
//! or seconds since their epoch.

use crate::types::DataType;

/// Days from 1970-01-01 to the given proleptic Gregorian date.
pub(crate) fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m as i64 + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date (year, month, day) of a day number since 1970-01-01.
pub(crate) fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn month_len(y: i64, m: u32) -> u32 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

fn digits(s: &str, n: usize) -> Option<u32> {
    if s.len() != n || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Parses an ISO local date (`2024-02-29`; years beyond four digits carry a sign), as
/// `LocalDate.parse` does (strictly: the day must exist). Days since 1970-01-01.
pub(crate) fn parse_date(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    let (neg, start) = match b.first()? {
        b'+' => (false, 1),
        b'-' => (true, 1),
        _ => (false, 0),
    };
    let rest = &s[start..];
    let mut parts = rest.rsplitn(3, '-');
    let d = parts.next()?;
    let m = parts.next()?;
    let y = parts.next()?;
    if y.len() < 4 || y.len() > 9 || !y.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    // Four-digit years are written without a sign, longer ones with `+`; negative ones
    // with `-` and at least four digits.
    let signed_ok = match (start, neg) {
        (0, _) => y.len() == 4,
        (_, false) => y.len() > 4,
        (_, true) => true,
    };
    if !signed_ok {
        return None;
    }
    let y: i64 = y.parse().ok()?;
    let y = if neg { -y } else { y };
    let m = digits(m, 2)?;
    let d = digits(d, 2)?;
    if !(1..=12).contains(&m) || d == 0 || d > month_len(y, m) {
        return None;
    }
    Some(days_from_civil(y, m, d))
}

/// Parses an ISO local time (`13:45`, `13:45:30`, `13:45:30.123456789`), as
/// `LocalTime.parse` does. Seconds since midnight.
pub(crate) fn parse_time(s: &str) -> Option<f64> {
    if !s.is_ascii() {
        return None;
    }
    let (hm, rest) = match s.len() {
        5 => (s, ""),
        n if n >= 8 && s.as_bytes()[5] == b':' => (&s[..5], &s[6..]),
        _ => return None,
    };
    let h = digits(hm.get(..2)?, 2)?;
    if hm.as_bytes()[2] != b':' {
        return None;
    }
    let mi = digits(&hm[3..], 2)?;
    let mut secs = 0.0;
    if !rest.is_empty() {
        let (sec, frac) = match rest.split_once('.') {
            Some((a, f)) => (a, Some(f)),
            None => (rest, None),
        };
        let sec = digits(sec, 2)?;
        if sec > 59 {
            return None;
        }
        secs = sec as f64;
        if let Some(f) = frac {
            if f.is_empty() || f.len() > 9 || !f.bytes().all(|c| c.is_ascii_digit()) {
                return None;
            }
            let nanos: u64 = format!("{f:0<9}").parse().ok()?;
            secs += nanos as f64 / 1e9;
        }
    }
    if h > 23 || mi > 59 {
        return None;
    }
    Some((h * 3600 + mi * 60) as f64 + secs)
}

/// Parses an ISO local date-time (`2024-02-29T13:45:30`), as `LocalDateTime.parse` does
/// (its `T` in either case). Seconds since 1970-01-01T00:00.
pub(crate) fn parse_datetime(s: &str) -> Option<f64> {
    let (d, t) = s.split_once(['T', 't'])?;
    let days = parse_date(d)?;
    let secs = parse_time(t)?;
    Some(days as f64 * 86_400.0 + secs)
}

/// Parses a `timeSeconds` value: `H:MM:SS` with one to four hour digits, optionally
/// negated by a leading `-`.
pub(crate) fn parse_time_seconds(s: &str) -> Option<f64> {
    let (neg, t) = match s.strip_prefix('-') {
        Some(t) => (true, t),
        None => (false, s),
    };
    let mut it = t.split(':');
    let h = it.next()?;
    let m = it.next()?;
    let sec = it.next()?;
    if it.next().is_some() || h.is_empty() || h.len() > 4 || !h.bytes().all(|c| c.is_ascii_digit())
    {
        return None;
    }
    let h: i64 = h.parse().ok()?;
    let m = digits(m, 2)?;
    let sec = digits(sec, 2)?;
    if m > 59 || sec > 59 {
        return None;
    }
    let v = (h * 3600 + m as i64 * 60 + sec as i64) as f64;
    Some(if neg { -v } else { v })
}

/// The day number (since 1970-01-01) of January 1st of `year`.
pub(crate) fn year_start(year: i64) -> i64 {
    days_from_civil(year, 1, 1)
}

/// Parses text as a value of a date or time type, held as a number (see the module).
pub(crate) fn parse(t: DataType, s: &str) -> Option<f64> {
    match t {
        DataType::Date => parse_date(s).map(|d| d as f64),
        DataType::Time => parse_time(s),
        DataType::DateTime => parse_datetime(s),
        DataType::DateDaysSince(y) => parse_date(s).map(|d| (d - year_start(y as i64)) as f64),
        DataType::TimeSeconds => parse_time_seconds(s),
        DataType::DateTimeSecondsSince(y) => {
            let x = parse_datetime(s)? - year_start(y as i64) as f64 * 86_400.0;
            Some(x.trunc())
        }
        _ => None,
    }
}

/// Writes a date as `LocalDate.toString` does.
pub(crate) fn write_date(days: i64, out: &mut String) {
    use std::fmt::Write;
    let (y, m, d) = civil_from_days(days);
    if y.abs() < 10_000 {
        if y < 0 {
            let _ = write!(out, "-{:04}", -y);
        } else {
            let _ = write!(out, "{y:04}");
        }
    } else {
        let _ = write!(out, "{}{y}", if y > 0 { "+" } else { "" });
    }
    let _ = write!(out, "-{m:02}-{d:02}");
}

/// Writes a time of day as `LocalTime.toString` does (`13:45`, `13:45:30`,
/// `13:45:30.250`).
pub(crate) fn write_time(secs: f64, out: &mut String) {
    use std::fmt::Write;
    let whole = secs.floor();
    let nanos = ((secs - whole) * 1e9).round() as u64;
    let s = whole as i64;
    let (h, mi, sec) = (s / 3600, s / 60 % 60, s % 60);
    let _ = write!(out, "{h:02}:{mi:02}");
    if sec > 0 || nanos > 0 {
        let _ = write!(out, ":{sec:02}");
        if nanos > 0 {
            if nanos % 1_000_000 == 0 {
                let _ = write!(out, ".{:03}", nanos / 1_000_000);
            } else if nanos % 1000 == 0 {
                let _ = write!(out, ".{:06}", nanos / 1000);
            } else {
                let _ = write!(out, ".{nanos:09}");
            }
        }
    }
}

/// Splits seconds since 1970-01-01T00:00 into a day number and seconds of that day, to
/// the microsecond within about 130 years of 1970 and to the millisecond beyond (as
/// precisely as a double holds a date-time's seconds).
pub(crate) fn split_datetime(secs: f64) -> (i64, f64) {
    let days = (secs / 86_400.0).floor();
    let unit = if secs.abs() < 4e9 { 1e6 } else { 1e3 };
    let of_day = ((secs - days * 86_400.0) * unit).round() / unit;
    if of_day >= 86_400.0 {
        return (days as i64 + 1, 0.0);
    }
    (days as i64, of_day)
}

/// Writes a value of a date or time type as JPMML converts it to a string.
pub(crate) fn write(t: DataType, x: f64, out: &mut String) {
    match t {
        DataType::Date => write_date(x as i64, out),
        DataType::Time => write_time(x, out),
        DataType::DateTime => {
            let (d, s) = split_datetime(x);
            write_date(d, out);
            out.push('T');
            write_time(s, out);
        }
        _ => crate::format::write_integer(x, out),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_round_trip() {
        assert_eq!(parse_date("1970-01-01"), Some(0));
        assert_eq!(parse_date("2000-03-01"), Some(11_017));
        assert_eq!(parse_date("2021-02-29"), None);
        assert_eq!(parse_date("2024-02-29"), Some(19_782));
        assert_eq!(parse_date("24-02-29"), None);
        for d in [-800_000i64, -1, 0, 59, 11_016, 19_782, 2_932_896] {
            let mut s = String::new();
            write_date(d, &mut s);
            assert_eq!(parse_date(&s), Some(d), "{s}");
        }
        assert_eq!(civil_from_days(19_782), (2024, 2, 29));
    }

    #[test]
    fn times_and_periods() {
        assert_eq!(parse_time("13:45"), Some(49_500.0));
        assert_eq!(parse_time("13:45:30.5"), Some(49_530.5));
        assert_eq!(parse_time("24:00"), None);
        assert_eq!(parse_time_seconds("-1:00:05"), Some(-3605.0));
        assert_eq!(parse_time_seconds("100:00:00"), Some(360_000.0));
        assert_eq!(
            parse(DataType::DateTimeSecondsSince(1970), "1970-01-02T00:00:01"),
            Some(86_401.0)
        );
        // `LocalDateTime.parse` reads its `T` in either case (JPMML accepts both).
        assert_eq!(parse_datetime("1970-01-02t00:00:01"), Some(86_401.0));
        assert_eq!(parse_datetime("1970-01-02 00:00:01"), None);
        let mut s = String::new();
        write_time(49_530.25, &mut s);
        assert_eq!(s, "13:45:30.250");
    }
}
