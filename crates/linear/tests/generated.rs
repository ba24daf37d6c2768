//! The linearizability checker on generated register histories
//! (`linear::gen`): linearizable by construction, or made provably not so by
//! corrupting one read. Every mode must agree: the default (pre-passes
//! first), search only, and the breadth-first search alone.
//!
//! The full-size runs are `#[ignore]`d: `cargo test --release -p
//! lightcone-linear --test generated -- --ignored`. Timings belong in
//! `cargo bench -p lightcone-linear --bench linear`, not here.

use lightcone_check::Validity;
use lightcone_linear::{gen, model_by_name, LinearOptions, Method};

fn modes() -> Vec<(&'static str, LinearOptions)> {
    let default = LinearOptions::default();
    let mut search = LinearOptions::default();
    search.search_only = true;
    let mut breadth_first = search.clone();
    breadth_first.depth_first_configs_max = Some(0);
    vec![
        ("default", default),
        ("search", search),
        ("breadth-first", breadth_first),
    ]
}

fn expect(seed: u64, clients: usize, ops: usize, crash_permille: u32, corrupt: bool) {
    let h = gen::register_history(seed, clients, ops, crash_permille, corrupt);
    let model = model_by_name("cas-register", None).unwrap();
    let want = if corrupt {
        Validity::Invalid
    } else {
        Validity::Valid
    };
    for (mode, options) in modes() {
        let r = lightcone_linear::check(&h, model.as_ref(), &options);
        assert_eq!(
            r.valid, want,
            "seed {seed}, {clients} clients, {ops} ops, {crash_permille} per mille crashed, \
             corrupt {corrupt}, mode {mode}: {:?}",
            r.reason
        );
        if corrupt {
            let w = r.witness().expect("a witness");
            assert_eq!(w.op.f, "read", "the corrupted op is a read");
        }
    }
}

#[test]
fn small_generated_histories_are_decided_correctly() {
    for seed in 0..40 {
        let clients = 2 + (seed as usize % 6);
        let crash = [0, 10, 50][seed as usize % 3];
        expect(seed, clients, 300, crash, false);
        expect(seed, clients, 300, crash, true);
    }
}

#[test]
fn unique_value_histories_take_the_zone_test() {
    let model = model_by_name("independent-register", None).unwrap();
    for seed in 0..10 {
        let h = gen::unique_register_history(seed, 8, 5, 2_000);
        let r = lightcone_linear::check(&h, model.as_ref(), &LinearOptions::default());
        assert_eq!(r.valid, Validity::Valid, "seed {seed}: {:?}", r.reason);
        assert_eq!(r.partitions.len(), 5);
        assert!(r
            .partitions
            .iter()
            .all(|p| p.method == Method::RegisterZones));
        let mut search = LinearOptions::default();
        search.search_only = true;
        let slow = lightcone_linear::check(&h, model.as_ref(), &search);
        assert_eq!(
            slow.valid,
            Validity::Valid,
            "seed {seed}: {:?}",
            slow.reason
        );
    }
}

#[test]
#[ignore = "full size: run in release"]
fn large_generated_histories_are_decided_correctly() {
    for (clients, crash) in [(5, 0), (10, 0), (10, 2), (20, 2)] {
        for corrupt in [false, true] {
            let h = gen::register_history(7, clients, 100_000, crash, corrupt);
            let model = model_by_name("cas-register", None).unwrap();
            let r = lightcone_linear::check(&h, model.as_ref(), &LinearOptions::default());
            let want = if corrupt {
                Validity::Invalid
            } else {
                Validity::Valid
            };
            assert_eq!(
                r.valid, want,
                "{clients} clients, crash {crash}: {:?}",
                r.reason
            );
        }
    }
}
