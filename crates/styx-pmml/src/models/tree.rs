//! `TreeModel`: decision trees with every `missingValueStrategy` JPMML implements
//! (`none`, `nullPrediction`, `lastPrediction`, `defaultChild`) and both
//! `noTrueChildStrategy` values.

use crate::compile::{Compiler, ModelNode};
use crate::error::{EvalError, Fail, PmmlError};
use crate::eval::Ctx;
use crate::eval::Slot;
use crate::expr::req;
use crate::models::{cat_index, is_classification};
use crate::output::set_regression;
use crate::predicate::{Cond, Op};
use crate::types::{round_to, Val};
use crate::xml::Element;

mod flat;

pub(crate) use flat::{LeafSet, Record, TreeSum};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MissingStrategy {
    None,
    NullPrediction,
    LastPrediction,
    DefaultChild,
}

#[derive(Debug, Clone)]
struct Node {
    cond: Cond,
    children: Vec<u32>,
    /// The score: a number (regression) or a category index (classification).
    score: Option<f64>,
    /// (category index, record count or probability, confidence).
    dist: Vec<(u32, f64, Option<f64>)>,
    default_child: Option<u32>,
    id: Val,
}

/// A node's predicate as the walk tests it: a comparison of a field with a number (nearly
/// every split of a trained tree) inline, anything else through the node's [`Cond`].
/// Comparisons are all `x <= y`, possibly negated: `x < y` is `x <= y'` with `y'` the
/// double just below `y` (for every `x` that is not NaN).
#[derive(Debug, Clone, Copy)]
enum Test {
    True,
    /// For a number `x` (not NaN): `(x <= y) != flip`.
    Cmp {
        slot: Slot,
        y: f64,
        flip: bool,
    },
    General,
}

impl Test {
    fn of(cond: &Cond) -> Test {
        match *cond {
            Cond::True => Test::True,
            Cond::Compare {
                slot,
                op,
                value: Val::Num(y),
                ..
            } => {
                let (strict, flip) = match op {
                    Op::LessOrEqual => (false, false),
                    Op::LessThan => (true, false),
                    Op::GreaterThan => (false, true),
                    Op::GreaterOrEqual => (true, true),
                    Op::Equal | Op::NotEqual => return Test::General,
                };
                // `x < -inf` has no `<=` form; NaN compares false either way.
                if y.is_nan() || (strict && y == f64::NEG_INFINITY) {
                    return Test::General;
                }
                let y = if strict { next_down(y) } else { y };
                Test::Cmp { slot, y, flip }
            }
            _ => Test::General,
        }
    }
}

/// The largest double below `y` (finite or `+inf`; not NaN or `-inf`).
fn next_down(y: f64) -> f64 {
    if y == 0.0 {
        -f64::from_bits(1)
    } else if y > 0.0 {
        f64::from_bits(y.to_bits() - 1)
    } else {
        f64::from_bits(y.to_bits() + 1)
    }
}

/// The comparison of a [`Test::Cmp`].
#[inline(always)]
fn compare(x: f64, y: f64, flip: bool) -> bool {
    (x <= y) != flip
}

/// A binary split on a number: the first child's predicate compares a field with a
/// number and the second's is its complement (or `True`). For a number `x` (not NaN) the
/// first child is taken when the comparison holds, the second otherwise; chosen without
/// a branch on the data.
#[derive(Debug, Clone, Copy)]
struct Split {
    slot: Slot,
    y: f64,
    flip: bool,
    first: u32,
    second: u32,
}

impl Split {
    fn of(tests: &[Test], children: &[u32]) -> Option<Split> {
        let [first, second] = *children else {
            return None;
        };
        let Test::Cmp { slot, y, flip } = tests[first as usize] else {
            return None;
        };
        let complement = match tests[second as usize] {
            Test::True => true,
            Test::Cmp {
                slot: s2,
                y: y2,
                flip: flip2,
            } => s2 == slot && y2.to_bits() == y.to_bits() && flip2 != flip,
            Test::General => false,
        };
        complement.then_some(Split {
            slot,
            y,
            flip,
            first,
            second,
        })
    }
}

/// What the walk reads of one node: its test, the range of its children in
/// [`Layout::kids`] and, for a binary numeric split, the split.
#[derive(Debug, Clone, Copy)]
struct Hot {
    test: Test,
    kids: (u32, u32),
    split: Option<Split>,
}

/// The part of a tree the walk reads, packed apart from the nodes' scores.
#[derive(Debug, Clone, Default)]
struct Layout {
    hot: Vec<Hot>,
    kids: Vec<u32>,
}

/// A compiled `TreeModel`.
#[derive(Debug, Clone)]
pub(crate) struct Tree {
    nodes: Vec<Node>,
    layout: Layout,
    missing: MissingStrategy,
    return_last: bool,
    penalty: f64,
}

pub(crate) fn compile(
    c: &mut Compiler<'_>,
    el: &Element,
    node: &mut ModelNode,
) -> Result<Tree, PmmlError> {
    let missing = match el.attr("missingValueStrategy").unwrap_or("none") {
        "none" => MissingStrategy::None,
        "nullPrediction" => MissingStrategy::NullPrediction,
        "lastPrediction" => MissingStrategy::LastPrediction,
        "defaultChild" => MissingStrategy::DefaultChild,
        s @ ("weightedConfidence" | "aggregateNodes") => {
            return Err(PmmlError::unsupported(
                "TreeModel",
                format!("missingValueStrategy=\"{s}\" is not supported"),
            ))
        }
        s => {
            return Err(PmmlError::invalid(
                "TreeModel",
                format!("unknown missingValueStrategy \"{s}\""),
            ))
        }
    };
    let return_last = match el
        .attr("noTrueChildStrategy")
        .unwrap_or("returnNullPrediction")
    {
        "returnNullPrediction" => false,
        "returnLastPrediction" => true,
        s => {
            return Err(PmmlError::invalid(
                "TreeModel",
                format!("unknown noTrueChildStrategy \"{s}\""),
            ))
        }
    };
    if let Some(s) = el.attr("splitCharacteristic") {
        if s != "binarySplit" && s != "multiSplit" {
            return Err(PmmlError::invalid(
                "TreeModel",
                format!("unknown splitCharacteristic \"{s}\""),
            ));
        }
    }
    let penalty = crate::expr::opt_num_attr(el, "missingValuePenalty")?.unwrap_or(1.0);
    let root = el
        .child("Node")
        .ok_or_else(|| PmmlError::invalid("TreeModel", "a root Node is required"))?;
    let mut tree = Tree {
        nodes: Vec::new(),
        layout: Layout::default(),
        missing,
        return_last,
        penalty,
    };
    let mut ids = Vec::new();
    add_node(c, node, &mut tree, root, &mut ids)?;
    // Default children refer to node ids.
    for (i, def) in ids.iter().enumerate() {
        if let Some(d) = def {
            let n = &tree.nodes[i];
            let target = n.children.iter().copied().find(|ch| {
                matches!(tree.nodes[*ch as usize].id, Val::Str(id) if &*c.symbols.strings[id as usize] == d.as_str())
            });
            match target {
                Some(t) => tree.nodes[i].default_child = Some(t),
                None => {
                    return Err(PmmlError::invalid(
                        "Node",
                        format!("defaultChild \"{d}\" is not a child of the node"),
                    ))
                }
            }
        }
    }
    if missing == MissingStrategy::DefaultChild {
        if let Some(n) = tree
            .nodes
            .iter()
            .find(|n| !n.children.is_empty() && n.default_child.is_none())
        {
            let _ = n;
            return Err(PmmlError::invalid(
                "Node",
                "missingValueStrategy=\"defaultChild\" needs a defaultChild on every inner node",
            ));
        }
    }
    let tests: Vec<Test> = tree.nodes.iter().map(|n| Test::of(&n.cond)).collect();
    for (n, test) in tree.nodes.iter().zip(&tests) {
        let start = tree.layout.kids.len() as u32;
        tree.layout.kids.extend_from_slice(&n.children);
        tree.layout.hot.push(Hot {
            test: *test,
            kids: (start, tree.layout.kids.len() as u32),
            split: Split::of(&tests, &n.children),
        });
    }
    Ok(tree)
}

fn add_node(
    c: &mut Compiler<'_>,
    model: &mut ModelNode,
    tree: &mut Tree,
    el: &Element,
    defaults: &mut Vec<Option<String>>,
) -> Result<u32, PmmlError> {
    if el.child("Regression").is_some() || el.child("DecisionTree").is_some() {
        return Err(PmmlError::unsupported(
            "Node",
            "embedded models in tree nodes are not supported",
        ));
    }
    let cond = c.predicate_child(el)?;
    let classification = is_classification(model);
    let score = match el.attr("score") {
        None => None,
        Some(s) if classification => {
            let v = c.constant_for(model.target.ty, s, "Node")?;
            Some(cat_index(&mut model.cats, v) as f64)
        }
        Some(s) => Some(round_to(
            model.float,
            crate::types::parse_double(s).ok_or_else(|| {
                PmmlError::invalid("Node", format!("score \"{s}\" is not a number"))
            })?,
        )),
    };
    let mut dist = Vec::new();
    let mut dist_is_probability = false;
    if classification {
        for (k, sd) in el.children_named("ScoreDistribution").enumerate() {
            let v = c.constant_for(model.target.ty, req(sd, "value")?, "ScoreDistribution")?;
            let cat = cat_index(&mut model.cats, v);
            let prob = crate::expr::opt_num_attr(sd, "probability")?;
            if k == 0 {
                dist_is_probability = prob.is_some();
            }
            let x = if dist_is_probability {
                let p = prob.ok_or_else(|| {
                    PmmlError::invalid(
                        "ScoreDistribution",
                        "probability is required on every element",
                    )
                })?;
                if !(0.0..=1.0).contains(&p) {
                    return Err(PmmlError::invalid(
                        "ScoreDistribution",
                        format!("probability {p} is outside [0, 1]"),
                    ));
                }
                p
            } else {
                crate::expr::num_attr(sd, "recordCount")?
            };
            dist.push((cat, x, crate::expr::opt_num_attr(sd, "confidence")?));
        }
    }
    let index = tree.nodes.len() as u32;
    let id = match el.attr("id") {
        Some(id) => Val::Str(c.symbols.intern(id)),
        None => Val::Str(c.symbols.intern(&(index + 1).to_string())),
    };
    tree.nodes.push(Node {
        cond,
        children: vec![],
        score,
        dist,
        default_child: None,
        id,
    });
    defaults.push(el.attr("defaultChild").map(str::to_string));
    let mut children = Vec::new();
    for child in el.children_named("Node") {
        children.push(add_node(c, model, tree, child, defaults)?);
    }
    tree.nodes[index as usize].children = children;
    Ok(index)
}

impl Tree {
    /// The value of node `i`'s predicate for the record.
    #[inline(always)]
    fn test(&self, i: u32, ctx: &mut Ctx<'_>) -> Result<Option<bool>, Fail> {
        match self.layout.hot[i as usize].test {
            Test::True => Ok(Some(true)),
            Test::Cmp { slot, y, flip } => match ctx.get(slot)? {
                Val::Num(x) if !x.is_nan() => Ok(Some(compare(x, y, flip))),
                // Missing values, strings and booleans: the predicate's general rules.
                _ => self.nodes[i as usize].cond.eval(ctx),
            },
            Test::General => self.nodes[i as usize].cond.eval(ctx),
        }
    }

    /// Walks the tree: the selected node and the number of missing-value levels crossed.
    fn select(&self, ctx: &mut Ctx<'_>) -> Result<(Option<u32>, u32), Fail> {
        let mut levels = 0;
        if self.test(0, ctx)? != Some(true) {
            return Ok((None, 0));
        }
        let mut current = 0u32;
        'walk: loop {
            let hot = &self.layout.hot[current as usize];
            if let Some(sp) = &hot.split {
                if let Val::Num(x) = ctx.get(sp.slot)? {
                    if !x.is_nan() {
                        let first = compare(x, sp.y, sp.flip);
                        current = if first { sp.first } else { sp.second };
                        continue 'walk;
                    }
                }
            }
            let (start, end) = hot.kids;
            if start == end {
                return Ok((Some(current), levels));
            }
            for &ch in &self.layout.kids[start as usize..end as usize] {
                match self.test(ch, ctx)? {
                    Some(true) => {
                        current = ch;
                        continue 'walk;
                    }
                    Some(false) => {}
                    None => match self.missing {
                        MissingStrategy::None => {}
                        MissingStrategy::NullPrediction => return Ok((None, levels)),
                        MissingStrategy::LastPrediction => return Ok((Some(current), levels)),
                        MissingStrategy::DefaultChild => {
                            levels += 1;
                            match self.nodes[current as usize].default_child {
                                Some(d) => {
                                    current = d;
                                    continue 'walk;
                                }
                                None => {
                                    return Err(EvalError::Evaluation(
                                        "a tree node has no defaultChild".into(),
                                    )
                                    .into())
                                }
                            }
                        }
                    },
                }
            }
            // No true child.
            if self.return_last && self.nodes[current as usize].score.is_some() {
                return Ok((Some(current), levels));
            }
            return Ok((None, levels));
        }
    }

    pub(crate) fn evaluate(&self, ctx: &mut Ctx<'_>, index: usize) -> Result<(), Fail> {
        let (selected, levels) = self.select(ctx)?;
        let node = &ctx.m.models[index];
        if !is_classification(node) {
            let value = match selected {
                None => None,
                Some(s) => match self.nodes[s as usize].score {
                    Some(x) => Some(x),
                    None => {
                        return Err(EvalError::Evaluation(
                            "the selected tree node has no score".into(),
                        )
                        .into())
                    }
                },
            };
            set_regression(ctx, index, value);
            if let Some(s) = selected {
                ctx.s.preds[index].entity = self.nodes[s as usize].id;
            }
            return Ok(());
        }
        let Some(s) = selected else {
            crate::output::set_classification_default(ctx, index);
            return Ok(());
        };
        let n = &self.nodes[s as usize];
        let epoch = ctx.s.epoch;
        let float = node.float;
        let p = &mut ctx.s.preds[index];
        p.epoch = epoch;
        p.entity = n.id;
        p.ranked.clear();
        p.probs.iter_mut().for_each(|x| *x = 0.0);
        p.conf.iter_mut().for_each(|x| *x = 0.0);
        p.has_conf = false;
        if n.dist.is_empty() {
            let Some(score) = n.score else {
                return Err(
                    EvalError::Evaluation("the selected tree node has no score".into()).into(),
                );
            };
            p.probs[score as usize] = 1.0;
            p.has_probs = true;
            p.value = node.cats[score as usize];
            return Ok(());
        }
        for (cat, _, conf) in &n.dist {
            if let Some(cf) = conf {
                p.has_conf = true;
                p.conf[*cat as usize] = cf * self.penalty.powi(levels as i32);
            }
        }
        let label = n.distribution(float, &mut p.probs)?;
        p.has_probs = true;
        p.value = label.map_or(Val::Missing, |c| node.cats[c as usize]);
        Ok(())
    }

    /// A classification tree's result when node `i` is selected, for the walk of an
    /// ensemble: the category index of its label and its probabilities (by category
    /// index, zero for categories the node does not list), as [`Tree::evaluate`] computes
    /// them; `None` when evaluating such a node fails or predicts nothing.
    pub(crate) fn leaf_distribution(&self, i: u32, float: bool, probs: &mut [f64]) -> Option<u32> {
        let n = self.nodes.get(i as usize)?;
        probs.iter_mut().for_each(|x| *x = 0.0);
        if n.dist.is_empty() {
            let score = n.score? as u32;
            *probs.get_mut(score as usize)? = 1.0;
            return Some(score);
        }
        n.distribution(float, probs).ok().flatten()
    }

    /// A regression tree's score at node `i`.
    pub(crate) fn score(&self, i: u32) -> Option<f64> {
        self.nodes.get(i as usize)?.score
    }
}

impl Node {
    /// Writes the node's probabilities (its score distribution, normalized unless it sums
    /// to one) into `probs` by category index; returns the label's category index: the
    /// node's score, or else the most probable category (the first of equals).
    fn distribution(&self, float: bool, probs: &mut [f64]) -> Result<Option<u32>, Fail> {
        let mut sum = 0.0;
        for (cat, x, _) in &self.dist {
            probs[*cat as usize] = round_to(float, *x);
            sum = round_to(float, sum + x);
        }
        if sum != 1.0 {
            if sum == 0.0 {
                return Err(EvalError::Evaluation(
                    "the score distribution of a tree node sums to zero".into(),
                )
                .into());
            }
            for (cat, _, _) in &self.dist {
                probs[*cat as usize] = round_to(float, probs[*cat as usize] / sum);
            }
        }
        Ok(match self.score {
            Some(score) => Some(score as u32),
            None => {
                let mut best: Option<(u32, f64)> = None;
                for (cat, _, _) in &self.dist {
                    let v = probs[*cat as usize];
                    if best.is_none_or(|(_, b)| v > b) {
                        best = Some((*cat, v));
                    }
                }
                best.map(|(c, _)| c)
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::next_down;

    #[test]
    fn strict_comparisons_as_less_or_equal() {
        let ys = [
            0.0,
            -0.0,
            1.0,
            -1.0,
            2.5,
            -2.5e-300,
            1e308,
            f64::INFINITY,
            5e-324,
        ];
        let xs: Vec<f64> = ys.iter().copied().chain([-5e-324]).collect();
        for y in ys {
            let d = next_down(y);
            assert!(d < y, "{y}");
            for x in xs.iter().chain(&[d, y]) {
                assert_eq!(*x < y, *x <= d, "x={x} y={y}");
            }
        }
        assert_eq!(next_down(f64::INFINITY), f64::MAX);
    }
}
