//! Pattern matching as a dataflow operator: at any parallelism it finds what one instance
//! finds, and a job stopped with a savepoint and resumed (at the same or another
//! parallelism, in memory or on disk) finds what an uninterrupted one finds.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use proptest::prelude::*;
use styx_runtime::cep::{AfterMatchSkip, Context, LivePattern, Match, Pattern, WithinType};
use styx_runtime::checkpoint::coordinator::CheckpointConfig;
use styx_runtime::checkpoint::store::{Snapshot, Store};
use styx_runtime::prelude::*;
use styx_runtime::state::StateBackend;

mod common;

use common::Held;

/// (key, kind, value, ts)
type Ev = (u8, u8, i64, i64);

/// What a run found: matches, timed-out partial matches, late events.
type Found = (Vec<String>, Vec<String>, Vec<Ev>);

const OUT_OF_ORDERNESS: Duration = Duration::from_millis(30);

fn kind(k: u8) -> impl Fn(&Ev, &Context<'_, Ev>) -> bool + Send + Sync {
    move |e, _| e.1 == k
}

/// Patterns that use every kind of stage, quantifier, window and skip strategy.
fn patterns() -> Vec<Pattern<Ev>> {
    vec![
        Pattern::begin("a")
            .condition(kind(0))
            .followed_by("b")
            .condition(kind(1))
            .one_or_more()
            .greedy()
            .followed_by("c")
            .condition(|e: &Ev, _: &Context<'_, Ev>| e.1 == 2 || e.1 == 1)
            .within(Duration::from_millis(200))
            .after_match(AfterMatchSkip::SkipPastLastEvent),
        Pattern::begin("a")
            .condition(kind(0))
            .not_followed_by("no")
            .condition(kind(3))
            .within(Duration::from_millis(100)),
        Pattern::begin("first")
            .condition(|e: &Ev, _: &Context<'_, Ev>| e.2 > 2)
            .next("rise")
            .condition(|e: &Ev, ctx: &Context<'_, Ev>| {
                let before = ctx.events("rise").last().or(ctx.events("first").last());
                before.is_some_and(|b| e.2 > b.2)
            })
            .times_or_more(2)
            .consecutive()
            .within(Duration::from_millis(300))
            .after_match(AfterMatchSkip::SkipToNext),
        Pattern::begin("a")
            .condition(kind(0))
            .followed_by_any("b")
            .condition(kind(1))
            .optional()
            .followed_by("c")
            .condition(kind(2))
            .one_or_more()
            .until(kind(3))
            .after_match(AfterMatchSkip::SkipToFirst("c".into())),
        Pattern::begin("a")
            .condition(kind(0))
            .followed_by("b")
            .condition(kind(1))
            .times_range(1, 3)
            .allow_combinations()
            .followed_by("c")
            .condition(kind(2))
            .within_between(Duration::from_millis(50), WithinType::PreviousAndCurrent)
            .after_match(AfterMatchSkip::SkipToLast("b".into())),
    ]
}

fn describe(key: &u8, m: Match<Ev>) -> String {
    let stages: Vec<String> = m
        .stages
        .iter()
        .map(|(s, es)| {
            let ts: Vec<String> = es.iter().map(|e| e.3.to_string()).collect();
            format!("{s}={}", ts.join(","))
        })
        .collect();
    let timed_out = m.timed_out_at.map(|t| format!(" @{t}")).unwrap_or_default();
    format!("{key}:{}{timed_out}", stages.join(" "))
}

type Collected = (
    styx_runtime::stream::Collected<String>,
    styx_runtime::stream::Collected<String>,
    styx_runtime::stream::Collected<Ev>,
);

fn job(env: &Environment, pattern: &Pattern<Ev>, source: Held<Ev>) -> Collected {
    let source = std::sync::Mutex::new(Some(source));
    let streams = env
        .source("events", 1, move |_, _| {
            let s = source.lock().unwrap().take().expect("one source instance");
            Ok(Box::new(s) as Box<dyn Source<Ev>>)
        })
        .assign_timestamps_and_watermarks(
            WatermarkStrategy::bounded_out_of_orderness(OUT_OF_ORDERNESS, |e: &Ev| e.3)
                .with_emission(Emission::PerEvent),
        )
        .key_by(|e: &Ev| e.0)
        .pattern("pattern", pattern, describe)
        .expect("a valid pattern");
    (
        streams.matches.collect(),
        streams.timed_out.collect(),
        streams.late.collect(),
    )
}

fn take(c: Collected, into: &mut Found) {
    into.0.extend(c.0.take());
    into.1.extend(c.1.take());
    into.2.extend(c.2.take());
}

fn sorted(mut f: Found) -> Found {
    f.0.sort();
    f.1.sort();
    f.2.sort();
    f
}

fn run_through(pattern: &Pattern<Ev>, events: &Arc<Vec<Ev>>, parallelism: usize) -> Found {
    let env = Environment::new(parallelism);
    let reached = Arc::new(AtomicU64::new(0));
    let c = job(&env, pattern, Held::new(events, u64::MAX, &reached));
    env.execute().unwrap();
    let mut found = Found::default();
    take(c, &mut found);
    sorted(found)
}

/// Runs to event `stop_at`, stops with a savepoint at `p1`, resumes at `p2`.
fn run_with_savepoint(
    pattern: &Pattern<Ev>,
    events: &Arc<Vec<Ev>>,
    (p1, p2): (usize, usize),
    stop_at: u64,
    on_disk: bool,
) -> Found {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::new(dir.path().join("checkpoints"));
    let backend = |name: &str| {
        if on_disk {
            StateBackend::disk(dir.path().join(name)).unwrap()
        } else {
            StateBackend::Memory
        }
    };
    let reached = Arc::new(AtomicU64::new(0));
    let env = Environment::new(p1);
    env.set_state_backend(backend("first"));
    let handle = env.enable_checkpointing(CheckpointConfig {
        interval: None,
        store: store.clone(),
        retain: 3,
        restore: None,
    });
    let first = job(&env, pattern, Held::new(events, stop_at, &reached));
    let watcher = reached.clone();
    let taker = std::thread::spawn(move || {
        while watcher.load(Ordering::SeqCst) < stop_at {
            std::thread::sleep(Duration::from_millis(2));
        }
        handle.savepoint(true)
    });
    env.execute().unwrap();
    let savepoint = taker.join().unwrap().expect("savepoint");
    let snapshot = Arc::new(Snapshot::load(&savepoint).unwrap());

    let env = Environment::new(p2);
    env.set_state_backend(backend("second"));
    env.enable_checkpointing(CheckpointConfig {
        interval: None,
        store,
        retain: 3,
        restore: Some(snapshot),
    });
    let second = job(&env, pattern, Held::new(events, u64::MAX, &reached));
    env.execute().unwrap();
    let mut found = Found::default();
    take(first, &mut found);
    take(second, &mut found);
    sorted(found)
}

/// Events of 3 keys, 5 kinds, values 0..6, every 1-9 ms, shuffled by up to `disorder` ms.
fn events(seed: u64, n: usize, disorder: i64) -> Vec<Ev> {
    let mut x = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let mut ts = 1_000i64;
    (0..n)
        .map(|_| {
            ts += 1 + (next() % 9) as i64;
            let jitter = if disorder > 0 {
                (next() % disorder as u64) as i64
            } else {
                0
            };
            let r = next();
            (
                (r % 3) as u8,
                (r / 3 % 5) as u8,
                (r / 15 % 6) as i64,
                ts - jitter,
            )
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(12))]

    /// Several instances find what one finds, late events included.
    #[test]
    fn any_parallelism_finds_what_one_instance_finds(seed in any::<u64>(), disorder in 0i64..60) {
        let events = Arc::new(events(seed, 400, disorder));
        for pattern in patterns() {
            let one = run_through(&pattern, &events, 1);
            let three = run_through(&pattern, &events, 3);
            prop_assert_eq!(&one, &three);
        }
    }
}

#[test]
fn the_patterns_find_matches_timeouts_and_late_events() {
    let events = Arc::new(events(7, 400, 50));
    let mut totals = (0, 0, 0);
    for pattern in patterns() {
        let (m, t, l) = run_through(&pattern, &events, 1);
        totals = (totals.0 + m.len(), totals.1 + t.len(), totals.2 + l.len());
        assert!(!m.is_empty(), "every pattern matches something");
    }
    assert!(totals.1 > 0 && totals.2 > 0, "{totals:?}");
}

#[test]
fn stop_with_savepoint_and_resume_equals_an_uninterrupted_run() {
    // Disorder within the watermark's bound: events wait for the watermark in the
    // savepoint, and none is late (a resumed job learns the watermark anew).
    let events = Arc::new(events(11, 600, 25));
    for (i, pattern) in patterns().iter().enumerate() {
        let expected = run_through(pattern, &events, 1);
        assert!(expected.2.is_empty());
        for (parallelism, on_disk) in [((1, 1), false), ((2, 3), false), ((3, 1), true)] {
            let got = run_with_savepoint(pattern, &events, parallelism, 277, on_disk);
            assert_eq!(
                got, expected,
                "pattern {i}, parallelism {parallelism:?}, state on disk: {on_disk}"
            );
        }
    }
}

/// A pattern replaced while the job runs matches the later events; the partial matches
/// of the old version are dropped.
#[test]
fn a_replaced_pattern_matches_the_later_events() {
    let followed = |second: u8, name: &str| {
        Pattern::begin("a")
            .condition(kind(0))
            .followed_by(name)
            .condition(kind(second))
    };
    let live = LivePattern::new(&followed(1, "b"), 1).unwrap();
    let events: Arc<Vec<Ev>> = Arc::new(vec![
        (1, 0, 0, 1),
        (1, 1, 0, 2),
        (1, 0, 0, 3),
        (1, 4, 0, 4),
        (1, 1, 0, 5),
        (1, 2, 0, 6),
        (1, 0, 0, 7),
        (1, 2, 0, 8),
    ]);
    let reached = Arc::new(AtomicU64::new(0));
    let env = Environment::new(2);
    let source = std::sync::Mutex::new(Some(Held::new(&events, 4, &reached)));
    let hold = source.lock().unwrap().as_ref().unwrap().hold.clone();
    let found = env
        .source("events", 1, move |_, _| {
            let s = source.lock().unwrap().take().expect("one source instance");
            Ok(Box::new(s) as Box<dyn Source<Ev>>)
        })
        .assign_timestamps_and_watermarks(
            WatermarkStrategy::bounded_out_of_orderness(Duration::ZERO, |e: &Ev| e.3)
                .with_emission(Emission::PerEvent),
        )
        .key_by(|e: &Ev| e.0)
        .live_pattern("pattern", &live, describe)
        .unwrap();
    let matches = found.matches.collect();
    let replacer = {
        let live = live.clone();
        std::thread::spawn(move || {
            while reached.load(Ordering::SeqCst) < 4 {
                std::thread::sleep(Duration::from_millis(2));
            }
            std::thread::sleep(Duration::from_millis(300));
            live.replace(&followed(2, "c"), 2).unwrap();
            hold.store(u64::MAX, Ordering::SeqCst);
        })
    };
    env.execute().unwrap();
    replacer.join().unwrap();
    let mut got = matches.take();
    got.sort();
    assert_eq!(got, vec!["1:a=1 b=2", "1:a=7 c=8"]);
    assert_eq!(live.version(), 2);
}
