//! Gadgets: one tiny history per anomaly, as Elle would report it, and a way
//! to splice one into a larger history.
//!
//! Each gadget is a handful of transactions (two to four) that exhibit one
//! anomaly, kept in `crates/txn/testdata/<model>/<anomaly>.bad.edn` beside
//! its valid twin (`.ok.edn`, the same shape minus the fault), with what
//! Elle's checker reports for both under serializable, strict-serializable
//! and strong-session-serializable in `testdata/expected.json`; the
//! testdata README says how those results were derived. [`gadget`] returns a
//! bad history, [`anomalies`] lists the names a model has gadgets for, and
//! [`splice`] adds a gadget's transactions to a host history on fresh keys
//! and fresh processes, where the checker must find exactly the gadget's
//! anomaly again.
//!
//! ```
//! use lightcone_history::{History, Op, OpType, Process};
//! use lightcone_txn::gadgets::{anomalies, gadget, splice};
//! use serde_json::json;
//!
//! assert!(anomalies("list-append").contains(&"G-single-item"));
//! let bad = gadget("list-append", "G-single-item").expect("a gadget");
//! assert_eq!(bad.len(), 4); // two transactions, invoked and completed
//!
//! // A host history: process 0 appends 5 to key 7, then reads it back.
//! let mut host = History::default();
//! let txn = |value| Op::new(Process::Client(0), OpType::Invoke, "txn", value);
//! host.push(txn(json!([["append", 7, 5]])));
//! host.push(Op { kind: OpType::Ok, ..txn(json!([["append", 7, 5]])) });
//! host.push(txn(json!([["r", 7, null]])));
//! host.push(Op { kind: OpType::Ok, ..txn(json!([["r", 7, [5]]])) });
//!
//! splice(&mut host, &bad, 42);
//! assert_eq!(host.len(), 8);
//! // The gadget's keys now lie above key 7, its processes above process 0.
//! assert!(host.iter().any(|op| op.value == json!([["r", 8, [1]], ["r", 9, null]])));
//! ```

use std::collections::BTreeMap;
use std::sync::LazyLock;

use lightcone_history::formats::{self, Format};
use lightcone_history::{History, Op, Process};
use lightcone_rng::SplitMix64;
use serde_json::Value;

/// One gadget: Elle's name for its anomaly and the bad history's EDN.
struct Gadget {
    anomaly: &'static str,
    edn: &'static str,
}

/// A gadget from `testdata/<dir>/<file>.bad.edn`, under Elle's `name`.
macro_rules! gadget {
    ($dir:literal, $name:literal, $file:literal) => {
        Gadget {
            anomaly: $name,
            edn: include_str!(concat!("../testdata/", $dir, "/", $file, ".bad.edn")),
        }
    };
}

/// The list-append gadgets, in the order of the issue's list of anomalies.
const LIST_APPEND: &[Gadget] = &[
    gadget!("list-append", "G0", "g0"),
    gadget!("list-append", "G1a", "g1a"),
    gadget!("list-append", "G1b", "g1b"),
    gadget!("list-append", "G1c", "g1c"),
    gadget!("list-append", "G-single-item", "g-single-item"),
    gadget!("list-append", "G-nonadjacent-item", "g-nonadjacent-item"),
    gadget!("list-append", "G2-item", "g2-item"),
    gadget!("list-append", "lost-update", "lost-update"),
    gadget!("list-append", "internal", "internal"),
    gadget!("list-append", "future-read", "future-read"),
    gadget!("list-append", "dirty-update", "dirty-update"),
    gadget!("list-append", "duplicate-elements", "duplicate-elements"),
    gadget!("list-append", "incompatible-order", "incompatible-order"),
    gadget!("list-append", "G0-process", "g0-process"),
    gadget!("list-append", "G0-realtime", "g0-realtime"),
    gadget!("list-append", "G1c-process", "g1c-process"),
    gadget!("list-append", "G1c-realtime", "g1c-realtime"),
    gadget!(
        "list-append",
        "G-single-item-process",
        "g-single-item-process"
    ),
    gadget!(
        "list-append",
        "G-single-item-realtime",
        "g-single-item-realtime"
    ),
    gadget!(
        "list-append",
        "G-nonadjacent-item-process",
        "g-nonadjacent-item-process"
    ),
    gadget!(
        "list-append",
        "G-nonadjacent-item-realtime",
        "g-nonadjacent-item-realtime"
    ),
    gadget!("list-append", "G2-item-process", "g2-item-process"),
    gadget!("list-append", "G2-item-realtime", "g2-item-realtime"),
];

/// The rw-register gadgets. Registers cannot show G0 (Elle cannot order two
/// blind writes, and the version orders it can infer always come with a wr
/// edge that its explainer names first), nor the list-only anomalies
/// (future-read, dirty-update, duplicate-elements, incompatible-order).
const RW_REGISTER: &[Gadget] = &[
    gadget!("rw-register", "G1a", "g1a"),
    gadget!("rw-register", "G1b", "g1b"),
    gadget!("rw-register", "G1c", "g1c"),
    gadget!("rw-register", "G-single-item", "g-single-item"),
    gadget!("rw-register", "G-nonadjacent-item", "g-nonadjacent-item"),
    gadget!("rw-register", "G2-item", "g2-item"),
    gadget!("rw-register", "lost-update", "lost-update"),
    gadget!("rw-register", "internal", "internal"),
    gadget!("rw-register", "cyclic-versions", "cyclic-versions"),
    gadget!("rw-register", "G1c-process", "g1c-process"),
    gadget!("rw-register", "G1c-realtime", "g1c-realtime"),
    gadget!(
        "rw-register",
        "G-single-item-process",
        "g-single-item-process"
    ),
    gadget!(
        "rw-register",
        "G-single-item-realtime",
        "g-single-item-realtime"
    ),
    gadget!(
        "rw-register",
        "G-nonadjacent-item-process",
        "g-nonadjacent-item-process"
    ),
    gadget!(
        "rw-register",
        "G-nonadjacent-item-realtime",
        "g-nonadjacent-item-realtime"
    ),
    gadget!("rw-register", "G2-item-process", "g2-item-process"),
    gadget!("rw-register", "G2-item-realtime", "g2-item-realtime"),
];

/// The gadgets of a model (`list-append` or `rw-register`).
fn table(model: &str) -> &'static [Gadget] {
    match model {
        "list-append" => LIST_APPEND,
        "rw-register" => RW_REGISTER,
        _ => &[],
    }
}

static LIST_APPEND_NAMES: LazyLock<Vec<&'static str>> =
    LazyLock::new(|| LIST_APPEND.iter().map(|g| g.anomaly).collect());
static RW_REGISTER_NAMES: LazyLock<Vec<&'static str>> =
    LazyLock::new(|| RW_REGISTER.iter().map(|g| g.anomaly).collect());

/// The anomalies `model` (`list-append` or `rw-register`) has a gadget for,
/// by Elle's names (`G1a`, `G-single-item-realtime`, `lost-update`); empty
/// for any other model.
pub fn anomalies(model: &str) -> &'static [&'static str] {
    match model {
        "list-append" => &LIST_APPEND_NAMES,
        "rw-register" => &RW_REGISTER_NAMES,
        _ => &[],
    }
}

/// The bad history of the gadget for `anomaly` (Elle's name, in any case)
/// in `model`, or `None` if there is none. Its ops are numbered from 0 and
/// its keys and values are small integers; some gadgets carry more than
/// their anomaly (a G1b is also a G-single-item), as `expected.json` says.
pub fn gadget(model: &str, anomaly: &str) -> Option<History> {
    let found = table(model)
        .iter()
        .find(|g| g.anomaly.eq_ignore_ascii_case(anomaly))?;
    let history = formats::read(found.edn, Format::Edn).unwrap_or_else(|e| {
        panic!(
            "the {model} gadget for {} does not parse: {e}",
            found.anomaly
        )
    });
    Some(history)
}

/// Adds `gadget`'s ops to `into` as one contiguous block between two of its
/// ops, chosen by `seed` (inside the history's span when it has two ops or
/// more, else at the end), and renumbers every op's `index`.
///
/// The gadget's keys become fresh keys above every integer key of `into`
/// and its processes fresh client processes above every client of `into`;
/// its values and its own order of invocations and completions are kept
/// exactly, so its process order and its real-time order are the ones it
/// had. Its times keep their gaps, starting just after the op before the
/// block; the ops after the block move later by the block's span, a
/// monotone shift that keeps every real-time relation of `into`.
///
/// Why the gadget's anomaly survives, and no other appears: fresh keys give
/// no ww, wr or rw edge between the gadget and the host, and fresh processes
/// no process edge, so under serializable and strong-session-serializable
/// the gadget is a component of its own. Under strict-serializable it gains
/// real-time edges, but only from host ops that completed before the block
/// and to host ops invoked after it, and nothing inside the block is a host
/// event, so the real-time edges among the gadget's own ops (Elle's buffered
/// transitive reduction) are unchanged. A cycle through both would need a
/// path in the host from an op invoked after the block back to one that
/// completed before it; with the real-time path the other way, that is a
/// cycle of the host alone. So when the host is itself valid (acyclic with
/// real time, for strict-serializable), the gadget's strongly connected
/// components are exactly its own and Elle's search finds in them what it
/// finds in the gadget alone; the non-cycle anomalies are per key or per
/// transaction and stay the gadget's. A host that is not valid keeps its
/// own anomalies, and one whose real-time cycles span the block may absorb
/// the gadget's cycle into a larger component.
pub fn splice(into: &mut History, gadget: &History, seed: u64) {
    let key_next = key_max(into).map_or(0, |k| k + 1);
    let process_next = process_max(into).map_or(0, |p| p + 1);
    let keys = ranks(gadget.iter().flat_map(|op| mop_keys(&op.value)), key_next);
    let processes = ranks(
        gadget.iter().filter_map(|op| match op.process {
            Process::Client(p) => Some(p),
            Process::Nemesis => None,
        }),
        process_next,
    );

    let host = std::mem::take(&mut into.ops);
    let at = if host.len() >= 2 {
        1 + SplitMix64(seed).below(host.len() as u64 - 1) as usize
    } else {
        host.len()
    };
    let time_base = if at == 0 { 0 } else { host[at - 1].time + 1 };
    let gadget_time_first = gadget.iter().map(|op| op.time).min().unwrap_or(0);
    let gadget_span = gadget.iter().map(|op| op.time).max().unwrap_or(0) - gadget_time_first;
    let shift = if gadget.is_empty() {
        0
    } else {
        gadget_span + 2
    };

    let mut host = host.into_iter();
    for op in host.by_ref().take(at) {
        into.push(op);
    }
    for op in gadget.iter() {
        let mut op = op.clone();
        op.time = time_base + (op.time - gadget_time_first);
        if let Process::Client(p) = op.process {
            op.process = Process::Client(processes[&p]);
        }
        rename_keys(&mut op, &keys);
        into.push(op);
    }
    for mut op in host {
        op.time += shift;
        into.push(op);
    }
}

/// Each distinct item, in ascending order, numbered from `first`.
fn ranks(items: impl Iterator<Item = u64>, first: u64) -> BTreeMap<u64, u64> {
    let mut map: BTreeMap<u64, u64> = items.map(|item| (item, 0)).collect();
    for (rank, to) in map.values_mut().enumerate() {
        *to = first + rank as u64;
    }
    map
}

/// The largest integer key of any micro-op in the history.
fn key_max(history: &History) -> Option<u64> {
    history.iter().flat_map(|op| mop_keys(&op.value)).max()
}

/// The largest client process of the history.
fn process_max(history: &History) -> Option<u64> {
    history
        .iter()
        .filter_map(|op| match op.process {
            Process::Client(p) => Some(p),
            Process::Nemesis => None,
        })
        .max()
}

/// The non-negative integer keys of a transaction's micro-ops
/// (`[f, k, v]`); anything else has none.
fn mop_keys(value: &Value) -> impl Iterator<Item = u64> + '_ {
    value
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|mop| mop.as_array()?.get(1)?.as_u64())
}

/// Renames the keys of an op's micro-ops by `keys`.
fn rename_keys(op: &mut Op, keys: &BTreeMap<u64, u64>) {
    let Some(mops) = op.value.as_array_mut() else {
        return;
    };
    for mop in mops {
        let Some(key) = mop.as_array_mut().and_then(|m| m.get_mut(1)) else {
            continue;
        };
        if let Some(to) = key.as_u64().and_then(|k| keys.get(&k)) {
            *key = Value::from(*to);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_gadget_parses_and_names_are_unique() {
        for model in ["list-append", "rw-register"] {
            let names = anomalies(model);
            for (i, name) in names.iter().enumerate() {
                assert!(!names[..i].contains(name), "{model} lists {name} twice");
                let history = gadget(model, name).expect("a listed gadget exists");
                assert!(!history.is_empty());
            }
        }
        assert!(anomalies("kafka").is_empty());
        assert!(gadget("list-append", "cyclic-versions").is_none());
        assert!(gadget("list-append", "g-single-item").is_some());
    }

    #[test]
    fn ranks_number_distinct_items_in_order() {
        let r = ranks([5, 2, 5, 9].into_iter(), 10);
        assert_eq!(
            r.into_iter().collect::<Vec<_>>(),
            [(2, 10), (5, 11), (9, 12)]
        );
    }
}
