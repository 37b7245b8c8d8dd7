//! Segmentation (`/data/core/ups/segment/...`, `/data/core/ups/preview`, `/estimate`):
//! definitions, PQL conversion, segment jobs, previews and estimates, and Rapport's
//! explanation of one profile's membership.

use super::table::Route;
use crate::http::auth::{Authorized, ProfilesRead, SegmentsRead, SegmentsWrite};
use axum::http::Method;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use engine::segment::definitions::{self, SortField};
use engine::segment::jobs::{JobStatus, Preview, PreviewState};
use rapport_types::Code;
use serde_json::{json, Map, Value};

use super::json;
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{shown, JsonBody, QueryPairs};
use crate::state::AppState;

const DEFINITIONS: &str = "/data/core/ups/segment/definitions";
const JOBS: &str = "/data/core/ups/segment/jobs";
const DEFAULT_LIMIT: usize = 100;
const MAX_LIMIT: usize = 1000;
/// The most segments one job may name (the reference's limit).
const MAX_JOB_SEGMENTS: usize = 1500;

pub fn routes() -> Vec<Route> {
    vec![
        Route::keyed(Method::GET, DEFINITIONS, list),
        Route::keyed(Method::POST, DEFINITIONS, create),
        Route::keyed(Method::POST, format!("{DEFINITIONS}/bulk-get"), bulk_get),
        Route::keyed(Method::GET, format!("{DEFINITIONS}/{{id}}"), get_one),
        Route::keyed(Method::PATCH, format!("{DEFINITIONS}/{{id}}"), patch),
        Route::keyed(Method::DELETE, format!("{DEFINITIONS}/{{id}}"), delete),
        Route::keyed(
            Method::GET,
            format!("{DEFINITIONS}/{{id}}/explain"),
            explain,
        )
        .audited("segment.explain"),
        Route::keyed(Method::POST, "/data/core/ups/segment/conversion", convert),
        Route::keyed(Method::GET, JOBS, list_jobs),
        Route::keyed(Method::POST, JOBS, create_job),
        Route::keyed(Method::GET, format!("{JOBS}/{{id}}"), get_job),
        Route::keyed(Method::DELETE, format!("{JOBS}/{{id}}"), cancel_job),
        Route::keyed(Method::POST, "/data/core/ups/preview", create_preview),
        Route::keyed(Method::GET, "/data/core/ups/preview/{id}", get_preview)
            .audited("segment.preview.read"),
        Route::keyed(
            Method::DELETE,
            "/data/core/ups/preview/{id}",
            delete_preview,
        ),
        Route::keyed(Method::GET, "/data/core/ups/estimate/{id}", get_estimate),
    ]
}

fn limit_and_start(query: &QueryPairs) -> ApiResult<(usize, usize)> {
    let limit: usize = query
        .parse("limit", "an integer from 1 to 1000")?
        .unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::new(
            Code::InvalidParameter,
            format!("limit: {limit} is outside 1..={MAX_LIMIT}"),
        ));
    }
    let start: usize = match query.parse::<usize>("start", "a whole number")? {
        Some(start) => start,
        // `page` counts pages of `limit` from 0.
        None => query
            .parse::<usize>("page", "a whole number")?
            .unwrap_or(0)
            .saturating_mul(limit),
    };
    Ok((limit, start))
}

async fn list(
    Authorized { sandbox, .. }: Authorized<SegmentsRead>,
    State(state): State<Arc<AppState>>,
    query: QueryPairs,
) -> ApiResult<Response> {
    let catalog = state.engine.sandbox(&sandbox)?;
    let (limit, start) = limit_and_start(&query)?;
    let sort_text = query.get("sort").unwrap_or("creationTime:desc");
    let (field, direction) = sort_text.split_once(':').unwrap_or((sort_text, "desc"));
    let sort = match field {
        "creationTime" => SortField::CreationTime,
        "updateTime" => SortField::UpdateTime,
        "name" => SortField::Name,
        other => {
            return Err(ApiError::new(
                Code::InvalidParameter,
                format!("sort: \"{other}\" is not creationTime, updateTime or name"),
            ))
        }
    };
    let descending = match direction {
        "desc" => true,
        "asc" => false,
        other => {
            return Err(ApiError::new(
                Code::InvalidParameter,
                format!("sort: \"{other}\" is not asc or desc"),
            ))
        }
    };
    let flag = |name: &str| -> ApiResult<Option<bool>> { query.parse(name, "true or false") };
    let (continuous, synchronous, batch) = (
        flag("evaluationInfo.continuous.enabled")?,
        flag("evaluationInfo.synchronous.enabled")?,
        flag("evaluationInfo.batch.enabled")?,
    );
    let page = definitions::list(&catalog, sort, descending, start, limit, &|d| {
        continuous.is_none_or(|c| d.evaluation.continuous == c)
            && synchronous.is_none_or(|s| d.evaluation.synchronous == s)
            && batch.is_none_or(|b| d.evaluation.batch == b)
    });
    let segments: Vec<Value> = page
        .items
        .iter()
        .map(|d| with_state(d.to_json(sandbox.as_str()), &catalog, &d.id))
        .collect();
    let next = if start + limit < page.total {
        json!({"href": format!("{DEFINITIONS}?start={}&limit={limit}&sort={sort_text}", start + limit)})
    } else {
        json!({})
    };
    Ok(json(
        StatusCode::OK,
        &json!({
            "segments": segments,
            "page": {
                "totalCount": page.total,
                "totalPages": page.total.div_ceil(limit),
                "sortField": field,
                "sort": direction,
                "pageSize": segments.len(),
                "limit": limit,
            },
            "link": {"next": next},
        }),
    ))
}

/// Adds whether the definition can be evaluated now (Rapport's `lifecycleState` and, when it
/// cannot, why: a schema change may have removed a field it reads).
/// A definition as answered: with its lifecycle state and the data usage labels it inherits
/// from what it reads (a role without them does not see its memberships or explanations).
fn with_state(mut object: Value, catalog: &engine::SandboxCatalog, id: &str) -> Value {
    match catalog.segment_index.failed.get(id) {
        Some(reason) => {
            object["lifecycleState"] = json!("failed");
            object["evaluationError"] = json!(reason);
        }
        None => object["lifecycleState"] = json!("published"),
    }
    object["labels"] = json!(catalog.label_index.segment_labels(id));
    object
}

async fn create(
    Authorized {
        sandbox, caller, ..
    }: Authorized<SegmentsWrite>,
    State(state): State<Arc<AppState>>,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    let definition = caller
        .with_clearance(|clearance| state.engine.create_segment(&sandbox, &body, clearance))?;
    let catalog = state.engine.sandbox(&sandbox)?;
    Ok(json(
        StatusCode::OK,
        &with_state(
            definition.to_json(sandbox.as_str()),
            &catalog,
            &definition.id,
        ),
    ))
}

async fn get_one(
    Authorized { sandbox, .. }: Authorized<SegmentsRead>,
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let catalog = state.engine.sandbox(&sandbox)?;
    let definition = definitions::existing(&catalog, &id)?;
    Ok(json(
        StatusCode::OK,
        &with_state(definition.to_json(sandbox.as_str()), &catalog, &id),
    ))
}

async fn bulk_get(
    Authorized { sandbox, .. }: Authorized<SegmentsRead>,
    State(state): State<Arc<AppState>>,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    let ids = super::bulk_ids(&body, MAX_LIMIT)?;
    let catalog = state.engine.sandbox(&sandbox)?;
    let mut results = Map::new();
    for id in ids {
        let entry = match definitions::existing(&catalog, &id) {
            Ok(definition) => with_state(definition.to_json(sandbox.as_str()), &catalog, &id),
            Err(error) => ApiError::from(error).body(),
        };
        results.insert(id, entry);
    }
    Ok(json(
        StatusCode::MULTI_STATUS,
        &json!({ "results": results }),
    ))
}

async fn patch(
    Authorized {
        sandbox, caller, ..
    }: Authorized<SegmentsWrite>,
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    let definition = caller
        .with_clearance(|clearance| state.engine.patch_segment(&sandbox, &id, &body, clearance))?;
    let catalog = state.engine.sandbox(&sandbox)?;
    Ok(json(
        StatusCode::OK,
        &with_state(definition.to_json(sandbox.as_str()), &catalog, &id),
    ))
}

async fn delete(
    Authorized { sandbox, .. }: Authorized<SegmentsWrite>,
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    state.engine.delete_segment(&sandbox, &id)?;
    Ok(json(StatusCode::OK, &json!({})))
}

async fn convert(_: Authorized<SegmentsRead>, JsonBody(body): JsonBody) -> ApiResult<Response> {
    Ok(json(StatusCode::OK, &definitions::convert(&body)?))
}

async fn explain(
    Authorized {
        sandbox, caller, ..
    }: Authorized<ProfilesRead>,
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    query: QueryPairs,
) -> ApiResult<Response> {
    let catalog = state.engine.sandbox(&sandbox)?;
    // An explanation shows the values compared: not for a segment reading what the caller
    // may not see.
    if let Some(missing) = caller.redaction(&catalog).segment_denied(&id) {
        return Err(ApiError::new(
            Code::FieldAccessDenied,
            format!(
                "segment \"{id}\" reads fields labelled {}, which this caller's role is not granted, so its explanation is not shown",
                missing.join(", ")
            ),
        ));
    }
    let entity_id = query.require("entityId")?;
    let entity = state
        .engine
        .entity_ref(&catalog, entity_id, query.get("entityIdNS"))?;
    let explanation = state.engine.explain_membership(&sandbox, &id, &entity)?;
    Ok(json(StatusCode::OK, &explanation))
}

async fn create_job(
    Authorized { sandbox, .. }: Authorized<SegmentsWrite>,
    State(state): State<Arc<AppState>>,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    let Some(items) = body.as_array() else {
        return Err(ApiError::new(
            Code::InvalidParameter,
            "the body must be an array of {\"segmentId\": ...} (\"*\" for every definition)",
        ));
    };
    if items.is_empty() {
        return Err(ApiError::new(
            Code::MissingParameter,
            "the body must name at least one segment (\"*\" for every definition)",
        ));
    }
    if items.len() > MAX_JOB_SEGMENTS {
        return Err(ApiError::new(
            Code::TooManyItems,
            format!(
                "{} segments, at most {MAX_JOB_SEGMENTS} per job; use \"*\" for every definition",
                items.len()
            ),
        ));
    }
    let mut ids = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        match item.get("segmentId") {
            Some(Value::String(id)) => ids.push(id.clone()),
            other => {
                return Err(ApiError::new(
                    Code::InvalidParameter,
                    format!(
                        "/{i}/segmentId: expected a segment definition id, found {}",
                        other.map(shown).unwrap_or_else(|| "nothing".into())
                    ),
                ))
            }
        }
    }
    let segment_ids = if ids.iter().any(|id| id == "*") {
        None
    } else {
        Some(ids)
    };
    let job = state
        .engine
        .segment_jobs()
        .create_job(&sandbox, segment_ids)?;
    let catalog = state.engine.sandbox(&sandbox)?;
    Ok(json(StatusCode::OK, &job.to_json(&catalog)))
}

async fn list_jobs(
    Authorized { sandbox, .. }: Authorized<SegmentsRead>,
    State(state): State<Arc<AppState>>,
    query: QueryPairs,
) -> ApiResult<Response> {
    let (limit, start) = limit_and_start(&query)?;
    let status = match query.get("status") {
        None => None,
        Some(text) => Some(JobStatus::parse(text).ok_or_else(|| {
            ApiError::new(
                Code::InvalidParameter,
                format!("status: \"{text}\" is not NEW, QUEUED, PROCESSING, SUCCEEDED, FAILED, CANCELLING or CANCELLED"),
            )
        })?),
    };
    let catalog = state.engine.sandbox(&sandbox)?;
    let jobs: Vec<_> = state
        .engine
        .segment_jobs()
        .jobs(&sandbox)
        .into_iter()
        .filter(|j| status.is_none_or(|s| j.status == s))
        .collect();
    let total = jobs.len();
    let children: Vec<Value> = jobs
        .iter()
        .skip(start)
        .take(limit)
        .map(|j| j.to_json(&catalog))
        .collect();
    let next = if start + limit < total {
        json!({"href": format!("{JOBS}?start={}&limit={limit}", start + limit)})
    } else {
        json!({})
    };
    Ok(json(
        StatusCode::OK,
        &json!({"_page": {"totalCount": total, "pageSize": children.len()}, "children": children, "_links": {"next": next}}),
    ))
}

async fn get_job(
    Authorized { sandbox, .. }: Authorized<SegmentsRead>,
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let job = state.engine.segment_jobs().job(&sandbox, &id)?;
    let catalog = state.engine.sandbox(&sandbox)?;
    Ok(json(StatusCode::OK, &job.to_json(&catalog)))
}

async fn cancel_job(
    Authorized { sandbox, .. }: Authorized<SegmentsWrite>,
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let job = state.engine.segment_jobs().cancel(&sandbox, &id)?;
    let catalog = state.engine.sandbox(&sandbox)?;
    Ok(json(StatusCode::OK, &job.to_json(&catalog)))
}

async fn create_preview(
    Authorized {
        sandbox, caller, ..
    }: Authorized<SegmentsRead>,
    State(state): State<Arc<AppState>>,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    let expression = match body.get("predicateExpression") {
        Some(Value::String(text)) => text.clone(),
        Some(other) => {
            return Err(ApiError::new(
                Code::InvalidParameter,
                format!(
                    "/predicateExpression: expected PQL text, found {}",
                    shown(other)
                ),
            ))
        }
        None => {
            return Err(ApiError::new(
                Code::MissingParameter,
                "/predicateExpression: required, the PQL expression to preview",
            ))
        }
    };
    match body.get("predicateType").and_then(Value::as_str) {
        None | Some("pql/text") => {}
        Some(other) => {
            return Err(ApiError::new(
                Code::InvalidParameter,
                format!("/predicateType: \"{other}\" is not pql/text"),
            ))
        }
    }
    if let Some(model) = body.get("predicateModel").and_then(Value::as_str) {
        if model != definitions::PROFILE_SCHEMA_NAME {
            return Err(ApiError::new(
                Code::InvalidParameter,
                format!(
                    "/predicateModel: \"{model}\" is not {}",
                    definitions::PROFILE_SCHEMA_NAME
                ),
            ));
        }
    }
    let preview = caller.with_clearance(|clearance| {
        state
            .engine
            .segment_jobs()
            .create_preview(&sandbox, &expression, clearance)
    })?;
    Ok(json(
        StatusCode::CREATED,
        &json!({
            "state": preview.state.as_str(),
            "previewQueryId": preview.id,
            "previewQueryStatus": preview.state.as_str(),
            "previewId": preview.id,
            "previewExecutionId": 0,
        }),
    ))
}

fn preview_links(preview: &Preview) -> Value {
    json!({"_self": format!("/data/core/ups/preview/{}", preview.id), "next": "", "prev": ""})
}

async fn get_preview(
    Authorized {
        sandbox, caller, ..
    }: Authorized<SegmentsRead>,
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let preview = state.engine.segment_jobs().preview(&sandbox, &id)?;
    let redaction = caller.redaction(&*state.engine.sandbox(&sandbox)?);
    let results: Vec<Value> = preview
        .sample
        .iter()
        .map(|(profile_id, primary)| {
            // An XID encodes its value: one of a namespace the caller may not see is not shown,
            // and the profile is named by its id.
            let key = primary
                .as_ref()
                .filter(|identity| !redaction.namespace_masked(&identity.namespace))
                .map(engine::identity::xid::encode)
                .unwrap_or_else(|| profile_id.to_string());
            let href = format!("/data/core/ups/access/entities?entityId={profile_id}");
            json!({ key.clone(): {"_href": href, "entityId": profile_id.to_string(), "endCustomerIds": {key: {"_href": href}}} })
        })
        .collect();
    let mut body = json!({
        "results": results,
        "state": preview.state.as_str(),
        "links": preview_links(&preview),
        "page": {"offset": 0, "size": preview.sample.len()},
    });
    if let Some(error) = &preview.error {
        body["error"] = json!({"description": error});
    }
    Ok(json(StatusCode::OK, &body))
}

async fn delete_preview(
    Authorized { sandbox, .. }: Authorized<SegmentsRead>,
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    state.engine.segment_jobs().delete_preview(&sandbox, &id)?;
    Ok(json(StatusCode::OK, &json!({})))
}

async fn get_estimate(
    Authorized { sandbox, .. }: Authorized<SegmentsRead>,
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let preview = state.engine.segment_jobs().preview(&sandbox, &id)?;
    let ready = preview.state == PreviewState::ResultReady;
    let distribution: Vec<Value> = preview
        .by_namespace
        .iter()
        .map(|(namespace, n)| json!({"namespaceId": namespace, "profilesMatchedSoFar": n}))
        .collect();
    let mut body = json!({
        "estimatedSize": preview.matched,
        "numRowsToRead": preview.profiles_read,
        "profilesReadSoFar": preview.profiles_read,
        "profilesMatchedSoFar": preview.matched,
        "totalRows": preview.profiles_read,
        "estimatedNamespaceDistribution": distribution,
        "state": preview.state.as_str(),
        "standardError": if ready { json!(0.0) } else { Value::Null },
        // Every profile is evaluated, so the estimate is the exact count.
        "confidenceInterval": "100%",
        "_links": {"preview": format!("/data/core/ups/preview/{}", preview.id)},
    });
    if let Some(error) = &preview.error {
        body["error"] = json!({"description": error, "traceback": ""});
    }
    Ok(json(StatusCode::OK, &body))
}
