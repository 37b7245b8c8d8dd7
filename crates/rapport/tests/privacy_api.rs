//! Privacy requests and hygiene work orders through the HTTP API: an access job's result names
//! everything kept about the person; a delete job leaves no trace of them in any table of the
//! store (scanned raw) while others stay, and they leave the agents' recently viewed lists;
//! `privacy.manage` is needed; a work order deletes one dataset's record; `rapport store
//! rewrite` then removes the person's bytes from the files themselves.

use std::time::{Duration, Instant};

use axum::http::{Method, StatusCode};
use serde_json::{json, Value};
use store::{Direction, Scan, Table};

use crate::common::{Company, TestServer};

const EMAIL: &str = "Noa.Diaz@Example.com";

async fn company_with_noa_and_eli(server: &TestServer) -> Company {
    let company = server.company(&[]).await;
    server
        .ingest(
            &company.crm,
            json!({"identityMap": {"CRMID": [{"id": "CRM-NOA", "primary": true}], "Email": [{"id": EMAIL}]}, "person": {"name": {"firstName": "Noa", "lastName": "Diaz"}}}),
        )
        .await;
    server
        .ingest(
            &company.loyalty,
            json!({"identityMap": {"Email": [{"id": EMAIL, "primary": true}]}, "loyalty": {"tier": "gold"}}),
        )
        .await;
    server
        .ingest(
            &company.web,
            json!({"_id": "noa-1", "timestamp": "2026-03-04T05:06:07Z", "identityMap": {"Email": [{"id": EMAIL}]}, "web": {"webPageDetails": {"name": "boots"}}}),
        )
        .await;
    server
        .ingest(
            &company.crm,
            json!({"identityMap": {"CRMID": [{"id": "CRM-ELI", "primary": true}], "Email": [{"id": "eli@example.com"}]}, "person": {"name": {"firstName": "Eli"}}}),
        )
        .await;
    company
}

/// Posts a privacy request for Noa and waits until every job it made is complete.
async fn privacy_request(server: &TestServer, action: &str, include: &[&str]) -> Vec<String> {
    let reply = server
        .post(
            "/data/core/privacy/jobs",
            json!({
                "companyContexts": [{"namespace": "imsOrgID", "value": "rapport"}],
                "users": [{"key": "noa", "action": [action], "userIDs": [{"namespace": "Email", "value": EMAIL, "type": "standard"}]}],
                "include": include,
                "regulation": "gdpr"
            }),
        )
        .await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.body);
    let ids: Vec<String> = reply.body["jobs"]
        .as_array()
        .expect("jobs")
        .iter()
        .map(|j| j["jobId"].as_str().expect("jobId").to_owned())
        .collect();
    assert!(!ids.is_empty());
    let started = Instant::now();
    for id in &ids {
        loop {
            let job = server.get(&format!("/data/core/privacy/jobs/{id}")).await;
            assert_eq!(job.status, StatusCode::OK, "{}", job.body);
            match job.body["status"].as_str() {
                Some("complete") => break,
                Some("error") => panic!("job {id} failed: {}", job.body),
                _ => {}
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "job {id} did not complete: {}",
                job.body
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    ids
}

/// Every key and value of every table of the main store, concatenated.
fn raw_store(server: &TestServer) -> Vec<u8> {
    let store = server.engine().store();
    let txn = store.read().expect("a read transaction");
    let mut bytes = Vec::new();
    for table in Table::MAIN {
        txn.scan(
            table,
            &[],
            &[0xFF; 64],
            Direction::Forward,
            &mut |key, value| {
                bytes.extend_from_slice(key);
                bytes.push(0);
                bytes.extend_from_slice(value);
                bytes.push(0);
                Scan::Continue
            },
        )
        .expect("scan");
    }
    bytes
}

fn occurrences(haystack: &[u8], needle: &str) -> usize {
    haystack
        .windows(needle.len())
        .filter(|w| *w == needle.as_bytes())
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_access_request_returns_what_is_kept_about_the_person() {
    let server = TestServer::start();
    company_with_noa_and_eli(&server).await;
    let ids = privacy_request(&server, "access", &["ProfileService", "identity"]).await;
    let result = server
        .get(&format!("/data/core/privacy/jobs/{}/result", ids[0]))
        .await;
    assert_eq!(result.status, StatusCode::OK, "{}", result.body);
    let text = result.body.to_string();
    for kept in ["Noa", "Diaz", "gold", "boots", "CRM-NOA"] {
        assert!(text.contains(kept), "{kept} is missing from {text}");
    }
    assert!(!text.contains("Eli"), "another customer is in the result");
    let listed = server
        .get("/data/core/privacy/jobs?regulation=gdpr&status=complete")
        .await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.body);
    assert!(listed.body.to_string().contains(&ids[0]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delete_request_leaves_no_trace_of_the_person_in_the_store() {
    let server = TestServer::start();
    company_with_noa_and_eli(&server).await;
    let eli_before = server.entity("CRMID", "CRM-ELI").await;
    let before = raw_store(&server);
    let needles = [EMAIL, "CRM-NOA", "Diaz", "noa-1"];
    for needle in needles {
        assert!(
            occurrences(&before, needle) > 0,
            "{needle} is not stored to begin with"
        );
    }
    privacy_request(&server, "delete", &["ProfileService", "identity"]).await;
    let after = raw_store(&server);
    for needle in needles.into_iter().chain(["noa.diaz@example.com"]) {
        assert_eq!(occurrences(&after, needle), 0, "{needle} is still stored");
    }
    for (ns, id) in [("Email", EMAIL), ("CRMID", "CRM-NOA")] {
        let reply = server.profile(ns, id).await;
        assert_eq!(
            reply.status,
            StatusCode::NOT_FOUND,
            "{ns} {id}: {}",
            reply.body
        );
    }
    assert_eq!(server.entity("CRMID", "CRM-ELI").await, eli_before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_customer_leaves_the_agents_recently_viewed() {
    let server = TestServer::start();
    company_with_noa_and_eli(&server).await;
    let reply = server
        .post(
            "/data/rapport/users",
            json!({"name": "ana", "role": "agent", "password": "correct horse battery staple"}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED);
    let session = crate::signin::session(&server, "ana").await;
    let cookie = format!("rapport_session={session}");
    let get = |uri: &'static str| {
        let cookie = cookie.clone();
        let server = &server;
        async move {
            server
                .send_exactly(Method::GET, uri, Vec::new(), &[("cookie", &cookie)])
                .await
        }
    };
    assert_eq!(
        get("/console/profile/CRMID/CRM-NOA").await.status,
        StatusCode::OK
    );
    assert_eq!(
        get("/console/profile/CRMID/CRM-ELI").await.status,
        StatusCode::OK
    );
    let search = get("/console").await;
    let page = search.body.as_str().unwrap_or_default().to_owned();
    assert!(page.contains("Noa") && page.contains("Eli"), "{page}");
    privacy_request(&server, "delete", &["ProfileService", "identity"]).await;
    let page = get("/console")
        .await
        .body
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(!page.contains("Noa") && !page.contains("CRM-NOA"), "{page}");
    assert!(page.contains("Eli"), "{page}");
}

#[tokio::test]
async fn privacy_requests_need_privacy_manage_and_a_valid_body() {
    let server = TestServer::start();
    let reply = server
        .post(
            "/data/rapport/keys",
            json!({"name": "reader", "actions": ["profiles.read"], "sandboxes": ["*"]}),
        )
        .await;
    let key = reply.body["key"].as_str().expect("key").to_owned();
    let bearer = format!("Bearer {key}");
    let refused = server
        .send_raw(
            Method::POST,
            "/data/core/privacy/jobs",
            b"{}".to_vec(),
            &[("authorization", &bearer)],
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let invalid = server
        .post(
            "/data/core/privacy/jobs",
            json!({"users": [{"key": "x", "action": ["delete"], "userIDs": [{"namespace": "Email", "value": "a@b.c", "type": "standard"}]}], "include": ["aepDataLake"], "regulation": "gdpr"}),
        )
        .await;
    assert_eq!(invalid.status, StatusCode::BAD_REQUEST, "{}", invalid.body);
    assert_eq!(invalid.body["code"], "invalid_privacy_job");
    assert!(
        invalid.body["title"]
            .as_str()
            .unwrap_or_default()
            .contains("include"),
        "{}",
        invalid.body
    );
    let missing = server.get("/data/core/privacy/jobs/no-such-job").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(missing.body["code"], "privacy_job_not_found");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_work_order_deletes_one_dataset_s_record_of_an_identity() {
    let server = TestServer::start();
    let company = company_with_noa_and_eli(&server).await;
    let reply = server
        .post(
            "/data/core/hygiene/workorder",
            json!({"action": "delete_identity", "datasetId": company.loyalty, "displayName": "Remove Noa's loyalty record", "description": "asked by the customer", "identities": [{"namespace": {"code": "Email"}, "id": EMAIL}]}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.body);
    let id = reply.body["workorderId"].as_str().expect("id").to_owned();
    let started = Instant::now();
    loop {
        let order = server
            .get(&format!("/data/core/hygiene/workorder/{id}"))
            .await;
        assert_eq!(order.status, StatusCode::OK, "{}", order.body);
        if order.body["status"] == json!("completed") {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "{}",
            order.body
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let entity: Value = server.entity("CRMID", "CRM-NOA").await;
    assert!(entity.get("loyalty").is_none(), "{entity}");
    assert_eq!(entity["person"]["name"]["firstName"], "Noa");
}

/// Every file under `dir`, recursively, with its bytes.
fn files_under(dir: &std::path::Path) -> Vec<(std::path::PathBuf, Vec<u8>)> {
    let mut files = Vec::new();
    let mut folders = vec![dir.to_path_buf()];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).expect("read_dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                folders.push(path);
            } else {
                let bytes = std::fs::read(&path).expect("read");
                files.push((path, bytes));
            }
        }
    }
    files
}

fn rapport_store_rewrite(data_dir: &std::path::Path) -> (i32, String, String) {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_rapport"))
        .args(["store", "rewrite", "--map-size-gib", "1", "--data-dir"])
        .arg(data_dir)
        .output()
        .expect("run rapport store rewrite");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn a_store_rewrite_leaves_no_byte_of_a_deleted_person_in_any_file() {
    use crate::common::process::{call, set_up, spawn};
    let dir = tempfile::tempdir().expect("dir");
    let data_dir = dir.path().join("data");
    let server = spawn(&data_dir);
    let dataset = set_up(&server);
    let record = |crm: &str, email: &str, name: &str| {
        json!({"header": {"datasetId": dataset}, "body": {"xdmEntity": {
            "identityMap": {"CRMID": [{"id": crm, "primary": true}], "Email": [{"id": email}]},
            "person": {"name": {"firstName": name}}}}})
    };
    let (noa_email, noa_crm) = ("noa.rewrite@example.com", "CRM-NOA-REWRITE");
    for i in 0..200 {
        let reply = call(
            &server,
            "POST",
            "/collection/rewrite-inlet",
            record(&format!("CRM-{i}"), &format!("c{i}@example.com"), "Kept"),
        );
        assert_eq!(reply.status, 200, "{:?}", reply.body);
    }
    let reply = call(
        &server,
        "POST",
        "/collection/rewrite-inlet",
        record(noa_crm, noa_email, "Noa"),
    );
    assert_eq!(reply.status, 200, "{:?}", reply.body);

    let reply = call(
        &server,
        "POST",
        "/data/core/privacy/jobs",
        json!({"companyContexts": [{"namespace": "imsOrgID", "value": "rapport"}],
               "users": [{"key": "noa", "action": ["delete"], "userIDs": [{"namespace": "Email", "value": noa_email, "type": "standard"}]}],
               "include": ["ProfileService", "identity"], "regulation": "gdpr"}),
    );
    assert_eq!(reply.status, 202, "{:?}", reply.body);
    let job_path = format!(
        "/data/core/privacy/jobs/{}",
        reply.body["jobs"][0]["jobId"].as_str().expect("jobId")
    );
    let started = Instant::now();
    let job = loop {
        let job = call(&server, "GET", &job_path, json!(null));
        if job.body["status"] == "complete" {
            break job;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "{:?}",
            job.body
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(job.body["rapport"]["physicalErasure"], "pending_rewrite");

    // Not beside a running server.
    let (code, _, stderr) = rapport_store_rewrite(&data_dir);
    assert_ne!(code, 0);
    assert!(stderr.contains("another rapport process"), "{stderr}");

    drop(server);
    let before: usize = files_under(&data_dir)
        .iter()
        .map(|(_, bytes)| occurrences(bytes, noa_email))
        .sum();
    assert!(
        before > 0,
        "before the rewrite, LMDB's free pages still hold the deleted email"
    );
    let (code, stdout, stderr) = rapport_store_rewrite(&data_dir);
    assert_eq!(code, 0, "stdout: {stdout}\nstderr: {stderr}");
    assert!(stdout.contains("entries rewritten"), "{stdout}");
    assert!(
        stdout.contains("privacy delete jobs now physically erased: 1"),
        "{stdout}"
    );
    for (path, bytes) in files_under(&data_dir) {
        for needle in [noa_email, noa_crm] {
            assert_eq!(
                occurrences(&bytes, needle),
                0,
                "{needle} is still in {}",
                path.display()
            );
        }
    }

    // The server starts on the rewritten store: the others are there, Noa is not, and the job
    // says its data is physically erased.
    let server = spawn(&data_dir);
    let lookup = |crm: &str| {
        call(
            &server,
            "GET",
            &format!("/data/core/ups/access/entities?schema.name=_xdm.context.profile&entityId={crm}&entityIdNS=CRMID"),
            json!(null),
        )
    };
    let kept = lookup("CRM-199");
    assert_eq!(kept.status, 200, "{:?}", kept.body);
    assert_eq!(lookup(noa_crm).status, 404);
    let job = call(&server, "GET", &job_path, json!(null));
    assert_eq!(
        job.body["rapport"]["physicalErasure"], "complete",
        "{:?}",
        job.body
    );
    assert!(job.body["rapport"]["physicallyErasedAt"].is_string());
}
