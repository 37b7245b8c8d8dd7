//! Crash safety with the real binary: records acknowledged before a SIGKILL are all there after
//! a restart on the same data directory.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::common::encode;
use crate::common::process::{call, master_bearer, set_up, spawn};
use crate::common::wire::request;

/// Records acknowledged (by all threads together) before the kill.
const ACKED_BEFORE_KILL: usize = 400;
const THREADS: usize = 2;

fn crm_id(thread: usize, i: usize) -> String {
    format!("CRM-{thread}-{i:05}")
}

/// Streams records until told to stop or the server goes away; returns the acknowledged ids.
fn stream_records(
    address: SocketAddr,
    dataset: String,
    thread: usize,
    acked: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
) -> Vec<String> {
    let mut confirmed = Vec::new();
    for i in 0.. {
        if stop.load(Ordering::SeqCst) {
            break;
        }
        let id = crm_id(thread, i);
        let message = json!({"header": {"datasetId": dataset}, "body": {"xdmEntity": {
            "identityMap": {"CRMID": [{"id": id, "primary": true}], "Email": [{"id": format!("{id}@example.com")}]},
            "person": {"name": {"firstName": format!("Thread {thread}"), "lastName": format!("Record {i}")}}
        }}});
        let (name, value) = master_bearer();
        match request(
            address,
            "POST",
            "/collection/crash-inlet",
            Some(&message),
            &[(name, &value)],
        ) {
            Ok(reply) if reply.status == 200 => {
                confirmed.push(id);
                acked.fetch_add(1, Ordering::SeqCst);
            }
            Ok(reply) => panic!(
                "record {id} refused while the server was up: {} {:?}",
                reply.status, reply.body
            ),
            // The server was killed: an unanswered request may or may not be stored.
            Err(_) => break,
        }
    }
    confirmed
}

fn crash_and_recover() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data_dir = dir.path().join("data");
    let mut server = spawn(&data_dir);
    let dataset = set_up(&server);

    let acked = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let confirmed = Arc::new(Mutex::new(Vec::new()));
    let workers: Vec<_> = (0..THREADS)
        .map(|thread| {
            let (address, dataset) = (server.address, dataset.clone());
            let (acked, stop, confirmed) = (acked.clone(), stop.clone(), confirmed.clone());
            std::thread::spawn(move || {
                let ids = stream_records(address, dataset, thread, acked, stop);
                confirmed.lock().expect("lock").extend(ids);
            })
        })
        .collect();

    let deadline = Instant::now() + Duration::from_secs(120);
    while acked.load(Ordering::SeqCst) < ACKED_BEFORE_KILL {
        assert!(
            Instant::now() < deadline,
            "ingestion too slow: {} acked",
            acked.load(Ordering::SeqCst)
        );
        assert!(
            server.child.try_wait().expect("child status").is_none(),
            "rapport died during ingestion"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    // SIGKILL while the writers are still sending.
    server.child.kill().expect("SIGKILL");
    server.child.wait().expect("reap");
    stop.store(true, Ordering::SeqCst);
    for worker in workers {
        worker.join().expect("streaming thread");
    }
    drop(server);

    let confirmed = std::mem::take(&mut *confirmed.lock().expect("lock"));
    assert!(
        confirmed.len() >= ACKED_BEFORE_KILL,
        "{} acknowledged",
        confirmed.len()
    );

    let server = spawn(&data_dir);
    let mut missing = Vec::new();
    for id in &confirmed {
        let path = format!(
            "/data/core/ups/access/entities?schema.name=_xdm.context.profile&entityId={}&entityIdNS=CRMID",
            encode(id)
        );
        let (name, value) = master_bearer();
        let reply = request(server.address, "GET", &path, None, &[(name, &value)]).expect("lookup");
        if reply.status != 200 {
            missing.push(id.clone());
            continue;
        }
        let item = reply
            .body
            .as_object()
            .and_then(|o| o.values().next())
            .expect("one profile");
        let (thread, record) = (&id[4..5], id[6..].trim_start_matches('0'));
        assert_eq!(
            item["entity"]["person"]["name"]["firstName"],
            json!(format!("Thread {thread}"))
        );
        let record = if record.is_empty() { "0" } else { record };
        assert_eq!(
            item["entity"]["person"]["name"]["lastName"],
            json!(format!("Record {record}"))
        );
        assert_eq!(
            item["entity"]["identityMap"]["Email"][0]["id"],
            json!(format!("{id}@example.com"))
        );
    }
    assert!(
        missing.is_empty(),
        "{} of {} acknowledged records lost: {missing:?}",
        missing.len(),
        confirmed.len()
    );

    // The recovered server takes new writes into the same dataset.
    let reply = call(
        &server,
        "POST",
        "/collection/crash-inlet",
        json!({"header": {"datasetId": dataset}, "body": {"xdmEntity": {"identityMap": {"CRMID": [{"id": "CRM-AFTER", "primary": true}]}}}}),
    );
    assert_eq!(reply.status, 200, "{:?}", reply.body);
}

#[tokio::test(flavor = "multi_thread")]
async fn records_acknowledged_before_sigkill_survive_a_restart() {
    if let Err(error) = tokio::task::spawn_blocking(crash_and_recover).await {
        std::panic::resume_unwind(error.into_panic());
    }
}
