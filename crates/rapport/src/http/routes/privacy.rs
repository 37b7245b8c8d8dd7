//! Privacy requests and data hygiene, in the reference's shapes: access and delete jobs for a
//! person across every sandbox (`/data/core/privacy/jobs`, `privacy.manage`, server-wide), and
//! record delete work orders within one sandbox (`/data/core/hygiene/workorder`). The engine
//! runs them on its privacy worker; these routes queue them and report their status.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{Method, StatusCode};
use axum::response::Response;
use engine::privacy::{self, PrivacyJobFilter};

use super::table::Route;
use super::{blocking, json};
use crate::http::audit::AuditSlip;
use crate::http::auth::{Authorized, PrivacyManage};
use crate::http::error::ApiResult;
use crate::http::extract::{JsonBody, QueryPairs};
use crate::state::AppState;

const JOBS: &str = "/data/core/privacy/jobs";
const WORK_ORDERS: &str = "/data/core/hygiene/workorder";

pub fn routes() -> Vec<Route> {
    vec![
        Route::keyed(Method::POST, JOBS, create_jobs).audited_change("privacy.job.create"),
        Route::keyed(Method::GET, JOBS, list_jobs),
        Route::keyed(Method::GET, format!("{JOBS}/{{id}}"), get_job),
        Route::keyed(Method::GET, format!("{JOBS}/{{id}}/result"), get_result)
            .audited("privacy.access.download"),
        Route::keyed(Method::POST, WORK_ORDERS, create_work_order)
            .audited_change("hygiene.order.create"),
        Route::keyed(Method::GET, format!("{WORK_ORDERS}/{{id}}"), get_work_order),
    ]
}

/// `POST /data/core/privacy/jobs`: one job per person and action; answered 202 while they run.
async fn create_jobs(
    Authorized { caller, .. }: Authorized<PrivacyManage>,
    State(state): State<Arc<AppState>>,
    slip: AuditSlip,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    let engine = state.engine.clone();
    let submitted_by = caller.principal.name();
    let jobs = blocking(move || Ok(engine.create_privacy_jobs(&body, &submitted_by)?)).await?;
    let ids: Vec<&str> = jobs.iter().map(|job| job.id.as_str()).collect();
    slip.object(ids.join(","));
    Ok(json(
        StatusCode::ACCEPTED,
        &privacy::jobs::created_answer(&jobs),
    ))
}

/// `GET /data/core/privacy/jobs?regulation=&status=&page=&size=`, newest first.
async fn list_jobs(
    _: Authorized<PrivacyManage>,
    State(state): State<Arc<AppState>>,
    query: QueryPairs,
) -> ApiResult<Response> {
    let filter = PrivacyJobFilter::parse(
        query.get("regulation"),
        query.get("status"),
        query.get("page"),
        query.get("size"),
    )?;
    let page = state.engine.privacy_jobs(&filter)?;
    Ok(json(StatusCode::OK, &page.to_json()))
}

async fn get_job(
    _: Authorized<PrivacyManage>,
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    Ok(json(
        StatusCode::OK,
        &state.engine.privacy_job(&id)?.to_json(),
    ))
}

/// `GET /data/core/privacy/jobs/{id}/result`: everything an access job found about the person.
async fn get_result(
    _: Authorized<PrivacyManage>,
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let engine = state.engine.clone();
    let result = blocking(move || Ok(engine.privacy_access_result(&id)?)).await?;
    Ok(json(StatusCode::OK, &result))
}

/// `POST /data/core/hygiene/workorder`: deletes the records of the given identities in one
/// dataset (or `ALL`) of the request's sandbox.
async fn create_work_order(
    Authorized {
        sandbox, caller, ..
    }: Authorized<PrivacyManage>,
    State(state): State<Arc<AppState>>,
    slip: AuditSlip,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    let engine = state.engine.clone();
    let created_by = caller.principal.name();
    let order =
        blocking(move || Ok(engine.create_work_order(&sandbox, &body, &created_by)?)).await?;
    slip.object(order.id.clone());
    Ok(json(StatusCode::ACCEPTED, &order.to_json()))
}

async fn get_work_order(
    Authorized { sandbox, .. }: Authorized<PrivacyManage>,
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    Ok(json(
        StatusCode::OK,
        &state.engine.work_order(&sandbox, &id)?.to_json(),
    ))
}
