//! `NeuralNetwork`: feed-forward networks with the standard activation functions and
//! per-layer normalization.

use std::collections::HashMap;

use crate::compile::{Compiler, ModelNode};
use crate::error::{Fail, PmmlError};
use crate::eval::Ctx;
use crate::expr::{denorm_continuous, num_attr, opt_num_attr, req, Expr};
use crate::models::{cat_index, is_classification, set_distribution};
use crate::output::{set_classification_default, set_regression};
use crate::xml::Element;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Act {
    Threshold(f64),
    Logistic,
    Tanh,
    Identity,
    Exponential,
    Reciprocal,
    Square,
    Gauss,
    Sine,
    Cosine,
    Elliott,
    Arctan,
    Rectifier,
}

impl Act {
    fn parse(s: &str, threshold: f64) -> Result<Act, PmmlError> {
        Ok(match s {
            "threshold" => Act::Threshold(threshold),
            "logistic" => Act::Logistic,
            "tanh" => Act::Tanh,
            "identity" => Act::Identity,
            "exponential" => Act::Exponential,
            "reciprocal" => Act::Reciprocal,
            "square" => Act::Square,
            "Gauss" => Act::Gauss,
            "sine" => Act::Sine,
            "cosine" => Act::Cosine,
            "Elliott" => Act::Elliott,
            "arctan" => Act::Arctan,
            "rectifier" => Act::Rectifier,
            "radialBasis" => {
                return Err(PmmlError::unsupported(
                    "NeuralLayer",
                    "activationFunction=\"radialBasis\"",
                ))
            }
            o => {
                return Err(PmmlError::invalid(
                    "NeuralLayer",
                    format!("unknown activationFunction \"{o}\""),
                ))
            }
        })
    }

    fn apply(self, z: f64) -> f64 {
        match self {
            Act::Threshold(t) => {
                if z > t {
                    1.0
                } else {
                    0.0
                }
            }
            Act::Logistic => 1.0 / (1.0 + (-z).exp()),
            Act::Tanh => z.tanh(),
            Act::Identity => z,
            Act::Exponential => z.exp(),
            Act::Reciprocal => 1.0 / z,
            Act::Square => z * z,
            Act::Gauss => (-(z * z)).exp(),
            Act::Sine => z.sin(),
            Act::Cosine => z.cos(),
            Act::Elliott => z / (1.0 + z.abs()),
            Act::Arctan => 2.0 * z.atan() / std::f64::consts::PI,
            Act::Rectifier => z.max(0.0),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum LayerNorm {
    None,
    Softmax,
    Simplemax,
}

#[derive(Debug, Clone)]
struct Layer {
    /// (bias, connections (activation index, weight)) per neuron.
    neurons: Vec<(f64, Vec<(u32, f64)>)>,
    act: Act,
    norm: LayerNorm,
    /// Activation index of the layer's first neuron.
    start: u32,
}

#[derive(Debug, Clone)]
enum NnOut {
    Value {
        neuron: u32,
        denorm: Option<Vec<(f64, f64)>>,
    },
    Class {
        neuron: u32,
        cat: u32,
    },
}

/// A compiled `NeuralNetwork`.
#[derive(Debug, Clone)]
pub(crate) struct Neural {
    inputs: Vec<Expr>,
    layers: Vec<Layer>,
    outputs: Vec<NnOut>,
    size: usize,
}

fn layer_norm(s: Option<&str>) -> Result<Option<LayerNorm>, PmmlError> {
    Ok(match s {
        None => None,
        Some("none") => Some(LayerNorm::None),
        Some("softmax") => Some(LayerNorm::Softmax),
        Some("simplemax") => Some(LayerNorm::Simplemax),
        Some(o) => {
            return Err(PmmlError::invalid(
                "NeuralNetwork",
                format!("unknown normalizationMethod \"{o}\""),
            ))
        }
    })
}

pub(crate) fn compile(
    c: &mut Compiler<'_>,
    el: &Element,
    node: &mut ModelNode,
) -> Result<Neural, PmmlError> {
    let threshold = opt_num_attr(el, "threshold")?.unwrap_or(0.0);
    let default_act = el.attr("activationFunction").unwrap_or("logistic");
    let default_norm = layer_norm(el.attr("normalizationMethod"))?.unwrap_or(LayerNorm::None);
    let mut ids: HashMap<String, u32> = HashMap::new();
    let mut inputs = Vec::new();
    let ni = el
        .child("NeuralInputs")
        .ok_or_else(|| PmmlError::invalid("NeuralNetwork", "NeuralInputs are required"))?;
    for input in ni.children_named("NeuralInput") {
        let df = input
            .child("DerivedField")
            .ok_or_else(|| PmmlError::invalid("NeuralInput", "a DerivedField is required"))?;
        inputs.push(c.anonymous_derived(df)?);
        ids.insert(req(input, "id")?.to_string(), (inputs.len() - 1) as u32);
    }
    let mut size = inputs.len() as u32;
    let mut layers = Vec::new();
    for l in el.children_named("NeuralLayer") {
        let lt = opt_num_attr(l, "threshold")?.unwrap_or(threshold);
        let act = Act::parse(l.attr("activationFunction").unwrap_or(default_act), lt)?;
        let norm = layer_norm(l.attr("normalizationMethod"))?.unwrap_or(default_norm);
        let start = size;
        let mut neurons = Vec::new();
        let mut new_ids = Vec::new();
        for n in l.children_named("Neuron") {
            if n.attr("width").is_some() || n.attr("altitude").is_some() {
                return Err(PmmlError::unsupported(
                    "Neuron",
                    "radial basis neurons (width, altitude)",
                ));
            }
            let bias = opt_num_attr(n, "bias")?.unwrap_or(0.0);
            let mut cons = Vec::new();
            for con in n.children_named("Con") {
                let from = req(con, "from")?;
                let idx = *ids.get(from).ok_or_else(|| {
                    PmmlError::invalid("Con", format!("unknown neuron \"{from}\""))
                })?;
                cons.push((idx, num_attr(con, "weight")?));
            }
            neurons.push((bias, cons));
            new_ids.push((req(n, "id")?.to_string(), size));
            size += 1;
        }
        for (id, idx) in new_ids {
            ids.insert(id, idx);
        }
        layers.push(Layer {
            neurons,
            act,
            norm,
            start,
        });
    }
    let no = el
        .child("NeuralOutputs")
        .ok_or_else(|| PmmlError::invalid("NeuralNetwork", "NeuralOutputs are required"))?;
    let classification = is_classification(node);
    let mut outputs = Vec::new();
    for o in no.children_named("NeuralOutput") {
        let id = req(o, "outputNeuron")?;
        let neuron = *ids.get(id).ok_or_else(|| {
            PmmlError::invalid("NeuralOutput", format!("unknown neuron \"{id}\""))
        })?;
        let df = o
            .child("DerivedField")
            .ok_or_else(|| PmmlError::invalid("NeuralOutput", "a DerivedField is required"))?;
        let expr = df
            .content()
            .find(|e| crate::expr::is_expression(&e.name))
            .ok_or_else(|| PmmlError::invalid("NeuralOutput", "an expression is required"))?;
        match (classification, expr.name.as_str()) {
            (true, "NormDiscrete") => {
                let v = c.constant_for(node.target.ty, req(expr, "value")?, "NormDiscrete")?;
                outputs.push(NnOut::Class {
                    neuron,
                    cat: cat_index(&mut node.cats, v),
                });
            }
            (false, "FieldRef") => outputs.push(NnOut::Value {
                neuron,
                denorm: None,
            }),
            (false, "NormContinuous") => {
                let mut pts = Vec::new();
                for ln in expr.children_named("LinearNorm") {
                    pts.push((num_attr(ln, "orig")?, num_attr(ln, "norm")?));
                }
                if pts.len() < 2 {
                    return Err(PmmlError::invalid(
                        "NormContinuous",
                        "at least two LinearNorm elements are required",
                    ));
                }
                outputs.push(NnOut::Value {
                    neuron,
                    denorm: Some(pts),
                });
            }
            (_, other) => {
                return Err(PmmlError::unsupported(
                    "NeuralOutput",
                    format!("a <{other}> output for this mining function"),
                ))
            }
        }
    }
    if outputs.is_empty() {
        return Err(PmmlError::invalid(
            "NeuralOutputs",
            "at least one NeuralOutput is required",
        ));
    }
    Ok(Neural {
        inputs,
        layers,
        outputs,
        size: size as usize,
    })
}

impl Neural {
    pub(crate) fn evaluate(&self, ctx: &mut Ctx<'_>, index: usize) -> Result<(), Fail> {
        let mut a = std::mem::take(&mut ctx.s.nums_mining);
        a.clear();
        a.resize(self.size, 0.0);
        let mut missing = false;
        for (i, e) in self.inputs.iter().enumerate() {
            match e.eval(ctx) {
                Ok(v) => match v.num() {
                    Some(x) => a[i] = x,
                    // The result is missing, the inputs after it not read (as JPMML does:
                    // an invalid one there fails nothing).
                    None => {
                        missing = true;
                        break;
                    }
                },
                Err(err) => {
                    ctx.s.nums_mining = a;
                    return Err(err);
                }
            }
        }
        let classification = is_classification(&ctx.m.models[index]);
        if missing {
            ctx.s.nums_mining = a;
            if classification {
                set_classification_default(ctx, index);
            } else {
                set_regression(ctx, index, None);
            }
            return Ok(());
        }
        for layer in &self.layers {
            let start = layer.start as usize;
            for (k, (bias, cons)) in layer.neurons.iter().enumerate() {
                let mut z = *bias;
                for (from, w) in cons {
                    z += a[*from as usize] * w;
                }
                a[start + k] = layer.act.apply(z);
            }
            let out = &mut a[start..start + layer.neurons.len()];
            match layer.norm {
                LayerNorm::None => {}
                LayerNorm::Softmax => crate::models::regression::softmax(out, false),
                LayerNorm::Simplemax => {
                    let sum: f64 = out.iter().sum();
                    out.iter_mut().for_each(|x| *x /= sum);
                }
            }
        }
        if classification {
            let mut probs = std::mem::take(&mut ctx.s.preds[index].probs);
            probs.iter_mut().for_each(|x| *x = 0.0);
            for o in &self.outputs {
                if let NnOut::Class { neuron, cat } = o {
                    probs[*cat as usize] = a[*neuron as usize];
                }
            }
            ctx.s.preds[index].probs = probs;
            ctx.s.nums_mining = a;
            set_distribution(ctx, index, None, None);
        } else {
            let value = match &self.outputs[0] {
                NnOut::Value {
                    neuron,
                    denorm: None,
                } => a[*neuron as usize],
                NnOut::Value {
                    neuron,
                    denorm: Some(pts),
                } => denorm_continuous(pts, a[*neuron as usize]),
                NnOut::Class { .. } => f64::NAN,
            };
            ctx.s.nums_mining = a;
            set_regression(ctx, index, Some(value));
        }
        Ok(())
    }
}
