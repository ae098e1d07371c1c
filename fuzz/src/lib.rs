//! Shared pieces of the styx-pmml fuzz targets: the embedded fixture models, a reader of
//! fuzz input bytes, a structure-aware mutator of PMML documents and a builder of input
//! rows (text, numbers, missing values, NaN, huge strings) from fuzz bytes.

use std::sync::OnceLock;

use styx_pmml::{Model, Row, Scratch};

include!(concat!(env!("OUT_DIR"), "/fixtures.rs"));

/// Documents at most this large are mutated (parsing them on every run stays fast
/// enough); this leaves out only the largest tree ensembles, SVMs and k-NN tables.
const SMALL: usize = 110_000;

/// The fixture documents small enough to mutate and parse on every run.
pub fn small_fixtures() -> &'static [&'static str] {
    static SMALL_DOCS: OnceLock<Vec<&'static str>> = OnceLock::new();
    SMALL_DOCS.get_or_init(|| {
        FIXTURES
            .iter()
            .filter(|(_, _, size)| *size <= SMALL)
            .map(|(_, doc, _)| *doc)
            .collect()
    })
}

/// Fixture model `i` (modulo their number), compiled on first use; `None` when the
/// document is one the suite expects to be refused.
pub fn fixture_model(i: usize) -> Option<&'static Model> {
    static MODELS: OnceLock<Vec<OnceLock<Option<Model>>>> = OnceLock::new();
    let models = MODELS.get_or_init(|| FIXTURES.iter().map(|_| OnceLock::new()).collect());
    let i = i % FIXTURES.len();
    models[i]
        .get_or_init(|| Model::parse(FIXTURES[i].1).ok())
        .as_ref()
}

/// Fuzz bytes read front to back; reads past the end give zeros.
pub struct Input<'a> {
    data: &'a [u8],
}

impl<'a> Input<'a> {
    /// Reads `data`.
    pub fn new(data: &'a [u8]) -> Self {
        Input { data }
    }

    /// Whether every byte has been read.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// The bytes not read yet.
    pub fn rest(&self) -> &'a [u8] {
        self.data
    }

    /// The next byte.
    pub fn byte(&mut self) -> u8 {
        match self.data.split_first() {
            Some((b, rest)) => {
                self.data = rest;
                *b
            }
            None => 0,
        }
    }

    /// The next (up to) `n` bytes.
    pub fn bytes(&mut self, n: usize) -> &'a [u8] {
        let n = n.min(self.data.len());
        let (head, rest) = self.data.split_at(n);
        self.data = rest;
        head
    }

    /// A little-endian u16.
    pub fn u16(&mut self) -> u16 {
        u16::from(self.byte()) | (u16::from(self.byte()) << 8)
    }

    /// A little-endian u32.
    pub fn u32(&mut self) -> u32 {
        u32::from(self.u16()) | (u32::from(self.u16()) << 16)
    }

    /// An f64 from 8 raw bytes.
    pub fn f64(&mut self) -> f64 {
        let mut b = [0u8; 8];
        for x in &mut b {
            *x = self.byte();
        }
        f64::from_le_bytes(b)
    }

    /// Up to `max` bytes as text (invalid UTF-8 replaced).
    pub fn text(&mut self, max: usize) -> String {
        let n = self.byte() as usize % (max + 1);
        String::from_utf8_lossy(self.bytes(n)).into_owned()
    }

    /// An index below `n` (0 when `n` is 0).
    pub fn index(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            self.u16() as usize % n
        }
    }
}

/// Attribute values and words that mean something somewhere in PMML.
const WORDS: &[&str] = &[
    "",
    "0",
    "-1",
    "1",
    "2",
    "3",
    "-0",
    "0.5",
    "1.5",
    "-2.5",
    "NaN",
    "INF",
    "-INF",
    "Infinity",
    "-Infinity",
    "1e308",
    "-1e308",
    "1e-320",
    "5e-324",
    "4294967295",
    "4294967296",
    "9223372036854775807",
    "-9223372036854775808",
    "18446744073709551616",
    "100000000",
    "1000000000000",
    "1e9",
    "true",
    "false",
    "x",
    " ",
    "double",
    "float",
    "integer",
    "string",
    "boolean",
    "date",
    "time",
    "dateTime",
    "dateDaysSince[1970]",
    "dateTimeSecondsSince[1970]",
    "timeSeconds",
    "categorical",
    "continuous",
    "ordinal",
    "asIs",
    "asMissing",
    "returnInvalid",
    "asValue",
    "asMean",
    "asMode",
    "asMedian",
    "asExtremeValues",
    "asMissingValues",
    "asIs",
    "active",
    "target",
    "predicted",
    "supplementary",
    "group",
    "frequencyWeight",
    "analysisWeight",
    "classification",
    "regression",
    "clustering",
    "mixed",
    "predictedValue",
    "predictedDisplayValue",
    "probability",
    "affinity",
    "entityId",
    "reasonCode",
    "decision",
    "transformedValue",
    "clusterId",
    "confidence",
    "standardError",
    "ruleValue",
    "residual",
    "warning",
    "sum",
    "average",
    "weightedAverage",
    "median",
    "weightedMedian",
    "weightedSum",
    "max",
    "majorityVote",
    "weightedMajorityVote",
    "modelChain",
    "selectFirst",
    "selectAll",
    "multiplyAll",
    "softmax",
    "logit",
    "exp",
    "none",
    "identity",
    "cloglog",
    "loglog",
    "probit",
    "cauchit",
    "simplemax",
    "tanh",
    "threshold",
    "logistic",
    "reciprocal",
    "square",
    "Gauss",
    "sine",
    "cosine",
    "Elliott",
    "arctan",
    "rectifier",
    "radialBasis",
    "equal",
    "notEqual",
    "lessThan",
    "lessOrEqual",
    "greaterThan",
    "greaterOrEqual",
    "isMissing",
    "isNotMissing",
    "isIn",
    "isNotIn",
    "and",
    "or",
    "xor",
    "surrogate",
    "returnNullPrediction",
    "returnLastPrediction",
    "lastPrediction",
    "nullPrediction",
    "defaultChild",
    "weightedConfidence",
    "aggregateNodes",
    "+",
    "-",
    "*",
    "/",
    "min",
    "log10",
    "ln",
    "sqrt",
    "abs",
    "pow",
    "floor",
    "ceil",
    "round",
    "substring",
    "concat",
    "replace",
    "matches",
    "formatNumber",
    "formatDatetime",
    "if",
    "isValid",
    "isNotValid",
    "stdNormalCDF",
    "erf",
    "closedClosed",
    "openOpen",
    "openClosed",
    "closedOpen",
    "valid",
    "invalid",
    "missing",
    "firstHit",
    "weightedSum",
    "weightedMax",
    "firstChoice",
    "euclidean",
    "squaredEuclidean",
    "chebychev",
    "cityBlock",
    "minkowski",
    "simpleMatching",
    "jaccard",
    "tanimoto",
    "binarySimilarity",
    "OneAgainstAll",
    "OneAgainstOne",
    "SupportVectors",
    "Coefficients",
    "pointsBelow",
    "pointsAbove",
    "loss",
    "generalLinear",
    "multinomialLogistic",
    "ordinalMultinomial",
    "CoxRegression",
    "generalizedLinear",
    "negbin",
    "power",
    "oddspower",
    "binary",
    "multiple",
    "first",
    "last",
    "standardization",
    "asDerived",
    "modulo",
    "x-modulo",
    "trimBlanks",
    "uppercase",
    "lowercase",
    "stringLength",
    "x-stringLength",
    "normalCDF",
    "normalPDF",
    "stdNormalPDF",
    "expm1",
    "log1p",
    "atan2",
    "hypot",
    "signum",
    "rint",
    "product",
    "avg",
    "not",
    "sum",
    "asin",
    "acos",
    "sinh",
    "cosh",
    "tan",
];

/// Element names to rename elements to.
const ELEMENTS: &[&str] = &[
    "Extension",
    "DataField",
    "MiningField",
    "DerivedField",
    "OutputField",
    "Value",
    "Interval",
    "Apply",
    "Constant",
    "FieldRef",
    "NormContinuous",
    "NormDiscrete",
    "Discretize",
    "MapValues",
    "TextIndex",
    "Aggregate",
    "Lag",
    "LinearNorm",
    "DiscretizeBin",
    "InlineTable",
    "row",
    "FieldColumnPair",
    "Segment",
    "Segmentation",
    "True",
    "False",
    "SimplePredicate",
    "CompoundPredicate",
    "SimpleSetPredicate",
    "Array",
    "Node",
    "ScoreDistribution",
    "NumericPredictor",
    "CategoricalPredictor",
    "PredictorTerm",
    "RegressionTable",
    "Target",
    "TargetValue",
    "LocalTransformations",
    "TransformationDictionary",
    "DefineFunction",
    "ParameterField",
    "MatrixCell",
    "Matrix",
    "PCell",
    "PPCell",
    "Parameter",
    "Predictor",
    "BaseCumHazardTables",
    "BaselineCell",
    "Characteristic",
    "Attribute",
    "Neuron",
    "Con",
    "NeuralLayer",
    "NeuralInputs",
    "NeuralOutputs",
    "NeuralOutput",
    "Cluster",
    "ClusteringField",
    "ComparisonMeasure",
    "SupportVector",
    "VectorInstance",
    "VectorFields",
    "VectorDictionary",
    "REAL-SparseArray",
    "Indices",
    "REAL-Entries",
    "SimpleRule",
    "CompoundRule",
    "RuleSelectionMethod",
    "BayesInput",
    "PairCounts",
    "TargetValueCounts",
    "TargetValueCount",
    "TargetValueStats",
    "GaussianDistribution",
    "BayesOutput",
    "TrainingInstances",
    "InstanceFields",
    "KNNInputs",
    "KNNInput",
];

/// Texts for element content (arrays, matrices, coefficients, rows).
fn content(input: &mut Input<'_>, doc_texts: &[&str]) -> String {
    match input.byte() % 6 {
        0 => WORDS[input.index(WORDS.len())].to_string(),
        1 => {
            let n = input.byte() % 24;
            let mut s = String::new();
            for _ in 0..n {
                s.push_str(&number(input));
                s.push(' ');
            }
            s
        }
        2 => {
            let n = input.byte() % 8;
            let mut s = String::new();
            for _ in 0..n {
                s.push('"');
                s.push_str(&input.text(6).replace(['<', '&'], "_"));
                s.push_str("\" ");
            }
            s
        }
        3 => doc_texts
            .get(input.index(doc_texts.len()))
            .copied()
            .unwrap_or("")
            .to_string(),
        _ => escape(&input.text(24)),
    }
}

/// A number as PMML may write it.
fn number(input: &mut Input<'_>) -> String {
    match input.byte() % 5 {
        0 => WORDS[input.index(20)].to_string(),
        1 => format!("{}", input.f64()),
        2 => format!("{:e}", input.f64()),
        3 => format!("{}", input.byte() as i8),
        _ => format!("{}", input.u32() as i32),
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('"', "&quot;")
}

/// An attribute value: a PMML word, another value of the document, a number or raw text.
fn value(input: &mut Input<'_>, doc_values: &[&str]) -> String {
    match input.byte() % 5 {
        0 | 1 => WORDS[input.index(WORDS.len())].to_string(),
        2 => doc_values
            .get(input.index(doc_values.len()))
            .copied()
            .unwrap_or("")
            .to_string(),
        3 => number(input),
        _ => escape(&input.text(16)),
    }
}

/// An element's byte ranges: (start, end, name, end of the start tag, end-tag name).
type ElementSpan = (usize, usize, (usize, usize), usize, Option<(usize, usize)>);

/// The parts of a document the mutator edits, as byte ranges.
#[derive(Default)]
struct Scan {
    /// Whole elements: (start, end, name range, start tag end, end-tag name range).
    elements: Vec<ElementSpan>,
    /// Attribute values (between the quotes).
    values: Vec<(usize, usize)>,
    /// Attribute names.
    names: Vec<(usize, usize)>,
    /// Non-blank text between tags.
    texts: Vec<(usize, usize)>,
}

/// Finds elements, attribute values and texts; stops at the first thing it does not
/// understand (a mutated document may be anything).
fn scan(doc: &str) -> Scan {
    let mut s = Scan::default();
    let _ = scan_into(doc.as_bytes(), &mut s);
    s
}

fn scan_into(b: &[u8], s: &mut Scan) -> Option<()> {
    let find = |from: usize, pat: &[u8]| -> Option<usize> {
        b.get(from..)?
            .windows(pat.len())
            .position(|w| w == pat)
            .map(|p| p + from)
    };
    let mut stack: Vec<usize> = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let lt = match find(i, b"<") {
            Some(p) => p,
            None => break,
        };
        if b[i..lt].iter().any(|c| !c.is_ascii_whitespace()) {
            s.texts.push((i, lt));
        }
        let rest = &b[lt..];
        if rest.starts_with(b"<?") {
            i = find(lt, b"?>")? + 2;
        } else if rest.starts_with(b"<!--") {
            i = find(lt, b"-->")? + 3;
        } else if rest.starts_with(b"<![CDATA[") {
            i = find(lt, b"]]>")? + 3;
        } else if rest.starts_with(b"<!") {
            i = find(lt, b">")? + 1;
        } else if rest.starts_with(b"</") {
            let gt = find(lt, b">")?;
            let e = stack.pop()?;
            s.elements[e].1 = gt + 1;
            s.elements[e].4 = Some((lt + 2, gt));
            i = gt + 1;
        } else {
            let name_end = lt
                + 1
                + b[lt + 1..]
                    .iter()
                    .position(|c| c.is_ascii_whitespace() || *c == b'/' || *c == b'>')?;
            let mut j = name_end;
            loop {
                while b.get(j)?.is_ascii_whitespace() {
                    j += 1;
                }
                match b.get(j)? {
                    b'/' => {
                        let gt = find(j, b">")?;
                        s.elements
                            .push((lt, gt + 1, (lt + 1, name_end), gt + 1, None));
                        i = gt + 1;
                        break;
                    }
                    b'>' => {
                        stack.push(s.elements.len());
                        s.elements
                            .push((lt, b.len(), (lt + 1, name_end), j + 1, None));
                        i = j + 1;
                        break;
                    }
                    _ => {
                        let eq = find(j, b"=")?;
                        s.names.push((j, eq));
                        let q = *b.get(eq + 1)?;
                        if q != b'"' && q != b'\'' {
                            return None;
                        }
                        let close = find(eq + 2, &[q])?;
                        s.values.push((eq + 2, close));
                        j = close + 1;
                    }
                }
            }
        }
    }
    Some(())
}

/// Applies up to 8 mutations chosen by `input` to `doc`: attribute values, element texts
/// and names replaced, elements deleted, duplicated, copied into others, attributes added
/// or swapped, raw splices.
pub fn mutate(doc: &str, input: &mut Input<'_>) -> String {
    let mut doc = doc.to_string();
    let n = input.byte() % 8 + 1;
    for _ in 0..n {
        if input.is_empty() {
            break;
        }
        let s = scan(&doc);
        let values: Vec<&str> = s.values.iter().map(|&(a, b)| &doc[a..b]).collect();
        let texts: Vec<&str> = s.texts.iter().map(|&(a, b)| &doc[a..b]).collect();
        let edit: Option<(usize, usize, String)> = match input.byte() % 12 {
            0 | 1 if !s.values.is_empty() => {
                let (a, b) = s.values[input.index(s.values.len())];
                Some((a, b, value(input, &values)))
            }
            2 if !s.texts.is_empty() => {
                let (a, b) = s.texts[input.index(s.texts.len())];
                Some((a, b, content(input, &texts)))
            }
            3 if !s.elements.is_empty() => {
                let e = s.elements[input.index(s.elements.len())];
                Some((e.0, e.1, String::new()))
            }
            4 if !s.elements.is_empty() => {
                let e = s.elements[input.index(s.elements.len())];
                Some((e.1, e.1, doc[e.0..e.1].to_string()))
            }
            5 if !s.elements.is_empty() => {
                let from = s.elements[input.index(s.elements.len())];
                let to = s.elements[input.index(s.elements.len())];
                Some((to.3, to.3, doc[from.0..from.1].to_string()))
            }
            6 if !s.elements.is_empty() => {
                let e = s.elements[input.index(s.elements.len())];
                let name = if input.byte() & 1 == 0 {
                    ELEMENTS[input.index(ELEMENTS.len())].to_string()
                } else {
                    let o = s.elements[input.index(s.elements.len())].2;
                    doc[o.0..o.1].to_string()
                };
                // Rename the end tag first: it comes later in the text.
                if let Some((a, b)) = e.4 {
                    doc.replace_range(a..b, &name);
                }
                Some((e.2 .0, e.2 .1, name))
            }
            7 if !s.elements.is_empty() => {
                let e = s.elements[input.index(s.elements.len())];
                let name = match s.names.get(input.index(s.names.len())) {
                    Some(&(a, b)) if input.byte() & 1 == 0 => doc[a..b].to_string(),
                    _ => WORDS[input.index(WORDS.len())].to_string(),
                };
                let v = value(input, &values);
                Some((e.2 .1, e.2 .1, format!(" {name}=\"{v}\"")))
            }
            8 if s.values.len() > 1 => {
                let x = s.values[input.index(s.values.len())];
                let y = s.values[input.index(s.values.len())];
                let (x, y) = if x.0 < y.0 { (x, y) } else { (y, x) };
                if x.1 <= y.0 {
                    let (vx, vy) = (doc[x.0..x.1].to_string(), doc[y.0..y.1].to_string());
                    doc.replace_range(y.0..y.1, &vx);
                    Some((x.0, x.1, vy))
                } else {
                    None
                }
            }
            10 if !s.elements.is_empty() => {
                // An element of another fixture, put inside one of this document.
                let docs = small_fixtures();
                let other = docs[input.index(docs.len())];
                let o = scan(other);
                let to = s.elements[input.index(s.elements.len())];
                o.elements
                    .get(input.index(o.elements.len()))
                    .map(|e| (to.3, to.3, other[e.0..e.1].to_string()))
            }
            9 => {
                let mut a = input.index(doc.len() + 1);
                while !doc.is_char_boundary(a) {
                    a -= 1;
                }
                let mut b = (a + input.byte() as usize % 32).min(doc.len());
                while !doc.is_char_boundary(b) {
                    b -= 1;
                }
                Some((a, b, input.text(32)))
            }
            _ => {
                let (a, b) = match s.values.get(input.index(s.values.len())) {
                    Some(&v) => v,
                    None => continue,
                };
                let other = values
                    .get(input.index(values.len()))
                    .copied()
                    .unwrap_or("")
                    .to_string();
                Some((a, b, other))
            }
        };
        if let Some((a, b, text)) = edit {
            doc.replace_range(a..b, &text);
        }
    }
    doc
}

/// Texts that are hard for a number parser or a category matcher.
const CELL_TEXTS: &[&str] = &[
    "",
    " ",
    "NaN",
    "nan",
    "-NaN",
    "Infinity",
    "-Infinity",
    "INF",
    "inf",
    "1e400",
    "-1e400",
    "1e-400",
    "-0",
    "0",
    "0x10",
    " 1 ",
    "1,5",
    "1.0",
    "1.",
    ".5",
    "+1",
    "1_000",
    "1e",
    "e5",
    "true",
    "false",
    "TRUE",
    "1",
    "2",
    "-1",
    "é",
    "\u{feff}1",
    "9007199254740993",
    "18446744073709551616",
    "-9223372036854775809",
    "1e308",
    "2.5",
    "0.0000001",
    "NA",
    "null",
    "N/A",
    "?",
];

/// Special numbers.
const NUMBERS: &[f64] = &[
    f64::NAN,
    f64::INFINITY,
    f64::NEG_INFINITY,
    -0.0,
    0.0,
    1.0,
    -1.0,
    0.5,
    2.0,
    1e308,
    -1e308,
    f64::MAX,
    f64::MIN,
    f64::MIN_POSITIVE,
    5e-324,
    9_007_199_254_740_992.0,
    9.223_372_036_854_776e18,
    -9.223_372_036_854_776e18,
    1e20,
    4_294_967_296.0,
];

/// Fills cell `i` of `row` from `input`: missing, a valid value of the field, a number,
/// NaN and friends, odd or huge text, a boolean.
pub fn fill_cell(model: &Model, row: &mut Row, i: usize, input: &mut Input<'_>) {
    match input.byte() % 12 {
        0 => row.set_missing(i),
        1 | 9 => {
            let fields = &model.info().input_fields;
            let f = if input.byte() & 1 == 0 {
                fields.get(i)
            } else {
                fields.get(input.index(fields.len()))
            };
            let values = f.map(|f| f.values.as_slice()).unwrap_or(&[]);
            match values.get(input.index(values.len())) {
                Some(v) => row.set_text(i, v),
                None => row.set_text(i, "a"),
            }
        }
        2 => row.set_number(i, input.f64()),
        3 => row.set_number(i, NUMBERS[input.index(NUMBERS.len())]),
        4 => row.set_text(i, CELL_TEXTS[input.index(CELL_TEXTS.len())]),
        5 => row.set_text(i, &input.text(32)),
        6 => {
            let unit = match input.byte() % 4 {
                0 => "9",
                1 => "a",
                2 => "1.",
                _ => "é",
            };
            let n = 1 + input.u16() as usize;
            row.set_text(i, &unit.repeat(n));
        }
        7 => row.set_bool(i, input.byte() & 1 == 1),
        8 => {
            let x = input.f64();
            row.set_text(i, &format!("{x}"));
        }
        10 => row.set_text(i, &format!("{}", input.byte() as i8)),
        _ => row.set_number(i, f64::from(input.byte() as i8)),
    }
}

/// The results of the last record evaluated with `scratch`, as CSV cells.
pub fn results(model: &Model, scratch: &Scratch) -> Vec<String> {
    (0..model.result_columns().len())
        .map(|col| {
            let mut s = String::new();
            model.result(scratch, col).write_to(&mut s);
            s
        })
        .collect()
}

/// Scores up to 8 rows built from `input` with one reusable scratch buffer; the last
/// row is scored again with a fresh buffer, which must give the same results or error.
pub fn score_rows(model: &Model, input: &mut Input<'_>) {
    let mut row = model.new_row();
    let mut scratch = model.scratch();
    let mut last = None;
    for _ in 0..8 {
        if input.is_empty() {
            break;
        }
        if input.byte() & 1 == 0 {
            row.clear();
        }
        for i in 0..row.len() {
            fill_cell(model, &mut row, i, input);
        }
        let r = model.evaluate(&row, &mut scratch);
        last = Some(match r {
            Ok(()) => Ok(results(model, &scratch)),
            Err(e) => Err(e.to_string()),
        });
    }
    if let Some(reused) = last {
        let mut fresh = model.scratch();
        let again = match model.evaluate(&row, &mut fresh) {
            Ok(()) => Ok(results(model, &fresh)),
            Err(e) => Err(e.to_string()),
        };
        assert_eq!(reused, again, "a reused scratch buffer gave other results");
    }
}
