//! PMML built-in functions (`Apply@function`).

use crate::error::{EvalError, Fail};
use crate::eval::Ctx;
use crate::types::{DataType, Val};

/// A built-in function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Func {
    Add,
    Sub,
    Mul,
    Div,
    Min,
    Max,
    Sum,
    Avg,
    Median,
    Product,
    Log10,
    Ln,
    Sqrt,
    Abs,
    Exp,
    Pow,
    Threshold,
    Floor,
    Ceil,
    Round,
    Rint,
    Modulo,
    IsMissing,
    IsNotMissing,
    Equal,
    NotEqual,
    LessThan,
    LessOrEqual,
    GreaterThan,
    GreaterOrEqual,
    IsIn,
    IsNotIn,
    And,
    Or,
    Not,
    If,
    Uppercase,
    Lowercase,
    Substring,
    TrimBlanks,
    Concat,
    StringLength,
    NormalCdf,
    NormalPdf,
    StdNormalCdf,
    StdNormalPdf,
    Erf,
    Expm1,
    Log1p,
    Sin,
    Cos,
    Tan,
    Asin,
    Acos,
    Atan,
    Atan2,
    Sinh,
    Cosh,
    Tanh,
    Hypot,
    Signum,
}

impl Func {
    pub(crate) fn by_name(name: &str) -> Option<Func> {
        use Func::*;
        Some(match name {
            "+" => Add,
            "-" => Sub,
            "*" => Mul,
            "/" => Div,
            "min" => Min,
            "max" => Max,
            "sum" => Sum,
            "avg" => Avg,
            "median" => Median,
            "product" => Product,
            "log10" => Log10,
            "ln" => Ln,
            "sqrt" => Sqrt,
            "abs" => Abs,
            "exp" => Exp,
            "pow" => Pow,
            "threshold" => Threshold,
            "floor" => Floor,
            "ceil" => Ceil,
            "round" => Round,
            "rint" | "x-rint" => Rint,
            "modulo" | "x-modulo" => Modulo,
            "isMissing" => IsMissing,
            "isNotMissing" => IsNotMissing,
            "equal" => Equal,
            "notEqual" => NotEqual,
            "lessThan" => LessThan,
            "lessOrEqual" => LessOrEqual,
            "greaterThan" => GreaterThan,
            "greaterOrEqual" => GreaterOrEqual,
            "isIn" => IsIn,
            "isNotIn" => IsNotIn,
            "and" => And,
            "or" => Or,
            "not" => Not,
            "if" => If,
            "uppercase" => Uppercase,
            "lowercase" => Lowercase,
            "substring" => Substring,
            "trimBlanks" => TrimBlanks,
            "concat" => Concat,
            "stringLength" | "x-stringLength" => StringLength,
            "normalCDF" => NormalCdf,
            "normalPDF" => NormalPdf,
            "stdNormalCDF" => StdNormalCdf,
            "stdNormalPDF" => StdNormalPdf,
            "erf" => Erf,
            "expm1" | "x-expm1" => Expm1,
            "log1p" | "x-log1p" => Log1p,
            "sin" | "x-sin" => Sin,
            "cos" | "x-cos" => Cos,
            "tan" | "x-tan" => Tan,
            "asin" | "x-asin" => Asin,
            "acos" | "x-acos" => Acos,
            "atan" | "x-atan" => Atan,
            "atan2" | "x-atan2" => Atan2,
            "sinh" | "x-sinh" => Sinh,
            "cosh" | "x-cosh" => Cosh,
            "tanh" | "x-tanh" => Tanh,
            "hypot" | "x-hypot" => Hypot,
            "x-signum" | "signum" => Signum,
            _ => return None,
        })
    }

    /// The allowed argument counts (min, max).
    pub(crate) fn arity(self) -> (usize, usize) {
        use Func::*;
        match self {
            Add | Sub | Mul | Div | Pow | Threshold | Modulo | Equal | NotEqual | LessThan
            | LessOrEqual | GreaterThan | GreaterOrEqual | Atan2 | Hypot => (2, 2),
            Min | Max | Sum | Avg | Median | Product | Concat => (1, usize::MAX),
            IsIn | IsNotIn => (2, usize::MAX),
            And | Or => (2, usize::MAX),
            If => (2, 3),
            Substring => (3, 3),
            NormalCdf | NormalPdf => (3, 3),
            Round => (1, 1),
            _ => (1, 1),
        }
    }

    /// Functions that see missing arguments (all others return missing when any argument is).
    pub(crate) fn takes_missing(self) -> bool {
        matches!(
            self,
            Func::IsMissing | Func::IsNotMissing | Func::If | Func::And | Func::Or
        )
    }

    /// The result type for the given argument types.
    pub(crate) fn result_type(self, args: &[DataType]) -> DataType {
        use Func::*;
        let numeric = || {
            if args.contains(&DataType::Double) {
                DataType::Double
            } else if args.contains(&DataType::Float) {
                DataType::Float
            } else if args.iter().all(|t| *t == DataType::Integer) {
                DataType::Integer
            } else {
                DataType::Double
            }
        };
        match self {
            Add | Sub | Mul | Min | Max | Sum | Product | Abs | Modulo => numeric(),
            Div | Avg | Median => match numeric() {
                DataType::Float => DataType::Float,
                _ => DataType::Double,
            },
            Floor | Ceil | Round | Rint | Signum => DataType::Integer,
            IsMissing | IsNotMissing | Equal | NotEqual | LessThan | LessOrEqual | GreaterThan
            | GreaterOrEqual | IsIn | IsNotIn | And | Or | Not => DataType::Boolean,
            If => {
                let a = args.get(1).copied().unwrap_or(DataType::Double);
                match args.get(2) {
                    Some(b) if *b != a && a.is_numeric() && b.is_numeric() => {
                        if a == DataType::Double || *b == DataType::Double {
                            DataType::Double
                        } else if a == DataType::Float || *b == DataType::Float {
                            DataType::Float
                        } else {
                            DataType::Integer
                        }
                    }
                    _ => a,
                }
            }
            Uppercase | Lowercase | Substring | TrimBlanks | Concat => DataType::String,
            StringLength => DataType::Integer,
            Threshold => DataType::Integer,
            _ => match numeric() {
                DataType::Float => DataType::Float,
                _ => DataType::Double,
            },
        }
    }
}

fn num(ctx: &Ctx<'_>, v: Val, f: Func) -> Result<f64, Fail> {
    match v {
        Val::Num(x) => Ok(x),
        Val::Bool(b) => Ok(if b { 1.0 } else { 0.0 }),
        Val::Str(_) => crate::types::parse_double(ctx.text(match v {
            Val::Str(id) => id,
            _ => unreachable!(),
        }))
        .ok_or_else(|| {
            EvalError::Evaluation(format!(
                "function {f:?}: \"{}\" is not a number",
                ctx.describe(v)
            ))
            .into()
        }),
        Val::Missing => {
            Err(EvalError::Evaluation(format!("function {f:?}: missing argument")).into())
        }
    }
}

fn boolean(v: Val, f: Func) -> Result<Option<bool>, Fail> {
    match v {
        Val::Missing => Ok(None),
        Val::Bool(b) => Ok(Some(b)),
        Val::Num(0.0) => Ok(Some(false)),
        Val::Num(1.0) => Ok(Some(true)),
        _ => Err(EvalError::Evaluation(format!("function {f:?}: not a boolean argument")).into()),
    }
}

pub(crate) fn std_normal_cdf(x: f64) -> f64 {
    0.5 * libm::erfc(-x / std::f64::consts::SQRT_2)
}

fn std_normal_pdf(x: f64) -> f64 {
    (-0.5 * x * x).exp() / (2.0 * std::f64::consts::PI).sqrt()
}

/// Applies a function to evaluated arguments (`If`, `And`, `Or` are evaluated lazily by the
/// caller and do not come here). `ty` is the static result type (float results are
/// rounded to 32 bits).
pub(crate) fn apply(ctx: &mut Ctx<'_>, f: Func, args: &[Val], ty: DataType) -> Result<Val, Fail> {
    use Func::*;
    if !f.takes_missing() && args.iter().any(|a| a.is_missing()) {
        return Ok(Val::Missing);
    }
    let float = ty == DataType::Float;
    let n = |i: usize| num(ctx, args[i], f);
    let out = |x: f64| Ok(Val::Num(if float { x as f32 as f64 } else { x }));
    match f {
        Add => out(n(0)? + n(1)?),
        Sub => out(n(0)? - n(1)?),
        Mul => out(n(0)? * n(1)?),
        Div => out(n(0)? / n(1)?),
        Pow => out(n(0)?.powf(n(1)?)),
        Modulo => {
            let (a, b) = (n(0)?, n(1)?);
            out(a - b * (a / b).floor())
        }
        Threshold => Ok(Val::Num(if n(0)? > n(1)? { 1.0 } else { 0.0 })),
        Atan2 => out(n(0)?.atan2(n(1)?)),
        Hypot => out(n(0)?.hypot(n(1)?)),
        Min | Max | Sum | Avg | Product | Median => {
            let mut xs = std::mem::take(&mut ctx.s.nums);
            xs.clear();
            for a in args {
                xs.push(num(ctx, *a, f)?);
            }
            let r = match f {
                Min => xs.iter().copied().fold(f64::INFINITY, f64::min),
                Max => xs.iter().copied().fold(f64::NEG_INFINITY, f64::max),
                Sum => xs.iter().sum(),
                Avg => xs.iter().sum::<f64>() / xs.len() as f64,
                Product => xs.iter().product(),
                _ => {
                    xs.sort_by(|a, b| a.total_cmp(b));
                    let k = xs.len();
                    if k % 2 == 1 {
                        xs[k / 2]
                    } else {
                        (xs[k / 2 - 1] + xs[k / 2]) / 2.0
                    }
                }
            };
            ctx.s.nums = xs;
            out(r)
        }
        Log10 => out(n(0)?.log10()),
        Ln => out(n(0)?.ln()),
        Sqrt => out(n(0)?.sqrt()),
        Abs => out(n(0)?.abs()),
        Exp => out(n(0)?.exp()),
        Floor => Ok(Val::Num(n(0)?.floor())),
        Ceil => Ok(Val::Num(n(0)?.ceil())),
        Round => Ok(Val::Num((n(0)? + 0.5).floor())),
        Rint => Ok(Val::Num(n(0)?.round_ties_even())),
        Signum => Ok(Val::Num(match n(0)? {
            x if x > 0.0 => 1.0,
            x if x < 0.0 => -1.0,
            _ => 0.0,
        })),
        Expm1 => out(n(0)?.exp_m1()),
        Log1p => out(n(0)?.ln_1p()),
        Sin => out(n(0)?.sin()),
        Cos => out(n(0)?.cos()),
        Tan => out(n(0)?.tan()),
        Asin => out(n(0)?.asin()),
        Acos => out(n(0)?.acos()),
        Atan => out(n(0)?.atan()),
        Sinh => out(n(0)?.sinh()),
        Cosh => out(n(0)?.cosh()),
        Tanh => out(n(0)?.tanh()),
        Erf => out(libm::erf(n(0)?)),
        StdNormalCdf => out(std_normal_cdf(n(0)?)),
        StdNormalPdf => out(std_normal_pdf(n(0)?)),
        NormalCdf => {
            let (x, mu, sigma) = (n(0)?, n(1)?, n(2)?);
            out(std_normal_cdf((x - mu) / sigma))
        }
        NormalPdf => {
            let (x, mu, sigma) = (n(0)?, n(1)?, n(2)?);
            out(std_normal_pdf((x - mu) / sigma) / sigma)
        }
        IsMissing => Ok(Val::Bool(args[0].is_missing())),
        IsNotMissing => Ok(Val::Bool(!args[0].is_missing())),
        Equal => Ok(Val::Bool(
            ctx.equal(args[0], args[1]) || num_eq(ctx, args[0], args[1]),
        )),
        NotEqual => Ok(Val::Bool(
            !(ctx.equal(args[0], args[1]) || num_eq(ctx, args[0], args[1])),
        )),
        LessThan | LessOrEqual | GreaterThan | GreaterOrEqual => {
            let ord = ctx.compare(args[0], args[1]).or_else(|| {
                num(ctx, args[0], f)
                    .ok()?
                    .partial_cmp(&num(ctx, args[1], f).ok()?)
            });
            let Some(ord) = ord else {
                return Ok(Val::Bool(false));
            };
            use std::cmp::Ordering::*;
            Ok(Val::Bool(match f {
                LessThan => ord == Less,
                LessOrEqual => ord != Greater,
                GreaterThan => ord == Greater,
                _ => ord != Less,
            }))
        }
        IsIn | IsNotIn => {
            let found = args[1..]
                .iter()
                .any(|a| ctx.equal(args[0], *a) || num_eq(ctx, args[0], *a));
            Ok(Val::Bool(found == (f == IsIn)))
        }
        Not => match boolean(args[0], f)? {
            Some(b) => Ok(Val::Bool(!b)),
            None => Ok(Val::Missing),
        },
        And | Or => {
            let mut unknown = false;
            for a in args {
                match boolean(*a, f)? {
                    Some(b) if b == (f == Or) => return Ok(Val::Bool(b)),
                    Some(_) => {}
                    None => unknown = true,
                }
            }
            Ok(if unknown {
                Val::Missing
            } else {
                Val::Bool(f == And)
            })
        }
        If => unreachable!("if is evaluated lazily"),
        Uppercase | Lowercase | TrimBlanks => {
            let Val::Str(id) = args[0] else {
                return Err(EvalError::Evaluation(format!(
                    "function {f:?}: not a string argument"
                ))
                .into());
            };
            Ok(ctx.build_string(|c, s| {
                let t = c.text(id);
                match f {
                    Uppercase => s.push_str(&t.to_uppercase()),
                    Lowercase => s.push_str(&t.to_lowercase()),
                    _ => s.push_str(t.trim()),
                }
            }))
        }
        StringLength => {
            let Val::Str(id) = args[0] else {
                return Err(EvalError::Evaluation(format!(
                    "function {f:?}: not a string argument"
                ))
                .into());
            };
            Ok(Val::Num(ctx.text(id).chars().count() as f64))
        }
        Substring => {
            let Val::Str(id) = args[0] else {
                return Err(EvalError::Evaluation(format!(
                    "function {f:?}: not a string argument"
                ))
                .into());
            };
            let (start, len) = (n(1)?, n(2)?);
            // NaN is no position (and would index before the first character).
            if start.is_nan() || len.is_nan() || start < 1.0 || len < 0.0 {
                return Err(EvalError::Evaluation(
                    "function substring: invalid position or length".into(),
                )
                .into());
            }
            Ok(ctx.build_string(|c, s| {
                s.extend(
                    c.text(id)
                        .chars()
                        .skip(start as usize - 1)
                        .take(len as usize),
                );
            }))
        }
        Concat => Ok(ctx.build_string(|c, s| {
            for a in args {
                match *a {
                    Val::Str(id) => s.push_str(c.text(id)),
                    Val::Num(x) => {
                        if x.fract() == 0.0 && x.abs() < 1e15 {
                            s.push_str(&(x as i64).to_string())
                        } else {
                            crate::format::write_java_double(x, s)
                        }
                    }
                    Val::Bool(b) => s.push_str(if b { "true" } else { "false" }),
                    Val::Missing => {}
                }
            }
        })),
    }
}

fn num_eq(ctx: &Ctx<'_>, a: Val, b: Val) -> bool {
    match (a, b) {
        (Val::Str(_), Val::Num(_)) | (Val::Num(_), Val::Str(_)) => {
            let x = match a {
                Val::Str(id) => crate::types::parse_double(ctx.text(id)),
                v => v.num(),
            };
            let y = match b {
                Val::Str(id) => crate::types::parse_double(ctx.text(id)),
                v => v.num(),
            };
            matches!((x, y), (Some(x), Some(y)) if x == y)
        }
        _ => false,
    }
}
