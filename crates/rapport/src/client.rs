//! A small HTTP/1.1 client over one keep-alive connection, for the command line and the benchmarks.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::{self, SendRequest};
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;

/// One connection to a Rapport server.
pub struct Connection {
    sender: SendRequest<Full<Bytes>>,
    host: String,
    sandbox: Option<String>,
    /// `Bearer <key>`, sent with every request when set.
    authorization: Option<String>,
}

/// `http://host:port[/]` → `host:port`.
pub fn address_of(url: &str) -> anyhow::Result<String> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| anyhow::anyhow!("--server: \"{url}\" must start with http://"))?;
    let address = rest.trim_end_matches('/');
    anyhow::ensure!(
        !address.is_empty() && !address.contains('/'),
        "--server: \"{url}\" must be http://HOST:PORT"
    );
    Ok(address.to_owned())
}

/// A command's connection to the server at `server` (a URL), naming `sandbox` and sending `key`
/// on every request; when nothing answers, the error asks whether `rapport serve` runs there.
pub async fn connect_command(
    server: &str,
    sandbox: Option<&str>,
    key: Option<&str>,
) -> anyhow::Result<Connection> {
    let address = address_of(server)?;
    let connection = Connection::open(&address)
        .await
        .map_err(|e| {
            anyhow::anyhow!("connecting to {server}: is `rapport serve` running there? ({e})")
        })?
        .with_key(key);
    Ok(match sandbox {
        Some(sandbox) => connection.with_sandbox(sandbox),
        None => connection,
    })
}

impl Connection {
    pub async fn open(address: &str) -> anyhow::Result<Connection> {
        let stream = tokio::net::TcpStream::connect(address).await?;
        stream.set_nodelay(true)?;
        let (sender, connection) = http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(async move {
            let _ = connection.await;
        });
        Ok(Connection {
            sender,
            host: address.to_owned(),
            sandbox: None,
            authorization: None,
        })
    }

    /// Sends `x-sandbox-name` with every request from now on.
    pub fn with_sandbox(mut self, sandbox: &str) -> Connection {
        self.sandbox = Some(sandbox.to_owned());
        self
    }

    /// Sends `Authorization: Bearer <key>` with every request from now on (nothing when `None`).
    pub fn with_key(mut self, key: Option<&str>) -> Connection {
        self.authorization = key.map(|key| format!("Bearer {}", key.trim()));
        self
    }

    /// Sends one request and reads the whole response; returns (status, body).
    pub async fn send(
        &mut self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<Bytes>,
    ) -> anyhow::Result<(u16, Bytes)> {
        self.sender.ready().await?;
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .header("host", &self.host);
        if let Some(sandbox) = &self.sandbox {
            request = request.header("x-sandbox-name", sandbox);
        }
        if let Some(authorization) = &self.authorization {
            request = request.header("authorization", authorization);
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let request = request.body(Full::new(body.unwrap_or_default()))?;
        let response = self.sender.send_request(request).await?;
        let status = response.status().as_u16();
        let bytes = response.into_body().collect().await?.to_bytes();
        Ok((status, bytes))
    }

    pub async fn get(&mut self, path: &str) -> anyhow::Result<(u16, Bytes)> {
        self.send(Method::GET, path, &[], None).await
    }

    /// GETs JSON and fails with the server's message unless the status is 2xx.
    pub async fn get_json(&mut self, path: &str) -> anyhow::Result<serde_json::Value> {
        let (status, bytes) = self.get(path).await?;
        ok_json("GET", path, status, &bytes)
    }

    /// POSTs JSON and fails with the server's message unless the status is 2xx.
    pub async fn post_json(
        &mut self,
        path: &str,
        body: &serde_json::Value,
    ) -> anyhow::Result<serde_json::Value> {
        self.post_raw(path, serde_json::to_vec(body)?).await
    }

    /// Sends JSON (or no body) with any method and fails with the server's message unless the
    /// status is 2xx; returns the answer (null when empty).
    pub async fn request_json(
        &mut self,
        method: Method,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> anyhow::Result<serde_json::Value> {
        let body = body.map(serde_json::to_vec).transpose()?.map(Bytes::from);
        let (status, bytes) = self
            .send(
                method.clone(),
                path,
                &[("content-type", "application/json")],
                body,
            )
            .await?;
        ok_json(method.as_str(), path, status, &bytes)
    }

    /// POSTs JSON text and fails with the server's message unless the status is 2xx.
    pub async fn post_raw(
        &mut self,
        path: &str,
        body: Vec<u8>,
    ) -> anyhow::Result<serde_json::Value> {
        let (status, bytes) = self
            .send(
                Method::POST,
                path,
                &[("content-type", "application/json")],
                Some(Bytes::from(body)),
            )
            .await?;
        ok_json("POST", path, status, &bytes)
    }
}

fn ok_json(
    method: &str,
    path: &str,
    status: u16,
    bytes: &[u8],
) -> anyhow::Result<serde_json::Value> {
    let body: serde_json::Value = serde_json::from_slice(bytes).unwrap_or(serde_json::Value::Null);
    if !(200..300).contains(&status) {
        let message = body
            .get("title")
            .and_then(|t| t.as_str())
            .map(str::to_owned)
            .unwrap_or_else(|| String::from_utf8_lossy(bytes).into_owned());
        // The commands take the key from --key or RAPPORT_KEY: say so where it was missing.
        let hint = match status {
            401 => " (give a key with --key or RAPPORT_KEY)",
            _ => "",
        };
        anyhow::bail!("{method} {path} answered {status}: {message}{hint}");
    }
    Ok(body)
}
