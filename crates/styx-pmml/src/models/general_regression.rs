//! `GeneralRegressionModel`: linear, generalized linear (every link function, with offsets
//! and trials), multinomial logistic, ordinal multinomial (cumulative links) and Cox
//! regression models over a `ParamMatrix` of coefficients and a `PPMatrix` that maps
//! parameters to factor levels, covariate powers and their products.

use std::collections::HashMap;

use crate::compile::{Compiler, MiningFunction, ModelNode};
use crate::error::{EvalError, Fail, PmmlError};
use crate::eval::{Ctx, Slot};
use crate::expr::{num_attr, opt_num_attr, req};
use crate::models::regression::Norm;
use crate::models::set_distribution;
use crate::output::{set_classification_default, set_regression};
use crate::types::{float_exp, round_to, DataType, OpType, Val};
use crate::xml::Element;

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

/// The inverse of a `linkFunction` of a generalized linear model.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Link {
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
    fn apply(self, float: bool, x: f64) -> f64 {
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

/// A factor of a parameter's predictor product.
#[derive(Debug, Clone)]
enum Factor {
    /// 1 when the field equals the level, else 0.
    Level { slot: Slot, value: Val },
    /// The contrast matrix element at (the field's category, the level's category).
    Contrast {
        slot: Slot,
        categories: Vec<Val>,
        /// The level's column; `None`: the level is not a category (an error when used).
        column: Option<usize>,
        /// Dense rows of the matrix; `None`: no such element (an error when used).
        matrix: Vec<Vec<Option<f64>>>,
        name: String,
    },
}

/// The predictor product of one parameter: the factors, then the covariate powers.
#[derive(Debug, Clone, Default)]
struct Term {
    factors: Vec<Factor>,
    /// Field and exponent (`None` for 1).
    covariates: Vec<(Slot, Option<f64>, String)>,
}

/// A linear predictor: the `PCell`s in document order, each with its term (`None`: the
/// parameter has no predictors, as an intercept).
#[derive(Debug, Clone, Default)]
struct Dot {
    cells: Vec<(f64, Option<usize>)>,
    terms: Vec<Term>,
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

/// The cells of a `PPMatrix` or `ParamMatrix`, grouped by `targetCategory` (`None` for the
/// cells without one) in order of first appearance.
struct Groups<'d> {
    keys: Vec<Option<Val>>,
    cells: Vec<Vec<&'d Element>>,
}

impl<'d> Groups<'d> {
    fn new(
        c: &mut Compiler<'_>,
        el: Option<&'d Element>,
        cell: &'static str,
        target: DataType,
    ) -> Result<Self, PmmlError> {
        let mut g = Groups {
            keys: vec![],
            cells: vec![],
        };
        for e in el.into_iter().flat_map(|m| m.children_named(cell)) {
            let key = match e.attr("targetCategory") {
                None => None,
                Some(t) => Some(c.constant_for(target, t, cell)?),
            };
            match g.keys.iter().position(|k| *k == key) {
                Some(i) => g.cells[i].push(e),
                None => {
                    g.keys.push(key);
                    g.cells.push(vec![e]);
                }
            }
        }
        Ok(g)
    }

    fn get(&self, key: Option<Val>) -> Option<&[&'d Element]> {
        self.keys
            .iter()
            .position(|k| *k == key)
            .map(|i| self.cells[i].as_slice())
    }
}

/// A `FactorList` or `CovariateList` predictor, by field name.
struct Predictor<'d> {
    el: &'d Element,
}

fn predictors<'d>(el: &'d Element, list: &str) -> HashMap<&'d str, Predictor<'d>> {
    let mut m = HashMap::new();
    if let Some(l) = el.child(list) {
        for p in l.children_named("Predictor") {
            if let Some(n) = p.attr("name") {
                m.insert(n, Predictor { el: p });
            }
        }
    }
    m
}

/// Reads a `Matrix` into dense rows, as JPMML looks up its elements.
fn matrix(el: &Element, n: usize) -> Result<Vec<Vec<Option<f64>>>, PmmlError> {
    let arrays: Vec<Vec<f64>> = el
        .children_named("Array")
        .map(crate::predicate::array_numbers)
        .collect::<Result<_, _>>()?;
    let diag_default = opt_num_attr(el, "diagDefault")?;
    let off_default = opt_num_attr(el, "offDiagDefault")?;
    let mut m = vec![vec![None; n]; n];
    match el.attr("kind").unwrap_or("any") {
        "diagonal" => {
            if let [d] = arrays.as_slice() {
                for (i, row) in m.iter_mut().enumerate() {
                    for (j, cell) in row.iter_mut().enumerate() {
                        if i == j {
                            *cell = d.get(i).copied();
                        } else if i < d.len() && j < d.len() {
                            *cell = off_default;
                        }
                    }
                }
            }
        }
        "symmetric" => {
            for (i, row) in m.iter_mut().enumerate() {
                for (j, cell) in row.iter_mut().enumerate() {
                    let (a, b) = if j > i { (j, i) } else { (i, j) };
                    *cell = arrays.get(a).and_then(|r| r.get(b)).copied();
                }
            }
        }
        "any" => {
            if !arrays.is_empty() {
                for (i, row) in m.iter_mut().enumerate() {
                    for (j, cell) in row.iter_mut().enumerate() {
                        *cell = arrays.get(i).and_then(|r| r.get(j)).copied();
                    }
                }
            } else {
                let mut cells = HashMap::new();
                for mc in el.children_named("MatCell") {
                    let row: usize = req(mc, "row")?.trim().parse().map_err(|_| {
                        PmmlError::invalid("MatCell", "row is not a positive integer")
                    })?;
                    let col: usize = req(mc, "col")?.trim().parse().map_err(|_| {
                        PmmlError::invalid("MatCell", "col is not a positive integer")
                    })?;
                    let v = crate::types::parse_double(mc.text.trim()).ok_or_else(|| {
                        PmmlError::invalid("MatCell", format!("\"{}\" is not a number", mc.text))
                    })?;
                    cells.entry((row, col)).or_insert(v);
                }
                for (i, row) in m.iter_mut().enumerate() {
                    for (j, cell) in row.iter_mut().enumerate() {
                        *cell = cells.get(&(i + 1, j + 1)).copied().or(if i == j {
                            diag_default
                        } else {
                            off_default
                        });
                    }
                }
            }
        }
        o => {
            return Err(PmmlError::unsupported(
                "Matrix",
                format!("kind=\"{o}\" is not supported"),
            ))
        }
    }
    Ok(m)
}

/// Compiles the terms of one `PPMatrix` group: parameter name to term.
fn terms(
    c: &mut Compiler<'_>,
    cells: &[&Element],
    factors: &HashMap<&str, Predictor<'_>>,
    covariates: &HashMap<&str, Predictor<'_>>,
) -> Result<(Vec<String>, Vec<Term>), PmmlError> {
    let mut names: Vec<String> = Vec::new();
    let mut terms: Vec<Term> = Vec::new();
    for cell in cells {
        let param = req(cell, "parameterName")?;
        let field = req(cell, "predictorName")?;
        let value = req(cell, "value")?;
        let i = match names.iter().position(|n| n == param) {
            Some(i) => i,
            None => {
                names.push(param.to_string());
                terms.push(Term::default());
                terms.len() - 1
            }
        };
        let f = c.field(field, "PPCell")?;
        if let Some(p) = factors.get(field) {
            let level = c.constant_for(f.ty, value, "PPCell")?;
            let factor = match p.el.child("Matrix") {
                None => Factor::Level {
                    slot: f.slot,
                    value: level,
                },
                Some(mx) => {
                    let cats = p.el.child("Categories").ok_or_else(|| {
                        PmmlError::unsupported("Predictor", "a contrast Matrix without Categories")
                    })?;
                    let mut categories = Vec::new();
                    for cat in cats.children_named("Category") {
                        categories.push(c.constant_for(f.ty, req(cat, "value")?, "Category")?);
                    }
                    let column = categories.iter().position(|x| *x == level);
                    let matrix = matrix(mx, categories.len())?;
                    Factor::Contrast {
                        slot: f.slot,
                        categories,
                        column,
                        matrix,
                        name: field.to_string(),
                    }
                }
            };
            terms[i].factors.push(factor);
        } else if covariates.contains_key(field) {
            let e = crate::types::parse_double(value).ok_or_else(|| {
                PmmlError::invalid("PPCell", format!("value \"{value}\" is not a number"))
            })?;
            terms[i]
                .covariates
                .push((f.slot, (e != 1.0).then_some(e), field.to_string()));
        } else {
            return Err(PmmlError::invalid(
                "PPCell",
                format!("predictorName \"{field}\" is neither a factor nor a covariate"),
            ));
        }
    }
    Ok((names, terms))
}

/// Builds a linear predictor from `PCell`s and the terms of a `PPMatrix` group.
fn dot(pcells: &[&Element], names: &[String], terms: &[Term]) -> Result<Dot, PmmlError> {
    let mut d = Dot {
        cells: vec![],
        terms: terms.to_vec(),
    };
    for p in pcells {
        let name = req(p, "parameterName")?;
        let beta = num_attr(p, "beta")?;
        d.cells.push((beta, names.iter().position(|n| n == name)));
    }
    Ok(d)
}

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

pub(crate) fn compile(
    c: &mut Compiler<'_>,
    el: &Element,
    node: &mut ModelNode,
) -> Result<GeneralRegression, PmmlError> {
    let kind = match req(el, "modelType")? {
        "regression" => Kind::Regression,
        "generalLinear" => Kind::GeneralLinear,
        "generalizedLinear" => Kind::GeneralizedLinear,
        "multinomialLogistic" => Kind::MultinomialLogistic,
        "ordinalMultinomial" => Kind::OrdinalMultinomial,
        "CoxRegression" => Kind::Cox,
        o => {
            return Err(PmmlError::invalid(
                "GeneralRegressionModel",
                format!("unknown modelType \"{o}\""),
            ))
        }
    };
    let classification = match node.function {
        MiningFunction::Regression => false,
        MiningFunction::Classification => true,
        MiningFunction::Clustering => {
            return Err(PmmlError::unsupported(
                "GeneralRegressionModel",
                "functionName=\"clustering\"",
            ))
        }
    };
    let fits = match kind {
        Kind::Regression | Kind::GeneralLinear | Kind::Cox => !classification,
        Kind::MultinomialLogistic | Kind::OrdinalMultinomial => classification,
        Kind::GeneralizedLinear => true,
    };
    if !fits {
        return Err(PmmlError::invalid(
            "GeneralRegressionModel",
            format!(
                "modelType=\"{}\" for a {}",
                req(el, "modelType")?,
                if classification {
                    "classification"
                } else {
                    "regression"
                }
            ),
        ));
    }
    if node.float && kind == Kind::GeneralizedLinear && el.attr("linkFunction") == Some("probit")
        || node.float && el.attr("cumulativeLink") == Some("probit")
    {
        return Err(PmmlError::unsupported(
            "GeneralRegressionModel",
            "the probit link in mathContext=\"float\"",
        ));
    }
    let parameters = el
        .child("ParameterList")
        .ok_or_else(|| bad("a ParameterList is required"))?;
    let mut reference_points = HashMap::new();
    for p in parameters.children_named("Parameter") {
        reference_points.insert(
            req(p, "name")?,
            opt_num_attr(p, "referencePoint")?.unwrap_or(0.0),
        );
    }
    let factors = predictors(el, "FactorList");
    let covariates = predictors(el, "CovariateList");
    let pp = el
        .child("PPMatrix")
        .ok_or_else(|| bad("a PPMatrix is required"))?;
    let params = el
        .child("ParamMatrix")
        .ok_or_else(|| bad("a ParamMatrix is required"))?;
    let target_ty = node.target.ty;
    let pp_groups = Groups::new(c, Some(pp), "PPCell", target_ty)?;
    let param_groups = Groups::new(c, Some(params), "PCell", target_ty)?;

    let link = if kind == Kind::GeneralizedLinear {
        let name = req(el, "linkFunction")?;
        let link_parameter = || {
            opt_num_attr(el, "linkParameter")?
                .ok_or_else(|| bad("linkFunction needs a linkParameter"))
        };
        Some(match name {
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
    } else {
        None
    };
    let cumulative = if kind == Kind::OrdinalMultinomial {
        Some(match req(el, "cumulativeLink")? {
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
    } else {
        None
    };
    let uses_offset = matches!(kind, Kind::GeneralizedLinear | Kind::OrdinalMultinomial);
    let offset = if uses_offset {
        amount(c, el, "offsetVariable", "offsetValue", false)?
    } else {
        None
    };
    let trials = if kind == Kind::GeneralizedLinear {
        amount(c, el, "trialsVariable", "trialsValue", true)?
    } else {
        None
    };

    let mut dots = Vec::new();
    if !classification {
        // One linear predictor over the cells without a target category.
        let (names, terms) = if pp_groups.keys.is_empty() {
            (vec![], vec![])
        } else {
            let cells = pp_groups.get(None).ok_or_else(|| {
                PmmlError::invalid("PPMatrix", "no PPCells without targetCategory")
            })?;
            terms(c, cells, &factors, &covariates)?
        };
        let pcells = match (param_groups.keys.len(), param_groups.get(None)) {
            (1, Some(cells)) => cells,
            _ => {
                return Err(PmmlError::invalid(
                    "ParamMatrix",
                    "a regression needs PCells without targetCategory, and only those",
                ))
            }
        };
        dots.push(dot(pcells, &names, &terms)?);
    } else {
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
            Some(t) => Some(c.constant_for(target_ty, t, "GeneralRegressionModel")?),
            None => None,
        };
        if matches!(kind, Kind::GeneralizedLinear | Kind::MultinomialLogistic)
            && reference.is_none()
        {
            // The reference category is the one category without PCells.
            let absent: Vec<Val> = cats
                .iter()
                .filter(|k| param_groups.get(Some(**k)).is_none())
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
        if let Some(r) = reference {
            if let Some(i) = cats.iter().position(|k| *k == r) {
                let r = cats.remove(i);
                cats.push(r);
            }
        }
        let n = cats.len();
        for cat in cats.iter().take(n - 1) {
            let (names, terms) = if pp_groups.keys.is_empty() {
                (vec![], vec![])
            } else {
                let cells = pp_groups
                    .get(Some(*cat))
                    .or_else(|| pp_groups.get(None))
                    .ok_or_else(|| PmmlError::invalid("PPMatrix", "no PPCells for a category"))?;
                terms(c, cells, &factors, &covariates)?
            };
            let pcells: Vec<&Element> = match kind {
                Kind::OrdinalMultinomial => {
                    let intercept = param_groups.get(Some(*cat)).filter(|g| g.len() == 1);
                    let (Some(intercept), Some(common)) = (intercept, param_groups.get(None))
                    else {
                        return Err(PmmlError::invalid(
                            "ParamMatrix",
                            "an ordinal model needs one intercept PCell per category but the last, and common PCells",
                        ));
                    };
                    common.iter().chain(intercept).copied().collect()
                }
                _ => {
                    let cells = param_groups
                        .get(Some(*cat))
                        .or_else(|| if n == 2 { param_groups.get(None) } else { None })
                        .ok_or_else(|| {
                            PmmlError::invalid("ParamMatrix", "no PCells for a target category")
                        })?;
                    cells.to_vec()
                }
            };
            dots.push(dot(&pcells, &names, &terms)?);
        }
        node.cats = cats;
    }

    let cox = if kind == Kind::Cox {
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
                (
                    Some(Strata {
                        slot: f.slot,
                        name: v.to_string(),
                        tables: list,
                    }),
                    None,
                )
            }
            None => (None, Some(hazards(tables)?)),
        };
        let mut reference = Some(0.0);
        for p in &param_groups.cells[0] {
            let name = req(p, "parameterName")?;
            let beta = num_attr(p, "beta")?;
            reference = match (reference, reference_points.get(name)) {
                (Some(s), Some(rp)) => Some(s + beta * rp),
                _ => None,
            };
        }
        Some(Cox {
            end_time,
            end_name: end_name.to_string(),
            strata,
            table,
            reference,
        })
    } else {
        None
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

fn missing(name: &str) -> Fail {
    Box::new(EvalError::MissingValue {
        field: name.to_string(),
    })
}

fn number(ctx: &mut Ctx<'_>, slot: Slot, name: &str) -> Result<f64, Fail> {
    match ctx.get(slot)? {
        Val::Missing => Err(missing(name)),
        v => v.num().ok_or_else(|| {
            Box::new(EvalError::Evaluation(format!(
                "field \"{name}\": {} is not a number",
                ctx.describe(v)
            )))
        }),
    }
}

impl Term {
    /// The product of the term's factors and covariate powers; `None` when a predictor is
    /// missing (a zero factor product skips the covariates).
    fn value(&self, ctx: &mut Ctx<'_>, float: bool) -> Result<Option<f64>, Fail> {
        let r = |v: f64| round_to(float, v);
        let mut p = 1.0;
        for f in &self.factors {
            match f {
                Factor::Level { slot, value } => {
                    let v = ctx.get(*slot)?;
                    if v.is_missing() {
                        return Ok(None);
                    }
                    if !ctx.equal(v, *value) {
                        p = r(p * 0.0);
                    }
                }
                Factor::Contrast {
                    slot,
                    categories,
                    column,
                    matrix,
                    name,
                } => {
                    let v = ctx.get(*slot)?;
                    if v.is_missing() {
                        return Ok(None);
                    }
                    let row = categories.iter().position(|c| ctx.equal(*c, v));
                    let x = match (row, column) {
                        (Some(i), Some(j)) => matrix[i][*j],
                        _ => None,
                    };
                    let Some(x) = x else {
                        return Err(Box::new(EvalError::Evaluation(format!(
                            "field \"{name}\": no contrast matrix element for {}",
                            ctx.describe(v)
                        ))));
                    };
                    p = r(p * r(x));
                }
            }
        }
        if p == 0.0 {
            return Ok(Some(p));
        }
        for (slot, exponent, name) in &self.covariates {
            if ctx.get(*slot)?.is_missing() {
                return Ok(None);
            }
            let x = r(number(ctx, *slot, name)?);
            p = match exponent {
                None => r(p * x),
                Some(e) => r(p * r(x.powf(r(*e)))),
            };
        }
        Ok(Some(p))
    }
}

impl Dot {
    fn value(&self, ctx: &mut Ctx<'_>, float: bool) -> Result<Option<f64>, Fail> {
        let r = |v: f64| round_to(float, v);
        let mut acc = 0.0;
        for (beta, term) in &self.cells {
            match term {
                Some(t) => {
                    let Some(x) = self.terms[*t].value(ctx, float)? else {
                        return Ok(None);
                    };
                    acc = r(acc + r(r(*beta) * x));
                }
                None => acc = r(acc + r(*beta)),
            }
        }
        Ok(Some(acc))
    }
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
                set_regression(ctx, index, v);
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
                        set_regression(ctx, index, None);
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
            set_regression(ctx, index, None);
            return Ok(());
        }
        let min_time = table
            .cells
            .iter()
            .map(|c| c.0)
            .fold(f64::INFINITY, f64::min);
        if time < min_time {
            set_regression(ctx, index, Some(0.0));
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
            set_regression(ctx, index, None);
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
        set_regression(ctx, index, v);
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
        let n = probs.len();
        let mut previous_link: Option<f64> = None;
        let mut previous_cumulative: Option<f64> = None;
        for (i, slot) in probs.iter_mut().enumerate() {
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
