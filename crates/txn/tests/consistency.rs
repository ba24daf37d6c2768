//! Elle's consistency-model tables pinned down: every assertion of Elle's
//! test/elle/consistency_model_test.clj, one test here to one `deftest` (or
//! `testing`) there; then the `:not` examples of docs/TXN.md section 3, and
//! facts read off Elle's tables by hand.

use std::collections::BTreeSet;

use lightcone_txn::consistency::*;

fn set<'a>(names: &[&'a str]) -> BTreeSet<&'a str> {
    names.iter().copied().collect()
}

fn friendly(models: BTreeSet<&str>) -> BTreeSet<&str> {
    models.into_iter().map(friendly_model_name).collect()
}

/// `implied-anomalies-test`: every vertex is a keyword; here, every vertex
/// is a plain name a keyword could have.
#[test]
fn implied_anomalies_vertices_are_names() {
    for vertex in implied_anomalies().vertices() {
        assert!(!vertex.is_empty() && !vertex.starts_with(':') && !vertex.contains(' '));
    }
}

/// `all-anomalies-test`: in implication and severity order.
#[test]
fn all_anomalies_in_depth_order() {
    let expected = [
        "G-MSR",
        "G-SI",
        "G-SIb",
        "G-cursor",
        "G-monotonic",
        "G-single-item",
        "G-update",
        "G0",
        "G1b",
        "GSIa",
        "PL-1-cycle-exists",
        "PL-2-cycle-exists",
        "PL-2.99-cycle-exists",
        "PL-3-cycle-exists",
        "PL-SI-cycle-exists",
        "PL-SS-cycle-exists",
        "cyclic-versions",
        "dirty-update",
        "duplicate-elements",
        "future-read",
        "incompatible-order",
        "internal",
        "lost-update",
        "predicate-read-miss",
        "strong-PL-1-cycle-exists",
        "strong-PL-2-cycle-exists",
        "strong-session-PL-1-cycle-exists",
        "strong-session-PL-2-cycle-exists",
        "strong-session-serializable-cycle-exists",
        "strong-session-snapshot-isolation-cycle-exists",
        "strong-snapshot-isolation-cycle-exists",
        "G-nonadjacent-item",
        "G-single-item-process",
        "G1a",
        "G1c",
        "write-skew",
        "G-nonadjacent-item-process",
        "G-single",
        "G-single-item-realtime",
        "G1",
        "G2-item",
        "G-nonadjacent",
        "G-nonadjacent-item-realtime",
        "GSIb",
        "G2",
        "GSI",
        "G0-process",
        "G1c-process",
        "G-single-process",
        "G1-process",
        "G2-item-process",
        "G-nonadjacent-process",
        "G2-process",
        "G0-realtime",
        "G1c-realtime",
        "G-single-realtime",
        "G1-realtime",
        "G2-item-realtime",
        "G-nonadjacent-realtime",
        "G2-realtime",
    ];
    assert_eq!(all_anomalies(), expected);
}

/// `all-implied-anomalies-test`: an anomaly outside the implication graph
/// implies only itself.
#[test]
fn all_implied_anomalies_of_an_unimplying_anomaly() {
    assert_eq!(all_implied_anomalies(&["G-SI"]), set(&["G-SI"]));
}

fn weakest(models: &[&str]) -> BTreeSet<&'static str> {
    let known: Vec<&'static str> = models.iter().map(|m| known(m)).collect();
    friendly(weakest_models(&known))
}

fn strongest(models: &[&str]) -> BTreeSet<&'static str> {
    let known: Vec<&'static str> = models.iter().map(|m| known(m)).collect();
    friendly(strongest_models(&known))
}

fn known(model: &str) -> &'static str {
    match parse_models(model).as_deref() {
        Ok([name]) => name,
        other => panic!("{model}: {other:?}"),
    }
}

/// `weakest-models-test`.
#[test]
fn weakest_models_as_elle() {
    assert_eq!(weakest(&[]), set(&[]), "empty");
    assert_eq!(
        weakest(&["serializable", "strict-serializable"]),
        set(&["serializable"]),
        "simple"
    );
    assert_eq!(
        weakest(&[
            "repeatable-read",
            "read-committed",
            "sequential",
            "read-your-writes"
        ]),
        set(&["read-your-writes", "read-committed"]),
        "independent"
    );
    let cerone = set(&["read-atomic"]);
    assert_eq!(weakest(&["serializable", "read-atomic"]), cerone);
    assert_eq!(weakest(&["read-atomic", "serializable"]), cerone);
}

/// `strongest-models-test`.
#[test]
fn strongest_models_as_elle() {
    assert_eq!(strongest(&[]), set(&[]), "empty");
    assert_eq!(
        strongest(&["serializable", "strong-serializable", "strict-serializable"]),
        set(&["strong-serializable"]),
        "simple"
    );
    assert_eq!(
        strongest(&[
            "repeatable-read",
            "read-committed",
            "sequential",
            "read-your-writes"
        ]),
        set(&["repeatable-read", "sequential"]),
        "independent"
    );
    let cerone = set(&["serializable"]);
    assert_eq!(strongest(&["serializable", "read-atomic"]), cerone);
    assert_eq!(strongest(&["read-atomic", "serializable"]), cerone);
}

/// `anomalies-prohibited-by-test`, "read committed".
#[test]
fn anomalies_prohibited_by_read_committed() {
    assert_eq!(
        anomalies_prohibited_by(&["read-committed"]).unwrap(),
        set(&[
            "dirty-update",
            "G1a",
            "G1b",
            "G1c",
            "G1",
            "G0",
            "PL-1-cycle-exists",
            "PL-2-cycle-exists",
            "cyclic-versions",
            "duplicate-elements",
            "incompatible-order",
            "future-read",
        ])
    );
}

/// The "unknown anomaly" assertion beside `anomalies-prohibited-by-test`
/// (it names a misspelt model).
#[test]
fn anomalies_prohibited_by_an_unknown_model() {
    let error = anomalies_prohibited_by(&["stricct-snappshot-isolation"]).unwrap_err();
    assert_eq!(
        error,
        ModelError::UnknownModel {
            name: "stricct-snappshot-isolation".to_string()
        }
    );
    let message = error.to_string();
    assert!(
        message.starts_with("unknown consistency model \"stricct-snappshot-isolation\""),
        "{message}"
    );
    assert!(
        message.contains("read-committed, read-uncommitted"),
        "{message}"
    );
}

fn impossible(anomalies: &[&str]) -> BTreeSet<&'static str> {
    friendly(anomalies_to_impossible_models(anomalies))
}

/// `anomaly->impossible-models-test`, "G-single".
#[test]
fn impossible_models_g_single() {
    assert_eq!(
        impossible(&["G-single"]),
        set(&[
            "consistent-view",
            "forward-consistent-view",
            "strong-serializable",
            "serializable",
            "snapshot-isolation",
            "strong-session-serializable",
            "strong-session-snapshot-isolation",
            "strong-snapshot-isolation",
            "update-serializable",
        ])
    );
}

/// `anomaly->impossible-models-test`, "G-SI".
#[test]
fn impossible_models_g_si() {
    assert_eq!(
        impossible(&["G-SI"]),
        set(&[
            "snapshot-isolation",
            "serializable",
            "strong-serializable",
            "strong-session-serializable",
            "strong-session-snapshot-isolation",
            "strong-snapshot-isolation",
        ])
    );
}

/// `anomaly->impossible-models-test`, "dirty update".
#[test]
fn impossible_models_dirty_update() {
    assert_eq!(
        impossible(&["dirty-update"]),
        set(&[
            "read-committed",
            "monotonic-atomic-view",
            "snapshot-isolation",
            "repeatable-read",
            "update-atomic",
            "serializable",
            "strong-serializable",
            "update-serializable",
            "cursor-stability",
            "forward-consistent-view",
            "consistent-view",
            "monotonic-view",
            "monotonic-snapshot-read",
            "causal-cerone",
            "parallel-snapshot-isolation",
            "prefix",
            "read-atomic",
            "strong-session-read-committed",
            "strong-session-serializable",
            "strong-session-snapshot-isolation",
            "strong-read-committed",
            "strong-snapshot-isolation",
        ])
    );
}

/// The models ruled out by `internal`, in Elle's tests both as
/// `anomalies->impossible-models` and as `friendly-boundary`.
const INTERNAL_IMPOSSIBLE: [&str; 11] = [
    "causal-cerone",
    "parallel-snapshot-isolation",
    "prefix",
    "read-atomic",
    "update-atomic",
    "serializable",
    "snapshot-isolation",
    "strong-serializable",
    "strong-session-serializable",
    "strong-session-snapshot-isolation",
    "strong-snapshot-isolation",
];

/// `anomaly->impossible-models-test`, "internal".
#[test]
fn impossible_models_internal() {
    assert_eq!(impossible(&["internal"]), set(&INTERNAL_IMPOSSIBLE));
}

fn boundary_of(anomalies: &[&str]) -> (BTreeSet<&'static str>, BTreeSet<&'static str>) {
    let Boundary { not, also_not } = friendly_boundary(anomalies);
    (not, also_not)
}

/// `friendly-boundary-test`, "empty".
#[test]
fn boundary_empty() {
    assert_eq!(friendly_boundary(&[]), Boundary::default());
    assert_eq!(boundary_of(&[]), (set(&[]), set(&[])));
}

/// `friendly-boundary-test`, "cyclic-versions".
#[test]
fn boundary_cyclic_versions() {
    let also_not = set(&[
        "read-committed",
        "snapshot-isolation",
        "causal-cerone",
        "consistent-view",
        "cursor-stability",
        "forward-consistent-view",
        "monotonic-atomic-view",
        "monotonic-snapshot-read",
        "monotonic-view",
        "parallel-snapshot-isolation",
        "prefix",
        "read-atomic",
        "repeatable-read",
        "update-atomic",
        "serializable",
        "strong-read-committed",
        "strong-read-uncommitted",
        "strong-serializable",
        "strong-session-read-committed",
        "strong-session-read-uncommitted",
        "strong-session-serializable",
        "strong-session-snapshot-isolation",
        "strong-snapshot-isolation",
        "update-serializable",
    ]);
    assert_eq!(
        boundary_of(&["cyclic-versions"]),
        (set(&["read-uncommitted"]), also_not)
    );
}

/// `friendly-boundary-test`, "internal".
#[test]
fn boundary_internal() {
    let mut also_not = set(&INTERNAL_IMPOSSIBLE);
    also_not.remove("read-atomic");
    assert_eq!(
        boundary_of(&["internal"]),
        (set(&["read-atomic"]), also_not)
    );
}

/// `friendly-boundary-test`, "G1a".
#[test]
fn boundary_g1a() {
    let also_not = set(&[
        "read-atomic",
        "update-atomic",
        "causal-cerone",
        "consistent-view",
        "cursor-stability",
        "forward-consistent-view",
        "monotonic-atomic-view",
        "monotonic-snapshot-read",
        "monotonic-view",
        "parallel-snapshot-isolation",
        "prefix",
        "repeatable-read",
        "serializable",
        "snapshot-isolation",
        "strong-read-committed",
        "strong-snapshot-isolation",
        "strong-serializable",
        "strong-session-read-committed",
        "strong-session-serializable",
        "strong-session-snapshot-isolation",
        "update-serializable",
    ]);
    assert_eq!(boundary_of(&["G1a"]), (set(&["read-committed"]), also_not));
}

/// `friendly-boundary-test`, "G-single".
#[test]
fn boundary_g_single() {
    let also_not = set(&[
        "snapshot-isolation",
        "serializable",
        "strong-serializable",
        "strong-session-snapshot-isolation",
        "strong-snapshot-isolation",
        "strong-session-serializable",
        "forward-consistent-view",
        "update-serializable",
    ]);
    assert_eq!(
        boundary_of(&["G-single"]),
        (set(&["consistent-view"]), also_not)
    );
}

/// `friendly-boundary-test`, "internal and G2".
#[test]
fn boundary_g2_and_internal() {
    let also_not = set(&[
        "update-atomic",
        "causal-cerone",
        "parallel-snapshot-isolation",
        "prefix",
        "serializable",
        "snapshot-isolation",
        "strong-serializable",
        "strong-session-serializable",
        "strong-session-snapshot-isolation",
        "strong-snapshot-isolation",
    ]);
    assert_eq!(
        boundary_of(&["G2", "internal"]),
        (set(&["read-atomic"]), also_not)
    );
}

/// `friendly-boundary-test`, "lost update" (Elle checks only `:not`).
#[test]
fn boundary_lost_update() {
    let (not, _) = boundary_of(&["lost-update"]);
    assert_eq!(not, set(&["update-atomic", "cursor-stability"]));
}

/// `friendly-boundary-test`, "G-single-realtime".
#[test]
fn boundary_g_single_realtime() {
    assert_eq!(
        boundary_of(&["G-single-realtime"]),
        (
            set(&["strong-snapshot-isolation"]),
            set(&["strong-serializable"])
        )
    );
}

/// `all-impossible-models-test`.
#[test]
fn all_impossible_models_of_strong_session_serializable() {
    assert_eq!(
        all_impossible_models(&["strong-session-serializable"]).unwrap(),
        set(&["strong-session-serializable", "PL-SS"])
    );
}

/// The `:not` examples of docs/TXN.md section 3, as Elle's code computes
/// them.
#[test]
fn weakest_models_each_anomaly_rules_out() {
    let cases: &[(&str, &[&str])] = &[
        ("G0", &["read-uncommitted"]),
        ("G1a", &["read-committed"]),
        ("G1b", &["read-committed"]),
        ("G1c", &["read-committed"]),
        ("incompatible-order", &["read-committed"]),
        ("dirty-update", &["read-committed"]),
        ("G-single-item", &["consistent-view", "repeatable-read"]),
        (
            "G-nonadjacent-item",
            &["repeatable-read", "snapshot-isolation"],
        ),
        ("G2-item", &["repeatable-read"]),
        ("lost-update", &["cursor-stability", "update-atomic"]),
        ("internal", &["read-atomic"]),
        ("G-single-item-realtime", &["strong-snapshot-isolation"]),
        (
            "G-single-item-process",
            &["strong-session-snapshot-isolation"],
        ),
        ("G2-item-realtime", &["strong-serializable"]),
    ];
    for &(anomaly, not) in cases {
        assert_eq!(boundary_of(&[anomaly]).0, set(not), "{anomaly}");
    }
}

/// Read off `implied-anomalies` by hand: lost update is write skew and
/// G2-item, and so G2 and every process and realtime G2.
#[test]
fn lost_update_implies_write_skew_and_g2_item() {
    assert_eq!(
        all_implied_anomalies(&["lost-update"]),
        set(&[
            "lost-update",
            "write-skew",
            "G2-item",
            "G2",
            "G2-item-process",
            "G2-process",
            "G2-item-realtime",
            "G2-realtime",
        ])
    );
    assert_eq!(all_implied_anomalies(&[]), set(&[]));
}

/// Read off `implied-anomalies` by hand: what implies a dirty read.
#[test]
fn anomalies_implying_g1a_and_g1c() {
    assert_eq!(
        all_anomalies_implying(&["G1a"]),
        set(&["G1a", "incompatible-order", "dirty-update"])
    );
    assert_eq!(
        all_anomalies_implying(&["G1c"]),
        set(&["G1c", "G0", "future-read"])
    );
    assert_eq!(all_anomalies_implying(&["G-SI"]), set(&["G-SI"]));
}

/// `models` has only canonical vertices, and an alias's edges join its
/// canonical vertex's (`serializable` and `conflict-serializable` into
/// PL-3; `strict-` and `strong-serializable` into PL-SS).
#[test]
fn models_are_merged_under_canonical_names() {
    let out = |model| {
        models()
            .neighbours(model, Direction::Out)
            .collect::<BTreeSet<_>>()
    };
    assert_eq!(
        out("PL-3"),
        set(&["PL-2.99", "PL-3U", "PL-SI", "view-serializable"])
    );
    assert_eq!(
        out("PL-SS"),
        set(&[
            "PL-3",
            "PL-SI",
            "linearizable",
            "session-serializable",
            "strong-session-serializable",
            "strong-snapshot-isolation",
        ])
    );
    assert_eq!(out("PL-CS"), set(&["PL-2"]));
    for alias in ["serializable", "strict-serializable", "read-committed"] {
        assert!(!models().contains(alias), "{alias}");
    }
    assert_eq!(models().vertices().count(), 36);
    assert_eq!(models().edges().count(), 52);
}

/// `direct-proscribed-anomalies` joins `serializable`'s `internal` to
/// PL-3's anomalies.
#[test]
fn direct_proscriptions_are_merged_under_canonical_names() {
    let out = |model| {
        direct_proscribed_anomalies()
            .neighbours(model, Direction::Out)
            .collect::<BTreeSet<_>>()
    };
    assert_eq!(
        out("PL-3"),
        set(&[
            "G1",
            "G2",
            "PL-3-cycle-exists",
            "internal",
            "predicate-read-miss"
        ])
    );
    assert_eq!(out("serializable"), set(&[]));
    assert_eq!(
        out("PL-1"),
        set(&[
            "G0",
            "PL-1-cycle-exists",
            "cyclic-versions",
            "duplicate-elements"
        ])
    );
}

/// What strict serializability, the default of `--consistency-models`,
/// asks the checker to look for: every known anomaly but Adya's GSIa, GSIb
/// and GSI, which no model forbids (snapshot isolation forbids `G-SI`, a
/// different name, and forward consistent view `G-SIb`).
#[test]
fn anomalies_prohibited_by_strict_serializable() {
    let prohibited = anomalies_prohibited_by(&["strict-serializable"]).unwrap();
    let all: BTreeSet<&str> = all_anomalies().iter().copied().collect();
    let allowed: BTreeSet<&str> = all.difference(&prohibited).copied().collect();
    assert_eq!(allowed, set(&["GSI", "GSIa", "GSIb"]));
    assert_eq!(
        anomalies_prohibited_by(&["strict-serializable"]),
        anomalies_prohibited_by(&["PL-SS", "serializable"])
    );
}
