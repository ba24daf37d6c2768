//! What the checker benches share: a timed check with a 60 s stop.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use lightcone_history::History;
use lightcone_linear::{LinearOptions, LinearResult, Model};

/// Checks `h` with `options`, stopped after 60 s (the stop flag, as a
/// caller's time limit would), and returns the result and the time in ms.
#[allow(clippy::disallowed_methods)] // a benchmark measures wall time
pub fn timed_check(
    h: &History,
    model: &dyn Model,
    mut options: LinearOptions,
) -> (LinearResult, f64) {
    let stop = Arc::new(AtomicBool::new(false));
    options.stop = Some(stop.clone());
    let (done, finished) = mpsc::channel::<()>();
    let timer = std::thread::spawn(move || {
        if finished.recv_timeout(Duration::from_secs(60)).is_err() {
            stop.store(true, Ordering::Relaxed);
        }
    });
    let start = Instant::now();
    let r = lightcone_linear::check(h, model, &options);
    let ms = start.elapsed().as_secs_f64() * 1e3;
    let _ = done.send(());
    timer.join().expect("the timer thread does not panic");
    (r, ms)
}
