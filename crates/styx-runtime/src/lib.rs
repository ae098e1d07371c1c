//! The Styx stream runtime.
