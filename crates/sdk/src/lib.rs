//! Write Maelstrom nodes in Rust.
//!
//! A node is a plain struct implementing [`Node`]: it gets messages and
//! timer ticks through a [`Context`], and acts only through that context
//! (send, reply, RPC with a callback, timers, `now()`, a seeded RNG). It
//! never touches stdin, stdout or the clock itself, so the same node runs
//!
//! * as a process speaking Maelstrom's protocol ([`run_stdio`]),
//! * in a unit test with no processes at all ([`Harness`], [`MockCluster`]),
//! * and inside the deterministic simulator, on virtual time.
//!
//! ```
//! use lightcone_sdk::{Body, Context, Envelope, Harness, Node, NodeError};
//!
//! struct Echo;
//! impl Node for Echo {
//!     fn handle(&mut self, ctx: &mut Context<Self>, msg: Envelope) -> Result<(), NodeError> {
//!         match msg.body.kind.as_str() {
//!             "echo" => {
//!                 let echo = msg.body.get("echo").cloned().unwrap_or_default();
//!                 ctx.reply(&msg, Body::new("echo_ok").with("echo", echo));
//!                 Ok(())
//!             }
//!             other => Err(NodeError::not_supported(other)),
//!         }
//!     }
//! }
//!
//! let mut h = Harness::new(Echo, "n0", &["n0"]);
//! let replies = h.request("c1", Body::new("echo").with("echo", "hi"));
//! assert_eq!(replies[0].body.kind, "echo_ok");
//! assert_eq!(replies[0].body.get_str("echo"), Some("hi"));
//! ```

mod context;
mod file_storage;
mod harness;
mod node;
mod runtime;
mod stdio;
mod storage;

pub use context::{Context, RpcError, TimerId};
pub use file_storage::FileStorage;
pub use harness::{Harness, MockCluster};
pub use lightcone_proto::{json, Body, Envelope, ErrorCode, Value};
pub use node::{Node, NodeError};
pub use runtime::{NodeRuntime, Runtime};
pub use stdio::{process_seed_and_storage, run_stdio, run_stdio_runtime, StdioError};
pub use storage::{Change, MemoryStorage, Storage};

/// What the SDK puts in `init_ok` as `"sdk"`.
pub const SDK_NAME: &str = concat!("lightcone/", env!("CARGO_PKG_VERSION"));

pub use lightcone_proto::{NANOS_PER_MS, NANOS_PER_SEC, WORKLOAD_NAMES};
