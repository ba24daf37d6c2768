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

/// Appended to a copy of a page: writes each section's band into the
/// body's `data-bands` for `--dump-dom` to show: `[id, top, bottom]` in CSS
/// pixels, the section being what follows a heading up to the next one,
/// and its band the drawings (SVG) in it, or all of it when it has none.
const BANDS_SCRIPT: &str = "<script>(function(){var h=[].slice.call(document.querySelectorAll('h1,h2'));\
function box(e){var r=e.getBoundingClientRect();return [r.top+scrollY,r.bottom+scrollY];}\
document.body.setAttribute('data-bands',JSON.stringify(h.map(function(e,i){var n=h[i+1],top=null,bottom=null;\
for(var s=e.nextElementSibling;s&&s!==n;s=s.nextElementSibling){if(s.tagName.toLowerCase()==='svg'||s.querySelector('svg')){var b=box(s);\
top=top===null?b[0]:Math.min(top,b[0]);bottom=bottom===null?b[1]:Math.max(bottom,b[1]);}}\
if(top===null){top=box(e)[0];bottom=n?box(n)[0]:document.documentElement.scrollHeight;}\
return [e.id||e.tagName,top,bottom];})));})();</script>";

/// What makes a section drawn: pixels in colour (what the plots and
/// diagrams draw; text and axes are grey), at least this many, or a share
/// of dark pixels (text and black lines) for a section drawn in black and
/// white, like the summary or a transaction's cycle. A plot that drew
/// nothing has no colour and under 1% ink (its axes' labels).
const COLOUR_PIXELS_MIN: usize = 20;
const INK_MIN: f64 = 0.03;

/// Screenshots `page` whole and checks that each section (a heading and
/// its drawings, or all that follows it when it has none) draws
/// something: an empty plot, or a diagram that drew nothing, fails.
/// Returns the sections' ids.
fn sections_are_not_blank(browser: &str, page: &Path) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("page.html");
    let html = std::fs::read_to_string(page).unwrap();
    std::fs::write(
        &copy,
        html.replace("</body>", &format!("{BANDS_SCRIPT}</body>")),
    )
    .unwrap();
    let width = 1200;
    let out = headless(
        browser,
        &file_url(&copy),
        &["--dump-dom", &format!("--window-size={width},1000")],
    );
    let dom = String::from_utf8_lossy(&out.stdout);
    let start = dom.find("data-bands=\"").expect("the bands script ran") + 12;
    let end = start + dom[start..].find('"').unwrap();
    let bands: Vec<(String, f64, f64)> =
        serde_json::from_str(&dom[start..end].replace("&quot;", "\"")).unwrap();
    let height = bands.iter().map(|b| b.2).fold(0.0, f64::max).ceil() as u32 + 10;
    let png_path = dir.path().join("shot.png");
    let out = headless(
        browser,
        &file_url(&copy),
        &[
            &format!("--screenshot={}", png_path.display()),
            &format!("--window-size={width},{height}"),
            "--hide-scrollbars",
            "--force-device-scale-factor=1",
        ],
    );
    let file = std::fs::File::open(&png_path)
        .unwrap_or_else(|_| panic!("no screenshot: {}", String::from_utf8_lossy(&out.stderr)));
    let mut decoder = png::Decoder::new(file);
    decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
    let mut reader = decoder.read_info().unwrap();
    let mut pixels = vec![0; reader.output_buffer_size()];
    let frame = reader.next_frame(&mut pixels).unwrap();
    let channels = frame.color_type.samples();
    let (w, h) = (frame.width as usize, frame.height as usize);
    // Per row: pixels with any dark channel (text, lines, shapes), and
    // pixels in colour (bars, points, arrows, lines by outcome; text and
    // axes are grey).
    let counts = |y: usize| {
        (0..w).fold((0, 0), |(ink, colour), x| {
            let p = &pixels[(y * w + x) * channels..][..3];
            let (lo, hi) = (p.iter().min().unwrap(), p.iter().max().unwrap());
            (
                ink + usize::from(*lo < 235),
                colour + usize::from(hi - lo > 40),
            )
        })
    };
    for (id, top, bottom) in &bands {
        let (top, bottom) = (*top as usize, (*bottom as usize).min(h));
        assert!(bottom > top, "section {id} has no height");
        let (ink, colour) = (top..bottom)
            .map(counts)
            .fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1));
        let ink = ink as f64 / ((bottom - top) * w) as f64;
        assert!(
            colour >= COLOUR_PIXELS_MIN || ink >= INK_MIN,
            "section {id} of {} is blank: {:.2}% of its {} rows inked, {colour} pixels in colour",
            page.display(),
            ink * 100.0,
            bottom - top,
        );
    }
    bands.into_iter().map(|b| b.0).collect()
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
    let sections = sections_are_not_blank(browser, &page);
    for id in ["summary", "diagram", "timeline", "latency", "throughput"] {
        assert!(sections.iter().any(|s| s == id), "{id} in {sections:?}");
    }
}

#[test]
fn a_checked_historys_page_loads_without_errors() {
    let Some(browser) = chromium() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    // A transactional history with a cycle: its anomaly drawn.
    let gen = lightcone_in(
        dir.path(),
        &[
            "gen",
            "list-append",
            "--txns",
            "300",
            "--inject",
            "G-single-item-realtime",
            "--seed",
            "3",
        ],
    );
    let history = dir.path().join("g.jsonl");
    std::fs::write(&history, &gen.stdout).unwrap();
    let page = dir.path().join("g.html");
    let out = lightcone_in(
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
    assert_eq!(out.status.code(), Some(1));
    let out = headless(browser, &file_url(&page), &["--dump-dom"]);
    assert!(
        console_errors(&out).is_empty(),
        "{:?}",
        console_errors(&out)
    );
    let dom = String::from_utf8_lossy(&out.stdout);
    assert!(dom.contains("INVALID") && dom.contains("G-single-item-realtime"));
    assert!(dom.matches("class=\"edge ").count() >= 2);
    let sections = sections_are_not_blank(browser, &page);
    for id in ["summary", "witness", "timeline", "latency", "throughput"] {
        assert!(sections.iter().any(|s| s == id), "{id} in {sections:?}");
    }

    // A register history that is not linearizable: the witness drawn as
    // Porcupine draws it.
    let gen = lightcone_in(
        dir.path(),
        &[
            "gen",
            "register",
            "--clients",
            "5",
            "--ops",
            "400",
            "--corrupt",
        ],
    );
    let history = dir.path().join("reg.jsonl");
    std::fs::write(&history, &gen.stdout).unwrap();
    let page = dir.path().join("reg.html");
    let out = lightcone_in(
        dir.path(),
        &[
            "check",
            "--model",
            "cas-register",
            "--html",
            page.to_str().unwrap(),
            history.to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    let out = headless(browser, &file_url(&page), &["--dump-dom"]);
    assert!(
        console_errors(&out).is_empty(),
        "{:?}",
        console_errors(&out)
    );
    let sections = sections_are_not_blank(browser, &page);
    for id in [
        "summary",
        "lin-witness",
        "timeline",
        "latency",
        "throughput",
    ] {
        assert!(sections.iter().any(|s| s == id), "{id} in {sections:?}");
    }
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
            "3",
            "--rate",
            "50",
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
    // The pages as served: the index, and a run's report through its link.
    let (status, index) = common::get(&s.addr, "/");
    assert_eq!(status, 200);
    let saved = dir.path().join("index.html");
    std::fs::write(&saved, &index).unwrap();
    sections_are_not_blank(browser, &saved);
    let link = index
        .split("href=\"")
        .skip(1)
        .map(|l| &l[..l.find('"').unwrap()])
        .find(|l| l.ends_with("report.html"))
        .expect("a link to the run's report")
        .replace("&#x2f;", "/");
    let (status, report) = common::get(&s.addr, &link);
    assert_eq!(status, 200, "{link}");
    let saved = dir.path().join("report.html");
    std::fs::write(&saved, &report).unwrap();
    let sections = sections_are_not_blank(browser, &saved);
    assert!(sections.iter().any(|s| s == "timeline"), "{sections:?}");
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

/// The blank check can fail: a page whose latency plot lost its points and
/// lines is caught.
#[test]
fn a_blank_plot_is_caught() {
    let Some(browser) = chromium() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let page = small_run_page(dir.path());
    let html = std::fs::read_to_string(&page).unwrap();
    let latency = html.find("<h2 id=\"latency\">").unwrap();
    let end = latency + html[latency..].find("</svg>").unwrap();
    let blanked: String = html[latency..end]
        .lines()
        .filter(|l| !l.starts_with("<circle") && !l.starts_with("<polyline"))
        .collect::<Vec<_>>()
        .join("\n");
    let broken = dir.path().join("broken.html");
    std::fs::write(
        &broken,
        format!("{}{blanked}{}", &html[..latency], &html[end..]),
    )
    .unwrap();
    sections_are_not_blank(browser, &page);
    let caught = std::panic::catch_unwind(|| sections_are_not_blank(browser, &broken));
    let message = caught.expect_err("a blank latency plot fails the check");
    let message = message
        .downcast_ref::<String>()
        .cloned()
        .unwrap_or_default();
    assert!(message.contains("section latency"), "{message}");
}

/// An invalid broadcast run and an invalid lin-kv run: the witness is on
/// the page, drawn, and marked on the timeline.
#[test]
fn an_invalid_runs_witness_is_visible() {
    let Some(browser) = chromium() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        let out = lightcone_in(dir.path(), args);
        assert_eq!(
            out.status.code(),
            Some(1),
            "{}",
            String::from_utf8_lossy(&out.stdout)
        );
        let page = std::fs::canonicalize(dir.path().join("store/latest"))
            .unwrap()
            .join("report.html");
        let out = headless(browser, &file_url(&page), &["--dump-dom"]);
        assert!(
            console_errors(&out).is_empty(),
            "{:?}",
            console_errors(&out)
        );
        (page, String::from_utf8_lossy(&out.stdout).into_owned())
    };

    // Broadcast that loses acknowledged messages under partitions.
    let (page, dom) = run(&[
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
    ]);
    assert!(dom.contains("Lost: "), "the lost elements are named");
    assert!(dom.contains(" witness\""), "their operations are outlined");
    let sections = sections_are_not_blank(browser, &page);
    assert!(
        sections.iter().any(|s| s == "witness-notes"),
        "{sections:?}"
    );

    // lin-kv nodes that answer reads from local state during partitions.
    let (page, dom) = run(&[
        "test",
        "--sim",
        "-w",
        "lin-kv",
        "--node-count",
        "3",
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
        "3",
        "--",
        "--unsafe-local-reads",
    ]);
    assert!(dom.contains("Linearizability witness: key "));
    assert_eq!(
        dom.matches("class=\"bar ok stuck\"").count(),
        1,
        "the stuck operation drawn once"
    );
    assert!(
        dom.contains(" concurrent\""),
        "its concurrent operations drawn"
    );
    let sections = sections_are_not_blank(browser, &page);
    assert!(sections.iter().any(|s| s == "lin-witness"), "{sections:?}");
}
