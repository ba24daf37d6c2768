//! The random executions the property tests share: replicas taking local
//! updates and merging each other's states.

use proptest::prelude::*;

pub const REPLICAS: usize = 3;

#[derive(Debug, Clone)]
pub enum Step {
    Update { replica: usize, op: u64 },
    Merge { from: usize, to: usize },
}

/// Fewer than `len_max` steps; an update weighs 3 against a merge's
/// `merge_weight`.
pub fn steps(merge_weight: u32, len_max: usize) -> impl Strategy<Value = Vec<Step>> {
    let step = prop_oneof![
        3 => (0..REPLICAS, any::<u64>()).prop_map(|(replica, op)| Step::Update { replica, op }),
        merge_weight => (0..REPLICAS, 0..REPLICAS).prop_map(|(from, to)| Step::Merge { from, to }),
    ];
    proptest::collection::vec(step, 0..len_max)
}
