//! A queue between threads whose taker sleeps at once when it is empty and
//! takes everything waiting under one lock; a sender may hand an item
//! straight on instead (`send_unless_idle`) while the taker is idle.
//!
//! crossbeam-channel's blocking receive spins and then calls
//! `sched_yield` several times before it sleeps. With dozens of pipe
//! threads on two cores each of those yields is a context switch: in the
//! 25-node broadcast run at rate 1000 they were about a sixth of the
//! workbench's CPU samples (`perf`, NOTES-i20-scale.md). Here a sender
//! wakes the taker only when it is asleep, and the taker moves the whole
//! queue out at once, so a burst of lines costs one wake-up.

use std::collections::VecDeque;
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

pub(crate) struct Mailbox<T> {
    state: Mutex<State<T>>,
    /// The taker waits here for items.
    ready: Condvar,
    /// Senders wait here for room.
    room: Condvar,
    /// Past this many items, `send` waits.
    len_max: usize,
}

struct State<T> {
    items: VecDeque<T>,
    closed: bool,
    taker_asleep: bool,
    /// The taker took items and has not said it is done with them
    /// (`done_taking`); a taker that never says so stays busy.
    taker_busy: bool,
    /// The most items it held at once.
    depth_max: usize,
}

/// What [`Mailbox::take_all`] found.
#[derive(Debug, PartialEq)]
pub(crate) enum Taken {
    /// Items were moved out.
    Items,
    /// None came before the timeout.
    Timeout,
    /// Closed, and nothing is left.
    Closed,
}

impl<T> Mailbox<T> {
    pub fn new(len_max: usize) -> Mailbox<T> {
        assert!(len_max > 0, "a mailbox holds at least one item");
        Mailbox {
            state: Mutex::new(State {
                items: VecDeque::new(),
                closed: false,
                taker_asleep: false,
                taker_busy: false,
                depth_max: 0,
            }),
            ready: Condvar::new(),
            room: Condvar::new(),
            len_max,
        }
    }

    fn lock(&self) -> MutexGuard<'_, State<T>> {
        // A thread that panicked holding the lock left a consistent queue
        // (every change is one push or one swap).
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues `item`, waiting while the mailbox is full; gives it back
    /// when the mailbox is closed.
    pub fn send(&self, item: T) -> Result<(), T> {
        self.send_unless_idle(item, Some)
    }

    /// Like `send`, but when nothing is queued and the taker is done with
    /// what it took, `direct` gets the item first, under the lock (so the
    /// taker cannot start meanwhile), and only what it gives back is
    /// queued. Whatever the taker would do with the item, `direct` may do
    /// itself without passing anything queued before it.
    pub fn send_unless_idle(&self, item: T, direct: impl FnOnce(T) -> Option<T>) -> Result<(), T> {
        let mut s = self.lock();
        while s.items.len() >= self.len_max && !s.closed {
            s = self.room.wait(s).unwrap_or_else(|e| e.into_inner());
        }
        if s.closed {
            return Err(item);
        }
        let item = if s.items.is_empty() && !s.taker_busy {
            match direct(item) {
                Some(rest) => rest,
                None => return Ok(()),
            }
        } else {
            item
        };
        s.items.push_back(item);
        s.depth_max = s.depth_max.max(s.items.len());
        let wake = std::mem::take(&mut s.taker_asleep);
        drop(s);
        if wake {
            self.ready.notify_one();
        }
        Ok(())
    }

    /// Moves everything queued into `into` (which must be empty), first
    /// waiting up to `timeout` (`None`: without end) for something.
    pub fn take_all(&self, into: &mut VecDeque<T>, timeout: Option<Duration>) -> Taken {
        assert!(into.is_empty(), "take_all appends to an empty queue");
        let deadline = timeout.map(|t| Instant::now() + t);
        let mut s = self.lock();
        while s.items.is_empty() {
            if s.closed {
                return Taken::Closed;
            }
            s.taker_asleep = true;
            s = match deadline {
                None => self.ready.wait(s).unwrap_or_else(|e| e.into_inner()),
                Some(d) => {
                    let now = Instant::now();
                    if now >= d {
                        s.taker_asleep = false;
                        return Taken::Timeout;
                    }
                    let (s, _) = self
                        .ready
                        .wait_timeout(s, d - now)
                        .unwrap_or_else(|e| e.into_inner());
                    s
                }
            };
        }
        s.taker_asleep = false;
        s.taker_busy = true;
        let was_full = s.items.len() >= self.len_max;
        std::mem::swap(&mut s.items, into);
        drop(s);
        if was_full {
            self.room.notify_all();
        }
        Taken::Items
    }

    /// The taker is done with the items it took: until it takes again,
    /// `send_unless_idle` may hand items on directly.
    pub fn done_taking(&self) {
        self.lock().taker_busy = false;
    }

    /// The most items it held at once.
    pub fn depth_max(&self) -> usize {
        self.lock().depth_max
    }

    /// From now on `send` fails; `take_all` still hands out what is left.
    pub fn close(&self) {
        self.lock().closed = true;
        self.ready.notify_all();
        self.room.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn items_come_out_in_order_in_one_take() {
        let m = Mailbox::new(10);
        for i in 0..5 {
            m.send(i).unwrap();
        }
        let mut got = VecDeque::new();
        assert_eq!(m.take_all(&mut got, None), Taken::Items);
        assert_eq!(got, [0, 1, 2, 3, 4]);
        assert_eq!(m.depth_max(), 5);
        got.clear();
        assert_eq!(
            m.take_all(&mut got, Some(Duration::from_millis(1))),
            Taken::Timeout
        );
    }

    #[test]
    fn a_full_mailbox_holds_its_sender_until_the_taker_takes() {
        let m = Arc::new(Mailbox::new(2));
        let sender = {
            let m = Arc::clone(&m);
            std::thread::spawn(move || (0..6).all(|i| m.send(i).is_ok()))
        };
        let mut all = Vec::new();
        let mut got = VecDeque::new();
        while all.len() < 6 {
            assert_eq!(m.take_all(&mut got, None), Taken::Items);
            assert!(got.len() <= 2);
            all.extend(got.drain(..));
        }
        assert!(sender.join().unwrap());
        assert_eq!(all, [0, 1, 2, 3, 4, 5]);
    }

    #[test]
    fn items_go_direct_only_while_the_taker_is_idle() {
        let m = Mailbox::new(10);
        let mut direct = Vec::new();
        // Idle: handed on, nothing queued.
        m.send_unless_idle(1, |i| {
            direct.push(i);
            None
        })
        .unwrap();
        // Handed on in part: the rest is queued.
        m.send_unless_idle(20, |i| Some(i + 1)).unwrap();
        // Something is queued: never passed.
        m.send_unless_idle(3, |_| panic!("passed a queued item"))
            .unwrap();
        let mut got = VecDeque::new();
        assert_eq!(m.take_all(&mut got, None), Taken::Items);
        assert_eq!(got, [21, 3]);
        // Taken but not done with: queued.
        m.send_unless_idle(4, |_| panic!("passed a taken item"))
            .unwrap();
        got.clear();
        assert_eq!(m.take_all(&mut got, None), Taken::Items);
        m.done_taking();
        m.send_unless_idle(5, |i| {
            direct.push(i);
            None
        })
        .unwrap();
        assert_eq!(direct, [1, 5]);
        m.close();
        assert_eq!(m.send_unless_idle(6, |_| None), Err(6));
    }

    #[test]
    fn a_closed_mailbox_refuses_sends_and_hands_out_the_rest() {
        let m = Mailbox::new(4);
        m.send(1).unwrap();
        m.close();
        assert_eq!(m.send(2), Err(2));
        let mut got = VecDeque::new();
        assert_eq!(m.take_all(&mut got, None), Taken::Items);
        assert_eq!(got, [1]);
        got.clear();
        assert_eq!(m.take_all(&mut got, None), Taken::Closed);
    }
}
