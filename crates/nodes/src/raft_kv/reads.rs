//! Reads by ReadIndex (Raft paper, section 8): the leader records its
//! commit index, confirms with a heartbeat round that it still leads, and
//! answers once it has applied that index. Nothing is written to the log.

use lightcone_raft::ReadState;
use lightcone_sdk::{Body, Context, Envelope, ErrorCode, NodeError, Value};

use super::requests::Pending;
use super::RaftKv;
use crate::replicated_kv::{error_body, unavailable};

impl RaftKv {
    /// `--unsafe-local-reads`: answers from this node's own state, leader
    /// or not, stale or not.
    pub(super) fn read_locally(&mut self, ctx: &mut Context<Self>, request: Envelope, body: &Body) {
        let reply = match body.get("key") {
            Some(key) => self.state.read(key).unwrap_or_else(|e| error_body(&e)),
            None => error_body(&NodeError::malformed("a read needs a `key`")),
        };
        ctx.reply(&request, reply);
    }

    /// The runtime flags: `{"type": "flag", "name": "degraded-reads",
    /// "value": true}` sets one and is answered `flag_ok` with the flag's
    /// name and value; an unknown flag is not-supported (10).
    pub(super) fn flag(&mut self, body: &Body) -> Result<Body, NodeError> {
        let name = body
            .get_str("name")
            .ok_or_else(|| NodeError::malformed("a flag needs a `name`"))?;
        let value = match body.get("value") {
            Some(Value::Bool(b)) => *b,
            _ => return Err(NodeError::malformed("a flag's `value` is true or false")),
        };
        match name {
            "degraded-reads" => self.degraded_reads = value,
            other => {
                return Err(NodeError::new(
                    ErrorCode::NotSupported,
                    format!("this node has no flag {other:?}; it has degraded-reads"),
                ))
            }
        }
        Ok(Body::new("flag_ok")
            .with("name", name.to_string())
            .with("value", value))
    }

    /// Whether `request` may get a degraded answer now: the flag is on and
    /// it is a client's read (a forwarded read is answered with an error,
    /// and the node the client asked degrades it from its own state).
    /// Not before a restarted node has applied the log it recovered
    /// (`degraded_floor`).
    pub(super) fn may_degrade(&self, request: &Envelope) -> bool {
        self.degraded_reads && request.body.kind == "read" && self.applied >= self.degraded_floor
    }

    /// The degraded answer to a read: this node's own state, possibly
    /// stale, marked `"degraded": true`. A key absent here reads as null
    /// (as lin-kv's histories record a definite key-does-not-exist), not
    /// as error 20, so that no client takes it for a linearizable answer.
    pub(super) fn read_degraded(
        &mut self,
        ctx: &mut Context<Self>,
        request: &Envelope,
        key: &Value,
    ) {
        let reply = match self.state.read(key) {
            Ok(body) => body,
            Err(_) => Body::new("read_ok").with("value", Value::Null),
        };
        let reply = reply.with("degraded", true);
        ctx.reply(request, reply);
    }

    /// Starts the ReadIndex of read `id` on the leader; it waits among
    /// `reads` until its read state arrives.
    pub(super) fn read_index(
        &mut self,
        ctx: &mut Context<Self>,
        request: Envelope,
        body: &Body,
        id: u64,
        deadline: u64,
    ) {
        let Some(raft) = self.raft.as_mut() else {
            ctx.reply(&request, error_body(&unavailable("not initialised yet")));
            return;
        };
        let Some(key) = body.get("key").cloned() else {
            let e = NodeError::malformed("a read needs a `key`");
            ctx.reply(&request, error_body(&e));
            return;
        };
        match raft.read_index(id.to_string().into_bytes()) {
            Ok(()) => {
                let pending = Pending {
                    request,
                    deadline,
                    key,
                };
                self.reads.insert(id, pending);
            }
            Err(_) if self.may_degrade(&request) => self.read_degraded(ctx, &request, &key),
            Err(e) => ctx.reply(&request, error_body(&unavailable(e.to_string()))),
        }
        self.drive(ctx);
    }

    /// Moves the reads Raft confirmed to wait for their index to be applied.
    pub(super) fn confirm_reads(&mut self, read_states: &[ReadState]) {
        for read in read_states {
            let Some(id) = std::str::from_utf8(&read.ctx)
                .ok()
                .and_then(|text| text.parse::<u64>().ok())
            else {
                continue;
            };
            if let Some(pending) = self.reads.remove(&id) {
                self.reads_ready.insert((read.index, id), pending);
            }
        }
    }

    /// Answers the confirmed reads whose index is applied.
    pub(super) fn serve_reads(&mut self, ctx: &mut Context<Self>) {
        while let Some(entry) = self.reads_ready.first_entry() {
            if entry.key().0 > self.applied {
                break;
            }
            let pending = entry.remove();
            let body = self
                .state
                .read(&pending.key)
                .unwrap_or_else(|e| error_body(&e));
            ctx.reply(&pending.request, body);
        }
    }

    /// After losing leadership: reads not yet confirmed will never be. They
    /// did nothing, so a definite error is true. (Proposals may still
    /// commit under the next leader: they wait for their entry or their
    /// timeout.)
    pub(super) fn fail_unconfirmed_reads(&mut self, ctx: &mut Context<Self>) {
        let reads = std::mem::take(&mut self.reads);
        for (_, pending) in reads {
            if self.may_degrade(&pending.request) {
                self.read_degraded(ctx, &pending.request, &pending.key);
                continue;
            }
            let e = unavailable("lost leadership before the read was confirmed; retry");
            ctx.reply(&pending.request, error_body(&e));
        }
    }
}
