//! Extractors: the sandbox of a request, JSON bodies with coded errors (and how their values
//! are shown in messages), and raw query pairs.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use rapport_types::{Code, SandboxName};
use serde_json::Value;

use super::error::ApiError;

/// The sandbox named by `x-sandbox-name` (default `prod`).
pub struct Sandbox(pub SandboxName);

impl<S: Send + Sync> FromRequestParts<S> for Sandbox {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let Some(header) = parts.headers.get("x-sandbox-name") else {
            return Ok(Sandbox(SandboxName::default_sandbox()));
        };
        let text = header.to_str().unwrap_or("");
        SandboxName::parse(text).map(Sandbox).ok_or_else(|| {
            ApiError::new(
                Code::InvalidSandbox,
                format!("x-sandbox-name: \"{text}\" is not a sandbox name: use 1 to 64 characters of a-z, 0-9 and '-'"),
            )
        })
    }
}

/// A JSON body. Size, content type and syntax errors become precise 4xx problems.
pub struct JsonBody(pub Value);

impl<S: Send + Sync> FromRequest<S> for JsonBody {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        if let Some(content_type) = request.headers().get(axum::http::header::CONTENT_TYPE) {
            let text = content_type.to_str().unwrap_or("");
            let media = text
                .split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase();
            if !(media.is_empty()
                || media == "application/json"
                || media.ends_with("+json")
                || media == "text/plain")
            {
                return Err(ApiError::new(
                    Code::UnsupportedMediaType,
                    format!("content-type: \"{text}\" is not JSON; send application/json"),
                ));
            }
        }
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(|rejection| {
                let message = rejection.body_text();
                if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                    ApiError::new(
                        Code::PayloadTooLarge,
                        "the request body is larger than the server's limit (max-payload-bytes)",
                    )
                } else {
                    ApiError::new(
                        Code::MalformedJson,
                        format!("the request body could not be read: {message}"),
                    )
                }
            })?;
        parse_json(&bytes).map(JsonBody)
    }
}

/// Parses JSON with errors that say where and what.
pub fn parse_json(bytes: &[u8]) -> Result<Value, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::new(
            Code::MalformedJson,
            "the request body is empty; send a JSON document",
        ));
    }
    serde_json::from_slice(bytes).map_err(|error| {
        let what = if error.to_string().contains("recursion limit") {
            "the JSON is nested too deeply (more than 128 levels)".to_owned()
        } else {
            error.to_string()
        };
        ApiError::new(
            Code::MalformedJson,
            format!(
                "the request body is not valid JSON at line {} column {}: {what}",
                error.line(),
                error.column()
            ),
        )
    })
}

/// A value of a JSON body as an error message shows what was found: scalars as JSON (strings cut
/// after 40 characters), arrays and objects by their type.
pub fn shown(value: &Value) -> String {
    match value {
        Value::Array(_) => "an array".to_owned(),
        Value::Object(_) => "an object".to_owned(),
        Value::String(text) if text.chars().count() > 40 => {
            let cut: String = text.chars().take(40).collect();
            format!("{}...", Value::from(cut))
        }
        scalar => scalar.to_string(),
    }
}

/// Query pairs in order, repeated keys kept (`property` may appear three times).
pub struct QueryPairs(pub Vec<(String, String)>);

impl<S: Send + Sync> FromRequestParts<S> for QueryPairs {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or("");
        Ok(QueryPairs(
            form_urlencoded::parse(query.as_bytes())
                .into_owned()
                .collect(),
        ))
    }
}

impl QueryPairs {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0
            .iter()
            .filter(move |(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn require(&self, name: &str) -> Result<&str, ApiError> {
        self.get(name).filter(|v| !v.is_empty()).ok_or_else(|| {
            ApiError::new(
                Code::MissingParameter,
                format!("{name}: this query parameter is required"),
            )
        })
    }

    pub fn parse<T: std::str::FromStr>(
        &self,
        name: &str,
        rule: &str,
    ) -> Result<Option<T>, ApiError> {
        match self.get(name).filter(|v| !v.is_empty()) {
            None => Ok(None),
            Some(text) => text.parse().map(Some).map_err(|_| {
                ApiError::new(
                    Code::InvalidParameter,
                    format!("{name}: \"{text}\" is not {rule}"),
                )
            }),
        }
    }
}
