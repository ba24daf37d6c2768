//! Sequential consistency of Porcupine's 103 Jepsen etcd histories
//! (../shared/data/porcupine/jepsen next to the workspace; the test says
//! SKIPPED and passes without it). Every file must be decided, or unknown
//! only for the configuration bound; every linearizable one (expected.tsv)
//! must be sequentially consistent; and the search alone (no
//! linearizability check, no pre-passes) must agree wherever both decide.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use lightcone_check::Validity;
use lightcone_history::{formats, History};
use lightcone_linear::{
    check_sequential, model_by_name, SequentialMethod, SequentialOptions, SequentialResult,
};

mod sc_replay;

/// The bound per check: well above what any etcd history needs (the
/// most, etcd_021, about 35,000 configurations).
const CONFIGS_MAX: usize = 2_000_000;

fn data_dir() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data");
    dir.is_dir().then_some(dir)
}

/// The history in `path`; an empty file (etcd_095) is the empty history.
fn read(path: &Path) -> History {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    if text.trim().is_empty() {
        return History::default();
    }
    formats::read_auto(&text)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .0
}

fn sc(h: &History, search_only: bool) -> SequentialResult {
    let model = model_by_name("cas-register", None).unwrap();
    let mut options = SequentialOptions::default();
    options.configs_max = CONFIGS_MAX;
    options.search_only = search_only;
    check_sequential(h, model.as_ref(), &options)
}

/// Decided, or unknown for the bound only.
fn assert_decided_or_bounded(file: &str, r: &SequentialResult) {
    if r.valid == Validity::Unknown {
        let reason = r.reason.as_deref().unwrap_or("");
        assert_eq!(
            reason,
            format!("more than {CONFIGS_MAX} configurations"),
            "{file}: unknown for a reason other than the bound"
        );
    }
}

#[test]
fn every_etcd_history_is_decided_and_every_linearizable_one_is_sequentially_consistent() {
    let Some(data) = data_dir() else {
        println!("SKIPPED: ../shared/data not found");
        return;
    };
    let dir = data.join("porcupine");
    let expected: BTreeMap<String, String> = std::fs::read_to_string(dir.join("expected.tsv"))
        .expect("expected.tsv is in ../shared/data/porcupine")
        .lines()
        .filter_map(|line| {
            let cols: Vec<&str> = line.split('\t').collect();
            (cols.len() == 3).then(|| (cols[0].to_string(), cols[2].to_string()))
        })
        .collect();
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir.join("jepsen"))
        .expect("../shared/data/porcupine/jepsen is a folder")
        .map(|e| e.expect("a directory entry").path())
        .filter(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            name.starts_with("etcd_") && name.ends_with(".log")
        })
        .collect();
    files.sort();
    assert_eq!(files.len(), 103, "Porcupine's 103 etcd histories");
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for path in &files {
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let h = read(path);
        let r = sc(&h, false);
        assert_decided_or_bounded(&name, &r);
        if expected.get(&format!("jepsen/{name}")).map(String::as_str) == Some("true") {
            assert_eq!(r.valid, Validity::Valid, "{name} is linearizable, so SC");
        }
        let searched = sc(&h, true);
        assert_decided_or_bounded(&name, &searched);
        if searched.valid == Validity::Valid && searched.method == SequentialMethod::Search {
            let order = searched.order.as_ref().expect("the search gives its order");
            let model = model_by_name("cas-register", None).unwrap();
            if let Err(e) = sc_replay::replay(&h, model.as_ref(), order) {
                panic!("{name}: the order the search found is wrong: {e}");
            }
        }
        if r.valid != Validity::Unknown && searched.valid != Validity::Unknown {
            assert_eq!(
                r.valid, searched.valid,
                "{name}: the search alone disagrees"
            );
        }
        let verdict = match r.valid {
            Validity::Valid => "valid",
            Validity::Invalid => "invalid",
            Validity::Unknown => "unknown",
        };
        println!(
            "{name}: {verdict} ({}, {} configurations; search alone: {:?}, {} configurations)",
            r.method.as_str(),
            r.configs,
            searched.valid,
            searched.configs
        );
        *counts.entry(verdict).or_default() += 1;
    }
    println!("{} files: {counts:?}", files.len());
}

/// Porcupine's kv histories: the linearizable ones are sequentially
/// consistent, and the ones that are not linearizable are not
/// sequentially consistent either (a key's gets see appends in orders no
/// single order of that key's ops explains).
#[test]
fn porcupine_kv_histories_are_decided() {
    let Some(data) = data_dir() else {
        println!("SKIPPED: ../shared/data not found");
        return;
    };
    let model = model_by_name("kv", None).unwrap();
    for (file, want) in [
        ("c01-ok", Validity::Valid),
        ("c01-bad", Validity::Invalid),
        ("c10-ok", Validity::Valid),
        ("c10-bad", Validity::Invalid),
        ("c50-ok", Validity::Valid),
        ("c50-bad", Validity::Invalid),
    ] {
        let h = read(&data.join(format!("porcupine/kv/{file}.txt")));
        let mut options = SequentialOptions::default();
        options.configs_max = CONFIGS_MAX;
        let r = check_sequential(&h, model.as_ref(), &options);
        assert_eq!(r.valid, want, "{file}: {:?}", r.reason);
        if want == Validity::Invalid {
            assert!(
                r.key.is_some(),
                "{file}: a key is not sequentially consistent"
            );
            assert!(r.witness.is_some());
        }
        println!("kv/{file}: {:?} ({})", r.valid, r.method.as_str());
    }
}
