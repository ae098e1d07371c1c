//! `styx demo [NAME]`: a use case end to end on embedded defaults: its generator, its
//! store set up on the fly, its job from `examples/NAME/`, its notifications; or, with
//! `--notifications FILE`, measured against the incidents the generator planted.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use serde_json::Value;
use styx_generate::{Report, UseCase};
use styx_job::config::GeneratorSourceConfig;
use styx_job::connectors::GeneratorSettings;
use styx_job::metrics::JobMetrics;
use styx_job::{Job, RunOptions};
use styx_runtime::source::StopHandle;
use toml::{Table, Value as Toml};

use crate::run::Ticker;

/// The sink every example job sends its notifications to.
const NOTIFICATIONS: &str = "notifications";

/// Arguments of `styx demo`.
#[derive(clap::Args)]
pub struct Args {
    /// The use case: trends, fraud, stuck-form, heart, traffic, iot, combos or
    /// low-balance.
    #[arg(default_value = "fraud")]
    name: UseCase,
    /// The generator's seed: the same seed gives the same events and incidents.
    #[arg(long)]
    seed: Option<u64>,
    /// How many events to generate (default: without end when printing, else a few
    /// dozen incidents' worth).
    #[arg(long)]
    events: Option<u64>,
    /// Write the planted incidents here, one JSON object per line.
    #[arg(long, value_name = "FILE")]
    truth: Option<PathBuf>,
    /// Write the notifications here as NDJSON, generating events as fast as the job
    /// takes them, and end when the events are exhausted. Also `http://...` (POSTed to a
    /// webhook, with retries) or `kafka://BROKERS/TOPIC` (written to a Kafka topic).
    #[arg(long, value_name = "FILE|URL")]
    notifications: Option<String>,
    /// The store to set up and use (default: a fresh embedded one).
    #[arg(long, value_name = "URL")]
    store: Option<String>,
    /// Write the output of this component instead of the notifications (to see what a
    /// stage of the job makes, for example the events a model judges).
    #[arg(long, value_name = "ID", requires = "notifications")]
    tap: Option<String>,
}

/// Sets the use case up and runs it.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let use_case = args.name;
    let dir = example_dir(use_case)?;
    let job_path = dir.join("job.toml");
    let measured = args.notifications.is_some();
    let events = args
        .events
        .or((measured || args.truth.is_some()).then(|| use_case.default_events()));

    let _fresh;
    let store = match &args.store {
        Some(url) => url.clone(),
        None => {
            let tmp = tempfile::Builder::new().prefix("styx-demo-").tempdir()?;
            let url = format!("sqlite:{}", tmp.path().join("styx.db").display());
            _fresh = tmp;
            url
        }
    };
    set_up_store(&dir, &store)?;

    let text = std::fs::read_to_string(&job_path)
        .with_context(|| format!("reading {}", job_path.display()))?;
    let mut table: Table = toml::from_str(&text)
        .with_context(|| format!("{}: not a TOML job file", job_path.display()))?;
    let sink = match &args.notifications {
        Some(to) => Sink::parse(to)?,
        None => Sink::Stdout,
    };
    let generator = rewrite(
        &mut table,
        &Rewrite {
            seed: args.seed,
            events,
            paced: !measured,
            store: &store,
            sink: &sink,
            tap: args.tap.as_deref(),
        },
    )
    .with_context(|| job_path.display().to_string())?;

    if let Some(path) = &args.truth {
        write_truth(use_case, &generator, path)?;
    }

    let job = Job::parse(&job_path, &toml::to_string(&table)?)?;
    let stop = StopHandle::new();
    crate::run::stop_on_signals(&stop)?;
    let metrics = JobMetrics::new();
    let summary = summary(use_case, metrics.clone(), !measured);
    let began = Instant::now();
    let result = job.run(&RunOptions {
        parallelism: None,
        from_savepoint: None,
        stop: Some(stop),
        metrics: Some(metrics.clone()),
    });
    summary.finish();
    result?;
    let totals = metrics.totals();
    eprintln!(
        "styx demo {use_case}: {} events, {} notifications in {:.1} s",
        totals.read,
        totals.written,
        began.elapsed().as_secs_f64()
    );
    if let (Some(truth), Sink::File(notifications)) = (&args.truth, &sink) {
        if args.tap.is_none() {
            let report = Report::new(&read_lines(truth)?, &read_lines(notifications)?);
            eprintln!("styx demo {use_case}: {report}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The folder of the use case in `examples/`: under `$STYX_EXAMPLES`, the working
/// directory, the binary's checkout, or the checkout it was built from.
fn example_dir(use_case: UseCase) -> anyhow::Result<PathBuf> {
    let mut roots: Vec<PathBuf> = Vec::new();
    if let Some(dir) = std::env::var_os("STYX_EXAMPLES") {
        roots.push(dir.into());
    }
    roots.push("examples".into());
    if let Ok(exe) = std::env::current_exe() {
        // target/<profile>/styx
        if let Some(checkout) = exe.parent().and_then(Path::parent).and_then(Path::parent) {
            roots.push(checkout.join("examples"));
        }
    }
    roots.push(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples"));
    roots
        .iter()
        .map(|r| r.join(use_case.name()))
        .find(|d| d.join("job.toml").is_file())
        .with_context(|| {
            format!(
                "no examples/{}/job.toml found (looked under {}); set STYX_EXAMPLES to the \
                 examples folder",
                use_case.name(),
                roots
                    .iter()
                    .map(|r| r.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })
}

/// Runs the use case's `store.sh`, a script of `styx` commands, against `store` with this
/// binary as `styx`.
fn set_up_store(dir: &Path, store: &str) -> anyhow::Result<()> {
    let script = std::path::absolute(dir.join("store.sh"))?;
    if !script.is_file() {
        return Ok(());
    }
    let exe = std::env::current_exe().context("cannot find the styx binary")?;
    let bin = tempfile::Builder::new().prefix("styx-bin-").tempdir()?;
    std::os::unix::fs::symlink(&exe, bin.path().join("styx"))?;
    let path = std::env::join_paths(
        std::iter::once(bin.path().to_path_buf()).chain(
            std::env::var_os("PATH")
                .iter()
                .flat_map(std::env::split_paths),
        ),
    )?;
    let out = Command::new("bash")
        .arg(&script)
        .current_dir(dir)
        .env("PATH", path)
        .env("STYX_STORE", store)
        .output()
        .with_context(|| format!("running {}", script.display()))?;
    if !out.status.success() {
        bail!(
            "{} failed ({}):\n{}{}",
            script.display(),
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}

/// Where the notifications go.
enum Sink {
    Stdout,
    File(PathBuf),
    Webhook(String),
    Kafka { brokers: String, topic: String },
}

impl Sink {
    /// A file, `http(s)://...` or `kafka://BROKERS/TOPIC`.
    fn parse(to: &str) -> anyhow::Result<Sink> {
        if to.starts_with("http://") || to.starts_with("https://") {
            return Ok(Sink::Webhook(to.to_string()));
        }
        if let Some(rest) = to.strip_prefix("kafka://") {
            let (brokers, topic) = rest
                .rsplit_once('/')
                .filter(|(b, t)| !b.is_empty() && !t.is_empty())
                .context("--notifications: expected kafka://BROKERS/TOPIC")?;
            return Ok(Sink::Kafka {
                brokers: brokers.to_string(),
                topic: topic.to_string(),
            });
        }
        let path = Path::new(to);
        Ok(Sink::File(
            std::path::absolute(path).with_context(|| path.display().to_string())?,
        ))
    }
}

/// How the demo changes the example's job file.
struct Rewrite<'a> {
    seed: Option<u64>,
    events: Option<u64>,
    /// Events paced at the job file's `rate`, event time from the wall clock; else as
    /// fast as the job takes them.
    paced: bool,
    store: &'a str,
    sink: &'a Sink,
    tap: Option<&'a str>,
}

/// Rewrites the job: its generator source as asked, its store, its notification sink;
/// the generator's settings.
fn rewrite(job: &mut Table, how: &Rewrite) -> anyhow::Result<GeneratorSettings> {
    let sources = job
        .get_mut("sources")
        .and_then(Toml::as_table_mut)
        .context("the job has no [sources]")?;
    let mut generators = sources
        .iter_mut()
        .filter(|(_, s)| s.get("type").and_then(Toml::as_str) == Some("generator"));
    let (id, source) = generators
        .next()
        .context("the job has no generator source")?;
    let source = source.as_table_mut().context("a source is a table")?;
    if let Some(seed) = how.seed {
        source.insert("seed".into(), Toml::Integer(seed as i64));
    }
    if let Some(n) = how.events {
        source.insert("count".into(), Toml::Integer(n as i64));
        // Every incident in the events is whole: none is cut short by their end.
        source.insert("whole_incidents".into(), Toml::Boolean(true));
    }
    if how.paced {
        let now = styx_runtime::time::now_ms();
        source.insert("start".into(), Toml::Integer(now));
    } else if let Some(rate) = source.remove("rate") {
        source.entry("event_rate").or_insert(rate);
    }
    let mut settings_table = source.clone();
    settings_table.remove("type");
    let config: GeneratorSourceConfig = Toml::Table(settings_table)
        .try_into()
        .with_context(|| format!("sources.{id}"))?;
    let settings =
        GeneratorSettings::of(&config).map_err(|e| anyhow::anyhow!("sources.{id}.{e}"))?;

    let mut store = Table::new();
    store.insert("url".into(), Toml::String(how.store.into()));
    if let Some(Toml::Table(old)) = job.get("store") {
        store.extend(
            old.iter()
                .filter(|(k, _)| *k != "url")
                .map(|(k, v)| (k.clone(), v.clone())),
        );
    }
    job.insert("store".into(), Toml::Table(store));

    let sinks = job
        .get_mut("sinks")
        .and_then(Toml::as_table_mut)
        .context("the job has no [sinks]")?;
    let inputs = match how.tap {
        Some(tap) => Toml::Array(vec![Toml::String(tap.into())]),
        None => sinks
            .get(NOTIFICATIONS)
            .and_then(|s| s.get("inputs"))
            .cloned()
            .with_context(|| format!("the job has no [sinks.{NOTIFICATIONS}] with inputs"))?,
    };
    let mut sink = Table::new();
    let mut set = |key: &str, value: &str| {
        sink.insert(key.into(), Toml::String(value.into()));
    };
    match how.sink {
        Sink::Stdout => set("type", "stdout"),
        Sink::File(path) => {
            set("type", "file");
            set("path", &path.display().to_string());
        }
        Sink::Webhook(url) => {
            set("type", "webhook");
            set("url", url);
        }
        Sink::Kafka { brokers, topic } => {
            set("type", "kafka");
            set("brokers", brokers);
            set("topic", topic);
            set("key", "key");
        }
    }
    sink.insert("inputs".into(), inputs);
    sinks.clear();
    sinks.insert(NOTIFICATIONS.into(), Toml::Table(sink));
    if let Some(tap) = how.tap {
        keep_upstream_of(job, tap)?;
    }
    Ok(settings)
}

/// Drops the transforms that `tap` does not read from, directly or not.
fn keep_upstream_of(job: &mut Table, tap: &str) -> anyhow::Result<()> {
    let Some(Toml::Table(transforms)) = job.get_mut("transforms") else {
        bail!("--tap {tap}: the job has no transforms");
    };
    let base = |id: &str| -> String {
        // `w.late`, `p.timed_out` and dead letters name outputs of other components.
        id.split('.').next().unwrap_or(id).to_string()
    };
    let mut keep = std::collections::BTreeSet::new();
    let mut todo = vec![base(tap)];
    while let Some(id) = todo.pop() {
        if !keep.insert(id.clone()) {
            continue;
        }
        if let Some(inputs) = transforms
            .get(&id)
            .and_then(|t| t.get("inputs"))
            .and_then(Toml::as_array)
        {
            todo.extend(inputs.iter().filter_map(Toml::as_str).map(base));
        }
    }
    transforms.retain(|id, _| keep.contains(id));
    Ok(())
}

/// Writes the incidents planted in the events of `generator` (which ends).
fn write_truth(
    use_case: UseCase,
    generator: &GeneratorSettings,
    path: &Path,
) -> anyhow::Result<()> {
    let mut g = generator.generator();
    for _ in g.by_ref() {}
    let mut out = std::io::BufWriter::new(
        std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?,
    );
    for incident in g.incidents() {
        serde_json::to_writer(&mut out, &use_case.truth(incident))?;
        out.write_all(b"\n")?;
    }
    out.flush()
        .with_context(|| format!("writing {}", path.display()))
}

/// The JSON objects of an NDJSON file.
fn read_lines(path: &Path) -> anyhow::Result<Vec<Value>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .enumerate()
        .map(|(i, l)| {
            serde_json::from_str(l).with_context(|| format!("{}:{}", path.display(), i + 1))
        })
        .collect()
}

/// A line on standard error every few seconds while the demo runs: events, notifications,
/// event time.
fn summary(use_case: UseCase, metrics: Arc<JobMetrics>, live: bool) -> Ticker {
    let every = if live {
        Duration::from_secs(5)
    } else {
        Duration::from_secs(10)
    };
    Ticker::start("demo-summary", every, move |finished| {
        if finished {
            return;
        }
        let t = metrics.totals();
        let time = t.watermark.filter(|w| *w > 0).map_or("-".into(), |w| {
            let s = (w / 1000) % 86_400;
            format!("{:02}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
        });
        eprintln!(
            "styx demo {use_case}: {} events, {} notifications, event time {time} UTC",
            t.read, t.written
        );
    })
}
