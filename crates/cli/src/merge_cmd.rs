//! `lightcone merge`: the summaries of a sweep's shards (`--sweep-out`),
//! run on many machines, as one summary: totals, every failure with its
//! replay command, and the shards or seeds that are missing.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use clap::Args;
use lightcone_runner::exit_code;
use serde::Serialize;

use crate::sweep_summary::{Counts, Failure, SeedRange, SweepSummary, FORMAT, FORMAT_VERSION};

/// The `format` field of `lightcone merge --json`.
const MERGED_FORMAT: &str = "lightcone-sweep-merge";
/// Seeds named at most in a message about seeds that did not run.
const SEEDS_SHOWN_MAX: usize = 10;

#[derive(Args, Debug)]
pub struct MergeArgs {
    /// Sweep summaries written by `lightcone test --sim --seeds ... --shard i/n --sweep-out FILE`,
    /// or folders: every *.json file directly in a folder is read as one.
    #[arg(required = true, value_name = "FILE_OR_FOLDER")]
    paths: Vec<PathBuf>,
    /// Print the merged summary as JSON on stdout instead of text.
    #[arg(long)]
    json: bool,
}

/// One shard's summary and where it was read.
struct ShardFile {
    path: PathBuf,
    summary: SweepSummary,
}

/// What a merged shard contributed.
#[derive(Serialize, Debug)]
#[serde(rename_all = "kebab-case")]
struct MergedShard {
    index: u64,
    file: String,
    complete: bool,
    seeds_planned: u64,
    seeds_run: u64,
    wall_s: f64,
}

/// The merged summary (`--json`).
#[derive(Serialize, Debug)]
#[serde(rename_all = "kebab-case")]
struct Merged {
    format: &'static str,
    format_version: u32,
    lightcone_version: String,
    sweep_command: String,
    seeds: SeedRange,
    shard_count: u64,
    /// What the merge noticed and did not refuse (the shards ran
    /// different executables of one version).
    warnings: Vec<String>,
    /// Every shard present and complete: every seed of the range ran.
    complete: bool,
    shards: Vec<MergedShard>,
    shards_missing: Vec<u64>,
    shards_incomplete: Vec<u64>,
    seeds_not_run_count: u64,
    counts: Counts,
    virtual_s: f64,
    /// The shards' wall times added up, and the longest.
    wall_s_total: f64,
    wall_s_max: f64,
    /// Every failing seed, ascending.
    failing_seeds: Vec<u64>,
    /// The failures whose details the shards kept, by seed.
    failures: Vec<Failure>,
    exit_code: i32,
}

pub fn run(args: MergeArgs) -> i32 {
    let files = match read_all(&args.paths) {
        Ok(f) => f,
        Err(e) => {
            crate::flags::print_error(&e);
            return exit_code::USAGE;
        }
    };
    let merged = match merge(&files) {
        Ok(m) => m,
        Err(e) => {
            crate::flags::print_error(&e);
            return exit_code::USAGE;
        }
    };
    for w in &merged.warnings {
        eprintln!("WARNING: {w}");
    }
    if !merged.complete {
        eprintln!("{}", partial_warning(&merged));
    }
    if args.json {
        let json = serde_json::to_string_pretty(&merged).expect("a merged summary serializes");
        println!("{json}");
    } else {
        print_text(&merged);
    }
    merged.exit_code
}

/// The summary files `paths` name: files as given, folders' `*.json`
/// files in name order.
fn summary_paths(paths: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            let entries = std::fs::read_dir(p)
                .map_err(|e| format!("cannot read the folder {}: {e}", p.display()))?;
            let mut found: Vec<PathBuf> = entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|f| f.is_file() && f.extension().is_some_and(|x| x == "json"))
                .collect();
            if found.is_empty() {
                return Err(format!(
                    "the folder {} holds no *.json file; give the folder the shards' \
                     --sweep-out files were written to",
                    p.display()
                ));
            }
            found.sort();
            out.extend(found);
        } else {
            out.push(p.clone());
        }
    }
    Ok(out)
}

fn read_all(paths: &[PathBuf]) -> Result<Vec<ShardFile>, String> {
    let mut out = Vec::new();
    for path in summary_paths(paths)? {
        match read_summary(&path)? {
            Some(summary) => out.push(ShardFile { path, summary }),
            None => eprintln!(
                "skipping {}: a merged summary (lightcone merge --json), not a shard's",
                path.display()
            ),
        }
    }
    if out.is_empty() {
        return Err("no shard summary to merge: every file given is a merged summary".into());
    }
    Ok(out)
}

/// Reads one shard's summary, refusing anything but this format's
/// version; `None` for the output of `lightcone merge --json`, which is
/// often saved beside the shards.
fn read_summary(path: &Path) -> Result<Option<SweepSummary>, String> {
    let shown = path.display();
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {shown}: {e}"))?;
    let not_one = |why: String| {
        format!(
            "{shown} is not a sweep summary ({why}); lightcone merge reads the files that \
             `lightcone test --sim --seeds ... --sweep-out FILE` writes"
        )
    };
    let value: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| not_one(format!("not JSON: {e}")))?;
    let format = value.get("format").and_then(|f| f.as_str());
    if format == Some(MERGED_FORMAT) {
        return Ok(None);
    }
    if format != Some(FORMAT) {
        return Err(not_one(format!("its \"format\" is not {FORMAT:?}")));
    }
    let version = value.get("format-version").and_then(|v| v.as_u64());
    if version != Some(u64::from(FORMAT_VERSION)) {
        return Err(format!(
            "{shown} is a sweep summary of format version {}, and this lightcone reads version \
             {FORMAT_VERSION}; merge with the lightcone that ran the sweep",
            version.map_or("(none)".to_string(), |v| v.to_string())
        ));
    }
    let summary: SweepSummary =
        serde_json::from_value(value).map_err(|e| not_one(e.to_string()))?;
    let (shard, seeds) = (summary.shard, summary.seeds);
    if shard.count == 0 || shard.index >= shard.count || seeds.start >= seeds.end {
        return Err(not_one(format!(
            "shard {}/{} of seeds {}..{} is no shard of a range",
            shard.index, shard.count, seeds.start, seeds.end
        )));
    }
    Ok(Some(summary))
}

/// The first flag on which two canonical commands differ, as the two
/// flags with their values (`--rate 5` and `--rate 10`).
fn first_difference(a: &str, b: &str) -> (String, String) {
    // Each flag with its value; the node's arguments (after `--`) as one.
    let flags = |s: &str| -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        let mut node_args = false;
        for word in s.split_whitespace() {
            match out.last_mut() {
                Some(last) if node_args || !word.starts_with("--") => {
                    last.push(' ');
                    last.push_str(word);
                }
                _ => out.push(word.to_string()),
            }
            node_args |= word == "--";
        }
        out
    };
    let (fa, fb) = (flags(a), flags(b));
    for i in 0..fa.len().max(fb.len()) {
        let (x, y) = (fa.get(i), fb.get(i));
        if x != y {
            let show = |f: Option<&String>| f.cloned().unwrap_or_else(|| "(nothing)".into());
            return (show(x), show(y));
        }
    }
    (a.to_string(), b.to_string())
}

/// Refuses shards that are not of one sweep: `b` must match `a` in
/// lightcone version, configuration, seed range and shard count.
fn same_sweep(a: &ShardFile, b: &ShardFile) -> Result<(), String> {
    let (sa, sb) = (&a.summary, &b.summary);
    let (pa, pb) = (a.path.display(), b.path.display());
    let differ = |field: &str, x: String, y: String, fix: &str| {
        Err(format!(
            "{pa} and {pb} are not shards of one sweep: their {field} differs ({x} in {pa}, \
             {y} in {pb}); {fix}"
        ))
    };
    if sa.lightcone_version != sb.lightcone_version {
        return differ(
            "lightcone-version",
            sa.lightcone_version.clone(),
            sb.lightcone_version.clone(),
            "a seed is the same run only in the same lightcone, so rerun the shards of one of \
             the versions with the other",
        );
    }
    if sa.sweep_command != sb.sweep_command {
        let (x, y) = first_difference(&sa.sweep_command, &sb.sweep_command);
        return differ(
            "sweep-command",
            format!("`{x}`"),
            format!("`{y}`"),
            "every shard must run the same command apart from --shard and --sweep-out; rerun \
             the odd shards with the others' command, or merge each configuration separately",
        );
    }
    if sa.shard.count != sb.shard.count {
        return differ(
            "shard count",
            format!("{}/{}", sa.shard.index, sa.shard.count),
            format!("{}/{}", sb.shard.index, sb.shard.count),
            "every shard of a sweep must be i/n with the same n",
        );
    }
    Ok(())
}

/// The seeds of `range` whose position modulo `count` is `index`, counted
/// without listing them.
fn shard_seed_count(range: SeedRange, index: u64, count: u64) -> u64 {
    let len = range.end - range.start;
    len / count + u64::from(index < len % count)
}

/// Checks `file`'s seeds are its own (position modulo n), each once,
/// and agree with its counts and failures.
fn seeds_belong(file: &ShardFile) -> Result<(), String> {
    let s = &file.summary;
    let mut previous = None;
    for &seed in &s.seeds_run {
        let inside = (s.seeds.start..s.seeds.end).contains(&seed);
        if !inside || (seed - s.seeds.start) % s.shard.count != s.shard.index {
            return Err(format!(
                "{} says it is shard {}/{} of seeds {}..{} but ran seed {seed}, which is not \
                 one of that shard's; the file was edited or corrupted: rerun that shard",
                file.path.display(),
                s.shard.index,
                s.shard.count,
                s.seeds.start,
                s.seeds.end
            ));
        }
        if previous.is_some_and(|p| p >= seed) {
            return Err(format!(
                "{} lists seed {seed} twice or out of order; rerun that shard",
                file.path.display()
            ));
        }
        previous = Some(seed);
    }
    let not_run = s
        .failing_seeds
        .iter()
        .find(|f| s.seeds_run.binary_search(f).is_err());
    let not_failing = s
        .failures
        .iter()
        .find(|f| s.failing_seeds.binary_search(&f.seed).is_err());
    let agree = s.counts.seeds == s.seeds_run.len() as u64
        && s.counts.invalid + s.counts.aborted == s.failing_seeds.len() as u64
        && s.failing_seeds.windows(2).all(|w| w[0] < w[1]);
    if !agree || not_run.is_some() || not_failing.is_some() {
        return Err(format!(
            "{}: its counts ({}), seeds run ({}) and failing seeds ({}) disagree; the file was \
             edited or corrupted: rerun that shard",
            file.path.display(),
            s.counts.sentence(),
            s.seeds_run.len(),
            s.failing_seeds.len()
        ));
    }
    Ok(())
}

/// The shards of one sweep by index, refusing mixed sweeps, duplicated
/// shards and foreign seeds.
fn by_index(files: &[ShardFile]) -> Result<BTreeMap<u64, &ShardFile>, String> {
    let first = files.first().ok_or("no sweep summary to merge")?;
    let mut by_index: BTreeMap<u64, &ShardFile> = BTreeMap::new();
    for f in files {
        if let Some(twice) = files
            .iter()
            .find(|g| !std::ptr::eq(*g, f) && g.path == f.path)
        {
            return Err(format!(
                "{} is given twice; give each shard's summary once",
                twice.path.display()
            ));
        }
        same_sweep(first, f)?;
        seeds_belong(f)?;
        if let Some(other) = by_index.insert(f.summary.shard.index, f) {
            return Err(format!(
                "{} and {} are both shard {}/{}; keep one of them (a shard rerun with the same \
                 command runs the same seeds to the same verdicts)",
                other.path.display(),
                f.path.display(),
                f.summary.shard.index,
                f.summary.shard.count
            ));
        }
    }
    Ok(by_index)
}

/// Merges shard summaries of one sweep (see [`by_index`] for what is
/// refused); missing or unfinished shards make a partial merge
/// (`complete: false`).
fn merge(files: &[ShardFile]) -> Result<Merged, String> {
    let by_index = by_index(files)?;
    let s0 = &files[0].summary;
    let (range, count) = (s0.seeds, s0.shard.count);
    let mut counts = Counts::default();
    let (mut virtual_s, mut wall_s_total, mut wall_s_max) = (0.0, 0.0, 0.0f64);
    let (mut failures, mut failing_seeds) = (Vec::new(), Vec::new());
    let mut shards = Vec::new();
    let mut shards_incomplete = Vec::new();
    let mut seeds_not_run_count = 0;
    for (&index, f) in &by_index {
        let s = &f.summary;
        counts.add(&s.counts);
        virtual_s += s.virtual_s;
        wall_s_total += s.wall_s;
        wall_s_max = wall_s_max.max(s.wall_s);
        failures.extend(s.failures.iter().cloned());
        failing_seeds.extend(&s.failing_seeds);
        let planned = shard_seed_count(range, index, count);
        let ran = s.seeds_run.len() as u64;
        if !s.complete || ran < planned {
            shards_incomplete.push(index);
            seeds_not_run_count += planned - ran.min(planned);
        }
        shards.push(MergedShard {
            index,
            file: f.path.display().to_string(),
            complete: s.complete,
            seeds_planned: planned,
            seeds_run: ran,
            wall_s: s.wall_s,
        });
    }
    let shards_missing: Vec<u64> = (0..count).filter(|i| !by_index.contains_key(i)).collect();
    for &i in &shards_missing {
        seeds_not_run_count += shard_seed_count(range, i, count);
    }
    failures.sort_by_key(|f| f.seed);
    failing_seeds.sort_unstable();
    let complete = shards_missing.is_empty() && shards_incomplete.is_empty();
    Ok(Merged {
        format: MERGED_FORMAT,
        format_version: FORMAT_VERSION,
        lightcone_version: s0.lightcone_version.clone(),
        sweep_command: s0.sweep_command.clone(),
        seeds: range,
        shard_count: count,
        warnings: binary_warning(&by_index).into_iter().collect(),
        complete,
        shards,
        shards_missing,
        shards_incomplete,
        seeds_not_run_count,
        counts,
        virtual_s,
        wall_s_total,
        wall_s_max,
        exit_code: if complete {
            counts.exit_code()
        } else {
            exit_code::INCOMPLETE
        },
        failing_seeds,
        failures,
    })
}

/// A warning if the shards ran different executables (one version, by
/// [`same_sweep`]): the same code built twice may differ in its bytes, so
/// this is not refused, but code from two commits would run other runs.
fn binary_warning(by_index: &BTreeMap<u64, &ShardFile>) -> Option<String> {
    let mut binaries: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for f in by_index.values() {
        let hash = f.summary.lightcone_binary.as_deref().unwrap_or("(unknown)");
        binaries
            .entry(hash)
            .or_default()
            .push(f.path.display().to_string());
    }
    if binaries.len() < 2 {
        return None;
    }
    let each: Vec<String> = binaries
        .iter()
        .map(|(hash, files)| format!("{hash} in {}", files.join(", ")))
        .collect();
    Some(format!(
        "the shards ran {} different lightcone executables of version {}: {}; a seed is the          same run only in the same code, so if these were built from different commits, rerun          the shards with one executable",
        binaries.len(),
        by_index.values().next()?.summary.lightcone_version,
        each.join("; ")
    ))
}

/// The sweep command of shard `index`: `--shard` after `--seeds`.
fn shard_command(m: &Merged, index: u64) -> String {
    let seeds = format!("--seeds {}..{}", m.seeds.start, m.seeds.end);
    m.sweep_command.replacen(
        &seeds,
        &format!("{seeds} --shard {index}/{} --sweep-out FILE", m.shard_count),
        1,
    )
}

/// The warning a partial merge prints: which shards are missing or
/// unfinished, how many seeds did not run, and how to run them.
fn partial_warning(m: &Merged) -> String {
    let n = m.shard_count;
    let list = |v: &[u64]| {
        let shown: Vec<String> = v
            .iter()
            .take(SEEDS_SHOWN_MAX)
            .map(|i| format!("{i}/{n}"))
            .collect();
        let more = v.len().saturating_sub(SEEDS_SHOWN_MAX);
        if more > 0 {
            format!("{} and {more} more", shown.join(", "))
        } else {
            shown.join(", ")
        }
    };
    let mut text = format!(
        "WARNING: PARTIAL MERGE: {} of {} seeds did not run; the totals below cover only the \
         seeds that did",
        m.seeds_not_run_count,
        m.seeds.end - m.seeds.start
    );
    if !m.shards_missing.is_empty() {
        text += &format!(
            "\n  missing shards (no summary given): {}",
            list(&m.shards_missing)
        );
    }
    if !m.shards_incomplete.is_empty() {
        text += &format!(
            "\n  unfinished shards (killed or still running): {}",
            list(&m.shards_incomplete)
        );
    }
    let rerun: Vec<u64> = m
        .shards_missing
        .iter()
        .chain(&m.shards_incomplete)
        .copied()
        .collect();
    if let Some(&i) = rerun.first() {
        text += &format!(
            "\n  run each of them again (here shard {i}/{}) with: {}",
            m.shard_count,
            shard_command(m, i)
        );
    }
    text
}

fn print_text(m: &Merged) {
    println!(
        "merged {} of {} shards of: {}",
        m.shards.len(),
        m.shard_count,
        m.sweep_command
    );
    let kept: BTreeMap<u64, &Failure> = m.failures.iter().map(|f| (f.seed, f)).collect();
    let seeds = format!("--seeds {}..{}", m.seeds.start, m.seeds.end);
    for &seed in &m.failing_seeds {
        let Some(f) = kept.get(&seed) else {
            // The replay command is the sweep's with this one seed.
            let replay = m
                .sweep_command
                .replacen(&seeds, &format!("--seed {seed}"), 1);
            println!("seed {seed}: (details not kept in the summary)\n  replay: {replay}");
            continue;
        };
        println!("seed {}: {}\n  replay: {}", f.seed, f.problem, f.replay);
        if let Some(shrunk) = &f.shrunk_replay {
            println!(
                "  shrunk ({}):\n  replay: {shrunk}",
                f.shrink_steps.join(", ")
            );
        }
    }
    println!(
        "\n{}; {:.0} s simulated in {:.2} s of shard wall time (the longest shard {:.2} s)",
        m.counts.sentence(),
        m.virtual_s,
        m.wall_s_total,
        m.wall_s_max
    );
    if !m.complete {
        println!(
            "PARTIAL: {} seeds of {}..{} did not run (see the warning above)",
            m.seeds_not_run_count, m.seeds.start, m.seeds.end
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_difference_is_a_flag_with_its_value_or_the_node_arguments() {
        let a = "lightcone test --sim -w lin-kv --rate 5 --seeds 0..16 -- --unreliable";
        let b = "lightcone test --sim -w lin-kv --rate 10 --seeds 0..16 -- --unreliable";
        assert_eq!(
            first_difference(a, b),
            ("--rate 5".to_string(), "--rate 10".to_string())
        );
        let c = "lightcone test --sim -w lin-kv --rate 5 --seeds 0..16";
        assert_eq!(
            first_difference(a, c),
            ("-- --unreliable".to_string(), "(nothing)".to_string())
        );
    }

    /// What `print_text` relies on for a failure whose details a shard did
    /// not keep.
    #[test]
    fn a_seeds_replay_is_the_sweep_command_with_that_seed() {
        let mut config = lightcone_core::TestConfig {
            workload: "broadcast".into(),
            node_count: 3,
            ..Default::default()
        };
        let args = crate::sim_cmd::NodeCmd {
            flags: " --bin ./node.py --handling-ms 1".into(),
            args: vec!["--unreliable".to_string()],
        };
        let sweep = crate::sim_cmd::sweep_command(&config, &args, &(10..30));
        config.seed = 17;
        assert_eq!(
            sweep.replacen("--seeds 10..30", "--seed 17", 1),
            crate::sim_cmd::replay_command(&config, &args)
        );
    }

    #[test]
    fn shards_split_a_range_by_position_modulo_the_count() {
        let range = SeedRange { start: 10, end: 30 };
        let counts: Vec<u64> = (0..3).map(|i| shard_seed_count(range, i, 3)).collect();
        assert_eq!(counts, [7, 7, 6]);
        for i in 0..3 {
            let shard = crate::sim_cmd::Shard { index: i, count: 3 };
            assert_eq!(shard.seeds(&(10..30)).len() as u64, counts[i as usize]);
        }
    }
}
