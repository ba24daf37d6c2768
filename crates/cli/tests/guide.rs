//! docs/guide cannot rot: every command in its chapters runs here, with
//! the exit code the chapter promises. A command is a line of an `sh`
//! block that starts with `lightcone`; a trailing `# exits N` states its
//! exit code (0 otherwise). Commands run from the repository's root, with
//! `lightcone test` runs given a temporary `--store`, and process-mode
//! runs capped at 5 s.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

/// The longest `--time-limit` a process-mode (real clock) command runs for.
const PROCESS_TIME_LIMIT_MAX_S: f64 = 5.0;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// One runnable command of a chapter.
#[derive(Debug)]
struct GuideCommand {
    chapter: String,
    line: usize,
    words: Vec<String>,
    exit: i32,
}

/// The commands of one chapter's text.
fn commands(chapter: &str, text: &str) -> Vec<GuideCommand> {
    let mut out = Vec::new();
    let mut in_sh = false;
    for (n, line) in text.lines().enumerate() {
        let trimmed = line.trim();
        if trimmed.starts_with("```") {
            in_sh = !in_sh && trimmed == "```sh";
            continue;
        }
        if !in_sh || !trimmed.starts_with("lightcone ") {
            continue;
        }
        let (command, comment) = match trimmed.split_once('#') {
            Some((c, k)) => (c, Some(k.trim())),
            None => (trimmed, None),
        };
        let exit = match comment {
            Some(k) => k
                .strip_prefix("exits ")
                .and_then(|n| n.parse().ok())
                .unwrap_or_else(|| panic!("{chapter}:{}: a comment must be `# exits N`", n + 1)),
            None => 0,
        };
        out.push(GuideCommand {
            chapter: chapter.to_string(),
            line: n + 1,
            words: command
                .split_whitespace()
                .skip(1)
                .map(str::to_string)
                .collect(),
            exit,
        });
    }
    out
}

/// The arguments as run: a temporary store for `test`, and process-mode
/// time limits capped.
fn as_run(words: &[String], store: &Path) -> Vec<String> {
    let mut args = words.to_vec();
    if args.first().map(String::as_str) != Some("test") {
        return args;
    }
    let sim = args.iter().any(|a| a == "--sim");
    let node_args_at = args.iter().position(|a| a == "--").unwrap_or(args.len());
    if !sim {
        for i in 0..node_args_at.saturating_sub(1) {
            if args[i] == "--time-limit" {
                let limit: f64 = args[i + 1].parse().expect("a number of seconds");
                args[i + 1] = limit.min(PROCESS_TIME_LIMIT_MAX_S).to_string();
            }
        }
    }
    let store_args = ["--store".to_string(), store.to_string_lossy().into_owned()];
    args.splice(node_args_at..node_args_at, store_args);
    args
}

#[test]
fn every_command_in_the_guide_runs_as_the_guide_says() {
    let guide = repo_root().join("docs/guide");
    let mut chapters: Vec<PathBuf> = std::fs::read_dir(&guide)
        .expect("docs/guide exists")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    chapters.sort();
    let python = common::have_python();
    let mut ran = 0;
    let mut failures = Vec::new();
    for path in &chapters {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(path).unwrap();
        for command in commands(&name, &text) {
            if !python && command.words.iter().any(|w| w.ends_with(".py")) {
                continue;
            }
            let store = tempfile::tempdir().unwrap();
            let args = as_run(&command.words, store.path());
            let out = Command::new(env!("CARGO_BIN_EXE_lightcone"))
                .args(&args)
                .current_dir(repo_root())
                .output()
                .unwrap();
            ran += 1;
            let code = out.status.code().unwrap_or(-1);
            if code != command.exit {
                failures.push(format!(
                    "{}:{}: `lightcone {}` exited {code}, the guide says {}\n{}{}",
                    command.chapter,
                    command.line,
                    command.words.join(" "),
                    command.exit,
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    assert!(ran >= 20, "only {ran} commands in the guide");
}

#[test]
fn commands_are_read_from_sh_blocks_with_their_exit_codes() {
    let text = "intro\n```sh\nlightcone test -w echo   # exits 1\nnot a command\n```\n\
                ```\nlightcone not-sh\n```\n```sh\nlightcone check x\n```\n";
    let found = commands("c.md", text);
    assert_eq!(found.len(), 2, "{found:?}");
    assert_eq!(found[0].words, ["test", "-w", "echo"]);
    assert_eq!((found[0].exit, found[0].line), (1, 3));
    assert_eq!(
        (found[1].words.join(" "), found[1].exit),
        ("check x".to_string(), 0)
    );
    let store = Path::new("/s");
    let words = |s: &str| s.split(' ').map(str::to_string).collect::<Vec<_>>();
    assert_eq!(
        as_run(&words("test -w echo --time-limit 60 -- --x"), store).join(" "),
        "test -w echo --time-limit 5 --store /s -- --x"
    );
    assert_eq!(
        as_run(&words("test --sim -w echo --time-limit 60"), store).join(" "),
        "test --sim -w echo --time-limit 60 --store /s"
    );
}
