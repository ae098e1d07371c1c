//! `TimeSeriesModel`: the forecasts of a `StateSpaceModel` (the algorithm JPMML-Evaluator
//! evaluates; `ARIMA`, `ExponentialSmoothing`, `SeasonalTrendDecomposition`,
//! `SpectralAnalysis` and `GARCH` are refused). The prediction is the next value of the
//! series, the first row of the measurement matrix times the state vector plus the
//! intercept. The forecast horizon is read from the model's supplementary field (1 when
//! it has none or the value is missing); a horizon below 1 fails, and one above 1 needs a
//! transition matrix that fits the state vector.

use crate::compile::{Compiler, ModelNode};
use crate::error::{EvalError, Fail, PmmlError};
use crate::eval::{Ctx, Slot};
use crate::expr::opt_num_attr;
use crate::predicate::array_numbers;
use crate::types::Val;
use crate::xml::Element;

/// A dense matrix, row-major.
#[derive(Debug, Clone)]
struct Matrix {
    rows: usize,
    cols: usize,
    data: Vec<f64>,
}

/// A compiled `TimeSeriesModel` with a `StateSpaceModel`.
#[derive(Debug, Clone)]
pub(crate) struct TimeSeries {
    /// The next value of the series.
    forecast: f64,
    /// The supplementary field that holds the forecast horizon.
    horizon: Option<Slot>,
    /// Whether a transition matrix that fits the state vector is given (needed for
    /// horizons above 1).
    transition_ok: bool,
}

fn real_array(parent: &Element) -> Result<Vec<f64>, PmmlError> {
    let a = parent
        .child("Array")
        .ok_or_else(|| PmmlError::invalid(parent.name.clone(), "an Array is required"))?;
    array_numbers(a)
}

fn dim_attr(el: &Element, attr: &str) -> Result<Option<usize>, PmmlError> {
    match el.attr(attr) {
        None => Ok(None),
        Some(t) => t
            .trim()
            .parse::<usize>()
            .map(Some)
            .map_err(|_| PmmlError::invalid(el.name.clone(), format!("invalid {attr} \"{t}\""))),
    }
}

/// Reads the `Matrix` child of `parent` (kinds any, diagonal and symmetric; rows of
/// `Array`s or `MatCell`s).
fn matrix(parent: &Element) -> Result<Matrix, PmmlError> {
    let m = parent
        .child("Matrix")
        .ok_or_else(|| PmmlError::invalid(parent.name.clone(), "a Matrix is required"))?;
    let bad = |msg: &str| PmmlError::invalid("Matrix", msg.to_string());
    let nb_rows = dim_attr(m, "nbRows")?;
    let nb_cols = dim_attr(m, "nbCols")?;
    let arrays: Vec<Vec<f64>> = m
        .children_named("Array")
        .map(array_numbers)
        .collect::<Result<_, _>>()?;
    let off = opt_num_attr(m, "offDiagDefault")?.unwrap_or(0.0);
    let diag = opt_num_attr(m, "diagDefault")?.unwrap_or(0.0);
    match m.attr("kind").unwrap_or("any") {
        kind @ ("diagonal" | "symmetric") => {
            let n = match (nb_rows, nb_cols) {
                (Some(r), Some(c)) if r != c => {
                    return Err(bad("a square matrix has nbRows = nbCols"))
                }
                (r, c) => r.or(c),
            };
            if kind == "diagonal" {
                let [d] = arrays.as_slice() else {
                    return Err(bad("a diagonal matrix is one Array"));
                };
                let size = d.len();
                if n.is_some_and(|n| n != size) {
                    return Err(bad("the diagonal does not match the matrix size"));
                }
                let mut data = vec![off; size * size];
                for (i, x) in d.iter().enumerate() {
                    data[i * size + i] = *x;
                }
                return Ok(Matrix {
                    rows: size,
                    cols: size,
                    data,
                });
            }
            let size = arrays.len();
            if size == 0 || n.is_some_and(|n| n != size) {
                return Err(bad("a symmetric matrix has one Array per row"));
            }
            let mut data = vec![0.0; size * size];
            for (i, row) in arrays.iter().enumerate() {
                if row.len() < i + 1 {
                    return Err(bad("a row of a symmetric matrix is too short"));
                }
                for j in 0..=i {
                    data[i * size + j] = row[j];
                    data[j * size + i] = row[j];
                }
            }
            Ok(Matrix {
                rows: size,
                cols: size,
                data,
            })
        }
        "any" => {
            if !arrays.is_empty() {
                if nb_rows.is_some_and(|r| r != arrays.len()) {
                    return Err(bad("the number of Arrays is not nbRows"));
                }
                let cols = arrays[0].len();
                let mut data = Vec::with_capacity(arrays.len() * cols);
                for row in &arrays {
                    if nb_cols.is_some_and(|c| c != row.len()) || row.len() < cols {
                        return Err(bad("a row's length is not nbCols"));
                    }
                    data.extend_from_slice(&row[..cols]);
                }
                return Ok(Matrix {
                    rows: arrays.len(),
                    cols,
                    data,
                });
            }
            let mut cells = Vec::new();
            for cell in m.children_named("MatCell") {
                let row = dim_attr(cell, "row")?.filter(|r| *r >= 1);
                let col = dim_attr(cell, "col")?.filter(|c| *c >= 1);
                let (Some(row), Some(col)) = (row, col) else {
                    return Err(PmmlError::invalid(
                        "MatCell",
                        "row and col are required (from 1)",
                    ));
                };
                let value = crate::types::parse_double(&cell.text).ok_or_else(|| {
                    PmmlError::invalid("MatCell", format!("\"{}\" is not a number", cell.text))
                })?;
                cells.push((row, col, value));
            }
            if cells.is_empty() {
                return Err(bad("a matrix needs Arrays or MatCells"));
            }
            let rows = nb_rows.unwrap_or_else(|| cells.iter().map(|c| c.0).max().unwrap_or(0));
            let cols = nb_cols.unwrap_or_else(|| cells.iter().map(|c| c.1).max().unwrap_or(0));
            let mut data = vec![0.0; rows * cols];
            for i in 0..rows {
                for j in 0..cols {
                    data[i * cols + j] = if i == j { diag } else { off };
                }
            }
            for (r, c, v) in cells {
                if r > rows || c > cols {
                    return Err(PmmlError::invalid("MatCell", "outside the matrix"));
                }
                data[(r - 1) * cols + (c - 1)] = v;
            }
            Ok(Matrix { rows, cols, data })
        }
        o => Err(PmmlError::unsupported(
            "Matrix",
            format!("kind=\"{o}\" is not supported"),
        )),
    }
}

pub(crate) fn compile(
    c: &mut Compiler<'_>,
    el: &Element,
    node: &mut ModelNode,
) -> Result<TimeSeries, PmmlError> {
    if node.function != crate::compile::MiningFunction::TimeSeries {
        return Err(PmmlError::unsupported(
            "TimeSeriesModel",
            "a TimeSeriesModel evaluates functionName=\"timeSeries\" only",
        ));
    }
    if node.target.name.is_none() {
        return Err(PmmlError::invalid(
            "TimeSeriesModel",
            "a target field (the series) is required",
        ));
    }
    let best = el
        .attr("bestFit")
        .ok_or_else(|| PmmlError::invalid("TimeSeriesModel", "missing attribute bestFit"))?;
    match best {
        "StateSpaceModel" => {}
        "ARIMA"
        | "ExponentialSmoothing"
        | "SeasonalTrendDecomposition"
        | "SpectralAnalysis"
        | "GARCH" => {
            if el.child(best).is_none() {
                return Err(PmmlError::invalid(
                    "TimeSeriesModel",
                    format!("bestFit=\"{best}\" but there is no {best} element"),
                ));
            }
            return Err(PmmlError::unsupported(
                best,
                "this time series algorithm is not supported (only StateSpaceModel is)",
            ));
        }
        o => {
            return Err(PmmlError::invalid(
                "TimeSeriesModel",
                format!("unknown bestFit \"{o}\""),
            ))
        }
    }
    let ssm = el.child("StateSpaceModel").ok_or_else(|| {
        PmmlError::invalid(
            "TimeSeriesModel",
            "bestFit=\"StateSpaceModel\" but there is no StateSpaceModel element",
        )
    })?;
    let state = real_array(
        ssm.child("StateVector")
            .ok_or_else(|| PmmlError::invalid("StateSpaceModel", "a StateVector is required"))?,
    )?;
    let measurement = matrix(ssm.child("MeasurementMatrix").ok_or_else(|| {
        PmmlError::invalid("StateSpaceModel", "a MeasurementMatrix is required")
    })?)?;
    let intercept = opt_num_attr(ssm, "intercept")?.unwrap_or(0.0);
    let intercepts = match ssm.child("InterceptVector") {
        Some(iv) => {
            if intercept != 0.0 {
                return Err(PmmlError::invalid(
                    "StateSpaceModel",
                    "both an intercept and an InterceptVector",
                ));
            }
            real_array(iv)?
        }
        None => vec![intercept],
    };
    if measurement.cols != state.len() {
        return Err(PmmlError::invalid(
            "MeasurementMatrix",
            format!(
                "{} columns for a state vector of {}",
                measurement.cols,
                state.len()
            ),
        ));
    }
    if measurement.rows != intercepts.len() || intercepts.is_empty() {
        return Err(PmmlError::invalid(
            "MeasurementMatrix",
            format!(
                "{} rows for {} intercepts",
                measurement.rows,
                intercepts.len()
            ),
        ));
    }
    let forecast = measurement.data[..measurement.cols]
        .iter()
        .zip(&state)
        .map(|(m, s)| m * s)
        .sum::<f64>()
        + intercepts[0];
    let transition_ok = match ssm.child("TransitionMatrix") {
        Some(t) => {
            let t = matrix(t)?;
            t.cols == state.len()
        }
        None => false,
    };
    // The horizon: the supplementary field of the mining schema, if any.
    let schema = el
        .child("MiningSchema")
        .ok_or_else(|| PmmlError::invalid("TimeSeriesModel", "a MiningSchema is required"))?;
    let supplementary: Vec<&str> = schema
        .children_named("MiningField")
        .filter(|mf| mf.attr("usageType") == Some("supplementary"))
        .filter_map(|mf| mf.attr("name"))
        .collect();
    let horizon = match supplementary.as_slice() {
        [] => None,
        [name] => Some(c.field(name, "MiningField")?.slot),
        _ => {
            return Err(PmmlError::invalid(
                "MiningSchema",
                format!(
                    "expected 0 or 1 supplementary fields, got {}",
                    supplementary.len()
                ),
            ))
        }
    };
    Ok(TimeSeries {
        forecast,
        horizon,
        transition_ok,
    })
}

impl TimeSeries {
    pub(crate) fn evaluate(&self, ctx: &mut Ctx<'_>, index: usize) -> Result<(), Fail> {
        if let Some(slot) = self.horizon {
            let h = ctx.get(slot)?;
            let field = &ctx.m.slot_names[slot as usize];
            if let Some(h) = h.num() {
                if h.fract() != 0.0 || h.is_nan() {
                    return Err(EvalError::Evaluation(format!(
                        "the forecast horizon {field}={} is not an integer",
                        ctx.describe(Val::Num(h))
                    ))
                    .into());
                }
                if h < 1.0 {
                    return Err(EvalError::Evaluation(format!(
                        "the forecast horizon {field}={} is not positive",
                        ctx.describe(Val::Num(h))
                    ))
                    .into());
                }
                if h > 1.0 && !self.transition_ok {
                    return Err(EvalError::Evaluation(format!(
                        "a forecast horizon {field} above 1 needs a TransitionMatrix that fits \
                         the state vector"
                    ))
                    .into());
                }
            } else if !h.is_missing() {
                return Err(EvalError::Evaluation(format!(
                    "the forecast horizon {field}={} is not a number",
                    ctx.describe(h)
                ))
                .into());
            }
        }
        let epoch = ctx.s.epoch;
        let p = &mut ctx.s.preds[index];
        p.epoch = epoch;
        p.value = Val::Num(self.forecast);
        p.has_probs = false;
        p.has_conf = false;
        p.entity = Val::Missing;
        p.ranked.clear();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::{Model, ResultValue};

    fn doc(matrix: &str, extra: &str) -> String {
        format!(
            r#"<PMML xmlns="http://www.dmg.org/PMML-4_4" version="4.4">
  <DataDictionary>
    <DataField name="y" optype="continuous" dataType="double"/>
    <DataField name="h" optype="continuous" dataType="integer"/>
  </DataDictionary>
  <TimeSeriesModel functionName="timeSeries" bestFit="StateSpaceModel">
    <MiningSchema>
      <MiningField name="y" usageType="target"/>
      <MiningField name="h" usageType="supplementary"/>
    </MiningSchema>
    <StateSpaceModel intercept="1">
      <StateVector><Array type="real" n="2">2 3</Array></StateVector>
      <MeasurementMatrix>{matrix}</MeasurementMatrix>
      {extra}
    </StateSpaceModel>
  </TimeSeriesModel>
</PMML>"#
        )
    }

    fn forecast(model: &Model, h: &str) -> Result<ResultValue<'static>, String> {
        let mut row = model.new_row();
        let mut scratch = model.scratch();
        row.set_text(model.input_index("h").unwrap(), h);
        model
            .evaluate(&row, &mut scratch)
            .map(|_| match model.result(&scratch, 0) {
                ResultValue::Number(x) => ResultValue::Number(x),
                other => panic!("{other:?}"),
            })
            .map_err(|e| e.to_string())
    }

    #[test]
    fn the_first_forecast_is_the_measurement_of_the_state() {
        let m: Model = doc(
            r#"<Matrix><Array type="real" n="2">1 0.5</Array></Matrix>"#,
            "",
        )
        .parse()
        .unwrap();
        assert_eq!(forecast(&m, "1"), Ok(ResultValue::Number(4.5)));
        assert_eq!(forecast(&m, ""), Ok(ResultValue::Number(4.5)));
        assert!(forecast(&m, "0").is_err());
        // Longer horizons need a transition matrix.
        assert!(forecast(&m, "3").unwrap_err().contains("TransitionMatrix"));
        let t = r#"<TransitionMatrix><Matrix kind="diagonal"><Array type="real" n="2">1 1</Array></Matrix></TransitionMatrix>"#;
        let m: Model = doc(
            r#"<Matrix><Array type="real" n="2">1 0.5</Array></Matrix>"#,
            t,
        )
        .parse()
        .unwrap();
        assert_eq!(forecast(&m, "3"), Ok(ResultValue::Number(4.5)));
    }

    #[test]
    fn matrices_of_cells_and_mismatched_shapes() {
        let cells = r#"<Matrix nbRows="1" nbCols="2" offDiagDefault="2"><MatCell row="1" col="1">3</MatCell></Matrix>"#;
        let m: Model = doc(cells, "").parse().unwrap();
        assert_eq!(forecast(&m, "1"), Ok(ResultValue::Number(13.0)));
        let wide = r#"<Matrix><Array type="real" n="3">1 0 0</Array></Matrix>"#;
        assert!(doc(wide, "").parse::<Model>().is_err());
        let two_rows = r#"<Matrix><Array type="real" n="2">1 0</Array><Array type="real" n="2">0 1</Array></Matrix>"#;
        assert!(doc(two_rows, "").parse::<Model>().is_err());
    }

    #[test]
    fn other_algorithms_are_refused_by_name() {
        let d = doc(
            r#"<Matrix><Array type="real" n="2">1 0</Array></Matrix>"#,
            "",
        )
        .replace("bestFit=\"StateSpaceModel\"", "bestFit=\"GARCH\"")
        .replace("<StateSpaceModel", "<GARCH/><StateSpaceModel");
        let e = d.parse::<Model>().unwrap_err().to_string();
        assert!(e.contains("GARCH"), "{e}");
    }
}
