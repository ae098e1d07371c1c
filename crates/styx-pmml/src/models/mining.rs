//! `MiningModel` with `Segmentation`: model chains, first/all selection, sums, (weighted)
//! averages, medians, maxima and (weighted) majority votes, as used by random forests,
//! gradient boosting (scikit-learn, LightGBM, XGBoost), stacking and voting ensembles.

use crate::compile::{Compiler, FieldInfo, MiningFunction, ModelNode, SlotDef};
use crate::error::{EvalError, Fail, PmmlError};
use crate::eval::Ctx;
use crate::models::tree::{LeafSet, Record, TreeSum};
use crate::models::{cat_index, evaluate, is_classification, ModelKind};
use crate::output::{argmax_label, set_classification_default, set_regression};
use crate::output::{Feature, OutputDef};
use crate::predicate::Cond;
use crate::types::{round_to, DataType, OpType, Val};
use crate::xml::Element;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Method {
    MajorityVote,
    WeightedMajorityVote,
    Average,
    WeightedAverage,
    Median,
    WeightedMedian,
    Max,
    Sum,
    WeightedSum,
    SelectFirst,
    SelectAll,
    ModelChain,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum MissingPrediction {
    ReturnMissing,
    SkipSegment,
    Continue,
}

#[derive(Debug, Clone)]
struct Segment {
    cond: Cond,
    model: usize,
    weight: f64,
    /// Segment category index -> mining model category index.
    cat_map: Vec<u32>,
    /// The mining model category indexes of the segment's categories in the order its
    /// probabilities name them (in JPMML, the order of an average's categories).
    listing: Vec<u32>,
    /// In a model chain: the segment's output fields (by index) whose names earlier
    /// segments' outputs have, with those segments' models.
    chain_dups: Vec<(usize, Vec<usize>)>,
}

/// A compiled `MiningModel`.
#[derive(Debug, Clone)]
pub(crate) struct Mining {
    segments: Vec<Segment>,
    method: Method,
    missing: MissingPrediction,
    threshold: f64,
    /// A sum of regression trees, compiled together.
    tree_sum: Option<TreeSum>,
    /// Classification trees aggregated, compiled together.
    tree_votes: Option<TreeVotes>,
    /// In a model chain: the model's own output fields (by index) whose names its
    /// segments' outputs have, with those segments' models.
    own_dups: Vec<(usize, Vec<usize>)>,
}

impl Mining {
    /// Whether the segments are evaluated as one [`TreeSum`].
    #[cfg(test)]
    pub(crate) fn has_tree_sum(&self) -> bool {
        self.tree_sum.is_some()
    }

    /// Whether the segments are evaluated as [`TreeVotes`].
    #[cfg(test)]
    pub(crate) fn has_tree_votes(&self) -> bool {
        self.tree_votes.is_some()
    }

    /// Evaluates every segment as its own model.
    #[cfg(test)]
    pub(crate) fn drop_tree_sum(&mut self) {
        self.tree_sum = None;
        self.tree_votes = None;
    }

    /// In a model chain, the declaration of an evaluated segment's output fields for the
    /// next segments, as JPMML makes it: an output without a value, or one whose name an
    /// earlier evaluated segment's output has, fails the record.
    fn chain_declare(&self, ctx: &Ctx<'_>, s: &Segment) -> Result<(), Fail> {
        if self.method != Method::ModelChain {
            return Ok(());
        }
        let outputs = &ctx.m.models[s.model].outputs;
        for (k, o) in outputs.iter().enumerate() {
            if !crate::output::is_declared(ctx, s.model, k) {
                return Err(crate::output::undefined(&o.name));
            }
        }
        for (k, earlier) in &s.chain_dups {
            if earlier.iter().any(|m| ctx.s.preds[*m].epoch == ctx.s.epoch) {
                return Err(already_defined(&outputs[*k].name));
            }
        }
        Ok(())
    }

    /// Fails the record when one of the chain's own declared output fields has the name
    /// of an evaluated segment's output (JPMML declares both in the same context).
    pub(crate) fn check_own_outputs(&self, ctx: &Ctx<'_>, model: usize) -> Result<(), Fail> {
        for (k, segs) in &self.own_dups {
            if crate::output::is_declared(ctx, model, *k)
                && segs.iter().any(|m| ctx.s.preds[*m].epoch == ctx.s.epoch)
            {
                return Err(already_defined(&ctx.m.models[model].outputs[*k].name));
            }
        }
        Ok(())
    }

    /// Whether the model has no typed target of its own (its result is a segment's).
    pub(crate) fn untyped_target(&self) -> bool {
        matches!(
            self.method,
            Method::SelectFirst | Method::SelectAll | Method::ModelChain
        )
    }
}

pub(crate) fn compile<'d>(
    c: &mut Compiler<'d>,
    el: &'d Element,
    node: &mut ModelNode,
    _index: usize,
) -> Result<Mining, PmmlError> {
    if el.child("Regression").is_some() || el.child("DecisionTree").is_some() {
        return Err(PmmlError::unsupported(
            "MiningModel",
            "embedded models are not supported",
        ));
    }
    let seg = el
        .child("Segmentation")
        .ok_or_else(|| PmmlError::invalid("MiningModel", "a Segmentation is required"))?;
    if seg.child("LocalTransformations").is_some() {
        return Err(PmmlError::unsupported(
            "Segmentation",
            "LocalTransformations in a Segmentation are not supported",
        ));
    }
    if node.function == MiningFunction::Classification {
        // Aggregated probabilities are kept in the order of the target's declared values,
        // so that a tie of a median or a maximum goes to the first of them, as in JPMML
        // (votes keep the order in which the segments cast them, averages the order in
        // which the segments name the categories; see `evaluate`).
        if let Some(df) = node.target.name.as_ref().and_then(|n| c.data_fields.get(n)) {
            node.cats = df.valid.clone();
        }
    }
    let method = match crate::expr::req(seg, "multipleModelMethod")? {
        "majorityVote" => Method::MajorityVote,
        "weightedMajorityVote" => Method::WeightedMajorityVote,
        "average" => Method::Average,
        "weightedAverage" => Method::WeightedAverage,
        "median" => Method::Median,
        "weightedMedian" => Method::WeightedMedian,
        "max" => Method::Max,
        "sum" => Method::Sum,
        "weightedSum" => Method::WeightedSum,
        "selectFirst" => Method::SelectFirst,
        "modelChain" => Method::ModelChain,
        "selectAll" => {
            if el.child("Output").is_some() {
                return Err(PmmlError::unsupported(
                    "Output",
                    "output fields of a selectAll segmentation",
                ));
            }
            Method::SelectAll
        }
        m => {
            return Err(PmmlError::unsupported(
                "Segmentation",
                format!("multipleModelMethod=\"{m}\" is not supported"),
            ))
        }
    };
    let missing = match seg.attr("missingPredictionTreatment").unwrap_or("continue") {
        "returnMissing" => MissingPrediction::ReturnMissing,
        "skipSegment" => MissingPrediction::SkipSegment,
        "continue" => MissingPrediction::Continue,
        o => {
            return Err(PmmlError::invalid(
                "Segmentation",
                format!("unknown missingPredictionTreatment \"{o}\""),
            ))
        }
    };
    let threshold = crate::expr::opt_num_attr(seg, "missingThreshold")?.unwrap_or(1.0);
    match (node.function, method) {
        (MiningFunction::Regression, Method::MajorityVote | Method::WeightedMajorityVote) => {
            return Err(PmmlError::invalid(
                "Segmentation",
                "a vote for a regression",
            ))
        }
        (MiningFunction::Clustering, m)
            if !matches!(
                m,
                Method::MajorityVote
                    | Method::WeightedMajorityVote
                    | Method::SelectFirst
                    | Method::ModelChain
            ) =>
        {
            return Err(PmmlError::unsupported(
                "Segmentation",
                "this multipleModelMethod for clustering",
            ))
        }
        (MiningFunction::Classification, Method::WeightedMedian | Method::WeightedSum) => {
            return Err(PmmlError::invalid(
                "Segmentation",
                "a weighted median or weighted sum for a classification",
            ))
        }
        (MiningFunction::Classification, Method::Sum) => {
            return Err(PmmlError::unsupported(
                "Segmentation",
                "multipleModelMethod=\"sum\" for a classification",
            ))
        }
        _ => {}
    }
    let segs: Vec<&Element> = seg.children_named("Segment").collect();
    if segs.is_empty() {
        return Err(PmmlError::invalid(
            "Segmentation",
            "at least one Segment is required",
        ));
    }
    let mut segments = Vec::new();
    // The output fields a model chain declares, in order, with their segments' models.
    let mut chain_names: Vec<(String, usize)> = Vec::new();
    for (i, s) in segs.iter().enumerate() {
        let cond = c.predicate_child(s)?;
        let weight = crate::expr::opt_num_attr(s, "weight")?.unwrap_or(1.0);
        let model_el = s
            .content()
            .find(|e| crate::compile::MODEL_ELEMENTS.contains(&e.name.as_str()))
            .ok_or_else(|| PmmlError::invalid("Segment", "a model is required"))?;
        let saved = c
            .inherited_target
            .replace((node.function, node.target.ty, node.target.optype));
        let model = c.model(model_el);
        c.inherited_target = saved;
        let model = model?;
        let seg_node = c.models[model].as_ref().expect("compiled segment");
        if method != Method::ModelChain && seg_node.function != node.function {
            return Err(PmmlError::invalid(
                model_el.name.clone(),
                "a segment's functionName differs from the MiningModel's",
            ));
        }
        if method == Method::ModelChain && i == segs.len() - 1 && seg_node.function != node.function
        {
            return Err(PmmlError::invalid(
                model_el.name.clone(),
                "the last segment of a model chain must have the MiningModel's functionName",
            ));
        }
        let seg_cats = seg_node.cats.clone();
        let seg_ty = seg_node.target.ty;
        let outputs: Vec<(String, FieldInfo)> = seg_node
            .outputs
            .iter()
            .map(|o| {
                (
                    o.name.clone(),
                    FieldInfo {
                        slot: o.slot,
                        ty: o.ty,
                        optype: OpType::default_for(o.ty),
                    },
                )
            })
            .collect();
        let mut cat_map = Vec::new();
        let mut listing = Vec::new();
        if node.function != MiningFunction::Regression {
            for v in &seg_cats {
                cat_map.push(cat_index(&mut node.cats, *v));
            }
            // A tree names its categories in its nodes' score distributions (its
            // categories' own order is the one its scores and distributions meet them in).
            if model_el.name == "TreeModel" {
                let mut named = Vec::new();
                distribution_values(model_el, &mut named);
                for v in named {
                    let v = c.constant_for(seg_ty, v, "ScoreDistribution")?;
                    if let Some(i) = seg_cats.iter().position(|x| *x == v) {
                        first_seen(&mut listing, &[cat_map[i]], usize::MAX);
                    }
                }
            }
            first_seen(&mut listing, &cat_map, usize::MAX);
        }
        let mut chain_dups = Vec::new();
        if method == Method::ModelChain {
            for (k, (name, _)) in outputs.iter().enumerate() {
                let earlier: Vec<usize> = chain_names
                    .iter()
                    .filter(|(n, _)| n == name)
                    .map(|(_, m)| *m)
                    .collect();
                if !earlier.is_empty() {
                    chain_dups.push((k, earlier));
                }
            }
            for (name, info) in outputs {
                c.declare(&name, info);
                chain_names.push((name, model));
            }
        }
        segments.push(Segment {
            cond,
            model,
            weight,
            cat_map,
            listing,
            chain_dups,
        });
    }
    // The model's own output fields are declared where its chain declared its segments'.
    let mut own_dups = Vec::new();
    if let Some(out) = el.child("Output") {
        for (k, of) in out.children_named("OutputField").enumerate() {
            let name = of.attr("name").unwrap_or("");
            let same: Vec<usize> = chain_names
                .iter()
                .filter(|(n, _)| n == name)
                .map(|(_, m)| *m)
                .collect();
            if !same.is_empty() {
                own_dups.push((k, same));
            }
        }
    }
    // The outputs of segments that the result may come from are results too.
    let exposed: Vec<usize> = match method {
        Method::SelectFirst => {
            let end = segments
                .iter()
                .position(|s| matches!(s.cond, Cond::True))
                .map(|p| p + 1)
                .unwrap_or(segments.len());
            (0..end).collect()
        }
        Method::ModelChain => {
            let start = segments
                .iter()
                .rposition(|s| matches!(s.cond, Cond::True))
                .unwrap_or(0);
            (start..segments.len()).collect()
        }
        _ => vec![],
    };
    for i in exposed {
        let seg_node = c.models[segments[i].model]
            .as_ref()
            .expect("compiled segment");
        node.result_outputs
            .extend(seg_node.result_outputs.iter().cloned());
    }
    let tree_sum = tree_sum(c, node, method, &segments);
    let tree_votes = tree_votes(c, node, method, &segments);
    Ok(Mining {
        segments,
        method,
        missing,
        threshold,
        tree_sum,
        tree_votes,
        own_dups,
    })
}

/// Whether the walk of an ensemble's trees may read `slot` once for every record, before
/// any tree is evaluated: an input cell, or a field computed from such slots alone (as
/// derived fields that scale inputs are) whatever segment evaluates it. A value that
/// cannot be computed is left to the general evaluation, which fails only where a tree
/// reads it. (`depth` bounds chains of derived fields.)
fn readable_per_record(c: &Compiler<'_>, slot: u32, depth: u32) -> bool {
    if depth > 16 {
        return false;
    }
    match c.slots.get(slot as usize) {
        Some(SlotDef::Input { input, .. }) => *input != u32::MAX,
        Some(SlotDef::Treated { src, .. }) => readable_per_record(c, *src, depth + 1),
        Some(SlotDef::Derived { expr, .. }) => {
            let mut reads = Vec::new();
            expr.fields(&mut |s| reads.push(s))
                && reads.iter().all(|s| readable_per_record(c, *s, depth + 1))
        }
        _ => false,
    }
}

/// Compiles a regression sum, weighted sum, average, weighted average, median or weighted
/// median (AdaBoost) whose segments
/// are all regression trees that always apply and have no output fields into one
/// [`TreeSum`]; `None` for any other segmentation.
fn tree_sum(
    c: &Compiler<'_>,
    node: &ModelNode,
    method: Method,
    segments: &[Segment],
) -> Option<TreeSum> {
    if !matches!(
        method,
        Method::Sum
            | Method::WeightedSum
            | Method::Average
            | Method::WeightedAverage
            | Method::Median
            | Method::WeightedMedian
    ) || node.function != MiningFunction::Regression
    {
        return None;
    }
    let usable = |slot: u32| readable_per_record(c, slot, 0);
    let mut sum = TreeSum::default();
    for s in segments {
        let seg = c.models[s.model].as_ref()?;
        let ModelKind::Tree(tree) = &seg.kind else {
            return None;
        };
        if !matches!(s.cond, Cond::True)
            || seg.function != MiningFunction::Regression
            || !seg.outputs.is_empty()
        {
            return None;
        }
        let leaf = |i: u32| {
            tree.score(i)
                .map(|x| crate::output::apply_target(&seg.target, seg.float, x))
        };
        sum.push(tree, s.model, leaf, usable);
    }
    if matches!(method, Method::Median | Method::WeightedMedian) {
        sum.order_leaves();
    }
    Some(sum)
}

/// The classification trees of a vote or an average (a random forest, bagging), walked
/// together: each walk ends at a leaf of [`TreeVotes::leaves`], whose label and
/// probabilities become the segment's prediction without evaluating the tree as a model.
#[derive(Debug, Clone)]
pub(crate) struct TreeVotes {
    sum: TreeSum,
    /// Per leaf: the label's category index (in the segment's categories).
    labels: Vec<u32>,
    /// Per leaf, `width` probabilities by the segment's category index.
    probs: Vec<f64>,
    width: usize,
    /// Every segment's predicate is `True` (each tree applies to every record).
    all_apply: bool,
}

impl TreeVotes {
    /// Writes leaf `k`'s prediction as model `model`'s for the current record.
    fn predict(&self, ctx: &mut Ctx<'_>, model: usize, k: usize) {
        let label = ctx.m.models[model].cats[self.labels[k] as usize];
        let probs = &mut ctx.s.preds[model].probs;
        let n = probs.len().min(self.width);
        probs[..n].copy_from_slice(&self.probs[k * self.width..k * self.width + n]);
        crate::output::set_prediction(ctx, model, label, true);
    }
}

/// Whether a segment's output field may be left uncomputed when its tree is walked: in an
/// aggregation (not a chain or a selection) nothing reads a segment's outputs, and the
/// probability of a category as a number cannot fail once a walk has selected a leaf,
/// so computing it changes nothing.
fn unread_and_safe(output: &OutputDef) -> bool {
    matches!(output.feature, Feature::Probability(_))
        && matches!(output.ty, DataType::Double | DataType::Float)
}

/// Compiles an aggregation of classification trees (whose output fields, if any, are
/// [`unread_and_safe`]) into [`TreeVotes`]; `None` for any other segmentation.
fn tree_votes(
    c: &Compiler<'_>,
    node: &ModelNode,
    method: Method,
    segments: &[Segment],
) -> Option<TreeVotes> {
    if node.function != MiningFunction::Classification
        || matches!(
            method,
            Method::SelectFirst | Method::SelectAll | Method::ModelChain | Method::Sum
        )
    {
        return None;
    }
    let usable = |slot: u32| readable_per_record(c, slot, 0);
    let width = segments
        .iter()
        .map(|s| c.models[s.model].as_ref().map_or(0, |m| m.cats.len()))
        .max()?;
    let mut votes = TreeVotes {
        sum: TreeSum::default(),
        labels: Vec::new(),
        probs: Vec::new(),
        width,
        all_apply: segments.iter().all(|s| matches!(s.cond, Cond::True)),
    };
    let mut row = vec![0.0; width];
    for s in segments {
        let seg = c.models[s.model].as_ref()?;
        let ModelKind::Tree(tree) = &seg.kind else {
            return None;
        };
        if seg.function != MiningFunction::Classification
            || !seg.outputs.iter().all(unread_and_safe)
        {
            return None;
        }
        let cats = seg.cats.len();
        let leaves = std::cell::RefCell::new((&mut votes.labels, &mut votes.probs, &mut row));
        let leaf = |i: u32| {
            let (labels, probs, row) = &mut *leaves.borrow_mut();
            let label = tree.leaf_distribution(i, seg.float, &mut row[..cats])?;
            labels.push(label);
            probs.extend_from_slice(row);
            Some((labels.len() - 1) as f64)
        };
        votes.sum.push(tree, s.model, leaf, usable);
    }
    Some(votes)
}

impl Mining {
    pub(crate) fn evaluate(&self, ctx: &mut Ctx<'_>, index: usize) -> Result<(), Fail> {
        if let Some(sum) = &self.tree_sum {
            return self.evaluate_tree_sum(sum, ctx, index);
        }
        let node = &ctx.m.models[index];
        let float = node.float;
        let r = |x: f64| round_to(float, x);
        let classification = is_classification(node);
        let clustering = node.function == MiningFunction::Clustering;
        // Aggregation state.
        let mut probs = std::mem::take(&mut ctx.s.preds[index].probs);
        probs.iter_mut().for_each(|x| *x = 0.0);
        let mut order = std::mem::take(&mut ctx.s.preds[index].order);
        order.clear();
        let mut values = std::mem::take(&mut ctx.s.nums_mining);
        values.clear();
        let mut weighted = std::mem::take(&mut ctx.s.weighted);
        weighted.clear();
        let mut total = 0.0;
        let mut denominator = 0.0;
        let mut evaluated = 0usize;
        let mut missing_count = 0usize;
        let mut chosen: Option<&Segment> = None;
        let mut result: Result<(), Fail> = Ok(());
        let mut return_missing = false;
        let mut record = std::mem::take(&mut ctx.s.tree_record);
        // The predictions of `selectAll`, in segment order.
        let mut picked = std::mem::take(&mut ctx.s.members);
        picked.clear();
        let mut aggregated = false;
        if let Some(votes) = &self.tree_votes {
            votes.sum.load(ctx, &mut record);
            aggregated = self.aggregate_walks(votes, &record, float, &mut probs, &mut order);
            if aggregated {
                evaluated = self.segments.len();
                denominator = match self.method {
                    Method::WeightedAverage => self.segments.iter().map(|s| s.weight).sum(),
                    _ => evaluated as f64,
                };
            } else {
                probs.iter_mut().for_each(|x| *x = 0.0);
                order.clear();
            }
        }
        let segments = if aggregated {
            &[][..]
        } else {
            &self.segments[..]
        };
        for (si, s) in segments.iter().enumerate() {
            // Most segments (every tree of an ensemble) have a `True` predicate.
            if !matches!(s.cond, Cond::True) {
                match s.cond.eval(ctx) {
                    Ok(Some(true)) => {}
                    Ok(_) => continue,
                    Err(e) => {
                        result = Err(e);
                        break;
                    }
                }
            }
            let walked = self
                .tree_votes
                .as_ref()
                .and_then(|v| Some((v, v.sum.walk(&v.sum.members()[si], &record)?)));
            if let Some((votes, k)) = walked {
                votes.predict(ctx, s.model, k as usize);
            } else if let Err(e) =
                evaluate(ctx, s.model).and_then(|()| crate::output::evaluate_outputs(ctx, s.model))
            {
                result = Err(e);
                break;
            }
            evaluated += 1;
            let seg_pred = &ctx.s.preds[s.model];
            match self.method {
                Method::SelectFirst => {
                    chosen = Some(s);
                    break;
                }
                Method::SelectAll => {
                    picked.push(seg_pred.value);
                    continue;
                }
                Method::ModelChain => {
                    // A missing prediction ends the chain before its outputs are declared.
                    if self.missing == MissingPrediction::ReturnMissing
                        && seg_pred.value.is_missing()
                    {
                        chosen = None;
                        break;
                    }
                    if let Err(e) = self.chain_declare(ctx, s) {
                        result = Err(e);
                        break;
                    }
                    chosen = Some(s);
                    continue;
                }
                _ => {}
            }
            let value = seg_pred.value;
            if value.is_missing() {
                missing_count += 1;
                match self.missing {
                    MissingPrediction::ReturnMissing | MissingPrediction::Continue
                        if !matches!(
                            self.method,
                            Method::MajorityVote | Method::WeightedMajorityVote
                        ) || self.missing == MissingPrediction::ReturnMissing =>
                    {
                        return_missing = true;
                        break;
                    }
                    _ => continue,
                }
            }
            match self.method {
                Method::Sum
                | Method::Average
                | Method::WeightedAverage
                | Method::Median
                | Method::WeightedMedian
                | Method::WeightedSum
                | Method::Max
                    if !classification && !clustering =>
                {
                    let Some(x) = value.num() else {
                        result = Err(EvalError::Evaluation(
                            "a segment's prediction is not a number".into(),
                        )
                        .into());
                        break;
                    };
                    match self.method {
                        Method::Sum => total = r(total + x),
                        Method::Average => {
                            total = r(total + x);
                            denominator += 1.0;
                        }
                        Method::WeightedAverage => {
                            total = r(total + r(x * s.weight));
                            denominator += s.weight;
                        }
                        Method::WeightedSum => total = r(total + r(x * s.weight)),
                        Method::WeightedMedian => weighted.push(x, s.weight),
                        _ => values.push(x),
                    }
                }
                Method::MajorityVote | Method::WeightedMajorityVote => {
                    let Some(i) = ctx.m.models[s.model]
                        .cats
                        .iter()
                        .position(|c| ctx.equal(*c, value))
                    else {
                        result = Err(EvalError::Evaluation(
                            "a segment predicted an unknown category".into(),
                        )
                        .into());
                        break;
                    };
                    let pi = s.cat_map[i];
                    if !order.contains(&pi) {
                        order.push(pi);
                    }
                    probs[pi as usize] += if self.method == Method::MajorityVote {
                        1.0
                    } else {
                        s.weight
                    };
                }
                Method::Average | Method::WeightedAverage => {
                    let w = if self.method == Method::Average {
                        1.0
                    } else {
                        s.weight
                    };
                    let seg_pred = &ctx.s.preds[s.model];
                    for (si, pi) in s.cat_map.iter().enumerate() {
                        let p = if seg_pred.has_probs {
                            seg_pred.probs[si]
                        } else if ctx.m.models[s.model].cats[si] == value {
                            1.0
                        } else {
                            0.0
                        };
                        probs[*pi as usize] = r(probs[*pi as usize] + r(p * w));
                    }
                    first_seen(&mut order, &s.listing, probs.len());
                    denominator += w;
                }
                Method::Median | Method::Max => {
                    // Keep every segment's distribution (flattened) for the per-category step.
                    let seg_pred = &ctx.s.preds[s.model];
                    let n = probs.len();
                    let base = values.len();
                    values.resize(base + n, 0.0);
                    for (si, pi) in s.cat_map.iter().enumerate() {
                        values[base + *pi as usize] = if seg_pred.has_probs {
                            seg_pred.probs[si]
                        } else if ctx.m.models[s.model].cats[si] == value {
                            1.0
                        } else {
                            0.0
                        };
                    }
                }
                _ => {
                    result = Err(EvalError::Evaluation("unsupported aggregation".into()).into());
                    break;
                }
            }
        }
        ctx.s.tree_record = record;
        ctx.s.weighted = weighted;
        let restore = |ctx: &mut Ctx<'_>, probs: Vec<f64>, order: Vec<u32>, values: Vec<f64>| {
            ctx.s.preds[index].probs = probs;
            ctx.s.preds[index].order = order;
            ctx.s.nums_mining = values;
        };
        if let Err(e) = result {
            restore(ctx, probs, order, values);
            return Err(e);
        }
        if matches!(self.method, Method::SelectFirst | Method::ModelChain) {
            restore(ctx, probs, order, values);
            ctx.s.members = picked;
            return self.copy_segment(ctx, index, chosen);
        }
        if self.method == Method::SelectAll {
            restore(ctx, probs, order, values);
            select_all(ctx, index, &picked);
            ctx.s.members = picked;
            return Ok(());
        }
        ctx.s.members = picked;
        let too_many_missing =
            evaluated > 0 && (missing_count as f64 / evaluated as f64) > self.threshold;
        if return_missing || evaluated == missing_count || too_many_missing {
            restore(ctx, probs, order, values);
            if classification || clustering {
                set_classification_default(ctx, index);
            } else {
                set_regression(ctx, index, None);
            }
            return Ok(());
        }
        if !classification && !clustering {
            let x = match self.method {
                Method::Sum => total,
                Method::Average | Method::WeightedAverage => r(total / denominator),
                Method::Median => median(&mut values),
                Method::WeightedSum => total,
                Method::WeightedMedian => ctx.s.weighted.median(float),
                _ => values.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            };
            restore(ctx, probs, order, values);
            set_regression(ctx, index, Some(x));
            return Ok(());
        }
        let n = probs.len();
        match self.method {
            Method::MajorityVote | Method::WeightedMajorityVote => {
                let sum: f64 = probs.iter().sum();
                if sum > 0.0 {
                    probs.iter_mut().for_each(|x| *x /= sum);
                }
            }
            Method::Average | Method::WeightedAverage => {
                probs.iter_mut().for_each(|x| *x = r(*x / denominator));
            }
            Method::Median => {
                let k = values.len() / n.max(1);
                let mut col = std::mem::take(&mut ctx.s.nums);
                for (c, p) in probs.iter_mut().enumerate() {
                    col.clear();
                    col.extend((0..k).map(|j| values[j * n + c]));
                    *p = median(&mut col);
                }
                ctx.s.nums = col;
            }
            _ => {
                // Max: average the distributions of the segments that reach the highest
                // probability.
                let k = values.len() / n.max(1);
                let best = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                let mut count = 0.0;
                for j in 0..k {
                    let row = &values[j * n..(j + 1) * n];
                    if row.contains(&best) {
                        count += 1.0;
                        for (c, p) in probs.iter_mut().enumerate() {
                            *p += row[c];
                        }
                    }
                }
                probs.iter_mut().for_each(|x| *x /= count);
            }
        }
        let node = &ctx.m.models[index];
        let use_order = matches!(
            self.method,
            Method::MajorityVote
                | Method::WeightedMajorityVote
                | Method::Average
                | Method::WeightedAverage
        );
        let label = argmax_label(
            &node.cats,
            &probs,
            if use_order { Some(&order) } else { None },
        );
        restore(ctx, probs, order, values);
        crate::output::set_prediction(ctx, index, label, true);
        Ok(())
    }

    /// The aggregation of an average or a vote of trees that always apply, when every
    /// tree's walk ends at a leaf: the same sums, in the same order, as the general loop of
    /// [`Mining::evaluate`] makes from the segments' predictions. `false` (with `probs`
    /// and `order` to be reset) when a tree needs the general evaluation.
    fn aggregate_walks(
        &self,
        votes: &TreeVotes,
        record: &Record,
        float: bool,
        probs: &mut [f64],
        order: &mut Vec<u32>,
    ) -> bool {
        if !votes.all_apply {
            return false;
        }
        let r = |x: f64| round_to(float, x);
        let w = votes.width;
        for (s, member) in self.segments.iter().zip(votes.sum.members()) {
            let Some(k) = votes.sum.walk(member, record) else {
                return false;
            };
            let k = k as usize;
            match self.method {
                Method::Average | Method::WeightedAverage => {
                    let weight = if self.method == Method::Average {
                        1.0
                    } else {
                        s.weight
                    };
                    let leaf = &votes.probs[k * w..(k + 1) * w];
                    for (si, pi) in s.cat_map.iter().enumerate() {
                        let p = &mut probs[*pi as usize];
                        *p = r(*p + r(leaf[si] * weight));
                    }
                    first_seen(order, &s.listing, probs.len());
                }
                Method::MajorityVote | Method::WeightedMajorityVote => {
                    let pi = s.cat_map[votes.labels[k] as usize];
                    if !order.contains(&pi) {
                        order.push(pi);
                    }
                    probs[pi as usize] += if self.method == Method::MajorityVote {
                        1.0
                    } else {
                        s.weight
                    };
                }
                _ => return false,
            }
        }
        true
    }

    /// A regression sum or average of trees: each tree walked in the [`TreeSum`] when it can be,
    /// evaluated as a segment otherwise, aggregated as [`Mining::evaluate`] does.
    fn evaluate_tree_sum(
        &self,
        sum: &TreeSum,
        ctx: &mut Ctx<'_>,
        index: usize,
    ) -> Result<(), Fail> {
        let float = ctx.m.models[index].float;
        let mut record = std::mem::take(&mut ctx.s.tree_record);
        let mut values = std::mem::take(&mut ctx.s.nums_mining);
        values.clear();
        let mut weighted = std::mem::take(&mut ctx.s.weighted);
        weighted.clear();
        let result = self.sum_trees(sum, ctx, &mut record, (&mut values, &mut weighted), float);
        ctx.s.tree_record = record;
        ctx.s.nums_mining = values;
        ctx.s.weighted = weighted;
        set_regression(ctx, index, result?);
        Ok(())
    }

    /// The sum (or median) of the trees' predictions, or `None` when it is missing; a
    /// median collects them in `values`, a weighted median in `weighted`. (Compiled on its
    /// own, with the walk inlined, however the callers are inlined.)
    #[inline(never)]
    fn sum_trees(
        &self,
        sum: &TreeSum,
        ctx: &mut Ctx<'_>,
        record: &mut Record,
        (values, weighted): (&mut Vec<f64>, &mut Weighted),
        float: bool,
    ) -> Result<Option<f64>, Fail> {
        sum.load(ctx, record);
        if matches!(self.method, Method::Median | Method::WeightedMedian) {
            let weight = |member: u32| self.segments[member as usize].weight;
            let weight: Option<&dyn Fn(u32) -> f64> =
                (self.method == Method::WeightedMedian).then_some(&weight);
            if let Some(median) =
                sum.median(record, &mut weighted.leaves, weight, |x| round_to(float, x))
            {
                return Ok(Some(median));
            }
        }
        let mut total = 0.0;
        let mut denominator = 0.0;
        let mut evaluated = 0usize;
        let mut missing_count = 0usize;
        for (member, s) in sum.members().iter().zip(&self.segments) {
            let value = match sum.walk(member, record) {
                Some(x) => Val::Num(x),
                None => {
                    evaluate(ctx, member.model)?;
                    ctx.s.preds[member.model].value
                }
            };
            evaluated += 1;
            if value.is_missing() {
                missing_count += 1;
                if self.missing == MissingPrediction::SkipSegment {
                    continue;
                }
                return Ok(None);
            }
            let Some(x) = value.num() else {
                return Err(
                    EvalError::Evaluation("a segment's prediction is not a number".into()).into(),
                );
            };
            // The same steps as the general aggregation of `Mining::evaluate`.
            match self.method {
                Method::Sum => total = round_to(float, total + x),
                Method::Average => {
                    total = round_to(float, total + x);
                    denominator += 1.0;
                }
                Method::WeightedAverage => {
                    total = round_to(float, total + round_to(float, x * s.weight));
                    denominator += s.weight;
                }
                Method::Median => values.push(x),
                Method::WeightedMedian => weighted.push(x, s.weight),
                _ => total = round_to(float, total + round_to(float, x * s.weight)),
            }
        }
        let too_many_missing =
            evaluated > 0 && (missing_count as f64 / evaluated as f64) > self.threshold;
        if evaluated == missing_count || too_many_missing {
            return Ok(None);
        }
        Ok(Some(match self.method {
            Method::Average | Method::WeightedAverage => round_to(float, total / denominator),
            Method::Median => median(values),
            Method::WeightedMedian => weighted.median(float),
            _ => total,
        }))
    }

    /// The result of `selectFirst` and `modelChain`: the chosen segment's prediction.
    fn copy_segment(
        &self,
        ctx: &mut Ctx<'_>,
        index: usize,
        chosen: Option<&Segment>,
    ) -> Result<(), Fail> {
        let epoch = ctx.s.epoch;
        let Some(s) = chosen else {
            let p = &mut ctx.s.preds[index];
            p.epoch = epoch;
            p.value = Val::Missing;
            p.has_probs = false;
            p.has_conf = false;
            p.entity = Val::Missing;
            p.ranked.clear();
            return Ok(());
        };
        let (head, tail) = if s.model > index {
            let (a, b) = ctx.s.preds.split_at_mut(s.model);
            (&mut a[index], &b[0])
        } else {
            return Err(EvalError::Evaluation("segment order".into()).into());
        };
        head.epoch = epoch;
        head.value = tail.value;
        head.has_probs = tail.has_probs && !s.cat_map.is_empty();
        head.probs.iter_mut().for_each(|x| *x = 0.0);
        if head.has_probs {
            for (si, pi) in s.cat_map.iter().enumerate() {
                head.probs[*pi as usize] = tail.probs[si];
            }
        }
        head.has_conf = tail.has_conf && !s.cat_map.is_empty();
        if head.has_conf {
            for (si, pi) in s.cat_map.iter().enumerate() {
                head.conf[*pi as usize] = tail.conf[si];
            }
        }
        head.entity = tail.entity;
        head.ranked.clear();
        head.ranked.extend_from_slice(&tail.ranked);
        Ok(())
    }
}

fn median(xs: &mut [f64]) -> f64 {
    if xs.is_empty() {
        return f64::NAN;
    }
    xs.sort_by(|a, b| a.total_cmp(b));
    let k = xs.len();
    if k % 2 == 1 {
        xs[k / 2]
    } else {
        (xs[k / 2 - 1] + xs[k / 2]) / 2.0
    }
}

/// The result of `selectAll`: the list of the applicable segments' predictions (a
/// missing one as `null`), as Java writes a list (`[3.0, -0.5]`), which is how
/// Openscoring's CSV endpoint gives it.
fn select_all(ctx: &mut Ctx<'_>, index: usize, picked: &[Val]) {
    let text = ctx.list_string(picked);
    crate::output::set_prediction(ctx, index, text, false);
}

/// Adds the categories of a segment (`listing`: their indexes among the `n` of the
/// aggregation) that `order` does not have yet, in the segment's order: the order of an
/// average's categories in JPMML, where a tie goes to the first.
fn first_seen(order: &mut Vec<u32>, listing: &[u32], n: usize) {
    if order.len() < n {
        for pi in listing {
            if !order.contains(pi) {
                order.push(*pi);
            }
        }
    }
}

/// The values of the `ScoreDistribution`s under `el`, each once, in document order.
fn distribution_values<'a>(el: &'a Element, out: &mut Vec<&'a str>) {
    for child in el.content() {
        if child.name == "ScoreDistribution" {
            if let Some(v) = child.attr("value") {
                if !out.contains(&v) {
                    out.push(v);
                }
            }
        } else {
            distribution_values(child, out);
        }
    }
}

/// The predictions of a weighted median and their weights, in segment order.
#[derive(Debug, Clone, Default)]
pub(crate) struct Weighted {
    /// Each prediction's place in Java's order of numbers, then its position: sorted, the
    /// keys order the predictions as a stable sort does (and, being small and all
    /// different, sort fast).
    keys: Vec<u128>,
    weights: Vec<f64>,
    /// The leaves of a sum of trees its walks end at, for [`TreeSum::median`].
    leaves: LeafSet,
}

impl Weighted {
    /// Adds a segment's prediction and weight.
    fn push(&mut self, x: f64, weight: f64) {
        let key = (u128::from(crate::types::java_key(x)) << 64) | self.weights.len() as u128;
        self.keys.push(key);
        self.weights.push(weight);
    }

    fn clear(&mut self) {
        self.keys.clear();
        self.weights.clear();
    }

    /// The weighted median, as JPMML takes it: the predictions ordered by value (equal
    /// values keep their segment order), the first value at which the running sum of
    /// weights reaches half the total weight (summed in the model's math context).
    /// Leaves no prediction.
    fn median(&mut self, float: bool) -> f64 {
        self.keys.sort_unstable();
        let weight = |key: &u128| self.weights[(*key as u64) as usize];
        let total = self
            .keys
            .iter()
            .fold(0.0, |sum, key| round_to(float, sum + weight(key)));
        let threshold = 0.5 * total;
        let mut sum = 0.0;
        let mut median = f64::NAN;
        for key in &self.keys {
            sum += weight(key);
            if sum >= threshold {
                median = crate::types::from_java_key((key >> 64) as u64);
                break;
            }
        }
        self.clear();
        median
    }
}

/// The failure of declaring a field twice in one evaluation context.
fn already_defined(name: &str) -> Fail {
    EvalError::Evaluation(format!(
        "the value for field \"{name}\" has already been defined"
    ))
    .into()
}

#[cfg(test)]
mod tests {
    #[test]
    fn weighted_medians_take_the_first_value_reaching_half_the_weight() {
        let median = |pairs: &[(f64, f64)]| {
            let mut weighted = super::Weighted::default();
            for (x, w) in pairs {
                weighted.push(*x, *w);
            }
            weighted.median(false)
        };
        assert_eq!(median(&[(3.0, 1.0), (1.0, 1.0), (2.0, 1.0)]), 2.0);
        assert_eq!(median(&[(3.0, 5.0), (1.0, 1.0), (2.0, 1.0)]), 3.0);
        assert_eq!(median(&[(1.0, 1.0), (2.0, 1.0)]), 1.0);
        assert_eq!(
            median(&[(0.0, 1.0), (-0.0, 1.0)]).to_bits(),
            (-0.0f64).to_bits()
        );
        assert!(median(&[(f64::NAN, 3.0), (1.0, 1.0)]).is_nan());
    }

    #[test]
    fn median_of_odd_and_even() {
        assert_eq!(super::median(&mut [3.0, 1.0, 2.0]), 2.0);
        assert_eq!(super::median(&mut [4.0, 1.0, 2.0, 3.0]), 2.5);
    }
}
