//! Maelstrom's transactional workloads, txn-list-append and txn-rw-register
//! (`maelstrom.workload.txn-list-append` on `jepsen.tests.cycle.append`,
//! `maelstrom.workload.txn-rw-register` on `jepsen.tests.cycle.wr`).
//!
//! **Transactions.** Elle's `wr-txns`: `--key-count` keys active at once
//! (Elle's default 10), each micro-op a read or a write (half each) of a key
//! drawn from the exponential distribution over the active keys; a key's
//! writes are 1, 2, 3, ... and a key is retired, a fresh one taking its
//! place, once its write limit (at most `--max-writes-per-key`) is used.
//! 1 to `--max-txn-length` micro-ops per transaction. Shared with
//! `lightcone gen` through [`TxnPlanner`].
//!
//! **Wire.** One RPC per transaction: `{"type": "txn", "txn": [["r", 1,
//! null], ["append", 1, 6]]}` answered by `{"type": "txn_ok", "txn": [["r",
//! 1, [8]], ["append", 1, 6]]}`; registers write `["w", k, v]` and read a
//! scalar. The reply's transaction is recorded as the op's value, as
//! Maelstrom's client does. lightcone also checks that the reply is the
//! transaction it asked for, micro-op by micro-op (Maelstrom's client only
//! checks the shape of each micro-op): a reply with another number of
//! micro-ops, or with a micro-op of another kind, key or written value at
//! some position, is a malformed reply, named in the node's log and in the
//! op's error, and the op is `info`.
//!
//! **Errors.** As Maelstrom's `with-errors op #{}`: no transaction is
//! idempotent, so a definite error (txn-conflict, 30) is `fail` and a timeout
//! or an indefinite error `info`.
//!
//! **Checker.** Elle's, in `lightcone-txn`, with `--consistency-models`
//! (strict-serializable by default). txn-rw-register checks with
//! writes-follow-reads on, and, as Maelstrom's wrapper does, drops
//! `cycle-search-timeout` and is valid exactly when no anomaly type remains.

use lightcone_check::{CheckResult, Validity};
use lightcone_history::History;
use lightcone_proto::{Body, Value};
use lightcone_rng::Rng;
use lightcone_txn::gen::{GenOptions, TxnPlanner, Workload as TxnWorkload};
use lightcone_txn::{consistency, TxnModel, TxnOptions};

use crate::{take_field, Completion, Invocation, Next, Worker, Workload, WorkloadDetails};

/// Elle's default number of active keys for the exponential distribution.
const KEY_COUNT_DEFAULT: u64 = 10;

/// The options of a transactional workload (Maelstrom's flags).
#[derive(Debug, Clone, PartialEq)]
pub struct TxnWorkloadOptions {
    /// `--key-count`: keys active at once (Elle's default 10).
    pub key_count: Option<u64>,
    /// `--max-txn-length` (Maelstrom's default 4).
    pub max_txn_length: u64,
    /// `--max-writes-per-key` (Maelstrom's default 16).
    pub max_writes_per_key: u64,
    /// `--consistency-models`, Elle's names (strict-serializable by
    /// default).
    pub consistency_models: Vec<String>,
}

/// txn-list-append or txn-rw-register.
pub struct Txn {
    model: TxnModel,
    plan_options: GenOptions,
    /// Made at the first operation, from the run's stream.
    planner: Option<TxnPlanner>,
    consistency_models: Vec<&'static str>,
}

impl Txn {
    /// The workload for `model`; `Err` says which option is wrong.
    pub fn new(model: TxnModel, options: &TxnWorkloadOptions) -> Result<Txn, String> {
        let consistency_models = if options.consistency_models.is_empty() {
            vec!["strict-serializable"]
        } else {
            consistency::parse_models(&options.consistency_models.join(","))
                .map_err(|e| format!("--consistency-models: {e}"))?
        };
        let plan_options = GenOptions {
            txns: 0,
            processes: 1,
            key_count: options.key_count.unwrap_or(KEY_COUNT_DEFAULT) as usize,
            min_txn_length: 1,
            max_txn_length: options.max_txn_length as usize,
            max_writes_per_key: options.max_writes_per_key,
            fail_permille: 0,
            info_permille: 0,
        };
        plan_options.validate().map_err(|e| e.to_string())?;
        Ok(Txn {
            model,
            plan_options,
            planner: None,
            consistency_models,
        })
    }

    fn gen_workload(&self) -> TxnWorkload {
        match self.model {
            TxnModel::ListAppend => TxnWorkload::ListAppend,
            TxnModel::RwRegister => TxnWorkload::RwRegister,
        }
    }

    /// The checker's options: the requested models; registers with
    /// writes-follow-reads, as Maelstrom sets it.
    pub fn check_options(&self) -> TxnOptions {
        let mut options = TxnOptions::new(self.model);
        options.consistency_models = self.consistency_models.clone();
        options.wfr_keys = true;
        options
    }
}

impl Workload for Txn {
    fn name(&self) -> &'static str {
        match self.model {
            TxnModel::ListAppend => "txn-list-append",
            TxnModel::RwRegister => "txn-rw-register",
        }
    }

    fn next_op(&mut self, rng: &mut Rng, _worker: Worker) -> Invocation {
        let options = &self.plan_options;
        let planner = self
            .planner
            .get_or_insert_with(|| TxnPlanner::new(rng, options));
        let mops = planner.plan(rng);
        let workload = self.gen_workload();
        let value = Value::Array(mops.iter().map(|m| m.invocation(workload)).collect());
        Invocation::new("txn", value)
    }

    fn begin(&mut self, _worker: Worker, op: &Invocation) -> Next {
        Next::Request(Body::new("txn").with("txn", op.value.clone()))
    }

    fn complete(&mut self, _worker: Worker, op: &Invocation, mut reply: Body) -> Completion {
        let txn = take_field(&mut reply, "txn_ok", "txn")?;
        check_reply(self.model, &op.value, &txn)?;
        Ok(Next::Ok(txn))
    }

    fn is_idempotent(&self, _f: &str) -> bool {
        false
    }

    fn check(&self, history: &History) -> CheckResult<WorkloadDetails> {
        let mut result = lightcone_txn::check(history, &self.check_options());
        if self.model == TxnModel::RwRegister {
            drop_search_timeouts(&mut result);
        }
        result.map(WorkloadDetails::Txn)
    }
}

/// Maelstrom's txn-rw-register checker: Elle's result without
/// `cycle-search-timeout`, valid exactly when no anomaly type remains.
fn drop_search_timeouts(result: &mut CheckResult<lightcone_txn::Details>) {
    const TIMEOUT: &str = "cycle-search-timeout";
    let d = &mut result.details;
    if !d.anomaly_types.iter().any(|t| t == TIMEOUT) {
        return;
    }
    d.anomaly_types.retain(|t| t != TIMEOUT);
    d.anomalies.remove(TIMEOUT);
    d.anomaly_counts.remove(TIMEOUT);
    result
        .problems
        .retain(|p| !p.starts_with(&format!("{TIMEOUT}:")) && p != TIMEOUT);
    result.valid = if d.anomaly_types.is_empty() {
        Validity::Valid
    } else {
        Validity::Invalid
    };
}

/// Why a `txn_ok`'s transaction is not the one asked for, if it is not:
/// the same number of micro-ops, each of the same kind on the same key,
/// writes with the values written, reads with a value of the model's shape
/// (a list of elements or null for list-append; anything for registers).
fn check_reply(model: TxnModel, asked: &Value, got: &Value) -> Result<(), String> {
    let asked = asked.as_array().expect("invocations are arrays");
    let Some(got) = got.as_array() else {
        return Err(format!("txn_ok's `txn` is {got}, not a list of micro-ops"));
    };
    if got.len() != asked.len() {
        return Err(format!(
            "txn_ok has {} micro-ops for a transaction of {}: {}",
            got.len(),
            asked.len(),
            Value::Array(got.clone())
        ));
    }
    for (i, (a, g)) in asked.iter().zip(got).enumerate() {
        let same = match g.as_array().map(Vec::as_slice) {
            Some([f, k, v]) => {
                f == &a[0]
                    && k == &a[1]
                    && if a[0] == "r" {
                        model == TxnModel::RwRegister || v.is_null() || v.is_array()
                    } else {
                        v == &a[2]
                    }
            }
            _ => false,
        };
        if !same {
            let what = if a[0] == "r" {
                format!("a read of key {}", a[1])
            } else {
                format!("{a}")
            };
            return Err(format!(
                "txn_ok's micro-op {i} is {g} where the transaction had {what}; a reply must \
                 return the transaction's micro-ops in order, reads filled in"
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn workload(model: TxnModel) -> Txn {
        Txn::new(
            model,
            &TxnWorkloadOptions {
                key_count: None,
                max_txn_length: 4,
                max_writes_per_key: 16,
                consistency_models: Vec::new(),
            },
        )
        .unwrap()
    }

    const W: Worker = Worker {
        index: 0,
        process: 0,
    };

    #[test]
    fn ops_are_elles_transactions_sent_as_one_txn_request() {
        let mut w = workload(TxnModel::ListAppend);
        let mut rng = Rng::new(1, 0);
        let mut writes: std::collections::BTreeMap<u64, Vec<u64>> = Default::default();
        for _ in 0..2000 {
            let op = w.next_op(&mut rng, W);
            assert_eq!(op.f, "txn");
            let mops = op.value.as_array().unwrap();
            assert!((1..=4).contains(&mops.len()), "{}", op.value);
            for m in mops {
                let (f, k) = (m[0].as_str().unwrap(), m[1].as_u64().unwrap());
                match f {
                    "r" => assert!(m[2].is_null()),
                    "append" => writes.entry(k).or_default().push(m[2].as_u64().unwrap()),
                    _ => panic!("{m}"),
                }
            }
            let Next::Request(body) = w.begin(W, &op) else {
                panic!("a txn is a request");
            };
            assert_eq!(body.kind, "txn");
            assert_eq!(body.fields["txn"], op.value);
        }
        // Values unique per key, counted from 1, at most 16 per key.
        assert!(writes.len() > 10, "keys are retired and replaced");
        for values in writes.values() {
            let want: Vec<u64> = (1..=values.len() as u64).collect();
            assert_eq!(values, &want);
            assert!(values.len() <= 16);
        }
    }

    #[test]
    fn rw_register_writes_w() {
        let mut w = workload(TxnModel::RwRegister);
        let mut rng = Rng::new(2, 0);
        let fs: std::collections::BTreeSet<String> = (0..200)
            .flat_map(|_| {
                let op = w.next_op(&mut rng, W);
                op.value
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|m| m[0].as_str().unwrap().to_string())
                    .collect::<Vec<_>>()
            })
            .collect();
        assert_eq!(fs, ["r", "w"].map(String::from).into());
    }

    fn reply(txn: Value) -> Body {
        Body::new("txn_ok").with("txn", txn)
    }

    #[test]
    fn a_reply_is_recorded_as_is_when_it_is_the_transaction_asked_for() {
        let mut w = workload(TxnModel::ListAppend);
        let op = Invocation::new("txn", json!([["r", 1, null], ["append", 1, 6]]));
        let got = json!([["r", 1, [8]], ["append", 1, 6]]);
        assert_eq!(w.complete(W, &op, reply(got.clone())), Ok(Next::Ok(got)));
        let got = json!([["r", 1, null], ["append", 1, 6]]);
        assert_eq!(w.complete(W, &op, reply(got.clone())), Ok(Next::Ok(got)));
    }

    #[test]
    fn malformed_replies_are_named() {
        let mut w = workload(TxnModel::ListAppend);
        let op = Invocation::new("txn", json!([["r", 1, null], ["append", 2, 6]]));
        for (got, says) in [
            (
                json!([["r", 1, [8]]]),
                "txn_ok has 1 micro-ops for a transaction of 2",
            ),
            (
                json!([["append", 2, 6], ["r", 1, [8]]]),
                "micro-op 0 is [\"append\",2,6] where the transaction had a read of key 1",
            ),
            (
                json!([["r", 1, [8]], ["r", 2, [6]]]),
                "micro-op 1 is [\"r\",2,[6]] where the transaction had [\"append\",2,6]",
            ),
            (
                json!([["r", 1, 8], ["append", 2, 6]]),
                "micro-op 0 is [\"r\",1,8]",
            ),
            (
                json!([["r", 1, [8]], ["append", 2, 7]]),
                "micro-op 1 is [\"append\",2,7]",
            ),
            (json!({"1": [8]}), "not a list of micro-ops"),
        ] {
            let e = w.complete(W, &op, reply(got.clone())).unwrap_err();
            assert!(e.contains(says), "{got}: {e}");
        }
        let e = w
            .complete(W, &op, Body::new("read_ok").with("txn", json!([])))
            .unwrap_err();
        assert!(e.contains("expected txn_ok"), "{e}");
    }

    #[test]
    fn unknown_consistency_models_are_refused() {
        let e = Txn::new(
            TxnModel::ListAppend,
            &TxnWorkloadOptions {
                key_count: None,
                max_txn_length: 4,
                max_writes_per_key: 16,
                consistency_models: vec!["serializable".into(), "snapshot".into()],
            },
        )
        .err()
        .unwrap();
        assert!(e.contains("snapshot"), "{e}");
    }
}
