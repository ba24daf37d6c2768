//! Maelstrom's wire format: one JSON object per line, `{"src", "dest", "body"}`.
//!
//! This crate is plain data. It knows the envelope, the body's reserved keys
//! (`type`, `msg_id`, `in_reply_to`), the error codes with their definiteness,
//! and how to tell a client id from a node id. Everything else in a body
//! belongs to the workload and is kept as JSON.
//!
//! ```
//! use lightcone_proto::{Envelope, Body};
//! let line = r#"{"src":"c0","dest":"n1","body":{"type":"echo","msg_id":1,"echo":"hi"}}"#;
//! let env = Envelope::parse_line(line).unwrap();
//! assert_eq!(env.body.kind, "echo");
//! assert_eq!(env.body.msg_id, Some(1));
//! assert_eq!(env.body.get_str("echo"), Some("hi"));
//! ```

mod envelope;
mod error_code;

pub use envelope::{is_client_id, Body, Envelope, LineError};
pub use error_code::ErrorCode;

/// Time is nanoseconds as `u64` everywhere in lightcone: on the test
/// core's clock, in histories, in a node's `now()`. Results report
/// milliseconds.
pub const NANOS_PER_MS: u64 = 1_000_000;
pub const NANOS_PER_SEC: u64 = 1_000_000_000;

/// Maelstrom's workloads that lightcone runs, by their `-w` names: the one
/// list, which the workloads and the reference nodes (one per workload)
/// both take.
pub const WORKLOAD_NAMES: &[&str] = &[
    "echo",
    "unique-ids",
    "broadcast",
    "g-set",
    "g-counter",
    "pn-counter",
    "lin-kv",
    "kafka",
    "txn-list-append",
    "txn-rw-register",
];

/// Bodies' free-form fields.
pub type Map = serde_json::Map<String, serde_json::Value>;
pub use serde_json::{json, Value};
