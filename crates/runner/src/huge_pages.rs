//! Transparent huge pages, off for the workbench in process mode and as
//! they were for the nodes it starts.
//!
//! The binary's allocator asks the kernel for huge pages. In process mode
//! the many pipe threads each fault in memory of their own, and a fault
//! in a huge-page region zeroes 2 MiB: in the 25-node broadcast run at
//! rate 1000 that zeroing was a third of the workbench's CPU
//! (BENCHMARKS.md, "At scale"). `prctl(PR_SET_THP_DISABLE)` turns them off
//! for this process from then on (the kernel decides at each fault). The
//! setting is inherited across fork and exec, so each node's process puts
//! back what the workbench had before ([`restore_in_child`]): the nodes
//! run with the machine's own setting, as under Maelstrom.

use std::sync::atomic::{AtomicBool, Ordering};

/// Whether huge pages were already off for this process before
/// [`disable`] (the user's environment may have turned them off).
static WERE_DISABLED: AtomicBool = AtomicBool::new(false);

/// Turns transparent huge pages off for the rest of this process's life.
/// Harmless where the kernel has no such setting.
pub fn disable() {
    // SAFETY: prctl with these options reads and sets a flag of this
    // process only.
    unsafe {
        let before = libc::prctl(libc::PR_GET_THP_DISABLE, 0, 0, 0, 0);
        WERE_DISABLED.store(before == 1, Ordering::Relaxed);
        if before == 0 {
            libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
        }
    }
}

/// In a child between fork and exec: huge pages as they were before
/// [`disable`]. Async-signal-safe (an atomic load and a system call).
pub fn restore_in_child() {
    if !WERE_DISABLED.load(Ordering::Relaxed) {
        // SAFETY: as above; prctl is async-signal-safe.
        unsafe {
            libc::prctl(libc::PR_SET_THP_DISABLE, 0, 0, 0, 0);
        }
    }
}
