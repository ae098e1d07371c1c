//! Tests of the matcher on small streams; the FlinkCEP oracle suite runs through job
//! files (`styx-job`'s tests).

use std::time::Duration;

use super::*;
use crate::prelude::*;

/// (key, kind, value, ts)
type Ev = (u32, char, i64, i64);

fn run(events: Vec<Ev>, pattern: Pattern<Ev>) -> (Vec<String>, Vec<String>, Vec<Ev>) {
    let env = Environment::new(2);
    let streams = env
        .from_iter(events)
        .assign_timestamps_and_watermarks(
            WatermarkStrategy::bounded_out_of_orderness(Duration::ZERO, |e: &Ev| e.3)
                .with_emission(Emission::PerEvent),
        )
        .key_by(|e| e.0)
        .pattern("p", &pattern, |key, m: Match<Ev>| {
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
        })
        .unwrap();
    let (matches, timed_out, late) = (
        streams.matches.collect(),
        streams.timed_out.collect(),
        streams.late.collect(),
    );
    env.execute().unwrap();
    let sorted = |mut v: Vec<String>| {
        v.sort();
        v
    };
    (
        sorted(matches.take()),
        sorted(timed_out.take()),
        late.take(),
    )
}

fn kind(k: char) -> impl Fn(&Ev, &Context<'_, Ev>) -> bool + Send + Sync {
    move |e, _| e.1 == k
}

#[test]
fn followed_by_takes_the_first_match_and_followed_by_any_every_one() {
    let events = vec![
        (1, 'a', 0, 1),
        (1, 'b', 0, 2),
        (1, 'b', 0, 3),
        (2, 'b', 0, 4),
    ];
    let relaxed = Pattern::begin("a")
        .condition(kind('a'))
        .followed_by("b")
        .condition(kind('b'));
    assert_eq!(run(events.clone(), relaxed).0, vec!["1:a=1 b=2"]);
    let any = Pattern::begin("a")
        .condition(kind('a'))
        .followed_by_any("b")
        .condition(kind('b'));
    assert_eq!(run(events, any).0, vec!["1:a=1 b=2", "1:a=1 b=3"]);
}

#[test]
fn iterative_conditions_see_the_partial_match() {
    // A rising run of at least three values.
    let rising = Pattern::begin("first")
        .condition(kind('v'))
        .next("rise")
        .condition(|e: &Ev, ctx: &Context<'_, Ev>| {
            let before = ctx.events("rise").last().or(ctx.events("first").last());
            before.is_some_and(|b| e.2 > b.2)
        })
        .times_or_more(2)
        .consecutive()
        .after_match(AfterMatchSkip::SkipPastLastEvent);
    let values = [5, 6, 7, 3, 4, 9, 1];
    let events = values
        .iter()
        .enumerate()
        .map(|(i, v)| (1, 'v', *v, i as i64 + 1))
        .collect();
    assert_eq!(
        run(events, rising).0,
        vec!["1:first=1 rise=2,3", "1:first=4 rise=5,6"]
    );
}

#[test]
fn within_times_out_partial_matches_and_late_events_go_aside() {
    let pattern = Pattern::begin("a")
        .condition(kind('a'))
        .followed_by("b")
        .condition(kind('b'))
        .within(Duration::from_millis(10));
    let events = vec![
        (1, 'a', 0, 100),
        (1, 'b', 0, 110),
        (1, 'a', 0, 200),
        (1, 'x', 0, 150),
        (1, 'b', 0, 205),
    ];
    let (matches, timed_out, late) = run(events, pattern);
    assert_eq!(matches, vec!["1:a=200 b=205"]);
    assert_eq!(timed_out, vec!["1:a=100 @110"]);
    assert_eq!(late, vec![(1, 'x', 0, 150)]);
}

#[test]
fn malformed_patterns_are_refused_with_the_setting() {
    let p = Pattern::<Ev>::begin("a").until(kind('x'));
    assert_eq!(p.problems()[0].setting, "until");
    let p = Pattern::<Ev>::begin("a").followed_by("a");
    assert_eq!(p.problems()[0].setting, "name");
    let p = Pattern::<Ev>::begin("a").not_followed_by("b");
    assert_eq!(p.problems()[0].setting, "follows");
    let p = Pattern::<Ev>::begin("a").optional().not_next("b");
    assert_eq!(p.problems()[0].setting, "follows");
    let p = Pattern::<Ev>::begin("a")
        .one_or_more()
        .allow_combinations()
        .greedy();
    assert_eq!(p.problems()[0].setting, "greedy");
    let p = Pattern::<Ev>::begin("a").after_match(AfterMatchSkip::SkipToLast("z".into()));
    assert_eq!(p.problems()[0].setting, "after_match");
}

#[test]
fn processing_time_matches_events_as_they_arrive() {
    let env = Environment::new(2);
    // Out of event-time order, and no timestamps: arrival order decides.
    let events: Vec<Ev> = vec![
        (1, 'b', 0, 5),
        (1, 'a', 0, 9),
        (1, 'b', 0, 1),
        (2, 'a', 0, 3),
    ];
    let pattern = Pattern::begin("a")
        .condition(kind('a'))
        .followed_by("b")
        .condition(kind('b'))
        .in_processing_time();
    let found = env
        .from_iter(events)
        .key_by(|e: &Ev| e.0)
        .pattern("p", &pattern, |key, m: Match<Ev>| {
            let values: Vec<i64> = m
                .stages
                .iter()
                .flat_map(|(_, es)| es.iter().map(|e| e.3))
                .collect();
            (*key, values)
        })
        .unwrap();
    let matches = found.matches.collect();
    env.execute().unwrap();
    assert_eq!(matches.take(), vec![(1, vec![9, 1])]);
}

#[test]
fn an_event_time_pattern_needs_timestamps() {
    let env = Environment::new(1);
    let pattern = Pattern::<Ev>::begin("a").condition(kind('a'));
    let result = env
        .from_iter(Vec::<Ev>::new())
        .key_by(|e: &Ev| e.0)
        .pattern("p", &pattern, |_, _| ());
    assert_eq!(result.err().unwrap()[0].setting, "time");
}
