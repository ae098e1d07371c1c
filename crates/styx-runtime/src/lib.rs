//! The Styx stream runtime.
//!
//! A typed DataStream API in the manner of Apache Flink's, with the same event-time
//! semantics:
//!
//! - [`stream::Environment`] builds a dataflow and runs it; [`stream::DataStream`] offers
//!   `map`, `filter`, `flat_map`, `union`, `key_by`, sinks;
//! - [`watermark::WatermarkStrategy`] assigns timestamps and bounded-out-of-orderness
//!   watermarks, per event or periodically, with idleness;
//! - [`window`] holds tumbling, sliding, session and count windows over event or
//!   processing time, with incremental aggregation, full-window functions, allowed
//!   lateness and a side output of late events;
//! - [`cep`] matches patterns of events per key, as FlinkCEP does;
//! - [`keyed`] offers keyed state and timers (Flink's `KeyedProcessFunction`);
//! - [`exchange`] moves records between operator instances in batches over bounded
//!   channels (backpressure), hash-partitioned by key group;
//! - [`state`] holds the state backends: in memory, or on disk in an embedded LSM tree;
//! - [`event`] is the dynamic record of job files: a JSON object.
//!
//! ```
//! use std::time::Duration;
//! use styx_runtime::prelude::*;
//!
//! let env = Environment::new(2);
//! let events = env.from_iter((0..100i64).map(|i| (i % 3, i * 100)));
//! let counts = events
//!     .assign_timestamps_and_watermarks(WatermarkStrategy::bounded_out_of_orderness(
//!         Duration::ZERO,
//!         |e: &(i64, i64)| e.1,
//!     ))
//!     .key_by(|e| e.0)
//!     .window(WindowAssigner::tumbling(Duration::from_secs(1)))
//!     .aggregate(Count, |key, window, n| (*key, window.start, n))
//!     .results
//!     .collect();
//! env.execute().unwrap();
//! let total: u64 = counts.take().iter().map(|r| r.2).sum();
//! assert_eq!(total, 100);
//! ```

pub mod async_io;
pub mod cep;
pub mod checkpoint;
pub mod emitter;
pub mod error;
pub mod event;
pub mod exchange;
pub mod keyed;
pub mod metrics;
pub mod operator;
pub mod sink;
pub mod source;
pub mod state;
pub mod stream;
pub mod time;
pub mod watermark;
pub mod window;

/// The names most programs need.
pub mod prelude {
    pub use crate::error::{BoxError, RuntimeError};
    pub use crate::event::Event;
    pub use crate::keyed::{KeyedContext, KeyedProcessFunction};
    pub use crate::sink::Sink;
    pub use crate::source::{Poll, Source};
    pub use crate::stream::{DataStream, Environment, FailHandle, KeyedStream};
    pub use crate::time::{TimeDomain, TimeWindow, Timestamp};
    pub use crate::watermark::{Emission, WatermarkStrategy};
    pub use crate::window::{AggregateFunction, Count, WindowAssigner, Windowed};
}
