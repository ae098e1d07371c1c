//! The direct evaluation of the expressions most job files hold: fields, literals,
//! arithmetic, comparisons, `&&`, `||`, `!`, `?:` and `double()` over numbers, strings
//! and booleans.
//!
//! Such an expression is compiled once into a tree evaluated straight over the event's
//! fields: no CEL context (a map of variables) is built per event and no field is copied.
//! Whatever the tree cannot decide exactly as CEL would (an overflow, a division by zero,
//! a type that does not fit, a comparison with NaN, a list or an object) makes the
//! evaluation give up, and the caller evaluates the expression with CEL, so that results
//! and error messages are CEL's in every case.

use std::cmp::Ordering;

use cel::common::ast::{operators, Expr as Ast, LiteralValue};
use cel::IdedExpr;
use serde_json::Value;
use styx_runtime::event::Event;

/// A compiled expression of the subset (see the module's documentation).
#[derive(Debug)]
pub(crate) enum Fast {
    /// A field; absent, it is `null`.
    Field(String),
    /// A field that must be there: absent, the evaluation is left to CEL, where it is an
    /// error (see [`Fast::compile`]).
    PresentField(String),
    Literal(Lit),
    Arith(Op, Box<Fast>, Box<Fast>),
    Compare(Cmp, Box<Fast>, Box<Fast>),
    And(Box<Fast>, Box<Fast>),
    Or(Box<Fast>, Box<Fast>),
    Not(Box<Fast>),
    Negate(Box<Fast>),
    If(Box<Fast>, Box<Fast>, Box<Fast>),
    /// `double(x)` of a number.
    ToDouble(Box<Fast>),
}

/// A literal of the subset.
#[derive(Debug)]
pub(crate) enum Lit {
    Null,
    Bool(bool),
    Int(i64),
    Double(f64),
    Str(String),
}

#[derive(Debug, Clone, Copy)]
pub(crate) enum Op {
    Add,
    Sub,
    Mul,
    Div,
}

#[derive(Debug, Clone, Copy)]
pub(crate) enum Cmp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

/// A value while evaluating: borrowed from the event or the expression where it can be.
#[derive(Debug, Clone, Copy)]
enum V<'a> {
    Null,
    Bool(bool),
    Int(i64),
    Double(f64),
    Str(&'a str),
}

/// An owned result of an arithmetic step.
type Out<'a> = Option<V<'a>>;

impl Fast {
    /// The tree of `expr`, when every part of it is in the subset. `fields` are the
    /// variables that are event fields; an absent one is `null`, or, when
    /// `absent_is_error`, an error.
    pub(crate) fn compile(
        expr: &IdedExpr,
        fields: &[String],
        absent_is_error: bool,
    ) -> Option<Fast> {
        Some(match &expr.expr {
            Ast::Ident(name) if fields.contains(name) && absent_is_error => {
                Fast::PresentField(name.clone())
            }
            Ast::Ident(name) if fields.contains(name) => Fast::Field(name.clone()),
            Ast::Literal(lit) => Fast::Literal(match lit {
                LiteralValue::Null => Lit::Null,
                LiteralValue::Boolean(b) => Lit::Bool(*b.inner()),
                LiteralValue::Int(i) => Lit::Int(*i.inner()),
                LiteralValue::Double(d) => Lit::Double(*d.inner()),
                LiteralValue::String(s) => Lit::Str(s.inner().to_string()),
                _ => return None,
            }),
            Ast::Call(call) if call.target.is_none() => {
                let arg =
                    |i: usize| Fast::compile(&call.args[i], fields, absent_is_error).map(Box::new);
                match (call.func_name.as_str(), call.args.len()) {
                    ("styx.add", 2) => Fast::Arith(Op::Add, arg(0)?, arg(1)?),
                    ("styx.sub", 2) => Fast::Arith(Op::Sub, arg(0)?, arg(1)?),
                    ("styx.mul", 2) => Fast::Arith(Op::Mul, arg(0)?, arg(1)?),
                    ("styx.div", 2) => Fast::Arith(Op::Div, arg(0)?, arg(1)?),
                    (operators::EQUALS, 2) => Fast::Compare(Cmp::Eq, arg(0)?, arg(1)?),
                    (operators::NOT_EQUALS, 2) => Fast::Compare(Cmp::Ne, arg(0)?, arg(1)?),
                    (operators::LESS, 2) => Fast::Compare(Cmp::Lt, arg(0)?, arg(1)?),
                    (operators::LESS_EQUALS, 2) => Fast::Compare(Cmp::Le, arg(0)?, arg(1)?),
                    (operators::GREATER, 2) => Fast::Compare(Cmp::Gt, arg(0)?, arg(1)?),
                    (operators::GREATER_EQUALS, 2) => Fast::Compare(Cmp::Ge, arg(0)?, arg(1)?),
                    (operators::LOGICAL_AND, 2) => Fast::And(arg(0)?, arg(1)?),
                    (operators::LOGICAL_OR, 2) => Fast::Or(arg(0)?, arg(1)?),
                    (operators::LOGICAL_NOT, 1) => Fast::Not(arg(0)?),
                    (operators::NEGATE, 1) => Fast::Negate(arg(0)?),
                    (operators::CONDITIONAL, 3) => Fast::If(arg(0)?, arg(1)?, arg(2)?),
                    ("double", 1) => Fast::ToDouble(arg(0)?),
                    _ => return None,
                }
            }
            _ => return None,
        })
    }

    /// The expression's value over `event`, or `None` when CEL must decide.
    pub(crate) fn eval(&self, event: &Event) -> Option<Value> {
        Some(match self.value(event)? {
            V::Null => Value::Null,
            V::Bool(b) => Value::Bool(b),
            V::Int(i) => Value::from(i),
            V::Double(d) => Value::from(d),
            V::Str(s) => Value::String(s.to_string()),
        })
    }

    fn value<'a>(&'a self, event: &'a Event) -> Out<'a> {
        match self {
            Fast::PresentField(name) if !event.contains_key(name) => None,
            Fast::Field(name) | Fast::PresentField(name) => match event.get(name) {
                None | Some(Value::Null) => Some(V::Null),
                Some(Value::Bool(b)) => Some(V::Bool(*b)),
                Some(Value::Number(n)) => match n.as_i64() {
                    Some(i) => Some(V::Int(i)),
                    // An integer above i64::MAX is a CEL uint: left to CEL.
                    None if n.is_u64() => None,
                    None => n.as_f64().map(V::Double),
                },
                Some(Value::String(s)) => Some(V::Str(s)),
                Some(_) => None,
            },
            Fast::Literal(lit) => Some(match lit {
                Lit::Null => V::Null,
                Lit::Bool(b) => V::Bool(*b),
                Lit::Int(i) => V::Int(*i),
                Lit::Double(d) => V::Double(*d),
                Lit::Str(s) => V::Str(s),
            }),
            Fast::Arith(op, a, b) => arith(*op, a.value(event)?, b.value(event)?),
            Fast::Compare(cmp, a, b) => compare(*cmp, a.value(event)?, b.value(event)?),
            // CEL's `&&` and `||` absorb an error on either side when the other decides;
            // the tree decides only when the left side does or both are booleans.
            Fast::And(a, b) => match a.value(event)? {
                V::Bool(false) => Some(V::Bool(false)),
                V::Bool(true) => match b.value(event)? {
                    V::Bool(r) => Some(V::Bool(r)),
                    _ => None,
                },
                _ => None,
            },
            Fast::Or(a, b) => match a.value(event)? {
                V::Bool(true) => Some(V::Bool(true)),
                V::Bool(false) => match b.value(event)? {
                    V::Bool(r) => Some(V::Bool(r)),
                    _ => None,
                },
                _ => None,
            },
            Fast::Not(a) => match a.value(event)? {
                V::Bool(b) => Some(V::Bool(!b)),
                _ => None,
            },
            Fast::Negate(a) => match a.value(event)? {
                V::Int(i) => i.checked_neg().map(V::Int),
                V::Double(d) => Some(V::Double(-d)),
                _ => None,
            },
            Fast::ToDouble(a) => match a.value(event)? {
                V::Int(i) => Some(V::Double(i as f64)),
                V::Double(d) => Some(V::Double(d)),
                _ => None,
            },
            Fast::If(c, t, e) => match c.value(event)? {
                V::Bool(true) => t.value(event),
                V::Bool(false) => e.value(event),
                _ => None,
            },
        }
    }
}

/// Arithmetic of mixed numbers as [`super::numbers`] defines it: two integers give an
/// integer (an overflow or a division by zero is left to CEL, which names it), a double
/// with any number gives a double.
fn arith<'a>(op: Op, a: V<'a>, b: V<'a>) -> Out<'a> {
    match (a, b) {
        (V::Int(x), V::Int(y)) => match op {
            Op::Add => x.checked_add(y),
            Op::Sub => x.checked_sub(y),
            Op::Mul => x.checked_mul(y),
            Op::Div => x.checked_div(y),
        }
        .map(V::Int),
        (V::Int(_) | V::Double(_), V::Int(_) | V::Double(_)) => {
            let (x, y) = (as_f64(a)?, as_f64(b)?);
            Some(V::Double(match op {
                Op::Add => x + y,
                Op::Sub => x - y,
                Op::Mul => x * y,
                Op::Div => x / y,
            }))
        }
        _ => None,
    }
}

fn as_f64(v: V<'_>) -> Option<f64> {
    match v {
        V::Int(i) => Some(i as f64),
        V::Double(d) => Some(d),
        _ => None,
    }
}

/// Comparisons as CEL makes them: numbers of either kind by value (an integer as a
/// double against a double), strings by their bytes, booleans with booleans.
fn compare<'a>(cmp: Cmp, a: V<'a>, b: V<'a>) -> Out<'a> {
    let order = match (a, b) {
        (V::Int(x), V::Int(y)) => x.cmp(&y),
        (V::Int(_) | V::Double(_), V::Int(_) | V::Double(_)) => {
            // NaN compares with nothing: CEL's error or inequality, left to CEL.
            as_f64(a)?.partial_cmp(&as_f64(b)?)?
        }
        (V::Str(x), V::Str(y)) => x.cmp(y),
        (V::Bool(x), V::Bool(y)) if matches!(cmp, Cmp::Eq | Cmp::Ne) => x.cmp(&y),
        _ => return None,
    };
    Some(V::Bool(match cmp {
        Cmp::Eq => order == Ordering::Equal,
        Cmp::Ne => order != Ordering::Equal,
        Cmp::Lt => order == Ordering::Less,
        Cmp::Le => order != Ordering::Greater,
        Cmp::Gt => order == Ordering::Greater,
        Cmp::Ge => order != Ordering::Less,
    }))
}
