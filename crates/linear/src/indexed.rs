//! A partition's ops as both searches index them (`search.rs`,
//! `frontier.rs`): the ok ops and the indeterminate ops apart, each in
//! call order, interned, with what the searches look up about them at
//! every step.

use super::infosets::Classes;
use super::intern::Interner;
use super::prepare::LinOp;

/// Marks an indeterminate op's number `j` where ok ops' numbers `x` stand
/// too (a search frame, a witness entry, a reviver): `INFO | j`.
pub(crate) const INFO: u32 = 1 << 31;

/// The partition's ok ops (numbered `x` from 0, in call order) and
/// indeterminate ops (numbered `j` from 0, in call order).
pub(crate) struct IndexedOps {
    /// Each ok op's index among the partition's ops.
    pub ok_src: Vec<usize>,
    /// Each ok op, interned.
    pub ok_op: Vec<u32>,
    pub ok_read_only: Vec<bool>,
    pub ok_monotone: Vec<bool>,
    pub ok_call_rank: Vec<u32>,
    pub ok_ret_rank: Vec<u32>,
    /// Each indeterminate op's index among the partition's ops.
    pub info_src: Vec<usize>,
    /// Each indeterminate op, interned.
    pub info_op: Vec<u32>,
    pub info_call_rank: Vec<u32>,
    /// The indeterminate ops in classes of equal ops.
    pub classes: Classes,
    /// Each indeterminate op's place among its class's members.
    pub info_pos: Vec<u32>,
}

impl IndexedOps {
    /// Indexes `ops` (sorted by call), interning the ok ops first, then
    /// the indeterminate ones.
    pub fn new(ops: &[LinOp], intern: &mut Interner) -> IndexedOps {
        debug_assert!(
            ops.is_sorted_by_key(|op| op.call_rank),
            "a partition's ops are sorted by call"
        );
        let (info_src, ok_src): (Vec<usize>, Vec<usize>) =
            (0..ops.len()).partition(|&i| ops[i].is_indeterminate());
        let ok_op: Vec<u32> = ok_src.iter().map(|&i| intern.op_id(&ops[i].op)).collect();
        let info_op: Vec<u32> = info_src.iter().map(|&i| intern.op_id(&ops[i].op)).collect();
        let classes = Classes::new(&info_op);
        let info_pos = places_in_class(&classes, info_op.len());
        IndexedOps {
            ok_read_only: ok_op.iter().map(|&o| intern.is_read_only(o)).collect(),
            ok_monotone: ok_op.iter().map(|&o| intern.is_monotone(o)).collect(),
            ok_call_rank: ok_src.iter().map(|&i| ops[i].call_rank).collect(),
            ok_ret_rank: ok_src.iter().map(|&i| ops[i].ret_rank).collect(),
            info_call_rank: info_src.iter().map(|&i| ops[i].call_rank).collect(),
            ok_src,
            ok_op,
            info_src,
            info_op,
            classes,
            info_pos,
        }
    }
}

/// Each of `count` indeterminate ops' place among its class's members.
fn places_in_class(classes: &Classes, count: usize) -> Vec<u32> {
    let mut pos = vec![0u32; count];
    for members in &classes.members {
        for (at, &j) in members.iter().enumerate() {
            pos[j as usize] = at as u32;
        }
    }
    pos
}
