//! `Scorecard`: the initial score plus one partial score per characteristic (the first
//! attribute whose predicate is true), and reason codes ranked by the points each
//! characteristic scores above or below its baseline.

use crate::compile::{Compiler, MiningFunction, ModelNode};
use crate::error::{EvalError, Fail, PmmlError};
use crate::eval::Ctx;
use crate::expr::{opt_num_attr, Expr};
use crate::output::set_regression;
use crate::predicate::Cond;
use crate::types::{round_to, Val};
use crate::xml::Element;

/// How an attribute scores.
#[derive(Debug, Clone)]
enum Points {
    /// `partialScore`.
    Fixed(f64),
    /// `ComplexPartialScore`: an expression (it takes precedence over `partialScore`).
    Expression(Expr),
}

#[derive(Debug, Clone)]
struct Attribute {
    cond: Cond,
    points: Points,
    /// Index into the model's reason codes (the attribute's own, else its
    /// characteristic's); `None`: neither has one.
    reason: Option<u32>,
}

#[derive(Debug, Clone)]
struct Characteristic {
    name: String,
    attributes: Vec<Attribute>,
    /// The characteristic's baseline score, else the model's (needed with reason codes).
    baseline: f64,
}

/// A compiled `Scorecard`.
#[derive(Debug, Clone)]
pub(crate) struct Scorecard {
    initial: f64,
    characteristics: Vec<Characteristic>,
    /// Reason codes are computed (`useReasonCodes`).
    reason_codes: bool,
    /// `reasonCodeAlgorithm="pointsAbove"` (else `pointsBelow`).
    points_above: bool,
    /// The distinct reason codes.
    codes: Vec<Val>,
}

/// Compiles a `Scorecard`.
pub(crate) fn compile(
    c: &mut Compiler<'_>,
    el: &Element,
    node: &mut ModelNode,
) -> Result<Scorecard, PmmlError> {
    if node.function != MiningFunction::Regression {
        return Err(PmmlError::unsupported(
            "Scorecard",
            "only functionName=\"regression\" is supported",
        ));
    }
    let initial = opt_num_attr(el, "initialScore")?.unwrap_or(0.0);
    let reason_codes = match el.attr("useReasonCodes").map(str::trim) {
        None | Some("true") | Some("1") => true,
        Some("false") | Some("0") => false,
        Some(o) => {
            return Err(PmmlError::invalid(
                "Scorecard",
                format!("useReasonCodes=\"{o}\" is not a boolean"),
            ))
        }
    };
    let points_above = match el.attr("reasonCodeAlgorithm") {
        None | Some("pointsBelow") => false,
        Some("pointsAbove") => true,
        Some(o) => {
            return Err(PmmlError::unsupported(
                "Scorecard",
                format!("reasonCodeAlgorithm=\"{o}\" is not supported"),
            ))
        }
    };
    match el.attr("baselineMethod") {
        None | Some("max" | "min" | "mean" | "neutral" | "other") => {}
        Some(o) => {
            return Err(PmmlError::invalid(
                "Scorecard",
                format!("unknown baselineMethod \"{o}\""),
            ))
        }
    }
    let model_baseline = opt_num_attr(el, "baselineScore")?;
    if !reason_codes {
        let asks = el.child("Output").is_some_and(|o| {
            o.children_named("OutputField")
                .any(|f| f.attr("feature") == Some("reasonCode"))
        });
        if asks {
            return Err(PmmlError::invalid(
                "Scorecard",
                "a reasonCode output field, but useReasonCodes=\"false\"",
            ));
        }
    }
    let list = el
        .child("Characteristics")
        .ok_or_else(|| PmmlError::invalid("Scorecard", "Characteristics are required"))?;
    let mut codes: Vec<Val> = Vec::new();
    let mut code_index = |c: &mut Compiler<'_>, text: &str| -> u32 {
        let v = Val::Str(c.symbols.intern(text));
        crate::models::cat_index(&mut codes, v)
    };
    let mut characteristics = Vec::new();
    for (i, ch) in list.children_named("Characteristic").enumerate() {
        let name = ch
            .attr("name")
            .map(str::to_string)
            .unwrap_or_else(|| format!("#{}", i + 1));
        let baseline = match opt_num_attr(ch, "baselineScore")?.or(model_baseline) {
            Some(b) => b,
            None if reason_codes => {
                return Err(PmmlError::invalid(
                    "Characteristic",
                    format!("\"{name}\": reason codes need a baselineScore (on the Characteristic or the Scorecard)"),
                ))
            }
            None => 0.0,
        };
        let mut attributes = Vec::new();
        for a in ch.children_named("Attribute") {
            let cond = c.predicate_child(a)?;
            let points = match a.child("ComplexPartialScore") {
                Some(cps) => Points::Expression(c.expr_child(cps)?.0),
                None => Points::Fixed(opt_num_attr(a, "partialScore")?.ok_or_else(|| {
                    PmmlError::invalid(
                        "Attribute",
                        format!("\"{name}\": a partialScore or ComplexPartialScore is required"),
                    )
                })?),
            };
            let reason = match a.attr("reasonCode").or(ch.attr("reasonCode")) {
                Some(code) if reason_codes => Some(code_index(c, code)),
                _ => None,
            };
            attributes.push(Attribute {
                cond,
                points,
                reason,
            });
        }
        if attributes.is_empty() {
            return Err(PmmlError::invalid(
                "Characteristic",
                format!("\"{name}\": at least one Attribute is required"),
            ));
        }
        characteristics.push(Characteristic {
            name,
            attributes,
            baseline,
        });
    }
    if characteristics.is_empty() {
        return Err(PmmlError::invalid(
            "Characteristics",
            "at least one Characteristic is required",
        ));
    }
    Ok(Scorecard {
        initial,
        characteristics,
        reason_codes,
        points_above,
        codes,
    })
}

/// Java's `Double.compare`: NaN above everything, -0.0 below 0.0.
fn java_compare(a: f64, b: f64) -> std::cmp::Ordering {
    match (a.is_nan(), b.is_nan()) {
        (true, true) => std::cmp::Ordering::Equal,
        (true, false) => std::cmp::Ordering::Greater,
        (false, true) => std::cmp::Ordering::Less,
        _ => a.total_cmp(&b),
    }
}

impl Scorecard {
    pub(crate) fn evaluate(&self, ctx: &mut Ctx<'_>, index: usize) -> Result<(), Fail> {
        // The model's own buffers, unused by a regression: points per reason code and the
        // order in which the codes were first scored.
        let mut sums = std::mem::take(&mut ctx.s.preds[index].conf);
        let mut seen = std::mem::take(&mut ctx.s.preds[index].order);
        let result = self.score(ctx, index, &mut sums, &mut seen);
        let mut ranked = std::mem::take(&mut ctx.s.preds[index].ranked);
        ranked.clear();
        let result = result.and_then(|score| {
            crate::models::check_integer_target(ctx, index, Some(score)).map(|_| score)
        });
        let outcome = result.map(|score| {
            set_regression(ctx, index, Some(score));
            if self.reason_codes {
                // Codes with negative points are dropped; the rest are ranked by points,
                // ties in the order the codes were first scored.
                seen.retain(|c| sums[*c as usize] >= 0.0 || sums[*c as usize].is_nan());
                seen.sort_by(|a, b| java_compare(sums[*b as usize], sums[*a as usize]));
                ranked.extend(seen.iter().map(|c| self.codes[*c as usize]));
            }
        });
        let p = &mut ctx.s.preds[index];
        p.conf = sums;
        p.order = seen;
        p.ranked = ranked;
        outcome
    }

    fn score(
        &self,
        ctx: &mut Ctx<'_>,
        index: usize,
        sums: &mut Vec<f64>,
        seen: &mut Vec<u32>,
    ) -> Result<f64, Fail> {
        let float = ctx.m.models[index].float;
        let r = |v: f64| round_to(float, v);
        sums.clear();
        sums.resize(self.codes.len(), 0.0);
        seen.clear();
        let mut total = r(self.initial);
        for ch in &self.characteristics {
            let mut hit = None;
            for a in &ch.attributes {
                if a.cond.eval(ctx)? == Some(true) {
                    hit = Some(a);
                    break;
                }
            }
            let Some(a) = hit else {
                return Err(Box::new(EvalError::Evaluation(format!(
                    "no Attribute of Characteristic \"{}\" matches",
                    ch.name
                ))));
            };
            let points = match &a.points {
                Points::Fixed(x) => *x,
                Points::Expression(e) => match e.eval(ctx)? {
                    Val::Missing => {
                        return Err(Box::new(EvalError::Evaluation(format!(
                            "the ComplexPartialScore of Characteristic \"{}\" is missing",
                            ch.name
                        ))))
                    }
                    v => match v {
                        Val::Num(x) => x,
                        other => {
                            return Err(Box::new(EvalError::Evaluation(format!(
                            "the ComplexPartialScore of Characteristic \"{}\" is not a number: {}",
                            ch.name,
                            ctx.describe(other)
                        ))))
                        }
                    },
                },
            };
            total = r(total + r(points));
            if self.reason_codes {
                let Some(code) = a.reason else {
                    return Err(Box::new(EvalError::Evaluation(format!(
                        "an Attribute of Characteristic \"{}\" has no reasonCode",
                        ch.name
                    ))));
                };
                let difference = if self.points_above {
                    points - ch.baseline
                } else {
                    ch.baseline - points
                };
                if !seen.contains(&code) {
                    seen.push(code);
                }
                let s = &mut sums[code as usize];
                *s = r(*s + r(difference));
            }
        }
        Ok(total)
    }
}

#[cfg(test)]
mod tests {
    use crate::Model;

    fn scorecard(attrs: &str, characteristic: &str, output: &str) -> String {
        format!(
            r#"<PMML xmlns="http://www.dmg.org/PMML-4_4" version="4.4"><Header/>
            <DataDictionary><DataField name="x" optype="continuous" dataType="double"/>
            <DataField name="s" optype="continuous" dataType="double"/></DataDictionary>
            <Scorecard functionName="regression" {attrs}><MiningSchema>
            <MiningField name="s" usageType="target"/><MiningField name="x"/></MiningSchema>
            {output}<Characteristics><Characteristic name="c1" {characteristic}>
            <Attribute partialScore="1" reasonCode="LOW"><SimplePredicate field="x" operator="lessThan" value="0"/></Attribute>
            <Attribute partialScore="5" reasonCode="HIGH"><SimplePredicate field="x" operator="greaterOrEqual" value="0"/></Attribute>
            </Characteristic></Characteristics></Scorecard></PMML>"#
        )
    }

    const REASON: &str =
        r#"<Output><OutputField name="r" feature="reasonCode" dataType="string"/></Output>"#;

    fn score(m: &Model, x: Option<&str>) -> Result<Vec<String>, crate::EvalError> {
        let mut row = m.new_row();
        if let Some(x) = x {
            row.set_text(0, x);
        }
        let mut s = m.scratch();
        m.evaluate(&row, &mut s)?;
        Ok((0..m.result_columns().len())
            .map(|c| {
                let mut t = String::new();
                m.result(&s, c).write_to(&mut t);
                t
            })
            .collect())
    }

    #[test]
    fn refuses_what_jpmml_refuses() {
        // Reason codes without a baseline score, at either level.
        assert!(Model::parse(&scorecard("", "", "")).is_err());
        // A reason code output without reason codes.
        assert!(Model::parse(&scorecard(r#"useReasonCodes="false""#, "", REASON)).is_err());
        let rank0 = REASON.replace("dataType", r#"rank="0" dataType"#);
        assert!(Model::parse(&scorecard(r#"baselineScore="2""#, "", &rank0)).is_err());
        let class = scorecard(r#"baselineScore="2""#, "", "").replace(
            r#"functionName="regression""#,
            r#"functionName="classification""#,
        );
        assert!(Model::parse(&class).is_err());
    }

    #[test]
    fn scores_and_ranks_reason_codes() {
        let m = Model::parse(&scorecard(
            r#"initialScore="10" baselineScore="2""#,
            r#"baselineScore="3""#,
            REASON,
        ))
        .unwrap();
        // pointsBelow: 3 - 1 = 2 points for LOW.
        assert_eq!(score(&m, Some("-1")).unwrap(), ["11.0", "LOW"]);
        // 3 - 5 < 0: no reason code.
        assert_eq!(score(&m, Some("1")).unwrap(), ["15.0", ""]);
        // No attribute matches a missing x: the record fails.
        assert!(score(&m, None).is_err());
        let plain = Model::parse(&scorecard(r#"useReasonCodes="false""#, "", "")).unwrap();
        assert_eq!(score(&plain, Some("1")).unwrap(), ["5.0"]);
        // An integer target cannot hold a fractional score.
        let doc = scorecard(r#"useReasonCodes="false" initialScore="0.5""#, "", "").replace(
            r#"name="s" optype="continuous" dataType="double""#,
            r#"name="s" optype="continuous" dataType="integer""#,
        );
        let m = Model::parse(&doc).unwrap();
        assert!(score(&m, Some("1")).is_err());
    }
}
