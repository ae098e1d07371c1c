//! `GeneralRegressionModel`: linear, generalized linear (every link function, with offsets
//! and trials), multinomial logistic, ordinal multinomial (cumulative links) and Cox
//! regression models over a `ParamMatrix` of coefficients and a `PPMatrix` that maps
//! parameters to factor levels, covariate powers and their products.

mod link;
mod terms;

use std::collections::HashMap;

use crate::compile::{Compiler, MiningFunction, ModelNode};
use crate::error::{EvalError, Fail, PmmlError};
use crate::eval::{Ctx, Slot};
use crate::expr::{num_attr, opt_num_attr, req};
use crate::models::regression::Norm;
use crate::models::set_distribution;
use crate::output::{set_classification_default, set_regression};
use crate::types::{float_exp, round_to, OpType, Val};
use crate::xml::Element;
use link::Link;
use terms::{dot, missing, number, predictors, terms, Dot, Groups, Predictor};

/// The `modelType` of a general regression model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Regression,
    GeneralLinear,
    GeneralizedLinear,
    MultinomialLogistic,
    OrdinalMultinomial,
    Cox,
}

/// An offset or a number of trials: a field or a constant.
#[derive(Debug, Clone)]
enum Amount {
    Field(Slot, String),
    Value(f64),
}

/// A baseline cumulative hazard table of a Cox model.
#[derive(Debug, Clone)]
struct Hazards {
    max_time: f64,
    /// (time, cumulative hazard), in document order.
    cells: Vec<(f64, f64)>,
}

/// The `baselineStrataVariable` and the table of each of its values.
#[derive(Debug, Clone)]
struct Strata {
    slot: Slot,
    name: String,
    tables: Vec<(Val, Hazards)>,
}

#[derive(Debug, Clone)]
struct Cox {
    end_time: Slot,
    end_name: String,
    strata: Option<Strata>,
    table: Option<Hazards>,
    /// The dot product of the coefficients with the parameters' reference points; `None`
    /// when a coefficient's parameter is not in the `ParameterList`.
    reference: Option<f64>,
}

/// A compiled `GeneralRegressionModel`.
#[derive(Debug, Clone)]
pub(crate) struct GeneralRegression {
    kind: Kind,
    link: Option<Link>,
    cumulative: Option<Norm>,
    offset: Option<Amount>,
    trials: Option<Amount>,
    /// Regression: one; classification: one per category but the last (in `cats` order).
    dots: Vec<Dot>,
    cox: Option<Cox>,
}

/// An offset or trials attribute pair: the field named by `var`, else the constant `value`.
fn amount(
    c: &mut Compiler<'_>,
    el: &Element,
    var: &str,
    value: &str,
    integer: bool,
) -> Result<Option<Amount>, PmmlError> {
    if let Some(v) = el.attr(var) {
        let f = c.field(v, "GeneralRegressionModel")?;
        return Ok(Some(Amount::Field(f.slot, v.to_string())));
    }
    match opt_num_attr(el, value)? {
        Some(x) if integer && x.fract() != 0.0 => Err(PmmlError::invalid(
            "GeneralRegressionModel",
            format!("{value} is not an integer"),
        )),
        Some(x) => Ok(Some(Amount::Value(x))),
        None => Ok(None),
    }
}

/// The `BaselineCell`s and `maxTime` of a hazard table.
fn hazards(el: &Element) -> Result<Hazards, PmmlError> {
    let mut cells = Vec::new();
    for b in el.children_named("BaselineCell") {
        cells.push((num_attr(b, "time")?, num_attr(b, "cumHazard")?));
    }
    if cells.is_empty() {
        return Err(PmmlError::invalid(
            el.name.clone(),
            "at least one BaselineCell is required",
        ));
    }
    Ok(Hazards {
        max_time: num_attr(el, "maxTime")?,
        cells,
    })
}

fn bad(message: &str) -> PmmlError {
    PmmlError::invalid("GeneralRegressionModel", message)
}

/// The model's `ParamMatrix` and `PPMatrix` cells by target category, and its predictors.
struct Matrices<'d> {
    pp: Groups<'d>,
    params: Groups<'d>,
    factors: HashMap<&'d str, Predictor<'d>>,
    covariates: HashMap<&'d str, Predictor<'d>>,
}

impl Matrices<'_> {
    /// The terms of the `PPMatrix` cells for `category` (else those without a category).
    fn terms(
        &self,
        c: &mut Compiler<'_>,
        category: Option<Val>,
    ) -> Result<(Vec<String>, Vec<terms::Term>), PmmlError> {
        if self.pp.keys.is_empty() {
            return Ok((vec![], vec![]));
        }
        let cells = category
            .and_then(|k| self.pp.get(Some(k)))
            .or_else(|| self.pp.get(None))
            .ok_or_else(|| PmmlError::invalid("PPMatrix", "no PPCells for a target category"))?;
        terms(c, cells, &self.factors, &self.covariates)
    }
}

/// The `modelType`, refused when it does not fit the mining function.
fn model_kind(el: &Element, classification: bool) -> Result<Kind, PmmlError> {
    let name = req(el, "modelType")?;
    let kind = match name {
        "regression" => Kind::Regression,
        "generalLinear" => Kind::GeneralLinear,
        "generalizedLinear" => Kind::GeneralizedLinear,
        "multinomialLogistic" => Kind::MultinomialLogistic,
        "ordinalMultinomial" => Kind::OrdinalMultinomial,
        "CoxRegression" => Kind::Cox,
        o => return Err(bad(&format!("unknown modelType \"{o}\""))),
    };
    let fits = match kind {
        Kind::Regression | Kind::GeneralLinear | Kind::Cox => !classification,
        Kind::MultinomialLogistic | Kind::OrdinalMultinomial => classification,
        Kind::GeneralizedLinear => true,
    };
    if !fits {
        let function = if classification {
            "classification"
        } else {
            "regression"
        };
        return Err(bad(&format!("modelType=\"{name}\" for a {function}")));
    }
    Ok(kind)
}

/// Compiles a `GeneralRegressionModel`.
pub(crate) fn compile(
    c: &mut Compiler<'_>,
    el: &Element,
    node: &mut ModelNode,
) -> Result<GeneralRegression, PmmlError> {
    let classification = match node.function {
        MiningFunction::Regression => false,
        MiningFunction::Classification => true,
        other => {
            return Err(PmmlError::unsupported(
                "GeneralRegressionModel",
                format!("functionName=\"{}\"", other.name()),
            ))
        }
    };
    let kind = model_kind(el, classification)?;
    let link = match kind {
        Kind::GeneralizedLinear => Some(link::parse_link(el)?),
        _ => None,
    };
    let cumulative = match kind {
        Kind::OrdinalMultinomial => Some(link::parse_cumulative(el)?),
        _ => None,
    };
    if node.float && (link == Some(Link::Probit) || cumulative == Some(Norm::Probit)) {
        return Err(PmmlError::unsupported(
            "GeneralRegressionModel",
            "the probit link in x-mathContext=\"float\"",
        ));
    }
    let offset = match kind {
        Kind::GeneralizedLinear | Kind::OrdinalMultinomial => {
            amount(c, el, "offsetVariable", "offsetValue", false)?
        }
        _ => None,
    };
    let trials = match kind {
        Kind::GeneralizedLinear => amount(c, el, "trialsVariable", "trialsValue", true)?,
        _ => None,
    };
    let parameters = el
        .child("ParameterList")
        .ok_or_else(|| bad("a ParameterList is required"))?;
    let pp = el
        .child("PPMatrix")
        .ok_or_else(|| bad("a PPMatrix is required"))?;
    let params = el
        .child("ParamMatrix")
        .ok_or_else(|| bad("a ParamMatrix is required"))?;
    let m = Matrices {
        pp: Groups::new(c, pp, "PPCell", node.target.ty)?,
        params: Groups::new(c, params, "PCell", node.target.ty)?,
        factors: predictors(el, "FactorList"),
        covariates: predictors(el, "CovariateList"),
    };
    let dots = if classification {
        let (cats, dots) = classification_dots(c, el, node, kind, &m)?;
        node.cats = cats;
        dots
    } else {
        vec![regression_dot(c, &m)?]
    };
    let cox = match kind {
        Kind::Cox => Some(cox(c, el, parameters, &m)?),
        _ => None,
    };
    Ok(GeneralRegression {
        kind,
        link,
        cumulative,
        offset,
        trials,
        dots,
        cox,
    })
}

/// The one linear predictor of a regression: the cells without a target category.
fn regression_dot(c: &mut Compiler<'_>, m: &Matrices<'_>) -> Result<Dot, PmmlError> {
    if !m.pp.keys.is_empty() && m.pp.get(None).is_none() {
        return Err(PmmlError::invalid(
            "PPMatrix",
            "no PPCells without targetCategory",
        ));
    }
    let (names, terms) = m.terms(c, None)?;
    match (m.params.keys.len(), m.params.get(None)) {
        (1, Some(cells)) => dot(cells, &names, &terms),
        _ => Err(PmmlError::invalid(
            "ParamMatrix",
            "a regression needs PCells without targetCategory, and only those",
        )),
    }
}

/// The target categories of a classification, the reference category last, and the
/// linear predictors of all but the last.
fn classification_dots(
    c: &mut Compiler<'_>,
    el: &Element,
    node: &ModelNode,
    kind: Kind,
    m: &Matrices<'_>,
) -> Result<(Vec<Val>, Vec<Dot>), PmmlError> {
    if !matches!(node.target.optype, OpType::Categorical | OpType::Ordinal) {
        return Err(bad(
            "a classification needs a categorical or ordinal target",
        ));
    }
    let mut cats = node
        .target
        .name
        .as_ref()
        .and_then(|n| c.data_fields.get(n))
        .map(|df| df.valid.clone())
        .unwrap_or_default();
    if cats.len() < 2 {
        return Err(bad("the target field needs at least two categories"));
    }
    let mut reference = match el.attr("targetReferenceCategory") {
        Some(t) => Some(c.constant_for(node.target.ty, t, "GeneralRegressionModel")?),
        None => None,
    };
    if kind != Kind::OrdinalMultinomial && reference.is_none() {
        // The reference category is the one category without PCells.
        let absent: Vec<Val> = cats
            .iter()
            .filter(|k| m.params.get(Some(**k)).is_none())
            .copied()
            .collect();
        if absent.len() != 1 {
            return Err(PmmlError::invalid(
                "ParamMatrix",
                "cannot tell the reference category: exactly one target category must have no PCells",
            ));
        }
        reference = Some(absent[0]);
    }
    if let Some(i) = reference.and_then(|r| cats.iter().position(|k| *k == r)) {
        let r = cats.remove(i);
        cats.push(r);
    }
    let n = cats.len();
    let mut dots = Vec::new();
    for cat in cats.iter().take(n - 1) {
        let (names, terms) = m.terms(c, Some(*cat))?;
        let pcells: Vec<&Element> = if kind == Kind::OrdinalMultinomial {
            // One intercept per category, the other coefficients common to all.
            let intercept = m.params.get(Some(*cat)).filter(|g| g.len() == 1);
            let (Some(intercept), Some(common)) = (intercept, m.params.get(None)) else {
                return Err(PmmlError::invalid(
                    "ParamMatrix",
                    "an ordinal model needs one intercept PCell per category but the last, and common PCells",
                ));
            };
            common.iter().chain(intercept).copied().collect()
        } else {
            // A binary target's coefficients may do without a targetCategory.
            m.params
                .get(Some(*cat))
                .or_else(|| if n == 2 { m.params.get(None) } else { None })
                .ok_or_else(|| {
                    PmmlError::invalid("ParamMatrix", "no PCells for a target category")
                })?
                .to_vec()
        };
        dots.push(dot(&pcells, &names, &terms)?);
    }
    Ok((cats, dots))
}

/// The end time, baseline hazard tables and reference point of a Cox regression.
fn cox(
    c: &mut Compiler<'_>,
    el: &Element,
    parameters: &Element,
    m: &Matrices<'_>,
) -> Result<Cox, PmmlError> {
    let end_name = el
        .attr("endTimeVariable")
        .ok_or_else(|| bad("CoxRegression needs an endTimeVariable"))?;
    let end_time = c.field(end_name, "GeneralRegressionModel")?.slot;
    let tables = el
        .child("BaseCumHazardTables")
        .ok_or_else(|| bad("CoxRegression needs BaseCumHazardTables"))?;
    let (strata, table) = match el.attr("baselineStrataVariable") {
        Some(v) => {
            let f = c.field(v, "GeneralRegressionModel")?;
            let mut list = Vec::new();
            for s in tables.children_named("BaselineStratum") {
                let value = c.constant_for(f.ty, req(s, "value")?, "BaselineStratum")?;
                list.push((value, hazards(s)?));
            }
            let strata = Strata {
                slot: f.slot,
                name: v.to_string(),
                tables: list,
            };
            (Some(strata), None)
        }
        None => (None, Some(hazards(tables)?)),
    };
    let mut reference_points = HashMap::new();
    for p in parameters.children_named("Parameter") {
        let point = opt_num_attr(p, "referencePoint")?.unwrap_or(0.0);
        reference_points.insert(req(p, "name")?, point);
    }
    let mut reference = Some(0.0);
    for p in m.params.get(None).unwrap_or_default() {
        let beta = num_attr(p, "beta")?;
        reference = match (reference, reference_points.get(req(p, "parameterName")?)) {
            (Some(s), Some(rp)) => Some(s + beta * rp),
            _ => None,
        };
    }
    Ok(Cox {
        end_time,
        end_name: end_name.to_string(),
        strata,
        table,
        reference,
    })
}

/// Records a regression result (or the default for `None`), failing one that an integer
/// target cannot hold.
fn finish(ctx: &mut Ctx<'_>, index: usize, v: Option<f64>) -> Result<(), Fail> {
    crate::models::check_integer_target(ctx, index, v)?;
    set_regression(ctx, index, v);
    Ok(())
}

/// Java's `Double.compare` as a "greater than" test: NaN above everything.
fn java_greater(a: f64, b: f64) -> bool {
    match (a.is_nan(), b.is_nan()) {
        (true, true) => false,
        (true, false) => true,
        (false, true) => false,
        _ => a > b,
    }
}

impl GeneralRegression {
    fn amount(&self, ctx: &mut Ctx<'_>, a: &Option<Amount>) -> Result<Option<f64>, Fail> {
        match a {
            None => Ok(None),
            Some(Amount::Value(x)) => Ok(Some(*x)),
            Some(Amount::Field(slot, name)) => number(ctx, *slot, name).map(Some),
        }
    }

    /// The inverse link of a generalized linear model, with offset and trials.
    fn link(&self, ctx: &mut Ctx<'_>, float: bool, x: f64) -> Result<f64, Fail> {
        let r = |v: f64| round_to(float, v);
        let mut x = x;
        if let Some(o) = self.amount(ctx, &self.offset)? {
            x = r(x + r(o));
        }
        let link = self.link.unwrap_or(Link::Identity);
        x = link.apply(float, x);
        if let Some(t) = self.amount(ctx, &self.trials)? {
            if t.fract() != 0.0 {
                let name = match &self.trials {
                    Some(Amount::Field(_, n)) => n.as_str(),
                    _ => "trialsValue",
                };
                return Err(Box::new(EvalError::Evaluation(format!(
                    "field \"{name}\": {t} is not an integer number of trials"
                ))));
            }
            x = r(x * t);
        }
        Ok(x)
    }

    pub(crate) fn evaluate(&self, ctx: &mut Ctx<'_>, index: usize) -> Result<(), Fail> {
        let float = ctx.m.models[index].float;
        match self.kind {
            Kind::Regression | Kind::GeneralLinear | Kind::GeneralizedLinear
                if !crate::models::is_classification(&ctx.m.models[index]) =>
            {
                let v = match self.dots[0].value(ctx, float)? {
                    Some(x) if self.kind == Kind::GeneralizedLinear => {
                        Some(self.link(ctx, float, x)?)
                    }
                    v => v,
                };
                finish(ctx, index, v)?;
                Ok(())
            }
            Kind::Cox => self.evaluate_cox(ctx, index, float),
            _ => self.evaluate_classification(ctx, index, float),
        }
    }

    fn evaluate_cox(&self, ctx: &mut Ctx<'_>, index: usize, float: bool) -> Result<(), Fail> {
        let r = |v: f64| round_to(float, v);
        let Some(cox) = &self.cox else {
            return Ok(());
        };
        let table = match &cox.strata {
            Some(strata) => {
                let v = ctx.get(strata.slot)?;
                if v.is_missing() {
                    return Err(missing(&strata.name));
                }
                match strata.tables.iter().find(|(s, _)| ctx.equal(v, *s)) {
                    Some((_, t)) => t,
                    None => {
                        finish(ctx, index, None)?;
                        return Ok(());
                    }
                }
            }
            None => match &cox.table {
                Some(t) => t,
                None => return Ok(()),
            },
        };
        let time = number(ctx, cox.end_time, &cox.end_name)?;
        if time > table.max_time {
            finish(ctx, index, None)?;
            return Ok(());
        }
        let min_time = table
            .cells
            .iter()
            .map(|c| c.0)
            .fold(f64::INFINITY, f64::min);
        if time < min_time {
            finish(ctx, index, Some(0.0))?;
            return Ok(());
        }
        // The cell with the largest time not above the end time (the first of equals).
        let mut best: Option<(f64, f64)> = None;
        for &(t, h) in &table.cells {
            if t <= time && best.is_none_or(|(bt, _)| t > bt) {
                best = Some((t, h));
            }
        }
        let Some((_, hazard)) = best else {
            finish(ctx, index, None)?;
            return Ok(());
        };
        let dot = self.dots[0].value(ctx, float)?;
        let v = match (dot, cox.reference) {
            (Some(d), Some(s)) => {
                let e = r(d - r(s));
                let e = if float { float_exp(e) } else { e.exp() };
                Some(r(e * r(hazard)))
            }
            _ => None,
        };
        finish(ctx, index, v)?;
        Ok(())
    }

    fn evaluate_classification(
        &self,
        ctx: &mut Ctx<'_>,
        index: usize,
        float: bool,
    ) -> Result<(), Fail> {
        let r = |v: f64| round_to(float, v);
        let mut probs = std::mem::take(&mut ctx.s.preds[index].probs);
        let result = self.fill(ctx, float, &mut probs);
        let node = &ctx.m.models[index];
        match result {
            Ok(true) => {
                if self.kind == Kind::MultinomialLogistic {
                    let mut sum = 0.0;
                    for x in probs.iter() {
                        sum = r(sum + *x);
                    }
                    if sum == 0.0 {
                        ctx.s.preds[index].probs = probs;
                        return Err(Box::new(EvalError::Evaluation(
                            "the multinomial logistic probabilities sum to zero".into(),
                        )));
                    }
                    if sum != 1.0 {
                        probs.iter_mut().for_each(|x| *x = r(*x / sum));
                    }
                }
                let mut best: Option<usize> = None;
                for (i, x) in probs.iter().enumerate() {
                    if best.is_none_or(|b| java_greater(*x, probs[b])) {
                        best = Some(i);
                    }
                }
                let label = best.map(|b| node.cats[b]).unwrap_or(Val::Missing);
                ctx.s.preds[index].probs = probs;
                set_distribution(ctx, index, Some(label), None);
                Ok(())
            }
            Ok(false) => {
                ctx.s.preds[index].probs = probs;
                set_classification_default(ctx, index);
                Ok(())
            }
            Err(e) => {
                ctx.s.preds[index].probs = probs;
                Err(e)
            }
        }
    }

    /// Fills the per-category values; `false` when a predictor is missing.
    fn fill(&self, ctx: &mut Ctx<'_>, float: bool, probs: &mut [f64]) -> Result<bool, Fail> {
        let r = |v: f64| round_to(float, v);
        // The model's categories; a prior probability's category outside them (listed
        // after them) has probability 0.
        let n = self.dots.len() + 1;
        probs.iter_mut().skip(n).for_each(|p| *p = 0.0);
        let mut previous_link: Option<f64> = None;
        let mut previous_cumulative: Option<f64> = None;
        for (i, slot) in probs.iter_mut().take(n).enumerate() {
            let mut v = if i < n - 1 {
                let Some(x) = self.dots[i].value(ctx, float)? else {
                    return Ok(false);
                };
                match self.kind {
                    Kind::GeneralizedLinear => self.link(ctx, float, x)?,
                    Kind::MultinomialLogistic => {
                        if float {
                            float_exp(x)
                        } else {
                            x.exp()
                        }
                    }
                    _ => {
                        let mut x = x;
                        if let Some(o) = self.amount(ctx, &self.offset)? {
                            x = r(x + r(o));
                        }
                        self.cumulative.unwrap_or(Norm::Logit).apply(float, x)
                    }
                }
            } else {
                match self.kind {
                    Kind::GeneralizedLinear => match previous_link {
                        Some(p) => r(1.0 - p),
                        None => 1.0,
                    },
                    _ => 1.0,
                }
            };
            match self.kind {
                Kind::GeneralizedLinear => previous_link = Some(v),
                Kind::OrdinalMultinomial => {
                    let cumulative = v;
                    if let Some(p) = previous_cumulative {
                        v = r(v - p);
                    }
                    previous_cumulative = Some(cumulative);
                }
                _ => {}
            }
            *slot = v;
        }
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use crate::Model;

    fn grm(function: &str, attrs: &str, pcells: &str) -> String {
        format!(
            r#"<PMML xmlns="http://www.dmg.org/PMML-4_4" version="4.4"><Header/>
            <DataDictionary><DataField name="x" optype="continuous" dataType="double"/>
            <DataField name="y" optype="categorical" dataType="integer"><Value value="0"/><Value value="1"/></DataField>
            <DataField name="z" optype="continuous" dataType="double"/></DataDictionary>
            <GeneralRegressionModel functionName="{function}" {attrs}><MiningSchema>
            <MiningField name="{target}" usageType="target"/><MiningField name="x"/></MiningSchema>
            <ParameterList><Parameter name="p0"/><Parameter name="p1"/></ParameterList>
            <CovariateList><Predictor name="x"/></CovariateList>
            <PPMatrix><PPCell value="1" predictorName="x" parameterName="p1"/></PPMatrix>
            <ParamMatrix>{pcells}</ParamMatrix></GeneralRegressionModel></PMML>"#,
            target = if function == "regression" { "z" } else { "y" }
        )
    }

    const CLASS: &str = r#"<PCell targetCategory="1" parameterName="p0" beta="0.5"/><PCell targetCategory="1" parameterName="p1" beta="0.25"/>"#;
    const REG: &str =
        r#"<PCell parameterName="p0" beta="0.5"/><PCell parameterName="p1" beta="0.25"/>"#;

    fn predict(m: &Model, x: &str) -> f64 {
        let mut row = m.new_row();
        row.set_text(0, x);
        let mut s = m.scratch();
        m.evaluate(&row, &mut s).unwrap();
        m.result(&s, 0).as_f64().unwrap()
    }

    #[test]
    fn refuses_what_jpmml_refuses() {
        let refused = [
            grm("classification", r#"modelType="regression""#, CLASS),
            grm("regression", r#"modelType="multinomialLogistic""#, REG),
            grm("classification", r#"modelType="CoxRegression""#, CLASS),
            grm(
                "classification",
                r#"modelType="generalizedLinear" linkFunction="cauchit""#,
                CLASS,
            ),
            grm(
                "regression",
                r#"modelType="generalizedLinear" linkFunction="power""#,
                REG,
            ),
            grm(
                "regression",
                r#"modelType="generalizedLinear" linkFunction="negbin""#,
                REG,
            ),
            grm(
                "regression",
                r#"modelType="generalizedLinear" linkFunction="probit" x-mathContext="float""#,
                REG,
            ),
            grm("regression", r#"modelType="generalizedLinear""#, REG),
            grm("regression", r#"modelType="regression""#, CLASS),
            grm("classification", r#"modelType="ordinalMultinomial""#, CLASS),
            grm("regression", r#"modelType="CoxRegression""#, REG),
        ];
        for doc in refused {
            assert!(Model::parse(&doc).is_err(), "{doc}");
        }
    }

    #[test]
    fn links_and_typed_target_categories() {
        let m = Model::parse(&grm("regression", r#"modelType="generalizedLinear" linkFunction="power" linkParameter="0.5" offsetValue="1""#, REG)).unwrap();
        // (0.5 + 0.25*2 + 1)^2
        assert_eq!(predict(&m, "2"), 4.0);
        let m = Model::parse(&grm(
            "regression",
            r#"modelType="generalizedLinear" linkFunction="log" trialsValue="3""#,
            REG,
        ))
        .unwrap();
        assert!((predict(&m, "2") - 3.0 * 1f64.exp()).abs() < 1e-12);
        // A decimal targetCategory of an integer target names the integer category.
        let doc = grm(
            "classification",
            r#"modelType="multinomialLogistic""#,
            &CLASS.replace(r#""1""#, r#""1.0""#),
        );
        let m = Model::parse(&doc).unwrap();
        assert_eq!(predict(&m, "1"), 1.0);
        // A prior probability of a category the target field does not declare.
        let priors = r#"<Targets><Target field="y"><TargetValue value="1" priorProbability="0.5"/><TargetValue value="2" priorProbability="0.5"/></Target></Targets><ParameterList>"#;
        let doc = grm(
            "classification",
            r#"modelType="multinomialLogistic""#,
            CLASS,
        )
        .replace("<ParameterList>", priors);
        let m = Model::parse(&doc).unwrap();
        assert_eq!(predict(&m, "1"), 1.0);
    }
}
