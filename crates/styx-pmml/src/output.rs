//! `Output`/`OutputField`: predicted values, probabilities, affinities, entity ids,
//! transformed values and decisions; and `Targets` post-processing of predictions.

use crate::compile::{
    CastInteger, Compiler, FieldInfo, MiningFunction, ModelNode, SlotDef, TargetDef,
};
use crate::error::{EvalError, Fail, PmmlError};
use crate::eval::{Ctx, Slot, SlotValue};
use crate::expr::{cast, req, Expr};
use crate::models::ModelKind;
use crate::schema::parse_const;
use crate::types::{round_to, DataType, OpType, Val};
use crate::xml::Element;

/// What an output field reports.
#[derive(Debug, Clone)]
pub(crate) enum Feature {
    Predicted,
    /// Probability of a category (index into the model's categories); `None`: of the
    /// predicted category.
    Probability(Option<u32>),
    /// A constant 0.0 whenever there is a prediction (a category the distribution cannot
    /// contain).
    Zero,
    Confidence(Option<u32>),
    Affinity(Option<u32>),
    /// The id of the winning entity, or of the n-th ranked one (1-based).
    EntityId(usize),
    /// An expression and the static type of its value.
    Expression(Expr, DataType),
    ReasonCode(usize),
    /// Association rules selected by the record (see [`crate::models::association`]).
    Rule(Box<crate::models::association::RuleOutput>),
}

/// A compiled `OutputField`.
#[derive(Debug, Clone)]
pub(crate) struct OutputDef {
    pub name: String,
    pub slot: Slot,
    pub feature: Feature,
    pub ty: DataType,
    pub final_result: bool,
}

impl Compiler<'_> {
    pub(crate) fn outputs(
        &mut self,
        out: &Element,
        node: &mut ModelNode,
        model: usize,
    ) -> Result<(), PmmlError> {
        let fields: Vec<&Element> = out.children_named("OutputField").collect();
        // Declare all names first: output fields may refer to each other.
        let mut declared = Vec::new();
        for (i, of) in fields.iter().enumerate() {
            let name = req(of, "name")?;
            let ty = match of.attr("dataType") {
                Some(t) => Some(DataType::parse(t, "OutputField")?),
                None => None,
            };
            let slot = self.new_slot(
                SlotDef::Output {
                    model: model as u32,
                    index: i as u32,
                },
                name,
            );
            let guess = ty.unwrap_or(DataType::Double);
            let optype = match of.attr("optype") {
                Some(o) => OpType::parse(o, "OutputField")?,
                None => OpType::default_for(guess),
            };
            self.declare(
                name,
                FieldInfo {
                    slot,
                    ty: guess,
                    optype,
                },
            );
            declared.push((slot, ty));
        }
        for (of, (slot, ty)) in fields.iter().zip(declared) {
            let name = req(of, "name")?.to_string();
            let feature_name = of.attr("feature").unwrap_or("predictedValue");
            if of.attr("segmentId").is_some() {
                return Err(PmmlError::unsupported(
                    "OutputField",
                    format!("\"{name}\": segmentId is not supported"),
                ));
            }
            if let Some(t) = of.attr("targetField") {
                if node.target.name.as_deref() != Some(t) {
                    return Err(PmmlError::unsupported(
                        "OutputField",
                        format!("\"{name}\": targetField \"{t}\""),
                    ));
                }
            }
            if let ModelKind::Association(a) = &node.kind {
                if let Some(rule) = a.output(of, feature_name)? {
                    let list = rule.is_list();
                    let ty = if list {
                        DataType::String
                    } else {
                        ty.unwrap_or(rule.data_type())
                    };
                    if let Some(scope) = self.scopes.last_mut() {
                        if let Some(info) = scope.get_mut(&name) {
                            info.ty = ty;
                        }
                    }
                    node.outputs.push(OutputDef {
                        name,
                        slot,
                        feature: Feature::Rule(Box::new(rule)),
                        ty,
                        final_result: of.attr("isFinalResult") != Some("false"),
                    });
                    continue;
                }
                if !matches!(feature_name, "transformedValue" | "decision") {
                    return Err(PmmlError::unsupported(
                        "OutputField",
                        format!("\"{name}\": feature=\"{feature_name}\" of an AssociationModel"),
                    ));
                }
            }
            let classification = node.function == MiningFunction::Classification;
            let category =
                |c: &mut Compiler<'_>, node: &ModelNode| -> Result<Option<u32>, PmmlError> {
                    match of.attr("value") {
                        None => Ok(None),
                        Some(v) => {
                            let val = parse_const(&mut c.symbols, node.target.ty, v)
                                .or_else(|| parse_const(&mut c.symbols, DataType::String, v));
                            Ok(val
                                .and_then(|val| node.cats.iter().position(|x| *x == val))
                                .map(|i| i as u32)
                                .or(Some(u32::MAX)))
                        }
                    }
                };
            let (feature, default_ty) = match feature_name {
                "predictedValue" | "predictedDisplayValue" => (Feature::Predicted, node.target.ty),
                "probability" => {
                    if !classification {
                        return Err(PmmlError::invalid(
                            "OutputField",
                            format!("\"{name}\": probability of a non-classification model"),
                        ));
                    }
                    let cat = category(self, node)?;
                    let string_keys =
                        matches!(node.kind, ModelKind::Mining(ref m) if m.untyped_target());
                    if string_keys
                        && of.attr("value").is_some()
                        && node.target.ty != DataType::String
                    {
                        // The segmentation has no typed target field: the category text is
                        // looked up as a string among typed categories and never found.
                        (Feature::Zero, DataType::Double)
                    } else {
                        match cat {
                            Some(u32::MAX) => (Feature::Zero, DataType::Double),
                            c => (Feature::Probability(c), DataType::Double),
                        }
                    }
                }
                "confidence" => {
                    let cat = category(self, node)?;
                    (Feature::Confidence(cat), DataType::Double)
                }
                "affinity" | "entityAffinity" | "clusterAffinity" => {
                    let cat = match of.attr("value") {
                        None => None,
                        Some(v) => {
                            let sym = Val::Str(self.symbols.intern(v));
                            match node.cats.iter().position(|x| *x == sym) {
                                Some(i) => Some(i as u32),
                                None => {
                                    return Err(PmmlError::invalid(
                                        "OutputField",
                                        format!("\"{name}\": unknown entity \"{v}\""),
                                    ))
                                }
                            }
                        }
                    };
                    (Feature::Affinity(cat), DataType::Double)
                }
                "entityId" | "clusterId" | "ruleId" => {
                    let rank = match of.attr("rank") {
                        None => 1,
                        Some(r) => {
                            r.parse::<usize>().ok().filter(|r| *r >= 1).ok_or_else(|| {
                                PmmlError::invalid(
                                    "OutputField",
                                    format!("\"{name}\": invalid rank \"{r}\""),
                                )
                            })?
                        }
                    };
                    (Feature::EntityId(rank), DataType::String)
                }
                "transformedValue" | "decision" => {
                    let (e, t) = self.expr_child(of)?;
                    (Feature::Expression(e, t), t)
                }
                "reasonCode" => {
                    let rank = match of.attr("rank") {
                        None => 1,
                        Some(r) => r
                            .trim()
                            .parse::<usize>()
                            .ok()
                            .filter(|r| *r >= 1)
                            .ok_or_else(|| {
                                PmmlError::invalid(
                                    "OutputField",
                                    format!("\"{name}\": invalid rank \"{r}\""),
                                )
                            })?,
                    };
                    (Feature::ReasonCode(rank), DataType::String)
                }
                other => {
                    return Err(PmmlError::unsupported(
                        "OutputField",
                        format!("\"{name}\": feature=\"{other}\" is not supported"),
                    ))
                }
            };
            let ty = ty.unwrap_or(default_ty);
            if let Some(scope) = self.scopes.last_mut() {
                if let Some(info) = scope.get_mut(&name) {
                    info.ty = ty;
                }
            }
            let final_result = of.attr("isFinalResult") != Some("false");
            node.outputs.push(OutputDef {
                name,
                slot,
                feature,
                ty,
                final_result,
            });
        }
        Ok(())
    }
}

/// Whether output field `index` of `model` has a value for the current record, as JPMML
/// declares output fields: not when the model was not evaluated, nor when the field
/// reports on the prediction (its value, a probability or confidence) and there is none.
/// An undeclared field is a missing result, but reading it from an expression, or from the
/// next model of a chain, fails the record.
pub(crate) fn is_declared(ctx: &Ctx<'_>, model: usize, index: usize) -> bool {
    let pred = &ctx.s.preds[model];
    if pred.epoch != ctx.s.epoch {
        return false;
    }
    match ctx.m.models[model].outputs[index].feature {
        Feature::Predicted | Feature::Probability(_) | Feature::Confidence(_) | Feature::Zero => {
            !pred.value.is_missing()
        }
        _ => true,
    }
}

/// Computes every declared output field of `model`, evaluated for the current record, in
/// order (JPMML computes them all after each model's prediction: an output that cannot
/// be computed fails the record even when nothing reads it).
pub(crate) fn evaluate_outputs(ctx: &mut Ctx<'_>, model: usize) -> Result<(), Fail> {
    let m = ctx.m;
    let node = &m.models[model];
    let epoch = ctx.s.epoch;
    // Not evaluated for this record: no output is declared (see `is_declared`).
    let evaluated = ctx.s.preds[model].epoch == epoch;
    for (i, o) in node.outputs.iter().enumerate() {
        if !evaluated {
            break;
        }
        match o.feature {
            // Expressions and rules may read other fields: through the slots, which
            // compute each once and catch definitions in terms of themselves.
            Feature::Expression(..) | Feature::Rule(_) => {
                ctx.get(o.slot)?;
            }
            // The others read the prediction only: computed straight into their slot.
            _ => {
                let slot = o.slot as usize;
                if ctx.s.slots[slot].epoch == epoch {
                    continue;
                }
                let pred = &ctx.s.preds[model];
                let val = match o.feature {
                    // Undeclared without a prediction (see `is_declared`).
                    Feature::Predicted
                    | Feature::Probability(_)
                    | Feature::Confidence(_)
                    | Feature::Zero
                        if pred.value.is_missing() =>
                    {
                        continue
                    }
                    // The common reports of a prediction, without the general path.
                    Feature::Predicted => cast_plain(ctx, pred.value, o.ty)?,
                    Feature::Probability(Some(c))
                        if pred.has_probs && (c as usize) < pred.probs.len() =>
                    {
                        cast_plain(ctx, Val::Num(pred.probs[c as usize]), o.ty)?
                    }
                    Feature::Probability(None) if pred.has_probs => {
                        let cats = &node.cats;
                        let v = match cats.iter().position(|c| ctx.equal(*c, pred.value)) {
                            Some(c) if c < pred.probs.len() => Val::Num(pred.probs[c]),
                            _ => Val::Num(0.0),
                        };
                        cast_plain(ctx, v, o.ty)?
                    }
                    Feature::ReasonCode(rank) => {
                        let v = pred.ranked.get(rank - 1).copied().unwrap_or(Val::Missing);
                        cast_plain(ctx, v, o.ty)?
                    }
                    _ => eval_output(ctx, model, i)?,
                };
                ctx.s.slots[slot] = SlotValue { epoch, val };
            }
        }
    }
    if let ModelKind::Mining(mm) = &m.models[model].kind {
        mm.check_own_outputs(ctx, model)?;
    }
    Ok(())
}

/// The failure of reading an output field without a value (see [`is_declared`]).
pub(crate) fn undefined(name: &str) -> Fail {
    EvalError::Evaluation(format!("the value for field \"{name}\" is not defined")).into()
}

/// The failure of asking a prediction without probabilities (or confidences) for one.
fn no_distribution(name: &str, confidence: bool) -> Fail {
    let what = if confidence {
        "confidences"
    } else {
        "probabilities"
    };
    EvalError::Evaluation(format!(
        "output field \"{name}\": the model's prediction has no {what}"
    ))
    .into()
}

/// Computes output field `index` of model `model` for the current record.
pub(crate) fn eval_output(ctx: &mut Ctx<'_>, model: usize, index: usize) -> Result<Val, Fail> {
    let m = ctx.m;
    let node = &m.models[model];
    let def = &node.outputs[index];
    if !is_declared(ctx, model, index) {
        return Err(undefined(&def.name));
    }
    if let (Feature::Rule(rule), ModelKind::Association(a)) = (&def.feature, &node.kind) {
        let v = a.output_value(ctx, model, rule)?;
        return if rule.is_list() {
            Ok(v)
        } else {
            cast(ctx, v, def.ty)
        };
    }
    let pred = &ctx.s.preds[model];
    let v = match &def.feature {
        Feature::Predicted => pred.value,
        Feature::Probability(cat) | Feature::Confidence(cat) | Feature::Affinity(cat) => {
            if pred.value.is_missing() && !matches!(def.feature, Feature::Affinity(_)) {
                Val::Missing
            } else {
                let conf = matches!(def.feature, Feature::Confidence(_));
                let (values, ok) = if conf {
                    (&pred.conf, pred.has_conf)
                } else {
                    (&pred.probs, pred.has_probs)
                };
                let i = match cat {
                    Some(i) => Some(*i as usize),
                    None => node.cats.iter().position(|c| ctx.equal(*c, pred.value)),
                };
                if !ok && !matches!(def.feature, Feature::Affinity(_)) {
                    return Err(no_distribution(&def.name, conf));
                }
                match i {
                    Some(i) if ok && i < values.len() => Val::Num(values[i]),
                    Some(_) if !ok => Val::Missing,
                    _ => Val::Num(0.0),
                }
            }
        }
        Feature::Zero => {
            if pred.value.is_missing() {
                Val::Missing
            } else if !pred.has_probs {
                return Err(no_distribution(&def.name, false));
            } else {
                Val::Num(0.0)
            }
        }
        Feature::EntityId(rank) => {
            if pred.ranked.is_empty() {
                if *rank == 1 {
                    pred.entity
                } else {
                    Val::Missing
                }
            } else {
                pred.ranked.get(rank - 1).copied().unwrap_or(Val::Missing)
            }
        }
        Feature::ReasonCode(rank) => pred.ranked.get(rank - 1).copied().unwrap_or(Val::Missing),
        Feature::Expression(e, t) => {
            let (v, rt) = e.eval_dyn(ctx)?;
            return crate::expr::cast_from(ctx, v, rt.unwrap_or(*t), def.ty);
        }
        Feature::Rule(_) => Val::Missing,
    };
    cast(ctx, v, def.ty)
}

/// [`cast`] of a value to `t`, without a call when the value already is a `t` (a number
/// to a double or an integer, a string to a string, a missing value to anything).
#[inline]
fn cast_plain(ctx: &mut Ctx<'_>, v: Val, t: DataType) -> Result<Val, Fail> {
    match (v, t) {
        (Val::Missing, _)
        | (Val::Num(_), DataType::Double | DataType::Integer)
        | (Val::Str(_), DataType::String) => Ok(v),
        _ => cast(ctx, v, t),
    }
}

/// Applies the `Target` element to a regression result.
pub(crate) fn apply_target(t: &TargetDef, float: bool, x: f64) -> f64 {
    let mut v = round_to(float, x);
    if t.min.is_some() || t.max.is_some() {
        v = v.max(round_to(float, t.min.unwrap_or(f64::NEG_INFINITY)));
        v = v.min(round_to(float, t.max.unwrap_or(f64::INFINITY)));
    }
    if t.rescale_factor != 1.0 {
        v = round_to(float, v * round_to(float, t.rescale_factor));
    }
    if t.rescale_constant != 0.0 {
        v = round_to(float, v + round_to(float, t.rescale_constant));
    }
    match t.cast_integer {
        None => v,
        Some(CastInteger::Round) => (v + 0.5).floor(),
        Some(CastInteger::Ceiling) => v.ceil(),
        Some(CastInteger::Floor) => v.floor(),
    }
}

/// Records a regression prediction (after `Targets`) for `model`.
pub(crate) fn set_regression(ctx: &mut Ctx<'_>, model: usize, x: Option<f64>) {
    let node = &ctx.m.models[model];
    let value = match x {
        Some(x) => Val::Num(apply_target(&node.target, node.float, x)),
        // The default value goes through the `Target` like a computed one.
        None => node
            .target
            .default_value
            .map(|d| Val::Num(apply_target(&node.target, node.float, d)))
            .unwrap_or(Val::Missing),
    };
    set_prediction(ctx, model, value, false);
}

/// Records `value` as model `model`'s prediction for the current record, with its
/// probabilities (already written) valid when `has_probs`, and no confidences or entities.
pub(crate) fn set_prediction(ctx: &mut Ctx<'_>, model: usize, value: Val, has_probs: bool) {
    let epoch = ctx.s.epoch;
    let p = &mut ctx.s.preds[model];
    p.epoch = epoch;
    p.value = value;
    p.has_probs = has_probs;
    p.has_conf = false;
    p.entity = Val::Missing;
    p.ranked.clear();
}

/// Records a classification without a result: the prior probabilities of the `Target`
/// element when it has them, else a missing prediction.
pub(crate) fn set_classification_default(ctx: &mut Ctx<'_>, model: usize) {
    let node = &ctx.m.models[model];
    let epoch = ctx.s.epoch;
    let p = &mut ctx.s.preds[model];
    p.epoch = epoch;
    p.has_conf = false;
    p.entity = Val::Missing;
    p.ranked.clear();
    if node.target.priors.is_empty() {
        p.value = Val::Missing;
        p.has_probs = false;
        return;
    }
    p.probs.iter_mut().for_each(|x| *x = 0.0);
    for (c, pr) in &node.target.priors {
        if let Some(i) = node.cats.iter().position(|x| x == c) {
            p.probs[i] = *pr;
        }
    }
    p.has_probs = true;
    p.value = argmax_label(&node.cats, &p.probs, None);
}

/// The category with the highest value, numbers ordered as Java's `Double.compare` orders
/// them (NaN above all, -0 below 0), as JPMML picks its winner; ties go to the first in
/// `order` (or in category order).
pub(crate) fn argmax_label(cats: &[Val], values: &[f64], order: Option<&[u32]>) -> Val {
    let mut best: Option<(usize, f64)> = None;
    let mut consider = |i: usize| {
        let v = values[i];
        if best.is_none_or(|(_, b)| crate::types::java_cmp(v, b).is_gt()) {
            best = Some((i, v));
        }
    };
    match order {
        Some(o) => o.iter().for_each(|i| consider(*i as usize)),
        None => (0..values.len()).for_each(&mut consider),
    }
    best.map(|(i, _)| cats[i]).unwrap_or(Val::Missing)
}
