//! The replicated state machine: the commands the log carries and the
//! key-value map they build, the same on every replica.

use std::collections::BTreeMap;

use lightcone_sdk::{Body, ErrorCode, NodeError, Value};
use serde::{Deserialize, Serialize, Serializer};

use super::applied_ids::AppliedIds;

/// A client command as a log entry: who proposed it, to answer it. Its
/// serde form is a compact array (`command_wire`).
#[derive(Debug, Clone)]
pub(crate) struct Command {
    pub(crate) origin: String,
    pub(crate) id: u64,
    pub(crate) op: Op,
}

#[derive(Debug, Clone)]
pub(crate) enum Op {
    Write {
        key: Value,
        value: Value,
    },
    Cas {
        key: Value,
        from: Value,
        to: Value,
        create: bool,
    },
    Backup,
    /// A whole transaction (txn-list-append, txn-rw-register), applied in
    /// one step at its log position.
    Txn {
        txn: Vec<Value>,
    },
}

/// How many recent command ids the state machine remembers to apply each
/// command once: a duplicated `forward` is proposed twice, and applying a
/// write again later would undo the writes between.
const APPLIED_IDS_MAX: usize = 1 << 16;

/// The replicated state machine: key (as JSON text) to key and value, and
/// the ids of the commands applied lately (by log index), which every
/// replica holds alike because they follow the log.
pub(crate) struct KvState {
    map: BTreeMap<String, (Value, Value)>,
    applied_ids: AppliedIds,
}

impl Default for KvState {
    fn default() -> KvState {
        KvState {
            map: BTreeMap::new(),
            applied_ids: AppliedIds::new(APPLIED_IDS_MAX),
        }
    }
}

/// What a snapshot holds.
#[derive(Serialize, Deserialize)]
pub(crate) struct SnapshotData {
    pub(crate) state: Vec<(Value, Value)>,
    /// `[index, command id]` of recently applied commands.
    pub(crate) applied_ids: Vec<(u64, u64)>,
}

impl KvState {
    fn from_pairs(pairs: Vec<(Value, Value)>) -> KvState {
        let map = pairs
            .into_iter()
            .map(|(k, v)| (k.to_string(), (k, v)))
            .collect();
        KvState {
            map,
            ..KvState::default()
        }
    }

    pub(crate) fn from_snapshot(data: SnapshotData) -> KvState {
        let mut state = KvState::from_pairs(data.state);
        for (index, id) in data.applied_ids {
            state.remember(index, id);
        }
        state
    }

    /// Appends the state to `out` as the JSON of a [`SnapshotData`],
    /// straight from the map and the applied ids' kept text: a snapshot is
    /// taken every `--snapshot-every` entries for the whole run, and
    /// neither is copied for it.
    pub(crate) fn write_snapshot(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(br#"{"state":"#);
        serde_json::Serializer::new(&mut *out)
            .collect_seq(self.map.values())
            .expect("JSON values serialize");
        out.extend_from_slice(br#","applied_ids":"#);
        self.applied_ids.write_json(out);
        out.push(b'}');
    }

    /// Records that command `id` was applied at `index`; false if it had
    /// been applied before.
    pub(crate) fn remember(&mut self, index: u64, id: u64) -> bool {
        self.applied_ids.remember(index, id)
    }

    pub(crate) fn pairs(&self) -> Vec<(Value, Value)> {
        self.map.values().cloned().collect()
    }

    pub(crate) fn read(&self, key: &Value) -> Result<Body, NodeError> {
        match self.map.get(&key.to_string()) {
            Some((_, value)) => Ok(Body::new("read_ok").with("value", value.clone())),
            None => Err(NodeError::new(
                ErrorCode::KeyDoesNotExist,
                format!("key {key} does not exist"),
            )),
        }
    }

    /// Applies a write or cas; every replica computes the same answer.
    pub(crate) fn apply(&mut self, op: &Op) -> Result<Body, NodeError> {
        match op {
            Op::Write { key, value } => {
                self.map
                    .insert(key.to_string(), (key.clone(), value.clone()));
                Ok(Body::new("write_ok"))
            }
            Op::Cas {
                key,
                from,
                to,
                create,
            } => {
                let text = key.to_string();
                match self.map.get_mut(&text) {
                    Some((_, current)) if current == from => {
                        *current = to.clone();
                        Ok(Body::new("cas_ok"))
                    }
                    Some((_, current)) => Err(NodeError::new(
                        ErrorCode::PreconditionFailed,
                        format!("key {key} holds {current}, not {from}"),
                    )),
                    None if *create => {
                        self.map.insert(text, (key.clone(), to.clone()));
                        Ok(Body::new("cas_ok"))
                    }
                    None => Err(NodeError::new(
                        ErrorCode::KeyDoesNotExist,
                        format!("key {key} does not exist"),
                    )),
                }
            }
            Op::Backup => Ok(Body::new("backup_ok")),
            Op::Txn { txn } => Ok(Body::new("txn_ok").with("txn", self.transact(txn))),
        }
    }

    /// Runs a transaction's micro-ops in order on the map: a read sees the
    /// key's value (null when absent), an append adds to the key's list, a
    /// write sets it. Returns the transaction with its reads filled in.
    /// `parse_op` has checked each micro-op's shape.
    fn transact(&mut self, txn: &[Value]) -> Value {
        let mut done = Vec::with_capacity(txn.len());
        for mop in txn {
            let [f, key, value] = mop.as_array().map(Vec::as_slice).unwrap_or_default() else {
                continue;
            };
            let text = key.to_string();
            let entry = self.map.get(&text).map(|(_, v)| v.clone());
            let shown = match f.as_str() {
                Some("r") => entry.unwrap_or(Value::Null),
                Some("append") => {
                    let mut list = entry
                        .and_then(|v| v.as_array().cloned())
                        .unwrap_or_default();
                    list.push(value.clone());
                    self.map.insert(text, (key.clone(), Value::Array(list)));
                    value.clone()
                }
                _ => {
                    self.map.insert(text, (key.clone(), value.clone()));
                    value.clone()
                }
            };
            done.push(Value::Array(vec![f.clone(), key.clone(), shown]));
        }
        Value::Array(done)
    }
}

pub(crate) fn parse_op(body: &Body) -> Result<Op, NodeError> {
    let field = |name: &str| {
        body.get(name)
            .cloned()
            .ok_or_else(|| NodeError::malformed(format!("a {} needs a `{name}`", body.kind)))
    };
    match body.kind.as_str() {
        "write" => Ok(Op::Write {
            key: field("key")?,
            value: field("value")?,
        }),
        "cas" => Ok(Op::Cas {
            key: field("key")?,
            from: field("from")?,
            to: field("to")?,
            create: body
                .get("create_if_not_exists")
                .and_then(Value::as_bool)
                .unwrap_or(false),
        }),
        "backup" => Ok(Op::Backup),
        "txn" => {
            let txn = field("txn")?;
            let mops = txn
                .as_array()
                .ok_or_else(|| NodeError::malformed("a txn's `txn` is a list of micro-ops"))?;
            for mop in mops {
                let ok = matches!(
                    mop.as_array().map(Vec::as_slice),
                    Some([f, _, _]) if matches!(f.as_str(), Some("r" | "append" | "w"))
                );
                if !ok {
                    return Err(NodeError::malformed(format!(
                        "micro-op {mop} is not [\"r\"|\"append\"|\"w\", key, value]"
                    )));
                }
            }
            Ok(Op::Txn { txn: mops.clone() })
        }
        other => Err(NodeError::not_supported(other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lightcone_sdk::json;

    #[test]
    fn a_snapshot_written_from_the_maps_reads_back_as_snapshot_data() {
        let mut state = KvState::default();
        state
            .apply(&Op::Write {
                key: json!("k"),
                value: json!([1, "two"]),
            })
            .unwrap();
        state
            .apply(&Op::Write {
                key: json!(3),
                value: json!(null),
            })
            .unwrap();
        for (index, id) in [(4, 40), (5, 50), (7, 70)] {
            assert!(state.remember(index, id));
        }
        let mut written = b"prefix".to_vec();
        state.write_snapshot(&mut written);
        assert_eq!(&written[..6], b"prefix", "appended, not overwritten");
        let data: SnapshotData = serde_json::from_slice(&written[6..]).unwrap();
        // The same bytes as serializing an owned copy of the state.
        let owned = SnapshotData {
            state: state.pairs(),
            applied_ids: vec![(4, 40), (5, 50), (7, 70)],
        };
        assert_eq!(written[6..], serde_json::to_vec(&owned).unwrap());
        let mut restored = KvState::from_snapshot(data);
        assert_eq!(restored.pairs(), state.pairs());
        let ids = |s: &KvState| s.applied_ids.iter().collect::<Vec<_>>();
        assert_eq!(ids(&restored), ids(&state));
        assert!(!restored.remember(8, 50), "command 50 was applied");
    }
}
