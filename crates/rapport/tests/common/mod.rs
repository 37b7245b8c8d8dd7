//! `TestServer`: the real router over a temporary data directory, and helpers to set up a sandbox.

#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use rapport::options::ServeOptions;
use rapport::state::AppState;
use serde_json::{json, Value};
use tower::ServiceExt;

pub struct TestServer {
    pub dir: tempfile::TempDir,
    pub options: ServeOptions,
    state: Option<Arc<AppState>>,
    router: Option<Router>,
}

/// A response: status and parsed JSON body (`Value::Null` when empty, a string when not JSON).
pub struct Reply {
    pub status: StatusCode,
    pub body: Value,
}

impl TestServer {
    pub fn start() -> TestServer {
        TestServer::with_options(ServeOptions::default())
    }

    pub fn with_options(mut options: ServeOptions) -> TestServer {
        let dir = tempfile::tempdir().expect("temp dir");
        options.data_dir = Some(dir.path().join("data"));
        options.map_size_gib = Some(options.map_size_gib.unwrap_or(1));
        let mut server = TestServer {
            dir,
            options,
            state: None,
            router: None,
        };
        server.open();
        server
    }

    fn open(&mut self) {
        let settings = self.options.clone().resolve(None).expect("settings");
        let state = rapport::build_state(settings).expect("state");
        self.router = Some(rapport::http::app(state.clone()));
        self.state = Some(state);
    }

    /// Stops the engine (waiting for the writer) and opens the same data directory again.
    pub fn restart(&mut self) {
        self.router = None;
        self.state = None;
        self.open();
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    pub async fn send(
        &self,
        method: Method,
        uri: &str,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let bytes = body
            .map(|b| serde_json::to_vec(&b).expect("json"))
            .unwrap_or_default();
        self.send_raw(method, uri, bytes, headers).await
    }

    pub async fn send_raw(
        &self,
        method: Method,
        uri: &str,
        body: Vec<u8>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let mut request = Request::builder().method(method).uri(uri);
        if !body.is_empty() {
            request = request.header("content-type", "application/json");
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let request = request.body(Body::from(body)).expect("request");
        let router = self.router.clone().expect("server is running");
        let response = router.oneshot(request).await.expect("infallible");
        let status = response.status();
        let bytes = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
        };
        Reply { status, body }
    }

    pub async fn get(&self, uri: &str) -> Reply {
        self.send(Method::GET, uri, None, &[]).await
    }

    pub async fn post(&self, uri: &str, body: Value) -> Reply {
        self.send(Method::POST, uri, Some(body), &[]).await
    }

    /// Creates a schema from a class and standard field groups, enabled for Profile; returns its `$id`.
    pub async fn schema(
        &self,
        title: &str,
        class: &str,
        groups: &[&str],
        headers: &[(&str, &str)],
    ) -> String {
        let mut all_of = vec![json!({"$ref": format!("https://ns.adobe.com/xdm/context/{class}")})];
        all_of.extend(
            groups
                .iter()
                .map(|g| json!({"$ref": format!("https://ns.adobe.com/xdm/context/{g}")})),
        );
        let reply = self
            .send(
                Method::POST,
                "/data/foundation/schemaregistry/tenant/schemas",
                Some(json!({"title": title, "allOf": all_of, "meta:immutableTags": ["union"]})),
                headers,
            )
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        reply.body["$id"].as_str().expect("$id").to_owned()
    }

    /// Creates a dataset enabled for Profile and Identity; returns its id.
    pub async fn dataset(&self, name: &str, schema_id: &str, headers: &[(&str, &str)]) -> String {
        let body = json!({"name": name, "schemaRef": {"id": schema_id, "contentType": "application/vnd.adobe.xed-full+json;version=1"}, "tags": {"unifiedProfile": ["enabled:true"], "unifiedIdentity": ["enabled:true"]}});
        let reply = self
            .send(
                Method::POST,
                "/data/foundation/catalog/dataSets",
                Some(body),
                headers,
            )
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        reply.body[0]
            .as_str()
            .expect("@/dataSets/id")
            .trim_start_matches("@/dataSets/")
            .to_owned()
    }

    /// Creates a custom namespace.
    pub async fn namespace(
        &self,
        code: &str,
        id_type: &str,
        unique: bool,
        headers: &[(&str, &str)],
    ) {
        let reply = self
            .send(
                Method::POST,
                "/data/core/idnamespace/identities",
                Some(json!({"code": code, "name": code, "idType": id_type, "unique": unique})),
                headers,
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    }

    /// Streams one record through the reference's envelope; asserts it was accepted.
    pub async fn stream(&self, dataset_id: &str, entity: Value, headers: &[(&str, &str)]) -> Reply {
        let message = json!({"header": {"datasetId": dataset_id}, "body": {"xdmEntity": entity}});
        self.send(
            Method::POST,
            "/collection/test-inlet",
            Some(message),
            headers,
        )
        .await
    }

    /// Looks up a profile by identity.
    pub async fn profile(&self, namespace: &str, id: &str) -> Reply {
        let uri = format!("/data/core/ups/access/entities?schema.name=_xdm.context.profile&entityId={}&entityIdNS={namespace}", encode(id));
        self.get(&uri).await
    }
}

/// Percent-encodes a query value.
pub fn encode(value: &str) -> String {
    form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// The single entity item of a profile lookup response (keyed by profile id).
pub fn only_entity(body: &Value) -> (&String, &Value) {
    let object = body.as_object().expect("keyed object");
    assert_eq!(object.len(), 1, "one profile expected: {body}");
    object.iter().next().expect("one entry")
}
