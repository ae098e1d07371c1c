//! Stateless steps, unions, fan-out, keyed process functions with state and timers, and
//! idle sources, through the public API.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{within_patience, FnSource, PATIENCE};
use styx_runtime::prelude::*;

#[test]
fn map_filter_and_flat_map_chain() {
    let env = Environment::new(2);
    let out = env
        .from_iter(0..100u32)
        .filter(|i| i % 10 == 0)
        .flat_map(|i, out| {
            out.push(i);
            out.push(i + 1);
        })
        .map(|i| i * 2)
        .collect();
    env.execute().unwrap();
    let mut got = out.take();
    got.sort();
    let expected: Vec<u32> = (0..10).flat_map(|t| [t * 20, t * 20 + 2]).collect();
    assert_eq!(got, expected);
}

#[test]
fn union_merges_streams_and_a_stream_read_twice_feeds_both_consumers() {
    let env = Environment::new(2);
    let a = env.from_iter(0..50u32);
    let b = env.from_iter(1000..1020u32);
    let both = a.union(&b);
    // Fan-out: `both` feeds a filter and a keyed aggregation.
    let evens = both.filter(|i| i % 2 == 0).collect();
    let all = both.collect();
    let counts = both
        .key_by(|i: &u32| i % 3)
        .count_window(1, Count, |k, n| (*k, n))
        .collect();
    env.execute().unwrap();
    let mut all = all.take();
    all.sort();
    let expected: Vec<u32> = (0..50).chain(1000..1020).collect();
    assert_eq!(all, expected);
    let mut evens = evens.take();
    evens.sort();
    assert_eq!(
        evens,
        expected
            .iter()
            .copied()
            .filter(|i| i % 2 == 0)
            .collect::<Vec<_>>()
    );
    assert_eq!(counts.take().len(), 70);
}

#[test]
fn a_union_of_a_stream_with_itself_sees_every_record_twice() {
    let env = Environment::new(1);
    let a = env.from_iter(0..10u32);
    let out = a.union(&a).collect();
    env.execute().unwrap();
    let mut got = out.take();
    got.sort();
    let expected: Vec<u32> = (0..10).flat_map(|i| [i, i]).collect();
    assert_eq!(got, expected);
}

/// Records of inputs that keep their time in different places (a window's results, a
/// pattern's matches) keep each their own event time through a union.
#[test]
fn a_union_of_differently_timed_streams_times_each_record_by_its_own_input() {
    let env = Environment::new(1);
    // (a's time, b's time): each input reads its own field; the other is absent (MIN).
    let a = env
        .from_iter((0..5i64).map(|i| (i * 10, i64::MIN)))
        .with_timestamp_fn(Arc::new(|r: &(i64, i64)| r.0));
    let b = env
        .from_iter((0..5i64).map(|i| (i64::MIN, 1000 + i)))
        .with_timestamp_fn(Arc::new(|r: &(i64, i64)| r.1));
    let both = a.union(&b);
    let time = both
        .timestamps()
        .expect("a union of timed streams is timed");
    let out = both.collect();
    env.execute().unwrap();
    let mut times: Vec<i64> = out.take().iter().map(|r| time(r)).collect();
    times.sort();
    assert_eq!(times, vec![0, 10, 20, 30, 40, 1000, 1001, 1002, 1003, 1004]);
}

#[test]
fn filter_keeps_timestamps_for_event_time_windows() {
    let env = Environment::new(1);
    let out = env
        .from_iter((0..100i64).map(|i| (i % 2, i * 10)))
        .assign_timestamps_and_watermarks(WatermarkStrategy::bounded_out_of_orderness(
            Duration::ZERO,
            |r: &(i64, i64)| r.1,
        ))
        .filter(|r| r.0 == 0)
        .key_by(|r: &(i64, i64)| r.0)
        .window(WindowAssigner::tumbling(Duration::from_millis(100)))
        .aggregate(Count, |_, w, n| (w.start, n))
        .results
        .collect();
    env.execute().unwrap();
    let mut got = out.take();
    got.sort();
    assert_eq!(got, (0..10).map(|w| (w * 100, 5)).collect::<Vec<_>>());
}

/// Counts records per key and reports the count at `ts + 10` (event time), registering
/// the timer twice (one firing) and a decoy timer that it deletes, and clearing
/// the key's state when a timer fires.
struct CountThenReport;

impl KeyedProcessFunction<u8, (u8, i64), (u8, i64, u32)> for CountThenReport {
    type State = u32;

    fn process(
        &self,
        value: (u8, i64),
        state: &mut u32,
        ctx: &mut KeyedContext<'_, u8, (u8, i64, u32)>,
    ) {
        *state += 1;
        let ts = ctx.timestamp().expect("records have timestamps");
        assert_eq!(ts, value.1);
        ctx.register_event_time_timer(ts + 10);
        ctx.register_event_time_timer(ts + 10);
        ctx.register_event_time_timer(ts + 7);
        ctx.delete_event_time_timer(ts + 7);
    }

    fn on_timer(
        &self,
        time: Timestamp,
        domain: TimeDomain,
        state: &mut u32,
        ctx: &mut KeyedContext<'_, u8, (u8, i64, u32)>,
    ) {
        assert_eq!(domain, TimeDomain::EventTime);
        assert!(ctx.watermark() >= time);
        ctx.collect((*ctx.key(), time, *state));
        ctx.clear_state();
    }
}

#[test]
fn keyed_process_keeps_state_per_key_and_fires_event_time_timers_once() {
    let env = Environment::new(2);
    let out = env
        .from_iter(vec![(1u8, 0i64), (2, 3), (1, 5), (1, 30), (2, 31)])
        .assign_timestamps_and_watermarks(
            WatermarkStrategy::bounded_out_of_orderness(Duration::ZERO, |r: &(u8, i64)| r.1)
                .with_emission(Emission::PerEvent),
        )
        .key_by(|r: &(u8, i64)| r.0)
        .process(CountThenReport)
        .collect();
    env.execute().unwrap();
    let mut got = out.take();
    got.sort();
    // Key 1 counts 3 records (0, 5, 30) before watermark 29 fires its timers 10 (count 3,
    // then cleared) and 15 (a fresh count of 0); timer 40 fires at the end of input, still
    // 0. Key 2: timer 13 sees 1 and clears; the record at 31 makes timer 41 see 1.
    assert_eq!(
        got,
        vec![(1, 10, 3), (1, 15, 0), (1, 40, 0), (2, 13, 1), (2, 41, 1)]
    );
}

/// Registers a processing-time timer a few milliseconds ahead and reports when it fires.
struct RemindMe;

impl KeyedProcessFunction<u8, u8, (u8, TimeDomain)> for RemindMe {
    type State = ();

    fn process(&self, _: u8, _: &mut (), ctx: &mut KeyedContext<'_, u8, (u8, TimeDomain)>) {
        let at = ctx.processing_time() + 5;
        ctx.register_processing_time_timer(at);
    }

    fn on_timer(
        &self,
        time: Timestamp,
        domain: TimeDomain,
        _: &mut (),
        ctx: &mut KeyedContext<'_, u8, (u8, TimeDomain)>,
    ) {
        assert!(ctx.processing_time() >= time);
        ctx.collect((*ctx.key(), domain));
    }
}

/// Raises a flag when it receives anything, and keeps what it received.
struct FlagSink<T>(Arc<AtomicBool>, Arc<std::sync::Mutex<Vec<T>>>);

impl<T: Send> Sink<T> for FlagSink<T> {
    fn write(&mut self, batch: &mut Vec<T>) -> Result<(), BoxError> {
        if !batch.is_empty() {
            self.1.lock().unwrap().append(batch);
            self.0.store(true, Ordering::SeqCst);
        }
        Ok(())
    }
}

/// A source that sends `first`, then stays open (idle) until `until` is raised, or gives
/// up after half the test's patience and raises `gave_up`.
fn hold_open<T: Send + 'static>(
    first: Vec<T>,
    until: Arc<AtomicBool>,
    gave_up: Arc<AtomicBool>,
) -> Box<dyn Source<T>> {
    let mut first = Some(first);
    let started = Instant::now();
    Box::new(FnSource(move |out: &mut Vec<T>| {
        if let Some(first) = first.take() {
            out.extend(first);
            return Poll::Ready;
        }
        if until.load(Ordering::SeqCst) {
            return Poll::Finished;
        }
        if started.elapsed() > PATIENCE / 2 {
            gave_up.store(true, Ordering::SeqCst);
            return Poll::Finished;
        }
        std::thread::sleep(Duration::from_millis(1));
        Poll::Idle
    }))
}

#[test]
fn keyed_process_fires_processing_time_timers_while_the_input_is_open() {
    let seen = Arc::new(AtomicBool::new(false));
    let gave_up = Arc::new(AtomicBool::new(false));
    let got = Arc::new(std::sync::Mutex::new(Vec::new()));
    let (s, g, s2, got2) = (seen.clone(), gave_up.clone(), seen.clone(), got.clone());
    within_patience(move || {
        let env = Environment::new(1);
        env.source("open", 1, move |_, _| {
            Ok(hold_open(vec![7u8, 8], s.clone(), g.clone()))
        })
        .key_by(|k: &u8| *k)
        .process(RemindMe)
        .sink("flag", 1, move |_| Ok(FlagSink(s2.clone(), got2.clone())));
        env.execute().unwrap();
    });
    assert!(
        !gave_up.load(Ordering::SeqCst),
        "no timer fired while the input was open"
    );
    let got = got.lock().unwrap();
    assert!(got
        .iter()
        .all(|(k, d)| (*k == 7 || *k == 8) && *d == TimeDomain::ProcessingTime));
}

#[test]
fn an_idle_source_does_not_hold_back_the_watermark_of_a_union() {
    // Source A sends event time 0..=30 s and stays open; source B sends one record at
    // ts 0 and then nothing. Without idleness, B's watermark would hold the window [0,10s)
    // until B ends, and B ends only once a window has fired (or the test gives up).
    let fired = Arc::new(AtomicBool::new(false));
    let gave_up = Arc::new(AtomicBool::new(false));
    let got = Arc::new(std::sync::Mutex::new(Vec::new()));
    let (f1, f2, f3) = (fired.clone(), fired.clone(), fired.clone());
    let (g1, g2, got2) = (gave_up.clone(), gave_up.clone(), got.clone());
    within_patience(move || {
        let env = Environment::new(1);
        let per_event = |s: WatermarkStrategy<(u8, i64)>| s.with_emission(Emission::PerEvent);
        let a = env
            .source("active", 1, move |_, _| {
                let events: Vec<(u8, i64)> = (0..=30).map(|s| (0u8, s * 1000)).collect();
                Ok(hold_open(events, f1.clone(), g1.clone()))
            })
            .assign_timestamps_and_watermarks(per_event(
                WatermarkStrategy::bounded_out_of_orderness(Duration::ZERO, |r: &(u8, i64)| r.1),
            ));
        let b = env
            .source("goes-idle", 1, move |_, _| {
                Ok(hold_open(vec![(1u8, 0i64)], f2.clone(), g2.clone()))
            })
            .assign_timestamps_and_watermarks(per_event(
                WatermarkStrategy::bounded_out_of_orderness(Duration::ZERO, |r: &(u8, i64)| r.1)
                    .with_idleness(Duration::from_millis(20)),
            ));
        a.union(&b)
            .key_by(|r: &(u8, i64)| r.0)
            .window(WindowAssigner::tumbling(Duration::from_secs(10)))
            .aggregate(Count, |k, w, n| (*k, w.start, n))
            .results
            .sink("flag", 1, move |_| Ok(FlagSink(f3.clone(), got2.clone())));
        env.execute().unwrap();
    });
    assert!(
        !gave_up.load(Ordering::SeqCst),
        "the idle source held the watermark back"
    );
    let got = got.lock().unwrap();
    assert!(got.contains(&(0, 0, 10)), "{got:?}");
    assert!(got.contains(&(1, 0, 1)), "{got:?}");
}

#[test]
fn a_source_without_idleness_holds_back_the_watermark_until_it_ends() {
    // The same union with no idleness on B: B stays silent for a while and then ends. No
    // window may fire while B is silent; all fire at the end of input.
    let fired = Arc::new(AtomicBool::new(false));
    let fired_while_silent = Arc::new(AtomicBool::new(false));
    let got = Arc::new(std::sync::Mutex::new(Vec::new()));
    let (f1, f2, early, got2) = (
        fired.clone(),
        fired.clone(),
        fired_while_silent.clone(),
        got.clone(),
    );
    within_patience(move || {
        let env = Environment::new(1);
        let strategy = || {
            WatermarkStrategy::bounded_out_of_orderness(Duration::ZERO, |r: &(u8, i64)| r.1)
                .with_emission(Emission::PerEvent)
        };
        let a = env
            .from_iter((0..=30).map(|s| (0u8, s * 1000)))
            .assign_timestamps_and_watermarks(strategy());
        let b = env
            .source("silent", 1, move |_, _| {
                let (fired, early) = (f1.clone(), early.clone());
                let mut sent = false;
                let started = Instant::now();
                Ok(Box::new(FnSource(move |out: &mut Vec<(u8, i64)>| {
                    if !sent {
                        sent = true;
                        out.push((1, 0));
                        return Poll::Ready;
                    }
                    if started.elapsed() > Duration::from_millis(200) {
                        early.store(fired.load(Ordering::SeqCst), Ordering::SeqCst);
                        return Poll::Finished;
                    }
                    std::thread::sleep(Duration::from_millis(1));
                    Poll::Idle
                })) as Box<dyn Source<(u8, i64)>>)
            })
            .assign_timestamps_and_watermarks(strategy());
        a.union(&b)
            .key_by(|r: &(u8, i64)| r.0)
            .window(WindowAssigner::tumbling(Duration::from_secs(10)))
            .aggregate(Count, |k, w, n| (*k, w.start, n))
            .results
            .sink("flag", 1, move |_| Ok(FlagSink(f2.clone(), got2.clone())));
        env.execute().unwrap();
    });
    assert!(
        !fired_while_silent.load(Ordering::SeqCst),
        "a window fired while a silent, non-idle source held the watermark"
    );
    let mut got = got.lock().unwrap().clone();
    got.sort();
    assert_eq!(
        got,
        vec![
            (0, 0, 10),
            (0, 10000, 10),
            (0, 20000, 10),
            (0, 30000, 1),
            (1, 0, 1)
        ]
    );
}
