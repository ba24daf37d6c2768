//! The unique-ids workload's node: `generate` -> `generate_ok{id}`.
//!
//! No coordination at all: an id is this node's id, its epoch and a local
//! counter (`"n1-3-17"`). Node ids are unique in the cluster; the epoch is
//! bumped in durable storage every time the node starts, so a node that
//! crashes and restarts never repeats an id of an earlier life; the counter
//! never repeats within one life. So ids are unique, and the node stays
//! available through any partition (`--availability total`).
//!
//! `--volatile` is a deliberately broken variant that keeps its epoch in
//! memory only: after a crash it hands out the same ids again, which the
//! unique-ids checker catches under `--nemesis kill`.

use lightcone_sdk::{Body, Context, Envelope, Node, NodeError};

const EPOCH_KEY: &str = "unique-ids/epoch";

#[derive(Default)]
pub struct UniqueIds {
    volatile: bool,
    epoch: u64,
    next: u64,
}

impl UniqueIds {
    pub fn new(volatile: bool) -> UniqueIds {
        UniqueIds {
            volatile,
            ..UniqueIds::default()
        }
    }

    /// Parses the node's options: `--volatile` or nothing.
    pub fn parse(args: &[String]) -> Result<UniqueIds, String> {
        match args {
            [] => Ok(UniqueIds::new(false)),
            [flag] if flag == "--volatile" => Ok(UniqueIds::new(true)),
            _ => Err(format!("the only option is --volatile, not {args:?}")),
        }
    }
}

impl Node for UniqueIds {
    fn init(&mut self, ctx: &mut Context<Self>) {
        if self.volatile {
            return;
        }
        let storage = ctx.storage();
        let last = storage
            .get(EPOCH_KEY)
            .and_then(|b| String::from_utf8(b).ok())
            .and_then(|s| s.parse::<u64>().ok());
        self.epoch = last.map_or(0, |e| e + 1);
        // Durable before the first id of this epoch is handed out.
        storage.put(EPOCH_KEY, self.epoch.to_string().as_bytes());
    }

    fn handle(&mut self, ctx: &mut Context<Self>, msg: Envelope) -> Result<(), NodeError> {
        match msg.body.kind.as_str() {
            "generate" => {
                let id = format!("{}-{}-{}", ctx.node_id(), self.epoch, self.next);
                self.next += 1;
                ctx.reply(&msg, Body::new("generate_ok").with("id", id));
                Ok(())
            }
            other => Err(NodeError::not_supported(other)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lightcone_sdk::{Harness, MemoryStorage, Runtime};
    use std::collections::BTreeSet;

    #[test]
    fn ids_differ_within_and_across_nodes() {
        let mut seen = BTreeSet::new();
        for node in ["n0", "n1"] {
            let mut h = Harness::new(UniqueIds::default(), node, &["n0", "n1"]);
            for _ in 0..100 {
                let r = h.request("c1", Body::new("generate"));
                assert_eq!(r[0].body.kind, "generate_ok");
                let id = r[0].body.get_str("id").unwrap().to_string();
                assert!(seen.insert(id.clone()), "duplicate id {id}");
            }
        }
        assert_eq!(seen.len(), 200);
    }

    fn ids_over_two_lives(volatile: bool) -> (Vec<String>, Vec<String>) {
        let storage = MemoryStorage::new();
        let mut lives = Vec::new();
        for _ in 0..2 {
            let mut rt =
                Runtime::with_storage(UniqueIds::new(volatile), 0, Box::new(storage.clone()));
            let init = Body::new("init")
                .with("node_id", "n0")
                .with("node_ids", vec!["n0"]);
            let mut init_env = Envelope::new("c0", "n0", init);
            init_env.body.msg_id = Some(1);
            rt.receive(0, init_env);
            let mut ids = Vec::new();
            for i in 0..3 {
                let mut g = Envelope::new("c1", "n0", Body::new("generate"));
                g.body.msg_id = Some(10 + i);
                rt.receive(0, g);
            }
            for m in rt.take_outbox() {
                if let Some(id) = m.body.get_str("id") {
                    ids.push(id.to_string());
                }
            }
            lives.push(ids);
        }
        (lives[0].clone(), lives[1].clone())
    }

    #[test]
    fn a_restarted_node_starts_a_new_epoch() {
        let (first, second) = ids_over_two_lives(false);
        assert_eq!(first[0], "n0-0-0");
        assert_eq!(second[0], "n0-1-0");
        assert!(first.iter().all(|id| !second.contains(id)));
    }

    #[test]
    fn the_volatile_variant_repeats_ids_after_a_restart() {
        let (first, second) = ids_over_two_lives(true);
        assert_eq!(first, second);
    }
}
