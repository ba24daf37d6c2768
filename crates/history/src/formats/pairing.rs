//! How the client operations of a history pair up, as Jepsen's histories
//! obey it, checked when a history is read.
//!
//! A client process is single-threaded: it has at most one operation
//! outstanding, so its invocations and completions alternate, and a
//! completion (`ok`, `fail` or `info`) completes the open invocation of its
//! process and names the same function. jepsen.history builds its pair
//! index this way and refuses a history that invokes twice ("process ... is
//! still executing ... and cannot invoke ...") or completes with nothing
//! open; Knossos refuses the first ("already running"); Jepsen's client and
//! nemesis validation refuses a completion whose `:f` differs (":f should
//! be the same"). lightcone's workbench writes histories that way: after an
//! `info` the process is retired and the worker goes on as a new one.
//!
//! One exception, lightcone's: a completion `F-degraded` (`ok`) of an
//! invocation `F` is a degraded answer (lin-kv's `read-degraded`: a read a
//! node answered from its own state, possibly stale, behind its
//! `degraded-reads` flag), recorded under its own name so that no checker
//! takes it for an `F`; the lin-kv checks leave it out of linearizability.
//!
//! So a second invocation while busy, and a completion of another
//! function, are errors: nothing can check such a history as it stands. A
//! completion with no invocation open is not an error of the reading: a
//! history of completions alone is how Elle's tests write transactions,
//! and the transactional checks take such a completion as a whole
//! transaction. The readers report it ([`LoneCompletions`]) for the caller
//! to refuse where it matters (a linearizability check would leave it out).
//! Ops of the nemesis and other non-client processes are not paired.

use std::collections::BTreeMap;

use super::FormatError;
use crate::{Op, OpType, Process};

/// Completions that had no invocation open: how many, and the first.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LoneCompletions {
    pub count: usize,
    /// Where the first is, what it is, and the fix.
    pub first: Option<FormatError>,
}

/// Checks how the ops pair up; `place(k)` is the line and column of op
/// `k`, for errors. Returns the completions that had no invocation open.
pub(crate) fn check_pairs(
    ops: &[Op],
    place: impl Fn(usize) -> (usize, usize),
) -> Result<LoneCompletions, FormatError> {
    const NONE: usize = usize::MAX;
    // Each client's open invocation (a position in `ops`): process
    // numbers below the history's length in a vector, others in a map.
    let dense_below = ops.len() as u64;
    let mut dense: Vec<usize> = Vec::new();
    let mut sparse: BTreeMap<u64, usize> = BTreeMap::new();
    let mut lone = LoneCompletions::default();
    for (k, op) in ops.iter().enumerate() {
        let Process::Client(p) = op.process else {
            continue;
        };
        let open = if p < dense_below {
            let p = p as usize;
            if p >= dense.len() {
                dense.resize(p + 1, NONE);
            }
            &mut dense[p]
        } else {
            sparse.entry(p).or_insert(NONE)
        };
        let error = |message: String| {
            let (line, column) = place(k);
            FormatError {
                line,
                column,
                message,
            }
        };
        if op.kind == OpType::Invoke {
            if *open != NONE {
                let (line, _) = place(*open);
                let running = &ops[*open];
                return Err(error(format!(
                    "process {p} invokes `{}` while its `{}` invoked at line {line} is still running: a process has at most one operation outstanding (Jepsen's processes are single-threaded); complete line {line}'s operation first, or give this invocation a process of its own",
                    op.f, running.f
                )));
            }
            *open = k;
        } else if *open == NONE {
            lone.count += 1;
            if lone.first.is_none() {
                lone.first = Some(error(format!(
                    "process {p} completes `{}` ({}) with no invocation of it open: a completion pairs with the last invocation of its process; add that invocation before this line",
                    op.f,
                    op.kind.as_str()
                )));
            }
        } else {
            let invoked = &ops[*open];
            if invoked.f != op.f && !is_degraded_completion(invoked, op) {
                let (line, _) = place(*open);
                return Err(error(format!(
                    "process {p} completes `{}` ({}) but invoked `{}` at line {line}: a completion names the function of its invocation (Jepsen's `:f should be the same`); write `{}` here, or fix the invocation",
                    op.f,
                    op.kind.as_str(),
                    invoked.f,
                    invoked.f
                )));
            }
            *open = NONE;
        }
    }
    Ok(lone)
}

/// `done` is the degraded answer to `invoked`: `ok`, with the f
/// `<invoked f>-degraded`.
fn is_degraded_completion(invoked: &Op, done: &Op) -> bool {
    done.kind == OpType::Ok
        && done
            .f
            .strip_prefix(invoked.f.as_str())
            .is_some_and(|rest| rest == "-degraded")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn op(process: Process, kind: OpType, f: &str) -> Op {
        Op::new(process, kind, f, Value::Null)
    }

    fn client(p: u64, kind: OpType, f: &str) -> Op {
        op(Process::Client(p), kind, f)
    }

    /// Op k is on line 10 + k, column 3.
    fn check(ops: &[Op]) -> Result<LoneCompletions, FormatError> {
        check_pairs(ops, |k| (10 + k, 3))
    }

    #[test]
    fn alternating_invocations_and_completions_pair() {
        use OpType::{Fail, Info, Invoke};
        let ops = [
            client(0, Invoke, "read"),
            client(1, Invoke, "write"),
            op(Process::Nemesis, Info, "start-partition"),
            client(1, OpType::Ok, "write"),
            client(0, Info, "read"),
            op(Process::Nemesis, Info, "stop-partition"),
            client(1, Invoke, "cas"),
            client(1, Fail, "cas"),
            client(u64::MAX, Invoke, "read"),
            client(u64::MAX, OpType::Ok, "read"),
            // Left open at the end: indeterminate, as in any run.
            client(5, Invoke, "read"),
        ];
        assert_eq!(check(&ops), Ok(LoneCompletions::default()));
    }

    #[test]
    fn a_second_invocation_while_busy_is_an_error() {
        let ops = [
            client(0, OpType::Invoke, "read"),
            client(1, OpType::Invoke, "read"),
            client(0, OpType::Invoke, "write"),
        ];
        let e = check(&ops).unwrap_err();
        assert_eq!((e.line, e.column), (12, 3));
        assert!(
            e.message
                .contains("process 0 invokes `write` while its `read` invoked at line 10"),
            "{}",
            e.message
        );
        assert!(e.message.contains("complete line 10's"), "{}", e.message);
        // The same for a process number past the history's length.
        let ops = [
            client(99, OpType::Invoke, "r"),
            client(99, OpType::Invoke, "r"),
        ];
        assert_eq!(check(&ops).unwrap_err().line, 11);
    }

    #[test]
    fn an_ok_degraded_answer_completes_its_function_and_nothing_else() {
        use OpType::{Fail, Invoke};
        let ops = [
            client(0, Invoke, "read"),
            client(0, OpType::Ok, "read-degraded"),
        ];
        assert_eq!(check(&ops), Ok(LoneCompletions::default()));
        for (invoked, done, kind) in [
            ("read", "read-degraded", Fail),
            ("write", "read-degraded", OpType::Ok),
            ("read", "read-degraded-degraded", OpType::Ok),
            ("read", "readdegraded", OpType::Ok),
        ] {
            let ops = [client(0, Invoke, invoked), client(0, kind, done)];
            assert!(check(&ops).is_err(), "{invoked} {done} {kind:?}");
        }
    }

    #[test]
    fn a_completion_of_another_function_is_an_error() {
        let ops = [
            client(3, OpType::Invoke, "write"),
            client(3, OpType::Ok, "read"),
        ];
        let e = check(&ops).unwrap_err();
        assert_eq!(e.line, 11);
        assert!(
            e.message
                .contains("process 3 completes `read` (ok) but invoked `write` at line 10"),
            "{}",
            e.message
        );
        assert!(e.message.contains("write `write` here"), "{}", e.message);
    }

    #[test]
    fn completions_with_nothing_open_are_counted_with_the_first() {
        let ops = [
            client(0, OpType::Ok, "txn"),
            client(0, OpType::Invoke, "txn"),
            client(0, OpType::Ok, "txn"),
            client(0, OpType::Info, "txn"),
            client(7, OpType::Fail, "read"),
        ];
        let lone = check(&ops).unwrap();
        assert_eq!(lone.count, 3);
        let first = lone.first.unwrap();
        assert_eq!(first.line, 10);
        assert!(
            first
                .message
                .contains("process 0 completes `txn` (ok) with no invocation of it open"),
            "{}",
            first.message
        );
    }
}
