//! Streaming ingestion: the reference's envelope (`/collection/{inletId}`, `/collection/batch/{inletId}`)
//! and Rapport's native form (`/data/rapport/datasets/{dataset}/records`).
//!
//! Every message is validated on its own; valid messages of a request are stored even when
//! others fail, and the answer comes only after the commit that holds them.

use super::table::Route;
use crate::http::auth::{Authorized, IngestWrite};
use axum::http::Method;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use engine::{PreparedWrite, SandboxCatalog};
use rapport_types::Code;
use serde_json::{json, Map, Value};

use super::{commit_writes, json, now_ms};
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{shown, JsonBody, QueryPairs};
use crate::state::AppState;

pub fn routes() -> Vec<Route> {
    vec![
        Route::keyed(Method::POST, "/collection/{inlet_id}", single_message),
        Route::keyed(Method::POST, "/collection/batch/{inlet_id}", batch_messages),
        Route::keyed(
            Method::POST,
            "/data/rapport/datasets/{dataset}/records",
            native_records,
        ),
    ]
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

/// The object at `key` of an envelope part; absent and `null` are `None`.
fn envelope_object<'a>(
    parent: &'a Map<String, Value>,
    key: &str,
    pointer: &str,
    expected: &str,
) -> ApiResult<Option<&'a Map<String, Value>>> {
    match parent.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(object)) => Ok(Some(object)),
        Some(other) => Err(envelope_error(
            &format!("{pointer}/{key}"),
            format!("expected {expected}, found {}", shown(other)),
        )),
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
            if pointer.is_empty() { "#" } else { pointer },
            "a message must be an object with \"header\" and \"body\"",
        ));
    };
    let empty = Map::new();
    let header = envelope_object(
        &message,
        "header",
        pointer,
        "an object with datasetId and schemaRef",
    )?
    .unwrap_or(&empty);
    let dataset_pointer = format!("{pointer}/header/datasetId");
    let dataset_id = match header.get("datasetId") {
        None | Some(Value::Null) => {
            return Err(envelope_error(
                &dataset_pointer,
                "required: the id of the dataset the message is for",
            ))
        }
        Some(Value::String(id)) => id.as_str(),
        Some(other) => {
            return Err(envelope_error(
                &dataset_pointer,
                format!(
                    "expected a string (the id of the dataset the message is for), found {}",
                    shown(other)
                ),
            ))
        }
    };
    let Some(dataset) = catalog.dataset(dataset_id) else {
        return Err(ApiError::new(
            Code::DatasetNotFound,
            format!("{dataset_pointer}: no dataset \"{dataset_id}\" exists in this sandbox"),
        ));
    };
    let header_pointer = format!("{pointer}/header");
    if let Some(schema_ref) =
        envelope_object(header, "schemaRef", &header_pointer, "an object with id")?
    {
        match schema_ref.get("id") {
            None | Some(Value::Null) => {}
            Some(Value::String(schema_id)) => {
                if *schema_id != dataset.schema_id {
                    return Err(envelope_error(
                        &format!("{header_pointer}/schemaRef/id"),
                        format!(
                            "dataset {} uses schema \"{}\", not \"{schema_id}\"",
                            dataset.id, dataset.schema_id
                        ),
                    ));
                }
            }
            Some(other) => {
                return Err(envelope_error(
                    &format!("{header_pointer}/schemaRef/id"),
                    format!(
                        "expected a string (the schema's $id), found {}",
                        shown(other)
                    ),
                ))
            }
        }
    }
    let dataset_id = dataset.id.clone();
    let entity_pointer = format!("{pointer}/body/xdmEntity");
    let entity = match message.remove("body") {
        None | Some(Value::Null) => None,
        Some(Value::Object(mut body)) => body.remove("xdmEntity").filter(|e| !e.is_null()),
        Some(other) => {
            return Err(envelope_error(
                &format!("{pointer}/body"),
                format!("expected an object with xdmEntity, found {}", shown(&other)),
            ))
        }
    };
    let Some(entity) = entity else {
        return Err(envelope_error(
            &entity_pointer,
            "required: the XDM record or event",
        ));
    };
    state
        .engine
        .prepare(catalog, &dataset_id, entity, source, received_ms)
        .map_err(|error| at_record(&entity_pointer, ApiError::from(error)))
}

/// An engine error about the record at `record` (a JSON pointer, "" for the request root): its
/// message is made to start with a JSON pointer. The engine's own messages start with a pointer
/// into the record ("/identityMap/..."), with "#" for the record itself, or with none.
fn at_record(record: &str, mut error: ApiError) -> ApiError {
    let message = &error.message;
    let joined = if let Some(rest) = message.strip_prefix('#') {
        format!("{record}{rest}")
    } else if message.starts_with('/') {
        format!("{record}{message}")
    } else {
        format!("{record}: {message}")
    };
    error.message = if joined.starts_with('/') {
        joined
    } else {
        format!("#{joined}")
    };
    error
}

/// The identities of a write that were refused (and so not linked), when there are any.
fn refused_identities(write: &PreparedWrite) -> Option<Value> {
    if write.refused.is_empty() {
        return None;
    }
    Some(Value::Array(
        write
            .refused
            .iter()
            .map(|(key, refusal)| {
                json!({"namespace": key.namespace, "id": key.value, "reason": refusal.describe()})
            })
            .collect(),
    ))
}

fn transaction_id(received_ms: i64) -> String {
    format!("{received_ms}:{}", uuid::Uuid::new_v4().simple())
}

async fn single_message(
    Authorized { sandbox, .. }: Authorized<IngestWrite>,
    State(state): State<Arc<AppState>>,
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
    let refused = refused_identities(&write);
    let mut results = commit_writes(&state, vec![write]).await?;
    results
        .pop()
        .unwrap_or_else(|| Err(engine::Error::internal("no result")))
        .map_err(|error| at_record("/body/xdmEntity", error.into()))?;
    let mut response =
        json!({"inletId": inlet_id, "xactionId": xaction, "receivedTimeMs": received_ms});
    // The record was validated either way (an invalid one is a 400 above); the reference answers
    // `skipped` when synchronous validation was not asked for.
    if sync_validation {
        response["synchronousValidation"] = json!({"status": "pass"});
    } else {
        response["syncValidation"] = json!({"skipped": true});
    }
    if let Some(refused) = refused {
        response["refusedIdentities"] = refused;
    }
    Ok(json(StatusCode::OK, &response))
}

/// Prepares every message, commits the valid ones, and answers one entry per message.
/// `record_pointer` says where the record of message `index` sits, for errors of the commit.
async fn ingest_many(
    state: &AppState,
    catalog: &SandboxCatalog,
    messages: Vec<Value>,
    prepare: impl Fn(&SandboxCatalog, Value, usize, String, i64) -> ApiResult<PreparedWrite>,
    record_pointer: impl Fn(usize) -> String,
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
                positions.push((index, refused_identities(&write)));
                writes.push(write);
                entries.push(None);
            }
            Err(error) => entries.push(Some(failure_entry(index, xaction, &error))),
        }
    }
    let results = commit_writes(state, writes).await?;
    for ((index, refused), result) in positions.into_iter().zip(results) {
        entries[index] = Some(match result {
            Ok(profile_id) => {
                let mut entry = json!({"xactionId": format!("{xaction}:{index}"), "profileId": profile_id.map(|p| p.to_string())});
                if let Some(refused) = refused {
                    entry["refusedIdentities"] = refused;
                }
                entry
            }
            Err(error) => {
                let error = at_record(&record_pointer(index), ApiError::from(error));
                failure_entry(index, xaction, &error)
            }
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
    Authorized { sandbox, .. }: Authorized<IngestWrite>,
    State(state): State<Arc<AppState>>,
    Path(inlet_id): Path<String>,
    JsonBody(mut body): JsonBody,
) -> ApiResult<Response> {
    valid_inlet(&inlet_id)?;
    let messages = match body.get_mut("messages") {
        Some(Value::Array(messages)) => std::mem::take(messages),
        None | Some(Value::Null) => {
            return Err(envelope_error(
                "/messages",
                "required: an array of {header, body} messages",
            ))
        }
        Some(other) => {
            return Err(envelope_error(
                "/messages",
                format!(
                    "expected an array of {{header, body}} messages, found {}",
                    shown(other)
                ),
            ))
        }
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
        |index| format!("/messages/{index}/body/xdmEntity"),
        received_ms,
        &xaction,
    )
    .await?;
    let body = json!({"inletId": inlet_id, "batchId": xaction, "receivedTimeMs": received_ms, "responses": responses});
    Ok(json(StatusCode::MULTI_STATUS, &body))
}

async fn native_records(
    Authorized { sandbox, .. }: Authorized<IngestWrite>,
    State(state): State<Arc<AppState>>,
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
    // Where record `index` sits: the body itself for a single record, else its array slot.
    let record_pointer = |index: usize| {
        if single {
            String::new()
        } else {
            format!("/{index}")
        }
    };
    let results = ingest_many(
        &state,
        &catalog,
        records,
        |catalog, record, index, source, received| {
            state
                .engine
                .prepare(catalog, &dataset.id, record, source, received)
                .map_err(|error| at_record(&record_pointer(index), ApiError::from(error)))
        },
        record_pointer,
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
