//! Button presses of players in an online fighting game, with key combos.
//!
//! Fields: `ts`, `player`, `button` (`up`, `down`, `back`, `forward`, `punch`, `kick`,
//! `block`, `jump`), `power` (1 to 100: how hard the button was hit), `label` (`normal`,
//! or `combo` for the presses of a planted combo: down, forward, punch within 300 ms,
//! each harder than the one before).

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Value};

use crate::dist;
use crate::{Event, Model, Schedule};

const BUTTONS: &[&str] = &[
    "up", "down", "back", "forward", "punch", "kick", "block", "jump",
];

const PLAYERS: usize = 2_000;

/// Per background press, how likely a combo starts.
const P_COMBO: f64 = 0.004;

pub(crate) struct Games;

impl Games {
    pub(crate) fn new() -> Self {
        Games
    }

    fn press(player: usize, button: &str, power: u32, label: &str) -> Event {
        let Value::Object(e) = json!({
            "player": format!("player-{player:04}"),
            "button": button,
            "power": power,
            "label": label,
        }) else {
            unreachable!()
        };
        e
    }

    /// Down, forward, punch: each within 40-140 ms of the one before, each harder.
    fn plan_combo(rng: &mut ChaCha8Rng, now: i64, schedule: &mut Schedule) {
        let player = dist::power(rng, PLAYERS, 1.5);
        let mut t = now + rng.random_range(100..2_000);
        let mut power = rng.random_range(10..40);
        for button in ["down", "forward", "punch"] {
            schedule.at(t, Games::press(player, button, power, "combo"));
            t += rng.random_range(40..140);
            power += rng.random_range(5..25);
        }
    }
}

impl Model for Games {
    fn next(&mut self, rng: &mut ChaCha8Rng, now: i64, schedule: &mut Schedule) -> Event {
        if rng.random_bool(P_COMBO) {
            Games::plan_combo(rng, now, schedule);
        }
        let player = dist::power(rng, PLAYERS, 1.5);
        let button = BUTTONS[rng.random_range(0..BUTTONS.len())];
        Games::press(player, button, rng.random_range(1..=100), "normal")
    }
}

/// The model of the world at `rate` events per second of event time.
pub(crate) fn model(_rng: &mut ChaCha8Rng, _rate: f64) -> Box<dyn Model> {
    Box::new(Games::new())
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
        for e in Generator::new(Kind::Games, 5).take(2000) {
            assert!(e["player"].as_str().unwrap().starts_with("player-"));
            assert!(super::BUTTONS.contains(&e["button"].as_str().unwrap()));
            assert!((1..=100).contains(&e["power"].as_u64().unwrap()));
        }
    }

    /// Planted combos come as down, forward, punch of one player within 300 ms.
    #[test]
    fn combos_are_three_presses_within_300ms() {
        let events: Vec<_> = Generator::new(Kind::Games, 3).take(100_000).collect();
        let mut combos: HashMap<&str, Vec<(i64, &str)>> = HashMap::new();
        for e in events.iter().filter(|e| e["label"] == "combo") {
            combos
                .entry(e["player"].as_str().unwrap())
                .or_default()
                .push((e["ts"].as_i64().unwrap(), e["button"].as_str().unwrap()));
        }
        let mut found = 0;
        for presses in combos.values() {
            for w in presses.windows(3) {
                if w[0].1 == "down" && w[1].1 == "forward" && w[2].1 == "punch" {
                    assert!(w[2].0 - w[0].0 < 300, "{w:?}");
                    found += 1;
                }
            }
        }
        assert!(found >= 100, "{found} combos");
    }
}
