//! EDN values as the JSON values a lightcone op carries.
//!
//! The mapping follows what Jepsen's own JSON export does: keywords and
//! symbols become strings without the colon, vectors and lists become arrays,
//! tags are dropped. Sets become arrays sorted by their JSON text so that the
//! same set always reads the same way.

use serde_json::{Map, Number, Value};

use super::edn_syntax::{Kind, Node};
use super::FormatError;

/// Converts a form; an integer JSON cannot hold, or a non-finite float, is
/// an error at the form's position.
pub(crate) fn to_json(node: &Node<'_>) -> Result<Value, FormatError> {
    Ok(match &node.kind {
        Kind::Nil => Value::Null,
        Kind::Bool(b) => Value::Bool(*b),
        Kind::Int(text) => Value::Number(integer(node, text)?),
        Kind::Float(text) => Value::Number(float(node, text)?),
        Kind::Str(s) => Value::String(s.clone()),
        Kind::Char(c) => Value::String(c.to_string()),
        Kind::Keyword(name) | Kind::Symbol(name) => Value::String((*name).to_string()),
        Kind::List(items) | Kind::Vector(items) => Value::Array(array(items)?),
        Kind::Set(items) => sorted_set(array(items)?),
        Kind::Map(entries) => {
            let mut object = Map::new();
            for (key, value) in entries {
                object.insert(key_text(key)?, to_json(value)?);
            }
            Value::Object(object)
        }
        Kind::Tagged(_, inner) => to_json(inner)?,
        Kind::Json(_, built) => built.as_ref().clone()?,
    })
}

/// [`to_json`] of a form that is no longer needed: a value read straight
/// into JSON, and a string, are moved rather than copied.
pub(crate) fn into_json(node: Node<'_>) -> Result<Value, FormatError> {
    match node.kind {
        Kind::Json(_, built) => *built,
        Kind::Str(s) => Ok(Value::String(s)),
        _ => to_json(&node),
    }
}

/// A set's members as a JSON array, sorted by their JSON text so that the
/// same set always reads the same way.
pub(crate) fn sorted_set(members: Vec<Value>) -> Value {
    let mut keyed: Vec<(String, Value)> = members.into_iter().map(|v| (v.to_string(), v)).collect();
    keyed.sort_by(|a, b| a.0.cmp(&b.0));
    Value::Array(keyed.into_iter().map(|(_, v)| v).collect())
}

fn array(items: &[Node<'_>]) -> Result<Vec<Value>, FormatError> {
    items.iter().map(to_json).collect()
}

/// A map key as a JSON object key: strings as they are, keywords and
/// symbols without the colon, anything else as its JSON text.
pub(crate) fn key_text(key: &Node<'_>) -> Result<String, FormatError> {
    Ok(match &key.kind {
        Kind::Str(s) => s.clone(),
        Kind::Keyword(name) | Kind::Symbol(name) => (*name).to_string(),
        _ => to_json(key)?.to_string(),
    })
}

/// A non-negative integer that fits in `u64`, for fields such as `:process`
/// and `:time`; `None` for a negative or oversized integer.
pub(crate) fn as_u64(text: &str) -> Option<u64> {
    let digits = text.strip_suffix('N').unwrap_or(text);
    digits.strip_prefix('+').unwrap_or(digits).parse().ok()
}

fn integer(node: &Node<'_>, text: &str) -> Result<Number, FormatError> {
    let digits = text.strip_suffix('N').unwrap_or(text);
    let digits = digits.strip_prefix('+').unwrap_or(digits);
    if let Ok(i) = digits.parse::<i64>() {
        return Ok(Number::from(i));
    }
    if let Ok(u) = digits.parse::<u64>() {
        return Ok(Number::from(u));
    }
    Err(error(
        node,
        format!("the integer {text} does not fit in 64 bits, which is the most a history value may hold"),
    ))
}

fn float(node: &Node<'_>, text: &str) -> Result<Number, FormatError> {
    let x = match text.split_once('/') {
        Some((n, d)) => {
            let n: f64 = n.parse().expect("a ratio's numerator is digits");
            let d: f64 = d.parse().expect("a ratio's denominator is digits");
            n / d
        }
        None => text
            .strip_suffix('M')
            .unwrap_or(text)
            .parse()
            .expect("a float token was checked when it was read"),
    };
    Number::from_f64(x).ok_or_else(|| {
        error(
            node,
            format!("the number {text} is not finite, and a history value must be"),
        )
    })
}

fn error(node: &Node<'_>, message: String) -> FormatError {
    FormatError {
        line: node.pos.line,
        column: node.pos.column,
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::super::edn_syntax::parse_all;
    use super::*;
    use serde_json::json;

    fn json(text: &str) -> Value {
        let forms = parse_all(text).unwrap();
        to_json(&forms[0]).unwrap()
    }

    #[test]
    fn scalars_map_to_json() {
        assert_eq!(json("nil"), Value::Null);
        assert_eq!(json("false"), json!(false));
        assert_eq!(json("-3"), json!(-3));
        assert_eq!(json("18446744073709551615"), json!(u64::MAX));
        assert_eq!(json("12N"), json!(12));
        assert_eq!(json("1.5"), json!(1.5));
        assert_eq!(json("1/4"), json!(0.25));
        assert_eq!(json(":timed-out"), json!("timed-out"));
        assert_eq!(json("foo"), json!("foo"));
        assert_eq!(json("\\x"), json!("x"));
        assert_eq!(json("\"s\""), json!("s"));
    }

    #[test]
    fn collections_map_to_json() {
        assert_eq!(json("[1 (2 :a)]"), json!([1, [2, "a"]]));
        assert_eq!(
            json("{:k 1, \"s\" 2, 3 4, [1 2] 5}"),
            json!({"k": 1, "s": 2, "3": 4, "[1,2]": 5})
        );
        assert_eq!(json("#inst \"2020\""), json!("2020"));
    }

    #[test]
    fn sets_are_sorted_by_json_text() {
        // JSON texts: "\"b\"", "10", "2", "[1]", "null" sort bytewise.
        assert_eq!(json("#{2 10 :b nil [1]}"), json!(["b", 10, 2, [1], null]));
        assert_eq!(json("#{3 1 2}"), json("#{2 3 1}"));
    }

    #[test]
    fn out_of_range_numbers_are_errors_at_their_position() {
        let forms = parse_all("[1\n 99999999999999999999]").unwrap();
        let e = to_json(&forms[0]).unwrap_err();
        assert_eq!((e.line, e.column), (2, 2));
        assert!(e.message.contains("64 bits"));
        let forms = parse_all("1e999").unwrap();
        assert!(to_json(&forms[0]).unwrap_err().message.contains("finite"));
    }

    #[test]
    fn u64_fields() {
        assert_eq!(as_u64("7"), Some(7));
        assert_eq!(as_u64("7N"), Some(7));
        assert_eq!(as_u64("-1"), None);
        assert_eq!(as_u64("99999999999999999999"), None);
    }
}
