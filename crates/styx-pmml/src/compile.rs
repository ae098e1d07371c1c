//! Compiling a PMML document: name resolution to slots, scopes of nested models, the data
//! dictionary, transformations, targets and the dispatch to each model type.

use std::collections::{HashMap, HashSet};

use crate::error::PmmlError;
use crate::eval::Slot;
use crate::expr::{req, Expr, Function};
use crate::models::ModelKind;
use crate::output::OutputDef;
use crate::schema::{parse_const, DataFieldDef, PlainNumber, Prep};
use crate::types::{DataType, OpType, Symbols, Val};
use crate::xml::Element;

/// How a slot gets its value.
#[derive(Debug, Clone)]
pub(crate) enum SlotDef {
    /// Never computed (always missing).
    Unset,
    /// An input cell of the row, parsed and treated by the top-level mining schema.
    Input { input: u32, prep: Box<Prep> },
    /// A field as seen through a nested model's `MiningField` treatments.
    Treated { src: Slot, prep: Box<Prep> },
    /// A `DerivedField`.
    Derived {
        expr: Expr,
        ty: DataType,
        /// The type of the expression's value (converted to `ty`).
        src: DataType,
    },
    /// An `OutputField` of a model.
    Output { model: u32, index: u32 },
    /// A name a nested model's `MiningField` lists that JPMML cannot resolve there (a
    /// `DerivedField` of the `TransformationDictionary`): reading it fails the record.
    Undefined,
}

/// What a name resolves to.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FieldInfo {
    pub slot: Slot,
    pub ty: DataType,
    pub optype: OpType,
}

/// An input field of the compiled model.
#[derive(Debug, Clone)]
#[allow(dead_code)]
pub(crate) struct InputDef {
    pub name: String,
    pub ty: DataType,
    pub optype: OpType,
}

/// The mining function of a model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MiningFunction {
    Regression,
    Classification,
    Clustering,
    /// `associationRules`: no target, rules selected by the items of a record.
    AssociationRules,
    /// `timeSeries`: a forecast of the target series.
    TimeSeries,
}

impl MiningFunction {
    /// The `functionName` that names it.
    pub(crate) fn name(self) -> &'static str {
        match self {
            MiningFunction::Regression => "regression",
            MiningFunction::Classification => "classification",
            MiningFunction::Clustering => "clustering",
            MiningFunction::AssociationRules => "associationRules",
            MiningFunction::TimeSeries => "timeSeries",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CastInteger {
    Round,
    Ceiling,
    Floor,
}

/// The target of a model and its `Target` element.
#[derive(Debug, Clone)]
pub(crate) struct TargetDef {
    pub name: Option<String>,
    pub ty: DataType,
    pub optype: OpType,
    pub min: Option<f64>,
    pub max: Option<f64>,
    pub rescale_factor: f64,
    pub rescale_constant: f64,
    pub cast_integer: Option<CastInteger>,
    pub default_value: Option<f64>,
    /// Prior probabilities (`TargetValue@priorProbability`): category and probability.
    pub priors: Vec<(Val, f64)>,
}

/// One compiled model (the top-level model or a segment).
#[derive(Debug, Clone)]
pub(crate) struct ModelNode {
    pub kind: ModelKind,
    /// The model element name (for diagnostics).
    #[allow(dead_code)]
    pub element: String,
    pub function: MiningFunction,
    /// Arithmetic in 32-bit floats (`x-mathContext="float"`).
    pub float: bool,
    /// Categories (classification) or cluster ids (clustering), in the model's order.
    pub cats: Vec<Val>,
    pub target: TargetDef,
    pub outputs: Vec<OutputDef>,
    /// The output fields this model exposes as results (its own and, for some
    /// segmentations, its segments'), as (name, slot, type, final).
    pub result_outputs: Vec<(String, Slot, DataType, bool)>,
}

/// A result column.
#[derive(Debug, Clone)]
pub(crate) struct Column {
    pub name: String,
    pub ty: DataType,
    /// `None`: the target (the top-level prediction); `Some`: an output field's slot.
    pub slot: Option<Slot>,
}

/// The compiled document.
#[derive(Debug, Clone)]
pub(crate) struct Compiled {
    pub symbols: Symbols,
    pub slots: Vec<SlotDef>,
    pub slot_names: Vec<Box<str>>,
    pub models: Vec<ModelNode>,
    pub functions: Vec<Function>,
    pub top: usize,
    pub inputs: Vec<InputDef>,
    pub columns: Vec<Column>,
    /// The `usageType="group"` field of a transactional association model: records are
    /// the rows that share its value, each input a collection of their cells.
    pub group: Option<String>,
    /// The number input fields whose parsed text is a valid value (see
    /// [`crate::schema::PlainNumber`]), parsed for each record before the model
    /// runs: (slot, input cell, how the cell is read). Empty for a model that reads only some of
    /// its fields for a record (see `lazy_inputs`).
    pub eager_inputs: Vec<(Slot, u32, PlainNumber)>,
    /// The same fields by slot, parsed when the model first reads them: for a decision
    /// tree or a rule set, which read only the fields on a record's path. Empty when
    /// the inputs are parsed before the model runs.
    pub lazy_inputs: Vec<Option<(u32, PlainNumber)>>,
}

/// The compiler state.
pub(crate) struct Compiler<'d> {
    /// A PMML 4.1 document, whose `Apply@mapMissingTo` JPMML reads as `defaultValue`.
    pub pmml_41: bool,
    pub symbols: Symbols,
    pub slots: Vec<SlotDef>,
    pub slot_names: Vec<Box<str>>,
    pub models: Vec<Option<ModelNode>>,
    pub functions: Vec<Function>,
    fn_index: HashMap<String, (u32, DataType, usize)>,
    fn_defs: HashMap<String, &'d Element>,
    fn_compiling: HashSet<String>,
    pub scopes: Vec<HashMap<String, FieldInfo>>,
    pub data_fields: HashMap<String, DataFieldDef>,
    /// The parameters of the function being compiled: name and declared type (without
    /// one, a parameter keeps its argument's type).
    params: Vec<(String, Option<DataType>)>,
    in_function: bool,
    pub inputs: Vec<InputDef>,
    /// The target a segment model without its own target field shares with its parent
    /// (function, type, optype).
    pub inherited_target: Option<(MiningFunction, DataType, OpType)>,
}

pub(crate) const MODEL_ELEMENTS: &[&str] = &[
    "RegressionModel",
    "GeneralRegressionModel",
    "TreeModel",
    "MiningModel",
    "NeuralNetwork",
    "NaiveBayesModel",
    "SupportVectorMachineModel",
    "NearestNeighborModel",
    "ClusteringModel",
    "Scorecard",
    "RuleSetModel",
    "AssociationModel",
    "BaselineModel",
    "BayesianNetworkModel",
    "GaussianProcessModel",
    "SequenceModel",
    "TextModel",
    "TimeSeriesModel",
    "AnomalyDetectionModel",
];

impl<'d> Compiler<'d> {
    pub(crate) fn new_slot(&mut self, def: SlotDef, name: &str) -> Slot {
        self.slots.push(def);
        self.slot_names.push(name.into());
        (self.slots.len() - 1) as Slot
    }

    /// Resolves a field name in the current scopes.
    pub(crate) fn field(&mut self, name: &str, element: &str) -> Result<FieldInfo, PmmlError> {
        if self.in_function {
            return Err(PmmlError::invalid(
                element,
                format!("field \"{name}\" is not a parameter of the enclosing DefineFunction"),
            ));
        }
        for scope in self.scopes.iter().rev() {
            if let Some(f) = scope.get(name) {
                return Ok(*f);
            }
        }
        Err(PmmlError::invalid(
            element,
            format!("field \"{name}\" is not defined"),
        ))
    }

    pub(crate) fn declare(&mut self, name: &str, info: FieldInfo) {
        self.scopes
            .last_mut()
            .expect("a scope")
            .insert(name.to_string(), info);
    }

    /// Whether `name` resolves to a `DerivedField` of the `TransformationDictionary`.
    fn is_global_derived(&self, name: &str) -> bool {
        if self.scopes[1..].iter().any(|s| s.contains_key(name)) {
            return false;
        }
        match self.scopes[0].get(name) {
            Some(f) => matches!(
                self.slots[f.slot as usize],
                SlotDef::Derived { .. } | SlotDef::Unset
            ),
            None => false,
        }
    }

    pub(crate) fn param_index(&self, name: &str) -> Option<u32> {
        if !self.in_function {
            return None;
        }
        self.params
            .iter()
            .position(|(n, _)| n == name)
            .map(|i| i as u32)
    }

    /// The static type of parameter `i` (a double when undeclared; its runtime type is
    /// the argument's).
    pub(crate) fn params_ty(&self, i: u32) -> DataType {
        self.params[i as usize].1.unwrap_or(DataType::Double)
    }

    /// Compiles (once) the user-defined function `name`: index, result type and arity.
    pub(crate) fn function(&mut self, name: &str) -> Result<(u32, DataType, usize), PmmlError> {
        if let Some(f) = self.fn_index.get(name) {
            return Ok(*f);
        }
        let def = *self.fn_defs.get(name).ok_or_else(|| {
            PmmlError::unsupported("Apply", format!("function \"{name}\" is not supported"))
        })?;
        if !self.fn_compiling.insert(name.to_string()) {
            return Err(PmmlError::unsupported(
                "DefineFunction",
                format!("recursive function \"{name}\""),
            ));
        }
        let ty = DataType::parse(req(def, "dataType")?, "DefineFunction")?;
        let mut params = Vec::new();
        for p in def.children_named("ParameterField") {
            let pty = match p.attr("dataType") {
                Some(t) => Some(DataType::parse(t, "ParameterField")?),
                None => None,
            };
            params.push((req(p, "name")?.to_string(), pty));
        }
        let saved = (
            std::mem::replace(&mut self.params, params.clone()),
            self.in_function,
        );
        self.in_function = true;
        let body = self.expr_child(def);
        self.params = saved.0;
        self.in_function = saved.1;
        let (body, body_ty) = body?;
        self.functions.push(Function {
            body,
            body_ty,
            params: params.iter().map(|p| p.1).collect(),
            ty,
        });
        let entry = ((self.functions.len() - 1) as u32, ty, params.len());
        self.fn_index.insert(name.to_string(), entry);
        self.fn_compiling.remove(name);
        Ok(entry)
    }

    /// Declares `DerivedField`s (all names first, so that they may refer to each other in
    /// any order), then compiles their expressions.
    pub(crate) fn derived_fields(&mut self, fields: &[&Element]) -> Result<(), PmmlError> {
        let mut pending = Vec::new();
        for df in fields {
            let name = req(df, "name")?;
            let ty = DataType::parse(req(df, "dataType")?, "DerivedField")?;
            let optype = match df.attr("optype") {
                Some(o) => OpType::parse(o, "DerivedField")?,
                None => OpType::default_for(ty),
            };
            if self.scopes.last().is_some_and(|s| s.contains_key(name)) {
                return Err(PmmlError::invalid(
                    "DerivedField",
                    format!("field \"{name}\" is defined twice"),
                ));
            }
            let slot = self.new_slot(SlotDef::Unset, name);
            self.declare(name, FieldInfo { slot, ty, optype });
            pending.push((slot, ty, *df));
        }
        for (slot, ty, df) in pending {
            let (expr, src_ty) = self.expr_child(df)?;
            let (expr, src) = (expr, src_ty);
            self.slots[slot as usize] = SlotDef::Derived { expr, ty, src };
        }
        Ok(())
    }

    /// Compiles an anonymous `DerivedField` (neural inputs and outputs) to an expression
    /// that includes the conversion to its declared type.
    pub(crate) fn anonymous_derived(&mut self, df: &Element) -> Result<Expr, PmmlError> {
        let (e, src) = self.expr_child(df)?;
        let ty = match df.attr("dataType") {
            Some(t) => DataType::parse(t, "DerivedField")?,
            None => DataType::Double,
        };
        // A number (or a missing value) is already its own double: such a cast would
        // change nothing.
        let numeric = matches!(src, DataType::Double | DataType::Float | DataType::Integer);
        if ty == DataType::Double && numeric {
            return Ok(e);
        }
        Ok(Expr::Cast(Box::new(e), ty))
    }

    fn targets(&mut self, el: &Element, target: &mut TargetDef) -> Result<(), PmmlError> {
        let Some(targets) = el.child("Targets") else {
            return Ok(());
        };
        let found =
            targets
                .children_named("Target")
                .find(|t| match (t.attr("field"), &target.name) {
                    (None, _) => true,
                    (Some(f), Some(n)) => f == n,
                    (Some(_), None) => targets.children_named("Target").count() == 1,
                });
        let Some(t) = found else { return Ok(()) };
        target.min = crate::expr::opt_num_attr(t, "min")?;
        target.max = crate::expr::opt_num_attr(t, "max")?;
        target.rescale_factor = crate::expr::opt_num_attr(t, "rescaleFactor")?.unwrap_or(1.0);
        target.rescale_constant = crate::expr::opt_num_attr(t, "rescaleConstant")?.unwrap_or(0.0);
        target.cast_integer = match t.attr("castInteger") {
            None => None,
            Some("round") => Some(CastInteger::Round),
            Some("ceiling") => Some(CastInteger::Ceiling),
            Some("floor") => Some(CastInteger::Floor),
            Some(o) => {
                return Err(PmmlError::invalid(
                    "Target",
                    format!("unknown castInteger \"{o}\""),
                ))
            }
        };
        for tv in t.children_named("TargetValue") {
            if let Some(d) = crate::expr::opt_num_attr(tv, "defaultValue")? {
                target.default_value = Some(d);
            }
            if let Some(p) = crate::expr::opt_num_attr(tv, "priorProbability")? {
                let v = req(tv, "value")?;
                let ty = target.ty;
                let cat = parse_const(&mut self.symbols, ty, v).ok_or_else(|| {
                    PmmlError::invalid(
                        "TargetValue",
                        format!("value \"{v}\" is not a {}", ty.name()),
                    )
                })?;
                target.priors.push((cat, p));
            }
        }
        Ok(())
    }

    /// Compiles one model element (top-level or in a `Segment`); returns its index.
    pub(crate) fn model(&mut self, el: &'d Element) -> Result<usize, PmmlError> {
        let element = el.name.clone();
        if !MODEL_ELEMENTS.contains(&element.as_str()) {
            return Err(PmmlError::invalid(element, "not a model element"));
        }
        let top = self.scopes.len() == 1;
        let function = match req(el, "functionName")? {
            "regression" => MiningFunction::Regression,
            "classification" => MiningFunction::Classification,
            "clustering" => MiningFunction::Clustering,
            "associationRules" if element == "AssociationModel" => MiningFunction::AssociationRules,
            "timeSeries" if element == "TimeSeriesModel" => MiningFunction::TimeSeries,
            f => {
                return Err(PmmlError::unsupported(
                    element,
                    format!("functionName=\"{f}\" is not supported"),
                ))
            }
        };
        if el.attr("isScorable") == Some("false") {
            return Err(PmmlError::invalid(
                element,
                "the model is marked isScorable=\"false\"",
            ));
        }
        // JPMML reads the math context from its extension attribute only; a plain
        // `mathContext` attribute is not PMML 4.4 and is ignored.
        let float = match el.attr("x-mathContext") {
            None | Some("double") => false,
            Some("float") => true,
            Some(o) => {
                return Err(PmmlError::invalid(
                    element,
                    format!("unknown mathContext \"{o}\""),
                ))
            }
        };
        if el.child("ModelStats").is_some() || el.child("ModelExplanation").is_some() {
            // Informational only.
        }
        self.scopes.push(HashMap::new());
        let result = self.model_in_scope(el, top, function, float);
        self.scopes.pop();
        result
    }

    fn model_in_scope(
        &mut self,
        el: &'d Element,
        top: bool,
        function: MiningFunction,
        float: bool,
    ) -> Result<usize, PmmlError> {
        let element = el.name.clone();
        let schema = el
            .child("MiningSchema")
            .ok_or_else(|| PmmlError::invalid(element.clone(), "a MiningSchema is required"))?;
        let mut target_name = None;
        for mf in schema.children_named("MiningField") {
            let name = req(mf, "name")?;
            let usage = mf.attr("usageType").unwrap_or("active");
            let info = self.field(name, "MiningField")?;
            if !top && usage == "active" && self.is_global_derived(name) {
                // JPMML resolves a nested model's mining field among the data fields, the
                // outputs of the chain so far and the enclosing models' local derived
                // fields only.
                let slot = self.new_slot(SlotDef::Undefined, name);
                self.declare(name, FieldInfo { slot, ..info });
                continue;
            }
            match usage {
                "target" | "predicted" => {
                    if target_name.is_some() {
                        return Err(PmmlError::unsupported(
                            element,
                            "more than one target field",
                        ));
                    }
                    target_name = Some(name.to_string());
                }
                "active" => {
                    if !top && !Prep::is_default_mining_field(mf) {
                        let df = self.data_fields.get(name).cloned().unwrap_or(DataFieldDef {
                            name: name.to_string(),
                            ty: info.ty,
                            optype: info.optype,
                            valid: vec![],
                            invalid: vec![],
                            missing_texts: vec![],
                            intervals: vec![],
                        });
                        let prep = Prep::new(&df, Some(mf), &mut self.symbols)?;
                        let optype = prep.optype;
                        let slot = self.new_slot(
                            SlotDef::Treated {
                                src: info.slot,
                                prep: Box::new(prep),
                            },
                            name,
                        );
                        self.declare(
                            name,
                            FieldInfo {
                                slot,
                                optype,
                                ..info
                            },
                        );
                    } else if let (false, Some(o)) = (top, mf.attr("optype")) {
                        // The same value, seen by this model with another operational type.
                        let optype = OpType::parse(o, "MiningField")?;
                        self.declare(name, FieldInfo { optype, ..info });
                    }
                }
                "supplementary" | "group" | "order" | "frequencyWeight" | "analysisWeight" => {}
                o => {
                    return Err(PmmlError::invalid(
                        "MiningField",
                        format!("unknown usageType \"{o}\""),
                    ))
                }
            }
        }
        let (ty, optype) = match &target_name {
            Some(n) => match self.data_fields.get(n) {
                Some(df) => (df.ty, df.optype),
                None => {
                    let f = self.field(n, "MiningField")?;
                    (f.ty, f.optype)
                }
            },
            None if self.inherited_target.is_some_and(|t| t.0 == function) => {
                let t = self.inherited_target.expect("checked");
                (t.1, t.2)
            }
            None => match function {
                MiningFunction::Regression => (
                    if float {
                        DataType::Float
                    } else {
                        DataType::Double
                    },
                    OpType::Continuous,
                ),
                _ => (DataType::String, OpType::Categorical),
            },
        };
        let mut target = TargetDef {
            name: target_name,
            ty,
            optype,
            min: None,
            max: None,
            rescale_factor: 1.0,
            rescale_constant: 0.0,
            cast_integer: None,
            default_value: None,
            priors: vec![],
        };
        self.targets(el, &mut target)?;
        if let Some(lt) = el.child("LocalTransformations") {
            let fields: Vec<&Element> = lt.children_named("DerivedField").collect();
            self.derived_fields(&fields)?;
        }
        let index = self.models.len();
        self.models.push(None);
        let mut node = ModelNode {
            kind: ModelKind::Placeholder,
            element: element.clone(),
            function,
            float,
            cats: vec![],
            target,
            outputs: vec![],
            result_outputs: vec![],
        };
        let kind = crate::models::compile(self, el, &mut node, index)?;
        node.kind = kind;
        if node.function == MiningFunction::Classification && node.cats.is_empty() {
            if let Some(df) = node
                .target
                .name
                .as_ref()
                .and_then(|n| self.data_fields.get(n))
            {
                node.cats = df.valid.clone();
            }
        }
        for (c, _) in node.target.priors.clone() {
            if !node.cats.contains(&c) && node.function == MiningFunction::Classification {
                node.cats.push(c);
            }
        }
        if let Some(out) = el.child("Output") {
            self.outputs(out, &mut node, index)?;
        }
        let mut own: Vec<(String, Slot, DataType, bool)> = node
            .outputs
            .iter()
            .map(|o| (o.name.clone(), o.slot, o.ty, o.final_result))
            .collect();
        let mut results = std::mem::take(&mut node.result_outputs);
        results.append(&mut own);
        node.result_outputs = results;
        self.models[index] = Some(node);
        Ok(index)
    }
}

/// Compiles a parsed document's model `model_name` (without one, its first scorable
/// model; see [`select_model`]).
pub(crate) fn compile(root: &Element, model_name: Option<&str>) -> Result<Compiled, PmmlError> {
    if root.name != "PMML" {
        return Err(PmmlError::invalid(
            root.name.clone(),
            "the root element must be <PMML>",
        ));
    }
    match root.attr("version") {
        Some(v) if v.starts_with('3') || v.starts_with('4') => {}
        Some(v) => {
            return Err(PmmlError::unsupported(
                "PMML",
                format!("version \"{v}\" (3.x to 4.4 are supported)"),
            ))
        }
        None => return Err(PmmlError::invalid("PMML", "missing attribute version")),
    }
    let mut c = Compiler {
        pmml_41: root.attr("version").map(str::trim) == Some("4.1"),
        symbols: Symbols::default(),
        slots: vec![],
        slot_names: vec![],
        models: vec![],
        functions: vec![],
        fn_index: HashMap::new(),
        fn_defs: HashMap::new(),
        fn_compiling: HashSet::new(),
        scopes: vec![HashMap::new()],
        data_fields: HashMap::new(),
        params: vec![],
        in_function: false,
        inputs: vec![],
        inherited_target: None,
    };
    let dd = root
        .child("DataDictionary")
        .ok_or_else(|| PmmlError::invalid("PMML", "a DataDictionary is required"))?;
    let mut order = Vec::new();
    for f in dd.children_named("DataField") {
        let def = DataFieldDef::parse(f, &mut c.symbols)?;
        if c.data_fields.contains_key(&def.name) {
            return Err(PmmlError::invalid(
                "DataField",
                format!("field \"{}\" is declared more than once", def.name),
            ));
        }
        order.push(def.name.clone());
        c.data_fields.insert(def.name.clone(), def);
    }
    let model_el = select_model(root, model_name)?;
    // Input fields: the DataFields of the top-level mining schema, with its treatments.
    let schema = model_el
        .child("MiningSchema")
        .ok_or_else(|| PmmlError::invalid(model_el.name.clone(), "a MiningSchema is required"))?;
    let mut mining: HashMap<&str, &Element> = HashMap::new();
    for mf in schema.children_named("MiningField") {
        let name = req(mf, "name")?;
        if mining.insert(name, mf).is_some() {
            return Err(PmmlError::invalid(
                "MiningField",
                format!("field \"{name}\" is listed more than once"),
            ));
        }
    }
    for name in &order {
        let df = c.data_fields[name].clone();
        let mf = mining.get(name.as_str()).copied();
        let usage = mf.and_then(|m| m.attr("usageType")).unwrap_or("active");
        // A time series reads its forecast horizon from its supplementary field.
        let supplementary = usage == "supplementary" && model_el.name == "TimeSeriesModel";
        let input = if mf.is_some() && (usage == "active" || supplementary) {
            c.inputs.push(crate::compile::InputDef {
                name: name.clone(),
                ty: df.ty,
                optype: df.optype,
            });
            (c.inputs.len() - 1) as u32
        } else {
            u32::MAX
        };
        let prep = Prep::new(&df, mf, &mut c.symbols)?;
        let optype = prep.optype;
        let slot = c.new_slot(
            SlotDef::Input {
                input,
                prep: Box::new(prep),
            },
            name,
        );
        c.declare(
            name,
            FieldInfo {
                slot,
                ty: df.ty,
                optype,
            },
        );
    }
    if let Some(td) = root.child("TransformationDictionary") {
        for f in td.children_named("DefineFunction") {
            c.fn_defs.insert(req(f, "name")?.to_string(), f);
        }
        let fields: Vec<&Element> = td.children_named("DerivedField").collect();
        c.derived_fields(&fields)?;
    }
    let group = transactional_group(model_el)?;
    let top = c.model(model_el)?;
    let models: Vec<ModelNode> = c
        .models
        .into_iter()
        .map(|m| m.expect("compiled model"))
        .collect();
    let node = &models[top];
    let mut columns = Vec::new();
    // An association model has no target (JPMML's evaluator lists none): only its outputs.
    if node.function != MiningFunction::AssociationRules {
        columns.push(Column {
            name: node
                .target
                .name
                .clone()
                .unwrap_or_else(|| "_target".to_string()),
            ty: node.target.ty,
            slot: None,
        });
    }
    for (name, slot, ty, fin) in &node.result_outputs {
        if *fin {
            columns.push(Column {
                name: name.clone(),
                ty: *ty,
                slot: Some(*slot),
            });
        }
    }
    // A transactional model's input is a collection its model reads itself.
    let plain: Vec<(Slot, u32, PlainNumber)> = match group {
        Some(_) => Vec::new(),
        None => c
            .slots
            .iter()
            .enumerate()
            .filter_map(|(i, s)| match s {
                SlotDef::Input { input, prep } if *input != u32::MAX => {
                    Some((i as Slot, *input, prep.plain_number()?))
                }
                _ => None,
            })
            .collect(),
    };
    let (eager_inputs, lazy_inputs) = match node.kind {
        ModelKind::Tree(_) | ModelKind::RuleSet(_) => {
            let mut lazy = vec![None; c.slots.len()];
            for (slot, input, p) in plain {
                lazy[slot as usize] = Some((input, p));
            }
            (Vec::new(), lazy)
        }
        _ => (plain, Vec::new()),
    };
    Ok(Compiled {
        eager_inputs,
        lazy_inputs,
        symbols: c.symbols.frozen(),
        slots: c.slots,
        slot_names: c.slot_names,
        models,
        functions: c.functions,
        top,
        inputs: c.inputs,
        columns,
        group,
    })
}

/// The group field of a top-level `AssociationModel` in transactional form (one
/// `usageType="group"` mining field); more than one is refused, as JPMML does.
/// The model element a document is scored with: the one whose `modelName` is
/// `model_name`, or without a name the first scorable one.
pub(crate) fn select_model<'d>(
    root: &'d Element,
    model_name: Option<&str>,
) -> Result<&'d Element, PmmlError> {
    let mut models = root
        .content()
        .filter(|e| MODEL_ELEMENTS.contains(&e.name.as_str()));
    match model_name {
        Some(name) => models
            .find(|e| e.attr("modelName") == Some(name))
            .ok_or_else(|| {
                PmmlError::invalid(
                    "PMML",
                    format!("the document has no model named \"{name}\""),
                )
            }),
        None => models
            .find(|e| e.attr("isScorable") != Some("false"))
            .ok_or_else(|| PmmlError::invalid("PMML", "the document has no model")),
    }
}

fn transactional_group(model_el: &Element) -> Result<Option<String>, PmmlError> {
    if model_el.name != "AssociationModel" {
        return Ok(None);
    }
    let schema = model_el
        .child("MiningSchema")
        .ok_or_else(|| PmmlError::invalid(model_el.name.clone(), "a MiningSchema is required"))?;
    let groups: Vec<&str> = schema
        .children_named("MiningField")
        .filter(|mf| mf.attr("usageType") == Some("group"))
        .filter_map(|mf| mf.attr("name"))
        .collect();
    match groups.as_slice() {
        [] => Ok(None),
        [g] => Ok(Some(g.to_string())),
        _ => Err(PmmlError::invalid(
            "MiningSchema",
            format!("expected 0 or 1 group fields, got {}", groups.len()),
        )),
    }
}
