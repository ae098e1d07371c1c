//! Styx connectors: files (NDJSON), stdin and stdout, generators.
