//! Arbitrary bytes as a PMML document: loading gives a model or an error, never a panic,
//! and quickly. A document that loads is described and scores a record of missing values.
#![no_main]

use libfuzzer_sys::fuzz_target;
use styx_pmml::Model;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(model) = Model::parse(&text) {
        let _ = model.info();
        let row = model.new_row();
        let mut scratch = model.scratch();
        if model.evaluate(&row, &mut scratch).is_ok() {
            let _ = styx_pmml_fuzz::results(&model, &scratch);
        }
    }
});
