//! A running job's view of the store: the configuration, models and rules it uses,
//! compiled once and swapped whole when the store changes, and reference rows read
//! through a bounded cache.
//!
//! A background thread looks at the store's revisions every `refresh`; when a kind the
//! job uses changed, it reloads what the job uses of it, compiles it off the hot path,
//! and swaps it in behind an `Arc`. Each event loads the current version once, so it is
//! handled entirely by one version. A change that does not compile for the job (a rule
//! that no longer parses, a model that no longer fits the job's fields) is refused: the
//! job keeps the version it has and logs the reason once. An unreachable store is
//! logged once; the job goes on with what it has and picks the changes up when the store
//! is back.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use serde_json::Value;
use styx_store::{Kind, Rule, Store};

use crate::expr::{config_value, ConfigSource, Expr, Reads};

/// Reloads something the job uses from the store; `Err` keeps the previous version.
type Watcher = Box<dyn FnMut(&Store) -> Result<(), String> + Send>;

/// The store as a running job sees it.
pub(crate) struct Live {
    store: Arc<Store>,
    refresh: Duration,
    config: ConfigSource,
    watchers: Arc<Mutex<Vec<(Kind, Watcher)>>>,
    /// What the job uses now, by name: the store, its revisions, model and pattern
    /// versions (recorded in checkpoints).
    in_use: Arc<Mutex<BTreeMap<String, Value>>>,
    stop: Arc<AtomicBool>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl Live {
    /// Opens the store at `url` and reads the configuration.
    pub(crate) fn open(url: &str, refresh: Duration) -> Result<Live, String> {
        let store = Store::open(url).map_err(|e| e.to_string())?;
        let config = store.config(None).map_err(|e| e.to_string())?;
        let live = Live {
            store: Arc::new(store),
            refresh,
            config: Arc::new(ArcSwap::from_pointee(config_value(&config))),
            watchers: Arc::new(Mutex::new(Vec::new())),
            in_use: Arc::new(Mutex::new(BTreeMap::new())),
            stop: Arc::new(AtomicBool::new(false)),
            thread: Mutex::new(None),
        };
        live.record("store.url", Value::String(url.to_string()));
        let config = live.config.clone();
        live.watch(Kind::Config, move |store| {
            let values = store.config(None).map_err(|e| e.to_string())?;
            config.store(Arc::new(config_value(&values)));
            Ok(())
        });
        Ok(live)
    }

    /// The store.
    pub(crate) fn store(&self) -> &Arc<Store> {
        &self.store
    }

    /// How long a cached row may be used.
    pub(crate) fn refresh(&self) -> Duration {
        self.refresh
    }

    /// CEL's `config`, kept current.
    pub(crate) fn config(&self) -> ConfigSource {
        self.config.clone()
    }

    /// Records what the job uses under `name` (see [`Live::in_use`]).
    pub(crate) fn record(&self, name: &str, value: Value) {
        lock(&self.in_use).insert(name.to_string(), value);
    }

    /// What the job uses now, by name; recorded in its checkpoints.
    pub(crate) fn in_use(&self) -> Arc<Mutex<BTreeMap<String, Value>>> {
        self.in_use.clone()
    }

    /// Calls `reload` whenever something of `kind` changed.
    pub(crate) fn watch(
        &self,
        kind: Kind,
        reload: impl FnMut(&Store) -> Result<(), String> + Send + 'static,
    ) {
        lock(&self.watchers).push((kind, Box::new(reload)));
    }

    /// Starts looking for changes.
    pub(crate) fn start(&self) {
        let (store, watchers, stop, refresh, in_use) = (
            self.store.clone(),
            self.watchers.clone(),
            self.stop.clone(),
            self.refresh,
            self.in_use.clone(),
        );
        let handle = std::thread::Builder::new()
            .name("store-refresh".into())
            .spawn(move || refresh_loop(&store, &watchers, &stop, refresh, &in_use))
            .expect("spawn the store's refresh thread");
        *lock(&self.thread) = Some(handle);
    }

    /// The rules of `ruleset`, kept current; the first version must compile.
    pub(crate) fn ruleset(&self, ruleset: &str) -> Result<Arc<ArcSwap<Ruleset>>, String> {
        let config = self.config();
        let compile = {
            let ruleset = ruleset.to_string();
            move |store: &Store| -> Result<Ruleset, String> {
                let rules = store.rules(Some(&ruleset)).map_err(|e| e.to_string())?;
                Ruleset::compile(rules, &config)
            }
        };
        let current = Arc::new(ArcSwap::from_pointee(compile(&self.store)?));
        let swap = current.clone();
        let name = ruleset.to_string();
        self.watch(Kind::Rules, move |store| {
            let next = compile(store).map_err(|e| format!("ruleset {name}: {e}"))?;
            if next.rules != swap.load().rules {
                tracing::info!(ruleset = %name, rules = next.rules.len(), "rules changed");
                swap.store(Arc::new(next));
            }
            Ok(())
        });
        Ok(current)
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = lock(&self.thread).take() {
            let _ = thread.join();
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn refresh_loop(
    store: &Store,
    watchers: &Mutex<Vec<(Kind, Watcher)>>,
    stop: &AtomicBool,
    refresh: Duration,
    in_use: &Mutex<BTreeMap<String, Value>>,
) {
    let mut seen: HashMap<Kind, i64> = HashMap::new();
    for kind in Kind::ALL {
        if let Ok(r) = store.revision(kind) {
            seen.insert(kind, r);
        }
    }
    let record = |seen: &HashMap<Kind, i64>| {
        let revisions: serde_json::Map<String, Value> = seen
            .iter()
            .map(|(k, r)| (k.name().to_string(), Value::from(*r)))
            .collect();
        lock(in_use).insert("store.revisions".into(), Value::Object(revisions));
    };
    record(&seen);
    let mut unreachable = false;
    // A failed reload is logged once, until it succeeds or fails differently.
    let mut refused: HashMap<usize, String> = HashMap::new();
    let tick = Duration::from_millis(50).min(refresh);
    let mut next = Instant::now() + refresh;
    while !stop.load(Ordering::Relaxed) {
        std::thread::sleep(tick);
        if Instant::now() < next {
            continue;
        }
        next = Instant::now() + refresh;
        let mut changed = Vec::new();
        let mut failed = None;
        for kind in Kind::ALL {
            match store.revision(kind) {
                Ok(r) => {
                    if seen.insert(kind, r) != Some(r) {
                        changed.push(kind);
                    }
                }
                Err(e) => failed = Some(e.to_string()),
            }
        }
        match (failed, unreachable) {
            (Some(e), false) => {
                tracing::warn!("the store cannot be read; going on with what the job has: {e}");
                unreachable = true;
                continue;
            }
            (Some(_), true) => continue,
            (None, true) => {
                tracing::warn!("the store can be read again");
                unreachable = false;
            }
            (None, false) => {}
        }
        if !changed.is_empty() {
            record(&seen);
        }
        let mut watchers = lock(watchers);
        for (i, (kind, reload)) in watchers.iter_mut().enumerate() {
            if !changed.contains(kind) {
                continue;
            }
            match reload(store) {
                Ok(()) => {
                    refused.remove(&i);
                }
                Err(e) => {
                    if refused.get(&i) != Some(&e) {
                        tracing::warn!(
                            "a change in the store is refused, the job keeps what it has: {e}"
                        );
                        refused.insert(i, e);
                    }
                }
            }
        }
    }
}

/// The enabled rules of a ruleset, compiled, highest priority first.
pub(crate) struct Ruleset {
    rules: Vec<Rule>,
    compiled: Vec<Expr>,
    reads: Reads,
}

impl Ruleset {
    fn compile(mut rules: Vec<Rule>, config: &ConfigSource) -> Result<Ruleset, String> {
        rules.retain(|r| r.enabled);
        rules.sort_by(|a, b| b.priority.cmp(&a.priority).then_with(|| a.id.cmp(&b.id)));
        let compiled = rules
            .iter()
            .map(|r| {
                Expr::compile(&r.condition)
                    .map(|e| e.with_config(config.clone()))
                    .map_err(|e| format!("rule {}: {e}", r.id))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let reads = Reads::of(&compiled);
        Ok(Ruleset {
            rules,
            compiled,
            reads,
        })
    }

    /// What the rules read of an event, bound once per event.
    pub(crate) fn reads(&self) -> &Reads {
        &self.reads
    }

    /// The rules, with their conditions.
    pub(crate) fn rules(&self) -> impl Iterator<Item = (&Rule, &Expr)> {
        self.rules.iter().zip(&self.compiled)
    }
}
