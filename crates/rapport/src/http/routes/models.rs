//! Rapport's built-in models (`/data/rapport/models`): train lifetime value and churn
//! propensity on the sandbox's own events, follow a training run, and read the models with
//! their quality reports.

use super::table::Route;
use crate::http::auth::{Authorized, ModelsRead, ModelsWrite};
use axum::http::Method;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use engine::segment::jobs::TrainingRun;
use engine::time::format_rfc3339_ms;
use rapport_types::Code;
use serde_json::{json, Value};

use super::json;
use crate::http::error::{ApiError, ApiResult};
use crate::state::AppState;

const MODELS: &str = "/data/rapport/models";

pub fn routes() -> Vec<Route> {
    vec![
        Route::keyed(Method::GET, MODELS, current),
        Route::keyed(Method::POST, format!("{MODELS}/train"), train),
        Route::keyed(Method::GET, format!("{MODELS}/train/{{id}}"), run),
        Route::keyed(Method::GET, format!("{MODELS}/churn/report"), churn_report),
        Route::keyed(
            Method::GET,
            format!("{MODELS}/lifetime-value/report"),
            lifetime_report,
        ),
    ]
}

fn run_json(run: &TrainingRun) -> Value {
    json!({
        "id": run.id,
        "status": run.status.as_str(),
        "phase": run.phase,
        "source": run.source,
        "profilesRead": run.profiles_read,
        "startTime": run.start_ms.map(|t| format_rfc3339_ms(t, true)),
        "endTime": run.end_ms.map(|t| format_rfc3339_ms(t, true)),
        "modelVersion": run.model_version,
        "error": run.error,
        "settings": run.settings,
    })
}

/// `POST /data/rapport/models/train`: the body holds the settings (all optional).
async fn train(
    Authorized { sandbox, .. }: Authorized<ModelsWrite>,
    State(state): State<Arc<AppState>>,
    body: axum::body::Bytes,
) -> ApiResult<Response> {
    let settings: Value = if body.iter().all(u8::is_ascii_whitespace) {
        Value::Null
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| ApiError::new(Code::MalformedJson, format!("the body is not JSON: {e}")))?
    };
    let run = state.engine.train_models(&sandbox, &settings)?;
    Ok(json(StatusCode::ACCEPTED, &run_json(&run)))
}

async fn run(
    Authorized { sandbox, .. }: Authorized<ModelsRead>,
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let run = state.engine.training(&sandbox, &id)?;
    Ok(json(StatusCode::OK, &run_json(&run)))
}

async fn current(
    Authorized { sandbox, .. }: Authorized<ModelsRead>,
    State(state): State<Arc<AppState>>,
) -> ApiResult<Response> {
    let models = state.engine.models(&sandbox)?;
    Ok(json(
        StatusCode::OK,
        &json!({
            "version": models.version,
            "trainedAt": format_rfc3339_ms(models.trained_ms, true),
            "cutoff": format_rfc3339_ms(models.cutoff_ms, true),
            "asOf": format_rfc3339_ms(models.as_of_ms, true),
            "settings": models.settings,
            "lifetimeValue": {"model": models.lifetime, "report": models.lifetime_report},
            "churn": {"model": models.churn, "report": models.churn_report},
            "problems": models.problems,
        }),
    ))
}

async fn churn_report(
    Authorized { sandbox, .. }: Authorized<ModelsRead>,
    State(state): State<Arc<AppState>>,
) -> ApiResult<Response> {
    let models = state.engine.models(&sandbox)?;
    let report = models.churn_report.as_ref().ok_or_else(|| {
        ApiError::new(
            Code::ModelsNotTrained,
            format!(
                "the churn model could not be fitted: {}",
                models.problems.join("; ")
            ),
        )
    })?;
    Ok(json(
        StatusCode::OK,
        &json!({"version": models.version, "model": models.churn, "report": report}),
    ))
}

async fn lifetime_report(
    Authorized { sandbox, .. }: Authorized<ModelsRead>,
    State(state): State<Arc<AppState>>,
) -> ApiResult<Response> {
    let models = state.engine.models(&sandbox)?;
    let report = models.lifetime_report.as_ref().ok_or_else(|| {
        ApiError::new(
            Code::ModelsNotTrained,
            format!(
                "the lifetime value model could not be fitted: {}",
                models.problems.join("; ")
            ),
        )
    })?;
    Ok(json(
        StatusCode::OK,
        &json!({"version": models.version, "model": models.lifetime, "report": report}),
    ))
}
