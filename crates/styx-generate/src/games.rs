//! Button presses of players in an online fighting game, with key combos.
//!
//! Fields: `ts`, `player`, `button` (`up`, `down`, `back`, `forward`, `punch`, `kick`,
//! `block`, `jump`), `power` (1 to 100: how hard the button was hit).
//!
//! Incidents (the key is the player), kind `combo`: down, forward and punch, one right
//! after the other with no other press of the player between them, all within 300 ms:
//! the first press is the incident's start, the punch its end. Most take 80 to 230 ms;
//! some are just in time (230 to 275 ms).
//!
//! And near-misses that are no combo: the same three presses too slowly (350 to 600 ms);
//! down and forward, another button, then punch, all within 300 ms; the three buttons in
//! another order within 300 ms. And look-alikes that are no player's: a macro (a bot)
//! pressing down, forward, punch frame-perfect, the two gaps equal to a millisecond and
//! the three presses equally hard.
//!
//! A player in a combo or a near-miss presses nothing else from half a second before it
//! to half a second after it, and the steady presses never make down, forward, punch
//! within 400 ms by chance.

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Value};

use crate::dist;
use crate::{Event, Model, Schedule};

const BUTTONS: &[&str] = &[
    "up", "down", "back", "forward", "punch", "kick", "block", "jump",
];

const DOWN: usize = 1;
const FORWARD: usize = 3;
const PUNCH: usize = 4;

const PLAYERS: usize = 500;

/// Per steady press, how likely a combo starts, and each kind of near-miss.
const P_COMBO: f64 = 0.002;
const P_SLOW: f64 = 0.0008;
const P_INTERRUPTED: f64 = 0.0008;
const P_WRONG_ORDER: f64 = 0.0008;
const P_MACRO: f64 = 0.0006;

/// A player in a combo or a near-miss presses nothing else this long before and after.
const QUIET_MS: i64 = 500;
/// The steady presses never make a combo within this much time.
const NO_CHANCE_COMBO_MS: i64 = 400;

pub(crate) struct Games {
    /// Per player, until when the steady presses leave them alone.
    busy: Vec<i64>,
    /// Per player, their last two steady presses: time and button, newest last.
    last: Vec<[(i64, usize); 2]>,
}

impl Games {
    pub(crate) fn new() -> Self {
        Games {
            busy: vec![i64::MIN; PLAYERS],
            last: vec![[(i64::MIN, 0); 2]; PLAYERS],
        }
    }

    fn press(player: usize, button: usize, power: u32) -> Event {
        let Value::Object(e) = json!({
            "player": format!("player-{player:04}"),
            "button": BUTTONS[button],
            "power": power,
        }) else {
            unreachable!()
        };
        e
    }

    /// A player doing nothing else now, kept out of the steady presses for the
    /// `span` milliseconds from `start` (and a quiet margin around them).
    fn idle_player(&mut self, rng: &mut ChaCha8Rng, now: i64, start: i64, span: i64) -> usize {
        loop {
            let p = dist::power(rng, PLAYERS, 1.3);
            if self.busy[p] < now {
                self.busy[p] = start + span + QUIET_MS;
                return p;
            }
        }
    }

    /// Plans `buttons` of one player, the gaps between them drawn from `gaps`; the
    /// player, the first press's time and the last's.
    fn plan(
        &mut self,
        rng: &mut ChaCha8Rng,
        now: i64,
        schedule: &mut Schedule,
        buttons: &[usize],
        gaps: &[i64],
    ) -> (usize, i64, i64) {
        let start = now + QUIET_MS + rng.random_range(0..1_000);
        let span: i64 = gaps.iter().sum();
        let player = self.idle_player(rng, now, start, span);
        let mut t = start;
        for (i, &b) in buttons.iter().enumerate() {
            if i > 0 {
                t += gaps[i - 1];
            }
            schedule.at(t, Games::press(player, b, rng.random_range(20..=100)));
        }
        (player, start, t)
    }

    /// `n` gaps summing to `total` milliseconds, each at least 35.
    fn gaps(rng: &mut ChaCha8Rng, n: usize, total: i64) -> Vec<i64> {
        let spare = total - 35 * n as i64;
        let mut cuts: Vec<i64> = (0..n - 1).map(|_| rng.random_range(0..=spare)).collect();
        cuts.sort_unstable();
        let mut gaps = Vec::with_capacity(n);
        let mut prev = 0;
        for c in cuts.into_iter().chain([spare]) {
            gaps.push(35 + c - prev);
            prev = c;
        }
        gaps
    }

    /// Down, forward, punch within 80 to 275 ms.
    fn plan_combo(&mut self, rng: &mut ChaCha8Rng, now: i64, schedule: &mut Schedule) {
        let total = if rng.random_bool(0.2) {
            rng.random_range(230..=275)
        } else {
            rng.random_range(80..230)
        };
        let gaps = Games::gaps(rng, 2, total);
        let (player, start, end) = self.plan(rng, now, schedule, &[DOWN, FORWARD, PUNCH], &gaps);
        schedule.incident(format!("player-{player:04}"), start, end, "combo");
    }

    /// Down, forward, punch in 350 to 600 ms.
    fn plan_slow(&mut self, rng: &mut ChaCha8Rng, now: i64, schedule: &mut Schedule) {
        let total = rng.random_range(350..=600);
        let gaps = Games::gaps(rng, 2, total);
        self.plan(rng, now, schedule, &[DOWN, FORWARD, PUNCH], &gaps);
    }

    /// Down, forward, another button, punch within 300 ms.
    fn plan_interrupted(&mut self, rng: &mut ChaCha8Rng, now: i64, schedule: &mut Schedule) {
        let other = loop {
            let b = rng.random_range(0..BUTTONS.len());
            if b != PUNCH {
                break b;
            }
        };
        let total = rng.random_range(120..=280);
        let gaps = Games::gaps(rng, 3, total);
        self.plan(rng, now, schedule, &[DOWN, FORWARD, other, PUNCH], &gaps);
    }

    /// A macro's down, forward, punch: two to five frames (at 60 a second) apart, each
    /// gap the same within a millisecond, every press as hard.
    fn plan_macro(&mut self, rng: &mut ChaCha8Rng, now: i64, schedule: &mut Schedule) {
        let gap = (rng.random_range(2..=5) as f64 * 1000.0 / 60.0).round() as i64;
        let gaps = [gap, gap + rng.random_range(-1..=1)];
        let start = now + QUIET_MS + rng.random_range(0..1_000);
        let player = self.idle_player(rng, now, start, gaps[0] + gaps[1]);
        let power = rng.random_range(20..=100);
        let mut t = start;
        for (i, b) in [DOWN, FORWARD, PUNCH].into_iter().enumerate() {
            if i > 0 {
                t += gaps[i - 1];
            }
            schedule.at(t, Games::press(player, b, power));
        }
    }

    /// Down, forward and punch in another order within 300 ms.
    fn plan_wrong_order(&mut self, rng: &mut ChaCha8Rng, now: i64, schedule: &mut Schedule) {
        const ORDERS: [[usize; 3]; 5] = [
            [FORWARD, DOWN, PUNCH],
            [DOWN, PUNCH, FORWARD],
            [PUNCH, DOWN, FORWARD],
            [FORWARD, PUNCH, DOWN],
            [PUNCH, FORWARD, DOWN],
        ];
        let order = ORDERS[rng.random_range(0..ORDERS.len())];
        let total = rng.random_range(80..=280);
        let gaps = Games::gaps(rng, 2, total);
        self.plan(rng, now, schedule, &order, &gaps);
    }
}

impl Model for Games {
    fn next(&mut self, rng: &mut ChaCha8Rng, now: i64, schedule: &mut Schedule) -> Event {
        let plans: [(f64, crate::Plan<Self>); 5] = [
            (P_COMBO, Self::plan_combo),
            (P_SLOW, Self::plan_slow),
            (P_INTERRUPTED, Self::plan_interrupted),
            (P_WRONG_ORDER, Self::plan_wrong_order),
            (P_MACRO, Self::plan_macro),
        ];
        crate::maybe_plan(self, &plans, rng, now, schedule);
        let player = loop {
            let p = dist::power(rng, PLAYERS, 1.3);
            if self.busy[p] < now {
                break p;
            }
        };
        let [(t0, b0), (t1, b1)] = self.last[player];
        let button = loop {
            let b = rng.random_range(0..BUTTONS.len());
            let chance_combo = b == PUNCH
                && b1 == FORWARD
                && b0 == DOWN
                && now.saturating_sub(t0) < NO_CHANCE_COMBO_MS;
            if !chance_combo {
                break b;
            }
        };
        self.last[player] = [(t1, b1), (now, button)];
        Games::press(player, button, rng.random_range(1..=100))
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
    use std::collections::BTreeMap;

    use crate::{Event, Generator, Incident, Kind};

    fn run(seed: u64) -> (Vec<Event>, Vec<Incident>) {
        let mut g = Generator::new(Kind::Games, seed).events_per_second(200.0);
        let events: Vec<_> = g.by_ref().take(100_000).collect();
        (events, g.incidents().cloned().collect())
    }

    fn ts(e: &Event) -> i64 {
        e["ts"].as_i64().unwrap()
    }

    #[test]
    fn fields_have_their_types() {
        for e in Generator::new(Kind::Games, 5).take(2000) {
            assert!(e["player"].as_str().unwrap().starts_with("player-"));
            assert!(super::BUTTONS.contains(&e["button"].as_str().unwrap()));
            assert!((1..=100).contains(&e["power"].as_u64().unwrap()));
            assert!(e.get("label").is_none(), "{e:?}");
        }
    }

    /// Each player's presses, in time order.
    fn by_player(events: &[Event]) -> BTreeMap<&str, Vec<(i64, &str)>> {
        let mut by: BTreeMap<&str, Vec<(i64, &str)>> = BTreeMap::new();
        for e in events {
            by.entry(e["player"].as_str().unwrap())
                .or_default()
                .push((ts(e), e["button"].as_str().unwrap()));
        }
        for presses in by.values_mut() {
            presses.sort_by_key(|p| p.0);
        }
        by
    }

    /// Down, forward, punch of one player in a row within 300 ms: the planted combos,
    /// each its incident from the down to the punch, and macros' (gaps equal to a
    /// millisecond), which are none.
    #[test]
    fn combos_are_the_incidents() {
        let (events, incidents) = run(3);
        assert!(incidents.len() >= 60, "{} combos", incidents.len());
        let mut found: Vec<(String, i64, i64)> = Vec::new();
        let mut macros = 0;
        for (player, presses) in by_player(&events) {
            for w in presses.windows(3) {
                let buttons = [w[0].1, w[1].1, w[2].1];
                if buttons == ["down", "forward", "punch"] && w[2].0 - w[0].0 < 300 {
                    found.push((player.to_string(), w[0].0, w[2].0));
                }
            }
        }
        let mut planted: Vec<(String, i64, i64)> = incidents
            .iter()
            .map(|i| (i.key.clone(), i.start, i.end))
            .collect();
        // The last presses of the run may be planted without their incident.
        let last = ts(events.last().unwrap()) - 2_000;
        found.retain(|f| f.2 < last);
        planted.retain(|p| p.2 < last);
        found.sort();
        planted.sort();
        for f in &found {
            if planted.binary_search(f).is_err() {
                let presses = &by_player(&events)[f.0.as_str()];
                let i = presses.iter().position(|p| p.0 == f.1).unwrap();
                let (g1, g2) = (
                    presses[i + 1].0 - presses[i].0,
                    presses[i + 2].0 - presses[i + 1].0,
                );
                assert!(
                    (g1 - g2).abs() <= 1,
                    "{f:?}: not a macro's ({g1} ms, {g2} ms)"
                );
                macros += 1;
            }
        }
        assert!(macros >= 10, "{macros} macros");
        assert_eq!(found.len() - macros, planted.len());
        assert!(incidents
            .iter()
            .all(|i| i.kind == "combo" && i.end - i.start < 300));
    }

    /// Near-misses: the three buttons in a row too slowly, in another order, or with
    /// another press between them.
    #[test]
    fn near_misses_are_in_the_events() {
        let (events, _) = run(3);
        let (mut slow, mut wrong, mut interrupted) = (0, 0, 0);
        for presses in by_player(&events).values() {
            for w in presses.windows(3) {
                let b = [w[0].1, w[1].1, w[2].1];
                let span = w[2].0 - w[0].0;
                if b == ["down", "forward", "punch"] && (350..=600).contains(&span) {
                    slow += 1;
                }
                let mut sorted = b;
                sorted.sort_unstable();
                if sorted == ["down", "forward", "punch"] && b[0] != "down" && span < 300 {
                    wrong += 1;
                }
            }
            for w in presses.windows(4) {
                if [w[0].1, w[1].1, w[3].1] == ["down", "forward", "punch"] && w[3].0 - w[0].0 < 300
                {
                    interrupted += 1;
                }
            }
        }
        assert!(
            slow >= 20 && wrong >= 20 && interrupted >= 20,
            "{slow} slow, {wrong} wrong order, {interrupted} interrupted"
        );
    }

    #[test]
    fn the_same_seed_gives_the_same_combos() {
        let a = run(8).1;
        assert_eq!(a, run(8).1);
        assert_ne!(a, run(9).1);
    }
}
