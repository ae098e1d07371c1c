//! Machines' logs, with failures building up.
//!
//! Fields: `ts`, `machine`, `level` (`INFO`, `WARN`, `ERROR`), `code` (such as `W320`),
//! `message`, `temperature` (°C, one decimal).
//!
//! A fixed fleet of [`MACHINES`] machines (pumps, compressors, milling machines,
//! conveyors, presses, servers) on four sites. Each logs its status about every ten
//! seconds at [`WORLD_RATE`] events per second of event time (in proportion at other
//! rates), at a temperature that wanders a few degrees around its normal one with the
//! work it does; now and then a warning (a noisy sensor, a slow network), rarely an error
//! (a lost connection, a watchdog reset).
//!
//! Incidents (the key is the machine):
//!
//! - `failure`: over 5 to 12 minutes, the temperature climbs from normal towards the
//!   machine's maximum (45 to 110 % of the way), warnings come faster and faster as it
//!   does (temperature, vibration, pressure, current), then errors, and the machine stops
//!   with a last error; it logs nothing for 10 to 40 minutes, then starts again. Some
//!   failures are slow and quiet: a moderate rise, few warnings, one or two errors. The
//!   incident starts with the machine's first event of the build-up and ends with its
//!   last event before it stops.
//!
//! And look-alikes that are no failure:
//!
//! - a configuration reload: 5 to 15 warnings within one to three minutes, the temperature
//!   normal;
//! - heavy load: the temperature rises to 50 to 95 % of the way to the maximum for 10 to
//!   25 minutes, with no error and a temperature warning or two at most;
//! - a glitch: one to three errors within a minute (a lost connection, a watchdog
//!   reset), nothing else.
//!
//! The reference table `machines` (key `id`) gives each machine its `type`, `site`,
//! `normal_temp` (°C, its usual temperature at work) and `max_temp` (°C, the highest it
//! is rated for).

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Value};

use crate::dist;
use crate::{Event, Model, Schedule};

/// Machines in the fleet.
const MACHINES: usize = 400;

/// The rate, in events per second of event time, at which each machine logs every ten
/// seconds or so.
pub(crate) const WORLD_RATE: f64 = MACHINES as f64 / 10.0;

/// A type of machine: name, normal and maximum temperature (°C), share of the fleet.
const TYPES: &[(&str, f64, f64, f64)] = &[
    ("pump", 55.0, 85.0, 25.0),
    ("compressor", 70.0, 110.0, 15.0),
    ("cnc_mill", 40.0, 70.0, 15.0),
    ("conveyor", 45.0, 75.0, 20.0),
    ("press", 60.0, 90.0, 10.0),
    ("server", 50.0, 90.0, 15.0),
];

/// Where the machines are.
const SITES: &[&str] = &[
    "plant-north",
    "plant-south",
    "warehouse-east",
    "datacenter-west",
];

/// Status lines, as weighted.
const STATUS: &[(&str, &str, f64)] = &[
    ("I100", "status ok", 70.0),
    ("I110", "cycle completed", 20.0),
    ("I130", "job started", 6.0),
    ("I140", "maintenance check passed", 4.0),
];
/// Warnings of any day.
const NOISE_WARNINGS: &[(&str, &str)] = &[
    ("W120", "sensor reading noisy"),
    ("W130", "network latency high"),
    ("W150", "filter change due"),
];
/// Errors of any day.
const GLITCHES: &[(&str, &str)] = &[
    ("E410", "lost connection to controller"),
    ("E420", "checksum mismatch in firmware block"),
    ("E430", "watchdog reset"),
];
/// Warnings of a machine wearing out.
const WEAR_WARNINGS: &[(&str, &str)] = &[
    ("W310", "temperature above normal"),
    ("W320", "vibration above limit"),
    ("W330", "pressure fluctuating"),
    ("W340", "current draw high"),
];
/// Errors of a machine failing.
const FAULTS: &[(&str, &str)] = &[
    ("E510", "bearing fault"),
    ("E520", "overheating, throttling"),
    ("E530", "motor stalled"),
    ("E540", "pressure loss"),
];
/// Warnings of a configuration reload.
const RELOAD_WARNINGS: &[(&str, &str)] = &[
    ("W110", "configuration key deprecated"),
    ("W111", "configuration reloaded, defaults applied"),
];

/// Per background event, how likely a warning or an error is.
const P_WARN: f64 = 0.01;
const P_ERROR: f64 = 0.0005;

/// Per background event, how likely each incident or look-alike starts.
const P_FAILURE: f64 = 0.0002;
const P_RELOAD: f64 = 0.00012;
const P_HEAVY_LOAD: f64 = 0.00012;
const P_GLITCH: f64 = 0.00012;

/// After a machine's incident or look-alike, how long until it has another one.
const CALM_MS: i64 = 40 * 60_000;

/// A machine, as the maintenance team knows it, and how it warms up at work.
struct Machine {
    kind: usize,
    site: usize,
    /// Its usual temperature at work, °C.
    normal: f64,
    /// The swing of its temperature with the work it does: amplitude (°C), period (ms),
    /// phase.
    swing: (f64, f64, f64),
}

impl Machine {
    /// The highest temperature it is rated for, °C.
    fn max(&self) -> f64 {
        TYPES[self.kind].2
    }

    /// Its temperature at `ts`, without the noise of the sensor.
    fn temperature(&self, ts: i64) -> f64 {
        let (a, period, phase) = self.swing;
        self.normal + a * (std::f64::consts::TAU * ts as f64 / period + phase).sin()
    }
}

/// The id of machine `m`, as events and the table name it.
fn machine_id(m: usize) -> String {
    format!("m-{m:04}")
}

/// The fleet: the same for every seed.
fn machines() -> Vec<Machine> {
    let mut rng = dist::world(7);
    let shares: Vec<f64> = TYPES.iter().map(|t| t.3).collect();
    (0..MACHINES)
        .map(|_| {
            let kind = dist::weighted(&mut rng, &shares);
            Machine {
                kind,
                site: rng.random_range(0..SITES.len()),
                normal: (10.0 * (TYPES[kind].1 + rng.random_range(-5.0..5.0))).round() / 10.0,
                swing: (
                    rng.random_range(1.0..4.0),
                    rng.random_range(15.0..60.0) * 60_000.0,
                    rng.random_range(0.0..std::f64::consts::TAU),
                ),
            }
        })
        .collect()
}

/// The `machines` reference table.
pub(crate) fn reference() -> Option<(&'static str, Vec<Event>)> {
    Some(("machines", rows()))
}

/// The rows of the `machines` table.
fn rows() -> Vec<Event> {
    machines()
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let Value::Object(row) = json!({
                "id": machine_id(i),
                "type": TYPES[m.kind].0,
                "site": SITES[m.site],
                "normal_temp": m.normal,
                "max_temp": m.max(),
            }) else {
                unreachable!()
            };
            row
        })
        .collect()
}

/// The fleet's logs, and the incidents and look-alikes planned on its machines.
pub(crate) struct Machines {
    machines: Vec<Machine>,
    /// A machine's mean time between status lines, ms, at the generator's rate.
    interval: f64,
    /// Until when the background leaves each machine alone (its lines are planned, or it
    /// is down).
    busy: Vec<i64>,
    /// Until when each machine has no new incident or look-alike.
    calm: Vec<i64>,
}

impl Machines {
    /// The fleet logging `rate` lines per second of event time.
    fn new(rate: f64) -> Self {
        let machines = machines();
        Machines {
            // The background's rate, shared by the fleet.
            interval: 10_000.0 * WORLD_RATE / rate,
            busy: vec![i64::MIN; machines.len()],
            calm: vec![i64::MIN; machines.len()],
            machines,
        }
    }

    /// A log line of machine `m`, one of `lines`, at `temperature` (the sensor's noise
    /// added).
    fn line(
        &self,
        rng: &mut ChaCha8Rng,
        m: usize,
        level: &str,
        lines: &[(&str, &str)],
        temperature: f64,
    ) -> Event {
        let (code, message) = lines[rng.random_range(0..lines.len())];
        let t = temperature + 0.6 * dist::normal(rng);
        let Value::Object(e) = json!({
            "machine": machine_id(m),
            "level": level,
            "code": code,
            "message": message,
            "temperature": (t * 10.0).round() / 10.0,
        }) else {
            unreachable!()
        };
        e
    }

    /// A status line of machine `m` at `temperature`.
    fn status(&self, rng: &mut ChaCha8Rng, m: usize, temperature: f64) -> Event {
        let weights: Vec<f64> = STATUS.iter().map(|s| s.2).collect();
        let (code, message, _) = STATUS[dist::weighted(rng, &weights)];
        self.line(rng, m, "INFO", &[(code, message)], temperature)
    }

    /// A machine without an incident or look-alike for a while, none if it takes too
    /// long to find one.
    fn idle(&mut self, rng: &mut ChaCha8Rng, now: i64, calm_until: i64) -> Option<usize> {
        let m = (0..200)
            .map(|_| rng.random_range(0..self.machines.len()))
            .find(|&m| self.calm[m] < now && self.busy[m] < now)?;
        self.calm[m] = calm_until;
        Some(m)
    }

    /// Status lines of machine `m` from `start` to `end` at `heat(t)` degrees over its
    /// usual temperature (`t` from 0 to 1), with `message` now and then; the times of
    /// the first and last.
    #[allow(clippy::too_many_arguments)]
    fn plan_status(
        &self,
        rng: &mut ChaCha8Rng,
        m: usize,
        (start, end): (i64, i64),
        heat: impl Fn(f64) -> f64,
        message: Option<(&str, &str)>,
        schedule: &mut Schedule,
    ) -> (i64, i64) {
        let span = (end - start) as f64;
        let (mut t, mut first, mut last) = (start as f64, None, start);
        while (t as i64) < end {
            let at = t as i64;
            let x = (at - start) as f64 / span;
            let temperature = self.machines[m].temperature(at) + heat(x);
            let e = match message {
                Some(line) if rng.random_bool(0.3) => {
                    self.line(rng, m, "INFO", &[line], temperature)
                }
                _ => self.status(rng, m, temperature),
            };
            schedule.at(at, e);
            first.get_or_insert(at);
            last = at;
            t += dist::exponential(rng, self.interval);
        }
        (first.unwrap_or(start), last)
    }

    /// Lines of `level` from `lines` between `start` and `end`, `per_min(x)` a minute at
    /// `x` (0 to 1) of the way, at the temperature `heat(x)` over the usual.
    #[allow(clippy::too_many_arguments)]
    fn plan_lines(
        &self,
        rng: &mut ChaCha8Rng,
        m: usize,
        (start, end): (i64, i64),
        per_min: impl Fn(f64) -> f64,
        top: f64,
        (level, lines): (&str, &[(&str, &str)]),
        heat: impl Fn(f64) -> f64,
        schedule: &mut Schedule,
    ) {
        if top <= 0.0 {
            return;
        }
        let span = (end - start) as f64;
        let mut t = start as f64;
        loop {
            t += dist::exponential(rng, 60_000.0 / top);
            let at = t as i64;
            if at >= end {
                break;
            }
            let x = (at - start) as f64 / span;
            if rng.random_bool((per_min(x) / top).clamp(0.0, 1.0)) {
                let temperature = self.machines[m].temperature(at) + heat(x);
                let e = self.line(rng, m, level, lines, temperature);
                schedule.at(at, e);
            }
        }
    }

    /// A failure building up: heat, warnings, errors, a last error; then the machine is
    /// down for a while and starts again.
    fn plan_failure(&mut self, rng: &mut ChaCha8Rng, now: i64, schedule: &mut Schedule) {
        let down = rng.random_range(10 * 60_000..40 * 60_000);
        let duration = rng.random_range(5 * 60_000..12 * 60_000);
        let Some(m) = self.idle(rng, now, now + duration + down.max(CALM_MS)) else {
            return;
        };
        let quiet = rng.random_bool(0.35);
        let range = self.machines[m].max() - self.machines[m].normal;
        let reach = if quiet {
            rng.random_range(0.45..0.7)
        } else {
            rng.random_range(0.75..1.1)
        } * range;
        let power = rng.random_range(1.0..2.0);
        let heat = move |x: f64| reach * x.powf(power);
        let warn_rate = if quiet {
            rng.random_range(0.8..2.0)
        } else {
            rng.random_range(2.5..6.0)
        };
        let (errors_from, error_rate) = if quiet {
            (rng.random_range(0.75..0.9), rng.random_range(0.2..0.6))
        } else {
            (rng.random_range(0.55..0.8), rng.random_range(0.8..3.0))
        };
        let start = now + rng.random_range(1_000..10_000);
        let stop = start + duration;
        self.busy[m] = stop + down;
        let (first, _) = self.plan_status(rng, m, (start, stop), heat, None, schedule);
        // Warnings come with the heat.
        let warnings = move |x: f64| warn_rate * x.powf(power);
        let wear = ("WARN", WEAR_WARNINGS);
        self.plan_lines(
            rng,
            m,
            (start, stop),
            warnings,
            warn_rate,
            wear,
            heat,
            schedule,
        );
        let errors = move |x: f64| if x >= errors_from { error_rate } else { 0.0 };
        let faults = ("ERROR", FAULTS);
        self.plan_lines(
            rng,
            m,
            (start, stop),
            errors,
            error_rate,
            faults,
            heat,
            schedule,
        );
        let temperature = self.machines[m].temperature(stop) + heat(1.0);
        let e = self.line(rng, m, "ERROR", FAULTS, temperature);
        schedule.at(stop, e);
        schedule.incident(machine_id(m), first.min(stop), stop, "failure");
        let back = stop + down;
        let temperature = self.machines[m].temperature(back) - 0.3 * range;
        let e = self.line(rng, m, "INFO", &[("I001", "machine started")], temperature);
        schedule.at(back, e);
    }

    /// A configuration reload: a burst of warnings, nothing else.
    fn plan_reload(&mut self, rng: &mut ChaCha8Rng, now: i64, schedule: &mut Schedule) {
        let Some(m) = self.idle(rng, now, now + CALM_MS) else {
            return;
        };
        let mut t = now + rng.random_range(1_000..10_000);
        for _ in 0..rng.random_range(5..=15) {
            let e = self.line(
                rng,
                m,
                "WARN",
                RELOAD_WARNINGS,
                self.machines[m].temperature(t),
            );
            schedule.at(t, e);
            t += rng.random_range(500..12_000);
        }
    }

    /// Heavy load: hot for a while, a temperature warning or two at most, no error.
    fn plan_heavy_load(&mut self, rng: &mut ChaCha8Rng, now: i64, schedule: &mut Schedule) {
        let duration = rng.random_range(10 * 60_000..25 * 60_000);
        let Some(m) = self.idle(rng, now, now + duration + CALM_MS) else {
            return;
        };
        let range = self.machines[m].max() - self.machines[m].normal;
        let reach = rng.random_range(0.5..0.95) * range;
        let rise = rng.random_range(0.15..0.4);
        let heat = move |x: f64| reach * (x / rise).min(1.0).min((1.0 - x) / 0.12);
        let start = now + rng.random_range(1_000..10_000);
        let stop = start + duration;
        self.busy[m] = stop;
        let load = Some(("I220", "load high"));
        self.plan_status(rng, m, (start, stop), heat, load, schedule);
        let warnings = rng.random_range(0..=2);
        let hot = move |x: f64| if x > rise { 1.0 } else { 0.0 };
        let wear = ("WARN", &WEAR_WARNINGS[..1]);
        let per_min = warnings as f64 * 60_000.0 / duration as f64;
        self.plan_lines(
            rng,
            m,
            (start, stop),
            |x| per_min * hot(x),
            per_min,
            wear,
            heat,
            schedule,
        );
    }

    /// A glitch: one to three errors within a minute.
    fn plan_glitch(&mut self, rng: &mut ChaCha8Rng, now: i64, schedule: &mut Schedule) {
        let Some(m) = self.idle(rng, now, now + CALM_MS) else {
            return;
        };
        let mut t = now + rng.random_range(1_000..10_000);
        for _ in 0..rng.random_range(1..=3) {
            let temperature = self.machines[m].temperature(t);
            let e = self.line(rng, m, "ERROR", GLITCHES, temperature);
            schedule.at(t, e);
            t += rng.random_range(2_000..30_000);
        }
    }
}

impl Model for Machines {
    fn next(&mut self, rng: &mut ChaCha8Rng, now: i64, schedule: &mut Schedule) -> Event {
        let plans: [(f64, crate::Plan<Self>); 4] = [
            (P_FAILURE, Self::plan_failure),
            (P_RELOAD, Self::plan_reload),
            (P_HEAVY_LOAD, Self::plan_heavy_load),
            (P_GLITCH, Self::plan_glitch),
        ];
        crate::maybe_plan(self, &plans, rng, now, schedule);
        let mut m = 0;
        for _ in 0..100 {
            m = rng.random_range(0..self.machines.len());
            if self.busy[m] < now {
                break;
            }
        }
        let temperature = self.machines[m].temperature(now);
        let x: f64 = rng.random();
        if x < P_ERROR {
            self.line(rng, m, "ERROR", GLITCHES, temperature)
        } else if x < P_ERROR + P_WARN {
            self.line(rng, m, "WARN", NOISE_WARNINGS, temperature)
        } else {
            self.status(rng, m, temperature)
        }
    }
}

/// The model of the world at `rate` events per second of event time.
pub(crate) fn model(rng: &mut ChaCha8Rng, rate: f64) -> Box<dyn Model> {
    let _ = rng;
    Box::new(Machines::new(rate))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use crate::{Event, Generator, Incident, Kind};

    /// `n` events of `seed` at the world's rate, and the failures among them.
    fn run(seed: u64, n: usize) -> (Vec<Event>, Vec<Incident>) {
        let mut g = Generator::new(Kind::Machines, seed).events_per_second(super::WORLD_RATE);
        let events: Vec<_> = g.by_ref().take(n).collect();
        let incidents = g.incidents().cloned().collect();
        (events, incidents)
    }

    #[test]
    fn fields_have_their_types() {
        let (events, _) = run(5, 20_000);
        let mut levels = BTreeSet::new();
        for e in &events {
            assert!(e["machine"].as_str().unwrap().starts_with("m-"), "{e:?}");
            let level = e["level"].as_str().unwrap();
            assert!(["INFO", "WARN", "ERROR"].contains(&level), "{e:?}");
            levels.insert(level.to_string());
            let code = e["code"].as_str().unwrap();
            assert!(code.starts_with(&level[..1]) && code.len() == 4, "{e:?}");
            assert!(!e["message"].as_str().unwrap().is_empty());
            let t = e["temperature"].as_f64().unwrap();
            assert!(
                e["temperature"].is_f64() && (10.0..160.0).contains(&t),
                "{e:?}"
            );
        }
        assert_eq!(levels.len(), 3, "{levels:?}");
        for r in super::rows() {
            assert!(r["normal_temp"].as_f64().unwrap() < r["max_temp"].as_f64().unwrap());
            assert!(r["type"].is_string() && r["site"].is_string());
        }
    }

    /// Each failure's events are in the stream, under its machine and between its
    /// times: warnings, errors, the temperature near the maximum at the end.
    #[test]
    fn incidents_are_in_the_events() {
        let (events, incidents) = run(11, 300_000);
        assert!(incidents.len() >= 30, "{} failures", incidents.len());
        let rows = super::rows();
        for i in &incidents {
            assert_eq!(i.kind, "failure");
            let of: Vec<&Event> = events
                .iter()
                .filter(|e| e["machine"] == i.key.as_str())
                .filter(|e| (i.start..=i.end).contains(&e["ts"].as_i64().unwrap()))
                .collect();
            let level = |l: &str| of.iter().filter(|e| e["level"] == l).count();
            assert!(level("ERROR") >= 1, "{i:?}");
            let last = of.iter().max_by_key(|e| e["ts"].as_i64()).unwrap();
            assert_eq!(last["level"], "ERROR", "{i:?}");
            assert_eq!(last["ts"], i.end);
            let row = rows.iter().find(|r| r["id"] == i.key.as_str()).unwrap();
            let (normal, max) = (
                row["normal_temp"].as_f64().unwrap(),
                row["max_temp"].as_f64().unwrap(),
            );
            let hottest = of
                .iter()
                .map(|e| e["temperature"].as_f64().unwrap())
                .fold(0.0, f64::max);
            assert!(
                hottest > normal + 0.35 * (max - normal),
                "{i:?}: {hottest} of {normal}..{max}"
            );
            // Then the machine is down.
            let after = events
                .iter()
                .filter(|e| e["machine"] == i.key.as_str())
                .filter(|e| (i.end + 1..i.end + 10 * 60_000).contains(&e["ts"].as_i64().unwrap()))
                .count();
            assert_eq!(after, 0, "{i:?}");
        }
    }

    #[test]
    fn the_same_seed_gives_the_same_events_and_failures() {
        let (a, fa) = run(3, 100_000);
        let (b, fb) = run(3, 100_000);
        assert_eq!(a, b);
        assert_eq!(fa, fb);
        assert!(!fa.is_empty());
        assert_ne!(run(4, 1000).0, a[..1000].to_vec());
    }

    /// Every machine the events name has a row.
    #[test]
    fn reference_rows_cover_every_machine() {
        let rows = super::rows();
        assert_eq!(rows.len(), super::MACHINES);
        let ids: BTreeSet<&str> = rows.iter().map(|r| r["id"].as_str().unwrap()).collect();
        let (events, _) = run(8, 100_000);
        let seen: BTreeSet<&str> = events
            .iter()
            .map(|e| e["machine"].as_str().unwrap())
            .collect();
        assert!(seen.is_subset(&ids));
        assert_eq!(seen.len(), ids.len());
    }
}
