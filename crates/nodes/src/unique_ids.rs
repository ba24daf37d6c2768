//! The unique-ids workload's node: `generate` -> `generate_ok{id}`.
//!
//! No coordination at all, so the node stays available through any
//! partition (`--availability total`). Node ids are unique in the cluster,
//! and every id starts with its node's id; what follows must never repeat
//! on that node, not even across a crash. Three schemes:
//!
//! * **HLC** (the default): a hybrid logical clock timestamp (Kulkarni et al.
//!   2014), `"n1-<wall_ns>-<logical>"`. Timestamps of one clock strictly
//!   increase, so they never repeat within a life. Physical time may start
//!   again from zero after a restart (a process's monotonic clock does), so
//!   the node keeps a durable *ceiling*: every timestamp it hands out has a
//!   wall time below the ceiling stored before it, and a new life starts its
//!   clock at the stored ceiling, above everything an earlier life gave.
//!   The ceiling is raised by [`CEILING_WINDOW_NS`] at a time, so storage is
//!   written about once a second, not once per id (the timestamp oracle's
//!   trick in Percolator, Peng and Dabek 2010, section 2.3).
//! * **`--epoch`**: the node's id, an epoch bumped in durable storage every
//!   time the node starts, and a counter (`"n1-3-17"`).
//! * **`--volatile`**: a deliberately broken variant of `--epoch` that keeps
//!   its epoch in memory only: after a crash it hands out the same ids
//!   again, which the unique-ids checker catches under `--nemesis kill`.

use lightcone_clock::{HlcTimestamp, HybridLogicalClock};
use lightcone_sdk::{Body, Context, Envelope, Node, NodeError, NANOS_PER_MS};

const EPOCH_KEY: &str = "unique-ids/epoch";
const CEILING_KEY: &str = "unique-ids/hlc-ceiling";
/// How far above the latest timestamp the durable ceiling is set.
pub const CEILING_WINDOW_NS: u64 = 1000 * NANOS_PER_MS;

/// How a node makes its ids unique.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Scheme {
    /// A hybrid logical clock under a durable ceiling.
    #[default]
    Hlc,
    /// A durable epoch and a counter.
    Epoch,
    /// An epoch kept in memory: repeats ids after a crash (broken on purpose).
    Volatile,
}

pub struct UniqueIds {
    scheme: Scheme,
    epoch: u64,
    next: u64,
    /// The HLC; no remote timestamps arrive, so no offset bound applies.
    clock: HybridLogicalClock,
    /// Every timestamp handed out has a wall time below this, durably.
    ceiling_ns: u64,
}

impl Default for UniqueIds {
    fn default() -> Self {
        UniqueIds::with_scheme(Scheme::default())
    }
}

impl UniqueIds {
    /// The `--epoch` scheme, or `--volatile` when `volatile`.
    pub fn new(volatile: bool) -> UniqueIds {
        UniqueIds::with_scheme(if volatile {
            Scheme::Volatile
        } else {
            Scheme::Epoch
        })
    }

    pub fn with_scheme(scheme: Scheme) -> UniqueIds {
        UniqueIds {
            scheme,
            epoch: 0,
            next: 0,
            clock: HybridLogicalClock::new(u64::MAX),
            ceiling_ns: 0,
        }
    }

    fn stored_u64(ctx: &mut Context<Self>, key: &str) -> Option<u64> {
        ctx.storage()
            .get(key)
            .and_then(|b| String::from_utf8(b).ok())
            .and_then(|s| s.parse::<u64>().ok())
    }

    /// The next HLC timestamp, with the durable ceiling above it.
    fn timestamp(&mut self, ctx: &mut Context<Self>) -> HlcTimestamp {
        let physical_ns = ctx.now();
        let t = match self.clock.now(physical_ns) {
            Ok(t) => t,
            // 2^32 ids within one nanosecond of wall time: move the wall on.
            Err(_) => {
                let next = HlcTimestamp::new(self.clock.last().wall_ns + 1, 0);
                self.clock
                    .update(next, physical_ns)
                    .expect("no offset bound and a fresh logical counter")
            }
        };
        if t.wall_ns >= self.ceiling_ns {
            // Durable before the timestamp is handed out.
            self.ceiling_ns = t.wall_ns.saturating_add(CEILING_WINDOW_NS);
            ctx.storage()
                .put(CEILING_KEY, self.ceiling_ns.to_string().as_bytes());
        }
        t
    }
}

impl Node for UniqueIds {
    fn init(&mut self, ctx: &mut Context<Self>) {
        match self.scheme {
            Scheme::Volatile => {}
            Scheme::Epoch => {
                let last = UniqueIds::stored_u64(ctx, EPOCH_KEY);
                self.epoch = last.map_or(0, |e| e + 1);
                // Durable before the first id of this epoch is handed out.
                ctx.storage()
                    .put(EPOCH_KEY, self.epoch.to_string().as_bytes());
            }
            Scheme::Hlc => {
                if let Some(ceiling) = UniqueIds::stored_u64(ctx, CEILING_KEY) {
                    // Start above everything an earlier life handed out.
                    let floor = HlcTimestamp::new(ceiling, 0);
                    self.clock
                        .update(floor, ctx.now())
                        .expect("no offset bound and a fresh logical counter");
                    self.ceiling_ns = ceiling;
                }
            }
        }
    }

    fn handle(&mut self, ctx: &mut Context<Self>, msg: Envelope) -> Result<(), NodeError> {
        match msg.body.kind.as_str() {
            "generate" => {
                let id = match self.scheme {
                    Scheme::Hlc => {
                        let t = self.timestamp(ctx);
                        format!("{}-{}-{}", ctx.node_id(), t.wall_ns, t.logical)
                    }
                    Scheme::Epoch | Scheme::Volatile => {
                        self.next += 1;
                        format!("{}-{}-{}", ctx.node_id(), self.epoch, self.next - 1)
                    }
                };
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
    use lightcone_sdk::{Harness, MemoryStorage, Storage};
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

    /// Two lives on one storage, each starting its clock at zero again (as
    /// a restarted process does).
    fn ids_over_two_lives(scheme: Scheme) -> (Vec<String>, Vec<String>) {
        let storage = MemoryStorage::new();
        let mut lives = Vec::new();
        for _ in 0..2 {
            let node = UniqueIds::with_scheme(scheme);
            let mut h = Harness::with_storage(node, "n0", &["n0"], Box::new(storage.clone()));
            let mut ids = Vec::new();
            for _ in 0..3 {
                for m in h.request("c1", Body::new("generate")) {
                    ids.extend(m.body.get_str("id").map(str::to_string));
                }
            }
            lives.push(ids);
        }
        (lives[0].clone(), lives[1].clone())
    }

    #[test]
    fn a_restarted_node_starts_a_new_epoch() {
        let (first, second) = ids_over_two_lives(Scheme::Epoch);
        assert_eq!(first[0], "n0-0-0");
        assert_eq!(second[0], "n0-1-0");
        assert!(first.iter().all(|id| !second.contains(id)));
    }

    #[test]
    fn the_volatile_variant_repeats_ids_after_a_restart() {
        let (first, second) = ids_over_two_lives(Scheme::Volatile);
        assert_eq!(first, second);
    }

    #[test]
    fn hlc_ids_start_above_the_ceiling_after_a_restart() {
        let (first, second) = ids_over_two_lives(Scheme::Hlc);
        assert_eq!(first, ["n0-0-1", "n0-0-2", "n0-0-3"]);
        let ceiling = CEILING_WINDOW_NS;
        assert_eq!(second[0], format!("n0-{ceiling}-2"));
        assert!(first.iter().all(|id| !second.contains(id)));
    }

    #[test]
    fn hlc_ids_follow_physical_time_and_write_storage_rarely() {
        let storage = MemoryStorage::new();
        let node = UniqueIds::default();
        let mut h = Harness::with_storage(node, "n0", &["n0"], Box::new(storage.clone()));
        let mut ids = BTreeSet::new();
        let mut ceilings = BTreeSet::new();
        for i in 0..3000u64 {
            if i > 0 {
                h.advance(NANOS_PER_MS);
            }
            for m in h.request("c1", Body::new("generate")) {
                if let Some(id) = m.body.get_str("id") {
                    assert!(ids.insert(id.to_string()), "duplicate {id}");
                }
            }
            ceilings.insert(storage.get(CEILING_KEY).unwrap());
        }
        assert_eq!(ids.len(), 3000);
        assert!(ids.contains(&format!("n0-{}-0", 2999 * NANOS_PER_MS)));
        assert_eq!(ceilings.len(), 3, "the ceiling moved once a second");
    }
}
