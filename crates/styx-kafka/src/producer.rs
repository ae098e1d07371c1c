//! Producers for sinks: JSON events to records, with every delivery failure surfaced.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rdkafka::consumer::ConsumerGroupMetadata;
use rdkafka::error::{KafkaError as RdError, RDKafkaErrorCode};
use rdkafka::message::{Header, Message, OwnedHeaders};
use rdkafka::producer::{BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer};
use rdkafka::{ClientConfig, ClientContext};
use serde_json::Value;

use crate::config::{Format, KafkaSinkConfig};
use crate::consumer::{offset_list, Partition};
use crate::decode::Event;
use crate::error::{Error, Result};

/// How long a send waits for room in a full producer queue before it fails.
const QUEUE_FULL_WAIT: Duration = Duration::from_secs(60);

/// Records the outcome of every delivery.
#[derive(Default)]
pub struct DeliveryContext {
    delivered: AtomicU64,
    failed: AtomicU64,
    first_failure: Mutex<Option<(String, RdError)>>,
}

impl DeliveryContext {
    /// Records acknowledged by the brokers so far.
    pub fn delivered(&self) -> u64 {
        self.delivered.load(Ordering::Relaxed)
    }

    /// Records whose delivery failed so far.
    pub fn failed(&self) -> u64 {
        self.failed.load(Ordering::Relaxed)
    }

    fn take_failure(&self) -> Option<Error> {
        let mut slot = self.first_failure.lock().unwrap_or_else(|e| e.into_inner());
        slot.take()
            .map(|(topic, source)| Error::Delivery { topic, source })
    }

    fn forget_failures(&self) {
        *self.first_failure.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }
}

impl ClientContext for DeliveryContext {}

impl ProducerContext for DeliveryContext {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        match result {
            Ok(_) => {
                self.delivered.fetch_add(1, Ordering::Relaxed);
            }
            Err((e, message)) => {
                use rdkafka::error::RDKafkaErrorCode as Code;
                if matches!(
                    e.rdkafka_error_code(),
                    Some(Code::PurgeQueue | Code::PurgeInflight)
                ) {
                    // An aborted transaction's records, purged as asked: not a failure.
                    tracing::debug!("a record for `{}` was purged: {e}", message.topic());
                    return;
                }
                let failed = self.failed.fetch_add(1, Ordering::Relaxed) + 1;
                let mut slot = self.first_failure.lock().unwrap_or_else(|e| e.into_inner());
                if slot.is_none() {
                    // The first failure of a run of them; the sink fails with it.
                    tracing::error!(
                        "delivery to topic `{}` failed ({failed} so far): {e}",
                        message.topic()
                    );
                    *slot = Some((message.topic().to_string(), e.clone()));
                }
            }
        }
    }
}

/// A producer of a sink instance: writes events as records to one topic.
///
/// Sends are asynchronous; a failed delivery is returned by the next [`send`], [`flush`]
/// or [`commit_transaction`], never dropped. With `delivery = "exactly_once"` records
/// are written inside transactions ([`begin_transaction`], [`commit_transaction`]).
///
/// [`send`]: KafkaProducer::send
/// [`flush`]: KafkaProducer::flush
/// [`begin_transaction`]: KafkaProducer::begin_transaction
/// [`commit_transaction`]: KafkaProducer::commit_transaction
pub struct KafkaProducer {
    producer: ThreadedProducer<DeliveryContext>,
    topic: String,
    format: Format,
    key_field: Option<String>,
    headers: Vec<(String, String)>,
    transactional: bool,
    /// The value of the record being queued, written here (the client copies it).
    payload: Vec<u8>,
}

impl KafkaProducer {
    /// Builds a producer from a sink table. `transactional_id` is required with
    /// `delivery = "exactly_once"`; transactions are then initialised (which fences
    /// earlier producers with the same id) within `timeout`.
    pub fn new(
        config: &KafkaSinkConfig,
        transactional_id: Option<&str>,
        timeout: Duration,
    ) -> Result<Self> {
        let client = config.client_config(transactional_id)?;
        let mut producer = Self::with_client_config(client, &config.topic, timeout)?;
        producer.format = config.format;
        producer.key_field = config.key.clone();
        producer.headers = config
            .headers
            .iter()
            .map(|(h, f)| (h.clone(), f.clone()))
            .collect();
        Ok(producer)
    }

    /// Builds a producer of JSON records to `topic` from a complete librdkafka
    /// configuration; with a `transactional.id`, transactions are initialised.
    pub fn with_client_config(
        config: ClientConfig,
        topic: &str,
        timeout: Duration,
    ) -> Result<Self> {
        let transactional = config.get("transactional.id").is_some();
        let producer: ThreadedProducer<DeliveryContext> = config
            .create_with_context(DeliveryContext::default())
            .map_err(|e| Error::client("creating the Kafka producer", e))?;
        if transactional {
            producer
                .init_transactions(timeout)
                .map_err(|e| Error::client("initialising transactions", e))?;
        }
        Ok(KafkaProducer {
            producer,
            topic: topic.to_string(),
            format: Format::Json,
            key_field: None,
            headers: Vec::new(),
            transactional,
            payload: Vec::new(),
        })
    }

    /// Writes the record key from this field of each event.
    pub fn with_key_field(mut self, field: impl Into<String>) -> Self {
        self.key_field = Some(field.into());
        self
    }

    /// Whether records are written in transactions.
    pub fn is_transactional(&self) -> bool {
        self.transactional
    }

    /// The topic written to.
    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// Delivery counts.
    pub fn stats(&self) -> &DeliveryContext {
        self.producer.context()
    }

    /// Queues one event for delivery. Fails with an earlier delivery failure, when
    /// there was one, or when the queue stays full.
    pub fn send(&mut self, event: &Event) -> Result<()> {
        if let Some(e) = self.producer.context().take_failure() {
            return Err(e);
        }
        let mut payload = std::mem::take(&mut self.payload);
        payload.clear();
        match self.format {
            Format::Json => event.write_json(&mut payload),
            Format::Raw => match event.get("value") {
                Some(Value::String(s)) => payload.extend_from_slice(s.as_bytes()),
                Some(other) => {
                    serde_json::to_writer(&mut payload, other).map_err(|e| Error::Encode {
                        topic: self.topic.clone(),
                        message: e.to_string(),
                    })?
                }
                None => {
                    return Err(Error::Encode {
                        topic: self.topic.clone(),
                        message: "a raw record needs a `value` field".into(),
                    })
                }
            },
        }
        let result = self.queue(event, &payload);
        self.payload = payload;
        result
    }

    /// Queues `payload` as the value of `event`'s record.
    fn queue(&mut self, event: &Event, payload: &[u8]) -> Result<()> {
        let key = self
            .key_field
            .as_ref()
            .and_then(|f| event.get(f))
            .map(field_text);
        let mut record = BaseRecord::to(&self.topic).payload(payload);
        if let Some(key) = &key {
            record = record.key(key.as_bytes());
        }
        if !self.headers.is_empty() {
            let mut headers = OwnedHeaders::new_with_capacity(self.headers.len());
            for (name, field) in &self.headers {
                if let Some(v) = event.get(field) {
                    let text = field_text(v);
                    headers = headers.insert(Header {
                        key: name,
                        value: Some(text.as_bytes()),
                    });
                }
            }
            record = record.headers(headers);
        }
        let deadline = Instant::now() + QUEUE_FULL_WAIT;
        loop {
            match self.producer.send(record) {
                Ok(()) => break,
                Err((RdError::MessageProduction(RDKafkaErrorCode::QueueFull), back))
                    if Instant::now() < deadline =>
                {
                    record = back;
                    std::thread::sleep(Duration::from_millis(1));
                }
                Err((e, _)) => {
                    return Err(Error::Delivery {
                        topic: self.topic.clone(),
                        source: e,
                    })
                }
            }
        }
        Ok(())
    }

    /// Waits until every queued record is delivered (or `timeout` passes); fails with
    /// the first delivery failure since the last check.
    pub fn flush(&mut self, timeout: Duration) -> Result<()> {
        let flushed = self.producer.flush(timeout);
        if let Some(e) = self.producer.context().take_failure() {
            return Err(e);
        }
        flushed.map_err(|e| Error::client(format!("flushing records to `{}`", self.topic), e))
    }

    /// Opens a transaction: records sent from now on are visible to `read_committed`
    /// readers only once it is committed.
    pub fn begin_transaction(&mut self) -> Result<()> {
        self.producer
            .begin_transaction()
            .map_err(|e| Error::client("beginning a transaction", e))
    }

    /// Adds a consumer group's offsets (the next record to read in each partition) to
    /// the open transaction: they are committed if and only if it is.
    pub fn send_offsets_to_transaction(
        &mut self,
        offsets: &[(Partition, i64)],
        group: &ConsumerGroupMetadata,
        timeout: Duration,
    ) -> Result<()> {
        let tpl = offset_list(offsets)?;
        self.producer
            .send_offsets_to_transaction(&tpl, group, timeout)
            .map_err(|e| Error::client("adding offsets to the transaction", e))
    }

    /// Delivers the open transaction's records and commits it.
    pub fn commit_transaction(&mut self, timeout: Duration) -> Result<()> {
        let committed = self.producer.commit_transaction(timeout);
        if let Some(e) = self.producer.context().take_failure() {
            return Err(e);
        }
        committed.map_err(|e| Error::client("committing the transaction", e))
    }

    /// Aborts the open transaction: its records are never visible to `read_committed`
    /// readers.
    pub fn abort_transaction(&mut self, timeout: Duration) -> Result<()> {
        let aborted = self.producer.abort_transaction(timeout);
        // Records purged by the abort report failed deliveries: they were meant to go.
        self.producer.context().forget_failures();
        aborted.map_err(|e| Error::client("aborting the transaction", e))
    }

    /// The underlying librdkafka producer.
    pub fn inner(&self) -> &ThreadedProducer<DeliveryContext> {
        &self.producer
    }
}

/// A field's value as record text: strings as they are, other values as JSON.
fn field_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}
