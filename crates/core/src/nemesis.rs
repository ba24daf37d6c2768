//! Partitions as Jepsen draws them (jepsen.nemesis.combined), expressed as
//! grudges: for each node, the set of nodes whose messages it drops.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use lightcone_rng::Rng;
use serde_json::{json, Value};

use crate::NemesisConfig;

/// dest -> sources whose messages dest drops.
pub type Grudge = BTreeMap<String, BTreeSet<String>>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PartitionKind {
    /// One node cut off from all others.
    One,
    /// The largest minority strictly under a third, cut off from the rest.
    MinorityThird,
    /// A random minority and majority, cut off from each other.
    Majority,
    /// Each node sees a majority, no two the same majority.
    MajoritiesRing,
}

impl PartitionKind {
    pub const ALL: [PartitionKind; 4] = [
        PartitionKind::One,
        PartitionKind::MinorityThird,
        PartitionKind::Majority,
        PartitionKind::MajoritiesRing,
    ];

    pub fn name(self) -> &'static str {
        match self {
            PartitionKind::One => "one",
            PartitionKind::MinorityThird => "minority-third",
            PartitionKind::Majority => "majority",
            PartitionKind::MajoritiesRing => "majorities-ring",
        }
    }
}

impl fmt::Display for PartitionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Each node drops messages from every node outside its own component.
fn complete_grudge(components: &[&[String]]) -> Grudge {
    let mut grudge = Grudge::new();
    for (i, component) in components.iter().enumerate() {
        let others: BTreeSet<String> = components
            .iter()
            .enumerate()
            .filter(|(j, _)| *j != i)
            .flat_map(|(_, c)| c.iter().cloned())
            .collect();
        for node in component.iter() {
            if !others.is_empty() {
                grudge.insert(node.clone(), others.clone());
            }
        }
    }
    grudge
}

/// Draws a partition of `kind` over `nodes`.
pub fn grudge(kind: PartitionKind, nodes: &[String], rng: &mut Rng) -> Grudge {
    let mut shuffled = nodes.to_vec();
    rng.shuffle(&mut shuffled);
    let n = shuffled.len();
    match kind {
        PartitionKind::One => {
            let (a, b) = shuffled.split_at(n.min(1));
            complete_grudge(&[a, b])
        }
        PartitionKind::MinorityThird => {
            // The largest integer strictly less than n / 3.
            let size = n.div_ceil(3) - 1;
            let (a, b) = shuffled.split_at(size);
            complete_grudge(&[a, b])
        }
        PartitionKind::Majority => {
            let (a, b) = shuffled.split_at(n / 2);
            complete_grudge(&[a, b])
        }
        PartitionKind::MajoritiesRing => majorities_ring(&shuffled),
    }
}

/// Windows of a majority of consecutive nodes around the ring; the middle
/// node of each window sees exactly that window.
fn majorities_ring(ring: &[String]) -> Grudge {
    let n = ring.len();
    let m = n / 2 + 1;
    let all: BTreeSet<String> = ring.iter().cloned().collect();
    let mut grudge = Grudge::new();
    for start in 0..n {
        let window: BTreeSet<String> = (0..m).map(|k| ring[(start + k) % n].clone()).collect();
        let middle = ring[(start + m / 2) % n].clone();
        let hated: BTreeSet<String> = all.difference(&window).cloned().collect();
        if !hated.is_empty() {
            grudge.insert(middle, hated);
        }
    }
    grudge
}

/// How a node's clock is wrong: local = now + offset + (now - since) x drift.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ClockSkew {
    pub offset_ns: i64,
    /// Parts per million the clock runs fast (positive) or slow.
    pub drift_ppm: i64,
    /// Global time from which the drift accumulates.
    pub since_ns: u64,
}

impl ClockSkew {
    /// The node's local reading at global time `now`.
    pub fn local(&self, now: u64) -> u64 {
        if self.drift_ppm == 0 {
            // The common case (no skew at all), asked at every step of
            // every node: no 128-bit division.
            return (now as i128 + self.offset_ns as i128).max(0) as u64;
        }
        // Floored, so that `global` (rounded up) is its exact inverse.
        let drift = (now.saturating_sub(self.since_ns) as i128 * self.drift_ppm as i128)
            .div_euclid(1_000_000);
        (now as i128 + self.offset_ns as i128 + drift).max(0) as u64
    }

    /// The earliest global time at which the local clock reads `local`.
    pub fn global(&self, local: u64) -> u64 {
        if local == 0 {
            // A clock set back reads 0 (it cannot go lower) from the start.
            return 0;
        }
        if self.drift_ppm == 0 {
            return (local as i128 - self.offset_ns as i128).max(0) as u64;
        }
        // local = t + offset + (t - since) * d / 1e6, solved for t, rounded up.
        let d = 1_000_000 + self.drift_ppm as i128;
        let numerator = (local as i128 - self.offset_ns as i128) * 1_000_000
            + self.since_ns as i128 * self.drift_ppm as i128;
        let t = (numerator + d - 1).div_euclid(d);
        t.max(0) as u64
    }
}

/// A fault the nemesis decided on; the core carries it out.
#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    Partition { kind: PartitionKind, grudge: Grudge },
    Heal,
    Kill(Vec<usize>),
    Restart(Vec<usize>),
    Pause(Vec<usize>),
    Resume(Vec<usize>),
    Clock(Vec<(usize, ClockSkew)>),
    ResetClocks(Vec<usize>),
}

impl Fault {
    /// The history's name for it (Jepsen's nemesis :f).
    pub fn f(&self) -> &'static str {
        match self {
            Fault::Partition { .. } => "start-partition",
            Fault::Heal => "stop-partition",
            Fault::Kill(_) => "kill",
            Fault::Restart(_) => "start",
            Fault::Pause(_) => "pause",
            Fault::Resume(_) => "resume",
            Fault::Clock(_) => "bump-clock",
            Fault::ResetClocks(_) => "reset-clock",
        }
    }

    /// The history's value for it, naming nodes by id.
    pub fn value(&self, nodes: &[String]) -> Value {
        let names =
            |ix: &[usize]| Value::from(ix.iter().map(|i| nodes[*i].clone()).collect::<Vec<_>>());
        match self {
            Fault::Partition { kind, grudge } => json!({"kind": kind.name(), "grudge": grudge}),
            Fault::Heal => json!("network healed"),
            Fault::Kill(ix)
            | Fault::Restart(ix)
            | Fault::Pause(ix)
            | Fault::Resume(ix)
            | Fault::ResetClocks(ix) => names(ix),
            Fault::Clock(skews) => Value::Object(
                skews
                    .iter()
                    .map(|(i, s)| {
                        (
                            nodes[*i].clone(),
                            json!({"offset-ms": s.offset_ns / 1_000_000, "drift-ppm": s.drift_ppm}),
                        )
                    })
                    .collect(),
            ),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Family {
    Partition,
    Kill,
    Pause,
    Clock,
}

/// Jepsen's combined nemesis, reduced to what lightcone injects: each step
/// picks one enabled fault family at random and flips it (start if it is
/// not active, stop if it is).
pub(crate) struct Nemesis {
    config: NemesisConfig,
    families: Vec<Family>,
    rng: Rng,
    partitioned: bool,
    killed: Vec<usize>,
    paused: Vec<usize>,
    skewed: Vec<usize>,
}

impl Nemesis {
    pub fn new(config: NemesisConfig, rng: Rng) -> Nemesis {
        let families = [
            (config.partition, Family::Partition),
            (config.kill, Family::Kill),
            (config.pause, Family::Pause),
            (config.clock, Family::Clock),
        ]
        .into_iter()
        .filter(|(on, _)| *on)
        .map(|(_, f)| f)
        .collect();
        Nemesis {
            config,
            families,
            rng,
            partitioned: false,
            killed: Vec::new(),
            paused: Vec::new(),
            skewed: Vec::new(),
        }
    }

    pub fn is_enabled(&self) -> bool {
        !self.families.is_empty()
    }

    /// A uniform delay in [0, 2 x interval): Jepsen's `stagger`.
    pub fn next_delay(&mut self) -> u64 {
        (self.rng.unit() * 2.0 * self.config.interval_ns as f64) as u64
    }

    /// A random non-empty minority of the nodes (one node when n < 3).
    fn targets(&mut self, n: usize) -> Vec<usize> {
        let mut all: Vec<usize> = (0..n).collect();
        self.rng.shuffle(&mut all);
        let count = if self.rng.below(2) == 0 {
            1
        } else {
            ((n - 1) / 2).max(1)
        };
        let mut chosen: Vec<usize> = all.into_iter().take(count).collect();
        chosen.sort();
        chosen
    }

    pub fn step(&mut self, nodes: &[String], now: u64) -> Fault {
        let family = self.families[self.rng.below(self.families.len() as u64) as usize];
        match family {
            Family::Partition if self.partitioned => {
                self.partitioned = false;
                Fault::Heal
            }
            Family::Partition => {
                let kind = PartitionKind::ALL[self.rng.below(4) as usize];
                let grudge = grudge(kind, nodes, &mut self.rng);
                self.partitioned = true;
                Fault::Partition { kind, grudge }
            }
            Family::Kill if !self.killed.is_empty() => {
                Fault::Restart(std::mem::take(&mut self.killed))
            }
            Family::Kill => {
                self.killed = self.targets(nodes.len());
                Fault::Kill(self.killed.clone())
            }
            Family::Pause if !self.paused.is_empty() => {
                Fault::Resume(std::mem::take(&mut self.paused))
            }
            Family::Pause => {
                self.paused = self.targets(nodes.len());
                Fault::Pause(self.paused.clone())
            }
            Family::Clock if !self.skewed.is_empty() => {
                Fault::ResetClocks(std::mem::take(&mut self.skewed))
            }
            Family::Clock => {
                let skew_ns = self.config.clock_skew_ns as i64;
                let skews: Vec<(usize, ClockSkew)> = self
                    .targets(nodes.len())
                    .into_iter()
                    .map(|i| {
                        let offset_ns = self.rng.between(-skew_ns, skew_ns);
                        // Drift up to 1% either way: a clock gone badly wrong.
                        let drift_ppm = self.rng.between(-10_000, 10_000);
                        (
                            i,
                            ClockSkew {
                                offset_ns,
                                drift_ppm,
                                since_ns: now,
                            },
                        )
                    })
                    .collect();
                self.skewed = skews.iter().map(|(i, _)| *i).collect();
                Fault::Clock(skews)
            }
        }
    }

    /// Undoes every active fault, for the final phase.
    pub fn heal_all(&mut self) -> Vec<Fault> {
        let mut faults = Vec::new();
        if self.partitioned {
            self.partitioned = false;
            faults.push(Fault::Heal);
        }
        if !self.killed.is_empty() {
            faults.push(Fault::Restart(std::mem::take(&mut self.killed)));
        }
        if !self.paused.is_empty() {
            faults.push(Fault::Resume(std::mem::take(&mut self.paused)));
        }
        if !self.skewed.is_empty() {
            faults.push(Fault::ResetClocks(std::mem::take(&mut self.skewed)));
        }
        faults
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nodes(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("n{i}")).collect()
    }

    fn sees(g: &Grudge, a: &str, b: &str) -> bool {
        !g.get(a).is_some_and(|s| s.contains(b))
    }

    #[test]
    fn one_isolates_exactly_one_node() {
        let mut rng = Rng::new(1, 0);
        let g = grudge(PartitionKind::One, &nodes(5), &mut rng);
        let isolated: Vec<_> = g.iter().filter(|(_, s)| s.len() == 4).collect();
        assert_eq!(isolated.len(), 1);
        assert_eq!(g.len(), 5);
    }

    #[test]
    fn minority_third_and_majority_sizes() {
        let mut rng = Rng::new(2, 0);
        for (n, minority) in [(3, 0), (4, 1), (5, 1), (7, 2), (25, 8)] {
            let g = grudge(PartitionKind::MinorityThird, &nodes(n), &mut rng);
            if minority == 0 {
                assert!(g.is_empty(), "n={n}: nothing to cut off");
                continue;
            }
            // Minority nodes drop everything from the n - minority others.
            let cut_off = g.values().filter(|s| s.len() == n - minority).count();
            assert_eq!(cut_off, minority, "n={n}");
        }
        let g = grudge(PartitionKind::Majority, &nodes(5), &mut rng);
        let mut sizes: Vec<usize> = g.values().map(|s| 5 - s.len()).collect();
        sizes.sort();
        assert_eq!(sizes, vec![2, 2, 3, 3, 3]);
    }

    #[test]
    fn majorities_ring_gives_everyone_a_distinct_majority() {
        let mut rng = Rng::new(3, 0);
        let ns = nodes(5);
        let g = grudge(PartitionKind::MajoritiesRing, &ns, &mut rng);
        let mut views = BTreeSet::new();
        for a in &ns {
            let view: BTreeSet<&String> = ns.iter().filter(|b| sees(&g, a, b)).collect();
            assert_eq!(view.len(), 3, "{a} sees a majority of 5");
            views.insert(view);
        }
        assert_eq!(views.len(), 5, "no two nodes see the same majority");
    }
}

#[cfg(test)]
mod clock_tests {
    use super::*;

    #[test]
    fn global_inverts_local() {
        let skews = [
            ClockSkew {
                offset_ns: 0,
                drift_ppm: 0,
                since_ns: 0,
            },
            ClockSkew {
                offset_ns: 250_000_000,
                drift_ppm: 5_000,
                since_ns: 1_000_000_000,
            },
            ClockSkew {
                offset_ns: -400_000_000,
                drift_ppm: -10_000,
                since_ns: 3_000_000_000,
            },
            // Offsets alone take the path without division.
            ClockSkew {
                offset_ns: 700_000_000,
                drift_ppm: 0,
                since_ns: 2_000_000_000,
            },
            ClockSkew {
                offset_ns: -3_200_000_000,
                drift_ppm: 0,
                since_ns: 0,
            },
        ];
        for s in skews {
            for t in [3_000_000_000u64, 3_500_000_123, 9_999_999_999] {
                let l = s.local(t);
                let g = s.global(l);
                assert!(
                    g <= t && s.local(g) >= l,
                    "{s:?} t={t} local={l} global={g}"
                );
                assert!(
                    g == 0 || s.local(g - 1) < l,
                    "global is the earliest such time"
                );
            }
        }
    }
}
