//! The shared file's layout, mirrored from `preload/vtime.c` (`struct
//! vt_shared` and `struct vt_slot`). Change both together and bump
//! [`VERSION`].

/// "LCTNTIME" as little-endian bytes.
pub const MAGIC: u64 = 0x454d_4954_4e54_434c;
/// The layout version; the library refuses a file of another version.
pub const VERSION: u32 = 1;
/// Wait slots per node process (all of its threads and forked children).
/// When every slot is taken a wait falls back to real time and
/// `table_full_count` says how often.
pub const SLOT_COUNT: usize = 256;

pub const HEADER_BYTES: usize = 128;
pub const SLOT_BYTES: usize = 48;
/// The size of the shared file.
pub const FILE_BYTES: usize = HEADER_BYTES + SLOT_COUNT * SLOT_BYTES;

// Header offsets.
pub const OFF_MAGIC: usize = 0;
pub const OFF_VERSION: usize = 8;
pub const OFF_SLOT_COUNT: usize = 12;
pub const OFF_NOW_NS: usize = 16;
pub const OFF_EPOCH: usize = 24;
pub const OFF_ATTACHED_PID: usize = 28;
pub const OFF_CLOCK_READS: usize = 32;
pub const OFF_SLEEPS: usize = 40;
pub const OFF_TIMED_WAITS: usize = 48;
pub const OFF_TABLE_FULL: usize = 56;
pub const OFF_KICKS: usize = 64;
pub const OFF_BROADCASTS: usize = 72;
pub const OFF_KICK_RETRIES: usize = 80;
pub const OFF_WAKE_SIGNAL: usize = 88;

// Slot offsets, from the start of a slot.
pub const SLOT_OFF_TID: usize = 0;
pub const SLOT_OFF_PID: usize = 4;
pub const SLOT_OFF_KIND: usize = 8;
pub const SLOT_OFF_STATE: usize = 12;
pub const SLOT_OFF_DEADLINE_NS: usize = 16;

/// `enum vt_state`: a slot whose state is not free publishes its deadline.
pub const STATE_FREE: u32 = 0;

/// `enum vt_kind`.
pub const KIND_SLEEP: u32 = 1;
pub const KIND_SIGNAL: u32 = 2;
pub const KIND_CONDVAR: u32 = 3;

/// Virtual time 0 on the monotonic clocks (CLOCK_MONOTONIC, _RAW, _COARSE,
/// CLOCK_BOOTTIME): 1,000,000 s.
pub const MONOTONIC_BASE_NS: u64 = 1_000_000 * 1_000_000_000;
/// Virtual time 0 on CLOCK_REALTIME, gettimeofday and time():
/// 2024-01-01T00:00:00Z.
pub const REALTIME_BASE_NS: u64 = 1_704_067_200 * 1_000_000_000;
/// CLOCK_TAI runs 37 s ahead of CLOCK_REALTIME.
pub const TAI_BASE_NS: u64 = REALTIME_BASE_NS + 37 * 1_000_000_000;
