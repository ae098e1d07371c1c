//! The data dictionary and the mining schema: field types, valid/invalid/missing values,
//! and the missing, invalid and outlier treatments applied when a value enters a model.

use crate::error::{EvalError, Fail, PmmlError};
use crate::eval::Ctx;
use crate::row::Cell;
use crate::types::{parse_boolean, parse_number, DataType, OpType, Symbols, Val};
use crate::xml::Element;

/// Interval closure.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Interval {
    pub left: Option<f64>,
    pub right: Option<f64>,
    pub left_closed: bool,
    pub right_closed: bool,
}

impl Interval {
    pub(crate) fn parse(el: &Element) -> Result<Interval, PmmlError> {
        let closure = el
            .attr("closure")
            .ok_or_else(|| PmmlError::invalid("Interval", "missing attribute closure"))?;
        let (left_closed, right_closed) = match closure {
            "openClosed" => (false, true),
            "openOpen" => (false, false),
            "closedOpen" => (true, false),
            "closedClosed" => (true, true),
            other => {
                return Err(PmmlError::invalid(
                    "Interval",
                    format!("unknown closure \"{other}\""),
                ))
            }
        };
        let margin = |name: &str| -> Result<Option<f64>, PmmlError> {
            match el.attr(name) {
                None => Ok(None),
                Some(s) => crate::types::parse_double(s).map(Some).ok_or_else(|| {
                    PmmlError::invalid("Interval", format!("{name}=\"{s}\" is not a number"))
                }),
            }
        };
        Ok(Interval {
            left: margin("leftMargin")?,
            right: margin("rightMargin")?,
            left_closed,
            right_closed,
        })
    }

    /// Whether `x` is in the interval, numbers ordered as Java's `Double.compare` orders
    /// them (as JPMML's ranges of a `Discretize` do): NaN above every number, so only in
    /// an interval without a right margin; -0 below 0.
    pub(crate) fn contains_ordered(&self, x: f64) -> bool {
        use std::cmp::Ordering::{Equal, Greater, Less};
        let cmp = crate::types::java_cmp;
        if let Some(l) = self.left {
            match cmp(x, l) {
                Less => return false,
                Equal if !self.left_closed => return false,
                _ => {}
            }
        }
        if let Some(r) = self.right {
            match cmp(x, r) {
                Greater => return false,
                Equal if !self.right_closed => return false,
                _ => {}
            }
        }
        true
    }

    pub(crate) fn contains(&self, x: f64) -> bool {
        if let Some(l) = self.left {
            if x < l || (x == l && !self.left_closed) {
                return false;
            }
        }
        if let Some(r) = self.right {
            if x > r || (x == r && !self.right_closed) {
                return false;
            }
        }
        true
    }
}

/// A `DataField`.
#[derive(Debug, Clone)]
pub(crate) struct DataFieldDef {
    pub name: String,
    pub ty: DataType,
    pub optype: OpType,
    /// Values declared valid (`Value` without property, or `property="valid"`), in order.
    pub valid: Vec<Val>,
    pub invalid: Vec<Val>,
    /// Texts that denote a missing value.
    pub missing_texts: Vec<String>,
    pub intervals: Vec<Interval>,
}

/// Parses text into a value of type `t`, interning strings. `None` when it does not parse.
pub(crate) fn parse_const(symbols: &mut Symbols, t: DataType, s: &str) -> Option<Val> {
    match t {
        DataType::String => Some(Val::Str(symbols.intern(s))),
        DataType::Boolean => parse_boolean(s).map(Val::Bool),
        _ => parse_number(t, s).map(Val::Num),
    }
}

impl DataFieldDef {
    pub(crate) fn parse(el: &Element, symbols: &mut Symbols) -> Result<DataFieldDef, PmmlError> {
        let name = el
            .attr("name")
            .ok_or_else(|| PmmlError::invalid("DataField", "missing attribute name"))?
            .to_string();
        let ty = DataType::parse(
            el.attr("dataType").ok_or_else(|| {
                PmmlError::invalid(
                    "DataField",
                    format!("field \"{name}\": missing attribute dataType"),
                )
            })?,
            "DataField",
        )?;
        let optype = match el.attr("optype") {
            Some(o) => OpType::parse(o, "DataField")?,
            None => OpType::default_for(ty),
        };
        let mut def = DataFieldDef {
            name,
            ty,
            optype,
            valid: vec![],
            invalid: vec![],
            missing_texts: vec![],
            intervals: vec![],
        };
        for c in el.content() {
            match c.name.as_str() {
                "Value" => {
                    let v = c
                        .attr("value")
                        .ok_or_else(|| PmmlError::invalid("Value", "missing attribute value"))?;
                    match c.attr("property").unwrap_or("valid") {
                        "missing" => def.missing_texts.push(v.to_string()),
                        prop => {
                            let parsed = parse_const(symbols, ty, v).ok_or_else(|| {
                                PmmlError::invalid(
                                    "Value",
                                    format!(
                                        "value \"{v}\" of field \"{}\" is not a {}",
                                        def.name,
                                        ty.name()
                                    ),
                                )
                            })?;
                            if prop == "invalid" {
                                def.invalid.push(parsed);
                            } else if prop == "valid" {
                                def.valid.push(parsed);
                            } else {
                                return Err(PmmlError::invalid(
                                    "Value",
                                    format!("unknown property \"{prop}\""),
                                ));
                            }
                        }
                    }
                }
                "Interval" => def.intervals.push(Interval::parse(c)?),
                "Taxonomy" => {
                    return Err(PmmlError::unsupported(
                        "Taxonomy",
                        "taxonomies are not supported",
                    ))
                }
                other => {
                    return Err(PmmlError::invalid(
                        "DataField",
                        format!("unexpected element <{other}>"),
                    ))
                }
            }
        }
        Ok(def)
    }
}

#[derive(Debug, Clone)]
pub(crate) enum MissingTreatment {
    AsIs,
    Replace(Val),
    ReturnInvalid,
}

#[derive(Debug, Clone)]
pub(crate) enum InvalidTreatment {
    ReturnInvalid,
    AsIs,
    AsMissing,
    Replace(Val),
}

#[derive(Debug, Clone, Copy)]
#[allow(clippy::enum_variant_names)]
pub(crate) enum Outliers {
    AsIs,
    AsMissing(f64, f64),
    AsExtreme(f64, f64),
}

/// How a value enters a model: parsing, validity and the treatments of a `MiningField`.
#[derive(Debug, Clone)]
pub(crate) struct Prep {
    pub name: Box<str>,
    pub ty: DataType,
    pub optype: OpType,
    pub valid: Vec<Val>,
    pub invalid: Vec<Val>,
    pub missing_texts: Vec<String>,
    /// The numbers whose text (as [`Ctx::describe`] writes it) is one of `missing_texts`,
    /// as bit patterns: a typed value is compared with these instead of being formatted.
    missing_num_bits: Vec<u64>,
    /// Whether `false` / `true` (as text) are among `missing_texts`.
    missing_bools: [bool; 2],
    pub intervals: Vec<Interval>,
    pub missing: MissingTreatment,
    pub invalid_treatment: InvalidTreatment,
    pub outliers: Outliers,
    /// Set for a number field with no value lists, intervals or missing-value texts: a
    /// number parsed from its cell is valid, and only its outlier treatment applies.
    plain_number: Option<PlainNumber>,
}

/// A number field whose parsed cells are valid values (no value lists, intervals or
/// missing-value texts), read by [`PlainNumber::read`] without [`Prep::prepare_cell`]'s
/// general path.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PlainNumber {
    ty: DataType,
    outliers: Outliers,
}

impl PlainNumber {
    /// What [`Prep::prepare_cell`] gives for `cell`, when `cell` is the text of a number
    /// (not NaN): the number, after the outlier treatment. `None` for anything the general
    /// path must read (no text, no such number, NaN).
    #[inline]
    pub(crate) fn read(self, cell: Cell<'_>) -> Option<Val> {
        let Cell::Text(t) = cell else {
            return None;
        };
        let x = parse_number(self.ty, t).filter(|x| !x.is_nan())?;
        Some(self.outliers.apply(x))
    }
}

impl Outliers {
    /// The value of a valid number `x` after the treatment (of a number field: a period's
    /// extreme values are refused, see [`Prep::treat_value`]).
    #[inline]
    fn apply(self, x: f64) -> Val {
        match self {
            Outliers::AsMissing(lo, hi) if x < lo || x > hi => Val::Missing,
            Outliers::AsExtreme(lo, _) if x < lo => Val::Num(lo),
            Outliers::AsExtreme(_, hi) if x > hi => Val::Num(hi),
            _ => Val::Num(x),
        }
    }
}

impl Prep {
    /// The preparation for `df` under `mf` (or no `MiningField`: the defaults).
    pub(crate) fn new(
        df: &DataFieldDef,
        mf: Option<&Element>,
        symbols: &mut Symbols,
    ) -> Result<Prep, PmmlError> {
        let mut prep = Prep {
            name: df.name.as_str().into(),
            ty: df.ty,
            optype: df.optype,
            valid: df.valid.clone(),
            invalid: df.invalid.clone(),
            missing_texts: df.missing_texts.clone(),
            missing_num_bits: Vec::new(),
            missing_bools: [false; 2],
            intervals: df.intervals.clone(),
            missing: MissingTreatment::AsIs,
            invalid_treatment: InvalidTreatment::ReturnInvalid,
            outliers: Outliers::AsIs,
            plain_number: None,
        };
        if let Some(mf) = mf {
            prep.apply_mining_field(mf, symbols)?;
        }
        for m in &prep.missing_texts {
            // A number's text is its shortest round-trip form, so the only number that
            // can be written as `m` is the one `m` parses to, when it writes back as `m`.
            if let Some(y) = crate::types::parse_double(m) {
                let mut text = String::new();
                crate::format::write_double(y, &mut text);
                if text == *m {
                    prep.missing_num_bits.push(y.to_bits());
                }
            }
            match m.as_str() {
                "false" => prep.missing_bools[0] = true,
                "true" => prep.missing_bools[1] = true,
                _ => {}
            }
        }
        let plain = matches!(
            prep.ty,
            DataType::Double | DataType::Float | DataType::Integer
        ) && prep.valid.is_empty()
            && prep.invalid.is_empty()
            && prep.missing_texts.is_empty()
            && prep.intervals.is_empty();
        prep.plain_number = plain.then_some(PlainNumber {
            ty: prep.ty,
            outliers: prep.outliers,
        });
        Ok(prep)
    }

    /// How a number field's cells are read when they hold numbers (see
    /// [`PlainNumber`]), or `None` for any other field.
    pub(crate) fn plain_number(&self) -> Option<PlainNumber> {
        self.plain_number
    }

    /// Whether a `MiningField` asks for anything beyond the defaults.
    pub(crate) fn is_default_mining_field(mf: &Element) -> bool {
        mf.attr("missingValueReplacement").is_none()
            && matches!(mf.attr("missingValueTreatment"), None | Some("asIs"))
            && matches!(
                mf.attr("invalidValueTreatment"),
                None | Some("returnInvalid")
            )
            && matches!(mf.attr("outliers"), None | Some("asIs"))
    }

    pub(crate) fn apply_mining_field(
        &mut self,
        mf: &Element,
        symbols: &mut Symbols,
    ) -> Result<(), PmmlError> {
        let name = self.name.to_string();
        if let Some(o) = mf.attr("optype") {
            self.optype = OpType::parse(o, "MiningField")?;
        }
        let ty = self.ty;
        let value = |symbols: &mut Symbols, attr: &str| -> Result<Option<Val>, PmmlError> {
            match mf.attr(attr) {
                None => Ok(None),
                Some(s) => parse_const(symbols, ty, s).map(Some).ok_or_else(|| {
                    PmmlError::invalid(
                        "MiningField",
                        format!("field \"{name}\": {attr}=\"{s}\" is not a {}", ty.name()),
                    )
                }),
            }
        };
        let replacement = value(symbols, "missingValueReplacement")?;
        self.missing = match (mf.attr("missingValueTreatment"), replacement) {
            (Some("returnInvalid"), _) => MissingTreatment::ReturnInvalid,
            (_, Some(v)) => MissingTreatment::Replace(v),
            (None | Some("asIs"), None) => MissingTreatment::AsIs,
            (Some(t @ ("asMean" | "asMode" | "asMedian" | "asValue")), None) => {
                return Err(PmmlError::unsupported(
                    "MiningField",
                    format!("field \"{name}\": missingValueTreatment=\"{t}\" without a missingValueReplacement"),
                ))
            }
            (Some(t), None) => {
                return Err(PmmlError::invalid("MiningField", format!("unknown missingValueTreatment \"{t}\"")))
            }
        };
        self.invalid_treatment = match mf.attr("invalidValueTreatment") {
            None | Some("returnInvalid") => InvalidTreatment::ReturnInvalid,
            Some("asIs") => InvalidTreatment::AsIs,
            Some("asMissing") => InvalidTreatment::AsMissing,
            Some("asValue") => match value(symbols, "invalidValueReplacement")? {
                Some(v) => InvalidTreatment::Replace(v),
                None => {
                    return Err(PmmlError::invalid(
                        "MiningField",
                        format!("field \"{name}\": invalidValueTreatment=\"asValue\" without an invalidValueReplacement"),
                    ))
                }
            },
            Some(t) => return Err(PmmlError::invalid("MiningField", format!("unknown invalidValueTreatment \"{t}\""))),
        };
        let bound = |attr: &str| -> Result<Option<f64>, PmmlError> {
            match mf.attr(attr) {
                None => Ok(None),
                Some(s) => crate::types::parse_double(s).map(Some).ok_or_else(|| {
                    PmmlError::invalid("MiningField", format!("{attr}=\"{s}\" is not a number"))
                }),
            }
        };
        let (low, high) = (bound("lowValue")?, bound("highValue")?);
        self.outliers = match mf.attr("outliers") {
            None | Some("asIs") => Outliers::AsIs,
            Some(t @ ("asMissingValues" | "asExtremeValues")) => {
                let lo = low.unwrap_or(f64::NEG_INFINITY);
                let hi = high.unwrap_or(f64::INFINITY);
                if low.is_none() && high.is_none() {
                    return Err(PmmlError::invalid(
                        "MiningField",
                        format!("field \"{name}\": outliers=\"{t}\" without lowValue/highValue"),
                    ));
                }
                if t == "asMissingValues" {
                    Outliers::AsMissing(lo, hi)
                } else {
                    Outliers::AsExtreme(lo, hi)
                }
            }
            Some(t) => {
                return Err(PmmlError::invalid(
                    "MiningField",
                    format!("unknown outliers \"{t}\""),
                ))
            }
        };
        Ok(())
    }

    fn missing_value(&self) -> Result<Val, Fail> {
        match &self.missing {
            MissingTreatment::AsIs => Ok(Val::Missing),
            MissingTreatment::Replace(v) => Ok(*v),
            MissingTreatment::ReturnInvalid => Err(EvalError::MissingValue {
                field: self.name.to_string(),
            }
            .into()),
        }
    }

    /// The treatment of an invalid value (`None`: a cell that is no value of the type);
    /// `text` writes it for the error.
    fn invalid_value(
        &self,
        ctx: &mut Ctx<'_>,
        value: Option<Val>,
        text: impl FnOnce(&Ctx<'_>) -> String,
    ) -> Result<Val, Fail> {
        match (&self.invalid_treatment, value) {
            (InvalidTreatment::AsIs, Some(v)) => Ok(v),
            (InvalidTreatment::AsIs, None) | (InvalidTreatment::ReturnInvalid, _) => {
                Err(EvalError::InvalidValue {
                    field: self.name.to_string(),
                    value: text(ctx),
                }
                .into())
            }
            (InvalidTreatment::AsMissing, _) => self.missing_value(),
            (InvalidTreatment::Replace(v), _) => Ok(*v),
        }
    }

    /// Whether a value is valid for the field (its declared values and intervals).
    pub(crate) fn is_valid(&self, ctx: &Ctx<'_>, v: Val) -> bool {
        if matches!(v, Val::Num(x) if x.is_nan()) {
            // Not a number is never a valid value (JPMML: "cannot accept invalid value NaN").
            return false;
        }
        if matches!(v, Val::Str(_))
            && (self.intervals.is_empty() || self.optype != OpType::Continuous)
        {
            // The declared values are interned strings, which a string equals exactly when
            // it has the same id (a string unknown to the model equals none of them).
            if self.invalid.contains(&v) {
                return false;
            }
            return self.valid.is_empty() || self.valid.contains(&v);
        }
        if self.invalid.iter().any(|x| ctx.equal(*x, v)) {
            return false;
        }
        match self.optype {
            OpType::Continuous => {
                if !self.intervals.is_empty() {
                    match v.num() {
                        Some(x) => self.intervals.iter().any(|i| i.contains(x)),
                        None => false,
                    }
                } else if !self.valid.is_empty() {
                    self.valid.iter().any(|x| ctx.equal(*x, v))
                } else {
                    true
                }
            }
            _ => self.valid.is_empty() || self.valid.iter().any(|x| ctx.equal(*x, v)),
        }
    }

    /// Parses and treats an input cell.
    pub(crate) fn prepare_cell(&self, ctx: &mut Ctx<'_>, cell: Cell<'_>) -> Result<Val, Fail> {
        if let Some(v) = self.plain_number.and_then(|p| p.read(cell)) {
            return Ok(v);
        }
        let parsed = match cell {
            Cell::Missing => return self.missing_value(),
            Cell::Text(t) => {
                if t.is_empty() || self.missing_texts.iter().any(|m| m == t) {
                    return self.missing_value();
                }
                match self.ty {
                    DataType::String => Some(ctx.string(t)),
                    DataType::Boolean => parse_boolean(t).map(Val::Bool),
                    ty => parse_number(ty, t).map(Val::Num),
                }
            }
            Cell::Number(x) => match self.ty {
                DataType::Integer if x.fract() != 0.0 => None,
                DataType::Float => Some(Val::Num(x as f32 as f64)),
                DataType::String => {
                    Some(ctx.build_string(|_, s| crate::format::write_java_double(x, s)))
                }
                DataType::Boolean => match x {
                    0.0 => Some(Val::Bool(false)),
                    1.0 => Some(Val::Bool(true)),
                    _ => None,
                },
                _ => Some(Val::Num(x)),
            },
            Cell::Bool(b) => match self.ty {
                DataType::Boolean => Some(Val::Bool(b)),
                DataType::String => Some(ctx.string(if b { "true" } else { "false" })),
                _ => Some(Val::Num(if b { 1.0 } else { 0.0 })),
            },
        };
        match parsed {
            None => self.invalid_value(ctx, None, |_| match cell {
                Cell::Text(t) => t.to_string(),
                Cell::Number(x) => x.to_string(),
                Cell::Bool(b) => b.to_string(),
                Cell::Missing => String::new(),
            }),
            Some(v) => self.treat_value(ctx, v),
        }
    }

    /// Treats an already typed value (missing, invalid, outlier treatments).
    pub(crate) fn treat_value(&self, ctx: &mut Ctx<'_>, v: Val) -> Result<Val, Fail> {
        if v.is_missing() {
            return self.missing_value();
        }
        if !self.missing_texts.is_empty() {
            let is_missing = match v {
                Val::Num(x) => self.missing_num_bits.contains(&x.to_bits()),
                Val::Bool(b) => self.missing_bools[b as usize],
                Val::Str(id) => {
                    let text = ctx.text(id);
                    self.missing_texts.iter().any(|m| m == text)
                }
                Val::Missing => true,
            };
            if is_missing {
                return self.missing_value();
            }
        }
        if !self.is_valid(ctx, v) {
            return self.invalid_value(ctx, Some(v), |ctx| ctx.describe(v));
        }
        let Val::Num(x) = v else {
            return Ok(v);
        };
        if let Outliers::AsExtreme(lo, hi) = self.outliers {
            if (x < lo || x > hi) && self.ty.is_period() {
                // JPMML's replacement (a plain number) is not a value of a period type.
                return Err(EvalError::InvalidValue {
                    field: self.name.to_string(),
                    value: ctx.describe(v),
                }
                .into());
            }
        }
        Ok(self.outliers.apply(x))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn discretize_orders_numbers_as_java_does() {
        let bounded = Interval {
            left: Some(0.0),
            right: Some(1.0),
            left_closed: true,
            right_closed: true,
        };
        let above = Interval {
            right: None,
            ..bounded
        };
        assert!(!bounded.contains_ordered(f64::NAN));
        assert!(above.contains_ordered(f64::NAN));
        assert!(above.contains_ordered(f64::INFINITY));
        assert!(!bounded.contains_ordered(-0.0));
        assert!(bounded.contains_ordered(0.0) && bounded.contains_ordered(1.0));
        assert!(!bounded.contains_ordered(1.5));
    }

    #[test]
    fn interval_closures() {
        let i = Interval {
            left: Some(0.0),
            right: Some(1.0),
            left_closed: false,
            right_closed: true,
        };
        assert!(!i.contains(0.0));
        assert!(i.contains(0.5));
        assert!(i.contains(1.0));
        assert!(!i.contains(1.5));
        let open = Interval {
            left: None,
            right: Some(1.0),
            left_closed: false,
            right_closed: false,
        };
        assert!(open.contains(-1e300));
        assert!(!open.contains(1.0));
    }
}
