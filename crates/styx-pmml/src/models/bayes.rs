//! `NaiveBayesModel`: discrete (`PairCounts`) and Gaussian/Poisson (`TargetValueStats`)
//! inputs, `BayesOutput` priors and the probability `threshold`.

use crate::compile::{Compiler, ModelNode};
use crate::error::{Fail, PmmlError};
use crate::eval::{Ctx, Slot};
use crate::expr::{num_attr, opt_num_attr, req};
use crate::models::{cat_index, set_distribution};
use crate::output::set_classification_default;
use crate::types::Val;
use crate::xml::Element;

#[derive(Debug, Clone)]
enum Dist {
    Gaussian { mean: f64, variance: f64 },
    Poisson { mean: f64 },
}

#[derive(Debug, Clone)]
enum Input {
    /// Per category: the distribution of the field.
    Continuous {
        slot: Slot,
        dists: Vec<Option<Dist>>,
    },
    /// (field value, per category count).
    Discrete {
        slot: Slot,
        counts: Vec<(Val, Vec<f64>)>,
    },
}

/// A compiled `NaiveBayesModel`.
#[derive(Debug, Clone)]
pub(crate) struct Bayes {
    inputs: Vec<Input>,
    priors: Vec<f64>,
    threshold: f64,
}

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
            priors.resize(i + 1, 0.0);
        }
        priors[i] = num_attr(t, "count")?;
    }
    let ncat = node.cats.len();
    let mut inputs = Vec::new();
    let bis = el
        .child("BayesInputs")
        .ok_or_else(|| PmmlError::invalid("NaiveBayesModel", "BayesInputs are required"))?;
    for bi in bis.children_named("BayesInput") {
        let f = c.field(req(bi, "fieldName")?, "BayesInput")?;
        if bi.child("DerivedField").is_some() {
            return Err(PmmlError::unsupported(
                "BayesInput",
                "a DerivedField (discretized input) is not supported",
            ));
        }
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
            let mut counts = Vec::new();
            for pc in bi.children_named("PairCounts") {
                let v = c.constant_for(f.ty, req(pc, "value")?, "PairCounts")?;
                let mut row = vec![0.0; ncat];
                if let Some(tvc) = pc.child("TargetValueCounts") {
                    for t in tvc.children_named("TargetValueCount") {
                        let cv =
                            c.constant_for(node.target.ty, req(t, "value")?, "TargetValueCount")?;
                        if let Some(i) = node.cats.iter().position(|x| *x == cv) {
                            row[i] = num_attr(t, "count")?;
                        }
                    }
                }
                counts.push((v, row));
            }
            inputs.push(Input::Discrete {
                slot: f.slot,
                counts,
            });
        }
    }
    let _ = opt_num_attr;
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
        let n = self.priors.len();
        probs.iter_mut().for_each(|p| *p = 0.0);
        // Work with logarithms, then normalize.
        let total: f64 = self.priors.iter().sum();
        for (i, p) in probs.iter_mut().enumerate().take(n) {
            *p = (self.priors[i] / total).ln();
        }
        let mut err = None;
        for input in &self.inputs {
            match input {
                Input::Continuous { slot, dists } => {
                    let v = match ctx.get(*slot) {
                        Ok(v) => v,
                        Err(e) => {
                            err = Some(e);
                            break;
                        }
                    };
                    let Some(x) = v.num() else { continue };
                    for (i, d) in dists.iter().enumerate() {
                        let l = match d {
                            Some(Dist::Gaussian { mean, variance }) => {
                                let z = x - mean;
                                (-(z * z) / (2.0 * variance)).exp()
                                    / (2.0 * std::f64::consts::PI * variance).sqrt()
                            }
                            Some(Dist::Poisson { mean }) => {
                                (x * mean.ln() - mean - ln_factorial(x)).exp()
                            }
                            None => 0.0,
                        };
                        probs[i] += l.max(self.threshold).ln();
                    }
                }
                Input::Discrete { slot, counts } => {
                    let v = match ctx.get(*slot) {
                        Ok(v) => v,
                        Err(e) => {
                            err = Some(e);
                            break;
                        }
                    };
                    if v.is_missing() {
                        continue;
                    }
                    let Some((_, row)) = counts.iter().find(|(k, _)| ctx.equal(*k, v)) else {
                        continue;
                    };
                    for i in 0..n {
                        let l = if self.priors[i] > 0.0 {
                            row[i] / self.priors[i]
                        } else {
                            0.0
                        };
                        probs[i] += l.max(self.threshold).ln();
                    }
                }
            }
        }
        if let Some(e) = err {
            ctx.s.preds[index].probs = probs;
            return Err(e);
        }
        let max = probs[..n].iter().copied().fold(f64::NEG_INFINITY, f64::max);
        if !max.is_finite() {
            ctx.s.preds[index].probs = probs;
            set_classification_default(ctx, index);
            return Ok(());
        }
        crate::models::regression::softmax(&mut probs[..n], false);
        ctx.s.preds[index].probs = probs;
        set_distribution(ctx, index, None, None);
        Ok(())
    }
}
