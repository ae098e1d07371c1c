//! What a model is and what it reads and gives, as a model server describes it: the
//! mining function, a summary of the model type, and the input, group, target and output
//! fields with their types and valid values (Openscoring's `ModelResponse` schema).

use crate::xml::Element;
use crate::{DataType, ResultColumn};

/// A model, described.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelInfo {
    /// The model element's `functionName`, as PMML spells it (`classification`, ...).
    pub mining_function: String,
    /// The kind of model, as JPMML names it (`Tree model`, `Regression`, ...).
    pub summary: String,
    /// `Header@modelVersion`, when the document gives one.
    pub version: Option<String>,
    /// The active mining fields, in mining schema order.
    pub input_fields: Vec<FieldInfo>,
    /// The `usageType="group"` mining fields.
    pub group_fields: Vec<FieldInfo>,
    /// The target fields (`_target` for a model that predicts without naming one).
    pub target_fields: Vec<FieldInfo>,
    /// The final output fields, in output order.
    pub output_fields: Vec<FieldInfo>,
}

/// A field of a model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldInfo {
    /// The field name.
    pub id: String,
    /// Its `displayName`, when it has one.
    pub name: Option<String>,
    /// The data type, as PMML spells it.
    pub data_type: String,
    /// The operational type, as PMML spells it.
    pub op_type: String,
    /// Its intervals (`[l, r]`, `(l, r]`, ...) and then its valid values.
    pub values: Vec<String>,
}

/// Describes the model element `model` of the document `root`, whose result columns are
/// `columns` (targets first, then outputs).
pub(crate) fn describe(root: &Element, model: &Element, columns: &[ResultColumn]) -> ModelInfo {
    let dictionary: Vec<&Element> = root
        .child("DataDictionary")
        .map(|d| d.children_named("DataField").collect())
        .unwrap_or_default();
    let data_field = |name: &str| {
        dictionary
            .iter()
            .copied()
            .find(|f| f.attr("name") == Some(name))
    };
    let mut inputs = Vec::new();
    let mut groups = Vec::new();
    let mut targets = Vec::new();
    for mf in model
        .child("MiningSchema")
        .map(|s| s.children_named("MiningField").collect::<Vec<_>>())
        .unwrap_or_default()
    {
        let Some(name) = mf.attr("name") else {
            continue;
        };
        let field = match data_field(name) {
            Some(df) => {
                let mut info = field_info(df);
                if let Some(op) = mf.attr("optype") {
                    info.op_type = op.to_string();
                }
                info
            }
            None => continue,
        };
        match mf.attr("usageType").unwrap_or("active") {
            "active" => inputs.push(field),
            // A time series reads its forecast horizon from its supplementary field.
            "supplementary" if model.name == "TimeSeriesModel" => inputs.push(field),
            "group" => groups.push(field),
            "target" | "predicted" => targets.push(field),
            _ => {}
        }
    }
    let output_names: Vec<&str> = model
        .child("Output")
        .map(|o| {
            o.children_named("OutputField")
                .filter(|f| f.attr("isFinalResult") != Some("false"))
                .filter_map(|f| f.attr("name"))
                .collect()
        })
        .unwrap_or_default();
    let leading = columns
        .iter()
        .take_while(|c| !output_names.contains(&c.name.as_str()))
        .count();
    if targets.is_empty() {
        targets = columns[..leading]
            .iter()
            .map(|c| FieldInfo {
                id: c.name.clone(),
                name: None,
                data_type: c.data_type.name().to_string(),
                op_type: inferred_op_type(c.data_type).to_string(),
                values: Vec::new(),
            })
            .collect();
    }
    let output_el = |name: &str| {
        model.child("Output").and_then(|o| {
            o.children_named("OutputField")
                .find(|f| f.attr("name") == Some(name))
        })
    };
    let outputs = columns[leading..]
        .iter()
        .map(|c| {
            let el = output_el(&c.name);
            FieldInfo {
                id: c.name.clone(),
                name: el.and_then(|e| e.attr("displayName")).map(str::to_string),
                data_type: c.data_type.name().to_string(),
                op_type: el
                    .and_then(|e| e.attr("optype"))
                    .unwrap_or(inferred_op_type(c.data_type))
                    .to_string(),
                values: Vec::new(),
            }
        })
        .collect();
    ModelInfo {
        mining_function: model.attr("functionName").unwrap_or_default().to_string(),
        summary: summary(model),
        version: root
            .child("Header")
            .and_then(|h| h.attr("modelVersion"))
            .map(str::to_string),
        input_fields: inputs,
        group_fields: groups,
        target_fields: targets,
        output_fields: outputs,
    }
}

/// The field of a `DataField` element.
fn field_info(df: &Element) -> FieldInfo {
    let mut values: Vec<String> = df.children_named("Interval").map(interval).collect();
    values.extend(
        df.children_named("Value")
            .filter(|v| matches!(v.attr("property"), None | Some("valid")))
            .filter_map(|v| v.attr("value"))
            .map(str::to_string),
    );
    FieldInfo {
        id: df.attr("name").unwrap_or_default().to_string(),
        name: df.attr("displayName").map(str::to_string),
        data_type: df.attr("dataType").unwrap_or("string").to_string(),
        op_type: df.attr("optype").unwrap_or("categorical").to_string(),
        values,
    }
}

/// An `Interval` as text: `[l, r]`, `(l, r]`, `[l, r)` or `(l, r)`, a missing margin as
/// `-Infinity` / `Infinity`.
fn interval(el: &Element) -> String {
    let (open, close) = match el.attr("closure").unwrap_or("closedClosed") {
        "openClosed" => ("(", "]"),
        "closedOpen" => ("[", ")"),
        "openOpen" => ("(", ")"),
        _ => ("[", "]"),
    };
    let margin = |name: &str, infinity: &str| match el.attr(name).map(str::trim) {
        None => infinity.to_string(),
        Some(text) => number_text(text),
    };
    format!(
        "{open}{}, {}{close}",
        margin("leftMargin", "-Infinity"),
        margin("rightMargin", "Infinity")
    )
}

/// A margin as Java writes it: an integer as an integer (`18`), any other number as a
/// double (`-1000.0`, `0.5`).
fn number_text(text: &str) -> String {
    if let Ok(i) = text.parse::<i64>() {
        return i.to_string();
    }
    match text.parse::<f64>() {
        Ok(x) if x.is_finite() && x == x.trunc() && x.abs() < 1e7 => format!("{x:.1}"),
        Ok(x) => x.to_string(),
        Err(_) => text.to_string(),
    }
}

/// The operational type a value of `data_type` has when the document gives none.
fn inferred_op_type(data_type: DataType) -> &'static str {
    match data_type {
        DataType::String | DataType::Boolean => "categorical",
        DataType::Integer | DataType::Float | DataType::Double => "continuous",
        t if t.is_period() => "continuous",
        _ => "ordinal",
    }
}

/// JPMML's name for the kind of model.
fn summary(model: &Element) -> String {
    match model.name.as_str() {
        "RegressionModel" => "Regression",
        "GeneralRegressionModel" if model.attr("modelType") == Some("CoxRegression") => {
            "Cox regression"
        }
        "GeneralRegressionModel" => "General regression",
        "TreeModel" => "Tree model",
        "MiningModel" => "Ensemble model",
        "NeuralNetwork" => "Neural network",
        "NaiveBayesModel" => "Naive Bayes model",
        "SupportVectorMachineModel" => "Support vector machine",
        "NearestNeighborModel" => "k-Nearest neighbors model",
        "ClusteringModel" => "Clustering model",
        "Scorecard" => "Scorecard",
        "RuleSetModel" => "Ruleset model",
        "AssociationModel" => "Association rules",
        "TimeSeriesModel" => "Timeseries model",
        other => other,
    }
    .to_string()
}

#[cfg(test)]
mod tests {
    use crate::Model;

    const TREE: &str = r#"<PMML xmlns="http://www.dmg.org/PMML-4_4" version="4.4">
  <Header modelVersion="7"/>
  <DataDictionary>
    <DataField name="age" optype="continuous" dataType="integer" displayName="Age">
      <Interval closure="closedOpen" leftMargin="18" rightMargin="120.5"/>
      <Interval closure="openClosed" rightMargin="-1000.0"/>
    </DataField>
    <DataField name="city" optype="categorical" dataType="string">
      <Value value="Amsterdam"/><Value value="?" property="missing"/><Value value="Berlin" property="valid"/>
    </DataField>
    <DataField name="risk" optype="categorical" dataType="string">
      <Value value="low"/><Value value="high"/>
    </DataField>
  </DataDictionary>
  <TreeModel functionName="classification">
    <MiningSchema>
      <MiningField name="city"/>
      <MiningField name="age" optype="ordinal"/>
      <MiningField name="risk" usageType="target"/>
    </MiningSchema>
    <Output>
      <OutputField name="p_high" feature="probability" value="high" dataType="double"/>
      <OutputField name="hidden" feature="probability" value="low" dataType="double" isFinalResult="false"/>
    </Output>
    <Node score="low"><True/><ScoreDistribution value="low" recordCount="3"/><ScoreDistribution value="high" recordCount="1"/></Node>
  </TreeModel>
</PMML>"#;

    #[test]
    fn describes_the_fields_as_a_model_server_does() {
        let model = Model::parse(TREE).unwrap();
        let info = model.info();
        assert_eq!(info.mining_function, "classification");
        assert_eq!(info.summary, "Tree model");
        assert_eq!(info.version.as_deref(), Some("7"));
        let ids = |f: &[super::FieldInfo]| f.iter().map(|f| f.id.clone()).collect::<Vec<_>>();
        assert_eq!(ids(&info.input_fields), ["city", "age"]);
        assert_eq!(info.input_fields[0].values, ["Amsterdam", "Berlin"]);
        let age = &info.input_fields[1];
        assert_eq!(age.name.as_deref(), Some("Age"));
        assert_eq!(
            (age.data_type.as_str(), age.op_type.as_str()),
            ("integer", "ordinal")
        );
        assert_eq!(age.values, ["[18, 120.5)", "(-Infinity, -1000.0]"]);
        assert_eq!(ids(&info.target_fields), ["risk"]);
        assert_eq!(ids(&info.output_fields), ["p_high"]);
        assert_eq!(info.output_fields[0].op_type, "continuous");
        assert!(info.group_fields.is_empty());
    }
}
