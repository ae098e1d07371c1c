//! Distance measures shared by `ClusteringModel` and `NearestNeighborModel`, and the
//! center-based `ClusteringModel`, computed as JPMML-Evaluator computes them: each field's
//! comparison (`absDiff`, `gaussSim`, `delta`, `equal`) raised to the measure's power and
//! weighed by its `fieldWeight`, summed in order (or the largest, for `chebychev`), scaled
//! for missing values by the share of the `MissingValueWeights` (else of the fields) that
//! the record has, then the measure's root.

use crate::compile::{Compiler, ModelNode};
use crate::error::{EvalError, Fail, PmmlError};
use crate::eval::{Ctx, Slot};
use crate::expr::{opt_num_attr, req};
use crate::predicate::array_numbers;
use crate::types::{java_max, java_pow, Val};
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

/// A similarity measure of binary fields (`ComparisonMeasure` of kind `similarity`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Similarity {
    SimpleMatching,
    Jaccard,
    Tanimoto,
    /// `c11`, `c10`, `c01`, `c00`, then `d11`, `d10`, `d01`, `d00`.
    Binary([f64; 8]),
}

impl Similarity {
    /// The similarity measure of `el`'s `ComparisonMeasure`, if it is one.
    fn parse(el: &Element) -> Result<Option<Similarity>, PmmlError> {
        let Some(m) = el
            .child("ComparisonMeasure")
            .and_then(|cm| cm.content().next())
        else {
            return Ok(None);
        };
        Ok(Some(match m.name.as_str() {
            "simpleMatching" => Similarity::SimpleMatching,
            "jaccard" => Similarity::Jaccard,
            "tanimoto" => Similarity::Tanimoto,
            "binarySimilarity" => {
                let mut p = [0.0; 8];
                for (k, name) in ["c11", "c10", "c01", "c00", "d11", "d10", "d01", "d00"]
                    .iter()
                    .enumerate()
                {
                    p[k] = crate::expr::num_attr(m, &format!("{name}-parameter"))?;
                }
                Similarity::Binary(p)
            }
            _ => return Ok(None),
        }))
    }

    /// The similarity of the flags `x` and `y`, as JPMML computes it from the counts of
    /// agreeing and differing flags; `None` when its denominator is zero.
    fn of(self, x: &[bool], y: &[bool]) -> Option<f64> {
        let (mut a11, mut a10, mut a01, mut a00) = (0.0, 0.0, 0.0, 0.0);
        for (a, b) in x.iter().zip(y) {
            match (a, b) {
                (true, true) => a11 += 1.0,
                (true, false) => a10 += 1.0,
                (false, true) => a01 += 1.0,
                (false, false) => a00 += 1.0,
            }
        }
        let (numerator, denominator) = match self {
            Similarity::SimpleMatching => (a11 + a00, a11 + a10 + a01 + a00),
            Similarity::Jaccard => (a11, a11 + a10 + a01),
            Similarity::Tanimoto => (a11 + a00, a11 + 2.0 * (a10 + a01) + a00),
            Similarity::Binary([c11, c10, c01, c00, d11, d10, d01, d00]) => (
                c11 * a11 + c10 * a10 + c01 * a01 + c00 * a00,
                d11 * a11 + d10 * a10 + d01 * a01 + d00 * a00,
            ),
        };
        (denominator != 0.0).then(|| numerator / denominator)
    }
}

/// A binary value as JPMML reads one for a similarity: `false` or `true` (or a number
/// equal to 0 or 1); anything else fails the record.
fn flag(v: Val) -> Result<bool, Fail> {
    match v {
        Val::Bool(b) => Ok(b),
        Val::Num(0.0) => Ok(false),
        Val::Num(1.0) => Ok(true),
        _ => Err(EvalError::Evaluation(
            "a similarity measure expects false or true, got another value".into(),
        )
        .into()),
    }
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

    /// The distance between `x` (with `None` for missing values) and `y`, comparing each
    /// field as `fields` says, scaled by `adjust` (see [`adjustment`]).
    pub(crate) fn distance(
        self,
        x: &[Option<f64>],
        y: &[f64],
        fields: &[FieldCompare],
        adjust: f64,
    ) -> f64 {
        match self {
            Measure::Euclidean => java_pow(sum_of(x, y, fields, |d| d * d) * adjust, 0.5),
            Measure::SquaredEuclidean => sum_of(x, y, fields, |d| d * d) * adjust,
            Measure::CityBlock => sum_of(x, y, fields, |d| d) * adjust,
            Measure::Minkowski(p) => {
                let sum = sum_of(x, y, fields, |d| java_pow(d, p)) * adjust;
                if p != 0.0 {
                    java_pow(sum, 1.0 / p)
                } else {
                    sum.exp()
                }
            }
            Measure::Chebychev => {
                let mut max: Option<f64> = None;
                for ((xi, yi), f) in x.iter().zip(y).zip(fields) {
                    let Some(xi) = xi else { continue };
                    let d = f.compare.apply(*xi, *yi) * f.weight;
                    max = Some(max.map_or(d, |m| java_max(m, d)));
                }
                // No field: JPMML fails the record (the maximum of nothing).
                max.map_or(f64::NAN, |m| m * adjust)
            }
        }
    }
}

/// The sum over the fields present of `power` of their comparison, times their weight.
#[inline(always)]
fn sum_of(
    x: &[Option<f64>],
    y: &[f64],
    fields: &[FieldCompare],
    power: impl Fn(f64) -> f64,
) -> f64 {
    let mut sum = 0.0;
    for ((xi, yi), f) in x.iter().zip(y).zip(fields) {
        if let Some(xi) = xi {
            let d = match f.compare {
                Compare::AbsDiff => (xi - yi).abs(),
                other => other.apply(*xi, *yi),
            };
            sum += power(d) * f.weight;
        }
    }
    sum
}

/// How the values of one field are compared (its `compareFunction`, else the measure's).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Compare {
    AbsDiff,
    /// With the field's `similarityScale` (none: the field cannot be compared, as a
    /// `KNNInput`, which has none).
    GaussSim(Option<f64>),
    Delta,
    Equal,
}

impl Compare {
    fn apply(self, x: f64, y: f64) -> f64 {
        match self {
            Compare::AbsDiff => (x - y).abs(),
            Compare::GaussSim(s) => {
                let s = s.unwrap_or(f64::NAN);
                let z = x - y;
                ((-std::f64::consts::LN_2 * z * z) / (s * s)).exp()
            }
            Compare::Delta => f64::from(u8::from(x != y)),
            Compare::Equal => f64::from(u8::from(x == y)),
        }
    }
}

/// A field of a distance: how its values are compared, and its weight.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct FieldCompare {
    compare: Compare,
    weight: f64,
}

/// The comparison of the field `el` (a `ClusteringField` or a `KNNInput`) in the measure of
/// `model`: its own `compareFunction` (with a `similarityScale` for `gaussSim`), else the
/// measure's (`absDiff`, `delta` or `equal`), and its `fieldWeight`.
pub(crate) fn field_compare(model: &Element, el: &Element) -> Result<FieldCompare, PmmlError> {
    let own = el.attr("compareFunction");
    let function = own
        .or_else(|| {
            model
                .child("ComparisonMeasure")
                .and_then(|m| m.attr("compareFunction"))
        })
        .unwrap_or("absDiff");
    let compare = match function {
        "absDiff" => Compare::AbsDiff,
        "delta" => Compare::Delta,
        "equal" => Compare::Equal,
        // A `KNNInput` has no `similarityScale`.
        "gaussSim" if own.is_some() && el.name == "KNNInput" => Compare::GaussSim(None),
        "gaussSim" if own.is_some() => Compare::GaussSim(opt_num_attr(el, "similarityScale")?),
        "gaussSim" | "table" if own.is_none() => {
            return Err(PmmlError::invalid(
                "ComparisonMeasure",
                format!("compareFunction=\"{function}\" belongs on a field"),
            ))
        }
        f => {
            return Err(PmmlError::unsupported(
                el.name.clone(),
                format!("compareFunction=\"{f}\""),
            ))
        }
    };
    Ok(FieldCompare {
        compare,
        weight: opt_num_attr(el, "fieldWeight")?.unwrap_or(1.0),
    })
}

/// The factor that scales a distance for the missing values of `x`: the sum of the
/// `weights` (`MissingValueWeights`, else one per field) over the sum of those of the
/// values present. A record fails (as in JPMML) when that sum is zero (every value is
/// missing) or a value present is of a field that cannot be compared (`fields`).
pub(crate) fn adjustment(
    x: &[Option<f64>],
    weights: Option<&[f64]>,
    fields: &[FieldCompare],
) -> Result<f64, Fail> {
    let mut sum = 0.0;
    let mut present = 0.0;
    for (i, (xi, f)) in x.iter().zip(fields).enumerate() {
        let w = weights.map_or(1.0, |w| w[i]);
        sum += w;
        if xi.is_some() {
            if f.compare == Compare::GaussSim(None) {
                return Err(EvalError::Evaluation(
                    "compareFunction=\"gaussSim\" needs a similarityScale, which the field does not have".into(),
                )
                .into());
            }
            present += w;
        }
    }
    if present == 0.0 {
        return Err(EvalError::Evaluation(
            "undefined result: no field of the distance has a value".into(),
        )
        .into());
    }
    Ok(sum / present)
}

/// A compiled center-based `ClusteringModel`.
#[derive(Debug, Clone)]
pub(crate) struct Clustering {
    fields: Vec<Slot>,
    compares: Vec<FieldCompare>,
    /// `MissingValueWeights`, one per field.
    missing_weights: Option<Vec<f64>>,
    centers: Vec<Vec<f64>>,
    measure: ClusterMeasure,
}

/// How a `ClusteringModel` compares a record with its clusters.
#[derive(Debug, Clone, Copy)]
enum ClusterMeasure {
    /// The nearest cluster wins.
    Distance(Measure),
    /// The most similar cluster wins.
    Similarity(Similarity),
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
    let measure = match Similarity::parse(el)? {
        Some(s) => ClusterMeasure::Similarity(s),
        None => ClusterMeasure::Distance(Measure::parse(el)?),
    };
    let mut fields = Vec::new();
    let mut compares = Vec::new();
    for cf in el.children_named("ClusteringField") {
        if cf.attr("isCenterField") == Some("false") {
            continue;
        }
        compares.push(field_compare(el, cf)?);
        fields.push(c.field(req(cf, "field")?, "ClusteringField")?.slot);
    }
    let missing_weights = match el.child("MissingValueWeights") {
        Some(m) => {
            let a = m
                .child("Array")
                .ok_or_else(|| PmmlError::invalid("MissingValueWeights", "an Array is required"))?;
            let w = array_numbers(a)?;
            if w.len() != fields.len() {
                return Err(PmmlError::invalid(
                    "MissingValueWeights",
                    "the number of weights differs from the clustering fields",
                ));
            }
            Some(w)
        }
        None => None,
    };
    let mut centers = Vec::new();
    for (i, cl) in el.children_named("Cluster").enumerate() {
        let a = cl
            .child("Array")
            .ok_or_else(|| PmmlError::unsupported("Cluster", "a center Array is required"))?;
        let v = array_numbers(a)?;
        let binary = matches!(measure, ClusterMeasure::Similarity(_));
        if binary && v.iter().any(|x| *x != 0.0 && *x != 1.0) {
            return Err(PmmlError::invalid(
                "Cluster",
                "the center of a similarity measure has values other than 0 and 1",
            ));
        }
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
        compares,
        missing_weights,
        centers,
        measure,
    })
}

impl Clustering {
    pub(crate) fn evaluate(&self, ctx: &mut Ctx<'_>, index: usize) -> Result<(), Fail> {
        let measure = match self.measure {
            ClusterMeasure::Similarity(similarity) => {
                return self.evaluate_similarity(similarity, ctx, index)
            }
            ClusterMeasure::Distance(measure) => measure,
        };
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
        let adjust = match adjustment(&x, self.missing_weights.as_deref(), &self.compares) {
            Ok(a) => a,
            Err(e) => {
                p.value = Val::Missing;
                p.entity = Val::Missing;
                p.has_probs = false;
                ctx.s.opt_nums = x;
                return Err(e);
            }
        };
        let mut best: Option<(usize, f64)> = None;
        for (i, c) in self.centers.iter().enumerate() {
            let d = measure.distance(&x, c, &self.compares, adjust);
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

impl Clustering {
    /// The most similar cluster (the first of equals), each cluster's similarity its
    /// affinity.
    fn evaluate_similarity(
        &self,
        similarity: Similarity,
        ctx: &mut Ctx<'_>,
        index: usize,
    ) -> Result<(), Fail> {
        let mut x = Vec::with_capacity(self.fields.len());
        for s in &self.fields {
            x.push(flag(ctx.get(*s)?)?);
        }
        let mut best: Option<(usize, f64)> = None;
        let mut center = Vec::with_capacity(x.len());
        let epoch = ctx.s.epoch;
        for (i, c) in self.centers.iter().enumerate() {
            center.clear();
            center.extend(c.iter().map(|v| *v == 1.0));
            let Some(sim) = similarity.of(&x, &center) else {
                return Err(EvalError::Evaluation(
                    "undefined result: the similarity's denominator is zero".into(),
                )
                .into());
            };
            ctx.s.preds[index].probs[i] = sim;
            if best.is_none_or(|(_, b)| sim > b) {
                best = Some((i, sim));
            }
        }
        let winner = best.map_or(Val::Missing, |(i, _)| ctx.m.models[index].cats[i]);
        let p = &mut ctx.s.preds[index];
        p.epoch = epoch;
        p.has_conf = false;
        p.ranked.clear();
        p.has_probs = true;
        p.value = winner;
        p.entity = winner;
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
        let w = [FieldCompare {
            compare: Compare::AbsDiff,
            weight: 1.0,
        }; 2];
        assert_eq!(Measure::Euclidean.distance(&x, &y, &w, 1.0), 5.0);
        assert_eq!(Measure::SquaredEuclidean.distance(&x, &y, &w, 1.0), 25.0);
        assert_eq!(Measure::CityBlock.distance(&x, &y, &w, 1.0), 7.0);
        assert_eq!(Measure::Chebychev.distance(&x, &y, &w, 1.0), 4.0);
        // A missing value scales the rest by the share of the fields present.
        let missing = [None, Some(3.0)];
        let adjust = adjustment(&missing, None, &w).unwrap();
        assert_eq!(adjust, 2.0);
        assert_eq!(
            Measure::SquaredEuclidean.distance(&missing, &y, &w, adjust),
            18.0
        );
        assert_eq!(adjustment(&missing, Some(&[3.0, 1.0]), &w).unwrap(), 4.0);
        assert!(adjustment(&[None, None], None, &w).is_err());
    }
}
