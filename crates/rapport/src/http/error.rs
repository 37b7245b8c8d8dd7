//! `ApiError`: every failure a client sees, rendered in the reference's problem shape.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use engine::Error;
use rapport_types::{Code, ErrorKind};
use serde_json::{json, Value};

#[derive(Debug)]
pub struct ApiError {
    pub code: Code,
    pub message: String,
    pub report: Option<Value>,
}

impl ApiError {
    pub fn new(code: Code, message: impl Into<String>) -> ApiError {
        ApiError {
            code,
            message: message.into(),
            report: None,
        }
    }

    /// The problem JSON body, as sent.
    pub fn body(&self) -> Value {
        let title = match self.code.kind() {
            ErrorKind::InvalidRequest => self.message.clone(),
            ErrorKind::Internal => {
                "rapport could not complete the request; the server log has the details".to_owned()
            }
        };
        let mut body = json!({
            "type": self.code.problem_type(),
            "title": title,
            "status": self.code.http_status(),
            "code": self.code.name(),
            "kind": self.code.kind().as_str(),
        });
        if let Some(report) = &self.report {
            body["report"] = report.clone();
        }
        body
    }
}

impl From<Error> for ApiError {
    fn from(error: Error) -> ApiError {
        let code = error.code();
        match error {
            Error::User {
                message, report, ..
            } => ApiError {
                code,
                message,
                report,
            },
            other => ApiError {
                code,
                message: other.to_string(),
                report: None,
            },
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.code.kind() == ErrorKind::Internal {
            tracing::error!(code = self.code.name(), error = %self.message, "request failed");
        }
        let status = StatusCode::from_u16(self.code.http_status())
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = (status, axum::Json(self.body())).into_response();
        response.headers_mut().insert(
            axum::http::header::CONTENT_TYPE,
            axum::http::HeaderValue::from_static("application/problem+json"),
        );
        response
            .extensions_mut()
            .insert(super::audit::AnsweredCode(self.code));
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Bearer realm=\"rapport\""),
            );
        }
        response
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
