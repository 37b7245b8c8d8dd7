//! `GET /metrics`: counters in the Prometheus text format (version 0.0.4), with `metrics.read`.
//!
//! Every guardrail hit is counted here (`rapport_guardrail_hits_total{guardrail}`), beside the
//! limits in force and a few counters the engine keeps anyway. Nothing here names a customer.

use std::fmt::Write;
use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};

use super::table::Route;
use crate::http::auth::{Authorized, MetricsRead};
use crate::state::AppState;

pub fn routes() -> Vec<Route> {
    vec![Route::keyed(Method::GET, "/metrics", metrics)]
}

/// One metric's `# HELP` and `# TYPE` lines.
fn header_lines(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

async fn metrics(_: Authorized<MetricsRead>, State(state): State<Arc<AppState>>) -> Response {
    let engine = &state.engine;
    let guardrails = engine.guardrails();
    let mut out = String::with_capacity(2048);
    header_lines(
        &mut out,
        "rapport_guardrail_hits_total",
        "counter",
        "Times each guardrail bit since the server started (a refusal, a flagged write, a trim, an isolation).",
    );
    for (name, hits) in guardrails.hits() {
        let _ = writeln!(
            out,
            "rapport_guardrail_hits_total{{guardrail=\"{name}\"}} {hits}"
        );
    }
    let limits = guardrails.limits();
    header_lines(
        &mut out,
        "rapport_guardrail_limit",
        "gauge",
        "The limit each configurable guardrail enforces (bytes, items, events or definitions).",
    );
    for (name, limit) in [
        ("identity_graph_limit", state.settings.identity_graph_limit),
        ("event_too_large", limits.max_event_bytes),
        ("record_too_large", limits.max_record_bytes),
        ("event_array_items", limits.max_event_array_items),
        ("profile_array_items", limits.max_profile_array_items),
        ("events_trimmed", limits.max_events_per_profile),
        (
            "segment_definition_limit_reached",
            limits.max_segment_definitions,
        ),
    ] {
        let _ = writeln!(
            out,
            "rapport_guardrail_limit{{guardrail=\"{name}\"}} {limit}"
        );
    }
    header_lines(
        &mut out,
        "rapport_commits_total",
        "counter",
        "Write transactions committed since the server started.",
    );
    let _ = writeln!(out, "rapport_commits_total {}", engine.commits());
    let writer = engine.writer_stats();
    let load =
        |counter: &std::sync::atomic::AtomicU64| counter.load(std::sync::atomic::Ordering::Relaxed);
    header_lines(
        &mut out,
        "rapport_writer_writes_total",
        "counter",
        "Records and events committed by the writer since the server started.",
    );
    let _ = writeln!(out, "rapport_writer_writes_total {}", load(&writer.writes));
    for (name, help, nanos) in [
        (
            "rapport_writer_apply_seconds_total",
            "Seconds the writer spent applying writes inside transactions.",
            &writer.apply_nanos,
        ),
        (
            "rapport_writer_commit_seconds_total",
            "Seconds the writer spent committing transactions (writing and syncing pages).",
            &writer.commit_nanos,
        ),
    ] {
        header_lines(&mut out, name, "counter", help);
        let _ = writeln!(out, "{name} {:.6}", load(nanos) as f64 / 1e9);
    }
    header_lines(
        &mut out,
        "rapport_store_bytes",
        "gauge",
        "Bytes the embedded store takes on disk.",
    );
    let _ = writeln!(out, "rapport_store_bytes {}", engine.disk_bytes());
    let mut response = (StatusCode::OK, out).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    response
}
