//! Parallelism: the same job at parallelism 1, 2 and 4 (parallel sources split by `i mod
//! P`, key_by exchange, window instances each taking the minimum watermark of all source
//! instances) gives the same multiset of results.

mod common;

use std::time::Duration;

use common::{assigner, run_model, Fired, FnSource, Rec, Spec};
use proptest::prelude::*;
use styx_runtime::prelude::*;

/// Runs `records` split over `p` source instances (instance `j` reads records `i` with
/// `i mod p == j`, in order) through a window with `p` instances.
fn run_parallel(records: &[Rec], spec: Spec, ooo: i64, p: usize) -> (Vec<Fired>, usize) {
    let env = Environment::new(p);
    let all = records.to_vec();
    let windowed = env
        .source("split", p, move |instance, parallelism| {
            let mine: Vec<Rec> = all
                .iter()
                .enumerate()
                .filter(|(i, _)| i % parallelism == instance)
                .map(|(_, r)| *r)
                .collect();
            let mut it = mine.into_iter();
            // Small batches, so that the instances interleave.
            Ok(Box::new(FnSource(move |out: &mut Vec<Rec>| {
                out.extend(it.by_ref().take(3));
                if out.is_empty() {
                    Poll::Finished
                } else {
                    Poll::Ready
                }
            })) as Box<dyn Source<Rec>>)
        })
        .assign_timestamps_and_watermarks(
            WatermarkStrategy::bounded_out_of_orderness(
                Duration::from_millis(ooo as u64),
                |r: &Rec| r.ts,
            )
            .with_emission(Emission::PerEvent),
        )
        .key_by(|r: &Rec| r.key)
        .window(assigner(spec))
        .aggregate(common::Ids, |k, w, ids| (*k, w.start, w.end, ids));
    let results = windowed.results.collect();
    let late = windowed.late.collect();
    env.execute().expect("the job runs");
    let mut results = results.take();
    results.sort();
    (results, late.take().len())
}

/// Records whose disorder stays within the watermark bound in every subsequence, so that
/// no record is late however the source instances interleave: `ts = 3 i - jitter` with
/// `jitter <= ooo`.
fn records(ooo: i64) -> impl Strategy<Value = Vec<Rec>> {
    prop::collection::vec((0u8..6, 0..=ooo), 0..300).prop_map(|items| {
        items
            .into_iter()
            .enumerate()
            .map(|(i, (key, jitter))| Rec {
                key,
                ts: 3 * i as i64 - jitter,
                id: i as u32,
            })
            .collect()
    })
}

fn spec() -> impl Strategy<Value = Spec> {
    prop_oneof![
        (1i64..100).prop_map(Spec::Tumbling),
        (1i64..60, 1i64..40).prop_map(|(size, slide)| Spec::Sliding(size, slide)),
        (1i64..30).prop_map(Spec::Session),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn parallel_sources_and_windows_agree_at_1_2_and_4(
        (ooo, records) in (0i64..30).prop_flat_map(|ooo| (Just(ooo), records(ooo))),
        spec in spec(),
    ) {
        // Nothing is late, so every window holds all its records: the model with a
        // watermark that never passes a window before the end of input.
        let (expected, _) = run_model(&records, spec, i64::MAX / 4, 0);
        for p in [1, 2, 4] {
            let (results, late) = run_parallel(&records, spec, ooo, p);
            prop_assert_eq!(late, 0, "parallelism {}", p);
            prop_assert_eq!(&results, &expected, "parallelism {}", p);
        }
    }
}
