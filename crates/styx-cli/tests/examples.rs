//! The example job of `examples/` that `styx run` runs by default, on a bounded stream of
//! its generator (the source's `rate` replaced by a `count`), and `styx bench job`. The
//! use cases of `examples/NAME/` are tested in `usecases.rs`.

mod common;

use std::path::Path;
use std::process::Command;

use common::STYX;
use serde_json::Value;

/// Runs example `name` on `count` generated events; the lines it printed, as JSON.
fn run_example(name: &str, count: u64) -> Vec<Value> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");
    let text = std::fs::read_to_string(root.join(format!("{name}.toml"))).unwrap();
    let bounded: String = text
        .lines()
        .map(|l| {
            if l.starts_with("rate = ") {
                format!("count = {count}")
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    assert_ne!(bounded, text, "{name}: the generator source has a rate");
    let work = tempfile::tempdir().unwrap();
    let job = work.path().join("job.toml");
    std::fs::write(&job, bounded).unwrap();
    let out = Command::new(STYX)
        .args(["run", job.to_str().unwrap()])
        .current_dir(work.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{name}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{name}: {e}: {l}")))
        .collect()
}

fn int(v: &Value, field: &str) -> i64 {
    v[field]
        .as_i64()
        .unwrap_or_else(|| panic!("{field} in {v}"))
}

/// The job `styx run` runs without a job file counts the words of generated tweets per
/// 10-second window and prints the busiest.
#[test]
fn trending_words_prints_the_busiest_words_per_window() {
    let counts = run_example("trending-words", 100_000);
    assert!(counts.len() >= 5, "{} counts", counts.len());
    for c in &counts {
        assert!(c["word"].is_string(), "{c}");
        assert!(int(c, "tweets") >= 100, "{c}");
        assert_eq!(int(c, "window_end") - int(c, "window_start"), 10_000, "{c}");
    }
}

/// `styx bench job` runs a job file to its end and says how many events it read, how
/// fast, with how much CPU and memory (it measures; it asserts no speed).
#[test]
fn bench_job_measures_a_job_file() {
    let work = tempfile::tempdir().unwrap();
    let lines: String = (0..1000)
        .map(|n| {
            format!(
                "{{\"key\":\"k{}\",\"ts\":{},\"value\":{n}}}\n",
                n % 7,
                n * 10
            )
        })
        .collect();
    std::fs::write(work.path().join("events.ndjson"), lines).unwrap();
    let job = work.path().join("job.toml");
    std::fs::write(
        &job,
        "[job]\nname = \"bench\"\n[sources.events]\ntype = \"file\"\npath = \"events.ndjson\"\n\
         event_time = { field = \"ts\" }\n\
         [transforms.w]\ntype = \"window\"\ninputs = [\"events\"]\nkey = \"key\"\n\
         window = { type = \"tumbling\", size = \"1s\" }\naggregates = { n = \"count\" }\n\
         [sinks.out]\ntype = \"file\"\ninputs = [\"w\"]\npath = \"out.ndjson\"\n",
    )
    .unwrap();
    let out = Command::new(STYX)
        .args(["bench", "job", job.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let last: Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    assert_eq!(last["events"], 1000, "{last}");
    for key in ["wall_s", "events_per_s", "cpu_s", "peak_rss_bytes"] {
        assert!(last[key].is_number(), "{key}: {last}");
    }
    // The job ran: every event counted once in the windows it wrote.
    let results = std::fs::read_to_string(work.path().join("out.ndjson")).unwrap();
    let counted: u64 = results
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["n"]
                .as_u64()
                .unwrap()
        })
        .sum();
    assert_eq!(counted, 1000);
}
