// A Rust std node for tests/rust_std.rs: Instant, SystemTime, mpsc
// recv_timeout, Condvar::wait_timeout and thread::sleep, printing the
// virtual time after each (ns since the test began).
use std::io::BufRead;
use std::sync::{mpsc, Condvar, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

fn main() {
    let start = Instant::now();
    let since = |start: Instant| start.elapsed().as_nanos();
    let unix = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs();
    println!("start {unix}");
    let (tx, rx) = mpsc::channel::<u32>();
    println!("recv_timeout {:?} {}", rx.recv_timeout(Duration::from_millis(300)).is_err(), since(start));
    let (lock, cv) = (Mutex::new(()), Condvar::new());
    let (_guard, result) = cv.wait_timeout(lock.lock().unwrap(), Duration::from_millis(300)).unwrap();
    println!("wait_timeout {} {}", result.timed_out(), since(start));
    std::thread::sleep(Duration::from_millis(100));
    println!("sleep {}", since(start));
    // A real event before the deadline.
    std::thread::spawn(move || {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line).unwrap();
        tx.send(7).unwrap();
    });
    println!("recv_timeout {:?} {}", rx.recv_timeout(Duration::from_secs(10)), since(start));
}
