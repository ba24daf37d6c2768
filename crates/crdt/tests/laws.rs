//! The lattice laws, for every CRDT in the crate, over random executions.
//!
//! Three replicas apply random updates and merge random states into each other. Along the way
//! every update must inflate the state (Shapiro et al. 2011, section 2.2: `s <= update(s)`) and
//! its delta must do exactly what the update did (Almeida, Shoker, Baquero 2018, Definition 1:
//! `update(s) = s ⊔ delta(s)`). At the end the replicas' states must satisfy commutativity,
//! associativity and idempotence of `merge`, `le` must agree with `merge`, applying a replica's
//! deltas (joined in a `DeltaBuffer` or one by one) must equal merging its state, and each
//! state must survive a JSON round trip.

use std::fmt::Debug;

use lightcone_clock::HlcTimestamp;
use lightcone_crdt::{
    Crdt, DeltaBuffer, GCounter, GSet, LWWRegister, MVRegister, ORMap, ORSet, PNCounter, TwoPSet,
};
use proptest::prelude::*;
use serde::de::DeserializeOwned;
use serde::Serialize;

mod common;

use common::{Step, REPLICAS};

/// The executions of this file's properties.
fn steps() -> impl Strategy<Value = Vec<Step>> {
    common::steps(1, 40)
}

fn join<T: Crdt + Clone>(a: &T, b: &T) -> T {
    let mut joined = a.clone();
    joined.merge(b);
    joined
}

/// Runs `steps` with `update(state, node, op, step_index) -> delta` and checks every law.
fn check<T>(steps: &[Step], update: impl Fn(&mut T, &String, u64, usize) -> T)
where
    T: Crdt + Clone + Default + PartialEq + Debug + Serialize + DeserializeOwned,
{
    let nodes: Vec<String> = (0..REPLICAS).map(|i| format!("n{i}")).collect();
    let mut states: Vec<T> = vec![T::default(); REPLICAS];
    // Replica 0's deltas since the start, both joined and one by one.
    let mut buffer = DeltaBuffer::new();
    let mut deltas: Vec<T> = Vec::new();
    let mut merged_into_zero: Vec<T> = Vec::new();
    for (index, step) in steps.iter().enumerate() {
        match *step {
            Step::Update { replica, op } => {
                let before = states[replica].clone();
                let delta = update(&mut states[replica], &nodes[replica], op, index);
                let after = &states[replica];
                assert!(
                    before.le(after),
                    "update did not inflate: {before:?} -> {after:?}"
                );
                assert_eq!(
                    &join(&before, &delta),
                    after,
                    "delta differs from its update"
                );
                assert!(delta.le(after), "delta is not below the state it came from");
                if replica == 0 {
                    buffer.push(delta.clone());
                    deltas.push(delta);
                }
            }
            Step::Merge { from, to } => {
                let source = states[from].clone();
                if to == 0 {
                    merged_into_zero.push(source.clone());
                }
                let before = states[to].clone();
                states[to].merge(&source);
                assert!(before.le(&states[to]) && source.le(&states[to]));
            }
        }
    }
    let [a, b, c] = [&states[0], &states[1], &states[2]];
    assert_eq!(join(a, b), join(b, a), "merge is not commutative");
    assert_eq!(
        join(&join(a, b), c),
        join(a, &join(b, c)),
        "merge is not associative"
    );
    assert_eq!(&join(a, a), a, "merge is not idempotent");
    assert_eq!(a.le(b), &join(a, b) == b, "le disagrees with merge");
    assert!(T::default().le(a));

    // Replica 0's state is its deltas joined with the states merged into it; so a replica
    // that receives those gets replica 0's state, whichever way the deltas travel.
    let mut by_deltas = b.clone();
    for delta in &deltas {
        by_deltas.merge(delta);
    }
    let mut by_group = b.clone();
    if let Some(group) = buffer.take() {
        by_group.merge(&group);
    }
    for state in &merged_into_zero {
        by_deltas.merge(state);
        by_group.merge(state);
    }
    let by_state = join(b, a);
    assert_eq!(
        by_deltas, by_state,
        "applying deltas differs from merging the state"
    );
    assert_eq!(
        by_group, by_state,
        "applying the delta group differs from merging the state"
    );

    for state in &states {
        let json = serde_json::to_string(state).unwrap();
        let back: T = serde_json::from_str(&json).unwrap();
        assert_eq!(&back, state, "JSON round trip changed the state: {json}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn g_counter(steps in steps()) {
        check::<GCounter>(&steps, |c, node, op, _| c.increment(node, op % 5));
    }

    #[test]
    fn pn_counter(steps in steps()) {
        check::<PNCounter>(&steps, |c, node, op, _| c.add(node, (op % 11) as i64 - 5));
    }

    #[test]
    fn g_set(steps in steps()) {
        check::<GSet<u64>>(&steps, |s, _, op, _| s.insert(op % 10));
    }

    #[test]
    fn two_p_set(steps in steps()) {
        check::<TwoPSet<u64>>(&steps, |s, _, op, _| {
            let element = (op / 2) % 8;
            if op % 2 == 0 {
                s.insert(element).unwrap_or_default()
            } else {
                s.remove(element)
            }
        });
    }

    #[test]
    fn lww_register(steps in steps()) {
        // The step index as the logical part makes every (timestamp, node) unique, as an HLC
        // does; the small wall part makes late writes with early timestamps common.
        check::<LWWRegister<u64>>(&steps, |r, node, op, index| {
            r.set(op % 7, HlcTimestamp::new(op % 5, index as u32), node.clone())
        });
    }

    #[test]
    fn mv_register(steps in steps()) {
        check::<MVRegister<u64>>(&steps, |r, node, op, _| {
            if op % 5 == 0 { r.clear() } else { r.write(node, op % 7) }
        });
    }

    #[test]
    fn or_set(steps in steps()) {
        check::<ORSet<u64>>(&steps, |s, node, op, _| {
            let element = (op / 4) % 6;
            match op % 4 {
                0 => s.remove(&element),
                1 if op % 16 == 1 => s.clear(),
                _ => s.add(node, element),
            }
        });
    }

    #[test]
    fn or_map_of_or_sets(steps in steps()) {
        check::<ORMap<u8, ORSet<u64>>>(&steps, |m, node, op, _| {
            let key = (op % 3) as u8;
            let element = (op / 16) % 4;
            match (op / 4) % 4 {
                0 => m.remove(&key),
                1 => m.update(key, |s| s.remove(&element)),
                _ => m.update(key, |s| s.add(node, element)),
            }
        });
    }

    #[test]
    fn or_map_of_maps_of_registers(steps in steps()) {
        check::<ORMap<u8, ORMap<u8, MVRegister<u64>>>>(&steps, |m, node, op, _| {
            let outer = (op % 2) as u8;
            let inner = ((op / 2) % 2) as u8;
            match (op / 4) % 5 {
                0 => m.remove(&outer),
                1 => m.update(outer, |inner_map| inner_map.remove(&inner)),
                _ => m.update(outer, |inner_map| {
                    inner_map.update(inner, |register| register.write(node, op % 9))
                }),
            }
        });
    }
}
