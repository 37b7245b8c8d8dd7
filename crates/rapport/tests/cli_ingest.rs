//! The command-line tools against the real binary: `rapport ingest` (a clean file exits 0, a
//! failed batch exits non-zero and names the error report) and `rapport models train`.

use std::process::Command;

use serde_json::json;

use crate::common::encode;
use crate::common::process::{call, set_up, spawn};

fn ingest(address: std::net::SocketAddr, args: &[&str]) -> (i32, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_rapport"))
        .arg("ingest")
        .arg("--server")
        .arg(format!("http://{address}"))
        .env("RAPPORT_KEY", crate::common::TEST_MASTER_KEY)
        .args(args)
        .output()
        .expect("run rapport ingest");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn record(i: usize) -> String {
    json!({"identityMap": {"CRMID": [{"id": format!("CLI-{i}"), "primary": true}]}, "person": {"name": {"firstName": format!("Cli {i}")}}}).to_string()
}

#[test]
fn ingesting_a_clean_file_exits_zero_and_the_records_are_found() {
    let dir = tempfile::tempdir().expect("dir");
    let server = spawn(&dir.path().join("data"));
    set_up(&server);
    let file = dir.path().join("people.jsonl");
    std::fs::write(&file, (0..300).map(record).collect::<Vec<_>>().join("\n")).expect("write");
    let (code, stdout, stderr) = ingest(
        server.address,
        &["--dataset", "CRM", file.to_str().expect("path")],
    );
    assert_eq!(code, 0, "stdout: {stdout}\nstderr: {stderr}");
    assert!(stdout.contains("success"), "{stdout}");
    assert!(stdout.contains("records ingested: 300"), "{stdout}");
    let path = format!("/data/core/ups/access/entities?schema.name=_xdm.context.profile&entityId={}&entityIdNS=CRMID", encode("CLI-299"));
    let reply = call(&server, "GET", &path, json!(null));
    assert_eq!(reply.status, 200, "{:?}", reply.body);
}

#[test]
fn a_failed_batch_exits_non_zero_and_names_the_error_report() {
    let dir = tempfile::tempdir().expect("dir");
    let server = spawn(&dir.path().join("data"));
    set_up(&server);
    let file = dir.path().join("people.jsonl");
    std::fs::write(&file, format!("{}\n{{broken\n{}\n", record(1), record(2))).expect("write");
    let (code, stdout, stderr) = ingest(
        server.address,
        &["--dataset", "CRM", file.to_str().expect("path")],
    );
    assert_eq!(code, 1, "stdout: {stdout}\nstderr: {stderr}");
    assert!(stdout.contains("failed"), "{stdout}");
    assert!(
        stdout.contains("meta?path=row_errors"),
        "the error report is named: {stdout}"
    );

    let (code, stdout, _) = ingest(
        server.address,
        &[
            "--dataset",
            "CRM",
            "--partial-percent",
            "50",
            file.to_str().expect("path"),
        ],
    );
    assert_eq!(code, 0, "{stdout}");
    assert!(stdout.contains("records failed: 1"), "{stdout}");
}

#[test]
fn an_unknown_dataset_or_unreachable_server_exits_non_zero_with_a_reason() {
    let dir = tempfile::tempdir().expect("dir");
    let server = spawn(&dir.path().join("data"));
    set_up(&server);
    let file = dir.path().join("people.jsonl");
    std::fs::write(&file, record(1)).expect("write");
    let (code, _, stderr) = ingest(
        server.address,
        &["--dataset", "nope", file.to_str().expect("path")],
    );
    assert_ne!(code, 0);
    assert!(stderr.contains("no dataset \"nope\""), "{stderr}");
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr");
    let (code, _, stderr) = ingest(closed, &["--dataset", "CRM", file.to_str().expect("path")]);
    assert_ne!(code, 0);
    assert!(stderr.contains("is `rapport serve` running"), "{stderr}");
}

fn models_train(address: std::net::SocketAddr, args: &[&str]) -> (i32, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_rapport"))
        .args(["models", "train", "--server"])
        .arg(format!("http://{address}"))
        .env("RAPPORT_KEY", crate::common::TEST_MASTER_KEY)
        .args(args)
        .output()
        .expect("run rapport models train");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn models_train_follows_the_run_and_says_what_it_could_not_fit() {
    let dir = tempfile::tempdir().expect("dir");
    let server = spawn(&dir.path().join("data"));
    set_up(&server);
    let (code, stdout, stderr) = models_train(server.address, &[]);
    assert_eq!(code, 0, "stdout: {stdout}\nstderr: {stderr}");
    assert!(stdout.contains("trained on"), "{stdout}");
    assert!(stdout.contains("not fitted: lifetime value"), "{stdout}");
    let (code, _, stderr) = models_train(server.address, &["--cutoff", "yesterday"]);
    assert_ne!(code, 0);
    assert!(stderr.contains("--cutoff"), "{stderr}");
}
