//! Arithmetic, aggregate, rounding, elementary and normal-distribution functions.

use super::{as_integer, as_number, common_type, err, runtime_type, typed, Call, Func, Outcome};
use crate::error::Fail;
use crate::eval::Ctx;
use crate::types::{DataType, Val};

/// `+ - * / modulo pow threshold`: computed in the arguments' common type (32-bit
/// integers with checked overflow, floats rounded to 32 bits).
pub(super) fn binary(
    ctx: &mut Ctx<'_>,
    call: &Call,
    tys: &[DataType],
    args: &[Val],
) -> Result<Outcome, Fail> {
    use Func::*;
    let f = call.f;
    // Arithmetic of a missing value is missing (pow and threshold fail before this).
    if args.iter().any(|a| a.is_missing()) {
        return Ok(Outcome::Value(Val::Missing));
    }
    let tys = [runtime_type(args[0], tys[0]), runtime_type(args[1], tys[1])];
    let Some(ty) = common_type(&tys) else {
        return Err(err(
            f,
            format!(
                "no common numeric type of {} and {}",
                tys[0].name(),
                tys[1].name()
            ),
        ));
    };
    let a = as_number(ctx, f, args[0], tys[0])?;
    let b = as_number(ctx, f, args[1], tys[1])?;
    if ty == DataType::Integer {
        // Integer values are 32-bit; wider arithmetic cannot overflow before the check.
        let (a, b) = (a as i32 as i64, b as i32 as i64);
        let r = match f {
            Add => a + b,
            Sub => a - b,
            Mul => a * b,
            Div => {
                if b == 0 {
                    return Ok(Outcome::Undefined);
                }
                // Java's int division (MIN / -1 wraps to MIN).
                (a as i32).wrapping_div(b as i32) as i64
            }
            Modulo => {
                if b == 0 {
                    return Ok(Outcome::Undefined);
                }
                // Java's floor modulo.
                let mut q = a / b;
                if (a ^ b) < 0 && q * b != a {
                    q -= 1;
                }
                a - q * b
            }
            Pow => {
                if b < 0 {
                    return Err(err(f, format!("exponent {b}: must be at least 0")));
                }
                match (a as i32).checked_pow(b.min(u32::MAX as i64) as u32) {
                    Some(r) => r as i64,
                    None => return Err(err(f, "integer overflow")),
                }
            }
            _ => (a > b) as i64,
        };
        if !(i32::MIN as i64..=i32::MAX as i64).contains(&r) {
            return Ok(Outcome::Undefined);
        }
        return Ok(Outcome::Value(Val::Num(r as f64)));
    }
    let r = match f {
        Add => a + b,
        Sub => a - b,
        Mul => a * b,
        Div => a / b,
        Modulo => a - (a / b).floor() * b,
        Pow => a.powf(b),
        // Java's Double.compare: -0.0 below 0.0, NaN above everything.
        _ => (a.total_cmp(&b) == std::cmp::Ordering::Greater) as u8 as f64,
    };
    Ok(Outcome::Value(typed(f, ty, r)?))
}

/// `min max sum avg product`: missing arguments are ignored (all missing: missing); the
/// result has the common type of the others (`avg` of integers is a double).
pub(super) fn aggregate(
    ctx: &mut Ctx<'_>,
    call: &Call,
    tys: &[DataType],
    args: &[Val],
) -> Result<Val, Fail> {
    use Func::*;
    let f = call.f;
    let mut n = 0usize;
    let mut ty: Option<DataType> = None;
    let mut acc = match f {
        Sum => 0.0,
        Product => 1.0,
        _ => f64::NAN,
    };
    for (a, t) in args.iter().zip(tys.iter()) {
        if a.is_missing() {
            continue;
        }
        let t = runtime_type(*a, *t);
        ty = Some(match ty {
            None => t,
            Some(u) => common_type(&[u, t]).ok_or_else(|| {
                err(
                    f,
                    format!("no common numeric type of {} and {}", u.name(), t.name()),
                )
            })?,
        });
        let x = as_number(ctx, f, *a, t)?;
        n += 1;
        acc = match f {
            Min => {
                if x < acc || acc.is_nan() {
                    x
                } else {
                    acc
                }
            }
            Max => {
                if x > acc || acc.is_nan() {
                    x
                } else {
                    acc
                }
            }
            Sum => acc + x,
            Product => acc * x,
            // The running mean, as Commons Math's `Mean` increments it.
            _ => {
                if n == 1 {
                    x
                } else {
                    acc + (x - acc) / n as f64
                }
            }
        };
    }
    let Some(ty) = ty else {
        return Ok(Val::Missing);
    };
    if !ty.is_numeric() {
        return Err(err(f, format!("a {} is not a number", ty.name())));
    }
    let ty = if f == Avg && ty == DataType::Integer {
        DataType::Double
    } else {
        ty
    };
    typed(f, ty, acc)
}

/// Java's `(long)` conversion of a double, then its 32-bit check (`Math.toIntExact`).
fn to_int(f: Func, x: f64) -> Result<Val, Fail> {
    let l = x as i64;
    if !(i32::MIN as i64..=i32::MAX as i64).contains(&l) {
        return Err(err(f, "integer overflow"));
    }
    Ok(Val::Num(l as f64))
}

/// One-argument math functions.
pub(super) fn unary(ctx: &mut Ctx<'_>, call: &Call, tys: &[DataType], v: Val) -> Result<Val, Fail> {
    use Func::*;
    let f = call.f;
    let t = runtime_type(v, tys[0]);
    let x = as_number(ctx, f, v, t)?;
    let d = |r: f64| Ok(Val::Num(r));
    match f {
        Log10 => d(x.log10()),
        Ln => d(x.ln()),
        Ln1p => d(x.ln_1p()),
        Sqrt => d(x.sqrt()),
        Exp => d(x.exp()),
        Expm1 => d(x.exp_m1()),
        Sin => d(x.sin()),
        Cos => d(x.cos()),
        Tan => d(x.tan()),
        Asin => d(x.asin()),
        Acos => d(x.acos()),
        Atan => d(x.atan()),
        Sinh => d(x.sinh()),
        Cosh => d(x.cosh()),
        Tanh => d(x.tanh()),
        Erf => d(erf(x)),
        StdNormalCdf => d(normal_cdf(x, 0.0, 1.0)),
        StdNormalPdf => d(normal_pdf(x, 0.0, 1.0)),
        StdNormalIdf => normal_idf(f, x, 0.0, 1.0).map(Val::Num),
        Abs | Rint if t.is_period() => Err(err(f, format!("a {} cannot be rounded", t.name()))),
        Abs => typed(f, numeric_or_double(t), x.abs()),
        Rint => typed(f, numeric_or_double(t), x.round_ties_even()),
        Floor => to_int(f, x.floor()),
        Ceil => to_int(f, x.ceil()),
        _ => {
            // Java's Math.round: the nearest integer, halves up.
            let fl = x.floor();
            let r = if x - fl >= 0.5 { fl + 1.0 } else { fl };
            to_int(f, if x.is_nan() { 0.0 } else { r })
        }
    }
}

fn numeric_or_double(t: DataType) -> DataType {
    if t.is_numeric() {
        t
    } else {
        DataType::Double
    }
}

/// `x-atan2`, `hypot` and the normal distribution with a mean and a standard deviation.
pub(super) fn other(
    ctx: &mut Ctx<'_>,
    call: &Call,
    tys: &[DataType],
    args: &[Val],
) -> Result<Val, Fail> {
    use Func::*;
    let f = call.f;
    let n = |i: usize| as_number(ctx, f, args[i], runtime_type(args[i], tys[i]));
    let (a, b) = (n(0)?, n(1)?);
    match f {
        Atan2 => Ok(Val::Num(a.atan2(b))),
        Hypot => Ok(Val::Num(a.hypot(b))),
        _ => {
            let sigma = n(2)?;
            if sigma <= 0.0 || sigma.is_nan() {
                return Err(err(f, format!("sigma {sigma}: must be greater than 0")));
            }
            Ok(Val::Num(match f {
                NormalCdf => normal_cdf(a, b, sigma),
                NormalPdf => normal_pdf(a, b, sigma),
                _ => normal_idf(f, a, b, sigma)?,
            }))
        }
    }
}

/// The error function, saturated beyond |x| > 40 as Commons Math's is.
fn erf(x: f64) -> f64 {
    if x.abs() > 40.0 {
        x.signum()
    } else {
        libm::erf(x)
    }
}

/// The standard normal cumulative distribution.
pub(crate) fn std_normal_cdf(x: f64) -> f64 {
    normal_cdf(x, 0.0, 1.0)
}

fn normal_cdf(x: f64, mu: f64, sigma: f64) -> f64 {
    let dev = x - mu;
    if dev.abs() > 40.0 * sigma {
        return if dev < 0.0 { 0.0 } else { 1.0 };
    }
    0.5 * libm::erfc(-dev / (sigma * std::f64::consts::SQRT_2))
}

fn normal_pdf(x: f64, mu: f64, sigma: f64) -> f64 {
    let z = (x - mu) / sigma;
    let log = sigma.ln() + 0.5 * (2.0 * std::f64::consts::PI).ln();
    (-0.5 * z * z - log).exp()
}

fn normal_idf(f: Func, p: f64, mu: f64, sigma: f64) -> Result<f64, Fail> {
    if !(0.0..=1.0).contains(&p) {
        return Err(err(f, format!("{p} is out of range [0, 1]")));
    }
    if p == 0.0 {
        return Ok(f64::NEG_INFINITY);
    }
    if p == 1.0 {
        return Ok(f64::INFINITY);
    }
    Ok(mu + sigma * std::f64::consts::SQRT_2 * erf_inv(2.0 * p - 1.0))
}

/// The inverse error function: an initial estimate refined by Newton steps on `erf` (or
/// on `erfc` in the tails, where `1 - y` carries the precision).
fn erf_inv(y: f64) -> f64 {
    if y <= -1.0 {
        return f64::NEG_INFINITY;
    }
    if y >= 1.0 {
        return f64::INFINITY;
    }
    if y < 0.0 {
        return -erf_inv(-y);
    }
    // Winitzki's approximation as the start.
    let a = 0.147;
    let ln = (1.0 - y * y).ln();
    let t = 2.0 / (std::f64::consts::PI * a) + ln / 2.0;
    let mut x = ((t * t - ln / a).sqrt() - t).sqrt();
    let c = 2.0 / std::f64::consts::PI.sqrt();
    let q = 1.0 - y;
    for _ in 0..60 {
        let d = c * (-x * x).exp();
        if d == 0.0 {
            break;
        }
        let step = if y > 0.5 {
            (q - libm::erfc(x)) / d
        } else {
            (libm::erf(x) - y) / d
        };
        x -= step;
        if step.abs() <= 1e-17 * x.abs().max(1e-300) {
            break;
        }
    }
    x
}

/// `substring` arguments and date-function years go through here too.
pub(super) fn int_arg(ctx: &Ctx<'_>, f: Func, v: Val) -> Result<i64, Fail> {
    as_integer(ctx, f, v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inverse_normal() {
        for p in [0.001, 0.025, 0.3, 0.5, 0.75, 0.975, 0.999999] {
            let x = normal_idf(Func::NormalIdf, p, 0.0, 1.0).unwrap();
            let back = normal_cdf(x, 0.0, 1.0);
            assert!((back - p).abs() <= 1e-14 * p.max(1e-3), "{p} {x} {back}");
        }
        assert!((erf_inv(0.5) - 0.476_936_276_204_469_9).abs() < 1e-15);
    }
}
