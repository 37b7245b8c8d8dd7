//! The one error type of the crate: a public error code and a message fit to show the caller.

use rapport_types::Code;

/// A failure, with the public code the HTTP layer answers with. `Display` is the message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct AuthError {
    pub code: Code,
    pub message: String,
    /// How long the caller must wait before trying again, for the HTTP layer's `Retry-After`
    /// header: set on `429 login_throttled`, `None` on every other error.
    pub retry_after_seconds: Option<u64>,
}

pub type Result<T, E = AuthError> = std::result::Result<T, E>;

impl AuthError {
    pub fn new(code: Code, message: impl Into<String>) -> AuthError {
        AuthError {
            code,
            message: message.into(),
            retry_after_seconds: None,
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

    /// A user (or a request to create or change one) that breaks a rule: `400 invalid_user`.
    pub(crate) fn invalid_user(message: impl Into<String>) -> AuthError {
        AuthError::new(Code::InvalidUser, message)
    }

    /// A role (or a request to create or change one) that breaks a rule: `400 invalid_role`.
    pub(crate) fn invalid_role(message: impl Into<String>) -> AuthError {
        AuthError::new(Code::InvalidRole, message)
    }

    pub(crate) fn user_not_found(name: &str) -> AuthError {
        AuthError::new(Code::UserNotFound, format!("no user \"{name}\""))
    }

    pub(crate) fn role_not_found(name: &str) -> AuthError {
        AuthError::new(Code::RoleNotFound, format!("no role \"{name}\""))
    }

    /// A sign-in with an unknown name, a wrong password or a disabled user: one message for
    /// all three, so the answer does not tell which names exist.
    pub(crate) fn invalid_credentials() -> AuthError {
        AuthError::new(Code::InvalidCredentials, "user name or password is wrong")
    }

    /// A sign-in while the user is locked after failed ones; `wait_ms` is rounded up to whole
    /// seconds.
    pub(crate) fn login_throttled(wait_ms: i64) -> AuthError {
        let seconds = u64::try_from(wait_ms.max(1)).unwrap_or(1).div_ceil(1000);
        let unit = if seconds == 1 { "second" } else { "seconds" };
        AuthError {
            retry_after_seconds: Some(seconds),
            ..AuthError::new(
                Code::LoginThrottled,
                format!("/name: too many failed sign-ins; try again in {seconds} {unit}"),
            )
        }
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
        AuthError::new(code, format!("auth storage: {error}"))
    }
}
