//! Realistic event streams for Styx's use cases: payments, tweets, web clicks.
