//! The model types: compilation dispatch and evaluation dispatch.

pub(crate) mod association;
pub(crate) mod bayes;
pub(crate) mod cluster;
pub(crate) mod general_regression;
pub(crate) mod knn;
pub(crate) mod mining;
pub(crate) mod neural;
pub(crate) mod regression;
pub(crate) mod ruleset;
pub(crate) mod scorecard;
pub(crate) mod svm;
pub(crate) mod timeseries;
pub(crate) mod tree;

use crate::compile::{Compiler, MiningFunction, ModelNode};
use crate::error::{EvalError, Fail, PmmlError};
use crate::eval::Ctx;
use crate::types::Val;
use crate::xml::Element;

/// A compiled model of one of the supported types.
#[derive(Debug, Clone)]
pub(crate) enum ModelKind {
    /// Only during compilation.
    Placeholder,
    Regression(regression::Regression),
    Tree(tree::Tree),
    Mining(mining::Mining),
    Neural(neural::Neural),
    Bayes(bayes::Bayes),
    Svm(svm::Svm),
    Knn(knn::Knn),
    Clustering(cluster::Clustering),
    RuleSet(ruleset::RuleSet),
    GeneralRegression(general_regression::GeneralRegression),
    Scorecard(scorecard::Scorecard),
    Association(association::Association),
    TimeSeries(timeseries::TimeSeries),
}

/// Compiles the type-specific part of a model element.
pub(crate) fn compile<'d>(
    c: &mut Compiler<'d>,
    el: &'d Element,
    node: &mut ModelNode,
    index: usize,
) -> Result<ModelKind, PmmlError> {
    match el.name.as_str() {
        "RegressionModel" => regression::compile(c, el, node).map(ModelKind::Regression),
        "TreeModel" => tree::compile(c, el, node).map(ModelKind::Tree),
        "MiningModel" => mining::compile(c, el, node, index).map(ModelKind::Mining),
        "NeuralNetwork" => neural::compile(c, el, node).map(ModelKind::Neural),
        "NaiveBayesModel" => bayes::compile(c, el, node).map(ModelKind::Bayes),
        "SupportVectorMachineModel" => svm::compile(c, el, node).map(ModelKind::Svm),
        "NearestNeighborModel" => knn::compile(c, el, node).map(ModelKind::Knn),
        "ClusteringModel" => cluster::compile(c, el, node).map(ModelKind::Clustering),
        "RuleSetModel" => ruleset::compile(c, el, node).map(ModelKind::RuleSet),
        "GeneralRegressionModel" => {
            general_regression::compile(c, el, node).map(ModelKind::GeneralRegression)
        }
        "Scorecard" => scorecard::compile(c, el, node).map(ModelKind::Scorecard),
        "AssociationModel" => association::compile(c, el, node).map(ModelKind::Association),
        "TimeSeriesModel" => timeseries::compile(c, el, node).map(ModelKind::TimeSeries),
        // JPMML-Evaluator has no evaluator of baseline (change detection) models.
        "BaselineModel" => Err(PmmlError::unsupported(
            "BaselineModel",
            "baseline models (TestDistributions) are not supported",
        )),
        other => Err(PmmlError::unsupported(
            other,
            "this model type is not supported",
        )),
    }
}

/// Evaluates model `index` for the current record, recording its prediction.
pub(crate) fn evaluate(ctx: &mut Ctx<'_>, index: usize) -> Result<(), Fail> {
    let m = ctx.m;
    match &m.models[index].kind {
        ModelKind::Placeholder => Err(EvalError::Evaluation("model not compiled".into()).into()),
        ModelKind::Regression(r) => r.evaluate(ctx, index),
        ModelKind::Tree(t) => t.evaluate(ctx, index),
        ModelKind::Mining(mm) => mm.evaluate(ctx, index),
        ModelKind::Neural(n) => n.evaluate(ctx, index),
        ModelKind::Bayes(b) => b.evaluate(ctx, index),
        ModelKind::Svm(s) => s.evaluate(ctx, index),
        ModelKind::Knn(k) => k.evaluate(ctx, index),
        ModelKind::Clustering(c) => c.evaluate(ctx, index),
        ModelKind::RuleSet(r) => r.evaluate(ctx, index),
        ModelKind::GeneralRegression(g) => g.evaluate(ctx, index),
        ModelKind::Scorecard(s) => s.evaluate(ctx, index),
        ModelKind::Association(a) => a.evaluate(ctx, index),
        ModelKind::TimeSeries(t) => t.evaluate(ctx, index),
    }
}

/// Adds `v` to the category list unless present; returns its index.
pub(crate) fn cat_index(cats: &mut Vec<Val>, v: Val) -> u32 {
    match cats.iter().position(|x| *x == v) {
        Some(i) => i as u32,
        None => {
            cats.push(v);
            (cats.len() - 1) as u32
        }
    }
}

/// Records a classification: `fill` writes the probabilities (indexed like the model's
/// categories) and returns the label, or `None` for the highest probability.
pub(crate) fn set_distribution(
    ctx: &mut Ctx<'_>,
    index: usize,
    label: Option<Val>,
    order: Option<&[u32]>,
) {
    let node = &ctx.m.models[index];
    let epoch = ctx.s.epoch;
    let p = &mut ctx.s.preds[index];
    p.epoch = epoch;
    p.has_probs = true;
    p.has_conf = false;
    p.entity = Val::Missing;
    p.ranked.clear();
    p.value = match label {
        Some(l) => l,
        None => crate::output::argmax_label(&node.cats, &p.probs, order),
    };
}

/// Whether a model's function is classification.
pub(crate) fn is_classification(node: &ModelNode) -> bool {
    node.function == MiningFunction::Classification
}

/// Fails a regression result that an `integer` target field cannot hold (a fraction or
/// NaN after the `Target` processing), as JPMML does when it casts the result to the
/// target's type.
pub(crate) fn check_integer_target(
    ctx: &Ctx<'_>,
    index: usize,
    x: Option<f64>,
) -> Result<(), Fail> {
    let node = &ctx.m.models[index];
    let Some(x) = x.or(node.target.default_value) else {
        return Ok(());
    };
    if node.target.ty != crate::types::DataType::Integer {
        return Ok(());
    }
    let v = crate::output::apply_target(&node.target, node.float, x);
    if v.fract() == 0.0 {
        return Ok(());
    }
    Err(EvalError::Evaluation(format!(
        "the result {v} is not an integer, as the target field \"{}\" requires",
        node.target.name.as_deref().unwrap_or("")
    ))
    .into())
}
