//! Streaming ingestion: the reference's envelope (`/collection/{inletId}`, `/collection/batch/{inletId}`)
//! and Rapport's native form (`/data/rapport/datasets/{dataset}/records`).
//!
//! Every message is validated on its own; valid messages of a request are stored even when
//! others fail, and the answer comes only after the commit that holds them.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::post;
use axum::Router;
use engine::{PreparedWrite, SandboxCatalog};
use rapport_types::Code;
use serde_json::{json, Value};

use super::{commit_writes, json, now_ms};
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{JsonBody, QueryPairs, Sandbox};
use crate::state::AppState;

pub fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/collection/{inlet_id}", post(single_message))
        .route("/collection/batch/{inlet_id}", post(batch_messages))
        .route(
            "/data/rapport/datasets/{dataset}/records",
            post(native_records),
        )
}

fn envelope_error(pointer: &str, message: impl std::fmt::Display) -> ApiError {
    ApiError::new(Code::InvalidEnvelope, format!("{pointer}: {message}"))
}

fn valid_inlet(inlet_id: &str) -> ApiResult<()> {
    let ok = !inlet_id.is_empty()
        && inlet_id.len() <= 128
        && inlet_id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if ok {
        Ok(())
    } else {
        Err(ApiError::new(
            Code::InvalidParameter,
            format!("inletId: \"{inlet_id}\" is not an inlet id (letters, digits, '-' and '_')"),
        ))
    }
}

/// Prepares one enveloped message; `pointer` is where it sits in the request.
fn prepare_message(
    state: &AppState,
    catalog: &SandboxCatalog,
    message: Value,
    pointer: &str,
    source: String,
    received_ms: i64,
) -> ApiResult<PreparedWrite> {
    let Value::Object(mut message) = message else {
        return Err(envelope_error(
            pointer,
            "a message must be an object with \"header\" and \"body\"",
        ));
    };
    let header = message.remove("header").unwrap_or(Value::Null);
    let dataset_id = header
        .get("datasetId")
        .and_then(Value::as_str)
        .ok_or_else(|| {
            envelope_error(
                &format!("{pointer}/header/datasetId"),
                "required: the id of the dataset the message is for",
            )
        })?;
    let Some(dataset) = catalog.dataset(dataset_id) else {
        return Err(ApiError::new(
            Code::DatasetNotFound,
            format!(
                "{pointer}/header/datasetId: no dataset \"{dataset_id}\" exists in this sandbox"
            ),
        ));
    };
    if let Some(schema_id) = header.pointer("/schemaRef/id").and_then(Value::as_str) {
        if schema_id != dataset.schema_id {
            return Err(envelope_error(
                &format!("{pointer}/header/schemaRef/id"),
                format!(
                    "dataset {} uses schema \"{}\", not \"{schema_id}\"",
                    dataset.id, dataset.schema_id
                ),
            ));
        }
    }
    let entity = message
        .remove("body")
        .and_then(|mut body| body.get_mut("xdmEntity").map(Value::take))
        .ok_or_else(|| {
            envelope_error(
                &format!("{pointer}/body/xdmEntity"),
                "required: the XDM record or event",
            )
        })?;
    let dataset_id = dataset.id.clone();
    state
        .engine
        .prepare(catalog, &dataset_id, entity, source, received_ms)
        .map_err(|error| {
            let mut error = ApiError::from(error);
            error.message = format!("{pointer}/body/xdmEntity{}", prefixed(&error.message));
            error
        })
}

/// Joins a pointer and a message that starts with its own pointer (or `#`).
fn prefixed(message: &str) -> String {
    if let Some(rest) = message.strip_prefix('#') {
        rest.to_owned()
    } else if message.starts_with('/') {
        message.to_owned()
    } else {
        format!(": {message}")
    }
}

fn transaction_id(received_ms: i64) -> String {
    format!("{received_ms}:{}", uuid::Uuid::new_v4().simple())
}

async fn single_message(
    State(state): State<Arc<AppState>>,
    Sandbox(sandbox): Sandbox,
    Path(inlet_id): Path<String>,
    query: QueryPairs,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    valid_inlet(&inlet_id)?;
    let sync_validation = query
        .get("syncValidation")
        .or(query.get("synchronousValidation"))
        == Some("true");
    let received_ms = now_ms();
    let xaction = transaction_id(received_ms);
    let catalog = state.engine.sandbox(&sandbox)?;
    let write = prepare_message(
        &state,
        &catalog,
        body,
        "",
        format!("{xaction}:0"),
        received_ms,
    )?;
    let mut results = commit_writes(&state, vec![write]).await?;
    results
        .pop()
        .unwrap_or_else(|| Err(engine::Error::internal("no result")))?;
    let validation = if sync_validation {
        json!({"synchronousValidation": {"status": "pass"}})
    } else {
        json!({"syncValidation": {"skipped": false}})
    };
    let mut response =
        json!({"inletId": inlet_id, "xactionId": xaction, "receivedTimeMs": received_ms});
    if let (Some(out), Some(extra)) = (response.as_object_mut(), validation.as_object()) {
        out.extend(extra.clone());
    }
    Ok(json(StatusCode::OK, &response))
}

/// Prepares every message, commits the valid ones, and answers one entry per message.
async fn ingest_many(
    state: &AppState,
    catalog: &SandboxCatalog,
    messages: Vec<Value>,
    prepare: impl Fn(&SandboxCatalog, Value, usize, String, i64) -> ApiResult<PreparedWrite>,
    received_ms: i64,
    xaction: &str,
) -> ApiResult<Vec<Value>> {
    let mut entries: Vec<Option<Value>> = Vec::with_capacity(messages.len());
    let mut writes = Vec::new();
    let mut positions = Vec::new();
    for (index, message) in messages.into_iter().enumerate() {
        match prepare(
            catalog,
            message,
            index,
            format!("{xaction}:{index}"),
            received_ms,
        ) {
            Ok(write) => {
                positions.push(index);
                writes.push(write);
                entries.push(None);
            }
            Err(error) => entries.push(Some(failure_entry(index, xaction, &error))),
        }
    }
    let results = commit_writes(state, writes).await?;
    for (index, result) in positions.into_iter().zip(results) {
        entries[index] = Some(match result {
            Ok(profile_id) => {
                json!({"xactionId": format!("{xaction}:{index}"), "profileId": profile_id.map(|p| p.to_string())})
            }
            Err(error) => failure_entry(index, xaction, &ApiError::from(error)),
        });
    }
    Ok(entries.into_iter().flatten().collect())
}

fn failure_entry(index: usize, xaction: &str, error: &ApiError) -> Value {
    let mut entry = json!({
        "xactionId": format!("{xaction}:{index}"),
        "index": index,
        "statusCode": error.code.http_status(),
        "code": error.code.name(),
        "message": error.message,
    });
    if let Some(report) = &error.report {
        entry["report"] = report.clone();
    }
    entry
}

async fn batch_messages(
    State(state): State<Arc<AppState>>,
    Sandbox(sandbox): Sandbox,
    Path(inlet_id): Path<String>,
    JsonBody(mut body): JsonBody,
) -> ApiResult<Response> {
    valid_inlet(&inlet_id)?;
    let Some(messages) = body
        .get_mut("messages")
        .and_then(|m| m.as_array_mut())
        .map(std::mem::take)
    else {
        return Err(envelope_error(
            "/messages",
            "required: an array of {header, body} messages",
        ));
    };
    let received_ms = now_ms();
    let xaction = transaction_id(received_ms);
    let catalog = state.engine.sandbox(&sandbox)?;
    let responses = ingest_many(
        &state,
        &catalog,
        messages,
        |catalog, message, index, source, received| {
            prepare_message(
                &state,
                catalog,
                message,
                &format!("/messages/{index}"),
                source,
                received,
            )
        },
        received_ms,
        &xaction,
    )
    .await?;
    let body = json!({"inletId": inlet_id, "batchId": xaction, "receivedTimeMs": received_ms, "responses": responses});
    Ok(json(StatusCode::MULTI_STATUS, &body))
}

async fn native_records(
    State(state): State<Arc<AppState>>,
    Sandbox(sandbox): Sandbox,
    Path(dataset): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    let catalog = state.engine.sandbox(&sandbox)?;
    let Some(dataset) = catalog.dataset(&dataset).cloned() else {
        return Err(ApiError::new(
            Code::DatasetNotFound,
            format!("dataset: no dataset with id or name \"{dataset}\" exists in this sandbox"),
        ));
    };
    let (records, single) = match body {
        Value::Array(items) => (items, false),
        Value::Object(_) => (vec![body], true),
        _ => {
            return Err(ApiError::new(
                Code::InvalidRecord,
                "#: send a JSON record or an array of records",
            ))
        }
    };
    let received_ms = now_ms();
    let xaction = transaction_id(received_ms);
    let results = ingest_many(
        &state,
        &catalog,
        records,
        |catalog, record, index, source, received| {
            state
                .engine
                .prepare(catalog, &dataset.id, record, source, received)
                .map_err(|error| {
                    let mut error = ApiError::from(error);
                    let pointer = if single {
                        String::new()
                    } else {
                        format!("/{index}")
                    };
                    error.message = format!("{pointer}{}", prefixed(&error.message));
                    error
                })
        },
        received_ms,
        &xaction,
    )
    .await?;
    let failed = results
        .iter()
        .filter(|r| r.get("statusCode").is_some())
        .count();
    if single && failed == 1 {
        let entry = &results[0];
        let code = Code::ALL
            .iter()
            .copied()
            .find(|c| Some(c.name()) == entry.get("code").and_then(Value::as_str))
            .unwrap_or(Code::InvalidRecord);
        let mut error = ApiError::new(
            code,
            entry.get("message").and_then(Value::as_str).unwrap_or(""),
        );
        error.report = entry.get("report").cloned();
        return Err(error);
    }
    let status = if failed == 0 {
        StatusCode::OK
    } else {
        StatusCode::MULTI_STATUS
    };
    let body = json!({
        "datasetId": dataset.id,
        "batchId": xaction,
        "receivedTimeMs": received_ms,
        "accepted": results.len() - failed,
        "failed": failed,
        "responses": results,
    });
    Ok(json(status, &body))
}
