//! Card transactions with the balance after each, some running low.
//!
//! Fields: `ts`, `card`, `id`, `kind` (`debit` or `credit`), `amount` (positive),
//! `balance` (after the transaction), `merchant`, `category`.
//!
//! Every card's holder has a personal low-balance threshold (the reference table
//! `cards`, key `id`: `name`, `language`, `segment`, `threshold`, `opted_in`,
//! `has_savings`). Everyday spending and income keep balances well above it; the
//! incidents take one down:
//!
//! - `low_balance`: two to five debits within minutes take the balance of a card whose
//!   holder opted in from above the threshold to clearly below it (to 40-90 % of it),
//!   and nothing brings it back soon.
//!
//! And look-alikes that need no message: a fuel or hotel pre-authorisation that takes the
//! balance below the threshold and is released within a minute and a half; a balance
//! that dips just under the threshold (to 88-99 % of it); cards whose holder opted out.

use std::collections::BTreeMap;

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Value};

use crate::dist;
use crate::{Event, Model, Schedule};

const CARDS: usize = 5_000;
const MERCHANTS: usize = 400;

const CATEGORIES: &[&str] = &[
    "grocery",
    "restaurant",
    "fuel",
    "clothing",
    "online_services",
    "pharmacy",
    "entertainment",
    "transport",
];

/// Segment, share of cards, median balance.
const SEGMENTS: &[(&str, f64, f64)] = &[
    ("student", 20.0, 600.0),
    ("young_professional", 30.0, 2_500.0),
    ("family", 35.0, 3_500.0),
    ("senior", 15.0, 5_000.0),
];

const FIRST_NAMES: &[&str] = &[
    "Anna", "Ben", "Chloé", "Daan", "Elena", "Felix", "Grace", "Hugo", "Ines", "Jonas", "Kira",
    "Lucas", "Mia", "Noah", "Olivia", "Pablo", "Quinn", "Rosa", "Sven", "Tara",
];

const LANGUAGES: &[(&str, f64)] = &[
    ("en", 45.0),
    ("de", 20.0),
    ("fr", 15.0),
    ("nl", 10.0),
    ("es", 10.0),
];

/// Per background event, how likely each incident or look-alike starts.
const P_DRAIN: f64 = 0.0012;
const P_PREAUTH: f64 = 0.0006;
const P_SHALLOW: f64 = 0.0006;
const P_OPTED_OUT: f64 = 0.0004;

/// A card, as the bank knows its holder.
struct Card {
    name: &'static str,
    language: usize,
    segment: usize,
    threshold: f64,
    opted_in: bool,
    has_savings: bool,
    /// The balance the card's everyday life keeps it around.
    level: f64,
}

/// Every card: the same for every seed.
fn cards() -> Vec<Card> {
    let mut rng = dist::world(8);
    let segments: Vec<f64> = SEGMENTS.iter().map(|s| s.1).collect();
    let languages: Vec<f64> = LANGUAGES.iter().map(|l| l.1).collect();
    (0..CARDS)
        .map(|_| {
            let segment = dist::weighted(&mut rng, &segments);
            let level = dist::cents(SEGMENTS[segment].2 * rng.random_range(0.6..1.6));
            Card {
                name: FIRST_NAMES[rng.random_range(0..FIRST_NAMES.len())],
                language: dist::weighted(&mut rng, &languages),
                segment,
                threshold: [50.0, 100.0, 150.0, 200.0, 300.0][rng.random_range(0..5)],
                opted_in: rng.random_bool(0.85),
                has_savings: rng.random_bool(0.4),
                level,
            }
        })
        .collect()
}

fn card_id(card: usize) -> String {
    format!("card-{card:04}")
}

/// The `cards` reference table.
pub(crate) fn reference() -> Option<(&'static str, Vec<Event>)> {
    let rows = cards()
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let Value::Object(row) = json!({
                "id": card_id(i),
                "name": c.name,
                "language": LANGUAGES[c.language].0,
                "segment": SEGMENTS[c.segment].0,
                "threshold": c.threshold,
                "opted_in": c.opted_in,
                "has_savings": c.has_savings,
            }) else {
                unreachable!()
            };
            row
        })
        .collect();
    Some(("cards", rows))
}

/// The model of the world at `rate` events per second of event time.
pub(crate) fn model(rng: &mut ChaCha8Rng, _rate: f64) -> Box<dyn Model> {
    let cards = cards();
    let balances = cards
        .iter()
        .map(|c| dist::cents(c.level * rng.random_range(0.7..1.3)))
        .collect();
    Box::new(Transactions {
        cards,
        balances,
        busy: BTreeMap::new(),
        next_id: 0,
    })
}

struct Transactions {
    cards: Vec<Card>,
    /// Each card's balance now (planned transactions included).
    balances: Vec<f64>,
    /// Cards in an incident or a look-alike, until when.
    busy: BTreeMap<usize, i64>,
    next_id: u64,
}

impl Transactions {
    fn transaction(&mut self, card: usize, debit: bool, amount: f64, category: &str) -> Event {
        self.next_id += 1;
        let amount = dist::cents(amount);
        let b = &mut self.balances[card];
        *b = dist::cents(if debit { *b - amount } else { *b + amount });
        let Value::Object(e) = json!({
            "card": card_id(card),
            "id": format!("trx-{:09}", self.next_id),
            "kind": if debit { "debit" } else { "credit" },
            "amount": amount,
            "balance": *b,
            "merchant": format!("m-{:03}", self.next_id % MERCHANTS as u64),
            "category": category,
        }) else {
            unreachable!()
        };
        e
    }

    /// A card in nothing else now, whose holder's choice is `opted_in`, kept out of the
    /// background until `until`.
    fn idle_card(&mut self, rng: &mut ChaCha8Rng, now: i64, until: i64, opted_in: bool) -> usize {
        loop {
            let c = rng.random_range(0..CARDS);
            if self.cards[c].opted_in == opted_in && self.busy.get(&c).is_none_or(|&u| u < now) {
                self.busy.insert(c, until);
                return c;
            }
        }
    }

    /// Debits from the card's balance down to `to` (a share of its threshold), planned
    /// from `now`: two to five within minutes, the last one crossing the threshold.
    /// Returns the first and last debit times.
    fn plan_descent(
        &mut self,
        rng: &mut ChaCha8Rng,
        now: i64,
        schedule: &mut Schedule,
        card: usize,
        to: f64,
    ) -> (i64, i64) {
        let threshold = self.cards[card].threshold;
        let target = dist::cents(threshold * to);
        let n = rng.random_range(2..=5);
        let start = now + rng.random_range(500..5_000);
        let mut t = start;
        // The last debit crosses the threshold from above it.
        let above = threshold * rng.random_range(1.05..1.6);
        let before_last = self.balances[card].max(above);
        let spend = before_last - above.min(before_last);
        for i in 0..n - 1 {
            if i > 0 {
                t += rng.random_range(20_000..90_000);
            }
            let amount = (spend / (n - 1) as f64).max(0.01);
            let category = CATEGORIES[rng.random_range(0..CATEGORIES.len())];
            let e = self.transaction(card, true, amount, category);
            schedule.at(t, e);
        }
        t += rng.random_range(20_000..90_000);
        let amount = self.balances[card] - target;
        let category = CATEGORIES[rng.random_range(0..CATEGORIES.len())];
        let e = self.transaction(card, true, amount, category);
        schedule.at(t, e);
        (start, t)
    }

    /// A balance run down clearly below the threshold of a holder who opted in.
    fn plan_drain(&mut self, rng: &mut ChaCha8Rng, now: i64, schedule: &mut Schedule) {
        let card = self.idle_card(rng, now, now + 40 * 60_000, true);
        let to = rng.random_range(0.4..0.9);
        let (start, end) = self.plan_descent(rng, now, schedule, card, to);
        schedule.incident(card_id(card), start, end, "low_balance");
        let at = end + rng.random_range(15 * 60_000..30 * 60_000);
        self.plan_salary(rng, at, schedule, card);
    }

    /// A balance that dips just under the threshold, then is topped up.
    fn plan_shallow(&mut self, rng: &mut ChaCha8Rng, now: i64, schedule: &mut Schedule) {
        let card = self.idle_card(rng, now, now + 40 * 60_000, true);
        let to = rng.random_range(0.88..0.99);
        let (_, end) = self.plan_descent(rng, now, schedule, card, to);
        let at = end + rng.random_range(5 * 60_000..20 * 60_000);
        self.plan_salary(rng, at, schedule, card);
    }

    /// A holder who opted out runs low.
    fn plan_opted_out(&mut self, rng: &mut ChaCha8Rng, now: i64, schedule: &mut Schedule) {
        let card = self.idle_card(rng, now, now + 40 * 60_000, false);
        let to = rng.random_range(0.4..0.85);
        let (_, end) = self.plan_descent(rng, now, schedule, card, to);
        let at = end + rng.random_range(15 * 60_000..30 * 60_000);
        self.plan_salary(rng, at, schedule, card);
    }

    /// A pre-authorisation at a petrol station or a hotel that takes the balance under
    /// the threshold, released 20 to 90 seconds later.
    fn plan_preauth(&mut self, rng: &mut ChaCha8Rng, now: i64, schedule: &mut Schedule) {
        let card = self.idle_card(rng, now, now + 10 * 60_000, true);
        let threshold = self.cards[card].threshold;
        let t = now + rng.random_range(500..5_000);
        if self.balances[card] < threshold * 1.05 {
            return;
        }
        let hold = self.balances[card] - threshold * rng.random_range(0.3..0.9);
        let category = ["fuel", "hotel"][rng.random_range(0..2)];
        let e = self.transaction(card, true, hold, category);
        schedule.at(t, e);
        let e = self.transaction(card, false, hold, category);
        schedule.at(t + rng.random_range(20_000..90_000), e);
    }

    /// Income that brings the balance back to its everyday level.
    fn plan_salary(&mut self, rng: &mut ChaCha8Rng, at: i64, schedule: &mut Schedule, card: usize) {
        let level = self.cards[card].level;
        let amount = (level - self.balances[card]).max(0.0) * rng.random_range(1.0..1.2) + 1.0;
        let e = self.transaction(card, false, amount, "salary");
        schedule.at(at, e);
        self.busy.insert(card, at + 1);
    }
}

impl Model for Transactions {
    fn next(&mut self, rng: &mut ChaCha8Rng, now: i64, schedule: &mut Schedule) -> Event {
        let plans: [(f64, crate::Plan<Self>); 4] = [
            (P_DRAIN, Self::plan_drain),
            (P_PREAUTH, Self::plan_preauth),
            (P_SHALLOW, Self::plan_shallow),
            (P_OPTED_OUT, Self::plan_opted_out),
        ];
        crate::maybe_plan(self, &plans, rng, now, schedule);
        if self.busy.len() > 1024 {
            self.busy.retain(|_, until| *until >= now);
        }
        let card = loop {
            let c = rng.random_range(0..CARDS);
            if self.busy.get(&c).is_none_or(|&u| u < now) {
                break c;
            }
        };
        let level = self.cards[card].level;
        let floor = self.cards[card].threshold * 1.5;
        let amount = dist::log_normal(rng, (level / 40.0).max(5.0), 0.9);
        // Everyday life keeps the balance well above the threshold: income comes in when
        // it runs lower than half its level, and no purchase takes it near the threshold.
        if self.balances[card] < level * 0.5 || self.balances[card] - amount < floor {
            let income = level * rng.random_range(0.3..0.8);
            let category = ["salary", "refund", "transfer_in"][rng.random_range(0..3)];
            return self.transaction(card, false, income, category);
        }
        let category = CATEGORIES[dist::power(rng, CATEGORIES.len(), 1.5)];
        self.transaction(card, true, amount, category)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use crate::{Generator, Kind};

    fn events(seed: u64, n: usize) -> (Vec<crate::Event>, Vec<crate::Incident>) {
        let mut g = Generator::new(Kind::Transactions, seed).events_per_second(20.0);
        let events = g.by_ref().take(n).collect();
        (events, g.incidents().cloned().collect())
    }

    #[test]
    fn fields_have_their_types() {
        for e in Generator::new(Kind::Transactions, 5).take(5000) {
            assert!(e["card"].as_str().unwrap().starts_with("card-"));
            assert!(["debit", "credit"].contains(&e["kind"].as_str().unwrap()));
            assert!(e["amount"].as_f64().unwrap() >= 0.0, "{e:?}");
            assert!(e["balance"].is_f64() || e["balance"].is_i64(), "{e:?}");
            assert!(e["category"].is_string() && e["merchant"].is_string());
        }
    }

    /// Balances go below a card's threshold only in incidents and look-alikes; each
    /// incident's last debit takes its balance clearly below.
    #[test]
    fn only_planted_descents_cross_the_threshold() {
        let (_, rows) = super::reference().unwrap();
        let threshold: HashMap<&str, f64> = rows
            .iter()
            .map(|r| (r["id"].as_str().unwrap(), r["threshold"].as_f64().unwrap()))
            .collect();
        let (events, incidents) = events(3, 200_000);
        assert!(incidents.len() >= 50, "{} incidents", incidents.len());
        let mut below = 0;
        for e in &events {
            let card = e["card"].as_str().unwrap();
            if e["balance"].as_f64().unwrap() < threshold[card] {
                below += 1;
            }
        }
        assert!(below >= incidents.len(), "{below} below");
        for i in &incidents {
            let last = events
                .iter()
                .find(|e| e["card"] == i.key.as_str() && e["ts"].as_i64() == Some(i.end))
                .unwrap_or_else(|| panic!("{i:?}: no last debit"));
            assert!(last["balance"].as_f64().unwrap() <= 0.9 * threshold[i.key.as_str()] + 0.01);
        }
    }
}
