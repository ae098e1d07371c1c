//! String functions: case, trimming, substrings (positions in UTF-16 units, as Java
//! counts them), concatenation, regular expressions and `formatNumber`.
//!
//! Regular expressions use the `regex` crate, whose syntax is close to Java's for the
//! common cases; it has no look-around, back-references, possessive quantifiers or
//! atomic groups (a constant pattern using them is refused when the document is
//! loaded), `$` matches only at the very end and `.` excludes only `\n`. Replacements
//! follow Java's `Matcher.replaceAll` (`$1`, `${name}`, `\` escapes) after PMML's `$$`
//! became a literal dollar.

use super::javafmt::{self, Arg};
use super::math::int_arg;
use super::{as_number, err, runtime_type, write_string, Call, Func};
use crate::error::Fail;
use crate::eval::Ctx;
use crate::types::{DataType, Val};

/// Compiles a pattern (Java syntax, within the `regex` crate's). Java's `\w`, `\d`, `\s`
/// (and their negations) are ASCII classes, and `\Q...\E` quotes.
pub(super) fn compile_regex(pattern: &str) -> Result<regex::Regex, String> {
    regex::Regex::new(&translate_regex(pattern)).map_err(|e| e.to_string())
}

/// Rewrites Java's ASCII shorthand classes and quotes for the `regex` crate.
fn translate_regex(p: &str) -> String {
    const WORD: &str = "0-9A-Za-z_";
    const SPACE: &str = "\\t\\n\\x0B\\f\\r ";
    let chars: Vec<char> = p.chars().collect();
    let mut out = String::with_capacity(p.len() + 16);
    let mut depth = 0usize;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\\' && i + 1 < chars.len() {
            let n = chars[i + 1];
            i += 2;
            let class = |out: &mut String, set: &str, neg: bool| {
                if depth > 0 && !neg {
                    out.push_str(set);
                } else {
                    out.push('[');
                    if neg {
                        out.push('^');
                    }
                    out.push_str(set);
                    out.push(']');
                }
            };
            match n {
                'w' | 'W' => class(&mut out, WORD, n == 'W'),
                'd' | 'D' => class(&mut out, "0-9", n == 'D'),
                's' | 'S' => class(&mut out, SPACE, n == 'S'),
                'Q' => {
                    let mut lit = String::new();
                    while i < chars.len() && !(chars[i] == '\\' && chars.get(i + 1) == Some(&'E')) {
                        lit.push(chars[i]);
                        i += 1;
                    }
                    i = (i + 2).min(chars.len().max(i));
                    out.push_str(&regex::escape(&lit));
                }
                _ => {
                    out.push('\\');
                    out.push(n);
                }
            }
            continue;
        }
        match c {
            '[' => depth += 1,
            ']' if depth > 0 => depth -= 1,
            _ => {}
        }
        out.push(c);
        i += 1;
    }
    out
}

fn string_arg(
    ctx: &Ctx<'_>,
    call: &Call,
    tys: &[DataType],
    args: &[Val],
    i: usize,
) -> Result<String, Fail> {
    let mut s = String::new();
    write_string(ctx, call.f, args[i], tys[i], &mut s)?;
    Ok(s)
}

/// Java's `String.trim`: every character up to U+0020 at either end.
fn java_trim(s: &str) -> &str {
    s.trim_matches(|c: char| c <= ' ')
}

pub(super) fn apply(
    ctx: &mut Ctx<'_>,
    call: &Call,
    tys: &[DataType],
    args: &[Val],
) -> Result<Val, Fail> {
    use Func::*;
    let f = call.f;
    match f {
        Uppercase | Lowercase | TrimBlanks | StringLength | Substring | Concat => {
            // Built in the scratch text buffer (reused across records).
            let mut out = std::mem::take(&mut ctx.s.text_buf);
            out.clear();
            let r = simple(ctx, f, tys, args, &mut out);
            let v = match r {
                Ok(Some(v)) => Ok(v),
                Ok(None) => Ok(ctx.string(&out)),
                Err(e) => Err(e),
            };
            ctx.s.text_buf = out;
            v
        }
        Matches | Replace => {
            let input = string_arg(ctx, call, tys, args, 0)?;
            let owned;
            let re = match &call.regex {
                Some(re) => &**re,
                None => {
                    let p = string_arg(ctx, call, tys, args, 1)?;
                    owned = compile_regex(&p)
                        .map_err(|e| err(f, format!("pattern \"{p}\" cannot be compiled: {e}")))?;
                    &owned
                }
            };
            if f == Matches {
                return Ok(Val::Bool(re.is_match(&input)));
            }
            let replacement = string_arg(ctx, call, tys, args, 2)?.replace("$$", "\\$");
            let out = replace_all(re, &input, &replacement).map_err(|e| err(f, e))?;
            Ok(ctx.string(&out))
        }
        _ => {
            // formatNumber: the number as the Java type of its value.
            let t = runtime_type(args[0], tys[0]);
            let x = as_number(ctx, f, args[0], t)?;
            let arg = match t {
                DataType::Integer => Arg::Int(x as i64),
                DataType::Float => Arg::Float(x as f32),
                _ => Arg::Double(x),
            };
            super::format(ctx, f, args[1], tys[1], javafmt::Syntax::Java, arg)
        }
    }
}

/// The string functions that need no regular expression or format: the text result is
/// written to `out` (`None`), a number returned (`stringLength`).
fn simple(
    ctx: &Ctx<'_>,
    f: Func,
    tys: &[DataType],
    args: &[Val],
    out: &mut String,
) -> Result<Option<Val>, Fail> {
    use Func::*;
    if f == Concat {
        for (a, t) in args.iter().zip(tys.iter()) {
            if !a.is_missing() {
                write_string(ctx, f, *a, *t, out)?;
            }
        }
        return Ok(None);
    }
    // The first argument as text: borrowed when it is a string.
    let owned;
    let s: &str = match args[0] {
        Val::Str(id) => ctx.text(id),
        v => {
            let mut t = String::new();
            write_string(ctx, f, v, tys[0], &mut t)?;
            owned = t;
            &owned
        }
    };
    match f {
        Uppercase => out.extend(s.chars().flat_map(char::to_uppercase)),
        Lowercase => out.push_str(&s.to_lowercase()),
        TrimBlanks => out.push_str(java_trim(s)),
        StringLength => return Ok(Some(Val::Num(s.encode_utf16().count() as f64))),
        _ => {
            let start = int_arg(ctx, f, args[1])?;
            let len = int_arg(ctx, f, args[2])?;
            if start < 1 {
                return Err(err(f, format!("startPos {start}: must be at least 1")));
            }
            if len < 0 {
                return Err(err(f, format!("length {len}: must be at least 0")));
            }
            // Positions in UTF-16 units; half of a surrogate pair becomes '?', as
            // JPMML's text does when written.
            let from = (start - 1) as usize;
            let to = from.saturating_add(len as usize);
            let mut pos = 0usize;
            for c in s.chars() {
                let w = c.len_utf16();
                let end = pos + w;
                if end <= from {
                    pos = end;
                    continue;
                }
                if pos >= to {
                    break;
                }
                if pos >= from && end <= to {
                    out.push(c);
                } else {
                    out.push('?');
                }
                pos = end;
            }
        }
    }
    Ok(None)
}

/// Java's `Matcher.replaceAll(replacement)`.
fn replace_all(re: &regex::Regex, input: &str, replacement: &str) -> Result<String, String> {
    let rep: Vec<char> = replacement.chars().collect();
    let groups = re.captures_len() - 1;
    let mut out = String::new();
    let mut last = 0;
    for caps in re.captures_iter(input) {
        let m = caps.get(0).expect("group 0");
        out.push_str(&input[last..m.start()]);
        let mut i = 0;
        while i < rep.len() {
            let c = rep[i];
            if c == '\\' {
                i += 1;
                let e = rep.get(i).ok_or("character to be escaped is missing")?;
                out.push(*e);
                i += 1;
            } else if c == '$' {
                i += 1;
                let Some(&n) = rep.get(i) else {
                    return Err("illegal group reference: group index is missing".into());
                };
                if n == '{' {
                    let end = rep[i..]
                        .iter()
                        .position(|&c| c == '}')
                        .ok_or("named capturing group is missing trailing '}'")?;
                    let name: String = rep[i + 1..i + end].iter().collect();
                    if name.is_empty() {
                        return Err("named capturing group has 0 length name".into());
                    }
                    match re.capture_names().flatten().any(|x| x == name) {
                        true => {
                            if let Some(g) = caps.name(&name) {
                                out.push_str(g.as_str());
                            }
                        }
                        false => return Err(format!("no group with name {{{name}}}")),
                    }
                    i += end + 1;
                } else {
                    let mut num = n.to_digit(10).ok_or("illegal group reference")? as usize;
                    i += 1;
                    // Later digits join the number while it stays a group.
                    while let Some(d) = rep.get(i).and_then(|c| c.to_digit(10)) {
                        let next = num * 10 + d as usize;
                        if next > groups {
                            break;
                        }
                        num = next;
                        i += 1;
                    }
                    if num > groups {
                        return Err(format!("no group {num}"));
                    }
                    if let Some(g) = caps.get(num) {
                        out.push_str(g.as_str());
                    }
                }
            } else {
                out.push(c);
                i += 1;
            }
        }
        last = m.end();
    }
    out.push_str(&input[last..]);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_classes_are_ascii() {
        let re = compile_regex("\\w+").unwrap();
        assert_eq!(re.find("café").unwrap().as_str(), "caf");
        let re = compile_regex("[\\d.]+\\D").unwrap();
        assert_eq!(re.find("x12.5٣").unwrap().as_str(), "12.5٣");
        let re = compile_regex("a\\Q.*\\Eb").unwrap();
        assert!(re.is_match("a.*b") && !re.is_match("axxb"));
        assert!(compile_regex("\\s\\S").unwrap().is_match(" x"));
    }

    #[test]
    fn java_replacements() {
        let re = compile_regex("(\\w+)@(\\w+)").unwrap();
        assert_eq!(
            replace_all(&re, "a@b c@d", "$2 at $1").unwrap(),
            "b at a d at c"
        );
        assert_eq!(replace_all(&re, "a@b", "\\$1").unwrap(), "$1");
        assert!(replace_all(&re, "a@b", "$3").is_err());
        assert_eq!(replace_all(&re, "a@b", "$10").unwrap(), "a0");
        let named = compile_regex("(?P<user>\\w+)@").unwrap();
        assert_eq!(replace_all(&named, "x@y", "${user}!").unwrap(), "x!y");
    }
}
