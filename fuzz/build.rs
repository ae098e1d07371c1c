//! Embeds every fixture model of the styx-pmml conformance suite, in name order, so the
//! fuzz targets need no files at run time.

use std::fmt::Write;
use std::path::PathBuf;

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let dir = manifest.join("../crates/styx-pmml/tests/fixtures");
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut cases: Vec<(String, PathBuf)> = std::fs::read_dir(&dir)
        .expect("the fixtures folder")
        .filter_map(|e| e.ok())
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                e.path().join("model.pmml"),
            )
        })
        .filter(|(_, p)| p.is_file())
        .collect();
    cases.sort();
    let mut out = String::from("/// Every fixture model: (case name, document, size in bytes).\n");
    out.push_str("pub static FIXTURES: &[(&str, &str, usize)] = &[\n");
    for (name, path) in &cases {
        let size = std::fs::metadata(path).unwrap().len();
        let path = path.canonicalize().unwrap();
        writeln!(
            out,
            "    ({name:?}, include_str!({:?}), {size}),",
            path.display().to_string()
        )
        .unwrap();
    }
    out.push_str("];\n");
    let dest = PathBuf::from(std::env::var("OUT_DIR").unwrap()).join("fixtures.rs");
    std::fs::write(dest, out).unwrap();
}
