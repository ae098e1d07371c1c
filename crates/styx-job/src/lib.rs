//! Styx job files: the TOML format and its compiler onto the stream runtime.
