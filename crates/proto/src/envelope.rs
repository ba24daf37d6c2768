use serde::{Deserialize, Serialize};

use crate::Map;

/// A message on the wire. The workbench adds a network `id` to every
/// message it delivers; nodes may leave it out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Envelope {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<u64>,
    pub src: String,
    pub dest: String,
    pub body: Body,
}

/// A message body: the reserved keys, and everything else in `fields`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Body {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub msg_id: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in_reply_to: Option<u64>,
    #[serde(flatten)]
    pub fields: Map,
}

/// Why a line from a node is not a message.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LineError {
    #[error("it is not JSON ({0})")]
    NotJson(String),
    #[error("it is not a JSON object")]
    NotObject,
    #[error("it lacks the field `{0}`")]
    MissingField(&'static str),
    #[error("its field `{field}` is not {expected}")]
    WrongType {
        field: &'static str,
        expected: &'static str,
    },
}

impl Envelope {
    pub fn new(src: impl Into<String>, dest: impl Into<String>, body: Body) -> Envelope {
        Envelope {
            id: None,
            src: src.into(),
            dest: dest.into(),
            body,
        }
    }

    /// Parses one line of a node's stdout, saying precisely what is wrong
    /// with it when it is not a message.
    pub fn parse_line(line: &str) -> Result<Envelope, LineError> {
        let value: serde_json::Value =
            serde_json::from_str(line).map_err(|e| LineError::NotJson(e.to_string()))?;
        Envelope::from_value(value)
    }

    pub fn from_value(value: serde_json::Value) -> Result<Envelope, LineError> {
        let serde_json::Value::Object(mut object) = value else {
            return Err(LineError::NotObject);
        };
        let src = take_string(&mut object, "src")?;
        let dest = take_string(&mut object, "dest")?;
        let id = match object.remove("id") {
            None | Some(serde_json::Value::Null) => None,
            Some(v) => Some(v.as_u64().ok_or(LineError::WrongType {
                field: "id",
                expected: "a non-negative integer",
            })?),
        };
        let body = match object.remove("body") {
            None => return Err(LineError::MissingField("body")),
            Some(serde_json::Value::Object(body)) => Body::from_map(body)?,
            Some(_) => {
                return Err(LineError::WrongType {
                    field: "body",
                    expected: "an object",
                })
            }
        };
        Ok(Envelope {
            id,
            src,
            dest,
            body,
        })
    }

    /// One line of JSON, without the newline.
    pub fn to_line(&self) -> String {
        serde_json::to_string(self).expect("an envelope always serializes")
    }
}

fn take_string(object: &mut Map, field: &'static str) -> Result<String, LineError> {
    match object.remove(field) {
        None => Err(LineError::MissingField(field)),
        Some(serde_json::Value::String(s)) => Ok(s),
        Some(_) => Err(LineError::WrongType {
            field,
            expected: "a string",
        }),
    }
}

fn take_u64(object: &mut Map, field: &'static str) -> Result<Option<u64>, LineError> {
    match object.remove(field) {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(v) => v.as_u64().map(Some).ok_or(LineError::WrongType {
            field,
            expected: "a non-negative integer",
        }),
    }
}

impl Body {
    pub fn new(kind: impl Into<String>) -> Body {
        Body {
            kind: kind.into(),
            msg_id: None,
            in_reply_to: None,
            fields: Map::new(),
        }
    }

    /// Maelstrom's `init`: `{"type": "init", "node_id", "node_ids"}`, the
    /// first message every node receives (without `msg_id`; the sender
    /// numbers it).
    pub fn init<S: AsRef<str>>(node_id: &str, node_ids: &[S]) -> Body {
        let ids: Vec<&str> = node_ids.iter().map(AsRef::as_ref).collect();
        Body::new("init")
            .with("node_id", node_id)
            .with("node_ids", ids)
    }

    /// A `cas` request to one of Maelstrom's kv services (lin-kv, seq-kv,
    /// lww-kv): set `key` from `from` to `to`; with
    /// `create_if_not_exists`, a missing key counts as holding `from`.
    pub fn kv_cas(
        key: impl Into<serde_json::Value>,
        from: impl Into<serde_json::Value>,
        to: impl Into<serde_json::Value>,
        create_if_not_exists: bool,
    ) -> Body {
        Body::new("cas")
            .with("key", key)
            .with("from", from)
            .with("to", to)
            .with("create_if_not_exists", create_if_not_exists)
    }

    /// Builds a body from a JSON object, checking the reserved keys.
    pub fn from_map(mut map: Map) -> Result<Body, LineError> {
        let kind = match map.remove("type") {
            None => return Err(LineError::MissingField("body.type")),
            Some(serde_json::Value::String(s)) => s,
            Some(_) => {
                return Err(LineError::WrongType {
                    field: "body.type",
                    expected: "a string",
                })
            }
        };
        let msg_id = take_u64(&mut map, "msg_id")?;
        let in_reply_to = take_u64(&mut map, "in_reply_to")?;
        Ok(Body {
            kind,
            msg_id,
            in_reply_to,
            fields: map,
        })
    }

    /// Adds a workload field, builder style.
    pub fn with(mut self, key: &str, value: impl Into<serde_json::Value>) -> Body {
        self.fields.insert(key.to_string(), value.into());
        self
    }

    pub fn get(&self, key: &str) -> Option<&serde_json::Value> {
        self.fields.get(key)
    }

    pub fn get_str(&self, key: &str) -> Option<&str> {
        self.fields.get(key).and_then(|v| v.as_str())
    }

    pub fn get_u64(&self, key: &str) -> Option<u64> {
        self.fields.get(key).and_then(|v| v.as_u64())
    }

    pub fn get_i64(&self, key: &str) -> Option<i64> {
        self.fields.get(key).and_then(|v| v.as_i64())
    }

    pub fn is_error(&self) -> bool {
        self.kind == "error"
    }

    /// The error code of an `error` body, if it has one.
    pub fn error_code(&self) -> Option<i64> {
        if self.is_error() {
            self.get_i64("code")
        } else {
            None
        }
    }

    /// The whole body as a JSON value (reserved keys included).
    pub fn to_value(&self) -> serde_json::Value {
        serde_json::to_value(self).expect("a body always serializes")
    }
}

/// Maelstrom's rule: an id whose first character is `c` is a client.
pub fn is_client_id(id: &str) -> bool {
    id.starts_with('c')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_with_extra_fields() {
        let line = r#"{"id":7,"src":"n1","dest":"n2","body":{"type":"gossip","msg_id":3,"messages":[1,2]}}"#;
        let env = Envelope::parse_line(line).unwrap();
        assert_eq!(env.id, Some(7));
        assert_eq!(
            env.body.get("messages").unwrap(),
            &serde_json::json!([1, 2])
        );
        let again = Envelope::parse_line(&env.to_line()).unwrap();
        assert_eq!(env, again);
    }

    #[test]
    fn names_what_is_missing() {
        assert_eq!(
            Envelope::parse_line(r#"{"src":"n1","body":{"type":"x"}}"#),
            Err(LineError::MissingField("dest"))
        );
        assert_eq!(
            Envelope::parse_line(r#"{"src":"n1","dest":"c1","body":{}}"#),
            Err(LineError::MissingField("body.type"))
        );
        assert!(matches!(
            Envelope::parse_line("hello"),
            Err(LineError::NotJson(_))
        ));
        assert_eq!(Envelope::parse_line("[1]"), Err(LineError::NotObject));
        assert_eq!(
            Envelope::parse_line(r#"{"src":"n1","dest":"c1","body":{"type":"x","msg_id":-1}}"#),
            Err(LineError::WrongType {
                field: "msg_id",
                expected: "a non-negative integer"
            })
        );
    }

    #[test]
    fn client_ids_start_with_c() {
        assert!(is_client_id("c12"));
        assert!(!is_client_id("n1"));
        assert!(!is_client_id("lin-kv"));
    }
}
