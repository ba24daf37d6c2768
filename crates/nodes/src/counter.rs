//! g-counter and pn-counter nodes built on the seq-kv service, as the
//! fly.io challenge asks.
//!
//! * Each node owns one key, `counter/<node>`, which only it writes. An
//!   `add` reads that key and swaps in the sum with `cas`
//!   (`create_if_not_exists` for the first add); a failed compare (two adds
//!   of this node racing) re-reads and tries again. A `cas` that times out
//!   may or may not have happened, so the add is answered with an
//!   indefinite error rather than retried (a retry could count it twice).
//! * A `read` must not be stale: seq-kv may serve any state this node has
//!   not yet moved past. Writing a fresh value to the node's own
//!   `sync/<node>` key moves it to the newest state; the reads of every
//!   node's key that follow see at least that state. The answer is their
//!   sum.
//! * The state lives in seq-kv, so the node survives `--nemesis kill`.
//!
//! `--own-only` is a deliberately broken variant that counts only its own
//! key, which the counter checker catches.

use std::collections::BTreeMap;

use lightcone_sdk::{Body, Context, Envelope, ErrorCode, Node, NodeError, RpcError, Value};

use crate::RPC_TIMEOUT_NS;

const SERVICE: &str = "seq-kv";

/// A read in progress: how many key reads are still out, and the sum.
struct Read {
    request: Envelope,
    remaining: usize,
    sum: i64,
    failed: bool,
}

pub struct Counter {
    own_only: bool,
    reads: BTreeMap<u64, Read>,
    next_read: u64,
    sync_counter: u64,
}

impl Counter {
    pub fn new(own_only: bool) -> Counter {
        Counter {
            own_only,
            reads: BTreeMap::new(),
            next_read: 0,
            sync_counter: 0,
        }
    }

    fn key(node: &str) -> String {
        format!("counter/{node}")
    }

    /// One attempt at adding `delta`: read our key, then cas.
    fn add(&mut self, ctx: &mut Context<Self>, request: Envelope, delta: i64) {
        let key = Counter::key(ctx.node_id());
        ctx.rpc(
            SERVICE,
            Body::new("read").with("key", key.clone()),
            RPC_TIMEOUT_NS,
            move |node: &mut Counter, ctx, result| {
                let current = match result {
                    Ok(body) => body.get_i64("value").unwrap_or(0),
                    Err(RpcError::Error {
                        code: ErrorCode::KeyDoesNotExist,
                        ..
                    }) => 0,
                    Err(e) => {
                        // Nothing was written yet: a definite failure.
                        let text = format!("could not read {key} from {SERVICE}: {e}");
                        ctx.reply(&request, error(ErrorCode::TemporarilyUnavailable, text));
                        return;
                    }
                };
                let cas = Body::kv_cas(key.clone(), current, current + delta, true);
                ctx.rpc(
                    SERVICE,
                    cas,
                    RPC_TIMEOUT_NS,
                    move |node: &mut Counter, ctx, result| match result {
                        Ok(_) => ctx.reply(&request, Body::new("add_ok")),
                        Err(RpcError::Error {
                            code: ErrorCode::PreconditionFailed,
                            ..
                        }) => node.add(ctx, request, delta),
                        Err(e) => {
                            let code = if e.is_definite() {
                                ErrorCode::TemporarilyUnavailable
                            } else {
                                ErrorCode::Crash
                            };
                            ctx.reply(&request, error(code, format!("cas on {key} failed: {e}")));
                        }
                    },
                );
                let _ = node;
            },
        );
    }

    fn read(&mut self, ctx: &mut Context<Self>, request: Envelope) {
        let id = self.next_read;
        self.next_read += 1;
        let keys: Vec<String> = if self.own_only {
            vec![Counter::key(ctx.node_id())]
        } else {
            ctx.node_ids().iter().map(|n| Counter::key(n)).collect()
        };
        self.reads.insert(
            id,
            Read {
                request,
                remaining: keys.len(),
                sum: 0,
                failed: false,
            },
        );
        self.sync_counter += 1;
        let sync = Body::new("write")
            .with("key", format!("sync/{}", ctx.node_id()))
            .with("value", self.sync_counter);
        ctx.rpc(
            SERVICE,
            sync,
            RPC_TIMEOUT_NS,
            move |node: &mut Counter, ctx, result| {
                if let Err(e) = result {
                    if let Some(read) = node.reads.remove(&id) {
                        ctx.reply(
                            &read.request,
                            error(
                                ErrorCode::TemporarilyUnavailable,
                                format!("could not sync with {SERVICE}: {e}"),
                            ),
                        );
                    }
                    return;
                }
                for key in keys {
                    ctx.rpc(
                        SERVICE,
                        Body::new("read").with("key", key),
                        RPC_TIMEOUT_NS,
                        move |node: &mut Counter, ctx, result| {
                            let Some(read) = node.reads.get_mut(&id) else {
                                return;
                            };
                            match result {
                                Ok(body) => read.sum += body.get_i64("value").unwrap_or(0),
                                Err(RpcError::Error {
                                    code: ErrorCode::KeyDoesNotExist,
                                    ..
                                }) => {}
                                Err(_) => read.failed = true,
                            }
                            read.remaining -= 1;
                            if read.remaining == 0 {
                                let read = node.reads.remove(&id).expect("present");
                                if read.failed {
                                    ctx.reply(
                                        &read.request,
                                        error(
                                            ErrorCode::TemporarilyUnavailable,
                                            "a key read failed",
                                        ),
                                    );
                                } else {
                                    ctx.reply(
                                        &read.request,
                                        Body::new("read_ok").with("value", read.sum),
                                    );
                                }
                            }
                        },
                    );
                }
            },
        );
    }
}

fn error(code: ErrorCode, text: impl Into<String>) -> Body {
    Body::new("error")
        .with("code", code.code())
        .with("text", Value::from(text.into()))
}

impl Node for Counter {
    fn handle(&mut self, ctx: &mut Context<Self>, msg: Envelope) -> Result<(), NodeError> {
        match msg.body.kind.as_str() {
            "add" => {
                let delta = crate::add_delta(&msg)?;
                if delta == 0 {
                    ctx.reply(&msg, Body::new("add_ok"));
                } else {
                    self.add(ctx, msg, delta);
                }
                Ok(())
            }
            "read" => {
                self.read(ctx, msg);
                Ok(())
            }
            other => Err(NodeError::not_supported(other)),
        }
    }
}
