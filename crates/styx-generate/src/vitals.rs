//! Heart rate and oxygen saturation of the patients on a hospital's monitors, with signs
//! of heart failure building up against a patient's own baseline.
//!
//! Fields: `ts`, `patient`, `hr` (beats per minute), `spo2` (oxygen saturation, percent),
//! both integers as monitors report them.
//!
//! The hospital has [`PATIENTS`] patients on monitors, the same for every seed: each has
//! a resting heart rate and saturation of their own (a few have a resting rate above
//! 100, some lung patients a saturation in the low nineties). The rate of events sets
//! how often each monitor reports: every `PATIENTS / rate` seconds. Readings wander
//! slowly around the patient's baseline, with noise, and now and then a saturation
//! reading drops for a moment (the probe slipped).
//!
//! Incidents (the key is the patient):
//!
//! - `heart_failure_signs`: the heart rate rises 16 to 50 beats above the patient's
//!   baseline over three to twelve minutes while the saturation falls 2.5 to 9 points
//!   (it starts falling early, the heart rate follows); `start` is when the rise starts,
//!   `end` when it peaks (then the patient is treated and recovers over several
//!   minutes). Rises are slow or fast, small or large, mostly in older patients and
//!   those of the heart wards, in patients whose resting rate is low (a rise that stays
//!   under 100) or high (above 100 before it starts).
//!
//! And look-alikes that are no heart failure: exertion or stress (the heart rate up by
//! 15 to 45 for half a minute to three minutes, the saturation steady or half a point
//! lower), a fever (the rate 10 to 22 higher for half an hour, the saturation steady),
//! and the patients whose resting rate is high.
//!
//! The reference table `patients` (key `id`) gives each patient's `age`, `ward`,
//! `baseline_hr` and `baseline_spo2`.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Value};

use crate::dist;
use crate::{Event, Model, Schedule};

/// Patients on monitors: the same for every rate and seed.
pub(crate) const PATIENTS: usize = 400;

/// Wards, share of patients.
const WARDS: &[(&str, f64)] = &[
    ("cardiology", 35.0),
    ("internal_medicine", 25.0),
    ("intensive_care", 10.0),
    ("pulmonology", 15.0),
    ("geriatrics", 15.0),
];

/// Mean event time between two planned heart failure episodes, in any patient.
const EPISODE_EVERY_MS: f64 = 200_000.0;
/// Mean event time between two bouts of exertion or stress.
const EXERTION_EVERY_MS: f64 = 120_000.0;
/// Mean event time between two fevers.
const FEVER_EVERY_MS: f64 = 300_000.0;
/// How long after a planned change is over a patient gets no other one.
const REST_MS: i64 = 75 * 60_000;
/// Per reading, how likely the saturation probe slips.
const P_ARTIFACT: f64 = 0.001;

/// A patient, as the hospital's records know them.
struct Record {
    age: u32,
    ward: usize,
    baseline_hr: f64,
    baseline_spo2: f64,
}

/// Every patient on a monitor: the same for every seed.
fn records() -> Vec<Record> {
    let mut rng = dist::world(5);
    let wards: Vec<f64> = WARDS.iter().map(|w| w.1).collect();
    (0..PATIENTS)
        .map(|_| {
            let ward = dist::weighted(&mut rng, &wards);
            let age = if WARDS[ward].0 == "geriatrics" {
                rng.random_range(72..96)
            } else {
                rng.random_range(24..90)
            };
            // About one patient in eight has a resting rate above 95 (tachycardia at
            // rest); the others between about 52 and 92.
            let baseline_hr = if rng.random_bool(0.12) {
                rng.random_range(96.0..114.0)
            } else {
                (72.0 + 8.0 * dist::normal(&mut rng)).clamp(52.0, 92.0)
            };
            let baseline_spo2 = if WARDS[ward].0 == "pulmonology" && rng.random_bool(0.6) {
                rng.random_range(90.0..94.0)
            } else {
                rng.random_range(94.5..98.5)
            };
            Record {
                age,
                ward,
                baseline_hr: (baseline_hr * 10.0_f64).round() / 10.0,
                baseline_spo2: (baseline_spo2 * 10.0_f64).round() / 10.0,
            }
        })
        .collect()
}

fn patient_id(patient: usize) -> String {
    format!("patient-{patient:05}")
}

/// The `patients` reference table.
pub(crate) fn reference() -> Option<(&'static str, Vec<Event>)> {
    Some(("patients", patients()))
}

fn patients() -> Vec<Event> {
    records()
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let Value::Object(row) = json!({
                "id": patient_id(i),
                "age": r.age,
                "ward": WARDS[r.ward].0,
                "baseline_hr": r.baseline_hr,
                "baseline_spo2": r.baseline_spo2,
            }) else {
                unreachable!()
            };
            row
        })
        .collect()
}

/// A planned change of a patient's vital signs: it rises for `rise_ms` from `start`
/// (faster or slower as `shape` says), holds for `hold_ms`, and fades over `fall_ms`.
struct Change {
    start: i64,
    rise_ms: i64,
    hold_ms: i64,
    fall_ms: i64,
    /// The rise's curve: the fraction reached is `elapsed ^ shape`.
    shape: f64,
    /// Beats per minute added at the top.
    hr: f64,
    /// Saturation points taken at the top.
    spo2: f64,
}

impl Change {
    /// How much of the change is there at `t`, from 0 to 1.
    fn level(&self, t: i64) -> f64 {
        let d = t - self.start;
        if d < 0 {
            0.0
        } else if d < self.rise_ms {
            (d as f64 / self.rise_ms as f64).powf(self.shape)
        } else if d < self.rise_ms + self.hold_ms {
            1.0
        } else if d < self.rise_ms + self.hold_ms + self.fall_ms {
            1.0 - (d - self.rise_ms - self.hold_ms) as f64 / self.fall_ms as f64
        } else {
            0.0
        }
    }

    fn over(&self) -> i64 {
        self.start + self.rise_ms + self.hold_ms + self.fall_ms
    }
}

/// Whom a planned change rather goes to.
#[derive(Clone, Copy)]
enum Prefer {
    Anyone,
    /// Patients whose resting heart rate is high.
    HighRate,
    /// Older patients and those of the heart wards.
    AtRisk,
}

/// A patient's monitor now.
struct Monitor {
    /// Slow wander of the heart rate and saturation around the baseline.
    hr_drift: f64,
    spo2_drift: f64,
    /// Event time of the last reading.
    last: i64,
    /// Planned changes not over yet.
    changes: Vec<Change>,
    /// No new change planned before this.
    busy_until: i64,
}

pub(crate) struct Vitals {
    records: Vec<Record>,
    monitors: Vec<Monitor>,
    /// Monitors by when their next reading is due: the earliest reports next.
    due: BinaryHeap<Reverse<(i64, usize)>>,
    /// Milliseconds between two readings of a monitor.
    interval_ms: f64,
    /// When the next episode, exertion and fever are planned (None: not yet started).
    next_episode: Option<f64>,
    next_exertion: f64,
    next_fever: f64,
}

impl Vitals {
    /// The hospital's patients, each reporting every `PATIENTS / rate` seconds.
    pub(crate) fn new(rng: &mut ChaCha8Rng, rate: f64) -> Self {
        let records = records();
        let interval_ms = PATIENTS as f64 * 1000.0 / rate;
        let monitors = records
            .iter()
            .map(|_| Monitor {
                hr_drift: 2.5 * dist::normal(rng),
                spo2_drift: 0.3 * dist::normal(rng),
                last: i64::MIN,
                changes: Vec::new(),
                busy_until: i64::MIN,
            })
            .collect();
        Vitals {
            records,
            monitors,
            due: BinaryHeap::new(),
            interval_ms,
            next_episode: None,
            next_exertion: 0.0,
            next_fever: 0.0,
        }
    }

    /// A patient without a planned change now, one whom `prefer` likes better.
    fn idle_patient(&mut self, rng: &mut ChaCha8Rng, now: i64, prefer: Prefer) -> usize {
        for _ in 0..10_000 {
            let p = rng.random_range(0..PATIENTS);
            let r = &self.records[p];
            let liked = match prefer {
                Prefer::Anyone => true,
                Prefer::HighRate => r.baseline_hr >= 95.0,
                Prefer::AtRisk => {
                    r.age >= 65 || matches!(WARDS[r.ward].0, "cardiology" | "intensive_care")
                }
            };
            if !liked && rng.random_bool(0.7) {
                continue;
            }
            if self.monitors[p].busy_until < now {
                return p;
            }
        }
        // Everyone is busy (rates far above the hospital's): the least busy one.
        (0..PATIENTS)
            .min_by_key(|&p| (self.monitors[p].busy_until, p))
            .unwrap_or(0)
    }

    /// Plans `change` for patient `p`, who gets no other one until [`REST_MS`] after it.
    fn plan(&mut self, p: usize, change: Change) {
        let m = &mut self.monitors[p];
        m.busy_until = change.over() + REST_MS;
        m.changes.push(change);
    }

    /// Heart failure signs: the heart rate up 16 to 50 over 3 to 12 minutes, the
    /// saturation down 2.5 to 9; then treatment, and recovery over 5 to 12 minutes.
    fn plan_episode(&mut self, rng: &mut ChaCha8Rng, at: i64, schedule: &mut Schedule) {
        // Mostly older patients and heart patients; some whose resting rate is high.
        let prefer = if rng.random_bool(0.25) {
            Prefer::HighRate
        } else {
            Prefer::AtRisk
        };
        let p = self.idle_patient(rng, at, prefer);
        let hard = rng.random_bool(0.35);
        let (hr, spo2) = if hard {
            (rng.random_range(16.0..26.0), rng.random_range(2.5..3.8))
        } else {
            (rng.random_range(24.0..50.0), rng.random_range(3.5..9.0))
        };
        let rise_ms = rng.random_range(3 * 60_000..12 * 60_000);
        let change = Change {
            start: at,
            rise_ms,
            hold_ms: 0,
            fall_ms: rng.random_range(5 * 60_000..12 * 60_000),
            shape: rng.random_range(0.8..1.6),
            hr,
            spo2,
        };
        schedule.incident(patient_id(p), at, at + rise_ms, "heart_failure_signs");
        self.plan(p, change);
    }

    /// Exertion or stress: the heart rate up 15 to 45 within a minute, for half a minute
    /// to three minutes, the saturation steady or half a point lower.
    fn plan_exertion(&mut self, rng: &mut ChaCha8Rng, at: i64) {
        let p = self.idle_patient(rng, at, Prefer::Anyone);
        let change = Change {
            start: at,
            rise_ms: rng.random_range(15_000..60_000),
            hold_ms: rng.random_range(30_000..180_000),
            fall_ms: rng.random_range(60_000..180_000),
            shape: 1.0,
            hr: rng.random_range(15.0..45.0),
            spo2: rng.random_range(0.0..0.6),
        };
        self.plan(p, change);
    }

    /// A fever: the heart rate 10 to 22 higher for half an hour, the saturation steady.
    fn plan_fever(&mut self, rng: &mut ChaCha8Rng, at: i64) {
        let p = self.idle_patient(rng, at, Prefer::Anyone);
        let change = Change {
            start: at,
            rise_ms: rng.random_range(8 * 60_000..20 * 60_000),
            hold_ms: rng.random_range(10 * 60_000..30 * 60_000),
            fall_ms: rng.random_range(10 * 60_000..20 * 60_000),
            shape: 1.0,
            hr: rng.random_range(10.0..22.0),
            spo2: rng.random_range(0.0..0.5),
        };
        self.plan(p, change);
    }

    /// Plans what starts by `now`, each at its time in a Poisson process of event time.
    fn plan_due(&mut self, rng: &mut ChaCha8Rng, now: i64, schedule: &mut Schedule) {
        let t0 = now as f64;
        let next_episode = *self.next_episode.get_or_insert_with(|| {
            // The first few minutes only show the patients as they are.
            self.next_exertion = t0 + dist::exponential(rng, EXERTION_EVERY_MS);
            self.next_fever = t0 + dist::exponential(rng, FEVER_EVERY_MS);
            t0 + 120_000.0 + dist::exponential(rng, EPISODE_EVERY_MS)
        });
        if next_episode <= t0 {
            if !schedule.closing() {
                self.plan_episode(rng, now, schedule);
            }
            self.next_episode = Some(next_episode + dist::exponential(rng, EPISODE_EVERY_MS));
        }
        if self.next_exertion <= t0 {
            if !schedule.closing() {
                self.plan_exertion(rng, now);
            }
            self.next_exertion += dist::exponential(rng, EXERTION_EVERY_MS);
        }
        if self.next_fever <= t0 {
            if !schedule.closing() {
                self.plan_fever(rng, now);
            }
            self.next_fever += dist::exponential(rng, FEVER_EVERY_MS);
        }
    }
}

impl Model for Vitals {
    fn next(&mut self, rng: &mut ChaCha8Rng, now: i64, schedule: &mut Schedule) -> Event {
        if self.due.is_empty() {
            // The monitors' clocks are spread over one interval.
            for p in 0..PATIENTS {
                let offset = rng.random_range(0.0..self.interval_ms) as i64;
                self.due.push(Reverse((now + offset, p)));
            }
        }
        self.plan_due(rng, now, schedule);
        let Reverse((due, p)) = self.due.pop().expect("every monitor is due some time");
        let jitter = self.interval_ms * rng.random_range(0.9..1.1);
        self.due.push(Reverse((due.max(now) + jitter as i64, p)));

        let record = &self.records[p];
        let m = &mut self.monitors[p];
        // The wander: mean-reverting over about a quarter of an hour.
        let dt = if m.last == i64::MIN { 0 } else { now - m.last };
        m.last = now;
        let keep = (-(dt as f64) / 900_000.0).exp();
        let fresh = (1.0 - keep * keep).sqrt();
        m.hr_drift = m.hr_drift * keep + 2.5 * fresh * dist::normal(rng);
        m.spo2_drift = m.spo2_drift * keep + 0.3 * fresh * dist::normal(rng);
        m.changes.retain(|c| c.over() > now);
        let (mut hr, mut spo2) = (
            record.baseline_hr + m.hr_drift + 2.0 * dist::normal(rng),
            record.baseline_spo2 + m.spo2_drift + 0.5 * dist::normal(rng),
        );
        for c in &m.changes {
            let level = c.level(now);
            hr += c.hr * level;
            // The saturation falls early in a change, the heart rate follows.
            spo2 -= c.spo2 * level.powf(0.6);
        }
        if rng.random_bool(P_ARTIFACT) {
            spo2 -= rng.random_range(4.0..12.0);
        }
        let Value::Object(e) = json!({
            "patient": patient_id(p),
            "hr": hr.round().clamp(30.0, 220.0) as i64,
            "spo2": spo2.round().clamp(60.0, 100.0) as i64,
        }) else {
            unreachable!()
        };
        e
    }
}

/// The model of the world at `rate` readings per second of event time.
pub(crate) fn model(rng: &mut ChaCha8Rng, rate: f64) -> Box<dyn Model> {
    Box::new(Vitals::new(rng, rate))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::PATIENTS;
    use crate::{Generator, Kind};

    fn int(e: &crate::Event, f: &str) -> i64 {
        e[f].as_i64().unwrap()
    }

    #[test]
    fn fields_have_their_types() {
        for e in Generator::new(Kind::Vitals, 5).take(2000) {
            assert!(e["patient"].as_str().unwrap().starts_with("patient-"));
            assert!((30..=220).contains(&int(&e, "hr")), "{e:?}");
            assert!((60..=100).contains(&int(&e, "spo2")), "{e:?}");
            assert_eq!(e.len(), 4, "{e:?}");
        }
    }

    /// The rate sets how often a monitor reports; the patients stay the same.
    #[test]
    fn each_patient_reports_at_an_interval_set_by_the_rate() {
        for rate in [50.0, 400.0] {
            let events: Vec<_> = Generator::new(Kind::Vitals, 3)
                .events_per_second(rate)
                .take(20 * PATIENTS)
                .collect();
            let mut by: BTreeMap<&str, Vec<i64>> = BTreeMap::new();
            for e in &events {
                by.entry(e["patient"].as_str().unwrap())
                    .or_default()
                    .push(int(e, "ts"));
            }
            assert_eq!(by.len(), PATIENTS);
            let expected = PATIENTS as f64 * 1000.0 / rate;
            for ts in by.values() {
                let gaps: Vec<i64> = ts.windows(2).map(|w| w[1] - w[0]).collect();
                let mean = gaps.iter().sum::<i64>() as f64 / gaps.len() as f64;
                assert!(
                    (mean - expected).abs() < expected * 0.2,
                    "{mean} vs {expected}"
                );
            }
        }
    }

    /// The reference rows are the patients of the events, with their own baselines:
    /// a patient's readings average near them, away from episodes.
    #[test]
    fn reference_rows_are_the_patients_of_the_events() {
        let (table, rows) = super::reference().unwrap();
        assert_eq!(table, "patients");
        assert_eq!(rows.len(), PATIENTS);
        assert_eq!(rows, super::patients(), "the same rows every time");
        let mut g = Generator::new(Kind::Vitals, 9).events_per_second(50.0);
        let events: Vec<_> = g.by_ref().take(200_000).collect();
        let mut sums: BTreeMap<&str, (f64, f64, f64)> = BTreeMap::new();
        for e in &events {
            let s = sums.entry(e["patient"].as_str().unwrap()).or_default();
            *s = (
                s.0 + int(e, "hr") as f64,
                s.1 + int(e, "spo2") as f64,
                s.2 + 1.0,
            );
        }
        let (mut high, mut near_hr, mut near_spo2) = (0, 0, 0);
        for row in &rows {
            let id = row["id"].as_str().unwrap();
            let (hr, spo2, n) = sums[id];
            let baseline = row["baseline_hr"].as_f64().unwrap();
            if baseline > 100.0 {
                high += 1;
            }
            assert!(row["age"].is_u64() && row["ward"].is_string(), "{row:?}");
            // Episodes, exertion and fevers lift some means; the wander moves them a
            // few beats.
            if (hr / n - baseline).abs() < 5.0 {
                near_hr += 1;
            }
            if (spo2 / n - row["baseline_spo2"].as_f64().unwrap()).abs() < 1.0 {
                near_spo2 += 1;
            }
        }
        assert!(
            near_hr * 10 >= PATIENTS * 8,
            "{near_hr} near their resting rate"
        );
        assert!(
            near_spo2 * 10 >= PATIENTS * 9,
            "{near_spo2} near their saturation"
        );
        assert!(high >= 10, "{high} patients with a resting rate above 100");
    }

    /// The same seed gives the same readings and episodes; another seed other ones.
    #[test]
    fn the_same_seed_gives_the_same_readings_and_episodes() {
        let run = |seed| {
            let mut g = Generator::new(Kind::Vitals, seed).events_per_second(20.0);
            let events: Vec<_> = g.by_ref().take(60_000).collect();
            (events, g.incidents().cloned().collect::<Vec<_>>())
        };
        let (events, incidents) = run(4);
        assert!(!incidents.is_empty());
        assert_eq!((events.clone(), incidents.clone()), run(4));
        assert_ne!(events, run(5).0);
    }

    /// Each episode's readings rise well above the patient's baseline while the
    /// saturation falls below it.
    #[test]
    fn incidents_are_in_the_events() {
        let mut g = Generator::new(Kind::Vitals, 11).events_per_second(20.0);
        let events: Vec<_> = g.by_ref().take(300_000).collect();
        let incidents: Vec<_> = g.incidents().cloned().collect();
        assert!(incidents.len() >= 40, "{} episodes", incidents.len());
        let rows = super::patients();
        let mut above_100_before = 0;
        let mut under_100_at_peak = 0;
        for i in &incidents {
            assert_eq!(i.kind, "heart_failure_signs");
            let row = rows.iter().find(|r| r["id"] == i.key.as_str()).unwrap();
            let (hr0, spo20) = (
                row["baseline_hr"].as_f64().unwrap(),
                row["baseline_spo2"].as_f64().unwrap(),
            );
            let of: Vec<_> = events
                .iter()
                .filter(|e| e["patient"] == i.key.as_str())
                .filter(|e| (i.start..=i.end).contains(&int(e, "ts")))
                .collect();
            assert!(of.len() >= 6, "{i:?}: {} readings", of.len());
            // The last minute of the rise.
            let last: Vec<_> = of
                .iter()
                .filter(|e| int(e, "ts") >= i.end - 60_000)
                .collect();
            let hr = last.iter().map(|e| int(e, "hr") as f64).sum::<f64>() / last.len() as f64;
            let spo2 = last.iter().map(|e| int(e, "spo2") as f64).sum::<f64>() / last.len() as f64;
            assert!(hr - hr0 > 8.0, "{i:?}: {hr} vs {hr0}");
            assert!(spo20 - spo2 > 0.5, "{i:?}: {spo2} vs {spo20}");
            if hr0 > 100.0 {
                above_100_before += 1;
            }
            if hr < 100.0 {
                under_100_at_peak += 1;
            }
        }
        assert!(
            above_100_before >= 2,
            "{above_100_before} from a rate above 100"
        );
        assert!(under_100_at_peak >= 5, "{under_100_at_peak} stay under 100");
    }
}
