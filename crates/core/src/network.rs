//! The simulated network: latency, grudges, and Maelstrom's statistics.

use lightcone_proto::{is_client_id, Envelope};
use lightcone_rng::Rng;
use serde::Serialize;

use crate::nemesis::Grudge;
use crate::{LatencyDist, Ratio, NANOS_PER_MS};
use lightcone_history::message_log::{Fate, MessageLog};

/// Send, receive and unique-message counts for one class of traffic.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TrafficStats {
    pub send_count: u64,
    pub recv_count: u64,
    /// Distinct messages (by network id) sent.
    pub msg_count: u64,
}

/// Maelstrom's `net` section: all traffic, traffic involving a client, and
/// traffic between servers (nodes and services).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NetStats {
    pub all: TrafficStats,
    pub clients: TrafficStats,
    pub servers: TrafficStats,
    /// Messages dropped at delivery by a partition.
    pub dropped_count: u64,
    /// Messages lost in transit (`--loss`).
    pub lost_count: u64,
    /// Extra copies delivered (`--duplicate`).
    pub duplicated_count: u64,
    /// Messages a node sent under another id than its own (a client's,
    /// when it forwards the client's request), routed as Maelstrom does.
    pub forwarded_count: u64,
}

impl NetStats {
    /// The `net` section of results.json; msgs-per-op only when there were
    /// client operations, as in Maelstrom.
    pub fn section(&self, op_count: u64) -> NetSection {
        let per_op =
            |t: &TrafficStats| (op_count > 0).then(|| t.msg_count as f64 / op_count as f64);
        NetSection {
            all: Traffic::of(&self.all, per_op(&self.all)),
            clients: Traffic::of(&self.clients, None),
            servers: Traffic::of(&self.servers, per_op(&self.servers)),
            dropped_count: self.dropped_count,
            lost_count: self.lost_count,
            duplicated_count: self.duplicated_count,
            forwarded_count: self.forwarded_count,
            message_log_truncated_count: 0,
            valid: true,
        }
    }
}

/// Maelstrom's `net` section of results.json, and lightcone's fault counts.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct NetSection {
    pub all: Traffic,
    pub clients: Traffic,
    pub servers: Traffic,
    /// Messages dropped at delivery by a partition.
    pub dropped_count: u64,
    /// Messages lost in transit (`--loss`).
    pub lost_count: u64,
    /// Extra copies delivered (`--duplicate`).
    pub duplicated_count: u64,
    /// Messages nodes sent under another id (forwarded client requests).
    pub forwarded_count: u64,
    /// Messages sent after report.html's message log was full
    /// (`--message-log-max`), so not drawn; absent when none.
    #[serde(skip_serializing_if = "is_zero")]
    pub message_log_truncated_count: u64,
    /// Maelstrom's net checker never fails a run.
    pub valid: bool,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// One class of traffic in the `net` section.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct Traffic {
    pub send_count: u64,
    pub recv_count: u64,
    pub msg_count: u64,
    /// Distinct messages per client operation (all and servers only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub msgs_per_op: Option<f64>,
}

impl Traffic {
    fn of(t: &TrafficStats, msgs_per_op: Option<f64>) -> Traffic {
        Traffic {
            send_count: t.send_count,
            recv_count: t.recv_count,
            msg_count: t.msg_count,
            msgs_per_op,
        }
    }
}

pub(crate) struct Network {
    latency_mean_ns: u64,
    latency_dist: LatencyDist,
    loss: Ratio,
    duplicate: Ratio,
    rng: Rng,
    next_id: u64,
    grudge: Grudge,
    pub stats: NetStats,
    /// The current time, for the message log.
    pub now: u64,
    pub log: MessageLog,
}

impl Network {
    pub fn new(latency_mean_ns: u64, latency_dist: LatencyDist, rng: Rng) -> Network {
        Network {
            latency_mean_ns,
            latency_dist,
            loss: Ratio::ZERO,
            duplicate: Ratio::ZERO,
            rng,
            next_id: 0,
            grudge: Grudge::new(),
            stats: NetStats::default(),
            now: 0,
            log: MessageLog::new(0),
        }
    }

    fn class(&mut self, msg: &Envelope) -> [&mut TrafficStats; 2] {
        let involves_client = is_client_id(&msg.src) || is_client_id(&msg.dest);
        let stats = &mut self.stats;
        if involves_client {
            [&mut stats.all, &mut stats.clients]
        } else {
            [&mut stats.all, &mut stats.servers]
        }
    }

    /// Loses or duplicates messages between servers with these
    /// probabilities; clients' messages are never touched.
    pub fn set_faults(&mut self, loss: Ratio, duplicate: Ratio) {
        self.loss = loss;
        self.duplicate = duplicate;
    }

    /// Sends a message between servers: the delays of the copies that will
    /// arrive (none if it is lost, two if duplicated).
    pub fn send_between_servers(&mut self, msg: &mut Envelope) -> Vec<u64> {
        let first = self.send(msg);
        if self.rng.ratio(self.loss.numerator, self.loss.denominator) {
            self.stats.lost_count += 1;
            self.log.lost(msg.id);
            return Vec::new();
        }
        if self
            .rng
            .ratio(self.duplicate.numerator, self.duplicate.denominator)
        {
            self.stats.duplicated_count += 1;
            return vec![first, self.draw_latency()];
        }
        vec![first]
    }

    /// Gives `msg` its network id, counts the send, and returns the delay
    /// before it arrives: zero when a client is an endpoint.
    pub fn send(&mut self, msg: &mut Envelope) -> u64 {
        msg.id = Some(self.next_id);
        self.next_id += 1;
        self.log
            .sent(&msg.src, &msg.dest, &msg.body.kind, &msg.body, self.now);
        for t in self.class(msg) {
            t.send_count += 1;
            // Every send has a fresh id, so each is a distinct message.
            t.msg_count += 1;
        }
        if is_client_id(&msg.src) || is_client_id(&msg.dest) {
            0
        } else {
            self.draw_latency()
        }
    }

    /// At delivery: false (and counted as dropped) if `msg.dest` holds a
    /// grudge against `msg.src`; otherwise counts the receive.
    pub fn arrive(&mut self, msg: &Envelope) -> bool {
        if self
            .grudge
            .get(&msg.dest)
            .is_some_and(|hated| hated.contains(&msg.src))
        {
            self.stats.dropped_count += 1;
            self.log.arrived(msg.id, self.now, Fate::Dropped);
            return false;
        }
        for t in self.class(msg) {
            t.recv_count += 1;
        }
        self.log.arrived(msg.id, self.now, Fate::Delivered);
        true
    }

    fn draw_latency(&mut self) -> u64 {
        let mean = self.latency_mean_ns;
        if mean == 0 {
            return 0;
        }
        match self.latency_dist {
            LatencyDist::Constant => mean,
            LatencyDist::Uniform => {
                // Maelstrom draws an integer number of ms in 0..=2 x mean.
                let mean_ms = mean / NANOS_PER_MS;
                self.rng.below(2 * mean_ms + 1) * NANOS_PER_MS
            }
            LatencyDist::Exponential => {
                let u = self.rng.unit();
                (-(1.0 - u).ln() * mean as f64) as u64
            }
        }
    }

    pub fn set_grudge(&mut self, grudge: Grudge) {
        self.grudge = grudge;
    }

    pub fn heal(&mut self) {
        self.grudge.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lightcone_proto::Body;

    fn msg(src: &str, dest: &str) -> Envelope {
        Envelope::new(src, dest, Body::new("x"))
    }

    #[test]
    fn clients_get_zero_latency_and_separate_counts() {
        let mut net = Network::new(100 * NANOS_PER_MS, LatencyDist::Constant, Rng::new(0, 0));
        assert_eq!(net.send(&mut msg("c1", "n0")), 0);
        assert_eq!(net.send(&mut msg("n0", "n1")), 100 * NANOS_PER_MS);
        assert_eq!(net.stats.clients.send_count, 1);
        assert_eq!(net.stats.servers.send_count, 1);
        assert_eq!(net.stats.all.msg_count, 2);
    }

    #[test]
    fn uniform_and_exponential_means_are_about_right() {
        for dist in [LatencyDist::Uniform, LatencyDist::Exponential] {
            let mut net = Network::new(100 * NANOS_PER_MS, dist, Rng::new(9, 0));
            let total: u64 = (0..20_000).map(|_| net.send(&mut msg("n0", "n1"))).sum();
            let mean_ms = total as f64 / 20_000.0 / NANOS_PER_MS as f64;
            assert!((95.0..105.0).contains(&mean_ms), "{dist}: mean {mean_ms}");
        }
    }

    #[test]
    fn loss_and_duplication_follow_their_ratios() {
        let mut net = Network::new(0, LatencyDist::Constant, Rng::new(5, 0));
        net.set_faults("1/10".parse().unwrap(), "1/5".parse().unwrap());
        let copies: usize = (0..10_000)
            .map(|_| net.send_between_servers(&mut msg("n0", "n1")).len())
            .sum();
        let lost = net.stats.lost_count as f64 / 10_000.0;
        let duplicated = net.stats.duplicated_count as f64 / 9_000.0;
        assert!((0.08..0.12).contains(&lost), "lost {lost}");
        assert!(
            (0.17..0.23).contains(&duplicated),
            "duplicated {duplicated}"
        );
        assert_eq!(
            copies as u64,
            10_000 - net.stats.lost_count + net.stats.duplicated_count
        );
        assert_eq!(
            net.stats.servers.msg_count, 10_000,
            "copies are one message"
        );
    }

    #[test]
    fn grudges_drop_at_delivery_one_way() {
        let mut net = Network::new(0, LatencyDist::Constant, Rng::new(0, 0));
        let mut g = Grudge::new();
        g.insert("n1".into(), ["n0".to_string()].into());
        net.set_grudge(g);
        assert!(!net.arrive(&msg("n0", "n1")));
        assert!(net.arrive(&msg("n1", "n0")));
        assert_eq!(net.stats.dropped_count, 1);
        net.heal();
        assert!(net.arrive(&msg("n0", "n1")));
    }
}
