use lightcone_proto::{Envelope, ErrorCode};

use crate::Context;

/// A node program. Implement `handle` (and `init` / `timer` when needed).
///
/// A handler that returns an error answers the request (if it had a
/// `msg_id`) with a Maelstrom `error` body carrying the code and text.
pub trait Node: Sized + 'static {
    /// Called once when `init` arrives, before `init_ok` is sent. The
    /// context knows the node's id and the cluster's ids from then on.
    fn init(&mut self, _ctx: &mut Context<Self>) {}

    /// Called for every message that is not a reply to one of this node's
    /// RPCs (those go to the RPC's callback).
    fn handle(&mut self, ctx: &mut Context<Self>, msg: Envelope) -> Result<(), NodeError>;

    /// Called when a timer set with [`Context::set_timer`] fires.
    fn timer(&mut self, _ctx: &mut Context<Self>, _token: u64) {}
}

/// An error a handler returns; it becomes an `error` reply.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{} (error {}): {text}", code.name(), code.code())]
pub struct NodeError {
    pub code: ErrorCode,
    pub text: String,
}

impl NodeError {
    pub fn new(code: ErrorCode, text: impl Into<String>) -> NodeError {
        NodeError {
            code,
            text: text.into(),
        }
    }

    /// Error 10: this node does not know the request type.
    pub fn not_supported(kind: &str) -> NodeError {
        NodeError::new(
            ErrorCode::NotSupported,
            format!("this node does not handle messages of type {kind:?}"),
        )
    }

    /// Error 12: the request lacks a field or has the wrong shape.
    pub fn malformed(text: impl Into<String>) -> NodeError {
        NodeError::new(ErrorCode::MalformedRequest, text)
    }
}
