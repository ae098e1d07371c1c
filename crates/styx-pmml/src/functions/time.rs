//! Date and time functions: `dateDaysSinceYear`, `dateSecondsSinceYear`,
//! `dateSecondsSinceMidnight` and `formatDatetime` (a C-style `%Y-%m-%d` pattern, each
//! `%X` read as Java's `%1$tX`).

use super::javafmt::{self, Arg};
use super::math::int_arg;
use super::{err, runtime_type, typed, Call, Func};
use crate::error::Fail;
use crate::eval::Ctx;
use crate::temporal;
use crate::types::{DataType, Val};

/// The value as a date, time or date-time, as JPMML's `asInstant` reads it.
fn instant(ctx: &Ctx<'_>, f: Func, v: Val, t: DataType) -> Result<Arg, Fail> {
    match (v, runtime_type(v, t)) {
        (Val::Num(x), DataType::Date) => Ok(Arg::Date(x as i64)),
        (Val::Num(x), DataType::Time) => Ok(Arg::Time(x)),
        (Val::Num(x), DataType::DateTime) => Ok(Arg::DateTime(x)),
        (Val::Str(id), _) => {
            let s = ctx.text(id);
            // JPMML reads text as a date-time only (other text fails to parse).
            match temporal::parse_datetime(s) {
                Some(x) => Ok(Arg::DateTime(x)),
                None => Err(err(f, format!("\"{s}\" is not a date-time"))),
            }
        }
        (_, t) => Err(err(f, format!("a {} is not a date or time", t.name()))),
    }
}

pub(super) fn apply(
    ctx: &mut Ctx<'_>,
    call: &Call,
    tys: &[DataType],
    args: &[Val],
) -> Result<Val, Fail> {
    use Func::*;
    let f = call.f;
    // Text is read as the kind of value the function takes (JPMML's asDate, asDateTime,
    // asTime); formatDatetime reads it as a date-time.
    let arg = match (args[0], f) {
        (Val::Str(id), DateDaysSinceYear) => Arg::Date(
            temporal::parse_date(ctx.text(id))
                .ok_or_else(|| err(f, format!("\"{}\" is not a date", ctx.text(id))))?,
        ),
        (Val::Str(id), DateSecondsSinceMidnight) => Arg::Time(
            temporal::parse_time(ctx.text(id))
                .ok_or_else(|| err(f, format!("\"{}\" is not a time", ctx.text(id))))?,
        ),
        _ => instant(ctx, f, args[0], tys[0])?,
    };
    match f {
        DateDaysSinceYear => {
            let day = match arg {
                Arg::Date(d) => d,
                Arg::DateTime(x) => temporal::split_datetime(x).0,
                _ => return Err(err(f, "a time is not a date")),
            };
            let year = int_arg(ctx, f, args[1])?;
            typed(
                f,
                DataType::Integer,
                (day - temporal::year_start(year)) as f64,
            )
        }
        DateSecondsSinceYear => {
            let Arg::DateTime(x) = arg else {
                return Err(err(f, "the argument is not a date-time"));
            };
            let year = int_arg(ctx, f, args[1])?;
            let secs = x - temporal::year_start(year) as f64 * 86_400.0;
            typed(f, DataType::Integer, secs.trunc())
        }
        DateSecondsSinceMidnight => {
            let secs = match arg {
                Arg::Time(x) => x,
                Arg::DateTime(x) => temporal::split_datetime(x).1,
                _ => return Err(err(f, "a date is not a time")),
            };
            typed(f, DataType::Integer, secs.floor())
        }
        _ => super::format(ctx, f, args[1], tys[1], javafmt::Syntax::Datetime, arg),
    }
}
