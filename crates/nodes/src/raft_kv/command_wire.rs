//! How a [`Command`] is written into a log entry: a JSON array, not an
//! object. An entry's data travels as a JSON string inside every
//! AppendEntries, so each quote in it is escaped on the way out and
//! unescaped on the way in; field names and a textual tag were most of the
//! command's bytes and most of its escapes.
//!
//! `[origin, id, op]`, where `op` is `[0, key, value]` (write),
//! `[1, key, from, to, create]` (cas), `[2]` (backup) or `[3, txn]`.

use std::fmt;

use lightcone_sdk::Value;
use serde::de::{self, SeqAccess, Visitor};
use serde::ser::SerializeSeq;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::state::{Command, Op};

const WRITE: u8 = 0;
const CAS: u8 = 1;
const BACKUP: u8 = 2;
const TXN: u8 = 3;

impl Serialize for Command {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        (&self.origin, self.id, &self.op).serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Command {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Command, D::Error> {
        let (origin, id, op) = <(String, u64, Op)>::deserialize(deserializer)?;
        Ok(Command { origin, id, op })
    }
}

impl Serialize for Op {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Op::Write { key, value } => (WRITE, key, value).serialize(serializer),
            Op::Cas {
                key,
                from,
                to,
                create,
            } => (CAS, key, from, to, create).serialize(serializer),
            Op::Backup => {
                let mut seq = serializer.serialize_seq(Some(1))?;
                seq.serialize_element(&BACKUP)?;
                seq.end()
            }
            Op::Txn { txn } => (TXN, txn).serialize(serializer),
        }
    }
}

impl<'de> Deserialize<'de> for Op {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Op, D::Error> {
        deserializer.deserialize_seq(OpVisitor)
    }
}

struct OpVisitor;

/// The next element of `seq`, or an error naming the `n`th field missing.
fn next<'de, T: Deserialize<'de>, A: SeqAccess<'de>>(seq: &mut A, n: usize) -> Result<T, A::Error> {
    seq.next_element()?
        .ok_or_else(|| de::Error::invalid_length(n, &"a whole operation"))
}

impl<'de> Visitor<'de> for OpVisitor {
    type Value = Op;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an operation: [0, key, value], [1, key, from, to, create], [2] or [3, txn]")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Op, A::Error> {
        let tag: u8 = next(&mut seq, 0)?;
        let op = match tag {
            WRITE => Op::Write {
                key: next(&mut seq, 1)?,
                value: next(&mut seq, 2)?,
            },
            CAS => Op::Cas {
                key: next(&mut seq, 1)?,
                from: next(&mut seq, 2)?,
                to: next(&mut seq, 3)?,
                create: next(&mut seq, 4)?,
            },
            BACKUP => Op::Backup,
            TXN => Op::Txn {
                txn: next::<Vec<Value>, _>(&mut seq, 1)?,
            },
            other => {
                return Err(de::Error::invalid_value(
                    de::Unexpected::Unsigned(u64::from(other)),
                    &"an operation tag 0 to 3",
                ))
            }
        };
        if seq.next_element::<de::IgnoredAny>()?.is_some() {
            return Err(de::Error::custom(
                "an operation with more fields than its kind has",
            ));
        }
        Ok(op)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn command(op: Op) -> Command {
        Command {
            origin: "n2".into(),
            id: 17,
            op,
        }
    }

    #[test]
    fn every_kind_round_trips_as_a_compact_array() {
        let cases = [
            (
                Op::Write {
                    key: json!(3),
                    value: json!(4),
                },
                r#"["n2",17,[0,3,4]]"#,
            ),
            (
                Op::Cas {
                    key: json!("k"),
                    from: json!(1),
                    to: json!([2]),
                    create: true,
                },
                r#"["n2",17,[1,"k",1,[2],true]]"#,
            ),
            (Op::Backup, r#"["n2",17,[2]]"#),
            (
                Op::Txn {
                    txn: vec![json!(["r", 1, null])],
                },
                r#"["n2",17,[3,[["r",1,null]]]]"#,
            ),
        ];
        for (op, text) in cases {
            let written = serde_json::to_string(&command(op.clone())).unwrap();
            assert_eq!(written, text);
            let back: Command = serde_json::from_str(&written).unwrap();
            assert_eq!(serde_json::to_string(&back).unwrap(), text);
        }
    }

    #[test]
    fn malformed_operations_are_refused_with_the_reason() {
        for (text, reason) in [
            (r#"["n2",17,[9]]"#, "tag 0 to 3"),
            (r#"["n2",17,[0,3]]"#, "whole operation"),
            (r#"["n2",17,[2,1]]"#, "more fields"),
            (r#"["n2",17,[]]"#, "whole operation"),
        ] {
            let error = serde_json::from_str::<Command>(text)
                .unwrap_err()
                .to_string();
            assert!(error.contains(reason), "{text}: {error}");
        }
    }
}
