//! Stopping a job whose sources never end: by request, or once they have been idle.

use std::time::Duration;

use styx_runtime::error::BoxError;
use styx_runtime::prelude::*;
use styx_runtime::source::StopHandle;

/// Produces `count` records, then waits for more that never come.
struct Endless {
    next: i64,
    count: i64,
    finished: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl Source<(i64, i64)> for Endless {
    fn poll(&mut self, out: &mut Vec<(i64, i64)>, max: usize) -> Result<Poll, BoxError> {
        if self.next >= self.count {
            std::thread::sleep(Duration::from_millis(10));
            return Ok(Poll::Idle);
        }
        while self.next < self.count && out.len() < max {
            out.push((self.next % 2, self.next * 100));
            self.next += 1;
        }
        Ok(Poll::Ready)
    }

    fn finish(&mut self) -> Result<(), BoxError> {
        self.finished
            .store(true, std::sync::atomic::Ordering::SeqCst);
        Ok(())
    }
}

fn endless_job(
    env: &Environment,
) -> (
    Collected<(i64, i64, u64)>,
    std::sync::Arc<std::sync::atomic::AtomicBool>,
) {
    let finished = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = finished.clone();
    let counts = env
        .source("endless", 2, move |_, _| {
            Ok(Box::new(Endless {
                next: 0,
                count: 50,
                finished: flag.clone(),
            }) as Box<dyn Source<(i64, i64)>>)
        })
        .assign_timestamps_and_watermarks(
            WatermarkStrategy::bounded_out_of_orderness(Duration::ZERO, |e: &(i64, i64)| e.1)
                .with_emission(Emission::PerEvent),
        )
        .key_by(|e| e.0)
        .window(WindowAssigner::tumbling(Duration::from_secs(1)))
        .aggregate(Count, |key, window, n| (*key, window.start, n))
        .results
        .collect();
    (counts, finished)
}

use styx_runtime::stream::Collected;

#[test]
fn an_idle_job_stops_and_fires_its_open_windows() {
    let env = Environment::new(2);
    let (counts, finished) = endless_job(&env);
    env.stop_handle().stop_when_idle(Duration::from_millis(300));
    env.execute().unwrap();
    let results = counts.take();
    // Two instances of 50 records each: 100 records, all counted, the last windows too.
    assert_eq!(results.iter().map(|r| r.2).sum::<u64>(), 100);
    assert!(results.iter().any(|r| r.1 == 4000), "{results:?}");
    assert!(finished.load(std::sync::atomic::Ordering::SeqCst));
}

#[test]
fn a_stop_request_ends_the_job_cleanly() {
    let env = Environment::new(1);
    let stop = StopHandle::new();
    env.set_stop_handle(stop.clone());
    let (counts, _) = endless_job(&env);
    let stopper = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        stop.stop();
    });
    env.execute().unwrap();
    stopper.join().unwrap();
    assert_eq!(counts.take().iter().map(|r| r.2).sum::<u64>(), 100);
}
