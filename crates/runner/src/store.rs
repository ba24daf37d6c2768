//! The results folder: `store/<workload>/<timestamp>/`, with `latest` links.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// A fresh results folder for `workload` under `root`, with
/// `node-logs/` inside. The name is the UTC start time.
pub fn create_run_dir(root: &Path, workload: &str) -> io::Result<PathBuf> {
    let stamp = humantime::format_rfc3339_millis(SystemTime::now())
        .to_string()
        .replace(['-', ':'], "");
    let base = root.join(workload);
    fs::create_dir_all(&base)?;
    // Two runs in the same millisecond get a suffix rather than a clash.
    let mut dir = base.join(&stamp);
    let mut n = 1;
    while dir.exists() {
        dir = base.join(format!("{stamp}-{n}"));
        n += 1;
    }
    fs::create_dir_all(dir.join("node-logs"))?;
    Ok(dir)
}

/// Points `store/latest` and `store/<workload>/latest` at `dir`.
pub fn link_latest(root: &Path, workload: &str, dir: &Path) -> io::Result<()> {
    let name = dir.file_name().expect("a run folder has a name");
    replace_link(&Path::new(workload).join(name), &root.join("latest"))?;
    replace_link(Path::new(name), &root.join(workload).join("latest"))
}

fn replace_link(target: &Path, link: &Path) -> io::Result<()> {
    let tmp = link.with_extension("tmp-link");
    let _ = fs::remove_file(&tmp);
    std::os::unix::fs::symlink(target, &tmp)?;
    // rename(2) replaces the old link atomically.
    fs::rename(&tmp, link)
}
