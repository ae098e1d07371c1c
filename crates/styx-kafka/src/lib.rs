//! Kafka sources and sinks for the Styx runtime, built on rdkafka.
