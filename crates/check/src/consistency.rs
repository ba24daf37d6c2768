//! Consistency-model names as Elle knows them (`elle.consistency-model`,
//! version 0.2.2, which Maelstrom's `--consistency-models` takes).

/// Every model name Elle accepts: the models of its hierarchy, the friendly
/// names and the canonical (Adya) ones (`all-models`).
pub const MODEL_NAMES: &[&str] = &[
    "1SR",
    "PL-1",
    "PL-2",
    "PL-2+",
    "PL-2.99",
    "PL-2L",
    "PL-3",
    "PL-3U",
    "PL-CS",
    "PL-FCV",
    "PL-MSR",
    "PL-SI",
    "PL-SS",
    "PRAM",
    "causal",
    "causal-cerone",
    "conflict-serializable",
    "consistent-view",
    "cursor-stability",
    "forward-consistent-view",
    "linearizable",
    "monotonic-atomic-view",
    "monotonic-reads",
    "monotonic-snapshot-read",
    "monotonic-view",
    "monotonic-writes",
    "parallel-snapshot-isolation",
    "prefix",
    "read-atomic",
    "read-committed",
    "read-uncommitted",
    "read-your-writes",
    "repeatable-read",
    "sequential",
    "serializable",
    "session-serializable",
    "snapshot-isolation",
    "strict-serializable",
    "strong-PL-1",
    "strong-PL-2",
    "strong-read-committed",
    "strong-read-uncommitted",
    "strong-serializable",
    "strong-session-PL-1",
    "strong-session-PL-2",
    "strong-session-read-committed",
    "strong-session-read-uncommitted",
    "strong-session-serializable",
    "strong-session-snapshot-isolation",
    "strong-snapshot-isolation",
    "update-atomic",
    "update-serializable",
    "view-serializable",
    "writes-follow-reads",
];

/// Reads a comma-separated list of model names (spaces around the commas
/// allowed), each one Elle knows, with a leading `:` dropped as a Clojure
/// user might write it. Maelstrom splits only on a comma with spaces on both
/// sides and checks nothing (its check, `friendly-model-name`, maps unknown
/// names to themselves); lightcone accepts both spellings and refuses names
/// Elle does not know, naming the list.
pub fn parse_models(text: &str) -> Result<Vec<String>, String> {
    let mut models = Vec::new();
    for name in text.split(',').map(str::trim) {
        let name = name.strip_prefix(':').unwrap_or(name);
        if name.is_empty() {
            return Err(format!(
                "--consistency-models {text:?} has an empty name; separate model names with commas"
            ));
        }
        if !MODEL_NAMES.contains(&name) {
            return Err(format!(
                "--consistency-models: {name:?} is not a consistency model Elle knows; use one or \
                 more of {}",
                MODEL_NAMES.join(", ")
            ));
        }
        if !models.iter().any(|m| m == name) {
            models.push(name.to_string());
        }
    }
    Ok(models)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_sorted_and_distinct() {
        let mut sorted = MODEL_NAMES.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted, MODEL_NAMES);
    }

    #[test]
    fn lists_split_on_commas_with_or_without_spaces() {
        assert_eq!(
            parse_models("read-committed,serializable , :snapshot-isolation").unwrap(),
            vec!["read-committed", "serializable", "snapshot-isolation"]
        );
        assert_eq!(
            parse_models("strict-serializable").unwrap(),
            vec!["strict-serializable"]
        );
    }

    #[test]
    fn unknown_and_empty_names_are_refused() {
        let e = parse_models("bogus").unwrap_err();
        assert!(
            e.contains("\"bogus\"") && e.contains("read-committed"),
            "{e}"
        );
        assert!(parse_models("serializable,,")
            .unwrap_err()
            .contains("empty"));
    }
}
