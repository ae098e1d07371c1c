//! `AssociationModel`: items, itemsets and association rules. A record's items come either
//! from its fields (the categorical form: an item is a field whose value is true, or a
//! `field=category` pair) or from the collection of items of one transaction (the
//! transactional form: one `group` field and one active field whose value is the set of
//! items). The rules whose antecedent (and consequent) itemsets the record contains are
//! reported through the output fields (`ruleValue`, `antecedent`, `consequent`, `rule`,
//! `ruleId`, `confidence`, `support`, `lift`, `leverage`), ranked by a rule measure.

use std::collections::HashMap;

use crate::compile::{Compiler, ModelNode, SlotDef};
use crate::error::{EvalError, Fail, PmmlError};
use crate::eval::{Ctx, Slot};
use crate::expr::{opt_num_attr, req};
use crate::row::Cell;
use crate::schema::parse_const;
use crate::types::{DataType, Val};
use crate::xml::Element;

/// How an item is found in a record.
#[derive(Debug, Clone)]
enum ItemTest {
    /// A field whose value says whether the item is present: `T`/`F` (strings), or a
    /// boolean (`true`/`false`, `1`/`0`).
    Flag(Slot),
    /// A field equal to a category; `None`: the category is not a value of the field's
    /// type (an error for any value of the field).
    Category {
        slot: Slot,
        field: Box<str>,
        category: Option<Val>,
    },
    /// An item of the transaction's collection.
    Member(Option<Val>),
}

/// A rule measure. The document's text of an integer (`support="1"`) stays an integer
/// (JPMML reads such attributes as `Integer`): it is written as one in a list, or where
/// the output field declares no data type.
#[derive(Debug, Clone, Copy)]
struct Measure {
    x: f64,
    /// The integer's text, for an integer.
    int_text: Option<Val>,
    /// The number's text, as a list of numbers writes it.
    text: Val,
}

/// A compiled association rule.
#[derive(Debug, Clone)]
pub(crate) struct Rule {
    antecedent: u32,
    consequent: u32,
    support: Measure,
    confidence: Measure,
    lift: Option<Measure>,
    leverage: Option<Measure>,
    affinity: Option<Measure>,
    /// The rule id (its `id`, or its 1-based position).
    id: Val,
    /// The antecedent's and consequent's item values as lists (`[a, b]`), and the rule
    /// as `{a,b}->{c}`.
    antecedent_text: Val,
    consequent_text: Val,
    rule_text: Val,
}

/// The transactional form's input: the active field's input cell and its slot (whose
/// mining-field treatments apply to every item).
#[derive(Debug, Clone, Copy)]
struct Transactional {
    input: u32,
    slot: Slot,
}

/// A compiled `AssociationModel`.
#[derive(Debug, Clone)]
pub(crate) struct Association {
    items: Vec<ItemTest>,
    itemsets: Vec<Vec<u32>>,
    rules: Vec<Rule>,
    transactional: Option<Transactional>,
}

/// Which rules an output field selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Algorithm {
    /// The antecedent is in the record.
    Recommendation,
    /// The antecedent is in the record, the consequent is not.
    ExclusiveRecommendation,
    /// Both are in the record.
    RuleAssociation,
}

/// What an output field reports of a rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RuleFeature {
    Antecedent,
    Consequent,
    Rule,
    RuleId,
    Confidence,
    Support,
    Lift,
    Leverage,
    Affinity,
}

/// The rule measure rules are ranked by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Basis {
    Confidence,
    Support,
    Lift,
    Leverage,
    Affinity,
}

impl Basis {
    fn name(self) -> &'static str {
        match self {
            Basis::Confidence => "confidence",
            Basis::Support => "support",
            Basis::Lift => "lift",
            Basis::Leverage => "leverage",
            Basis::Affinity => "affinity",
        }
    }
}

/// A compiled rule output field: the selection, the ranking and the reported feature.
#[derive(Debug, Clone)]
pub(crate) struct RuleOutput {
    algorithm: Algorithm,
    feature: RuleFeature,
    /// The rules in rank order (a stable sort of the document order by the basis).
    order: Vec<u32>,
    /// The rules without a value of the ranking measure: ranking two or more selected
    /// rules when one of them is such a rule fails. Empty when every rule has one.
    unranked: Vec<bool>,
    basis: Basis,
    /// 1-based; for a multi-valued field the number of rules (0: all).
    rank: usize,
    multi: bool,
    /// Whether the field declares its data type (else a list's values must share one).
    declared: bool,
    /// The output field's name, for messages.
    name: Box<str>,
}

impl RuleOutput {
    /// The type of the field's values (a list is written as text).
    pub(crate) fn data_type(&self) -> DataType {
        match self.feature {
            _ if self.multi => DataType::String,
            RuleFeature::Antecedent
            | RuleFeature::Consequent
            | RuleFeature::Rule
            | RuleFeature::RuleId => DataType::String,
            _ => DataType::Double,
        }
    }

    /// Whether the value is a list (written as `[a, b]`), not converted to the field's
    /// declared type.
    pub(crate) fn is_list(&self) -> bool {
        self.multi
            || matches!(
                self.feature,
                RuleFeature::Antecedent | RuleFeature::Consequent
            )
    }
}

/// Java's text of a list of strings: `[a, b]`.
fn list_text(values: &[&str]) -> String {
    format!("[{}]", values.join(", "))
}

pub(crate) fn compile(
    c: &mut Compiler<'_>,
    el: &Element,
    node: &mut ModelNode,
) -> Result<Association, PmmlError> {
    if node.function != crate::compile::MiningFunction::AssociationRules {
        return Err(PmmlError::unsupported(
            "AssociationModel",
            "an AssociationModel evaluates functionName=\"associationRules\" only",
        ));
    }
    if el.child("Targets").is_some() {
        return Err(PmmlError::invalid(
            "Targets",
            "an AssociationModel has no target",
        ));
    }
    if node.target.name.is_some() {
        return Err(PmmlError::invalid(
            "MiningSchema",
            "an AssociationModel has no target field",
        ));
    }
    let schema = el
        .child("MiningSchema")
        .ok_or_else(|| PmmlError::invalid("AssociationModel", "a MiningSchema is required"))?;
    let mut active = Vec::new();
    let mut groups = 0;
    for mf in schema.children_named("MiningField") {
        match mf.attr("usageType").unwrap_or("active") {
            "active" => active.push(req(mf, "name")?.to_string()),
            "group" => groups += 1,
            _ => {}
        }
    }
    if groups > 1 {
        return Err(PmmlError::invalid(
            "MiningSchema",
            format!("expected 0 or 1 group fields, got {groups}"),
        ));
    }
    let transactional = if groups == 1 {
        if active.len() != 1 {
            return Err(PmmlError::invalid(
                "MiningSchema",
                format!(
                    "transactional data needs 1 active field, got {}",
                    active.len()
                ),
            ));
        }
        let f = c.field(&active[0], "MiningField")?;
        let input = match &c.slots[f.slot as usize] {
            SlotDef::Input { input, .. } if *input != u32::MAX => *input,
            _ => {
                return Err(PmmlError::unsupported(
                    "AssociationModel",
                    "a transactional model nested in another model",
                ))
            }
        };
        Some((
            Transactional {
                input,
                slot: f.slot,
            },
            f.ty,
        ))
    } else {
        if active.is_empty() {
            return Err(PmmlError::invalid(
                "MiningSchema",
                "an AssociationModel needs at least one active field",
            ));
        }
        None
    };

    // Items, by id.
    let mut item_index: HashMap<String, u32> = HashMap::new();
    let mut items = Vec::new();
    let mut item_values = Vec::new();
    for item in el.children_named("Item") {
        let id = req(item, "id")?;
        let value = req(item, "value")?;
        let test = match (item.attr("field"), item.attr("category"), transactional) {
            (None, _, Some((_, ty))) => ItemTest::Member(parse_const(&mut c.symbols, ty, value)),
            (None, _, None) => {
                if let Ok(f) = c.field(value, "Item") {
                    ItemTest::Flag(f.slot)
                } else {
                    let resolved = value.split_once('=').and_then(|(name, category)| {
                        c.field(name, "Item").ok().map(|f| (name, category, f))
                    });
                    let Some((name, category, f)) = resolved else {
                        return Err(PmmlError::invalid(
                            "Item",
                            format!("value \"{value}\" names no field (nor field=category)"),
                        ));
                    };
                    ItemTest::Category {
                        slot: f.slot,
                        field: name.into(),
                        category: parse_const(&mut c.symbols, f.ty, category),
                    }
                }
            }
            (Some(_), None, _) => {
                return Err(PmmlError::invalid(
                    "Item",
                    format!("item \"{id}\" has a field but no category"),
                ))
            }
            (Some(field), Some(category), Some((_, ty))) => {
                if field != active[0] {
                    return Err(PmmlError::unsupported(
                        "Item",
                        format!(
                            "item \"{id}\": field \"{field}\" is not the transaction's items field"
                        ),
                    ));
                }
                ItemTest::Member(parse_const(&mut c.symbols, ty, category))
            }
            (Some(field), Some(category), None) => {
                let f = c.field(field, "Item")?;
                ItemTest::Category {
                    slot: f.slot,
                    field: field.into(),
                    category: parse_const(&mut c.symbols, f.ty, category),
                }
            }
        };
        if item_index
            .insert(id.to_string(), items.len() as u32)
            .is_some()
        {
            return Err(PmmlError::invalid(
                "Item",
                format!("id \"{id}\" is used twice"),
            ));
        }
        items.push(test);
        item_values.push(value.to_string());
    }

    // Itemsets, by id.
    let mut itemset_index: HashMap<String, u32> = HashMap::new();
    let mut itemsets = Vec::new();
    let mut itemset_values: Vec<Vec<&str>> = Vec::new();
    for set in el.children_named("Itemset") {
        let id = req(set, "id")?;
        let mut refs = Vec::new();
        let mut values = Vec::new();
        for r in set.children_named("ItemRef") {
            let item = req(r, "itemRef")?;
            let i = *item_index.get(item).ok_or_else(|| {
                PmmlError::invalid(
                    "ItemRef",
                    format!("itemset \"{id}\" refers to an unknown item \"{item}\""),
                )
            })?;
            refs.push(i);
            values.push(item_values[i as usize].as_str());
        }
        if itemset_index
            .insert(id.to_string(), itemsets.len() as u32)
            .is_some()
        {
            return Err(PmmlError::invalid(
                "Itemset",
                format!("id \"{id}\" is used twice"),
            ));
        }
        itemsets.push(refs);
        itemset_values.push(values);
    }

    let mut rules = Vec::new();
    let mut rule_ids: HashMap<String, ()> = HashMap::new();
    for (i, r) in el.children_named("AssociationRule").enumerate() {
        let set = |attr: &str| -> Result<u32, PmmlError> {
            let id = req(r, attr)?;
            itemset_index.get(id).copied().ok_or_else(|| {
                PmmlError::invalid(
                    "AssociationRule",
                    format!("{attr} \"{id}\" is not an itemset"),
                )
            })
        };
        let antecedent = set("antecedent")?;
        let consequent = set("consequent")?;
        let mut opt_measure = |attr: &str| -> Result<Option<Measure>, PmmlError> {
            let Some(x) = opt_num_attr(r, attr)? else {
                return Ok(None);
            };
            let int_text = integer_literal(r.attr(attr).unwrap_or_default())
                .map(|i| Val::Str(c.symbols.intern(&i.to_string())));
            let mut text = String::new();
            crate::format::write_double(x, &mut text);
            let text = Val::Str(c.symbols.intern(&text));
            Ok(Some(Measure { x, int_text, text }))
        };
        let support = opt_measure("support")?;
        let confidence = opt_measure("confidence")?;
        let lift = opt_measure("lift")?;
        let leverage = opt_measure("leverage")?;
        let affinity = opt_measure("affinity")?;
        // Support, confidence and affinity are probabilities (JPMML's reader refuses
        // others); lift and leverage any number.
        for (m, attr) in [
            (support, "support"),
            (confidence, "confidence"),
            (affinity, "affinity"),
        ] {
            if let Some(m) = m.filter(|m| !(0.0..=1.0).contains(&m.x)) {
                return Err(PmmlError::invalid(
                    "AssociationRule",
                    format!("{attr}={} is not a probability", m.x),
                ));
            }
        }
        let required = |m: Option<Measure>, attr: &str| {
            m.ok_or_else(|| {
                PmmlError::invalid("AssociationRule", format!("missing attribute {attr}"))
            })
        };
        let id = r
            .attr("id")
            .map(str::to_string)
            .unwrap_or_else(|| (i + 1).to_string());
        if rule_ids.insert(id.clone(), ()).is_some() {
            return Err(PmmlError::invalid(
                "AssociationRule",
                format!("id \"{id}\" is used twice"),
            ));
        }
        let ant = &itemset_values[antecedent as usize];
        let cons = &itemset_values[consequent as usize];
        let rule_text = format!("{{{}}}->{{{}}}", ant.join(","), cons.join(","));
        rules.push(Rule {
            antecedent,
            consequent,
            support: required(support, "support")?,
            confidence: required(confidence, "confidence")?,
            lift,
            leverage,
            affinity,
            id: Val::Str(c.symbols.intern(&id)),
            antecedent_text: Val::Str(c.symbols.intern(&list_text(ant))),
            consequent_text: Val::Str(c.symbols.intern(&list_text(cons))),
            rule_text: Val::Str(c.symbols.intern(&rule_text)),
        });
    }
    Ok(Association {
        items,
        itemsets,
        rules,
        transactional: transactional.map(|t| t.0),
    })
}

/// The rule output feature an `OutputField@feature` of an association model names, or
/// `None` for a feature that is no rule feature.
fn rule_feature(of: &Element, feature: &str) -> Result<Option<RuleFeature>, PmmlError> {
    let name = match feature {
        "ruleValue" => of.attr("ruleFeature").unwrap_or("consequent"),
        "entityId" => "ruleId",
        other => other,
    };
    Ok(Some(match name {
        "antecedent" => RuleFeature::Antecedent,
        "consequent" => RuleFeature::Consequent,
        "rule" => RuleFeature::Rule,
        "ruleId" => RuleFeature::RuleId,
        "confidence" => RuleFeature::Confidence,
        "support" => RuleFeature::Support,
        "lift" => RuleFeature::Lift,
        "leverage" => RuleFeature::Leverage,
        "affinity" if feature == "ruleValue" => RuleFeature::Affinity,
        _ if feature == "ruleValue" => {
            return Err(PmmlError::invalid(
                "OutputField",
                format!("unknown ruleFeature \"{name}\""),
            ))
        }
        _ => return Ok(None),
    }))
}

impl Association {
    /// Compiles an output field of this model that reports rules; `None` for the
    /// features that are not about rules (expressions and the like).
    pub(crate) fn output(
        &self,
        of: &Element,
        feature: &str,
    ) -> Result<Option<RuleOutput>, PmmlError> {
        let declared = of.attr("dataType").is_some();
        let Some(feature) = rule_feature(of, feature)? else {
            return Ok(None);
        };
        let name = of.attr("name").unwrap_or_default();
        let algorithm = match of.attr("algorithm").unwrap_or("exclusiveRecommendation") {
            "recommendation" => Algorithm::Recommendation,
            "exclusiveRecommendation" => Algorithm::ExclusiveRecommendation,
            "ruleAssociation" => Algorithm::RuleAssociation,
            o => {
                return Err(PmmlError::invalid(
                    "OutputField",
                    format!("\"{name}\": unknown algorithm \"{o}\""),
                ))
            }
        };
        let basis = match of.attr("rankBasis").unwrap_or("confidence") {
            "confidence" => Basis::Confidence,
            "support" => Basis::Support,
            "lift" => Basis::Lift,
            "leverage" => Basis::Leverage,
            "affinity" => Basis::Affinity,
            o => {
                return Err(PmmlError::invalid(
                    "OutputField",
                    format!("\"{name}\": unknown rankBasis \"{o}\""),
                ))
            }
        };
        let descending = match of.attr("rankOrder").unwrap_or("descending") {
            "descending" => true,
            "ascending" => false,
            o => {
                return Err(PmmlError::invalid(
                    "OutputField",
                    format!("\"{name}\": unknown rankOrder \"{o}\""),
                ))
            }
        };
        let multi = match of.attr("isMultiValued").unwrap_or("0") {
            "0" => false,
            "1" => true,
            o => {
                return Err(PmmlError::invalid(
                    "OutputField",
                    format!("\"{name}\": isMultiValued=\"{o}\""),
                ))
            }
        };
        let rank = match of.attr("rank") {
            None => 1,
            Some(r) => match r.trim().parse::<i64>() {
                Ok(r) if r >= 1 || (multi && r == 0) => r as usize,
                _ => {
                    return Err(PmmlError::invalid(
                        "OutputField",
                        format!("\"{name}\": invalid rank \"{r}\""),
                    ))
                }
            },
        };
        let measure = |r: &Rule| match basis {
            Basis::Confidence => Some(r.confidence.x),
            Basis::Support => Some(r.support.x),
            Basis::Lift => r.lift.map(|m| m.x),
            Basis::Leverage => r.leverage.map(|m| m.x),
            Basis::Affinity => r.affinity.map(|m| m.x),
        };
        let mut order: Vec<u32> = (0..self.rules.len() as u32).collect();
        // A stable sort: equal measures keep the document order.
        order.sort_by(|a, b| {
            let x = measure(&self.rules[*a as usize]).unwrap_or(f64::NAN);
            let y = measure(&self.rules[*b as usize]).unwrap_or(f64::NAN);
            let o = java_compare(x, y);
            if descending {
                o.reverse()
            } else {
                o
            }
        });
        let mut unranked: Vec<bool> = self.rules.iter().map(|r| measure(r).is_none()).collect();
        if !unranked.contains(&true) {
            unranked.clear();
        }
        Ok(Some(RuleOutput {
            algorithm,
            feature,
            order,
            unranked,
            basis,
            rank,
            multi,
            declared,
            name: name.into(),
        }))
    }

    pub(crate) fn evaluate(&self, ctx: &mut Ctx<'_>, index: usize) -> Result<(), Fail> {
        let mut flags = std::mem::take(&mut ctx.s.preds[index].flags);
        let result = self.flags(ctx, &mut flags);
        let epoch = ctx.s.epoch;
        let p = &mut ctx.s.preds[index];
        p.flags = flags;
        result?;
        p.epoch = epoch;
        p.value = Val::Missing;
        p.has_probs = false;
        p.has_conf = false;
        p.entity = Val::Missing;
        p.ranked.clear();
        Ok(())
    }

    /// Fills `flags`: per item whether the record has it, then per rule whether its
    /// antecedent (bit 0) and its consequent (bit 1) are in the record.
    fn flags(&self, ctx: &mut Ctx<'_>, flags: &mut Vec<u8>) -> Result<(), Fail> {
        let n_items = self.items.len();
        flags.clear();
        flags.resize(n_items + self.rules.len(), 0);
        let mut members = std::mem::take(&mut ctx.s.members);
        members.clear();
        let found = self.collect_members(ctx, &mut members);
        let result = found.and_then(|_| {
            for (i, item) in self.items.iter().enumerate() {
                flags[i] = self.has_item(ctx, item, &members)? as u8;
            }
            Ok(())
        });
        ctx.s.members = members;
        result?;
        let (item_flags, rule_flags) = flags.split_at_mut(n_items);
        let contains = |set: u32| {
            self.itemsets[set as usize]
                .iter()
                .all(|i| item_flags[*i as usize] != 0)
        };
        for (bits, rule) in rule_flags.iter_mut().zip(&self.rules) {
            *bits = contains(rule.antecedent) as u8 | (contains(rule.consequent) as u8) << 1;
        }
        Ok(())
    }

    /// The items of a transaction, each treated as a value of the items field.
    fn collect_members(&self, ctx: &mut Ctx<'_>, members: &mut Vec<Val>) -> Result<(), Fail> {
        let Some(t) = self.transactional else {
            return Ok(());
        };
        let m = ctx.m;
        let SlotDef::Input { prep, .. } = &m.slots[t.slot as usize] else {
            return Ok(());
        };
        let row = ctx.row;
        match row.items(t.input as usize) {
            Some(items) => {
                for item in items {
                    let v = prep.prepare_cell(ctx, Cell::Text(item))?;
                    members.push(v);
                }
                Ok(())
            }
            None => {
                let field = m.slot_names[t.slot as usize].to_string();
                Err(match row.cell(t.input as usize) {
                    Cell::Missing => EvalError::MissingValue { field },
                    _ => EvalError::Evaluation(format!(
                        "field \"{field}\" needs a collection of items, not a single value"
                    )),
                }
                .into())
            }
        }
    }

    fn has_item(&self, ctx: &mut Ctx<'_>, item: &ItemTest, members: &[Val]) -> Result<bool, Fail> {
        match item {
            ItemTest::Member(category) => {
                Ok(category.is_some_and(|c| members.iter().any(|m| ctx.equal(*m, c))))
            }
            ItemTest::Flag(slot) => {
                let v = ctx.get(*slot)?;
                flag(ctx, v).map_err(|e| {
                    let field = &ctx.m.slot_names[*slot as usize];
                    EvalError::Evaluation(format!("field \"{field}\": {e}")).into()
                })
            }
            ItemTest::Category {
                slot,
                field,
                category,
            } => {
                let v = ctx.get(*slot)?;
                if v.is_missing() {
                    return Ok(false);
                }
                match category {
                    Some(c) => Ok(ctx.equal(v, *c)),
                    None => Err(EvalError::Evaluation(format!(
                        "the category of an item of field \"{field}\" is not a value of its type"
                    ))
                    .into()),
                }
            }
        }
    }

    /// The value of a rule output field for the current record.
    pub(crate) fn output_value(
        &self,
        ctx: &mut Ctx<'_>,
        index: usize,
        out: &RuleOutput,
    ) -> Result<Val, Fail> {
        let n_items = self.items.len();
        let flags = &ctx.s.preds[index].flags;
        let selected = |r: u32| {
            let bits = flags.get(n_items + r as usize).copied().unwrap_or(0);
            match out.algorithm {
                Algorithm::Recommendation => bits & 1 != 0,
                Algorithm::ExclusiveRecommendation => bits == 1,
                Algorithm::RuleAssociation => bits == 3,
            }
        };
        // Ranking two or more rules compares their measures: all must have one (when some
        // rule has none).
        let mut count = 0;
        let mut lacking = false;
        if !out.unranked.is_empty() {
            for &r in &out.order {
                if selected(r) {
                    count += 1;
                    lacking |= out.unranked[r as usize];
                }
            }
        }
        if count >= 2 && lacking {
            return Err(EvalError::Evaluation(format!(
                "output field \"{}\": an association rule has no {} to be ranked by",
                out.name,
                out.basis.name()
            ))
            .into());
        }
        let mut chosen = out.order.iter().copied().filter(|r| selected(*r));
        if !out.multi {
            return Ok(match chosen.nth(out.rank - 1) {
                // A single value is a number of the field's type, even when the document
                // wrote it as an integer.
                Some(r) => self.feature(r, out.feature).0,
                None => Val::Missing,
            });
        }
        let limit = if out.rank == 0 { usize::MAX } else { out.rank };
        let mut picked = std::mem::take(&mut ctx.s.members);
        picked.clear();
        let (mut ints, mut doubles) = (false, false);
        // Measures are written from their texts, made when the model was compiled.
        for r in chosen.take(limit) {
            match self.feature(r, out.feature) {
                (
                    _,
                    Some(Measure {
                        int_text: Some(t), ..
                    }),
                ) => {
                    ints = true;
                    picked.push(t);
                }
                (_, Some(m)) => {
                    doubles = true;
                    picked.push(m.text);
                }
                (v, None) => picked.push(v),
            }
        }
        // Without a declared type, the list's values must be of one type (JPMML infers
        // it from them): integers and doubles do not mix, and lists of item lists (the
        // antecedents or consequents of several rules) have none.
        if !out.declared {
            let nested = matches!(
                out.feature,
                RuleFeature::Antecedent | RuleFeature::Consequent
            ) && !picked.is_empty();
            if nested || (ints && doubles) {
                ctx.s.members = picked;
                return Err(EvalError::Evaluation(format!(
                    "the values of output field \"{}\" are of no one data type{}",
                    out.name,
                    if nested {
                        " (lists of items)"
                    } else {
                        " (integers and doubles)"
                    }
                ))
                .into());
            }
        }
        let text = ctx.list_string(&picked);
        ctx.s.members = picked;
        Ok(text)
    }

    /// A feature of rule `r`: its value and, for a measure, the measure.
    fn feature(&self, r: u32, feature: RuleFeature) -> (Val, Option<Measure>) {
        let rule = &self.rules[r as usize];
        let num = |m: Option<Measure>| match m {
            Some(m) => (Val::Num(m.x), Some(m)),
            None => (Val::Missing, None),
        };
        match feature {
            RuleFeature::Antecedent => (rule.antecedent_text, None),
            RuleFeature::Consequent => (rule.consequent_text, None),
            RuleFeature::Rule => (rule.rule_text, None),
            RuleFeature::RuleId => (rule.id, None),
            RuleFeature::Confidence => num(Some(rule.confidence)),
            RuleFeature::Support => num(Some(rule.support)),
            RuleFeature::Lift => num(rule.lift),
            RuleFeature::Leverage => num(rule.leverage),
            RuleFeature::Affinity => num(rule.affinity),
        }
    }
}

/// Whether a field value marks an item present: `T`/`F` for strings, else a boolean
/// (`true`/`false` in any case, or a number 1/0); anything else fails.
fn flag(ctx: &Ctx<'_>, v: Val) -> Result<bool, Fail> {
    let bad = |what: String| -> Fail {
        EvalError::Evaluation(format!("expected false or true, got {what}")).into()
    };
    match v {
        Val::Missing => Ok(false),
        Val::Bool(b) => Ok(b),
        Val::Num(1.0) => Ok(true),
        Val::Num(0.0) => Ok(false),
        Val::Num(_) => Err(bad(ctx.describe(v))),
        Val::Str(id) => {
            let t = ctx.text(id);
            if t == "T" || t.eq_ignore_ascii_case("true") {
                Ok(true)
            } else if t == "F" || t.eq_ignore_ascii_case("false") {
                Ok(false)
            } else {
                match crate::types::parse_double(t) {
                    Some(1.0) => Ok(true),
                    Some(0.0) => Ok(false),
                    _ => Err(bad(format!("\"{t}\""))),
                }
            }
        }
    }
}

/// The value of an attribute written as an integer (optional sign and digits, within 32
/// bits, blanks around allowed), as JPMML's document reader keeps such numbers.
fn integer_literal(text: &str) -> Option<i32> {
    let t = text.trim();
    let digits = t.strip_prefix(['+', '-']).unwrap_or(t);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    t.strip_prefix('+').unwrap_or(t).parse::<i32>().ok()
}

/// Java's `Double.compare`: numbers in order, -0.0 before 0.0, NaN after everything.
fn java_compare(x: f64, y: f64) -> std::cmp::Ordering {
    match (x.is_nan(), y.is_nan()) {
        (true, true) => std::cmp::Ordering::Equal,
        (true, false) => std::cmp::Ordering::Greater,
        (false, true) => std::cmp::Ordering::Less,
        _ => x.total_cmp(&y),
    }
}

#[cfg(test)]
mod tests {
    use super::integer_literal;
    use crate::{score_csv, EvalError, Model, ResultValue};

    const BASKET: &str = r#"<PMML xmlns="http://www.dmg.org/PMML-4_4" version="4.4">
  <DataDictionary>
    <DataField name="ticket" optype="categorical" dataType="string"/>
    <DataField name="item" optype="categorical" dataType="string"/>
  </DataDictionary>
  <AssociationModel functionName="associationRules">
    <MiningSchema>
      <MiningField name="ticket" usageType="group"/>
      <MiningField name="item"/>
    </MiningSchema>
    <Output>
      <OutputField name="ids" dataType="string" feature="ruleId" algorithm="recommendation" isMultiValued="1" rank="0"/>
      <OutputField name="next" dataType="string" feature="consequent"/>
    </Output>
    <Item id="1" value="tea"/>
    <Item id="2" value="milk"/>
    <Item id="3" value="sugar"/>
    <Itemset id="1"><ItemRef itemRef="1"/></Itemset>
    <Itemset id="2"><ItemRef itemRef="2"/></Itemset>
    <Itemset id="3"><ItemRef itemRef="3"/><ItemRef itemRef="2"/></Itemset>
    <AssociationRule antecedent="1" consequent="2" support="0.5" confidence="0.5"/>
    <AssociationRule id="m" antecedent="2" consequent="3" support="0.2" confidence="0.9"/>
  </AssociationModel>
</PMML>"#;

    #[test]
    fn a_transaction_is_a_collection_of_items() {
        let model: Model = BASKET.parse().unwrap();
        assert_eq!(model.group_field(), Some("ticket"));
        assert!(model.result_columns().iter().all(|c| c.name != "_target"));
        let mut row = model.new_row();
        let mut scratch = model.scratch();
        for item in ["tea", "milk"] {
            row.push_item(0, item);
        }
        model.evaluate(&row, &mut scratch).unwrap();
        assert_eq!(model.result(&scratch, 0), ResultValue::Str("[m, 1]"));
        assert_eq!(model.result(&scratch, 1), ResultValue::Str("[sugar, milk]"));
        // The row is reused: a new collection replaces the old one.
        row.clear_items(0);
        row.push_item(0, "sugar");
        model.evaluate(&row, &mut scratch).unwrap();
        assert_eq!(model.result(&scratch, 0), ResultValue::Str("[]"));
        assert_eq!(model.result(&scratch, 1), ResultValue::Missing);
        assert_eq!(row.items(0).map(<[String]>::len), Some(1));
        // A single value or no value is no transaction.
        row.set_text(0, "tea");
        assert!(model.evaluate(&row, &mut scratch).is_err());
        row.set_missing(0);
        assert!(matches!(
            model.evaluate(&row, &mut scratch),
            Err(EvalError::MissingValue { .. })
        ));
    }

    #[test]
    fn csv_rows_are_grouped_by_transaction() {
        let model: Model = BASKET.parse().unwrap();
        let input = "Id,ticket,item\na,t1,tea\nb,t2,sugar\nc,t1,milk\nd,t2,\ne,,milk\n";
        let mut out = Vec::new();
        let summary = score_csv(&model, input.as_bytes(), &mut out).unwrap();
        assert_eq!(summary.rows, 5);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "Id,ids,next\na,\"[m, 1]\",\"[sugar, milk]\"\nb,[],\ne,[m],\"[sugar, milk]\"\n"
        );
    }

    #[test]
    fn benchmark_rows_are_transactions_too() {
        let model: Model = BASKET.parse().unwrap();
        let input = "ticket,item\nt1,tea\nt2,sugar\nt1,milk\n";
        let rows = crate::rows_from_csv(&model, input.as_bytes()).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].items(0).unwrap(), ["tea", "milk"]);
        let mut scratch = model.scratch();
        model.evaluate(&rows[1], &mut scratch).unwrap();
    }

    #[test]
    fn integer_measures_are_recognised_as_jpmml_reads_them() {
        assert_eq!(integer_literal("1"), Some(1));
        assert_eq!(integer_literal(" +7 "), Some(7));
        assert_eq!(integer_literal("-0"), Some(0));
        assert_eq!(integer_literal("1.0"), None);
        assert_eq!(integer_literal("1e2"), None);
        assert_eq!(integer_literal("99999999999"), None);
        assert_eq!(integer_literal(""), None);
    }

    #[test]
    fn documents_jpmml_cannot_evaluate_are_refused() {
        let refused = [
            BASKET.replace("usageType=\"group\"", "usageType=\"target\""),
            BASKET.replace("consequent=\"3\"", "consequent=\"9\""),
            BASKET.replace("itemRef=\"3\"/>", "itemRef=\"8\"/>"),
            BASKET.replace("feature=\"consequent\"", "feature=\"probability\""),
            BASKET.replace("feature=\"consequent\"", "feature=\"affinity\""),
            BASKET.replace("associationRules", "classification"),
            BASKET.replace("rank=\"0\"", "rank=\"-1\""),
            BASKET.replace(
                "<MiningField name=\"item\"/>",
                "<MiningField name=\"item\"/><MiningField name=\"ticket2\" usageType=\"group\"/>",
            ),
            BASKET.replace(
                "<Output>",
                "<Targets><Target field=\"item\"/></Targets><Output>",
            ),
        ];
        for doc in refused {
            assert!(doc.parse::<Model>().is_err(), "{doc}");
        }
    }
}
