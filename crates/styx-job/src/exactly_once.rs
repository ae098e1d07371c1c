//! Restarting a job with an exactly-once Kafka sink: which snapshot agrees with what its
//! last Kafka transaction committed (see [`styx_kafka::exactly_once`] for the protocol).

use std::collections::HashMap;
use std::time::Duration;

use rdkafka::consumer::{BaseConsumer, Consumer};
use styx_kafka::exactly_once::{committed_marker, Marker};
use styx_kafka::{KafkaSourceConfig, Partition};

/// How long the look-ups at start may take.
const TIMEOUT: Duration = Duration::from_secs(30);

/// What a job's Kafka sources read and committed.
pub(crate) struct LastCommit {
    /// What the newest committed offsets say about the last transaction.
    pub(crate) marker: Marker,
    /// The committed offsets.
    pub(crate) committed: Vec<(Partition, i64)>,
    /// Every partition of each source's topics, by source id.
    pub(crate) partitions: HashMap<String, Vec<Partition>>,
}

/// What the consumer groups of a job's Kafka sources say about its last commit.
pub(crate) fn last_commit<'a, E: 'a>(
    sources: impl Iterator<Item = (&'a str, &'a KafkaSourceConfig<E>)>,
) -> Result<LastCommit, String> {
    let mut marker = Marker::None;
    let mut committed = Vec::new();
    let mut by_source = HashMap::new();
    for (id, config) in sources {
        let fail = |e: &dyn std::fmt::Display| format!("sources.{id}: {e}");
        let consumer: BaseConsumer = config
            .client_config()
            .map_err(|e| fail(&e))?
            .create()
            .map_err(|e| fail(&e))?;
        let mut partitions = Vec::new();
        for topic in config.topic_list().map_err(|e| fail(&e))? {
            let metadata = consumer
                .fetch_metadata(Some(&topic), TIMEOUT)
                .map_err(|e| fail(&format!("reading the partitions of `{topic}`: {e}")))?;
            for t in metadata.topics() {
                for p in t.partitions() {
                    partitions.push(Partition::new(t.name(), p.id()));
                }
            }
        }
        let (found, offsets) =
            committed_marker(&consumer, &partitions, TIMEOUT).map_err(|e| fail(&e))?;
        if marker == Marker::None {
            marker = found;
        }
        committed.extend(offsets);
        by_source.insert(id.to_string(), partitions);
    }
    Ok(LastCommit {
        marker,
        committed,
        partitions: by_source,
    })
}
