//! Predicates with PMML's three-valued logic (true, false, unknown).

use crate::compile::Compiler;
use crate::error::{EvalError, Fail, PmmlError};
use crate::eval::{Ctx, Slot};
use crate::expr::req;
use crate::schema::parse_const;
use crate::types::{java_key, DataType, OpType, Val, DYN};
use crate::xml::Element;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    Equal,
    NotEqual,
    LessThan,
    LessOrEqual,
    GreaterThan,
    GreaterOrEqual,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BoolOp {
    And,
    Or,
    Xor,
    Surrogate,
}

/// A compiled predicate.
#[derive(Debug, Clone)]
pub(crate) enum Cond {
    True,
    False,
    Compare {
        slot: Slot,
        op: Op,
        value: Val,
        /// For a number `value`: the comparison of a number field's value.
        keys: KeyRange,
    },
    IsMissing {
        slot: Slot,
        negate: bool,
    },
    /// An ordering (`lessThan`...) of a categorical field that is not boolean: JPMML
    /// cannot order such a value, so a record where it is not missing fails.
    Unorderable {
        slot: Slot,
    },
    In {
        slot: Slot,
        values: Vec<Val>,
        negate: bool,
    },
    Compound {
        op: BoolOp,
        parts: Vec<Cond>,
    },
}

#[cfg(test)]
impl Op {
    /// Whether two numbers ordered as JPMML orders them (NaN above all, -0 below 0) pass.
    fn holds(self, x: f64, y: f64) -> bool {
        let ord = crate::types::java_cmp(x, y);
        match self {
            Op::Equal => ord.is_eq(),
            Op::NotEqual => ord.is_ne(),
            Op::LessThan => ord.is_lt(),
            Op::LessOrEqual => ord.is_le(),
            Op::GreaterThan => ord.is_gt(),
            Op::GreaterOrEqual => ord.is_ge(),
        }
    }
}

/// A comparison of numbers with a constant as a range of [`java_key`]s: a number passes
/// when its key is in `low..=low + span` (or, with `negate`, when it is not).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct KeyRange {
    low: u64,
    span: u64,
    negate: bool,
}

impl KeyRange {
    /// The numbers `x` for which `x op y` holds.
    pub(crate) fn new(op: Op, y: f64) -> KeyRange {
        let k = java_key(y);
        let (low, high, negate) = match op {
            Op::Equal => (k, k, false),
            Op::NotEqual => (k, k, true),
            Op::LessThan if k == 0 => (0, u64::MAX, true),
            Op::LessThan => (0, k - 1, false),
            Op::LessOrEqual => (0, k, false),
            Op::GreaterThan if k == u64::MAX => (0, u64::MAX, true),
            Op::GreaterThan => (k + 1, u64::MAX, false),
            Op::GreaterOrEqual => (k, u64::MAX, false),
        };
        KeyRange {
            low,
            span: high - low,
            negate,
        }
    }

    /// Whether `x` passes the comparison with the range's operator and constant, numbers
    /// ordered as JPMML orders them (NaN above all, -0 below 0).
    #[inline]
    pub(crate) fn holds(self, x: f64) -> bool {
        (java_key(x).wrapping_sub(self.low) <= self.span) != self.negate
    }
}

impl Cond {
    /// `Some(true)`, `Some(false)` or `None` (unknown: a needed value is missing).
    #[inline]
    pub(crate) fn eval(&self, ctx: &mut Ctx<'_>) -> Result<Option<bool>, Fail> {
        // The common case, where it is called: a number compared with a number.
        match self {
            Cond::Compare {
                slot,
                value: Val::Num(_),
                keys,
                ..
            } => {
                if let Val::Num(x) = ctx.get(*slot)? {
                    return Ok(Some(keys.holds(x)));
                }
            }
            Cond::True => return Ok(Some(true)),
            _ => {}
        }
        self.eval_general(ctx)
    }

    /// [`Cond::eval`] of any predicate.
    #[inline(never)]
    fn eval_general(&self, ctx: &mut Ctx<'_>) -> Result<Option<bool>, Fail> {
        Ok(match self {
            Cond::True => Some(true),
            Cond::False => Some(false),
            Cond::Compare {
                slot, op, value, ..
            } => {
                // A number compared with a number is decided in `eval`.
                let v = ctx.get(*slot)?;
                if v.is_missing() {
                    return Ok(None);
                }
                match op {
                    Op::Equal => Some(ctx.equal(v, *value)),
                    Op::NotEqual => Some(!ctx.equal(v, *value)),
                    _ => {
                        let Some(ord) = ctx.compare(v, *value) else {
                            return Ok(Some(false));
                        };
                        use std::cmp::Ordering::*;
                        Some(match op {
                            Op::LessThan => ord == Less,
                            Op::LessOrEqual => ord != Greater,
                            Op::GreaterThan => ord == Greater,
                            _ => ord != Less,
                        })
                    }
                }
            }
            Cond::IsMissing { slot, negate } => Some(ctx.get(*slot)?.is_missing() != *negate),
            Cond::Unorderable { slot } => {
                if ctx.get(*slot)?.is_missing() {
                    return Ok(None);
                }
                return Err(EvalError::Evaluation(format!(
                    "field \"{}\": a categorical value cannot be used in comparison operations",
                    ctx.m.slot_names[*slot as usize]
                ))
                .into());
            }
            Cond::In {
                slot,
                values,
                negate,
            } => {
                let v = ctx.get(*slot)?;
                let found = match v {
                    Val::Missing => return Ok(None),
                    // An interned string equals exactly the same id (see `Ctx::equal`).
                    Val::Str(id) if id & DYN == 0 => values.contains(&v),
                    _ => values.iter().any(|x| ctx.equal(v, *x)),
                };
                Some(found != *negate)
            }
            Cond::Compound { op, parts } => match op {
                BoolOp::And => {
                    let mut unknown = false;
                    for p in parts {
                        match p.eval(ctx)? {
                            Some(false) => return Ok(Some(false)),
                            None => unknown = true,
                            _ => {}
                        }
                    }
                    if unknown {
                        None
                    } else {
                        Some(true)
                    }
                }
                BoolOp::Or => {
                    let mut unknown = false;
                    for p in parts {
                        match p.eval(ctx)? {
                            Some(true) => return Ok(Some(true)),
                            None => unknown = true,
                            _ => {}
                        }
                    }
                    if unknown {
                        None
                    } else {
                        Some(false)
                    }
                }
                BoolOp::Xor => {
                    let mut acc = false;
                    for p in parts {
                        match p.eval(ctx)? {
                            Some(b) => acc ^= b,
                            None => return Ok(None),
                        }
                    }
                    Some(acc)
                }
                BoolOp::Surrogate => {
                    for p in parts {
                        if let Some(b) = p.eval(ctx)? {
                            return Ok(Some(b));
                        }
                    }
                    None
                }
            },
        })
    }
}

/// Splits the text of an `Array` into its tokens (double-quoted tokens may hold spaces and
/// `\"`).
pub(crate) fn array_tokens(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
            continue;
        }
        let mut tok = String::new();
        if c == '"' {
            chars.next();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => {
                        if let Some(n) = chars.next() {
                            tok.push(n);
                        }
                    }
                    '"' => break,
                    c => tok.push(c),
                }
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() {
                    break;
                }
                tok.push(c);
                chars.next();
            }
        }
        out.push(tok);
    }
    out
}

/// The numbers of a real or int `Array`.
pub(crate) fn array_numbers(el: &Element) -> Result<Vec<f64>, PmmlError> {
    array_tokens(&el.text)
        .iter()
        .map(|t| {
            crate::types::parse_double(t).ok_or_else(|| {
                PmmlError::invalid(el.name.clone(), format!("\"{t}\" is not a number"))
            })
        })
        .collect()
}

pub(crate) fn is_predicate(name: &str) -> bool {
    matches!(
        name,
        "SimplePredicate" | "CompoundPredicate" | "SimpleSetPredicate" | "True" | "False"
    )
}

impl Compiler<'_> {
    /// Compiles the predicate child of `el` (a `Node`, `Segment`, rule...).
    pub(crate) fn predicate_child(&mut self, el: &Element) -> Result<Cond, PmmlError> {
        let p = el
            .content()
            .find(|c| is_predicate(&c.name))
            .ok_or_else(|| PmmlError::invalid(el.name.clone(), "a predicate is required"))?;
        self.predicate(p)
    }

    pub(crate) fn predicate(&mut self, el: &Element) -> Result<Cond, PmmlError> {
        match el.name.as_str() {
            "True" => Ok(Cond::True),
            "False" => Ok(Cond::False),
            "SimplePredicate" => {
                let f = self.field(req(el, "field")?, "SimplePredicate")?;
                let op = match req(el, "operator")? {
                    "isMissing" => {
                        return Ok(Cond::IsMissing {
                            slot: f.slot,
                            negate: false,
                        })
                    }
                    "isNotMissing" => {
                        return Ok(Cond::IsMissing {
                            slot: f.slot,
                            negate: true,
                        })
                    }
                    "equal" => Op::Equal,
                    "notEqual" => Op::NotEqual,
                    "lessThan" => Op::LessThan,
                    "lessOrEqual" => Op::LessOrEqual,
                    "greaterThan" => Op::GreaterThan,
                    "greaterOrEqual" => Op::GreaterOrEqual,
                    o => {
                        return Err(PmmlError::invalid(
                            "SimplePredicate",
                            format!("unknown operator \"{o}\""),
                        ))
                    }
                };
                let text = req(el, "value")?;
                let value = self.constant_for(f.ty, text, "SimplePredicate")?;
                let ordering = !matches!(op, Op::Equal | Op::NotEqual);
                if ordering && f.optype == OpType::Categorical && f.ty != DataType::Boolean {
                    return Ok(Cond::Unorderable { slot: f.slot });
                }
                let keys = KeyRange::new(op, value.num().unwrap_or(f64::NAN));
                Ok(Cond::Compare {
                    slot: f.slot,
                    op,
                    value,
                    keys,
                })
            }
            "SimpleSetPredicate" => {
                let f = self.field(req(el, "field")?, "SimpleSetPredicate")?;
                let negate = match req(el, "booleanOperator")? {
                    "isIn" => false,
                    "isNotIn" => true,
                    o => {
                        return Err(PmmlError::invalid(
                            "SimpleSetPredicate",
                            format!("unknown booleanOperator \"{o}\""),
                        ))
                    }
                };
                let array = el.child("Array").ok_or_else(|| {
                    PmmlError::invalid("SimpleSetPredicate", "an Array is required")
                })?;
                let mut values = Vec::new();
                for t in array_tokens(&array.text) {
                    if let Ok(v) = self.constant_for(f.ty, &t, "Array") {
                        values.push(v);
                    }
                }
                Ok(Cond::In {
                    slot: f.slot,
                    values,
                    negate,
                })
            }
            "CompoundPredicate" => {
                let op = match req(el, "booleanOperator")? {
                    "and" => BoolOp::And,
                    "or" => BoolOp::Or,
                    "xor" => BoolOp::Xor,
                    "surrogate" => BoolOp::Surrogate,
                    o => {
                        return Err(PmmlError::invalid(
                            "CompoundPredicate",
                            format!("unknown booleanOperator \"{o}\""),
                        ))
                    }
                };
                let mut parts = Vec::new();
                for c in el.content() {
                    parts.push(self.predicate(c)?);
                }
                if parts.len() < 2 {
                    return Err(PmmlError::invalid(
                        "CompoundPredicate",
                        "at least two predicates are required",
                    ));
                }
                Ok(Cond::Compound { op, parts })
            }
            other => Err(PmmlError::invalid(other, "not a predicate")),
        }
    }

    /// Parses a constant compared with a field of type `ty`.
    pub(crate) fn constant_for(
        &mut self,
        ty: DataType,
        text: &str,
        element: &str,
    ) -> Result<Val, PmmlError> {
        if let Some(v) = parse_const(&mut self.symbols, ty, text) {
            return Ok(v);
        }
        // An integer field compared with a decimal constant: compare numerically.
        if ty.is_numeric() || ty.is_period() {
            if let Some(x) = crate::types::parse_double(text) {
                return Ok(Val::Num(x));
            }
        }
        Err(PmmlError::invalid(
            element,
            format!("value \"{text}\" is not a {}", ty.name()),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_ranges_compare_as_java_does() {
        let xs = [
            f64::NAN,
            f64::NEG_INFINITY,
            -1e300,
            -2.5,
            -f64::MIN_POSITIVE,
            -0.0,
            0.0,
            5e-324,
            1.0,
            2.5,
            f64::MAX,
            f64::INFINITY,
        ];
        let ops = [
            Op::Equal,
            Op::NotEqual,
            Op::LessThan,
            Op::LessOrEqual,
            Op::GreaterThan,
            Op::GreaterOrEqual,
        ];
        for op in ops {
            for y in xs {
                let keys = KeyRange::new(op, y);
                for x in xs {
                    assert_eq!(keys.holds(x), op.holds(x, y), "{x} {op:?} {y}");
                }
            }
        }
    }

    #[test]
    fn array_tokens_handle_quotes() {
        assert_eq!(
            array_tokens(r#"a "b c" NaN "d\"e""#),
            vec!["a", "b c", "NaN", "d\"e"]
        );
        assert_eq!(array_tokens("  1 2\n3 "), vec!["1", "2", "3"]);
    }
}
