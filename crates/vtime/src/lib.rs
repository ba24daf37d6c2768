//! Virtual time for foreign node processes.
//!
//! A node written in Python, Ruby, Node.js or C reads the time and sleeps
//! through glibc. This crate builds a small LD_PRELOAD library
//! (`preload/vtime.c`) that answers those calls from a clock the workbench
//! owns: one [`VirtualClock`] per node process, a 12 KiB file both sides map.
//! The workbench advances the clock; the node's sleeps and timed waits end
//! when virtual time passes their deadlines, and the workbench can ask which
//! deadline comes next.
//!
//! ```no_run
//! use lightcone_vtime::{preload_library, VirtualClock};
//! use std::path::Path;
//! use std::process::Command;
//!
//! let dir = Path::new("/tmp/run-1");
//! let library = preload_library(dir)?;
//! let clock = VirtualClock::create(&dir.join("n1.vtime"))?;
//! let mut child = Command::new("python3")
//!     .args(["-c", "import time; time.sleep(1); print(time.monotonic())"])
//!     .envs(clock.env(&library))
//!     .spawn()?;
//! // ... wait until the node is quiet (see `quiet`), then:
//! if let Some(deadline) = clock.next_deadline() {
//!     clock.advance_to(deadline); // the sleep ends; the child prints 1000001.0
//! }
//! child.wait()?;
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! Nothing here reads the wall clock or OS entropy, except the test helper
//! [`quiet::wait_quiet`], which sleeps between two looks at `/proc`.

mod clock;
pub mod layout;
pub mod quiet;

pub use clock::{preload_library, VirtualClock, VtimeStats, WaitKind, Waiter, ENV_PATH};
pub use layout::{MONOTONIC_BASE_NS, REALTIME_BASE_NS, SLOT_COUNT, TAI_BASE_NS};
