//! Elle's own example histories (../shared/data/elle), checked as Elle's
//! tests check them (test/elle/list_append_test.clj). Skipped, and said so,
//! when ../shared is not there.

use std::path::PathBuf;

use lightcone_check::Validity;
use lightcone_history::formats::{self, Format};
use lightcone_history::History;
use lightcone_txn::{check, TxnModel, TxnOptions};

fn elle_history(name: &str) -> Option<History> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data/elle")
        .join(name);
    let Ok(text) = std::fs::read_to_string(&path) else {
        eprintln!(
            "SKIPPED: {} is not there (../shared/data is not checked out)",
            path.display()
        );
        return None;
    };
    Some(formats::read(&text, Format::Edn).expect("Elle's histories read"))
}

#[test]
fn si_without_g_single_is_exactly_g2_item_not_repeatable_read() {
    let Some(h) = elle_history("si-without-g-single.edn") else {
        return;
    };
    let mut options = TxnOptions::new(TxnModel::ListAppend);
    options.consistency_models = vec!["snapshot-isolation", "repeatable-read"];
    let r = check(&h, &options);
    assert_eq!(r.valid, Validity::Invalid, "{:?}", r.problems);
    assert_eq!(r.details.anomaly_types, vec!["G2-item"]);
    let not: Vec<&str> = r.details.not.clone().unwrap().into_iter().collect();
    assert_eq!(not, vec!["repeatable-read"]);
}

#[test]
fn huge_scc_is_invalid_with_its_realtime_cycles_named() {
    let Some(h) = elle_history("huge-scc.edn") else {
        return;
    };
    let r = check(&h, &TxnOptions::new(TxnModel::ListAppend));
    eprintln!(
        "{:?}\n{:?} {:?}\n{}",
        r.details.anomaly_types,
        r.details.not,
        r.details.found_types,
        serde_json::to_string(&r.details.graph).unwrap()
    );
    assert_eq!(r.valid, Validity::Invalid);
}
