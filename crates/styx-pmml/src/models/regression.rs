//! `RegressionModel`: linear and logistic regression with every normalization method.

use crate::compile::{Compiler, ModelNode};
use crate::error::{Fail, PmmlError};
use crate::eval::{Ctx, Slot};
use crate::expr::{num_attr, req};
use crate::functions::std_normal_cdf;
use crate::models::{cat_index, is_classification, set_distribution};
use crate::output::{set_classification_default, set_regression};
use crate::types::{float_exp, round_to, OpType, Val};
use crate::xml::Element;

/// A normalization (link) method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Norm {
    None,
    Simplemax,
    Softmax,
    Logit,
    Probit,
    Cloglog,
    Exp,
    Loglog,
    Cauchit,
}

impl Norm {
    pub(crate) fn parse(s: Option<&str>, element: &str) -> Result<Norm, PmmlError> {
        Ok(match s.unwrap_or("none") {
            "none" => Norm::None,
            "simplemax" => Norm::Simplemax,
            "softmax" => Norm::Softmax,
            "logit" => Norm::Logit,
            "probit" => Norm::Probit,
            "cloglog" => Norm::Cloglog,
            "exp" => Norm::Exp,
            "loglog" => Norm::Loglog,
            "cauchit" => Norm::Cauchit,
            o => {
                return Err(PmmlError::invalid(
                    element,
                    format!("unknown normalizationMethod \"{o}\""),
                ))
            }
        })
    }

    /// The inverse link applied to one value (`softmax` of a single value is `logit`).
    ///
    /// In the float math context every step is a float operation, and `exp` is
    /// [`float_exp`] (as JPMML-Evaluator's `FloatValue` computes it).
    pub(crate) fn apply(self, float: bool, x: f64) -> f64 {
        let r = |v: f64| round_to(float, v);
        let x = r(x);
        let f = |v: f64| v as f32;
        match self {
            Norm::None | Norm::Simplemax => x,
            Norm::Softmax | Norm::Logit => {
                if float {
                    (1.0f32 / (1.0f32 + f(float_exp(-x)))) as f64
                } else {
                    1.0 / (1.0 + (-x).exp())
                }
            }
            Norm::Exp => {
                if float {
                    float_exp(x)
                } else {
                    x.exp()
                }
            }
            Norm::Probit => std_normal_cdf(x),
            Norm::Cloglog => {
                if float {
                    (1.0f32 - f(float_exp(-float_exp(x)))) as f64
                } else {
                    1.0 - (-x.exp()).exp()
                }
            }
            Norm::Loglog => {
                if float {
                    float_exp(-float_exp(-x))
                } else {
                    (-(-x).exp()).exp()
                }
            }
            Norm::Cauchit => {
                if float {
                    (0.5f32 + (1.0f32 / std::f32::consts::PI) * f(x.atan())) as f64
                } else {
                    0.5 + (1.0 / std::f64::consts::PI) * x.atan()
                }
            }
        }
    }
}

#[derive(Debug, Clone)]
struct Table {
    numeric: Vec<(Slot, i32, f64)>,
    categorical: Vec<(Slot, Val, f64)>,
    terms: Vec<(Vec<Slot>, f64)>,
    intercept: f64,
    /// Index of the target category in the model's categories.
    cat: u32,
    /// No predictors and a zero intercept.
    is_default: bool,
}

/// A compiled `RegressionModel`.
#[derive(Debug, Clone)]
pub(crate) struct Regression {
    tables: Vec<Table>,
    norm: Norm,
    ordinal: bool,
}

type Predictors = (
    Vec<(Slot, i32, f64)>,
    Vec<(Slot, Val, f64)>,
    Vec<(Vec<Slot>, f64)>,
);

pub(crate) fn compile_table(
    c: &mut Compiler<'_>,
    t: &Element,
    cat: u32,
) -> Result<Predictors, PmmlError> {
    let mut numeric = Vec::new();
    let mut categorical = Vec::new();
    let mut terms = Vec::new();
    let _ = cat;
    for p in t.content() {
        match p.name.as_str() {
            "NumericPredictor" => {
                let f = c.field(req(p, "name")?, "NumericPredictor")?;
                let exponent = match p.attr("exponent") {
                    None => 1,
                    Some(e) => e.trim().parse::<i32>().map_err(|_| {
                        PmmlError::invalid(
                            "NumericPredictor",
                            format!("exponent \"{e}\" is not an integer"),
                        )
                    })?,
                };
                numeric.push((f.slot, exponent, num_attr(p, "coefficient")?));
            }
            "CategoricalPredictor" => {
                let f = c.field(req(p, "name")?, "CategoricalPredictor")?;
                let v = c.constant_for(f.ty, req(p, "value")?, "CategoricalPredictor")?;
                categorical.push((f.slot, v, num_attr(p, "coefficient")?));
            }
            "PredictorTerm" => {
                let mut slots = Vec::new();
                for r in p.children_named("FieldRef") {
                    slots.push(c.field(req(r, "field")?, "PredictorTerm")?.slot);
                }
                if slots.is_empty() {
                    return Err(PmmlError::invalid(
                        "PredictorTerm",
                        "at least one FieldRef is required",
                    ));
                }
                terms.push((slots, num_attr(p, "coefficient")?));
            }
            other => {
                return Err(PmmlError::invalid(
                    "RegressionTable",
                    format!("unexpected element <{other}>"),
                ))
            }
        }
    }
    Ok((numeric, categorical, terms))
}

pub(crate) fn compile(
    c: &mut Compiler<'_>,
    el: &Element,
    node: &mut ModelNode,
) -> Result<Regression, PmmlError> {
    let norm = Norm::parse(el.attr("normalizationMethod"), "RegressionModel")?;
    let classification = is_classification(node);
    let mut tables = Vec::new();
    for t in el.children_named("RegressionTable") {
        let cat = if classification {
            let text = req(t, "targetCategory")?;
            let v = c.constant_for(node.target.ty, text, "RegressionTable")?;
            cat_index(&mut node.cats, v)
        } else {
            0
        };
        let (numeric, categorical, terms) = compile_table(c, t, cat)?;
        let intercept = match t.attr("intercept") {
            Some(_) => num_attr(t, "intercept")?,
            None => 0.0,
        };
        let is_default =
            numeric.is_empty() && categorical.is_empty() && terms.is_empty() && intercept == 0.0;
        tables.push(Table {
            numeric,
            categorical,
            terms,
            intercept,
            cat,
            is_default,
        });
    }
    if classification {
        if tables.len() < 2 {
            return Err(PmmlError::invalid(
                "RegressionModel",
                "a classification needs at least two RegressionTables",
            ));
        }
        if node.cats.len() != tables.len() {
            return Err(PmmlError::invalid(
                "RegressionModel",
                "duplicate targetCategory",
            ));
        }
        let ordinal = node.target.optype == OpType::Ordinal;
        match norm {
            Norm::Exp => {
                return Err(PmmlError::invalid(
                    "RegressionModel",
                    "normalizationMethod=\"exp\" for a classification",
                ))
            }
            Norm::Logit | Norm::Probit | Norm::Cloglog | Norm::Loglog | Norm::Cauchit
                if !ordinal && tables.len() > 2 && norm != Norm::Logit =>
            {
                return Err(PmmlError::invalid(
                    "RegressionModel",
                    "this normalizationMethod needs a binary or ordinal target",
                ))
            }
            Norm::Simplemax | Norm::Softmax if ordinal => {
                return Err(PmmlError::invalid(
                    "RegressionModel",
                    "softmax/simplemax for an ordinal target",
                ))
            }
            _ => {}
        }
        Ok(Regression {
            tables,
            norm,
            ordinal,
        })
    } else {
        if tables.len() != 1 {
            return Err(PmmlError::invalid(
                "RegressionModel",
                "a regression needs exactly one RegressionTable",
            ));
        }
        if norm == Norm::Simplemax {
            return Err(PmmlError::invalid(
                "RegressionModel",
                "normalizationMethod=\"simplemax\" for a regression",
            ));
        }
        Ok(Regression {
            tables,
            norm,
            ordinal: false,
        })
    }
}

impl Table {
    fn value(&self, ctx: &mut Ctx<'_>, float: bool) -> Result<Option<f64>, Fail> {
        let r = |x: f64| round_to(float, x);
        let mut acc = 0.0;
        for (slot, exponent, coef) in &self.numeric {
            let Some(x) = ctx.get(*slot)?.num() else {
                return Ok(None);
            };
            let mut p = r(x);
            match *exponent {
                1 => {}
                // The product is the correctly rounded square, which `powf` also returns.
                2 => p = r(p * p),
                e => p = r(p.powf(e as f64)),
            }
            acc = r(acc + r(p * r(*coef)));
        }
        let mut matched: Option<Slot> = None;
        for (slot, value, coef) in &self.categorical {
            if let Some(m) = matched {
                if m == *slot {
                    continue;
                }
                matched = None;
            }
            let v = ctx.get(*slot)?;
            if v.is_missing() {
                matched = Some(*slot);
                continue;
            }
            if ctx.equal(v, *value) {
                matched = Some(*slot);
                acc = r(acc + r(*coef));
            }
        }
        for (slots, coef) in &self.terms {
            let mut p = r(*coef);
            for s in slots {
                let Some(x) = ctx.get(*s)?.num() else {
                    return Ok(None);
                };
                p = r(p * r(x));
            }
            acc = r(acc + p);
        }
        Ok(Some(r(acc + r(self.intercept))))
    }
}

impl Regression {
    pub(crate) fn evaluate(&self, ctx: &mut Ctx<'_>, index: usize) -> Result<(), Fail> {
        let node = &ctx.m.models[index];
        let float = node.float;
        if !is_classification(node) {
            let v = self.tables[0].value(ctx, float)?;
            let v = v.map(|x| self.norm.apply(float, x));
            set_regression(ctx, index, v);
            return Ok(());
        }
        let mut probs = std::mem::take(&mut ctx.s.preds[index].probs);
        for t in &self.tables {
            match t.value(ctx, float) {
                Ok(Some(x)) => probs[t.cat as usize] = x,
                Ok(None) => {
                    ctx.s.preds[index].probs = probs;
                    set_classification_default(ctx, index);
                    return Ok(());
                }
                Err(e) => {
                    ctx.s.preds[index].probs = probs;
                    return Err(e);
                }
            }
        }
        self.normalize(&mut probs, float);
        ctx.s.preds[index].probs = probs;
        set_distribution(ctx, index, None, None);
        Ok(())
    }

    /// Turns the table values (in table order = category order) into probabilities.
    fn normalize(&self, v: &mut [f64], float: bool) {
        let r = |x: f64| round_to(float, x);
        let n = v.len();
        let binomial = |v: &mut [f64], norm: Norm| {
            v[0] = match norm {
                Norm::None => r(v[0].clamp(0.0, 1.0)),
                other => other.apply(float, v[0]),
            };
            v[1] = r(1.0 - v[0]);
        };
        if self.ordinal {
            let mut sum = 0.0;
            for (i, vi) in v.iter_mut().enumerate().take(n - 1) {
                let mut x = match self.norm {
                    Norm::None => r(vi.clamp(0.0, 1.0)),
                    other => other.apply(float, *vi),
                };
                if i > 0 {
                    x = r(x - sum);
                    sum = r(sum + x);
                } else {
                    sum = x;
                }
                *vi = x;
            }
            v[n - 1] = r(1.0 - sum);
            return;
        }
        match self.norm {
            Norm::None => {
                if n == 2 {
                    binomial(v, Norm::None);
                } else {
                    let mut sum = 0.0;
                    for x in v.iter().take(n - 1) {
                        sum = r(sum + *x);
                    }
                    v[n - 1] = r(1.0 - sum);
                }
            }
            Norm::Softmax if n == 2 && self.tables[1].is_default => binomial(v, Norm::Logit),
            Norm::Softmax => softmax(v, float),
            Norm::Simplemax => {
                let mut sum = 0.0;
                for x in v.iter() {
                    sum = r(sum + *x);
                }
                if sum != 1.0 {
                    for x in v.iter_mut() {
                        *x = r(*x / sum);
                    }
                }
            }
            norm if n == 2 => binomial(v, norm),
            norm => {
                // Logit over more than two categories: one-vs-rest probabilities, normalized.
                let mut sum = 0.0;
                for x in v.iter_mut() {
                    *x = norm.apply(float, *x);
                    sum = r(sum + *x);
                }
                for x in v.iter_mut() {
                    *x = r(*x / sum);
                }
            }
        }
    }
}

/// Softmax as JPMML computes it: `exp(x - max)` (the largest value subtracted first, for
/// accuracy), summed in order, each divided by the sum unless the sum is exactly one; in
/// the float math context every step is a float operation.
pub(crate) fn softmax(v: &mut [f64], float: bool) {
    let r = |x: f64| round_to(float, x);
    let Some(max) = v.iter().copied().reduce(|m, x| if m < x { x } else { m }) else {
        return;
    };
    let mut sum = 0.0;
    for x in v.iter_mut() {
        let d = r(*x - max);
        *x = if float { float_exp(d) } else { d.exp() };
        sum = r(sum + *x);
    }
    if sum != 1.0 {
        for x in v.iter_mut() {
            *x = r(*x / sum);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inverse_links() {
        assert!((Norm::Logit.apply(false, 0.0) - 0.5).abs() < 1e-15);
        assert!((Norm::Exp.apply(false, 1.0) - std::f64::consts::E).abs() < 1e-15);
        assert!((Norm::Probit.apply(false, 0.0) - 0.5).abs() < 1e-15);
        assert!((Norm::Probit.apply(false, 1.959963984540054) - 0.975).abs() < 1e-12);
        assert!((Norm::Cloglog.apply(false, 0.0) - (1.0 - (-1.0f64).exp())).abs() < 1e-15);
        assert!((Norm::Loglog.apply(false, 0.0) - (-1.0f64).exp()).abs() < 1e-15);
        assert!((Norm::Cauchit.apply(false, 1.0) - 0.75).abs() < 1e-15);
        let f = Norm::Logit.apply(true, 4.1536);
        assert_eq!(
            f,
            (1.0f32 / (1.0f32 + (2.7182817f64.powf(-4.1536f32 as f64) as f32))) as f64
        );
    }

    #[test]
    fn softmax_and_simplemax_sum_to_one() {
        let model = |norm| Regression {
            tables: vec![],
            norm,
            ordinal: false,
        };
        let mut v = [1.0, 2.0, 3.0];
        model(Norm::Softmax).normalize(&mut v, false);
        assert!((v.iter().sum::<f64>() - 1.0).abs() < 1e-15);
        assert!(v[2] > v[1] && v[1] > v[0]);
        let mut v = [1.0, 1.0, 2.0];
        model(Norm::Simplemax).normalize(&mut v, false);
        assert_eq!(v, [0.25, 0.25, 0.5]);
        let mut v = [0.3, 0.9, 0.0];
        model(Norm::None).normalize(&mut v, false);
        assert!((v[2] - (1.0 - 1.2)).abs() < 1e-15);
    }
}
