//! The evaluation context: the scratch buffer of one evaluator user, lazy field slots and
//! the per-model prediction records.

use crate::compile::{Compiled, SlotDef};
use crate::error::{EvalError, Fail};
use crate::row::Row;
use crate::types::{DataType, Val, DYN};

/// Index of a field slot.
pub(crate) type Slot = u32;

/// The prediction of one model (the top-level model or a segment) for the current record.
#[derive(Debug, Clone, Default)]
pub(crate) struct Pred {
    /// The scratch epoch in which the model was evaluated; other values mean "not evaluated
    /// for this record".
    pub epoch: u32,
    /// The predicted value (after `Targets` processing), or missing.
    pub value: Val,
    /// Probabilities (or affinities) per category of the model, valid when `has_probs`.
    pub probs: Vec<f64>,
    pub has_probs: bool,
    /// Confidences per category, valid when `has_conf`.
    pub conf: Vec<f64>,
    pub has_conf: bool,
    /// The winning entity (tree node, rule, cluster) id.
    pub entity: Val,
    /// Ranked entities (nearest neighbours, reason codes): the entity id.
    pub ranked: Vec<Val>,
    /// Order in which categories were first seen (vote aggregations); used for ties.
    pub order: Vec<u32>,
    /// Per-record marks of models that select entities (association rules).
    pub flags: Vec<u8>,
}

/// A field slot's value for the current record, valid when `epoch` is the scratch's.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SlotValue {
    pub epoch: u32,
    pub val: Val,
}

/// Reusable working memory for evaluating one record at a time with one [`crate::Model`].
/// Create it with [`crate::Model::scratch`]; keep one per thread or operator instance.
#[derive(Debug, Clone)]
pub struct Scratch {
    /// Per field slot: its value and the epoch it was computed in.
    pub(crate) slots: Vec<SlotValue>,
    pub(crate) epoch: u32,
    pub(crate) preds: Vec<Pred>,
    pub(crate) dyn_strs: Vec<String>,
    pub(crate) dyn_len: u32,
    pub(crate) nums: Vec<f64>,
    pub(crate) idx: Vec<u32>,
    pub(crate) text_buf: String,
    pub(crate) nums_mining: Vec<f64>,
    /// The predictions of a weighted median with their weights.
    pub(crate) weighted: crate::models::mining::Weighted,
    pub(crate) frame: Vec<Val>,
    /// The runtime types of the values in `frame`.
    pub(crate) frame_tys: Vec<DataType>,
    pub(crate) frame_base: usize,
    pub(crate) map_vals: Vec<Val>,
    pub(crate) opt_nums: Vec<Option<f64>>,
    /// Kernel values of the record with each support vector.
    pub(crate) kernel_vals: Vec<f64>,
    /// The features of a sum of trees.
    pub(crate) tree_record: crate::models::tree::Record,
    /// The items of a transaction (association rules).
    pub(crate) members: Vec<Val>,
}

impl Scratch {
    pub(crate) fn new(m: &Compiled) -> Scratch {
        let preds = m
            .models
            .iter()
            .map(|model| Pred {
                epoch: 0,
                value: Val::Missing,
                probs: vec![0.0; model.cats.len()],
                has_probs: false,
                conf: vec![0.0; model.cats.len()],
                has_conf: false,
                entity: Val::Missing,
                ranked: Vec::new(),
                order: Vec::new(),
                flags: Vec::new(),
            })
            .collect();
        Scratch {
            slots: vec![
                SlotValue {
                    epoch: 0,
                    val: Val::Missing
                };
                m.slots.len()
            ],
            epoch: 0,
            preds,
            dyn_strs: Vec::new(),
            dyn_len: 0,
            nums: Vec::new(),
            idx: Vec::new(),
            text_buf: String::new(),
            nums_mining: Vec::new(),
            weighted: Default::default(),
            frame: Vec::new(),
            frame_tys: Vec::new(),
            frame_base: 0,
            map_vals: Vec::new(),
            opt_nums: Vec::new(),
            kernel_vals: Vec::new(),
            tree_record: Default::default(),
            members: Vec::new(),
        }
    }

    /// Starts a new record: every slot becomes "not computed" without clearing memory.
    pub(crate) fn begin(&mut self) {
        self.epoch = self.epoch.wrapping_add(2);
        if self.epoch == 0 || self.epoch == u32::MAX - 1 {
            self.slots.iter_mut().for_each(|s| s.epoch = 0);
            self.preds.iter_mut().for_each(|p| p.epoch = 0);
            self.epoch = 2;
        }
        self.dyn_len = 0;
        self.frame.clear();
        self.frame_tys.clear();
        self.frame_base = 0;
    }
}

/// The state of one evaluation: the compiled model, the scratch buffer and the input row.
pub(crate) struct Ctx<'a> {
    pub m: &'a Compiled,
    pub s: &'a mut Scratch,
    pub row: &'a Row,
}

impl<'a> Ctx<'a> {
    /// The value of a field slot, computing it (once per record) when needed.
    #[inline]
    pub fn get(&mut self, slot: Slot) -> Result<Val, Fail> {
        let i = slot as usize;
        let cell = self.s.slots[i];
        if cell.epoch == self.s.epoch {
            return Ok(cell.val);
        }
        self.get_slow(slot)
    }

    /// [`Ctx::get`] for a slot not yet computed for this record.
    #[inline(never)]
    fn get_slow(&mut self, slot: Slot) -> Result<Val, Fail> {
        let i = slot as usize;
        if let Some(val) = self.plain_input(i) {
            self.s.slots[i] = SlotValue {
                epoch: self.s.epoch,
                val,
            };
            return Ok(val);
        }
        let st = self.s.slots[i].epoch;
        if st == self.s.epoch + 1 {
            return Err(EvalError::Evaluation(format!(
                "field \"{}\" is defined in terms of itself",
                self.m.slot_names[i]
            ))
            .into());
        }
        self.s.slots[i].epoch = self.s.epoch + 1;
        let result = self.compute(slot);
        match result {
            Ok(v) => {
                self.s.slots[i] = SlotValue {
                    epoch: self.s.epoch,
                    val: v,
                };
                Ok(v)
            }
            Err(e) => {
                self.s.slots[i].epoch = 0;
                Err(e)
            }
        }
    }

    /// The number of a slot of [`Compiled::lazy_inputs`] whose cell is such a number (what
    /// [`crate::schema::Prep::prepare_cell`] gives for it, without its general path).
    #[inline]
    fn plain_input(&self, i: usize) -> Option<Val> {
        let (input, plain) = (*self.m.lazy_inputs.get(i)?)?;
        plain.read(self.row.cell(input as usize))
    }

    fn compute(&mut self, slot: Slot) -> Result<Val, Fail> {
        let m = self.m;
        match &m.slots[slot as usize] {
            SlotDef::Input { input, prep } => {
                let cell = self.row.cell(*input as usize);
                prep.prepare_cell(self, cell)
            }
            SlotDef::Treated { src, prep } => {
                let v = self.get(*src)?;
                prep.treat_value(self, v)
            }
            SlotDef::Derived { expr, ty, src } => {
                let (v, t) = expr.eval_dyn(self)?;
                match (v, ty) {
                    (Val::Num(_), DataType::Double) => Ok(v),
                    _ => crate::expr::cast_from(self, v, t.unwrap_or(*src), *ty),
                }
            }
            SlotDef::Output { model, index } => {
                crate::output::eval_output(self, *model as usize, *index as usize)
            }
            SlotDef::Unset => Ok(Val::Missing),
            SlotDef::Undefined => Err(EvalError::Evaluation(format!(
                "field \"{}\" is not defined",
                m.slot_names[slot as usize]
            ))
            .into()),
        }
    }

    /// The text of a string value.
    pub fn text(&self, id: u32) -> &str {
        if id & DYN != 0 {
            &self.s.dyn_strs[(id & !DYN) as usize]
        } else {
            &self.m.symbols.strings[id as usize]
        }
    }

    /// A string value for `text`: the interned id when the model knows the string, else a
    /// string in the scratch buffer (its memory is reused across records).
    pub fn string(&mut self, text: &str) -> Val {
        if let Some(id) = self.m.symbols.get(text) {
            return Val::Str(id);
        }
        let i = self.s.dyn_len as usize;
        if i == self.s.dyn_strs.len() {
            self.s.dyn_strs.push(String::new());
        }
        let buf = &mut self.s.dyn_strs[i];
        buf.clear();
        buf.push_str(text);
        self.s.dyn_len += 1;
        Val::Str(DYN | i as u32)
    }

    /// Builds a new string value in the scratch buffer.
    pub fn build_string(&mut self, f: impl FnOnce(&Self, &mut String)) -> Val {
        let mut buf = std::mem::take(&mut self.s.text_buf);
        buf.clear();
        f(self, &mut buf);
        let v = self.string(&buf);
        self.s.text_buf = buf;
        v
    }

    /// A string value holding `values` as Java writes a list (`[3.0, -0.5]`, a missing
    /// element as `null`), which is how Openscoring's CSV endpoint gives a collection.
    pub fn list_string(&mut self, values: &[Val]) -> Val {
        self.build_string(|ctx, s| {
            s.push('[');
            for (i, v) in values.iter().enumerate() {
                if i > 0 {
                    s.push_str(", ");
                }
                match *v {
                    Val::Missing => s.push_str("null"),
                    Val::Num(x) => crate::format::write_double(x, s),
                    Val::Str(id) => s.push_str(ctx.text(id)),
                    Val::Bool(b) => s.push_str(if b { "true" } else { "false" }),
                }
            }
            s.push(']');
        })
    }

    /// Whether two values are equal (strings compared by text, numbers as Java's
    /// `Double.equals`: see [`crate::types::java_cmp`]).
    #[inline(always)]
    pub fn equal(&self, a: Val, b: Val) -> bool {
        match (a, b) {
            // A string built while scoring is interned when the model knows its text, so a
            // built string can only equal another built one.
            (Val::Str(x), Val::Str(y)) => {
                x == y || (x & DYN != 0 && y & DYN != 0 && self.text(x) == self.text(y))
            }
            (Val::Num(x), Val::Num(y)) => crate::types::java_cmp(x, y).is_eq(),
            (Val::Bool(x), Val::Bool(y)) => x == y,
            (Val::Bool(_), Val::Num(_)) | (Val::Num(_), Val::Bool(_)) => a.num() == b.num(),
            _ => false,
        }
    }

    /// Orders two non-missing values: numbers as Java does (see
    /// [`crate::types::java_cmp`]), strings by text.
    pub fn compare(&self, a: Val, b: Val) -> Option<std::cmp::Ordering> {
        match (a, b) {
            (Val::Str(x), Val::Str(y)) => Some(self.text(x).cmp(self.text(y))),
            _ => Some(crate::types::java_cmp(a.num()?, b.num()?)),
        }
    }

    /// Describes a value for error messages.
    pub fn describe(&self, v: Val) -> String {
        match v {
            Val::Missing => "(missing)".into(),
            Val::Num(x) => {
                let mut s = String::new();
                crate::format::write_double(x, &mut s);
                s
            }
            Val::Bool(b) => b.to_string(),
            Val::Str(id) => self.text(id).to_string(),
        }
    }
}
