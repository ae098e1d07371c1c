//! `styx generate KIND`: writes a realistic event stream as NDJSON to standard output,
//! a file, or a Kafka topic.

use std::fs::File;
use std::io::{self, BufWriter, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context};
use indicatif::{ProgressBar, ProgressState, ProgressStyle};
use styx_generate::{Event, Generator, Kind, UseCase, DEFAULT_RATE, DEFAULT_START_MS};
use styx_kafka::{Delivery, Format, KafkaProducer, KafkaSinkConfig};

/// Arguments of `styx generate`.
#[derive(clap::Args)]
pub struct Args {
    /// What to generate: payments, tweets, clicks, games, vitals, traffic, machines or
    /// transactions; or the events of a use case (fraud, trends, stuck-form, heart,
    /// traffic, iot, combos, low-balance).
    kind: String,
    /// How many events (default: without end).
    #[arg(long, short = 'n')]
    count: Option<u64>,
    /// Events per second of wall-clock time (default: as fast as possible).
    #[arg(long)]
    rate: Option<f64>,
    /// Events per second of event time (default: --rate, else 1000).
    #[arg(long)]
    event_rate: Option<f64>,
    /// The random seed: the same seed gives the same events.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// The first event's time: epoch milliseconds, or `now` (default: a fixed time,
    /// 1700000000000).
    #[arg(long)]
    start: Option<String>,
    /// Let about one event in ten arrive up to this late (e.g. 250ms, 2s).
    #[arg(long, value_parser = humantime::parse_duration)]
    out_of_orderness: Option<Duration>,
    /// Write to this file instead of standard output.
    #[arg(long, short = 'o', conflicts_with = "topic")]
    output: Option<PathBuf>,
    /// Write to this Kafka topic instead of standard output (keyed by the kind's key
    /// field: account, user, session, player or patient).
    #[arg(long)]
    topic: Option<String>,
    /// Kafka bootstrap servers (default: $STYX_KAFKA_BROKERS).
    #[arg(long, requires = "topic")]
    brokers: Option<String>,
    /// Create the topic first with this many partitions (an existing topic is kept).
    #[arg(long, requires = "topic")]
    partitions: Option<i32>,
    /// Also write the incidents planted in the events to this file, one JSON object per
    /// line (needs --count, and a use case's name as KIND); the incidents under way at
    /// the last event then run to their end, in a few more events.
    #[arg(long, value_name = "FILE", requires = "count")]
    truth: Option<PathBuf>,
    /// Write the kind's reference data (the rows a store table holds about its accounts,
    /// patients, roads or machines) to this file as NDJSON, instead of events.
    #[arg(long, value_name = "FILE")]
    reference: Option<PathBuf>,
    /// Show progress on standard error even when it is not a terminal.
    #[arg(long)]
    progress: bool,
}

/// Where the events go.
enum Output {
    Writer(Box<dyn Write>),
    Kafka(Box<KafkaProducer>),
}

impl Output {
    /// Writes one event. `Ok(false)`: the reader went away (a closed pipe).
    fn write(&mut self, event: &Event) -> anyhow::Result<bool> {
        match self {
            Output::Writer(w) => {
                let result = serde_json::to_writer(&mut *w, event)
                    .map_err(io::Error::from)
                    .and_then(|()| w.write_all(b"\n"));
                match result {
                    Ok(()) => Ok(true),
                    Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(false),
                    Err(e) => Err(e).context("writing events"),
                }
            }
            Output::Kafka(p) => {
                p.send(&styx_runtime::event::Event::from(event.clone()))?;
                Ok(true)
            }
        }
    }

    fn finish(&mut self) -> anyhow::Result<()> {
        match self {
            Output::Writer(w) => match w.flush() {
                Err(e) if e.kind() != io::ErrorKind::BrokenPipe => Err(e).context("writing events"),
                _ => Ok(()),
            },
            Output::Kafka(p) => {
                p.flush(Duration::from_secs(60))?;
                Ok(())
            }
        }
    }
}

/// Reports progress: a bar on a terminal, else (with `--progress`) a line a second.
enum Progress {
    Bar(ProgressBar),
    Lines { started: Instant, last: Instant },
    Quiet,
}

impl Progress {
    fn new(count: Option<u64>, forced: bool) -> Self {
        if io::stderr().is_terminal() {
            let bar = match count {
                Some(n) => {
                    let bar = ProgressBar::new(n);
                    bar.set_style(
                        ProgressStyle::with_template(
                            "{bar:40} {human_pos}/{human_len} events, {rate}, eta {eta}",
                        )
                        .map(with_rate)
                        .unwrap_or_else(|_| ProgressStyle::default_bar()),
                    );
                    bar
                }
                None => {
                    let bar = ProgressBar::new_spinner();
                    bar.set_style(
                        ProgressStyle::with_template("{spinner} {human_pos} events, {rate}")
                            .map(with_rate)
                            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                    );
                    bar
                }
            };
            Progress::Bar(bar)
        } else if forced {
            let now = Instant::now();
            Progress::Lines {
                started: now,
                last: now,
            }
        } else {
            Progress::Quiet
        }
    }

    fn update(&mut self, done: u64) {
        match self {
            Progress::Bar(bar) => {
                if done % 256 == 0 {
                    bar.set_position(done);
                }
            }
            Progress::Lines { started, last } => {
                if last.elapsed() >= Duration::from_secs(1) {
                    *last = Instant::now();
                    let rate = done as f64 / started.elapsed().as_secs_f64();
                    eprintln!("styx generate: {done} events ({rate:.0}/s)");
                }
            }
            Progress::Quiet => {}
        }
    }

    fn finish(&mut self, done: u64) {
        match self {
            Progress::Bar(bar) => {
                bar.set_position(done);
                bar.finish();
            }
            Progress::Lines { started, .. } => {
                let secs = started.elapsed().as_secs_f64();
                eprintln!(
                    "styx generate: {done} events in {secs:.1} s ({:.0}/s)",
                    done as f64 / secs.max(1e-9)
                );
            }
            Progress::Quiet => {}
        }
    }
}

/// Adds the `{rate}` key: whole events per second.
fn with_rate(style: ProgressStyle) -> ProgressStyle {
    style.with_key(
        "rate",
        |state: &ProgressState, w: &mut dyn std::fmt::Write| {
            let _ = write!(w, "{:.0}/s", state.per_sec());
        },
    )
}

fn start_ms(start: Option<&str>) -> anyhow::Result<i64> {
    match start {
        None => Ok(DEFAULT_START_MS),
        Some("now") => Ok(SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .context("the system clock is before 1970")?
            .as_millis() as i64),
        Some(ms) => ms
            .parse()
            .with_context(|| format!("--start: expected epoch milliseconds or `now`, not {ms:?}")),
    }
}

fn positive(name: &str, rate: Option<f64>) -> anyhow::Result<Option<f64>> {
    match rate {
        Some(r) if !(r.is_finite() && r > 0.0) => bail!("{name} must be a positive number"),
        other => Ok(other),
    }
}

fn open_output(args: &Args, kind: Kind) -> anyhow::Result<Output> {
    if let Some(topic) = &args.topic {
        let brokers = match &args.brokers {
            Some(b) => b.clone(),
            None => std::env::var("STYX_KAFKA_BROKERS")
                .context("--brokers is needed (or STYX_KAFKA_BROKERS) to write to a topic")?,
        };
        if let Some(partitions) = args.partitions {
            styx_kafka::admin::create_topic(&brokers, topic, partitions, Duration::from_secs(30))?;
        }
        let config = KafkaSinkConfig {
            inputs: Vec::new(),
            brokers,
            topic: topic.clone(),
            format: Format::Json,
            delivery: Delivery::AtLeastOnce,
            key: Some(kind.key_field().to_string()),
            headers: Default::default(),
            properties: Default::default(),
        };
        let producer = KafkaProducer::new(&config, None, Duration::from_secs(30))?;
        return Ok(Output::Kafka(Box::new(producer)));
    }
    let writer: Box<dyn Write> = match &args.output {
        Some(path) => {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("creating {}", dir.display()))?;
            }
            let file =
                File::create(path).with_context(|| format!("creating {}", path.display()))?;
            Box::new(BufWriter::with_capacity(1 << 16, file))
        }
        None => Box::new(BufWriter::with_capacity(1 << 16, io::stdout().lock())),
    };
    Ok(Output::Writer(writer))
}

/// A kind of events, or the kind a use case reads.
fn parse_kind(name: &str) -> anyhow::Result<Kind> {
    name.parse::<Kind>()
        .or_else(|e| name.parse::<UseCase>().map(UseCase::kind).map_err(|_| e))
        .map_err(|e| anyhow::anyhow!("{e}, or a use case: {}", use_cases()))
}

fn use_cases() -> String {
    UseCase::ALL.map(UseCase::name).join(", ")
}

/// Writes the rows of the kind's reference table.
fn write_reference(kind: Kind, path: &std::path::Path) -> anyhow::Result<ExitCode> {
    let Some((table, rows)) = styx_generate::reference(kind) else {
        bail!("{kind} events have no reference data");
    };
    let mut out =
        BufWriter::new(File::create(path).with_context(|| format!("creating {}", path.display()))?);
    for row in &rows {
        serde_json::to_writer(&mut out, row)?;
        out.write_all(b"\n")?;
    }
    out.flush()
        .with_context(|| format!("writing {}", path.display()))?;
    eprintln!(
        "styx generate: {} rows of table {table} (key column id) in {}",
        rows.len(),
        path.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// Writes the incidents planted in the events `generator` gave.
fn write_truth(
    generator: &Generator,
    kind_name: &str,
    path: &std::path::Path,
) -> anyhow::Result<()> {
    let use_case: UseCase = kind_name.parse().map_err(|_| {
        anyhow::anyhow!(
            "--truth: KIND must be a use case ({}), not {kind_name:?}",
            use_cases()
        )
    })?;
    let mut out =
        BufWriter::new(File::create(path).with_context(|| format!("creating {}", path.display()))?);
    for incident in generator.incidents() {
        serde_json::to_writer(&mut out, &use_case.truth(incident))?;
        out.write_all(b"\n")?;
    }
    out.flush()
        .with_context(|| format!("writing {}", path.display()))
}

/// Generates the events and writes them out, paced by `--rate` if given.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let kind = parse_kind(&args.kind)?;
    if let Some(path) = &args.reference {
        return write_reference(kind, path);
    }
    let rate = positive("--rate", args.rate)?;
    let event_rate = positive("--event-rate", args.event_rate)?
        .or(rate)
        .unwrap_or(DEFAULT_RATE);
    let mut generator = Generator::new(kind, args.seed)
        .start_ms(start_ms(args.start.as_deref())?)
        .events_per_second(event_rate);
    if let Some(bound) = args.out_of_orderness {
        generator = generator.max_out_of_orderness(bound);
    }
    if let Some(n) = args.count {
        generator = generator.limit(n);
        if args.truth.is_some() {
            // The truth holds only whole incidents: none is cut short by the end.
            generator = generator.whole_incidents();
        }
    }
    let mut output = open_output(&args, kind)?;
    let mut progress = Progress::new(args.count, args.progress);

    let began = Instant::now();
    let mut done: u64 = 0;
    for event in generator.by_ref() {
        if !output.write(&event)? {
            break;
        }
        done += 1;
        progress.update(done);
        if let Some(rate) = rate {
            let due = began + Duration::from_secs_f64(done as f64 / rate);
            let now = Instant::now();
            if due > now + Duration::from_millis(1) {
                if let Output::Writer(w) = &mut output {
                    // A paced stream is read as it comes: hand each event on.
                    let _ = w.flush();
                }
                std::thread::sleep(due - now);
            }
        }
    }
    output.finish()?;
    progress.finish(done);
    if let Some(path) = &args.truth {
        write_truth(&generator, &args.kind, path)?;
    }
    Ok(ExitCode::SUCCESS)
}
