//! A kafka-style log node on the lin-kv service.
//!
//! * Each key's log is one lin-kv value, `log/<key>`: the list of its
//!   messages, whose positions are their offsets. Maelstrom's keys hold few
//!   messages (a key is retired after `--max-writes-per-key` sends, 16 by
//!   default), so a log is small.
//! * `send`: read the log, then compare-and-set it to the log with the
//!   message appended (retrying when another send got there first); the
//!   offset is the message's position. Appending and numbering are one
//!   atomic step, so there is never an offset without its message: a node
//!   killed halfway leaves either nothing or the whole append. A cas whose
//!   outcome is unknown (a timeout) is reported as indefinite, never
//!   retried, so a message is never appended twice.
//! * `poll`: per key, one read of the log, returning the messages from the
//!   requested offset (at most [`POLL_BATCH_LEN`]); a key with none is left
//!   out, as Maelstrom allows.
//! * `commit_offsets`: raise `committed/<key>` to the given offset with a
//!   cas loop (never lowering it); `list_committed_offsets` reads them.
//!
//! `--local-offsets` is a deliberately broken variant that keeps each log
//! in the node's memory: two nodes hand out the same offset for different
//! messages, which the kafka checker reports as inconsistent offsets.

use std::collections::BTreeMap;

use lightcone_sdk::{Body, Context, Envelope, ErrorCode, Node, NodeError, RpcError, Value};

use crate::RPC_TIMEOUT_NS;

const SERVICE: &str = "lin-kv";
/// Messages one poll returns per key, at most.
pub const POLL_BATCH_LEN: usize = 64;

fn error(code: ErrorCode, text: impl Into<String>) -> Body {
    Body::new("error")
        .with("code", code.code())
        .with("text", Value::from(text.into()))
}

/// What a request that waits on several service RPCs answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Answer {
    /// `poll_ok` with the messages found per key.
    Poll,
    /// `list_committed_offsets_ok` with the offsets found per key.
    List,
    /// `commit_offsets_ok`.
    Commit,
}

/// A request that waits on several service RPCs.
struct Gather {
    request: Envelope,
    answer: Answer,
    remaining: usize,
    /// Per key, what the reply holds for it (keys with nothing left out).
    found: serde_json::Map<String, Value>,
    failed: Option<String>,
}

pub struct Kafka {
    /// `--local-offsets`: key -> this node's own log.
    local_logs: Option<BTreeMap<String, Vec<Value>>>,
    gathers: BTreeMap<u64, Gather>,
    next_gather: u64,
}

fn log_key(key: &str) -> String {
    format!("log/{key}")
}

/// A log as the service holds it: a JSON list (absent is empty).
fn messages(value: Option<&Value>) -> Vec<Value> {
    value.and_then(Value::as_array).cloned().unwrap_or_default()
}

impl Kafka {
    /// The node; `local_offsets` for the broken `--local-offsets` variant.
    pub fn new(local_offsets: bool) -> Kafka {
        Kafka {
            local_logs: local_offsets.then(BTreeMap::new),
            gathers: BTreeMap::new(),
            next_gather: 0,
        }
    }

    fn gather(&mut self, request: Envelope, answer: Answer, remaining: usize) -> u64 {
        let id = self.next_gather;
        self.next_gather += 1;
        self.gathers.insert(
            id,
            Gather {
                request,
                answer,
                remaining,
                found: serde_json::Map::new(),
                failed: None,
            },
        );
        id
    }

    /// Reads service keys at once for a poll or a list: `reads` are (the
    /// key in the reply, the service key, the offset a poll starts from).
    /// A missing service key is left out of the reply.
    fn read_each(
        &mut self,
        ctx: &mut Context<Self>,
        request: Envelope,
        answer: Answer,
        reads: Vec<(String, String, u64)>,
    ) {
        if reads.is_empty() {
            let id = self.gather(request, answer, 1);
            return self.gather_done(ctx, id, None);
        }
        let id = self.gather(request, answer, reads.len());
        for (key, service_key, from) in reads {
            ctx.rpc(
                SERVICE,
                Body::new("read").with("key", service_key),
                RPC_TIMEOUT_NS,
                move |node: &mut Kafka, ctx, result| {
                    let failure = match result {
                        Ok(body) => {
                            let found = match answer {
                                Answer::Poll => batch(&messages(body.get("value")), from),
                                _ => body.get("value").cloned(),
                            };
                            if let (Some(value), Some(g)) = (found, node.gathers.get_mut(&id)) {
                                g.found.insert(key, value);
                            }
                            None
                        }
                        Err(RpcError::Error {
                            code: ErrorCode::KeyDoesNotExist,
                            ..
                        }) => None,
                        Err(e) => Some(e.to_string()),
                    };
                    node.gather_done(ctx, id, failure);
                },
            );
        }
    }

    /// One of a gather's RPCs is done; the last one answers the request.
    fn gather_done(&mut self, ctx: &mut Context<Self>, id: u64, failure: Option<String>) {
        let g = self.gathers.get_mut(&id).expect("present");
        if failure.is_some() {
            g.failed = failure;
        }
        g.remaining -= 1;
        if g.remaining > 0 {
            return;
        }
        let g = self.gathers.remove(&id).expect("present");
        let reply = match (g.answer, g.failed) {
            (Answer::Commit, Some(why)) => {
                error(ErrorCode::Crash, format!("commit may be incomplete: {why}"))
            }
            (_, Some(why)) => error(ErrorCode::TemporarilyUnavailable, why),
            (Answer::Poll, None) => Body::new("poll_ok").with("msgs", Value::Object(g.found)),
            (Answer::List, None) => {
                Body::new("list_committed_offsets_ok").with("offsets", Value::Object(g.found))
            }
            (Answer::Commit, None) => Body::new("commit_offsets_ok"),
        };
        ctx.reply(&g.request, reply);
    }

    /// Appends `msg` to `key`'s log: read it, then cas it one longer.
    fn send(&mut self, ctx: &mut Context<Self>, request: Envelope, key: String, msg: Value) {
        if let Some(logs) = &mut self.local_logs {
            let log = logs.entry(key).or_default();
            log.push(msg);
            let offset = log.len() as u64 - 1;
            ctx.reply(&request, Body::new("send_ok").with("offset", offset));
            return;
        }
        ctx.rpc(
            SERVICE,
            Body::new("read").with("key", log_key(&key)),
            RPC_TIMEOUT_NS,
            move |node: &mut Kafka, ctx, result| {
                let current = match result {
                    Ok(body) => Some(body.get("value").cloned().unwrap_or(Value::Null)),
                    Err(RpcError::Error {
                        code: ErrorCode::KeyDoesNotExist,
                        ..
                    }) => None,
                    Err(e) => {
                        let text = format!("could not read the log of {key}: {e}");
                        ctx.reply(&request, error(ErrorCode::TemporarilyUnavailable, text));
                        return;
                    }
                };
                node.append(ctx, request, key, msg, current);
            },
        );
    }

    /// The cas half of a send: `current` is the log as read (`None`: the
    /// key does not exist yet).
    fn append(
        &mut self,
        ctx: &mut Context<Self>,
        request: Envelope,
        key: String,
        msg: Value,
        current: Option<Value>,
    ) {
        let mut log = messages(current.as_ref());
        let offset = log.len() as u64;
        log.push(msg.clone());
        let service_key = log_key(&key);
        cas(
            ctx,
            service_key,
            current,
            Value::from(log),
            move |node, ctx, cas| match cas {
                Cas::Done => ctx.reply(&request, Body::new("send_ok").with("offset", offset)),
                // Another append got there first: read again.
                Cas::Raced => node.send(ctx, request, key, msg),
                Cas::Failed(e) => {
                    // A timed-out cas may have appended: indefinite.
                    let code = if e.is_definite() {
                        ErrorCode::TemporarilyUnavailable
                    } else {
                        ErrorCode::Crash
                    };
                    let text = format!("could not append to the log of {key}: {e}");
                    ctx.reply(&request, error(code, text));
                }
            },
        );
    }

    fn poll(&mut self, ctx: &mut Context<Self>, request: Envelope, offsets: Vec<(String, u64)>) {
        if let Some(logs) = &self.local_logs {
            let mut msgs = serde_json::Map::new();
            for (key, from) in offsets {
                let log = logs.get(&key).map(Vec::as_slice).unwrap_or_default();
                if let Some(run) = batch(log, from) {
                    msgs.insert(key, run);
                }
            }
            ctx.reply(
                &request,
                Body::new("poll_ok").with("msgs", Value::Object(msgs)),
            );
            return;
        }
        let reads = offsets
            .into_iter()
            .map(|(key, from)| {
                let service_key = log_key(&key);
                (key, service_key, from)
            })
            .collect();
        self.read_each(ctx, request, Answer::Poll, reads);
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
                    Err(e) => return node.gather_done(ctx, id, Some(e.to_string())),
                };
                if current.is_some_and(|c| c >= offset) {
                    return node.gather_done(ctx, id, None);
                }
                let current = current.map(Value::from);
                cas(
                    ctx,
                    k,
                    current,
                    Value::from(offset),
                    move |node, ctx, cas| match cas {
                        Cas::Done => node.gather_done(ctx, id, None),
                        Cas::Raced => node.commit_one(ctx, id, key, offset),
                        Cas::Failed(e) => node.gather_done(ctx, id, Some(e.to_string())),
                    },
                );
            },
        );
    }

    fn list(&mut self, ctx: &mut Context<Self>, request: Envelope, keys: Vec<String>) {
        let reads = keys
            .into_iter()
            .map(|key| {
                let service_key = format!("committed/{key}");
                (key, service_key, 0)
            })
            .collect();
        self.read_each(ctx, request, Answer::List, reads);
    }
}

/// What a cas on the service came to.
enum Cas {
    Done,
    /// Another writer changed the key since it was read.
    Raced,
    Failed(RpcError),
}

/// Sets the service's `key` from `current` (`None`: the key does not exist
/// yet) to `to`, then calls `then` with the outcome.
fn cas(
    ctx: &mut Context<Kafka>,
    key: String,
    current: Option<Value>,
    to: Value,
    then: impl FnOnce(&mut Kafka, &mut Context<Kafka>, Cas) + 'static,
) {
    let create = current.is_none();
    let body = Body::kv_cas(key, current.unwrap_or(Value::Null), to, create);
    ctx.rpc(SERVICE, body, RPC_TIMEOUT_NS, move |node, ctx, result| {
        let outcome = match result {
            Ok(_) => Cas::Done,
            Err(RpcError::Error {
                code: ErrorCode::PreconditionFailed,
                ..
            }) => Cas::Raced,
            Err(e) => Cas::Failed(e),
        };
        then(node, ctx, outcome);
    });
}

/// `[[offset, msg], ...]` of `log` from `from` (at most
/// [`POLL_BATCH_LEN`]), or `None` if it has none there.
fn batch(log: &[Value], from: u64) -> Option<Value> {
    let from = usize::try_from(from).ok()?;
    let run: Vec<Value> = log
        .iter()
        .enumerate()
        .skip(from)
        .take(POLL_BATCH_LEN)
        .map(|(offset, msg)| Value::from(vec![Value::from(offset as u64), msg.clone()]))
        .collect();
    (!run.is_empty()).then(|| Value::from(run))
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
                let id = self.gather(msg, Answer::Commit, offsets.len());
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
