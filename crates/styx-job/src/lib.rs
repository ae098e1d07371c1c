//! Styx job files: the TOML format ([`config`]) and its compiler onto the stream runtime
//! ([`compile`]).
//!
//! A job file names its sources, transforms and sinks by id; each transform and sink reads
//! the outputs named in its `inputs`. Besides the components' ids, a window transform
//! `w` offers its late events as `w.late`, a pattern transform `p` its timed-out partial
//! matches as `p.timed_out` and its late events as `p.late`, and a source or score transform with
//! `dead_letter = "x"` offers the records it could not read or score as `x`. Paths are relative to the job file's folder.
//!
//! [`Job::load`] reads and checks the whole file, reporting every problem with the key it
//! concerns; [`Job::run`] runs it until its sources end.

pub mod aggregate;
mod baseline;
pub mod checkpointing;
pub mod compile;
pub mod config;
pub mod connectors;
pub mod control;
pub mod duration;
mod enrich;
pub mod error;
mod exactly_once;
pub mod expr;
mod failures;
mod group;
mod live;
mod lookup;
pub mod metrics;
pub mod notify;
mod pattern;
pub mod score;
pub mod store;

pub use compile::{Job, RunOptions};
pub use error::JobError;
