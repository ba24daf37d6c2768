//! How byte fields (entry data, snapshot data, read contexts) look in a
//! self-describing format such as JSON: bytes that are UTF-8 text as a
//! string, anything else as an array of numbers. Hosts usually store text
//! (JSON commands), so messages stay compact and readable in a message log,
//! where an array of numbers would be four times the size and opaque.
//! Both forms are accepted when reading.

use std::fmt;

use serde::de::{self, SeqAccess, Visitor};
use serde::{Deserializer, Serializer};

pub(crate) fn serialize<S: Serializer>(bytes: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
    match std::str::from_utf8(bytes) {
        Ok(text) => serializer.serialize_str(text),
        Err(_) => serializer.collect_seq(bytes),
    }
}

pub(crate) fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<u8>, D::Error> {
    deserializer.deserialize_any(BytesVisitor)
}

struct BytesVisitor;

impl<'de> Visitor<'de> for BytesVisitor {
    type Value = Vec<u8>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string or an array of bytes")
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Vec<u8>, E> {
        Ok(text.as_bytes().to_vec())
    }

    fn visit_string<E: de::Error>(self, text: String) -> Result<Vec<u8>, E> {
        Ok(text.into_bytes())
    }

    fn visit_bytes<E: de::Error>(self, bytes: &[u8]) -> Result<Vec<u8>, E> {
        Ok(bytes.to_vec())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<u8>, A::Error> {
        let mut bytes = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1 << 16));
        while let Some(byte) = seq.next_element::<u8>()? {
            bytes.push(byte);
        }
        Ok(bytes)
    }
}

/// The same for optional byte fields.
pub(crate) mod option {
    use serde::{Deserialize, Deserializer, Serializer};

    pub(crate) fn serialize<S: Serializer>(
        bytes: &Option<Vec<u8>>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match bytes {
            Some(bytes) => serializer.serialize_some(&Wrapper(bytes)),
            None => serializer.serialize_none(),
        }
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<Vec<u8>>, D::Error> {
        Ok(Option::<Owned>::deserialize(deserializer)?.map(|o| o.0))
    }

    struct Wrapper<'a>(&'a [u8]);

    impl serde::Serialize for Wrapper<'_> {
        fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            super::serialize(self.0, serializer)
        }
    }

    struct Owned(Vec<u8>);

    impl<'de> Deserialize<'de> for Owned {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Owned, D::Error> {
            super::deserialize(deserializer).map(Owned)
        }
    }
}

/// The same for shared byte fields (snapshot data): read into a `Vec`
/// once, then shared.
pub(crate) mod shared {
    use std::sync::Arc;

    use serde::{Deserializer, Serializer};

    pub(crate) fn serialize<S: Serializer>(
        bytes: &Arc<[u8]>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        super::serialize(bytes, serializer)
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Arc<[u8]>, D::Error> {
        super::deserialize(deserializer).map(Arc::from)
    }
}

#[cfg(test)]
mod tests {
    use crate::message::{Entry, Message, MessageBody};

    #[test]
    fn text_is_a_string_other_bytes_an_array_and_both_read_back() {
        let text = Entry {
            index: 1,
            term: 1,
            data: br#"{"f":"write"}"#.to_vec(),
        };
        let json = serde_json::to_string(&text).unwrap();
        assert_eq!(json, r#"{"index":1,"term":1,"data":"{\"f\":\"write\"}"}"#);
        assert_eq!(serde_json::from_str::<Entry>(&json).unwrap(), text);
        let binary = Entry {
            index: 2,
            term: 1,
            data: vec![0xff, 0, 7],
        };
        let json = serde_json::to_string(&binary).unwrap();
        assert!(json.contains("[255,0,7]"), "{json}");
        assert_eq!(serde_json::from_str::<Entry>(&json).unwrap(), binary);
        let heartbeat = Message {
            from: 1,
            to: 2,
            term: 3,
            body: MessageBody::HeartbeatResponse {
                ctx: Some(b"read-1".to_vec()),
                tick: 9,
            },
        };
        let json = serde_json::to_string(&heartbeat).unwrap();
        assert!(json.contains(r#""read-1""#), "{json}");
        assert_eq!(serde_json::from_str::<Message>(&json).unwrap(), heartbeat);
    }
}
