//! `styx bench serve`: the model server under load. A `styx serve` is started on loopback
//! with the model deployed; concurrent clients, each on a kept-alive connection, post
//! single records (or batches) taken from a CSV file for a while; the last line gives
//! requests/s, records/s and latency percentiles, beside the evaluator's own records/s on
//! one thread.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use serde_json::{Map, Value};

/// Arguments.
#[derive(clap::Args)]
pub struct Args {
    /// The PMML document.
    #[arg(long)]
    model: PathBuf,
    /// The records to send (header row; comma, semicolon or tab separated).
    #[arg(long)]
    input: PathBuf,
    /// Concurrent clients.
    #[arg(long, default_value_t = 8)]
    clients: usize,
    /// How long the clients send.
    #[arg(long, default_value = "5s", value_parser = humantime::parse_duration)]
    duration: Duration,
    /// Records per request: 1 posts single records to `/model/{id}`, more posts batches
    /// to `/model/{id}/batch`.
    #[arg(long, default_value_t = 1)]
    batch: usize,
}

/// Runs the benchmark.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let pmml = std::fs::read(&args.model)
        .with_context(|| format!("cannot read {}", args.model.display()))?;
    let records = records(&args.input)?;
    let evaluator = evaluator_rate(&args)?;
    let store = tempfile::tempdir()?;
    let mut server = Command::new(std::env::current_exe()?)
        .args(["serve", "--listen", "127.0.0.1:0", "--base-path", "/"])
        .arg("--store")
        .arg(format!("sqlite:{}", store.path().join("styx.db").display()))
        .stdout(Stdio::piped())
        .spawn()
        .context("cannot start styx serve")?;
    let result = (|| {
        let mut line = String::new();
        BufReader::new(server.stdout.as_mut().context("the server's output")?)
            .read_line(&mut line)?;
        let address = line
            .trim()
            .strip_prefix("listening on http://")
            .with_context(|| format!("the server did not start: {line:?}"))?
            .trim_end_matches('/')
            .to_string();
        let mut deploy = Client::connect(&address)?;
        let (status, _) = deploy.request("PUT", "/model/bench", "application/xml", &pmml)?;
        if !(200..300).contains(&status) {
            bail!("deploying the model: HTTP {status}");
        }
        load(&args, &address, &records)
    })();
    let _ = server.kill();
    let _ = server.wait();
    let (requests, sent, wall, mut latencies) = result?;
    latencies.sort_unstable();
    let percentile = |p: f64| -> f64 {
        if latencies.is_empty() {
            return 0.0;
        }
        let i = ((latencies.len() as f64 * p).ceil() as usize).clamp(1, latencies.len()) - 1;
        latencies[i].as_secs_f64() * 1000.0
    };
    println!(
        "{}",
        serde_json::json!({
            "clients": args.clients,
            "batch": args.batch,
            "requests": requests,
            "records": sent,
            "wall_s": wall,
            "requests_per_s": requests as f64 / wall,
            "records_per_s": sent as f64 / wall,
            "p50_ms": percentile(0.50),
            "p99_ms": percentile(0.99),
            "evaluator_records_per_s": evaluator,
        })
    );
    Ok(ExitCode::SUCCESS)
}

/// The rows of the CSV file as argument maps.
fn records(input: &PathBuf) -> anyhow::Result<Vec<Map<String, Value>>> {
    let text = std::fs::read_to_string(input)
        .with_context(|| format!("cannot read {}", input.display()))?;
    let delimiter = styx_pmml::detect_delimiter(text.as_bytes()) as char;
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let header: Vec<&str> = lines
        .next()
        .context("no header")?
        .split(delimiter)
        .collect();
    let rows: Vec<Map<String, Value>> = lines
        .map(|l| {
            header
                .iter()
                .zip(l.split(delimiter))
                .filter(|(_, v)| !v.is_empty())
                .map(|(k, v)| (k.to_string(), Value::String(v.to_string())))
                .collect()
        })
        .collect();
    if rows.is_empty() {
        bail!("{} has no data rows", input.display());
    }
    Ok(rows)
}

/// The evaluator's own records/s on one thread, for comparison.
fn evaluator_rate(args: &Args) -> anyhow::Result<f64> {
    let model = styx_pmml::Model::from_path(&args.model)?;
    let rows = styx_pmml::rows_from_csv(&model, std::fs::File::open(&args.input)?)?;
    let mut scratch = model.scratch();
    let n = 200_000;
    let start = Instant::now();
    for i in 0..n {
        let _ = model.evaluate(&rows[i % rows.len()], &mut scratch);
    }
    Ok(n as f64 / start.elapsed().as_secs_f64())
}

type Load = (u64, u64, f64, Vec<Duration>);

/// Runs the clients; the requests answered, the records they held, the wall time and
/// every latency.
fn load(args: &Args, address: &str, records: &[Map<String, Value>]) -> anyhow::Result<Load> {
    let bodies: Vec<(Vec<u8>, u64)> = records
        .chunks(args.batch.max(1))
        .map(|chunk| {
            let requests: Vec<Value> = chunk
                .iter()
                .map(|r| serde_json::json!({ "arguments": r }))
                .collect();
            let body = if args.batch > 1 {
                serde_json::json!({ "requests": requests })
                    .to_string()
                    .into_bytes()
            } else {
                requests[0].to_string().into_bytes()
            };
            (body, chunk.len() as u64)
        })
        .collect();
    let path = if args.batch > 1 {
        "/model/bench/batch"
    } else {
        "/model/bench"
    };
    let start = Instant::now();
    let deadline = start + args.duration;
    let results: Vec<anyhow::Result<(u64, u64, Vec<Duration>)>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..args.clients.max(1))
            .map(|c| {
                let bodies = &bodies;
                scope.spawn(move || -> anyhow::Result<(u64, u64, Vec<Duration>)> {
                    let mut client = Client::connect(address)?;
                    let mut latencies = Vec::new();
                    let mut records = 0;
                    let mut i = c;
                    while Instant::now() < deadline {
                        let sent = Instant::now();
                        let (body, n) = &bodies[i % bodies.len()];
                        let (status, _) = client.request("POST", path, "application/json", body)?;
                        records += n;
                        if status != 200 {
                            bail!("HTTP {status}");
                        }
                        latencies.push(sent.elapsed());
                        i += 1;
                    }
                    Ok((latencies.len() as u64, records, latencies))
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(anyhow::anyhow!("a client panicked")))
            })
            .collect()
    });
    let wall = start.elapsed().as_secs_f64();
    let (mut requests, mut records) = (0, 0);
    let mut latencies = Vec::new();
    for r in results {
        let (n, m, l) = r?;
        requests += n;
        records += m;
        latencies.extend(l);
    }
    Ok((requests, records, wall, latencies))
}

/// An HTTP/1.1 client on one kept-alive connection.
struct Client {
    stream: BufReader<TcpStream>,
    host: String,
}

impl Client {
    fn connect(address: &str) -> anyhow::Result<Client> {
        let stream = TcpStream::connect(address)?;
        stream.set_nodelay(true)?;
        Ok(Client {
            stream: BufReader::new(stream),
            host: address.to_string(),
        })
    }

    /// Sends a request, reads the answer; its status and body.
    fn request(
        &mut self,
        method: &str,
        path: &str,
        content_type: &str,
        body: &[u8],
    ) -> anyhow::Result<(u16, Vec<u8>)> {
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: {content_type}\r\n\
             Content-Length: {}\r\n\r\n",
            self.host,
            body.len()
        );
        let stream = self.stream.get_mut();
        stream.write_all(head.as_bytes())?;
        stream.write_all(body)?;
        let mut line = String::new();
        self.stream.read_line(&mut line)?;
        let status: u16 = line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .with_context(|| format!("not an HTTP answer: {line:?}"))?;
        let mut length = 0usize;
        loop {
            line.clear();
            self.stream.read_line(&mut line)?;
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            if let Some((k, v)) = l.split_once(':') {
                if k.eq_ignore_ascii_case("content-length") {
                    length = v.trim().parse().unwrap_or(0);
                }
            }
        }
        let mut answer = vec![0; length];
        self.stream.read_exact(&mut answer)?;
        Ok((status, answer))
    }
}
