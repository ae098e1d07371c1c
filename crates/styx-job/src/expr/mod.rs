//! Expressions in job files: the Common Expression Language (CEL) over an event's fields.
//!
//! Each top-level field of the event is a variable (a missing field is `null`, or an
//! error in pattern conditions: [`Expr::absent_fields_are_errors`]), and
//! `event` is the whole event: `amount > 100.0 && country != "NL"`,
//! `has(event.meta) ? event.meta.src : "none"`. `config` is the store's configuration
//! as the job sees it now (`config.fraud.threshold` reads key `fraud.threshold`).
//! Arithmetic mixes integers and floats (see [`numbers`]).

mod fast;
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
    /// The expression evaluated straight over the event, when it is of the subset
    /// [`fast`] evaluates.
    fast: Option<fast::Fast>,
    /// Whether a field the event lacks is an error rather than `null` (see
    /// [`Expr::absent_fields_are_errors`]).
    absent_is_error: bool,
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
        let expression = numbers::promote(program.expression().clone());
        let fast = fast::Fast::compile(&expression, &event_fields(&variables), false);
        Ok(Expr {
            source: source.to_string(),
            env,
            expression,
            variables,
            uses_event,
            config: None,
            fast,
            absent_is_error: false,
        })
    }

    /// The same expression, for which a variable naming a field the event lacks is an
    /// error (CEL's no such attribute), as in pattern conditions (FlinkCEP's conditions
    /// evaluated with CEL semantics): `value == 1` does not hold, and `!(value == 1)`
    /// neither, for an event without `value`. `&&` and `||` absorb the error when their
    /// other side decides.
    pub fn absent_fields_are_errors(mut self) -> Self {
        self.fast = fast::Fast::compile(&self.expression, &event_fields(&self.variables), true);
        self.absent_is_error = true;
        self
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
        if let Some(value) = self.fast.as_ref().and_then(|f| f.eval(event)) {
            return Ok(value);
        }
        let mut ctx = Context::with_env(self.env.clone());
        for name in &self.variables {
            match event.get(name) {
                Some(value) => ctx.add_variable_from_value(name.as_str(), to_cel(value)),
                // Left unbound: reading it is an error.
                None if self.absent_is_error => {}
                None => ctx.add_variable_from_value(name.as_str(), CelValue::Null),
            }
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
        if let Some(Value::Bool(b)) = self.fast.as_ref().and_then(|f| f.eval(scope.event)) {
            return Ok(b);
        }
        match CelValue::resolve(&self.expression, scope.context()) {
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
/// condition, and only for the conditions CEL itself evaluates.
pub struct Scope<'e> {
    reads: &'e Reads,
    event: &'e Event,
    ctx: std::cell::OnceCell<Context<'static, 'static>>,
}

impl Scope<'_> {
    fn context(&self) -> &Context<'static, 'static> {
        self.ctx.get_or_init(|| self.reads.context(self.event))
    }
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
    pub fn scope<'e>(&'e self, event: &'e Event) -> Scope<'e> {
        Scope {
            reads: self,
            event,
            ctx: std::cell::OnceCell::new(),
        }
    }

    /// The CEL context of `event` for the expressions.
    fn context(&self, event: &Event) -> Context<'static, 'static> {
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
        ctx
    }
}

/// The variables of an expression that are event fields (not `config` or `match`).
fn event_fields(variables: &[String]) -> Vec<String> {
    variables
        .iter()
        .filter(|v| !matches!(v.as_str(), "config" | "match"))
        .cloned()
        .collect()
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
    fn absent_fields_can_be_errors() {
        let strict = |source: &str, v: Value| {
            Expr::compile(source)
                .unwrap()
                .absent_fields_are_errors()
                .eval_bool(&event(v))
        };
        let without = json!({"kind": "a"});
        assert!(strict("value == 1", without.clone()).is_err());
        assert!(strict("!(value == 1)", without.clone()).is_err());
        assert!(strict("value == 1.5 && kind == 'a'", without.clone()).is_err());
        assert_eq!(
            strict("value == 1 || kind == 'a'", without.clone()),
            Ok(true)
        );
        assert_eq!(
            strict("kind == 'b' && value == 1", without.clone()),
            Ok(false)
        );
        assert_eq!(strict("has(event.value)", without.clone()), Ok(false));
        assert_eq!(strict("value == null", json!({"value": null})), Ok(true));
        assert_eq!(strict("!(value == 1)", json!({"value": 2})), Ok(true));
        let lenient = Expr::compile("!(value == 1)").unwrap();
        assert_eq!(lenient.eval_bool(&event(without)), Ok(true));
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

    #[test]
    fn simple_expressions_are_evaluated_without_cel() {
        for source in [
            "value > 50.0",
            "amount * 2.0 + 1",
            "a == 'x' && !(b <= 3) || c != true",
            "n > 1 ? n / 2 : -n",
            "amount > double(limit) * 0.5",
        ] {
            assert!(Expr::compile(source).unwrap().fast.is_some(), "{source}");
        }
        for source in [
            "event.a",
            "has(event.a)",
            "size(s) > 1",
            "config.x > 1",
            "a in [1, 2]",
        ] {
            assert!(Expr::compile(source).unwrap().fast.is_none(), "{source}");
        }
    }

    use proptest::prelude::*;

    /// A field value: integers (some near the ends of their range), doubles (NaN and
    /// infinities among them), strings, booleans, null, a list; or no field at all.
    fn field() -> impl Strategy<Value = Option<Value>> {
        prop_oneof![
            Just(None),
            Just(Some(Value::Null)),
            any::<bool>().prop_map(|b| Some(json!(b))),
            (-5i64..5).prop_map(|i| Some(json!(i))),
            prop_oneof![Just(i64::MAX), Just(i64::MIN), Just(i64::MAX / 2)]
                .prop_map(|i| Some(json!(i))),
            Just(Some(json!(u64::MAX))),
            (-4.0f64..4.0).prop_map(|d| Some(json!(d))),
            Just(Some(json!(2.5))),
            Just(Some(json!(0.0))),
            prop_oneof![Just("a"), Just("b"), Just(""), Just("ab")].prop_map(|s| Some(json!(s))),
            Just(Some(json!([1]))),
        ]
    }

    fn operand() -> impl Strategy<Value = String> {
        prop_oneof![
            prop_oneof![Just("a"), Just("b"), Just("c"), Just("missing")].prop_map(String::from),
            prop_oneof![
                Just("0"),
                Just("2"),
                Just("-3"),
                Just("2.5"),
                Just("0.0"),
                Just("'a'"),
                Just("'b'"),
                Just("true"),
                Just("false"),
                Just("null"),
                Just("9223372036854775807")
            ]
            .prop_map(String::from),
        ]
    }

    fn expression() -> impl Strategy<Value = String> {
        operand().prop_recursive(4, 24, 3, |inner| {
            prop_oneof![
                (
                    inner.clone(),
                    prop_oneof![Just("+"), Just("-"), Just("*"), Just("/")],
                    inner.clone()
                )
                    .prop_map(|(a, op, b)| format!("({a} {op} {b})")),
                (
                    inner.clone(),
                    prop_oneof![
                        Just("=="),
                        Just("!="),
                        Just("<"),
                        Just("<="),
                        Just(">"),
                        Just(">=")
                    ],
                    inner.clone()
                )
                    .prop_map(|(a, op, b)| format!("({a} {op} {b})")),
                (
                    inner.clone(),
                    prop_oneof![Just("&&"), Just("||")],
                    inner.clone()
                )
                    .prop_map(|(a, op, b)| format!("({a} {op} {b})")),
                inner.clone().prop_map(|a| format!("!({a})")),
                inner.clone().prop_map(|a| format!("-({a})")),
                inner.clone().prop_map(|a| format!("double({a})")),
                (inner.clone(), inner.clone(), inner)
                    .prop_map(|(c, t, e)| format!("({c} ? {t} : {e})")),
            ]
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4000))]

        /// Whatever the direct evaluation decides, CEL decides the same.
        #[test]
        fn the_direct_evaluation_agrees_with_cel(
            source in expression(),
            a in field(),
            b in field(),
            c in field(),
        ) {
            let Ok(mut expr) = Expr::compile(&source) else { return Ok(()) };
            let mut e = Event::new();
            for (name, value) in [("a", a), ("b", b), ("c", c)] {
                if let Some(v) = value {
                    e.insert(name, v);
                }
            }
            let Some(fast) = expr.fast.take() else { return Ok(()) };
            if let Some(direct) = fast.eval(&e) {
                let cel = expr.eval(&e);
                prop_assert_eq!(Ok(direct), cel, "{}", source);
            }
        }
    }
}
