//! The real `rapport` binary as a child process on a free port, for the tests that need a
//! process (crash safety, the command line).

use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;

use super::wire::{request, WireReply};

/// The child process, killed if the test fails before it does.
pub struct Server {
    pub child: Child,
    pub address: SocketAddr,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An address on loopback no one listens on (the port was free a moment ago).
pub fn free_address() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
    listener.local_addr().expect("local address")
}

/// `rapport serve` on `address` over `data_dir` as the tests run it: the test master key, a
/// 1 GiB map, warnings on standard error, standard output dropped; options given to the test
/// runner through `RAPPORT_*` variables that would change what a test sees are removed.
pub fn serve_command(data_dir: &Path, address: SocketAddr) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_rapport"));
    command
        .arg("serve")
        .arg("--data-dir")
        .arg(data_dir)
        .arg("--http-addr")
        .arg(address.to_string())
        .arg("--map-size-gib")
        .arg("1")
        .env("RAPPORT_LOG", "warn")
        .env("RAPPORT_MASTER_KEY", super::TEST_MASTER_KEY)
        .env_remove("RAPPORT_DEV_MODE")
        .env_remove("RAPPORT_TLS_CERT")
        .env_remove("RAPPORT_TLS_KEY")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    command
}

pub fn spawn(data_dir: &Path) -> Server {
    let address = free_address();
    spawn_until(serve_command(data_dir, address), address, |address| {
        matches!(
            request(address, "GET", "/health", None, &[]),
            Ok(reply) if reply.status == 200 && reply.body["status"] == "ok"
        )
    })
}

/// Starts `command`, a server on `address`, and polls `healthy` until it says the server
/// answers (at most a minute); panics if the server exits first.
pub fn spawn_until(
    mut command: Command,
    address: SocketAddr,
    mut healthy: impl FnMut(SocketAddr) -> bool,
) -> Server {
    let child = command.spawn().expect("spawn the rapport binary");
    let mut server = Server { child, address };
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if healthy(address) {
            return server;
        }
        if let Ok(Some(status)) = server.child.try_wait() {
            panic!("rapport exited before it was healthy: {status}");
        }
        assert!(
            Instant::now() < deadline,
            "rapport did not become healthy on {address}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `Authorization` carrying the test master key, for requests to a spawned server.
pub fn master_bearer() -> (&'static str, String) {
    (
        "authorization",
        format!("Bearer {}", super::TEST_MASTER_KEY),
    )
}

pub fn call(server: &Server, method: &str, path: &str, body: serde_json::Value) -> WireReply {
    let (name, value) = master_bearer();
    request(server.address, method, path, Some(&body), &[(name, &value)]).expect("request")
}

/// Creates the namespace, schema and dataset; returns the dataset id.
pub fn set_up(server: &Server) -> String {
    let reply = call(
        server,
        "POST",
        "/data/core/idnamespace/identities",
        json!({"code": "CRMID", "idType": "CROSS_DEVICE", "unique": true}),
    );
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    let reply = call(
        server,
        "POST",
        "/data/foundation/schemaregistry/tenant/schemas",
        json!({"title": "Customers", "meta:immutableTags": ["union"], "allOf": [
            {"$ref": "https://ns.adobe.com/xdm/context/profile"},
            {"$ref": "https://ns.adobe.com/xdm/context/profile-person-details"}
        ]}),
    );
    assert_eq!(reply.status, 201, "{:?}", reply.body);
    let schema_id = reply.body["$id"].as_str().expect("$id").to_owned();
    let reply = call(
        server,
        "POST",
        "/data/foundation/catalog/dataSets",
        json!({"name": "CRM", "schemaRef": {"id": schema_id}, "tags": {"unifiedProfile": ["enabled:true"], "unifiedIdentity": ["enabled:true"]}}),
    );
    assert_eq!(reply.status, 201, "{:?}", reply.body);
    reply.body[0]
        .as_str()
        .expect("@/dataSets/id")
        .trim_start_matches("@/dataSets/")
        .to_owned()
}
