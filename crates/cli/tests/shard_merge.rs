//! A sweep split into four shards, as four machines of a batch scheduler
//! would run it, and `lightcone merge` adding them up: the same counts and
//! failing seeds as the sweep run whole, replay commands that replay, and
//! refusals of shards that are not of one sweep or not all there.

mod common;

use std::path::{Path, PathBuf};

use common::lightcone_in;
use serde_json::Value;

/// A broadcast sweep short enough for every test run; with the node's
/// `--unreliable` flag some of its 16 seeds lose acknowledged elements.
const SWEEP: &[&str] = &[
    "test",
    "--sim",
    "-w",
    "broadcast",
    "--node-count",
    "3",
    "--time-limit",
    "2",
    "--rate",
    "5",
    "--latency",
    "10",
    "--nemesis",
    "partition",
    "--nemesis-interval",
    "1",
    "--seeds",
    "16",
];

/// Runs the sweep (whole, or one shard) with its summary to `out`;
/// returns the exit code.
fn sweep(dir: &Path, shard: Option<&str>, out: &Path, unreliable: bool) -> Option<i32> {
    let mut args = SWEEP.to_vec();
    if let Some(s) = shard {
        args.extend(["--shard", s]);
    }
    let out = out.to_str().unwrap();
    args.extend(["--sweep-out", out]);
    if unreliable {
        args.extend(["--", "--unreliable"]);
    }
    lightcone_in(dir, &args).status.code()
}

/// The four shards' summaries, in `dir/name/shard-i.json`.
fn shards(dir: &Path, name: &str, unreliable: bool) -> PathBuf {
    let folder = dir.join(name);
    std::fs::create_dir(&folder).unwrap();
    for i in 0..4 {
        let out = folder.join(format!("shard-{i}.json"));
        sweep(dir, Some(&format!("{i}/4")), &out, unreliable);
        assert!(out.exists(), "shard {i}/4 wrote its summary");
    }
    folder
}

fn read_json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn failing_seeds(summary: &Value) -> Vec<u64> {
    summary["failures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["seed"].as_u64().unwrap())
        .collect()
}

fn merge(dir: &Path, args: &[&str]) -> (Option<i32>, String, String) {
    let mut all = vec!["merge"];
    all.extend(args);
    let out = lightcone_in(dir, &all);
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn four_merged_shards_are_the_whole_sweep() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for (name, unreliable) in [("failing", true), ("passing", false)] {
        let whole_path = d.join(format!("{name}-whole.json"));
        let whole_code = sweep(d, None, &whole_path, unreliable);
        let whole = read_json(&whole_path);
        let folder = shards(d, name, unreliable);
        let (code, stdout, stderr) = merge(d, &["--json", folder.to_str().unwrap()]);
        assert_eq!(code, whole_code, "{name}: {stdout}{stderr}");
        let merged: Value = serde_json::from_str(&stdout).unwrap();
        assert_eq!(merged["complete"], true, "{name}");
        assert_eq!(merged["counts"], whole["counts"], "{name}");
        assert_eq!(merged["counts"]["seeds"], 16, "{name}");
        assert_eq!(failing_seeds(&merged), failing_seeds(&whole), "{name}");
        assert_eq!(merged["failing-seeds"], whole["failing-seeds"], "{name}");
        assert_eq!(merged["sweep-command"], whole["sweep-command"], "{name}");
        // A merged summary saved beside the shards is skipped, not merged.
        std::fs::write(folder.join("merged.json"), &stdout).unwrap();
        let (again, stdout_again, stderr) = merge(d, &["--json", folder.to_str().unwrap()]);
        assert_eq!(again, code);
        assert!(stderr.contains("skipping"), "{stderr}");
        let merged_again: Value = serde_json::from_str(&stdout_again).unwrap();
        assert_eq!(merged_again["counts"], merged["counts"]);
        if !unreliable {
            assert_eq!(code, Some(0), "{stdout}");
            continue;
        }
        let failures = merged["failures"].as_array().unwrap();
        assert!(
            !failures.is_empty() && failures.len() < 16,
            "the unreliable node fails in some seeds, not all: {stdout}"
        );
        assert_eq!(code, Some(1));
        assert!(
            failures.iter().any(|f| f.get("shrunk-replay").is_some()),
            "the shards shrank their first failures: {stdout}"
        );

        // The text form prints every failure's replay command, and the
        // first one replays to the same verdict.
        let (_, text, _) = merge(d, &[folder.to_str().unwrap()]);
        for f in failures {
            let replay = f["replay"].as_str().unwrap();
            assert!(text.contains(replay), "{text}");
        }
        let replay = failures[0]["replay"].as_str().unwrap();
        let args: Vec<&str> = replay.split_whitespace().skip(1).collect();
        let run = tempfile::tempdir().unwrap();
        let out = lightcone_in(run.path(), &args);
        assert_eq!(
            out.status.code(),
            Some(1),
            "the replay of seed {} fails again: {}",
            failures[0]["seed"],
            String::from_utf8_lossy(&out.stdout)
        );
    }
}

#[test]
fn merging_refuses_mixed_sweeps_and_reports_missing_shards() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let failing = shards(d, "failing", true);
    let passing = shards(d, "passing", false);
    let file = |folder: &Path, i: u32| folder.join(format!("shard-{i}.json"));
    let path = |p: PathBuf| p.to_str().unwrap().to_string();

    // Two configurations: refused, naming both files and the flag.
    let (a, b) = (path(file(&failing, 0)), path(file(&passing, 1)));
    let (code, _, stderr) = merge(d, &[&a, &b]);
    assert_eq!(code, Some(4), "{stderr}");
    assert!(stderr.contains(&a) && stderr.contains(&b), "{stderr}");
    assert!(stderr.contains("-- --unreliable"), "{stderr}");

    // Two lightcone versions: refused.
    let mut other = read_json(&file(&passing, 2));
    other["lightcone-version"] = "0.0.1".into();
    let odd = d.join("other-version.json");
    std::fs::write(&odd, other.to_string()).unwrap();
    let (code, _, stderr) = merge(d, &[&b, &path(odd)]);
    assert_eq!(code, Some(4), "{stderr}");
    assert!(stderr.contains("lightcone-version"), "{stderr}");

    // Two executables of one version: merged, with a warning.
    let mut rebuilt = read_json(&file(&passing, 2));
    rebuilt["lightcone-binary"] = "fnv1a64:0123456789abcdef".into();
    let odd = d.join("rebuilt.json");
    std::fs::write(&odd, rebuilt.to_string()).unwrap();
    let (code, _, stderr) = merge(d, &[&b, &path(odd)]);
    assert_eq!(code, Some(6), "two shards of four: {stderr}");
    assert!(
        stderr.contains("2 different lightcone executables"),
        "{stderr}"
    );

    // The same shard twice: refused.
    let copy = d.join("copy.json");
    std::fs::copy(file(&failing, 0), &copy).unwrap();
    let (code, _, stderr) = merge(d, &[&a, &path(copy)]);
    assert_eq!(code, Some(4), "{stderr}");
    assert!(stderr.contains("both shard 0/4"), "{stderr}");

    // A shard whose counts disagree with its seeds: refused.
    let mut bad = read_json(&file(&passing, 3));
    bad["seeds-run"].as_array_mut().unwrap().pop();
    let odd = d.join("edited.json");
    std::fs::write(&odd, bad.to_string()).unwrap();
    let (code, _, stderr) = merge(d, &[&path(odd)]);
    assert_eq!(code, Some(4), "{stderr}");
    assert!(stderr.contains("edited or corrupted"), "{stderr}");

    // A missing shard, and one killed part-way: merged, loudly, with the
    // partial exit code.
    std::fs::remove_file(file(&failing, 2)).unwrap();
    let mut killed = read_json(&file(&failing, 3));
    killed["complete"] = false.into();
    let last = killed["seeds-run"].as_array_mut().unwrap().pop().unwrap();
    let failures = killed["failures"].as_array_mut().unwrap();
    let failed = failures.iter().position(|f| f["seed"] == last);
    let verdict = match failed {
        Some(i) => {
            failures.remove(i);
            killed["failing-seeds"].as_array_mut().unwrap().pop();
            "invalid"
        }
        None => "valid",
    };
    for count in ["seeds", verdict] {
        let n = killed["counts"][count].as_u64().unwrap();
        killed["counts"][count] = (n - 1).into();
    }
    std::fs::write(file(&failing, 3), killed.to_string()).unwrap();
    let (code, stdout, stderr) = merge(d, &["--json", &path(failing.clone())]);
    assert_eq!(code, Some(6), "{stderr}");
    assert!(stderr.contains("PARTIAL MERGE"), "{stderr}");
    assert!(
        stderr.contains("missing shards (no summary given): 2/4"),
        "{stderr}"
    );
    assert!(stderr.contains("unfinished shards"), "{stderr}");
    assert!(stderr.contains("--shard 2/4"), "{stderr}");
    let merged: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(merged["complete"], false);
    assert_eq!(merged["shards-missing"], serde_json::json!([2]));
    assert_eq!(merged["shards-incomplete"], serde_json::json!([3]));
    assert_eq!(merged["seeds-not-run-count"], 5);
}
