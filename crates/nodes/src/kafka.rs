//! A kafka-style log node on the lin-kv service.
//!
//! * `send`: allocate the key's next offset with a compare-and-set loop on
//!   `offset/<key>` (so every node agrees), then store the message at
//!   `msg/<key>/<offset>` and answer with the offset.
//! * `poll`: per key, read up to 16 messages from the requested offset in
//!   parallel and return the contiguous run that exists; an offset that is
//!   allocated but not yet written stops the run (it may still be coming).
//! * `commit_offsets`: raise `committed/<key>` to the given offset with a
//!   cas loop (never lowering it); `list_committed_offsets` reads them.
//!
//! `--local-offsets` is a deliberately broken variant that allocates
//! offsets from a counter of its own, without coordination: two nodes hand
//! out the same offset for different messages, which the kafka checker
//! reports as inconsistent offsets.

use std::collections::BTreeMap;

use lightcone_sdk::{
    Body, Context, Envelope, ErrorCode, Node, NodeError, RpcError, Value, NANOS_PER_MS,
};

const SERVICE: &str = "lin-kv";
const RPC_TIMEOUT_NS: u64 = 1000 * NANOS_PER_MS;
/// Messages one poll returns per key, at most.
const POLL_BATCH_LEN: u64 = 16;

fn error(code: ErrorCode, text: impl Into<String>) -> Body {
    Body::new("error")
        .with("code", code.code())
        .with("text", Value::from(text.into()))
}

/// A request that waits on several service RPCs.
struct Gather {
    request: Envelope,
    remaining: usize,
    /// Poll: key -> offset -> message (None: absent). Lists: key -> offset.
    found: BTreeMap<String, BTreeMap<u64, Option<Value>>>,
    failed: Option<String>,
}

pub struct Kafka {
    local_offsets: bool,
    local_next: BTreeMap<String, u64>,
    gathers: BTreeMap<u64, Gather>,
    next_gather: u64,
}

impl Kafka {
    pub fn parse(args: &[String]) -> Result<Kafka, String> {
        let local_offsets = match args {
            [] => false,
            [flag] if flag == "--local-offsets" => true,
            _ => return Err(format!("the only option is --local-offsets, not {args:?}")),
        };
        Ok(Kafka {
            local_offsets,
            local_next: BTreeMap::new(),
            gathers: BTreeMap::new(),
            next_gather: 0,
        })
    }

    fn gather(&mut self, request: Envelope, remaining: usize) -> u64 {
        let id = self.next_gather;
        self.next_gather += 1;
        self.gathers.insert(
            id,
            Gather {
                request,
                remaining,
                found: BTreeMap::new(),
                failed: None,
            },
        );
        id
    }

    /// Allocates the next offset of `key` (cas loop), then stores `msg`.
    fn send(&mut self, ctx: &mut Context<Self>, request: Envelope, key: String, msg: Value) {
        if self.local_offsets {
            let next = self.local_next.entry(key.clone()).or_insert(0);
            let offset = *next;
            *next += 1;
            self.store(ctx, request, key, offset, msg);
            return;
        }
        let counter = format!("offset/{key}");
        ctx.rpc(
            SERVICE,
            Body::new("read").with("key", counter.clone()),
            RPC_TIMEOUT_NS,
            move |_: &mut Kafka, ctx, result| {
                let current = match result {
                    Ok(body) => body.get_u64("value").unwrap_or(0),
                    Err(RpcError::Error {
                        code: ErrorCode::KeyDoesNotExist,
                        ..
                    }) => 0,
                    Err(e) => {
                        ctx.reply(
                            &request,
                            error(
                                ErrorCode::TemporarilyUnavailable,
                                format!("could not read {counter}: {e}"),
                            ),
                        );
                        return;
                    }
                };
                let cas = Body::new("cas")
                    .with("key", counter.clone())
                    .with("from", current)
                    .with("to", current + 1)
                    .with("create_if_not_exists", true);
                ctx.rpc(
                    SERVICE,
                    cas,
                    RPC_TIMEOUT_NS,
                    move |node: &mut Kafka, ctx, result| match result {
                        Ok(_) => node.store(ctx, request, key, current, msg),
                        Err(RpcError::Error {
                            code: ErrorCode::PreconditionFailed,
                            ..
                        }) => node.send(ctx, request, key, msg),
                        Err(e) => {
                            // A timed-out cas may have taken the offset: indefinite.
                            let code = if e.is_definite() {
                                ErrorCode::TemporarilyUnavailable
                            } else {
                                ErrorCode::Crash
                            };
                            ctx.reply(
                                &request,
                                error(code, format!("could not allocate an offset of {key}: {e}")),
                            );
                        }
                    },
                );
            },
        );
    }

    fn store(
        &mut self,
        ctx: &mut Context<Self>,
        request: Envelope,
        key: String,
        offset: u64,
        msg: Value,
    ) {
        let write = Body::new("write")
            .with("key", format!("msg/{key}/{offset}"))
            .with("value", msg);
        ctx.rpc(
            SERVICE,
            write,
            RPC_TIMEOUT_NS,
            move |_: &mut Kafka, ctx, result| match result {
                Ok(_) => ctx.reply(&request, Body::new("send_ok").with("offset", offset)),
                Err(e) => ctx.reply(
                    &request,
                    error(
                        ErrorCode::Crash,
                        format!("offset {offset} of {key} taken, message not stored: {e}"),
                    ),
                ),
            },
        );
    }

    fn poll(&mut self, ctx: &mut Context<Self>, request: Envelope, offsets: Vec<(String, u64)>) {
        if offsets.is_empty() {
            ctx.reply(
                &request,
                Body::new("poll_ok").with("msgs", Value::Object(Default::default())),
            );
            return;
        }
        let id = self.gather(request, offsets.len() * POLL_BATCH_LEN as usize);
        for (key, from) in offsets {
            for offset in from..from + POLL_BATCH_LEN {
                let read = Body::new("read").with("key", format!("msg/{key}/{offset}"));
                let key = key.clone();
                ctx.rpc(
                    SERVICE,
                    read,
                    RPC_TIMEOUT_NS,
                    move |node: &mut Kafka, ctx, result| {
                        let Some(g) = node.gathers.get_mut(&id) else {
                            return;
                        };
                        let slot = g.found.entry(key).or_default();
                        match result {
                            Ok(body) => {
                                slot.insert(offset, body.get("value").cloned());
                            }
                            Err(RpcError::Error {
                                code: ErrorCode::KeyDoesNotExist,
                                ..
                            }) => {
                                slot.insert(offset, None);
                            }
                            Err(e) => g.failed = Some(e.to_string()),
                        }
                        node.maybe_finish_poll(ctx, id);
                    },
                );
            }
        }
    }

    fn maybe_finish_poll(&mut self, ctx: &mut Context<Self>, id: u64) {
        let g = self.gathers.get_mut(&id).expect("present");
        g.remaining -= 1;
        if g.remaining > 0 {
            return;
        }
        let g = self.gathers.remove(&id).expect("present");
        if let Some(why) = g.failed {
            ctx.reply(
                &g.request,
                error(
                    ErrorCode::TemporarilyUnavailable,
                    format!("poll failed: {why}"),
                ),
            );
            return;
        }
        let mut msgs = serde_json::Map::new();
        for (key, by_offset) in g.found {
            // The contiguous run of stored messages from the first offset.
            let run: Vec<Value> = by_offset
                .into_iter()
                .map_while(|(offset, msg)| msg.map(|m| Value::from(vec![Value::from(offset), m])))
                .collect();
            msgs.insert(key, Value::from(run));
        }
        ctx.reply(
            &g.request,
            Body::new("poll_ok").with("msgs", Value::Object(msgs)),
        );
    }

    /// Raises `committed/<key>` to at least `offset`.
    fn commit_one(&mut self, ctx: &mut Context<Self>, id: u64, key: String, offset: u64) {
        let k = format!("committed/{key}");
        ctx.rpc(
            SERVICE,
            Body::new("read").with("key", k.clone()),
            RPC_TIMEOUT_NS,
            move |node: &mut Kafka, ctx, result| {
                let current = match result {
                    Ok(body) => body.get_u64("value"),
                    Err(RpcError::Error {
                        code: ErrorCode::KeyDoesNotExist,
                        ..
                    }) => None,
                    Err(e) => return node.commit_done(ctx, id, Some(e.to_string())),
                };
                if current.is_some_and(|c| c >= offset) {
                    return node.commit_done(ctx, id, None);
                }
                let cas = Body::new("cas")
                    .with("key", k)
                    .with("from", current.map_or(Value::Null, Value::from))
                    .with("to", offset)
                    .with("create_if_not_exists", current.is_none());
                ctx.rpc(
                    SERVICE,
                    cas,
                    RPC_TIMEOUT_NS,
                    move |node: &mut Kafka, ctx, result| match result {
                        Ok(_) => node.commit_done(ctx, id, None),
                        Err(RpcError::Error {
                            code: ErrorCode::PreconditionFailed,
                            ..
                        }) => node.commit_one(ctx, id, key, offset),
                        Err(e) => node.commit_done(ctx, id, Some(e.to_string())),
                    },
                );
            },
        );
    }

    fn commit_done(&mut self, ctx: &mut Context<Self>, id: u64, failure: Option<String>) {
        let g = self.gathers.get_mut(&id).expect("present");
        if failure.is_some() {
            g.failed = failure;
        }
        g.remaining -= 1;
        if g.remaining > 0 {
            return;
        }
        let g = self.gathers.remove(&id).expect("present");
        match g.failed {
            Some(why) => ctx.reply(
                &g.request,
                error(ErrorCode::Crash, format!("commit may be incomplete: {why}")),
            ),
            None => ctx.reply(&g.request, Body::new("commit_offsets_ok")),
        }
    }

    fn list(&mut self, ctx: &mut Context<Self>, request: Envelope, keys: Vec<String>) {
        if keys.is_empty() {
            ctx.reply(
                &request,
                Body::new("list_committed_offsets_ok")
                    .with("offsets", Value::Object(Default::default())),
            );
            return;
        }
        let id = self.gather(request, keys.len());
        for key in keys {
            let read = Body::new("read").with("key", format!("committed/{key}"));
            ctx.rpc(
                SERVICE,
                read,
                RPC_TIMEOUT_NS,
                move |node: &mut Kafka, ctx, result| {
                    let Some(g) = node.gathers.get_mut(&id) else {
                        return;
                    };
                    match result {
                        Ok(body) => {
                            g.found
                                .entry(key)
                                .or_default()
                                .insert(0, body.get("value").cloned());
                        }
                        Err(RpcError::Error {
                            code: ErrorCode::KeyDoesNotExist,
                            ..
                        }) => {}
                        Err(e) => g.failed = Some(e.to_string()),
                    }
                    g.remaining -= 1;
                    if g.remaining > 0 {
                        return;
                    }
                    let g = node.gathers.remove(&id).expect("present");
                    if let Some(why) = g.failed {
                        ctx.reply(&g.request, error(ErrorCode::TemporarilyUnavailable, why));
                        return;
                    }
                    let offsets: serde_json::Map<String, Value> = g
                        .found
                        .into_iter()
                        .filter_map(|(k, m)| m.into_values().next().flatten().map(|v| (k, v)))
                        .collect();
                    ctx.reply(
                        &g.request,
                        Body::new("list_committed_offsets_ok")
                            .with("offsets", Value::Object(offsets)),
                    );
                },
            );
        }
    }
}

impl Node for Kafka {
    fn handle(&mut self, ctx: &mut Context<Self>, msg: Envelope) -> Result<(), NodeError> {
        match msg.body.kind.as_str() {
            "send" => {
                let key = msg
                    .body
                    .get_str("key")
                    .ok_or_else(|| NodeError::malformed("send needs a string `key`"))?
                    .to_string();
                let m = msg
                    .body
                    .get("msg")
                    .cloned()
                    .ok_or_else(|| NodeError::malformed("send needs a `msg`"))?;
                self.send(ctx, msg, key, m);
            }
            "poll" => {
                let offsets: Vec<(String, u64)> = msg
                    .body
                    .get("offsets")
                    .and_then(Value::as_object)
                    .ok_or_else(|| NodeError::malformed("poll needs an `offsets` object"))?
                    .iter()
                    .map(|(k, v)| (k.clone(), v.as_u64().unwrap_or(0)))
                    .collect();
                self.poll(ctx, msg, offsets);
            }
            "commit_offsets" => {
                let offsets: Vec<(String, u64)> = msg
                    .body
                    .get("offsets")
                    .and_then(Value::as_object)
                    .ok_or_else(|| {
                        NodeError::malformed("commit_offsets needs an `offsets` object")
                    })?
                    .iter()
                    .filter_map(|(k, v)| v.as_u64().map(|o| (k.clone(), o)))
                    .collect();
                if offsets.is_empty() {
                    ctx.reply(&msg, Body::new("commit_offsets_ok"));
                    return Ok(());
                }
                let id = self.gather(msg, offsets.len());
                for (key, offset) in offsets {
                    self.commit_one(ctx, id, key, offset);
                }
            }
            "list_committed_offsets" => {
                let keys: Vec<String> = msg
                    .body
                    .get("keys")
                    .and_then(Value::as_array)
                    .ok_or_else(|| {
                        NodeError::malformed("list_committed_offsets needs a `keys` array")
                    })?
                    .iter()
                    .filter_map(|k| k.as_str().map(str::to_string))
                    .collect();
                self.list(ctx, msg, keys);
            }
            other => return Err(NodeError::not_supported(other)),
        }
        Ok(())
    }
}
