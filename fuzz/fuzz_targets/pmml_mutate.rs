//! Structure-aware: a fixture document (chosen by the first byte) with attributes,
//! texts and elements mutated by the next bytes; a document that still loads scores rows
//! built from the rest of the input. Nothing may panic or hang.
#![no_main]

use libfuzzer_sys::fuzz_target;
use styx_pmml::Model;
use styx_pmml_fuzz::{mutate, score_rows, small_fixtures, Input};

fuzz_target!(|data: &[u8]| {
    let mut input = Input::new(data);
    let docs = small_fixtures();
    let doc = docs[input.byte() as usize % docs.len()];
    let doc = mutate(doc, &mut input);
    if let Ok(model) = Model::parse(&doc) {
        let _ = model.info();
        score_rows(&model, &mut input);
    }
});
