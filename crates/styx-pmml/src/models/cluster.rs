//! Distance measures shared by `ClusteringModel` and `NearestNeighborModel`, and the
//! center-based `ClusteringModel`.

use crate::compile::{Compiler, ModelNode};
use crate::error::{Fail, PmmlError};
use crate::eval::{Ctx, Slot};
use crate::expr::{opt_num_attr, req};
use crate::predicate::array_numbers;
use crate::types::Val;
use crate::xml::Element;

/// A distance measure (`ComparisonMeasure` of kind `distance`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Measure {
    Euclidean,
    SquaredEuclidean,
    CityBlock,
    Chebychev,
    Minkowski(f64),
}

impl Measure {
    pub(crate) fn parse(el: &Element) -> Result<Measure, PmmlError> {
        let cm = el.child("ComparisonMeasure").ok_or_else(|| {
            PmmlError::invalid(el.name.clone(), "a ComparisonMeasure is required")
        })?;
        if cm.attr("kind") != Some("distance") {
            return Err(PmmlError::unsupported(
                "ComparisonMeasure",
                "only kind=\"distance\" is supported",
            ));
        }
        if let Some(cf) = cm.attr("compareFunction") {
            if cf != "absDiff" {
                return Err(PmmlError::unsupported(
                    "ComparisonMeasure",
                    format!("compareFunction=\"{cf}\""),
                ));
            }
        }
        let m = cm
            .content()
            .next()
            .ok_or_else(|| PmmlError::invalid("ComparisonMeasure", "a measure is required"))?;
        Ok(match m.name.as_str() {
            "euclidean" => Measure::Euclidean,
            "squaredEuclidean" => Measure::SquaredEuclidean,
            "cityBlock" => Measure::CityBlock,
            "chebychev" => Measure::Chebychev,
            "minkowski" => Measure::Minkowski(crate::expr::num_attr(m, "p-parameter")?),
            o => {
                return Err(PmmlError::unsupported(
                    "ComparisonMeasure",
                    format!("the measure <{o}>"),
                ))
            }
        })
    }

    /// The distance between `x` (with `None` for missing values) and `y`, with weights.
    pub(crate) fn distance(self, x: &[Option<f64>], y: &[f64], w: &[f64]) -> f64 {
        let mut acc = 0.0;
        let mut wsum = 0.0;
        let mut wpresent = 0.0;
        for ((xi, yi), wi) in x.iter().zip(y).zip(w) {
            wsum += wi;
            let Some(xi) = xi else { continue };
            wpresent += wi;
            let d = (xi - yi).abs();
            match self {
                Measure::Euclidean | Measure::SquaredEuclidean => acc += wi * d * d,
                Measure::CityBlock => acc += wi * d,
                Measure::Chebychev => acc = f64::max(acc, wi * d),
                Measure::Minkowski(p) => acc += wi * d.powf(p),
            }
        }
        let adjust = if wpresent > 0.0 && wpresent < wsum && self != Measure::Chebychev {
            wsum / wpresent
        } else {
            1.0
        };
        let acc = acc * adjust;
        match self {
            Measure::Euclidean => acc.sqrt(),
            Measure::Minkowski(p) => acc.powf(1.0 / p),
            _ => acc,
        }
    }
}

/// A compiled center-based `ClusteringModel`.
#[derive(Debug, Clone)]
pub(crate) struct Clustering {
    fields: Vec<Slot>,
    weights: Vec<f64>,
    centers: Vec<Vec<f64>>,
    measure: Measure,
}

pub(crate) fn compile(
    c: &mut Compiler<'_>,
    el: &Element,
    node: &mut ModelNode,
) -> Result<Clustering, PmmlError> {
    if el.attr("modelClass") == Some("distributionBased") {
        return Err(PmmlError::unsupported(
            "ClusteringModel",
            "modelClass=\"distributionBased\"",
        ));
    }
    if el.child("MissingValueWeights").is_some() {
        return Err(PmmlError::unsupported(
            "MissingValueWeights",
            "missing value weights are not supported",
        ));
    }
    let measure = Measure::parse(el)?;
    let mut fields = Vec::new();
    let mut weights = Vec::new();
    for cf in el.children_named("ClusteringField") {
        if cf.attr("isCenterField") == Some("false") {
            continue;
        }
        if let Some(f) = cf.attr("compareFunction") {
            if f != "absDiff" {
                return Err(PmmlError::unsupported(
                    "ClusteringField",
                    format!("compareFunction=\"{f}\""),
                ));
            }
        }
        fields.push(c.field(req(cf, "field")?, "ClusteringField")?.slot);
        weights.push(opt_num_attr(cf, "fieldWeight")?.unwrap_or(1.0));
    }
    let mut centers = Vec::new();
    for (i, cl) in el.children_named("Cluster").enumerate() {
        let a = cl
            .child("Array")
            .ok_or_else(|| PmmlError::unsupported("Cluster", "a center Array is required"))?;
        let v = array_numbers(a)?;
        if v.len() != fields.len() {
            return Err(PmmlError::invalid(
                "Cluster",
                "the center's length differs from the clustering fields",
            ));
        }
        centers.push(v);
        let id = cl
            .attr("id")
            .map(str::to_string)
            .unwrap_or_else(|| (i + 1).to_string());
        node.cats.push(Val::Str(c.symbols.intern(&id)));
    }
    if centers.is_empty() {
        return Err(PmmlError::invalid(
            "ClusteringModel",
            "at least one Cluster is required",
        ));
    }
    node.target.ty = crate::types::DataType::String;
    Ok(Clustering {
        fields,
        weights,
        centers,
        measure,
    })
}

impl Clustering {
    pub(crate) fn evaluate(&self, ctx: &mut Ctx<'_>, index: usize) -> Result<(), Fail> {
        let mut x: Vec<Option<f64>> = std::mem::take(&mut ctx.s.opt_nums);
        x.clear();
        for s in &self.fields {
            match ctx.get(*s) {
                Ok(v) => x.push(v.num()),
                Err(e) => {
                    ctx.s.opt_nums = x;
                    return Err(e);
                }
            }
        }
        let node = &ctx.m.models[index];
        let epoch = ctx.s.epoch;
        let p = &mut ctx.s.preds[index];
        p.epoch = epoch;
        p.has_conf = false;
        p.ranked.clear();
        if x.iter().all(|v| v.is_none()) {
            p.value = Val::Missing;
            p.entity = Val::Missing;
            p.has_probs = false;
            ctx.s.opt_nums = x;
            return Ok(());
        }
        let mut best: Option<(usize, f64)> = None;
        for (i, c) in self.centers.iter().enumerate() {
            let d = self.measure.distance(&x, c, &self.weights);
            p.probs[i] = d;
            if best.is_none_or(|(_, b)| d < b) {
                best = Some((i, d));
            }
        }
        p.has_probs = true;
        let winner = best.map(|(i, _)| node.cats[i]).unwrap_or(Val::Missing);
        p.value = winner;
        p.entity = winner;
        ctx.s.opt_nums = x;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances() {
        let x = [Some(0.0), Some(3.0)];
        let y = [4.0, 0.0];
        let w = [1.0, 1.0];
        assert_eq!(Measure::Euclidean.distance(&x, &y, &w), 5.0);
        assert_eq!(Measure::SquaredEuclidean.distance(&x, &y, &w), 25.0);
        assert_eq!(Measure::CityBlock.distance(&x, &y, &w), 7.0);
        assert_eq!(Measure::Chebychev.distance(&x, &y, &w), 4.0);
        // A missing value scales the rest by the weight ratio.
        assert_eq!(
            Measure::SquaredEuclidean.distance(&[None, Some(3.0)], &y, &w),
            18.0
        );
    }
}
