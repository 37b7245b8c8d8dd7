//! The errors of the audit log: `Unavailable` when it cannot take an entry, `AuditError` for
//! everything else. The server maps them to its own public codes.

/// The log cannot take an entry now: its queue is full, its writer has failed, or the log is
/// closed. The server answers `503 audit_unavailable` rather than serve an unaudited request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the audit log cannot take entries: its queue is full or its writer has stopped")]
pub struct Unavailable;

/// A failure of the audit log. `Display` is a message fit for the log and, for
/// `InvalidQuery`, for the caller (it names the parameter and the rule).
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error(transparent)]
    Unavailable(#[from] Unavailable),
    /// A query parameter breaks a rule; the message names the parameter.
    #[error("{0}")]
    InvalidQuery(String),
    #[error("audit storage: {0}")]
    Storage(#[from] store::StoreError),
    /// A stored entry or key that does not decode: the environment is damaged or was written
    /// by a newer version.
    #[error("audit entry {key} cannot be read: {reason}")]
    Unreadable { key: String, reason: String },
    #[error("the system random source failed: {0}")]
    Random(String),
    /// Writing an export to its destination failed.
    #[error("writing the audit export failed: {0}")]
    Export(#[from] std::io::Error),
}

pub type Result<T, E = AuditError> = std::result::Result<T, E>;

impl AuditError {
    pub(crate) fn invalid_query(message: impl Into<String>) -> AuditError {
        AuditError::InvalidQuery(message.into())
    }

    pub(crate) fn unreadable(key: &[u8], reason: impl Into<String>) -> AuditError {
        AuditError::Unreadable {
            key: key.iter().map(|b| format!("{b:02x}")).collect(),
            reason: reason.into(),
        }
    }
}
