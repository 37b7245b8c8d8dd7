//! The one error type of the crate: a public error code and a message fit to show the caller.

use rapport_types::Code;

/// A failure, with the public code the HTTP layer answers with. `Display` is the message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct AuthError {
    pub code: Code,
    pub message: String,
}

pub type Result<T, E = AuthError> = std::result::Result<T, E>;

impl AuthError {
    pub fn new(code: Code, message: impl Into<String>) -> AuthError {
        AuthError {
            code,
            message: message.into(),
        }
    }

    /// A request body that breaks a rule: `400 invalid_api_key_body`.
    pub(crate) fn invalid_body(message: impl Into<String>) -> AuthError {
        AuthError::new(Code::InvalidApiKeyBody, message)
    }

    /// A token that is malformed, unknown, revoked or wrong. The message never echoes it.
    pub(crate) fn invalid_api_key() -> AuthError {
        AuthError::new(
            Code::InvalidApiKey,
            "Authorization: not a valid Rapport API key",
        )
    }

    pub(crate) fn internal(message: impl Into<String>) -> AuthError {
        AuthError::new(Code::Internal, message)
    }
}

impl From<store::StoreError> for AuthError {
    fn from(error: store::StoreError) -> AuthError {
        let code = match error {
            store::StoreError::Full => Code::Unavailable,
            store::StoreError::Backend(_) => Code::Internal,
        };
        AuthError::new(code, format!("API key storage: {error}"))
    }
}
