//! Aggregate functions: incremental aggregation of a window's records.

use crate::checkpoint::StateValue;

/// Folds records into an accumulator, merges accumulators (of slices or merged sessions),
/// and turns an accumulator into a result: Flink's `AggregateFunction`.
pub trait AggregateFunction<In>: Send + Sync + 'static {
    /// The running state of one window and key (saved in checkpoints).
    type Acc: StateValue;
    /// The result of a window.
    type Out;
    /// An empty accumulator.
    fn create(&self) -> Self::Acc;
    /// Adds one record.
    fn add(&self, acc: &mut Self::Acc, input: &In);
    /// Adds everything `other` holds.
    fn merge(&self, acc: &mut Self::Acc, other: &Self::Acc);
    /// The result.
    fn result(&self, acc: &Self::Acc) -> Self::Out;
}

/// Counts records.
#[derive(Debug, Clone, Copy, Default)]
pub struct Count;

impl<In> AggregateFunction<In> for Count {
    type Acc = u64;
    type Out = u64;
    fn create(&self) -> u64 {
        0
    }
    fn add(&self, acc: &mut u64, _: &In) {
        *acc += 1;
    }
    fn merge(&self, acc: &mut u64, other: &u64) {
        *acc += *other;
    }
    fn result(&self, acc: &u64) -> u64 {
        *acc
    }
}

/// Keeps every record: the accumulator of full-window functions.
#[derive(Debug, Clone, Copy, Default)]
pub struct CollectAll;

impl<In: StateValue> AggregateFunction<In> for CollectAll {
    type Acc = Vec<In>;
    type Out = Vec<In>;
    fn create(&self) -> Vec<In> {
        Vec::new()
    }
    fn add(&self, acc: &mut Vec<In>, input: &In) {
        acc.push(input.clone());
    }
    fn merge(&self, acc: &mut Vec<In>, other: &Vec<In>) {
        acc.extend(other.iter().cloned());
    }
    fn result(&self, acc: &Vec<In>) -> Vec<In> {
        acc.clone()
    }
}
