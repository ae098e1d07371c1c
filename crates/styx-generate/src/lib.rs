//! Realistic event streams for Styx's use cases: payments, tweets, web clicks, game
//! button presses, patients' vital signs, road traffic, machine logs, card transactions.
//!
//! A [`Generator`] is a seeded, endless iterator of JSON objects. The same kind, seed
//! and settings always give the same events. Every event has an integer epoch
//! milliseconds `ts` field and a string key field ([`Kind::key_field`]); events come
//! in event-time order unless some out-of-orderness is asked for, and then no event is
//! more than that much older than an event before it.
//!
//! ```
//! use styx_generate::{Generator, Kind};
//!
//! let events: Vec<_> = Generator::new(Kind::Payments, 7)
//!     .events_per_second(100.0)
//!     .take(1000)
//!     .collect();
//! assert!(events.iter().all(|e| e["ts"].is_i64() && e["account"].is_string()));
//! let span = events[999]["ts"].as_i64().unwrap() - events[0]["ts"].as_i64().unwrap();
//! assert!((9_000..11_000).contains(&span), "about 10 s of event time: {span}");
//! ```
//!
//! Each kind's world plants incidents for a use case to find ([`UseCase`]): fraud in
//! payments, trends in tweets, customers stuck in a form in clicks, key combos in game
//! presses, heart failure signs in vital signs, jams in traffic, failures in machine logs,
//! low balances in card transactions; and look-alikes that are none, so that a job has
//! something to judge. No event says which is which: the generator records the incidents
//! apart ([`Generator::incidents`]), for a truth file. A kind whose incidents depend on
//! what a store knows (customers' profiles, patients' baselines, roads' free-flow speeds)
//! gives that knowledge as a reference table ([`reference`]), the same for every seed.
//! Each kind's module describes its fields, incidents and look-alikes.

mod clicks;
mod dist;
mod games;
mod machines;
mod payments;
mod traffic;
mod transactions;
mod tweets;
mod usecase;
mod vitals;

pub use usecase::{Incident, Report, UnknownUseCase, UseCase};

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{Map, Value};

/// One generated event.
pub type Event = Map<String, Value>;

/// The default start of event time: 2023-11-14T22:13:20Z.
pub const DEFAULT_START_MS: i64 = 1_700_000_000_000;

/// The default rate: events per second of event time.
pub const DEFAULT_RATE: f64 = 1000.0;

/// What to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// Card payments and transfers, with fraud patterns.
    Payments,
    /// Tweets, with trending words.
    Tweets,
    /// Web shop clicks, with sessions stuck on a form.
    Clicks,
    /// Game button presses, with key combos.
    Games,
    /// Patients' vital signs, with rising heart rates.
    Vitals,
    /// Cars passing road sensors, with jams.
    Traffic,
    /// Machines' logs, with failures building up.
    Machines,
    /// Card transactions with the balance after each, some running low.
    Transactions,
}

impl Kind {
    /// Every kind.
    pub const ALL: [Kind; 8] = [
        Kind::Payments,
        Kind::Tweets,
        Kind::Clicks,
        Kind::Games,
        Kind::Vitals,
        Kind::Traffic,
        Kind::Machines,
        Kind::Transactions,
    ];

    /// The kind's name, as in job files and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Payments => "payments",
            Kind::Tweets => "tweets",
            Kind::Clicks => "clicks",
            Kind::Games => "games",
            Kind::Vitals => "vitals",
            Kind::Traffic => "traffic",
            Kind::Machines => "machines",
            Kind::Transactions => "transactions",
        }
    }

    /// The field that keys the kind's events: `account`, `user`, `session`, `player`,
    /// `patient`, `segment`, `machine` or `card`.
    pub fn key_field(self) -> &'static str {
        match self {
            Kind::Payments => "account",
            Kind::Tweets => "user",
            Kind::Clicks => "session",
            Kind::Games => "player",
            Kind::Vitals => "patient",
            Kind::Traffic => "segment",
            Kind::Machines => "machine",
            Kind::Transactions => "card",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A name that is no [`Kind`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownKind(pub String);

impl fmt::Display for UnknownKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown event kind {:?}: expected payments, tweets, clicks, games, vitals, \
             traffic, machines or transactions",
            self.0
        )
    }
}

impl std::error::Error for UnknownKind {}

impl FromStr for Kind {
    type Err = UnknownKind;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Kind::ALL
            .into_iter()
            .find(|k| k.name().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| UnknownKind(s.to_string()))
    }
}

/// The reference data of a kind's world, as a store table: its name and its rows, each
/// with the key column `id`. `None` for kinds without one. The same for every seed.
pub fn reference(kind: Kind) -> Option<(&'static str, Vec<Event>)> {
    match kind {
        Kind::Payments => payments::reference(),
        Kind::Tweets => tweets::reference(),
        Kind::Clicks => clicks::reference(),
        Kind::Games => games::reference(),
        Kind::Vitals => vitals::reference(),
        Kind::Traffic => traffic::reference(),
        Kind::Machines => machines::reference(),
        Kind::Transactions => transactions::reference(),
    }
}

/// The model of `kind`'s world at `rate` events per second of event time.
fn model(kind: Kind, rng: &mut ChaCha8Rng, rate: f64) -> Box<dyn Model> {
    match kind {
        Kind::Payments => payments::model(rng, rate),
        Kind::Tweets => tweets::model(rng, rate),
        Kind::Clicks => clicks::model(rng, rate),
        Kind::Games => games::model(rng, rate),
        Kind::Vitals => vitals::model(rng, rate),
        Kind::Traffic => traffic::model(rng, rate),
        Kind::Machines => machines::model(rng, rate),
        Kind::Transactions => transactions::model(rng, rate),
    }
}

/// Events planned for later, pattern steps that unfold over event time, and the
/// incidents planted so far.
#[derive(Default)]
pub(crate) struct Schedule {
    heap: BinaryHeap<Planned>,
    seq: u64,
    incidents: Vec<Incident>,
    /// The stream is ending: nothing new starts.
    closing: bool,
}

struct Planned {
    ts: i64,
    seq: u64,
    event: Event,
}

impl PartialEq for Planned {
    fn eq(&self, other: &Self) -> bool {
        (self.ts, self.seq) == (other.ts, other.seq)
    }
}
impl Eq for Planned {}
impl PartialOrd for Planned {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Planned {
    // Reversed: the heap's top is the earliest.
    fn cmp(&self, other: &Self) -> Ordering {
        (other.ts, other.seq).cmp(&(self.ts, self.seq))
    }
}

impl Schedule {
    /// Plans `event` for event time `ts` (its `ts` field is set then).
    pub(crate) fn at(&mut self, ts: i64, event: Event) {
        self.seq += 1;
        self.heap.push(Planned {
            ts,
            seq: self.seq,
            event,
        });
    }

    /// Records an incident: the events of `key` between `start` and `end` (event time)
    /// make up a pattern of `kind` that a job should find.
    /// Whether the stream is ending: models start no incident or look-alike then.
    pub(crate) fn closing(&self) -> bool {
        self.closing
    }

    pub(crate) fn incident(&mut self, key: String, start: i64, end: i64, kind: &'static str) {
        self.incidents.push(Incident {
            key,
            start,
            end,
            kind,
        });
    }

    fn pop_due(&mut self, now: i64) -> Option<(i64, Event)> {
        if self.heap.peek().is_some_and(|p| p.ts <= now) {
            self.heap.pop().map(|p| (p.ts, p.event))
        } else {
            None
        }
    }
}

/// A plan of a model: puts an incident or a look-alike on the schedule.
pub(crate) type Plan<M> = fn(&mut M, &mut ChaCha8Rng, i64, &mut Schedule);

/// Starts at most one of `plans`, each with its probability (their sum at most 1).
pub(crate) fn maybe_plan<M>(
    model: &mut M,
    plans: &[(f64, Plan<M>)],
    rng: &mut ChaCha8Rng,
    now: i64,
    schedule: &mut Schedule,
) {
    let roll: f64 = rng.random();
    if schedule.closing {
        return;
    }
    let mut acc = 0.0;
    for (p, plan) in plans {
        acc += p;
        if roll < acc {
            plan(model, rng, now, schedule);
            return;
        }
    }
}

/// A kind's model of the world.
pub(crate) trait Model: Send {
    /// The next background event at event time `now` (without `ts`); it may plan
    /// pattern events for later in `schedule`.
    fn next(&mut self, rng: &mut ChaCha8Rng, now: i64, schedule: &mut Schedule) -> Event;
}

/// A seeded, endless stream of events of one kind.
///
/// Settings ([`start_ms`](Generator::start_ms), [`events_per_second`](Generator::events_per_second),
/// [`max_out_of_orderness`](Generator::max_out_of_orderness)) are given before the
/// first event is taken.
pub struct Generator {
    kind: Kind,
    rng: ChaCha8Rng,
    /// Made at the first event, once the settings are known.
    model: Option<Box<dyn Model>>,
    schedule: Schedule,
    /// Event time of the next background event, in fractional milliseconds.
    clock: f64,
    rate: f64,
    disorder_ms: i64,
    emitted: u64,
    /// The largest event time (before any disorder) of the events taken so far.
    reached: i64,
    /// How many events before the stream ends (see [`Generator::limit`]).
    limit: Option<u64>,
    /// Whether the incidents under way at the limit run to their end.
    whole: bool,
}

impl Generator {
    /// A stream of `kind` events from `seed`, starting at [`DEFAULT_START_MS`] with
    /// [`DEFAULT_RATE`] events per second of event time, in order.
    pub fn new(kind: Kind, seed: u64) -> Self {
        Generator {
            kind,
            rng: ChaCha8Rng::seed_from_u64(seed),
            model: None,
            schedule: Schedule::default(),
            clock: DEFAULT_START_MS as f64,
            rate: DEFAULT_RATE,
            disorder_ms: 0,
            emitted: 0,
            reached: i64::MIN,
            limit: None,
            whole: false,
        }
    }

    /// Ends the stream after `n` events (see [`Generator::whole_incidents`]).
    pub fn limit(mut self, n: u64) -> Self {
        self.limit = Some(n);
        self
    }

    /// With a [`limit`](Generator::limit), the stream goes on after the `n`th event (its
    /// background too, but no new incident or look-alike starts) until every incident
    /// under way has ended, so that each planted incident is whole in the events and none
    /// is cut short by the end of the stream.
    pub fn whole_incidents(mut self) -> Self {
        self.whole = true;
        self
    }

    /// Event time starts at `ms` (epoch milliseconds).
    pub fn start_ms(mut self, ms: i64) -> Self {
        self.clock = ms as f64;
        self
    }

    /// About `rate` events per second of event time (Poisson arrivals; pattern events
    /// come on top). Rates that are not positive and finite are ignored. Models of
    /// entities that act at a pace of their own have as many of them as the rate asks
    /// for.
    pub fn events_per_second(mut self, rate: f64) -> Self {
        if rate.is_finite() && rate > 0.0 {
            self.rate = rate;
        }
        self
    }

    /// About one event in ten arrives up to `bound` late: its `ts` is smaller than
    /// that of events before it, by at most `bound`.
    pub fn max_out_of_orderness(mut self, bound: Duration) -> Self {
        self.disorder_ms = i64::try_from(bound.as_millis()).unwrap_or(i64::MAX);
        self
    }

    /// The kind of events.
    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// How many events were taken so far.
    pub fn emitted(&self) -> u64 {
        self.emitted
    }

    /// The incidents planted in the events taken so far: those whose events have all
    /// been taken, in the order they were planted.
    pub fn incidents(&self) -> impl Iterator<Item = &Incident> {
        let reached = self.reached;
        self.schedule
            .incidents
            .iter()
            .filter(move |i| i.end < reached)
    }
}

impl Iterator for Generator {
    type Item = Event;

    fn next(&mut self) -> Option<Event> {
        if self.limit.is_some_and(|n| self.emitted >= n) {
            if !self.whole {
                return None;
            }
            self.schedule.closing = true;
            let reached = self.reached;
            if self.schedule.incidents.iter().all(|i| i.end < reached) {
                return None;
            }
        }
        let now = self.clock.floor() as i64;
        let (ts, mut event) = match self.schedule.pop_due(now) {
            Some(due) => due,
            None => {
                let (kind, rate) = (self.kind, self.rate);
                let model = self
                    .model
                    .get_or_insert_with(|| model(kind, &mut self.rng, rate));
                let event = model.next(&mut self.rng, now, &mut self.schedule);
                let gap = dist::exponential(&mut self.rng, 1000.0 / self.rate);
                self.clock += gap;
                (now, event)
            }
        };
        self.reached = self.reached.max(ts);
        let ts = if self.disorder_ms > 0 && self.rng.random_bool(0.1) {
            ts - self.rng.random_range(0..=self.disorder_ms)
        } else {
            ts
        };
        // `ts` first, then the key, then the rest.
        let mut out = Map::with_capacity(event.len() + 1);
        out.insert("ts".into(), Value::from(ts));
        let key = self.kind.key_field();
        if let Some(k) = event.shift_remove(key) {
            out.insert(key.into(), k);
        }
        out.extend(event);
        self.emitted += 1;
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn take(kind: Kind, seed: u64, n: usize) -> Vec<Event> {
        Generator::new(kind, seed).take(n).collect()
    }

    fn ts(e: &Event) -> i64 {
        e["ts"].as_i64().unwrap()
    }

    #[test]
    fn generators_move_between_threads() {
        fn send<T: Send + Iterator<Item = Event>>(t: T) -> T {
            t
        }
        let g = send(Generator::new(Kind::Clicks, 1));
        let n = std::thread::spawn(move || g.take(10).count())
            .join()
            .unwrap();
        assert_eq!(n, 10);
    }

    #[test]
    fn kinds_parse_and_print() {
        for k in Kind::ALL {
            assert_eq!(k.to_string().parse::<Kind>().unwrap(), k);
        }
        assert_eq!("Tweets".parse::<Kind>().unwrap(), Kind::Tweets);
        let e = "trades".parse::<Kind>().unwrap_err().to_string();
        assert!(e.contains("trades") && e.contains("payments"), "{e}");
    }

    #[test]
    fn the_same_seed_gives_the_same_events() {
        for k in Kind::ALL {
            assert_eq!(take(k, 42, 3000), take(k, 42, 3000), "{k}");
            assert_ne!(take(k, 42, 200), take(k, 43, 200), "{k}");
        }
    }

    #[test]
    fn events_are_in_order_with_time_and_key() {
        for k in Kind::ALL {
            let events = take(k, 1, 20_000);
            assert_eq!(ts(&events[0]), DEFAULT_START_MS, "{k}");
            for w in events.windows(2) {
                assert!(ts(&w[0]) <= ts(&w[1]), "{k}: {:?} then {:?}", w[0], w[1]);
            }
            for e in &events {
                assert!(e[k.key_field()].is_string(), "{k}: {e:?}");
                assert!(
                    e.get("label").is_none(),
                    "{k}: no event carries a label: {e:?}"
                );
            }
        }
    }

    /// A limited stream ends at its limit; with whole incidents, after the incidents under
    /// way then, each of them whole: every incident that started is in the truth.
    #[test]
    fn a_limited_stream_ends_with_every_incident_whole() {
        assert_eq!(Generator::new(Kind::Payments, 4).limit(1234).count(), 1234);
        for k in [Kind::Payments, Kind::Vitals, Kind::Traffic] {
            let mut g = Generator::new(k, 4)
                .events_per_second(50.0)
                .limit(100_000)
                .whole_incidents();
            let events: Vec<_> = g.by_ref().collect();
            assert!(events.len() >= 100_000, "{k}: {}", events.len());
            assert!(g.next().is_none(), "{k}: the stream ended");
            let last = events.iter().map(ts).max().unwrap();
            let incidents: Vec<_> = g.incidents().collect();
            assert!(!incidents.is_empty(), "{k}");
            assert!(incidents.iter().all(|i| i.end <= last), "{k}");
            assert_eq!(incidents.len(), g.schedule.incidents.len(), "{k}");
        }
    }

    #[test]
    fn the_rate_sets_the_event_time_span() {
        for (rate, n) in [(1000.0, 20_000), (50.0, 2_000)] {
            let events: Vec<_> = Generator::new(Kind::Tweets, 3)
                .start_ms(0)
                .events_per_second(rate)
                .take(n)
                .collect();
            let span = ts(&events[n - 1]) as f64 / 1000.0;
            let expected = n as f64 / rate;
            assert!(
                (span - expected).abs() < expected * 0.1,
                "{rate}/s: {span} s"
            );
        }
    }

    #[test]
    fn out_of_orderness_is_bounded_and_present() {
        for k in Kind::ALL {
            let events: Vec<_> = Generator::new(k, 9)
                .max_out_of_orderness(Duration::from_millis(250))
                .take(20_000)
                .collect();
            let mut max = i64::MIN;
            let mut late = 0;
            for e in &events {
                let t = ts(e);
                assert!(t >= max.saturating_sub(250), "{k}: {t} after {max}");
                if t < max {
                    late += 1;
                }
                max = max.max(t);
            }
            assert!(late > 100, "{k}: only {late} late events");
        }
    }
}
