//! Client requests: served by the leader (writes and cas proposed as log
//! entries), forwarded to it by the other nodes, and timed out when they
//! wait too long.

use std::collections::BTreeMap;

use lightcone_raft::Role;
use lightcone_sdk::{Body, Context, Envelope, ErrorCode, NodeError, RpcError, Value, NANOS_PER_MS};

use super::state::{parse_op, Command};
use super::{RaftKv, DRIVE_TIMER};
use crate::replicated_kv::{error_body, forwarded_reply, unavailable};

/// A request waiting for its entry or its read.
pub(super) struct Pending {
    /// What to answer: the client's request or another node's `forward`.
    pub(super) request: Envelope,
    pub(super) deadline: u64,
    /// A read's key (null for writes).
    pub(super) key: Value,
}

impl RaftKv {
    /// Times out requests that waited too long.
    pub(super) fn expire(&mut self, ctx: &mut Context<Self>) {
        let now = ctx.now();
        for pending in take_expired(&mut self.proposals, now) {
            // Appended but not known to be applied: it may still commit.
            let e = NodeError::new(
                ErrorCode::Timeout,
                "the entry was not applied in time; it may or may not take effect",
            );
            ctx.reply(&pending.request, error_body(&e));
        }
        for pending in take_expired(&mut self.reads, now) {
            if self.may_degrade(&pending.request) {
                self.read_degraded(ctx, &pending.request, &pending.key);
                continue;
            }
            let e = unavailable("the leader could not confirm the read in time; retry");
            ctx.reply(&pending.request, error_body(&e));
        }
    }

    /// A client request (or one forwarded by another node): serve it here
    /// if this node leads, else pass it to the leader.
    /// `id` names the command (given by the node that forwarded it, so that
    /// a duplicated forward is the same command); `None` draws one.
    pub(super) fn request(
        &mut self,
        ctx: &mut Context<Self>,
        request: Envelope,
        body: &Body,
        id: Option<u64>,
    ) {
        // A client's read that may be degraded waits less, so that the
        // degraded answer comes before the client gives up.
        let degradable = self.may_degrade(&request);
        let Some(raft) = self.raft.as_mut() else {
            ctx.reply(&request, error_body(&unavailable("not initialised yet")));
            return;
        };
        let kind = body.kind.as_str();
        let wait_ms = if kind == "read" && degradable {
            self.options.degraded_read_ms.min(self.options.request_ms)
        } else {
            self.options.request_ms
        };
        let deadline = ctx.now() + wait_ms * NANOS_PER_MS;
        if kind == "read" && self.options.unsafe_local_reads {
            self.read_locally(ctx, request, body);
            return;
        }
        if raft.role() != Role::Leader {
            self.forward(ctx, request, body);
            return;
        }
        let id: u64 = id.unwrap_or_else(|| ctx.rng().next_u64());
        if kind == "read" {
            self.read_index(ctx, request, body, id, deadline);
            return;
        }
        let op = match parse_op(body) {
            Ok(op) => op,
            Err(e) => {
                ctx.reply(&request, error_body(&e));
                return;
            }
        };
        let command = Command {
            origin: ctx.node_id().to_string(),
            id,
            op,
        };
        let data = serde_json::to_vec(&command).expect("commands serialize");
        match raft.propose(data) {
            Ok(_) => {
                let pending = Pending {
                    request,
                    deadline,
                    key: Value::Null,
                };
                self.proposals.insert(id, pending);
            }
            // Refused: it will never be in the log.
            Err(e) => ctx.reply(&request, error_body(&unavailable(e.to_string()))),
        }
        self.schedule_drive(ctx);
    }

    /// Drives Raft once the messages at hand are handled, not at once: the
    /// runtime handles every message already received before it fires a
    /// timer due now, so the proposals and Raft messages among them go into
    /// one `Ready` and one write to storage (in process mode, one fsync for
    /// many entries, and for a follower one fsync for several appends).
    pub(super) fn schedule_drive(&mut self, ctx: &mut Context<Self>) {
        if !self.drive_scheduled {
            self.drive_scheduled = true;
            ctx.set_timer(0, DRIVE_TIMER);
        }
    }

    pub(super) fn forward(&mut self, ctx: &mut Context<Self>, request: Envelope, body: &Body) {
        let leader = self.raft.as_ref().and_then(|r| r.leader_id());
        let leader = leader.and_then(|id| RaftKv::name_of(ctx, id));
        let forwarded = request.body.kind == "forward";
        let is_read = body.kind == "read";
        let degradable = is_read && self.may_degrade(&request);
        let Some(leader) = leader.filter(|l| l != ctx.node_id() && !forwarded) else {
            if degradable {
                if let Some(key) = body.get("key").cloned() {
                    self.read_degraded(ctx, &request, &key);
                    return;
                }
            }
            let e = unavailable("no leader is known here; retry after the election");
            ctx.reply(&request, error_body(&e));
            return;
        };
        let timeout = if degradable {
            self.options.degraded_read_ms.min(self.options.request_ms)
        } else {
            self.options.request_ms
        } * NANOS_PER_MS;
        let key = body.get("key").cloned().unwrap_or(Value::Null);
        let inner = body.to_value();
        let id: u64 = ctx.rng().next_u64();
        ctx.rpc(
            leader,
            Body::new("forward").with("request", inner).with("id", id),
            timeout,
            move |node: &mut RaftKv, ctx, result| {
                // The leader could not serve the read (no longer leader,
                // not confirmed) or did not answer: with the flag on (now),
                // the degraded answer from this node's state.
                let unserved = matches!(
                    &result,
                    Err(RpcError::Timeout)
                        | Err(RpcError::Error {
                            code: ErrorCode::TemporarilyUnavailable,
                            ..
                        })
                );
                if is_read && unserved && node.may_degrade(&request) {
                    node.read_degraded(ctx, &request, &key);
                    return;
                }
                ctx.reply(&request, forwarded_reply(result, is_read));
            },
        );
    }
}

/// Removes and returns the requests whose deadline has passed.
fn take_expired(pending: &mut BTreeMap<u64, Pending>, now: u64) -> Vec<Pending> {
    let expired: Vec<u64> = pending
        .iter()
        .filter(|(_, p)| p.deadline <= now)
        .map(|(id, _)| *id)
        .collect();
    expired
        .into_iter()
        .filter_map(|id| pending.remove(&id))
        .collect()
}
