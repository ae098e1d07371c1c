//! Scoring a block of records at a time: [`Batch`] holds the rows in and the results out,
//! reused from block to block, so that a caller (the score transform, the model server's
//! batch and CSV endpoints, `styx score`) fills rows, makes one call and reads every
//! result, without allocating once the buffers are warm.

use crate::{EvalError, Model, ResultValue, Row, Scratch};

/// A result kept after its record's scratch state is reused (text in [`Batch::text`]).
#[derive(Debug, Clone, Copy, PartialEq)]
enum Kept {
    Missing,
    Number(f64),
    Float(f32),
    Integer(i64),
    Bool(bool),
    /// A byte range of the batch's text.
    Text(u32, u32),
}

/// A block of records for [`Model::evaluate_batch`]: fill rows with [`Batch::push`],
/// evaluate, then read each record's [`Batch::outcome`] and [`Batch::result`]s. Made by
/// [`Model::new_batch`] for one model.
#[derive(Debug)]
pub struct Batch {
    rows: Vec<Row>,
    len: usize,
    scratch: Scratch,
    outcomes: Vec<Result<(), EvalError>>,
    /// `columns` results per evaluated record.
    kept: Vec<Kept>,
    columns: usize,
    text: String,
}

impl Batch {
    /// The number of records in the batch.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the batch holds no record.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Empties the batch (keeping its buffers).
    pub fn clear(&mut self) {
        self.len = 0;
        self.outcomes.clear();
        self.kept.clear();
        self.text.clear();
    }

    /// Adds a record and returns its row, all cells missing, to fill.
    pub fn push(&mut self) -> &mut Row {
        if self.len == self.rows.len() {
            let width = self.rows.first().map_or(0, Row::len);
            self.rows.push(Row::new(width));
        }
        let row = &mut self.rows[self.len];
        row.clear();
        self.len += 1;
        row
    }

    /// Record `i`'s row.
    pub fn row(&self, i: usize) -> &Row {
        &self.rows[..self.len][i]
    }

    /// Whether record `i` was scored, or why not (after [`Model::evaluate_batch`]).
    pub fn outcome(&self, i: usize) -> Result<(), &EvalError> {
        self.outcomes[i].as_ref().map(|_| ())
    }

    /// Record `i`'s outcome, taken out of the batch (it is `Ok` afterwards).
    pub fn take_outcome(&mut self, i: usize) -> Result<(), EvalError> {
        std::mem::replace(&mut self.outcomes[i], Ok(()))
    }

    /// Result column `col` of record `i` (missing for a record that failed).
    pub fn result(&self, i: usize, col: usize) -> ResultValue<'_> {
        match self.kept.get(i * self.columns + col) {
            None | Some(Kept::Missing) => ResultValue::Missing,
            Some(Kept::Number(x)) => ResultValue::Number(*x),
            Some(Kept::Float(x)) => ResultValue::Float(*x),
            Some(Kept::Integer(x)) => ResultValue::Integer(*x),
            Some(Kept::Bool(b)) => ResultValue::Bool(*b),
            Some(Kept::Text(a, b)) => ResultValue::Str(&self.text[*a as usize..*b as usize]),
        }
    }
}

impl Model {
    /// An empty batch for this model.
    pub fn new_batch(&self) -> Batch {
        Batch {
            rows: vec![self.new_row()],
            len: 0,
            scratch: self.scratch(),
            outcomes: Vec::new(),
            kept: Vec::new(),
            columns: self.result_columns().len(),
            text: String::new(),
        }
    }

    /// Evaluates every record of `batch`, keeping each one's outcome and results; a
    /// record that fails does not stop the others.
    pub fn evaluate_batch(&self, batch: &mut Batch) {
        batch.outcomes.clear();
        batch.kept.clear();
        batch.text.clear();
        let columns = self.result_columns().len();
        for i in 0..batch.len {
            let outcome = self.evaluate(&batch.rows[i], &mut batch.scratch);
            for col in 0..columns {
                let kept = if outcome.is_err() {
                    Kept::Missing
                } else {
                    match self.result(&batch.scratch, col) {
                        ResultValue::Missing => Kept::Missing,
                        ResultValue::Number(x) => Kept::Number(x),
                        ResultValue::Float(x) => Kept::Float(x),
                        ResultValue::Integer(x) => Kept::Integer(x),
                        ResultValue::Bool(b) => Kept::Bool(b),
                        ResultValue::Str(s) => {
                            let start = batch.text.len() as u32;
                            batch.text.push_str(s);
                            Kept::Text(start, batch.text.len() as u32)
                        }
                    }
                };
                batch.kept.push(kept);
            }
            batch.outcomes.push(outcome);
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::{Model, ResultValue};

    const DOC: &str = r#"<PMML xmlns="http://www.dmg.org/PMML-4_4" version="4.4">
      <DataDictionary>
        <DataField name="x" optype="continuous" dataType="double"/>
        <DataField name="y" optype="categorical" dataType="string">
          <Value value="low"/><Value value="high"/>
        </DataField>
      </DataDictionary>
      <TreeModel functionName="classification">
        <MiningSchema>
          <MiningField name="x" invalidValueTreatment="returnInvalid"/>
          <MiningField name="y" usageType="target"/>
        </MiningSchema>
        <Output><OutputField name="p" feature="probability" value="high"/></Output>
        <Node><True/>
          <Node score="low"><SimplePredicate field="x" operator="lessThan" value="1"/>
            <ScoreDistribution value="low" recordCount="3"/><ScoreDistribution value="high" recordCount="1"/>
          </Node>
          <Node score="high"><True/>
            <ScoreDistribution value="low" recordCount="1"/><ScoreDistribution value="high" recordCount="4"/>
          </Node>
        </Node>
      </TreeModel>
    </PMML>"#;

    #[test]
    fn a_batch_scores_as_records_one_at_a_time() {
        let model = Model::parse(DOC).unwrap();
        let mut batch = model.new_batch();
        let cells = ["0.5", "abc", "", "7", "1"];
        for _ in 0..2 {
            batch.clear();
            for c in cells {
                batch.push().set_text(0, c);
            }
            model.evaluate_batch(&mut batch);
            assert_eq!(batch.len(), cells.len());
            let mut row = model.new_row();
            let mut scratch = model.scratch();
            for (i, c) in cells.iter().enumerate() {
                row.set_text(0, c);
                let one = model.evaluate(&row, &mut scratch);
                assert_eq!(one.is_ok(), batch.outcome(i).is_ok(), "record {i}");
                for col in 0..model.result_columns().len() {
                    let expected = if one.is_ok() {
                        model.result(&scratch, col)
                    } else {
                        ResultValue::Missing
                    };
                    assert_eq!(batch.result(i, col), expected, "record {i} column {col}");
                }
            }
        }
        assert_eq!(batch.result(0, 0), ResultValue::Str("low"));
        assert!(batch.outcome(1).unwrap_err().to_string().contains("abc"));
    }
}
