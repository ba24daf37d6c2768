//! A first lin-kv node: it forwards every request to the `lin-kv` service
//! and relays the answer, errors included. (The Raft key-value node will
//! replace it as the default.)
//!
//! `--cached-reads` is a deliberately broken variant that remembers the
//! values it has seen and answers reads from that cache, which is not
//! linearizable once another node writes.

use std::collections::BTreeMap;

use lightcone_sdk::{
    Body, Context, Envelope, ErrorCode, Node, NodeError, RpcError, Value, NANOS_PER_SEC,
};

use crate::RPC_TIMEOUT_NS;

const SERVICE: &str = "lin-kv";

pub struct LinKvProxy {
    cached_reads: bool,
    /// Key (as JSON text) -> last value seen (only with --cached-reads).
    cache: BTreeMap<String, Value>,
}

impl LinKvProxy {
    /// The proxy; `cached_reads` for the broken `--cached-reads` variant.
    pub fn new(cached_reads: bool) -> LinKvProxy {
        LinKvProxy {
            cached_reads,
            cache: BTreeMap::new(),
        }
    }
}

impl Node for LinKvProxy {
    fn handle(&mut self, ctx: &mut Context<Self>, msg: Envelope) -> Result<(), NodeError> {
        let kind = msg.body.kind.clone();
        if !matches!(kind.as_str(), "read" | "write" | "cas") {
            return Err(NodeError::not_supported(&kind));
        }
        let key = msg
            .body
            .get("key")
            .cloned()
            .ok_or_else(|| NodeError::malformed("lin-kv requests need a `key`"))?;
        let cache_key = key.to_string();
        if self.cached_reads && kind == "read" {
            if let Some(v) = self.cache.get(&cache_key) {
                ctx.reply(&msg, Body::new("read_ok").with("value", v.clone()));
                return Ok(());
            }
        }
        let mut forward = Body::new(kind.clone());
        forward.fields = msg.body.fields.clone();
        ctx.rpc(
            SERVICE,
            forward,
            RPC_TIMEOUT_NS,
            move |node: &mut LinKvProxy, ctx, result| match result {
                Ok(mut body) => {
                    if node.cached_reads {
                        let seen = match kind.as_str() {
                            "read" => body.get("value").cloned(),
                            "write" => msg.body.get("value").cloned(),
                            _ => msg.body.get("to").cloned(),
                        };
                        if let Some(v) = seen {
                            node.cache.insert(cache_key, v);
                        }
                    }
                    body.in_reply_to = None;
                    body.msg_id = None;
                    ctx.reply(&msg, body);
                }
                Err(RpcError::Error { code, text }) => {
                    ctx.reply(
                        &msg,
                        Body::new("error")
                            .with("code", code.code())
                            .with("text", text),
                    );
                }
                Err(RpcError::Timeout) => {
                    let text = format!(
                        "{SERVICE} did not answer within {} s; the request may have happened",
                        RPC_TIMEOUT_NS / NANOS_PER_SEC
                    );
                    ctx.reply(
                        &msg,
                        Body::new("error")
                            .with("code", ErrorCode::Crash.code())
                            .with("text", text),
                    );
                }
            },
        );
        Ok(())
    }
}
