//! RESP2/RESP3 on the wire: an incremental request decoder and a reply encoder.
//!
//! Architecture Invariant: this module knows no commands. It turns bytes into argument vectors
//! and [`Reply`] values into bytes, nothing more.

mod decode;
mod reply;

pub use decode::{split_inline, ProtocolError, RequestDecoder, DEFAULT_MAX_BULK_LEN};
pub use reply::{format_double, format_g, put_bulk, write_double, Reply, DOUBLE_TEXT_MAX};
