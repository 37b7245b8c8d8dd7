//! Parse errors.

/// A syntax error at a position: `line 1, column 17: expected ")" but found "and"`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}, column {column}: expected {expected} but found {found}")]
pub struct ParseError {
    /// 1-based line.
    pub line: u32,
    /// 1-based column (characters).
    pub column: u32,
    /// What the parser wanted (token texts are double-quoted, categories are not).
    pub expected: String,
    /// What it got (`"and"`, or `end of input`).
    pub found: String,
}

/// Everything [`crate::parse`] can fail with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// Malformed text.
    #[error(transparent)]
    Syntax(#[from] ParseError),
    /// Expressions nested deeper than [`crate::MAX_DEPTH`].
    #[error("line {line}, column {column}: expression nested deeper than {limit} levels")]
    TooDeep {
        /// 1-based line where the limit was crossed.
        line: u32,
        /// 1-based column where the limit was crossed.
        column: u32,
        /// The limit.
        limit: usize,
    },
    /// A tree higher than [`crate::MAX_HEIGHT`] (long operator or postfix chains count too).
    #[error("expression tree is {height} levels high, more than {limit}")]
    TooTall {
        /// The height of the parsed tree.
        height: usize,
        /// The limit.
        limit: usize,
    },
}
