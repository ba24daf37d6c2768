use std::fmt;

use serde::{Serialize, Serializer};
use serde_json::Value;

/// A checker's verdict. Serializes as JSON `true` / `false` / `"unknown"`,
/// the three values of Jepsen's `:valid?`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Validity {
    Valid,
    Invalid,
    Unknown,
}

impl Validity {
    /// Combines two verdicts the way Jepsen's `compose` does: a definite
    /// violation outweighs not knowing, and not knowing outweighs success.
    pub fn merge(self, other: Validity) -> Validity {
        if self.rank() >= other.rank() {
            self
        } else {
            other
        }
    }

    /// `true`, `false` or `"unknown"`, as Jepsen and Maelstrom print it.
    pub fn to_json(self) -> Value {
        match self {
            Validity::Valid => Value::Bool(true),
            Validity::Invalid => Value::Bool(false),
            Validity::Unknown => Value::String("unknown".to_string()),
        }
    }

    /// The inverse of [`Validity::to_json`]; `None` for any other value.
    pub fn from_json(value: &Value) -> Option<Validity> {
        match value {
            Value::Bool(true) => Some(Validity::Valid),
            Value::Bool(false) => Some(Validity::Invalid),
            Value::String(s) if s == "unknown" => Some(Validity::Unknown),
            _ => None,
        }
    }

    /// The process exit code for this verdict: 0 valid, 1 invalid, 2 unknown.
    pub fn exit_code(self) -> i32 {
        match self {
            Validity::Valid => 0,
            Validity::Invalid => 1,
            Validity::Unknown => 2,
        }
    }

    /// Jepsen's `valid-priorities`: true 0, :unknown 0.5, false 1.
    fn rank(self) -> u8 {
        match self {
            Validity::Valid => 0,
            Validity::Unknown => 1,
            Validity::Invalid => 2,
        }
    }
}

impl Serialize for Validity {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.to_json().serialize(s)
    }
}

impl fmt::Display for Validity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Validity::Valid => "valid",
            Validity::Invalid => "invalid",
            Validity::Unknown => "unknown",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::Validity::{self, *};
    use serde_json::json;

    const ALL: [Validity; 3] = [Valid, Invalid, Unknown];

    #[test]
    fn from_json_inverts_to_json() {
        for v in ALL {
            assert_eq!(Validity::from_json(&v.to_json()), Some(v));
        }
        assert_eq!(Validity::from_json(&serde_json::Value::Null), None);
        assert_eq!(Validity::from_json(&serde_json::json!("yes")), None);
    }

    #[test]
    fn merge_prefers_invalid_then_unknown() {
        assert_eq!(Valid.merge(Valid), Valid);
        assert_eq!(Valid.merge(Unknown), Unknown);
        assert_eq!(Unknown.merge(Valid), Unknown);
        assert_eq!(Unknown.merge(Invalid), Invalid);
        assert_eq!(Invalid.merge(Unknown), Invalid);
        assert_eq!(Valid.merge(Invalid), Invalid);
    }

    #[test]
    fn merge_is_commutative_associative_idempotent() {
        for a in ALL {
            assert_eq!(a.merge(a), a);
            for b in ALL {
                assert_eq!(a.merge(b), b.merge(a));
                for c in ALL {
                    assert_eq!(a.merge(b).merge(c), a.merge(b.merge(c)));
                }
            }
        }
    }

    #[test]
    fn json_exit_code_and_display() {
        assert_eq!(Valid.to_json(), json!(true));
        assert_eq!(Invalid.to_json(), json!(false));
        assert_eq!(Unknown.to_json(), json!("unknown"));
        assert_eq!(serde_json::to_string(&Unknown).unwrap(), "\"unknown\"");
        assert_eq!(serde_json::to_value(Invalid).unwrap(), json!(false));
        assert_eq!(
            ALL.map(Validity::exit_code),
            [0, 1, 2],
            "valid, invalid, unknown"
        );
        assert_eq!(ALL.map(|v| v.to_string()), ["valid", "invalid", "unknown"]);
    }
}
