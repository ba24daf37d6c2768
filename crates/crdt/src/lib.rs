//! Conflict-free replicated data types, state-based and delta-state.
//!
//! Every type is a join-semilattice ([`Crdt`]: `merge` and the order `le`), serialises with
//! serde (JSON for gossip), and iterates in a fixed order. Mutators return a *delta*, a small
//! state of the same type whose merge has the effect of the update (Almeida, Shoker, Baquero
//! 2018, "Delta State Replicated Data Types"), so a node gossips deltas, joined into groups by
//! a [`DeltaBuffer`], and merges what it receives, deltas and whole states alike. Node ids are
//! generic (`I: Ord + Clone`, `String` by default, as lightcone's `"n1"`).
//!
//! | type | what it holds | delta of an update |
//! | --- | --- | --- |
//! | [`GCounter`] | a count that only grows | the node's new entry |
//! | [`PNCounter`] | a count that goes up and down | the node's new entry |
//! | [`GSet`] | a set that only grows | the element |
//! | [`TwoPSet`] | a set whose elements can be removed once, never re-added | the element |
//! | [`LWWRegister`] | the value with the largest HLC timestamp | the write |
//! | [`MVRegister`] | all concurrent values (siblings) | the write and the dots it overwrote |
//! | [`ORSet`] | an add-wins set without tombstones | the element's dot, or the dots removed |
//! | [`ORMap`] | keys to nested causal CRDTs | the nested delta under its key |
//!
//! # Counters
//!
//! ```
//! use lightcone_crdt::{Crdt, GCounter, PNCounter};
//!
//! let (n1, n2) = ("n1".to_string(), "n2".to_string());
//! let mut a = GCounter::new();
//! let mut b = GCounter::new();
//! let delta = a.increment(&n1, 3); // the delta is {"n1": 3}
//! b.increment(&n2, 4);
//! b.merge(&delta);
//! b.merge(&delta); // idempotent: duplicates are harmless
//! assert_eq!(b.value(), 7);
//! assert!(a.le(&b));
//!
//! let mut c = PNCounter::new();
//! c.add(&n1, 10);
//! c.add(&n2, -15);
//! assert_eq!(c.value(), -5);
//! ```
//!
//! # Grow-only and two-phase sets
//!
//! ```
//! use lightcone_crdt::{Crdt, GSet, TwoPSet};
//!
//! let mut a = GSet::new();
//! let delta = a.insert(42u64);
//! let mut b = GSet::new();
//! b.merge(&delta);
//! assert!(b.contains(&42));
//!
//! let mut s = TwoPSet::new();
//! s.insert("x")?;
//! s.remove("x");
//! assert!(s.insert("x").is_err()); // a 2P-set never takes an element back
//! # Ok::<(), lightcone_crdt::CrdtError>(())
//! ```
//!
//! # Registers
//!
//! ```
//! use lightcone_clock::HybridLogicalClock;
//! use lightcone_crdt::{Crdt, LWWRegister, MVRegister};
//!
//! let (n1, n2) = ("n1".to_string(), "n2".to_string());
//! let mut clock = HybridLogicalClock::new(500_000_000);
//! let mut lww = LWWRegister::new();
//! lww.set("old", clock.now(1_000)?, n1.clone());
//! lww.set("new", clock.now(2_000)?, n1.clone());
//! assert_eq!(lww.get(), Some(&"new"));
//!
//! // A multi-value register keeps concurrent writes as siblings.
//! let mut a = MVRegister::new();
//! let mut b = MVRegister::new();
//! let from_a = a.write(&n1, "red");
//! let from_b = b.write(&n2, "blue");
//! a.merge(&from_b);
//! b.merge(&from_a);
//! assert_eq!(a.values(), [&"red", &"blue"]);
//! a.write(&n1, "purple"); // a write that saw both replaces both
//! assert_eq!(a.values(), [&"purple"]);
//! # Ok::<(), lightcone_clock::ClockError>(())
//! ```
//!
//! # The OR-Set, and gossiping its deltas
//!
//! ```
//! use lightcone_crdt::{Crdt, DeltaBuffer, ORSet};
//!
//! let (n1, n2) = ("n1".to_string(), "n2".to_string());
//! let mut a: ORSet<u64> = ORSet::new();
//! let mut b: ORSet<u64> = ORSet::new();
//! let mut to_gossip = DeltaBuffer::new();
//! to_gossip.push(a.add(&n1, 1));
//! to_gossip.push(a.add(&n1, 2));
//! to_gossip.push(a.remove(&1));
//! let group = to_gossip.take().unwrap(); // one joined delta for all three updates
//! let json = serde_json::to_string(&group).unwrap();
//! b.merge(&serde_json::from_str(&json).unwrap());
//! assert_eq!(b.elements(), a.elements());
//!
//! // Add wins over a concurrent remove.
//! let removal = b.remove(&2);
//! let re_add = a.add(&n1, 2);
//! a.merge(&removal);
//! b.merge(&re_add);
//! assert!(a.contains(&2) && b.contains(&2));
//! # let _ = n2;
//! ```
//!
//! # A map of nested CRDTs
//!
//! ```
//! use lightcone_crdt::{Crdt, MVRegister, ORMap, ORSet};
//!
//! let n1 = "n1".to_string();
//! let mut carts: ORMap<String, ORSet<String>> = ORMap::new();
//! let delta = carts.update("alice".into(), |cart| cart.add(&n1, "book".into()));
//! let mut replica = ORMap::new();
//! replica.merge(&delta);
//! assert!(replica.get(&"alice".to_string()).unwrap().contains(&"book".to_string()));
//! replica.remove(&"alice".to_string());
//! assert!(replica.is_empty());
//!
//! let mut profiles: ORMap<&str, MVRegister<u32>> = ORMap::new();
//! profiles.update("age", |age| age.write(&n1, 41));
//! assert_eq!(profiles.get(&"age").unwrap().values(), [&41]);
//! ```

mod causal;
mod context;
mod counter;
mod dot_store;
mod error;
mod gset;
mod lattice;
mod lww;
mod mvreg;
mod ormap;
mod orset;
mod serde_pairs;
mod twopset;

pub use causal::{Causal, CausalCrdt};
pub use context::CausalContext;
pub use counter::{GCounter, PNCounter};
pub use dot_store::{DotFun, DotMap, DotSet, DotStore};
pub use error::CrdtError;
pub use gset::GSet;
pub use lattice::{Crdt, DeltaBuffer};
pub use lww::{LWWRegister, LwwWrite};
pub use mvreg::MVRegister;
pub use ormap::ORMap;
pub use orset::ORSet;
pub use twopset::TwoPSet;
