//! Durable storage: the append-only log of the effect stream (`aof`).
//!
//! Invariant: the log holds whole units of the effect stream, in stream order, and nothing
//! else; loading it through the follower's applier rebuilds the data and script bodies.

pub mod aof;
