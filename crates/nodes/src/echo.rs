//! The echo workload's node: answers `echo` with `echo_ok` carrying the same
//! `echo` value.

use lightcone_sdk::{Body, Context, Envelope, Node, NodeError};

pub struct Echo;

impl Node for Echo {
    fn handle(&mut self, ctx: &mut Context<Self>, msg: Envelope) -> Result<(), NodeError> {
        match msg.body.kind.as_str() {
            "echo" => {
                let echo = msg
                    .body
                    .get("echo")
                    .cloned()
                    .ok_or_else(|| NodeError::malformed("echo needs an `echo` field"))?;
                ctx.reply(&msg, Body::new("echo_ok").with("echo", echo));
                Ok(())
            }
            other => Err(NodeError::not_supported(other)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lightcone_sdk::Harness;

    #[test]
    fn echoes_and_rejects_unknown_types() {
        let mut h = Harness::new(Echo, "n0", &["n0"]);
        let r = h.request("c1", Body::new("echo").with("echo", "Please echo 7"));
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].body.kind, "echo_ok");
        assert_eq!(r[0].body.in_reply_to, Some(2));
        assert_eq!(r[0].body.get_str("echo"), Some("Please echo 7"));
        let r = h.request("c1", Body::new("frobnicate"));
        assert_eq!(r[0].body.kind, "error");
        assert_eq!(r[0].body.error_code(), Some(10));
    }
}
