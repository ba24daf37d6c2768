//! Clocks for distributed systems, all driven by time the caller passes in.
//!
//! Every clock here takes physical time as a `u64` of nanoseconds argument (in a lightcone
//! node, `ctx.now()`), never reads the wall clock, so the simulator can skew and replay it.
//! Node ids are generic (`I: Ord + Clone`, `String` by default, as lightcone's `"n1"`), maps
//! are `BTreeMap`s, and every type serialises with serde. `docs/clocks.md` compares the clocks:
//! what each orders, and what it costs.
//!
//! # Lamport clocks
//!
//! One integer; consistent with causality, blind to concurrency.
//!
//! ```
//! use lightcone_clock::LamportClock;
//!
//! let mut n1 = LamportClock::new();
//! let mut n2 = LamportClock::new();
//! let sent = n1.tick(); // a send stamps the message with 1
//! n2.tick(); // a local event at n2: 1
//! assert_eq!(n2.observe(sent), 2); // the receive is after both
//! assert!(n1.stamp("n1") < n2.stamp("n2")); // total order, ties broken by node
//! ```
//!
//! # Vector clocks
//!
//! Characterise happens-before exactly, including concurrency.
//!
//! ```
//! use lightcone_clock::{CausalOrder, VectorClock};
//!
//! let (n1, n2) = ("n1".to_string(), "n2".to_string());
//! let mut a = VectorClock::new();
//! a.increment(&n1); // an event at n1
//! let mut b = a.clone(); // n2 receives it ...
//! b.increment(&n2); // ... and ticks
//! a.increment(&n1); // meanwhile n1 moves on
//! assert_eq!(a.compare(&b), CausalOrder::Concurrent);
//! let mut c = b.clone();
//! c.merge(&a); // a receive: pointwise max, then tick
//! c.increment(&n2);
//! assert_eq!(a.compare(&c), CausalOrder::Before);
//! assert!(b < c);
//! ```
//!
//! # Dotted version vectors
//!
//! A store tracks concurrent client writes with clocks over replicas only. [`DvvSiblings`]
//! keeps a dotted version vector per value; [`DvvSet`] packs them into one entry per replica.
//! Both offer the kernel `sync`, `update`, `join` and `values` of Almeida et al. 2014.
//!
//! ```
//! use lightcone_clock::{DvvSet, DvvSiblings, VectorClock};
//!
//! let r1 = "r1".to_string();
//! let mut key: DvvSet<&str> = DvvSet::new();
//! key.update(&VectorClock::new(), &r1, "from client A"); // two blind writes:
//! key.update(&VectorClock::new(), &r1, "from client B"); // siblings
//! assert_eq!(key.len(), 2);
//! let read = key.join(); // a client reads both, with this context ...
//! key.update(&read, &r1, "merged by client C"); // ... and its write replaces them
//! assert_eq!(key.values().collect::<Vec<_>>(), [&"merged by client C"]);
//! assert_eq!(key.replica_count(), 1); // one entry per replica, however many clients
//!
//! // The per-value form behaves the same and shows each sibling's clock.
//! let mut key: DvvSiblings<&str> = DvvSiblings::new();
//! let clock = key.update(&VectorClock::new(), &r1, "x");
//! assert_eq!(clock.dot.counter, 1);
//! ```
//!
//! # Hybrid logical clocks
//!
//! Close to physical time, consistent with causality, and guarded against a remote clock that
//! runs too far ahead.
//!
//! ```
//! use lightcone_clock::{ClockError, HlcTimestamp, HybridLogicalClock};
//!
//! let max_offset_ns = 500_000_000; // 500 ms
//! let mut n1 = HybridLogicalClock::new(max_offset_ns);
//! let mut n2 = HybridLogicalClock::new(max_offset_ns);
//! let sent = n1.now(2_000_000_000)?; // n1's physical clock reads 2 s
//! // n2's physical clock is behind; its HLC still moves past the message.
//! let received = n2.update(sent, 1_900_000_000)?;
//! assert!(received > sent);
//! assert_eq!(received, HlcTimestamp::new(2_000_000_000, 1));
//! // A timestamp a whole second ahead of local physical time is refused.
//! let bogus = HlcTimestamp::new(3_000_000_000, 0);
//! assert!(matches!(
//!     n2.update(bogus, 1_900_000_000),
//!     Err(ClockError::RemoteTooFarAhead { .. })
//! ));
//! # Ok::<(), ClockError>(())
//! ```
//!
//! # Interval clocks (TrueTime)
//!
//! ```
//! use lightcone_clock::IntervalClock;
//!
//! let truetime = IntervalClock::new(7_000_000); // 7 ms of uncertainty
//! let interval = truetime.now(1_000_000_000);
//! assert_eq!(interval.latest_ns - interval.earliest_ns, 14_000_000);
//! let commit_ns = truetime.commit_timestamp(1_000_000_000);
//! // Commit wait: the write may become visible once `after(commit_ns)` holds.
//! let wait_ns = truetime.commit_wait_ns(commit_ns, 1_000_000_000);
//! assert_eq!(wait_ns, 14_000_001);
//! assert!(truetime.after(commit_ns, 1_000_000_000 + wait_ns));
//! ```

mod dot;
mod dvv;
mod dvvset;
mod error;
mod hlc;
mod hlc_timestamp;
mod interval;
mod lamport;
mod vector;

pub use dot::Dot;
pub use dvv::{DottedVersionVector, DvvSiblings};
pub use dvvset::{DvvSet, DvvSetEntry};
pub use error::ClockError;
pub use hlc::HybridLogicalClock;
pub use hlc_timestamp::HlcTimestamp;
pub use interval::{IntervalClock, TimeInterval};
pub use lamport::{LamportClock, LamportTimestamp};
pub use vector::{CausalOrder, VectorClock};
