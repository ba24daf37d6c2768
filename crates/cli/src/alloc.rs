//! The allocator of the `lightcone` binary, and of the in-process
//! simulation bench, which includes this file so that it measures what the
//! binary runs: mimalloc.
//!
//! A simulation allocates and frees millions of small objects (messages,
//! their strings and JSON values, timers); with mimalloc the simulation
//! bench runs 10-20% faster than with glibc's malloc (BENCHMARKS.md).

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
