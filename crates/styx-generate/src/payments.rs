//! Card payments and transfers, with fraud patterns.
//!
//! Fields: `ts`, `account`, `id`, `merchant`, `category`, `amount`, `currency`,
//! `country`, `card_present`, `label`.

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Value};

use crate::dist;
use crate::{Event, Model, Schedule};

/// Country code, currency, continent, weight among account holders.
const COUNTRIES: &[(&str, &str, &str, f64)] = &[
    ("US", "USD", "north_america", 30.0),
    ("CA", "CAD", "north_america", 5.0),
    ("GB", "GBP", "europe", 10.0),
    ("DE", "EUR", "europe", 10.0),
    ("FR", "EUR", "europe", 8.0),
    ("NL", "EUR", "europe", 4.0),
    ("ES", "EUR", "europe", 5.0),
    ("IT", "EUR", "europe", 5.0),
    ("BR", "BRL", "south_america", 6.0),
    ("MX", "MXN", "north_america", 4.0),
    ("JP", "JPY", "asia", 6.0),
    ("IN", "INR", "asia", 5.0),
    ("SG", "SGD", "asia", 2.0),
    ("AU", "AUD", "oceania", 3.0),
    ("ZA", "ZAR", "africa", 2.0),
    ("NG", "NGN", "africa", 1.0),
];

const CATEGORIES: &[&str] = &[
    "grocery",
    "restaurant",
    "fuel",
    "electronics",
    "clothing",
    "travel",
    "entertainment",
    "pharmacy",
    "online_services",
    "transfer",
];

const ACCOUNTS: usize = 20_000;
const MERCHANTS: usize = 800;

/// Per background event, how likely each pattern starts.
const P_BURST: f64 = 0.0006;
const P_CARD_TEST: f64 = 0.0006;
const P_TRAVEL: f64 = 0.0006;

pub(crate) struct Payments {
    /// Each account's home country (an index into COUNTRIES).
    homes: Vec<usize>,
    /// Each merchant's category.
    merchants: Vec<usize>,
    next_id: u64,
}

impl Payments {
    pub(crate) fn new(rng: &mut ChaCha8Rng) -> Self {
        let weights: Vec<f64> = COUNTRIES.iter().map(|c| c.3).collect();
        Payments {
            homes: (0..ACCOUNTS)
                .map(|_| dist::weighted(rng, &weights))
                .collect(),
            merchants: (0..MERCHANTS)
                .map(|_| rng.random_range(0..CATEGORIES.len() - 1))
                .collect(),
            next_id: 0,
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn payment(
        &mut self,
        account: usize,
        merchant: usize,
        amount: f64,
        country: usize,
        card_present: bool,
        label: &str,
    ) -> Event {
        self.next_id += 1;
        let (code, currency, _, _) = COUNTRIES[country];
        let category = if label == "burst" {
            "transfer"
        } else {
            CATEGORIES[self.merchants[merchant]]
        };
        let Value::Object(e) = json!({
            "account": format!("acct-{account:05}"),
            "id": format!("tx-{:09}", self.next_id),
            "merchant": format!("m-{merchant:04}"),
            "category": category,
            "amount": amount,
            "currency": currency,
            "country": code,
            "card_present": card_present,
            "label": label,
        }) else {
            unreachable!()
        };
        e
    }

    /// 8 to 15 small transfers from one account within about a minute.
    fn plan_burst(&mut self, rng: &mut ChaCha8Rng, now: i64, schedule: &mut Schedule) {
        let account = rng.random_range(0..ACCOUNTS);
        let home = self.homes[account];
        let mut t = now + rng.random_range(500..5_000);
        for _ in 0..rng.random_range(8..=15) {
            let merchant = rng.random_range(0..MERCHANTS);
            let amount = dist::money(rng, 1.0, 20.0);
            let e = self.payment(account, merchant, amount, home, false, "burst");
            schedule.at(t, e);
            t += rng.random_range(1_000..6_000);
        }
    }

    /// One to three tiny online payments, then a large one within two minutes.
    fn plan_card_test(&mut self, rng: &mut ChaCha8Rng, now: i64, schedule: &mut Schedule) {
        let account = rng.random_range(0..ACCOUNTS);
        let home = self.homes[account];
        let merchant = rng.random_range(0..MERCHANTS);
        let mut t = now + rng.random_range(500..5_000);
        for _ in 0..rng.random_range(1..=3) {
            let amount = dist::money(rng, 0.5, 2.0);
            let e = self.payment(account, merchant, amount, home, false, "card_test");
            schedule.at(t, e);
            t += rng.random_range(2_000..20_000);
        }
        t += rng.random_range(10_000..100_000);
        let big = rng.random_range(0..MERCHANTS);
        let amount = dist::money(rng, 1_500.0, 9_000.0);
        let e = self.payment(account, big, amount, home, false, "large_after_test");
        schedule.at(t, e);
    }

    /// A card-present payment at home, then one on another continent minutes later.
    fn plan_travel(&mut self, rng: &mut ChaCha8Rng, now: i64, schedule: &mut Schedule) {
        let account = rng.random_range(0..ACCOUNTS);
        let home = self.homes[account];
        let away = loop {
            let c = rng.random_range(0..COUNTRIES.len());
            if COUNTRIES[c].2 != COUNTRIES[home].2 {
                break c;
            }
        };
        let t = now + rng.random_range(500..5_000);
        let amount = normal_amount(rng);
        let merchant = rng.random_range(0..MERCHANTS);
        let e = self.payment(account, merchant, amount, home, true, "impossible_travel");
        schedule.at(t, e);
        let t = t + rng.random_range(5 * 60_000..40 * 60_000);
        let amount = normal_amount(rng);
        let merchant = rng.random_range(0..MERCHANTS);
        let e = self.payment(account, merchant, amount, away, true, "impossible_travel");
        schedule.at(t, e);
    }
}

fn normal_amount(rng: &mut ChaCha8Rng) -> f64 {
    dist::cents(dist::log_normal(rng, 32.0, 0.9).clamp(0.5, 4_000.0))
}

impl Model for Payments {
    fn next(&mut self, rng: &mut ChaCha8Rng, now: i64, schedule: &mut Schedule) -> Event {
        let roll: f64 = rng.random();
        if roll < P_BURST {
            self.plan_burst(rng, now, schedule);
        } else if roll < P_BURST + P_CARD_TEST {
            self.plan_card_test(rng, now, schedule);
        } else if roll < P_BURST + P_CARD_TEST + P_TRAVEL {
            self.plan_travel(rng, now, schedule);
        }
        let account = rng.random_range(0..ACCOUNTS);
        let merchant = dist::skewed(rng, MERCHANTS);
        let card_present = rng.random_bool(0.65);
        let amount = normal_amount(rng);
        // Online payments now and then go to merchants abroad.
        let country = if !card_present && rng.random_bool(0.05) {
            rng.random_range(0..COUNTRIES.len())
        } else {
            self.homes[account]
        };
        self.payment(account, merchant, amount, country, card_present, "normal")
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use crate::{Generator, Kind};

    fn continent(code: &str) -> &'static str {
        super::COUNTRIES.iter().find(|c| c.0 == code).unwrap().2
    }

    #[test]
    fn fields_have_their_types() {
        for e in Generator::new(Kind::Payments, 5).take(2000) {
            assert!(e["account"].as_str().unwrap().starts_with("acct-"));
            assert!(e["id"].as_str().unwrap().starts_with("tx-"));
            assert!(e["merchant"].is_string() && e["category"].is_string());
            assert!(e["amount"].as_f64().unwrap() > 0.0);
            assert_eq!(e["currency"].as_str().unwrap().len(), 3);
            assert_eq!(e["country"].as_str().unwrap().len(), 2);
            assert!(e["card_present"].is_boolean());
        }
    }

    /// The patterns are found in the data itself, as a detector would find them.
    #[test]
    fn fraud_patterns_occur() {
        // 20 events per second: 100 000 events span 83 minutes.
        let events: Vec<_> = Generator::new(Kind::Payments, 11)
            .events_per_second(20.0)
            .take(100_000)
            .collect();
        let by_account = |pred: &dyn Fn(&crate::Event) -> bool| {
            let mut m: HashMap<String, Vec<&crate::Event>> = HashMap::new();
            for e in events.iter().filter(|e| pred(e)) {
                m.entry(e["account"].as_str().unwrap().to_string())
                    .or_default()
                    .push(e);
            }
            m
        };
        let ts = |e: &crate::Event| e["ts"].as_i64().unwrap();
        let amount = |e: &crate::Event| e["amount"].as_f64().unwrap();

        // Bursts: at least 8 transfers under 20 within 60 s from one account.
        let small = by_account(&|e| amount(e) < 20.0 && e["card_present"] == false);
        let bursts = small
            .values()
            .filter(|v| v.windows(8).any(|w| ts(w[7]) - ts(w[0]) <= 60_000))
            .count();
        assert!(bursts >= 20, "{bursts} bursts");

        // A payment under 2 followed within 3 minutes by one over 1500 from the account.
        let online = by_account(&|e| e["card_present"] == false);
        let tested = online
            .values()
            .filter(|v| {
                v.windows(2).any(|w| {
                    amount(w[0]) < 2.0 && amount(w[1]) > 1_500.0 && ts(w[1]) - ts(w[0]) < 180_000
                })
            })
            .count();
        assert!(tested >= 20, "{tested} card tests");

        // Card-present payments on two continents within an hour.
        let present = by_account(&|e| e["card_present"] == true);
        let travels = present
            .values()
            .filter(|v| {
                v.windows(2).any(|w| {
                    continent(w[0]["country"].as_str().unwrap())
                        != continent(w[1]["country"].as_str().unwrap())
                        && ts(w[1]) - ts(w[0]) < 3_600_000
                })
            })
            .count();
        assert!(travels >= 20, "{travels} impossible travels");

        // And the background is mostly normal.
        let normal = events.iter().filter(|e| e["label"] == "normal").count();
        assert!(normal > 95_000, "{normal}");
    }
}
