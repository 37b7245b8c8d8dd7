//! `TestServer`: the real router over a temporary data directory, and helpers to set up a sandbox.

#![allow(dead_code)]

pub mod batch;
pub mod process;
pub mod wire;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, HeaderMap, Method, Request, StatusCode};
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

/// A response: status, headers and parsed JSON body (`Value::Null` when empty, a string when not
/// JSON).
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Reply {
    /// The `content-type` header, if any.
    pub fn content_type(&self) -> Option<&str> {
        self.headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
    }
}

/// The master key test servers start with; requests carry it unless they bring credentials of
/// their own (see [`TestServer::send_raw`]).
pub const TEST_MASTER_KEY: &str = "test-master-key-0123456789-abcdefghijklmnopq";

impl TestServer {
    pub fn start() -> TestServer {
        TestServer::with_options(ServeOptions::default())
    }

    /// A server in development mode: requests without credentials may do anything, and the
    /// console's pages are served.
    pub fn development() -> TestServer {
        TestServer::with_options(ServeOptions {
            dev_mode: true,
            ..ServeOptions::default()
        })
    }

    /// Options without a master key get [`TEST_MASTER_KEY`], unless in development mode.
    pub fn with_options(mut options: ServeOptions) -> TestServer {
        if options.master_key.is_none() && !options.dev_mode {
            options.master_key = Some(TEST_MASTER_KEY.to_owned());
        }
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

    /// Stops the engine, lets `edit` change the data directory while nothing holds it open, and
    /// opens it again.
    pub fn restart_with(&mut self, edit: impl FnOnce(&Path)) {
        self.router = None;
        self.state = None;
        edit(&self.data_dir());
        self.open();
    }

    /// The running server's shared state.
    pub fn state(&self) -> Arc<AppState> {
        self.state.clone().expect("server is running")
    }

    /// The running server's engine, for tests that load data without HTTP (the demo).
    pub fn engine(&self) -> Arc<engine::Engine> {
        self.state
            .as_ref()
            .expect("server is running")
            .engine
            .clone()
    }

    /// Serves the router on a free loopback port (for a real browser); returns its base URL.
    pub async fn listen(&self) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a free port");
        let address = listener.local_addr().expect("address");
        let router = self.router.clone().expect("server is running");
        tokio::spawn(async move {
            let app = router.into_make_service_with_connect_info::<std::net::SocketAddr>();
            let _ = axum::serve(listener, app).await;
        });
        format!("http://{address}")
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

    /// Sends a request through the router. It carries the master key as a bearer unless the
    /// caller passed `authorization`, `x-api-key` or `cookie` itself (or the server has no
    /// master key).
    pub async fn send_raw(
        &self,
        method: Method,
        uri: &str,
        body: Vec<u8>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let brings_credentials = headers.iter().any(|(name, _)| {
            ["authorization", "x-api-key", "cookie"]
                .iter()
                .any(|c| name.eq_ignore_ascii_case(c))
        });
        match (&self.options.master_key, brings_credentials) {
            (Some(master), false) => {
                let bearer = format!("Bearer {master}");
                let mut with_key = headers.to_vec();
                with_key.push(("authorization", &bearer));
                self.send_exactly(method, uri, body, &with_key).await
            }
            _ => self.send_exactly(method, uri, body, headers).await,
        }
    }

    /// Sends a request with exactly these headers (no credentials added).
    pub async fn send_exactly(
        &self,
        method: Method,
        uri: &str,
        body: Vec<u8>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let mut request = Request::builder().method(method).uri(uri);
        let typed = headers
            .iter()
            .any(|(name, _)| name.eq_ignore_ascii_case("content-type"));
        if !body.is_empty() && !typed {
            request = request.header("content-type", "application/json");
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let request = request.body(Body::from(body)).expect("request");
        let router = self.router.clone().expect("server is running");
        let response = router.oneshot(request).await.expect("infallible");
        let status = response.status();
        let headers = response.headers().clone();
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
        Reply {
            status,
            headers,
            body,
        }
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
        self.profile_with(namespace, id, "").await
    }
}

/// The datasets of a small company: two profile datasets and two event datasets.
pub struct Company {
    pub profile_schema: String,
    pub event_schema: String,
    /// CRM records (profile class).
    pub crm: String,
    /// Loyalty-program records (profile class), a second source of attributes.
    pub loyalty: String,
    /// Web and commerce events.
    pub web: String,
    /// Call-center events (support field group).
    pub calls: String,
}

/// The profile field groups of the company's profile schema.
pub const PROFILE_GROUPS: &[&str] = &[
    "profile-person-details",
    "profile-personal-details",
    "profile-loyalty-details",
    "external-source-system-audit-details",
];

/// The event field groups of the company's event schema.
pub const EVENT_GROUPS: &[&str] = &[
    "experienceevent-web",
    "experienceevent-commerce",
    "experienceevent-marketing",
    "experienceevent-support-interactions",
];

impl TestServer {
    /// Creates the CRMID namespace (unique, cross-device), the two schemas and four datasets.
    pub async fn company(&self, headers: &[(&str, &str)]) -> Company {
        self.namespace("CRMID", "CROSS_DEVICE", true, headers).await;
        let profile_schema = self
            .schema("Customers", "profile", PROFILE_GROUPS, headers)
            .await;
        let event_schema = self
            .schema(
                "Customer Activity",
                "experienceevent",
                EVENT_GROUPS,
                headers,
            )
            .await;
        Company {
            crm: self
                .dataset("CRM Customers", &profile_schema, headers)
                .await,
            loyalty: self
                .dataset("Loyalty Members", &profile_schema, headers)
                .await,
            web: self.dataset("Web Events", &event_schema, headers).await,
            calls: self.dataset("Call Center", &event_schema, headers).await,
            profile_schema,
            event_schema,
        }
    }

    /// Streams one record and asserts it was accepted (200); returns the response body.
    pub async fn ingest(&self, dataset_id: &str, entity: Value) -> Value {
        self.ingest_in(dataset_id, entity, &[]).await
    }

    /// `ingest` with extra headers (such as a sandbox).
    pub async fn ingest_in(
        &self,
        dataset_id: &str,
        entity: Value,
        headers: &[(&str, &str)],
    ) -> Value {
        let reply = self.stream(dataset_id, entity.clone(), headers).await;
        assert_eq!(
            reply.status,
            StatusCode::OK,
            "record refused: {}\nrecord: {entity}",
            reply.body
        );
        reply.body
    }

    /// One page of a profile's events: `query` is appended to the required parameters.
    pub async fn events(&self, namespace: &str, id: &str, query: &str) -> Reply {
        let mut uri = format!(
            "/data/core/ups/access/entities?schema.name=_xdm.context.experienceevent&relatedSchema.name=_xdm.context.profile&relatedEntityId={}",
            encode(id)
        );
        if !namespace.is_empty() {
            uri.push_str(&format!("&relatedEntityIdNS={namespace}"));
        }
        if !query.is_empty() {
            uri.push('&');
            uri.push_str(query);
        }
        self.get(&uri).await
    }

    /// Every event of a profile, following `_links.next.href` page after page; returns the
    /// events in the order served and the number of pages.
    pub async fn all_events(&self, namespace: &str, id: &str, query: &str) -> (Vec<Value>, usize) {
        let first = self.events(namespace, id, query).await;
        assert_eq!(first.status, StatusCode::OK, "{}", first.body);
        let mut body = first.body;
        let mut events = Vec::new();
        let mut pages = 1;
        loop {
            let children = body["children"].as_array().expect("children").clone();
            assert_eq!(body["_page"]["count"], json!(children.len()), "{body}");
            events.extend(children);
            let next = body["_page"]["next"]
                .as_str()
                .expect("_page.next")
                .to_owned();
            let href = body["_links"]["next"]["href"]
                .as_str()
                .expect("href")
                .to_owned();
            if next.is_empty() {
                assert_eq!(href, "", "the last page has no next link");
                break;
            }
            assert!(href.starts_with("/entities?"), "href: {href}");
            assert!(pages < 1000, "paging does not end");
            let reply = self.get(&format!("/data/core/ups/access{href}")).await;
            assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
            body = reply.body;
            pages += 1;
        }
        (events, pages)
    }

    /// Looks up a profile with extra query parameters (`fields=`, `mergePolicyId=`).
    pub async fn profile_with(&self, namespace: &str, id: &str, query: &str) -> Reply {
        let mut uri = format!(
            "/data/core/ups/access/entities?schema.name=_xdm.context.profile&entityId={}",
            encode(id)
        );
        if !namespace.is_empty() {
            uri.push_str(&format!("&entityIdNS={namespace}"));
        }
        if !query.is_empty() {
            uri.push('&');
            uri.push_str(query);
        }
        self.get(&uri).await
    }

    /// The merged entity of the profile linked to an identity; panics unless it is found.
    pub async fn entity(&self, namespace: &str, id: &str) -> Value {
        let reply = self.profile(namespace, id).await;
        assert_eq!(
            reply.status,
            StatusCode::OK,
            "{namespace} {id}: {}",
            reply.body
        );
        only_entity(&reply.body).1["entity"].clone()
    }

    /// The profile id (`entityId`) an identity resolves to.
    pub async fn profile_id(&self, namespace: &str, id: &str) -> String {
        let reply = self.profile(namespace, id).await;
        assert_eq!(
            reply.status,
            StatusCode::OK,
            "{namespace} {id}: {}",
            reply.body
        );
        only_entity(&reply.body).0.clone()
    }

    pub async fn delete(&self, uri: &str) -> Reply {
        self.send(Method::DELETE, uri, None, &[]).await
    }

    pub async fn patch(&self, uri: &str, body: Value) -> Reply {
        self.send(Method::PATCH, uri, Some(body), &[]).await
    }

    pub async fn put(&self, uri: &str, body: Value) -> Reply {
        self.send(Method::PUT, uri, Some(body), &[]).await
    }
}

/// Asserts a problem body: status, code, kind, type and a title that contains `mentions`.
pub fn assert_problem(reply: &Reply, status: u16, code: &str, mentions: &[&str]) {
    assert_eq!(reply.status.as_u16(), status, "{}", reply.body);
    let body = &reply.body;
    assert_eq!(body["status"], json!(status), "{body}");
    assert_eq!(body["code"], json!(code), "{body}");
    assert_eq!(body["kind"], json!("invalid_request"), "{body}");
    let problem_type = body["type"].as_str().expect("type");
    assert!(
        problem_type.starts_with("http://ns.adobe.com/aep/errors/")
            && problem_type.ends_with(&format!("-{status}")),
        "type: {problem_type}"
    );
    let title = body["title"].as_str().expect("title");
    for needle in mentions {
        assert!(
            title.contains(needle),
            "title {title:?} should mention {needle:?}"
        );
    }
}

/// An ECID: exactly 38 digits.
pub fn ecid(n: u64) -> String {
    format!("{n:038}")
}

/// RFC 3339 (UTC, milliseconds) of epoch milliseconds.
/// Polls until `check` holds or `seconds` pass; returns whether it held.
pub async fn eventually<F, Fut>(seconds: u64, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(seconds);
    while std::time::Instant::now() < deadline {
        if check().await {
            return true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    false
}

pub fn iso(epoch_ms: i64) -> String {
    engine::time::format_rfc3339_ms(epoch_ms, true)
}

/// The `(namespace, id)` pairs of an entity's `identityMap`, sorted.
pub fn identities(entity: &Value) -> Vec<(String, String)> {
    let mut pairs: Vec<(String, String)> = entity["identityMap"]
        .as_object()
        .expect("identityMap")
        .iter()
        .flat_map(|(namespace, items)| {
            items
                .as_array()
                .expect("identity array")
                .iter()
                .map(move |item| {
                    (
                        namespace.clone(),
                        item["id"].as_str().expect("id").to_owned(),
                    )
                })
        })
        .collect();
    pairs.sort();
    pairs
}

/// Sorted `(namespace, id)` pairs from string slices, to compare with `identities`.
pub fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut pairs: Vec<(String, String)> = items
        .iter()
        .map(|(n, i)| ((*n).to_owned(), (*i).to_owned()))
        .collect();
    pairs.sort();
    pairs
}

/// The `entityId`s (event `_id`s) of an events page's children, in order.
pub fn event_ids(children: &[Value]) -> Vec<String> {
    children
        .iter()
        .map(|c| c["entityId"].as_str().expect("entityId").to_owned())
        .collect()
}

/// Waits long enough that the next ingestion gets a later millisecond timestamp.
pub async fn next_millisecond() {
    tokio::time::sleep(std::time::Duration::from_millis(3)).await;
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
