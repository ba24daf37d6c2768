//! Histories written as EDN or JSONL read back unchanged.
//!
//! The histories are drawn from a fixed list of seeds by SplitMix64 (the
//! seeds make every run the same). They avoid the two things EDN does not carry back by design:
//! nemesis ops (skipped on reading) and ok reads of nil (Knossos nil reads).

use lightcone_history::formats::{self, Format};
use lightcone_history::{History, Op, OpType, Process};
use lightcone_rng::SplitMix64;
use serde_json::{json, Map, Value};

/// Test data drawn from SplitMix64.
struct Gen(SplitMix64);

impl Gen {
    fn below(&mut self, n: u64) -> u64 {
        self.0.below(n)
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }

    fn string(&mut self) -> String {
        let pieces = [
            "a", "x 9 0 y", "\"", "\\", "\n", "\t", "\r", "\u{1}", "é", "日本", "🦀", ":kw", "#{",
            "nil", " ", ",",
        ];
        (0..self.below(5)).map(|_| self.pick(&pieces)).collect()
    }

    fn scalar(&mut self) -> Value {
        match self.below(8) {
            0 => Value::Null,
            1 => Value::Bool(self.below(2) == 0),
            2 => json!(self.below(100)),
            3 => json!(-(self.below(1_000_000) as i64)),
            4 => json!(u64::MAX - self.below(10)),
            5 => json!((self.below(1000) as f64) / 8.0 - 60.0),
            6 => json!(1e300 * (self.below(3) as f64 + 1.0)),
            _ => Value::String(self.string()),
        }
    }

    fn value(&mut self, depth: u32) -> Value {
        if depth == 0 {
            return self.scalar();
        }
        match self.below(4) {
            0 => Value::Array((0..self.below(4)).map(|_| self.value(depth - 1)).collect()),
            1 => {
                let mut map = Map::new();
                for _ in 0..self.below(4) {
                    map.insert(self.string(), self.value(depth - 1));
                }
                Value::Object(map)
            }
            _ => self.scalar(),
        }
    }

    /// A value that is not a nil read: neither nil nor `[k nil]`.
    fn read_result(&mut self) -> Value {
        loop {
            let v = self.value(2);
            let nil = match &v {
                Value::Null => true,
                Value::Array(t) => t.len() == 2 && t[1].is_null(),
                _ => false,
            };
            if !nil {
                return v;
            }
        }
    }
}

fn history(seed: u64) -> History {
    let mut g = Gen(SplitMix64(seed));
    let mut h = History::default();
    let mut time = g.below(1000);
    let processes = 1 + g.below(6);
    for _ in 0..(5 + g.below(60)) {
        let process = Process::Client(g.below(processes) * 1000);
        let f = g.pick(&[
            "read",
            "write",
            "cas",
            "add",
            "txn",
            "start partition",
            "f/ns",
        ]);
        let value = match f {
            "read" => Value::Null,
            "cas" => json!([g.below(5), g.below(5)]),
            _ => g.value(2),
        };
        time += g.below(1_000_000);
        let mut invoke = Op::new(process, OpType::Invoke, f, value.clone()).at(time);
        if g.below(4) == 0 {
            invoke.node = Some(format!("n{}", g.below(5)).into());
        }
        invoke.is_final = g.below(10) == 0;
        h.push(invoke);
        let kind = [OpType::Ok, OpType::Fail, OpType::Info][g.below(3) as usize];
        let result = match (f, kind) {
            ("read", OpType::Ok) => g.read_result(),
            ("read", _) => g.value(2),
            _ => value,
        };
        time += g.below(1_000_000);
        let mut done = Op::new(process, kind, f, result).at(time);
        if kind != OpType::Ok {
            let error = g.value(1);
            done.error = Some(Box::new(if error.is_null() {
                json!("timed-out")
            } else {
                error
            }));
        }
        h.push(done);
    }
    h
}

const SEEDS: [u64; 8] = [0, 1, 2, 3, 42, 1 << 40, 0xdead_beef, u64::MAX];

#[test]
fn edn_round_trip() {
    for seed in SEEDS {
        let h = history(seed);
        let edn = formats::to_edn(&h);
        assert_eq!(edn.lines().count(), h.len(), "seed {seed}: one op per line");
        let back =
            formats::read(&edn, Format::Edn).unwrap_or_else(|e| panic!("seed {seed}: {e}\n{edn}"));
        assert_eq!(back, h, "seed {seed}\n{edn}");
        let (auto, format) = formats::read_auto(&edn).unwrap();
        assert_eq!(format, Format::Edn, "seed {seed}");
        assert_eq!(auto, h, "seed {seed}");
    }
}

#[test]
fn jsonl_round_trip() {
    for seed in SEEDS {
        let h = history(seed);
        let back = formats::read(&h.to_jsonl(), Format::Jsonl).unwrap();
        assert_eq!(back, h, "seed {seed}");
        let (auto, format) = formats::read_auto(&h.to_jsonl()).unwrap();
        assert_eq!(format, Format::Jsonl, "seed {seed}");
        assert_eq!(auto, h, "seed {seed}");
    }
}

#[test]
fn edn_as_a_top_level_vector_reads_the_same() {
    for seed in SEEDS {
        let h = history(seed);
        let edn = formats::to_edn(&h);
        let vector = format!("[{}]", edn.trim_end());
        let back = formats::read(&vector, Format::Edn).unwrap();
        assert_eq!(back, h, "seed {seed}");
    }
}

#[test]
fn nil_reads_do_not_survive_edn() {
    let mut h = History::default();
    h.push(Op::new(Process::Client(0), OpType::Invoke, "read", Value::Null).at(1));
    h.push(Op::new(Process::Client(0), OpType::Ok, "read", Value::Null).at(2));
    let back = formats::read(&formats::to_edn(&h), Format::Edn).unwrap();
    assert_eq!(back.ops[1].kind, OpType::Info);
    assert_eq!(back.ops[1].error.as_deref(), Some(&json!("nil-read")));
    // JSONL keeps it: null is a definite result there.
    assert_eq!(formats::read(&h.to_jsonl(), Format::Jsonl).unwrap(), h);
}
