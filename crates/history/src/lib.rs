//! Operation histories in Jepsen's shape.
//!
//! An [`Op`] is one event of a client process: an `invoke`, then a
//! completion that is `ok` (it happened), `fail` (it certainly did not) or
//! `info` (indeterminate). A [`History`] is the ordered list of them. The
//! JSONL form (one op per line) is what `history.jsonl` holds; it is written
//! as the run goes, so a crash leaves a readable prefix. [`formats`] reads
//! histories other tools wrote (Jepsen EDN, Porcupine's logs) into the same
//! types, and writes EDN.
//!
//! ```
//! use lightcone_history::{History, Op, OpType, Process};
//! let mut h = History::default();
//! h.push(Op::new(Process::Client(0), OpType::Invoke, "read", serde_json::Value::Null).at(5));
//! h.push(Op::new(Process::Client(0), OpType::Ok, "read", serde_json::json!([1])).at(9));
//! let text = h.to_jsonl();
//! let back = History::from_jsonl(&text).unwrap();
//! assert_eq!(back, h);
//! assert_eq!(back.pairs().len(), 1);
//! ```

#![forbid(unsafe_code)]

pub mod build;
pub mod formats;
mod int_multiset;
mod jsonl;
pub mod message_log;
mod op;
mod value;

pub use formats::{Format, FormatError};
pub use int_multiset::{IntMultiset, ELEMENT_COUNT_MAX, EXTRA_COPIES_KEY, RANGES_KEY};
pub use jsonl::{HistoryWriter, ReadError};
pub use op::{History, Op, OpType, Process};
