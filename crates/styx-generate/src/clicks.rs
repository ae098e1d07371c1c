//! An insurer's web shop: visitors browse, ask for quotes, buy policies and report
//! claims, and some get stuck in a form.
//!
//! Fields: `ts`, `session`, `user`, `page`, `action` (`view`, `input`, `error`,
//! `submit`); on a form's page also `form` (`car_quote`, `home_quote`, `travel_quote`,
//! `address`, `payment`, `claim`); `input` and `error` name the `field`, and `input`
//! counts the field's `edits` in this visit of the form (above 1: the customer came back
//! to it); `submit` has the HTTP `status` (200, or 422 when the shop rejects the form).
//!
//! Sessions click about every five seconds; their number follows the rate. Most browse
//! the products, many ask for a quote; about half of those buy, through the address
//! and payment forms; some report a claim. Customers mistype now and then (an `error`
//! on the field, then they correct it), go back to a field they filled, leave a form
//! half done, or have it rejected once.
//!
//! Incidents (the key is the session), a customer stuck in a form: `start` is the view
//! of the form, `end` the last event of the struggle, after which the session goes
//! quiet:
//!
//! - `stuck_on_errors`: the same field or two rejected again and again (an IBAN, a
//!   number plate, a date), with the fields revisited in between;
//! - `stuck_rejected`: the form submitted and rejected three to six times;
//! - `stuck_hesitating`: a slow, halting visit: a field or two in error and the
//!   customer going back and forth over the fields for minutes, without submitting.
//!
//! And look-alikes that are no one stuck: a slow visit that pauses for minutes (looking
//! up a document) and then goes through; a mistake or a rejection, a pause, and then
//! success; a customer who struggles but gets through at once; a customer who opens a
//! form and leaves at once.

use std::collections::VecDeque;

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Value};

use crate::dist;
use crate::{Event, Model, Schedule};

/// A form of the shop.
struct Form {
    name: &'static str,
    page: &'static str,
    fields: &'static [&'static str],
    /// The fields whose format customers get wrong.
    tricky: &'static [usize],
    /// The page a successful submit leads to.
    then: &'static str,
}

const CAR_QUOTE: usize = 0;
const ADDRESS: usize = 3;
const PAYMENT: usize = 4;
const CLAIM: usize = 5;

const FORMS: &[Form] = &[
    Form {
        name: "car_quote",
        page: "/quote/car",
        fields: &[
            "plate",
            "make",
            "model",
            "first_registration",
            "mileage",
            "postcode",
            "birth_date",
            "licence_date",
            "claims_5y",
            "email",
        ],
        tricky: &[0, 3, 6, 7],
        then: "/quote/car/offer",
    },
    Form {
        name: "home_quote",
        page: "/quote/home",
        fields: &[
            "postcode",
            "street",
            "house_number",
            "building_type",
            "year_built",
            "living_area",
            "contents_value",
            "email",
        ],
        tricky: &[0, 4, 5],
        then: "/quote/home/offer",
    },
    Form {
        name: "travel_quote",
        page: "/quote/travel",
        fields: &[
            "destination",
            "departure",
            "return",
            "travellers",
            "birth_date",
            "email",
        ],
        tricky: &[1, 2, 4],
        then: "/quote/travel/offer",
    },
    Form {
        name: "address",
        page: "/checkout/address",
        fields: &[
            "first_name",
            "last_name",
            "birth_date",
            "street",
            "house_number",
            "postcode",
            "city",
            "phone",
            "email",
        ],
        tricky: &[2, 5, 7],
        then: "/checkout/payment",
    },
    Form {
        name: "payment",
        page: "/checkout/payment",
        fields: &["iban", "account_holder", "mandate"],
        tricky: &[0, 1],
        then: "/checkout/confirm",
    },
    Form {
        name: "claim",
        page: "/claims/new",
        fields: &[
            "policy_number",
            "incident_date",
            "incident_type",
            "description",
            "amount",
            "iban",
        ],
        tricky: &[0, 1, 5],
        then: "/claims/thank-you",
    },
];

/// Pages about the products, where visits start.
const PRODUCT_PAGES: &[&str] = &[
    "/car-insurance",
    "/home-insurance",
    "/travel-insurance",
    "/liability-insurance",
];
/// Other pages.
const OTHER_PAGES: &[&str] = &["/faq", "/contact", "/about", "/reviews", "/blog"];

const USERS: usize = 100_000;
/// Seconds of event time between two clicks of a session, on average.
const THINK_SECONDS: f64 = 5.0;

/// Per background event, how likely each planned session starts: stuck customers, and
/// the look-alikes.
const P_STUCK: f64 = 0.000_25;
const P_SLOW_SUCCESS: f64 = 0.000_15;
const P_MISTAKE_PAUSE: f64 = 0.000_15;
const P_STRUGGLE_THROUGH: f64 = 0.000_1;
const P_QUICK_LEAVE: f64 = 0.000_1;

/// What a background session does next.
enum Step {
    Page(&'static str),
    Form(usize),
}

/// A background session's visit of a form.
struct Visit {
    form: usize,
    viewed: bool,
    /// Edits per field.
    edits: Vec<u32>,
    /// The next field to fill.
    next: usize,
    /// An error to show on this field at the next click.
    error: Option<usize>,
    /// A field to correct at the next click.
    fix: Option<usize>,
    /// Leaves the form after filling this many fields.
    leave_after: Option<usize>,
}

/// A session of the background: its plan, and the form it is in.
struct Session {
    id: u64,
    user: usize,
    plan: VecDeque<Step>,
    visit: Option<Visit>,
}

/// One click's event.
fn click(session: u64, user: usize, page: &str, action: &str) -> Event {
    let Value::Object(e) = json!({
        "session": session_id(session),
        "user": format!("user-{user:05}"),
        "page": page,
        "action": action,
    }) else {
        unreachable!()
    };
    e
}

fn session_id(session: u64) -> String {
    format!("s-{session:08}")
}

/// A click on form `form`: `extra` fields after `form`.
fn form_click(
    session: u64,
    user: usize,
    form: usize,
    action: &str,
    extra: &[(&str, Value)],
) -> Event {
    let mut e = click(session, user, FORMS[form].page, action);
    e.insert("form".into(), FORMS[form].name.into());
    for (k, v) in extra {
        e.insert((*k).into(), v.clone());
    }
    e
}

fn input(session: u64, user: usize, form: usize, field: usize, edits: u32) -> Event {
    let f = FORMS[form].fields[field];
    form_click(
        session,
        user,
        form,
        "input",
        &[("field", f.into()), ("edits", edits.into())],
    )
}

fn error(session: u64, user: usize, form: usize, field: usize) -> Event {
    let f = FORMS[form].fields[field];
    form_click(session, user, form, "error", &[("field", f.into())])
}

fn submit(session: u64, user: usize, form: usize, status: u32) -> Event {
    form_click(session, user, form, "submit", &[("status", status.into())])
}

fn pick<T: Copy>(rng: &mut ChaCha8Rng, items: &[T]) -> T {
    items[rng.random_range(0..items.len())]
}

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

    fn new_session(&mut self, rng: &mut ChaCha8Rng) -> (u64, usize) {
        self.next_session += 1;
        (self.next_session, dist::power(rng, USERS, 2.0))
    }

    /// A new background session and its plan.
    fn open(&mut self, rng: &mut ChaCha8Rng) -> Session {
        let (id, user) = self.new_session(rng);
        let mut plan = VecDeque::new();
        let product = rng.random_range(0..PRODUCT_PAGES.len());
        let roll: f64 = rng.random();
        if roll < 0.45 {
            // Browses.
            if rng.random_bool(0.5) {
                plan.push_back(Step::Page("/"));
            }
            for _ in 0..rng.random_range(1..=5) {
                let page = if rng.random_bool(0.6) {
                    pick(rng, PRODUCT_PAGES)
                } else {
                    pick(rng, OTHER_PAGES)
                };
                plan.push_back(Step::Page(page));
            }
        } else if roll < 0.85 {
            // Asks for a quote, and perhaps buys.
            plan.push_back(Step::Page(PRODUCT_PAGES[product]));
            if rng.random_bool(0.3) {
                plan.push_back(Step::Page(pick(rng, OTHER_PAGES)));
            }
            let quote = [CAR_QUOTE, 1, 2, 1][product];
            plan.push_back(Step::Form(quote));
            if rng.random_bool(0.5) {
                plan.push_back(Step::Form(ADDRESS));
                plan.push_back(Step::Form(PAYMENT));
                plan.push_back(Step::Page("/thank-you"));
            }
        } else if roll < 0.95 {
            // Reports a claim.
            plan.push_back(Step::Page("/login"));
            plan.push_back(Step::Page("/account"));
            plan.push_back(Step::Form(CLAIM));
        } else {
            plan.push_back(Step::Page("/login"));
            plan.push_back(Step::Page("/account"));
            plan.push_back(Step::Page("/account/documents"));
        }
        Session {
            id,
            user,
            plan,
            visit: None,
        }
    }

    /// The next click of background session `i`; `None` when the session ends.
    fn step(&mut self, rng: &mut ChaCha8Rng, i: usize) -> Option<Event> {
        let s = &mut self.sessions[i];
        let (id, user) = (s.id, s.user);
        if s.visit.is_none() {
            match s.plan.pop_front()? {
                Step::Page(page) => return Some(click(id, user, page, "view")),
                Step::Form(form) => {
                    s.visit = Some(Visit {
                        form,
                        viewed: false,
                        edits: vec![0; FORMS[form].fields.len()],
                        next: 0,
                        error: None,
                        fix: None,
                        leave_after: None,
                    })
                }
            }
        }
        let v = s.visit.as_mut().expect("in a form");
        let form = v.form;
        let f = &FORMS[form];
        if !v.viewed {
            v.viewed = true;
            if rng.random_bool(0.15) {
                v.leave_after = Some(rng.random_range(0..=2));
            }
            return Some(form_click(id, user, form, "view", &[]));
        }
        if let Some(field) = v.error.take() {
            v.fix = Some(field);
            return Some(error(id, user, form, field));
        }
        if let Some(field) = v.fix.take() {
            v.edits[field] += 1;
            return Some(input(id, user, form, field, v.edits[field]));
        }
        if v.leave_after.is_some_and(|n| v.next >= n) || rng.random_bool(0.01) {
            return None;
        }
        if v.next > 0 && rng.random_bool(0.04) {
            let field = rng.random_range(0..v.next);
            v.edits[field] += 1;
            return Some(input(id, user, form, field, v.edits[field]));
        }
        if v.next < f.fields.len() {
            let field = v.next;
            v.next += 1;
            v.edits[field] = 1;
            let p_error = if f.tricky.contains(&field) {
                0.06
            } else {
                0.01
            };
            if rng.random_bool(p_error) {
                v.error = Some(field);
            }
            return Some(input(id, user, form, field, 1));
        }
        if rng.random_bool(0.05) {
            v.error = Some(pick(rng, f.tricky));
            return Some(submit(id, user, form, 422));
        }
        s.visit = None;
        s.plan.push_front(Step::Page(f.then));
        Some(submit(id, user, form, 200))
    }
}

/// A planned session's clicks, at times of its own.
struct Script<'a> {
    schedule: &'a mut Schedule,
    session: u64,
    user: usize,
    form: usize,
    edits: Vec<u32>,
    /// The time of the last click.
    t: i64,
}

impl<'a> Script<'a> {
    fn new(schedule: &'a mut Schedule, session: u64, user: usize, t: i64) -> Self {
        Script {
            schedule,
            session,
            user,
            form: 0,
            edits: Vec::new(),
            t,
        }
    }

    fn at(&mut self, wait_ms: i64, event: Event) -> i64 {
        self.t += wait_ms;
        self.schedule.at(self.t, event);
        self.t
    }

    fn page(&mut self, wait_ms: i64, page: &str) -> i64 {
        let e = click(self.session, self.user, page, "view");
        self.at(wait_ms, e)
    }

    /// Opens `form`: its view.
    fn open(&mut self, wait_ms: i64, form: usize) -> i64 {
        self.form = form;
        self.edits = vec![0; FORMS[form].fields.len()];
        let e = form_click(self.session, self.user, form, "view", &[]);
        self.at(wait_ms, e)
    }

    fn input(&mut self, wait_ms: i64, field: usize) -> i64 {
        self.edits[field] += 1;
        let e = input(self.session, self.user, self.form, field, self.edits[field]);
        self.at(wait_ms, e)
    }

    fn error(&mut self, wait_ms: i64, field: usize) -> i64 {
        let e = error(self.session, self.user, self.form, field);
        self.at(wait_ms, e)
    }

    fn submit(&mut self, wait_ms: i64, status: u32) -> i64 {
        let e = submit(self.session, self.user, self.form, status);
        self.at(wait_ms, e)
    }

    /// Fills `form` without a hitch and goes on to the next page.
    fn breeze_through(&mut self, rng: &mut ChaCha8Rng, form: usize) {
        self.open(rng.random_range(2_000..10_000), form);
        for field in 0..FORMS[form].fields.len() {
            self.input(rng.random_range(2_000..9_000), field);
        }
        self.submit(rng.random_range(1_000..5_000), 200);
        self.page(rng.random_range(300..1_500), FORMS[form].then);
    }

    /// The pages before `form`: a product page, and the forms before it in the
    /// checkout.
    fn lead_to(&mut self, rng: &mut ChaCha8Rng, form: usize) {
        let first = if form == CLAIM {
            "/login"
        } else {
            pick(rng, PRODUCT_PAGES)
        };
        self.page(0, first);
        if form == CLAIM {
            self.page(rng.random_range(3_000..15_000), "/account");
        }
        if form == ADDRESS || form == PAYMENT {
            self.breeze_through(rng, CAR_QUOTE);
        }
        if form == PAYMENT {
            self.breeze_through(rng, ADDRESS);
        }
    }

    /// A short wait between two clicks of a customer at work.
    fn quick(rng: &mut ChaCha8Rng) -> i64 {
        rng.random_range(2_000..12_000)
    }

    /// A wait of someone reading an error, or hesitating.
    fn slow(rng: &mut ChaCha8Rng) -> i64 {
        rng.random_range(6_000..40_000)
    }
}

impl Clicks {
    /// A planned session led to a form of any kind, and the form open: its script so far
    /// and the form.
    fn visit<'s>(
        &mut self,
        rng: &mut ChaCha8Rng,
        now: i64,
        schedule: &'s mut Schedule,
    ) -> (Script<'s>, usize) {
        let (session, user) = self.new_session(rng);
        let mut s = Script::new(schedule, session, user, now + rng.random_range(500..5_000));
        let form = rng.random_range(0..FORMS.len());
        s.lead_to(rng, form);
        s.open(rng.random_range(2_000..10_000), form);
        (s, form)
    }

    /// A customer stuck in a form.
    fn plan_stuck(&mut self, rng: &mut ChaCha8Rng, now: i64, schedule: &mut Schedule) {
        let (session, user) = self.new_session(rng);
        let mut s = Script::new(schedule, session, user, now + rng.random_range(500..5_000));
        let kind = match dist::weighted(rng, &[35.0, 40.0, 25.0]) {
            0 => "stuck_on_errors",
            1 => "stuck_rejected",
            _ => "stuck_hesitating",
        };
        let form = match kind {
            "stuck_rejected" => {
                [PAYMENT, PAYMENT, PAYMENT, ADDRESS, CLAIM, CAR_QUOTE][rng.random_range(0..6)]
            }
            _ => rng.random_range(0..FORMS.len()),
        };
        s.lead_to(rng, form);
        let start = s.open(rng.random_range(2_000..10_000), form);
        let f = &FORMS[form];
        let n = f.fields.len();
        match kind {
            "stuck_on_errors" => {
                // One or two tricky fields keep failing; the customer tries again and
                // again, and looks at the other fields in between.
                let hard: Vec<usize> = (0..rng.random_range(1..=2).min(f.tricky.len()))
                    .map(|_| pick(rng, f.tricky))
                    .collect();
                for field in 0..n {
                    s.input(Script::quick(rng), field);
                    if hard.contains(&field) {
                        s.error(rng.random_range(500..2_000), field);
                    }
                }
                for _ in 0..rng.random_range(2..=6) {
                    if rng.random_bool(0.4) {
                        s.input(Script::slow(rng), rng.random_range(0..n));
                    }
                    let field = pick(rng, &hard);
                    s.input(Script::slow(rng), field);
                    if rng.random_bool(0.3) {
                        s.submit(Script::quick(rng), 422);
                    }
                    s.error(rng.random_range(500..2_000), field);
                }
            }
            "stuck_rejected" => {
                for field in 0..n {
                    s.input(Script::quick(rng), field);
                }
                for _ in 0..rng.random_range(3..=6) {
                    s.submit(Script::quick(rng), 422);
                    let field = pick(rng, f.tricky);
                    s.error(rng.random_range(300..1_500), field);
                    s.input(Script::slow(rng), field);
                    if rng.random_bool(0.3) {
                        s.input(Script::slow(rng), rng.random_range(0..n));
                    }
                }
                s.submit(Script::quick(rng), 422);
            }
            _ => {
                // Halting: slow, back and forth, a mistake or two, no submit.
                let mut mistakes = rng.random_range(1..=2);
                let mut revisits = rng.random_range(4..=9);
                for field in 0..n {
                    s.input(Script::slow(rng), field);
                    if mistakes > 0 && f.tricky.contains(&field) && rng.random_bool(0.6) {
                        s.error(rng.random_range(500..2_000), field);
                        s.input(Script::slow(rng), field);
                        mistakes -= 1;
                    }
                    if revisits > 0 && rng.random_bool(0.4) {
                        s.input(Script::slow(rng), rng.random_range(0..=field));
                        revisits -= 1;
                    }
                }
                for _ in 0..revisits {
                    s.input(Script::slow(rng), rng.random_range(0..n));
                }
            }
        }
        let end = s.t;
        schedule.incident(session_id(session), start, end, kind);
    }

    /// A slow visit that pauses for minutes once or twice (a document to look up) and
    /// then goes through; a mistake or a look back on the way.
    fn plan_slow_success(&mut self, rng: &mut ChaCha8Rng, now: i64, schedule: &mut Schedule) {
        let (mut s, form) = self.visit(rng, now, schedule);
        let f = &FORMS[form];
        let n = f.fields.len();
        let pauses: Vec<usize> = (0..rng.random_range(1..=2))
            .map(|_| rng.random_range(0..n))
            .collect();
        let mistake = rng.random_bool(0.4).then(|| pick(rng, f.tricky));
        for field in 0..n {
            let wait = if pauses.contains(&field) {
                rng.random_range(100_000..420_000)
            } else {
                Script::slow(rng)
            };
            s.input(wait, field);
            if mistake == Some(field) {
                s.error(rng.random_range(500..2_000), field);
                s.input(Script::slow(rng), field);
            }
            if rng.random_bool(0.15) {
                s.input(Script::slow(rng), rng.random_range(0..=field));
            }
        }
        s.submit(Script::quick(rng), 200);
        s.page(rng.random_range(300..1_500), f.then);
    }

    /// A mistake or a rejected submit, a pause of minutes (the right number to find),
    /// then success.
    fn plan_mistake_pause(&mut self, rng: &mut ChaCha8Rng, now: i64, schedule: &mut Schedule) {
        let (mut s, form) = self.visit(rng, now, schedule);
        let f = &FORMS[form];
        let n = f.fields.len();
        let field = pick(rng, f.tricky);
        let rejected = rng.random_bool(0.5);
        for i in 0..n {
            s.input(Script::quick(rng), i);
            if i == field && !rejected {
                s.error(rng.random_range(500..2_000), i);
                if rng.random_bool(0.5) {
                    s.input(Script::slow(rng), i);
                    s.error(rng.random_range(500..2_000), i);
                }
                s.input(rng.random_range(100_000..400_000), i);
            }
        }
        if rejected {
            s.submit(Script::quick(rng), 422);
            s.error(rng.random_range(300..1_500), field);
            s.input(rng.random_range(100_000..400_000), field);
        }
        s.submit(Script::quick(rng), 200);
        s.page(rng.random_range(300..1_500), f.then);
    }

    /// A customer who struggles (errors, a rejection, fields revisited) and gets
    /// through within a minute or two.
    fn plan_struggle_through(&mut self, rng: &mut ChaCha8Rng, now: i64, schedule: &mut Schedule) {
        let (mut s, form) = self.visit(rng, now, schedule);
        let f = &FORMS[form];
        let n = f.fields.len();
        for i in 0..n {
            s.input(Script::quick(rng), i);
            if f.tricky.contains(&i) && rng.random_bool(0.5) {
                s.error(rng.random_range(500..2_000), i);
                s.input(Script::quick(rng), i);
            }
        }
        for _ in 0..rng.random_range(1..=3) {
            s.input(Script::quick(rng), rng.random_range(0..n));
        }
        if rng.random_bool(0.5) {
            s.submit(Script::quick(rng), 422);
            let field = pick(rng, f.tricky);
            s.error(rng.random_range(300..1_500), field);
            s.input(Script::slow(rng), field);
        }
        s.submit(Script::quick(rng), 200);
        s.page(rng.random_range(300..1_500), f.then);
    }

    /// A customer who opens a form and leaves at once, after a field or two.
    fn plan_quick_leave(&mut self, rng: &mut ChaCha8Rng, now: i64, schedule: &mut Schedule) {
        let (mut s, form) = self.visit(rng, now, schedule);
        let f = &FORMS[form];
        for i in 0..rng.random_range(0..=2).min(f.fields.len()) {
            s.input(Script::quick(rng), i);
            if i == 0 && rng.random_bool(0.3) {
                s.error(rng.random_range(500..2_000), i);
            }
        }
    }
}

impl Model for Clicks {
    fn next(&mut self, rng: &mut ChaCha8Rng, now: i64, schedule: &mut Schedule) -> Event {
        let plans: [(f64, crate::Plan<Self>); 5] = [
            (P_STUCK, Self::plan_stuck),
            (P_SLOW_SUCCESS, Self::plan_slow_success),
            (P_MISTAKE_PAUSE, Self::plan_mistake_pause),
            (P_STRUGGLE_THROUGH, Self::plan_struggle_through),
            (P_QUICK_LEAVE, Self::plan_quick_leave),
        ];
        crate::maybe_plan(self, &plans, rng, now, schedule);
        loop {
            let i = rng.random_range(0..self.sessions.len());
            if let Some(e) = self.step(rng, i) {
                return e;
            }
            self.sessions[i] = self.open(rng);
        }
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
    use std::collections::BTreeMap;

    use serde_json::Value;

    use crate::{Event, Generator, Incident, Kind};

    fn str_of<'e>(e: &'e Event, f: &str) -> Option<&'e str> {
        e.get(f).and_then(Value::as_str)
    }

    /// The field's value, `null` when the event lacks it.
    fn value<'e>(e: &'e Event, f: &str) -> &'e Value {
        e.get(f).unwrap_or(&Value::Null)
    }

    fn run(seed: u64, n: usize) -> (Vec<Event>, Vec<Incident>) {
        let mut g = Generator::new(Kind::Clicks, seed).events_per_second(20.0);
        let events: Vec<_> = g.by_ref().take(n).collect();
        let incidents = g.incidents().cloned().collect();
        (events, incidents)
    }

    #[test]
    fn fields_have_their_types() {
        let (events, _) = run(5, 50_000);
        for e in &events {
            assert!(str_of(e, "session").unwrap().starts_with("s-"));
            assert!(str_of(e, "user").unwrap().starts_with("user-"));
            assert!(str_of(e, "page").unwrap().starts_with('/'));
            let action = str_of(e, "action").unwrap();
            assert!(
                ["view", "input", "error", "submit"].contains(&action),
                "{e:?}"
            );
            if action != "view" {
                assert!(str_of(e, "form").is_some(), "{e:?}");
            }
            match action {
                "input" => {
                    assert!(value(e, "edits").as_u64().unwrap() >= 1, "{e:?}");
                    assert!(str_of(e, "field").is_some(), "{e:?}");
                }
                "error" => assert!(str_of(e, "field").is_some(), "{e:?}"),
                "submit" => assert!([200, 422].contains(&value(e, "status").as_u64().unwrap())),
                _ => {}
            }
        }
    }

    /// Each stuck customer's struggle is in the events: the form's view, then errors,
    /// rejections or revisits, no successful submit, and quiet afterwards.
    #[test]
    fn incidents_are_in_the_events() {
        let (events, incidents) = run(11, 300_000);
        for kind in ["stuck_on_errors", "stuck_rejected", "stuck_hesitating"] {
            let n = incidents.iter().filter(|i| i.kind == kind).count();
            assert!(n >= 10, "{n} {kind}");
        }
        let mut by: BTreeMap<&str, Vec<&Event>> = BTreeMap::new();
        for e in &events {
            by.entry(str_of(e, "session").unwrap()).or_default().push(e);
        }
        for i in &incidents {
            let of = &by[i.key.as_str()];
            let ts = |e: &Event| e["ts"].as_i64().unwrap();
            let first = of.iter().find(|e| ts(e) == i.start).unwrap();
            assert_eq!(first["action"], "view", "{i:?}");
            let form = str_of(first, "form").unwrap();
            let during: Vec<_> = of
                .iter()
                .filter(|e| (i.start..=i.end).contains(&ts(e)))
                .collect();
            assert!(during.len() >= 5, "{i:?}");
            assert!(
                during.iter().all(|e| str_of(e, "form") == Some(form)),
                "{i:?}"
            );
            assert!(!during.iter().any(|e| value(e, "status") == 200), "{i:?}");
            let struggle = during
                .iter()
                .filter(|e| {
                    e["action"] == "error"
                        || value(e, "status") == 422
                        || value(e, "edits").as_u64() > Some(1)
                })
                .count();
            assert!(struggle >= 3, "{i:?}: {struggle}");
            assert!(!of.iter().any(|e| ts(e) > i.end), "{i:?}: quiet after");
        }
    }

    /// The background has sessions that buy, that report claims, that leave a form;
    /// and no event carries anything but what the shop sees.
    #[test]
    fn sessions_go_through_the_shop() {
        let (events, _) = run(23, 100_000);
        let count = |page: &str| events.iter().filter(|e| e["page"] == page).count();
        assert!(count("/thank-you") >= 100, "{}", count("/thank-you"));
        assert!(
            count("/claims/thank-you") >= 20,
            "{}",
            count("/claims/thank-you")
        );
        let errors = events.iter().filter(|e| e["action"] == "error").count();
        let rejected = events.iter().filter(|e| value(e, "status") == 422).count();
        assert!(errors >= 100 && rejected >= 20, "{errors} {rejected}");
        for e in &events {
            assert!(e.get("label").is_none() && e.get("kind").is_none(), "{e:?}");
        }
    }

    #[test]
    fn the_same_seed_gives_the_same_sessions_and_incidents() {
        assert_eq!(run(3, 50_000), run(3, 50_000));
        assert_ne!(run(3, 5_000).0, run(4, 5_000).0);
    }
}
