//! Kafka sources and sinks for the Styx runtime, built on rdkafka (librdkafka).
//!
//! - [`config`]: the job-file tables of Kafka sources and sinks, and the librdkafka
//!   configuration they make;
//! - [`consumer`]: source instances' consumers, members of a consumer group, with a
//!   rebalance-aware context and starting offsets;
//! - [`decode`]: records to JSON events, or to dead letters with the reason;
//! - [`producer`]: sink instances' producers, at least once or in transactions;
//! - [`source`]: the runtime's Kafka source (partitions over the group, watermarks per
//!   partition, dead letters, offsets committed at least once);
//! - [`sink`]: the runtime's Kafka sink (JSON records, keys, headers, at least once);
//! - [`exactly_once`]: the transactional sink and the protocol of exactly-once jobs;
//! - [`group`]: one membership of a consumer group per process, and held-back commits;
//! - [`admin`]: topic creation.

pub mod admin;
pub mod config;
pub mod consumer;
pub mod decode;
pub mod error;
pub mod exactly_once;
pub mod group;
pub mod producer;
pub mod sink;
pub mod source;

pub use config::{
    Delivery, Format, KafkaSinkConfig, KafkaSourceConfig, PropertyValue, StartOffset,
};
pub use consumer::{
    ConsumerLag, GroupContext, KafkaConsumer, Partition, Polled, RebalanceEvent, RevokeHandler,
    StartPositions,
};
pub use decode::{DeadLetter, Decoder, Event, RecordView};
pub use error::{Error, Result};
pub use exactly_once::{TransactionLink, TransactionalSink};
pub use producer::{DeliveryContext, KafkaProducer};
pub use sink::KafkaSink;
pub use source::{CommitPolicy, KafkaSource, SharedStarts, SourceOptions};
