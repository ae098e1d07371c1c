//! Arbitrary bytes as a CSV table scored by a fixture model (chosen by the first byte).
//! The second byte's flags may put the model's own header first (so rows reach the
//! model), pick the delimiter and quote, and read the table as rows too.
#![no_main]

use libfuzzer_sys::fuzz_target;
use styx_pmml::{rows_from_csv, score_csv, score_csv_with, CsvDialect};
use styx_pmml_fuzz::{fixture_model, Input};

fuzz_target!(|data: &[u8]| {
    let mut input = Input::new(data);
    let Some(model) = fixture_model(input.byte() as usize) else {
        return;
    };
    let flags = input.byte();
    let delimiter = [b',', b';', b'\t', b'|'][(flags >> 1) as usize % 4];
    let mut table = Vec::new();
    if flags & 1 == 1 {
        let names: Vec<&str> = model
            .input_fields()
            .iter()
            .map(|f| f.name.as_str())
            .collect();
        table.extend_from_slice(names.join(&(delimiter as char).to_string()).as_bytes());
        table.push(b'\n');
    }
    table.extend_from_slice(input.rest());
    let mut out = Vec::new();
    if flags & 8 == 8 {
        let dialect = CsvDialect {
            delimiter: Some(delimiter),
            quote: if flags & 16 == 16 { b'\'' } else { b'"' },
        };
        let _ = score_csv_with(model, table.as_slice(), &mut out, dialect);
    } else {
        let _ = score_csv(model, table.as_slice(), &mut out);
    }
    if flags & 32 == 32 {
        let _ = rows_from_csv(model, table.as_slice());
    }
});
