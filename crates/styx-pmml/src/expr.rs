//! Expressions: `Constant`, `FieldRef`, `Apply` (built-in and `DefineFunction` calls),
//! `NormContinuous`, `NormDiscrete`, `Discretize` and `MapValues`, compiled to a tree that
//! reads fields by slot.

use crate::compile::{Compiler, SlotDef};
use crate::error::{EvalError, Fail, PmmlError};
use crate::eval::{Ctx, Slot};
use crate::functions::{apply, as_bool, Call, Func, Outcome};
use crate::schema::{parse_const, Interval};
use crate::types::{parse_double, DataType, OpType, Val};
use crate::xml::Element;

#[derive(Debug, Clone, Copy, PartialEq)]
#[allow(clippy::enum_variant_names)]
pub(crate) enum NormOutliers {
    AsIs,
    AsMissing,
    AsExtreme,
}

/// A compiled expression.
#[derive(Debug, Clone)]
pub(crate) enum Expr {
    Const(Val),
    Field {
        slot: Slot,
        map_missing: Option<Val>,
    },
    /// A parameter of the user-defined function being evaluated.
    Param(u32),
    Apply {
        call: Box<Call>,
        args: Vec<Expr>,
        map_missing: Option<Val>,
        default: Option<Val>,
        invalid: ApplyInvalid,
    },
    Call {
        func: u32,
        args: Vec<Expr>,
        /// The static types of the arguments.
        arg_tys: Vec<DataType>,
        map_missing: Option<Val>,
        default: Option<Val>,
    },
    NormContinuous {
        input: Box<Expr>,
        points: Vec<(f64, f64)>,
        outliers: NormOutliers,
        map_missing: Option<Val>,
    },
    NormDiscrete {
        input: Box<Expr>,
        value: Val,
        map_missing: Option<Val>,
    },
    Discretize {
        input: Box<Expr>,
        bins: Vec<(Interval, Val)>,
        map_missing: Option<Val>,
        default: Option<Val>,
    },
    MapValues {
        inputs: Vec<Expr>,
        rows: Vec<(Vec<Option<Val>>, Val)>,
        map_missing: Option<Val>,
        default: Option<Val>,
    },
    /// A conversion to a declared type (function parameters and results).
    Cast(Box<Expr>, DataType),
    /// A term's frequency in a text (see [`crate::text_index`]).
    TextIndex(Box<crate::text_index::TextIndex>),
    /// Arithmetic `Apply`s (`+ - * /`), each of the one before (the first of `input`) and
    /// a number constant, as scalers write them (`(x - mean) / scale`): computed directly
    /// while the values are numbers, else by the plain `Apply` of the last step in
    /// `general`.
    ArithConst {
        input: Box<Expr>,
        steps: Box<[ArithStep]>,
        general: Box<Expr>,
    },
}

/// A step of [`Expr::ArithConst`]: `value f c`, or `c f value` when `const_first`, with its
/// `Apply`'s result type and treatments.
#[derive(Debug, Clone)]
pub(crate) struct ArithStep {
    f: Func,
    c: f64,
    const_first: bool,
    ty: DataType,
    invalid: ApplyInvalid,
    default: Option<Val>,
}

/// An `Apply`'s `invalidValueTreatment`: what an undefined result (an integer overflow
/// or division by zero) or an invalid one (NaN) becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ApplyInvalid {
    /// An error (the default).
    ReturnInvalid,
    /// An undefined result is an error, an invalid one is kept.
    AsIs,
    /// The `defaultValue` (or missing).
    AsMissing,
}

/// A compiled `DefineFunction`.
#[derive(Debug, Clone)]
pub(crate) struct Function {
    pub body: Expr,
    /// The static type of the body's value.
    pub body_ty: DataType,
    pub params: Vec<Option<DataType>>,
    pub ty: DataType,
}

impl Expr {
    /// Calls `f` with every field slot the expression reads; `false` when it may read
    /// more than its fields (a parameter, a function call, a text index), so that what
    /// it reads is not known here.
    pub(crate) fn fields(&self, f: &mut impl FnMut(Slot)) -> bool {
        match self {
            Expr::Const(_) => true,
            Expr::Field { slot, .. } => {
                f(*slot);
                true
            }
            Expr::Param(_) | Expr::Call { .. } | Expr::TextIndex(_) => false,
            Expr::Apply { args, .. } => args.iter().all(|a| a.fields(f)),
            Expr::MapValues { inputs, .. } => inputs.iter().all(|a| a.fields(f)),
            Expr::NormContinuous { input, .. }
            | Expr::NormDiscrete { input, .. }
            | Expr::Discretize { input, .. }
            | Expr::Cast(input, _) => input.fields(f),
            Expr::ArithConst { input, general, .. } => input.fields(f) && general.fields(f),
        }
    }

    /// Evaluates the expression with the type of its value when that is only known at
    /// runtime (an `if` branch, an aggregate over the arguments that are not missing, a
    /// parameter without a declared type); `None`: the static type.
    pub(crate) fn eval_dyn(&self, ctx: &mut Ctx<'_>) -> Result<(Val, Option<DataType>), Fail> {
        match self {
            Expr::Param(i) => {
                let k = ctx.s.frame_base + *i as usize;
                Ok((ctx.s.frame[k], Some(ctx.s.frame_tys[k])))
            }
            Expr::Apply {
                call,
                args,
                map_missing,
                default,
                invalid,
            } => {
                let (r, t) = eval_apply(ctx, call, args, map_missing)?;
                let v = finish_apply(call.f, call.ty, r, *invalid, default)?;
                Ok((v, t))
            }
            e => Ok((e.eval(ctx)?, None)),
        }
    }

    pub(crate) fn eval(&self, ctx: &mut Ctx<'_>) -> Result<Val, Fail> {
        match self {
            Expr::Const(v) => Ok(*v),
            Expr::Field { slot, map_missing } => {
                let v = ctx.get(*slot)?;
                Ok(match (v, map_missing) {
                    (Val::Missing, Some(m)) => *m,
                    _ => v,
                })
            }
            Expr::Param(i) => {
                let base = ctx.s.frame_base;
                Ok(ctx.s.frame[base + *i as usize])
            }
            Expr::Apply {
                call,
                args,
                map_missing,
                default,
                invalid,
            } => {
                let (r, _) = eval_apply(ctx, call, args, map_missing)?;
                finish_apply(call.f, call.ty, r, *invalid, default)
            }
            Expr::ArithConst {
                input,
                steps,
                general,
            } => {
                // A field (the usual input of a scaler) read without another call.
                let v = match &**input {
                    Expr::Field {
                        slot,
                        map_missing: None,
                    } => ctx.get(*slot)?,
                    e => e.eval(ctx)?,
                };
                let Val::Num(mut x) = v else {
                    return general.eval(ctx);
                };
                let last = steps.len() - 1;
                for (i, st) in steps.iter().enumerate() {
                    let (a, b) = if st.const_first { (st.c, x) } else { (x, st.c) };
                    let r = match st.f {
                        Func::Add => a + b,
                        Func::Sub => a - b,
                        Func::Mul => a * b,
                        _ => a / b,
                    };
                    let r = if st.ty == DataType::Float {
                        r as f32 as f64
                    } else {
                        r
                    };
                    match finish_apply(
                        st.f,
                        st.ty,
                        Outcome::Value(Val::Num(r)),
                        st.invalid,
                        &st.default,
                    )? {
                        Val::Num(y) => x = y,
                        // Not a number: the last step's value, or the next steps applied
                        // to it by the plain `Apply`s.
                        other if i == last => return Ok(other),
                        _ => return general.eval(ctx),
                    }
                }
                Ok(Val::Num(x))
            }
            Expr::Call {
                func,
                args,
                arg_tys,
                map_missing,
                default,
            } => {
                let start = ctx.s.frame.len();
                for (a, st) in args.iter().zip(arg_tys) {
                    let (v, t) = match a.eval_dyn(ctx) {
                        Ok(x) => x,
                        Err(e) => {
                            ctx.s.frame.truncate(start);
                            ctx.s.frame_tys.truncate(start);
                            return Err(e);
                        }
                    };
                    if v.is_missing() {
                        if let Some(m) = map_missing {
                            ctx.s.frame.truncate(start);
                            ctx.s.frame_tys.truncate(start);
                            return Ok(*m);
                        }
                    }
                    ctx.s.frame.push(v);
                    ctx.s
                        .frame_tys
                        .push(crate::functions::runtime_type(v, t.unwrap_or(*st)));
                }
                let m = ctx.m;
                let function = &m.functions[*func as usize];
                for (i, t) in function.params.iter().enumerate() {
                    // A declared parameter type converts the argument; else it is kept.
                    if let Some(t) = t {
                        let v = ctx.s.frame[start + i];
                        let from = ctx.s.frame_tys[start + i];
                        let c = cast_from(ctx, v, from, *t);
                        let c = match c {
                            Ok(c) => c,
                            Err(e) => {
                                ctx.s.frame.truncate(start);
                                ctx.s.frame_tys.truncate(start);
                                return Err(e);
                            }
                        };
                        ctx.s.frame[start + i] = c;
                        ctx.s.frame_tys[start + i] = *t;
                    }
                }
                let saved = ctx.s.frame_base;
                ctx.s.frame_base = start;
                let r = function.body.eval_dyn(ctx);
                ctx.s.frame_base = saved;
                ctx.s.frame.truncate(start);
                ctx.s.frame_tys.truncate(start);
                let (r, rt) = r?;
                let r = cast_from(ctx, r, rt.unwrap_or(function.body_ty), function.ty)?;
                Ok(match (r, default) {
                    (Val::Missing, Some(d)) => *d,
                    _ => r,
                })
            }
            Expr::NormContinuous {
                input,
                points,
                outliers,
                map_missing,
            } => {
                let v = input.eval(ctx)?;
                let Some(x) = v.num() else {
                    return Ok(map_missing.unwrap_or(Val::Missing));
                };
                Ok(norm_continuous(points, *outliers, x)
                    .map(Val::Num)
                    .unwrap_or(Val::Missing))
            }
            Expr::NormDiscrete {
                input,
                value,
                map_missing,
            } => {
                let v = input.eval(ctx)?;
                if v.is_missing() {
                    return Ok(map_missing.unwrap_or(Val::Missing));
                }
                Ok(Val::Num(if ctx.equal(v, *value) { 1.0 } else { 0.0 }))
            }
            Expr::Discretize {
                input,
                bins,
                map_missing,
                default,
            } => {
                let v = input.eval(ctx)?;
                let Some(x) = v.num() else {
                    return Ok(map_missing.unwrap_or(Val::Missing));
                };
                for (interval, bin) in bins {
                    if interval.contains_ordered(x) {
                        return Ok(*bin);
                    }
                }
                Ok(default.unwrap_or(Val::Missing))
            }
            Expr::MapValues {
                inputs,
                rows,
                map_missing,
                default,
            } => {
                let mut vals = std::mem::take(&mut ctx.s.map_vals);
                vals.clear();
                for e in inputs {
                    match e.eval(ctx) {
                        Ok(v) => vals.push(v),
                        Err(err) => {
                            ctx.s.map_vals = vals;
                            return Err(err);
                        }
                    }
                }
                let result = if vals.iter().any(|v| v.is_missing()) {
                    map_missing.unwrap_or(Val::Missing)
                } else {
                    rows.iter()
                        .find(|(keys, _)| {
                            keys.iter()
                                .zip(vals.iter())
                                .all(|(k, v)| k.is_some_and(|k| ctx.equal(k, *v)))
                        })
                        .map(|(_, out)| *out)
                        .unwrap_or(default.unwrap_or(Val::Missing))
                };
                ctx.s.map_vals = vals;
                Ok(result)
            }
            Expr::Cast(e, t) => {
                let v = e.eval(ctx)?;
                cast(ctx, v, *t)
            }
            Expr::TextIndex(t) => t.eval(ctx),
        }
    }
}

/// An `Apply`'s result after its treatments: an undefined result is an error unless
/// treated as missing; NaN (of a float or double) is invalid (an error, kept, or
/// missing); a missing result becomes the `defaultValue`.
#[inline]
fn finish_apply(
    f: Func,
    ty: DataType,
    r: Outcome,
    invalid: ApplyInvalid,
    default: &Option<Val>,
) -> Result<Val, Fail> {
    let r = match r {
        Outcome::Undefined => match invalid {
            ApplyInvalid::AsMissing => return Ok(default.unwrap_or(Val::Missing)),
            _ => {
                return Err(EvalError::Evaluation(format!(
                    "function {} failed: undefined result",
                    f.name()
                ))
                .into())
            }
        },
        // JPMML's values never hold -0.0.
        Outcome::Value(Val::Num(x)) => Val::Num(x + 0.0),
        Outcome::Value(v) => v,
    };
    let nan =
        matches!(r, Val::Num(x) if x.is_nan()) && matches!(ty, DataType::Double | DataType::Float);
    if nan {
        return match invalid {
            ApplyInvalid::ReturnInvalid => Err(EvalError::Evaluation(format!(
                "function {} returned an invalid value",
                f.name()
            ))
            .into()),
            ApplyInvalid::AsIs => Ok(r),
            ApplyInvalid::AsMissing => Ok(default.unwrap_or(Val::Missing)),
        };
    }
    Ok(match (r, default) {
        (Val::Missing, Some(d)) => *d,
        _ => r,
    })
}

/// Evaluates an `Apply` (before its treatments) and the runtime type of its value when
/// it differs from the static one.
fn eval_apply(
    ctx: &mut Ctx<'_>,
    call: &Call,
    args: &[Expr],
    map_missing: &Option<Val>,
) -> Result<(Outcome, Option<DataType>), Fail> {
    let f = call.f;
    if f == Func::If {
        // Only the branch the condition selects is evaluated.
        let c = args[0].eval(ctx)?;
        if c.is_missing() {
            if let Some(m) = map_missing {
                return Ok((Outcome::Value(*m), Some(DataType::String)));
            }
            return Err(
                EvalError::Evaluation("function if: missing value at position 0".into()).into(),
            );
        }
        let branch = if as_bool(ctx, f, c)? { 1 } else { 2 };
        let Some(e) = args.get(branch) else {
            return Ok((Outcome::Value(Val::Missing), None));
        };
        let (r, t) = e.eval_dyn(ctx)?;
        if r.is_missing() {
            if let Some(m) = map_missing {
                return Ok((Outcome::Value(*m), Some(DataType::String)));
            }
        }
        let t = t.unwrap_or(call.tys[branch]);
        return Ok((Outcome::Value(r), (t != call.ty).then_some(t)));
    }
    if let [a, b] = args {
        // Two arguments (arithmetic on numbers in particular) without the general path.
        let (a, ta) = a.eval_dyn(ctx)?;
        if a.is_missing() {
            if let Some(m) = map_missing {
                return Ok((Outcome::Value(*m), Some(DataType::String)));
            }
        }
        let (b, tb) = b.eval_dyn(ctx)?;
        if let (Val::Num(x), Val::Num(y), None, None) = (a, b, ta, tb) {
            let float = match call.ty {
                DataType::Double => Some(false),
                DataType::Float => Some(true),
                _ => None,
            };
            let r = match f {
                Func::Add => Some(x + y),
                Func::Sub => Some(x - y),
                Func::Mul => Some(x * y),
                Func::Div => Some(x / y),
                _ => None,
            };
            if let (Some(r), Some(float)) = (r, float) {
                let r = if float { r as f32 as f64 } else { r };
                return Ok((Outcome::Value(Val::Num(r)), None));
            }
        }
        if let Some(m) = map_missing {
            if b.is_missing() {
                return Ok((Outcome::Value(*m), Some(DataType::String)));
            }
        }
        let tys = [ta.unwrap_or(call.tys[0]), tb.unwrap_or(call.tys[1])];
        return finish_types(ctx, call, &[a, b], &tys, ta.is_some() || tb.is_some());
    }
    let mut vals: [Val; 4] = [Val::Missing; 4];
    let mut tys: [DataType; 4] = [DataType::Double; 4];
    if args.len() <= 4 {
        let mut dynamic = false;
        for (i, a) in args.iter().enumerate() {
            let (v, t) = a.eval_dyn(ctx)?;
            if v.is_missing() {
                if let Some(m) = map_missing {
                    return Ok((Outcome::Value(*m), Some(DataType::String)));
                }
            }
            dynamic |= t.is_some();
            vals[i] = v;
            tys[i] = t.unwrap_or(call.tys[i]);
        }
        let n = args.len();
        finish_types(ctx, call, &vals[..n], &tys[..n], dynamic)
    } else {
        let mut v = Vec::with_capacity(args.len());
        let mut ts = Vec::with_capacity(args.len());
        let mut dynamic = false;
        for (a, st) in args.iter().zip(call.tys.iter()) {
            let (x, t) = a.eval_dyn(ctx)?;
            if x.is_missing() {
                if let Some(m) = map_missing {
                    return Ok((Outcome::Value(*m), Some(DataType::String)));
                }
            }
            dynamic |= t.is_some();
            v.push(x);
            ts.push(t.unwrap_or(*st));
        }
        finish_types(ctx, call, &v, &ts, dynamic)
    }
}

/// Applies the function to arguments of runtime types `tys` and gives the runtime type
/// of the result when it differs from the static one (an aggregate over some missing
/// arguments, arguments of dynamic types).
fn finish_types(
    ctx: &mut Ctx<'_>,
    call: &Call,
    vals: &[Val],
    tys: &[DataType],
    dynamic: bool,
) -> Result<(Outcome, Option<DataType>), Fail> {
    let r = apply(ctx, call, tys, vals)?;
    let aggregate = matches!(
        call.f,
        Func::Min | Func::Max | Func::Sum | Func::Avg | Func::Product
    );
    let t = if aggregate && vals.iter().any(|v| v.is_missing()) {
        // The common type of the arguments present.
        let mut common: Option<DataType> = None;
        for (v, t) in vals.iter().zip(tys) {
            if !v.is_missing() {
                let t = crate::functions::runtime_type(*v, *t);
                common = match common {
                    None => Some(t),
                    Some(c) => crate::functions::common_type(&[c, t]),
                };
            }
        }
        common.map(|c| call.f.result_type(&[c]))
    } else if dynamic {
        Some(call.f.result_type(tys))
    } else {
        None
    };
    Ok((r, t.filter(|t| *t != call.ty)))
}

/// Piecewise-linear normalization through `(orig, norm)` points.
pub(crate) fn norm_continuous(
    points: &[(f64, f64)],
    outliers: NormOutliers,
    x: f64,
) -> Option<f64> {
    let n = points.len();
    let (first, last) = (points[0], points[n - 1]);
    let interp = |a: (f64, f64), b: (f64, f64)| a.1 + (x - a.0) / (b.0 - a.0) * (b.1 - a.1);
    if x < first.0 {
        return match outliers {
            NormOutliers::AsIs => Some(interp(points[0], points[1])),
            NormOutliers::AsMissing => None,
            NormOutliers::AsExtreme => Some(first.1),
        };
    }
    // NaN is above every number, as JPMML's search orders them (`Double.compare`).
    if x > last.0 || x.is_nan() {
        return match outliers {
            NormOutliers::AsIs => Some(interp(points[n - 2], points[n - 1])),
            NormOutliers::AsMissing => None,
            NormOutliers::AsExtreme => Some(last.1),
        };
    }
    for w in points.windows(2) {
        if x >= w[0].0 && x <= w[1].0 {
            if x == w[0].0 {
                return Some(w[0].1);
            }
            return Some(interp(w[0], w[1]));
        }
    }
    Some(last.1)
}

/// The inverse of [`norm_continuous`] (used to denormalize neural network outputs).
pub(crate) fn denorm_continuous(points: &[(f64, f64)], y: f64) -> f64 {
    let n = points.len();
    let inv: Vec<(f64, f64)> = points.iter().map(|(a, b)| (*b, *a)).collect();
    let ascending = inv[0].0 <= inv[n - 1].0;
    if ascending {
        norm_continuous(&inv, NormOutliers::AsIs, y).unwrap_or(f64::NAN)
    } else {
        let rev: Vec<(f64, f64)> = inv.into_iter().rev().collect();
        norm_continuous(&rev, NormOutliers::AsIs, y).unwrap_or(f64::NAN)
    }
}

/// Converts a value of static type `from` to a data type (a field's declared type), as
/// JPMML does: numbers become text as Java writes their type (`3`, `3.0`), an integer
/// field takes only integral numbers.
pub(crate) fn cast_from(
    ctx: &mut Ctx<'_>,
    v: Val,
    from: DataType,
    t: DataType,
) -> Result<Val, Fail> {
    match (v, t) {
        (Val::Num(_), DataType::String) => {
            let mut s = String::new();
            crate::functions::write_string(ctx, Func::Concat, v, from, &mut s)?;
            Ok(ctx.string(&s))
        }
        (Val::Num(x), DataType::Integer) => {
            if x.fract() != 0.0 || !(i32::MIN as f64..=i32::MAX as f64).contains(&x) {
                return Err(EvalError::Evaluation(format!(
                    "{} is not an integer",
                    ctx.describe(v)
                ))
                .into());
            }
            Ok(v)
        }
        _ => cast(ctx, v, t),
    }
}

/// Converts a value to a data type (the declared type of a field or function).
pub(crate) fn cast(ctx: &mut Ctx<'_>, v: Val, t: DataType) -> Result<Val, Fail> {
    Ok(match (v, t) {
        (Val::Missing, _) => Val::Missing,
        (Val::Num(x), DataType::Float) => Val::Num(x as f32 as f64),
        (Val::Num(x), DataType::Boolean) => {
            if x == 0.0 {
                Val::Bool(false)
            } else if x == 1.0 {
                Val::Bool(true)
            } else {
                return Err(
                    EvalError::Evaluation(format!("{} is not a boolean", ctx.describe(v))).into(),
                );
            }
        }
        (Val::Num(x), DataType::String) => ctx.build_string(|_, s| {
            if x.fract() == 0.0 && x.abs() < 1e15 {
                s.push_str(&(x as i64).to_string())
            } else {
                crate::format::write_java_double(x, s)
            }
        }),
        (Val::Num(_), _) => v,
        (Val::Bool(b), DataType::Boolean) => Val::Bool(b),
        (Val::Bool(b), DataType::String) => ctx.string(if b { "true" } else { "false" }),
        (Val::Bool(b), _) => Val::Num(if b { 1.0 } else { 0.0 }),
        (Val::Str(_), DataType::String) => v,
        // The model's own strings were read as numbers when it was compiled.
        (Val::Str(id), t) => match ctx.m.symbols.number(id, t) {
            Some(Some(x)) => Val::Num(x),
            _ => parse_text(ctx, id, t)?,
        },
    })
}

/// String value `id` read as a value of type `t`.
fn parse_text(ctx: &Ctx<'_>, id: u32, t: DataType) -> Result<Val, Fail> {
    let text = ctx.text(id);
    let parsed = match t {
        DataType::Boolean => crate::types::parse_boolean(text).map(Val::Bool),
        t => crate::types::parse_number(t, text).map(Val::Num),
    };
    parsed.ok_or_else(|| EvalError::Evaluation(format!("\"{text}\" is not a {}", t.name())).into())
}

/// The type a `Constant` without `dataType` gets.
/// The type a `Constant` without `dataType` gets, as JPMML infers it: text with a `.`
/// that parses as a number is a double, other text that parses as a long integer an
/// integer, `NaN` and `INF`/`-INF` doubles, anything else (`1e5` too) a string.
fn infer_constant_type(s: &str) -> DataType {
    let t = s.trim();
    if ["NaN", "INF", "-INF"]
        .iter()
        .any(|w| t.eq_ignore_ascii_case(w))
    {
        DataType::Double
    } else if t.contains('.') {
        if parse_double(t).is_some() {
            DataType::Double
        } else {
            DataType::String
        }
    } else if t.parse::<i64>().is_ok() {
        DataType::Integer
    } else {
        DataType::String
    }
}

impl Compiler<'_> {
    fn map_missing(
        &mut self,
        el: &Element,
        attr: &str,
        ty: DataType,
    ) -> Result<Option<Val>, PmmlError> {
        match el.attr(attr) {
            None => Ok(None),
            Some(s) => {
                let t = if ty == DataType::Boolean {
                    DataType::Double
                } else {
                    ty
                };
                parse_const(&mut self.symbols, t, s)
                    .or_else(|| parse_const(&mut self.symbols, DataType::String, s))
                    .map(Some)
                    .ok_or_else(|| {
                        PmmlError::invalid(
                            el.name.clone(),
                            format!("{attr}=\"{s}\" cannot be parsed"),
                        )
                    })
            }
        }
    }

    /// Compiles the single expression child of `el` (a `DerivedField`, `OutputField`...).
    pub(crate) fn expr_child(&mut self, el: &Element) -> Result<(Expr, DataType), PmmlError> {
        let child = el
            .content()
            .find(|c| is_expression(&c.name))
            .ok_or_else(|| {
                PmmlError::invalid(
                    el.name.clone(),
                    "an expression (Constant, FieldRef, Apply, ...) is required",
                )
            })?;
        self.expr(child)
    }

    /// Compiles an expression element.
    pub(crate) fn expr(&mut self, el: &Element) -> Result<(Expr, DataType), PmmlError> {
        match el.name.as_str() {
            "Constant" => {
                if el.attr("missing") == Some("true") {
                    let ty = match el.attr("dataType") {
                        Some(t) => DataType::parse(t, "Constant")?,
                        None => DataType::Double,
                    };
                    return Ok((Expr::Const(Val::Missing), ty));
                }
                let text = el.text.trim();
                let ty = match el.attr("dataType") {
                    Some(t) => DataType::parse(t, "Constant")?,
                    None => infer_constant_type(text),
                };
                // Empty content of a non-string type is a missing value.
                if el.text.is_empty() && ty != DataType::String {
                    return Ok((Expr::Const(Val::Missing), ty));
                }
                let text = if ty == DataType::String {
                    el.text.as_str()
                } else {
                    text
                };
                let v = parse_const(&mut self.symbols, ty, text).ok_or_else(|| {
                    PmmlError::invalid("Constant", format!("\"{text}\" is not a {}", ty.name()))
                })?;
                Ok((Expr::Const(v), ty))
            }
            "FieldRef" => {
                let name = req(el, "field")?;
                if let Some(i) = self.param_index(name) {
                    let ty = self.params_ty(i);
                    return Ok((Expr::Param(i), ty));
                }
                let f = self.field(name, "FieldRef")?;
                // JPMML's replacement of a missing field value is a string.
                let map_missing = el
                    .attr("mapMissingTo")
                    .map(|s| Val::Str(self.symbols.intern(s)));
                Ok((
                    Expr::Field {
                        slot: f.slot,
                        map_missing,
                    },
                    f.ty,
                ))
            }
            "NormContinuous" => {
                let (input, _) = self.field_expr(req(el, "field")?, "NormContinuous")?;
                let mut points = Vec::new();
                for ln in el.children_named("LinearNorm") {
                    let o = num_attr(ln, "orig")?;
                    let n = num_attr(ln, "norm")?;
                    points.push((o, n));
                }
                if points.len() < 2 {
                    return Err(PmmlError::invalid(
                        "NormContinuous",
                        "at least two LinearNorm elements are required",
                    ));
                }
                if points.windows(2).any(|w| w[1].0 <= w[0].0) {
                    return Err(PmmlError::invalid(
                        "NormContinuous",
                        "LinearNorm orig values must increase",
                    ));
                }
                let outliers = match el.attr("outliers") {
                    None | Some("asIs") => NormOutliers::AsIs,
                    Some("asMissingValues") => NormOutliers::AsMissing,
                    Some("asExtremeValues") => NormOutliers::AsExtreme,
                    Some(o) => {
                        return Err(PmmlError::invalid(
                            "NormContinuous",
                            format!("unknown outliers \"{o}\""),
                        ))
                    }
                };
                let map_missing = self.map_missing(el, "mapMissingTo", DataType::Double)?;
                Ok((
                    Expr::NormContinuous {
                        input: Box::new(input),
                        points,
                        outliers,
                        map_missing,
                    },
                    DataType::Double,
                ))
            }
            "NormDiscrete" => {
                let name = req(el, "field")?;
                let (input, ty) = self.field_expr(name, "NormDiscrete")?;
                if let Some(m) = el.attr("method") {
                    if m != "indicator" {
                        return Err(PmmlError::unsupported(
                            "NormDiscrete",
                            format!("method=\"{m}\""),
                        ));
                    }
                }
                let text = req(el, "value")?;
                let value = parse_const(&mut self.symbols, ty, text).ok_or_else(|| {
                    PmmlError::invalid(
                        "NormDiscrete",
                        format!("value \"{text}\" is not a {}", ty.name()),
                    )
                })?;
                let map_missing = self.map_missing(el, "mapMissingTo", DataType::Double)?;
                Ok((
                    Expr::NormDiscrete {
                        input: Box::new(input),
                        value,
                        map_missing,
                    },
                    DataType::Double,
                ))
            }
            "Discretize" => {
                let (input, _) = self.field_expr(req(el, "field")?, "Discretize")?;
                let ty = match el.attr("dataType") {
                    Some(t) => DataType::parse(t, "Discretize")?,
                    None => DataType::String,
                };
                let mut bins = Vec::new();
                for b in el.children_named("DiscretizeBin") {
                    let interval = Interval::parse(b.child("Interval").ok_or_else(|| {
                        PmmlError::invalid("DiscretizeBin", "an Interval is required")
                    })?)?;
                    let text = req(b, "binValue")?;
                    let v = parse_const(&mut self.symbols, ty, text).ok_or_else(|| {
                        PmmlError::invalid(
                            "DiscretizeBin",
                            format!("binValue \"{text}\" is not a {}", ty.name()),
                        )
                    })?;
                    bins.push((interval, v));
                }
                let map_missing = self.map_missing(el, "mapMissingTo", ty)?;
                let default = self.map_missing(el, "defaultValue", ty)?;
                Ok((
                    Expr::Discretize {
                        input: Box::new(input),
                        bins,
                        map_missing,
                        default,
                    },
                    ty,
                ))
            }
            "MapValues" => self.map_values(el),
            "Apply" => self.apply(el),
            "TextIndex" => crate::text_index::compile(self, el),
            "Aggregate" | "Lag" => Err(PmmlError::unsupported(
                el.name.clone(),
                "this expression is not supported",
            )),
            other => Err(PmmlError::invalid(other, "not an expression")),
        }
    }

    fn field_expr(&mut self, name: &str, element: &str) -> Result<(Expr, DataType), PmmlError> {
        if let Some(i) = self.param_index(name) {
            let ty = self.params_ty(i);
            return Ok((Expr::Param(i), ty));
        }
        let f = self.field(name, element)?;
        Ok((
            Expr::Field {
                slot: f.slot,
                map_missing: None,
            },
            f.ty,
        ))
    }

    fn map_values(&mut self, el: &Element) -> Result<(Expr, DataType), PmmlError> {
        let ty = match el.attr("dataType") {
            Some(t) => DataType::parse(t, "MapValues")?,
            None => DataType::String,
        };
        let out_col = local_name(req(el, "outputColumn")?).to_string();
        let mut inputs = Vec::new();
        let mut cols = Vec::new();
        for p in el.children_named("FieldColumnPair") {
            let (e, t) = self.field_expr(req(p, "field")?, "FieldColumnPair")?;
            inputs.push(e);
            cols.push((local_name(req(p, "column")?).to_string(), t));
        }
        let table = match el.child("InlineTable") {
            Some(t) => t,
            None if el.child("TableLocator").is_some() => {
                return Err(PmmlError::unsupported(
                    "TableLocator",
                    "external tables are not supported",
                ))
            }
            None => {
                return Err(PmmlError::invalid(
                    "MapValues",
                    "an InlineTable is required",
                ))
            }
        };
        let mut rows = Vec::new();
        for row in table.children_named("row") {
            let cell = |name: &str| {
                row.children
                    .iter()
                    .find(|c| c.name == name)
                    .map(|c| c.text.as_str())
            };
            let Some(out) = cell(&out_col) else { continue };
            let out = parse_const(&mut self.symbols, ty, out).ok_or_else(|| {
                PmmlError::invalid(
                    "MapValues",
                    format!("output \"{out}\" is not a {}", ty.name()),
                )
            })?;
            let mut keys = Vec::new();
            for (c, t) in &cols {
                keys.push(cell(c).and_then(|text| parse_const(&mut self.symbols, *t, text)));
            }
            rows.push((keys, out));
        }
        let map_missing = self.map_missing(el, "mapMissingTo", ty)?;
        let default = self.map_missing(el, "defaultValue", ty)?;
        Ok((
            Expr::MapValues {
                inputs,
                rows,
                map_missing,
                default,
            },
            ty,
        ))
    }

    fn apply(&mut self, el: &Element) -> Result<(Expr, DataType), PmmlError> {
        let name = req(el, "function")?;
        let mut args = Vec::new();
        let mut types = Vec::new();
        let mut children = Vec::new();
        for c in el.content() {
            let (e, t) = self.expr(c)?;
            args.push(e);
            types.push(t);
            children.push(c);
        }
        let invalid = match el.attr("invalidValueTreatment") {
            None | Some("returnInvalid") => ApplyInvalid::ReturnInvalid,
            Some("asIs") => ApplyInvalid::AsIs,
            Some("asMissing") => ApplyInvalid::AsMissing,
            Some("asValue") => {
                return Err(PmmlError::unsupported(
                    "Apply",
                    format!("function \"{name}\": invalidValueTreatment=\"asValue\""),
                ))
            }
            Some(o) => {
                return Err(PmmlError::invalid(
                    "Apply",
                    format!("unknown invalidValueTreatment \"{o}\""),
                ))
            }
        };
        // A missing result's replacements are strings, as JPMML makes them.
        let text_attr =
            |c: &mut Self, attr: &str| el.attr(attr).map(|s| Val::Str(c.symbols.intern(s)));
        let (map_missing, default) = if self.pmml_41 {
            (
                None,
                text_attr(self, "mapMissingTo").or(text_attr(self, "defaultValue")),
            )
        } else {
            (
                text_attr(self, "mapMissingTo"),
                text_attr(self, "defaultValue"),
            )
        };
        if let Some(f) = Func::by_name(name) {
            let (lo, hi) = f.arity();
            if args.len() < lo || args.len() > hi {
                return Err(PmmlError::invalid(
                    "Apply",
                    format!(
                        "function \"{name}\" takes {lo}..{hi} arguments, got {}",
                        args.len()
                    ),
                ));
            }
            let ty = f.result_type(&types);
            let first_categorical = match children.first() {
                Some(c) => {
                    self.static_optype(c, types[0]) == OpType::Categorical
                        && types[0] != DataType::Boolean
                }
                None => false,
            };
            let regex = match (f, args.get(1)) {
                (Func::Matches | Func::Replace, Some(Expr::Const(Val::Str(id)))) => {
                    let p = self.symbols.strings[*id as usize].to_string();
                    Some(Box::new(crate::functions::compile_regex(&p).map_err(
                        |e| {
                            PmmlError::unsupported(
                                "Apply",
                                format!("function \"{name}\": pattern \"{p}\": {e}"),
                            )
                        },
                    )?))
                }
                _ => None,
            };
            // The input field the first argument reads (validity, ordinal order).
            let mut input_slot = None;
            let mut ordering = None;
            if let Some(c) = children
                .first()
                .filter(|c| c.name == "FieldRef" && c.attr("mapMissingTo").is_none())
            {
                let name = c.attr("field").unwrap_or("");
                if self.param_index(name).is_none() {
                    if let Ok(info) = self.field(name, "FieldRef") {
                        if matches!(
                            self.slots[info.slot as usize],
                            SlotDef::Input { .. } | SlotDef::Treated { .. }
                        ) {
                            input_slot = Some(info.slot);
                            if info.optype == OpType::Ordinal {
                                ordering = self
                                    .data_fields
                                    .get(name)
                                    .filter(|df| !df.valid.is_empty())
                                    .map(|df| df.valid.clone().into_boxed_slice());
                            }
                        }
                    }
                }
            }
            let call = Box::new(Call {
                f,
                tys: types.clone().into_boxed_slice(),
                ty,
                first_categorical,
                regex,
                input_slot,
                ordering,
            });
            let arith = matches!(f, Func::Add | Func::Sub | Func::Mul | Func::Div)
                && matches!(ty, DataType::Double | DataType::Float)
                && map_missing.is_none();
            let constant = match (args.as_slice(), types.as_slice()) {
                ([e, Expr::Const(Val::Num(c))], [_, tc])
                    if arith
                        && tc.is_numeric()
                        && !matches!(e, Expr::Const(_) | Expr::Param(_)) =>
                {
                    Some((*c, false))
                }
                ([Expr::Const(Val::Num(c)), e], [tc, _])
                    if arith
                        && tc.is_numeric()
                        && !matches!(e, Expr::Const(_) | Expr::Param(_)) =>
                {
                    Some((*c, true))
                }
                _ => None,
            };
            let input = constant.map(|(_, const_first)| args[usize::from(const_first)].clone());
            let apply = Expr::Apply {
                call,
                args,
                map_missing,
                default,
                invalid,
            };
            if let (Some((c, const_first)), Some(input)) = (constant, input) {
                let step = ArithStep {
                    f,
                    c,
                    const_first,
                    ty,
                    invalid,
                    default,
                };
                // A step of a step (`(x - mean) / scale`) extends its chain.
                let (input, steps) = match input {
                    Expr::ArithConst { input, steps, .. } => {
                        let mut steps = steps.into_vec();
                        steps.push(step);
                        (input, steps)
                    }
                    input => (Box::new(input), vec![step]),
                };
                return Ok((
                    Expr::ArithConst {
                        input,
                        steps: steps.into_boxed_slice(),
                        general: Box::new(apply),
                    },
                    ty,
                ));
            }
            return Ok((apply, ty));
        }
        let (func, ty, n) = self.function(name)?;
        if n != args.len() {
            return Err(PmmlError::invalid(
                "Apply",
                format!(
                    "function \"{name}\" takes {n} arguments, got {}",
                    args.len()
                ),
            ));
        }
        Ok((
            Expr::Call {
                func,
                args,
                arg_tys: types,
                map_missing,
                default,
            },
            ty,
        ))
    }

    /// The operational type of an expression's value, as JPMML types it.
    fn static_optype(&mut self, el: &Element, ty: DataType) -> OpType {
        match el.name.as_str() {
            "FieldRef" => {
                let name = el.attr("field").unwrap_or("");
                if self.param_index(name).is_some() {
                    return OpType::default_for(ty);
                }
                match self.field(name, "FieldRef") {
                    Ok(f) if el.attr("mapMissingTo").is_none() => f.optype,
                    _ => OpType::default_for(ty),
                }
            }
            "NormContinuous" => OpType::Continuous,
            "NormDiscrete" | "Discretize" | "MapValues" => OpType::Categorical,
            _ => OpType::default_for(ty),
        }
    }
}

pub(crate) fn is_expression(name: &str) -> bool {
    matches!(
        name,
        "Constant"
            | "FieldRef"
            | "NormContinuous"
            | "NormDiscrete"
            | "Discretize"
            | "MapValues"
            | "TextIndex"
            | "Apply"
            | "Aggregate"
            | "Lag"
    )
}

pub(crate) fn local_name(s: &str) -> &str {
    match s.rfind(':') {
        Some(i) => &s[i + 1..],
        None => s,
    }
}

pub(crate) fn req<'e>(el: &'e Element, attr: &str) -> Result<&'e str, PmmlError> {
    el.attr(attr)
        .ok_or_else(|| PmmlError::invalid(el.name.clone(), format!("missing attribute {attr}")))
}

pub(crate) fn num_attr(el: &Element, attr: &str) -> Result<f64, PmmlError> {
    let s = req(el, attr)?;
    parse_double(s).ok_or_else(|| {
        PmmlError::invalid(el.name.clone(), format!("{attr}=\"{s}\" is not a number"))
    })
}

pub(crate) fn opt_num_attr(el: &Element, attr: &str) -> Result<Option<f64>, PmmlError> {
    match el.attr(attr) {
        None => Ok(None),
        Some(_) => num_attr(el, attr).map(Some),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn norm_continuous_interpolates_and_treats_outliers() {
        let pts = [(0.0, 0.0), (10.0, 1.0), (20.0, 3.0)];
        assert_eq!(norm_continuous(&pts, NormOutliers::AsIs, 5.0), Some(0.5));
        assert_eq!(norm_continuous(&pts, NormOutliers::AsIs, 15.0), Some(2.0));
        assert_eq!(norm_continuous(&pts, NormOutliers::AsIs, -10.0), Some(-1.0));
        assert_eq!(norm_continuous(&pts, NormOutliers::AsIs, 30.0), Some(5.0));
        assert_eq!(
            norm_continuous(&pts, NormOutliers::AsExtreme, 30.0),
            Some(3.0)
        );
        assert_eq!(norm_continuous(&pts, NormOutliers::AsMissing, -1.0), None);
        assert!(norm_continuous(&pts, NormOutliers::AsIs, f64::NAN)
            .unwrap()
            .is_nan());
        assert_eq!(
            norm_continuous(&pts, NormOutliers::AsExtreme, f64::NAN),
            Some(3.0)
        );
        assert_eq!(
            norm_continuous(&pts, NormOutliers::AsMissing, f64::NAN),
            None
        );
        assert!((denorm_continuous(&pts, 2.0) - 15.0).abs() < 1e-12);
    }
}
