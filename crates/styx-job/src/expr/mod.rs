//! Expressions in job files: the Common Expression Language (CEL) over an event's fields.
//!
//! Each top-level field of the event is a variable (a missing field is `null`), and
//! `event` is the whole event: `amount > 100.0 && country != "NL"`,
//! `has(event.meta) ? event.meta.src : "none"`. `config` is the store's configuration
//! as the job sees it now (`config.fraud.threshold` reads key `fraud.threshold`).
//! Arithmetic mixes integers and floats (see [`numbers`]).

mod numbers;

use std::sync::Arc;

use std::collections::HashMap;

use cel::{Context, Env, IdedExpr, Value as CelValue};
use serde_json::Value;
use styx_runtime::event::Event;

/// A compiled expression.
pub struct Expr {
    source: String,
    env: Arc<Env>,
    /// The compiled expression, its arithmetic on mixed numbers.
    expression: IdedExpr,
    variables: Vec<String>,
    uses_event: bool,
    config: Option<ConfigSource>,
}

/// The store's configuration as CEL's `config` sees it, swapped whole when it changes.
pub type ConfigSource = Arc<arc_swap::ArcSwap<CelValue>>;

/// The configuration values by key as one CEL map: keys split at dots into nested maps
/// (`fraud.threshold` is `config.fraud.threshold`).
pub fn config_value(values: &[(String, Value)]) -> CelValue {
    fn insert(map: &mut serde_json::Map<String, Value>, path: &[&str], value: &Value) {
        match path {
            [] => {}
            [last] => {
                map.insert(last.to_string(), value.clone());
            }
            [first, rest @ ..] => {
                let entry = map
                    .entry(first.to_string())
                    .or_insert_with(|| Value::Object(Default::default()));
                if !entry.is_object() {
                    *entry = Value::Object(Default::default());
                }
                if let Value::Object(inner) = entry {
                    insert(inner, rest, value);
                }
            }
        }
    }
    let mut root = serde_json::Map::new();
    // Shorter keys first, so that `a.b` refines `a` rather than being lost under it.
    let mut sorted: Vec<&(String, Value)> = values.iter().collect();
    sorted.sort_by_key(|(k, _)| k.matches('.').count());
    for (key, value) in sorted {
        let path: Vec<&str> = key.split('.').collect();
        insert(&mut root, &path, value);
    }
    object_to_cel(&root)
}

impl Expr {
    /// Compiles `source`; the error describes the syntax problem.
    pub fn compile(source: &str) -> Result<Expr, String> {
        let env = numbers::env();
        let program = env
            .compile(source)
            .map_err(|e| format!("invalid expression \"{source}\": {e}"))?;
        let mut variables: Vec<String> = program
            .references()
            .variables()
            .into_iter()
            .map(str::to_string)
            .collect();
        variables.sort();
        let uses_event = variables.iter().any(|v| v == "event");
        variables.retain(|v| v != "event");
        Ok(Expr {
            source: source.to_string(),
            env,
            expression: numbers::promote(program.expression().clone()),
            variables,
            uses_event,
            config: None,
        })
    }

    /// The expression's text.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Evaluates the expression over `event`.
    pub fn eval(&self, event: &Event) -> Result<Value, String> {
        self.eval_with(event, None)
    }

    /// Whether the expression reads `config`, the store's configuration.
    pub fn uses_config(&self) -> bool {
        self.variables.iter().any(|v| v == "config")
    }

    /// Reads `config` from `source` at each evaluation.
    pub fn with_config(mut self, source: ConfigSource) -> Self {
        if self.uses_config() {
            self.config = Some(source);
        }
        self
    }

    /// Whether the expression reads `match` (a pattern stage's partial match).
    pub fn uses_match(&self) -> bool {
        self.variables.iter().any(|v| v == "match")
    }

    /// Evaluates a pattern stage's condition over `event`, with `match` bound to the
    /// events the partial match took, by stage.
    pub fn eval_bool_with_match<'a>(
        &self,
        event: &Event,
        stages: impl Iterator<Item = (&'a str, &'a [Event])>,
    ) -> Result<bool, String> {
        let matched: HashMap<String, CelValue> = stages
            .map(|(name, events)| {
                let list: Vec<CelValue> = events.iter().map(event_to_cel).collect();
                (name.to_string(), CelValue::List(Arc::new(list)))
            })
            .collect();
        boolean(
            &self.source,
            self.eval_with(event, Some(CelValue::from(matched)))?,
        )
    }

    fn eval_with(&self, event: &Event, matched: Option<CelValue>) -> Result<Value, String> {
        let mut ctx = Context::with_env(self.env.clone());
        for name in &self.variables {
            let value = event.get(name).map_or(CelValue::Null, to_cel);
            ctx.add_variable_from_value(name.as_str(), value);
        }
        if let Some(config) = &self.config {
            ctx.add_variable_from_value("config", (**config.load()).clone());
        }
        if self.uses_event {
            ctx.add_variable_from_value("event", event_to_cel(event));
        }
        if let Some(matched) = matched {
            ctx.add_variable_from_value("match", matched);
        }
        let result = CelValue::resolve(&self.expression, &ctx)
            .map_err(|e| format!("\"{}\": {e}{}", self.source, self.absent(event)))?;
        result
            .json()
            .map_err(|e| format!("\"{}\": {e}", self.source))
    }

    /// A hint naming the fields the expression reads that `event` lacks, for the
    /// message of a failed evaluation (a misspelt field shows there).
    fn absent(&self, event: &Event) -> String {
        let absent: Vec<&str> = self
            .variables
            .iter()
            .filter(|v| *v != "config" && *v != "match" && !event.contains_key(v.as_str()))
            .map(String::as_str)
            .collect();
        match absent.as_slice() {
            [] => String::new(),
            [one] => format!(" (the event has no field `{one}`)"),
            many => format!(" (the event has no fields `{}`)", many.join("`, `")),
        }
    }

    /// Evaluates a condition: the result must be a boolean.
    pub fn eval_bool(&self, event: &Event) -> Result<bool, String> {
        boolean(&self.source, self.eval(event)?)
    }

    /// Evaluates a condition in `scope`, which binds what this expression reads (see
    /// [`Scope`]).
    pub fn eval_bool_in(&self, scope: &Scope) -> Result<bool, String> {
        match CelValue::resolve(&self.expression, &scope.ctx) {
            Ok(CelValue::Bool(b)) => Ok(b),
            Ok(other) => Err(format!(
                "\"{}\" must give a boolean, gave {other:?}",
                self.source
            )),
            Err(e) => Err(format!("\"{}\": {e}", self.source)),
        }
    }
}

/// The variables of several expressions over one event, bound once: evaluating many
/// conditions on an event (a ruleset) converts each field it reads once, not once per
/// condition.
pub struct Scope {
    ctx: Context<'static, 'static>,
}

/// What a set of expressions reads: the fields, the whole event, `config`.
#[derive(Clone)]
pub struct Reads {
    env: Arc<Env>,
    variables: Vec<String>,
    uses_event: bool,
    config: Option<ConfigSource>,
}

impl Reads {
    /// What `exprs` read, together.
    pub fn of<'e>(exprs: impl IntoIterator<Item = &'e Expr>) -> Reads {
        let mut reads = Reads {
            env: numbers::env(),
            variables: Vec::new(),
            uses_event: false,
            config: None,
        };
        for e in exprs {
            for v in &e.variables {
                if !reads.variables.contains(v) && v != "config" {
                    reads.variables.push(v.clone());
                }
            }
            reads.uses_event |= e.uses_event;
            if reads.config.is_none() {
                reads.config = e.config.clone();
            }
        }
        reads
    }

    /// The scope of `event` for the expressions.
    pub fn scope(&self, event: &Event) -> Scope {
        let mut ctx = Context::with_env(self.env.clone());
        for name in &self.variables {
            let value = event.get(name).map_or(CelValue::Null, to_cel);
            ctx.add_variable_from_value(name.as_str(), value);
        }
        if self.uses_event {
            ctx.add_variable_from_value("event", event_to_cel(event));
        }
        if let Some(config) = &self.config {
            ctx.add_variable_from_value("config", (**config.load()).clone());
        }
        Scope { ctx }
    }
}

fn boolean(source: &str, value: Value) -> Result<bool, String> {
    match value {
        Value::Bool(b) => Ok(b),
        other => Err(format!("\"{source}\" must give a boolean, gave {other}")),
    }
}

/// A JSON value as CEL sees it: integers are `int` (or `uint` above `i64::MAX`), so that
/// `amount * 100` works on an integer field.
fn to_cel(value: &Value) -> CelValue {
    match value {
        Value::Null => CelValue::Null,
        Value::Bool(b) => CelValue::Bool(*b),
        Value::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => CelValue::Int(i),
            (None, Some(u)) => CelValue::UInt(u),
            _ => CelValue::Float(n.as_f64().unwrap_or(f64::NAN)),
        },
        Value::String(s) => CelValue::String(Arc::new(s.clone())),
        Value::Array(items) => CelValue::List(Arc::new(items.iter().map(to_cel).collect())),
        Value::Object(map) => object_to_cel(map),
    }
}

fn object_to_cel(map: &serde_json::Map<String, Value>) -> CelValue {
    let entries: HashMap<String, CelValue> =
        map.iter().map(|(k, v)| (k.clone(), to_cel(v))).collect();
    CelValue::from(entries)
}

fn event_to_cel(event: &Event) -> CelValue {
    let entries: HashMap<String, CelValue> = event
        .iter()
        .map(|(k, v)| (k.to_string(), to_cel(v)))
        .collect();
    CelValue::from(entries)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event(v: Value) -> Event {
        Event::from(v.as_object().unwrap().clone())
    }

    #[test]
    fn reads_fields_and_the_whole_event() {
        let e = event(json!({"amount": 150, "country": "NL", "meta": {"src": "a"}}));
        let cond = Expr::compile("amount > 100 && country == 'NL'").unwrap();
        assert!(cond.eval_bool(&e).unwrap());
        let m = Expr::compile("event.meta.src + '!'").unwrap();
        assert_eq!(m.eval(&e).unwrap(), json!("a!"));
        let scaled = Expr::compile("amount * 100 + 0").unwrap();
        assert_eq!(scaled.eval(&e).unwrap(), json!(15000));
        let missing = Expr::compile("nothing == null").unwrap();
        assert!(missing.eval_bool(&e).unwrap());
    }

    #[test]
    fn integers_and_floats_are_both_numbers() {
        let eval = |source: &str, e: Value| Expr::compile(source).unwrap().eval(&event(e));
        assert_eq!(eval("amount * 2.0", json!({"amount": 12})), Ok(json!(24.0)));
        assert_eq!(eval("amount * 2", json!({"amount": 12.5})), Ok(json!(25.0)));
        assert_eq!(eval("amount * 2", json!({"amount": 12})), Ok(json!(24)));
        assert_eq!(eval("a + b - 1", json!({"a": 1, "b": 0.5})), Ok(json!(0.5)));
        assert_eq!(eval("a / b", json!({"a": 7, "b": 2})), Ok(json!(3)));
        assert_eq!(eval("a / b", json!({"a": 7, "b": 2.0})), Ok(json!(3.5)));
        assert_eq!(eval("a + 1u", json!({"a": -3})), Ok(json!(-2)));
        let big = json!({"a": u64::MAX});
        assert_eq!(eval("a - 1", big.clone()), Ok(json!(u64::MAX - 1)));
        // Everything else keeps CEL's meaning.
        assert_eq!(eval("s + '!'", json!({"s": "a"})), Ok(json!("a!")));
        assert_eq!(eval("[1] + [2.5]", json!({})), Ok(json!([1, 2.5])));
        assert_eq!(
            eval("xs.map(x, x * 1.5)", json!({"xs": [1, 2.0]})),
            Ok(json!([1.5, 3.0]))
        );
        assert!(eval("a / 0", json!({"a": 1})).is_err());
        assert!(eval("a * 2", json!({"a": i64::MAX})).is_err());
        assert!(eval("s * 2", json!({"s": "a"})).is_err());
        assert!(eval("missing * 2", json!({})).is_err());
        // Comparisons mix numbers too.
        assert_eq!(
            eval("a > 100.0 && b == 2", json!({"a": 150, "b": 2.0})),
            Ok(json!(true))
        );
    }

    #[test]
    fn reports_bad_expressions() {
        assert!(Expr::compile("amount >").is_err());
        let e = event(json!({"amount": 1}));
        assert!(Expr::compile("amount + 1").unwrap().eval_bool(&e).is_err());
    }
}
