//! The unique-ids workload's node: `generate` -> `generate_ok{id}`.
//!
//! No coordination at all: an id is this node's id and a local counter
//! (`"n1-17"`). Node ids are unique in the cluster and the counter never
//! repeats within one run of the node, so ids are unique and the node stays
//! available through any partition (`--availability total`).

use lightcone_sdk::{Body, Context, Envelope, Node, NodeError};

#[derive(Default)]
pub struct UniqueIds {
    next: u64,
}

impl Node for UniqueIds {
    fn handle(&mut self, ctx: &mut Context<Self>, msg: Envelope) -> Result<(), NodeError> {
        match msg.body.kind.as_str() {
            "generate" => {
                let id = format!("{}-{}", ctx.node_id(), self.next);
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
    use lightcone_sdk::Harness;
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
}
