//! PMML built-in functions (`Apply@function`) with JPMML-Evaluator's semantics: the names
//! it registers (others are refused when the document is loaded, unless a
//! `DefineFunction` has the name), its argument counts, its treatment of missing
//! arguments (an error, except for the arithmetic, aggregate, `concat`, `is...` and
//! `isIn` functions) and its result types (integers are 32-bit with checked overflow;
//! integer division truncates).
//!
//! Known differences: regular expressions are the `regex` crate's (see [`text`]); `%a`
//! (hexadecimal floats) is not formatted; a float beyond 2^63 written as text may differ
//! from Java 17 in its last digit; date-times keep milliseconds (microseconds near 1970),
//! not nanoseconds.

mod javafmt;
mod math;
mod text;
mod time;

use crate::error::{EvalError, Fail};
use crate::eval::Ctx;
use crate::types::{DataType, Val};

pub(crate) use math::std_normal_cdf;

/// A built-in function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Func {
    Add,
    Sub,
    Mul,
    Div,
    Modulo,
    Min,
    Max,
    Sum,
    Avg,
    Product,
    Log10,
    Ln,
    Ln1p,
    Sqrt,
    Abs,
    Exp,
    Expm1,
    Pow,
    Threshold,
    Floor,
    Ceil,
    Round,
    Rint,
    IsMissing,
    IsNotMissing,
    IsValid,
    IsNotValid,
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
    Replace,
    Matches,
    FormatNumber,
    FormatDatetime,
    DateDaysSinceYear,
    DateSecondsSinceYear,
    DateSecondsSinceMidnight,
    NormalCdf,
    NormalPdf,
    NormalIdf,
    StdNormalCdf,
    StdNormalPdf,
    StdNormalIdf,
    Erf,
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
}

impl Func {
    /// The function JPMML-Evaluator registers under `name` (PMML 4.4's built-ins, and
    /// `x-atan2`); as JPMML reads documents, an `x-` prefix before a standard name (the
    /// extension names of functions PMML later adopted: `x-rint`, `x-sin`...) is dropped.
    pub(crate) fn by_name(name: &str) -> Option<Func> {
        Func::registered(name).or_else(|| {
            name.strip_prefix("x-")
                .filter(|rest| !rest.starts_with("x-"))
                .and_then(Func::registered)
        })
    }

    fn registered(name: &str) -> Option<Func> {
        use Func::*;
        Some(match name {
            "+" => Add,
            "-" => Sub,
            "*" => Mul,
            "/" => Div,
            "modulo" => Modulo,
            "min" => Min,
            "max" => Max,
            "sum" => Sum,
            "avg" => Avg,
            "product" => Product,
            "log10" => Log10,
            "ln" => Ln,
            "ln1p" => Ln1p,
            "sqrt" => Sqrt,
            "abs" => Abs,
            "exp" => Exp,
            "expm1" => Expm1,
            "pow" => Pow,
            "threshold" => Threshold,
            "floor" => Floor,
            "ceil" => Ceil,
            "round" => Round,
            "rint" => Rint,
            "isMissing" => IsMissing,
            "isNotMissing" => IsNotMissing,
            "isValid" => IsValid,
            "isNotValid" => IsNotValid,
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
            "stringLength" => StringLength,
            "replace" => Replace,
            "matches" => Matches,
            "formatNumber" => FormatNumber,
            "formatDatetime" => FormatDatetime,
            "dateDaysSinceYear" => DateDaysSinceYear,
            "dateSecondsSinceYear" => DateSecondsSinceYear,
            "dateSecondsSinceMidnight" => DateSecondsSinceMidnight,
            "normalCDF" => NormalCdf,
            "normalPDF" => NormalPdf,
            "normalIDF" => NormalIdf,
            "stdNormalCDF" => StdNormalCdf,
            "stdNormalPDF" => StdNormalPdf,
            "stdNormalIDF" => StdNormalIdf,
            "erf" => Erf,
            "sin" => Sin,
            "cos" => Cos,
            "tan" => Tan,
            "asin" => Asin,
            "acos" => Acos,
            "atan" => Atan,
            "x-atan2" => Atan2,
            "sinh" => Sinh,
            "cosh" => Cosh,
            "tanh" => Tanh,
            "hypot" => Hypot,
            _ => return None,
        })
    }

    /// The PMML name.
    pub(crate) fn name(self) -> &'static str {
        use Func::*;
        match self {
            Add => "+",
            Sub => "-",
            Mul => "*",
            Div => "/",
            Modulo => "modulo",
            Min => "min",
            Max => "max",
            Sum => "sum",
            Avg => "avg",
            Product => "product",
            Log10 => "log10",
            Ln => "ln",
            Ln1p => "ln1p",
            Sqrt => "sqrt",
            Abs => "abs",
            Exp => "exp",
            Expm1 => "expm1",
            Pow => "pow",
            Threshold => "threshold",
            Floor => "floor",
            Ceil => "ceil",
            Round => "round",
            Rint => "rint",
            IsMissing => "isMissing",
            IsNotMissing => "isNotMissing",
            IsValid => "isValid",
            IsNotValid => "isNotValid",
            Equal => "equal",
            NotEqual => "notEqual",
            LessThan => "lessThan",
            LessOrEqual => "lessOrEqual",
            GreaterThan => "greaterThan",
            GreaterOrEqual => "greaterOrEqual",
            IsIn => "isIn",
            IsNotIn => "isNotIn",
            And => "and",
            Or => "or",
            Not => "not",
            If => "if",
            Uppercase => "uppercase",
            Lowercase => "lowercase",
            Substring => "substring",
            TrimBlanks => "trimBlanks",
            Concat => "concat",
            StringLength => "stringLength",
            Replace => "replace",
            Matches => "matches",
            FormatNumber => "formatNumber",
            FormatDatetime => "formatDatetime",
            DateDaysSinceYear => "dateDaysSinceYear",
            DateSecondsSinceYear => "dateSecondsSinceYear",
            DateSecondsSinceMidnight => "dateSecondsSinceMidnight",
            NormalCdf => "normalCDF",
            NormalPdf => "normalPDF",
            NormalIdf => "normalIDF",
            StdNormalCdf => "stdNormalCDF",
            StdNormalPdf => "stdNormalPDF",
            StdNormalIdf => "stdNormalIDF",
            Erf => "erf",
            Sin => "sin",
            Cos => "cos",
            Tan => "tan",
            Asin => "asin",
            Acos => "acos",
            Atan => "atan",
            Atan2 => "x-atan2",
            Sinh => "sinh",
            Cosh => "cosh",
            Tanh => "tanh",
            Hypot => "hypot",
        }
    }

    /// The allowed argument counts (min, max).
    pub(crate) fn arity(self) -> (usize, usize) {
        use Func::*;
        match self {
            Add | Sub | Mul | Div | Modulo | Pow | Threshold | Equal | NotEqual | LessThan
            | LessOrEqual | GreaterThan | GreaterOrEqual | Atan2 | Hypot | Matches
            | FormatNumber | FormatDatetime | DateDaysSinceYear | DateSecondsSinceYear => (2, 2),
            Min | Max | Sum | Avg | Product => (0, usize::MAX),
            Concat | IsIn | IsNotIn | And | Or => (2, usize::MAX),
            If => (2, 3),
            Substring | Replace | NormalCdf | NormalPdf | NormalIdf => (3, 3),
            _ => (1, 1),
        }
    }

    /// Functions that take missing arguments (all others fail on one).
    pub(crate) fn takes_missing(self) -> bool {
        use Func::*;
        matches!(
            self,
            Add | Sub
                | Mul
                | Div
                | Modulo
                | Min
                | Max
                | Sum
                | Avg
                | Product
                | Concat
                | IsMissing
                | IsNotMissing
                | IsValid
                | IsNotValid
                | IsIn
                | IsNotIn
                | If
        )
    }

    /// The result type for the given argument types (as JPMML types the value it
    /// returns; for `if`, the type of the then-branch).
    pub(crate) fn result_type(self, args: &[DataType]) -> DataType {
        use Func::*;
        let common = || common_type(args).unwrap_or(DataType::Double);
        match self {
            Add | Sub | Mul | Div | Modulo | Min | Max | Sum | Product | Pow | Threshold => {
                common()
            }
            Avg => match common() {
                DataType::Integer => DataType::Double,
                t => t,
            },
            Abs | Rint => match args.first() {
                Some(t) if t.is_numeric() => *t,
                _ => DataType::Double,
            },
            Floor
            | Ceil
            | Round
            | StringLength
            | DateDaysSinceYear
            | DateSecondsSinceYear
            | DateSecondsSinceMidnight => DataType::Integer,
            IsMissing | IsNotMissing | IsValid | IsNotValid | Equal | NotEqual | LessThan
            | LessOrEqual | GreaterThan | GreaterOrEqual | IsIn | IsNotIn | And | Or | Not
            | Matches => DataType::Boolean,
            If => args.get(1).copied().unwrap_or(DataType::Double),
            Uppercase | Lowercase | Substring | TrimBlanks | Concat | Replace | FormatNumber
            | FormatDatetime => DataType::String,
            _ => DataType::Double,
        }
    }
}

/// The common numeric type of argument types (JPMML's `TypeUtil.getCommonDataType`):
/// double over float over integer; `None` when a type is not numeric.
pub(crate) fn common_type(tys: &[DataType]) -> Option<DataType> {
    let mut out: Option<DataType> = None;
    for t in tys {
        if !t.is_numeric() {
            return None;
        }
        out = Some(match (out, *t) {
            (None, t) => t,
            (Some(DataType::Double), _) | (_, DataType::Double) => DataType::Double,
            (Some(DataType::Float), _) | (_, DataType::Float) => DataType::Float,
            _ => DataType::Integer,
        });
    }
    out
}

/// What a function call gave: a value, or JPMML's "undefined result" (an integer
/// overflow or division by zero), which the `Apply`'s `invalidValueTreatment` handles.
pub(crate) enum Outcome {
    Value(Val),
    Undefined,
}

/// The static facts about one `Apply` that its evaluation needs.
#[derive(Debug, Clone)]
pub(crate) struct Call {
    pub f: Func,
    /// The argument types.
    pub tys: Box<[DataType]>,
    /// The result type.
    pub ty: DataType,
    /// Whether the first argument is categorical (not boolean): JPMML cannot order it.
    pub first_categorical: bool,
    /// The `matches`/`replace` pattern when it is a constant, compiled once.
    pub regex: Option<Box<regex::Regex>>,
    /// The slot of an input field the first argument reads: `isValid` asks its
    /// declared values whether the value (kept as it is) is valid.
    pub input_slot: Option<u32>,
    /// The order of the values of an ordinal first argument (its field's declared values).
    pub ordering: Option<Box<[Val]>>,
}

pub(crate) fn err(f: Func, msg: impl std::fmt::Display) -> Fail {
    EvalError::Evaluation(format!("function {}: {msg}", f.name())).into()
}

/// The runtime type of a value of static type `t`: a string or boolean is one whatever
/// the static type says (a `mapMissingTo` or `defaultValue` is a string).
pub(crate) fn runtime_type(v: Val, t: DataType) -> DataType {
    match v {
        Val::Str(_) => DataType::String,
        Val::Bool(_) => DataType::Boolean,
        _ if t == DataType::String || t == DataType::Boolean => DataType::Double,
        _ => t,
    }
}

/// A value as a number (JPMML's `asNumber`): numbers as they are, booleans as 0/1,
/// strings parsed as doubles.
pub(crate) fn as_number(ctx: &Ctx<'_>, f: Func, v: Val, t: DataType) -> Result<f64, Fail> {
    match v {
        Val::Num(x) => {
            if t.is_instant() {
                return Err(err(f, format!("a {} is not a number", t.name())));
            }
            Ok(x)
        }
        Val::Bool(b) => Ok(if b { 1.0 } else { 0.0 }),
        Val::Str(id) => crate::types::parse_double(ctx.text(id))
            .ok_or_else(|| err(f, format!("\"{}\" is not a number", ctx.text(id)))),
        Val::Missing => Err(err(f, "missing argument")),
    }
}

/// A value as a 32-bit integer (JPMML's `asInteger`).
pub(crate) fn as_integer(ctx: &Ctx<'_>, f: Func, v: Val) -> Result<i64, Fail> {
    let x = match v {
        Val::Num(x) => x,
        Val::Bool(b) => return Ok(b as i64),
        Val::Str(id) => {
            let t = ctx.text(id);
            match crate::types::parse_integer(t) {
                Some(x) => x,
                None if t.eq_ignore_ascii_case("true") => 1.0,
                None if t.eq_ignore_ascii_case("false") => 0.0,
                None => return Err(err(f, format!("\"{t}\" is not an integer"))),
            }
        }
        Val::Missing => return Err(err(f, "missing argument")),
    };
    if x.fract() != 0.0 || x.abs() > i32::MAX as f64 + 1.0 || x < i32::MIN as f64 {
        return Err(err(f, format!("{} is not an integer", ctx.describe(v))));
    }
    Ok(x as i64)
}

/// A value as a boolean (JPMML's `asBoolean`): 0/1 numbers, `true`/`false` in any case.
pub(crate) fn as_bool(ctx: &Ctx<'_>, f: Func, v: Val) -> Result<bool, Fail> {
    match v {
        Val::Bool(b) => Ok(b),
        Val::Num(0.0) => Ok(false),
        Val::Num(1.0) => Ok(true),
        Val::Str(id) => {
            let t = ctx.text(id);
            if t.eq_ignore_ascii_case("true") {
                Ok(true)
            } else if t.eq_ignore_ascii_case("false") {
                Ok(false)
            } else {
                match crate::types::parse_double(t) {
                    Some(0.0) => Ok(false),
                    Some(1.0) => Ok(true),
                    _ => Err(err(f, format!("\"{t}\" is not a boolean"))),
                }
            }
        }
        Val::Missing => Err(err(f, "missing argument")),
        v => Err(err(f, format!("{} is not a boolean", ctx.describe(v)))),
    }
}

/// `formatNumber` and `formatDatetime`: `arg` written with the pattern `pattern` (of
/// type `ty`), a string value built in place.
pub(crate) fn format(
    ctx: &mut Ctx<'_>,
    f: Func,
    pattern: Val,
    ty: DataType,
    syntax: javafmt::Syntax,
    arg: javafmt::Arg,
) -> Result<Val, Fail> {
    let mut failed = None;
    let value = ctx.build_string(|ctx, out| {
        let mut owned = String::new();
        let pattern = match pattern {
            Val::Str(id) => ctx.text(id),
            other => match write_string(ctx, f, other, ty, &mut owned) {
                Ok(()) => &owned,
                Err(e) => {
                    failed = Some(e);
                    return;
                }
            },
        };
        if let Err(e) = javafmt::format_cached(syntax, pattern, arg, out) {
            failed = Some(err(f, format!("pattern \"{pattern}\": {e}")));
        }
    });
    match failed {
        Some(e) => Err(e),
        None => Ok(value),
    }
}

/// Appends a value as JPMML converts it to a string: Java's `toString` of its type
/// (`3`, `3.0`, `1.0E-4`, `true`, `2024-02-29`).
pub(crate) fn write_string(
    ctx: &Ctx<'_>,
    f: Func,
    v: Val,
    t: DataType,
    out: &mut String,
) -> Result<(), Fail> {
    match v {
        Val::Str(id) => out.push_str(ctx.text(id)),
        Val::Bool(b) => out.push_str(if b { "true" } else { "false" }),
        Val::Num(x) => match runtime_type(v, t) {
            DataType::Integer => crate::format::write_integer(x, out),
            DataType::Float => crate::format::write_java_float(x as f32, out),
            t if t.is_instant() || t.is_period() => {
                return Err(err(f, format!("a {} cannot be a string", t.name())));
            }
            _ => crate::format::write_java_double(x, out),
        },
        Val::Missing => return Err(err(f, "missing argument")),
    }
    Ok(())
}

/// Whether `a` (of static type `ta`) equals `b` (of static type `tb`) as JPMML compares
/// them: `b` is converted to the type of `a` (an error when it cannot be).
pub(crate) fn equals(
    ctx: &Ctx<'_>,
    f: Func,
    a: Val,
    ta: DataType,
    b: Val,
    tb: DataType,
) -> Result<bool, Fail> {
    let (ta, tb) = (runtime_type(a, ta), runtime_type(b, tb));
    match (a, b) {
        (Val::Str(x), Val::Str(y)) => return Ok(x == y || ctx.text(x) == ctx.text(y)),
        (Val::Bool(x), Val::Bool(y)) => return Ok(x == y),
        (Val::Num(x), Val::Num(y)) if ta == tb => return Ok(x == y || (x.is_nan() && y.is_nan())),
        _ => {}
    }
    match ta {
        DataType::String => {
            let mut s = String::new();
            write_string(ctx, f, b, tb, &mut s)?;
            let Val::Str(x) = a else { return Ok(false) };
            Ok(ctx.text(x) == s)
        }
        DataType::Boolean => {
            let Val::Bool(x) = a else { return Ok(false) };
            Ok(x == as_bool(ctx, f, b)?)
        }
        DataType::Integer => {
            let Val::Num(x) = a else { return Ok(false) };
            Ok(x == as_integer(ctx, f, b)? as f64)
        }
        DataType::Float | DataType::Double => {
            let Val::Num(x) = a else { return Ok(false) };
            let y = match b {
                Val::Str(id) => crate::types::parse_number(ta, ctx.text(id))
                    .ok_or_else(|| err(f, format!("\"{}\" is not a number", ctx.text(id))))?,
                _ => as_number(ctx, f, b, tb)?,
            };
            let y = if ta == DataType::Float {
                y as f32 as f64
            } else {
                y
            };
            Ok(x == y || (x.is_nan() && y.is_nan()))
        }
        t => {
            let Val::Num(x) = a else { return Ok(false) };
            let y = match b {
                Val::Str(id) => crate::types::parse_number(t, ctx.text(id))
                    .ok_or_else(|| err(f, format!("\"{}\" is not a {}", ctx.text(id), t.name())))?,
                _ => {
                    return Err(err(
                        f,
                        format!("cannot compare a {} with a {}", t.name(), tb.name()),
                    ))
                }
            };
            Ok(x == y)
        }
    }
}

/// Orders `a` against `b` as JPMML does: numbers (and booleans, dates) by value,
/// ordinal strings by text; a categorical first argument cannot be ordered.
pub(crate) fn compare(
    ctx: &Ctx<'_>,
    call: &Call,
    tys: &[DataType],
    a: Val,
    b: Val,
) -> Result<std::cmp::Ordering, Fail> {
    let f = call.f;
    let (ta, tb) = (tys[0], tys[1]);
    if call.first_categorical || (matches!(a, Val::Str(_)) && ta != DataType::String) {
        return Err(err(f, "a categorical value cannot be used in comparisons"));
    }
    if let Some(order) = &call.ordering {
        // An ordinal field with declared values: ordered by their positions.
        let ia = order.iter().position(|x| ctx.equal(*x, a));
        let mut ib = None;
        for (k, x) in order.iter().enumerate() {
            if equals(ctx, f, *x, ta, b, tb)? {
                ib = Some(k);
                break;
            }
        }
        return match (ia, ib) {
            (Some(i), Some(j)) => Ok(i.cmp(&j)),
            _ => Err(err(f, "the values cannot be ordered")),
        };
    }
    let ord = match a {
        Val::Str(x) => {
            let mut s = String::new();
            write_string(ctx, f, b, tb, &mut s)?;
            Some(ctx.text(x).cmp(s.as_str()))
        }
        Val::Bool(x) => {
            let y = match b {
                Val::Bool(y) => y as u8 as f64,
                _ => as_number(ctx, f, b, tb)?,
            };
            (x as u8 as f64).partial_cmp(&y)
        }
        Val::Num(x) => {
            let y = match b {
                Val::Str(id) if !ta.is_numeric() => crate::types::parse_number(ta, ctx.text(id))
                    .ok_or_else(|| {
                        err(f, format!("\"{}\" is not a {}", ctx.text(id), ta.name()))
                    })?,
                _ if ta.is_instant() && runtime_type(b, tb) != ta => {
                    return Err(err(
                        f,
                        format!("cannot compare a {} with a {}", ta.name(), tb.name()),
                    ))
                }
                // Text is read as the first value's type (a float as a float).
                Val::Str(id) if ta == DataType::Float => crate::types::parse_float(ctx.text(id))
                    .ok_or_else(|| err(f, format!("\"{}\" is not a number", ctx.text(id))))?,
                Val::Num(y) => y,
                _ => as_number(ctx, f, b, tb)?,
            };
            // A float is compared with the other value converted to a float.
            let y = if ta == DataType::Float && !matches!(b, Val::Bool(_)) {
                y as f32 as f64
            } else {
                y
            };
            // Java's Double.compareTo: NaN above everything.
            Some(match x.partial_cmp(&y) {
                Some(o) => o,
                None => x.total_cmp(&y),
            })
        }
        Val::Missing => return Err(err(f, "missing argument")),
    };
    ord.ok_or_else(|| err(f, "values cannot be ordered"))
}

/// A number result of type `t`: floats rounded to 32 bits, integers checked to be
/// 32-bit integers (JPMML's conversion fails otherwise).
pub(crate) fn typed(f: Func, t: DataType, x: f64) -> Result<Val, Fail> {
    match t {
        DataType::Float => Ok(Val::Num(x as f32 as f64)),
        DataType::Integer => {
            if x.fract() != 0.0 || !(i32::MIN as f64..=i32::MAX as f64).contains(&x) {
                return Err(err(f, format!("{x} is not a 32-bit integer")));
            }
            Ok(Val::Num(x))
        }
        _ => Ok(Val::Num(x)),
    }
}

/// Applies a function to evaluated arguments (`if` is evaluated lazily by the caller and
/// does not come here).
pub(crate) fn apply(
    ctx: &mut Ctx<'_>,
    call: &Call,
    tys: &[DataType],
    args: &[Val],
) -> Result<Outcome, Fail> {
    use Func::*;
    let f = call.f;
    if !f.takes_missing() {
        if let Some(i) = args.iter().position(|a| a.is_missing()) {
            return Err(err(f, format!("missing value at position {i}")));
        }
    }
    let v = match f {
        Add | Sub | Mul | Div | Modulo | Pow | Threshold => {
            return math::binary(ctx, call, tys, args)
        }
        Min | Max | Sum | Avg | Product => math::aggregate(ctx, call, tys, args)?,
        Log10 | Ln | Ln1p | Sqrt | Exp | Expm1 | Sin | Cos | Tan | Asin | Acos | Atan | Sinh
        | Cosh | Tanh | Erf | StdNormalCdf | StdNormalPdf | StdNormalIdf | Abs | Rint | Floor
        | Ceil | Round => math::unary(ctx, call, tys, args[0])?,
        Atan2 | Hypot | NormalCdf | NormalPdf | NormalIdf => math::other(ctx, call, tys, args)?,
        IsMissing => Val::Bool(args[0].is_missing()),
        IsNotMissing => Val::Bool(!args[0].is_missing()),
        IsValid | IsNotValid => {
            let mut invalid = matches!(args[0], Val::Num(x) if x.is_nan());
            if let (Some(slot), false) = (call.input_slot, args[0].is_missing()) {
                let m = ctx.m;
                if let crate::compile::SlotDef::Input { prep, .. }
                | crate::compile::SlotDef::Treated { prep, .. } = &m.slots[slot as usize]
                {
                    invalid |= !prep.is_valid(ctx, args[0]);
                }
            }
            Val::Bool(!args[0].is_missing() && (invalid == (f == IsNotValid)))
        }
        Equal | NotEqual => {
            let eq = equals(ctx, f, args[0], tys[0], args[1], tys[1])?;
            Val::Bool(eq == (f == Equal))
        }
        LessThan | LessOrEqual | GreaterThan | GreaterOrEqual => {
            use std::cmp::Ordering::*;
            let ord = compare(ctx, call, tys, args[0], args[1])?;
            Val::Bool(match f {
                LessThan => ord == Less,
                LessOrEqual => ord != Greater,
                GreaterThan => ord == Greater,
                _ => ord != Less,
            })
        }
        IsIn | IsNotIn => {
            let found = if args[0].is_missing() {
                args[1..].iter().any(|a| a.is_missing())
            } else {
                let mut found = false;
                for (a, t) in args[1..].iter().zip(&tys[1..]) {
                    if !a.is_missing() && equals(ctx, f, args[0], tys[0], *a, *t)? {
                        found = true;
                        break;
                    }
                }
                found
            };
            Val::Bool(found == (f == IsIn))
        }
        Not => Val::Bool(!as_bool(ctx, f, args[0])?),
        And | Or => {
            let mut r = f == And;
            for a in args {
                let b = as_bool(ctx, f, *a)?;
                r = if f == And { r & b } else { r | b };
            }
            Val::Bool(r)
        }
        If => return Err(err(f, "is evaluated lazily")),
        Uppercase | Lowercase | TrimBlanks | Substring | Concat | StringLength | Replace
        | Matches | FormatNumber => text::apply(ctx, call, tys, args)?,
        FormatDatetime | DateDaysSinceYear | DateSecondsSinceYear | DateSecondsSinceMidnight => {
            time::apply(ctx, call, tys, args)?
        }
    };
    Ok(Outcome::Value(v))
}

/// Compiles the pattern of a `matches` or `replace` call (Java regular expression syntax;
/// see [`text::compile_regex`]).
pub(crate) fn compile_regex(pattern: &str) -> Result<regex::Regex, String> {
    text::compile_regex(pattern)
}
