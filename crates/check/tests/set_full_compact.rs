//! set-full gives the same result, every field of it, whether a history's
//! reads are plain arrays (Maelstrom's and Jepsen's histories, old
//! history.jsonl files) or the compact form the workbench records now
//! (`IntMultiset`): random multisets with duplicates, negative and huge
//! integers, and elements that are not integers at all (those reads stay
//! arrays).

use lightcone_check::set_full;
use lightcone_history::build::{invoke, op};
use lightcone_history::{History, IntMultiset, OpType};
use proptest::prelude::*;
use serde_json::{json, Value};

/// An element a read may return or an add may add.
fn element(other_weight: u32) -> impl Strategy<Value = Value> {
    prop_oneof![
        8 => (0i64..12).prop_map(Value::from),
        2 => (-4i64..0).prop_map(Value::from),
        1 => prop::sample::select(vec![
            json!(i64::MAX),
            json!(i64::MIN),
            json!(i64::MAX - 1),
            json!(u64::MAX),
            json!(1 << 20),
            json!((1 << 20) - 1),
        ]),
        other_weight => prop::sample::select(vec![json!(1.5), json!(2.0), json!("3"), json!(null), json!([4])]),
    ]
}

/// One client op: an add of an element with its outcome, or a read of a
/// multiset (maybe final, on a node), between two times.
#[derive(Debug, Clone)]
enum Event {
    Add(Value, OpType),
    Read(Vec<Value>, Option<&'static str>),
}

/// An event; elements that are not integers come `other_weight` times in
/// 12 (with 0, every read is compact and checked range by range).
fn event(other_weight: u32) -> impl Strategy<Value = (Event, u64, u64)> {
    let kind = prop::sample::select(vec![OpType::Ok, OpType::Ok, OpType::Fail, OpType::Info]);
    let add = (element(other_weight), kind).prop_map(|(e, k)| Event::Add(e, k));
    let final_node = prop::option::weighted(0.2, prop::sample::select(vec!["n0", "n1"]));
    let read = (
        prop::collection::vec(element(other_weight), 0..16),
        final_node,
    )
        .prop_map(|(elements, node)| Event::Read(elements, node));
    (prop_oneof![add, read], 0u64..40, 0u64..10)
}

/// The history of `events`, ordered by time (each op its own process).
fn history(events: &[(Event, u64, u64)], compact: bool) -> History {
    let mut ops = Vec::new();
    for (p, (event, start, took)) in events.iter().enumerate() {
        let p = p as u64;
        let (f, value, kind, done_value, node) = match event {
            Event::Add(e, kind) => ("add", e.clone(), *kind, e.clone(), None),
            Event::Read(elements, node) => {
                let read = Value::Array(elements.clone());
                let read = if compact {
                    IntMultiset::compact(read)
                } else {
                    read
                };
                ("read", Value::Null, OpType::Ok, read, *node)
            }
        };
        let mut inv = invoke(p, f, value, start * 1_000_000);
        let mut done = op(p, kind, f, done_value, (start + took) * 1_000_000);
        if let Some(node) = node {
            for o in [&mut inv, &mut done] {
                o.is_final = true;
                o.node = Some(node.into());
            }
        }
        ops.push(inv);
        ops.push(done);
    }
    // Stable: an invocation stays before its completion at the same time.
    ops.sort_by_key(|o| o.time);
    ops.into_iter().collect()
}

fn result(h: &History) -> Value {
    let r = set_full::check(h, "add", "read");
    json!({
        "section": r.section(),
        "problems": r.problems,
        "maelstrom-valid": r.maelstrom_valid,
    })
}

/// The plain history's result with each read of integers that made an
/// element known (`worst-stale`'s `known` op) listed in ascending order,
/// the one thing the compact form does not keep.
fn sorted_known_reads(mut result: Value) -> Value {
    for worst in result["section"]["worst-stale"]
        .as_array_mut()
        .into_iter()
        .flatten()
    {
        if let Some(read) = worst["known"]["value"].as_array_mut() {
            if read.iter().all(|e| e.as_i64().is_some()) {
                read.sort_by_key(|e| e.as_i64());
            }
        }
    }
    result
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn compact_reads_check_exactly_as_plain_arrays(
        events in prop::collection::vec(event(1), 0..24)
    ) {
        same_result(&events)?;
    }

    #[test]
    fn reads_of_integers_only_check_range_by_range_exactly_as_plain_arrays(
        events in prop::collection::vec(event(0), 0..32)
    ) {
        same_result(&events)?;
    }
}

fn same_result(events: &[(Event, u64, u64)]) -> Result<(), TestCaseError> {
    {
        let plain = history(events, false);
        let compact = history(events, true);
        let want = sorted_known_reads(result(&plain));
        prop_assert_eq!(result(&compact), want.clone());
        // And through history.jsonl's text.
        let back = History::from_jsonl(&compact.to_jsonl()).unwrap();
        prop_assert_eq!(result(&back), want);
    }
    Ok(())
}

#[test]
fn a_compact_form_that_is_not_canonical_is_a_malformed_read() {
    let mut h = History::default();
    h.push(invoke(0, "add", json!(1), 0));
    h.push(op(0, OpType::Ok, "add", json!(1), 1));
    h.push(invoke(1, "read", Value::Null, 2));
    h.push(op(
        1,
        OpType::Ok,
        "read",
        json!({"int-ranges": [[2, 1]]}),
        3,
    ));
    let r = set_full::check(&h, "add", "read");
    assert!(
        r.problems
            .iter()
            .any(|p| p.contains("something other than a list")),
        "{:?}",
        r.problems
    );
}
