//! The test core, sans-IO: a simulated network (latency, partitions as
//! grudges, statistics), clients with one request outstanding, the
//! generator and the nemesis, all as one deterministic state machine over a
//! time value.
//!
//! Whoever runs it feeds it messages from nodes and the current time, and
//! carries out its [`Effect`]s: the process runner on the real clock, the
//! simulator on virtual time. Nothing here reads a clock, spawns, or does
//! I/O; every random choice comes from the run's seed.
//!
//! ```
//! use lightcone_core::{Effect, Test, TestConfig};
//! let config = TestConfig { workload: "echo".into(), node_count: 1, ..TestConfig::default() };
//! let mut test = Test::new(config).unwrap();
//! test.start(0);
//! // The core asks for init to be delivered to node 0.
//! let effects = test.take_effects();
//! assert!(matches!(&effects[0], Effect::Deliver { node: 0, msg, .. } if msg.body.kind == "init"));
//! ```

mod config;
mod events;
mod nemesis;
mod network;
mod results;
mod services;
mod test;

pub use config::{
    excerpt, node_id_problem, parse_flag_schedule, ConfigError, FlagFlip, LatencyDist,
    NemesisConfig, Ratio, TestConfig, DURATION_NS_MAX, KEY_COUNT_MAX, NODE_ID_LEN_MAX,
    RATE_POSITIVE_MIN, TXN_LENGTH_MAX,
};
pub use lightcone_check::availability::Availability;
pub use lightcone_check::Validity;
pub use nemesis::{ClockSkew, Fault, Grudge, PartitionKind};
pub use network::{NetSection, NetStats, Traffic, TrafficStats};
pub use results::{
    net_summary, Checked, Ending, MalformedLines, MessageLatency, NodeFacts, Quantiles, QueueStats,
    Results, TimeQuantiles, WorkbenchCost,
};
pub use services::{is_service, SERVICE_NAMES};
pub use test::{
    Effect, Failure, MalformedReply, Phase, Progress, Refused, RouteError, Test, UnexpectedReplies,
    UnexpectedReply, MALFORMED_REPLY_SAMPLES_MAX, UNEXPECTED_REPLY_SAMPLES_MAX,
};

pub use lightcone_proto::{NANOS_PER_MS, NANOS_PER_SEC};
