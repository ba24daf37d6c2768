//! Real python3 processes under a virtual clock. No timing assertions: the
//! only wall-clock figure is "printed nothing for 300 ms while virtual time
//! stood still".

mod support;

use std::time::Duration;
use support::{python3, Node};

const S: u64 = 1_000_000_000;
const MS: u64 = 1_000_000;

#[test]
fn python_reads_the_virtual_clocks() {
    let Some(py) = python3("python_reads_the_virtual_clocks") else {
        return;
    };
    let script = "import sys, time\n\
        print(time.monotonic(), time.time(), time.monotonic_ns(), time.time_ns(), flush=True)\n\
        sys.stdin.readline()\n\
        print(time.monotonic(), time.time(), time.monotonic_ns(), time.time_ns(), flush=True)\n";
    let mut node = Node::start("reads", &py, &["-c", script]);
    assert_eq!(
        node.line(),
        "1000000.0 1704067200.0 1000000000000000 1704067200000000000"
    );
    assert!(node.clock.attached());
    node.clock.advance_to(5 * S + 500 * MS);
    node.write("go\n");
    assert_eq!(
        node.line(),
        "1000005.5 1704067205.5 1000005500000000 1704067205500000000"
    );
    node.finish();
}

const SLEEP_LOOP: &str = "import threading, time\n\
    def loop():\n\
    \x20   for _ in range(3):\n\
    \x20       time.sleep(0.1)\n\
    \x20       print(time.monotonic_ns() - 1000000 * 10**9, flush=True)\n\
    t = threading.Thread(target=loop)\n\
    t.start()\n\
    t.join()\n";

#[test]
fn python_sleep_waits_for_virtual_time() {
    let Some(py) = python3("python_sleep_waits_for_virtual_time") else {
        return;
    };
    let node = Node::start("sleep", &py, &["-c", SLEEP_LOOP]);
    for i in 1..=3u64 {
        node.wait_quiet();
        assert_eq!(
            node.clock.next_deadline(),
            Some(i * 100 * MS),
            "sleep {i} registered its deadline"
        );
        node.silent();
        // Short of the deadline: still asleep.
        node.clock.advance_to(i * 100 * MS - 1);
        node.wait_quiet();
        node.silent();
        node.clock.advance_to(i * 100 * MS);
        assert_eq!(node.line(), (i * 100 * MS).to_string());
    }
    let stats = node.clock.stats();
    node.finish();
    assert_eq!(stats.sleep_count, 3);
    assert_eq!(stats.table_full_count, 0);
}

const EVENTS: &str = "import sys, threading, time\n\
    def stamp(tag):\n\
    \x20   print(tag, time.monotonic_ns() - 1000000 * 10**9, flush=True)\n\
    timer = threading.Timer(0.5, lambda: stamp('timer'))\n\
    timer.start()\n\
    slow, fast = threading.Event(), threading.Event()\n\
    def wait_slow():\n\
    \x20   stamp('slow %s' % slow.wait(timeout=2))\n\
    def wait_fast():\n\
    \x20   stamp('fast %s' % fast.wait(timeout=10))\n\
    threads = [threading.Thread(target=wait_slow), threading.Thread(target=wait_fast)]\n\
    for t in threads: t.start()\n\
    sys.stdin.readline()\n\
    fast.set()\n\
    for t in threads: t.join()\n\
    timer.join()\n";

#[test]
fn python_event_wait_and_timer_fire_at_virtual_deadlines() {
    let Some(py) = python3("python_event_wait_and_timer_fire_at_virtual_deadlines") else {
        return;
    };
    let mut node = Node::start("events", &py, &["-c", EVENTS]);
    assert_eq!(node.step(), 500 * MS);
    assert_eq!(node.line(), "timer 500000000");
    // A set() from another thread wakes its waiter before the deadline.
    node.wait_quiet();
    node.write("set\n");
    assert_eq!(node.line(), "fast True 500000000");
    node.wait_quiet();
    node.silent();
    assert_eq!(node.step(), 2 * S);
    assert_eq!(node.line(), "slow False 2000000000");
    let stats = node.clock.stats();
    node.finish();
    assert!(stats.timed_wait_count >= 3, "{stats:?}");
    assert!(stats.kick_count >= 2, "{stats:?}");
}

const SELECT: &str = "import os, select, selectors, sys, time\n\
    def now():\n\
    \x20   return time.monotonic_ns() - 1000000 * 10**9\n\
    for _ in range(2):\n\
    \x20   r, _, _ = select.select([0], [], [], 1.0)\n\
    \x20   print('select', 'input %s' % os.read(0, 100).decode().strip() if r else 'timeout', now(), flush=True)\n\
    sel = selectors.DefaultSelector()\n\
    sel.register(0, selectors.EVENT_READ)\n\
    for _ in range(2):\n\
    \x20   events = sel.select(timeout=0.25)\n\
    \x20   print(type(sel).__name__, 'input %s' % os.read(0, 100).decode().strip() if events else 'timeout', now(), flush=True)\n";

#[test]
fn python_select_wakes_on_input_and_on_virtual_timeout() {
    let Some(py) = python3("python_select_wakes_on_input_and_on_virtual_timeout") else {
        return;
    };
    let mut node = Node::start("select", &py, &["-c", SELECT]);
    node.wait_quiet();
    assert_eq!(node.clock.next_deadline(), Some(S));
    node.write("a\n");
    assert_eq!(node.line(), "select input a 0");
    assert_eq!(node.step(), S);
    assert_eq!(node.line(), "select timeout 1000000000");
    node.wait_quiet();
    assert_eq!(node.clock.next_deadline(), Some(S + 250 * MS));
    node.write("b\n");
    assert_eq!(node.line(), "EpollSelector input b 1000000000");
    assert_eq!(node.step(), S + 250 * MS);
    assert_eq!(node.line(), "EpollSelector timeout 1250000000");
    node.finish();
}

#[test]
fn the_same_advances_give_the_same_output() {
    let Some(py) = python3("the_same_advances_give_the_same_output") else {
        return;
    };
    let run = |name: &str| {
        let mut node = Node::start(name, &py, &["-c", EVENTS]);
        let mut out = Vec::new();
        node.step();
        out.push(node.line());
        node.wait_quiet();
        node.write("set\n");
        out.push(node.line());
        node.step();
        out.push(node.line());
        out.extend(node.finish());
        out
    };
    let first = run("repeat-1");
    for i in 2..=3 {
        assert_eq!(run(&format!("repeat-{i}")), first);
    }
}

#[test]
fn a_process_without_the_library_stays_detached() {
    let Some(py) = python3("a_process_without_the_library_stays_detached") else {
        return;
    };
    let node = Node::start_with(
        "detached",
        &py,
        &["-c", "import time; print(time.monotonic() > 0)"],
        false,
    );
    let clock_path = node.clock.path().to_path_buf();
    assert_eq!(node.line(), "True");
    let clock =
        lightcone_vtime::VirtualClock::create(&clock_path.with_extension("unused")).unwrap();
    assert!(!clock.attached());
    assert!(!node.clock.attached());
    node.finish();
}

const ASYNCIO: &str = "import asyncio, time\n\
    def now():\n\
    \x20   return time.monotonic_ns() - 1000000 * 10**9\n\
    async def main():\n\
    \x20   loop = asyncio.get_running_loop()\n\
    \x20   loop.call_later(0.1, lambda: print('call_later', now(), flush=True))\n\
    \x20   await asyncio.sleep(0.3)\n\
    \x20   print('sleep', now(), flush=True)\n\
    \x20   try:\n\
    \x20       await asyncio.wait_for(asyncio.Event().wait(), 0.2)\n\
    \x20   except asyncio.TimeoutError:\n\
    \x20       print('wait_for timeout', now(), flush=True)\n\
    asyncio.run(main())\n";

#[test]
fn python_asyncio_timers_follow_virtual_time() {
    let Some(py) = python3("python_asyncio_timers_follow_virtual_time") else {
        return;
    };
    let node = Node::start("asyncio", &py, &["-c", ASYNCIO]);
    assert_eq!(node.step(), 100 * MS);
    assert_eq!(node.line(), "call_later 100000000");
    // asyncio keeps deadlines as float seconds (1000000.3 - 1000000.1 is
    // 0.20000000004656613) and epoll rounds its timeout up to the next
    // millisecond, so the wake comes up to 1 ms of virtual time late, as it
    // would on a real clock; the timer still fires at the wake.
    let sleep = node.step();
    assert!((300 * MS..=301 * MS).contains(&sleep), "{sleep}");
    assert_eq!(node.line(), format!("sleep {sleep}"));
    let timeout = node.step();
    assert!(
        (sleep + 200 * MS..=sleep + 201 * MS).contains(&timeout),
        "{timeout}"
    );
    assert_eq!(node.line(), format!("wait_for timeout {timeout}"));
    node.finish();
}

const FORK: &str = "import os, threading, time\n\
    def now():\n\
    \x20   return time.monotonic_ns() - 1000000 * 10**9\n\
    pid = os.fork()\n\
    if pid == 0:\n\
    \x20   time.sleep(0.2)\n\
    \x20   print('child sleep', now(), flush=True)\n\
    \x20   print('child wait', threading.Event().wait(0.3), now(), flush=True)\n\
    \x20   os._exit(0)\n\
    os.waitpid(pid, 0)\n\
    print('parent', now(), flush=True)\n";

#[test]
fn a_forked_child_shares_the_clock() {
    let Some(py) = python3("a_forked_child_shares_the_clock") else {
        return;
    };
    let node = Node::start("fork", &py, &["-c", FORK]);
    // The child is another process: look at it through the clock's waiters.
    let child_quiet = |node: &Node| {
        node.wait_quiet();
        let waiters = node.clock.waiters();
        assert_eq!(waiters.len(), 1, "{waiters:?}");
        assert_ne!(waiters[0].pid, node.child.id());
        let child = waiters[0].pid;
        assert!(lightcone_vtime::quiet::wait_quiet(
            child,
            Some(&node.clock),
            Duration::from_millis(20),
            500
        )
        .unwrap());
        waiters[0].deadline_ns
    };
    assert_eq!(child_quiet(&node), 200 * MS);
    node.clock.advance_to(200 * MS);
    assert_eq!(node.line(), "child sleep 200000000");
    assert_eq!(child_quiet(&node), 500 * MS);
    node.clock.advance_to(500 * MS);
    assert_eq!(node.line(), "child wait False 500000000");
    assert_eq!(node.line(), "parent 500000000");
    node.finish();
}

const CROWD: &str = "import threading, time\n\
    def nap():\n\
    \x20   time.sleep(0.05)\n\
    threads = [threading.Thread(target=nap) for _ in range(300)]\n\
    for t in threads: t.start()\n\
    for t in threads: t.join()\n\
    print('done', flush=True)\n";

#[test]
fn a_full_slot_table_falls_back_to_real_time_and_counts_it() {
    let Some(py) = python3("a_full_slot_table_falls_back_to_real_time_and_counts_it") else {
        return;
    };
    let node = Node::start("crowd", &py, &["-c", CROWD]);
    // 300 threads sleep 50 ms; the table holds 256 waits. The rest sleep in
    // real time and end by themselves; the 256 registered ones wait for the
    // clock. (The GIL's condvar waits take slots too, so the split is not
    // exact.)
    node.wait_quiet();
    let registered = node.clock.waiters().len();
    assert!(registered <= lightcone_vtime::SLOT_COUNT);
    let stats = node.clock.stats();
    assert!(
        stats.table_full_count >= 300 - lightcone_vtime::SLOT_COUNT as u64,
        "{stats:?}"
    );
    node.silent();
    node.clock.advance_to(50 * MS);
    assert_eq!(node.line(), "done");
    node.finish();
}

const SIGNALLED: &str = "import select, signal, sys, time\n\
    def now():\n\
    \x20   return time.monotonic_ns() - 1000000 * 10**9\n\
    signal.signal(signal.SIGUSR1, lambda *_: print('signal', now(), flush=True))\n\
    time.sleep(1)\n\
    print('slept', now(), flush=True)\n\
    r, _, _ = select.select([0], [], [], 1)\n\
    print('select', len(r), now(), flush=True)\n";

#[test]
fn a_signal_of_the_program_runs_its_handler_and_the_wait_goes_on() {
    let Some(py) = python3("a_signal_of_the_program_runs_its_handler_and_the_wait_goes_on") else {
        return;
    };
    let node = Node::start("signalled", &py, &["-c", SIGNALLED]);
    let pid = node.child.id() as libc::pid_t;
    for (deadline, line) in [
        (1_000 * MS, "slept 1000000000"),
        (2_000 * MS, "select 0 2000000000"),
    ] {
        node.wait_quiet();
        // SAFETY: signalling our own child.
        assert_eq!(unsafe { libc::kill(pid, libc::SIGUSR1) }, 0);
        assert_eq!(node.line(), format!("signal {}", deadline - 1_000 * MS));
        assert_eq!(node.step(), deadline);
        assert_eq!(node.line(), line);
    }
    node.finish();
}
