//! Committed entries applied to the state machine, and the answers to the
//! proposals this node made.

use lightcone_raft::Entry;
use lightcone_sdk::{Body, Context};

use super::options::Backup;
use super::state::{Command, Op};
use super::RaftKv;
use crate::replicated_kv::{digest, error_body};

impl RaftKv {
    /// Applies a committed entry (once), and answers it when this node
    /// proposed it.
    pub(super) fn apply_entry(&mut self, ctx: &mut Context<Self>, entry: &Entry) {
        if entry.index <= self.applied {
            return;
        }
        self.applied = entry.index;
        if self.options.log_applied {
            ctx.log(format!(
                "raft apply {} {} {}",
                entry.index,
                entry.term,
                digest(&entry.data)
            ));
        }
        if entry.is_noop() {
            return;
        }
        let command: Command = match serde_json::from_slice(&entry.data) {
            Ok(c) => c,
            Err(e) => {
                ctx.log(format!("entry {} is not a command: {e}", entry.index));
                return;
            }
        };
        if !self.state.remember(entry.index, command.id) {
            // A duplicate proposal of a command already applied (and
            // answered): it changes nothing.
            if command.origin == ctx.node_id() {
                self.proposals.remove(&command.id);
            }
            return;
        }
        let result = self.state.apply(&command.op);
        if command.origin != ctx.node_id() {
            return;
        }
        let Some(pending) = self.proposals.remove(&command.id) else {
            return;
        };
        let body = match (result, &command.op) {
            (Ok(_), Op::Backup) => {
                let backup = Backup {
                    index: entry.index,
                    term: entry.term,
                    state: self.state.pairs(),
                };
                Body::new("backup_ok").with(
                    "backup",
                    serde_json::to_value(backup).expect("backups serialize"),
                )
            }
            (Ok(body), _) => body,
            (Err(e), _) => error_body(&e),
        };
        ctx.reply(&pending.request, body);
    }
}
