//! Compile errors: what is wrong with a definition and where (parse errors included).

use pql::Span;

/// Why a definition was refused, at the line and column (1-based; 0 for trees built without
/// positions, such as `pql/json` input) of the offending node.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}, column {column}: {message}")]
pub struct CompileError {
    pub line: u32,
    pub column: u32,
    pub message: String,
}

impl CompileError {
    pub(crate) fn at(span: Span, message: impl Into<String>) -> CompileError {
        CompileError {
            line: span.line,
            column: span.column,
            message: message.into(),
        }
    }
}

impl From<pql::Error> for CompileError {
    fn from(e: pql::Error) -> CompileError {
        match e {
            pql::Error::Syntax(p) => CompileError {
                line: p.line,
                column: p.column,
                message: format!("expected {} but found {}", p.expected, p.found),
            },
            pql::Error::TooDeep {
                line,
                column,
                limit,
            } => CompileError {
                line,
                column,
                message: format!("expression nested deeper than {limit} levels"),
            },
            pql::Error::TooTall { height, limit } => CompileError {
                line: 1,
                column: 1,
                message: format!("expression tree is {height} levels high, more than {limit}"),
            },
        }
    }
}
