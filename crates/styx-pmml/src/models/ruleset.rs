//! `RuleSetModel`: `firstHit`, `weightedSum` and `weightedMax` rule selection over simple
//! and compound rules.

use crate::compile::{Compiler, ModelNode};
use crate::error::{Fail, PmmlError};
use crate::eval::Ctx;
use crate::expr::{opt_num_attr, req};
use crate::models::cat_index;
use crate::predicate::Cond;
use crate::types::Val;
use crate::xml::Element;

#[derive(Debug, Clone)]
struct Rule {
    cond: Cond,
    score: u32,
    weight: f64,
    confidence: f64,
    id: Val,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Criterion {
    FirstHit,
    WeightedSum,
    WeightedMax,
}

/// A compiled `RuleSetModel` (compound rules are flattened into simple rules whose
/// predicate is the conjunction of the enclosing predicates).
#[derive(Debug, Clone)]
pub(crate) struct RuleSet {
    rules: Vec<Rule>,
    criterion: Criterion,
    default: Option<(u32, f64)>,
}

fn add_rules(
    c: &mut Compiler<'_>,
    node: &mut ModelNode,
    el: &Element,
    outer: Option<&Cond>,
    rules: &mut Vec<Rule>,
) -> Result<(), PmmlError> {
    for r in el.content() {
        match r.name.as_str() {
            "SimpleRule" | "CompoundRule" => {}
            _ => continue,
        }
        let own = c.predicate_child(r)?;
        let cond = match outer {
            None => own,
            Some(o) => Cond::Compound {
                op: crate::predicate::BoolOp::And,
                parts: vec![o.clone(), own],
            },
        };
        if r.name == "CompoundRule" {
            add_rules(c, node, r, Some(&cond), rules)?;
            continue;
        }
        let v = c.constant_for(node.target.ty, req(r, "score")?, "SimpleRule")?;
        let score = cat_index(&mut node.cats, v);
        let id = match r.attr("id") {
            Some(id) => Val::Str(c.symbols.intern(id)),
            None => Val::Str(c.symbols.intern(&(rules.len() + 1).to_string())),
        };
        rules.push(Rule {
            cond,
            score,
            weight: opt_num_attr(r, "weight")?.unwrap_or(1.0),
            confidence: opt_num_attr(r, "confidence")?.unwrap_or(1.0),
            id,
        });
    }
    Ok(())
}

pub(crate) fn compile(
    c: &mut Compiler<'_>,
    el: &Element,
    node: &mut ModelNode,
) -> Result<RuleSet, PmmlError> {
    let rs = el
        .child("RuleSet")
        .ok_or_else(|| PmmlError::invalid("RuleSetModel", "a RuleSet is required"))?;
    let criterion = match rs
        .child("RuleSelectionMethod")
        .and_then(|m| m.attr("criterion"))
    {
        Some("firstHit") => Criterion::FirstHit,
        Some("weightedSum") => Criterion::WeightedSum,
        Some("weightedMax") => Criterion::WeightedMax,
        Some(o) => {
            return Err(PmmlError::invalid(
                "RuleSelectionMethod",
                format!("unknown criterion \"{o}\""),
            ))
        }
        None => {
            return Err(PmmlError::invalid(
                "RuleSet",
                "a RuleSelectionMethod is required",
            ))
        }
    };
    let mut rules = Vec::new();
    add_rules(c, node, rs, None, &mut rules)?;
    let default = match rs.attr("defaultScore") {
        Some(s) => {
            let v = c.constant_for(node.target.ty, s, "RuleSet")?;
            Some((
                cat_index(&mut node.cats, v),
                opt_num_attr(rs, "defaultConfidence")?.unwrap_or(0.0),
            ))
        }
        None => None,
    };
    Ok(RuleSet {
        rules,
        criterion,
        default,
    })
}

impl RuleSet {
    pub(crate) fn evaluate(&self, ctx: &mut Ctx<'_>, index: usize) -> Result<(), Fail> {
        let mut conf = std::mem::take(&mut ctx.s.preds[index].conf);
        conf.iter_mut().for_each(|x| *x = 0.0);
        let mut winner: Option<(u32, Val)> = None;
        let mut best = f64::NEG_INFINITY;
        for r in &self.rules {
            let hit = match r.cond.eval(ctx) {
                Ok(h) => h == Some(true),
                Err(e) => {
                    ctx.s.preds[index].conf = conf;
                    return Err(e);
                }
            };
            if !hit {
                continue;
            }
            match self.criterion {
                Criterion::FirstHit => {
                    conf[r.score as usize] = r.confidence;
                    winner = Some((r.score, r.id));
                    break;
                }
                Criterion::WeightedMax => {
                    if r.weight > best {
                        best = r.weight;
                        conf.iter_mut().for_each(|x| *x = 0.0);
                        conf[r.score as usize] = r.confidence;
                        winner = Some((r.score, r.id));
                    }
                }
                Criterion::WeightedSum => conf[r.score as usize] += r.weight,
            }
        }
        if self.criterion == Criterion::WeightedSum {
            let total: f64 = conf.iter().sum();
            if total > 0.0 {
                let mut bi = 0;
                for (i, x) in conf.iter().enumerate() {
                    if *x > conf[bi] {
                        bi = i;
                    }
                }
                winner = Some((bi as u32, Val::Missing));
                let n = self.rules.len() as f64;
                conf.iter_mut().for_each(|x| *x /= n);
            }
        }
        let node = &ctx.m.models[index];
        let (value, entity, has) = match (winner, self.default) {
            (Some((s, id)), _) => (node.cats[s as usize], id, true),
            (None, Some((s, dc))) => {
                conf[s as usize] = dc;
                (node.cats[s as usize], Val::Missing, true)
            }
            (None, None) => (Val::Missing, Val::Missing, false),
        };
        let epoch = ctx.s.epoch;
        let p = &mut ctx.s.preds[index];
        p.conf = conf;
        p.epoch = epoch;
        p.value = value;
        p.entity = entity;
        p.has_conf = has;
        p.has_probs = false;
        p.ranked.clear();
        Ok(())
    }
}
