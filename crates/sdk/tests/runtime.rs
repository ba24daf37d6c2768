//! The SDK's runtime through its mock harness: RPC callbacks and timeouts,
//! timers, error replies, init.

use lightcone_sdk::{
    Body, Context, Envelope, ErrorCode, Harness, Node, NodeError, RpcError, NANOS_PER_MS,
};

/// Forwards `ask` to n1 as an RPC and reports what happened to the client.
#[derive(Default)]
struct Asker {
    outcomes: Vec<String>,
    ticks: Vec<u64>,
}

impl Node for Asker {
    fn handle(&mut self, ctx: &mut Context<Self>, msg: Envelope) -> Result<(), NodeError> {
        match msg.body.kind.as_str() {
            "ask" => {
                let client = msg.clone();
                ctx.rpc(
                    "n1",
                    Body::new("question"),
                    100 * NANOS_PER_MS,
                    move |node: &mut Asker, ctx, result| {
                        let outcome = match result {
                            Ok(body) => format!("answer {}", body.get_i64("value").unwrap()),
                            Err(RpcError::Timeout) => "timeout".to_string(),
                            Err(RpcError::Error { code, .. }) => format!("error {}", code.code()),
                        };
                        node.outcomes.push(outcome.clone());
                        ctx.reply(&client, Body::new("ask_ok").with("outcome", outcome));
                    },
                );
                Ok(())
            }
            "tick_me" => {
                ctx.set_timer(50 * NANOS_PER_MS, 7);
                let cancelled = ctx.set_timer(60 * NANOS_PER_MS, 8);
                assert!(ctx.cancel_timer(cancelled));
                Ok(())
            }
            "fail" => Err(NodeError::new(
                ErrorCode::TemporarilyUnavailable,
                "try later",
            )),
            other => Err(NodeError::not_supported(other)),
        }
    }

    fn timer(&mut self, ctx: &mut Context<Self>, token: u64) {
        self.ticks.push(token);
        assert_eq!(ctx.now(), 50 * NANOS_PER_MS);
    }
}

fn question(h: &mut Harness<Asker>) -> Envelope {
    let sent = h.take_sent();
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0].dest, "n1");
    assert_eq!(sent[0].body.kind, "question");
    sent[0].clone()
}

fn answer(q: &Envelope, body: Body) -> Envelope {
    let mut body = body;
    body.in_reply_to = q.body.msg_id;
    Envelope::new("n1", "n0", body)
}

#[test]
fn init_ok_names_the_sdk() {
    // Harness::new asserts init_ok; check the field it carries.
    let mut h = Harness::new(Asker::default(), "n0", &["n0", "n1"]);
    let r = h.request("c0", Body::init("n0", &["n0"]));
    assert_eq!(r[0].body.get_str("sdk"), Some(lightcone_sdk::SDK_NAME));
}

#[test]
fn rpc_reply_reaches_the_callback() {
    let mut h = Harness::new(Asker::default(), "n0", &["n0", "n1"]);
    assert!(h.request("c1", Body::new("ask")).is_empty());
    let q = question(&mut h);
    let out = h.deliver(answer(&q, Body::new("question_ok").with("value", 42)));
    assert_eq!(out[0].body.get_str("outcome"), Some("answer 42"));
    // A second reply to the same request is not a reply to anything: the
    // node sees it as an ordinary message and rejects its type.
    let out = h.deliver(answer(&q, Body::new("question_ok").with("value", 43)));
    assert!(
        out.is_empty(),
        "no msg_id, so no error reply either: {out:?}"
    );
    assert_eq!(h.node().outcomes, vec!["answer 42"]);
}

#[test]
fn rpc_error_reply_and_timeout() {
    let mut h = Harness::new(Asker::default(), "n0", &["n0", "n1"]);
    h.request("c1", Body::new("ask"));
    let q = question(&mut h);
    h.deliver(answer(
        &q,
        Body::new("error").with("code", 22).with("text", "no"),
    ));
    h.request("c1", Body::new("ask"));
    question(&mut h);
    assert!(h.advance(99 * NANOS_PER_MS).is_empty(), "not yet timed out");
    let out = h.advance(NANOS_PER_MS);
    assert_eq!(out[0].body.get_str("outcome"), Some("timeout"));
    assert_eq!(h.node().outcomes, vec!["error 22", "timeout"]);
}

#[test]
fn timers_fire_once_and_cancelled_ones_never() {
    let mut h = Harness::new(Asker::default(), "n0", &["n0"]);
    h.request("c1", Body::new("tick_me"));
    h.advance(50 * NANOS_PER_MS);
    h.advance(100 * NANOS_PER_MS);
    assert_eq!(h.node().ticks, vec![7]);
}

#[test]
fn handler_errors_become_error_replies() {
    let mut h = Harness::new(Asker::default(), "n0", &["n0"]);
    let r = h.request("c1", Body::new("fail"));
    assert_eq!(r[0].body.kind, "error");
    assert_eq!(r[0].body.error_code(), Some(11));
    assert_eq!(r[0].body.get_str("text"), Some("try later"));
    let r = h.request("c1", Body::new("nonsense"));
    assert_eq!(r[0].body.error_code(), Some(10));
}

#[test]
fn replies_and_errors_never_get_error_replies() {
    // A stray reply (its RPC long gone) and a stray error must not be
    // answered with an error: two nodes would bounce errors forever.
    let mut h = Harness::new(Asker::default(), "n0", &["n0", "n1"]);
    let mut stray = Body::new("question_ok");
    stray.msg_id = Some(9);
    stray.in_reply_to = Some(12345);
    assert!(h.deliver(Envelope::new("n1", "n0", stray)).is_empty());
    let mut error = Body::new("error").with("code", 10);
    error.msg_id = Some(10);
    assert!(h.deliver(Envelope::new("n1", "n0", error)).is_empty());
}
