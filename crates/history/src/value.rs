//! Reading JSON values as `serde_json::Value` does, except that an array
//! gets exactly the room it needs. serde_json grows an array from empty, so
//! a two-element `[key, value]` tuple (the value of most ops) holds room
//! for four: twice the memory, which a history of millions of ops pays
//! for in allocation, page faults and cache misses. A long value's text is
//! first scanned for the length of each of its arrays ([`from_str_sized`]),
//! so that a huge array is allocated once at its length instead of
//! doubling its way there (which holds one and a half times its final
//! size while it copies).

use std::cell::Cell;
use std::fmt;

use serde::de::{self, DeserializeSeed, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::{Number, Value};

/// A JSON value, as `Value::deserialize` reads it.
pub(crate) fn deserialize<'de, D: de::Deserializer<'de>>(d: D) -> Result<Value, D::Error> {
    d.deserialize_any(ExactValue::default())
}

/// Texts shorter than this are read without scanning their arrays first.
const SIZED_MIN_BYTES: usize = 64 << 10;

/// Reads the JSON value that is all of `text`, as `serde_json::from_str`
/// does, each long array allocated once at its length.
pub(crate) fn from_str_sized(text: &str) -> serde_json::Result<Value> {
    let sizes = (text.len() >= SIZED_MIN_BYTES).then(|| Sizes {
        lens: array_lens(text),
        next: Cell::new(0),
        most: text.len() / 2 + 1,
    });
    let mut de = serde_json::Deserializer::from_str(text);
    let value = de::Deserializer::deserialize_any(
        &mut de,
        ExactValue {
            sizes: sizes.as_ref(),
        },
    )?;
    de.end()?;
    Ok(value)
}

/// The lengths of a text's arrays, in the order their `[`s come, which is
/// the order the reading meets them.
struct Sizes {
    lens: Vec<u32>,
    next: Cell<usize>,
    /// No array of the text can be longer (a guard, should the scan and
    /// the reading ever disagree).
    most: usize,
}

impl Sizes {
    /// The length of the next array.
    fn take(&self) -> usize {
        let k = self.next.get();
        self.next.set(k + 1);
        self.lens.get(k).map_or(0, |&n| (n as usize).min(self.most))
    }
}

/// The number of elements of each array of a JSON text, in the order of
/// their `[`s. A malformed text gives lengths that may be wrong, never
/// longer than the text; reading it fails anyway.
fn array_lens(text: &str) -> Vec<u32> {
    /// An open array (its place in `lens`, and whether an element has
    /// begun) or object.
    enum Open {
        Array(usize, bool),
        Object,
    }
    let mut lens: Vec<u32> = Vec::new();
    let mut open: Vec<Open> = Vec::new();
    let mut bytes = text.bytes();
    while let Some(b) = bytes.next() {
        if b.is_ascii_whitespace() {
            continue;
        }
        if b != b']' {
            // Anything but the end starts (or continues) an element.
            if let Some(Open::Array(k, begun @ false)) = open.last_mut() {
                *begun = true;
                lens[*k] = 1;
            }
        }
        match b {
            b'"' => {
                while let Some(b) = bytes.next() {
                    match b {
                        b'"' => break,
                        b'\\' => {
                            bytes.next();
                        }
                        _ => {}
                    }
                }
            }
            b'[' => {
                open.push(Open::Array(lens.len(), false));
                lens.push(0);
            }
            b'{' => open.push(Open::Object),
            b']' | b'}' => {
                open.pop();
            }
            b',' => {
                if let Some(Open::Array(k, _)) = open.last() {
                    lens[*k] = lens[*k].saturating_add(1);
                }
            }
            _ => {}
        }
    }
    lens
}

/// An optional JSON value (`null` is `None`), as `Option<Value>` reads it.
pub(crate) fn deserialize_option<'de, D: de::Deserializer<'de>>(
    d: D,
) -> Result<Option<Value>, D::Error> {
    d.deserialize_option(OptionalValue)
}

/// [`deserialize_option`], boxed (as [`crate::Op`] holds its error).
pub(crate) fn deserialize_boxed_option<'de, D: de::Deserializer<'de>>(
    d: D,
) -> Result<Option<Box<Value>>, D::Error> {
    deserialize_option(d).map(|v| v.map(Box::new))
}

#[derive(Clone, Copy, Default)]
struct ExactValue<'s> {
    /// The lengths of the arrays ahead, when the text was scanned.
    sizes: Option<&'s Sizes>,
}

impl<'de> DeserializeSeed<'de> for ExactValue<'_> {
    type Value = Value;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

/// Elements read before an array's length is known; up to this many, the
/// array is allocated at its exact length.
const HEAD: usize = 4;

impl<'de> Visitor<'de> for ExactValue<'_> {
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
        if let Some(sizes) = self.sizes {
            let mut vec = Vec::with_capacity(sizes.take());
            while let Some(v) = seq.next_element_seed(self)? {
                vec.push(v);
            }
            return Ok(Value::Array(vec));
        }
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

    fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        // Values are read by this visitor too, so that the arrays in them
        // are met in the order of the text's `[`s. A repeated key keeps
        // its last value, as serde_json's own reading does.
        let mut object = serde_json::Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let value = map.next_value_seed(self)?;
            object.insert(key, value);
        }
        Ok(Value::Object(object))
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
    fn sized_reading_reads_what_serde_json_reads_with_arrays_at_their_length() {
        let long: Vec<String> = (0..SIZED_MIN_BYTES / 4).map(|i| i.to_string()).collect();
        let long = long.join(",");
        for text in [
            format!("[{long}]"),
            format!("[[{long}], [], [[1, [2]], {{\"a\": [3, 4, \"]\\\"[\"]}}], \"x,y\", {{}}]"),
            format!("{{\"k\": [{long}], \"k\": [1, 2], \"s\": \"[[\"}}"),
            format!("  [ {long} , [ ] , [ 1 ] ]  "),
        ] {
            let want: Value = serde_json::from_str(&text).unwrap();
            let got = from_str_sized(&text).unwrap();
            assert_eq!(got, want);
            fn exact(v: &Value) {
                match v {
                    Value::Array(a) => {
                        assert_eq!(a.len(), a.capacity());
                        a.iter().for_each(exact);
                    }
                    Value::Object(o) => o.values().for_each(exact),
                    _ => {}
                }
            }
            exact(&got);
        }
        for bad in [
            format!("[{long}"),
            format!("[{long}]]"),
            format!("[{long},]"),
        ] {
            let want = serde_json::from_str::<Value>(&bad).unwrap_err().to_string();
            assert_eq!(from_str_sized(&bad).unwrap_err().to_string(), want);
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
