//! API keys (`/data/rapport/keys`): create (the secret is shown once), list, read, change the
//! name, description or expiry, rotate with a grace period, and revoke.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use engine::time::{format_rfc3339_ms, parse_rfc3339_ms};
use rapport_types::{ActionSet, Code};
use serde_json::{json, Map, Value};

use super::table::Route;
use super::{fields, json};
use crate::http::audit::AuditSlip;
use crate::http::auth::{Authorized, KeysManage};
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::JsonBody;
use crate::state::AppState;

const KEYS: &str = "/data/rapport/keys";

pub fn routes() -> Vec<Route> {
    vec![
        Route::keyed(Method::GET, KEYS, list).audited("key.list"),
        Route::keyed(Method::POST, KEYS, create).audited_change("key.create"),
        Route::keyed(Method::GET, format!("{KEYS}/{{id}}"), get_one).audited("key.read"),
        Route::keyed(Method::PATCH, format!("{KEYS}/{{id}}"), patch).audited_change("key.update"),
        Route::keyed(Method::DELETE, format!("{KEYS}/{{id}}"), revoke).audited_change("key.revoke"),
        Route::keyed(Method::POST, format!("{KEYS}/{{id}}/rotate"), rotate)
            .audited_change("key.rotate"),
    ]
}

fn auth_error(error: auth::AuthError) -> ApiError {
    ApiError::new(error.code, error.message)
}

fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::new(Code::InvalidApiKeyBody, message)
}

/// A key as the API shows it: never its secret.
fn key_json(record: &auth::ApiKeyRecord) -> Value {
    let time = |ms: Option<i64>| ms.map_or(Value::Null, |ms| json!(format_rfc3339_ms(ms, true)));
    let mut body = json!({
        "id": record.id.to_string(),
        "name": record.name,
        "description": record.description,
        "prefix": record.prefix(),
        "actions": record.actions.names(),
        "sandboxes": record.sandboxes.names(),
        "role": record.role,
        "rateLimit": record.rate_limit.map(|l| json!({"perSecond": l.per_second, "burst": l.burst})),
        "expiresAt": time(record.expires_ms),
        "createdAt": time(Some(record.created_ms)),
        "createdBy": record.created_by,
        "updatedAt": time(Some(record.updated_ms)),
        "revokedAt": time(record.revoked_ms),
    });
    if let Some((_, until)) = record.previous_secret {
        body["previousSecretValidUntil"] = time(Some(until));
    }
    body
}

fn object(body: &Value) -> ApiResult<&Map<String, Value>> {
    fields::object(body, Code::InvalidApiKeyBody)
}

fn optional_text(body: &Map<String, Value>, field: &str) -> ApiResult<Option<Option<String>>> {
    fields::optional_text(body, field, Code::InvalidApiKeyBody)
}

/// A required array of strings.
fn strings(body: &Map<String, Value>, field: &str) -> ApiResult<Vec<String>> {
    fields::strings(body, field, Code::InvalidApiKeyBody)?
        .ok_or_else(|| invalid(format!("/{field}: required, an array of strings")))
}

/// `expiresAt`: absent (no change), null (never), or an RFC 3339 instant.
fn expiry(body: &Map<String, Value>) -> ApiResult<Option<Option<i64>>> {
    match optional_text(body, "expiresAt")? {
        None => Ok(None),
        Some(None) => Ok(Some(None)),
        Some(Some(text)) => parse_rfc3339_ms(&text)
            .map(|ms| Some(Some(ms)))
            .ok_or_else(|| {
                invalid(format!(
                "/expiresAt: \"{text}\" is not an RFC 3339 date-time such as 2027-01-01T00:00:00Z"
            ))
            }),
    }
}

/// `rateLimit`: absent (no change), null (the server's limit), or `{"perSecond", "burst"}`.
fn rate_limit(body: &Map<String, Value>) -> ApiResult<Option<Option<auth::KeyRateLimit>>> {
    let number = |limit: &Map<String, Value>, field: &str| -> ApiResult<u32> {
        limit
            .get(field)
            .and_then(Value::as_u64)
            .and_then(|n| u32::try_from(n).ok())
            .ok_or_else(|| {
                invalid(format!(
                    "/rateLimit/{field}: required, a whole number of requests"
                ))
            })
    };
    match body.get("rateLimit") {
        None => Ok(None),
        Some(Value::Null) => Ok(Some(None)),
        Some(Value::Object(limit)) => {
            if let Some(other) = limit.keys().find(|k| *k != "perSecond" && *k != "burst") {
                return Err(invalid(format!(
                    "/rateLimit/{other}: not a rate limit field (perSecond, burst)"
                )));
            }
            Ok(Some(Some(auth::KeyRateLimit {
                per_second: number(limit, "perSecond")?,
                burst: number(limit, "burst")?,
            })))
        }
        Some(_) => Err(invalid(
            "/rateLimit: an object such as {\"perSecond\": 50, \"burst\": 100}, or null for the server's limit",
        )),
    }
}

fn created(record: &auth::ApiKeyRecord, token: String) -> Response {
    let mut body = key_json(record);
    body["key"] = json!(token);
    json(StatusCode::CREATED, &body)
}

async fn list(
    _: Authorized<KeysManage>,
    State(state): State<Arc<AppState>>,
) -> ApiResult<Response> {
    let keys: Vec<Value> = state.keys.list().iter().map(|k| key_json(k)).collect();
    Ok(json(StatusCode::OK, &json!({"keys": keys})))
}

async fn create(
    Authorized { caller, .. }: Authorized<KeysManage>,
    State(state): State<Arc<AppState>>,
    slip: AuditSlip,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    let fields = object(&body)?;
    let name = match fields.get("name") {
        Some(Value::String(name)) => name.clone(),
        _ => return Err(invalid("/name: required, a string")),
    };
    let actions = strings(fields, "actions")?;
    let actions = ActionSet::parse(actions.iter().map(String::as_str))
        .map_err(|e| invalid(format!("/actions: {e}")))?;
    let sandboxes = auth::SandboxScope::parse(&strings(fields, "sandboxes")?)
        .map_err(|e| invalid(format!("/sandboxes: {e}")))?;
    let new = auth::NewKey {
        name,
        description: optional_text(fields, "description")?.flatten(),
        actions,
        sandboxes,
        expires_ms: expiry(fields)?.flatten(),
        role: match fields::text(fields, "role", Code::InvalidApiKeyBody)? {
            Some(role) => {
                // The key sees only the labels of this console role.
                state.users.role(&role).map_err(|_| {
                    invalid(format!(
                        "/role: no role \"{role}\" exists (GET /data/rapport/roles lists them)"
                    ))
                })?;
                Some(role)
            }
            None => None,
        },
        rate_limit: rate_limit(fields)?.flatten(),
    };
    let (record, token) = state
        .keys
        .create(
            new,
            (caller.actions, &caller.sandboxes),
            &caller.principal.name(),
            engine::catalog::now_ms(),
        )
        .map_err(auth_error)?;
    slip.object(record.id.to_string());
    Ok(created(&record, token))
}

async fn get_one(
    _: Authorized<KeysManage>,
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let record = state.keys.get(&id).map_err(auth_error)?;
    Ok(json(StatusCode::OK, &key_json(&record)))
}

async fn patch(
    _: Authorized<KeysManage>,
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    let fields = object(&body)?;
    if let Some(other) = fields
        .keys()
        .find(|k| !["name", "description", "expiresAt", "rateLimit"].contains(&k.as_str()))
    {
        return Err(invalid(format!(
            "/{other}: only name, description, expiresAt and rateLimit change; other changes need a new key"
        )));
    }
    let patch = auth::KeyPatch {
        name: optional_text(fields, "name")?
            .map(|name| name.ok_or_else(|| invalid("/name: a string, not null")))
            .transpose()?,
        description: optional_text(fields, "description")?,
        expires_ms: expiry(fields)?,
        rate_limit: rate_limit(fields)?,
    };
    let record = state
        .keys
        .patch(&id, patch, engine::catalog::now_ms())
        .map_err(auth_error)?;
    Ok(json(StatusCode::OK, &key_json(&record)))
}

async fn rotate(
    _: Authorized<KeysManage>,
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> ApiResult<Response> {
    // The body is optional: `{"graceSeconds": n}` keeps the old secret working that long.
    let body: Value = match body.iter().all(u8::is_ascii_whitespace) {
        true => Value::Null,
        false => serde_json::from_slice(&body).map_err(|e| {
            ApiError::new(Code::MalformedJson, format!("body: not valid JSON ({e})"))
        })?,
    };
    let grace_seconds = match body.get("graceSeconds") {
        None => 0,
        Some(value) => value
            .as_i64()
            .ok_or_else(|| invalid("/graceSeconds: 0 to 604800"))?,
    };
    let (record, token) = state
        .keys
        .rotate(
            &id,
            grace_seconds.saturating_mul(1000),
            engine::catalog::now_ms(),
        )
        .map_err(auth_error)?;
    Ok(created(&record, token))
}

async fn revoke(
    _: Authorized<KeysManage>,
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    state
        .keys
        .revoke(&id, engine::catalog::now_ms())
        .map_err(auth_error)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
