//! Jepsen's `history.edn`: op maps, as a stream or in one top-level vector.
//!
//! ```text
//! {:process 0, :type :invoke, :f :read, :value nil, :time 1200}
//! #jepsen.history.Op{:index 1, :time 3400, :type :ok, :process 0, :f :read, :value 3}
//! ```
//!
//! Ops of a process that is not a client (`:nemesis`) are skipped, as
//! Jepsen's checkers skip them. The Porcupine kv reader shares the op-map
//! handling here and differs only in how it builds `f` and `value`.

use serde_json::Value;

use super::edn_json::{as_u64, into_json};
use super::edn_syntax::{read_op_forms, Kind, Node, Pos};
use super::pairing::{check_pairs, LoneCompletions};
use super::FormatError;
use crate::{History, Op, OpType, Process};

/// What an op map looks like, for error messages.
pub(crate) const OP_MAP_EXAMPLE: &str = "{:process 0, :type :invoke, :f :read, :value nil}";

/// The error a Knossos nil read is marked with.
pub(crate) const NIL_READ: &str = "nil-read";

/// One op map: its keyword-keyed entries and where it opens.
pub(crate) struct OpMap<'a> {
    pub pos: Pos,
    entries: Vec<(Node<'a>, Node<'a>)>,
}

impl<'a> OpMap<'a> {
    /// The value under keyword `key`, if the map has it.
    pub fn get(&self, key: &str) -> Option<&Node<'a>> {
        self.entries
            .iter()
            .find(|(k, _)| matches!(k.kind, Kind::Keyword(name) if name == key))
            .map(|(_, v)| v)
    }

    pub fn require(&self, key: &str, what: &str) -> Result<&Node<'a>, FormatError> {
        self.get(key).ok_or_else(|| self.missing(key, what))
    }

    /// The value under `key` as JSON, moved out of the map (a second take
    /// finds nil).
    pub fn take_json(&mut self, key: &str) -> Result<Option<Value>, FormatError> {
        let Some((_, node)) = self
            .entries
            .iter_mut()
            .find(|(k, _)| matches!(k.kind, Kind::Keyword(name) if name == key))
        else {
            return Ok(None);
        };
        let pos = node.pos;
        into_json(std::mem::replace(
            node,
            Node {
                pos,
                kind: Kind::Nil,
            },
        ))
        .map(Some)
    }

    /// [`OpMap::take_json`] of a key the map must have.
    pub fn require_json(&mut self, key: &str, what: &str) -> Result<Value, FormatError> {
        self.take_json(key)?.ok_or_else(|| self.missing(key, what))
    }

    fn missing(&self, key: &str, what: &str) -> FormatError {
        FormatError {
            line: self.pos.line,
            column: self.pos.column,
            message: format!("this op map has no :{key}: expected {what}"),
        }
    }
}

fn op_map(node: Node<'_>) -> Result<OpMap<'_>, FormatError> {
    match node.kind {
        Kind::Map(entries) => Ok(OpMap {
            pos: node.pos,
            entries,
        }),
        Kind::Tagged(_, inner) if matches!(inner.kind, Kind::Map(_)) => op_map(*inner),
        other => Err(at(
            node.pos,
            format!(
                "expected an op map like {OP_MAP_EXAMPLE}, found {}",
                other.describe()
            ),
        )),
    }
}

/// The fields every op map has, read the same way in every EDN format.
pub(crate) struct Common {
    pub process: u64,
    pub kind: OpType,
    pub time: u64,
    pub error: Option<Value>,
    pub node: Option<String>,
    pub is_final: bool,
}

/// Reads `:process`, `:type`, `:time`, `:error` and lightcone's own `:node`
/// and `:final`; `None` for an op of a non-client process.
pub(crate) fn common(map: &mut OpMap<'_>) -> Result<Option<Common>, FormatError> {
    let process = map.require("process", "an integer process such as :process 0")?;
    let process = match &process.kind {
        Kind::Int(text) => as_u64(text).ok_or_else(|| {
            at(
                process.pos,
                format!("expected a non-negative process number, found {text}"),
            )
        })?,
        // The nemesis and other non-client actors take no part in checking.
        _ => return Ok(None),
    };
    let kind = op_type(map.require("type", ":type :invoke, :ok, :fail or :info")?)?;
    let time = match map.get("time") {
        None => map.pos.line as u64,
        Some(node) => match &node.kind {
            Kind::Int(text) => as_u64(text),
            _ => None,
        }
        .ok_or_else(|| {
            at(
                node.pos,
                format!(
                    "expected :time to be a non-negative integer of nanoseconds, found {}",
                    node.kind.describe()
                ),
            )
        })?,
    };
    let error = map.take_json("error")?.filter(|v| !v.is_null());
    let node = map.get("node").and_then(|n| match &n.kind {
        Kind::Str(s) => Some(s.clone()),
        Kind::Keyword(s) | Kind::Symbol(s) => Some((*s).to_string()),
        _ => None,
    });
    let is_final = matches!(map.get("final").map(|n| &n.kind), Some(Kind::Bool(true)));
    Ok(Some(Common {
        process,
        kind,
        time,
        error,
        node,
        is_final,
    }))
}

fn op_type(node: &Node<'_>) -> Result<OpType, FormatError> {
    let name = match &node.kind {
        Kind::Keyword(name) | Kind::Symbol(name) => Some(*name),
        Kind::Str(s) => Some(s.as_str()),
        _ => None,
    };
    match name {
        Some("invoke") => Ok(OpType::Invoke),
        Some("ok") => Ok(OpType::Ok),
        Some("fail") => Ok(OpType::Fail),
        Some("info") => Ok(OpType::Info),
        _ => Err(at(
            node.pos,
            format!(
                "expected :type to be :invoke, :ok, :fail or :info, found {}",
                shown(node)
            ),
        )),
    }
}

/// An op's `:f` as a string: a keyword, symbol or string.
pub(crate) fn function(map: &OpMap<'_>) -> Result<(String, Pos), FormatError> {
    let node = map.require("f", "a function such as :f :read")?;
    match &node.kind {
        Kind::Keyword(name) | Kind::Symbol(name) => Ok(((*name).to_string(), node.pos)),
        Kind::Str(s) => Ok((s.clone(), node.pos)),
        _ => Err(at(
            node.pos,
            format!(
                "expected :f to be a keyword such as :read, found {}",
                shown(node)
            ),
        )),
    }
}

/// Builds the op from its common fields.
pub(crate) fn op(common: Common, f: String, value: Value) -> Op {
    let mut op = Op::new(Process::Client(common.process), common.kind, f, value).at(common.time);
    op.error = common.error.map(Box::new);
    op.node = common.node.map(String::into_boxed_str);
    op.is_final = common.is_final;
    op
}

/// Reads Jepsen EDN.
pub(crate) fn read(text: &str) -> Result<(History, LoneCompletions), FormatError> {
    read_client_ops(text, |map, common| {
        let (f, _) = function(map)?;
        let value = map.take_json("value")?.unwrap_or(Value::Null);
        let mut op = op(common, f, value);
        apply_nil_read_rule(&mut op);
        Ok(op)
    })
}

/// Reads a history of EDN op maps, the client ops only (the nemesis and
/// other non-client actors take no part in checking), each made by
/// `to_op` from its map and the fields every op has, and checks that they
/// pair up. The maps are read and made into ops one at a time.
pub(crate) fn read_client_ops(
    text: &str,
    mut to_op: impl FnMut(&mut OpMap<'_>, Common) -> Result<Op, FormatError>,
) -> Result<(History, LoneCompletions), FormatError> {
    let mut history = History::default();
    // Where each op's map opens, for errors in how the ops pair up.
    let mut places: Vec<Pos> = Vec::new();
    read_op_forms(text, |node| {
        let mut map = op_map(node)?;
        if let Some(common) = common(&mut map)? {
            history.push(to_op(&mut map, common)?);
            places.push(map.pos);
        }
        Ok(())
    })?;
    let lone = check_pairs(&history.ops, |k| (places[k].line, places[k].column))?;
    Ok((history, lone))
}

/// Knossos treats an `:ok` read of nil (or of the independent tuple
/// `[k nil]`) as always legal: the value carries no information. Such a
/// completion constrains nothing, which is what `info` says; the error
/// records why.
fn apply_nil_read_rule(op: &mut Op) {
    if op.kind != OpType::Ok || op.f != "read" {
        return;
    }
    let nil = match &op.value {
        Value::Null => true,
        Value::Array(tuple) => tuple.len() == 2 && tuple[1].is_null(),
        _ => false,
    };
    if nil {
        op.kind = OpType::Info;
        op.error = Some(Box::new(Value::String(NIL_READ.to_string())));
    }
}

/// A form as shown in an error: scalars verbatim, collections by kind.
pub(crate) fn shown(node: &Node<'_>) -> String {
    match &node.kind {
        Kind::Keyword(name) => format!(":{name}"),
        Kind::Symbol(name) | Kind::Int(name) | Kind::Float(name) => (*name).to_string(),
        Kind::Str(s) => format!("{s:?}"),
        Kind::Nil => "nil".to_string(),
        Kind::Bool(b) => b.to_string(),
        other => other.describe().to_string(),
    }
}

pub(crate) fn at(pos: Pos, message: String) -> FormatError {
    FormatError {
        line: pos.line,
        column: pos.column,
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ops(text: &str) -> Vec<Op> {
        read(text).unwrap().0.ops
    }

    #[test]
    fn reads_a_stream_of_op_maps() {
        let h = ops("{:process 0, :type :invoke, :f :write, :value 3}\n\
                     {:process 0, :type :ok, :f :write, :value 3}\n");
        assert_eq!(h.len(), 2);
        assert_eq!(h[0].process, Process::Client(0));
        assert_eq!(h[0].kind, OpType::Invoke);
        assert_eq!(h[0].f, "write");
        assert_eq!(h[0].value, json!(3));
        assert_eq!(h[1].kind, OpType::Ok);
        assert_eq!((h[0].index, h[1].index), (0, 1));
    }

    #[test]
    fn time_is_nanoseconds_when_given_else_the_line() {
        let h = ops("\n{:process 0, :type :invoke, :f :read, :time 1500}\n\
                     {:process 0, :type :ok, :f :read, :value 1}\n");
        assert_eq!(h[0].time, 1500);
        assert_eq!(h[1].time, 3);
    }

    #[test]
    fn reads_a_top_level_vector() {
        let h = ops("[{:process 0 :type :invoke :f :cas :value [1 2]}\n \
                      {:process 0 :type :fail :f :cas :value [1 2]}]");
        assert_eq!(h.len(), 2);
        assert_eq!(h[0].value, json!([1, 2]));
        assert_eq!(h[1].kind, OpType::Fail);
        assert_eq!((h[0].time, h[1].time), (1, 2));
    }

    #[test]
    fn reads_tagged_records_and_multi_line_maps() {
        let h = ops("#jepsen.history.Op{:index 0, :time 10, :type :invoke,\n\
                     :process 1, :f :read, :value nil}\n\
                     {:process 1\n :type :ok\n :f :read\n :value 5\n :time 20}");
        assert_eq!(h.len(), 2);
        assert_eq!(h[0].time, 10);
        assert_eq!(h[0].process, Process::Client(1));
        assert_eq!(h[1].value, json!(5));
        assert_eq!(h[1].time, 20);
    }

    #[test]
    fn several_maps_on_one_line() {
        let h = ops("{:process 0 :type :invoke :f :read} {:process 1 :type :invoke :f :read}");
        assert_eq!(h.len(), 2);
        assert_eq!(h[1].process, Process::Client(1));
    }

    #[test]
    fn nemesis_and_other_non_client_ops_are_skipped() {
        let h = ops("{:process :nemesis, :type :info, :f :start, :value nil}\n\
                     {:process 0, :type :invoke, :f :read}\n\
                     {:process \"setup\", :type :info, :f :x}\n");
        assert_eq!(h.len(), 1);
        assert_eq!(h[0].index, 0);
        assert_eq!(h[0].process, Process::Client(0));
    }

    #[test]
    fn keywords_sets_and_maps_in_values() {
        let h = ops(
            "{:process 0, :type :info, :f :write, :value #{3 1 2}, :error :timed-out}\n\
                     {:process 1, :type :ok, :f :txn, :value {:k [:r 1], 2 \"x\"}}",
        );
        assert_eq!(h[0].value, json!([1, 2, 3]));
        assert_eq!(h[0].error.as_deref(), Some(&json!("timed-out")));
        assert_eq!(h[1].value, json!({"k": ["r", 1], "2": "x"}));
        assert_eq!(h[1].error, None);
    }

    #[test]
    fn nil_ok_read_is_info_with_nil_read_error() {
        let h = ops("{:process 0, :type :invoke, :f :read, :value nil}\n\
                     {:process 0, :type :ok, :f :read, :value nil}\n\
                     {:process 1, :type :ok, :f :read}\n\
                     {:process 2, :type :ok, :f :read, :value [7 nil]}\n\
                     {:process 3, :type :ok, :f :read, :value [7 4]}\n\
                     {:process 4, :type :ok, :f :write, :value nil}\n\
                     {:process 5, :type :fail, :f :read, :value nil}\n");
        assert_eq!(h[0].kind, OpType::Invoke, "invocations are untouched");
        for op in &h[1..=3] {
            assert_eq!(op.kind, OpType::Info, "{op:?}");
            assert_eq!(op.error.as_deref(), Some(&json!("nil-read")));
        }
        assert_eq!(h[3].value, json!([7, null]), "the value is kept");
        assert_eq!(h[4].kind, OpType::Ok);
        assert_eq!(h[5].kind, OpType::Ok, "only reads");
        assert_eq!(h[6].kind, OpType::Fail, "only ok reads");
        assert_eq!(h[6].error, None);
    }

    #[test]
    fn ops_that_do_not_pair_up_are_errors_at_their_map() {
        let e = error(
            "{:process 0, :type :invoke, :f :read}\n  {:process 0, :type :invoke, :f :write}",
        );
        assert_eq!((e.line, e.column), (2, 3));
        assert!(e.message.contains("still running"), "{}", e.message);
        let e = error("[{:process 0, :type :invoke, :f :read}\n {:process 0, :type :ok, :f :cas}]");
        assert_eq!((e.line, e.column), (2, 2));
        assert!(
            e.message.contains("invoked `read` at line 1"),
            "{}",
            e.message
        );
        // A completion alone is counted, not refused (Elle's histories).
        let (h, lone) = read("{:process 0, :type :ok, :f :txn, :value []}\n").unwrap();
        assert_eq!((h.len(), lone.count), (1, 1));
        assert_eq!(lone.first.unwrap().line, 1);
        // The nemesis is not paired.
        let (_, lone) = read(
            "{:process :nemesis, :type :info, :f :start}\n{:process :nemesis, :type :info, :f :stop}",
        )
        .unwrap();
        assert_eq!(lone.count, 0);
    }

    #[test]
    fn huge_and_nested_values_read_as_the_tree_converts_them() {
        // Straight into JSON, as converting a tree of the same text does.
        let long: Vec<String> = (0..5000).map(|i| i.to_string()).collect();
        for value in [
            format!("[{}]", long.join(" ")),
            format!("#{{{}}}", long.join(",")),
            format!(
                "[[{}] #_ [1 2] (3 #inst \"x\" ##Inf) {{:a [1 {{\\c 2}}], [1] #{{}}}}]",
                long.join(" ")
            ),
        ] {
            let text = format!("{{:process 0, :type :invoke, :f :w, :value {value}}}");
            let want = super::super::edn_json::to_json(
                &super::super::edn_syntax::parse_all(&value).unwrap()[0],
            )
            .unwrap();
            assert_eq!(ops(&text)[0].value, want, "{value}");
        }
        // A value JSON cannot hold is an error only in a field that is read.
        let e = error("{:process 0, :type :invoke, :f :w, :value [1 [99999999999999999999]]}");
        assert_eq!((e.line, e.column), (1, 47));
        assert!(e.message.contains("64 bits"), "{}", e.message);
        let h = ops("{:process 0, :type :invoke, :f :w, :other [99999999999999999999 1e999]}");
        assert_eq!(h[0].value, Value::Null);
    }

    #[test]
    fn node_and_final_round_trip_fields() {
        let h = ops("{:process 0, :type :invoke, :f :read, :node \"n1\", :final true}");
        assert_eq!(h[0].node.as_deref(), Some("n1"));
        assert!(h[0].is_final);
    }

    fn error(text: &str) -> FormatError {
        read(text).unwrap_err()
    }

    #[test]
    fn unterminated_map_is_reported_at_its_line() {
        let e = error(
            "{:process 0, :type :invoke, :f :read}\n\
                       {:process 0, :type :ok, :f :read, :value 1}\n\
                       {:process 1, :type :invoke, :f :read\n\
                       {:process 2, :type :invoke, :f :read}\n",
        );
        assert_eq!((e.line, e.column), (3, 1));
        assert!(e.message.contains("expected `}`"), "{}", e.message);
    }

    #[test]
    fn bad_type_is_reported_at_the_value() {
        let e =
            error("[{:process 0, :type :invoke, :f :read}\n {:process 0, :type :maybe, :f :read}]");
        assert_eq!((e.line, e.column), (2, 21));
        assert!(
            e.message.contains(":invoke, :ok, :fail or :info"),
            "{}",
            e.message
        );
        assert!(e.message.contains(":maybe"), "{}", e.message);
    }

    #[test]
    fn missing_fields_and_wrong_shapes() {
        let e = error("{:process 0, :type :invoke, :f :read}\n  {:process 0, :f :read}");
        assert_eq!((e.line, e.column), (2, 3));
        assert!(e.message.contains("no :type"), "{}", e.message);
        let e = error("{:type :invoke, :f :read}");
        assert!(e.message.contains("no :process"), "{}", e.message);
        let e = error("{:process -1, :type :invoke, :f :read}");
        assert_eq!((e.line, e.column), (1, 11));
        let e = error("{:process 0, :type :invoke, :f [1]}");
        assert_eq!((e.line, e.column), (1, 32));
        let e = error("{:process 0, :type :invoke, :f :read, :time :soon}");
        assert_eq!((e.line, e.column), (1, 45));
        let e = error("{:process 0, :type :invoke, :f :read}\n[1 2]");
        assert_eq!((e.line, e.column), (2, 2));
        assert!(e.message.contains("expected an op map"), "{}", e.message);
        let e = error(":read");
        assert!(e.message.contains("found a keyword"), "{}", e.message);
    }
}
