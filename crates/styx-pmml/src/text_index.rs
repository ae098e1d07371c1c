//! `TextIndex`: the frequency of a term in a text field, as JPMML counts it. The text is
//! normalized by the `TextIndexNormalization` tables (regular expression or literal
//! replacements), split on `wordSeparatorCharacterRE` and stripped of leading and trailing
//! punctuation; the term is split the same way; matches may differ by up to
//! `maxLevenshteinDistance` edits (summed over the term's tokens). With `x-wordRE` (JPMML's
//! extension; PMML 4.4 has no `wordRE`, and JPMML ignores one), the tokens are the matches
//! of that expression instead.

use crate::compile::Compiler;
use crate::error::{Fail, PmmlError};
use crate::eval::Ctx;
use crate::expr::Expr;
use crate::types::{DataType, Val};
use crate::xml::Element;

/// How the count becomes the value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Weights {
    TermFrequency,
    Binary,
    Logarithmic,
}

/// One `TextIndexNormalization`: replacements applied in order, again until nothing
/// changes when `recursive`.
#[derive(Debug, Clone)]
struct Normalization {
    rows: Vec<(regex::Regex, String)>,
    recursive: bool,
}

/// A compiled `TextIndex`.
#[derive(Debug, Clone)]
pub(crate) struct TextIndex {
    text: Expr,
    term: Expr,
    normalizations: Vec<Normalization>,
    /// `wordSeparatorCharacterRE` (tokens between its matches, punctuation trimmed) or,
    /// when `words`, `x-wordRE` (tokens are its matches).
    separator: regex::Regex,
    words: bool,
    punctuation: regex::Regex,
    case_sensitive: bool,
    max_distance: usize,
    best_hits: bool,
    weights: Weights,
}

fn bool_attr(el: &Element, name: &str, default: bool) -> Result<bool, PmmlError> {
    match el.attr(name).map(str::trim) {
        None => Ok(default),
        Some("true") | Some("1") => Ok(true),
        Some("false") | Some("0") => Ok(false),
        Some(o) => Err(PmmlError::invalid(
            el.name.clone(),
            format!("{name}=\"{o}\" is not a boolean"),
        )),
    }
}

fn regex(pattern: &str, case_sensitive: bool, element: &str) -> Result<regex::Regex, PmmlError> {
    let p = if case_sensitive {
        pattern.to_string()
    } else {
        format!("(?i){pattern}")
    };
    crate::functions::compile_regex(&p).map_err(|e| {
        PmmlError::unsupported(element, format!("regular expression \"{pattern}\": {e}"))
    })
}

/// Compiles a `TextIndex` element; its value is an integer count (a double for
/// `localTermWeights="logarithmic"`).
pub(crate) fn compile(c: &mut Compiler<'_>, el: &Element) -> Result<(Expr, DataType), PmmlError> {
    let field = crate::expr::req(el, "textField")?;
    let f = c.field(field, "TextIndex")?;
    let text = Expr::Field {
        slot: f.slot,
        map_missing: None,
    };
    let (term, _) = c.expr_child(el)?;
    let weights = match el.attr("localTermWeights").unwrap_or("termFrequency") {
        "termFrequency" => Weights::TermFrequency,
        "binary" => Weights::Binary,
        "logarithmic" => Weights::Logarithmic,
        o => {
            return Err(PmmlError::unsupported(
                "TextIndex",
                format!("localTermWeights=\"{o}\" is not supported"),
            ))
        }
    };
    let case_sensitive = bool_attr(el, "isCaseSensitive", false)?;
    let max_distance = match el.attr("maxLevenshteinDistance") {
        None => 0,
        Some(t) => t.trim().parse::<usize>().map_err(|_| {
            PmmlError::invalid("TextIndex", format!("maxLevenshteinDistance=\"{t}\""))
        })?,
    };
    let best_hits = match el.attr("countHits").unwrap_or("allHits") {
        "allHits" => false,
        "bestHits" => true,
        o => {
            return Err(PmmlError::invalid(
                "TextIndex",
                format!("unknown countHits \"{o}\""),
            ))
        }
    };
    if !bool_attr(el, "tokenize", true)? {
        return Err(PmmlError::unsupported(
            "TextIndex",
            "tokenize=\"false\" is not supported",
        ));
    }
    let words = el.attr("x-wordRE").is_some();
    let separator = regex(
        el.attr("x-wordRE")
            .or(el.attr("wordSeparatorCharacterRE"))
            .unwrap_or("\\s+"),
        true,
        "TextIndex",
    )?;
    let mut normalizations = Vec::new();
    for n in el.children_named("TextIndexNormalization") {
        let case = bool_attr(n, "isCaseSensitive", case_sensitive)?;
        let in_col = n.attr("inField").unwrap_or("string");
        let out_col = n.attr("outField").unwrap_or("stem");
        let regex_col = n.attr("regexField").unwrap_or("regex");
        let Some(table) = n.child("InlineTable") else {
            if n.child("TableLocator").is_some() {
                return Err(PmmlError::unsupported(
                    "TableLocator",
                    "tables outside the document are not supported",
                ));
            }
            continue;
        };
        let mut rows = Vec::new();
        for row in table.children_named("row") {
            let cell = |name: &str| {
                row.content()
                    .find(|e| crate::expr::local_name(&e.name) == name)
                    .map(|e| e.text.clone())
            };
            let (Some(input), Some(output)) = (cell(in_col), cell(out_col)) else {
                return Err(PmmlError::invalid(
                    "TextIndexNormalization",
                    "a row without its in or out cell",
                ));
            };
            let is_regex = cell(regex_col).is_some_and(|r| r.trim().eq_ignore_ascii_case("true"));
            let pattern = if is_regex {
                input
            } else {
                regex::escape(&input)
            };
            rows.push((
                regex(&pattern, case, "TextIndexNormalization")?,
                java_replacement(&output),
            ));
        }
        normalizations.push(Normalization {
            rows,
            recursive: bool_attr(n, "recursive", false)?,
        });
    }
    let ty = if weights == Weights::Logarithmic {
        DataType::Double
    } else {
        DataType::Integer
    };
    Ok((
        Expr::TextIndex(Box::new(TextIndex {
            text,
            term,
            normalizations,
            separator,
            words,
            punctuation: regex::Regex::new(r"^\p{P}+|\p{P}+$").expect("a valid pattern"),
            case_sensitive,
            max_distance,
            best_hits,
            weights,
        })),
        ty,
    ))
}

/// A Java replacement string (`$1` groups, `\` escapes) in the `regex` crate's syntax.
fn java_replacement(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some('$') => out.push_str("$$"),
                Some(n) => out.push(n),
                None => {}
            },
            '$' => {
                let mut digits = String::new();
                while let Some(d) = chars.peek().filter(|d| d.is_ascii_digit()) {
                    digits.push(*d);
                    chars.next();
                }
                out.push_str(&format!("${{{digits}}}"));
            }
            c => out.push(c),
        }
    }
    out
}

impl TextIndex {
    /// The string form of a value (`FieldValue.asString`).
    fn string(ctx: &Ctx<'_>, v: Val) -> String {
        match v {
            Val::Str(id) => ctx.text(id).to_string(),
            other => ctx.describe(other),
        }
    }

    fn tokens(&self, text: &str) -> Vec<String> {
        let mut out = Vec::new();
        if self.words {
            out.extend(
                self.separator
                    .find_iter(text)
                    .map(|m| m.as_str().to_string()),
            );
            return out;
        }
        for piece in self.separator.split(text) {
            let t = self.punctuation.replace_all(piece, "");
            if !t.is_empty() {
                out.push(t.into_owned());
            }
        }
        out
    }

    fn normalize(&self, mut s: String) -> String {
        for n in &self.normalizations {
            loop {
                let mut next = s.clone();
                for (re, out) in &n.rows {
                    next = re.replace_all(&next, out.as_str()).into_owned();
                }
                let changed = next != s;
                s = next;
                if !(n.recursive && changed) {
                    break;
                }
            }
        }
        s
    }

    /// Evaluates the index for the current record.
    pub(crate) fn eval(&self, ctx: &mut Ctx<'_>) -> Result<Val, Fail> {
        let text = self.text.eval(ctx)?;
        let term = self.term.eval(ctx)?;
        if text.is_missing() || term.is_missing() {
            return Ok(Val::Missing);
        }
        let text = self.normalize(Self::string(ctx, text));
        let text = self.tokens(&text);
        let term = self.tokens(&Self::string(ctx, term));
        let max = match self.weights {
            Weights::Binary => 1,
            _ => usize::MAX,
        };
        let n = self.frequency(&text, &term, max);
        Ok(Val::Num(match self.weights {
            Weights::Logarithmic => (1.0 + n as f64).log10(),
            _ => n as f64,
        }))
    }

    fn frequency(&self, text: &[String], term: &[String], max: usize) -> usize {
        if text.is_empty() || term.is_empty() || term.len() > text.len() {
            return 0;
        }
        let mut frequency = 0;
        let mut best = usize::MAX;
        'text: for i in 0..=(text.len() - term.len()) {
            let mut distance = 0;
            for (j, t) in term.iter().enumerate() {
                let threshold = self.max_distance - distance;
                let w = &text[i + j];
                if threshold == 0 {
                    if !same(w, t, self.case_sensitive) {
                        continue 'text;
                    }
                } else {
                    match limited_distance(w, t, self.case_sensitive, threshold) {
                        Some(d) => distance += d,
                        None => continue 'text,
                    }
                }
            }
            if self.best_hits {
                match distance.cmp(&best) {
                    std::cmp::Ordering::Less => {
                        frequency = 1;
                        best = distance;
                    }
                    std::cmp::Ordering::Equal => frequency += 1,
                    std::cmp::Ordering::Greater => continue 'text,
                }
                if best == 0 && frequency >= max {
                    return frequency;
                }
            } else {
                frequency += 1;
                if frequency >= max {
                    return frequency;
                }
            }
        }
        frequency.min(max)
    }
}

/// Whether two characters are equal, ignoring case unless `case_sensitive` (as Java's
/// `equalsIgnoreCase` compares characters).
fn same_char(a: char, b: char, case_sensitive: bool) -> bool {
    if a == b {
        return true;
    }
    if case_sensitive {
        return false;
    }
    let upper = |c: char| c.to_uppercase().next().unwrap_or(c);
    let lower = |c: char| c.to_lowercase().next().unwrap_or(c);
    upper(a) == upper(b) || lower(upper(a)) == lower(upper(b))
}

fn same(a: &str, b: &str, case_sensitive: bool) -> bool {
    if case_sensitive {
        return a == b;
    }
    a.chars().count() == b.chars().count()
        && a.chars()
            .zip(b.chars())
            .all(|(x, y)| same_char(x, y, false))
}

/// The Levenshtein distance of two tokens (in characters), or `None`
/// when it exceeds `threshold`.
fn limited_distance(a: &str, b: &str, case_sensitive: bool, threshold: usize) -> Option<usize> {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for i in 1..=a.len() {
        cur[0] = i;
        for j in 1..=b.len() {
            let cost = usize::from(!same_char(a[i - 1], b[j - 1], case_sensitive));
            cur[j] = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    let d = prev[b.len()];
    (d <= threshold).then_some(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances_are_limited() {
        assert_eq!(limited_distance("elephant", "hippo", true, 7), Some(7));
        assert_eq!(limited_distance("elephant", "hippo", true, 6), None);
        assert_eq!(limited_distance("Cat", "cats", false, 1), Some(1));
        assert!(same("CAT", "cat", false));
        assert!(!same("CAT", "cat", true));
    }

    #[test]
    fn java_replacements() {
        assert_eq!(java_replacement("x$1y"), "x${1}y");
        assert_eq!(java_replacement("\\$5"), "$$5");
    }
}
