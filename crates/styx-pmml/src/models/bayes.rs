//! `NaiveBayesModel`: discrete (`PairCounts`, of a field or of its bins by a `Discretize`)
//! and Gaussian/Poisson (`TargetValueStats`) inputs, `BayesOutput` priors and the
//! probability `threshold`, computed as JPMML-Evaluator computes them: in logarithms, each
//! category multiplied only by the counts and distributions that name it, a density below
//! the threshold raised to it (a NaN one kept, so the result is NaN), a count of zero
//! replaced by the threshold and any other divided by the sum of the field's counts for
//! the category.

use crate::compile::{Compiler, ModelNode};
use crate::error::{EvalError, Fail, PmmlError};
use crate::eval::{Ctx, Slot};
use crate::expr::{num_attr, req, Expr};
use crate::models::{cat_index, set_distribution};
use crate::types::Val;
use crate::xml::Element;

#[derive(Debug, Clone)]
enum Dist {
    Gaussian { mean: f64, variance: f64 },
    Poisson { mean: f64 },
}

#[derive(Debug, Clone)]
enum Input {
    /// Per category: the distribution of the field (none: the category is not named).
    Continuous {
        slot: Slot,
        dists: Vec<Option<Dist>>,
    },
    /// (field value, per category count (none: not named)), and per category the sum of
    /// the counts of all values.
    Discrete {
        slot: Slot,
        /// The `DerivedField` whose value (a bin of the field's) the counts are of.
        bins: Option<Expr>,
        counts: Vec<(Val, Vec<Option<f64>>)>,
        sums: Vec<f64>,
    },
}

/// A compiled `NaiveBayesModel`.
#[derive(Debug, Clone)]
pub(crate) struct Bayes {
    inputs: Vec<Input>,
    /// Per category, the count of `BayesOutput` (none: not counted).
    priors: Vec<Option<f64>>,
    threshold: f64,
}

/// Counts JPMML takes for zero (`Precision.EPSILON` of Commons Math).
const ZERO_COUNT: f64 = f64::EPSILON / 2.0;

pub(crate) fn compile(
    c: &mut Compiler<'_>,
    el: &Element,
    node: &mut ModelNode,
) -> Result<Bayes, PmmlError> {
    let threshold = num_attr(el, "threshold")?;
    let out = el
        .child("BayesOutput")
        .ok_or_else(|| PmmlError::invalid("NaiveBayesModel", "a BayesOutput is required"))?;
    let tvc = out
        .child("TargetValueCounts")
        .ok_or_else(|| PmmlError::invalid("BayesOutput", "TargetValueCounts are required"))?;
    let mut priors = Vec::new();
    for t in tvc.children_named("TargetValueCount") {
        let v = c.constant_for(node.target.ty, req(t, "value")?, "TargetValueCount")?;
        let i = cat_index(&mut node.cats, v) as usize;
        if priors.len() <= i {
            priors.resize(i + 1, None);
        }
        priors[i] = Some(num_attr(t, "count")?);
    }
    let ncat = node.cats.len();
    let mut inputs = Vec::new();
    let bis = el
        .child("BayesInputs")
        .ok_or_else(|| PmmlError::invalid("NaiveBayesModel", "BayesInputs are required"))?;
    for bi in bis.children_named("BayesInput") {
        let f = c.field(req(bi, "fieldName")?, "BayesInput")?;
        if let Some(stats) = bi.child("TargetValueStats") {
            let mut dists = vec![None; ncat];
            for s in stats.children_named("TargetValueStat") {
                let v = c.constant_for(node.target.ty, req(s, "value")?, "TargetValueStat")?;
                let Some(i) = node.cats.iter().position(|x| *x == v) else {
                    return Err(PmmlError::invalid(
                        "TargetValueStat",
                        "a category that BayesOutput does not count",
                    ));
                };
                dists[i] = Some(if let Some(g) = s.child("GaussianDistribution") {
                    Dist::Gaussian {
                        mean: num_attr(g, "mean")?,
                        variance: num_attr(g, "variance")?,
                    }
                } else if let Some(p) = s.child("PoissonDistribution") {
                    Dist::Poisson {
                        mean: num_attr(p, "mean")?,
                    }
                } else {
                    return Err(PmmlError::unsupported(
                        "TargetValueStat",
                        "only Gaussian and Poisson distributions are supported",
                    ));
                });
            }
            inputs.push(Input::Continuous {
                slot: f.slot,
                dists,
            });
        } else {
            // The counts of a field's bins: only a `Discretize` makes them.
            let (bins, ty) = match bi.child("DerivedField") {
                Some(df) => {
                    if df.child("Discretize").is_none() {
                        return Err(PmmlError::unsupported(
                            "BayesInput",
                            "a DerivedField other than a Discretize",
                        ));
                    }
                    let ty = match df.attr("dataType") {
                        Some(t) => crate::types::DataType::parse(t, "DerivedField")?,
                        None => crate::types::DataType::String,
                    };
                    (Some(c.anonymous_derived(df)?), ty)
                }
                None => (None, f.ty),
            };
            let mut counts = Vec::new();
            let mut sums = vec![0.0; ncat];
            for pc in bi.children_named("PairCounts") {
                let v = c.constant_for(ty, req(pc, "value")?, "PairCounts")?;
                let mut row = vec![None; ncat];
                let tvc = pc.child("TargetValueCounts").ok_or_else(|| {
                    PmmlError::invalid("PairCounts", "TargetValueCounts are required")
                })?;
                for t in tvc.children_named("TargetValueCount") {
                    let cv =
                        c.constant_for(node.target.ty, req(t, "value")?, "TargetValueCount")?;
                    let Some(i) = node.cats.iter().position(|x| *x == cv) else {
                        return Err(PmmlError::invalid(
                            "TargetValueCount",
                            "a category that BayesOutput does not count",
                        ));
                    };
                    let count = num_attr(t, "count")?;
                    row[i] = Some(count);
                    sums[i] += count;
                }
                counts.push((v, row));
            }
            inputs.push(Input::Discrete {
                slot: f.slot,
                bins,
                counts,
                sums,
            });
        }
    }
    Ok(Bayes {
        inputs,
        priors,
        threshold,
    })
}

fn ln_factorial(k: f64) -> f64 {
    libm::lgamma(k + 1.0)
}

impl Bayes {
    pub(crate) fn evaluate(&self, ctx: &mut Ctx<'_>, index: usize) -> Result<(), Fail> {
        let mut probs = std::mem::take(&mut ctx.s.preds[index].probs);
        let result = self.log_probabilities(ctx, &mut probs);
        let n = self.priors.len();
        if result.is_ok() {
            crate::models::regression::softmax(&mut probs[..n], false);
        }
        ctx.s.preds[index].probs = probs;
        result?;
        set_distribution(ctx, index, None, None);
        Ok(())
    }

    /// The logarithm of each category's probability, up to a constant.
    fn log_probabilities(&self, ctx: &mut Ctx<'_>, probs: &mut [f64]) -> Result<(), Fail> {
        // A factor below the threshold is raised to it (as `Double.compare` orders
        // numbers: a NaN is above it, and stays).
        let floor = |l: f64| {
            if l < self.threshold {
                self.threshold
            } else {
                l
            }
        };
        for (p, prior) in probs.iter_mut().zip(&self.priors) {
            *p = prior.map_or(0.0, f64::ln);
        }
        for input in &self.inputs {
            match input {
                Input::Continuous { slot, dists } => {
                    let Some(x) = ctx.get(*slot)?.num() else {
                        continue;
                    };
                    for (p, d) in probs.iter_mut().zip(dists) {
                        let l = match d {
                            Some(Dist::Gaussian { mean, variance }) => {
                                if *variance <= 0.0 {
                                    return Err(EvalError::Evaluation(format!(
                                        "GaussianDistribution: the variance {variance} is not positive"
                                    ))
                                    .into());
                                }
                                gaussian_density(x, *mean, *variance)
                            }
                            Some(Dist::Poisson { mean }) => {
                                (x * mean.ln() - mean - ln_factorial(x)).exp()
                            }
                            None => continue,
                        };
                        *p += floor(l).ln();
                    }
                }
                Input::Discrete {
                    slot,
                    bins,
                    counts,
                    sums,
                } => {
                    let mut v = ctx.get(*slot)?;
                    if v.is_missing() {
                        continue;
                    }
                    if let Some(bins) = bins {
                        v = bins.eval(ctx)?;
                        if v.is_missing() {
                            continue;
                        }
                    }
                    let Some((_, row)) = counts.iter().find(|(k, _)| ctx.equal(*k, v)) else {
                        continue;
                    };
                    for ((p, count), sum) in probs.iter_mut().zip(row).zip(sums) {
                        let Some(count) = *count else { continue };
                        let l = if count.abs() <= ZERO_COUNT {
                            self.threshold
                        } else {
                            count / sum
                        };
                        *p += l.ln();
                    }
                }
            }
        }
        Ok(())
    }
}

/// The density of a normal distribution at `x`, computed as Commons Math's
/// `NormalDistribution.density` computes it (JPMML's): from its logarithm.
fn gaussian_density(x: f64, mean: f64, variance: f64) -> f64 {
    let sd = variance.sqrt();
    let z = (x - mean) / sd;
    (-0.5 * z * z - (sd.ln() + 0.5 * (2.0 * std::f64::consts::PI).ln())).exp()
}
