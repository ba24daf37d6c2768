//! The record of every message the network carried, for drawing a run's
//! space-time diagram (report.html): who sent what to whom, when it was
//! sent, and when each copy arrived, was dropped by a partition, or was
//! lost in transit. Bounded: the first `max` messages are kept and the rest
//! only counted.

use serde::Serialize;

/// Bytes of a body's JSON kept, at most.
pub const BODY_CHARS_MAX: usize = 96;

/// The first `max` bytes of a value's JSON, and whether that is all of
/// it, without serializing the rest (a gossip batch can be kilobytes). A
/// cut inside a character is dropped; a cut value ends in `...`.
pub fn json_prefix(value: &impl Serialize, max: usize) -> (String, bool) {
    struct Bounded(Vec<u8>, usize);
    impl std::io::Write for Bounded {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            // Full: `Ok(0)` makes serde_json's `write_all` stop with a
            // static error, with no allocation per cut value.
            let take = buf.len().min(self.1.saturating_sub(self.0.len()));
            self.0.extend_from_slice(&buf[..take]);
            Ok(take)
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut out = Bounded(Vec::with_capacity(max), max);
    let whole = serde_json::to_writer(&mut out, value).is_ok();
    let mut text = match String::from_utf8(out.0) {
        Ok(text) => text,
        Err(cut) => String::from_utf8_lossy(cut.as_bytes()).into_owned(),
    };
    if !whole {
        text.truncate(text.trim_end_matches('\u{fffd}').len());
        text.push_str("...");
    }
    (text, whole)
}

fn body_prefix(body: &impl Serialize) -> String {
    json_prefix(body, BODY_CHARS_MAX).0
}

/// What happened to one copy of a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Fate {
    Delivered,
    /// Dropped at delivery by a partition.
    Dropped,
}

/// One message: its endpoints (indices into [`MessageLog::parties`]), its
/// type, a prefix of its body, when it was sent, and each copy's arrival.
#[derive(Debug, Clone, Serialize)]
pub struct MessageRecord {
    pub src: u32,
    pub dest: u32,
    pub sent_ns: u64,
    /// Index into [`MessageLog::kinds`].
    pub kind: u32,
    pub body: String,
    /// Lost in transit (`--loss`): no copy arrives.
    pub lost: bool,
    /// (time, fate) of each copy that reached its destination's door, in
    /// order; a duplicated message has two.
    pub arrivals: [Option<(u64, Fate)>; 2],
}

/// The messages of a run, in the order they were sent (a message's
/// network id is its position).
#[derive(Debug, Clone, Default, Serialize)]
pub struct MessageLog {
    /// Node, client and service ids, in the order first seen.
    pub parties: Vec<String>,
    /// Message types, in the order first seen.
    pub kinds: Vec<String>,
    pub messages: Vec<MessageRecord>,
    /// Messages sent after the log was full, not recorded.
    pub truncated_count: u64,
    #[serde(skip)]
    max: usize,
    #[serde(skip)]
    index: std::collections::BTreeMap<String, u32>,
    #[serde(skip)]
    kind_index: std::collections::BTreeMap<String, u32>,
}

impl MessageLog {
    /// A log that keeps at most `max` messages.
    pub fn new(max: usize) -> MessageLog {
        MessageLog {
            max,
            ..MessageLog::default()
        }
    }

    fn party(&mut self, id: &str) -> u32 {
        if let Some(&i) = self.index.get(id) {
            return i;
        }
        let i = self.parties.len() as u32;
        self.parties.push(id.to_string());
        self.index.insert(id.to_string(), i);
        i
    }

    /// Records a send at `now` of a message of type `kind` with `body`,
    /// whose network id is the next position.
    pub fn sent(&mut self, src: &str, dest: &str, kind: &str, body: &impl Serialize, now: u64) {
        if self.messages.len() >= self.max {
            self.truncated_count += 1;
            return;
        }
        let (src, dest) = (self.party(src), self.party(dest));
        let kind = match self.kind_index.get(kind) {
            Some(&k) => k,
            None => {
                let k = self.kinds.len() as u32;
                self.kinds.push(kind.to_string());
                self.kind_index.insert(kind.to_string(), k);
                k
            }
        };
        let body = body_prefix(body);
        self.messages.push(MessageRecord {
            src,
            dest,
            sent_ns: now,
            kind,
            body,
            lost: false,
            arrivals: [None, None],
        });
    }

    fn record(&mut self, id: Option<u64>) -> Option<&mut MessageRecord> {
        let id = usize::try_from(id?).ok()?;
        self.messages.get_mut(id)
    }

    /// Message `id` was lost in transit.
    pub fn lost(&mut self, id: Option<u64>) {
        if let Some(r) = self.record(id) {
            r.lost = true;
        }
    }

    /// A copy of message `id` reached its destination at `now`.
    pub fn arrived(&mut self, id: Option<u64>, now: u64, fate: Fate) {
        if let Some(r) = self.record(id) {
            if let Some(slot) = r.arrivals.iter_mut().find(|a| a.is_none()) {
                *slot = Some((now, fate));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn records_sends_and_fates_up_to_its_bound_and_counts_the_rest() {
        let mut log = MessageLog::new(3);
        log.sent(
            "n0",
            "n1",
            "gossip",
            &json!({"type": "gossip", "m": [1, 2]}),
            10,
        );
        log.sent("c1", "n0", "read", &json!({"type": "read"}), 20);
        log.sent(
            "n1",
            "n0",
            "gossip",
            &json!({"type": "gossip", "m": "x".repeat(500)}),
            30,
        );
        log.sent("n0", "n1", "gossip", &json!({}), 40);
        assert_eq!(log.messages.len(), 3);
        assert_eq!(log.truncated_count, 1);
        assert_eq!(log.parties, ["n0", "n1", "c1"]);
        assert_eq!(log.kinds, ["gossip", "read"]);
        log.arrived(Some(0), 15, Fate::Delivered);
        log.arrived(Some(0), 17, Fate::Delivered);
        log.arrived(Some(1), 25, Fate::Dropped);
        log.lost(Some(2));
        log.arrived(Some(3), 50, Fate::Delivered); // not recorded: ignored
        let m = &log.messages;
        assert_eq!(
            m[0].arrivals,
            [Some((15, Fate::Delivered)), Some((17, Fate::Delivered))]
        );
        assert_eq!(m[1].arrivals, [Some((25, Fate::Dropped)), None]);
        assert!(m[2].lost && m[2].arrivals == [None, None]);
        assert_eq!(m[0].body, r#"{"m":[1,2],"type":"gossip"}"#);
        assert!(m[2].body.len() <= BODY_CHARS_MAX + 3 && m[2].body.ends_with("..."));
        assert_eq!(
            (m[1].src, m[1].dest, m[1].sent_ns, m[1].kind),
            (2, 0, 20, 1)
        );
    }
}
