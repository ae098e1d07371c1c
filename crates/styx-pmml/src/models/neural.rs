//! `NeuralNetwork`: feed-forward networks with the standard activation functions (leaky
//! rectifiers and radial basis neurons included) and per-layer normalization, computed as
//! JPMML-Evaluator computes them: a neuron's weighted inputs summed in order, then its
//! bias; Java's `Math.max` in a rectifier (a NaN stays NaN).

use std::collections::HashMap;

use crate::compile::{Compiler, ModelNode};
use crate::error::{Fail, PmmlError};
use crate::eval::Ctx;
use crate::expr::{denorm_continuous, num_attr, opt_num_attr, req, Expr};
use crate::models::{cat_index, is_classification, set_distribution};
use crate::output::{set_classification_default, set_regression};
use crate::types::java_max;
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
    /// With a leakage: its factor below zero.
    Rectifier(Option<f64>),
    /// The squared distance of the inputs to the weights, scaled by the neuron's width
    /// (else `width`) and the layer's `altitude`.
    RadialBasis {
        width: Option<f64>,
        altitude: f64,
    },
}

/// A layer's attributes that an activation function takes (else the network's). The
/// leakage of a rectifier is JPMML's extension `x-leakage` (PMML 4.4 has no `leakage`, and
/// JPMML ignores one).
struct ActParams {
    threshold: f64,
    leakage: Option<f64>,
    width: Option<f64>,
    altitude: f64,
}

impl ActParams {
    /// `el`'s own, else those of `default`.
    fn of(el: &Element, default: Option<&ActParams>) -> Result<ActParams, PmmlError> {
        Ok(ActParams {
            threshold: opt_num_attr(el, "threshold")?
                .or(default.map(|d| d.threshold))
                .unwrap_or(0.0),
            leakage: opt_num_attr(el, "x-leakage")?.or(default.and_then(|d| d.leakage)),
            width: opt_num_attr(el, "width")?.or(default.and_then(|d| d.width)),
            altitude: opt_num_attr(el, "altitude")?
                .or(default.map(|d| d.altitude))
                .unwrap_or(1.0),
        })
    }
}

impl Act {
    fn parse(s: &str, params: &ActParams) -> Result<Act, PmmlError> {
        Ok(match s {
            "threshold" => Act::Threshold(params.threshold),
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
            "rectifier" => Act::Rectifier(params.leakage),
            "radialBasis" => Act::RadialBasis {
                width: params.width,
                altitude: params.altitude,
            },
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
            Act::Rectifier(None) => java_max(z, 0.0),
            // `Double.compare(z, 0) > 0`: a NaN is above zero.
            Act::Rectifier(Some(leakage)) => {
                if z > 0.0 || z.is_nan() {
                    z
                } else {
                    z * leakage
                }
            }
            // Made by `Neuron::output`.
            Act::RadialBasis { .. } => z,
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
    neurons: Vec<Neuron>,
    act: Act,
    norm: LayerNorm,
    /// Activation index of the layer's first neuron.
    start: u32,
}

/// A neuron of a layer.
#[derive(Debug, Clone)]
struct Neuron {
    bias: Option<f64>,
    /// A radial basis neuron's own width.
    width: Option<f64>,
    /// (activation index, weight).
    cons: Vec<(u32, f64)>,
}

impl Neuron {
    /// The neuron's output from the activations `a`, as JPMML computes it.
    fn output(&self, act: Act, a: &[f64]) -> f64 {
        if let Act::RadialBasis { width, altitude } = act {
            let mut z = 0.0;
            for (from, w) in &self.cons {
                let d = a[*from as usize] - w;
                z += d * d;
            }
            // Compiled only with a width.
            let width = self.width.or(width).unwrap_or(f64::NAN);
            z /= width * width * -2.0;
            if altitude != 1.0 {
                z += altitude.ln() * self.cons.len() as f64;
            }
            return z.exp();
        }
        let mut z = 0.0;
        for (from, w) in &self.cons {
            z += w * a[*from as usize];
        }
        if let Some(bias) = self.bias {
            z += bias;
        }
        act.apply(z)
    }
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
    let network = ActParams::of(el, None)?;
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
        let params = ActParams::of(l, Some(&network))?;
        let act = Act::parse(l.attr("activationFunction").unwrap_or(default_act), &params)?;
        let norm = layer_norm(l.attr("normalizationMethod"))?.unwrap_or(default_norm);
        let start = size;
        let mut neurons = Vec::new();
        let mut new_ids = Vec::new();
        for n in l.children_named("Neuron") {
            let bias = opt_num_attr(n, "bias")?;
            let width = opt_num_attr(n, "width")?;
            if let Act::RadialBasis { width: None, .. } = act {
                if width.is_none() {
                    return Err(PmmlError::invalid(
                        "Neuron",
                        "a radial basis neuron needs a width (of its own, its layer's or the network's)",
                    ));
                }
            }
            let mut cons = Vec::new();
            for con in n.children_named("Con") {
                let from = req(con, "from")?;
                let idx = *ids.get(from).ok_or_else(|| {
                    PmmlError::invalid("Con", format!("unknown neuron \"{from}\""))
                })?;
                cons.push((idx, num_attr(con, "weight")?));
            }
            neurons.push(Neuron { bias, width, cons });
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
            for (k, neuron) in layer.neurons.iter().enumerate() {
                a[start + k] = neuron.output(layer.act, &a);
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
