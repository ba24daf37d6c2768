//! What the two consensus key-value nodes (`raft_kv` on Raft, `paxos_kv`
//! on Multi-Paxos) share around their logs: the error bodies, a forwarded
//! request's envelope, the reply a forwarder passes back, and the digest
//! of applied entries their `--log-applied` lines carry.

use lightcone_sdk::{Body, Envelope, ErrorCode, NodeError, RpcError, Value};

/// A node error as a reply body.
pub(crate) fn error_body(e: &NodeError) -> Body {
    Body::new("error")
        .with("code", e.code.code())
        .with("text", e.text.clone())
}

/// A definite "try again" (temporarily-unavailable).
pub(crate) fn unavailable(text: impl Into<String>) -> NodeError {
    NodeError::new(ErrorCode::TemporarilyUnavailable, text)
}

/// The client request inside a `forward` and the id its forwarder gave it.
pub(crate) fn forwarded_request(msg: &Envelope) -> Result<(Body, Option<u64>), NodeError> {
    let inner = msg
        .body
        .get("request")
        .cloned()
        .ok_or_else(|| NodeError::malformed("a forward needs `request`"))?;
    let map = match inner {
        Value::Object(map) => map,
        other => {
            return Err(NodeError::malformed(format!(
                "a forwarded request is an object, not {other}"
            )))
        }
    };
    let body = Body::from_map(map)
        .map_err(|e| NodeError::malformed(format!("bad forwarded request: {e}")))?;
    Ok((body, msg.body.get_u64("id")))
}

/// What a forwarder answers its client with once the leader answered the
/// forward (or did not): the leader's reply as is, its error, or, when the
/// leader was silent, unavailable for a read (it did nothing) and an
/// indefinite timeout for a write (it may have happened).
pub(crate) fn forwarded_reply(result: Result<Body, RpcError>, is_read: bool) -> Body {
    match result {
        Ok(mut body) => {
            body.in_reply_to = None;
            body.msg_id = None;
            body
        }
        Err(RpcError::Error { code, text }) => error_body(&NodeError::new(code, text)),
        Err(RpcError::Timeout) if is_read => {
            error_body(&unavailable("the leader did not answer; retry"))
        }
        Err(RpcError::Timeout) => error_body(&NodeError::new(
            ErrorCode::Timeout,
            "the leader did not answer in time; the request may have happened",
        )),
    }
}

/// A short fingerprint of an applied entry's data for the applied-entry
/// log lines (FNV-1a; stable across runs and platforms).
pub(crate) fn digest(data: &[u8]) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in data {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{hash:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use lightcone_sdk::json;

    #[test]
    fn a_silent_leader_is_unavailable_for_reads_and_indefinite_for_writes() {
        let code = |b: &Body| b.get("code").and_then(Value::as_i64);
        assert_eq!(
            code(&forwarded_reply(Err(RpcError::Timeout), true)),
            Some(ErrorCode::TemporarilyUnavailable.code())
        );
        assert_eq!(
            code(&forwarded_reply(Err(RpcError::Timeout), false)),
            Some(ErrorCode::Timeout.code())
        );
        let mut ok = Body::new("read_ok").with("value", 3);
        ok.msg_id = Some(9);
        ok.in_reply_to = Some(4);
        let passed = forwarded_reply(Ok(ok), true);
        assert_eq!((passed.msg_id, passed.in_reply_to), (None, None));
        assert_eq!(passed.get("value"), Some(&json!(3)));
    }

    #[test]
    fn digests_are_fnv_1a() {
        assert_eq!(digest(b""), "cbf29ce484222325");
        assert_eq!(digest(b"a"), "af63dc4c8601ec8c");
    }
}
