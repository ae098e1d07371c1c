//! Event-time, processing-time and count windows through the public API, on small inputs
//! whose results are worked out by hand from Flink's semantics.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{recs, run_engine, within_patience, Fired, FnSource, Function, Rec, Spec};
use styx_runtime::prelude::*;
use styx_runtime::window::CollectAll;

fn fired(key: u8, start: i64, end: i64, ids: &[u32]) -> Fired {
    (key, start, end, ids.to_vec())
}

fn sorted(mut v: Vec<Fired>) -> Vec<Fired> {
    v.sort();
    v
}

#[test]
fn tumbling_fires_at_end_minus_one_and_checks_each_record_against_the_watermark_before_it() {
    // ooo 0: after ts 1000 the watermark is 999, which fires [0, 1000); the ts-999 record
    // after it is late.
    let input = recs(&[(0, 0), (0, 999), (1, 500), (0, 1000), (0, 999), (1, 1999)]);
    let (results, late) = run_engine(&input, Spec::Tumbling(1000), 0, 0, 1, Function::Aggregate);
    assert_eq!(
        results,
        sorted(vec![
            fired(0, 0, 1000, &[0, 1]),
            fired(1, 0, 1000, &[2]),
            fired(0, 1000, 2000, &[3]),
            fired(1, 1000, 2000, &[5]),
        ])
    );
    assert_eq!(late, vec![4]);
}

#[test]
fn allowed_lateness_fires_again_per_late_record_then_sends_to_the_late_output() {
    // Size 10, out-of-orderness 0, lateness 5: [0,10) fires at watermark 9 and is dropped
    // at watermark 9 + 5 = 14.
    let input = recs(&[
        (0, 1),  // 0: [0,10)
        (0, 12), // 1: watermark 11 fires [0,10) = {0}
        (0, 4),  // 2: [0,10) is within lateness (9 + 5 = 14 > 11): fires {0, 2} at once
        (0, 13), // 3: watermark 12
        (0, 5),  // 4: fires {0, 2, 4}
        (0, 15), // 5: watermark 14 = cleanup time of [0,10): dropped
        (0, 6),  // 6: late: 6 + 5 <= 14
    ]);
    let (results, late) = run_engine(&input, Spec::Tumbling(10), 0, 5, 1, Function::Aggregate);
    assert_eq!(
        results,
        sorted(vec![
            fired(0, 0, 10, &[0]),
            fired(0, 0, 10, &[0, 2]),
            fired(0, 0, 10, &[0, 2, 4]),
            fired(0, 10, 20, &[1, 3, 5]),
        ])
    );
    assert_eq!(late, vec![6]);
}

#[test]
fn sliding_record_late_for_older_windows_counts_only_in_newer_ones() {
    // Size 20, slide 10: ts 15 is in [0,20) and [10,30). After ts 25 the watermark is 24:
    // [0,20) is late (19 <= 24), [10,30) is not.
    let input = recs(&[(0, 5), (0, 25), (0, 15)]);
    let (results, late) = run_engine(&input, Spec::Sliding(20, 10), 0, 0, 1, Function::Aggregate);
    assert_eq!(
        results,
        sorted(vec![
            fired(0, -10, 10, &[0]),
            fired(0, 0, 20, &[0]),
            fired(0, 10, 30, &[1, 2]),
            fired(0, 20, 40, &[1]),
        ])
    );
    assert!(late.is_empty(), "ts 15 is in a window that is not late");
}

#[test]
fn sliding_size_not_a_multiple_of_the_slide() {
    // Size 3, slide 2: windows [0,3), [2,5), [4,7); ts 2 is in [0,3) and [2,5), ts 4 in
    // [2,5) and [4,7), ts 5 in [4,7) only.
    let input = recs(&[(0, 2), (0, 5), (0, 4)]);
    let (results, _) = run_engine(&input, Spec::Sliding(3, 2), 100, 0, 1, Function::Aggregate);
    assert_eq!(
        results,
        sorted(vec![
            fired(0, 0, 3, &[0]),
            fired(0, 2, 5, &[0, 2]),
            fired(0, 4, 7, &[1, 2]),
        ])
    );
}

#[test]
fn sliding_size_smaller_than_slide_drops_gap_records_or_sends_them_late() {
    // Size 2, slide 5: windows [0,2), [5,7), [10,12). ts 3 falls in a gap: dropped while
    // not late, to the late output once ts + lateness <= watermark.
    let input = recs(&[(0, 1), (0, 3), (0, 11), (0, 3), (0, 6)]);
    let (results, late) = run_engine(&input, Spec::Sliding(2, 5), 0, 0, 1, Function::Aggregate);
    assert_eq!(
        results,
        sorted(vec![fired(0, 0, 2, &[0]), fired(0, 10, 12, &[2])])
    );
    // Record 1 (ts 3, watermark 0) vanishes; record 3 (ts 3, watermark 10) and record 4
    // (ts 6, in [5,7) which is late) go to the late output.
    assert_eq!(late, vec![3, 4]);
}

#[test]
fn sessions_merge_when_they_touch_and_late_records_can_bridge_fired_sessions() {
    // Gap 10, lateness 100. [0,10) and [10,20) touch: one session.
    let input = recs(&[
        (0, 0),  // 0
        (0, 10), // 1: touches [0,10): session [0,20)
        (0, 40), // 2: watermark 39 fires [0,20) = {0,1}
        (0, 60), // 3: watermark 59 fires [40,50) = {2}
        (0, 25), // 4: late but within lateness: [25,35) touches nothing; fires at once
        (0, 30), // 5: [30,40) merges [25,35) and touches [40,50): bridges into [25,50)
    ]);
    let (results, late) = run_engine(&input, Spec::Session(10), 0, 100, 1, Function::Aggregate);
    assert_eq!(
        results,
        sorted(vec![
            fired(0, 0, 20, &[0, 1]),
            fired(0, 40, 50, &[2]),
            fired(0, 25, 35, &[4]),
            fired(0, 25, 50, &[2, 4, 5]),
            fired(0, 60, 70, &[3]),
        ])
    );
    assert!(late.is_empty());
}

#[test]
fn a_late_session_record_goes_to_the_late_output_only_if_it_joins_nothing() {
    // Gap 10, lateness 0. After ts 100 (watermark 99) a record at ts 95 opens [95,105),
    // which merges with the open session [100,110): it is not late. A record at ts 50
    // opens [50,60), late and alone: late output.
    let input = recs(&[(0, 100), (0, 95), (0, 50)]);
    let (results, late) = run_engine(&input, Spec::Session(10), 0, 0, 1, Function::Aggregate);
    assert_eq!(results, vec![fired(0, 95, 110, &[0, 1])]);
    assert_eq!(late, vec![2]);
}

#[test]
fn process_window_function_sees_all_records_and_may_emit_several() {
    let env = Environment::new(1);
    let out = env
        .from_iter(recs(&[(0, 1), (0, 2), (1, 3), (0, 12)]))
        .assign_timestamps_and_watermarks(WatermarkStrategy::bounded_out_of_orderness(
            Duration::ZERO,
            |r: &Rec| r.ts,
        ))
        .key_by(|r: &Rec| r.key)
        .window(WindowAssigner::tumbling(Duration::from_millis(10)))
        .process(|key, window, records, out| {
            for r in records {
                out.collect((*key, window.start, r.id, records.len()));
            }
        })
        .results
        .collect();
    env.execute().unwrap();
    let mut got = out.take();
    got.sort();
    assert_eq!(
        got,
        vec![(0, 0, 0, 2), (0, 0, 1, 2), (0, 10, 3, 1), (1, 0, 2, 1)]
    );
}

/// A source that hands out one record per poll, so that every record is a batch of its
/// own and periodic watermarks are checked after each.
fn one_per_poll(records: Vec<Rec>) -> impl FnMut(&mut Vec<Rec>) -> Poll + Send {
    let mut it = records.into_iter();
    move |out| match it.next() {
        Some(r) => {
            out.push(r);
            Poll::Ready
        }
        None => Poll::Finished,
    }
}

fn count_late(emission: Emission) -> (u64, usize) {
    let input = recs(&[(0, 0), (0, 1000), (0, 5), (0, 2000), (0, 7)]);
    let env = Environment::new(1);
    let windowed = env
        .source("one-per-poll", 1, move |_, _| {
            Ok(Box::new(FnSource(one_per_poll(input.clone()))) as Box<dyn Source<Rec>>)
        })
        .assign_timestamps_and_watermarks(
            WatermarkStrategy::bounded_out_of_orderness(Duration::ZERO, |r: &Rec| r.ts)
                .with_emission(emission),
        )
        .key_by(|r: &Rec| r.key)
        .window(WindowAssigner::tumbling(Duration::from_millis(1000)))
        .aggregate(Count, |_, _, n| n);
    let counts = windowed.results.collect();
    let late = windowed.late.collect();
    env.execute().unwrap();
    (counts.take().iter().sum(), late.take().len())
}

#[test]
fn per_event_watermarks_make_records_late_that_a_long_periodic_interval_does_not() {
    // Per event: ts 5 and ts 7 arrive after watermarks 999 and 1999.
    assert_eq!(count_late(Emission::PerEvent), (3, 2));
    // Periodic with an interval longer than the job: the only watermark is the end of
    // input, so nothing is late.
    assert_eq!(
        count_late(Emission::Periodic(Duration::from_secs(3600))),
        (5, 0)
    );
    // Periodic with a zero interval checks after every batch: like per event here.
    assert_eq!(count_late(Emission::Periodic(Duration::ZERO)), (3, 2));
}

#[test]
fn processing_time_windows_count_every_record_once() {
    let env = Environment::new(2);
    let n = 5000u64;
    let windowed = env
        .from_iter((0..n).map(|i| (i % 7, i)))
        .key_by(|r: &(u64, u64)| r.0)
        .window(WindowAssigner::tumbling(Duration::from_secs(3600)).processing_time())
        .aggregate(Count, |k, w, c| (*k, w, c));
    let results = windowed.results.collect();
    let late = windowed.late.collect();
    env.execute().unwrap();
    let results = results.take();
    assert_eq!(results.iter().map(|r| r.2).sum::<u64>(), n);
    for (_, w, _) in &results {
        assert_eq!(w.end - w.start, 3_600_000);
        assert_eq!(w.start.rem_euclid(3_600_000), 0);
    }
    assert!(late.take().is_empty());
}

#[test]
fn processing_time_sessions_group_records_per_key() {
    let env = Environment::new(1);
    let windowed = env
        .from_iter((0..300u64).map(|i| (i % 3, i)))
        .key_by(|r: &(u64, u64)| r.0)
        .window(WindowAssigner::session(Duration::from_secs(3600)).processing_time())
        .aggregate(Count, |k, _, c| (*k, c));
    let results = windowed.results.collect();
    env.execute().unwrap();
    let mut results = results.take();
    results.sort();
    assert_eq!(results, vec![(0, 100), (1, 100), (2, 100)]);
}

#[test]
fn processing_time_windows_fire_while_the_input_is_still_open() {
    // The source sends records, then waits until a window result has arrived before it
    // ends: the result can only come from a processing-time timer.
    let seen = Arc::new(AtomicBool::new(false));
    let gave_up = Arc::new(AtomicBool::new(false));
    let (seen2, gave_up2, seen3) = (seen.clone(), gave_up.clone(), seen.clone());
    within_patience(move || {
        let env = Environment::new(1);
        let started = Instant::now();
        env.source("waiting", 1, move |_, _| {
            let (seen, gave_up) = (seen2.clone(), gave_up2.clone());
            let mut sent = false;
            Ok(Box::new(FnSource(move |out: &mut Vec<u64>| {
                if !sent {
                    sent = true;
                    out.extend(0..10);
                    return Poll::Ready;
                }
                if seen.load(Ordering::SeqCst) {
                    return Poll::Finished;
                }
                if started.elapsed() > common::PATIENCE / 2 {
                    gave_up.store(true, Ordering::SeqCst);
                    return Poll::Finished;
                }
                std::thread::sleep(Duration::from_millis(1));
                Poll::Idle
            })) as Box<dyn Source<u64>>)
        })
        .key_by(|_: &u64| 0u8)
        .window(WindowAssigner::tumbling(Duration::from_millis(20)).processing_time())
        .aggregate(Count, |_, _, c| c)
        .results
        .sink("flag", 1, move |_| Ok(FlagSink(seen3.clone())));
        env.execute().unwrap();
    });
    assert!(seen.load(Ordering::SeqCst));
    assert!(
        !gave_up.load(Ordering::SeqCst),
        "no window fired before the end of input"
    );
}

/// Raises a flag when it receives anything.
struct FlagSink(Arc<AtomicBool>);

impl<T: Send> Sink<T> for FlagSink {
    fn write(&mut self, batch: &mut Vec<T>) -> Result<(), BoxError> {
        if !batch.is_empty() {
            self.0.store(true, Ordering::SeqCst);
        }
        batch.clear();
        Ok(())
    }
}

#[test]
fn tumbling_count_windows_fire_every_n_records_of_a_key() {
    let env = Environment::new(2);
    let out = env
        .from_iter((0..10u32).map(|i| (i % 2, i)))
        .key_by(|r: &(u32, u32)| r.0)
        .count_window(3, CollectAll, |k, all| {
            (*k, all.iter().map(|r| r.1).collect::<Vec<_>>())
        })
        .collect();
    env.execute().unwrap();
    let mut got = out.take();
    got.sort();
    // Key 0 has 0,2,4,6,8 and key 1 has 1,3,5,7,9: one full window each; the rest never
    // fires.
    assert_eq!(got, vec![(0, vec![0, 2, 4]), (1, vec![1, 3, 5])]);
}

#[test]
fn sliding_count_windows_fire_every_slide_records_with_the_last_size() {
    let env = Environment::new(1);
    let out = env
        .from_iter(1..=7u32)
        .key_by(|_: &u32| 0u8)
        .sliding_count_window(4, 2, CollectAll, |_, all| all)
        .collect();
    env.execute().unwrap();
    assert_eq!(
        out.take(),
        vec![vec![1, 2], vec![1, 2, 3, 4], vec![3, 4, 5, 6]]
    );
}

#[test]
fn sliding_count_windows_with_slide_above_size_keep_only_the_last_size() {
    let env = Environment::new(1);
    let out = env
        .from_iter(1..=9u32)
        .key_by(|_: &u32| 0u8)
        .sliding_count_window(2, 3, CollectAll, |_, all| all)
        .collect();
    env.execute().unwrap();
    assert_eq!(out.take(), vec![vec![2, 3], vec![5, 6], vec![8, 9]]);
}

#[test]
fn window_results_are_counted_once_per_window_with_many_keys() {
    // A larger input through the sliced path: every record is in size/slide windows.
    let n = 20_000u32;
    let input: Vec<Rec> = (0..n)
        .map(|i| Rec {
            key: (i % 13) as u8,
            ts: i as i64,
            id: i,
        })
        .collect();
    let (results, late) = run_engine(&input, Spec::Sliding(100, 10), 0, 0, 2, Function::Aggregate);
    let total: usize = results.iter().map(|r| r.3.len()).sum();
    assert_eq!(total, n as usize * 10);
    assert!(late.is_empty());
}

#[test]
fn windows_that_end_by_the_start_watermark_count_as_fired_from_the_first_record_on() {
    // Started at watermark 19 (a replay of input whose windows up to 19 had fired):
    // [0,10) and [10,20) are closed, so their records are late whichever instance they
    // come through, before any watermark has passed; [20,30) and later fire as usual.
    for spec in [Spec::Tumbling(10), Spec::Sliding(10, 5), Spec::Session(5)] {
        let env = Environment::new(2);
        env.set_start_watermark(19);
        let input = recs(&[(0, 3), (1, 15), (0, 25), (1, 26), (0, 17)]);
        let windowed = env
            .from_iter(input)
            .assign_timestamps_and_watermarks(WatermarkStrategy::bounded_out_of_orderness(
                Duration::from_millis(100),
                |r: &Rec| r.ts,
            ))
            .key_by(|r: &Rec| r.key)
            .window(common::assigner(spec))
            .aggregate(common::Ids, |k, w, ids| (*k, w.start, w.end, ids));
        let (results, late) = (windowed.results.collect(), windowed.late.collect());
        env.execute().unwrap();
        let mut late: Vec<u32> = late.take().iter().map(|r| r.id).collect();
        late.sort_unstable();
        let expected_late: &[u32] = match spec {
            // [15,25) is open: records 1 and 4 (ts 15, 17) count there.
            Spec::Sliding(..) => &[0],
            // Record 4 (ts 17) opens the session [17,22).
            Spec::Session(_) => &[0, 1],
            Spec::Tumbling(_) => &[0, 1, 4],
        };
        assert_eq!(late, expected_late, "{spec:?}");
        let results = results.take();
        assert!(
            results.iter().all(|(_, _, end, _)| *end > 20),
            "{spec:?}: {results:?}"
        );
        assert!(!results.is_empty(), "{spec:?}");
    }
}
