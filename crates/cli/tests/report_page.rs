//! report.html: written into every `lightcone test` results folder (not
//! with `--no-report`), self-contained, with a bar per operation, the
//! verdict, and an invalid transactional run's cycle drawn; and `lightcone
//! check --html FILE` for a checked history.

mod common;

use std::path::Path;

use common::lightcone_in;

fn page(dir: &Path) -> Option<String> {
    std::fs::read_to_string(dir.join("store/latest/report.html")).ok()
}

#[test]
fn every_run_writes_its_page_unless_told_not_to() {
    let dir = tempfile::tempdir().unwrap();
    let args = [
        "test",
        "--sim",
        "-w",
        "g-set",
        "--node-count",
        "3",
        "--time-limit",
        "3",
        "--rate",
        "20",
        "--nemesis",
        "partition",
        "--nemesis-interval",
        "1",
        "--seed",
        "5",
    ];
    let out = lightcone_in(dir.path(), &args);
    assert_eq!(out.status.code(), Some(0));
    let html = page(dir.path()).expect("report.html is written");
    let history = std::fs::read_to_string(dir.path().join("store/latest/history.jsonl")).unwrap();
    let client_invokes = history
        .lines()
        .filter(|l| l.contains("\"type\":\"invoke\"") && !l.contains("\"nemesis\""))
        .count();
    let bars = html.matches("class=\"bar ").count();
    assert_eq!(bars, client_invokes, "a bar per operation");
    assert!(html.contains("g-set, seed 5"));
    assert!(html.contains("class=\"verdict valid\""));
    assert!(html.contains("class=\"shade\""), "partitions are shaded");
    assert!(html.contains("Replay: <code>lightcone test --sim -w g-set"));
    assert!(!html.contains("https://") && !html.contains("http://"));
    let workbench =
        std::fs::read_to_string(dir.path().join("store/latest/workbench.json")).unwrap();
    assert!(workbench.contains("\"report-write-s\""));
    assert!(String::from_utf8_lossy(&out.stdout).contains("(report.html, results.json"));

    // The same seed draws the same page.
    let again = tempfile::tempdir().unwrap();
    lightcone_in(again.path(), &args);
    assert_eq!(page(again.path()).unwrap(), html);

    let none = tempfile::tempdir().unwrap();
    let out = lightcone_in(none.path(), &[&args[..], &["--no-report"]].concat());
    assert_eq!(out.status.code(), Some(0));
    assert!(page(none.path()).is_none());
    assert!(!String::from_utf8_lossy(&out.stdout).contains("report.html"));
}

#[test]
fn the_message_log_is_bounded_and_what_it_left_out_is_counted() {
    let dir = tempfile::tempdir().unwrap();
    let out = lightcone_in(
        dir.path(),
        &[
            "test",
            "--sim",
            "-w",
            "echo",
            "--node-count",
            "1",
            "--time-limit",
            "2",
            "--rate",
            "20",
            "--seed",
            "3",
            "--message-log-max",
            "10",
        ],
    );
    assert_eq!(out.status.code(), Some(0));
    let results: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("store/latest/results.json")).unwrap(),
    )
    .unwrap();
    let sent = results["net"]["all"]["send-count"].as_u64().unwrap();
    assert_eq!(
        results["net"]["message-log-truncated-count"].as_u64(),
        Some(sent - 10)
    );
    let html = page(dir.path()).unwrap();
    assert!(
        html.contains(&format!(
            "10 messages recorded, {} more sent but not recorded",
            sent - 10
        )),
        "{html}"
    );
}

#[test]
fn an_invalid_transactional_run_draws_its_cycle() {
    let dir = tempfile::tempdir().unwrap();
    let out = lightcone_in(
        dir.path(),
        &[
            "test",
            "--sim",
            "-w",
            "txn-list-append",
            "--node-count",
            "2",
            "--time-limit",
            "5",
            "--rate",
            "30",
            "--seed",
            "1",
            "--",
            "--unsafe-lww-thunks",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    let html = page(dir.path()).unwrap();
    assert!(html.contains("class=\"verdict invalid\""));
    assert!(html.contains("<h2 id=\"witness\">Anomalies</h2>"));
    assert!(html.matches("class=\"edge ").count() >= 2);
}

#[test]
fn check_html_writes_a_checked_historys_page() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("g1c.html");
    let history =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../txn/testdata/list-append/g1c.bad.edn");
    let out = lightcone_in(
        dir.path(),
        &[
            "check",
            "--model",
            "list-append",
            "--html",
            file.to_str().unwrap(),
            history.to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    let html = std::fs::read_to_string(&file).unwrap();
    assert_eq!(html.matches("class=\"bar ok\"").count(), 2);
    assert_eq!(html.matches("class=\"edge ").count(), 2);
    assert!(html.contains("G1c"));

    let two = lightcone_in(
        dir.path(),
        &[
            "check",
            "--model",
            "list-append",
            "--html",
            file.to_str().unwrap(),
            history.to_str().unwrap(),
            history.to_str().unwrap(),
        ],
    );
    assert_eq!(two.status.code(), Some(4));
    assert!(String::from_utf8_lossy(&two.stderr).contains("--html writes one history's page"));
}

#[test]
fn witnesses_are_marked_on_the_timeline() {
    let dir = tempfile::tempdir().unwrap();
    // A lost broadcast: the operations that added the lost elements.
    let out = lightcone_in(
        dir.path(),
        &[
            "test",
            "--sim",
            "-w",
            "broadcast",
            "--node-count",
            "5",
            "--time-limit",
            "10",
            "--rate",
            "50",
            "--latency",
            "10",
            "--nemesis",
            "partition",
            "--nemesis-interval",
            "2",
            "--seed",
            "2",
            "--",
            "--unreliable",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    let html = page(dir.path()).unwrap();
    let results: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("store/latest/results.json")).unwrap(),
    )
    .unwrap();
    let lost = results["workload"]["lost-count"].as_u64().unwrap();
    let listed = results["workload"]["lost"].as_array().unwrap().len();
    assert!(lost > 0 && listed > 0);
    assert_eq!(html.matches(" witness\"").count(), listed);
    assert!(html.contains(&format!("Lost: {lost} element(s)")));

    // A non-linearizable register: the operation and its concurrent ones.
    let gen = lightcone_in(
        dir.path(),
        &[
            "gen",
            "register",
            "--clients",
            "5",
            "--ops",
            "200",
            "--corrupt",
        ],
    );
    let history = dir.path().join("reg.jsonl");
    std::fs::write(&history, &gen.stdout).unwrap();
    let file = dir.path().join("reg.html");
    let out = lightcone_in(
        dir.path(),
        &[
            "check",
            "--model",
            "cas-register",
            "--html",
            file.to_str().unwrap(),
            history.to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    let html = std::fs::read_to_string(&file).unwrap();
    assert_eq!(html.matches(" witness\"").count(), 1);
    assert!(html.contains(" concurrent\""));
    assert!(html.contains("Not linearizable: "));
}

#[test]
fn a_process_mode_page_plots_each_nodes_queue() {
    let dir = tempfile::tempdir().unwrap();
    let out = lightcone_in(
        dir.path(),
        &[
            "test",
            "-w",
            "echo",
            "--node-count",
            "2",
            "--time-limit",
            "1",
            "--rate",
            "20",
        ],
    );
    assert_eq!(out.status.code(), Some(0));
    let html = page(dir.path()).unwrap();
    assert!(html.contains("<h2 id=\"queues\">Node queues</h2>"));
    assert_eq!(html.matches("<polyline class=\"queue\"").count(), 2);
    assert!(html.contains("<title>n0</title>") && html.contains("<title>n1</title>"));
}

#[test]
fn a_linearizability_witness_is_drawn_as_porcupine_draws_it() {
    // write 1; then two cas 1 -> 2 and 1 -> 3 that both succeed: the
    // search linearizes write 1 and cas 1 -> 2, and then cas 1 -> 3
    // cannot be linearized (the state is 2).
    let dir = tempfile::tempdir().unwrap();
    let history = dir.path().join("cas.jsonl");
    let line = |i: u64, t: u64, p: u64, kind: &str, f: &str, v: serde_json::Value| {
        serde_json::json!({"index": i, "time": t, "process": p, "type": kind, "f": f, "value": v})
            .to_string()
    };
    let ops = [
        line(0, 0, 0, "invoke", "write", 1.into()),
        line(1, 10, 0, "ok", "write", 1.into()),
        line(2, 20, 1, "invoke", "cas", serde_json::json!([1, 2])),
        line(3, 25, 2, "invoke", "cas", serde_json::json!([1, 3])),
        line(4, 30, 1, "ok", "cas", serde_json::json!([1, 2])),
        line(5, 35, 3, "invoke", "read", serde_json::Value::Null),
        line(6, 40, 2, "ok", "cas", serde_json::json!([1, 3])),
        line(7, 45, 3, "ok", "read", 3.into()),
    ];
    std::fs::write(&history, ops.join("\n")).unwrap();
    let file = dir.path().join("cas.html");
    let out = lightcone_in(
        dir.path(),
        &[
            "check",
            "--model",
            "cas-register",
            "--html",
            file.to_str().unwrap(),
            history.to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    let html = std::fs::read_to_string(&file).unwrap();
    let section = &html[html
        .find("<h2 id=\"lin-witness\">")
        .expect("the witness section")..];
    let section = &section[..section.find("</svg>").unwrap()];
    assert!(section.contains("Linearizability witness: the history"));
    assert!(section.contains("has 2 operation(s); its last 2 are numbered"));
    assert!(section.contains("<b>cas 1 -&gt; 3</b>"), "{section}");
    // Numbered linearization points, with the state after each.
    assert!(section.contains(">1: 1</text>") && section.contains(">2: 2</text>"));
    // Each point lies on its operation's bar (same row, within the bar).
    let attr = |text: &str, name: &str| -> f64 {
        let v = text.split(&format!(" {name}=\"")).nth(1).unwrap();
        v[..v.find('"').unwrap()].parse().unwrap()
    };
    let points: Vec<(f64, f64)> = section
        .split("<g class=\"lpoint\">")
        .skip(1)
        .map(|g| (attr(g, "x1"), attr(g, "y1")))
        .collect();
    let bars: Vec<(f64, f64, f64)> = section
        .split("<rect class=\"bar ok linearized\"")
        .skip(1)
        .map(|r| (attr(r, "x"), attr(r, "y"), attr(r, "width")))
        .collect();
    assert_eq!(points.len(), 2, "{section}");
    assert_eq!(bars.len(), 2, "{section}");
    for (px, py) in &points {
        assert!(
            bars.iter()
                .any(|(x, y, w)| *y == py + 4.0 && x - 0.01 <= *px && *px <= x + w + 0.01),
            "point at {px},{py} is off its bar: {bars:?}"
        );
    }
    assert!(points[0].1 < points[1].1, "on their processes' rows");
    // The stuck op outlined, and the states the model could be in.
    assert_eq!(
        section.matches(" stuck\"").count(),
        2,
        "its group and its bar"
    );
    assert!(html.contains("The states the model could be in there: <code>2</code>"));
}
