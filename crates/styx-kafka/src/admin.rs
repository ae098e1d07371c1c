//! Topic administration: what tests, the CLI and benchmarks need.

use std::time::Duration;

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::error::RDKafkaErrorCode;
use rdkafka::ClientConfig;

use crate::config::expand_env;
use crate::error::{Error, Result};

/// Creates `topic` with `partitions` partitions on `brokers` (`${VAR}` expanded); a
/// topic that exists already is fine.
pub fn create_topic(brokers: &str, topic: &str, partitions: i32, timeout: Duration) -> Result<()> {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", expand_env("brokers", brokers)?)
        .create()
        .map_err(|e| Error::client("creating the Kafka admin client", e))?;
    let new = NewTopic::new(topic, partitions, TopicReplication::Fixed(1));
    let options = AdminOptions::new().operation_timeout(Some(timeout));
    let results = futures_executor::block_on(admin.create_topics([&new], &options))
        .map_err(|e| Error::client(format!("creating topic `{topic}`"), e))?;
    for result in results {
        match result {
            Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((name, code)) => {
                return Err(Error::client(
                    format!("creating topic `{name}`"),
                    rdkafka::error::KafkaError::AdminOp(code),
                ))
            }
        }
    }
    Ok(())
}
