//! The built-in models through the API: the CDNOW purchase log ingested as purchase events
//! through the batch API, the models trained on a time split (the published BG/NBD and
//! Gamma–Gamma parameters come back within 1 %, churn beats recency alone), scores on every
//! profile, segments on them, and the refusals.

use std::time::{Duration, Instant};

use axum::http::StatusCode;
use serde_json::{json, Value};

use crate::common::batch::run_batch;
use crate::common::{assert_problem, TestServer};

const CDNOW: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../models/tests/data/CDNOW_sample.txt"
);

/// Noon UTC of a `YYYYMMDD` date, as RFC 3339.
fn noon(date: &str) -> String {
    format!("{}-{}-{}T12:00:00Z", &date[..4], &date[4..6], &date[6..8])
}

/// The CDNOW log as JSON Lines purchase events, one per line of the file.
fn cdnow_events() -> Vec<u8> {
    let text = std::fs::read_to_string(CDNOW).expect("the CDNOW sample is in the repository");
    let mut out = Vec::new();
    for (line, row) in text.lines().enumerate() {
        let columns: Vec<&str> = row.split_whitespace().collect();
        let [_, customer, date, _cds, value] = columns.as_slice() else {
            continue;
        };
        let event = json!({
            "_id": format!("cdnow-{line}"),
            "timestamp": noon(date),
            "eventType": "commerce.purchases",
            "identityMap": {"CRMID": [{"id": format!("cdnow-{customer}"), "primary": true}]},
            "commerce": {"order": {"priceTotal": value.parse::<f64>().expect("a value")}, "purchases": {"value": 1.0}},
        });
        out.extend_from_slice(event.to_string().as_bytes());
        out.push(b'\n');
    }
    out
}

async fn finished_training(server: &TestServer, id: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let reply = server
            .get(&format!("/data/rapport/models/train/{id}"))
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        match reply.body["status"].as_str() {
            Some("SUCCEEDED") | Some("FAILED") => return reply.body,
            _ if Instant::now() > deadline => panic!("training did not finish: {}", reply.body),
            _ => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

fn within(actual: f64, expected: f64, tolerance: f64) -> bool {
    ((actual - expected) / expected).abs() <= tolerance
}

#[tokio::test(flavor = "multi_thread")]
async fn cdnow_through_ingestion_gives_the_published_parameters_and_useful_scores() {
    let server = TestServer::start();
    let company = server.company(&[]).await;
    let (_, state) = run_batch(
        &server,
        &company.web,
        json!({"format": "json"}),
        json!({}),
        vec![("cdnow.json", cdnow_events())],
    )
    .await;
    assert_eq!(state["status"], "success", "{state}");

    // Calibration: 1997-01-01 to 1997-09-30; holdout weeks 40 to 78, to 1998-06-30.
    let reply = server
        .post(
            "/data/rapport/models/train",
            json!({"cutoffMs": 875_663_999_000i64, "asOfMs": 899_251_199_000i64, "churnHorizonDays": 273}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.body);
    let run = finished_training(&server, reply.body["id"].as_str().unwrap()).await;
    assert_eq!(run["status"], "SUCCEEDED", "{run}");
    assert_eq!(run["profilesRead"], 2357);

    let reply = server
        .get("/data/rapport/models/lifetime-value/report")
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let report = &reply.body["report"];
    let purchases = &report["calibration"]["purchases"]["params"];
    for (name, published) in [("r", 0.243), ("alpha", 4.414), ("a", 0.793), ("b", 2.426)] {
        let fitted = purchases[name].as_f64().unwrap();
        assert!(
            within(fitted, published, 0.01),
            "BG/NBD {name} = {fitted}, published {published}"
        );
    }
    let spend = &report["calibration"]["spend"]["params"];
    for (name, published) in [("p", 6.25), ("q", 3.74), ("gamma", 15.44)] {
        let fitted = spend[name].as_f64().unwrap();
        assert!(
            within(fitted, published, 0.01),
            "Gamma-Gamma {name} = {fitted}, published {published}"
        );
    }
    assert_eq!(report["customers"], 2357);
    assert_eq!(report["actualPurchases"], 1882);
    let predicted = report["predictedPurchases"].as_f64().unwrap();
    println!(
        "CDNOW holdout purchases predicted {predicted:.1}, actual 1882; spend predicted {:.0}, actual {:.0}",
        report["predictedSpend"].as_f64().unwrap(),
        report["actualSpend"].as_f64().unwrap()
    );
    assert!(
        within(predicted, 1882.0, 0.15),
        "predicted {predicted} holdout purchases"
    );
    assert_eq!(report["deciles"].as_array().unwrap().len(), 10);

    let reply = server.get("/data/rapport/models/churn/report").await;
    let churn = &reply.body["report"];
    let auc = churn["evaluation"]["auc"].as_f64().unwrap();
    let baseline = churn["evaluation"]["recencyBaselineAuc"].as_f64().unwrap();
    println!("CDNOW churn holdout AUC {auc:.4}, recency alone {baseline:.4}");
    assert!(
        auc > baseline,
        "churn AUC {auc} does not beat recency alone {baseline}"
    );
    assert_eq!(churn["used"], true);
    assert_eq!(
        churn["evaluation"]["calibration"].as_array().unwrap().len(),
        10
    );

    // Every customer carries both scores, with reasons in words.
    let reply = server
        .profile_with("CRMID", "cdnow-0001", "withCA=true")
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let (_, item) = crate::common::only_entity(&reply.body);
    let scores = &item["entity"]["_rapport"]["SystemComputedAttributes"];
    let lifetime = &scores["lifetimeValue"];
    assert!(lifetime["value"].as_f64().unwrap() >= 0.0, "{scores}");
    assert_eq!(lifetime["modelVersion"], run["modelVersion"]);
    let churn = &scores["churnPropensity"];
    let p = churn["value"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&p), "{churn}");
    let reasons = churn["reasons"].as_array().unwrap();
    assert!(
        !reasons.is_empty() && reasons[0]["text"].as_str().is_some_and(|t| t.contains(' ')),
        "{churn}"
    );

    // Segments on scores.
    let reply = server
        .post(
            "/data/core/ups/segment/definitions",
            json!({"name": "Valuable, slipping away", "schema": {"name": "_xdm.context.profile"},
                   "expression": {"type": "PQL", "format": "pql/text",
                                  "value": "_rapport.SystemComputedAttributes.lifetimeValue.value > 50 and _rapport.SystemComputedAttributes.churnPropensity.value > 0.5"}}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
}

#[tokio::test(flavor = "multi_thread")]
async fn training_refuses_bad_settings_and_reports_what_it_cannot_fit() {
    let server = TestServer::start();
    server.company(&[]).await;
    let reply = server.get("/data/rapport/models").await;
    assert_problem(
        &reply,
        404,
        "models_not_trained",
        &["/data/rapport/models/train"],
    );
    let reply = server
        .post("/data/rapport/models/train", json!({"churnHorizonDays": 0}))
        .await;
    assert_problem(&reply, 400, "invalid_parameter", &["/churnHorizonDays"]);
    let reply = server
        .post("/data/rapport/models/train", json!({"churnHorizon": 30}))
        .await;
    assert_problem(&reply, 400, "invalid_parameter", &["churnHorizon"]);
    let reply = server
        .post(
            "/data/rapport/models/train",
            json!({"lifetimeHorizonWeeks": 52, "churnHorizonDays": "ninety"}),
        )
        .await;
    assert_problem(
        &reply,
        400,
        "invalid_parameter",
        &["/churnHorizonDays", "u32"],
    );
    let reply = server
        .post(
            "/data/rapport/models/train",
            json!({"cutoffMs": 10, "asOfMs": 5}),
        )
        .await;
    assert_problem(&reply, 400, "invalid_parameter", &["/cutoffMs"]);
    let reply = server.get("/data/rapport/models/train/nope").await;
    assert_problem(&reply, 404, "training_not_found", &["nope"]);

    // No purchases at all: the run succeeds and says why there is no model.
    let reply = server.post("/data/rapport/models/train", json!({})).await;
    let run = finished_training(&server, reply.body["id"].as_str().unwrap()).await;
    assert_eq!(run["status"], "SUCCEEDED", "{run}");
    let reply = server.get("/data/rapport/models").await;
    assert_eq!(reply.status, StatusCode::OK);
    let problems = reply.body["problems"].to_string();
    assert!(
        problems.contains("lifetime value") && problems.contains("churn"),
        "{problems}"
    );
    let reply = server.get("/data/rapport/models/churn/report").await;
    assert_problem(&reply, 404, "models_not_trained", &["churn"]);
}
