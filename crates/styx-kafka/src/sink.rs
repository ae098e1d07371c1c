//! The Kafka sink of the stream runtime: a [`Sink`] that writes events as JSON records.
//!
//! [`KafkaSink`] delivers at least once: records are sent asynchronously (idempotent
//! producer, `acks=all`), and every checkpoint barrier, pause of the input and the end of
//! the job wait until all of them are acknowledged. A failed delivery fails the job with
//! the sink's name and the broker's error. `delivery = "exactly_once"` (records in a
//! transaction per checkpoint) is [`crate::exactly_once::TransactionalSink`].

use std::time::Duration;

use styx_runtime::checkpoint::{no_state, Barrier, SnapshotFn};
use styx_runtime::error::BoxError;
use styx_runtime::sink::Sink;

use crate::config::{Delivery, KafkaSinkConfig};
use crate::decode::Event;
use crate::producer::KafkaProducer;

/// How long a flush waits for the brokers to acknowledge every record sent.
pub const FLUSH_TIMEOUT: Duration = Duration::from_secs(60);

/// A sink instance writing events to a topic, at least once.
pub struct KafkaSink {
    name: String,
    producer: KafkaProducer,
    /// Records not sent until the next flush, under the failpoint `kafka-sink-slow` (a
    /// broker that acknowledges only when asked to).
    held: Vec<Event>,
}

impl KafkaSink {
    /// A sink instance named `name` (in errors) writing as the sink table `config` says.
    /// Refuses `delivery = "exactly_once"`, which this sink does not offer.
    pub fn new(config: &KafkaSinkConfig, name: &str) -> crate::Result<Self> {
        if config.delivery == Delivery::ExactlyOnce {
            return Err(crate::Error::Config {
                key: "delivery".into(),
                message: "exactly_once is written by the transactional sink \
                          (styx_kafka::exactly_once); this sink delivers at least once"
                    .into(),
            });
        }
        let producer = KafkaProducer::new(config, None, FLUSH_TIMEOUT)?;
        Ok(KafkaSink {
            name: name.to_string(),
            producer,
            held: Vec::new(),
        })
    }

    /// The topic written to.
    pub fn topic(&self) -> &str {
        self.producer.topic()
    }

    fn fail(&self, e: crate::Error) -> BoxError {
        format!("{}: {e}", self.name).into()
    }

    fn send(&mut self, events: impl Iterator<Item = Event>) -> Result<(), BoxError> {
        for event in events {
            if let Err(e) = self.producer.send(&event) {
                return Err(self.fail(e));
            }
        }
        Ok(())
    }
}

impl Sink<Event> for KafkaSink {
    fn write(&mut self, batch: &mut Vec<Event>) -> Result<(), BoxError> {
        fail::fail_point!("kafka-sink-slow", |_| {
            self.held.append(batch);
            Ok(())
        });
        self.send(batch.drain(..))
    }

    fn flush(&mut self) -> Result<(), BoxError> {
        let held = std::mem::take(&mut self.held);
        self.send(held.into_iter())?;
        self.producer.flush(FLUSH_TIMEOUT).map_err(|e| self.fail(e))
    }

    fn snapshot(&mut self, _barrier: Barrier) -> Result<SnapshotFn, BoxError> {
        self.flush()?;
        Ok(no_state())
    }
}
