//! The `lookup` transform: each event enriched with the row of a reference table under
//! one of its fields.
//!
//! Rows are read as Flink's async I/O reads them: the keys of a batch of events that the
//! instance's cache lacks are read in one request on a worker thread, while the events
//! of earlier batches go on (see [`styx_runtime::async_io`]); events leave in the order
//! they came. The cache holds at most [`CACHE_ROWS`] rows, each for at most the job's
//! refresh interval. When the store cannot be read, lookups use what the cache holds, the
//! job says so once, and reads are tried again after a refresh interval.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;
use styx_runtime::async_io::{Apply, Fetch};
use styx_runtime::event::{intern, Event, Name};
use styx_runtime::metrics::Slot;
use styx_runtime::stream::DataStream;
use styx_store::{Row, Store};

use crate::config::LookupConfig;
use crate::live::Live;
use crate::metrics::{counter, OperatorMetrics};

/// How many rows a cache holds before it starts over.
const CACHE_ROWS: usize = 100_000;

/// A lookup transform: its events with the row's fields, and (with a dead-letter id as
/// `missing`) the events whose key has no row.
pub(crate) fn lookup(
    id: &str,
    input: &DataStream<Event>,
    config: &LookupConfig,
    live: &Live,
    op: Option<&OperatorMetrics>,
) -> (DataStream<Event>, DataStream<Event>) {
    let counters = op.map(|o| (o.counter(counter::LOOKUPS), o.counter(counter::STORE_READS)));
    let (store, max_age) = (live.store().clone(), live.refresh());
    let table = config.table.clone();
    let key = config.key.clone();
    let fields: Vec<(Name, String)> = config
        .fields
        .iter()
        .map(|(f, c)| (intern(f), c.clone()))
        .collect();
    let missing = config.missing.clone();
    let name = format!("transforms.{id}");
    let batch_key = key.clone();
    let (out, dead) = input.flat_map_split_async(
        move |i| {
            let cache = RowCache::new(store.clone(), &table, max_age);
            match &counters {
                Some((lookups, reads)) => cache.counting(lookups.slot(0, i), reads.slot(0, i)),
                None => cache,
            }
        },
        // The rows a batch of events needs, read at once away from the stream.
        move |cache, events: &[Event]| {
            let keys: Vec<String> = events
                .iter()
                .filter_map(|e| key_text(e.get(&batch_key)))
                .collect();
            cache.start(keys)
        },
        move |cache, mut event: Event, out, dead| {
            let text = key_text(event.get(&key));
            let row = text.as_deref().and_then(|k| cache.get(k));
            match row {
                Some(row) if fields.is_empty() => {
                    for (column, value) in row {
                        event.insert(intern(column), value.clone());
                    }
                    out.push(event);
                }
                Some(row) => {
                    for (field, column) in &fields {
                        if let Some(value) = row.get(column) {
                            event.insert(field.clone(), value.clone());
                        }
                    }
                    out.push(event);
                }
                None => match missing.as_str() {
                    "keep" => out.push(event),
                    "drop" => {}
                    _ => {
                        let key = text.unwrap_or_default();
                        let mut letter = Event::new();
                        letter.insert("reason", Value::String(format!("no row for {key}")));
                        letter.insert("transform", Value::String(name.clone()));
                        letter.insert("event", event.into_value());
                        dead.push(letter);
                    }
                },
            }
        },
    );
    let out = out.with_timestamps_of(input);
    (out, dead)
}

/// The text a lookup key is: strings as they are, numbers and booleans written out.
fn key_text(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Rows of a table, read through a cache of bounded size whose entries live at most
/// `max_age`; one per operator instance.
pub(crate) struct RowCache {
    store: Arc<Store>,
    table: Arc<str>,
    max_age: Duration,
    /// Rows by key, with when they were read; `None`: the table has no such row.
    rows: HashMap<String, (Instant, Option<Row>)>,
    /// Keys whose reads are under way.
    reading: HashSet<String>,
    /// While the store cannot be read: when to try again.
    retry_at: Option<Instant>,
    /// Where the keys looked up and the keys read from the store are counted.
    counts: Option<(Arc<Slot>, Arc<Slot>)>,
}

impl RowCache {
    pub(crate) fn new(store: Arc<Store>, table: &str, max_age: Duration) -> Self {
        RowCache {
            store,
            table: Arc::from(table),
            max_age,
            rows: HashMap::new(),
            reading: HashSet::new(),
            retry_at: None,
            counts: None,
        }
    }

    /// Counts the keys looked up in `lookups` and those read from the store in `reads`.
    pub(crate) fn counting(mut self, lookups: Arc<Slot>, reads: Arc<Slot>) -> Self {
        self.counts = Some((lookups, reads));
        self
    }

    /// The keys of `keys` to read: neither cached (and fresh) nor being read; none while
    /// the store is unreachable and not yet due for another try.
    fn keys_to_read(&mut self, keys: Vec<String>) -> Vec<String> {
        if self.resting() {
            return Vec::new();
        }
        let mut missing: Vec<String> = keys
            .into_iter()
            .filter(|k| {
                !self.reading.contains(k)
                    && self
                        .rows
                        .get(k)
                        .is_none_or(|(at, _)| at.elapsed() >= self.max_age)
            })
            .collect();
        missing.sort_unstable();
        missing.dedup();
        if let Some((_, reads)) = &self.counts {
            reads.add(missing.len() as u64);
        }
        missing
    }

    /// The read of the rows `keys` need, to run away from the stream; `None` when the
    /// cache has them all (or the store is not to be tried now).
    pub(crate) fn start(&mut self, keys: Vec<String>) -> Option<Fetch<RowCache>> {
        if let Some((lookups, _)) = &self.counts {
            lookups.add(keys.len() as u64);
        }
        let missing = self.keys_to_read(keys);
        if missing.is_empty() {
            return None;
        }
        self.reading.extend(missing.iter().cloned());
        let (store, table) = (self.store.clone(), self.table.clone());
        Some(Box::new(move || {
            let refs: Vec<&str> = missing.iter().map(String::as_str).collect();
            let found = store.rows(&table, &refs).map_err(|e| e.to_string());
            Box::new(move |cache: &mut RowCache| cache.apply(missing, found)) as Apply<RowCache>
        }))
    }

    /// Whether the store was found unreachable and is not yet to be tried again.
    fn resting(&self) -> bool {
        self.retry_at.is_some_and(|at| Instant::now() < at)
    }

    /// Takes the rows read for `keys` into the cache.
    fn apply(&mut self, keys: Vec<String>, found: Result<Vec<(String, Row)>, String>) {
        for key in &keys {
            self.reading.remove(key);
        }
        match found {
            Ok(found) => {
                if self.retry_at.take().is_some() {
                    tracing::warn!(table = %self.table, "the store can be read again");
                }
                if self.rows.len() + keys.len() > CACHE_ROWS {
                    self.rows.clear();
                }
                let now = Instant::now();
                for key in keys {
                    self.rows.insert(key, (now, None));
                }
                for (key, row) in found {
                    self.rows.insert(key, (now, Some(row)));
                }
            }
            Err(e) => {
                if self.retry_at.is_none() {
                    tracing::warn!(table = %self.table, "the store cannot be read; lookups use what is cached: {e}");
                }
                self.retry_at = Some(Instant::now() + self.max_age);
            }
        }
    }

    /// The row under `key`, if the table has one. The row its batch's read brought is
    /// used as it is; a key the cache lost since (or never read, as while the store was
    /// down) is read alone.
    pub(crate) fn get(&mut self, key: &str) -> Option<&Row> {
        if !self.rows.contains_key(key) {
            if self.resting() {
                return None;
            }
            if let Some((_, reads)) = &self.counts {
                reads.add(1);
            }
            let found = self
                .store
                .rows(&self.table, &[key])
                .map_err(|e| e.to_string());
            self.apply(vec![key.to_string()], found);
        }
        self.rows.get(key).and_then(|(_, row)| row.as_ref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(n: i64) -> Row {
        let mut row = Row::new();
        row.insert("n".into(), Value::from(n));
        row
    }

    #[test]
    fn a_batch_reads_only_the_keys_the_cache_lacks() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open(&styx_store::default_url(dir.path())).unwrap());
        store
            .load_rows("t", &[("a".into(), row(1)), ("b".into(), row(2))])
            .unwrap();
        let mut cache = RowCache::new(store.clone(), "t", Duration::from_secs(60));
        let fetch = cache
            .start(vec!["a".into(), "c".into(), "a".into()])
            .unwrap();
        // Keys being read are not read twice.
        assert!(cache.start(vec!["a".into(), "c".into()]).is_none());
        fetch()(&mut cache);
        assert_eq!(cache.get("a"), Some(&row(1)));
        assert_eq!(cache.get("c"), None);
        // Cached now, absent rows included: nothing to read.
        assert!(cache.start(vec!["a".into(), "c".into()]).is_none());
        let fetch = cache.start(vec!["b".into()]).unwrap();
        fetch()(&mut cache);
        assert_eq!(cache.get("b"), Some(&row(2)));
    }

    #[test]
    fn an_unreachable_store_is_tried_again_after_the_refresh_interval() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open(&styx_store::default_url(dir.path())).unwrap());
        store.load_rows("t", &[("a".into(), row(1))]).unwrap();
        let mut cache = RowCache::new(store, "t", Duration::from_millis(50));
        cache.apply(vec!["a".into()], Err("down".into()));
        assert!(cache.retry_at.is_some());
        // Not tried while the store is down: the key has no row for now.
        assert!(cache.start(vec!["a".into()]).is_none());
        assert_eq!(cache.get("a"), None);
        std::thread::sleep(Duration::from_millis(60));
        assert_eq!(cache.get("a"), Some(&row(1)));
        assert!(cache.retry_at.is_none());
    }
}
