use lightcone_proto::{Body, Envelope, ErrorCode};
use lightcone_rng::Rng;

use crate::context::Context;
use crate::{MemoryStorage, Node, RpcError, Storage, SDK_NAME};

/// The sans-IO driver of one node: feed it messages and time, drain its
/// messages and log lines. The stdio runner, the mock harness and the
/// simulator are three interpreters of the same runtime.
pub struct Runtime<N: Node> {
    node: N,
    ctx: Context<N>,
}

impl<N: Node> Runtime<N> {
    /// A runtime whose RNG is seeded with `seed`, with storage that lives
    /// only as long as the runtime.
    pub fn new(node: N, seed: u64) -> Runtime<N> {
        Runtime::with_storage(node, seed, Box::new(MemoryStorage::new()))
    }

    /// A runtime whose node keeps durable state in `storage`.
    pub fn with_storage(node: N, seed: u64, storage: Box<dyn Storage>) -> Runtime<N> {
        Runtime {
            node,
            ctx: Context::new(Rng::new(seed, 0), storage),
        }
    }

    pub fn node(&self) -> &N {
        &self.node
    }

    pub fn node_mut(&mut self) -> &mut N {
        &mut self.node
    }

    pub fn node_id(&self) -> &str {
        &self.ctx.node_id
    }

    fn advance(&mut self, now: u64) {
        // A clock may not run backwards inside one node.
        self.ctx.now = self.ctx.now.max(now);
    }

    /// Handles one incoming message at time `now`.
    pub fn receive(&mut self, now: u64, msg: Envelope) {
        self.advance(now);
        if let Some(in_reply_to) = msg.body.in_reply_to {
            if let Some(pending) = self.ctx.rpcs.remove(&in_reply_to) {
                self.ctx
                    .rpc_deadlines
                    .remove(&(pending.deadline, in_reply_to));
                let result = if msg.body.is_error() {
                    Err(RpcError::Error {
                        code: ErrorCode::from_code(msg.body.get_i64("code").unwrap_or(-1)),
                        text: msg.body.get_str("text").unwrap_or("").to_string(),
                    })
                } else {
                    Ok(msg.body)
                };
                (pending.callback)(&mut self.node, &mut self.ctx, result);
                return;
            }
        }
        if msg.body.kind == "init" {
            self.init(msg);
            return;
        }
        // Only requests get error replies: answering a reply or an error
        // with an error would start an endless exchange between two nodes.
        let request_id = msg
            .body
            .msg_id
            .filter(|_| msg.body.in_reply_to.is_none() && !msg.body.is_error());
        let src = msg.src.clone();
        if let Err(e) = self.node.handle(&mut self.ctx, msg) {
            match request_id {
                Some(id) => {
                    let mut body = Body::new("error")
                        .with("code", e.code.code())
                        .with("text", e.text);
                    body.in_reply_to = Some(id);
                    self.ctx.send(src, body);
                }
                None => self
                    .ctx
                    .log(format!("error handling a message from {src}: {e}")),
            }
        }
    }

    fn init(&mut self, msg: Envelope) {
        self.ctx.node_id = msg.body.get_str("node_id").unwrap_or_default().to_string();
        self.ctx.node_ids = msg
            .body
            .get("node_ids")
            .and_then(|v| v.as_array())
            .map(|ids| {
                ids.iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        self.node.init(&mut self.ctx);
        self.ctx
            .reply(&msg, Body::new("init_ok").with("sdk", SDK_NAME));
    }

    /// Fires every timer and RPC timeout due at `now`.
    pub fn tick(&mut self, now: u64) {
        self.advance(now);
        loop {
            let timer = self.ctx.timers.keys().next().copied();
            let rpc = self.ctx.rpc_deadlines.keys().next().copied();
            let timer_due = timer.filter(|(t, _)| *t <= now);
            let rpc_due = rpc.filter(|(t, _)| *t <= now);
            match (timer_due, rpc_due) {
                (None, None) => break,
                // Fire in deadline order; a timer wins a tie.
                (Some(tk), r) if r.is_none_or(|(rt, _)| tk.0 <= rt) => {
                    let token = self.ctx.timers.remove(&tk).expect("key was just read");
                    self.node.timer(&mut self.ctx, token);
                }
                (_, Some(rk)) => {
                    self.ctx.rpc_deadlines.remove(&rk);
                    if let Some(pending) = self.ctx.rpcs.remove(&rk.1) {
                        (pending.callback)(&mut self.node, &mut self.ctx, Err(RpcError::Timeout));
                    }
                }
                (Some(_), None) => unreachable!("covered by the first arm"),
            }
        }
    }

    /// When `tick` next has something to do.
    pub fn next_deadline(&self) -> Option<u64> {
        self.ctx.next_deadline()
    }

    /// Messages the node sent since the last call.
    pub fn take_outbox(&mut self) -> Vec<Envelope> {
        std::mem::take(&mut self.ctx.outbox)
    }

    /// Log lines the node wrote since the last call.
    pub fn take_logs(&mut self) -> Vec<String> {
        std::mem::take(&mut self.ctx.logs)
    }
}

/// A runtime with its node type erased, so a simulator can hold a cluster
/// of different nodes.
pub trait NodeRuntime {
    fn node_id(&self) -> &str;
    fn receive(&mut self, now: u64, msg: Envelope);
    fn tick(&mut self, now: u64);
    fn next_deadline(&self) -> Option<u64>;
    fn take_outbox(&mut self) -> Vec<Envelope>;
    fn take_logs(&mut self) -> Vec<String>;
}

impl<N: Node> NodeRuntime for Runtime<N> {
    fn node_id(&self) -> &str {
        Runtime::node_id(self)
    }
    fn receive(&mut self, now: u64, msg: Envelope) {
        Runtime::receive(self, now, msg)
    }
    fn tick(&mut self, now: u64) {
        Runtime::tick(self, now)
    }
    fn next_deadline(&self) -> Option<u64> {
        Runtime::next_deadline(self)
    }
    fn take_outbox(&mut self) -> Vec<Envelope> {
        Runtime::take_outbox(self)
    }
    fn take_logs(&mut self) -> Vec<String> {
        Runtime::take_logs(self)
    }
}
