//! Property tests: the engine's window operators against the reference model of Flink's
//! `WindowOperator` (tests/common/model.rs), on random inputs with per-event watermarks,
//! random out-of-orderness, stragglers and allowed lateness.

mod common;

use common::{recs, run_engine, run_engine_on, run_model, Function, Rec, Spec, StateBackend};
use proptest::prelude::*;

/// Random records: keys 0..3, timestamps that mostly advance with small disorder and now
/// and then a very late straggler; the start may be before epoch 0. Half the inputs are
/// dense (many events per window, many ties with the watermark), half sparse.
fn records() -> impl Strategy<Value = Vec<Rec>> {
    prop_oneof![records_with(6, 12, 60), records_with(25, 40, 400)]
}

fn records_with(advance: i64, lag: i64, straggler: i64) -> impl Strategy<Value = Vec<Rec>> {
    (
        -2000i64..2000,
        prop::collection::vec((0u8..3, 0..advance, 0u8..10, 0..straggler), 0..70),
    )
        .prop_map(move |(start, steps)| {
            let mut clock = start;
            let items: Vec<(u8, i64)> = steps
                .into_iter()
                .map(|(key, advance, kind, late)| {
                    clock += advance;
                    let late = if kind < 8 { late % lag } else { late };
                    (key, clock - late)
                })
                .collect();
            recs(&items)
        })
}

fn lateness() -> impl Strategy<Value = i64> {
    prop_oneof![Just(0i64), 1i64..150]
}

fn parallelism() -> impl Strategy<Value = usize> {
    prop_oneof![Just(1usize), Just(2), Just(4)]
}

fn function() -> impl Strategy<Value = Function> {
    prop_oneof![Just(Function::Aggregate), Just(Function::Process)]
}

fn sliding() -> impl Strategy<Value = Spec> {
    prop_oneof![
        // Size a multiple of the slide.
        (1i64..20, 1i64..5).prop_map(|(slide, k)| Spec::Sliding(slide * k, slide)),
        // Size not a multiple of the slide.
        (2i64..20, 1i64..60)
            .prop_filter("not a multiple", |(slide, size)| size % slide != 0)
            .prop_map(|(slide, size)| Spec::Sliding(size, slide)),
        // Size smaller than the slide: gaps between windows.
        (2i64..40, 1i64..40)
            .prop_filter("size < slide", |(slide, size)| size < slide)
            .prop_map(|(slide, size)| Spec::Sliding(size, slide)),
    ]
}

fn check(
    records: &[Rec],
    spec: Spec,
    ooo: i64,
    lateness: i64,
    p: usize,
    f: Function,
) -> Result<(), TestCaseError> {
    check_on(StateBackend::Memory, records, spec, ooo, lateness, p, f)
}

/// [`check`] with the window state on disk.
fn check_on_disk(
    records: &[Rec],
    spec: Spec,
    ooo: i64,
    lateness: i64,
    p: usize,
    f: Function,
) -> Result<(), TestCaseError> {
    let dir = tempfile::tempdir().unwrap();
    let disk = StateBackend::disk(dir.path()).unwrap();
    check_on(disk, records, spec, ooo, lateness, p, f)
}

/// The engine with its window state in `backend` against the model.
fn check_on(
    backend: StateBackend,
    records: &[Rec],
    spec: Spec,
    ooo: i64,
    lateness: i64,
    p: usize,
    f: Function,
) -> Result<(), TestCaseError> {
    let which = format!("{backend:?}");
    let expected = run_model(records, spec, ooo, lateness);
    let actual = run_engine_on(backend, records, spec, ooo, lateness, p, f);
    prop_assert_eq!(&actual.0, &expected.0, "window results differ ({})", which);
    prop_assert_eq!(&actual.1, &expected.1, "late output differs ({})", which);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn tumbling_matches_the_model(
        records in records(),
        size in 1i64..60,
        ooo in 0i64..40,
        lateness in lateness(),
        p in parallelism(),
        f in function(),
    ) {
        check(&records, Spec::Tumbling(size), ooo, lateness, p, f)?;
    }

    #[test]
    fn sliding_matches_the_model(
        records in records(),
        spec in sliding(),
        ooo in 0i64..40,
        lateness in lateness(),
        p in parallelism(),
        f in function(),
    ) {
        check(&records, spec, ooo, lateness, p, f)?;
    }

    #[test]
    fn session_matches_the_model(
        records in records(),
        gap in 1i64..40,
        ooo in 0i64..20,
        lateness in lateness(),
        p in parallelism(),
        f in function(),
    ) {
        check(&records, Spec::Session(gap), ooo, lateness, p, f)?;
    }

    #[test]
    fn parallelism_does_not_change_results(
        records in records(),
        spec in prop_oneof![
            (1i64..40).prop_map(Spec::Tumbling),
            sliding(),
            (1i64..30).prop_map(Spec::Session),
        ],
        ooo in 0i64..40,
        lateness in lateness(),
    ) {
        let one = run_engine(&records, spec, ooo, lateness, 1, Function::Aggregate);
        for p in [2, 4] {
            let more = run_engine(&records, spec, ooo, lateness, p, Function::Aggregate);
            prop_assert_eq!(&more, &one, "parallelism {} differs from 1", p);
        }
    }
}

proptest! {
    // Each case opens and closes an LSM tree (a quarter of a second): fewer cases.
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn windows_on_disk_match_the_model(
        records in records(),
        spec in prop_oneof![
            (1i64..60).prop_map(Spec::Tumbling),
            sliding(),
            (1i64..40).prop_map(Spec::Session),
        ],
        ooo in 0i64..40,
        lateness in lateness(),
        p in parallelism(),
        f in function(),
    ) {
        check_on_disk(&records, spec, ooo, lateness, p, f)?;
    }
}
