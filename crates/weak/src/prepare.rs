//! From a history to the events the models see: each client invocation
//! paired with its process's next completion (`History::pair_positions`),
//! failed ops and indeterminate reads dropped, indeterminate writes kept
//! only when a read observes their value, every read resolved to the one
//! write of its value (the history must be differentiated).

use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};

use lightcone_history::{History, OpType, Process};
use serde_json::Value;

use crate::{BadPattern, WeakOptions};

/// Where a read's value comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Source {
    Init,
    Write(u32),
}

/// One operation that took effect: a read, a write, or a cas (a read and
/// then, atomically, a write of the same key).
#[derive(Debug, Clone)]
pub(crate) struct Event {
    /// Dense process number (a lane of the vector clocks).
    pub lane: u32,
    /// Position among its process's events.
    pub pos: u32,
    pub key: u32,
    pub read: Option<Source>,
    /// The value written, as JSON text.
    pub written: Option<String>,
    /// The value read, as JSON text.
    pub read_text: Option<String>,
    /// History index of the invocation.
    pub index: u64,
}

impl Event {
    pub fn writes(&self) -> bool {
        self.written.is_some()
    }
}

/// One process's writes of one key: its lane, and the writes in program
/// order as (position, event id).
pub(crate) type KeyWriter = (u32, Vec<(u32, u32)>);

/// A differentiated history, ready for the models.
#[derive(Debug)]
pub(crate) struct Prepared {
    pub events: Vec<Event>,
    /// Event ids of each process, in program order.
    pub lanes: Vec<Vec<u32>>,
    /// The client number of each lane.
    pub process_ids: Vec<u64>,
    /// Each key's JSON text (empty for the single register).
    pub keys: Vec<String>,
    /// For each key, the processes writing it, each with its writes of
    /// the key in program order as (position, event id): the positions
    /// side by side for binary searches that stay in cache.
    pub key_writers: Vec<Vec<KeyWriter>>,
    /// Why the history is not differentiated, if it is not: then the
    /// reads of ambiguous values have no `read`, and what is found
    /// without them is sound but finding nothing is unknown.
    pub uncertain: Option<String>,
}

/// Why the models cannot be decided past the reading: an invalid history
/// (a thin-air read, whatever the model) or an unknown one (with why).
#[derive(Debug, Clone)]
pub(crate) enum Early {
    Invalid(BadPattern),
    Unknown(String),
}

/// One op as read from the history, before the reads are resolved.
struct Raw {
    process: u64,
    kind: Kind,
    key: String,
    /// Read's value, or cas's `from`.
    read: Option<String>,
    /// Write's value, or cas's `to`.
    written: Option<String>,
    determinate: bool,
    index: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Read,
    Write,
    Cas,
}

impl Kind {
    fn parse(f: &str) -> Option<Kind> {
        match f {
            "read" | "get" => Some(Kind::Read),
            "write" | "put" => Some(Kind::Write),
            "cas" => Some(Kind::Cas),
            _ => None,
        }
    }
}

fn text(v: &Value) -> String {
    serde_json::to_string(v).expect("a JSON value always serializes")
}

/// The key and the value of an op's value: `[key, v]` when keyed.
fn split<'a>(
    v: &'a Value,
    keyed: bool,
    what: &str,
    index: u64,
) -> Result<(String, &'a Value), String> {
    if !keyed {
        return Ok((String::new(), v));
    }
    match v.as_array().map(Vec::as_slice) {
        Some([k, v]) => Ok((text(k), v)),
        _ => Err(format!(
            "op {index}: the {what}'s value {v} is not a [key, value] tuple (the options say the history is keyed)"
        )),
    }
}

/// Reads the client ops of a history; an op the models cannot interpret
/// is the reason for an unknown verdict.
fn read_raw(history: &History, options: &WeakOptions) -> Result<Vec<Raw>, String> {
    let mut raws = Vec::new();
    for (inv, comp) in history.pair_positions() {
        let invoke = &history.ops[inv];
        let Process::Client(process) = invoke.process else {
            continue;
        };
        let index = invoke.index;
        let Some(kind) = Kind::parse(&invoke.f) else {
            return Err(format!(
                "op {index} (process {process}) is `{}`: the weak models read only read/get, write/put and cas",
                invoke.f
            ));
        };
        let completion = comp.map(|c| &history.ops[c]);
        let determinate = match completion.map(|c| c.kind) {
            Some(OpType::Fail) => continue,
            Some(OpType::Ok) => true,
            _ => false,
        };
        let (key, input) = split(&invoke.value, options.keyed, "invocation", index)?;
        let mut raw = Raw {
            process,
            kind,
            key,
            read: None,
            written: None,
            determinate,
            index,
        };
        match kind {
            Kind::Read => {
                // An indeterminate read tells nothing.
                let Some(c) = completion.filter(|_| determinate) else {
                    continue;
                };
                let (key, v) = split(&c.value, options.keyed, "read's completion", index)?;
                if key != raw.key && !invoke.value.is_null() && options.keyed {
                    return Err(format!(
                        "op {index}: the read's completion names key {key} but its invocation {}",
                        raw.key
                    ));
                }
                raw.key = key;
                raw.read = Some(text(v));
            }
            Kind::Write => raw.written = Some(text(input)),
            Kind::Cas => match input.as_array().map(Vec::as_slice) {
                Some([from, to]) => {
                    raw.read = Some(text(from));
                    raw.written = Some(text(to));
                }
                _ => {
                    return Err(format!(
                        "op {index}: the cas value {input} is not [from, to]"
                    ))
                }
            },
        }
        raws.push(raw);
    }
    Ok(raws)
}

/// Reads, checks and resolves a history.
pub(crate) fn prepare(history: &History, options: &WeakOptions) -> Result<Prepared, Early> {
    let raws = read_raw(history, options).map_err(Early::Unknown)?;
    let initial = text(&options.initial);
    let mut keys: Vec<String> = Vec::new();
    let mut key_ids: HashMap<String, u32> = HashMap::default();
    let mut key_of = |k: &str| -> u32 {
        if let Some(&id) = key_ids.get(k) {
            return id;
        }
        let id = keys.len() as u32;
        keys.push(k.to_string());
        key_ids.insert(k.to_string(), id);
        id
    };
    let raw_keys: Vec<u32> = raws.iter().map(|r| key_of(&r.key)).collect();
    // Every op that writes each value (but did not fail), by key. A value
    // written twice, or the initial value written at all, is ambiguous: a
    // read of it could read either.
    let mut writers: HashMap<(u32, &str), Vec<usize>> = HashMap::default();
    for (i, (r, &k)) in raws.iter().zip(&raw_keys).enumerate() {
        if let Some(v) = r.written.as_deref() {
            writers.entry((k, v)).or_default().push(i);
        }
    }
    let unique =
        |k: u32, v: &str| v != initial && writers.get(&(k, v)).is_some_and(|w| w.len() == 1);
    // The values read by ops that happened, by key: they decide which
    // indeterminate writes happened. A determinate read happened; an
    // indeterminate cas whose (unambiguous) value is read happened, and so
    // did its read (a worklist, each value once).
    let mut work: Vec<(u32, &str)> = Vec::new();
    for (r, &k) in raws.iter().zip(&raw_keys) {
        if let (true, Some(v)) = (r.determinate, r.read.as_deref()) {
            work.push((k, v));
        }
    }
    let mut observed: HashSet<(u32, &str)> = HashSet::default();
    while let Some(kv) = work.pop() {
        if !observed.insert(kv) || !unique(kv.0, kv.1) {
            continue;
        }
        let w = &raws[writers[&kv][0]];
        if let (false, Some(from)) = (w.determinate, w.read.as_deref()) {
            work.push((kv.0, from));
        }
    }
    // Every write that happened: each ok write, and each indeterminate
    // one whose value, written by it alone, is read.
    let happened = |r: &Raw, k: u32| -> bool {
        r.determinate
            || r.written
                .as_deref()
                .is_some_and(|v| unique(k, v) && observed.contains(&(k, v)))
    };
    // A read of a value nothing writes is invalid under every model here,
    // differentiated or not.
    for (i, (r, &k)) in raws.iter().zip(&raw_keys).enumerate() {
        let Some(v) = r.read.as_deref() else { continue };
        let took_effect = r.determinate || (r.kind == Kind::Cas && happened(r, k));
        // A cas from v to v reads no value of its own writing.
        let written_by_another = writers
            .get(&(k, v))
            .is_some_and(|w| w.iter().any(|&j| j != i));
        if !took_effect || v == initial || written_by_another {
            continue;
        }
        let what = if r.kind == Kind::Cas {
            "cas from"
        } else {
            "read"
        };
        return Err(Early::Invalid(BadPattern {
            name: "ThinAirRead",
            ops: vec![r.index],
            description: format!(
                "op {} (process {}: {what} {v}{}) reads a value no operation writes",
                r.index,
                r.process,
                describe_key(&keys[k as usize])
            ),
        }));
    }
    // The first ambiguity, in history order.
    let mut uncertain: Option<String> = None;
    for (i, (r, &k)) in raws.iter().zip(&raw_keys).enumerate() {
        let Some(v) = r.written.as_deref() else {
            continue;
        };
        let place = describe_key(&keys[k as usize]);
        if v == initial {
            uncertain = Some(format!(
                "op {} writes the initial value {v}{place}: the history is not differentiated (a read of {v} could read it or the initial state), so only violations that hold whatever the reads read are reported",
                r.index
            ));
            break;
        }
        let same = &writers[&(k, v)];
        if same.len() > 1 && same[1] == i {
            uncertain = Some(format!(
                "value {v} is written twice{place} (ops {} and {}): the history is not differentiated (a read of {v} could read either), so only violations that hold whatever the reads read are reported",
                raws[same[0]].index, r.index
            ));
            break;
        }
    }
    // What each op read: the initial value, the one write of its value,
    // or (ambiguous) nothing known.
    let sources: Vec<Option<RawSource>> = raws
        .iter()
        .zip(&raw_keys)
        .map(|(r, &k)| {
            let v = r.read.as_deref()?;
            if v == initial {
                let written = writers.contains_key(&(k, v));
                return (!written).then_some(RawSource::Init);
            }
            unique(k, v).then(|| RawSource::Raw(writers[&(k, v)][0]))
        })
        .collect();
    let mut prepared = build(&raws, raw_keys, keys, &sources, happened);
    prepared.uncertain = uncertain;
    Ok(prepared)
}

/// What a raw op read.
#[derive(Clone, Copy)]
enum RawSource {
    Init,
    Raw(usize),
}

/// " of key K", or nothing for the single register.
pub(crate) fn describe_key(key: &str) -> String {
    if key.is_empty() {
        String::new()
    } else {
        format!(" of key {key}")
    }
}

fn build(
    raws: &[Raw],
    raw_keys: Vec<u32>,
    keys: Vec<String>,
    sources: &[Option<RawSource>],
    happened: impl Fn(&Raw, u32) -> bool,
) -> Prepared {
    // Events in history order; a raw op's event id, to resolve reads.
    let mut event_of: Vec<u32> = vec![u32::MAX; raws.len()];
    let mut lane_of: HashMap<u64, u32> = HashMap::default();
    let mut process_ids = Vec::new();
    let mut lanes: Vec<Vec<u32>> = Vec::new();
    let mut events = Vec::new();
    for (i, (r, &k)) in raws.iter().zip(&raw_keys).enumerate() {
        // Indeterminate ops count only for the writes that happened.
        let took_effect = r.determinate || (r.written.is_some() && happened(r, k));
        if !took_effect {
            continue;
        }
        let lane = *lane_of.entry(r.process).or_insert_with(|| {
            process_ids.push(r.process);
            lanes.push(Vec::new());
            (lanes.len() - 1) as u32
        });
        let id = events.len() as u32;
        event_of[i] = id;
        let lane_events = &mut lanes[lane as usize];
        events.push(Event {
            lane,
            pos: lane_events.len() as u32,
            key: k,
            read: None,
            written: r.written.clone(),
            read_text: r.read.clone(),
            index: r.index,
        });
        lane_events.push(id);
    }
    for (i, source) in sources.iter().enumerate() {
        let id = event_of[i];
        if id == u32::MAX {
            continue;
        }
        events[id as usize].read = match source {
            None => None,
            Some(RawSource::Init) => Some(Source::Init),
            Some(RawSource::Raw(w)) => {
                assert!(
                    event_of[*w] != u32::MAX,
                    "the one write of a value an op that happened reads happened"
                );
                Some(Source::Write(event_of[*w]))
            }
        };
    }
    let mut key_writers: Vec<Vec<KeyWriter>> = vec![Vec::new(); keys.len()];
    for (lane, ids) in lanes.iter().enumerate() {
        let mut by_key: HashMap<u32, Vec<(u32, u32)>> = HashMap::default();
        for &id in ids {
            let e = &events[id as usize];
            if e.writes() {
                by_key.entry(e.key).or_default().push((e.pos, id));
            }
        }
        for (k, ws) in by_key {
            key_writers[k as usize].push((lane as u32, ws));
        }
    }
    // Deterministic order, whatever the map's.
    for writers in &mut key_writers {
        writers.sort_by_key(|(lane, _)| *lane);
    }
    Prepared {
        events,
        lanes,
        process_ids,
        keys,
        key_writers,
        uncertain: None,
    }
}
