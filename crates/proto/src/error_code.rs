/// Maelstrom's error codes. Codes below 1000 are reserved; an unknown code,
/// or one of 1000 and above, is indefinite.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ErrorCode {
    Timeout,
    NodeNotFound,
    NotSupported,
    TemporarilyUnavailable,
    MalformedRequest,
    Crash,
    Abort,
    KeyDoesNotExist,
    KeyAlreadyExists,
    PreconditionFailed,
    TxnConflict,
    Other(i64),
}

impl ErrorCode {
    pub const ALL: [ErrorCode; 11] = [
        ErrorCode::Timeout,
        ErrorCode::NodeNotFound,
        ErrorCode::NotSupported,
        ErrorCode::TemporarilyUnavailable,
        ErrorCode::MalformedRequest,
        ErrorCode::Crash,
        ErrorCode::Abort,
        ErrorCode::KeyDoesNotExist,
        ErrorCode::KeyAlreadyExists,
        ErrorCode::PreconditionFailed,
        ErrorCode::TxnConflict,
    ];

    pub fn from_code(code: i64) -> ErrorCode {
        ErrorCode::ALL
            .into_iter()
            .find(|e| e.code() == code)
            .unwrap_or(ErrorCode::Other(code))
    }

    pub fn code(self) -> i64 {
        match self {
            ErrorCode::Timeout => 0,
            ErrorCode::NodeNotFound => 1,
            ErrorCode::NotSupported => 10,
            ErrorCode::TemporarilyUnavailable => 11,
            ErrorCode::MalformedRequest => 12,
            ErrorCode::Crash => 13,
            ErrorCode::Abort => 14,
            ErrorCode::KeyDoesNotExist => 20,
            ErrorCode::KeyAlreadyExists => 21,
            ErrorCode::PreconditionFailed => 22,
            ErrorCode::TxnConflict => 30,
            ErrorCode::Other(code) => code,
        }
    }

    /// The kebab-case name Maelstrom gives it.
    pub fn name(self) -> &'static str {
        match self {
            ErrorCode::Timeout => "timeout",
            ErrorCode::NodeNotFound => "node-not-found",
            ErrorCode::NotSupported => "not-supported",
            ErrorCode::TemporarilyUnavailable => "temporarily-unavailable",
            ErrorCode::MalformedRequest => "malformed-request",
            ErrorCode::Crash => "crash",
            ErrorCode::Abort => "abort",
            ErrorCode::KeyDoesNotExist => "key-does-not-exist",
            ErrorCode::KeyAlreadyExists => "key-already-exists",
            ErrorCode::PreconditionFailed => "precondition-failed",
            ErrorCode::TxnConflict => "txn-conflict",
            ErrorCode::Other(_) => "unknown",
        }
    }

    /// A definite error means the operation certainly did not happen.
    pub fn is_definite(self) -> bool {
        !matches!(
            self,
            ErrorCode::Timeout | ErrorCode::Crash | ErrorCode::Other(_)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn definiteness_matches_maelstrom() {
        let definite: Vec<i64> = ErrorCode::ALL
            .into_iter()
            .filter(|e| e.is_definite())
            .map(|e| e.code())
            .collect();
        assert_eq!(definite, vec![1, 10, 11, 12, 14, 20, 21, 22, 30]);
        assert!(!ErrorCode::from_code(1000).is_definite());
        assert!(!ErrorCode::from_code(999).is_definite());
        assert_eq!(ErrorCode::from_code(22), ErrorCode::PreconditionFailed);
    }
}
