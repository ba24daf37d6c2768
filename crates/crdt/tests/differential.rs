//! Differential tests against the `crdts` crate (rust-crdt), an independent implementation
//! used only as an oracle: the same random updates and merges on three replicas of each
//! implementation must read the same values at every step.
//!
//! - `GCounter` and `PNCounter` against `crdts::GCounter` and `crdts::PNCounter`;
//! - `ORSet` against `crdts::Orswot` (both add-wins observed-remove sets without tombstones);
//! - `MVRegister` against `crdts::MVReg` (siblings compared as sorted lists).

use std::collections::BTreeSet;

use crdts::{CmRDT, CvRDT};
use lightcone_crdt::{Crdt, GCounter, MVRegister, ORSet, PNCounter};
use proptest::prelude::*;

mod common;

use common::{Step, REPLICAS};

/// The executions of this file's properties.
fn steps() -> impl Strategy<Value = Vec<Step>> {
    common::steps(2, 60)
}

fn node(replica: usize) -> String {
    format!("n{replica}")
}

/// Plays `steps` on both implementations and compares `read` after each step.
fn differential<Ours, Theirs, R>(
    steps: &[Step],
    update_ours: impl Fn(&mut Ours, usize, u64),
    update_theirs: impl Fn(&mut Theirs, usize, u64),
    read_ours: impl Fn(&Ours) -> R,
    read_theirs: impl Fn(&Theirs) -> R,
) -> Result<(), TestCaseError>
where
    Ours: Crdt + Clone + Default,
    Theirs: CvRDT + Clone + Default,
    R: PartialEq + std::fmt::Debug,
{
    let mut ours: Vec<Ours> = vec![Ours::default(); REPLICAS];
    let mut theirs: Vec<Theirs> = vec![Theirs::default(); REPLICAS];
    for step in steps {
        match *step {
            Step::Update { replica, op } => {
                update_ours(&mut ours[replica], replica, op);
                update_theirs(&mut theirs[replica], replica, op);
            }
            Step::Merge { from, to } => {
                let source = ours[from].clone();
                ours[to].merge(&source);
                let source = theirs[from].clone();
                theirs[to].merge(source);
            }
        }
        for replica in 0..REPLICAS {
            prop_assert_eq!(
                read_ours(&ours[replica]),
                read_theirs(&theirs[replica]),
                "replica {} after {:?}",
                replica,
                step
            );
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn g_counter_matches_crdts(steps in steps()) {
        differential::<GCounter, crdts::GCounter<String>, String>(
            &steps,
            |c, r, op| { c.increment(&node(r), op % 100); },
            |c, r, op| { let dot = c.inc_many(node(r), op % 100); c.apply(dot); },
            |c| c.value().to_string(),
            |c| c.read().to_string(),
        )?;
    }

    #[test]
    fn pn_counter_matches_crdts(steps in steps()) {
        differential::<PNCounter, crdts::PNCounter<String>, String>(
            &steps,
            |c, r, op| { c.add(&node(r), (op % 21) as i64 - 10); },
            |c, r, op| {
                let amount = (op % 21) as i64 - 10;
                let update = if amount >= 0 {
                    c.inc_many(node(r), amount as u64)
                } else {
                    c.dec_many(node(r), amount.unsigned_abs())
                };
                c.apply(update);
            },
            |c| c.value().to_string(),
            |c| c.read().to_string(),
        )?;
    }

    #[test]
    fn or_set_matches_orswot(steps in steps()) {
        differential::<ORSet<u64>, crdts::Orswot<u64, String>, BTreeSet<u64>>(
            &steps,
            |s, r, op| {
                let element = (op / 2) % 6;
                if op % 2 == 0 { s.add(&node(r), element); } else { s.remove(&element); }
            },
            |s, r, op| {
                let element = (op / 2) % 6;
                let update = if op % 2 == 0 {
                    let context = s.read_ctx().derive_add_ctx(node(r));
                    s.add(element, context)
                } else {
                    let context = s.contains(&element).derive_rm_ctx();
                    s.rm(element, context)
                };
                s.apply(update);
            },
            |s| s.elements(),
            |s| s.read().val.into_iter().collect(),
        )?;
    }

    #[test]
    fn mv_register_matches_mvreg(steps in steps()) {
        differential::<MVRegister<u64>, crdts::MVReg<u64, String>, Vec<u64>>(
            &steps,
            |reg, r, op| { reg.write(&node(r), op % 10); },
            |reg, r, op| {
                let context = reg.read_ctx().derive_add_ctx(node(r));
                let update = reg.write(op % 10, context);
                reg.apply(update);
            },
            |reg| { let mut v: Vec<u64> = reg.values().into_iter().copied().collect(); v.sort(); v },
            |reg| { let mut v = reg.read().val; v.sort(); v },
        )?;
    }
}
