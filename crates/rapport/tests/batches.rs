//! Batch ingestion through the reference's batch API: formats, bad rows and the threshold, the
//! error report, chunked uploads, idempotent re-ingestion, and a restart mid-processing.

use std::io::Write;
use std::time::{Duration, Instant};

use axum::http::{Method, StatusCode};
use serde_json::{json, Value};

use rapport::options::ServeOptions;
use rapport::xdm_parquet::ParquetRecordWriter;

use crate::common::batch::{complete, create_batch, put_file, run_batch, wait_final, IMPORT};
use crate::common::{assert_problem, only_entity, TestServer, PROFILE_GROUPS};

fn crm_line(i: usize) -> String {
    json!({"identityMap": {"CRMID": [{"id": format!("CRM-{i}"), "primary": true}], "Email": [{"id": format!("p{i}@example.com")}]}, "person": {"name": {"firstName": format!("Person {i}")}}, "loyalty": {"tier": "gold", "points": i as f64}})
        .to_string()
}

fn lines(items: &[String]) -> Vec<u8> {
    let mut text = items.join("\n");
    text.push('\n');
    text.into_bytes()
}

/// The rows of one error report file (JSON Lines) of a batch.
async fn error_rows(server: &TestServer, batch: &str, name: &str) -> Vec<Value> {
    let reply = server
        .get(&format!(
            "/data/foundation/export/batches/{batch}/meta?path=row_errors%2F{name}"
        ))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    // A one-line report reads as a JSON object, a longer one as text.
    let text = match &reply.body {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    };
    text.lines()
        .map(|l| serde_json::from_str::<Value>(l).expect("json line"))
        .collect()
}

async fn first_name(server: &TestServer, email: &str) -> Option<Value> {
    let reply = server.profile("Email", email).await;
    (reply.status == StatusCode::OK)
        .then(|| only_entity(&reply.body).1["entity"]["person"]["name"]["firstName"].clone())
}

#[tokio::test(flavor = "multi_thread")]
async fn json_lines_batch_lands_every_record_and_reports_its_metrics() {
    let server = TestServer::start();
    let company = server.company(&[]).await;
    let records: Vec<String> = (0..50).map(crm_line).collect();
    let (_, state) = run_batch(
        &server,
        &company.crm,
        json!({"format": "json"}),
        json!({}),
        vec![("crm.jsonl", lines(&records))],
    )
    .await;
    assert_eq!(state["status"], json!("success"), "{state}");
    assert_eq!(state["metrics"]["inputRecordCount"], json!(50));
    assert_eq!(state["metrics"]["outputRecordCount"], json!(50));
    assert_eq!(state["metrics"]["failedRecordCount"], json!(0));
    assert_eq!(state["metrics"]["inputFileCount"], json!(1));
    assert_eq!(state["relatedObjects"][0]["id"], json!(company.crm));
    assert_eq!(
        first_name(&server, "p7@example.com").await,
        Some(json!("Person 7"))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn multi_line_json_csv_and_gzip_files_are_read() {
    let server = TestServer::start();
    let company = server.company(&[]).await;
    let pretty = serde_json::to_vec_pretty(&json!([
        serde_json::from_str::<Value>(&crm_line(1)).expect("json"),
        serde_json::from_str::<Value>(&crm_line(2)).expect("json")
    ]))
    .expect("json");
    let (_, state) = run_batch(
        &server,
        &company.crm,
        json!({"format": "json", "isMultiLineJson": true}),
        json!({}),
        vec![("crm.json", pretty)],
    )
    .await;
    assert_eq!(state["status"], json!("success"), "{state}");
    assert_eq!(
        first_name(&server, "p2@example.com").await,
        Some(json!("Person 2"))
    );

    let csv = "identityMap.CRMID.0.id,identityMap.CRMID.0.primary,identityMap.Email.0.id,person.name.firstName,loyalty.points\nCRM-3,true,p3@example.com,Three,12.5\nCRM-4,true,p4@example.com,\"Four, Jr\",7\n";
    let (_, state) = run_batch(
        &server,
        &company.crm,
        json!({"format": "csv"}),
        json!({}),
        vec![("crm.csv", csv.as_bytes().to_vec())],
    )
    .await;
    assert_eq!(state["status"], json!("success"), "{state}");
    assert_eq!(
        first_name(&server, "p4@example.com").await,
        Some(json!("Four, Jr"))
    );
    let reply = server.profile("Email", "p3@example.com").await;
    assert_eq!(
        only_entity(&reply.body).1["entity"]["loyalty"]["points"],
        json!(12.5)
    );

    let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gzip.write_all(&lines(&[crm_line(5)])).expect("gzip");
    let (_, state) = run_batch(
        &server,
        &company.crm,
        json!({"format": "json"}),
        json!({}),
        vec![("crm.jsonl.gz", gzip.finish().expect("gzip"))],
    )
    .await;
    assert_eq!(state["status"], json!("success"), "{state}");
    assert_eq!(
        first_name(&server, "p5@example.com").await,
        Some(json!("Person 5"))
    );
}

/// One good row and one of each bad kind, in JSON Lines.
fn mixed_rows() -> Vec<String> {
    vec![
        crm_line(10),
        "{not json at all".to_owned(),
        json!({"identityMap": {"CRMID": [{"id": "CRM-11", "primary": true}]}, "person": {"birthDate": "31/12/1990"}}).to_string(),
        json!({"identityMap": {"CRMID": [{"id": "CRM-12", "primary": true}]}, "person": {"nickname": "Dodo"}}).to_string(),
        json!({"identityMap": {"Email": [{"id": "test@test.com", "primary": true}]}, "person": {"name": {"firstName": "Placeholder"}}}).to_string(),
        crm_line(13),
    ]
}

/// A server whose block list holds the placeholder email of `mixed_rows`.
fn server_blocking_placeholders() -> TestServer {
    TestServer::with_options(ServeOptions {
        blocked_identity_values: Some(vec!["test@test.com".into()]),
        ..ServeOptions::default()
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn a_batch_over_its_threshold_fails_whole_and_applies_nothing() {
    let server = server_blocking_placeholders();
    let company = server.company(&[]).await;
    let (batch, state) = run_batch(
        &server,
        &company.crm,
        json!({"format": "json"}),
        json!({"enableErrorDiagnostics": true, "partialIngestionPercent": 10}),
        vec![("mixed.jsonl", lines(&mixed_rows()))],
    )
    .await;
    assert_eq!(state["status"], json!("failed"), "{state}");
    assert_eq!(state["metrics"]["inputRecordCount"], json!(6));
    assert_eq!(state["metrics"]["failedRecordCount"], json!(4));
    assert_eq!(state["errors"][0]["code"], json!("INGEST-1212-400"));
    assert!(state["errors"][0]["description"]
        .as_str()
        .expect("text")
        .contains(&batch));
    assert_eq!(
        first_name(&server, "p10@example.com").await,
        None,
        "nothing of a failed batch lands"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn within_its_threshold_good_rows_land_and_each_bad_row_is_reported_with_line_text_and_reason(
) {
    let server = server_blocking_placeholders();
    let company = server.company(&[]).await;
    let (batch, state) = run_batch(
        &server,
        &company.crm,
        json!({"format": "json"}),
        json!({"enableErrorDiagnostics": true, "partialIngestionPercent": 70}),
        vec![("mixed.jsonl", lines(&mixed_rows()))],
    )
    .await;
    assert_eq!(state["status"], json!("success"), "{state}");
    assert_eq!(state["metrics"]["outputRecordCount"], json!(2));
    assert_eq!(state["metrics"]["failedRecordCount"], json!(4));
    assert_eq!(
        first_name(&server, "p13@example.com").await,
        Some(json!("Person 13"))
    );

    let listing = server
        .get(&format!(
            "/data/foundation/export/batches/{batch}/meta?path=row_errors"
        ))
        .await;
    assert_eq!(listing.status, StatusCode::OK, "{}", listing.body);
    let names: Vec<&str> = listing.body["data"]
        .as_array()
        .expect("data")
        .iter()
        .filter_map(|f| f["name"].as_str())
        .collect();
    assert_eq!(
        names,
        vec!["conversion_errors_0.json", "parsing_errors_0.json"]
    );
    let mut rows = Vec::new();
    for name in names {
        rows.extend(error_rows(&server, &batch, name).await);
    }
    rows.sort_by_key(|r| r["_line"].as_u64());
    let summary: Vec<(u64, String, String)> = rows
        .iter()
        .map(|r| {
            (
                r["_line"].as_u64().expect("line"),
                r["_errors"][0]["code"].as_str().expect("code").to_owned(),
                r["_errors"][0]["message"]
                    .as_str()
                    .expect("message")
                    .to_owned(),
            )
        })
        .collect();
    assert_eq!(summary.len(), 4);
    assert_eq!((summary[0].0, summary[0].1.as_str()), (2, "1401"));
    assert_eq!(rows[0]["_corrupt_record"], json!("{not json at all"));
    assert_eq!(rows[0]["_filename"], json!("mixed.jsonl"));
    assert_eq!((summary[1].0, summary[1].1.as_str()), (3, "1555"));
    assert!(
        summary[1].2.contains("/person/birthDate"),
        "{}",
        summary[1].2
    );
    assert!(
        summary[2].2.contains("nickname"),
        "the unknown field is named: {}",
        summary[2].2
    );
    assert!(
        summary[3].2.contains("test@test.com"),
        "the blocked identity is named: {}",
        summary[3].2
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn without_a_threshold_one_bad_row_fails_the_batch() {
    let server = TestServer::start();
    let company = server.company(&[]).await;
    let (_, state) = run_batch(
        &server,
        &company.crm,
        json!({"format": "json"}),
        json!({}),
        vec![("mixed.jsonl", lines(&mixed_rows()))],
    )
    .await;
    assert_eq!(state["status"], json!("failed"), "{state}");
    assert_eq!(state["errors"][0]["code"], json!("INGEST-1211-400"));
    assert_eq!(first_name(&server, "p10@example.com").await, None);
}

#[tokio::test(flavor = "multi_thread")]
async fn sending_the_same_events_twice_updates_rather_than_duplicates() {
    let server = TestServer::start();
    let company = server.company(&[]).await;
    let events: Vec<String> = (0..20)
        .map(|i| json!({"_id": format!("evt-{i}"), "timestamp": format!("2026-03-01T10:{i:02}:00Z"), "identityMap": {"Email": [{"id": "same@example.com"}]}, "web": {"webPageDetails": {"name": format!("page {i}")}}}).to_string())
        .collect();
    for _ in 0..2 {
        let (_, state) = run_batch(
            &server,
            &company.web,
            json!({"format": "json"}),
            json!({}),
            vec![("events.jsonl", lines(&events))],
        )
        .await;
        assert_eq!(state["status"], json!("success"), "{state}");
    }
    let (all, _) = server.all_events("Email", "same@example.com", "").await;
    assert_eq!(all.len(), 20);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_chunked_upload_is_assembled_in_order() {
    let server = TestServer::start();
    let company = server.company(&[]).await;
    let data = lines(&(0..200).map(crm_line).collect::<Vec<_>>());
    let batch = create_batch(
        &server,
        json!({"datasetId": company.crm, "inputFormat": {"format": "json"}}),
    )
    .await;
    let file = format!("{IMPORT}/{batch}/datasets/{}/files/big.jsonl", company.crm);
    let reply = server
        .send_raw(
            Method::POST,
            &format!("{file}?action=INITIALIZE"),
            Vec::new(),
            &[],
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    let early = server
        .post(&format!("{IMPORT}/{batch}?action=COMPLETE"), json!({}))
        .await;
    assert_problem(&early, 400, "invalid_batch", &["big.jsonl"]);
    // Chunks out of order still land at their offsets.
    let middle = data.len() / 2;
    for (start, end) in [(middle, data.len()), (0, middle)] {
        let range = format!("bytes {start}-{}/{}", end - 1, data.len());
        let reply = server
            .send_raw(
                Method::PATCH,
                &file,
                data[start..end].to_vec(),
                &[
                    ("content-type", "application/octet-stream"),
                    ("content-range", &range),
                ],
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    }
    let reply = server
        .send_raw(
            Method::POST,
            &format!("{file}?action=COMPLETE"),
            Vec::new(),
            &[],
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    complete(&server, &batch).await;
    let state = wait_final(&server, &batch).await;
    assert_eq!(state["status"], json!("success"), "{state}");
    assert_eq!(state["metrics"]["outputRecordCount"], json!(200));
    assert_eq!(state["metrics"]["inputByteSize"], json!(data.len()));
}

#[tokio::test(flavor = "multi_thread")]
async fn batch_requests_name_what_is_wrong() {
    let server = TestServer::start();
    let company = server.company(&[]).await;
    let reply = server
        .post(
            IMPORT,
            json!({"datasetId": "nope", "inputFormat": {"format": "json"}}),
        )
        .await;
    assert_problem(&reply, 404, "dataset_not_found", &["/datasetId"]);
    let reply = server
        .post(
            IMPORT,
            json!({"datasetId": company.crm, "inputFormat": {"format": "xml"}}),
        )
        .await;
    assert_problem(
        &reply,
        400,
        "invalid_batch",
        &["/inputFormat/format", "xml"],
    );
    let reply = server.post(IMPORT, json!({"datasetId": company.crm, "inputFormat": {"format": "json"}, "partialIngestionPercent": 150})).await;
    assert_problem(&reply, 400, "invalid_batch", &["/partialIngestionPercent"]);
    let batch = create_batch(
        &server,
        json!({"datasetId": company.crm, "inputFormat": {"format": "json"}}),
    )
    .await;
    let reply = server
        .post(&format!("{IMPORT}/{batch}?action=COMPLETE"), json!({}))
        .await;
    assert_problem(&reply, 400, "invalid_batch", &["no files"]);
    let reply = server
        .send_raw(
            Method::PUT,
            &format!(
                "{IMPORT}/{batch}/datasets/{}/files/..%2Fescape",
                company.crm
            ),
            b"{}".to_vec(),
            &[],
        )
        .await;
    assert_problem(&reply, 400, "invalid_batch", &["file name"]);
    let reply = server
        .send_raw(
            Method::PUT,
            &format!("{IMPORT}/{batch}/datasets/{}/files/a.jsonl", company.web),
            b"{}".to_vec(),
            &[],
        )
        .await;
    assert_problem(&reply, 400, "invalid_batch", &[&company.crm]);
    let reply = server
        .post(&format!("{IMPORT}/{batch}?action=ABORT"), json!({}))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.body[&batch]["status"], json!("aborted"));
    let reply = server.get("/data/foundation/catalog/batches/unknown").await;
    assert_problem(&reply, 404, "batch_not_found", &["unknown"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_batch_interrupted_by_a_restart_is_processed_again_and_lands_once() {
    let mut server = TestServer::start();
    let company = server.company(&[]).await;
    let events: Vec<String> = (0..20_000)
        .map(|i| json!({"_id": format!("r-{i}"), "timestamp": "2026-04-01T00:00:00Z", "identityMap": {"Email": [{"id": format!("c{}@example.com", i % 100)}]}, "web": {"webPageDetails": {"name": "home"}}}).to_string())
        .collect();
    let batch = create_batch(
        &server,
        json!({"datasetId": company.web, "inputFormat": {"format": "json"}}),
    )
    .await;
    put_file(
        &server,
        &batch,
        &company.web,
        "events.jsonl",
        lines(&events),
    )
    .await;
    complete(&server, &batch).await;
    // Stop the server once the batch is being processed, then start it again.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let reply = server
            .get(&format!("/data/foundation/catalog/batches/{batch}"))
            .await;
        if reply.body[&batch]["progress"]["rows"].as_u64().unwrap_or(0) > 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the batch never started: {}",
            reply.body
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    server.restart();
    let state = wait_final(&server, &batch).await;
    assert_eq!(state["status"], json!("success"), "{state}");
    assert_eq!(
        state["attempts"],
        json!(2),
        "processing started again after the restart: {state}"
    );
    assert_eq!(state["metrics"]["outputRecordCount"], json!(20_000));
    let mut total = 0;
    for c in 0..100 {
        let (all, _) = server
            .all_events("Email", &format!("c{c}@example.com"), "")
            .await;
        total += all.len();
    }
    assert_eq!(total, 20_000, "every event once, none twice");
}

/// A Parquet file of CRM rows with nested columns, from the company's profile schema (no
/// identityMap: the email column is the schema's primary identity through a descriptor, as in a
/// typical CRM export).
fn crm_parquet(rows: &[(&str, &str, f64)]) -> Vec<u8> {
    let groups: Vec<&xdm::FieldGroup> = PROFILE_GROUPS
        .iter()
        .map(|name| xdm::standard_field_group(name).expect("a standard field group"))
        .collect();
    let fields = xdm::compose(xdm::Class::Profile, &groups).expect("the profile schema");
    let mut writer = ParquetRecordWriter::new(Vec::new(), &fields).expect("writer");
    for (first_name, email, points) in rows {
        let record = json!({"person": {"name": {"firstName": first_name}}, "personalEmail": {"address": email}, "loyalty": {"points": points}});
        writer.write(&record).expect("a record of the schema");
    }
    writer.finish().expect("the file")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_parquet_file_with_nested_columns_lands_through_an_identity_descriptor() {
    let server = TestServer::start();
    let company = server.company(&[]).await;
    let descriptor = json!({"@type": "xdm:descriptorIdentity", "xdm:sourceSchema": company.profile_schema, "xdm:sourceVersion": 1, "xdm:sourceProperty": "/personalEmail/address", "xdm:namespace": "Email", "xdm:property": "xdm:code", "xdm:isPrimary": true});
    let reply = server
        .post(
            "/data/foundation/schemaregistry/tenant/descriptors",
            descriptor,
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    let file = crm_parquet(&[
        ("Ada", "ada@example.com", 10.5),
        ("Grace", "grace@example.com", 99.0),
    ]);
    let (_, state) = run_batch(
        &server,
        &company.crm,
        json!({"format": "parquet"}),
        json!({}),
        vec![("crm.parquet", file)],
    )
    .await;
    assert_eq!(state["status"], json!("success"), "{state}");
    assert_eq!(state["metrics"]["outputRecordCount"], json!(2));
    let reply = server.profile("Email", "grace@example.com").await;
    let entity = only_entity(&reply.body).1["entity"].clone();
    assert_eq!(entity["person"]["name"]["firstName"], json!("Grace"));
    assert_eq!(entity["loyalty"]["points"], json!(99.0));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_missing_required_field_and_an_unknown_csv_column_are_reported_by_name() {
    let server = TestServer::start();
    let company = server.company(&[]).await;
    let events = vec![
        json!({"_id": "ok-1", "timestamp": "2026-05-01T00:00:00Z", "identityMap": {"Email": [{"id": "req@example.com"}]}}).to_string(),
        json!({"_id": "no-time", "identityMap": {"Email": [{"id": "req@example.com"}]}}).to_string(),
    ];
    let (batch, state) = run_batch(
        &server,
        &company.web,
        json!({"format": "json"}),
        json!({"partialIngestionPercent": 50}),
        vec![("events.jsonl", lines(&events))],
    )
    .await;
    assert_eq!(state["status"], json!("success"), "{state}");
    assert_eq!(state["metrics"]["failedRecordCount"], json!(1));
    let rows = error_rows(&server, &batch, "conversion_errors_0.json").await;
    assert_eq!(rows.len(), 1, "one bad row: {rows:?}");
    let row = &rows[0];
    assert_eq!(row["_line"], json!(2));
    let message = row["_errors"][0]["message"].as_str().expect("message");
    assert!(
        message.contains("/timestamp") && message.contains("missing required field"),
        "{message}"
    );

    let csv =
        "identityMap.CRMID.0.id,identityMap.CRMID.0.primary,person.nickname\nCRM-77,true,Dodo\n";
    let (batch, state) = run_batch(
        &server,
        &company.crm,
        json!({"format": "csv"}),
        json!({"partialIngestionPercent": 100}),
        vec![("crm.csv", csv.as_bytes().to_vec())],
    )
    .await;
    assert_eq!(state["metrics"]["failedRecordCount"], json!(1), "{state}");
    let rows = error_rows(&server, &batch, "conversion_errors_0.json").await;
    assert_eq!(rows.len(), 1, "one bad row: {rows:?}");
    let row = &rows[0];
    assert_eq!(row["_line"], json!(2), "the header is line 1");
    assert_eq!(row["_corrupt_record"], json!("CRM-77,true,Dodo"));
    assert!(
        row["_errors"][0]["message"]
            .as_str()
            .expect("message")
            .contains("nickname"),
        "{row}"
    );
}
