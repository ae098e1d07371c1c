//! Jobs that share their Kafka partitions with other processes through consumer groups.
//!
//! A job whose Kafka sources deliver at least once and that has no `state_dir` joins each
//! source's group once per process ([`styx_kafka::group::GroupMember`]). The process
//! reads the partitions the group gives it, spread over the source's instances, and
//! commits offsets held back to the oldest record its windows may still need: how far
//! behind the watermark that is, is the source's [`Horizon`], from the windows
//! downstream of it. When the group moves partitions (a process joins, leaves or dies),
//! every process whose partitions changed starts its dataflow again from the committed
//! offsets, at the watermark they go with, so that the windows of a process that died
//! are rebuilt whole by the one that takes its partitions over (see
//! [`styx_kafka::group`]).

use std::collections::HashMap;
use std::time::Duration;

use styx_kafka::group::{
    timestamps_at, GroupHandle, GroupMember, Horizon, StartPlan, WatermarkBoard,
};
use styx_kafka::{KafkaSourceConfig, Partition};
use styx_runtime::sink::Deliveries;

use crate::config::{
    EventTimeConfig, JobFile, SourceConfig, TimeKind, TransformConfig, WindowSpec, WithinBetween,
};

/// How long a process waits for the group to give it its partitions.
const ASSIGNMENT_TIMEOUT: Duration = Duration::from_secs(120);

/// How long fetching the committed offsets may take.
const FETCH_TIMEOUT: Duration = Duration::from_secs(30);

/// The group memberships of a job's Kafka sources, for the whole run of the process.
pub(crate) struct Groups {
    members: Vec<Membership>,
}

/// The membership of one source.
struct Membership {
    id: String,
    config: KafkaSourceConfig<EventTimeConfig>,
    member: GroupMember,
    horizon: Horizon,
}

/// One run of the dataflow on the partitions the groups gave the process.
pub(crate) struct GroupRun {
    sources: HashMap<String, SourceRun>,
    board: WatermarkBoard,
}

/// What the instances of one Kafka source read in a run of the dataflow.
pub(crate) struct SourceRun {
    /// The process's member of the source's group.
    pub(crate) member: GroupHandle,
    /// The member's epoch the partitions belong to.
    pub(crate) epoch: u64,
    /// The partitions, where they start, and the watermark the dataflow starts at.
    pub(crate) plan: StartPlan,
    /// How far behind the watermark records may still be needed.
    pub(crate) horizon: Horizon,
    /// The board slot of the source's first instance.
    pub(crate) first_slot: usize,
}

impl Groups {
    /// Joins the group of every Kafka source of `config`, if the job reads through
    /// groups: at least once, no `state_dir`. `Ok(None)`: it does not.
    pub(crate) fn join(config: &JobFile, order: &[String]) -> Result<Option<Groups>, String> {
        let exactly_once = config
            .sinks
            .values()
            .any(crate::connectors::is_exactly_once);
        if exactly_once || config.job.state_dir.is_some() {
            return Ok(None);
        }
        let mut members = Vec::new();
        for (id, source) in &config.sources {
            if let SourceConfig::Kafka(k) = source {
                let member = GroupMember::join(k, &format!("sources.{id}"))
                    .map_err(|e| format!("sources.{id}: {e}"))?;
                // Without event time no window is rebuilt by replaying.
                let horizon = match &k.event_time {
                    Some(_) => horizon(config, order, id),
                    None => Horizon::Stateless,
                };
                members.push(Membership {
                    id: id.clone(),
                    config: k.clone(),
                    member,
                    horizon,
                });
            }
        }
        Ok((!members.is_empty()).then_some(Groups { members }))
    }

    /// Waits for the groups' assignments and plans a run of the dataflow on them, with
    /// `parallelism` instances per source.
    pub(crate) fn plan(&self, parallelism: usize) -> Result<GroupRun, String> {
        let mut sources = HashMap::new();
        for (i, m) in self.members.iter().enumerate() {
            let (id, handle, horizon) = (&m.id, m.member.handle(), &m.horizon);
            let (epoch, partitions) =
                handle.wait_assignment(ASSIGNMENT_TIMEOUT).ok_or_else(|| {
                    format!(
                        "sources.{id}: the group gave no partitions within {ASSIGNMENT_TIMEOUT:?}"
                    )
                })?;
            let field = m.config.event_time.as_ref().map(|t| t.field.as_str());
            let newest = |at: &[(Partition, i64)]| match field {
                Some(field) => timestamps_at(&m.config, field, at, FETCH_TIMEOUT),
                None => Ok(HashMap::new()),
            };
            let plan = handle
                .plan(&partitions, *horizon, &newest, FETCH_TIMEOUT)
                .map_err(|e| format!("sources.{id}: {e}"))?;
            tracing::info!(
                source = %id,
                offsets = ?plan.offsets,
                watermark = plan.watermark,
                "reading the partitions the group gave"
            );
            sources.insert(
                id.clone(),
                SourceRun {
                    member: handle,
                    epoch,
                    plan,
                    horizon: *horizon,
                    first_slot: i * parallelism,
                },
            );
        }
        Ok(GroupRun {
            sources,
            board: WatermarkBoard::new(self.members.len() * parallelism),
        })
    }

    /// Whether a group has moved partitions since `run` was planned.
    pub(crate) fn reassigned(&self, run: &GroupRun) -> bool {
        run.sources.values().any(|s| s.member.epoch() != s.epoch)
    }
}

impl GroupRun {
    /// The watermark the dataflow starts at: the lowest of its sources' plans.
    pub(crate) fn start_watermark(&self) -> Option<styx_runtime::time::Timestamp> {
        self.sources.values().map(|s| s.plan.watermark).min()
    }

    /// Where the run's sinks report what they have delivered, which the commits wait for.
    pub(crate) fn deliveries(&self) -> &Deliveries {
        self.board.deliveries()
    }

    /// What source `id` reads in this run, with the job's watermark board.
    pub(crate) fn source(&self, id: &str) -> Option<(&SourceRun, &WatermarkBoard)> {
        self.sources.get(id).map(|s| (s, &self.board))
    }
}

/// How far behind the watermark the records of output `id` may still be needed: the
/// longest chain of windows downstream of it (each window its size and allowed
/// lateness).
fn horizon(config: &JobFile, order: &[String], id: &str) -> Horizon {
    let mut downstream = Horizon::Stateless;
    for t_id in order {
        let t = &config.transforms[t_id];
        if !t.inputs().iter().any(|i| i == id) {
            continue;
        }
        let after = match t {
            TransformConfig::Window(w) => {
                let own = match &w.window {
                    WindowSpec::Tumbling { size, time }
                    | WindowSpec::Sliding { size, time, .. } => {
                        match time {
                            TimeKind::Event => Horizon::Bounded(
                                millis(size.0).saturating_add(millis(w.allowed_lateness.0)),
                            ),
                            // The wall clock's windows are not rebuilt by replaying.
                            TimeKind::Processing => Horizon::Stateless,
                        }
                    }
                    WindowSpec::Session { time, .. } => match time {
                        TimeKind::Event => Horizon::Unbounded,
                        TimeKind::Processing => Horizon::Stateless,
                    },
                    WindowSpec::Count { .. } => Horizon::Unbounded,
                };
                let late = format!("{t_id}.late");
                chain(
                    own,
                    wider(horizon(config, order, t_id), horizon(config, order, &late)),
                )
            }
            TransformConfig::Score(s) => {
                let dead = s
                    .dead_letter
                    .as_deref()
                    .map_or(Horizon::Stateless, |d| horizon(config, order, d));
                wider(horizon(config, order, t_id), dead)
            }
            TransformConfig::Filter(_) | TransformConfig::Map(_) | TransformConfig::Rules(_) => {
                horizon(config, order, t_id)
            }
            // Each key's events of the last `over`.
            TransformConfig::Baseline(b) => chain(
                Horizon::Bounded(millis(b.over.0)),
                horizon(config, order, t_id),
            ),
            // Suppression remembers the last notification of each key for ever.
            TransformConfig::Notify(n) if n.suppress.is_some() => Horizon::Unbounded,
            TransformConfig::Notify(n) => {
                let dead = n
                    .dead_letter
                    .as_deref()
                    .map_or(Horizon::Stateless, |d| horizon(config, order, d));
                wider(horizon(config, order, t_id), dead)
            }
            TransformConfig::Lookup(l) => wider(
                horizon(config, order, t_id),
                horizon(config, order, &l.missing),
            ),
            TransformConfig::Pattern(p) => {
                // A partial match holds its events for `within` (first to last event);
                // without it, or measured between neighbours, for ever.
                let own = match (p.time, p.within, p.within_between) {
                    (TimeKind::Processing, ..) => Horizon::Stateless,
                    (TimeKind::Event, Some(within), WithinBetween::FirstAndLast) => {
                        Horizon::Bounded(millis(within.0))
                    }
                    (TimeKind::Event, ..) => Horizon::Unbounded,
                };
                let sides = crate::pattern::SIDE_OUTPUTS
                    .iter()
                    .map(|side| horizon(config, order, &format!("{t_id}.{side}")))
                    .fold(horizon(config, order, t_id), wider);
                chain(own, sides)
            }
        };
        downstream = wider(downstream, after);
    }
    downstream
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// The horizon of two branches: the longer.
fn wider(a: Horizon, b: Horizon) -> Horizon {
    combine(a, b, i64::max)
}

/// The horizon of a window followed by what comes after it.
fn chain(own: Horizon, after: Horizon) -> Horizon {
    combine(own, after, i64::saturating_add)
}

/// Two horizons in one: unbounded if either is, `bounded` of two bounded ones, else the
/// bounded one (stateless adds nothing).
fn combine(a: Horizon, b: Horizon, bounded: fn(i64, i64) -> i64) -> Horizon {
    match (a, b) {
        (Horizon::Unbounded, _) | (_, Horizon::Unbounded) => Horizon::Unbounded,
        (Horizon::Bounded(x), Horizon::Bounded(y)) => Horizon::Bounded(bounded(x, y)),
        (Horizon::Bounded(x), _) | (_, Horizon::Bounded(x)) => Horizon::Bounded(x),
        _ => Horizon::Stateless,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn horizons(job: &str) -> Horizon {
        let config: JobFile = toml::from_str(job).unwrap();
        // The transforms are written in an order where inputs come first.
        let order: Vec<String> = config.transforms.keys().cloned().collect();
        horizon(&config, &order, "in")
    }

    const HEAD: &str = "[job]\nname = \"h\"\n[sources.in]\ntype = \"file\"\npath = \"x\"\n\
                        [sources.in.event_time]\nfield = \"ts\"\n";

    #[test]
    fn a_chain_of_windows_adds_up_and_branches_take_the_longest() {
        let job = format!(
            "{HEAD}[transforms.w1]\ntype = \"window\"\ninputs = [\"in\"]\nkey = \"k\"\n\
             window = {{ type = \"tumbling\", size = \"10s\" }}\nallowed_lateness = \"2s\"\n\
             aggregates = {{ n = \"count\" }}\n\
             [transforms.w2]\ntype = \"window\"\ninputs = [\"w1\"]\nkey = \"k\"\n\
             window = {{ type = \"sliding\", size = \"1m\", slide = \"10s\" }}\n\
             aggregates = {{ n = \"count\" }}\n\
             [transforms.m]\ntype = \"map\"\ninputs = [\"in\"]\nfields = {{ x = \"1\" }}\n\
             [sinks.a]\ntype = \"stdout\"\ninputs = [\"w2\", \"m\"]\n"
        );
        assert_eq!(horizons(&job), Horizon::Bounded(12_000 + 60_000));
    }

    #[test]
    fn maps_are_stateless_and_sessions_unbounded() {
        let map = format!(
            "{HEAD}[transforms.m]\ntype = \"map\"\ninputs = [\"in\"]\nfields = {{ x = \"1\" }}\n\
             [sinks.a]\ntype = \"stdout\"\ninputs = [\"m\"]\n"
        );
        assert_eq!(horizons(&map), Horizon::Stateless);
        let session = format!(
            "{HEAD}[transforms.s]\ntype = \"window\"\ninputs = [\"in\"]\nkey = \"k\"\n\
             window = {{ type = \"session\", gap = \"5s\" }}\naggregates = {{ n = \"count\" }}\n\
             [sinks.a]\ntype = \"stdout\"\ninputs = [\"s\"]\n"
        );
        assert_eq!(horizons(&session), Horizon::Unbounded);
    }
}
