//! HTTPS for `rapport serve` and `rapport demo` given `--tls-cert` and `--tls-key`: the PEM files
//! read into a rustls configuration (the `ring` provider), and the accept loop that serves the
//! router over TLS with HSTS on every response.
//!
//! The loop is axum's low-level one: accept a TCP connection, turn Nagle off, complete the TLS
//! handshake in a task of its own (at most [`HANDSHAKE_TIMEOUT`], so a slow client never holds
//! the accept loop), then serve HTTP/1.1 on it with hyper, each request carrying the peer's
//! [`ConnectInfo`] for the audit log. On shutdown the loop stops accepting, every open
//! connection finishes the request it is answering, and the function returns once all are
//! closed (as `axum::serve(..).with_graceful_shutdown(..)` does for plain HTTP).

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{ConnectInfo, Request};
use axum::http::{header, HeaderValue};
use axum::response::Response;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio_rustls::rustls::pki_types::pem::{self, PemObject};
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::{self, ServerConfig};
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

use crate::options::TlsFiles;

/// `Strict-Transport-Security` on every response under TLS: browsers that saw it use only
/// HTTPS for this host for a year.
pub const STRICT_TRANSPORT_SECURITY: &str = "max-age=31536000";

/// Longest a client may take to complete the TLS handshake before its connection is dropped.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Reads `--tls-cert` (the chain, the server's certificate first) and `--tls-key` and checks
/// that they belong together. Every error names the file and what is wrong with it.
pub fn server_config(files: &TlsFiles) -> anyhow::Result<Arc<ServerConfig>> {
    let chain = read_certificates(&files.cert)?;
    let key = read_private_key(&files.key)?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| anyhow::anyhow!("TLS protocol versions: {e}"))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| {
            let problem = match e {
                rustls::Error::InconsistentKeys(_) => {
                    "the key is not the certificate's own".to_owned()
                }
                rustls::Error::InvalidCertificate(e) => {
                    format!("the certificate cannot be used ({e:?})")
                }
                other => other.to_string(),
            };
            anyhow::anyhow!(
                "--tls-cert {} with --tls-key {}: {problem}",
                files.cert.display(),
                files.key.display()
            )
        })?;
    // HTTP/1.1 only: under HTTP/2 a request names its host in `:authority`, not in the `Host`
    // header the console's same-origin check compares `Origin` with.
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

fn read_file(option: &str, path: &Path) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path)
        .map_err(|e| anyhow::anyhow!("{option} {}: cannot read it: {e}", path.display()))
}

/// What is wrong with a PEM file, in words (the library's own text shows markers as bytes).
fn pem_problem(error: &pem::Error) -> String {
    match error {
        pem::Error::MissingSectionEnd { end_marker } => format!(
            "not valid PEM: a section never ends (no -----END {}----- line)",
            String::from_utf8_lossy(end_marker)
        ),
        pem::Error::IllegalSectionStart { .. } => {
            "not valid PEM: a malformed -----BEGIN line".to_owned()
        }
        pem::Error::Base64Decode(e) => format!("not valid PEM: the base64 is damaged ({e})"),
        other => format!("not valid PEM: {other}"),
    }
}

fn read_certificates(path: &Path) -> anyhow::Result<Vec<CertificateDer<'static>>> {
    let bytes = read_file("--tls-cert", path)?;
    let chain = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| anyhow::anyhow!("--tls-cert {}: {}", path.display(), pem_problem(&e)))?;
    anyhow::ensure!(
        !chain.is_empty(),
        "--tls-cert {}: no certificate in it (a PEM file with -----BEGIN CERTIFICATE----- sections)",
        path.display()
    );
    Ok(chain)
}

fn read_private_key(path: &Path) -> anyhow::Result<PrivateKeyDer<'static>> {
    let bytes = read_file("--tls-key", path)?;
    PrivateKeyDer::from_pem_slice(&bytes).map_err(|e| match e {
        pem::Error::NoItemsFound => anyhow::anyhow!(
            "--tls-key {}: no private key in it (a PEM file with a -----BEGIN PRIVATE KEY-----, RSA PRIVATE KEY or EC PRIVATE KEY section)",
            path.display()
        ),
        other => anyhow::anyhow!("--tls-key {}: {}", path.display(), pem_problem(&other)),
    })
}

/// Serves `app` over TLS on `listener` until `shutdown` completes, then waits for the open
/// connections to finish what they are answering.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    config: Arc<ServerConfig>,
    shutdown: impl Future<Output = ()>,
) {
    let acceptor = TlsAcceptor::from(config);
    // Every connection's task holds a receiver: `closed()` then says when the last one ended.
    let (stop, stopping) = watch::channel(());
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    pause_after(error).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        // Responses are small and latency matters: never let Nagle hold a response back.
        let _ = stream.set_nodelay(true);
        tokio::spawn(connection(
            stream,
            peer,
            acceptor.clone(),
            app.clone(),
            stopping.clone(),
        ));
    }
    drop(listener);
    drop(stopping);
    let _ = stop.send(());
    stop.closed().await;
}

/// After a failed accept: a connection that went away before it was accepted is nothing; any
/// other error (out of file descriptors, say) is logged and waited out for a second rather than
/// retried in a tight loop.
async fn pause_after(error: io::Error) {
    if matches!(
        error.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionReset
    ) {
        return;
    }
    tracing::error!(%error, "accepting a connection failed");
    tokio::time::sleep(Duration::from_secs(1)).await;
}

/// One client: the handshake, then HTTP/1.1 until the client leaves or the server stops.
async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    acceptor: TlsAcceptor,
    app: Router,
    mut stopping: watch::Receiver<()>,
) {
    let handshake = tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream));
    let stream = tokio::select! {
        finished = handshake => match finished {
            Ok(Ok(stream)) => stream,
            Ok(Err(error)) => {
                tracing::debug!(%peer, %error, "TLS handshake failed");
                return;
            }
            Err(_) => {
                tracing::debug!(%peer, "TLS handshake timed out");
                return;
            }
        },
        // The server is stopping: a connection not yet set up is simply dropped.
        _ = stopping.changed() => return,
    };
    let service = app
        .map_request(move |mut request: Request<Incoming>| {
            // What `into_make_service_with_connect_info` gives plain HTTP: the audit log's peer.
            request.extensions_mut().insert(ConnectInfo(peer));
            request
        })
        .map_response(|mut response: Response| {
            response.headers_mut().insert(
                header::STRICT_TRANSPORT_SECURITY,
                HeaderValue::from_static(STRICT_TRANSPORT_SECURITY),
            );
            response
        });
    // `http1_only` keeps HTTP/2 off even should another crate turn hyper-util's `http2` on.
    let builder = auto::Builder::new(TokioExecutor::new()).http1_only();
    let served = builder.serve_connection(TokioIo::new(stream), TowerToHyperService::new(service));
    let mut served = std::pin::pin!(served);
    tokio::select! {
        result = served.as_mut() => {
            if let Err(error) = result {
                tracing::debug!(%peer, %error, "HTTPS connection ended with an error");
            }
            return;
        }
        _ = stopping.changed() => {}
    }
    // Finish the request in progress, answer no further one, then close.
    served.as_mut().graceful_shutdown();
    if let Err(error) = served.await {
        tracing::debug!(%peer, %error, "HTTPS connection ended with an error");
    }
}
