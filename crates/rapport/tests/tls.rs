//! HTTPS on the real binary: with `--tls-cert` and `--tls-key` (a self-signed certificate made
//! here) it answers only over TLS, every response with HSTS, console cookies `Secure` and the
//! peer's address in the audit log; half of the options, or a broken PEM file, stop start-up
//! with a message naming the option or the file.

use std::ffi::OsStr;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::http::{header, HeaderMap, Request, StatusCode};
use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio_rustls::rustls::{self, pki_types::CertificateDer, pki_types::ServerName};
use tokio_rustls::TlsConnector;

use crate::common::process::{self, master_bearer, Server};

/// A self-signed certificate for 127.0.0.1 and localhost, written as PEM files.
struct Certificate {
    _dir: tempfile::TempDir,
    cert: PathBuf,
    key: PathBuf,
    der: CertificateDer<'static>,
}

fn certificate() -> Certificate {
    let rcgen::CertifiedKey { cert, key_pair } =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
            .expect("a self-signed certificate");
    let dir = tempfile::tempdir().expect("a temporary directory");
    let cert_path = dir.path().join("cert.pem");
    let key_path = dir.path().join("key.pem");
    std::fs::write(&cert_path, cert.pem()).expect("write cert.pem");
    std::fs::write(&key_path, key_pair.serialize_pem()).expect("write key.pem");
    Certificate {
        _dir: dir,
        cert: cert_path,
        key: key_path,
        der: cert.der().clone(),
    }
}

/// An HTTPS response: status, headers and body.
struct HttpsReply {
    status: StatusCode,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl HttpsReply {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
}

/// One HTTP/1.1 request over TLS to `address`, trusting only `trusted` (rustls with ring and a
/// hyper client, on a runtime of its own so the tests stay synchronous like the process ones).
fn https(
    address: SocketAddr,
    trusted: &CertificateDer<'static>,
    path: &str,
    headers: &[(&str, &str)],
) -> Result<HttpsReply, String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    runtime.block_on(async {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(trusted.clone()).map_err(|e| e.to_string())?;
        let config = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
        let tcp = tokio::net::TcpStream::connect(address)
            .await
            .map_err(|e| format!("connect: {e}"))?;
        let tls = TlsConnector::from(Arc::new(config))
            .connect(ServerName::from(address.ip()), tcp)
            .await
            .map_err(|e| format!("TLS handshake: {e}"))?;
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
            .await
            .map_err(|e| format!("HTTP handshake: {e}"))?;
        tokio::spawn(connection);
        let mut request = Request::get(path).header(header::HOST, address.to_string());
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let request = request
            .body(Empty::<Bytes>::new())
            .map_err(|e| e.to_string())?;
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| format!("request: {e}"))?;
        let (parts, body) = response.into_parts();
        let body = body
            .collect()
            .await
            .map_err(|e| format!("body: {e}"))?
            .to_bytes()
            .to_vec();
        Ok(HttpsReply {
            status: parts.status,
            headers: parts.headers,
            body,
        })
    })
}

/// The real binary serving HTTPS with `certificate`, once `/health` answers over TLS.
fn spawn_https(data_dir: &Path, certificate: &Certificate) -> Server {
    let address = process::free_address();
    let mut command = process::serve_command(data_dir, address);
    command
        .arg("--tls-cert")
        .arg(&certificate.cert)
        .arg("--tls-key")
        .arg(&certificate.key);
    process::spawn_until(command, address, |address| {
        matches!(
            https(address, &certificate.der, "/health", &[]),
            Ok(reply) if reply.status == StatusCode::OK
        )
    })
}

fn hsts(reply: &HttpsReply) -> Option<&str> {
    reply
        .headers
        .get(header::STRICT_TRANSPORT_SECURITY)
        .and_then(|v| v.to_str().ok())
}

/// What the binary printed on standard error when it refused to start with `args`; panics if
/// it started instead.
fn refused_start(args: &[&OsStr]) -> String {
    let data_dir = tempfile::tempdir().expect("a temporary directory");
    let mut command = process::serve_command(data_dir.path(), process::free_address());
    command.args(args).stderr(Stdio::piped());
    let child = command.spawn().expect("spawn the rapport binary");
    // Killed on drop should it serve after all.
    let mut server = Server {
        child,
        address: process::free_address(),
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = server.child.try_wait().expect("the child's status") {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "rapport kept running with {args:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut stderr = String::new();
    server
        .child
        .stderr
        .take()
        .expect("piped standard error")
        .read_to_string(&mut stderr)
        .expect("read standard error");
    assert!(
        !status.success(),
        "rapport exited 0 with {args:?}: {stderr}"
    );
    stderr
}

#[test]
fn https_answers_with_hsts_secure_console_cookies_and_the_peer_in_the_audit_log() {
    let certificate = certificate();
    let data_dir = tempfile::tempdir().expect("a temporary directory");
    let server = spawn_https(data_dir.path(), &certificate);
    let address = server.address;

    let health = https(address, &certificate.der, "/health", &[]).expect("GET /health");
    assert_eq!(health.status, StatusCode::OK);
    assert_eq!(health.json()["status"], "ok");
    assert_eq!(hsts(&health), Some("max-age=31536000"));

    // Every response, not only the successful ones.
    let missing = https(address, &certificate.der, "/no/such/route", &[]).expect("GET a 404");
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(hsts(&missing), Some("max-age=31536000"));

    // TLS implies `--cookie-secure`: the sign-in form's cookie is `Secure`.
    let login = https(address, &certificate.der, "/console/login", &[]).expect("GET the form");
    assert_eq!(login.status, StatusCode::OK);
    assert_eq!(hsts(&login), Some("max-age=31536000"));
    let cookies: Vec<&str> = login
        .headers
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    assert!(
        cookies.iter().any(|c| c.starts_with("rapport_login=")),
        "{cookies:?}"
    );
    assert!(
        cookies.iter().all(|c| c.contains("; Secure")),
        "{cookies:?}"
    );

    // The audit log records the peer's address, as it does over plain HTTP.
    let (name, value) = master_bearer();
    let keys = https(
        address,
        &certificate.der,
        "/data/rapport/keys",
        &[(name, &value)],
    )
    .expect("GET the keys");
    assert_eq!(keys.status, StatusCode::OK);
    let deadline = Instant::now() + Duration::from_secs(30);
    let entry = loop {
        let reply = https(
            address,
            &certificate.der,
            "/data/foundation/audit/events?action=key.list",
            &[(name, &value)],
        )
        .expect("GET the audit log");
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.json());
        if let Some(entry) = reply.json()["_embedded"]["events"]
            .as_array()
            .and_then(|events| events.first().cloned())
        {
            break entry;
        }
        assert!(
            Instant::now() < deadline,
            "no key.list entry in the audit log"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(entry["client"]["address"], "127.0.0.1", "{entry}");
}

#[test]
fn plain_http_to_the_https_port_gets_no_http_answer() {
    let certificate = certificate();
    let data_dir = tempfile::tempdir().expect("a temporary directory");
    let server = spawn_https(data_dir.path(), &certificate);

    let mut stream = TcpStream::connect(server.address).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("read timeout");
    stream
        .write_all(
            format!(
                "GET /health HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
                server.address
            )
            .as_bytes(),
        )
        .expect("write a plain request");
    let mut answer = Vec::new();
    // A reset connection is no HTTP answer either.
    let _ = stream.read_to_end(&mut answer);
    assert!(
        !answer.windows(5).any(|w| w == b"HTTP/"),
        "plain HTTP got an answer: {:?}",
        String::from_utf8_lossy(&answer)
    );

    // The failed handshake cost that client only: HTTPS still answers.
    let health = https(server.address, &certificate.der, "/health", &[]).expect("GET /health");
    assert_eq!(health.status, StatusCode::OK);
}

#[test]
fn half_the_tls_options_refuse_to_start_naming_the_missing_one() {
    let certificate = certificate();
    let message = refused_start(&[OsStr::new("--tls-cert"), certificate.cert.as_os_str()]);
    assert!(message.contains("--tls-key"), "{message}");

    let message = refused_start(&[OsStr::new("--tls-key"), certificate.key.as_os_str()]);
    assert!(message.contains("--tls-cert"), "{message}");

    // The same from the config file.
    let dir = tempfile::tempdir().expect("a temporary directory");
    let config = dir.path().join("rapport.toml");
    std::fs::write(
        &config,
        format!("tls-cert = {:?}\n", certificate.cert.display().to_string()),
    )
    .expect("write rapport.toml");
    let message = refused_start(&[OsStr::new("--config"), config.as_os_str()]);
    assert!(message.contains("--tls-key"), "{message}");
}

#[test]
fn unreadable_or_broken_pem_files_refuse_to_start_naming_the_file() {
    let certificate = certificate();
    let dir = tempfile::tempdir().expect("a temporary directory");
    let garbage = dir.path().join("garbage.pem");
    std::fs::write(&garbage, "this is not a certificate\n").expect("write garbage.pem");
    let cut = dir.path().join("cut.pem");
    let pem = std::fs::read_to_string(&certificate.cert).expect("read cert.pem");
    std::fs::write(&cut, &pem[..pem.len() / 2]).expect("write cut.pem");
    let missing = dir.path().join("missing.pem");
    let other_key = dir.path().join("other-key.pem");
    std::fs::write(
        &other_key,
        rcgen::KeyPair::generate()
            .expect("a key pair")
            .serialize_pem(),
    )
    .expect("write other-key.pem");

    let start = |cert: &Path, key: &Path| {
        refused_start(&[
            OsStr::new("--tls-cert"),
            cert.as_os_str(),
            OsStr::new("--tls-key"),
            key.as_os_str(),
        ])
    };
    let names = |message: &str, path: &Path, what: &str| {
        assert!(
            message.contains(&path.display().to_string()) && message.contains(what),
            "expected {} and {what:?} in: {message}",
            path.display()
        );
        assert!(!message.contains("panicked"), "{message}");
    };

    let message = start(&garbage, &certificate.key);
    names(&message, &garbage, "no certificate");
    let message = start(&certificate.cert, &garbage);
    names(&message, &garbage, "no private key");
    let message = start(&cut, &certificate.key);
    names(&message, &cut, "not valid PEM");
    let message = start(&missing, &certificate.key);
    names(&message, &missing, "cannot read it");
    // A key that is not the certificate's own names both files.
    let message = start(&certificate.cert, &other_key);
    names(&message, &certificate.cert, "--tls-cert");
    names(&message, &other_key, "--tls-key");
}
