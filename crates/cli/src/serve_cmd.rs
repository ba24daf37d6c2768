//! `lightcone serve [--store DIR] [--port N]`: browse a results store in a
//! browser. `/` is a table of runs (newest first: time, workload, verdict,
//! ops, duration, command), each linking to its files under
//! `/runs/<workload>/<folder>/` (report.html, results.json, history.jsonl,
//! workbench.json, command, lightcone.log, node-logs/<node>.log). Binds
//! 127.0.0.1 unless told otherwise; serves only those files of run folders
//! inside the store, nothing else (no `..`, no links out of the store).

use std::fs;
use std::path::{Component, Path, PathBuf};

use lightcone_report::{store_index, RunRow};
use lightcone_runner::exit_code;
use tiny_http::{Header, Response, Server};

/// Runs listed on the index at most (the newest).
const INDEX_RUNS_MAX: usize = 1000;

/// The files of a run folder that are served.
const RUN_FILES: &[&str] = &[
    "report.html",
    "results.json",
    "history.jsonl",
    "workbench.json",
    "command",
    "lightcone.log",
];

#[derive(clap::Args, Debug)]
pub struct ServeArgs {
    /// The results store to browse (what `lightcone test --store` wrote).
    #[arg(long, default_value = "store")]
    store: PathBuf,
    /// The port to listen on; 0 picks a free one.
    #[arg(long, default_value_t = 8080)]
    port: u16,
    /// The address to listen on; the default serves this machine only.
    #[arg(long, default_value = "127.0.0.1")]
    bind: String,
}

pub fn run(args: ServeArgs) -> i32 {
    let store = match fs::canonicalize(&args.store) {
        Ok(p) if p.is_dir() => p,
        _ => {
            eprintln!(
                "error: there is no results store at {}; run `lightcone test` first, or pass \
                 --store DIR",
                args.store.display()
            );
            return exit_code::USAGE;
        }
    };
    let server = match Server::http((args.bind.as_str(), args.port)) {
        Ok(s) => s,
        Err(e) => {
            eprintln!(
                "error: could not listen on {}:{}: {e}; pick another --port",
                args.bind, args.port
            );
            return exit_code::USAGE;
        }
    };
    let addr = server
        .server_addr()
        .to_ip()
        .map_or_else(|| format!("{}:{}", args.bind, args.port), |a| a.to_string());
    println!(
        "serving {} at http://{addr}/ (Ctrl-C stops)",
        store.display()
    );
    for request in server.incoming_requests() {
        let (status, body, kind) = respond(&store, request.url());
        let header = Header::from_bytes("Content-Type", kind).expect("a valid header");
        let response = Response::from_data(body)
            .with_status_code(status)
            .with_header(header);
        // A client that went away is not an error of the server.
        let _ = request.respond(response);
    }
    0
}

/// The status, body and content type for a request path.
fn respond(store: &Path, url: &str) -> (u16, Vec<u8>, &'static str) {
    let path = url.split(['?', '#']).next().unwrap_or("");
    if path == "/" {
        let (rows, total) = runs(store);
        let page = store_index(&store.display().to_string(), &rows, total);
        return (200, page.into_bytes(), "text/html; charset=utf-8");
    }
    match path
        .strip_prefix("/runs/")
        .and_then(|rest| run_file(store, rest))
    {
        Some(file) => match fs::read(&file) {
            Ok(bytes) => (200, bytes, content_type(&file)),
            Err(_) => not_found(),
        },
        None => not_found(),
    }
}

fn not_found() -> (u16, Vec<u8>, &'static str) {
    (
        404,
        b"not found: / lists the runs of this store".to_vec(),
        "text/plain; charset=utf-8",
    )
}

fn content_type(file: &Path) -> &'static str {
    match file.extension().and_then(|e| e.to_str()) {
        Some("html") => "text/html; charset=utf-8",
        Some("json") => "application/json",
        _ => "text/plain; charset=utf-8",
    }
}

/// The file `<workload>/<folder>/<name>` (or `.../node-logs/<node>.log`)
/// of a run in `store`, if it is one of the files served and lies inside
/// the store once links are resolved.
fn run_file(store: &Path, rest: &str) -> Option<PathBuf> {
    let parts: Vec<&str> = rest.split('/').collect();
    let plain = |p: &&str| {
        !p.is_empty()
            && Path::new(p)
                .components()
                .all(|c| matches!(c, Component::Normal(_)))
            && !p.contains('\\')
    };
    if !parts.iter().all(plain) {
        return None;
    }
    let allowed = match parts.as_slice() {
        [_, _, name] => RUN_FILES.contains(name),
        [_, _, "node-logs", log] => log.ends_with(".log"),
        _ => false,
    };
    if !allowed {
        return None;
    }
    let file = fs::canonicalize(store.join(rest)).ok()?;
    file.starts_with(store).then_some(file)
}

/// The runs of the store, newest first (at most [`INDEX_RUNS_MAX`]), and
/// how many there are.
fn runs(store: &Path) -> (Vec<RunRow>, usize) {
    let mut folders: Vec<(String, String, PathBuf)> = Vec::new();
    for workload in fs::read_dir(store).into_iter().flatten().flatten() {
        let w = workload.file_name().to_string_lossy().into_owned();
        let is_dir = workload.file_type().is_ok_and(|t| t.is_dir());
        if !is_dir || w == "latest" {
            continue;
        }
        for run in fs::read_dir(workload.path())
            .into_iter()
            .flatten()
            .flatten()
        {
            let name = run.file_name().to_string_lossy().into_owned();
            // `latest` is a link to one of the others.
            if name == "latest" || !run.file_type().is_ok_and(|t| t.is_dir()) {
                continue;
            }
            folders.push((name, w.clone(), run.path()));
        }
    }
    // Folder names are UTC start times, so newest first is by name.
    folders.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
    let total = folders.len();
    let rows = folders
        .into_iter()
        .take(INDEX_RUNS_MAX)
        .map(|(name, workload, dir)| row(&name, &workload, &dir))
        .collect();
    (rows, total)
}

fn row(name: &str, workload: &str, dir: &Path) -> RunRow {
    let json = |file: &str| -> Option<serde_json::Value> {
        serde_json::from_str(&fs::read_to_string(dir.join(file)).ok()?).ok()
    };
    let results = json("results.json");
    let workbench = json("workbench.json");
    let verdict = results
        .as_ref()
        .and_then(|r| {
            r["valid"]
                .as_bool()
                .map(|v| if v { "valid" } else { "invalid" })
                .or_else(|| r["valid"].as_str())
        })
        .unwrap_or("?")
        .to_string();
    let ops = results
        .as_ref()
        .and_then(|r| r["stats"]["count"].as_u64())
        .map_or_else(|| "?".to_string(), |n| n.to_string());
    let duration = workbench
        .as_ref()
        .and_then(|w| w["duration-s"].as_f64())
        .map_or_else(|| "?".to_string(), |s| format!("{s:.1} s"));
    let mut files: Vec<String> = RUN_FILES
        .iter()
        .filter(|f| dir.join(f).is_file())
        .map(|f| f.to_string())
        .collect();
    let mut logs: Vec<String> = fs::read_dir(dir.join("node-logs"))
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| format!("node-logs/{}", e.file_name().to_string_lossy()))
        .collect();
    logs.sort();
    files.extend(logs);
    RunRow {
        path: format!("{workload}/{name}"),
        started: name.to_string(),
        workload: workload.to_string(),
        verdict,
        ops,
        duration,
        command: fs::read_to_string(dir.join("command"))
            .unwrap_or_default()
            .trim()
            .to_string(),
        files,
    }
}
