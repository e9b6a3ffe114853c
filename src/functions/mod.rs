//! Redis Functions: FUNCTION LOAD/DELETE/LIST/FLUSH/DUMP/RESTORE/STATS/KILL and FCALL/FCALL_RO.
//!
//! Map:
//! - [`library`]: the `#!lua name=` header and the library / function metadata.
//! - [`loader`]: running a library body to collect its registrations (validation and the lazy
//!   instantiation in each shard VM).
//! - [`registry`]: the shared snapshot of libraries and its changes.
//! - [`dump`]: the payload format (Redis 7.0's), also the on-disk format; [`persist`]: the file.
//! - [`cmds`]: the commands.
//!
//! Invariant: a function runs through the EVAL machinery (`scripting::run`), so it has the
//! same atomicity, re-run, busy and kill behaviour as a script.

pub mod cmds;
pub mod dump;
pub mod library;
pub mod loader;
pub mod persist;
pub mod registry;

pub use library::Library;
pub use registry::{Functions, LibSet, Policy};
