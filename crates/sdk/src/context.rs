use std::collections::BTreeMap;

use lightcone_proto::{Body, Envelope, ErrorCode};
use lightcone_rng::Rng;

use crate::{Node, Storage};

/// A timer handle, for [`Context::cancel_timer`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TimerId(u64);

/// Why an RPC got no successful reply.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RpcError {
    #[error("no reply within the RPC's timeout")]
    Timeout,
    #[error("error {code:?}: {text}")]
    Error { code: ErrorCode, text: String },
}

impl RpcError {
    /// True when the request certainly did not take effect.
    pub fn is_definite(&self) -> bool {
        match self {
            RpcError::Timeout => false,
            RpcError::Error { code, .. } => code.is_definite(),
        }
    }
}

pub(crate) type Callback<N> = Box<dyn FnOnce(&mut N, &mut Context<N>, Result<Body, RpcError>)>;

pub(crate) struct PendingRpc<N> {
    pub deadline: u64,
    pub callback: Callback<N>,
}

/// Everything a node may do, and all it may know of the world.
///
/// Effects (messages, logs) are collected here and drained by whoever runs
/// the node: the stdio runner, the mock harness or the simulator.
pub struct Context<N> {
    pub(crate) node_id: String,
    pub(crate) node_ids: Vec<String>,
    pub(crate) now: u64,
    pub(crate) rng: Rng,
    pub(crate) next_msg_id: u64,
    pub(crate) next_timer_id: u64,
    pub(crate) outbox: Vec<Envelope>,
    pub(crate) logs: Vec<String>,
    /// Timers by (deadline, id), so they fire in a fixed order.
    pub(crate) timers: BTreeMap<(u64, TimerId), u64>,
    pub(crate) rpcs: BTreeMap<u64, PendingRpc<N>>,
    /// RPC deadlines by (deadline, msg_id).
    pub(crate) rpc_deadlines: BTreeMap<(u64, u64), ()>,
    pub(crate) storage: Box<dyn Storage>,
}

impl<N: Node> Context<N> {
    pub(crate) fn new(rng: Rng, storage: Box<dyn Storage>) -> Context<N> {
        Context {
            node_id: String::new(),
            node_ids: Vec::new(),
            now: 0,
            rng,
            next_msg_id: 1,
            next_timer_id: 0,
            outbox: Vec::new(),
            logs: Vec::new(),
            timers: BTreeMap::new(),
            rpcs: BTreeMap::new(),
            rpc_deadlines: BTreeMap::new(),
            storage,
        }
    }

    /// Durable storage: what is put here survives a crash of the node
    /// (memory does not).
    pub fn storage(&mut self) -> &mut dyn Storage {
        self.storage.as_mut()
    }

    /// This node's id (empty before init).
    pub fn node_id(&self) -> &str {
        &self.node_id
    }

    /// Every node of the cluster, this one included, in the order init gave.
    pub fn node_ids(&self) -> &[String] {
        &self.node_ids
    }

    /// The other nodes of the cluster.
    pub fn peers(&self) -> impl Iterator<Item = &String> {
        self.node_ids.iter().filter(move |id| **id != self.node_id)
    }

    /// Nanoseconds on this node's clock. In process mode it is monotonic
    /// time since the node started; in the simulator it is virtual time and
    /// may be skewed on purpose.
    pub fn now(&self) -> u64 {
        self.now
    }

    /// The node's random number generator, seeded by whoever runs it.
    pub fn rng(&mut self) -> &mut Rng {
        &mut self.rng
    }

    /// Writes a line to the node's log (stderr in process mode).
    pub fn log(&mut self, line: impl Into<String>) {
        self.logs.push(line.into());
    }

    fn take_msg_id(&mut self) -> u64 {
        let id = self.next_msg_id;
        self.next_msg_id += 1;
        id
    }

    /// Sends a message; returns the `msg_id` it was given.
    pub fn send(&mut self, dest: impl Into<String>, mut body: Body) -> u64 {
        let msg_id = self.take_msg_id();
        body.msg_id = Some(msg_id);
        self.outbox
            .push(Envelope::new(self.node_id.clone(), dest, body));
        msg_id
    }

    /// Answers `request`: sends `body` back with `in_reply_to` set.
    pub fn reply(&mut self, request: &Envelope, mut body: Body) {
        body.in_reply_to = request.body.msg_id;
        self.send(request.src.clone(), body);
    }

    /// Sends a request and calls `callback` with the reply's body, an error
    /// reply as [`RpcError::Error`], or [`RpcError::Timeout`] after
    /// `timeout_ns`. A reply arriving after the timeout is dropped.
    pub fn rpc(
        &mut self,
        dest: impl Into<String>,
        body: Body,
        timeout_ns: u64,
        callback: impl FnOnce(&mut N, &mut Context<N>, Result<Body, RpcError>) + 'static,
    ) -> u64 {
        let msg_id = self.send(dest, body);
        let deadline = self.now.saturating_add(timeout_ns);
        self.rpcs.insert(
            msg_id,
            PendingRpc {
                deadline,
                callback: Box::new(callback),
            },
        );
        self.rpc_deadlines.insert((deadline, msg_id), ());
        msg_id
    }

    /// Number of RPCs waiting for a reply.
    pub fn rpcs_pending(&self) -> usize {
        self.rpcs.len()
    }

    /// Calls [`Node::timer`] with `token` after `delay_ns`.
    pub fn set_timer(&mut self, delay_ns: u64, token: u64) -> TimerId {
        let id = TimerId(self.next_timer_id);
        self.next_timer_id += 1;
        self.timers
            .insert((self.now.saturating_add(delay_ns), id), token);
        id
    }

    /// Cancels a timer; says whether it was still pending.
    pub fn cancel_timer(&mut self, id: TimerId) -> bool {
        let key = self.timers.keys().find(|(_, t)| *t == id).copied();
        key.map(|k| self.timers.remove(&k).is_some())
            .unwrap_or(false)
    }

    pub(crate) fn next_deadline(&self) -> Option<u64> {
        let timer = self.timers.keys().next().map(|(t, _)| *t);
        let rpc = self.rpc_deadlines.keys().next().map(|(t, _)| *t);
        match (timer, rpc) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}
