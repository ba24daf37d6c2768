//! The paired ok/bad test data (crates/txn/testdata): every history run
//! through the checker under serializable, strict-serializable and
//! strong-session-serializable gives what Elle gives (expected.json): the
//! verdict, the reported anomaly types, `not` and `also-not`, and every
//! anomaly type found.

use std::path::{Path, PathBuf};

use lightcone_history::formats::{self, Format};
use lightcone_txn::{check, TxnModel, TxnOptions};
use serde_json::{json, Value};

fn testdata() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata")
}

fn sorted(v: &Value) -> Value {
    match v {
        Value::Array(items) => {
            let mut items = items.clone();
            items.sort_by_key(|i| i.to_string());
            Value::Array(items)
        }
        other => other.clone(),
    }
}

#[test]
fn every_gadget_gets_elles_result_under_three_models() {
    let text = std::fs::read_to_string(testdata().join("expected.json")).unwrap();
    let entries: Vec<Value> = serde_json::from_str(&text).unwrap();
    let mut compared = 0;
    for entry in &entries {
        let file = entry["history"].as_str().unwrap();
        let model = TxnModel::by_name(entry["model"].as_str().unwrap()).unwrap();
        let edn = std::fs::read_to_string(testdata().join(file)).unwrap();
        let history = formats::read(&edn, Format::Edn).unwrap();
        for (models, want) in entry["results"].as_object().unwrap() {
            let mut options = TxnOptions::new(model);
            options.consistency_models = lightcone_txn::consistency::parse_models(models).unwrap();
            // Elle's default; Maelstrom's is on.
            options.wfr_keys = entry["options"]["wfr-keys"].as_bool().unwrap_or(false);
            let r = check(&history, &options);
            let mut got = json!({ "valid": r.valid });
            if !r.details.anomaly_types.is_empty() {
                got["anomaly-types"] = json!(r.details.anomaly_types);
            }
            if let (Some(not), Some(also)) = (&r.details.not, &r.details.also_not) {
                got["not"] = json!(not);
                got["also-not"] = json!(also);
            }
            let want: Value = want
                .as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| (k.clone(), sorted(v)))
                .collect::<serde_json::Map<_, _>>()
                .into();
            let got: Value = got
                .as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| (k.clone(), sorted(v)))
                .collect::<serde_json::Map<_, _>>()
                .into();
            assert_eq!(got, want, "{file} under {models}: {:#?}", r.problems);
            let found = sorted(&json!(r.details.found_types));
            assert_eq!(
                found,
                sorted(&entry["found"][models]),
                "{file} under {models}: found"
            );
            compared += 1;
        }
    }
    assert_eq!(compared, 240, "80 histories under three models");
}
