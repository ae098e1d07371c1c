//! The inverse link functions of generalized linear models (`linkFunction` with its
//! `linkParameter` or `distParameter`) and the cumulative links of ordinal models.

use crate::error::PmmlError;
use crate::expr::{opt_num_attr, req};
use crate::models::regression::Norm;
use crate::types::{float_exp, round_to};
use crate::xml::Element;

/// The inverse of a `linkFunction` of a generalized linear model.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Link {
    Identity,
    Log,
    Logc,
    Logit,
    Cloglog,
    Loglog,
    Probit,
    /// With the `distParameter`.
    Negbin(f64),
    /// With the `linkParameter`.
    Oddspower(f64),
    /// With the `linkParameter`.
    Power(f64),
}

impl Link {
    pub(super) fn apply(self, float: bool, x: f64) -> f64 {
        let r = |v: f64| round_to(float, v);
        let exp = |v: f64| if float { float_exp(v) } else { v.exp() };
        let pow = |b: f64, e: f64| r(r(b).powf(r(e)));
        match self {
            Link::Identity => x,
            Link::Log => exp(x),
            Link::Logc => r(1.0 - exp(x)),
            Link::Logit => Norm::Logit.apply(float, x),
            Link::Cloglog => Norm::Cloglog.apply(float, x),
            Link::Loglog => Norm::Loglog.apply(float, x),
            Link::Probit => Norm::Probit.apply(float, x),
            Link::Negbin(d) => r(1.0 / r(r(d) * r(exp(-x) - 1.0))),
            Link::Oddspower(p) => {
                let p = r(p);
                if p != 0.0 {
                    r(1.0 / r(1.0 + pow(r(1.0 + r(p * x)), -r(1.0 / p))))
                } else {
                    r(1.0 / r(1.0 + exp(-x)))
                }
            }
            Link::Power(p) => {
                let p = r(p);
                if p != 0.0 {
                    pow(x, r(1.0 / p))
                } else {
                    exp(x)
                }
            }
        }
    }
}

fn bad(message: &str) -> PmmlError {
    PmmlError::invalid("GeneralRegressionModel", message)
}

/// The `linkFunction` of a generalized linear model with its parameter.
pub(super) fn parse_link(el: &Element) -> Result<Link, PmmlError> {
    let link_parameter = || {
        opt_num_attr(el, "linkParameter")?.ok_or_else(|| bad("linkFunction needs a linkParameter"))
    };
    Ok(match req(el, "linkFunction")? {
        "identity" => Link::Identity,
        "log" => Link::Log,
        "logc" => Link::Logc,
        "logit" => Link::Logit,
        "cloglog" => Link::Cloglog,
        "loglog" => Link::Loglog,
        "probit" => Link::Probit,
        "negbin" => Link::Negbin(
            opt_num_attr(el, "distParameter")?
                .ok_or_else(|| bad("linkFunction=\"negbin\" needs a distParameter"))?,
        ),
        "oddspower" => Link::Oddspower(link_parameter()?),
        "power" => Link::Power(link_parameter()?),
        o => {
            return Err(PmmlError::unsupported(
                "GeneralRegressionModel",
                format!("linkFunction=\"{o}\" is not supported"),
            ))
        }
    })
}

/// The `cumulativeLink` of an ordinal multinomial model.
pub(super) fn parse_cumulative(el: &Element) -> Result<Norm, PmmlError> {
    Ok(match req(el, "cumulativeLink")? {
        "logit" => Norm::Logit,
        "probit" => Norm::Probit,
        "cloglog" => Norm::Cloglog,
        "loglog" => Norm::Loglog,
        "cauchit" => Norm::Cauchit,
        o => {
            return Err(PmmlError::unsupported(
                "GeneralRegressionModel",
                format!("cumulativeLink=\"{o}\" is not supported"),
            ))
        }
    })
}
