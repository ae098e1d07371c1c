//! `GET /metrics`: the server's requests, their durations, the records scored and the
//! models deployed, in the Prometheus (OpenMetrics) text format.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::extract::Request;
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;

use crate::jobs::Jobs;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    endpoint: &'static str,
    code: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EndpointLabels {
    endpoint: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RecordLabels {
    model: String,
    outcome: &'static str,
}

/// The server's metrics.
pub(crate) struct Metrics {
    registry: Mutex<Registry>,
    requests: Family<RequestLabels, Counter>,
    durations: Family<EndpointLabels, Histogram>,
    records: Family<RecordLabels, Counter>,
    deployed: Gauge,
}

/// The metrics of the server's jobs, read from their meters at every scrape.
#[derive(Debug)]
struct JobsCollector {
    jobs: Arc<Jobs>,
}

impl std::fmt::Debug for Jobs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Jobs").finish_non_exhaustive()
    }
}

/// One metric family: name, help, type, and its samples with their labels.
type Samples = (
    &'static str,
    &'static str,
    MetricType,
    Vec<(Vec<(&'static str, String)>, Sample)>,
);

/// One value of a family.
enum Sample {
    Count(u64),
    Gauge(f64),
    /// A counter of seconds.
    Seconds(f64),
}

impl Collector for JobsCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        // The families, in the order of the exposition; the constants below index them.
        let mut families: Vec<Samples> = [
            (
                "styx_records_in",
                "Records that came into an operator",
                MetricType::Counter,
            ),
            (
                "styx_records_out",
                "Records an operator handed on to its main output",
                MetricType::Counter,
            ),
            (
                "styx_records_dropped",
                "Records an operator dropped, by reason (dead_letter, late, failed)",
                MetricType::Counter,
            ),
            (
                "styx_watermark_ms",
                "The watermark of an operator's output (a sink's input), epoch milliseconds",
                MetricType::Gauge,
            ),
            (
                "styx_input_blocked_seconds",
                "Backpressure: time the instances feeding an operator waited for room in its input",
                MetricType::Counter,
            ),
            (
                "styx_checkpoints",
                "Checkpoints and savepoints completed",
                MetricType::Counter,
            ),
            (
                "styx_checkpoint_duration_seconds",
                "How long the last completed checkpoint took",
                MetricType::Gauge,
            ),
            (
                "styx_checkpoint_size_bytes",
                "The state the last completed checkpoint wrote",
                MetricType::Gauge,
            ),
            (
                "styx_job_running",
                "Whether a job is running (1) or has ended (0)",
                MetricType::Gauge,
            ),
            (
                "styx_store_version",
                "The version of a stored model or pattern a transform uses now",
                MetricType::Gauge,
            ),
            (
                "styx_kafka_consumer_lag",
                "Records of a partition beyond the position of the Kafka source reading it",
                MetricType::Gauge,
            ),
            (
                "styx_lookups",
                "Keys a lookup transform looked up",
                MetricType::Counter,
            ),
            (
                "styx_lookup_store_reads",
                "Keys a lookup transform read from the store (the others were cache hits)",
                MetricType::Counter,
            ),
            (
                "styx_scoring_sampled",
                "Events whose scoring was timed (one in 64)",
                MetricType::Counter,
            ),
            (
                "styx_watermark_lag_ms",
                "How far an operator's watermark is behind the newest event time it has seen",
                MetricType::Gauge,
            ),
            (
                "styx_scoring_sampled_seconds",
                "The time the timed events' scoring took: divided by styx_scoring_sampled_total, the mean latency",
                MetricType::Counter,
            ),
        ]
        .into_iter()
        .map(|(name, help, kind)| (name, help, kind, Vec::new()))
        .collect();
        // Each family by its name, so that the order above can change freely.
        let at = |name: &str| {
            families
                .iter()
                .position(|f| f.0 == name)
                .unwrap_or_else(|| unreachable!("the family {name} is listed above"))
        };
        let [records_in, records_out, dropped, watermark, blocked, checkpoints, checkpoint_duration, checkpoint_size, running_family, store_version, consumer_lag, watermark_lag] =
            [
                "styx_records_in",
                "styx_records_out",
                "styx_records_dropped",
                "styx_watermark_ms",
                "styx_input_blocked_seconds",
                "styx_checkpoints",
                "styx_checkpoint_duration_seconds",
                "styx_checkpoint_size_bytes",
                "styx_job_running",
                "styx_store_version",
                "styx_kafka_consumer_lag",
                "styx_watermark_lag_ms",
            ]
            .map(at);
        // Counters of operators, by the names of `styx_job::metrics::counter`.
        let counted = [
            ("lookups", at("styx_lookups"), 1.0),
            ("store_reads", at("styx_lookup_store_reads"), 1.0),
            ("timed", at("styx_scoring_sampled"), 1.0),
            ("timed_nanos", at("styx_scoring_sampled_seconds"), 1e-9),
        ];
        for job in self.jobs.all() {
            let base = || vec![("job", job.name.clone()), ("job_id", job.id.clone())];
            let running = job.state() == crate::jobs::JobState::Running;
            families[running_family]
                .3
                .push((base(), Sample::Gauge(if running { 1.0 } else { 0.0 })));
            for o in job.metrics.operators() {
                let labels = || {
                    let mut l = base();
                    l.push(("operator", o.id.clone()));
                    l
                };
                families[records_in]
                    .3
                    .push((labels(), Sample::Count(o.records_in)));
                families[records_out]
                    .3
                    .push((labels(), Sample::Count(o.records_out)));
                for (reason, n) in &o.dropped {
                    let mut l = labels();
                    l.push(("reason", reason.clone()));
                    families[dropped].3.push((l, Sample::Count(*n)));
                }
                if o.kind != "source" {
                    families[blocked]
                        .3
                        .push((labels(), Sample::Seconds(o.input_blocked.as_secs_f64())));
                }
                for (name, family, scale) in counted {
                    if let Some(&n) = o.counters.get(name) {
                        let value = if scale == 1.0 {
                            Sample::Count(n)
                        } else {
                            Sample::Seconds(n as f64 * scale)
                        };
                        families[family].3.push((labels(), value));
                    }
                }
                for (topic, partition, lag) in &o.lag {
                    let mut l = labels();
                    l.push(("topic", topic.clone()));
                    l.push(("partition", partition.to_string()));
                    families[consumer_lag]
                        .3
                        .push((l, Sample::Gauge(*lag as f64)));
                }
                if let Some(lag) = o.watermark_lag() {
                    families[watermark_lag]
                        .3
                        .push((labels(), Sample::Gauge(lag as f64)));
                }
                if let Some(w) = o.watermark.filter(|w| *w < i64::MAX) {
                    families[watermark]
                        .3
                        .push((labels(), Sample::Gauge(w as f64)));
                }
            }
            for (key, value) in job.metrics.store() {
                let Some(version) = value.as_f64() else {
                    continue;
                };
                // transforms.ID.model_version, transforms.ID.pattern_version
                let Some((op, what)) = key
                    .strip_prefix("transforms.")
                    .and_then(|k| k.rsplit_once('.'))
                else {
                    continue;
                };
                let mut l = base();
                l.push(("operator", op.to_string()));
                l.push(("item", what.trim_end_matches("_version").to_string()));
                families[store_version].3.push((l, Sample::Gauge(version)));
            }
            let c = job.metrics.checkpoints();
            families[checkpoints]
                .3
                .push((base(), Sample::Count(c.completed)));
            if c.completed > 0 {
                families[checkpoint_duration]
                    .3
                    .push((base(), Sample::Gauge(c.last_duration.as_secs_f64())));
                families[checkpoint_size]
                    .3
                    .push((base(), Sample::Gauge(c.last_bytes as f64)));
            }
        }
        for (name, help, kind, values) in families {
            if values.is_empty() {
                continue;
            }
            let mut metric = encoder.encode_descriptor(name, help, None, kind)?;
            for (labels, value) in values {
                let family = metric.encode_family(&labels)?;
                match value {
                    Sample::Count(n) => ConstCounter::new(n).encode(family)?,
                    Sample::Gauge(g) => ConstGauge::new(g).encode(family)?,
                    Sample::Seconds(s) => ConstCounter::new(s).encode(family)?,
                }
            }
        }
        Ok(())
    }
}

impl Metrics {
    /// The server's metrics, with those of `jobs`.
    pub fn new(jobs: Arc<Jobs>) -> Metrics {
        let requests = Family::<RequestLabels, Counter>::default();
        let durations = Family::<EndpointLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.0001, 2.0, 18))
        });
        let records = Family::<RecordLabels, Counter>::default();
        let deployed = Gauge::default();
        let mut registry = Registry::default();
        registry.register(
            "styx_http_requests",
            "HTTP requests by endpoint and status code",
            requests.clone(),
        );
        registry.register(
            "styx_http_request_duration_seconds",
            "How long HTTP requests took, by endpoint",
            durations.clone(),
        );
        registry.register(
            "styx_model_records",
            "Records evaluated by model and outcome (ok or error), from every endpoint",
            records.clone(),
        );
        registry.register("styx_models_deployed", "Models deployed", deployed.clone());
        registry.register_collector(Box::new(JobsCollector { jobs }));
        Metrics {
            registry: Mutex::new(registry),
            requests,
            durations,
            records,
            deployed,
        }
    }

    /// Counts `n` records of `model` that ended as `outcome` (`ok` or `error`).
    pub fn records(&self, model: &str, outcome: &'static str, n: u64) {
        if n > 0 {
            self.records
                .get_or_create(&RecordLabels {
                    model: model.to_string(),
                    outcome,
                })
                .inc_by(n);
        }
    }

    /// The number of models deployed now.
    pub fn deployed(&self, n: usize) {
        self.deployed.set(i64::try_from(n).unwrap_or(i64::MAX));
    }

    /// The text exposition.
    pub fn encode(&self) -> String {
        let mut text = String::new();
        let registry = self.registry.lock().unwrap_or_else(|e| e.into_inner());
        let _ = prometheus_client::encoding::text::encode(&mut text, &registry);
        text
    }

    fn observe(&self, endpoint: &'static str, code: u16, seconds: f64) {
        self.requests
            .get_or_create(&RequestLabels { endpoint, code })
            .inc();
        self.durations
            .get_or_create(&EndpointLabels { endpoint })
            .observe(seconds);
    }
}

/// The endpoint a request is for, by its method and path (`base` is the API's base path).
fn endpoint(method: &Method, path: &str, base: &str) -> &'static str {
    if path == "/metrics" {
        return "metrics";
    }
    let api = if base == "/" {
        Some(path)
    } else {
        path.strip_prefix(base)
    };
    let segments: Vec<&str> = api
        .unwrap_or_default()
        .trim_start_matches('/')
        .split('/')
        .collect();
    match (method, segments.as_slice()) {
        (&Method::GET, ["model"]) => "list",
        (&Method::PUT, ["model", _]) => "deploy",
        (&Method::GET, ["model", _]) => "query",
        (&Method::DELETE, ["model", _]) => "undeploy",
        (&Method::POST, ["model", _]) => "evaluate",
        (&Method::GET, ["model", _, "pmml"]) => "download",
        (&Method::POST, ["model", _, "batch"]) => "batch",
        (&Method::POST, ["model", _, "csv"]) => "csv",
        (&Method::POST, ["model", _, "jsonl"]) => "jsonl",
        _ => "other",
    }
}

/// Counts and times every request.
pub(crate) async fn measure(
    axum::extract::State(state): axum::extract::State<std::sync::Arc<crate::api::State>>,
    request: Request,
    next: Next,
) -> Response {
    let endpoint = endpoint(request.method(), request.uri().path(), &state.base);
    let started = Instant::now();
    let response = next.run(request).await;
    state.metrics.observe(
        endpoint,
        response.status().as_u16(),
        started.elapsed().as_secs_f64(),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_endpoints() {
        let base = "/openscoring";
        assert_eq!(endpoint(&Method::GET, "/openscoring/model", base), "list");
        assert_eq!(
            endpoint(&Method::PUT, "/openscoring/model/x", base),
            "deploy"
        );
        assert_eq!(
            endpoint(&Method::POST, "/openscoring/model/x/csv", base),
            "csv"
        );
        assert_eq!(endpoint(&Method::GET, "/metrics", base), "metrics");
        assert_eq!(endpoint(&Method::GET, "/elsewhere", base), "other");
        assert_eq!(endpoint(&Method::GET, "/model/x", "/"), "query");
    }
}
