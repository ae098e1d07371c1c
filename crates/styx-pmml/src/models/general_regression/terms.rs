//! The linear predictor of a general regression model: `PCell` coefficients times the
//! `PPMatrix` terms of their parameters (factor levels or contrast matrix elements, and
//! covariate powers, multiplied together).

use std::collections::HashMap;

use crate::compile::Compiler;
use crate::error::{EvalError, Fail, PmmlError};
use crate::eval::{Ctx, Slot};
use crate::expr::{num_attr, opt_num_attr, req};
use crate::types::{round_to, DataType, Val};
use crate::xml::Element;

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
pub(super) struct Term {
    factors: Vec<Factor>,
    /// Field and exponent (`None` for 1).
    covariates: Vec<(Slot, Option<f64>, String)>,
}

/// A linear predictor: the `PCell`s in document order, each the product of its
/// parameter's predictors (none for an intercept) times its coefficient, compiled to one
/// list of steps.
#[derive(Debug, Clone, Default)]
pub(super) struct Dot {
    ops: Vec<Op>,
}

/// A step of a linear predictor. A cell's product starts at 1, is multiplied by its
/// factors and covariates, and is added to the sum times the coefficient.
#[derive(Debug, Clone)]
enum Op {
    /// A parameter without predictors: adds the coefficient.
    Intercept(f64),
    /// Multiplies by 1 when the field equals the level, else 0.
    Level { slot: Slot, value: Val },
    /// Multiplies by a contrast matrix element.
    Contrast(Box<Factor>),
    /// After the factors of a product with covariates: a zero product skips the next
    /// `n` steps (its covariates, which are then not read).
    SkipIfZero(u32),
    /// Multiplies by a covariate's power (`None`: the covariate itself).
    Covariate {
        slot: Slot,
        exponent: Option<f64>,
        name: Box<str>,
    },
    /// Adds the product times the coefficient, and starts the next product.
    Add(f64),
}

/// The cells of a `PPMatrix` or `ParamMatrix`, grouped by `targetCategory` (`None` for the
/// cells without one) in order of first appearance.
pub(super) struct Groups<'d> {
    pub(super) keys: Vec<Option<Val>>,
    pub(super) cells: Vec<Vec<&'d Element>>,
}

impl<'d> Groups<'d> {
    /// Groups the `cell` children of `el`, parsing categories as the target's type.
    pub(super) fn new(
        c: &mut Compiler<'_>,
        el: &'d Element,
        cell: &'static str,
        target: DataType,
    ) -> Result<Self, PmmlError> {
        let mut g = Groups {
            keys: vec![],
            cells: vec![],
        };
        for e in el.children_named(cell) {
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

    /// The cells of a target category (`None`: the cells without one).
    pub(super) fn get(&self, key: Option<Val>) -> Option<&[&'d Element]> {
        self.keys
            .iter()
            .position(|k| *k == key)
            .map(|i| self.cells[i].as_slice())
    }
}

/// A `FactorList` or `CovariateList` predictor, by field name.
pub(super) struct Predictor<'d> {
    el: &'d Element,
}

/// The predictors of `FactorList` or `CovariateList` (`list`) by field name.
pub(super) fn predictors<'d>(el: &'d Element, list: &str) -> HashMap<&'d str, Predictor<'d>> {
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
/// Compiles the `PPCell`s of one group: the parameter names and, for each, its term.
pub(super) fn terms(
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

/// A linear predictor of the `PCell`s, each with the term of its parameter if it has one.
pub(super) fn dot(pcells: &[&Element], names: &[String], terms: &[Term]) -> Result<Dot, PmmlError> {
    let mut ops = Vec::new();
    for p in pcells {
        let name = req(p, "parameterName")?;
        let beta = num_attr(p, "beta")?;
        let Some(term) = names.iter().position(|n| n == name).map(|t| &terms[t]) else {
            ops.push(Op::Intercept(beta));
            continue;
        };
        for f in &term.factors {
            ops.push(match f {
                Factor::Level { slot, value } => Op::Level {
                    slot: *slot,
                    value: *value,
                },
                contrast => Op::Contrast(Box::new(contrast.clone())),
            });
        }
        if !term.factors.is_empty() && !term.covariates.is_empty() {
            ops.push(Op::SkipIfZero(term.covariates.len() as u32));
        }
        for (slot, exponent, name) in &term.covariates {
            ops.push(Op::Covariate {
                slot: *slot,
                exponent: *exponent,
                name: name.as_str().into(),
            });
        }
        ops.push(Op::Add(beta));
    }
    Ok(Dot { ops })
}

/// The error of a required field (offset, trials, time, stratum) without a value.
pub(super) fn missing(name: &str) -> Fail {
    Box::new(EvalError::MissingValue {
        field: name.to_string(),
    })
}

/// The value of a required numeric field.
pub(super) fn number(ctx: &mut Ctx<'_>, slot: Slot, name: &str) -> Result<f64, Fail> {
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

impl Factor {
    /// The contrast matrix element of a `Contrast` factor for `v` (1 for a `Level`).
    fn contrast(&self, ctx: &Ctx<'_>, v: Val) -> Result<f64, Fail> {
        let Factor::Contrast {
            categories,
            column,
            matrix,
            name,
            ..
        } = self
        else {
            return Ok(1.0);
        };
        let row = categories.iter().position(|c| ctx.equal(*c, v));
        let x = match (row, column) {
            (Some(i), Some(j)) => matrix[i][*j],
            _ => None,
        };
        x.ok_or_else(|| {
            Box::new(EvalError::Evaluation(format!(
                "field \"{name}\": no contrast matrix element for {}",
                ctx.describe(v)
            ))) as Fail
        })
    }

    fn slot(&self) -> Slot {
        match self {
            Factor::Level { slot, .. } | Factor::Contrast { slot, .. } => *slot,
        }
    }
}

impl Dot {
    /// The linear predictor for the current record; `None` when a predictor is missing
    /// (a product whose factors give zero does not read its covariates). `float`: the
    /// model computes in float arithmetic.
    pub(super) fn value(&self, ctx: &mut Ctx<'_>, float: bool) -> Result<Option<f64>, Fail> {
        if float {
            self.value_in::<true>(ctx)
        } else {
            self.value_in::<false>(ctx)
        }
    }

    fn value_in<const F: bool>(&self, ctx: &mut Ctx<'_>) -> Result<Option<f64>, Fail> {
        let r = |v: f64| round_to(F, v);
        let mut acc = 0.0;
        let mut p = 1.0;
        let mut i = 0;
        while let Some(op) = self.ops.get(i) {
            i += 1;
            match op {
                Op::Intercept(beta) => acc = r(acc + r(*beta)),
                Op::Level { slot, value } => {
                    let v = ctx.get(*slot)?;
                    // A level is one of the model's own strings, which a string equals
                    // only when it is the same (see `Ctx::equal`).
                    let same = match (v, *value) {
                        (Val::Str(a), Val::Str(b)) => a == b,
                        (Val::Missing, _) => return Ok(None),
                        _ => ctx.equal(v, *value),
                    };
                    if !same {
                        p = r(p * 0.0);
                    }
                }
                Op::Contrast(factor) => {
                    let v = ctx.get(factor.slot())?;
                    if v.is_missing() {
                        return Ok(None);
                    }
                    p = r(p * r(factor.contrast(ctx, v)?));
                }
                Op::SkipIfZero(n) => {
                    if p == 0.0 {
                        i += *n as usize;
                    }
                }
                Op::Covariate {
                    slot,
                    exponent,
                    name,
                } => {
                    let x = match ctx.get(*slot)? {
                        Val::Missing => return Ok(None),
                        Val::Num(x) => x,
                        _ => number(ctx, *slot, name)?,
                    };
                    let x = r(x);
                    p = match exponent {
                        None => r(p * x),
                        Some(e) => r(p * r(crate::types::java_pow(x, r(*e)))),
                    };
                }
                Op::Add(beta) => {
                    acc = r(acc + r(r(*beta) * p));
                    p = 1.0;
                }
            }
        }
        Ok(Some(acc))
    }
}
