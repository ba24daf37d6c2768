//! The one error type of the CRDT crate.

/// What a CRDT operation can refuse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CrdtError {
    /// A 2P-Set never takes back an element it removed: the removal is a tombstone that wins
    /// over every add, past and future (Shapiro et al. 2011, Specification 12).
    #[error(
        "element {element} was removed from this 2P-set and can never be added again; \
         use an OR-Set if elements must come back"
    )]
    ReAddAfterRemove {
        /// The element, formatted with `Debug`.
        element: String,
    },
}
