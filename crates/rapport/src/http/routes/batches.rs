//! Batch ingestion (`/data/foundation/import/batches`), batch status in the Catalog
//! (`/data/foundation/catalog/batches`), and error reports (`/data/foundation/export/batches`).

use super::table::Route;
use crate::http::auth::{Authorized, IngestRead, IngestWrite};
use axum::http::Method;
use std::io::SeekFrom;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use engine::batch::{Batch, MAX_SINGLE_UPLOAD_BYTES};
use http_body_util::BodyExt;
use rapport_types::{Code, SandboxName};
use serde_json::{json, Map, Value};
use tokio::io::{AsyncSeekExt, AsyncWriteExt};

use super::{blocking, json};
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{JsonBody, QueryPairs};
use crate::state::AppState;

const IMPORT: &str = "/data/foundation/import/batches";

pub fn routes() -> Vec<Route> {
    vec![
        Route::keyed(Method::POST, IMPORT, create),
        Route::keyed(Method::POST, format!("{IMPORT}/{{id}}"), batch_action),
        Route::keyed(
            Method::PUT,
            format!("{IMPORT}/{{id}}/datasets/{{dataset}}/files/{{name}}"),
            upload,
        )
        .long(),
        Route::keyed(
            Method::POST,
            format!("{IMPORT}/{{id}}/datasets/{{dataset}}/files/{{name}}"),
            file_action,
        )
        .long(),
        Route::keyed(
            Method::PATCH,
            format!("{IMPORT}/{{id}}/datasets/{{dataset}}/files/{{name}}"),
            upload_chunk,
        )
        .long(),
        Route::keyed(Method::GET, "/data/foundation/catalog/batches", list),
        Route::keyed(
            Method::GET,
            "/data/foundation/catalog/batches/{id}",
            get_one,
        ),
        Route::keyed(
            Method::GET,
            "/data/foundation/export/batches/{id}/meta",
            meta,
        )
        .audited("batch.errors.download"),
    ]
}

async fn create(
    Authorized { sandbox, .. }: Authorized<IngestWrite>,
    State(state): State<Arc<AppState>>,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    let engine = state.engine.clone();
    let batch = blocking(move || {
        let catalog = engine.sandbox(&sandbox)?;
        Ok(engine.batches().create(&sandbox, &catalog, &body)?)
    })
    .await?;
    Ok(json(StatusCode::CREATED, &batch.to_json()))
}

async fn batch_action(
    Authorized { sandbox, .. }: Authorized<IngestWrite>,
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    query: QueryPairs,
) -> ApiResult<Response> {
    let action = query.require("action")?.to_ascii_uppercase();
    let engine = state.engine.clone();
    let batch = blocking(move || match action.as_str() {
        "COMPLETE" => Ok(engine.batches().complete(&sandbox, &id)?),
        "ABORT" => Ok(engine.batches().abort(&sandbox, &id)?),
        other => Err(ApiError::new(
            Code::InvalidParameter,
            format!("action: \"{other}\" is not COMPLETE or ABORT"),
        )),
    })
    .await?;
    Ok(json(
        StatusCode::OK,
        &json!({ batch.id.clone(): batch.to_json() }),
    ))
}

/// The file of a loading batch, checked by the engine.
async fn file_path(
    state: &AppState,
    sandbox: &SandboxName,
    id: &str,
    dataset: &str,
    name: &str,
) -> ApiResult<std::path::PathBuf> {
    let engine = state.engine.clone();
    let (sandbox, id, dataset, name) = (
        sandbox.clone(),
        id.to_owned(),
        dataset.to_owned(),
        name.to_owned(),
    );
    blocking(move || Ok(engine.batches().file_path(&sandbox, &id, &dataset, &name)?)).await
}

fn io_error(error: std::io::Error) -> ApiError {
    ApiError::new(
        Code::Internal,
        format!("writing the uploaded file failed: {error}"),
    )
}

/// Streams a request body into `file` from its current position; returns the bytes written.
async fn stream_into(file: &mut tokio::fs::File, body: Body, limit: u64) -> ApiResult<u64> {
    let mut body = body;
    let mut written = 0u64;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| {
            ApiError::new(Code::MalformedJson, format!("the upload was cut off: {e}"))
        })?;
        if let Ok(data) = frame.into_data() {
            written += data.len() as u64;
            if written > limit {
                return Err(ApiError::new(
                    Code::PayloadTooLarge,
                    format!("a single upload takes at most {limit} bytes; send larger files in chunks (action=INITIALIZE, PATCH with Content-Range, action=COMPLETE)"),
                ));
            }
            file.write_all(&data).await.map_err(io_error)?;
        }
    }
    file.flush().await.map_err(io_error)?;
    file.sync_data().await.map_err(io_error)?;
    Ok(written)
}

async fn record_file(
    state: &AppState,
    sandbox: SandboxName,
    id: String,
    name: String,
    bytes: u64,
    complete: bool,
) -> ApiResult<Batch> {
    let engine = state.engine.clone();
    blocking(move || {
        Ok(engine
            .batches()
            .file_written(&sandbox, &id, &name, bytes, complete)?)
    })
    .await
}

/// `PUT .../files/{name}`: the whole file in one request.
async fn upload(
    Authorized { sandbox, .. }: Authorized<IngestWrite>,
    State(state): State<Arc<AppState>>,
    Path((id, dataset, name)): Path<(String, String, String)>,
    body: Body,
) -> ApiResult<Response> {
    let path = file_path(&state, &sandbox, &id, &dataset, &name).await?;
    let mut file = tokio::fs::File::create(&path).await.map_err(io_error)?;
    let written = stream_into(&mut file, body, MAX_SINGLE_UPLOAD_BYTES).await?;
    record_file(&state, sandbox, id, name, written, true).await?;
    Ok(StatusCode::OK.into_response())
}

/// `POST .../files/{name}?action=INITIALIZE|COMPLETE`: the two ends of a chunked upload.
async fn file_action(
    Authorized { sandbox, .. }: Authorized<IngestWrite>,
    State(state): State<Arc<AppState>>,
    Path((id, dataset, name)): Path<(String, String, String)>,
    query: QueryPairs,
) -> ApiResult<Response> {
    let path = file_path(&state, &sandbox, &id, &dataset, &name).await?;
    match query.require("action")?.to_ascii_uppercase().as_str() {
        "INITIALIZE" => {
            tokio::fs::File::create(&path).await.map_err(io_error)?;
            record_file(&state, sandbox, id, name, 0, false).await?;
        }
        "COMPLETE" => {
            let size = tokio::fs::metadata(&path).await.map_err(|_| {
                ApiError::new(
                    Code::InvalidBatch,
                    format!("file \"{name}\" was never initialized; start with action=INITIALIZE"),
                )
            })?;
            record_file(&state, sandbox, id, name, size.len(), true).await?;
        }
        other => {
            return Err(ApiError::new(
                Code::InvalidParameter,
                format!("action: \"{other}\" is not INITIALIZE or COMPLETE"),
            ))
        }
    }
    Ok(StatusCode::CREATED.into_response())
}

/// Parses `Content-Range: bytes START-END[/TOTAL]` into (start, end inclusive).
fn content_range(headers: &HeaderMap) -> ApiResult<(u64, u64)> {
    let text = headers
        .get("content-range")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| {
            ApiError::new(
                Code::MissingParameter,
                "content-range: a chunk needs the header Content-Range: bytes START-END",
            )
        })?;
    let range = text
        .trim()
        .strip_prefix("bytes")
        .map(str::trim)
        .unwrap_or("");
    let range = range.split('/').next().unwrap_or("");
    let parsed = range
        .split_once('-')
        .and_then(|(a, b)| Some((a.trim().parse::<u64>().ok()?, b.trim().parse::<u64>().ok()?)));
    match parsed {
        Some((start, end)) if start <= end => Ok((start, end)),
        _ => Err(ApiError::new(
            Code::InvalidParameter,
            format!("content-range: \"{text}\" is not \"bytes START-END\" with START <= END"),
        )),
    }
}

/// `PATCH .../files/{name}` with `Content-Range`: one chunk written at its offset.
async fn upload_chunk(
    Authorized { sandbox, .. }: Authorized<IngestWrite>,
    State(state): State<Arc<AppState>>,
    Path((id, dataset, name)): Path<(String, String, String)>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Response> {
    let (start, end) = content_range(&headers)?;
    let path = file_path(&state, &sandbox, &id, &dataset, &name).await?;
    let mut file = tokio::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .await
        .map_err(|_| {
            ApiError::new(
                Code::InvalidBatch,
                format!("file \"{name}\" was never initialized; start with action=INITIALIZE"),
            )
        })?;
    file.seek(SeekFrom::Start(start)).await.map_err(io_error)?;
    let expected = end - start + 1;
    let written = stream_into(&mut file, body, expected).await?;
    if written != expected {
        return Err(ApiError::new(
            Code::InvalidParameter,
            format!(
                "content-range: the header announces {expected} bytes but the body has {written}"
            ),
        ));
    }
    let size = file.metadata().await.map_err(io_error)?.len();
    record_file(&state, sandbox, id, name, size, false).await?;
    Ok(StatusCode::OK.into_response())
}

async fn list(
    Authorized { sandbox, .. }: Authorized<IngestRead>,
    State(state): State<Arc<AppState>>,
    query: QueryPairs,
) -> ApiResult<Response> {
    let limit: usize = query
        .parse("limit", "a positive integer")?
        .unwrap_or(50)
        .clamp(1, 1000);
    let batches = state.engine.batches().list(&sandbox);
    let keyed: Map<String, Value> = batches
        .iter()
        .take(limit)
        .map(|b| (b.id.clone(), state.engine.batches().to_json(b)))
        .collect();
    Ok(json(StatusCode::OK, &Value::Object(keyed)))
}

async fn get_one(
    Authorized { sandbox, .. }: Authorized<IngestRead>,
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let batch = state.engine.batches().get(&sandbox, &id).ok_or_else(|| {
        ApiError::new(
            Code::BatchNotFound,
            format!("no batch \"{id}\" exists in this sandbox"),
        )
    })?;
    Ok(json(
        StatusCode::OK,
        &json!({ batch.id.clone(): state.engine.batches().to_json(&batch) }),
    ))
}

/// `GET /export/batches/{id}/meta?path=row_errors` lists the error files;
/// `path=row_errors/<file>` returns one (JSON Lines of bad rows).
async fn meta(
    Authorized {
        sandbox, caller, ..
    }: Authorized<IngestRead>,
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    query: QueryPairs,
) -> ApiResult<Response> {
    let path = query.require("path")?;
    let batches = state.engine.batches();
    match path.split_once('/') {
        None if path == "row_errors" => {
            let files = batches.error_files(&sandbox, &id)?;
            let data: Vec<Value> = files
                .iter()
                .map(|(name, length)| {
                    let href = format!("/data/foundation/export/batches/{id}/meta?path=row_errors%2F{name}");
                    json!({"name": name, "length": length.to_string(), "_links": {"self": {"href": href}}})
                })
                .collect();
            Ok(json(
                StatusCode::OK,
                &json!({"data": data, "_page": {"limit": 100, "count": files.len()}}),
            ))
        }
        Some(("row_errors", name)) => {
            // An error report holds the rows as they were sent, labelled fields and all: not
            // for a caller whose role may not see some of them.
            let catalog = state.engine.sandbox(&sandbox)?;
            if !caller.redaction(&catalog).is_empty() {
                return Err(ApiError::new(
                    Code::FieldAccessDenied,
                    "path: a batch's row errors repeat the rows as sent, which carry fields labelled for roles this caller's role is not; ask with a key that may see every label",
                ));
            }
            let file = batches.error_file(&sandbox, &id, name)?;
            let bytes = tokio::fs::read(&file)
                .await
                .map_err(|e| ApiError::new(Code::Internal, format!("reading {name}: {e}")))?;
            let mut response = (StatusCode::OK, bytes).into_response();
            response.headers_mut().insert(
                axum::http::header::CONTENT_TYPE,
                axum::http::HeaderValue::from_static("application/x-ndjson"),
            );
            Ok(response)
        }
        _ => Err(ApiError::new(
            Code::InvalidParameter,
            format!("path: \"{path}\" is not row_errors or row_errors/<file>"),
        )),
    }
}
