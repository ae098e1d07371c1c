//! Every fixture model (chosen by the first byte) scores rows whose cells come from the
//! input: text, numbers, missing values, NaN, infinities, huge strings. Evaluation gives
//! results or an error, never a panic, and a reused scratch buffer gives the same results
//! as a fresh one.
#![no_main]

use libfuzzer_sys::fuzz_target;
use styx_pmml_fuzz::{fixture_model, score_rows, Input};

fuzz_target!(|data: &[u8]| {
    let mut input = Input::new(data);
    if let Some(model) = fixture_model(input.byte() as usize) {
        score_rows(model, &mut input);
    }
});
