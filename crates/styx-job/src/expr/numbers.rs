//! Numbers in expressions as users mean them: an `int` and a `double` are both numbers.
//!
//! CEL keeps `int`, `uint` and `double` apart in arithmetic (`1 + 1.5` is an error there),
//! but events are JSON, where `12` and `12.5` are numbers alike: whether a field holds an
//! `int` or a `double` depends on how the producer spelt one value. So the arithmetic
//! operators `+`, `-`, `*` and `/` of job-file expressions take any two numbers:
//!
//! - two `int`s give an `int`, two `uint`s a `uint` (`/` divides whole numbers, as in
//!   CEL, Java and SQL: `7 / 2` is `3`; an overflow or a division by zero is an error);
//! - an `int` with a `uint` gives an `int`, or a `uint` when the result is above the
//!   largest `int`;
//! - a `double` with any number gives a `double`.
//!
//! Everything else (strings, lists, durations) keeps CEL's meaning. Comparisons already
//! mix numbers in CEL. Compiled expressions have their operator calls replaced by the
//! functions registered here ([`promote`]); the functions hand what is not a mix of
//! numbers to CEL's own operators.

use std::sync::{Arc, OnceLock};

use cel::common::ast::{operators, EntryExpr, Expr};
use cel::common::types::{CelDouble, CelInt, CelUInt, DYN_TYPE};
use cel::common::value::{CowVal, Val};
use cel::{Env, ExecutionError, IdedExpr};

/// The arithmetic operators, by CEL's operator name, and the function replacing each.
const OPERATORS: [(&str, &str); 4] = [
    (operators::ADD, "styx.add"),
    (operators::SUBSTRACT, "styx.sub"),
    (operators::MULTIPLY, "styx.mul"),
    (operators::DIVIDE, "styx.div"),
];

/// The environment of job-file expressions: CEL's standard library and the arithmetic
/// of mixed numbers.
pub(crate) fn env() -> Arc<Env> {
    static ENV: OnceLock<Arc<Env>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Env::stdlib();
        let ops: [(&str, cel::common::functions::Function); 4] = [
            ("styx.add", add),
            ("styx.sub", sub),
            ("styx.mul", mul),
            ("styx.div", div),
        ];
        for (name, f) in ops {
            env.add_overload(
                name,
                &format!("{name}(dyn,dyn)"),
                vec![DYN_TYPE, DYN_TYPE],
                f,
            )
            .expect("a new overload");
        }
        Arc::new(env)
    })
    .clone()
}

/// `expr` with each arithmetic operator call replaced by its function of mixed numbers.
pub(crate) fn promote(mut expr: IdedExpr) -> IdedExpr {
    rewrite(&mut expr);
    expr
}

fn rewrite(expr: &mut IdedExpr) {
    match &mut expr.expr {
        Expr::Call(call) => {
            if call.target.is_none() && call.args.len() == 2 {
                if let Some((_, f)) = OPERATORS.iter().find(|(op, _)| *op == call.func_name) {
                    call.func_name = f.to_string();
                }
            }
            if let Some(target) = &mut call.target {
                rewrite(target);
            }
            call.args.iter_mut().for_each(rewrite);
        }
        Expr::Comprehension(c) => {
            for e in [
                &mut c.iter_range,
                &mut c.accu_init,
                &mut c.loop_cond,
                &mut c.loop_step,
                &mut c.result,
            ] {
                rewrite(e);
            }
        }
        Expr::List(list) => list.elements.iter_mut().for_each(rewrite),
        Expr::Map(map) => map.entries.iter_mut().for_each(|e| entry(&mut e.expr)),
        Expr::Struct(s) => s.entries.iter_mut().for_each(|e| entry(&mut e.expr)),
        Expr::Select(select) => rewrite(&mut select.operand),
        Expr::Ident(_) | Expr::Literal(_) | Expr::Unspecified => {}
    }
}

fn entry(e: &mut EntryExpr) {
    match e {
        EntryExpr::StructField(f) => rewrite(&mut f.value),
        EntryExpr::MapEntry(m) => {
            rewrite(&mut m.key);
            rewrite(&mut m.value);
        }
    }
}

/// A number of one of CEL's three kinds.
#[derive(Clone, Copy)]
enum Num {
    Int(i64),
    UInt(u64),
    Double(f64),
}

fn number(v: &dyn Val) -> Option<Num> {
    if let Some(i) = v.downcast_ref::<CelInt>() {
        Some(Num::Int(*i.inner()))
    } else if let Some(u) = v.downcast_ref::<CelUInt>() {
        Some(Num::UInt(*u.inner()))
    } else {
        v.downcast_ref::<CelDouble>()
            .map(|d| Num::Double(*d.inner()))
    }
}

#[derive(Clone, Copy)]
enum Op {
    Add,
    Sub,
    Mul,
    Div,
}

impl Op {
    fn name(self) -> &'static str {
        match self {
            Op::Add => "add",
            Op::Sub => "sub",
            Op::Mul => "mul",
            Op::Div => "div",
        }
    }

    fn symbol(self) -> &'static str {
        match self {
            Op::Add => "+",
            Op::Sub => "-",
            Op::Mul => "*",
            Op::Div => "/",
        }
    }

    fn float(self, a: f64, b: f64) -> f64 {
        match self {
            Op::Add => a + b,
            Op::Sub => a - b,
            Op::Mul => a * b,
            Op::Div => a / b,
        }
    }

    fn whole(self, a: i128, b: i128) -> Option<i128> {
        match self {
            Op::Add => a.checked_add(b),
            Op::Sub => a.checked_sub(b),
            Op::Mul => a.checked_mul(b),
            Op::Div => a.checked_div(b),
        }
    }
}

/// `a op b` for an `int` and a `uint`, or a `double` and any number.
fn mixed(op: Op, a: Num, b: Num) -> Result<CowVal<'static, 'static>, ExecutionError> {
    let as_f64 = |n: Num| match n {
        Num::Int(i) => i as f64,
        Num::UInt(u) => u as f64,
        Num::Double(d) => d,
    };
    let whole = |n: Num| match n {
        Num::Int(i) => Some(i as i128),
        Num::UInt(u) => Some(u as i128),
        Num::Double(_) => None,
    };
    match (whole(a), whole(b)) {
        (Some(x), Some(y)) => {
            if matches!(op, Op::Div) && y == 0 {
                return Err(ExecutionError::function_error(
                    operators::DIVIDE,
                    "division by zero",
                ));
            }
            let r = op.whole(x, y).ok_or_else(|| overflow(op))?;
            if let Ok(i) = i64::try_from(r) {
                Ok(CowVal::owned(CelInt::from(i)))
            } else if let Ok(u) = u64::try_from(r) {
                Ok(CowVal::owned(CelUInt::from(u)))
            } else {
                Err(overflow(op))
            }
        }
        _ => Ok(CowVal::owned(CelDouble::from(
            op.float(as_f64(a), as_f64(b)),
        ))),
    }
}

fn overflow(op: Op) -> ExecutionError {
    ExecutionError::function_error(op.name(), "the result is out of the range of integers")
}

/// `args[0] op args[1]`: mixed numbers here, everything else by CEL's own operator.
fn apply<'b, 'v>(op: Op, args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    let [a, b]: [CowVal<'b, 'v>; 2] = args
        .try_into()
        .map_err(|_| ExecutionError::function_error(op.name(), "expects two operands"))?;
    match (number(a.as_ref()), number(b.as_ref())) {
        (Some(Num::Int(_)), Some(Num::Int(_)))
        | (Some(Num::UInt(_)), Some(Num::UInt(_)))
        | (Some(Num::Double(_)), Some(Num::Double(_))) => {}
        (Some(x), Some(y)) => return mixed(op, x, y),
        _ => {}
    }
    let (left, right) = (a.as_ref(), b.as_ref());
    let unsupported = || {
        ExecutionError::function_error(
            op.name(),
            format!(
                "no operator {} for {} and {}",
                op.symbol(),
                left.get_type().name(),
                right.get_type().name()
            ),
        )
    };
    let result = match op {
        Op::Add => left.as_adder().ok_or_else(unsupported)?.add(right),
        Op::Sub => left.as_subtractor().ok_or_else(unsupported)?.sub(right),
        Op::Mul => left.as_multiplier().ok_or_else(unsupported)?.mul(right),
        Op::Div => left.as_divider().ok_or_else(unsupported)?.div(right),
    }?;
    Ok(CowVal::Owned(result.into_owned()))
}

fn add<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    apply(Op::Add, args)
}

fn sub<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    apply(Op::Sub, args)
}

fn mul<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    apply(Op::Mul, args)
}

fn div<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    apply(Op::Div, args)
}
