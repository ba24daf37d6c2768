//! The neighbour maps Maelstrom offers broadcast nodes, computed exactly as
//! Maelstrom computes them (workload/broadcast.clj), so a node tuned for a
//! Maelstrom topology sees the same one here.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Topology {
    Line,
    #[default]
    Grid,
    /// A tree with this branching factor (`tree` is `tree2`).
    Tree(usize),
    Total,
}

impl FromStr for Topology {
    type Err = String;
    fn from_str(s: &str) -> Result<Topology, String> {
        Ok(match s {
            "line" => Topology::Line,
            "grid" => Topology::Grid,
            "tree" | "tree2" => Topology::Tree(2),
            "tree3" => Topology::Tree(3),
            "tree4" => Topology::Tree(4),
            "total" => Topology::Total,
            _ => {
                return Err(format!(
                    "unknown topology {s:?}; choose line, grid, tree, tree2, tree3, tree4 or total"
                ))
            }
        })
    }
}

impl fmt::Display for Topology {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Topology::Line => f.write_str("line"),
            Topology::Grid => f.write_str("grid"),
            Topology::Tree(b) => write!(f, "tree{b}"),
            Topology::Total => f.write_str("total"),
        }
    }
}

pub type Neighbours = BTreeMap<String, Vec<String>>;

impl Topology {
    pub fn build(self, nodes: &[String]) -> Neighbours {
        match self {
            Topology::Line => line(nodes),
            Topology::Grid => grid(nodes),
            Topology::Tree(b) => tree(b, nodes),
            Topology::Total => total(nodes),
        }
    }
}

fn line(nodes: &[String]) -> Neighbours {
    let n = nodes.len();
    let mut map = Neighbours::new();
    if n < 2 {
        return map;
    }
    for i in 0..n {
        let mut ns = Vec::new();
        if i > 0 {
            ns.push(nodes[i - 1].clone());
        }
        if i + 1 < n {
            ns.push(nodes[i + 1].clone());
        }
        map.insert(nodes[i].clone(), ns);
    }
    map
}

/// A roughly square grid; each node has at most 4 neighbours, listed as
/// Maelstrom lists them: down, up, right, left.
fn grid(nodes: &[String]) -> Neighbours {
    let n = nodes.len() as i64;
    let side = (n as f64).sqrt().ceil() as i64;
    let at = |i: i64, j: i64| -> Option<&String> {
        if i < 0 || j < 0 || j >= side {
            return None;
        }
        let idx = i * side + j;
        (idx < n).then(|| &nodes[idx as usize])
    };
    let mut map = Neighbours::new();
    for i in 0..side {
        for j in 0..side {
            if let Some(node) = at(i, j) {
                let ns = [at(i + 1, j), at(i - 1, j), at(i, j + 1), at(i, j - 1)]
                    .into_iter()
                    .flatten()
                    .cloned()
                    .collect();
                map.insert(node.clone(), ns);
            }
        }
    }
    map
}

/// Tiers of size 1, b, b^2...; the k-th node of a tier parents the k-th
/// chunk of b nodes of the next. Neighbours: the parent, then children.
fn tree(b: usize, nodes: &[String]) -> Neighbours {
    let mut map = Neighbours::new();
    let mut tiers: Vec<&[String]> = Vec::new();
    let (mut start, mut size) = (0, 1);
    while start < nodes.len() {
        let end = (start + size).min(nodes.len());
        tiers.push(&nodes[start..end]);
        start = end;
        size *= b;
    }
    for (t, tier) in tiers.iter().enumerate() {
        for (k, node) in tier.iter().enumerate() {
            let mut ns = Vec::new();
            if t > 0 {
                ns.push(tiers[t - 1][k / b].clone());
            }
            if let Some(next) = tiers.get(t + 1) {
                ns.extend(next.iter().skip(k * b).take(b).cloned());
            }
            map.insert(node.clone(), ns);
        }
    }
    map
}

fn total(nodes: &[String]) -> Neighbours {
    nodes
        .iter()
        .map(|n| {
            (
                n.clone(),
                nodes.iter().filter(|m| *m != n).cloned().collect(),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("n{i}")).collect()
    }

    fn get<'a>(m: &'a Neighbours, k: &str) -> Vec<&'a str> {
        m[k].iter().map(String::as_str).collect()
    }

    #[test]
    fn grid_of_five_matches_maelstrom() {
        // side 3: n0 n1 n2 / n3 n4
        let m = Topology::Grid.build(&names(5));
        assert_eq!(get(&m, "n0"), ["n3", "n1"]);
        assert_eq!(get(&m, "n1"), ["n4", "n2", "n0"]);
        assert_eq!(get(&m, "n4"), ["n1", "n3"]);
        assert_eq!(m.len(), 5);
    }

    #[test]
    fn tree_parents_and_children() {
        let m = Topology::Tree(2).build(&names(6));
        assert_eq!(get(&m, "n0"), ["n1", "n2"]);
        assert_eq!(get(&m, "n1"), ["n0", "n3", "n4"]);
        assert_eq!(get(&m, "n2"), ["n0", "n5"]);
        assert_eq!(get(&m, "n5"), ["n2"]);
        let m = Topology::Tree(4).build(&names(6));
        assert_eq!(get(&m, "n0"), ["n1", "n2", "n3", "n4"]);
        assert_eq!(get(&m, "n1"), ["n0", "n5"]);
    }

    #[test]
    fn line_and_total() {
        let m = Topology::Line.build(&names(3));
        assert_eq!(get(&m, "n0"), ["n1"]);
        assert_eq!(get(&m, "n1"), ["n0", "n2"]);
        assert!(Topology::Line.build(&names(1)).is_empty());
        let m = Topology::Total.build(&names(3));
        assert_eq!(get(&m, "n2"), ["n0", "n1"]);
    }

    #[test]
    fn every_topology_is_symmetric_and_connected() {
        for t in ["line", "grid", "tree", "tree3", "tree4", "total"] {
            let topology: Topology = t.parse().unwrap();
            for n in 2..30 {
                let nodes = names(n);
                let m = topology.build(&nodes);
                for (a, ns) in &m {
                    for b in ns {
                        assert!(m[b].contains(a), "{t} with {n} nodes: {a}-{b} is one-way");
                    }
                }
                let mut seen = std::collections::BTreeSet::from(["n0".to_string()]);
                let mut stack = vec!["n0".to_string()];
                while let Some(x) = stack.pop() {
                    for y in &m[&x] {
                        if seen.insert(y.clone()) {
                            stack.push(y.clone());
                        }
                    }
                }
                assert_eq!(seen.len(), n, "{t} with {n} nodes is not connected");
            }
        }
        assert!("mesh".parse::<Topology>().is_err());
    }
}
