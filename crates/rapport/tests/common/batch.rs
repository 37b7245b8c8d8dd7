//! Running batches through the batch API: create, upload, complete, wait until final.

use std::time::{Duration, Instant};

use axum::http::{Method, StatusCode};
use serde_json::{json, Value};

use super::TestServer;

pub const IMPORT: &str = "/data/foundation/import/batches";

pub async fn create_batch(server: &TestServer, body: Value) -> String {
    let reply = server.post(IMPORT, body).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    assert_eq!(reply.body["status"], json!("loading"));
    reply.body["id"].as_str().expect("id").to_owned()
}

pub async fn put_file(server: &TestServer, batch: &str, dataset: &str, name: &str, bytes: Vec<u8>) {
    let reply = server
        .send_raw(
            Method::PUT,
            &format!("{IMPORT}/{batch}/datasets/{dataset}/files/{name}"),
            bytes,
            &[("content-type", "application/octet-stream")],
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
}

pub async fn complete(server: &TestServer, batch: &str) {
    let reply = server
        .post(&format!("{IMPORT}/{batch}?action=COMPLETE"), json!({}))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
}

/// Waits until the batch is final; returns its catalog representation.
pub async fn wait_final(server: &TestServer, batch: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let reply = server
            .get(&format!("/data/foundation/catalog/batches/{batch}"))
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        let state = reply.body[batch].clone();
        if matches!(
            state["status"].as_str(),
            Some("success" | "failed" | "aborted")
        ) {
            return state;
        }
        assert!(
            Instant::now() < deadline,
            "batch {batch} did not finish: {state}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Creates, uploads, completes and waits for one batch.
pub async fn run_batch(
    server: &TestServer,
    dataset: &str,
    format: Value,
    extra: Value,
    files: Vec<(&str, Vec<u8>)>,
) -> (String, Value) {
    let mut body = json!({"datasetId": dataset, "inputFormat": format});
    if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
        body.extend(extra.clone());
    }
    let batch = create_batch(server, body).await;
    for (name, bytes) in files {
        put_file(server, &batch, dataset, name, bytes).await;
    }
    complete(server, &batch).await;
    let state = wait_final(server, &batch).await;
    (batch, state)
}
