//! Card payments and transfers, with fraud.
//!
//! Fields: `ts`, `account`, `id`, `merchant`, `category`, `amount`, `currency`,
//! `country`, `card_present`.
//!
//! Incidents (the key is the account):
//!
//! - `card_test`: one to three tiny online payments at one merchant, then a large online
//!   payment within minutes;
//! - `burst`: eight to fifteen small transfers within about a minute;
//! - `impossible_travel`: a card-present payment at home, then one on another continent
//!   five to sixty minutes later.
//!
//! And look-alikes that are no fraud: a small online payment and then a large purchase at
//! a shop at home, or a large online one of a customer who spends a lot; a few transfers
//! in a row to split a bill; a trip abroad, hours after the last payment at home.
//!
//! The reference table `customers` (key `id`) gives each account its `segment`
//! (`retail`, `premium`, `business`), `home` country and typical `avg_amount`.

use std::collections::HashMap;

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

/// Segment, share of accounts, median payment.
const SEGMENTS: &[(&str, f64, f64)] = &[
    ("retail", 80.0, 30.0),
    ("premium", 15.0, 120.0),
    ("business", 5.0, 200.0),
];

const ACCOUNTS: usize = 20_000;
const MERCHANTS: usize = 800;

/// Per background event, how likely each incident or look-alike starts.
const P_BURST: f64 = 0.0002;
const P_CARD_TEST: f64 = 0.0002;
const P_TRAVEL: f64 = 0.0002;
const P_SPLIT_BILL: f64 = 0.0002;
const P_SMALL_THEN_LARGE: f64 = 0.0002;
const P_TRIP: f64 = 0.0002;

/// An account holder, as the bank knows them.
struct Account {
    segment: usize,
    home: usize,
    avg_amount: f64,
}

/// Every account of the bank: the same for every seed.
fn accounts() -> Vec<Account> {
    let mut rng = dist::world(1);
    let countries: Vec<f64> = COUNTRIES.iter().map(|c| c.3).collect();
    let segments: Vec<f64> = SEGMENTS.iter().map(|s| s.1).collect();
    (0..ACCOUNTS)
        .map(|_| {
            let segment = dist::weighted(&mut rng, &segments);
            Account {
                segment,
                home: dist::weighted(&mut rng, &countries),
                avg_amount: dist::cents(SEGMENTS[segment].2 * rng.random_range(0.7..1.4)),
            }
        })
        .collect()
}

fn account_id(account: usize) -> String {
    format!("acct-{account:05}")
}

/// The `customers` reference table.
pub(crate) fn reference() -> Option<(&'static str, Vec<Event>)> {
    Some(("customers", customers()))
}

fn customers() -> Vec<Event> {
    accounts()
        .iter()
        .enumerate()
        .map(|(i, a)| {
            let Value::Object(row) = json!({
                "id": account_id(i),
                "segment": SEGMENTS[a.segment].0,
                "home": COUNTRIES[a.home].0,
                "avg_amount": a.avg_amount,
            }) else {
                unreachable!()
            };
            row
        })
        .collect()
}

pub(crate) struct Payments {
    accounts: Vec<Account>,
    /// Each merchant's category.
    merchants: Vec<usize>,
    /// Accounts in an incident or a look-alike, until when: the background leaves them
    /// alone.
    busy: HashMap<usize, i64>,
    next_id: u64,
}

impl Payments {
    pub(crate) fn new(rng: &mut ChaCha8Rng) -> Self {
        Payments {
            accounts: accounts(),
            merchants: (0..MERCHANTS)
                .map(|_| rng.random_range(0..CATEGORIES.len() - 1))
                .collect(),
            busy: HashMap::new(),
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
        category: Option<&str>,
    ) -> Event {
        self.next_id += 1;
        let (code, currency, _, _) = COUNTRIES[country];
        let category = category.unwrap_or(CATEGORIES[self.merchants[merchant]]);
        let Value::Object(e) = json!({
            "account": account_id(account),
            "id": format!("tx-{:09}", self.next_id),
            "merchant": format!("m-{merchant:04}"),
            "category": category,
            "amount": amount,
            "currency": currency,
            "country": code,
            "card_present": card_present,
        }) else {
            unreachable!()
        };
        e
    }

    /// An account that is in nothing else now, kept out of the background until `until`.
    fn idle_account(&mut self, rng: &mut ChaCha8Rng, now: i64, until: i64) -> usize {
        loop {
            let a = rng.random_range(0..ACCOUNTS);
            if self.busy.get(&a).is_none_or(|&u| u < now) {
                self.busy.insert(a, until);
                return a;
            }
        }
    }

    /// Small transfers from one account within about a minute: `n` of up to `max`.
    fn plan_transfers(
        &mut self,
        rng: &mut ChaCha8Rng,
        now: i64,
        schedule: &mut Schedule,
        n: usize,
        (lo, hi): (f64, f64),
    ) -> (usize, i64, i64) {
        let account = self.idle_account(rng, now, now + 30 * 60_000);
        let home = self.accounts[account].home;
        let start = now + rng.random_range(500..5_000);
        let mut t = start;
        for i in 0..n {
            if i > 0 {
                t += rng.random_range(1_000..7_000);
            }
            let merchant = rng.random_range(0..MERCHANTS);
            let amount = dist::money(rng, lo, hi);
            let e = self.payment(account, merchant, amount, home, false, Some("transfer"));
            schedule.at(t, e);
        }
        (account, start, t)
    }

    /// A burst: 8 to 15 transfers under 20.
    fn plan_burst(&mut self, rng: &mut ChaCha8Rng, now: i64, schedule: &mut Schedule) {
        let n = rng.random_range(8..=15);
        let (account, start, end) = self.plan_transfers(rng, now, schedule, n, (1.0, 20.0));
        schedule.incident(account_id(account), start, end, "burst");
    }

    /// A bill split among friends: 5 to 8 transfers of 10 to 80.
    fn plan_split_bill(&mut self, rng: &mut ChaCha8Rng, now: i64, schedule: &mut Schedule) {
        let n = rng.random_range(5..=8);
        self.plan_transfers(rng, now, schedule, n, (10.0, 80.0));
    }

    /// One to three tiny online payments, then a large online one within minutes.
    fn plan_card_test(&mut self, rng: &mut ChaCha8Rng, now: i64, schedule: &mut Schedule) {
        let account = self.idle_account(rng, now, now + 30 * 60_000);
        let home = self.accounts[account].home;
        let merchant = rng.random_range(0..MERCHANTS);
        let start = now + rng.random_range(500..5_000);
        let mut t = start;
        for i in 0..rng.random_range(1..=3) {
            if i > 0 {
                t += rng.random_range(2_000..20_000);
            }
            let amount = dist::money(rng, 0.5, 2.0);
            let e = self.payment(account, merchant, amount, home, false, None);
            schedule.at(t, e);
        }
        t += rng.random_range(10_000..240_000);
        let big = rng.random_range(0..MERCHANTS);
        let amount = dist::money(rng, 1_200.0, 9_000.0);
        let e = self.payment(account, big, amount, home, false, None);
        schedule.at(t, e);
        schedule.incident(account_id(account), start, t, "card_test");
    }

    /// A small online payment, then a large purchase: at a shop, or online by a customer
    /// who spends a lot.
    fn plan_small_then_large(&mut self, rng: &mut ChaCha8Rng, now: i64, schedule: &mut Schedule) {
        let account = self.idle_account(rng, now, now + 30 * 60_000);
        let home = self.accounts[account].home;
        let t = now + rng.random_range(500..5_000);
        let amount = dist::money(rng, 0.99, 2.49);
        let e = self.payment(
            account,
            rng.random_range(0..MERCHANTS),
            amount,
            home,
            false,
            None,
        );
        schedule.at(t, e);
        let t = t + rng.random_range(30_000..480_000);
        let high_spender = self.accounts[account].avg_amount >= 90.0;
        let (amount, present) = if high_spender && rng.random_bool(0.5) {
            (dist::money(rng, 1_000.0, 2_000.0), false)
        } else {
            (dist::money(rng, 1_000.0, 4_000.0), true)
        };
        let e = self.payment(
            account,
            rng.random_range(0..MERCHANTS),
            amount,
            home,
            present,
            None,
        );
        schedule.at(t, e);
    }

    /// A card-present payment at home, then one on another continent 5 to 60 minutes
    /// later: the card was copied.
    fn plan_travel(&mut self, rng: &mut ChaCha8Rng, now: i64, schedule: &mut Schedule) {
        let account = self.idle_account(rng, now, now + 90 * 60_000);
        let home = self.accounts[account].home;
        let away = self.abroad(rng, home);
        let start = now + rng.random_range(500..5_000);
        self.at_shop(rng, schedule, account, home, start);
        let end = start + rng.random_range(5 * 60_000..60 * 60_000);
        self.at_shop(rng, schedule, account, away, end);
        schedule.incident(account_id(account), start, end, "impossible_travel");
    }

    /// A trip: the last payment at home, a flight of one and a half to four hours, two to
    /// four payments abroad.
    fn plan_trip(&mut self, rng: &mut ChaCha8Rng, now: i64, schedule: &mut Schedule) {
        let account = self.idle_account(rng, now, now + 6 * 3_600_000);
        let home = self.accounts[account].home;
        let away = self.abroad(rng, home);
        let mut t = now + rng.random_range(500..5_000);
        self.at_shop(rng, schedule, account, home, t);
        t += rng.random_range(90 * 60_000..240 * 60_000);
        for _ in 0..rng.random_range(2..=4) {
            self.at_shop(rng, schedule, account, away, t);
            t += rng.random_range(10 * 60_000..40 * 60_000);
        }
    }

    /// An everyday card-present payment of the account in `country` at time `at`.
    fn at_shop(
        &mut self,
        rng: &mut ChaCha8Rng,
        schedule: &mut Schedule,
        account: usize,
        country: usize,
        at: i64,
    ) {
        let amount = self.amount(rng, account);
        let merchant = rng.random_range(0..MERCHANTS);
        let e = self.payment(account, merchant, amount, country, true, None);
        schedule.at(at, e);
    }

    fn abroad(&self, rng: &mut ChaCha8Rng, home: usize) -> usize {
        loop {
            let c = rng.random_range(0..COUNTRIES.len());
            if COUNTRIES[c].2 != COUNTRIES[home].2 {
                return c;
            }
        }
    }

    /// An everyday amount for the account.
    fn amount(&self, rng: &mut ChaCha8Rng, account: usize) -> f64 {
        let median = self.accounts[account].avg_amount;
        dist::cents(dist::log_normal(rng, median, 0.8).clamp(0.5, 40.0 * median))
    }
}

impl Model for Payments {
    fn next(&mut self, rng: &mut ChaCha8Rng, now: i64, schedule: &mut Schedule) -> Event {
        let plans: [(f64, crate::Plan<Self>); 6] = [
            (P_BURST, Self::plan_burst),
            (P_CARD_TEST, Self::plan_card_test),
            (P_TRAVEL, Self::plan_travel),
            (P_SPLIT_BILL, Self::plan_split_bill),
            (P_SMALL_THEN_LARGE, Self::plan_small_then_large),
            (P_TRIP, Self::plan_trip),
        ];
        crate::maybe_plan(self, &plans, rng, now, schedule);
        if self.busy.len() > 4096 {
            self.busy.retain(|_, until| *until >= now);
        }
        let account = loop {
            let a = rng.random_range(0..ACCOUNTS);
            if self.busy.get(&a).is_none_or(|&u| u < now) {
                break a;
            }
        };
        let merchant = dist::skewed(rng, MERCHANTS);
        let card_present = rng.random_bool(0.65);
        let amount = self.amount(rng, account);
        let home = self.accounts[account].home;
        // Online payments now and then go to merchants abroad.
        let country = if !card_present && rng.random_bool(0.05) {
            rng.random_range(0..COUNTRIES.len())
        } else {
            home
        };
        self.payment(account, merchant, amount, country, card_present, None)
    }
}

/// The model of the world at `rate` events per second of event time.
pub(crate) fn model(rng: &mut ChaCha8Rng, rate: f64) -> Box<dyn Model> {
    let _ = rate;
    Box::new(Payments::new(rng))
}

#[cfg(test)]
mod tests {
    use crate::{Generator, Kind};

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

    /// Each incident's events are in the stream, under its key and between its times.
    #[test]
    fn incidents_are_in_the_events() {
        let mut g = Generator::new(Kind::Payments, 11).events_per_second(50.0);
        let events: Vec<_> = g.by_ref().take(300_000).collect();
        let incidents: Vec<_> = g.incidents().cloned().collect();
        for kind in ["card_test", "burst", "impossible_travel"] {
            let n = incidents.iter().filter(|i| i.kind == kind).count();
            assert!(n >= 30, "{n} {kind}");
        }
        for i in &incidents {
            let of = events
                .iter()
                .filter(|e| e["account"] == i.key.as_str())
                .filter(|e| (i.start..=i.end).contains(&e["ts"].as_i64().unwrap()))
                .count();
            assert!(of >= 2, "{i:?}: {of} events");
        }
        let accounts = super::customers();
        assert_eq!(accounts.len(), super::ACCOUNTS);
        assert_eq!(accounts[0]["id"], "acct-00000");
    }
}
