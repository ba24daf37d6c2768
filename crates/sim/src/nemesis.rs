//! Partitions as Jepsen draws them (jepsen.nemesis.combined), expressed as
//! grudges: for each node, the set of nodes whose messages it drops.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use lightcone_workload::Rng;

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
