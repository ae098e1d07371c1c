//! Property tests: arbitrary and mutated documents never make the loader panic, and
//! arbitrary input rows never make evaluation panic (they score or fail with an error).

use std::path::PathBuf;

use proptest::prelude::*;
use styx_pmml::{Model, Row};

fn fixture(name: &str) -> String {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let case = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.file_name().unwrap().to_string_lossy().starts_with(name))
        .unwrap();
    std::fs::read_to_string(case.join("model.pmml")).unwrap()
}

const MODELS: &[&str] = &[
    "001", "030", "055", "065", "070", "075", "081", "086", "090", "093", "098", "100", "101",
    "102", "110", "120", "121", "126", "127", "132", "133", "136", "137", "138", "139",
];

fn cell() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        Just("NaN".to_string()),
        Just("vip".to_string()),
        Just("São Paulo".to_string()),
        Just("1e308".to_string()),
        Just("-0".to_string()),
        any::<f64>().prop_map(|x| x.to_string()),
        (-1000i64..1000).prop_map(|x| x.to_string()),
        "[a-zA-Z ,;\"]{0,8}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, .. ProptestConfig::default() })]

    #[test]
    fn arbitrary_text_never_panics(text in ".{0,400}") {
        let _ = Model::parse(&text);
    }

    #[test]
    fn xmlish_text_never_panics(text in "(<[A-Za-z]{1,8}( [a-z]{1,5}=\"[^\"<]{0,6}\")?/?>|</[A-Za-z]{1,8}>|[a-z0-9 ]{0,5}){0,40}") {
        let _ = Model::parse(&text);
    }

    #[test]
    fn mutated_documents_never_panic(
        which in 0..MODELS.len(),
        cut in 0.0f64..1.0,
        start in 0.0f64..1.0,
        len in 0usize..200,
        insert in "[<>/=\" a-zA-Z0-9]{0,20}",
    ) {
        let doc = fixture(MODELS[which]);
        let bytes = doc.as_bytes();
        let truncated = &bytes[..(bytes.len() as f64 * cut) as usize];
        let _ = Model::parse(&String::from_utf8_lossy(truncated));
        let s = (bytes.len() as f64 * start) as usize;
        let e = (s + len).min(bytes.len());
        let mut mutated = bytes[..s].to_vec();
        mutated.extend_from_slice(insert.as_bytes());
        mutated.extend_from_slice(&bytes[e..]);
        if let Ok(model) = Model::parse(&String::from_utf8_lossy(&mutated)) {
            let mut scratch = model.scratch();
            let row = model.new_row();
            let _ = model.evaluate(&row, &mut scratch);
        }
    }

    #[test]
    fn arbitrary_rows_never_panic(which in 0..MODELS.len(), cells in proptest::collection::vec(cell(), 0..40)) {
        let model = Model::parse(&fixture(MODELS[which])).unwrap();
        let mut row: Row = model.new_row();
        for (i, c) in cells.iter().enumerate().take(row.len()) {
            row.set_text(i, c);
        }
        let mut scratch = model.scratch();
        if model.evaluate(&row, &mut scratch).is_ok() {
            let mut out = String::new();
            for col in 0..model.result_columns().len() {
                model.result(&scratch, col).write_to(&mut out);
            }
        }
    }
}

// Inputs found by the cargo fuzz targets (`fuzz/`, see fuzz/README.md) or while writing
// them, kept here so they are checked without the fuzzer.

/// A regression on `x` (double) with `derived` defined by `apply`, predicting `y` from
/// `d` (the derived field) and `x`. The output `out` shows the derived value.
fn model_with(derived_type: &str, apply: &str) -> String {
    format!(
        r#"<PMML xmlns="http://www.dmg.org/PMML-4_4" version="4.4">
  <Header/>
  <DataDictionary>
    <DataField name="y" optype="continuous" dataType="double"/>
    <DataField name="x" optype="continuous" dataType="double"/>
    <DataField name="s" optype="categorical" dataType="string"/>
  </DataDictionary>
  <TransformationDictionary>
    <DerivedField name="d" optype="continuous" dataType="{derived_type}">{apply}</DerivedField>
  </TransformationDictionary>
  <RegressionModel functionName="regression">
    <MiningSchema>
      <MiningField name="y" usageType="target"/>
      <MiningField name="x"/>
      <MiningField name="s"/>
    </MiningSchema>
    <Output>
      <OutputField name="out" optype="categorical" dataType="{derived_type}" feature="transformedValue">
        <FieldRef field="d"/>
      </OutputField>
    </Output>
    <RegressionTable intercept="1">
      <NumericPredictor name="x" coefficient="2"/>
    </RegressionTable>
  </RegressionModel>
</PMML>"#
    )
}

/// Scores `x` and `s` cells; the results as CSV cells, or the error.
fn score(model: &Model, cells: &[(&str, styx_pmml::Cell<'_>)]) -> Result<Vec<String>, String> {
    let mut row = model.new_row();
    for (name, cell) in cells {
        row.set(model.input_index(name).unwrap(), *cell);
    }
    let mut scratch = model.scratch();
    model
        .evaluate(&row, &mut scratch)
        .map_err(|e| e.to_string())?;
    Ok((0..model.result_columns().len())
        .map(|c| {
            let mut s = String::new();
            model.result(&scratch, c).write_to(&mut s);
            s
        })
        .collect())
}

#[test]
fn a_huge_sparse_vector_size_is_refused_without_allocating() {
    let doc = fixture("113").replace(
        r#"<REAL-SparseArray n="30" defaultValue="0">"#,
        r#"<REAL-SparseArray n="1e18" defaultValue="0">"#,
    );
    assert!(doc.contains("1e18"));
    let err = Model::parse(&doc).unwrap_err().to_string();
    assert!(err.contains("VectorInstance"), "{err}");
}

#[test]
fn substring_of_a_nan_position_fails_the_record() {
    use styx_pmml::Cell;
    let apply = r#"<Apply function="substring"><FieldRef field="s"/><FieldRef field="x"/><Constant dataType="integer">2</Constant></Apply>"#;
    let model = Model::parse(&model_with("string", apply)).unwrap();
    assert_eq!(
        score(
            &model,
            &[("x", Cell::Number(2.0)), ("s", Cell::Text("abcd"))]
        )
        .unwrap(),
        ["5.0", "bc"]
    );
    let r = score(
        &model,
        &[("x", Cell::Number(f64::NAN)), ("s", Cell::Text("abcd"))],
    );
    assert!(r.is_err(), "{r:?}");
}
