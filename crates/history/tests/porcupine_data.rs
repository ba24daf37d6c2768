//! Reads every history of Porcupine's test data (listed in the shared
//! folder's expected.tsv) with format detection, and checks what each reader
//! makes of it. The data lives outside the repository, beside it in
//! `shared/data/porcupine`; without it the test says SKIPPED and passes.

use std::path::{Path, PathBuf};

use lightcone_history::formats::{self, Format};
use lightcone_history::{History, OpType};
use serde_json::Value;

fn data_dir() -> Option<PathBuf> {
    let dir = Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/data/porcupine"
    ));
    if dir.join("expected.tsv").is_file() {
        Some(dir.to_path_buf())
    } else {
        println!(
            "SKIPPED: ../shared/data is absent ({} has no expected.tsv), so Porcupine's histories are not read",
            dir.display()
        );
        None
    }
}

/// The files expected.tsv lists, relative to the data folder.
fn listed_files(dir: &Path) -> Vec<String> {
    let table = std::fs::read_to_string(dir.join("expected.tsv")).unwrap();
    table
        .lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.split('\t').next().unwrap().to_string())
        .collect()
}

fn invocations(h: &History) -> usize {
    h.iter().filter(|op| op.is_invoke()).count()
}

/// Every completion follows an invocation of its process.
fn assert_well_paired(file: &str, h: &History) {
    let completed = h.pairs().iter().filter(|(_, done)| done.is_some()).count();
    assert_eq!(
        completed + invocations(h),
        h.len(),
        "{file}: every completion pairs with an invocation"
    );
}

#[test]
fn every_listed_history_reads_with_the_detected_format() {
    let Some(dir) = data_dir() else { return };
    let files = listed_files(&dir);
    assert_eq!(files.len(), 108, "102 etcd and 6 kv histories are listed");
    for file in &files {
        let text = std::fs::read_to_string(dir.join(file)).unwrap();
        let (h, format) = formats::read_auto(&text).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_well_paired(file, &h);
        if file.starts_with("jepsen/") {
            assert_eq!(format, Format::PorcupineEtcd, "{file}");
            let invoked = invocations(&h);
            // The README: 73 to 90 operations per history; the ones that
            // timed out with :info may stay pending.
            assert!(
                (73..=90).contains(&invoked),
                "{file}: {invoked} invocations"
            );
            assert!(
                h.len() > invoked && h.len() <= 2 * invoked,
                "{file}: {} ops",
                h.len()
            );
            assert!(h
                .iter()
                .all(|op| matches!(op.f.as_str(), "read" | "write" | "cas")));
        } else {
            assert!(file.starts_with("kv/"), "{file}");
            assert_eq!(format, Format::PorcupineKv, "{file}");
            let least = if file.starts_with("kv/c50") {
                1000
            } else if file.starts_with("kv/c10") {
                300
            } else {
                30
            };
            assert!(
                invocations(&h) > least,
                "{file}: {} invocations",
                invocations(&h)
            );
            for op in h.iter() {
                assert!(matches!(op.f.as_str(), "get" | "put" | "append"), "{file}");
                assert!(
                    matches!(&op.value, Value::Array(t) if t.len() == 2 && t[0].is_string()),
                    "{file}: {op:?}"
                );
            }
        }
    }
}

#[test]
fn etcd_values_follow_the_mapping() {
    let Some(dir) = data_dir() else { return };
    let mut timeouts = 0;
    let mut timed_out_lines = 0;
    let mut nil_reads = 0;
    for file in listed_files(&dir)
        .iter()
        .filter(|f| f.starts_with("jepsen/"))
    {
        let text = std::fs::read_to_string(dir.join(file)).unwrap();
        timed_out_lines += text
            .lines()
            .filter(|l| l.trim_end().ends_with(":timed-out"))
            .count();
        let h = formats::read(&text, Format::PorcupineEtcd).unwrap();
        for (invoke, done) in h.pairs() {
            let Some(done) = done else { continue };
            match (done.kind, done.error.as_deref()) {
                (OpType::Info, Some(Value::String(e))) if e == "timed-out" => {
                    timeouts += 1;
                    assert_eq!(
                        done.value, invoke.value,
                        "{file}: a timeout keeps the invocation's value"
                    );
                }
                (OpType::Info, other) => panic!("{file}: an info op with error {other:?}"),
                (_, None) => {}
                (_, Some(e)) => panic!("{file}: unexpected error {e}"),
            }
            if done.kind == OpType::Ok && done.f == "read" && done.value.is_null() {
                nil_reads += 1;
            }
            if done.f == "cas" {
                assert!(
                    matches!(&done.value, Value::Array(p) if p.len() == 2),
                    "{file}"
                );
            }
        }
    }
    // Every :timed-out line is a completion that became info; nil reads of
    // the absent register stay definite ok reads.
    assert_eq!(timeouts, timed_out_lines, "timed-out completions");
    assert!(timeouts > 1000, "{timeouts} timeouts");
    assert!(nil_reads > 0, "some reads find the register absent");
}

#[test]
fn etcd_reads_the_empty_run_as_an_empty_history() {
    let Some(dir) = data_dir() else { return };
    let path = dir.join("jepsen/etcd_095.log");
    if !path.is_file() {
        println!("SKIPPED: jepsen/etcd_095.log is absent");
        return;
    }
    let text = std::fs::read_to_string(path).unwrap();
    assert!(formats::read(&text, Format::PorcupineEtcd)
        .unwrap()
        .is_empty());
    assert!(formats::read_auto(&text)
        .unwrap_err()
        .message
        .contains("empty"));
}

/// Writing a Porcupine history as EDN and reading it back gives the same
/// history, except that an ok read of nil, definite in the etcd log, reads
/// back as Knossos's uninformative nil read.
#[test]
fn porcupine_histories_survive_edn_and_jsonl() {
    let Some(dir) = data_dir() else { return };
    for file in listed_files(&dir) {
        let text = std::fs::read_to_string(dir.join(&file)).unwrap();
        let (h, _) = formats::read_auto(&text).unwrap();
        let mut expected = h.clone();
        for op in &mut expected.ops {
            if op.kind == OpType::Ok && op.f == "read" && op.value.is_null() {
                op.kind = OpType::Info;
                op.error = Some(Box::new(Value::String("nil-read".into())));
            }
        }
        let edn = formats::to_edn(&h);
        // The kv reader folds the key into the value, so no :key remains.
        assert_eq!(formats::detect(&edn), Some(Format::Edn), "{file}");
        assert_eq!(
            formats::read(&edn, Format::Edn).unwrap(),
            expected,
            "{file}"
        );
        assert_eq!(
            formats::read(&h.to_jsonl(), Format::Jsonl).unwrap(),
            h,
            "{file}"
        );
    }
}
