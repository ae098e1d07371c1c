//! `NearestNeighborModel`: k nearest training instances by a distance measure; majority
//! votes for classification, (weighted) averages or medians for regression.

use crate::compile::{Compiler, ModelNode};
use crate::error::{Fail, PmmlError};
use crate::eval::{Ctx, Slot};
use crate::expr::{local_name, opt_num_attr, req};
use crate::models::cluster::Measure;
use crate::models::{cat_index, is_classification};
use crate::output::set_regression;
use crate::schema::parse_const;
use crate::types::{parse_double, Val};
use crate::xml::Element;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Scoring {
    MajorityVote,
    WeightedMajorityVote,
    Average,
    WeightedAverage,
    Median,
}

/// A compiled `NearestNeighborModel`.
#[derive(Debug, Clone)]
pub(crate) struct Knn {
    fields: Vec<Slot>,
    compares: Vec<crate::models::cluster::FieldCompare>,
    /// Per instance: input values, target (category index or number), id.
    instances: Vec<(Vec<f64>, f64, Val)>,
    k: usize,
    measure: Measure,
    scoring: Scoring,
    threshold: f64,
    /// Per category index: its number of training instances, and its rank in value order
    /// (ties of votes go to the most frequent category, then to the smallest value).
    cat_counts: Vec<usize>,
    cat_ranks: Vec<usize>,
}

pub(crate) fn compile(
    c: &mut Compiler<'_>,
    el: &Element,
    node: &mut ModelNode,
) -> Result<Knn, PmmlError> {
    let k = req(el, "numberOfNeighbors")?
        .parse::<usize>()
        .ok()
        .filter(|k| *k >= 1)
        .ok_or_else(|| {
            PmmlError::invalid(
                "NearestNeighborModel",
                "numberOfNeighbors must be a positive integer",
            )
        })?;
    let measure = Measure::parse(el)?;
    let classification = is_classification(node);
    let scoring = if classification {
        match el
            .attr("categoricalScoringMethod")
            .unwrap_or("majorityVote")
        {
            "majorityVote" => Scoring::MajorityVote,
            "weightedMajorityVote" => Scoring::WeightedMajorityVote,
            o => {
                return Err(PmmlError::invalid(
                    "NearestNeighborModel",
                    format!("unknown categoricalScoringMethod \"{o}\""),
                ))
            }
        }
    } else {
        match el.attr("continuousScoringMethod").unwrap_or("average") {
            "average" => Scoring::Average,
            "weightedAverage" => Scoring::WeightedAverage,
            "median" => Scoring::Median,
            o => {
                return Err(PmmlError::invalid(
                    "NearestNeighborModel",
                    format!("unknown continuousScoringMethod \"{o}\""),
                ))
            }
        }
    };
    let threshold = opt_num_attr(el, "threshold")?.unwrap_or(0.001);
    let inputs = el
        .child("KNNInputs")
        .ok_or_else(|| PmmlError::invalid("NearestNeighborModel", "KNNInputs are required"))?;
    let mut fields = Vec::new();
    let mut names = Vec::new();
    let mut compares = Vec::new();
    for i in inputs.children_named("KNNInput") {
        compares.push(crate::models::cluster::field_compare(el, i)?);
        let name = req(i, "field")?;
        fields.push(c.field(name, "KNNInput")?.slot);
        names.push(name.to_string());
    }
    let ti = el.child("TrainingInstances").ok_or_else(|| {
        PmmlError::invalid("NearestNeighborModel", "TrainingInstances are required")
    })?;
    let mut columns = std::collections::HashMap::new();
    for f in ti
        .child("InstanceFields")
        .map(|e| e.children_named("InstanceField").collect::<Vec<_>>())
        .unwrap_or_default()
    {
        let field = req(f, "field")?;
        let col = f.attr("column").map(local_name).unwrap_or(field);
        columns.insert(field.to_string(), col.to_string());
    }
    let table = ti.child("InlineTable").ok_or_else(|| {
        PmmlError::unsupported("TrainingInstances", "only an InlineTable is supported")
    })?;
    let target = node.target.name.clone().ok_or_else(|| {
        PmmlError::unsupported("NearestNeighborModel", "a model without a target")
    })?;
    let target_col = columns
        .get(&target)
        .cloned()
        .ok_or_else(|| PmmlError::invalid("InstanceFields", "the target has no column"))?;
    let id_col = el
        .attr("instanceIdVariable")
        .map(|v| columns.get(v).cloned().unwrap_or_else(|| v.to_string()));
    let input_cols: Vec<String> = names
        .iter()
        .map(|n| {
            columns.get(n).cloned().ok_or_else(|| {
                PmmlError::invalid("InstanceFields", format!("the field \"{n}\" has no column"))
            })
        })
        .collect::<Result<_, _>>()?;
    let mut instances = Vec::new();
    for (r, row) in table.children_named("row").enumerate() {
        let cell = |name: &str| {
            row.children
                .iter()
                .find(|c| c.name == name)
                .map(|c| c.text.trim().to_string())
        };
        let mut xs = Vec::new();
        for col in &input_cols {
            let t =
                cell(col).ok_or_else(|| PmmlError::invalid("row", format!("no cell \"{col}\"")))?;
            xs.push(
                parse_double(&t)
                    .ok_or_else(|| PmmlError::invalid("row", format!("\"{t}\" is not a number")))?,
            );
        }
        let t = cell(&target_col).ok_or_else(|| PmmlError::invalid("row", "no target cell"))?;
        let y = if classification {
            let v = parse_const(&mut c.symbols, node.target.ty, &t).ok_or_else(|| {
                PmmlError::invalid("row", format!("\"{t}\" is not a {}", node.target.ty.name()))
            })?;
            cat_index(&mut node.cats, v) as f64
        } else {
            parse_double(&t)
                .ok_or_else(|| PmmlError::invalid("row", format!("\"{t}\" is not a number")))?
        };
        let id = match &id_col {
            Some(col) => cell(col).unwrap_or_default(),
            None => (r + 1).to_string(),
        };
        instances.push((xs, y, Val::Str(c.symbols.intern(&id))));
    }
    if instances.len() < k {
        return Err(PmmlError::invalid(
            "TrainingInstances",
            "fewer instances than numberOfNeighbors",
        ));
    }
    let mut cat_counts = vec![0usize; node.cats.len()];
    if classification {
        for (_, y, _) in &instances {
            cat_counts[*y as usize] += 1;
        }
    }
    let mut by_value: Vec<usize> = (0..node.cats.len()).collect();
    by_value.sort_by(|a, b| match (node.cats[*a], node.cats[*b]) {
        (Val::Str(x), Val::Str(y)) => {
            c.symbols.strings[x as usize].cmp(&c.symbols.strings[y as usize])
        }
        (x, y) => x
            .num()
            .unwrap_or(f64::NAN)
            .total_cmp(&y.num().unwrap_or(f64::NAN)),
    });
    let mut cat_ranks = vec![0usize; node.cats.len()];
    for (rank, i) in by_value.into_iter().enumerate() {
        cat_ranks[i] = rank;
    }
    Ok(Knn {
        fields,
        compares,
        instances,
        k,
        measure,
        scoring,
        threshold,
        cat_counts,
        cat_ranks,
    })
}

impl Knn {
    /// The category with the most votes; among tied ones, the one with the most training
    /// instances, then the smallest value (as JPMML and the PMML specification decide).
    fn winner(&self, votes: &[f64]) -> Option<usize> {
        let max = votes.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let count = |i: usize| self.cat_counts.get(i).copied().unwrap_or(0);
        let rank = |i: usize| self.cat_ranks.get(i).copied().unwrap_or(usize::MAX);
        (0..votes.len())
            .filter(|i| votes[*i] == max)
            .min_by(|a, b| count(*b).cmp(&count(*a)).then(rank(*a).cmp(&rank(*b))))
    }

    pub(crate) fn evaluate(&self, ctx: &mut Ctx<'_>, index: usize) -> Result<(), Fail> {
        let mut x: Vec<Option<f64>> = std::mem::take(&mut ctx.s.opt_nums);
        x.clear();
        for s in &self.fields {
            match ctx.get(*s) {
                Ok(v) => x.push(v.num()),
                Err(e) => {
                    ctx.s.opt_nums = x;
                    return Err(e);
                }
            }
        }
        let classification = is_classification(&ctx.m.models[index]);
        let adjust = match crate::models::cluster::adjustment(&x, None, &self.compares) {
            Ok(a) => a,
            Err(e) => {
                ctx.s.opt_nums = x;
                return Err(e);
            }
        };
        let mut dist = std::mem::take(&mut ctx.s.nums_mining);
        dist.clear();
        for (xs, _, _) in &self.instances {
            dist.push(self.measure.distance(&x, xs, &self.compares, adjust));
        }
        ctx.s.opt_nums = x;
        let mut idx = std::mem::take(&mut ctx.s.idx);
        idx.clear();
        idx.extend(0..self.instances.len() as u32);
        idx.sort_by(|a, b| {
            dist[*a as usize]
                .total_cmp(&dist[*b as usize])
                .then(a.cmp(b))
        });
        idx.truncate(self.k);
        let weight = |d: f64| 1.0 / (d + self.threshold);
        if classification {
            let mut probs = std::mem::take(&mut ctx.s.preds[index].probs);
            probs.iter_mut().for_each(|p| *p = 0.0);
            let mut order = std::mem::take(&mut ctx.s.preds[index].order);
            order.clear();
            for i in &idx {
                let (_, y, _) = &self.instances[*i as usize];
                let cat = *y as u32;
                if !order.contains(&cat) {
                    order.push(cat);
                }
                probs[cat as usize] += match self.scoring {
                    Scoring::WeightedMajorityVote => weight(dist[*i as usize]),
                    _ => 1.0,
                };
            }
            let total: f64 = probs.iter().sum();
            probs.iter_mut().for_each(|p| *p /= total);
            let label = self.winner(&probs).map(|i| ctx.m.models[index].cats[i]);
            ctx.s.preds[index].probs = probs;
            let o = std::mem::take(&mut order);
            crate::models::set_distribution(ctx, index, label, Some(&o));
            // JPMML's result is a distribution of affinities, not of probabilities.
            ctx.s.preds[index].has_probs = false;
            ctx.s.preds[index].order = o;
        } else {
            let value = match self.scoring {
                Scoring::WeightedAverage => {
                    let (mut num, mut den) = (0.0, 0.0);
                    for i in &idx {
                        let w = weight(dist[*i as usize]);
                        num += w * self.instances[*i as usize].1;
                        den += w;
                    }
                    num / den
                }
                Scoring::Median => {
                    let mut ys: Vec<f64> =
                        idx.iter().map(|i| self.instances[*i as usize].1).collect();
                    ys.sort_by(|a, b| a.total_cmp(b));
                    let n = ys.len();
                    if n % 2 == 1 {
                        ys[n / 2]
                    } else {
                        (ys[n / 2 - 1] + ys[n / 2]) / 2.0
                    }
                }
                _ => {
                    idx.iter()
                        .map(|i| self.instances[*i as usize].1)
                        .sum::<f64>()
                        / idx.len() as f64
                }
            };
            set_regression(ctx, index, Some(value));
        }
        let p = &mut ctx.s.preds[index];
        p.ranked.clear();
        for i in &idx {
            p.ranked.push(self.instances[*i as usize].2);
        }
        ctx.s.nums_mining = dist;
        ctx.s.idx = idx;
        Ok(())
    }
}
