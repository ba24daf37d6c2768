//! `lightcone serve`: a store's runs listed at `/`, each run's files served
//! under `/runs/`, nothing outside the store, and a missing store refused.

mod common;

use common::{get, lightcone_in, serve};

#[test]
fn the_runs_of_a_store_are_listed_and_their_files_served() {
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
            "10",
            "--seed",
            "4",
        ],
    );
    assert_eq!(out.status.code(), Some(0));
    let store = dir.path().join("store");
    let run = std::fs::read_link(store.join("echo/latest")).unwrap();
    let run = run.to_string_lossy();
    let s = serve(&store);

    let (status, index) = get(&s.addr, "/");
    assert_eq!(status, 200);
    assert!(index.contains("1 runs in"), "{index}");
    assert!(
        index.contains("<td>echo</td><td class=\"valid\">valid</td>"),
        "{index}"
    );
    assert!(index.contains(&format!("{run}/report.html")), "{index}");

    let (status, page) = get(&s.addr, &format!("/runs/echo/{run}/report.html"));
    assert_eq!(status, 200);
    assert!(page.starts_with("<!DOCTYPE html>"));
    let (status, results) = get(&s.addr, &format!("/runs/echo/{run}/results.json"));
    assert_eq!(status, 200);
    assert!(results.contains("\"valid\": true"));
    let (status, log) = get(&s.addr, &format!("/runs/echo/{run}/node-logs/n0.log"));
    assert_eq!(status, 200, "{log}");

    for outside in [
        "/runs/../../etc/passwd",
        "/runs/echo/latest/../../../etc/passwd",
        "/runs/echo/latest/nosuchfile",
        "/etc/passwd",
        "/runs/echo",
    ] {
        assert_eq!(get(&s.addr, outside).0, 404, "{outside}");
    }
}

#[test]
fn a_missing_store_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let out = lightcone_in(dir.path(), &["serve", "--store", "nowhere", "--port", "0"]);
    assert_eq!(out.status.code(), Some(4));
    assert!(String::from_utf8_lossy(&out.stderr).contains("there is no results store at nowhere"));
}
