//! Cars passing road sensors, with jams.
//!
//! Fields: `ts`, `segment`, `sensor` (the detector the car passed), `car` (its plate),
//! `speed` (km/h, one decimal), `lane` (1 is the rightmost).
//!
//! A fixed road network of [`SEGMENTS`] segments, from urban streets (free flow 50 km/h)
//! to motorways (130 km/h), each with its lanes and its usual flow. Cars pass each
//! segment at its usual flow (cars per minute at [`WORLD_RATE`] events per second of
//! event time; in proportion at other rates), at speeds about its free flow: slower on
//! the right lane, lorries and buses at 85 km/h at most.
//!
//! Incidents (the key is the segment):
//!
//! - `jam`: for 6 to 12 minutes, cars crawl in stop-and-go at 15 to 42 % of the
//!   segment's free flow, or at 42 to 58 % in a moderate jam; fewer of them pass the
//!   sensors per minute while more queue on each kilometre, so the density (cars per
//!   kilometre and lane) rises, up to five fold. It starts with the first slowed car and
//!   ends with the last car of the jam.
//!
//! And look-alikes that are no jam:
//!
//! - a short slowdown: a lorry overtaking or a car turning, half a minute to a minute
//!   and a half at 30 to 60 % of the free flow, the flow unchanged;
//! - rain on one to three segments of an area: 20 to 30 % slower for 10 to 25 minutes;
//! - a quiet spell (night, a road closed upstream): a tenth to a third of the usual
//!   flow, for 15 to 30 minutes, a few of the cars slow (a street sweeper, a tractor).
//!
//! The reference table `segments` (key `id`) gives each segment its `road`, `name` (road
//! and kilometres), `kind` (`urban`, `arterial`, `rural`, `expressway`, `motorway`),
//! `area`, `free_flow` (km/h), `lanes`, usual `flow` (cars per minute), `length_km` and
//! `detour` (the road to take instead).

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Value};

use crate::dist;
use crate::{Event, Model, Schedule};

/// Road segments in the network.
const SEGMENTS: usize = 100;

/// The rate, in events per second of event time, at which segments have the flow the
/// `segments` table gives: the network's cars per second.
pub(crate) const WORLD_RATE: f64 = 40.0;

/// A kind of road.
struct RoadKind {
    name: &'static str,
    /// Free-flow speed, km/h.
    free_flow: f64,
    /// Fewest and most lanes per direction.
    lanes: (u32, u32),
    /// Usual cars per minute and lane, least and most.
    per_lane: (f64, f64),
    /// Share of lorries and buses.
    heavy: f64,
    /// Segment length in km, least and most.
    length: (f64, f64),
    /// Share of the network's segments.
    share: f64,
    /// Its roads.
    roads: &'static [&'static str],
}

/// The kinds of road, from town to motorway.
const KINDS: &[RoadKind] = &[
    RoadKind {
        name: "urban",
        free_flow: 50.0,
        lanes: (1, 2),
        per_lane: (5.0, 11.0),
        heavy: 0.04,
        length: (0.3, 1.2),
        share: 30.0,
        roads: &[
            "King Street",
            "Mill Lane",
            "Market Street",
            "Church Street",
            "Bridge Street",
            "Park Avenue",
            "High Street",
            "Canal Street",
        ],
    },
    RoadKind {
        name: "arterial",
        free_flow: 70.0,
        lanes: (2, 2),
        per_lane: (8.0, 14.0),
        heavy: 0.06,
        length: (0.8, 2.5),
        share: 25.0,
        roads: &[
            "Ring Road",
            "Airport Road",
            "North Boulevard",
            "Harbour Avenue",
            "Station Road",
        ],
    },
    RoadKind {
        name: "rural",
        free_flow: 90.0,
        lanes: (1, 1),
        per_lane: (3.0, 8.0),
        heavy: 0.10,
        length: (2.0, 6.0),
        share: 20.0,
        roads: &["L140", "L322", "L518", "K12"],
    },
    RoadKind {
        name: "expressway",
        free_flow: 110.0,
        lanes: (2, 2),
        per_lane: (12.0, 20.0),
        heavy: 0.10,
        length: (1.5, 4.0),
        share: 10.0,
        roads: &["B10", "B27"],
    },
    RoadKind {
        name: "motorway",
        free_flow: 130.0,
        lanes: (2, 4),
        per_lane: (14.0, 24.0),
        heavy: 0.12,
        length: (2.0, 5.0),
        share: 15.0,
        roads: &["A1", "A7", "A9"],
    },
];

/// The areas of the network (rain falls on one).
const AREAS: &[&str] = &[
    "north", "south", "east", "west", "centre", "harbour", "airport",
];

/// Per background event, how likely each incident or look-alike starts.
const P_JAM: f64 = 0.00016;
const P_SLOWDOWN: f64 = 0.00016;
const P_RAIN: f64 = 0.00006;
const P_QUIET: f64 = 0.00008;

/// After a segment's incident or look-alike, how long until it has another one.
const CALM_MS: i64 = 30 * 60_000;

/// Letters of number plates.
const PLATE: &[u8] = b"ABCDEFGHJKLMNPRSTVWXYZ";

/// A road segment, as the traffic centre knows it, and how its drivers drive.
struct Segment {
    kind: usize,
    road: &'static str,
    km: (f64, f64),
    area: usize,
    lanes: u32,
    /// Usual cars per minute at [`WORLD_RATE`].
    flow: f64,
    /// Detectors along the segment.
    sensors: u32,
    /// The drivers' usual speed over the free flow.
    pace: f64,
    detour: &'static str,
}

impl Segment {
    /// Its free-flow speed, km/h.
    fn free_flow(&self) -> f64 {
        KINDS[self.kind].free_flow
    }
}

/// The id of segment `s`, as events and the table name it.
fn segment_id(s: usize) -> String {
    format!("seg-{s:03}")
}

/// The road network: the same for every seed.
fn segments() -> Vec<Segment> {
    let mut rng = dist::world(6);
    let shares: Vec<f64> = KINDS.iter().map(|k| k.share).collect();
    // Where the next segment of each road starts, per kind and road.
    let mut km: Vec<Vec<f64>> = KINDS.iter().map(|k| vec![0.0; k.roads.len()]).collect();
    let mut out: Vec<Segment> = (0..SEGMENTS)
        .map(|_| {
            let kind = dist::weighted(&mut rng, &shares);
            let k = &KINDS[kind];
            let r = rng.random_range(0..k.roads.len());
            let from = km[kind][r];
            let to = round1(from + rng.random_range(k.length.0..k.length.1));
            km[kind][r] = to;
            let lanes = rng.random_range(k.lanes.0..=k.lanes.1);
            let flow = lanes as f64 * rng.random_range(k.per_lane.0..k.per_lane.1);
            // A detour: a road of the same or a neighbouring kind.
            let near = (kind + rng.random_range(0..3)).clamp(1, KINDS.len()) - 1;
            let detour = loop {
                let roads = KINDS[near].roads;
                let d = roads[rng.random_range(0..roads.len())];
                if d != k.roads[r] {
                    break d;
                }
            };
            Segment {
                kind,
                road: k.roads[r],
                km: (from, to),
                area: rng.random_range(0..AREAS.len()),
                lanes,
                flow,
                sensors: rng.random_range(1..=2),
                pace: rng.random_range(0.92..1.03),
                detour,
            }
        })
        .collect();
    // The network carries WORLD_RATE cars per second.
    let total: f64 = out.iter().map(|s| s.flow).sum();
    for s in &mut out {
        s.flow = round1(s.flow * WORLD_RATE * 60.0 / total);
    }
    out
}

/// Rounds to one decimal.
fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

/// The `segments` reference table.
pub(crate) fn reference() -> Option<(&'static str, Vec<Event>)> {
    Some(("segments", rows()))
}

/// The rows of the `segments` table.
fn rows() -> Vec<Event> {
    segments()
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let Value::Object(row) = json!({
                "id": segment_id(i),
                "road": s.road,
                "name": format!("{} km {:.1}-{:.1}", s.road, s.km.0, s.km.1),
                "kind": KINDS[s.kind].name,
                "area": AREAS[s.area],
                "free_flow": s.free_flow(),
                "lanes": s.lanes,
                "flow": s.flow,
                "length_km": round1(s.km.1 - s.km.0),
                "detour": s.detour,
            }) else {
                unreachable!()
            };
            row
        })
        .collect()
}

/// How a segment's traffic differs from the usual for a while.
struct Spell {
    duration: i64,
    /// Share of the usual flow.
    flow: f64,
    /// Share of the usual speed.
    speed: f64,
    /// Time to reach `flow` and `speed` from `edge` at the start, and back at the end.
    ramp: i64,
    /// The speed share at the start and the end of the ramps.
    edge: f64,
    /// Spread of the speeds around the spell's speed (stop-and-go: wide).
    spread: f64,
    /// Share of slow vehicles, at 40 to 70 % of the free flow.
    slow: f64,
}

impl Spell {
    /// The speed and flow shares `t` ms after the start.
    fn at(&self, t: i64) -> (f64, f64) {
        let lerp = |a: f64, b: f64, x: f64| a + (b - a) * x.clamp(0.0, 1.0);
        if self.ramp == 0 {
            return (self.speed, self.flow);
        }
        let ramp = self.ramp as f64;
        let x = if t < self.ramp {
            t as f64 / ramp
        } else if t > self.duration - self.ramp {
            (self.duration - t) as f64 / ramp
        } else {
            1.0
        };
        (lerp(self.edge, self.speed, x), lerp(1.0, self.flow, x))
    }
}

/// The road network's traffic, and the spells planned on its segments.
pub(crate) struct Traffic {
    segments: Vec<Segment>,
    /// Cumulative usual flows, to pick a segment for the next car.
    cumulative: Vec<f64>,
    /// Cars per millisecond of event time at the generator's rate, per usual flow unit.
    scale: f64,
    /// Until when the background leaves each segment alone (a spell plans its cars).
    busy: Vec<i64>,
    /// Until when each segment has no new spell.
    calm: Vec<i64>,
}

impl Traffic {
    /// The network's traffic at `rate` cars per second of event time.
    fn new(rate: f64) -> Self {
        let segments = segments();
        let mut acc = 0.0;
        let cumulative = segments
            .iter()
            .map(|s| {
                acc += s.flow;
                acc
            })
            .collect();
        Traffic {
            cumulative,
            scale: rate / WORLD_RATE / 60_000.0,
            busy: vec![i64::MIN; segments.len()],
            calm: vec![i64::MIN; segments.len()],
            segments,
        }
    }

    /// A car passing segment `s` at `speed`.
    fn car(&self, rng: &mut ChaCha8Rng, s: usize, speed: f64, lane: u32) -> Event {
        let seg = &self.segments[s];
        let sensor = rng.random_range(1..=seg.sensors);
        let l = |rng: &mut ChaCha8Rng| PLATE[rng.random_range(0..PLATE.len())] as char;
        let plate = format!(
            "{}{}-{:03}-{}{}",
            l(rng),
            l(rng),
            rng.random_range(1..1000),
            l(rng),
            l(rng)
        );
        let Value::Object(e) = json!({
            "segment": segment_id(s),
            "sensor": format!("det-{s:03}-{sensor}"),
            "car": plate,
            "speed": round1(speed.max(2.0)),
            "lane": lane,
        }) else {
            unreachable!()
        };
        e
    }

    /// A lane and a usual speed on segment `s`: faster on the left lanes; lorries and
    /// buses keep right, at 85 km/h at most.
    fn usual(&self, rng: &mut ChaCha8Rng, s: usize) -> (f64, u32) {
        let seg = &self.segments[s];
        let ff = seg.free_flow() * seg.pace;
        if rng.random_bool(KINDS[seg.kind].heavy) {
            let v = ff.min(85.0) * (1.0 + 0.05 * dist::normal(rng));
            return (v, 1);
        }
        let lane = rng.random_range(1..=seg.lanes);
        let side = if seg.lanes == 1 {
            1.0
        } else {
            0.94 + 0.12 * (lane - 1) as f64 / (seg.lanes - 1) as f64
        };
        let v = ff * side * (1.0 + 0.09 * dist::normal(rng));
        (v.clamp(0.4 * ff, 1.6 * ff), lane)
    }

    /// A segment without a spell for a while, none if it takes too long to find one.
    fn idle(&self, rng: &mut ChaCha8Rng, now: i64) -> Option<usize> {
        (0..200)
            .map(|_| rng.random_range(0..self.segments.len()))
            .find(|&s| self.calm[s] < now)
    }

    /// Plans the cars of segment `s` during `spell` from `start`, keeping the background
    /// away; the event times of its first and last car.
    fn plan_spell(
        &mut self,
        rng: &mut ChaCha8Rng,
        s: usize,
        start: i64,
        spell: &Spell,
        schedule: &mut Schedule,
    ) -> Option<(i64, i64)> {
        let end = start + spell.duration;
        self.busy[s] = end;
        self.calm[s] = end + CALM_MS;
        let top = spell.flow.max(1.0);
        let mean_gap = 1.0 / (self.segments[s].flow * self.scale * top);
        let ff = self.segments[s].free_flow();
        let (mut t, mut cars) = (start as f64, None);
        loop {
            t += dist::exponential(rng, mean_gap);
            let at = t as i64;
            if at >= end {
                break;
            }
            let (speed, flow) = spell.at(at - start);
            if !rng.random_bool((flow / top).clamp(0.0, 1.0)) {
                continue;
            }
            let (usual, lane) = self.usual(rng, s);
            let v = if spell.slow > 0.0 && rng.random_bool(spell.slow) {
                ff * rng.random_range(0.4..0.7)
            } else {
                usual * speed * (1.0 + spell.spread * dist::normal(rng)).max(0.1)
            };
            let e = self.car(rng, s, v, lane);
            schedule.at(at, e);
            let (first, _) = cars.unwrap_or((at, at));
            cars = Some((first, at));
        }
        cars
    }

    /// A jam: severe, or moderate and harder to tell from a slowdown.
    fn plan_jam(&mut self, rng: &mut ChaCha8Rng, now: i64, schedule: &mut Schedule) {
        let Some(s) = self.idle(rng, now) else {
            return;
        };
        let moderate = rng.random_bool(0.4);
        let spell = Spell {
            duration: rng.random_range(6 * 60_000..12 * 60_000),
            flow: if moderate {
                rng.random_range(0.75..0.95)
            } else {
                rng.random_range(0.5..0.85)
            },
            speed: if moderate {
                rng.random_range(0.42..0.58)
            } else {
                rng.random_range(0.15..0.42)
            },
            ramp: rng.random_range(60_000..120_000),
            edge: 0.8,
            spread: 0.18,
            slow: 0.0,
        };
        let start = now + rng.random_range(1_000..10_000);
        if let Some((first, last)) = self.plan_spell(rng, s, start, &spell, schedule) {
            schedule.incident(segment_id(s), first, last, "jam");
        }
    }

    /// A short slowdown behind a lorry or a turning car.
    fn plan_slowdown(&mut self, rng: &mut ChaCha8Rng, now: i64, schedule: &mut Schedule) {
        let Some(s) = self.idle(rng, now) else {
            return;
        };
        let spell = Spell {
            duration: rng.random_range(30_000..90_000),
            flow: rng.random_range(0.9..1.05),
            speed: rng.random_range(0.3..0.6),
            ramp: 0,
            edge: 1.0,
            spread: 0.12,
            slow: 0.0,
        };
        let start = now + rng.random_range(1_000..10_000);
        self.plan_spell(rng, s, start, &spell, schedule);
    }

    /// Rain on one to three segments of an area.
    fn plan_rain(&mut self, rng: &mut ChaCha8Rng, now: i64, schedule: &mut Schedule) {
        let Some(first) = self.idle(rng, now) else {
            return;
        };
        let area = self.segments[first].area;
        let mut wet = vec![first];
        let n = rng.random_range(1..=3);
        for s in 0..self.segments.len() {
            if wet.len() < n && s != first && self.segments[s].area == area && self.calm[s] < now {
                wet.push(s);
            }
        }
        let start = now + rng.random_range(1_000..10_000);
        let duration = rng.random_range(10 * 60_000..25 * 60_000);
        for s in wet {
            let spell = Spell {
                duration,
                flow: rng.random_range(0.85..1.0),
                speed: rng.random_range(0.7..0.8),
                ramp: 60_000,
                edge: 0.95,
                spread: 0.1,
                slow: 0.0,
            };
            self.plan_spell(rng, s, start, &spell, schedule);
        }
    }

    /// A quiet spell: few cars, a few of them slow.
    fn plan_quiet(&mut self, rng: &mut ChaCha8Rng, now: i64, schedule: &mut Schedule) {
        let Some(s) = self.idle(rng, now) else {
            return;
        };
        let spell = Spell {
            duration: rng.random_range(15 * 60_000..30 * 60_000),
            flow: rng.random_range(0.1..0.33),
            speed: rng.random_range(1.0..1.08),
            ramp: 0,
            edge: 1.0,
            spread: 0.08,
            slow: rng.random_range(0.1..0.3),
        };
        let start = now + rng.random_range(1_000..10_000);
        self.plan_spell(rng, s, start, &spell, schedule);
    }
}

impl Model for Traffic {
    fn next(&mut self, rng: &mut ChaCha8Rng, now: i64, schedule: &mut Schedule) -> Event {
        let plans: [(f64, crate::Plan<Self>); 4] = [
            (P_JAM, Self::plan_jam),
            (P_SLOWDOWN, Self::plan_slowdown),
            (P_RAIN, Self::plan_rain),
            (P_QUIET, Self::plan_quiet),
        ];
        crate::maybe_plan(self, &plans, rng, now, schedule);
        let total = *self.cumulative.last().unwrap_or(&1.0);
        let mut s = 0;
        for _ in 0..100 {
            let x = rng.random::<f64>() * total;
            s = self
                .cumulative
                .partition_point(|&c| c <= x)
                .min(SEGMENTS - 1);
            if self.busy[s] < now {
                break;
            }
        }
        let (v, lane) = self.usual(rng, s);
        self.car(rng, s, v, lane)
    }
}

/// The model of the world at `rate` events per second of event time.
pub(crate) fn model(rng: &mut ChaCha8Rng, rate: f64) -> Box<dyn Model> {
    let _ = rng;
    Box::new(Traffic::new(rate))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use crate::{Event, Generator, Incident, Kind};

    /// `n` events of `seed` at the world's rate, and the jams among them.
    fn run(seed: u64, n: usize) -> (Vec<Event>, Vec<Incident>) {
        let mut g = Generator::new(Kind::Traffic, seed).events_per_second(super::WORLD_RATE);
        let events: Vec<_> = g.by_ref().take(n).collect();
        let incidents = g.incidents().cloned().collect();
        (events, incidents)
    }

    #[test]
    fn fields_have_their_types() {
        let segments = super::rows();
        for e in Generator::new(Kind::Traffic, 5).take(5000) {
            let s = e["segment"].as_str().unwrap();
            assert!(s.starts_with("seg-"), "{e:?}");
            assert!(e["sensor"].as_str().unwrap().starts_with("det-"));
            assert_eq!(e["car"].as_str().unwrap().len(), 9, "{e:?}");
            let speed = e["speed"].as_f64().unwrap();
            assert!(
                e["speed"].is_f64() && (2.0..250.0).contains(&speed),
                "{e:?}"
            );
            let lane = e["lane"].as_u64().unwrap();
            let row = segments.iter().find(|r| r["id"] == s).unwrap();
            assert!(
                (1..=row["lanes"].as_u64().unwrap()).contains(&lane),
                "{e:?}"
            );
        }
        for r in &segments {
            assert!(r["free_flow"].is_f64() && r["flow"].is_f64() && r["lanes"].is_u64());
            assert!(r["name"].is_string() && r["detour"].is_string());
            assert_ne!(r["road"], r["detour"]);
        }
    }

    /// Each jam's cars are in the stream, under its segment and between its times, and
    /// slower than the segment's free flow.
    #[test]
    fn incidents_are_in_the_events() {
        let (events, incidents) = run(11, 300_000);
        assert!(incidents.len() >= 30, "{} jams", incidents.len());
        let segments = super::rows();
        for i in &incidents {
            assert_eq!(i.kind, "jam");
            let speeds: Vec<f64> = events
                .iter()
                .filter(|e| e["segment"] == i.key.as_str())
                .filter(|e| (i.start..=i.end).contains(&e["ts"].as_i64().unwrap()))
                .map(|e| e["speed"].as_f64().unwrap())
                .collect();
            assert!(speeds.len() >= 10, "{i:?}: {} cars", speeds.len());
            let avg = speeds.iter().sum::<f64>() / speeds.len() as f64;
            let row = segments.iter().find(|r| r["id"] == i.key.as_str()).unwrap();
            let free = row["free_flow"].as_f64().unwrap();
            assert!(avg < 0.7 * free, "{i:?}: {avg} km/h of {free}");
            assert!(i.end - i.start >= 5 * 60_000, "{i:?}");
        }
    }

    #[test]
    fn the_same_seed_gives_the_same_events_and_jams() {
        let (a, ja) = run(3, 100_000);
        let (b, jb) = run(3, 100_000);
        assert_eq!(a, b);
        assert_eq!(ja, jb);
        assert!(!ja.is_empty());
        assert_ne!(run(4, 1000).0, a[..1000].to_vec());
    }

    /// Every segment the events name has a row, and at the world's rate each segment
    /// gets about its usual flow.
    #[test]
    fn reference_rows_cover_every_segment() {
        let rows = super::rows();
        assert_eq!(rows.len(), super::SEGMENTS);
        let ids: Vec<&str> = rows.iter().map(|r| r["id"].as_str().unwrap()).collect();
        let (events, _) = run(8, 200_000);
        let mut cars: BTreeMap<&str, usize> = BTreeMap::new();
        for e in &events {
            let s = e["segment"].as_str().unwrap();
            assert!(ids.contains(&s), "{s}");
            *cars.entry(s).or_default() += 1;
        }
        assert_eq!(cars.len(), rows.len());
        let minutes = (events[events.len() - 1]["ts"].as_i64().unwrap()
            - events[0]["ts"].as_i64().unwrap()) as f64
            / 60_000.0;
        let total: f64 = rows.iter().map(|r| r["flow"].as_f64().unwrap()).sum();
        assert!((total - super::WORLD_RATE * 60.0).abs() < 10.0, "{total}");
        for r in &rows {
            let usual = r["flow"].as_f64().unwrap() * minutes;
            let seen = cars[r["id"].as_str().unwrap()] as f64;
            assert!(
                (seen - usual).abs() < 0.25 * usual + 30.0,
                "{r:?}: {seen} of {usual}"
            );
        }
    }
}
