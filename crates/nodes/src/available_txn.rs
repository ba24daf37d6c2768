//! Totally-available transactions for txn-rw-register (fly.io's challenge
//! 6a-6c): every node answers every transaction on its own, partitioned or
//! not, and replicates its writes to the others in the background.
//!
//! * A transaction runs at once on the node's own registers, reading its own
//!   writes. Its final write of each key is stamped with a Lamport timestamp
//!   (`(counter, node index)`, so stamps are unique and totally ordered) and
//!   appended to the node's replication log.
//! * Every `--gossip-ms` the node sends each peer the log entries the peer
//!   has not acknowledged (at most [`BATCH_WRITES_MAX`] at a time), again
//!   and again until it does; a receiver applies each write unless it holds
//!   a newer stamp for the key (last writer wins), and acknowledges the
//!   batch. Entries every peer has acknowledged are dropped.
//!
//! What it guarantees: read committed, and no more. A transaction's writes
//! reach others only after it has finished (no dirty or intermediate
//! reads), each node applies a transaction's writes in one step, and a node
//! reads a value only after the transaction that wrote it ran (so no cycle
//! of write-read dependencies). It is not serializable, and real time means
//! nothing to it: checked as strict-serializable it fails, and lightcone's
//! tests show that.
//!
//! State is in memory only: a killed node comes back empty, with the
//! writes it had not yet replicated gone and a Lamport clock that starts
//! again (its new writes then lose to older ones elsewhere until its clock
//! catches up). None of that breaks read committed; fly.io's challenge
//! runs without kills.
//!
//! `--unsafe-dirty-writes` is broken on purpose: each write is replicated
//! as its micro-op runs, intermediate values included, and one transaction
//! in [`DIRTY_ABORT_ONE_IN`] then aborts (txn-conflict) after its writes
//! went out, so other nodes read uncommitted and intermediate writes: G1a
//! and G1b.

use std::collections::BTreeMap;

use lightcone_sdk::{Body, Context, Envelope, ErrorCode, Node, NodeError, Value, NANOS_PER_MS};

/// Writes sent to one peer in one message, at most.
pub const BATCH_WRITES_MAX: usize = 512;
/// With `--unsafe-dirty-writes`, one transaction in this many aborts after
/// its writes were replicated.
pub const DIRTY_ABORT_ONE_IN: u64 = 8;

/// The node's options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    pub gossip_ms: u64,
    pub unsafe_dirty_writes: bool,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            gossip_ms: 50,
            unsafe_dirty_writes: false,
        }
    }
}

/// A write's stamp: Lamport counter, then the writer's index.
type Stamp = (u64, u64);

/// One replicated write.
#[derive(Debug, Clone)]
struct Write {
    key: Value,
    value: Value,
    stamp: Stamp,
}

impl Write {
    fn to_json(&self) -> Value {
        Value::Array(vec![
            self.key.clone(),
            self.value.clone(),
            Value::from(self.stamp.0),
            Value::from(self.stamp.1),
        ])
    }

    fn from_json(v: &Value) -> Option<Write> {
        let [key, value, counter, index] = v.as_array()?.as_slice() else {
            return None;
        };
        Some(Write {
            key: key.clone(),
            value: value.clone(),
            stamp: (counter.as_u64()?, index.as_u64()?),
        })
    }
}

/// The totally-available transactional node.
pub struct AvailableTxn {
    options: Options,
    /// key (JSON text) -> (value, stamp).
    registers: BTreeMap<String, (Value, Stamp)>,
    clock: u64,
    index: u64,
    /// The replication log: entries from `log_start` on.
    log: Vec<Write>,
    log_start: u64,
    /// Per peer, log positions it has acknowledged (everything below).
    acked: BTreeMap<String, u64>,
    txn_count: u64,
}

const GOSSIP_TIMER: u64 = 1;

impl AvailableTxn {
    pub fn new(options: Options) -> AvailableTxn {
        AvailableTxn {
            options,
            registers: BTreeMap::new(),
            clock: 0,
            index: 0,
            log: Vec::new(),
            log_start: 0,
            acked: BTreeMap::new(),
            txn_count: 0,
        }
    }

    fn apply(&mut self, write: &Write) {
        self.clock = self.clock.max(write.stamp.0);
        let key = write.key.to_string();
        match self.registers.get(&key) {
            Some((_, stamp)) if *stamp >= write.stamp => {}
            _ => {
                self.registers
                    .insert(key, (write.value.clone(), write.stamp));
            }
        }
    }

    fn stamp(&mut self) -> Stamp {
        self.clock += 1;
        (self.clock, self.index)
    }

    fn log_end(&self) -> u64 {
        self.log_start + self.log.len() as u64
    }

    fn gossip(&mut self, ctx: &mut Context<Self>) {
        let end = self.log_end();
        for (peer, &acked) in &self.acked {
            if acked >= end {
                continue;
            }
            let from = (acked.max(self.log_start) - self.log_start) as usize;
            // At most BATCH_WRITES_MAX, but never part of a transaction.
            let mut len = (self.log.len() - from).min(BATCH_WRITES_MAX);
            while from + len < self.log.len()
                && self.log[from + len].stamp == self.log[from + len - 1].stamp
            {
                len += 1;
            }
            let batch: Vec<Value> = self.log[from..from + len]
                .iter()
                .map(Write::to_json)
                .collect();
            let upto = acked.max(self.log_start) + batch.len() as u64;
            ctx.send(
                peer,
                Body::new("replicate")
                    .with("from", acked.max(self.log_start))
                    .with("upto", upto)
                    .with("writes", Value::Array(batch)),
            );
        }
    }

    /// Drops the log entries every peer has acknowledged.
    fn compact(&mut self) {
        let low = self.acked.values().copied().min().unwrap_or(self.log_end());
        if low > self.log_start {
            let drop = (low - self.log_start) as usize;
            self.log.drain(..drop);
            self.log_start = low;
        }
    }

    fn transact(&mut self, ctx: &mut Context<Self>, msg: &Envelope) -> Result<Body, NodeError> {
        let txn = msg
            .body
            .get("txn")
            .and_then(Value::as_array)
            .ok_or_else(|| NodeError::malformed("txn needs a `txn` array of micro-ops"))?
            .clone();
        self.txn_count += 1;
        let dirty = self.options.unsafe_dirty_writes;
        let mut own: BTreeMap<String, (Value, Value)> = BTreeMap::new();
        let mut done = Vec::with_capacity(txn.len());
        for mop in &txn {
            let Some([f, key, value]) = mop.as_array().map(Vec::as_slice) else {
                return Err(NodeError::malformed(format!(
                    "micro-op {mop} is not [f, k, v]"
                )));
            };
            let k = key.to_string();
            match f.as_str() {
                Some("r") => {
                    let seen = own
                        .get(&k)
                        .map(|(_, v)| v.clone())
                        .or_else(|| self.registers.get(&k).map(|(v, _)| v.clone()))
                        .unwrap_or(Value::Null);
                    done.push(Value::Array(vec![f.clone(), key.clone(), seen]));
                }
                Some("w") => {
                    if dirty {
                        // Out at once, before the transaction has finished.
                        let write = Write {
                            key: key.clone(),
                            value: value.clone(),
                            stamp: self.stamp(),
                        };
                        self.apply(&write);
                        self.log.push(write);
                    }
                    own.insert(k, (key.clone(), value.clone()));
                    done.push(mop.clone());
                }
                _ => {
                    return Err(NodeError::malformed(format!(
                        "micro-op {mop}: this node serves txn-rw-register (r and w)"
                    )))
                }
            }
        }
        if dirty {
            if ctx.rng().below(DIRTY_ABORT_ONE_IN) == 0 {
                return Ok(Body::new("error")
                    .with("code", ErrorCode::TxnConflict.code())
                    .with("text", "aborted (after its writes went out)"));
            }
            return Ok(Body::new("txn_ok").with("txn", Value::Array(done)));
        }
        // One stamp for the whole transaction: its writes apply together.
        let stamp = self.stamp();
        for (_, (key, value)) in own {
            let write = Write { key, value, stamp };
            self.apply(&write);
            self.log.push(write);
        }
        Ok(Body::new("txn_ok").with("txn", Value::Array(done)))
    }
}

impl Node for AvailableTxn {
    fn init(&mut self, ctx: &mut Context<Self>) {
        let me = ctx.node_id().to_string();
        self.index = ctx.node_ids().iter().position(|n| *n == me).unwrap_or(0) as u64;
        self.acked = ctx
            .node_ids()
            .iter()
            .filter(|n| **n != me)
            .map(|n| (n.clone(), 0))
            .collect();
        ctx.set_timer(self.options.gossip_ms * NANOS_PER_MS, GOSSIP_TIMER);
    }

    fn timer(&mut self, ctx: &mut Context<Self>, _token: u64) {
        self.gossip(ctx);
        ctx.set_timer(self.options.gossip_ms * NANOS_PER_MS, GOSSIP_TIMER);
    }

    fn handle(&mut self, ctx: &mut Context<Self>, msg: Envelope) -> Result<(), NodeError> {
        match msg.body.kind.as_str() {
            "txn" => {
                let reply = self.transact(ctx, &msg)?;
                ctx.reply(&msg, reply);
            }
            "replicate" => {
                let writes = msg
                    .body
                    .get("writes")
                    .and_then(Value::as_array)
                    .ok_or_else(|| NodeError::malformed("replicate needs `writes`"))?;
                // One batch applies in one step: a transaction's writes
                // (one stamp) are never seen in part.
                for w in writes.iter().filter_map(Write::from_json) {
                    self.apply(&w);
                }
                let upto = msg.body.get_u64("upto").unwrap_or(0);
                ctx.send(&msg.src, Body::new("replicate_ok").with("upto", upto));
            }
            "replicate_ok" => {
                let upto = msg.body.get_u64("upto").unwrap_or(0);
                if let Some(acked) = self.acked.get_mut(&msg.src) {
                    *acked = (*acked).max(upto);
                }
                self.compact();
            }
            other => return Err(NodeError::not_supported(other)),
        }
        Ok(())
    }
}
