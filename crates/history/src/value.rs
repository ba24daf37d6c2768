//! Reading JSON values as `serde_json::Value` does, except that an array
//! gets exactly the room it needs. serde_json grows an array from empty, so
//! a two-element `[key, value]` tuple (the value of most ops) holds room
//! for four: twice the memory, which a history of millions of ops pays
//! for in allocation, page faults and cache misses.

use std::fmt;

use serde::de::{self, DeserializeSeed, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::{Number, Value};

/// A JSON value, as `Value::deserialize` reads it.
pub(crate) fn deserialize<'de, D: de::Deserializer<'de>>(d: D) -> Result<Value, D::Error> {
    d.deserialize_any(ExactValue)
}

/// An optional JSON value (`null` is `None`), as `Option<Value>` reads it.
pub(crate) fn deserialize_option<'de, D: de::Deserializer<'de>>(
    d: D,
) -> Result<Option<Value>, D::Error> {
    d.deserialize_option(OptionalValue)
}

#[derive(Clone, Copy)]
struct ExactValue;

impl<'de> DeserializeSeed<'de> for ExactValue {
    type Value = Value;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

/// Elements read before an array's length is known; up to this many, the
/// array is allocated at its exact length.
const HEAD: usize = 4;

impl<'de> Visitor<'de> for ExactValue {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any valid JSON value")
    }

    fn visit_bool<E>(self, b: bool) -> Result<Value, E> {
        Ok(Value::Bool(b))
    }

    fn visit_i64<E>(self, n: i64) -> Result<Value, E> {
        Ok(Value::Number(n.into()))
    }

    fn visit_u64<E>(self, n: u64) -> Result<Value, E> {
        Ok(Value::Number(n.into()))
    }

    fn visit_i128<E: de::Error>(self, n: i128) -> Result<Value, E> {
        Value::deserialize(de::value::I128Deserializer::new(n))
    }

    fn visit_u128<E: de::Error>(self, n: u128) -> Result<Value, E> {
        Value::deserialize(de::value::U128Deserializer::new(n))
    }

    fn visit_f64<E>(self, n: f64) -> Result<Value, E> {
        Ok(Number::from_f64(n).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, s: &str) -> Result<Value, E> {
        Ok(Value::String(s.to_owned()))
    }

    fn visit_string<E>(self, s: String) -> Result<Value, E> {
        Ok(Value::String(s))
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: de::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut head: [Value; HEAD] = Default::default();
        for (n, slot) in head.iter_mut().enumerate() {
            match seq.next_element_seed(self)? {
                Some(v) => *slot = v,
                None => {
                    let mut vec = Vec::with_capacity(n);
                    vec.extend(head.into_iter().take(n));
                    return Ok(Value::Array(vec));
                }
            }
        }
        let Some(next) = seq.next_element_seed(self)? else {
            return Ok(Value::Array(Vec::from(head)));
        };
        let mut vec = Vec::with_capacity(2 * HEAD);
        vec.extend(head);
        vec.push(next);
        while let Some(v) = seq.next_element_seed(self)? {
            vec.push(v);
        }
        Ok(Value::Array(vec))
    }

    fn visit_map<A: de::MapAccess<'de>>(self, map: A) -> Result<Value, A::Error> {
        // Objects are rare in op values: serde_json's own reading.
        Value::deserialize(de::value::MapAccessDeserializer::new(map))
    }
}

struct OptionalValue;

impl<'de> Visitor<'de> for OptionalValue {
    type Value = Option<Value>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("option")
    }

    fn visit_unit<E>(self) -> Result<Option<Value>, E> {
        Ok(None)
    }

    fn visit_none<E>(self) -> Result<Option<Value>, E> {
        Ok(None)
    }

    fn visit_some<D: de::Deserializer<'de>>(self, d: D) -> Result<Option<Value>, D::Error> {
        deserialize(d).map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exact(text: &str) -> Result<Value, String> {
        let mut de = serde_json::Deserializer::from_str(text);
        let v = deserialize(&mut de).map_err(|e| e.to_string())?;
        de.end().map_err(|e| e.to_string())?;
        Ok(v)
    }

    #[test]
    fn reads_what_serde_json_reads() {
        for text in [
            "null",
            "true",
            "0",
            "-1",
            "18446744073709551615",
            "-9223372036854775808",
            "1.5",
            "-0.0",
            "1e300",
            "123456789012345678901234567890",
            "\"\"",
            "\"a\\\"b\\u00e9\\ud83e\\udd80\\n\"",
            "[]",
            "[1]",
            "[1, null]",
            "[1, [2, [3, []]], \"x\"]",
            "[1, 2, 3, 4]",
            "[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]",
            "{}",
            "{\"b\": [1, 2], \"a\": {\"c\": null}, \"b\": 3}",
            "[{\"k\": [1, 2, 3, 4, 5]}, [[], [[]]]]",
        ] {
            let want: Value = serde_json::from_str(text).unwrap();
            let got = exact(text).unwrap();
            assert_eq!(got, want, "{text}");
            assert_eq!(got.to_string(), want.to_string(), "{text}");
        }
    }

    #[test]
    fn arrays_get_exactly_their_length_up_to_the_head() {
        for n in 0..=HEAD {
            let text = format!("[{}]", vec!["7"; n].join(","));
            match exact(&text).unwrap() {
                Value::Array(a) => assert_eq!((a.len(), a.capacity()), (n, n)),
                other => panic!("{other}"),
            }
        }
    }

    #[test]
    fn errors_are_serde_jsons() {
        for text in [
            "[1, 2",
            "[1,, 2]",
            "{\"a\" 1}",
            "[1, 2, 3, 4, 5 6]",
            "nul",
            "[[[[",
            "01",
        ] {
            let want = serde_json::from_str::<Value>(text).unwrap_err().to_string();
            assert_eq!(exact(text).unwrap_err(), want, "{text}");
        }
        let deep = "[".repeat(200) + &"]".repeat(200);
        let want = serde_json::from_str::<Value>(&deep)
            .unwrap_err()
            .to_string();
        assert_eq!(exact(&deep).unwrap_err(), want);
    }
}
