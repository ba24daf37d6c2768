//! report.html in a real browser: headless Chromium loads a run's page and
//! a checked history's page with no console error, the script draws one
//! arrow per recorded message copy, and the screenshots are not blank.
//! .ci/run installs Debian's chromium when it is missing; elsewhere,
//! without a Chromium on PATH, these tests print SKIPPED and pass.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{lightcone_in, serve};

fn chromium() -> Option<&'static str> {
    let found = ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find(|name| {
            Command::new(name)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        });
    if found.is_none() {
        eprintln!("SKIPPED: no chromium on PATH; the browser tests of report.html need it");
    }
    found
}

/// Loads `url` in headless Chromium with `extra` flags.
fn headless(browser: &str, url: &str, extra: &[&str]) -> Output {
    let profile = tempfile::tempdir().unwrap();
    Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(extra)
        .arg(url)
        .output()
        .unwrap()
}

fn file_url(page: &Path) -> String {
    format!("file://{}", page.display())
}

/// Console errors the page raised, as Chromium logs them.
fn console_errors(out: &Output) -> Vec<String> {
    String::from_utf8_lossy(&out.stderr)
        .lines()
        .filter(|l| l.contains("CONSOLE") || l.contains("Uncaught"))
        .map(str::to_string)
        .collect()
}

/// The diagram's data embedded in a page (`parties`, `m`, ...).
fn diagram_data(html: &str) -> serde_json::Value {
    let start = html.find("id=\"st-data\">").expect("the diagram's data") + 13;
    let end = start + html[start..].find("</script>").unwrap();
    serde_json::from_str(&html[start..end]).unwrap()
}

/// The message copies the page's data holds (entries of `m`).
fn message_copies(html: &str) -> usize {
    diagram_data(html)["m"].as_array().unwrap().len()
}

/// The arrows a dumped DOM draws lit as a causal past, by message copy.
fn lit_past(dom: &str) -> std::collections::BTreeSet<usize> {
    dom.split("<line data-i=\"")
        .skip(1)
        .filter(|s| s.split('>').next().unwrap().contains(" past\""))
        .map(|s| s[..s.find('"').unwrap()].parse().unwrap())
        .collect()
}

/// A small simulated broadcast run's page (4 nodes, 2 s, seed 21), in `dir`.
fn small_run_page(dir: &Path) -> PathBuf {
    lightcone_in(
        dir,
        &[
            "test",
            "--sim",
            "-w",
            "broadcast",
            "--node-count",
            "4",
            "--time-limit",
            "2",
            "--rate",
            "20",
            "--latency",
            "30",
            "--seed",
            "21",
        ],
    );
    dir.join("store/latest/report.html")
}

fn screenshot_is_not_blank(browser: &str, page: &Path) {
    let dir = tempfile::tempdir().unwrap();
    let png: PathBuf = dir.path().join("shot.png");
    let out = headless(
        browser,
        &file_url(page),
        &[
            &format!("--screenshot={}", png.display()),
            "--window-size=1200,2400",
        ],
    );
    let size = std::fs::metadata(&png)
        .unwrap_or_else(|_| panic!("no screenshot: {}", String::from_utf8_lossy(&out.stderr)))
        .len();
    // A blank 1200x2400 page compresses to a few kilobytes.
    assert!(
        size > 30_000,
        "screenshot of {} is {size} bytes",
        page.display()
    );
}

#[test]
fn a_runs_page_draws_an_arrow_per_message_without_errors() {
    let Some(browser) = chromium() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let out = lightcone_in(
        dir.path(),
        &[
            "test",
            "--sim",
            "-w",
            "broadcast",
            "--node-count",
            "3",
            "--time-limit",
            "3",
            "--rate",
            "20",
            "--latency",
            "20",
            "--nemesis",
            "partition",
            "--nemesis-interval",
            "1",
            "--loss",
            "1/20",
            "--duplicate",
            "1/20",
            "--seed",
            "11",
        ],
    );
    assert_eq!(out.status.code(), Some(0));
    let page = dir.path().join("store/latest/report.html");
    let html = std::fs::read_to_string(&page).unwrap();
    let copies = message_copies(&html);
    assert!(copies > 100, "{copies}");

    let out = headless(browser, &file_url(&page), &["--dump-dom"]);
    assert!(
        console_errors(&out).is_empty(),
        "{:?}",
        console_errors(&out)
    );
    let dom = String::from_utf8_lossy(&out.stdout);
    let arrows = dom.matches(" class=\"msg").count();
    assert_eq!(arrows, copies, "one arrow per recorded message copy");
    assert!(dom.contains("class=\"msg dropped\"") || dom.contains("class=\"msg lost\""));
    assert!(dom.contains("VALID"));
    screenshot_is_not_blank(browser, &page);
}

#[test]
fn a_checked_historys_page_loads_without_errors() {
    let Some(browser) = chromium() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("g1c.html");
    let history = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../txn/testdata/list-append/g-single-item-realtime.bad.edn");
    lightcone_in(
        dir.path(),
        &[
            "check",
            "--model",
            "list-append",
            "--html",
            page.to_str().unwrap(),
            history.to_str().unwrap(),
        ],
    );
    let out = headless(browser, &file_url(&page), &["--dump-dom"]);
    assert!(
        console_errors(&out).is_empty(),
        "{:?}",
        console_errors(&out)
    );
    let dom = String::from_utf8_lossy(&out.stdout);
    assert!(dom.contains("INVALID") && dom.contains("G-single-item-realtime"));
    assert_eq!(dom.matches("class=\"edge\"").count(), 2);
}

#[test]
fn serves_index_loads_in_the_browser_without_errors() {
    let Some(browser) = chromium() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    lightcone_in(
        dir.path(),
        &[
            "test",
            "--sim",
            "-w",
            "echo",
            "--node-count",
            "1",
            "--time-limit",
            "1",
        ],
    );
    let s = serve(&dir.path().join("store"));
    let url = format!("http://{}/", s.addr);
    let out = headless(browser, &url, &["--dump-dom"]);
    assert!(
        console_errors(&out).is_empty(),
        "{:?}",
        console_errors(&out)
    );
    let dom = String::from_utf8_lossy(&out.stdout);
    assert!(
        dom.contains("lightcone runs") && dom.contains("report.html"),
        "{dom}"
    );
}

/// The messages in the causal past of message `k0`'s delivery, by a
/// fixpoint (repeat until nothing changes), independent of the page's
/// one-pass walk.
fn causal_past(m: &[serde_json::Value], k0: usize) -> std::collections::BTreeSet<usize> {
    let mut reach: std::collections::BTreeMap<u64, i64> = std::collections::BTreeMap::new();
    let mut past = std::collections::BTreeSet::from([k0]);
    reach.insert(m[k0][0].as_u64().unwrap(), m[k0][2].as_i64().unwrap());
    loop {
        let mut changed = false;
        for (j, msg) in m.iter().enumerate() {
            let (src, dest) = (msg[0].as_u64().unwrap(), msg[1].as_u64().unwrap());
            let (sent, arrived, fate) = (
                msg[2].as_i64().unwrap(),
                msg[3].as_i64().unwrap(),
                msg[4].as_u64().unwrap(),
            );
            if past.contains(&j) || arrived < 0 || fate != 0 {
                continue;
            }
            if reach.get(&dest).is_some_and(|&r| arrived <= r) {
                past.insert(j);
                let r = reach.entry(src).or_insert(sent);
                *r = (*r).max(sent);
                changed = true;
            }
        }
        if !changed {
            return past;
        }
    }
}

#[test]
fn a_messages_causal_past_is_lit_up() {
    let Some(browser) = chromium() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let page = small_run_page(dir.path());
    let data = diagram_data(&std::fs::read_to_string(&page).unwrap());
    let m = data["m"].as_array().unwrap();
    // A delivery late in the run, whose past holds several messages.
    let k0 = (0..m.len())
        .rev()
        .find(|&k| m[k][4] == 0 && m[k][3].as_i64().unwrap() >= 0)
        .unwrap();
    let want = causal_past(m, k0);
    assert!(want.len() > 5 && want.len() < m.len(), "{}", want.len());
    let url = format!("{}#past={k0}", file_url(&page));
    let out = headless(browser, &url, &["--dump-dom"]);
    assert!(
        console_errors(&out).is_empty(),
        "{:?}",
        console_errors(&out)
    );
    let dom = String::from_utf8_lossy(&out.stdout);
    let lit = lit_past(&dom);
    assert_eq!(lit, want);
}

#[test]
fn an_operations_causal_past_is_its_replys() {
    let Some(browser) = chromium() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let page = small_run_page(dir.path());
    let data = diagram_data(&std::fs::read_to_string(&page).unwrap());
    let m = data["m"].as_array().unwrap();
    let parties = data["parties"].as_array().unwrap();
    // The last ok read in the history, and its reply: the message from its
    // node to a client arriving when it completed.
    let history = std::fs::read_to_string(dir.path().join("store/latest/history.jsonl")).unwrap();
    let ops: Vec<serde_json::Value> = history
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let done = ops
        .iter()
        .rev()
        .find(|op| op["type"] == "ok" && op["f"] == "read")
        .unwrap();
    let invoke = ops
        .iter()
        .rev()
        .find(|op| {
            op["type"] == "invoke"
                && op["process"] == done["process"]
                && op["index"].as_u64() < done["index"].as_u64()
        })
        .unwrap();
    let node = parties.iter().position(|p| *p == done["node"]).unwrap();
    let done_us = done["time"].as_i64().unwrap() / 1000;
    let k = (0..m.len())
        .find(|&k| {
            m[k][0] == node
                && m[k][3] == done_us
                && m[k][4] == 0
                && parties[m[k][1].as_u64().unwrap() as usize]
                    .as_str()
                    .unwrap()
                    .starts_with('c')
        })
        .expect("the operation's reply");
    let want = causal_past(m, k);
    let url = format!("{}#op={}", file_url(&page), invoke["index"]);
    let out = headless(browser, &url, &["--dump-dom"]);
    assert!(
        console_errors(&out).is_empty(),
        "{:?}",
        console_errors(&out)
    );
    let dom = String::from_utf8_lossy(&out.stdout);
    let lit = lit_past(&dom);
    assert!(lit.contains(&k));
    assert_eq!(lit, want);
}
