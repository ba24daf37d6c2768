//! The allocator of the `lightcone` binary, and of the in-process
//! simulation bench, which includes this file so that it measures what the
//! binary runs: mimalloc.
//!
//! A simulation allocates and frees millions of small objects (messages,
//! their strings and JSON values, timers); with mimalloc the simulation
//! bench's runs take 10-20% less time than with glibc's malloc. The price is
//! paid in process mode, where each reader thread gets memory of its own:
//! the 25-node broadcast run's workbench peaks at about 95 MB resident
//! instead of 27 MB, and uses 1.6-2.0 s of CPU instead of 1.3 s over its
//! 30 s (BENCHMARKS.md has both).
//!
//! In process mode the runner turns transparent huge pages off for the
//! workbench (`PR_SET_THP_DISABLE`): with them, each page fault in a reader
//! thread zeroed a 2 MiB page, a third of the workbench's CPU in the
//! 25-node broadcast run at rate 1000 (NOTES-i20-scale.md). Simulations
//! keep them, and run about 15% faster for it.

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
