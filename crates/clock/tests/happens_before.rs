//! Clocks against happens-before, over random message-passing executions.
//!
//! Each case generates N processes doing local events, sends and receives, with physical
//! clocks that are each off true time by a fixed offset of at most `skew_ns`. Happens-before is
//! computed independently, as reachability over program order and send-receive edges (Lamport
//! 1978, section 2), and every pair of events is checked:
//! - vector clocks characterise it exactly (Mattern 1989, Theorem 10);
//! - Lamport times and HLC timestamps are consistent with it (Lamport 1978, Clock Condition;
//!   Kulkarni et al. 2014, Theorem 1);
//! - HLC never goes backwards at a process and stays within the maximum offset of physical
//!   time (Kulkarni et al. 2014, Theorem 2), and the offset guard never fires while clocks are
//!   within the bound.

use std::collections::BTreeSet;

use lightcone_clock::{CausalOrder, HlcTimestamp, HybridLogicalClock, LamportClock, VectorClock};
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Step {
    Local { process: usize },
    Send { process: usize, to: usize },
    Receive { process: usize, pick: usize },
}

fn step(processes: usize) -> impl Strategy<Value = (Step, u64)> {
    let step = prop_oneof![
        (0..processes).prop_map(|process| Step::Local { process }),
        (0..processes, 0..processes).prop_map(|(process, to)| Step::Send { process, to }),
        (0..processes, any::<usize>()).prop_map(|(process, pick)| Step::Receive { process, pick }),
        (0..processes, any::<usize>()).prop_map(|(process, pick)| Step::Receive { process, pick }),
    ];
    // True time advances by 0 to 3 ms between steps; 0 makes equal physical times common.
    (step, prop_oneof![Just(0u64), 0..3_000_000u64])
}

fn execution() -> impl Strategy<Value = (Vec<i64>, Vec<(Step, u64)>)> {
    (2..6usize).prop_flat_map(|processes| {
        (
            proptest::collection::vec(-5_000_000i64..=5_000_000, processes),
            proptest::collection::vec(step(processes), 1..80),
        )
    })
}

const SKEW_NS: u64 = 5_000_000;

struct Event {
    process: usize,
    /// Direct causal predecessors: the previous event of the process, and the send if this is
    /// a receive.
    predecessors: Vec<usize>,
    vector: VectorClock<usize>,
    lamport: u64,
    hlc: HlcTimestamp,
    physical_ns: u64,
}

struct Message {
    to: usize,
    send_event: usize,
    vector: VectorClock<usize>,
    lamport: u64,
    hlc: HlcTimestamp,
}

struct Process {
    vector: VectorClock<usize>,
    lamport: LamportClock,
    hlc: HybridLogicalClock,
    last_event: Option<usize>,
}

fn run(offsets: &[i64], steps: &[(Step, u64)]) -> Vec<Event> {
    let mut processes: Vec<Process> = (0..offsets.len())
        .map(|_| Process {
            vector: VectorClock::new(),
            lamport: LamportClock::new(),
            hlc: HybridLogicalClock::new(2 * SKEW_NS),
            last_event: None,
        })
        .collect();
    let mut in_flight: Vec<Message> = Vec::new();
    let mut events: Vec<Event> = Vec::new();
    let mut true_ns = 1_000_000_000u64;
    for (step, advance_ns) in steps {
        true_ns += advance_ns;
        let (process, received) = match *step {
            Step::Local { process } | Step::Send { process, .. } => (process, None),
            Step::Receive { process, pick } => {
                let waiting: Vec<usize> = (0..in_flight.len())
                    .filter(|&i| in_flight[i].to == process)
                    .collect();
                if waiting.is_empty() {
                    (process, None)
                } else {
                    (
                        process,
                        Some(in_flight.remove(waiting[pick % waiting.len()])),
                    )
                }
            }
        };
        let physical_ns = (true_ns as i64 + offsets[process]) as u64;
        let state = &mut processes[process];
        let mut predecessors: Vec<usize> = state.last_event.into_iter().collect();
        let (lamport, hlc) = match &received {
            Some(message) => {
                predecessors.push(message.send_event);
                state.vector.merge(&message.vector);
                let hlc = state
                    .hlc
                    .update(message.hlc, physical_ns)
                    .expect("clocks within the skew bound never trip the offset guard");
                (state.lamport.observe(message.lamport), hlc)
            }
            None => (state.lamport.tick(), state.hlc.now(physical_ns).unwrap()),
        };
        state.vector.increment(&process);
        let index = events.len();
        state.last_event = Some(index);
        if let Step::Send { to, .. } = *step {
            in_flight.push(Message {
                to,
                send_event: index,
                vector: state.vector.clone(),
                lamport,
                hlc,
            });
        }
        events.push(Event {
            process,
            predecessors,
            vector: state.vector.clone(),
            lamport,
            hlc,
            physical_ns,
        });
    }
    events
}

/// `past[b]` holds every `a` that happened before `b`. Events are numbered in an order that
/// extends happens-before, so one forward pass computes the transitive closure.
fn happens_before(events: &[Event]) -> Vec<BTreeSet<usize>> {
    let mut past: Vec<BTreeSet<usize>> = Vec::with_capacity(events.len());
    for event in events {
        let mut mine = BTreeSet::new();
        for &p in &event.predecessors {
            mine.insert(p);
            mine.extend(past[p].iter().copied());
        }
        past.push(mine);
    }
    past
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn vector_clocks_characterise_happens_before((offsets, steps) in execution()) {
        let events = run(&offsets, &steps);
        let past = happens_before(&events);
        for (b, event_b) in events.iter().enumerate() {
            for (a, event_a) in events.iter().enumerate() {
                let hb = past[b].contains(&a);
                prop_assert_eq!(hb, event_a.vector < event_b.vector, "events {} and {}", a, b);
                let concurrent = a != b && !hb && !past[a].contains(&b);
                prop_assert_eq!(
                    concurrent,
                    event_a.vector.compare(&event_b.vector) == CausalOrder::Concurrent
                );
            }
        }
    }

    #[test]
    fn lamport_and_hlc_are_monotone_along_happens_before((offsets, steps) in execution()) {
        let events = run(&offsets, &steps);
        let past = happens_before(&events);
        for (b, event_b) in events.iter().enumerate() {
            for &a in &past[b] {
                prop_assert!(events[a].lamport < event_b.lamport);
                prop_assert!(events[a].hlc < event_b.hlc);
            }
        }
    }

    #[test]
    fn hlc_never_goes_back_and_stays_near_physical_time((offsets, steps) in execution()) {
        let events = run(&offsets, &steps);
        let mut last: Vec<Option<HlcTimestamp>> = vec![None; offsets.len()];
        for event in &events {
            if let Some(previous) = last[event.process] {
                prop_assert!(previous < event.hlc);
            }
            last[event.process] = Some(event.hlc);
            prop_assert!(event.hlc.wall_ns >= event.physical_ns);
            prop_assert!(event.hlc.wall_ns - event.physical_ns <= 2 * SKEW_NS);
        }
    }
}
