//! A Datomic-style transactor for txn-list-append and txn-rw-register
//! (Maelstrom's guide, doc/05-datomic): immutable values behind one mutable
//! identity.
//!
//! * **Values never change.** The database is a tree of immutable values,
//!   "thunks", each stored once under a fresh id in a key-value service
//!   (`--thunks lww-kv` by default, or `lin-kv`): a map thunk lists, for each
//!   key, the id of the thunk holding that key's value (a list for
//!   list-append, a scalar for registers). An id is never written twice, so
//!   a thunk read once is true forever and is cached (bounded,
//!   [`CACHE_THUNKS_MAX`]).
//! * **Only the identity moves.** One mutable cell, the root pointer (lin-kv
//!   key `root`), names the current map thunk. A transaction reads the root,
//!   loads the map and the values it touches (a snapshot: every thunk it
//!   reaches is fixed), runs its micro-ops on that snapshot, writes the
//!   thunks it made (new values and a new map) and then moves the root by
//!   compare-and-set from the map it read to the map it made. The cas is the
//!   commit point: a transaction that loses the race to another node reads
//!   the new root and runs again (at most `--conflict-retries` times), then
//!   fails with txn-conflict (30). A read-only transaction commits at its
//!   root read and writes nothing.
//! * **Eventually consistent thunks.** lww-kv may not yet show a thunk that
//!   another node wrote; since ids are never reused, a missing thunk is one
//!   not visible yet, and the read is retried (at most
//!   [`LOAD_ATTEMPTS_MAX`] times).
//!
//! Strict-serializable: the root is linearizable and each transaction's
//! effects become visible, all at once, at its cas. Outcomes: a failure
//! before the cas is definite (nothing was moved); a cas that times out may
//! have moved the root, so the client hears an indefinite error (crash, 13).
//!
//! `--unsafe-lww-thunks` is the guide's first try at lww-kv, broken on
//! purpose: thunks in lww-kv without the cache, and a thunk not found read
//! as empty. A transaction can then miss a value another one committed
//! before it began: the guide's G-single-realtime.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;

use lightcone_sdk::{Body, Context, Envelope, ErrorCode, Node, NodeError, RpcError, Value};

use crate::RPC_TIMEOUT_NS;

/// The lin-kv key of the root pointer.
pub const ROOT_KEY: &str = "root";
/// Thunks kept in memory at most; the oldest go first.
pub const CACHE_THUNKS_MAX: usize = 4096;
/// Buckets of the map: a commit writes the map (this many ids) and the
/// buckets of the keys it wrote, not every key.
pub const BUCKETS: usize = 32;
/// Reads of one thunk before a transaction gives up on it.
pub const LOAD_ATTEMPTS_MAX: u32 = 100;
/// In-flight transactions at most; more are refused (temporarily
/// unavailable, 11).
pub const TXNS_IN_FLIGHT_MAX: usize = 10_000;

/// Where the thunks live and how they are read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// The service holding the thunks: `lww-kv` or `lin-kv`.
    pub thunks: String,
    /// Runs of a transaction after its first that lost the race for the
    /// root, before it fails with txn-conflict.
    pub conflict_retries: u32,
    /// The broken variant: no cache, a missing thunk is empty.
    pub unsafe_lww_thunks: bool,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            thunks: "lww-kv".into(),
            conflict_retries: 3,
            unsafe_lww_thunks: false,
        }
    }
}

/// A bounded map from thunk id to its value; ids are never reused, so an
/// entry never goes stale.
#[derive(Debug, Default)]
struct Cache {
    values: BTreeMap<String, Arc<Value>>,
    order: VecDeque<String>,
}

impl Cache {
    fn get(&self, id: &str) -> Option<&Arc<Value>> {
        self.values.get(id)
    }

    fn insert(&mut self, id: String, value: Arc<Value>) {
        if self.values.contains_key(&id) {
            return;
        }
        if self.order.len() >= CACHE_THUNKS_MAX {
            if let Some(old) = self.order.pop_front() {
                self.values.remove(&old);
            }
        }
        self.order.push_back(id.clone());
        self.values.insert(id, value);
    }
}

/// One micro-op: its kind (`r`, `append`, `w`), key and value.
#[derive(Debug, Clone)]
struct Mop {
    f: String,
    key: Value,
    value: Value,
}

/// A transaction being run.
struct Pending {
    request: Envelope,
    mops: Vec<Mop>,
    /// Runs so far that lost the race for the root.
    conflicts: u32,
    /// The root as read: `None` before it is read, `Some(None)` for an
    /// empty database.
    root: Option<Option<String>>,
    /// Loads in flight; the transaction goes on when none are.
    loading: usize,
    /// Thunks loaded for this run (all of them when the cache is off).
    loaded: BTreeMap<String, Arc<Value>>,
    /// Writes in flight before the cas.
    writing: usize,
    failed: Option<(ErrorCode, String)>,
}

/// The transactor node.
pub struct Transactor {
    options: Options,
    cache: Cache,
    txns: BTreeMap<u64, Pending>,
    next_txn: u64,
    /// Fresh thunk ids: `<node>-<incarnation>-<n>`.
    incarnation: u64,
    next_thunk: u64,
}

/// A key as the map thunk stores it: its JSON text (keys may be integers
/// or strings).
fn key_text(key: &Value) -> String {
    key.to_string()
}

/// A bucket thunk's value: `[[key, value thunk id], ...]`, by key text.
fn entries_of(value: &Value) -> BTreeMap<String, (Value, String)> {
    value
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|pair| {
            let key = pair.get(0)?.clone();
            let id = pair.get(1)?.as_str()?.to_string();
            Some((key_text(&key), (key, id)))
        })
        .collect()
}

fn entries_value(entries: &BTreeMap<String, (Value, String)>) -> Value {
    Value::Array(
        entries
            .values()
            .map(|(k, id)| Value::Array(vec![k.clone(), Value::from(id.clone())]))
            .collect(),
    )
}

/// A map thunk's value: [`BUCKETS`] bucket thunk ids, `null` for an empty
/// bucket.
fn buckets_of(value: &Value) -> Vec<Option<String>> {
    let mut buckets: Vec<Option<String>> = value
        .as_array()
        .map(|items| {
            items
                .iter()
                .map(|b| b.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    buckets.resize(BUCKETS, None);
    buckets
}

fn buckets_value(buckets: &[Option<String>]) -> Value {
    Value::Array(
        buckets
            .iter()
            .map(|b| b.clone().map(Value::from).unwrap_or(Value::Null))
            .collect(),
    )
}

/// The bucket of a key: FNV-1a of its JSON text.
fn bucket_of(key: &Value) -> usize {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in key_text(key).bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    (hash % BUCKETS as u64) as usize
}

fn error(code: ErrorCode, text: impl Into<String>) -> Body {
    Body::new("error")
        .with("code", code.code())
        .with("text", Value::from(text.into()))
}

impl Transactor {
    pub fn new(options: Options) -> Transactor {
        Transactor {
            options,
            cache: Cache::default(),
            txns: BTreeMap::new(),
            next_txn: 0,
            incarnation: 0,
            next_thunk: 0,
        }
    }

    fn caching(&self) -> bool {
        !self.options.unsafe_lww_thunks
    }

    fn thunk_service(&self) -> &str {
        if self.options.unsafe_lww_thunks {
            "lww-kv"
        } else {
            &self.options.thunks
        }
    }

    fn fresh_id(&mut self, ctx: &Context<Self>) -> String {
        self.next_thunk += 1;
        format!(
            "{}-{:x}-{}",
            ctx.node_id(),
            self.incarnation,
            self.next_thunk
        )
    }

    /// A thunk's value if this run or the cache has it.
    fn known(&self, id: &str, txn: &Pending) -> Option<Arc<Value>> {
        txn.loaded
            .get(id)
            .or_else(|| self.caching().then(|| self.cache.get(id)).flatten())
            .cloned()
    }

    /// Runs transaction `id` as far as it can go: reads the root, loads
    /// the map, the buckets and the values it needs, and once everything
    /// is at hand commits it.
    fn advance(&mut self, ctx: &mut Context<Self>, id: u64) {
        let Some(txn) = self.txns.get(&id) else {
            return;
        };
        if txn.loading > 0 || txn.writing > 0 {
            return;
        }
        if let Some((code, why)) = txn.failed.clone() {
            let txn = self.txns.remove(&id).expect("present");
            ctx.reply(&txn.request, error(code, why));
            return;
        }
        let Some(root) = txn.root.clone() else {
            return self.read_root(ctx, id);
        };
        let buckets = match &root {
            None => vec![None; BUCKETS],
            Some(map_id) => match self.known(map_id, txn) {
                Some(map) => buckets_of(&map),
                None => return self.load(ctx, id, vec![map_id.clone()]),
            },
        };
        // The buckets of the keys touched, then the values in them.
        let mut missing = BTreeSet::new();
        for m in &txn.mops {
            if let Some(bucket) = &buckets[bucket_of(&m.key)] {
                if self.known(bucket, txn).is_none() {
                    missing.insert(bucket.clone());
                }
            }
        }
        if missing.is_empty() {
            for m in &txn.mops {
                if let Some(thunk) = self.value_thunk(txn, &buckets, &m.key) {
                    if self.known(&thunk, txn).is_none() {
                        missing.insert(thunk);
                    }
                }
            }
        }
        if !missing.is_empty() {
            return self.load(ctx, id, missing.into_iter().collect());
        }
        self.execute(ctx, id, buckets);
    }

    /// The id of the thunk holding `key`'s value in the snapshot, if the
    /// key has one (its bucket must be loaded).
    fn value_thunk(
        &self,
        txn: &Pending,
        buckets: &[Option<String>],
        key: &Value,
    ) -> Option<String> {
        let bucket = buckets[bucket_of(key)].as_ref()?;
        let entries = self.known(bucket, txn)?;
        let pair = entries
            .as_array()?
            .iter()
            .find(|pair| pair.get(0) == Some(key))?;
        pair.get(1)?.as_str().map(str::to_string)
    }

    fn read_root(&mut self, ctx: &mut Context<Self>, id: u64) {
        ctx.rpc(
            "lin-kv",
            Body::new("read").with("key", ROOT_KEY),
            RPC_TIMEOUT_NS,
            move |node: &mut Transactor, ctx, result| {
                let Some(txn) = node.txns.get_mut(&id) else {
                    return;
                };
                match result {
                    Ok(body) => {
                        txn.root = Some(body.get_str("value").map(str::to_string));
                    }
                    Err(RpcError::Error {
                        code: ErrorCode::KeyDoesNotExist,
                        ..
                    }) => txn.root = Some(None),
                    Err(e) => {
                        txn.failed = Some((
                            ErrorCode::TemporarilyUnavailable,
                            format!("could not read the root: {e}"),
                        ));
                    }
                }
                node.advance(ctx, id);
            },
        );
    }

    /// Loads thunks into the transaction (and the cache), then advances.
    fn load(&mut self, ctx: &mut Context<Self>, id: u64, thunks: Vec<String>) {
        let txn = self.txns.get_mut(&id).expect("present");
        txn.loading += thunks.len();
        for thunk in thunks {
            self.load_one(ctx, id, thunk, 1);
        }
    }

    fn load_one(&mut self, ctx: &mut Context<Self>, id: u64, thunk: String, attempt: u32) {
        let service = self.thunk_service().to_string();
        ctx.rpc(
            &service,
            Body::new("read").with("key", thunk.clone()),
            RPC_TIMEOUT_NS,
            move |node: &mut Transactor, ctx, result| {
                let found = match result {
                    Ok(mut body) => Some(body.fields.remove("value").unwrap_or(Value::Null)),
                    Err(RpcError::Error {
                        code: ErrorCode::KeyDoesNotExist,
                        ..
                    }) if node.options.unsafe_lww_thunks => Some(Value::Null),
                    Err(RpcError::Error {
                        code: ErrorCode::KeyDoesNotExist,
                        ..
                    }) if attempt < LOAD_ATTEMPTS_MAX => {
                        // Not visible here yet: ids are never reused, so
                        // it will be.
                        return node.load_one(ctx, id, thunk, attempt + 1);
                    }
                    Err(e) => {
                        if let Some(txn) = node.txns.get_mut(&id) {
                            txn.failed = Some((
                                ErrorCode::TemporarilyUnavailable,
                                format!("could not read thunk {thunk}: {e}"),
                            ));
                        }
                        None
                    }
                };
                let caching = node.caching();
                if let Some(value) = found {
                    let value = Arc::new(value);
                    if caching {
                        node.cache.insert(thunk.clone(), Arc::clone(&value));
                    }
                    if let Some(txn) = node.txns.get_mut(&id) {
                        txn.loaded.insert(thunk, value);
                    }
                }
                if let Some(txn) = node.txns.get_mut(&id) {
                    txn.loading -= 1;
                }
                node.advance(ctx, id);
            },
        );
    }

    /// Runs the micro-ops on the snapshot (`buckets`, everything touched
    /// loaded); a read-only transaction answers at once, a writing one
    /// writes its thunks (the values, their buckets, a new map) and then
    /// moves the root.
    fn execute(&mut self, ctx: &mut Context<Self>, id: u64, mut buckets: Vec<Option<String>>) {
        let txn = self.txns.get(&id).expect("present");
        // The transaction's view: key -> value, starting from the snapshot.
        let mut values: BTreeMap<String, Value> = BTreeMap::new();
        let mut written: BTreeMap<String, (Value, Value)> = BTreeMap::new();
        let mut done = Vec::with_capacity(txn.mops.len());
        for m in &txn.mops {
            let k = key_text(&m.key);
            let current = values.entry(k.clone()).or_insert_with(|| {
                self.value_thunk(txn, &buckets, &m.key)
                    .and_then(|thunk| self.known(&thunk, txn))
                    .map(|v| Value::clone(&v))
                    .unwrap_or(Value::Null)
            });
            match m.f.as_str() {
                "r" => {}
                "append" => {
                    let mut list = current.as_array().cloned().unwrap_or_default();
                    list.push(m.value.clone());
                    *current = Value::Array(list);
                }
                _ => *current = m.value.clone(),
            }
            let shown = if m.f == "r" {
                current.clone()
            } else {
                m.value.clone()
            };
            if m.f != "r" {
                written.insert(k, (m.key.clone(), current.clone()));
            }
            done.push(Value::Array(vec![
                Value::from(m.f.as_str()),
                m.key.clone(),
                shown,
            ]));
        }
        let completed = Value::Array(done);
        let root = txn.root.clone().expect("read");
        if written.is_empty() {
            let txn = self.txns.remove(&id).expect("present");
            ctx.reply(&txn.request, Body::new("txn_ok").with("txn", completed));
            return;
        }
        // New thunks: each written value, each bucket it lands in, and the
        // map; all written before the root moves.
        let mut touched: BTreeMap<usize, BTreeMap<String, (Value, String)>> = BTreeMap::new();
        for (key, _) in written.values() {
            let b = bucket_of(key);
            touched.entry(b).or_insert_with(|| {
                buckets[b]
                    .as_ref()
                    .and_then(|bucket| self.known(bucket, txn))
                    .map(|e| entries_of(&e))
                    .unwrap_or_default()
            });
        }
        let mut writes: Vec<(String, Value)> = Vec::with_capacity(2 * written.len() + 1);
        for (k, (key, value)) in written {
            let thunk = self.fresh_id(ctx);
            let entries = touched.get_mut(&bucket_of(&key)).expect("inserted");
            entries.insert(k, (key, thunk.clone()));
            writes.push((thunk, value));
        }
        for (b, entries) in touched {
            let thunk = self.fresh_id(ctx);
            writes.push((thunk.clone(), entries_value(&entries)));
            buckets[b] = Some(thunk);
        }
        let map_id = self.fresh_id(ctx);
        writes.push((map_id.clone(), buckets_value(&buckets)));
        let txn = self.txns.get_mut(&id).expect("present");
        txn.writing = writes.len();
        let service = self.thunk_service().to_string();
        for (thunk, value) in writes {
            if self.caching() {
                self.cache.insert(thunk.clone(), Arc::new(value.clone()));
            }
            let (map_id, root, completed) = (map_id.clone(), root.clone(), completed.clone());
            ctx.rpc(
                &service,
                Body::new("write")
                    .with("key", thunk.clone())
                    .with("value", value),
                RPC_TIMEOUT_NS,
                move |node: &mut Transactor, ctx, result| {
                    let Some(txn) = node.txns.get_mut(&id) else {
                        return;
                    };
                    if let Err(e) = result {
                        // The root has not moved: nothing took effect.
                        txn.failed = Some((
                            ErrorCode::TemporarilyUnavailable,
                            format!("could not write thunk {thunk}: {e}"),
                        ));
                    }
                    txn.writing -= 1;
                    if txn.writing > 0 {
                        return;
                    }
                    if txn.failed.is_some() {
                        return node.advance(ctx, id);
                    }
                    node.commit(ctx, id, root, map_id, completed);
                },
            );
        }
    }

    /// Moves the root from the map read to the map made.
    fn commit(
        &mut self,
        ctx: &mut Context<Self>,
        id: u64,
        from: Option<String>,
        to: String,
        completed: Value,
    ) {
        let create = from.is_none();
        let body = Body::kv_cas(
            ROOT_KEY.to_string(),
            from.map(Value::from).unwrap_or(Value::Null),
            Value::from(to),
            create,
        );
        ctx.rpc(
            "lin-kv",
            body,
            RPC_TIMEOUT_NS,
            move |node: &mut Transactor, ctx, result| {
                let retries = node.options.conflict_retries;
                let Some(txn) = node.txns.get_mut(&id) else {
                    return;
                };
                match result {
                    Ok(_) => {
                        let txn = node.txns.remove(&id).expect("present");
                        ctx.reply(&txn.request, Body::new("txn_ok").with("txn", completed));
                    }
                    Err(RpcError::Error {
                        code:
                            ErrorCode::PreconditionFailed
                            | ErrorCode::KeyDoesNotExist
                            | ErrorCode::KeyAlreadyExists,
                        ..
                    }) => {
                        // Another transaction moved the root first.
                        if txn.conflicts < retries {
                            txn.conflicts += 1;
                            txn.root = None;
                            txn.loaded.clear();
                            node.advance(ctx, id);
                        } else {
                            let txn = node.txns.remove(&id).expect("present");
                            let text = format!(
                                "another transaction moved the root first, {} times",
                                txn.conflicts + 1
                            );
                            ctx.reply(&txn.request, error(ErrorCode::TxnConflict, text));
                        }
                    }
                    Err(e) => {
                        let txn = node.txns.remove(&id).expect("present");
                        let code = if e.is_definite() {
                            ErrorCode::TemporarilyUnavailable
                        } else {
                            ErrorCode::Crash
                        };
                        let text = format!("could not move the root: {e}");
                        ctx.reply(&txn.request, error(code, text));
                    }
                }
            },
        );
    }
}

/// The micro-ops of a `txn` request.
fn parse_txn(body: &Body) -> Result<Vec<Mop>, NodeError> {
    let txn = body
        .get("txn")
        .and_then(Value::as_array)
        .ok_or_else(|| NodeError::malformed("txn needs a `txn` array of micro-ops"))?;
    txn.iter()
        .map(|mop| match mop.as_array().map(Vec::as_slice) {
            Some([f, key, value]) if matches!(f.as_str(), Some("r" | "append" | "w")) => Ok(Mop {
                f: f.as_str().expect("matched").to_string(),
                key: key.clone(),
                value: value.clone(),
            }),
            _ => Err(NodeError::malformed(format!(
                "micro-op {mop} is not [\"r\"|\"append\"|\"w\", key, value]"
            ))),
        })
        .collect()
}

impl Node for Transactor {
    fn init(&mut self, ctx: &mut Context<Self>) {
        // Fresh ids stay fresh across restarts: each incarnation draws its
        // own prefix.
        self.incarnation = ctx.rng().next_u64();
    }

    fn handle(&mut self, ctx: &mut Context<Self>, msg: Envelope) -> Result<(), NodeError> {
        match msg.body.kind.as_str() {
            "txn" => {
                let mops = parse_txn(&msg.body)?;
                if self.txns.len() >= TXNS_IN_FLIGHT_MAX {
                    return Err(NodeError::new(
                        ErrorCode::TemporarilyUnavailable,
                        format!("{TXNS_IN_FLIGHT_MAX} transactions in flight already"),
                    ));
                }
                let id = self.next_txn;
                self.next_txn += 1;
                self.txns.insert(
                    id,
                    Pending {
                        request: msg,
                        mops,
                        conflicts: 0,
                        root: None,
                        loading: 0,
                        loaded: BTreeMap::new(),
                        writing: 0,
                        failed: None,
                    },
                );
                self.advance(ctx, id);
                Ok(())
            }
            other => Err(NodeError::not_supported(other)),
        }
    }
}
