//! Porcupine's kv histories (`kv/cNN-ok.txt`, from MIT 6.824's kvraft lab).
//!
//! ```text
//! {:process 9, :type :invoke, :f :append, :key "0", :value "x 9 0 y"}
//! {:process 1, :type :ok, :f :get, :key "9", :value "x 5 0 yx 3 0 y"}
//! ```
//!
//! Each op becomes `f` get/put/append with the value `[key, value]`, Jepsen's
//! independent tuple, so a checker can split the history per key. Unlike a
//! Knossos read, an `:ok :get` value is definite: every key starts as the
//! empty string, and that is a real value.

use serde_json::Value;

use super::jepsen_edn::{at, function, op, read_client_ops};
use super::pairing::LoneCompletions;
use super::FormatError;
use crate::History;

pub(crate) fn read(text: &str) -> Result<(History, LoneCompletions), FormatError> {
    read_client_ops(text, |map, common| {
        let (f, f_pos) = function(map)?;
        if !matches!(f.as_str(), "get" | "put" | "append") {
            return Err(at(
                f_pos,
                format!("expected :f to be :get, :put or :append, found :{f}"),
            ));
        }
        let key = map.require_json("key", "a key such as :key \"0\"")?;
        let value = map.take_json("value")?.unwrap_or(Value::Null);
        Ok(op(common, f, Value::Array(vec![key, value])))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{OpType, Process};
    use serde_json::json;

    #[test]
    fn maps_get_put_append_to_key_value_tuples() {
        let (h, _) = read(
            "{:process 9, :type :invoke, :f :append, :key \"0\", :value \"x 9 0 y\"}\n\
             {:process 1, :type :invoke, :f :get, :key \"9\", :value nil}\n\
             {:process 4, :type :invoke, :f :put, :key \"1\", :value \"a\"}\n\
             {:process 1, :type :ok, :f :get, :key \"9\", :value \"\"}\n\
             {:process 9, :type :ok, :f :append, :key \"0\", :value \"x 9 0 y\"}\n",
        )
        .unwrap();
        assert_eq!(h.len(), 5);
        assert_eq!(h.ops[0].f, "append");
        assert_eq!(h.ops[0].process, Process::Client(9));
        assert_eq!(h.ops[0].value, json!(["0", "x 9 0 y"]));
        assert_eq!(h.ops[1].value, json!(["9", null]));
        assert_eq!(h.ops[2].f, "put");
        // The empty string is a definite result, not a nil read.
        assert_eq!(h.ops[3].kind, OpType::Ok);
        assert_eq!(h.ops[3].value, json!(["9", ""]));
        assert_eq!(h.ops[3].error, None);
        assert_eq!(h.ops[3].time, 4);
    }

    #[test]
    fn other_functions_and_missing_keys_are_errors() {
        let e = read(
            "{:process 0, :type :invoke, :f :get, :key \"1\", :value nil}\n\
             {:process 0, :type :invoke, :f :read, :key \"1\", :value nil}\n",
        )
        .unwrap_err();
        assert_eq!((e.line, e.column), (2, 32));
        assert!(e.message.contains(":get, :put or :append"), "{}", e.message);
        let e = read("{:process 0, :type :invoke, :f :get, :value nil}").unwrap_err();
        assert_eq!((e.line, e.column), (1, 1));
        assert!(e.message.contains("no :key"), "{}", e.message);
    }

    #[test]
    fn unterminated_map_is_reported_where_it_opens() {
        let e = read(
            "{:process 0, :type :invoke, :f :get, :key \"1\", :value nil}\n\
             {:process 0, :type :ok, :f :get, :key \"1\", :value \"\"}\n\
             {:process 1, :type :invoke, :f :put, :key \"2\", :value \"x\"\n",
        )
        .unwrap_err();
        assert_eq!((e.line, e.column), (3, 1));
    }
}
