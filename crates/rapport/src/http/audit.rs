//! Recording who looked at what: the audit layer around every audited route (declared in the
//! route table, or on a console route), the [`AuditSlip`] a handler fills in with what it
//! returned, and the audit API (`GET /data/foundation/audit/events` and `/export`).
//!
//! The layer records one entry per request after the answer is made, with the final status, so
//! refusals and errors are recorded even when the handler never ran. A lookup is answered and
//! then queued for the audit writer (committed within `--audit-flush-ms`); a change (keys,
//! users, roles, privacy) waits for its entry's commit. When the audit log cannot take the
//! entry, the request is answered `503 audit_unavailable` instead: never a silently unaudited
//! read. The console's in-process calls of the API are not recorded twice: the console route
//! records one entry for its page.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use audit::{
    Actor, ActorKind, AuditAction, AuditEntry, AuditQuery, Client, FieldsReturned, IdentityFilter,
    Outcome, RequestedFields, Via,
};
use axum::body::Body;
use axum::extract::{ConnectInfo, FromRequestParts, RawPathParams, Request, State};
use axum::http::request::Parts;
use axum::http::{header, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::RequestExt;
use engine::EntityRef;
use rapport_types::{Code, ProfileId, SandboxName};
use serde_json::{json, Value};

use super::auth::{AuditRead, Authentication, Authorized, Principal};
use super::error::{ApiError, ApiResult};
use super::extract::QueryPairs;
use super::routes::table::Route;
use crate::state::AppState;

/// How an audited route's entry is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// Queued; the answer does not wait (lookups).
    Queued,
    /// Committed before the answer (changes).
    Committed,
}

/// What an audited route records: its action and how.
#[derive(Debug, Clone)]
pub struct Audited {
    pub action: AuditAction,
    pub durability: Durability,
    pub via: Via,
}

/// The audit log's handle for one request, put in its extensions by the authentication
/// middleware; its absence (the console's in-process calls) means "not recorded here".
#[derive(Clone)]
pub struct AuditContext {
    pub recorder: audit::Recorder,
    pub users: Arc<auth::Users>,
}

/// What the handler says it returned or acted on.
#[derive(Default)]
struct Draft {
    /// Who, when the handler knows better than the credentials (a console session).
    actor: Option<Principal>,
    action: Option<AuditAction>,
    sandbox: Option<SandboxName>,
    profiles: Vec<u64>,
    identity: Option<(String, String)>,
    object: Option<String>,
    fields: Option<FieldsReturned>,
}

/// The handler's part of the audit entry of its request. Handlers of audited routes take it
/// and say what they returned; on a route that is not audited it records nothing.
#[derive(Clone, Default)]
pub struct AuditSlip(Arc<Mutex<Draft>>);

impl AuditSlip {
    fn edit(&self, change: impl FnOnce(&mut Draft)) {
        if let Ok(mut draft) = self.0.lock() {
            change(&mut draft);
        }
    }

    /// The request was made by `principal` (a signed-in console user).
    pub fn actor(&self, principal: &Principal) {
        let principal = principal.clone();
        self.edit(|d| d.actor = Some(principal));
    }

    /// The action is this one rather than the route's (the entity API's events lookups).
    pub fn action(&self, action: AuditAction) {
        self.edit(|d| d.action = Some(action));
    }

    pub fn sandbox(&self, sandbox: &SandboxName) {
        self.edit(|d| d.sandbox = Some(sandbox.clone()));
    }

    /// A profile returned or acted on.
    pub fn profile(&self, profile_id: u64) {
        self.edit(|d| {
            if !d.profiles.contains(&profile_id) {
                d.profiles.push(profile_id);
            }
        });
    }

    /// The identity the request looked a profile up by (recorded as a keyed hash only).
    pub fn identity(&self, namespace: &str, value: &str) {
        self.edit(|d| d.identity = Some((namespace.to_owned(), value.to_owned())));
    }

    /// What a change acted on (a key id, a user name, a job id).
    pub fn object(&self, object: impl Into<String>) {
        let object = object.into();
        self.edit(|d| d.object = Some(object));
    }

    /// The fields asked for (none: all of them).
    pub fn fields(&self, requested: &[String]) {
        let requested = if requested.is_empty() {
            RequestedFields::All
        } else {
            RequestedFields::Paths(requested.to_vec())
        };
        self.edit(|d| {
            d.fields = Some(FieldsReturned {
                requested,
                redaction_stamp: None,
                redacted: 0,
            })
        });
    }
}

impl<S: Send + Sync> FromRequestParts<S> for AuditSlip {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(parts
            .extensions
            .get::<AuditSlip>()
            .cloned()
            .unwrap_or_default())
    }
}

/// The code of a refusal, left on the response by `ApiError` for the audit layer.
#[derive(Debug, Clone, Copy)]
pub struct AnsweredCode(pub Code);

/// A principal as the audit log names it (a user with their role).
pub fn actor_of(principal: &Principal, users: &auth::Users) -> Actor {
    match principal {
        Principal::Master => Actor::new(ActorKind::Master, "master"),
        Principal::Dev => Actor::new(ActorKind::Dev, "dev"),
        Principal::Key(id) => Actor::new(ActorKind::Key, id.clone()),
        Principal::User(name) => {
            let actor = Actor::new(ActorKind::User, name.clone());
            match users.user(name) {
                Ok(user) => actor.with_role(user.role.clone()),
                Err(_) => actor,
            }
        }
    }
}

/// The actor of a request, as its authentication found it; refused before anyone was
/// recognised, the server saw no one.
fn authenticated_actor(authentication: Option<&Authentication>, users: &auth::Users) -> Actor {
    match authentication {
        Some(Authentication::Caller(caller)) => actor_of(&caller.principal, users),
        _ => Actor::new(ActorKind::System, "anonymous"),
    }
}

/// The client of a request: its peer address, and AEP's client id (never a Rapport key).
pub fn client_of(headers: &axum::http::HeaderMap, extensions: &axum::http::Extensions) -> Client {
    Client {
        address: extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|info| info.0.ip().to_string()),
        api_key: headers
            .get("x-api-key")
            .and_then(|v| v.to_str().ok())
            .filter(|k| !k.starts_with("rpk_") && k.len() <= 128)
            .map(str::to_owned),
    }
}

/// Records an event that is not one request's answer (a sign-in, a sign-out), committed
/// before returning. `Err` when the log could not take it.
pub fn record_now(
    state: &AppState,
    actor: Actor,
    action: &'static str,
    object: Option<String>,
    status: StatusCode,
    client: Client,
) -> Result<(), ApiError> {
    let mut entry = AuditEntry::new(
        audit::now_ms(),
        actor,
        Via::Console,
        AuditAction::from_static(action),
        Outcome {
            status: status.as_u16(),
            code: None,
        },
    );
    entry.object = object;
    entry.client = client;
    state.audit.recorder().record_durably(entry).map_err(|_| {
        ApiError::new(
            Code::AuditUnavailable,
            "the audit log could not record this, so it was not done; try again shortly",
        )
    })
}

/// The audit layer of one route.
pub async fn audit_request(
    State(audited): State<Arc<Audited>>,
    mut request: Request,
    next: Next,
) -> Response {
    let Some(context) = request.extensions().get::<AuditContext>().cloned() else {
        // An in-process call (the console): its own route records it.
        return next.run(request).await;
    };
    let at_ms = audit::now_ms();
    let slip = AuditSlip::default();
    request.extensions_mut().insert(slip.clone());
    let actor = authenticated_actor(request.extensions().get::<Authentication>(), &context.users);
    let client = client_of(request.headers(), request.extensions());
    // What a change acted on, unless the handler says: the path's parameters (a key id, a
    // user name, a segment id). An identity in the path (the console's `{ns}/{id}`) is never
    // kept as it is: the handler records it as an identity reference.
    let path_object = match request.extract_parts::<RawPathParams>().await {
        Ok(params) => {
            let names_identity = params.iter().any(|(name, _)| name == "ns");
            let values: Vec<&str> = params
                .iter()
                .filter(|(name, _)| !(names_identity && matches!(*name, "ns" | "id")))
                .map(|(_, value)| value)
                .collect();
            (!values.is_empty()).then(|| values.join("/"))
        }
        Err(_) => None,
    };
    let header_sandbox = request
        .headers()
        .get("x-sandbox-name")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let response = next.run(request).await;

    let draft = std::mem::take(&mut *slip.0.lock().unwrap_or_else(|e| e.into_inner()));
    let code = response
        .extensions()
        .get::<AnsweredCode>()
        .map(|c| c.0.name().to_owned());
    let actor = match &draft.actor {
        Some(principal) => actor_of(principal, &context.users),
        None => actor,
    };
    let mut entry = AuditEntry::new(
        at_ms,
        actor,
        audited.via,
        draft.action.unwrap_or_else(|| audited.action.clone()),
        Outcome {
            status: response.status().as_u16(),
            code,
        },
    );
    entry.client = client;
    entry.sandbox = draft
        .sandbox
        .map(|s| s.to_string())
        .or(header_sandbox)
        .or_else(|| Some(SandboxName::default_sandbox().to_string()));
    entry.profiles = draft.profiles;
    entry.identity = draft
        .identity
        .map(|(namespace, value)| context.recorder.identity_ref(&namespace, &value));
    entry.object = draft.object.or(path_object);
    entry.fields = draft.fields;
    let recorded = match audited.durability {
        Durability::Queued => context.recorder.record(entry).map_err(|_| ()),
        Durability::Committed => context.recorder.record_durably(entry).map_err(|_| ()),
    };
    match recorded {
        Ok(()) => response,
        Err(()) => ApiError::new(
            Code::AuditUnavailable,
            "the audit log could not record this request, so it is not answered; try again shortly",
        )
        .into_response(),
    }
}

/// The audit API's routes.
pub fn routes() -> Vec<Route> {
    vec![
        Route::keyed(Method::GET, "/data/foundation/audit/events", query_events)
            .audited("audit.query"),
        Route::keyed(Method::GET, "/data/foundation/audit/export", export).audited("audit.export"),
    ]
}

/// A time parameter: milliseconds since the epoch, or RFC 3339.
fn time_param(query: &QueryPairs, name: &str) -> ApiResult<Option<i64>> {
    let Some(text) = query.get(name).filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    if let Ok(ms) = text.parse::<i64>() {
        return Ok(Some(ms));
    }
    time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .map(|t| Some((t.unix_timestamp_nanos() / 1_000_000) as i64))
        .map_err(|_| {
            ApiError::new(
                Code::InvalidAuditQuery,
                format!("{name}: \"{text}\" is neither milliseconds since the epoch nor an RFC 3339 time"),
            )
        })
}

fn audit_error(error: audit::AuditError) -> ApiError {
    match error {
        audit::AuditError::InvalidQuery(message) => ApiError::new(Code::InvalidAuditQuery, message),
        audit::AuditError::Unavailable(_) => {
            ApiError::new(Code::AuditUnavailable, "the audit log is not available")
        }
        other => ApiError::new(Code::Internal, other.to_string()),
    }
}

/// An entry as the API shows it: profile ids as the rest of the API writes them (`P…`).
fn entry_json(entry: &AuditEntry) -> Value {
    let mut value = serde_json::to_value(entry).unwrap_or(Value::Null);
    if let Some(profiles) = value.get_mut("profiles") {
        *profiles = entry
            .profiles
            .iter()
            .map(|id| Value::String(ProfileId(*id).to_string()))
            .collect();
    }
    value
}

/// `GET /data/foundation/audit/events?start=&end=&actor=&action=&sandbox=&profileId=&identityNS=&identity=&limit=&cursor=`:
/// entries newest first, a page at a time. `profileId` includes the ids merged into it.
async fn query_events(
    _: Authorized<AuditRead>,
    State(state): State<Arc<AppState>>,
    query: QueryPairs,
) -> ApiResult<Response> {
    let mut filter = AuditQuery {
        start_ms: time_param(&query, "start")?.unwrap_or(0),
        end_ms: time_param(&query, "end")?.unwrap_or(i64::MAX),
        actor: query.get("actor").map(str::to_owned),
        action: query.get("action").map(str::to_owned),
        sandbox: query.get("sandbox").map(str::to_owned),
        cursor: query.get("cursor").map(str::to_owned),
        ..AuditQuery::default()
    };
    if let Some(limit) = query.get("limit") {
        filter.limit = limit.parse().map_err(|_| {
            ApiError::new(
                Code::InvalidAuditQuery,
                format!("limit: \"{limit}\" is not a whole number between 1 and 1000"),
            )
        })?;
    }
    if let Some(profile) = query.get("profileId") {
        let id = ProfileId::parse(profile).ok_or_else(|| {
            ApiError::new(
                Code::InvalidAuditQuery,
                format!("profileId: \"{profile}\" is not a profile id"),
            )
        })?;
        let sandbox = match filter.sandbox.as_deref() {
            Some(name) => SandboxName::parse(name).ok_or_else(|| {
                ApiError::new(
                    Code::InvalidAuditQuery,
                    format!("sandbox: \"{name}\" is not a sandbox name"),
                )
            })?,
            None => SandboxName::default_sandbox(),
        };
        // The profile as it is now, and every id merged into it since.
        filter.profiles = vec![id.0];
        if let Some((live, graph)) = state.engine.graph(&sandbox, &EntityRef::Profile(id))? {
            filter.profiles.push(live.0);
            filter.profiles.extend(graph.merged_profiles);
        }
        filter.profiles.sort_unstable();
        filter.profiles.dedup();
    }
    match (query.get("identityNS"), query.get("identity")) {
        (Some(namespace), Some(value)) => {
            filter.identity = Some(IdentityFilter::Value {
                namespace: namespace.to_owned(),
                value: value.to_owned(),
            })
        }
        (None, None) => {}
        _ => {
            return Err(ApiError::new(
                Code::InvalidAuditQuery,
                "identity and identityNS: give both (the value and its namespace) or neither",
            ))
        }
    }
    let page = state.audit.query(&filter).map_err(audit_error)?;
    let next = page.next.as_ref().map(|cursor| {
        let mut pairs: Vec<(String, String)> = query
            .0
            .iter()
            .filter(|(k, _)| k != "cursor")
            .cloned()
            .collect();
        pairs.push(("cursor".to_owned(), cursor.clone()));
        let encoded = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish();
        format!("/data/foundation/audit/events?{encoded}")
    });
    let events: Vec<Value> = page.entries.iter().map(entry_json).collect();
    let body: Value = json!({
        "_embedded": {"events": events},
        "_page": {"count": page.entries.len(), "next": page.next},
        "_links": {"next": next.map(|href| json!({"href": href}))},
    });
    Ok((StatusCode::OK, axum::Json(body)).into_response())
}

/// `GET /data/foundation/audit/export?start=&end=`: the entries of a time window as JSON Lines,
/// oldest first.
async fn export(
    _: Authorized<AuditRead>,
    State(state): State<Arc<AppState>>,
    query: QueryPairs,
) -> ApiResult<Response> {
    let start = time_param(&query, "start")?.unwrap_or(0);
    let end = time_param(&query, "end")?.unwrap_or(i64::MAX);
    let log = state.audit.clone();
    let lines = tokio::task::spawn_blocking(move || {
        let mut raw = Vec::new();
        log.export(start, end, &mut raw)?;
        let mut out = Vec::with_capacity(raw.len());
        for line in raw.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
            let entry: AuditEntry = serde_json::from_slice(line).map_err(|e| {
                audit::AuditError::InvalidQuery(format!("an exported entry did not read back: {e}"))
            })?;
            serde_json::to_writer(&mut out, &entry_json(&entry)).map_err(|e| {
                audit::AuditError::InvalidQuery(format!("an entry did not write: {e}"))
            })?;
            out.push(b'\n');
        }
        Ok::<_, audit::AuditError>(out)
    })
    .await
    .map_err(|e| ApiError::new(Code::Internal, format!("the export failed: {e}")))?
    .map_err(audit_error)?;
    Ok((
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/x-ndjson")],
        Body::from(lines),
    )
        .into_response())
}
