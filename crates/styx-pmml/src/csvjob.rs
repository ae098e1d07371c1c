//! Scoring a CSV table with Openscoring's conventions: the delimiter (comma, semicolon or
//! tab) is detected from the header, cells are matched to input fields by column name, an
//! `Id` column is copied through, and the output uses the input's delimiter.

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Read, Write};
use std::path::Path;

use crate::error::ScoreError;
use crate::Model;

/// What a CSV scoring job did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsvSummary {
    /// Data rows scored.
    pub rows: u64,
    /// The delimiter of input and output.
    pub delimiter: u8,
    /// The model's input fields that no column of the input has: missing in every row,
    /// as the model's mining schema treats missing values.
    pub missing_columns: Vec<String>,
}

/// Detects the delimiter from the first lines of a table: the first of `,`, `;` and tab
/// that splits every line into the same number (more than one) of cells; `,` otherwise.
pub fn detect_delimiter(head: &[u8]) -> u8 {
    // Only complete lines count (the last one may be cut), at most 11.
    let text = match head.iter().rposition(|b| *b == b'\n') {
        Some(i) if i + 1 < head.len() => &head[..=i],
        _ => head,
    };
    for d in [b',', b';', b'\t'] {
        let mut reader = csv::ReaderBuilder::new()
            .delimiter(d)
            .has_headers(false)
            .flexible(true)
            .from_reader(text);
        let mut counts = std::collections::HashSet::new();
        for rec in reader.records().take(11) {
            match rec {
                Ok(r) if !(r.len() == 1 && r[0].is_empty()) => {
                    counts.insert(r.len());
                }
                Ok(_) => {}
                Err(_) => {
                    counts.insert(0);
                }
            }
        }
        if counts.len() == 1 && counts.iter().next().is_some_and(|c| *c > 1) {
            return d;
        }
    }
    b','
}

/// How a table is written: its delimiter (detected from the header when not given) and
/// its quote character.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CsvDialect {
    /// The delimiter; `None`: detected (see [`detect_delimiter`]).
    pub delimiter: Option<u8>,
    /// The quote character.
    pub quote: u8,
}

impl Default for CsvDialect {
    fn default() -> Self {
        CsvDialect {
            delimiter: None,
            quote: b'"',
        }
    }
}

/// Scores every row of `input` with `model` and writes the result table to `output`.
/// Fails on the first row the model cannot evaluate, naming the row, its line and the
/// field. The caller decides what to do with partial output (see [`score_csv_file`]).
pub fn score_csv<R: Read, W: Write>(
    model: &Model,
    input: R,
    output: W,
) -> Result<CsvSummary, ScoreError> {
    score_csv_with(model, input, output, CsvDialect::default())
}

/// Records scored at a time.
const BATCH: usize = 256;

/// [`score_csv`] for a table of `dialect`; the output uses the same delimiter and quote.
/// Records are read and scored a [`crate::Batch`] at a time.
pub fn score_csv_with<R: Read, W: Write>(
    model: &Model,
    input: R,
    output: W,
    dialect: CsvDialect,
) -> Result<CsvSummary, ScoreError> {
    let mut input = BufReader::with_capacity(1 << 16, input);
    let head = input
        .fill_buf()
        .map_err(|e| ScoreError::Io(format!("reading the input: {e}")))?;
    let delimiter = dialect.delimiter.unwrap_or_else(|| detect_delimiter(head));
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .quote(dialect.quote)
        .has_headers(true)
        .flexible(false)
        .from_reader(input);
    let header = reader
        .headers()
        .map_err(|e| ScoreError::Csv(e.to_string()))?
        .clone();
    let mut mapping = Vec::new();
    let mut id_col = None;
    for (i, name) in header.iter().enumerate() {
        let name = name.trim_start_matches('\u{feff}');
        match model.input_index(name) {
            Some(f) => mapping.push((i, f)),
            None if id_col.is_none() && name.eq_ignore_ascii_case("id") => id_col = Some(i),
            None => {}
        }
    }
    let mut writer = csv::WriterBuilder::new()
        .delimiter(delimiter)
        .quote(dialect.quote)
        .from_writer(BufWriter::new(output));
    let columns = model.result_columns();
    let mut out_header: Vec<&str> = Vec::new();
    if let Some(i) = id_col {
        out_header.push(&header[i]);
    }
    out_header.extend(columns.iter().map(|c| c.name.as_str()));
    writer
        .write_record(&out_header)
        .map_err(|e| ScoreError::Io(e.to_string()))?;
    let mut batch = model.new_batch();
    let mut record = csv::StringRecord::new();
    let mut cells: Vec<String> = vec![String::new(); columns.len() + 1];
    // Per record of the batch: its line and its id cell.
    let mut lines: Vec<u64> = Vec::with_capacity(BATCH);
    let mut ids: Vec<String> = vec![String::new(); BATCH];
    let mut rows = 0u64;
    let mut done = false;
    if let Some(group) = model.group_field() {
        // Transactions: the rows of a group are one record.
        let group_col = header
            .iter()
            .position(|h| h.trim_start_matches('\u{feff}') == group);
        rows = score_groups(model, &mut reader, &mut writer, group_col, id_col, &mapping)?;
        done = true;
    }
    while !done {
        batch.clear();
        lines.clear();
        while batch.len() < BATCH {
            match reader.read_record(&mut record) {
                Ok(false) => {
                    done = true;
                    break;
                }
                Ok(true) => {}
                Err(e) => return Err(ScoreError::Csv(e.to_string())),
            }
            let n = lines.len();
            lines.push(
                record
                    .position()
                    .map(|p| p.line())
                    .unwrap_or(rows + n as u64 + 2),
            );
            if let Some(i) = id_col {
                ids[n].clear();
                ids[n].push_str(record.get(i).unwrap_or(""));
            }
            let row = batch.push();
            for (col, field) in &mapping {
                row.set_text(*field, record.get(*col).unwrap_or(""));
            }
        }
        model.evaluate_batch(&mut batch);
        for (i, line) in lines.iter().enumerate() {
            rows += 1;
            if let Err(error) = batch.take_outcome(i) {
                return Err(ScoreError::Row {
                    row: rows,
                    line: *line,
                    error,
                });
            }
            let mut n = 0;
            if id_col.is_some() {
                cells[0].clear();
                cells[0].push_str(&ids[i]);
                n = 1;
            }
            for col in 0..columns.len() {
                let c = &mut cells[n + col];
                c.clear();
                batch.result(i, col).write_to(c);
            }
            writer
                .write_record(cells[..n + columns.len()].iter())
                .map_err(|e| ScoreError::Io(e.to_string()))?;
        }
    }
    writer.flush().map_err(|e| ScoreError::Io(e.to_string()))?;
    let missing_columns = model
        .input_fields()
        .iter()
        .enumerate()
        .filter(|(f, _)| !mapping.iter().any(|(_, m)| m == f))
        .map(|(_, field)| field.name.clone())
        .collect();
    Ok(CsvSummary {
        rows,
        delimiter,
        missing_columns,
    })
}

/// One transaction of a grouped table: the first row's number, line and `Id`, and per
/// input field the non-empty cells of its rows.
struct Group {
    row: u64,
    line: u64,
    id: String,
    items: Vec<Vec<String>>,
}

impl Group {
    /// Sets the input cells of the columns the table has to the group's collections.
    fn fill(&self, row: &mut crate::Row, mapping: &[(usize, usize)]) {
        row.clear();
        for (field, items) in self.items.iter().enumerate() {
            if mapping.iter().any(|(_, f)| *f == field) {
                row.clear_items(field);
                for item in items {
                    row.push_item(field, item);
                }
            }
        }
    }
}

/// Reads every row of a table and groups them by the group column (see [`score_groups`]);
/// returns the groups and the number of rows.
fn read_groups<R: Read>(
    model: &Model,
    reader: &mut csv::Reader<R>,
    group_col: Option<usize>,
    id_col: Option<usize>,
    mapping: &[(usize, usize)],
) -> Result<(Vec<Group>, u64), ScoreError> {
    let n_inputs = model.input_fields().len();
    let mut order: Vec<Group> = Vec::new();
    let mut by_key: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    let mut record = csv::StringRecord::new();
    let mut rows = 0u64;
    loop {
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => return Err(ScoreError::Csv(e.to_string())),
        }
        rows += 1;
        let line = record.position().map(|p| p.line()).unwrap_or(rows + 1);
        let key = group_col.and_then(|c| record.get(c)).unwrap_or("");
        let g = match by_key.get(key) {
            Some(g) => *g,
            None => {
                order.push(Group {
                    row: rows,
                    line,
                    id: id_col.and_then(|c| record.get(c)).unwrap_or("").to_string(),
                    items: vec![Vec::new(); n_inputs],
                });
                by_key.insert(key.to_string(), order.len() - 1);
                order.len() - 1
            }
        };
        for (col, field) in mapping {
            let cell = record.get(*col).unwrap_or("");
            if !cell.is_empty() {
                order[g].items[*field].push(cell.to_string());
            }
        }
    }
    Ok((order, rows))
}

/// Scores a table for a transactional model: the rows that share the group column's value
/// (an empty or absent cell is a value too) are one record, whose input cells are the
/// collections of their non-empty cells; one result row per group, in the order of the
/// groups' first rows (as JPMML's `EvaluatorUtil.groupRows` and Openscoring's CSV
/// endpoint group them). The `Id` is the first row's.
fn score_groups<R: Read, W: Write>(
    model: &Model,
    reader: &mut csv::Reader<R>,
    writer: &mut csv::Writer<W>,
    group_col: Option<usize>,
    id_col: Option<usize>,
    mapping: &[(usize, usize)],
) -> Result<u64, ScoreError> {
    let (order, rows) = read_groups(model, reader, group_col, id_col, mapping)?;
    let columns = model.result_columns();
    let mut row = model.new_row();
    let mut scratch = model.scratch();
    let mut cells: Vec<String> = vec![String::new(); columns.len() + 1];
    for group in &order {
        group.fill(&mut row, mapping);
        if let Err(error) = model.evaluate(&row, &mut scratch) {
            return Err(ScoreError::Row {
                row: group.row,
                line: group.line,
                error,
            });
        }
        let mut n = 0;
        if id_col.is_some() {
            cells[0].clear();
            cells[0].push_str(&group.id);
            n = 1;
        }
        for col in 0..columns.len() {
            let c = &mut cells[n + col];
            c.clear();
            model.result(&scratch, col).write_to(c);
        }
        writer
            .write_record(cells[..n + columns.len()].iter())
            .map_err(|e| ScoreError::Io(e.to_string()))?;
    }
    Ok(rows)
}

/// Reads a CSV table (delimiter detected as for scoring) into input rows for `model`,
/// matching columns to input fields by name (for a transactional model, one row per
/// group of rows, as scoring groups them). For benchmarks and tests that score the
/// same rows repeatedly.
pub fn rows_from_csv<R: Read>(model: &Model, input: R) -> Result<Vec<crate::Row>, ScoreError> {
    let mut input = BufReader::with_capacity(1 << 16, input);
    let head = input
        .fill_buf()
        .map_err(|e| ScoreError::Io(format!("reading the input: {e}")))?;
    let delimiter = detect_delimiter(head);
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .from_reader(input);
    let header = reader
        .headers()
        .map_err(|e| ScoreError::Csv(e.to_string()))?
        .clone();
    let mapping: Vec<(usize, usize)> = header
        .iter()
        .enumerate()
        .filter_map(|(i, name)| model.input_index(name).map(|f| (i, f)))
        .collect();
    let mut rows = Vec::new();
    if let Some(group) = model.group_field() {
        // A transactional model's records are the groups of rows (see `score_groups`).
        let group_col = header.iter().position(|h| h == group);
        let (groups, _) = read_groups(model, &mut reader, group_col, None, &mapping)?;
        for g in &groups {
            let mut row = model.new_row();
            g.fill(&mut row, &mapping);
            rows.push(row);
        }
        return Ok(rows);
    }
    for record in reader.records() {
        let record = record.map_err(|e| ScoreError::Csv(e.to_string()))?;
        let mut row = model.new_row();
        for (col, field) in &mapping {
            row.set_text(*field, record.get(*col).unwrap_or(""));
        }
        rows.push(row);
    }
    Ok(rows)
}

/// Scores the CSV file `input` into the file `output`. The output is written to a
/// temporary file beside it and renamed into place only when every row succeeded, so a
/// failed job leaves no output.
pub fn score_csv_file(
    model: &Model,
    input: &Path,
    output: &Path,
) -> Result<CsvSummary, ScoreError> {
    let inp = File::open(input)
        .map_err(|e| ScoreError::Io(format!("cannot open {}: {e}", input.display())))?;
    let file_name = output
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "out".into());
    let tmp = output.with_file_name(format!(".{file_name}.{}.tmp", std::process::id()));
    let out = File::create(&tmp)
        .map_err(|e| ScoreError::Io(format!("cannot create {}: {e}", tmp.display())))?;
    match score_csv(model, inp, out) {
        Ok(summary) => {
            std::fs::rename(&tmp, output)
                .map_err(|e| ScoreError::Io(format!("cannot write {}: {e}", output.display())))?;
            Ok(summary)
        }
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            Err(e)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_delimiters() {
        assert_eq!(detect_delimiter(b"a,b\n1,2\n"), b',');
        assert_eq!(detect_delimiter(b"a;b\n1,5;2\n"), b';');
        assert_eq!(detect_delimiter(b"a\tb\n1\t2\n"), b'\t');
        assert_eq!(detect_delimiter(b"a;b;c\n\"x,y\";z;w\n"), b';');
        assert_eq!(detect_delimiter(b"single\n1\n"), b',');
    }
}
