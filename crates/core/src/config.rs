use std::fmt;
use std::str::FromStr;

use lightcone_check::availability::Availability;
use lightcone_workload::Topology;

use crate::{NANOS_PER_MS, NANOS_PER_SEC};

/// The longest duration a run takes for its time limit, recovery time,
/// nemesis interval, mean latency or clock skew: a year. The core adds a
/// few such durations to the current time, scaled at most by the latency
/// distribution's tail (an exponential draw is under 37 x its mean) and
/// lin-kv's client timeout (10 x the mean latency); that stays far below
/// the 584 years of u64 nanoseconds, so no time sum overflows.
pub const DURATION_NS_MAX: u64 = 365 * 24 * 3600 * NANOS_PER_SEC;
/// The smallest positive `--rate`: one request in about 12 days. A smaller
/// one would draw delays past any time limit (and past u64 nanoseconds).
pub const RATE_POSITIVE_MIN: f64 = 1e-6;
/// The most keys in play at once (`--key-count`; kafka keeps a list of
/// them); the transactional generator's own bound.
pub const KEY_COUNT_MAX: u64 = 1_000_000;
/// The most micro-operations in a transaction (`--max-txn-length`); the
/// transactional generator's own bound.
pub const TXN_LENGTH_MAX: u64 = 100_000;
/// The longest node id: ids name files (`node-logs/<id>.log`).
pub const NODE_ID_LEN_MAX: usize = 64;

/// Why `id` cannot name a node, or `None` when it can: node ids are file
/// names and message addresses, so they are letters, digits, `-` and `_`,
/// at most [`NODE_ID_LEN_MAX`] long, and neither a client's (`c1`) nor a
/// service's (`lin-kv`).
pub fn node_id_problem(id: &str) -> Option<&'static str> {
    if id.is_empty() {
        return Some("a node id cannot be empty; name nodes n1, n2...");
    }
    if id.len() > NODE_ID_LEN_MAX {
        return Some("node ids are at most 64 characters (they name files)");
    }
    if !id
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Some(
            "node ids are letters, digits, `-` and `_` (they name files); name nodes n1, n2...",
        );
    }
    if crate::services::is_service(id) {
        return Some(
            "that id belongs to a service (lin-kv, seq-kv, lww-kv, lin-tso); name nodes n1, n2...",
        );
    }
    if id.starts_with('c') {
        return Some("ids starting with `c` belong to clients; name nodes n1, n2...");
    }
    None
}

/// How a message's latency is drawn (Maelstrom's `--latency-dist`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LatencyDist {
    /// Always the mean.
    #[default]
    Constant,
    /// A uniform integer number of ms in 0..=2 x mean.
    Uniform,
    /// Exponential with that mean.
    Exponential,
}

impl FromStr for LatencyDist {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "constant" => Ok(LatencyDist::Constant),
            "uniform" => Ok(LatencyDist::Uniform),
            "exponential" => Ok(LatencyDist::Exponential),
            _ => Err(format!(
                "unknown latency distribution {s:?}; choose constant, uniform or exponential"
            )),
        }
    }
}

impl fmt::Display for LatencyDist {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LatencyDist::Constant => "constant",
            LatencyDist::Uniform => "uniform",
            LatencyDist::Exponential => "exponential",
        })
    }
}

/// Which faults to inject, and how often.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct NemesisConfig {
    pub partition: bool,
    /// Crash nodes and restart them (SIGKILL in process mode; memory lost,
    /// storage kept).
    pub kill: bool,
    /// Pause nodes and resume them (SIGSTOP / SIGCONT).
    pub pause: bool,
    /// Skew, drift and jump nodes' clocks (simulation only).
    pub clock: bool,
    /// Mean time between nemesis operations.
    pub interval_ns: u64,
    /// Bound of clock offsets.
    pub clock_skew_ns: u64,
    /// Runtime flags flipped on every node at set times
    /// (`--flag-schedule`), in time order.
    pub flags: Vec<FlagFlip>,
}

/// One flip of a node's runtime flag: at `at_ns` after the main phase
/// begins, every node gets `{"type": "flag", "name": name, "value": value}`
/// (answered `flag_ok`; a node without the flag answers error 10, which is
/// logged and tolerated). Recorded as the nemesis op `flag` with the value
/// `[name, value]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlagFlip {
    pub at_ns: u64,
    pub name: String,
    pub value: bool,
}

/// Parses one `--flag-schedule`: `NAME:on@S,off@S,...`, a flag's name and
/// its flips, each `on` or `off` (also `true`/`false`) at S seconds after the
/// workload starts (decimals allowed, e.g. `on@2.5`).
pub fn parse_flag_schedule(text: &str) -> Result<Vec<FlagFlip>, String> {
    let shown = excerpt(text);
    let form = "write NAME:on@SECONDS,off@SECONDS,... (e.g. degraded-reads:on@10,off@20)";
    let (name, flips) = text
        .split_once(':')
        .ok_or_else(|| format!("--flag-schedule {shown:?} has no `:`; {form}"))?;
    let name = name.trim();
    if name.is_empty()
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(format!(
            "--flag-schedule {shown:?}: a flag's name is letters, digits, `-` and `_`; {form}"
        ));
    }
    let mut out = Vec::new();
    for flip in flips.split(',').map(str::trim) {
        let (state, at) = flip
            .split_once('@')
            .ok_or_else(|| format!("--flag-schedule {shown:?}: {flip:?} has no `@`; {form}"))?;
        let value = match state.trim() {
            "on" | "true" => true,
            "off" | "false" => false,
            other => {
                return Err(format!(
                    "--flag-schedule {shown:?}: {:?} is neither on nor off; {form}",
                    excerpt(other)
                ))
            }
        };
        let seconds: f64 = at
            .trim()
            .parse()
            .ok()
            .filter(|s: &f64| s.is_finite() && *s >= 0.0)
            .ok_or_else(|| {
                format!(
                    "--flag-schedule {shown:?}: {:?} is not a number of seconds (0 or more); {form}",
                    excerpt(at)
                )
            })?;
        if seconds > (DURATION_NS_MAX / NANOS_PER_SEC) as f64 {
            return Err(format!(
                "--flag-schedule {shown:?}: {seconds} s is past a year; {form}"
            ));
        }
        out.push(FlagFlip {
            at_ns: (seconds * NANOS_PER_SEC as f64).round() as u64,
            name: name.to_string(),
            value,
        });
    }
    Ok(out)
}

impl NemesisConfig {
    pub fn is_enabled(&self) -> bool {
        self.partition || self.kill || self.pause || self.clock
    }
}

/// A probability as an exact integer ratio (`1/100`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Ratio {
    pub numerator: u64,
    pub denominator: u64,
}

impl Ratio {
    pub const ZERO: Ratio = Ratio {
        numerator: 0,
        denominator: 1,
    };

    pub fn is_zero(self) -> bool {
        self.numerator == 0
    }
}

impl FromStr for Ratio {
    type Err = String;
    fn from_str(s: &str) -> Result<Ratio, String> {
        let bad =
            || format!("{s:?} is not a probability; write it as a ratio of integers such as 1/100");
        let (a, b) = s.split_once('/').ok_or_else(bad)?;
        let numerator: u64 = a.trim().parse().map_err(|_| bad())?;
        let denominator: u64 = b.trim().parse().map_err(|_| bad())?;
        if denominator == 0 || numerator > denominator {
            return Err(bad());
        }
        if numerator == 0 {
            // Never draws, whatever the denominator: one way to write it.
            return Ok(Ratio::ZERO);
        }
        Ok(Ratio {
            numerator,
            denominator,
        })
    }
}

impl fmt::Display for Ratio {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.numerator, self.denominator)
    }
}

/// Everything that defines one test run.
#[derive(Debug, Clone, PartialEq)]
pub struct TestConfig {
    pub workload: String,
    /// Node ids; when empty, `n0..n(node_count-1)`.
    pub nodes: Vec<String>,
    pub node_count: usize,
    pub concurrency: usize,
    /// Client requests per second, over all clients; 0 sends none.
    pub rate: f64,
    pub time_limit_ns: u64,
    pub latency_ms: u64,
    pub latency_dist: LatencyDist,
    /// Probability that a message between nodes is lost.
    pub loss: Ratio,
    /// Probability that a message between nodes is delivered twice.
    pub duplicate: Ratio,
    pub nemesis: NemesisConfig,
    pub topology: Topology,
    /// Keys in play at once for workloads that take a key count (kafka).
    pub key_count: Option<u64>,
    /// Most sends to one kafka key, or writes to one key of a transaction
    /// workload, before it is retired (Maelstrom's 16).
    pub max_writes_per_key: u64,
    /// Most micro-operations in one transaction (Maelstrom's 4).
    pub max_txn_length: u64,
    /// The consistency models the history is held to: Elle's names for the
    /// transactional workloads, the ladder's for lin-kv
    /// (`lightcone_workload::ladder`). Empty: the workload's default
    /// (Maelstrom's strict-serializable; linearizable).
    pub consistency_models: Vec<String>,
    pub availability: Option<Availability>,
    pub seed: u64,
    /// How long a client waits for a reply.
    pub client_timeout_ns: u64,
    /// How long nodes get to answer `init` (and setup requests).
    pub init_timeout_ns: u64,
    /// The wait between healing and the final reads.
    pub recovery_ns: u64,
    pub log_net_send: bool,
    pub log_net_recv: bool,
    /// Messages recorded for the run's space-time diagram (report.html),
    /// at most; 0 records none (sweeps).
    pub message_log_max: usize,
}

impl Default for TestConfig {
    fn default() -> Self {
        TestConfig {
            workload: "lin-kv".into(),
            nodes: Vec::new(),
            node_count: 5,
            concurrency: 5,
            rate: 5.0,
            time_limit_ns: 60 * NANOS_PER_SEC,
            latency_ms: 0,
            latency_dist: LatencyDist::Constant,
            loss: Ratio::ZERO,
            duplicate: Ratio::ZERO,
            nemesis: NemesisConfig {
                interval_ns: 10 * NANOS_PER_SEC,
                clock_skew_ns: 1000 * NANOS_PER_MS,
                ..NemesisConfig::default()
            },
            topology: Topology::Grid,
            key_count: None,
            max_writes_per_key: 16,
            max_txn_length: 4,
            consistency_models: Vec::new(),
            availability: None,
            seed: 0,
            client_timeout_ns: 5 * NANOS_PER_SEC,
            init_timeout_ns: 10 * NANOS_PER_SEC,
            recovery_ns: 10 * NANOS_PER_SEC,
            log_net_send: false,
            log_net_recv: false,
            message_log_max: 0,
        }
    }
}

/// A configuration that cannot run.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ConfigError {
    #[error("{field} is {value}; {fix}")]
    Invalid {
        field: &'static str,
        value: String,
        fix: &'static str,
    },
    #[error("node id {id:?}: {fix}")]
    NodeId { id: String, fix: &'static str },
    #[error("--consistency-models is {list}: {problem}")]
    ConsistencyModels { list: String, problem: String },
    #[error(transparent)]
    Workload(#[from] lightcone_workload::WorkloadError),
}

/// How much of a bad value an error message shows, in characters.
const EXCERPT_CHARS_MAX: usize = 80;

/// `text` as an error message shows it: whole when short, else its first
/// 80 characters and its length ("abc... (100000 bytes)"), so that a huge
/// bad value is not echoed whole.
pub fn excerpt(text: &str) -> String {
    match text.char_indices().nth(EXCERPT_CHARS_MAX) {
        None => text.to_string(),
        Some((end, _)) => format!("{}... ({} bytes)", &text[..end], text.len()),
    }
}

impl TestConfig {
    /// The node ids this run uses.
    pub fn node_ids(&self) -> Vec<String> {
        if self.nodes.is_empty() {
            (0..self.node_count).map(|i| format!("n{i}")).collect()
        } else {
            self.nodes.clone()
        }
    }

    pub fn latency_mean_ns(&self) -> u64 {
        self.latency_ms * NANOS_PER_MS
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |field, value: String, fix| Err(ConfigError::Invalid { field, value, fix });
        let ids = self.node_ids();
        if ids.is_empty() {
            return invalid("--node-count", "0".into(), "a test needs at least one node");
        }
        for id in &ids {
            if let Some(fix) = node_id_problem(id) {
                return Err(ConfigError::NodeId {
                    id: excerpt(id),
                    fix,
                });
            }
        }
        let mut sorted = ids.clone();
        sorted.sort();
        sorted.dedup();
        if sorted.len() != ids.len() {
            return invalid("--nodes", excerpt(&ids.join(",")), "node ids must differ");
        }
        if self.concurrency == 0 {
            return invalid("--concurrency", "0".into(), "use at least 1 (or 1n)");
        }
        if !(self.rate >= 0.0 && self.rate.is_finite()) {
            return invalid("--rate", self.rate.to_string(), "use a non-negative number");
        }
        if self.rate > 0.0 && self.rate < RATE_POSITIVE_MIN {
            return invalid(
                "--rate",
                self.rate.to_string(),
                "use 0 (no requests) or at least 0.000001 requests per second",
            );
        }
        self.validate_durations()?;
        if self.key_count == Some(0) {
            return invalid("--key-count", "0".into(), "use a positive number of keys");
        }
        if let Some(keys) = self.key_count.filter(|k| *k > KEY_COUNT_MAX) {
            return invalid("--key-count", keys.to_string(), "use at most 1000000 keys");
        }
        if self.max_writes_per_key == 0 {
            return invalid(
                "--max-writes-per-key",
                "0".into(),
                "use a positive number of writes",
            );
        }
        if self.max_txn_length == 0 || self.max_txn_length > TXN_LENGTH_MAX {
            return invalid(
                "--max-txn-length",
                self.max_txn_length.to_string(),
                "use a positive number of operations, at most 100000",
            );
        }
        if !self.consistency_models.is_empty() {
            let list = self.consistency_models.join(",");
            let problem = match self.workload.as_str() {
                "lin-kv" => lightcone_workload::ladder::parse_register_models(&list).err(),
                "txn-list-append" | "txn-rw-register" => {
                    lightcone_txn::consistency::parse_models(&list)
                        .err()
                        .map(|e| e.to_string())
                }
                other => Some(format!(
                    "the {other} workload is not held to consistency models; only lin-kv, \
                     txn-list-append and txn-rw-register are"
                )),
            };
            if let Some(problem) = problem {
                return Err(ConfigError::ConsistencyModels {
                    list: format!("{list:?}"),
                    problem,
                });
            }
        }
        if let Some(flip) = self
            .nemesis
            .flags
            .iter()
            .find(|f| f.at_ns >= self.time_limit_ns)
        {
            return invalid(
                "--flag-schedule",
                format!(
                    "{}:{}@{}",
                    flip.name,
                    if flip.value { "on" } else { "off" },
                    flip.at_ns as f64 / NANOS_PER_SEC as f64
                ),
                "flip flags within the --time-limit (seconds after the workload starts)",
            );
        }
        if let Some(Availability::Fraction(f)) = self.availability {
            if !(0.0..=1.0).contains(&f) {
                return invalid(
                    "--availability",
                    f.to_string(),
                    "use `total` or a fraction from 0 to 1",
                );
            }
        }
        Ok(())
    }

    /// Every duration is positive where it must be and at most
    /// [`DURATION_NS_MAX`], so that the core's time sums cannot overflow.
    fn validate_durations(&self) -> Result<(), ConfigError> {
        let too_long = "use at most a year: 31536000 s, or 31536000000 ms";
        let positive = "use a positive number of seconds";
        let ms = NANOS_PER_MS;
        for (field, ns, must_be_positive, unit) in [
            ("--time-limit", self.time_limit_ns, true, NANOS_PER_SEC),
            ("--recovery-time", self.recovery_ns, false, NANOS_PER_SEC),
            (
                "--nemesis-interval",
                self.nemesis.interval_ns,
                self.nemesis.is_enabled(),
                NANOS_PER_SEC,
            ),
            ("--clock-skew-ms", self.nemesis.clock_skew_ns, false, ms),
            (
                "client timeout",
                self.client_timeout_ns,
                true,
                NANOS_PER_SEC,
            ),
            ("init timeout", self.init_timeout_ns, true, NANOS_PER_SEC),
        ] {
            if must_be_positive && ns == 0 {
                return Err(ConfigError::Invalid {
                    field,
                    value: "0".into(),
                    fix: positive,
                });
            }
            if ns > DURATION_NS_MAX {
                let value = format!("{}", ns as f64 / unit as f64);
                return Err(ConfigError::Invalid {
                    field,
                    value,
                    fix: too_long,
                });
            }
        }
        if self.latency_ms > DURATION_NS_MAX / ms {
            return Err(ConfigError::Invalid {
                field: "--latency",
                value: self.latency_ms.to_string(),
                fix: too_long,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_ids_are_plain_names_of_neither_clients_nor_services() {
        for good in ["n1", "N_2", "node-3", "a", &"n".repeat(NODE_ID_LEN_MAX)] {
            assert_eq!(node_id_problem(good), None, "{good}");
        }
        for bad in ["", "../x", "n 1", "n/1", "é", "lin-kv", "lin-tso", "c1"] {
            assert!(node_id_problem(bad).is_some(), "{bad:?}");
        }
        assert!(node_id_problem(&"n".repeat(NODE_ID_LEN_MAX + 1)).is_some());
        let config = TestConfig {
            nodes: vec!["n1".into(), "../../x".into()],
            ..TestConfig::default()
        };
        let e = config.validate().unwrap_err().to_string();
        assert!(
            e.starts_with("node id \"../../x\": node ids are letters"),
            "{e}"
        );
    }

    #[test]
    fn flag_schedules_parse_and_bad_ones_say_why() {
        let flips = parse_flag_schedule("degraded-reads:on@10, off@20.5,true@0").unwrap();
        let at: Vec<(u64, bool)> = flips.iter().map(|f| (f.at_ns, f.value)).collect();
        assert_eq!(
            at,
            [
                (10 * NANOS_PER_SEC, true),
                (20_500 * NANOS_PER_MS, false),
                (0, true)
            ]
        );
        assert!(flips.iter().all(|f| f.name == "degraded-reads"));
        for (bad, why) in [
            ("degraded-reads", "no `:`"),
            (":on@1", "a flag's name"),
            ("x y:on@1", "a flag's name"),
            ("f:on", "no `@`"),
            ("f:maybe@1", "neither on nor off"),
            ("f:on@-1", "not a number"),
            ("f:on@soon", "not a number"),
            ("f:on@1e12", "past a year"),
        ] {
            let e = parse_flag_schedule(bad).unwrap_err();
            assert!(e.contains(why) && e.contains("NAME:on@"), "{bad}: {e}");
        }
        let mut late = TestConfig::default();
        late.nemesis.flags = parse_flag_schedule("degraded-reads:on@60").unwrap();
        let e = late.validate().unwrap_err().to_string();
        assert!(
            e.starts_with("--flag-schedule is degraded-reads:on@60; flip flags within"),
            "{e}"
        );
    }

    #[test]
    fn durations_past_a_year_are_refused() {
        let ok = TestConfig::default();
        assert_eq!(ok.validate(), Ok(()));
        let long = |c: TestConfig| c.validate().unwrap_err().to_string();
        let e = long(TestConfig {
            latency_ms: u64::MAX,
            ..ok.clone()
        });
        assert!(
            e.starts_with("--latency is 18446744073709551615; use at most a year"),
            "{e}"
        );
        let e = long(TestConfig {
            time_limit_ns: DURATION_NS_MAX + 1,
            ..ok.clone()
        });
        assert!(e.starts_with("--time-limit is 31536000"), "{e}");
        let mut skewed = ok.clone();
        skewed.nemesis.clock_skew_ns = u64::MAX;
        assert!(long(skewed).starts_with("--clock-skew-ms is"));
        assert_eq!(
            TestConfig {
                time_limit_ns: DURATION_NS_MAX,
                recovery_ns: DURATION_NS_MAX,
                latency_ms: DURATION_NS_MAX / NANOS_PER_MS,
                ..ok
            }
            .validate(),
            Ok(())
        );
    }
}
