//! The use cases the generators serve, and the incidents they plant.
//!
//! Each use case reads one [`Kind`] of events and looks for incidents of its own; the
//! generator records every incident it plants ([`Generator::incidents`]), never in the
//! events themselves, so that a job has to find them from the data. An incident's
//! truth line names its key, the event time its events span, and the deadline by which
//! a notification is expected.

use std::fmt;
use std::str::FromStr;

use serde_json::{json, Value};

use crate::Kind;

/// An incident a generator planted: the events of `key` between `start` and `end`
/// (epoch milliseconds of event time) make up a pattern of `kind`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Incident {
    /// The value of the use case's key field.
    pub key: String,
    /// The event time of the incident's first event.
    pub start: i64,
    /// The event time of the incident's last event.
    pub end: i64,
    /// What was planted.
    pub kind: &'static str,
}

/// A use case: events of one kind, the incidents to find in them, and how long finding
/// one may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UseCase {
    /// Trending words in tweets.
    Trends,
    /// Payment fraud: card testing, impossible travel, bursts of transfers.
    Fraud,
    /// A customer stuck in a web form.
    StuckForm,
    /// Heart failure signs in patients' vital signs.
    Heart,
    /// Traffic jams on road segments.
    Traffic,
    /// Machine failures building up in IoT logs.
    Iot,
    /// Key combos in a game.
    Combos,
    /// Card balances running low: personalised offers.
    LowBalance,
}

impl UseCase {
    /// Every use case.
    pub const ALL: [UseCase; 8] = [
        UseCase::Trends,
        UseCase::Fraud,
        UseCase::StuckForm,
        UseCase::Heart,
        UseCase::Traffic,
        UseCase::Iot,
        UseCase::Combos,
        UseCase::LowBalance,
    ];

    /// The use case's name: its folder in `examples/` and its `use_case` in truth lines
    /// and notifications.
    pub fn name(self) -> &'static str {
        match self {
            UseCase::Trends => "trends",
            UseCase::Fraud => "fraud",
            UseCase::StuckForm => "stuck-form",
            UseCase::Heart => "heart",
            UseCase::Traffic => "traffic",
            UseCase::Iot => "iot",
            UseCase::Combos => "combos",
            UseCase::LowBalance => "low-balance",
        }
    }

    /// The kind of events it reads.
    pub fn kind(self) -> Kind {
        match self {
            UseCase::Trends => Kind::Tweets,
            UseCase::Fraud => Kind::Payments,
            UseCase::StuckForm => Kind::Clicks,
            UseCase::Heart => Kind::Vitals,
            UseCase::Traffic => Kind::Traffic,
            UseCase::Iot => Kind::Machines,
            UseCase::Combos => Kind::Games,
            UseCase::LowBalance => Kind::Transactions,
        }
    }

    /// The field whose value keys its incidents and notifications.
    pub fn key_field(self) -> &'static str {
        match self {
            UseCase::Trends => "word",
            _ => self.kind().key_field(),
        }
    }

    /// How long after an incident's last event a notification may come: the windows,
    /// timeouts and watermark delay the use case's job waits for.
    pub fn detection_delay_ms(self) -> i64 {
        match self {
            UseCase::Trends => 3 * 60_000,
            UseCase::Fraud => 2 * 60_000,
            UseCase::StuckForm => 6 * 60_000,
            UseCase::Heart => 2 * 60_000,
            UseCase::Traffic => 3 * 60_000,
            UseCase::Iot => 3 * 60_000,
            UseCase::Combos => 2_000,
            UseCase::LowBalance => 3 * 60_000,
        }
    }

    /// How many events a measured run generates unless told otherwise: enough event
    /// time for a few dozen incidents.
    pub fn default_events(self) -> u64 {
        match self {
            UseCase::Trends => 800_000,
            UseCase::Fraud => 400_000,
            UseCase::StuckForm => 300_000,
            UseCase::Heart => 300_000,
            UseCase::Traffic => 600_000,
            UseCase::Iot => 600_000,
            UseCase::Combos => 200_000,
            UseCase::LowBalance => 300_000,
        }
    }

    /// The truth line of `incident`, as `usecases.md` shapes it.
    pub fn truth(self, incident: &Incident) -> Value {
        json!({
            "use_case": self.name(),
            "key": incident.key,
            "start": incident.start,
            "end": incident.end,
            "deadline": incident.end + self.detection_delay_ms(),
            "kind": incident.kind,
        })
    }
}

impl fmt::Display for UseCase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A name that is no [`UseCase`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownUseCase(pub String);

impl fmt::Display for UnknownUseCase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = UseCase::ALL.iter().map(|u| u.name()).collect();
        write!(
            f,
            "unknown use case {:?}: expected one of {}",
            self.0,
            names.join(", ")
        )
    }
}

impl std::error::Error for UnknownUseCase {}

impl FromStr for UseCase {
    type Err = UnknownUseCase;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        UseCase::ALL
            .into_iter()
            .find(|u| u.name().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| UnknownUseCase(s.to_string()))
    }
}

/// Notifications compared with the incidents planted, as `usecases.md` compares them: a
/// notification matches an incident of the same key when `start <= ts <= deadline`.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// Incidents in the truth.
    pub incidents: usize,
    /// Incidents matched by at least one notification.
    pub found: usize,
    /// Notifications.
    pub notifications: usize,
    /// Notifications that match an incident.
    pub matching: usize,
    /// Notifications beyond the first that match the same incident.
    pub duplicates: usize,
    /// Per incident found, event time from its last event to its first notification
    /// (none before its end), sorted.
    pub delays_ms: Vec<i64>,
}

impl Report {
    /// Compares `notifications` with the `truth` lines; lines without a key or a time
    /// are counted and never match.
    pub fn new(truth: &[Value], notifications: &[Value]) -> Report {
        let key = |v: &Value| match v.get("key") {
            Some(Value::String(s)) => Some(s.clone()),
            Some(Value::Null) | None => None,
            Some(other) => Some(other.to_string()),
        };
        let int = |v: &Value, f: &str| v.get(f).and_then(Value::as_i64);
        let mut by_key: std::collections::HashMap<String, Vec<usize>> = Default::default();
        for (i, t) in truth.iter().enumerate() {
            if let Some(k) = key(t) {
                by_key.entry(k).or_default().push(i);
            }
        }
        let mut first: Vec<Option<i64>> = vec![None; truth.len()];
        let (mut matching, mut duplicates) = (0, 0);
        for n in notifications {
            let (Some(k), Some(ts)) = (key(n), int(n, "ts")) else {
                continue;
            };
            let hit = by_key.get(&k).and_then(|is| {
                is.iter().copied().find(|&i| {
                    let t = &truth[i];
                    int(t, "start").is_some_and(|s| s <= ts)
                        && int(t, "deadline").is_some_and(|d| ts <= d)
                })
            });
            if let Some(i) = hit {
                matching += 1;
                match &mut first[i] {
                    Some(f) => {
                        duplicates += 1;
                        *f = (*f).min(ts);
                    }
                    none => *none = Some(ts),
                }
            }
        }
        let mut delays_ms: Vec<i64> = first
            .iter()
            .zip(truth)
            .filter_map(|(f, t)| Some((f.as_ref()? - int(t, "end")?).max(0)))
            .collect();
        delays_ms.sort_unstable();
        Report {
            incidents: truth.len(),
            found: first.iter().filter(|f| f.is_some()).count(),
            notifications: notifications.len(),
            matching,
            duplicates,
            delays_ms,
        }
    }

    /// Incidents found / incidents (1 without incidents).
    pub fn recall(&self) -> f64 {
        ratio(self.found, self.incidents)
    }

    /// Notifications that match / notifications (1 without notifications).
    pub fn precision(&self) -> f64 {
        ratio(self.matching, self.notifications)
    }

    /// The `q` quantile (0 to 1) of the detection delays, in milliseconds.
    pub fn delay_quantile(&self, q: f64) -> Option<i64> {
        let n = self.delays_ms.len();
        (n > 0).then(|| self.delays_ms[((n - 1) as f64 * q.clamp(0.0, 1.0)).round() as usize])
    }
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 {
        1.0
    } else {
        a as f64 / b as f64
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "recall {:.3} ({} of {} incidents), precision {:.3} ({} of {} notifications), \
             {} duplicates",
            self.recall(),
            self.found,
            self.incidents,
            self.precision(),
            self.matching,
            self.notifications,
            self.duplicates,
        )?;
        if let (Some(p50), Some(max)) = (self.delay_quantile(0.5), self.delay_quantile(1.0)) {
            write!(
                f,
                ", detection delay after the incident's last event p50 {:.1} s, max {:.1} s",
                p50 as f64 / 1000.0,
                max as f64 / 1000.0
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn names_parse_and_print() {
        for u in UseCase::ALL {
            assert_eq!(u.name().parse::<UseCase>().unwrap(), u);
        }
        let e = "fruad".parse::<UseCase>().unwrap_err().to_string();
        assert!(e.contains("fruad") && e.contains("low-balance"), "{e}");
    }

    #[test]
    fn notifications_match_incidents_of_their_key_between_start_and_deadline() {
        let truth = vec![
            json!({"key": "a", "start": 100, "end": 200, "deadline": 300}),
            json!({"key": "b", "start": 100, "end": 200, "deadline": 300}),
            json!({"key": 7, "start": 0, "end": 10, "deadline": 20}),
        ];
        let notifications = vec![
            json!({"key": "a", "ts": 250}),
            json!({"key": "a", "ts": 260}),
            json!({"key": "a", "ts": 301}),
            json!({"key": "b", "ts": 99}),
            json!({"key": 7, "ts": 5}),
            json!({"ts": 5}),
        ];
        let r = Report::new(&truth, &notifications);
        assert_eq!((r.found, r.matching, r.duplicates), (2, 3, 1));
        assert!((r.recall() - 2.0 / 3.0).abs() < 1e-12);
        assert!((r.precision() - 0.5).abs() < 1e-12);
        assert_eq!(r.delays_ms, vec![0, 50]);
        assert!(r.to_string().contains("1 duplicates"), "{r}");
    }
}
