//! Heart rate and oxygen saturation of patients on monitors, with rising episodes.
//!
//! Fields: `ts`, `patient`, `hr` (beats per minute, an integer), `spo2` (percent, one
//! decimal), `label` (`normal`, or `rising` for the readings of an episode: from above
//! 100 bpm, every reading higher than the one before, for four to seven readings, while
//! the saturation drops).

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Value};

use crate::{Event, Model, Schedule};

/// Seconds of event time between two readings of a patient, on average.
const READING_SECONDS: f64 = 5.0;

/// Per reading, how likely a patient's heart rate starts to rise.
const P_EPISODE: f64 = 0.002;

struct Patient {
    id: usize,
    baseline: f64,
    hr: f64,
    spo2: f64,
    /// Rising readings still to come.
    rising: u32,
    /// An episode just ended: the next reading is a normal one.
    calm: bool,
}

pub(crate) struct Vitals {
    patients: Vec<Patient>,
}

impl Vitals {
    /// As many patients as make each one's readings about [`READING_SECONDS`] apart at
    /// `rate` readings per second.
    pub(crate) fn new(rng: &mut ChaCha8Rng, rate: f64) -> Self {
        let n = ((rate * READING_SECONDS) as usize).clamp(10, 1_000_000);
        let patients = (0..n)
            .map(|id| {
                let baseline = rng.random_range(58.0..88.0);
                Patient {
                    id,
                    baseline,
                    hr: baseline,
                    spo2: rng.random_range(95.5..99.0),
                    rising: 0,
                    calm: false,
                }
            })
            .collect();
        Vitals { patients }
    }
}

impl Model for Vitals {
    fn next(&mut self, rng: &mut ChaCha8Rng, _now: i64, _schedule: &mut Schedule) -> Event {
        let i = rng.random_range(0..self.patients.len());
        let p = &mut self.patients[i];
        let label = if p.rising > 0 {
            p.hr += rng.random_range(3.0..12.0);
            p.spo2 = (p.spo2 - rng.random_range(0.3..1.2)).max(82.0);
            p.rising -= 1;
            p.calm = p.rising == 0;
            "rising"
        } else if !p.calm && rng.random_bool(P_EPISODE) {
            p.rising = rng.random_range(3..=6);
            p.hr = rng.random_range(101.0..112.0);
            p.spo2 = (p.spo2 - 1.0).max(88.0);
            "rising"
        } else {
            // Drifts back to the baseline, with some noise; after an episode (the
            // patient was treated) from just above it.
            if p.calm {
                p.hr = p.baseline + 8.0;
            }
            p.calm = false;
            p.hr = p.hr * 0.6 + p.baseline * 0.4 + rng.random_range(-4.0..4.0);
            p.spo2 = (p.spo2 * 0.7 + 97.5 * 0.3 + rng.random_range(-0.6..0.6)).min(100.0);
            "normal"
        };
        let Value::Object(e) = json!({
            "patient": format!("patient-{:05}", p.id),
            "hr": p.hr.round() as i64,
            "spo2": (p.spo2 * 10.0).round() / 10.0,
            "label": label,
        }) else {
            unreachable!()
        };
        e
    }
}

/// The model of the world at `rate` events per second of event time.
pub(crate) fn model(rng: &mut ChaCha8Rng, rate: f64) -> Box<dyn Model> {
    Box::new(Vitals::new(rng, rate))
}

/// No reference data.
pub(crate) fn reference() -> Option<(&'static str, Vec<Event>)> {
    None
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use crate::{Generator, Kind};

    #[test]
    fn fields_have_their_types() {
        for e in Generator::new(Kind::Vitals, 5).take(2000) {
            assert!(e["patient"].as_str().unwrap().starts_with("patient-"));
            assert!(e["hr"].is_i64());
            assert!(e["spo2"].is_f64());
        }
    }

    /// Episodes are runs of at least four rising readings of one patient, from above
    /// 100 bpm; normal readings rarely exceed 100.
    #[test]
    fn episodes_rise_reading_after_reading() {
        let events: Vec<_> = Generator::new(Kind::Vitals, 8).take(200_000).collect();
        let mut patients: HashMap<&str, Vec<(i64, &str)>> = HashMap::new();
        for e in &events {
            patients
                .entry(e["patient"].as_str().unwrap())
                .or_default()
                .push((e["hr"].as_i64().unwrap(), e["label"].as_str().unwrap()));
        }
        let mut episodes = 0;
        for readings in patients.values() {
            for run in readings.chunk_by(|a, b| a.1 == "rising" && b.1 == "rising") {
                if run.len() >= 4 && run[0].1 == "rising" {
                    assert!(run[0].0 > 100, "{run:?}");
                    assert!(run.windows(2).all(|w| w[1].0 > w[0].0), "{run:?}");
                    episodes += 1;
                }
            }
        }
        assert!(episodes >= 100, "{episodes} episodes");
        let high = events
            .iter()
            .filter(|e| e["label"] == "normal" && e["hr"].as_i64().unwrap() > 100)
            .count();
        assert!(
            high * 1000 < events.len(),
            "{high} normal readings above 100"
        );
    }
}
