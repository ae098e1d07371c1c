//! A native PMML evaluator: parse, validate, compile and score PMML 3.x to 4.4 documents,
//! with the semantics of JPMML-Evaluator 1.7.
//!
//! A document is compiled once into a [`Model`] that resolves every field name to an index.
//! Scoring a record reads a [`Row`] of input cells (by input index) and writes into a
//! reusable [`Scratch`] buffer: no name look-ups, and no allocations once the buffers are
//! warm. A `Model` is `Send + Sync`; share it with `Arc` and give each thread or stream
//! operator instance its own `Scratch` and `Row`.
//!
//! ```no_run
//! use styx_pmml::Model;
//! let model = Model::from_path("model.pmml")?;
//! let mut row = model.new_row();
//! let mut scratch = model.scratch();
//! let i = model.input_index("sepal_length").unwrap();
//! row.set_text(i, "5.1");
//! model.evaluate(&row, &mut scratch)?;
//! for (col, column) in model.result_columns().iter().enumerate() {
//!     println!("{} = {:?}", column.name, model.result(&scratch, col));
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Anything the evaluator does not implement is refused when the document is loaded, with
//! a message naming the element; it never scores such a document.
//!
//! No input makes it panic: a malformed document is a [`PmmlError`], a record it cannot
//! score an [`EvalError`]. This is checked by the property tests of `tests/fuzz.rs` and by
//! coverage-guided fuzzing of loading, scoring and CSV jobs (`fuzz/` at the repository
//! root, run with `scripts/fuzz`; `fuzz/README.md` says how and what it found).

mod batch;
mod compile;
mod csvjob;
mod describe;
mod error;
mod eval;
mod expr;
pub mod format;
mod functions;
mod models;
mod output;
mod predicate;
mod row;
mod schema;
mod temporal;
mod text_index;
mod types;
mod xml;

use std::path::Path;

pub use batch::Batch;
pub use csvjob::{
    detect_delimiter, rows_from_csv, score_csv, score_csv_file, score_csv_with, CsvDialect,
    CsvSummary,
};
pub use describe::{FieldInfo, ModelInfo};
pub use error::{EvalError, PmmlError, ScoreError};
pub use eval::Scratch;
pub use row::{Cell, Row};
pub use types::DataType;

use compile::Compiled;
use eval::Ctx;
use types::Val;

/// An input field of a model: a `DataField` the top-level `MiningSchema` lists as active.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputField {
    /// The field name.
    pub name: String,
    /// Its data type; text cells are parsed as this type.
    pub data_type: DataType,
}

/// A result column: the target (or `_target` for models without one), then the final
/// output fields, in PMML order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResultColumn {
    /// The column name (the PMML field name).
    pub name: String,
    /// The data type of its values.
    pub data_type: DataType,
}

/// One result value, borrowing strings from the model or the scratch buffer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ResultValue<'a> {
    /// No result.
    Missing,
    /// A double.
    Number(f64),
    /// A 32-bit float.
    Float(f32),
    /// An integer.
    Integer(i64),
    /// A boolean.
    Bool(bool),
    /// Text (a category label, an entity id...).
    Str(&'a str),
}

impl ResultValue<'_> {
    /// Appends the value as a CSV cell: shortest round-trip numbers (see [`format`]; NaN
    /// and the infinities as Java writes them), labels as they are, `true`/`false`, and
    /// nothing for a missing value.
    pub fn write_to(&self, out: &mut String) {
        match *self {
            ResultValue::Missing => {}
            ResultValue::Number(x) => format::write_double(x, out),
            ResultValue::Float(x) => format::write_float(x, out),
            ResultValue::Integer(i) => {
                use std::fmt::Write;
                let _ = write!(out, "{i}");
            }
            ResultValue::Bool(b) => out.push_str(if b { "true" } else { "false" }),
            ResultValue::Str(s) => out.push_str(s),
        }
    }

    /// The value as a number, when it is one.
    pub fn as_f64(&self) -> Option<f64> {
        match *self {
            ResultValue::Number(x) => Some(x),
            ResultValue::Float(x) => Some(x as f64),
            ResultValue::Integer(i) => Some(i as f64),
            _ => None,
        }
    }
}

/// A compiled PMML model, ready to score records. `Send + Sync`.
#[derive(Debug, Clone)]
pub struct Model {
    c: Compiled,
    info: std::sync::Arc<describe::ModelInfo>,
    inputs: Vec<InputField>,
    columns: Vec<ResultColumn>,
}

impl std::str::FromStr for Model {
    type Err = PmmlError;

    fn from_str(text: &str) -> Result<Model, PmmlError> {
        Model::parse(text)
    }
}

impl Model {
    /// Parses and compiles a PMML document, scored with its first scorable model.
    pub fn parse(text: &str) -> Result<Model, PmmlError> {
        Model::parse_named(text, None)
    }

    /// Parses and compiles a PMML document, scored with the model element whose
    /// `modelName` is `model_name` (without one, the first scorable model).
    pub fn parse_named(text: &str, model_name: Option<&str>) -> Result<Model, PmmlError> {
        let root = xml::parse(text)?;
        let c = compile::compile(&root, model_name)?;
        let inputs = c
            .inputs
            .iter()
            .map(|i| InputField {
                name: i.name.clone(),
                data_type: i.ty,
            })
            .collect();
        let columns: Vec<ResultColumn> = c
            .columns
            .iter()
            .map(|col| ResultColumn {
                name: col.name.clone(),
                data_type: col.ty,
            })
            .collect();
        let model_el = compile::select_model(&root, model_name)?;
        let info = std::sync::Arc::new(describe::describe(&root, model_el, &columns));
        Ok(Model {
            c,
            info,
            inputs,
            columns,
        })
    }

    /// Reads, parses and compiles a PMML file.
    pub fn from_path(path: impl AsRef<Path>) -> Result<Model, PmmlError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| PmmlError::Io {
            path: path.display().to_string(),
            source,
        })?;
        Model::parse(&text)
    }

    /// What the model is, reads and gives, as a model server describes it.
    pub fn info(&self) -> &ModelInfo {
        &self.info
    }

    /// The input fields, in `DataDictionary` order; a [`Row`] holds one cell per field.
    pub fn input_fields(&self) -> &[InputField] {
        &self.inputs
    }

    /// The index of the input field `name`.
    pub fn input_index(&self, name: &str) -> Option<usize> {
        self.inputs.iter().position(|f| f.name == name)
    }

    /// The group field of a transactional association model: a record is the set of rows
    /// that share its value, and the model's input cell of a record is the collection of
    /// their cells (see [`Row::push_item`]). The CSV path groups rows this way, as
    /// JPMML's and Openscoring's batch tools do.
    pub fn group_field(&self) -> Option<&str> {
        self.c.group.as_deref()
    }

    /// The result columns, in output order.
    pub fn result_columns(&self) -> &[ResultColumn] {
        &self.columns
    }

    /// A fresh scratch buffer for this model.
    pub fn scratch(&self) -> Scratch {
        Scratch::new(&self.c)
    }

    /// An input row of missing cells, sized for this model.
    pub fn new_row(&self) -> Row {
        Row::new(self.inputs.len())
    }

    /// Evaluates one record. On success the results are read with [`Model::result`].
    pub fn evaluate(&self, row: &Row, scratch: &mut Scratch) -> Result<(), EvalError> {
        scratch.begin();
        let mut ctx = Ctx {
            m: &self.c,
            s: scratch,
            row,
        };
        let epoch = ctx.s.epoch;
        // Input fields are prepared when the model first reads them, as JPMML does: a
        // value a model never reads (a tree branch not taken) is never checked, and an
        // invalid one fails the record only when it is read. A number as text is parsed
        // here already, as `Prep::prepare_cell` would, when nothing else can come of it
        // and the model reads every field (not a tree nor a rule set: see
        // `Compiled::eager_inputs`).
        for &(slot, input, plain) in &self.c.eager_inputs {
            if let Some(val) = plain.read(row.cell(input as usize)) {
                ctx.s.slots[slot as usize] = eval::SlotValue { epoch, val };
            }
        }
        models::evaluate(&mut ctx, self.c.top)?;
        output::evaluate_outputs(&mut ctx, self.c.top)?;
        for col in &self.c.columns {
            if let Some(slot) = col.slot {
                // The top model's outputs are computed above; a segment's output without a
                // value is a missing result.
                if let compile::SlotDef::Output { model, index } = self.c.slots[slot as usize] {
                    if model as usize == self.c.top
                        || !output::is_declared(&ctx, model as usize, index as usize)
                    {
                        continue;
                    }
                }
                ctx.get(slot)?;
            }
        }
        Ok(())
    }

    /// Result column `col` of the last record evaluated with `scratch`.
    pub fn result<'a>(&'a self, scratch: &'a Scratch, col: usize) -> ResultValue<'a> {
        let column = &self.c.columns[col];
        let v = match column.slot {
            None => {
                let p = &scratch.preds[self.c.top];
                if p.epoch == scratch.epoch {
                    p.value
                } else {
                    Val::Missing
                }
            }
            Some(slot) => {
                let cell = scratch.slots[slot as usize];
                if cell.epoch == scratch.epoch {
                    cell.val
                } else {
                    Val::Missing
                }
            }
        };
        match v {
            Val::Missing => ResultValue::Missing,
            Val::Bool(b) => ResultValue::Bool(b),
            Val::Str(id) => ResultValue::Str(if id & types::DYN != 0 {
                &scratch.dyn_strs[(id & !types::DYN) as usize]
            } else {
                &self.c.symbols.strings[id as usize]
            }),
            Val::Num(x) => match column.ty {
                DataType::Integer if x.fract() == 0.0 && x.abs() < 9.007_199_254_740_992e15 => {
                    ResultValue::Integer(x as i64)
                }
                DataType::Float => ResultValue::Float(x as f32),
                _ => ResultValue::Number(x),
            },
        }
    }
}

#[cfg(test)]
impl Model {
    /// The number of mining models whose segments are evaluated as one sum of trees.
    pub(crate) fn tree_sums(&self) -> usize {
        self.c
            .models
            .iter()
            .filter(|m| {
                matches!(&m.kind, models::ModelKind::Mining(mm) if mm.has_tree_sum() || mm.has_tree_votes())
            })
            .count()
    }

    /// The same model with every segment evaluated as its own model.
    pub(crate) fn without_tree_sums(&self) -> Model {
        let mut m = self.clone();
        for node in &mut m.c.models {
            if let models::ModelKind::Mining(mm) = &mut node.kind {
                mm.drop_tree_sum();
            }
        }
        m
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn model_is_send_and_sync() {
        assert_send_sync::<Model>();
    }

    /// A document of two regression models: `y = x + 1` (`plus`) and `y = 2x` (`twice`).
    const TWO_MODELS: &str = include_str!("../tests/two-models.pmml");

    fn score_x(model: &Model, x: f64) -> f64 {
        let mut row = model.new_row();
        row.set_number(model.input_index("x").unwrap(), x);
        let mut scratch = model.scratch();
        model.evaluate(&row, &mut scratch).unwrap();
        match model.result(&scratch, 0) {
            ResultValue::Number(y) => y,
            other => panic!("not a number: {other:?}"),
        }
    }

    #[test]
    fn a_model_is_picked_by_its_name() {
        assert_eq!(score_x(&Model::parse(TWO_MODELS).unwrap(), 5.0), 6.0);
        let twice = Model::parse_named(TWO_MODELS, Some("twice")).unwrap();
        assert_eq!(score_x(&twice, 5.0), 10.0);
        let err = Model::parse_named(TWO_MODELS, Some("thrice")).unwrap_err();
        assert!(
            err.to_string().contains("no model named \"thrice\""),
            "{err}"
        );
    }
}
