//! Transactional histories for tests and benchmarks.
