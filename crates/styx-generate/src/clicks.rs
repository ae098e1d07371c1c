//! Web shop sessions through a funnel, some stuck resubmitting a failing form.
//!
//! Fields: `ts`, `session`, `user`, `page`, `action`, `status` (HTTP status),
//! `label` (`normal` or `stuck`).

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Value};

use crate::dist;
use crate::{Event, Model, Schedule};

/// The funnel's steps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Home,
    Search,
    Product,
    Cart,
    Address,
    Payment,
    Confirm,
    ThankYou,
}

impl Step {
    fn page(self, product: u32) -> String {
        match self {
            Step::Home => "/".into(),
            Step::Search => "/search".into(),
            Step::Product => format!("/product/{product}"),
            Step::Cart => "/cart".into(),
            Step::Address => "/checkout/address".into(),
            Step::Payment => "/checkout/payment".into(),
            Step::Confirm => "/checkout/confirm".into(),
            Step::ThankYou => "/thank-you".into(),
        }
    }

    fn action(self, rng: &mut ChaCha8Rng) -> &'static str {
        match self {
            Step::Home | Step::Cart | Step::ThankYou => "view",
            Step::Search => "search",
            Step::Product => {
                if rng.random_bool(0.3) {
                    "add_to_cart"
                } else {
                    "view"
                }
            }
            Step::Address | Step::Payment | Step::Confirm => "submit",
        }
    }

    /// How likely a session leaves at this step.
    fn abandon(self) -> f64 {
        match self {
            Step::Home => 0.30,
            Step::Search => 0.15,
            Step::Product => 0.12,
            Step::Cart => 0.35,
            Step::Address => 0.20,
            Step::Payment => 0.15,
            Step::Confirm => 0.05,
            Step::ThankYou => 1.0,
        }
    }

    fn next(self) -> Step {
        match self {
            Step::Home => Step::Search,
            Step::Search => Step::Product,
            Step::Product => Step::Cart,
            Step::Cart => Step::Address,
            Step::Address => Step::Payment,
            Step::Payment => Step::Confirm,
            Step::Confirm | Step::ThankYou => Step::ThankYou,
        }
    }

    fn back(self) -> Step {
        match self {
            Step::Home | Step::Search => Step::Home,
            Step::Product => Step::Search,
            Step::Cart => Step::Product,
            Step::Address => Step::Cart,
            Step::Payment => Step::Address,
            Step::Confirm | Step::ThankYou => Step::Payment,
        }
    }
}

struct Session {
    id: u64,
    user: usize,
    step: Step,
    product: u32,
    /// Failed submits still to come on the current form.
    stuck: u32,
    done: bool,
}

const USERS: usize = 100_000;
const PRODUCTS: u32 = 5_000;
/// How likely a session entering the payment form gets stuck on it.
const P_STUCK: f64 = 0.08;
/// Seconds of event time between two clicks of a session, on average.
const THINK_SECONDS: f64 = 5.0;

pub(crate) struct Clicks {
    sessions: Vec<Session>,
    next_session: u64,
}

impl Clicks {
    /// As many open sessions as make each click about [`THINK_SECONDS`] after the
    /// session's previous one at `rate` events per second.
    pub(crate) fn new(rng: &mut ChaCha8Rng, rate: f64) -> Self {
        let open = ((rate * THINK_SECONDS) as usize).clamp(10, 1_000_000);
        let mut clicks = Clicks {
            sessions: Vec::with_capacity(open),
            next_session: 0,
        };
        for _ in 0..open {
            let s = clicks.open(rng);
            clicks.sessions.push(s);
        }
        clicks
    }

    fn open(&mut self, rng: &mut ChaCha8Rng) -> Session {
        self.next_session += 1;
        Session {
            id: self.next_session,
            user: dist::power(rng, USERS, 2.0),
            step: if rng.random_bool(0.7) {
                Step::Home
            } else {
                Step::Product
            },
            product: dist::skewed(rng, PRODUCTS as usize) as u32,
            stuck: 0,
            done: false,
        }
    }
}

impl Model for Clicks {
    fn next(&mut self, rng: &mut ChaCha8Rng, _now: i64, _schedule: &mut Schedule) -> Event {
        let i = rng.random_range(0..self.sessions.len());
        let s = &mut self.sessions[i];
        let page = s.step.page(s.product);
        let (action, status, label) = if s.stuck > 0 {
            s.stuck -= 1;
            if s.stuck == 0 {
                // Gives up, or finally gets through.
                if rng.random_bool(0.7) {
                    s.done = true;
                } else {
                    s.step = Step::Confirm;
                }
            }
            ("submit", 422, "stuck")
        } else {
            let action = s.step.action(rng);
            let roll: f64 = rng.random();
            // The thank-you page ends every session.
            if roll < s.step.abandon() {
                s.done = true;
            } else if roll < s.step.abandon() + 0.08 {
                s.step = s.step.back();
            } else if roll < 0.55 && matches!(s.step, Step::Product | Step::Search) {
                s.step = Step::Product;
                s.product = dist::skewed(rng, PRODUCTS as usize) as u32;
            } else {
                s.step = s.step.next();
                if s.step == Step::Payment && rng.random_bool(P_STUCK) {
                    s.stuck = rng.random_range(5..=12);
                }
            }
            (action, 200, "normal")
        };
        let Value::Object(e) = json!({
            "session": format!("s-{:08}", s.id),
            "user": format!("user-{:05}", s.user),
            "page": page,
            "action": action,
            "status": status,
            "label": label,
        }) else {
            unreachable!()
        };
        if self.sessions[i].done {
            self.sessions[i] = self.open(rng);
        }
        e
    }
}

/// The model of the world at `rate` events per second of event time.
pub(crate) fn model(rng: &mut ChaCha8Rng, rate: f64) -> Box<dyn Model> {
    Box::new(Clicks::new(rng, rate))
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
        for e in Generator::new(Kind::Clicks, 5).take(2000) {
            assert!(e["session"].as_str().unwrap().starts_with("s-"));
            assert!(e["user"].as_str().unwrap().starts_with("user-"));
            assert!(e["page"].as_str().unwrap().starts_with('/'));
            assert!(e["action"].is_string());
            assert!(e["status"].is_u64());
        }
    }

    /// Some sessions submit the same form five times or more in a row; sessions also
    /// get through the whole funnel.
    #[test]
    fn some_sessions_get_stuck_on_a_form() {
        let events: Vec<_> = Generator::new(Kind::Clicks, 23).take(200_000).collect();
        let mut sessions: HashMap<&str, Vec<(&str, &str)>> = HashMap::new();
        for e in &events {
            sessions
                .entry(e["session"].as_str().unwrap())
                .or_default()
                .push((e["page"].as_str().unwrap(), e["action"].as_str().unwrap()));
        }
        let stuck = sessions
            .values()
            .filter(|clicks| {
                clicks
                    .windows(5)
                    .any(|w| w.iter().all(|c| *c == w[0] && c.1 == "submit"))
            })
            .count();
        assert!(stuck >= 20, "{stuck} stuck sessions");
        let bought = sessions
            .values()
            .filter(|c| c.iter().any(|c| c.0 == "/thank-you"))
            .count();
        assert!(bought >= 20, "{bought} sessions bought something");
    }
}
