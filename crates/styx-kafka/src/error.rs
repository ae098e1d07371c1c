//! Errors of the Kafka connectors.

/// What can go wrong configuring, reading from or writing to Kafka.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A job-file key has a value that cannot be used.
    #[error("`{key}`: {message}")]
    Config {
        /// The key, as written in the job file.
        key: String,
        /// What is wrong with it.
        message: String,
    },
    /// `${VAR}` names an environment variable that is not set.
    #[error("`{key}`: environment variable `{var}` is not set")]
    MissingEnv {
        /// The key whose value names the variable.
        key: String,
        /// The variable.
        var: String,
    },
    /// A raw client property sets what a typed key already controls.
    #[error(
        "`properties.\"{property}\"` collides with the typed key `{key}`: \
         set `{key}` instead and remove the property"
    )]
    PropertyCollision {
        /// The librdkafka property.
        property: String,
        /// The typed job-file key that owns it.
        key: String,
    },
    /// The Kafka client refused an operation.
    #[error("{context}: {source}")]
    Client {
        /// What was being done.
        context: String,
        /// The client's error.
        #[source]
        source: rdkafka::error::KafkaError,
    },
    /// A record could not be delivered to its topic.
    #[error("delivery to topic `{topic}` failed: {source}")]
    Delivery {
        /// The topic.
        topic: String,
        /// The client's error.
        #[source]
        source: rdkafka::error::KafkaError,
    },
    /// A record could not be encoded.
    #[error("cannot encode a record for topic `{topic}`: {message}")]
    Encode {
        /// The topic.
        topic: String,
        /// Why.
        message: String,
    },
}

impl Error {
    /// Wraps a client error with what was being done.
    pub(crate) fn client(context: impl Into<String>, source: rdkafka::error::KafkaError) -> Self {
        Error::Client {
            context: context.into(),
            source,
        }
    }
}

/// The result of Kafka connector operations.
pub type Result<T, E = Error> = std::result::Result<T, E>;
