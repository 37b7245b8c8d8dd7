//! Engine errors: a user error carries its public code and a precise message; anything else is internal.

use rapport_types::Code;
use serde_json::Value;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The request was wrong. The message names the field and the rule.
    #[error("{message}")]
    User {
        code: Code,
        message: String,
        report: Option<Value>,
    },
    /// Rapport failed; the details are logged, not shown.
    #[error("internal error: {0}")]
    Internal(String),
    /// The storage backend failed.
    #[error(transparent)]
    Store(#[from] store::StoreError),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn user(code: Code, message: impl Into<String>) -> Error {
        Error::User {
            code,
            message: message.into(),
            report: None,
        }
    }

    pub fn with_report(code: Code, message: impl Into<String>, report: Value) -> Error {
        Error::User {
            code,
            message: message.into(),
            report: Some(report),
        }
    }

    pub fn internal(message: impl std::fmt::Display) -> Error {
        Error::Internal(message.to_string())
    }

    /// The public code of this error; every variant is listed so a new one must choose.
    pub fn code(&self) -> Code {
        match self {
            Error::User { code, .. } => *code,
            Error::Internal(_) => Code::Internal,
            Error::Store(store::StoreError::Backend(_)) => Code::Internal,
            Error::Store(store::StoreError::Full) => Code::Unavailable,
        }
    }
}

impl From<postcard::Error> for Error {
    fn from(error: postcard::Error) -> Error {
        Error::Internal(format!("stored record could not be decoded: {error}"))
    }
}
