//! The agent console's routes: pages and htmx fragments rendered by `rapport-console` from the
//! same JSON the API answers with, and the server-sent events that keep an open profile live.
//!
//! The console is a client of the API: it reads through the API's own router, in process, so a
//! page shows exactly what the API would return (and every rule of the API applies to it).

use std::collections::{BTreeMap, HashMap};
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, Request, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post, MethodRouter};
use axum::Router;
use http_body_util::BodyExt;
use rapport_console::{self as console, urls, ErrorKind, Lang, Panel, TimelineQuery};
use serde::Deserialize;
use serde_json::Value;
use tower::ServiceExt;

use super::audit::{AuditSlip, Audited, Durability};
use super::auth::{AuditRead, Authentication, Caller, Principal, ProfilesRead, SegmentsRead};
use super::session::{self, html, language, Signed, Visitor};
use crate::state::AppState;

/// The console's routes. Pages and fragments are for signed-in users (each handler's
/// [`Signed<A>`] says what its role must allow); the sign-in page, the redirect from `/`, the
/// language switch and the assets are public. Every answer carries the console's security
/// headers.
pub fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/", get(|| async { Redirect::to(urls::ROUTE_SEARCH) }))
        .route(
            urls::ROUTE_LOGIN,
            get(session::login_page).post(session::sign_in),
        )
        .route(urls::ROUTE_LOGOUT, post(session::sign_out))
        .route(urls::ROUTE_LANG, get(switch_language))
        .route(urls::ROUTE_ASSET, get(asset))
        .route(urls::ROUTE_SEARCH, audited(get(search), "console.search"))
        .route(
            urls::ROUTE_PROFILE,
            audited(get(profile), "console.profile"),
        )
        .route(urls::ROUTE_PANEL, audited(get(panel), "console.panel"))
        .route(
            urls::ROUTE_TIMELINE,
            audited(get(timeline), "console.timeline"),
        )
        .route(urls::ROUTE_LIVE, get(live))
        .route(urls::ROUTE_AUDIT, audited(get(audit_log), "console.audit"))
        .route(
            urls::ROUTE_AUDIT_PROFILE,
            audited(get(audit_profile), "console.audit.open"),
        )
        .route(
            urls::ROUTE_EXPLAIN,
            audited(get(explain), "console.explain"),
        )
        .layer(axum::middleware::from_fn(session::console_headers))
}

/// A console route whose every request is recorded in the audit log as `action` (the live
/// stream is not: its polls are not an agent looking).
fn audited(
    route: MethodRouter<Arc<AppState>>,
    action: &'static str,
) -> MethodRouter<Arc<AppState>> {
    route.layer(axum::middleware::from_fn_with_state(
        Arc::new(Audited {
            action: audit::AuditAction::from_static(action),
            durability: Durability::Queued,
            via: audit::Via::Console,
        }),
        super::audit::audit_request,
    ))
}

/// Tells the audit entry which customer a console request showed: the identity it was opened
/// with, and the profile id of the lookup's answer.
fn note_customer(slip: &AuditSlip, ns: &str, id: &str, lookup: Option<&Value>) {
    slip.identity(ns, id);
    if let Some(profile_id) = lookup
        .and_then(Value::as_object)
        .and_then(|o| o.keys().next())
        .and_then(|key| rapport_types::ProfileId::parse(key))
    {
        slip.profile(profile_id.0);
    }
}

/// Whether a profile has the identity `(ns, id)` in the console's sandbox (an error counts as
/// gone: the list offers only customers that can be opened).
fn still_exists(state: &AppState, ns: &str, id: &str) -> bool {
    let sandbox = rapport_types::SandboxName::default_sandbox();
    let Ok(catalog) = state.engine.sandbox(&sandbox) else {
        return false;
    };
    state
        .engine
        .entity_ref(&catalog, id, Some(ns))
        .and_then(|entity| state.engine.graph(&sandbox, &entity))
        .is_ok_and(|found| found.is_some())
}

/// How many recently viewed customers are kept per user.
const RECENT_MAX: usize = 8;
/// The most events of the last 12 months a profile page reads (the page says when it stops).
const EVENTS_CAP: usize = 2_000;
/// How often the live stream looks whether the engine committed anything since it last looked
/// (an atomic read); only then does it re-read the open profile.
const LIVE_POLL: Duration = Duration::from_millis(100);

/// The customers each console user opened last, most recent first, kept in memory by the
/// server (never in a cookie: they name customers).
#[derive(Default)]
pub struct RecentlyViewed {
    by_user: Mutex<HashMap<String, Vec<console::Recent>>>,
}

impl RecentlyViewed {
    /// The customers `who` opened last.
    fn of(&self, who: &Principal) -> Vec<console::Recent> {
        self.by_user
            .lock()
            .map(|all| all.get(&who.name()).cloned().unwrap_or_default())
            .unwrap_or_default()
    }

    /// Forgets a customer everyone viewed (their profile is gone: deleted, or erased by a
    /// privacy request).
    fn forget(&self, gone: &console::Recent) {
        if let Ok(mut all) = self.by_user.lock() {
            for list in all.values_mut() {
                list.retain(|r| !(r.ns == gone.ns && r.id == gone.id));
            }
        }
    }

    /// Puts `viewed` first among what `who` opened last.
    fn record(&self, who: &Principal, viewed: console::Recent) {
        if let Ok(mut all) = self.by_user.lock() {
            let list = all.entry(who.name()).or_default();
            list.retain(|r| !(r.ns == viewed.ns && r.id == viewed.id));
            list.insert(0, viewed);
            list.truncate(RECENT_MAX);
        }
    }
}

/// A failure shown to the agent as a page (or, for an htmx request, as the fragment).
struct Failure {
    status: StatusCode,
    detail: String,
}

impl Failure {
    fn kind<'a>(&self, identity: &'a str, reference: &'a str) -> ErrorKind<'a> {
        match self.status {
            StatusCode::NOT_FOUND => ErrorKind::UnknownCustomer(identity),
            StatusCode::UNPROCESSABLE_ENTITY | StatusCode::PAYLOAD_TOO_LARGE => {
                ErrorKind::ProfileTooLarge
            }
            StatusCode::SERVICE_UNAVAILABLE => ErrorKind::Unavailable,
            StatusCode::FORBIDDEN => ErrorKind::NotPermitted,
            _ => ErrorKind::ServerError { reference },
        }
    }

    fn page(&self, lang: Lang, identity: &str, here: &str, visitor: &Visitor) -> Response {
        let reference = uuid::Uuid::new_v4().simple().to_string()[..8].to_owned();
        if !matches!(self.status, StatusCode::NOT_FOUND) {
            tracing::warn!(reference, status = %self.status, detail = %self.detail, path = here, "console request failed");
        }
        let kind = self.kind(identity, &reference);
        let status =
            StatusCode::from_u16(kind.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        html(
            status,
            console::error_page(lang, &kind, here, visitor.viewer()),
        )
    }
}

/// The API, called in process as the console's visitor: one router for the requests of one
/// console request.
struct Api {
    router: Router,
    state: Arc<AppState>,
    caller: Arc<Caller>,
}

impl Api {
    fn new(state: &Arc<AppState>, visitor: &Visitor) -> Api {
        Api {
            router: super::routes::router(state.settings.request_timeout)
                .fallback(super::routes::not_found)
                .with_state(state.clone()),
            state: state.clone(),
            caller: visitor.caller.clone(),
        }
    }

    /// `GET path` on the API as the visitor: the JSON body, or the status and the problem's
    /// detail.
    async fn get(&self, path: &str) -> Result<Value, Failure> {
        self.get_as(path, self.caller.clone()).await
    }

    /// `GET path` on the catalog's names (namespaces, dataset names) the pages need to read
    /// what the agent typed and to label the identity graph: read with `schemas.read` on the
    /// visitor's behalf, within the visitor's sandboxes, whatever else their role holds.
    async fn get_catalog_names(&self, path: &str) -> Result<Value, Failure> {
        let mut actions = rapport_types::ActionSet::empty();
        actions.insert(rapport_types::Action::SchemasRead);
        let reader = Arc::new(Caller {
            principal: self.caller.principal.clone(),
            actions,
            sandboxes: self.caller.sandboxes.clone(),
            labels: self.caller.labels.clone(),
            rate_limit: self.caller.rate_limit,
        });
        self.get_as(path, reader).await
    }

    async fn get_as(&self, path: &str, caller: Arc<Caller>) -> Result<Value, Failure> {
        let mut request = Request::get(path)
            .body(Body::empty())
            .map_err(|e| Failure {
                status: StatusCode::BAD_REQUEST,
                detail: e.to_string(),
            })?;
        request
            .extensions_mut()
            .insert(Authentication::Caller(caller));
        let response = self
            .router
            .clone()
            .oneshot(request)
            .await
            .unwrap_or_else(|never| match never {});
        let status = response.status();
        let bytes = response
            .into_body()
            .collect()
            .await
            .map_err(|e| Failure {
                status: StatusCode::INTERNAL_SERVER_ERROR,
                detail: e.to_string(),
            })?
            .to_bytes();
        let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        if status.is_success() {
            Ok(body)
        } else {
            Err(Failure {
                status,
                // The API's problem body says what was wrong in its `title`.
                detail: body["title"].as_str().unwrap_or_default().to_owned(),
            })
        }
    }

    async fn profile(&self, ns: &str, id: &str) -> Result<Value, Failure> {
        self.get(&format!(
            "/data/core/ups/access/entities?schema.name=_xdm.context.profile&entityId={}&entityIdNS={}&withCA=true",
            urls::encode(id),
            urls::encode(ns)
        ))
        .await
    }

    /// One page of the customer's events, newest first, with `query` appended.
    async fn events(&self, ns: &str, id: &str, query: &str) -> Result<Value, Failure> {
        let query = query.trim_start_matches(['?', '&']);
        self.get(&format!(
            "/data/core/ups/access/entities?schema.name=_xdm.context.experienceevent&relatedSchema.name=_xdm.context.profile&relatedEntityId={}&relatedEntityIdNS={}&{query}",
            urls::encode(id),
            urls::encode(ns)
        ))
        .await
    }

    /// The events of the last 12 months, newest first, up to [`EVENTS_CAP`]; and whether the
    /// cap cut them short. Read from the engine directly (the events API's own call): the
    /// hundreds of events of a frequent buyer are not worth encoding and decoding again.
    fn recent_events(
        &self,
        ns: &str,
        id: &str,
        now_ms: i64,
    ) -> Result<(Vec<Value>, bool), Failure> {
        let failed = |e: engine::Error| Failure {
            status: StatusCode::from_u16(e.code().http_status())
                .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            detail: e.to_string(),
        };
        let sandbox = rapport_types::SandboxName::default_sandbox();
        self.caller
            .require(rapport_types::Action::EventsRead, &sandbox)
            .map_err(|error| Failure {
                status: StatusCode::FORBIDDEN,
                detail: error.message,
            })?;
        let engine = &self.state.engine;
        let catalog = engine.sandbox(&sandbox).map_err(failed)?;
        let entity = engine.entity_ref(&catalog, id, Some(ns)).map_err(failed)?;
        let mut query = engine::EventQuery {
            start_ms: Some(now_ms - 365 * 24 * 3_600_000),
            descending: true,
            limit: 1_000,
            projection: Some(panel_fields()),
            ..engine::EventQuery::default()
        };
        let mut events = Vec::new();
        loop {
            let redaction = self.caller.redaction(&catalog);
            let Some(page) = engine
                .events(&sandbox, &entity, &query, &redaction)
                .map_err(failed)?
            else {
                return Err(Failure {
                    status: StatusCode::NOT_FOUND,
                    detail: format!("no profile has {id} ({ns})"),
                });
            };
            events.extend(
                page.children
                    .iter()
                    .filter_map(|child| serde_json::from_str::<Value>(child.get()).ok()),
            );
            match page.next {
                None => return Ok((events, false)),
                Some(_) if events.len() >= EVENTS_CAP => {
                    events.truncate(EVENTS_CAP);
                    return Ok((events, true));
                }
                Some(next) => query.after = Some(next),
            }
        }
    }

    async fn graph(&self, ns: &str, id: &str) -> Result<Value, Failure> {
        self.get(&format!(
            "/data/core/identity/graph?ns={}&id={}",
            urls::encode(ns),
            urls::encode(id)
        ))
        .await
    }

    /// Dataset ids to names.
    async fn datasets(&self) -> Result<BTreeMap<String, String>, Failure> {
        let body = self
            .get_catalog_names("/data/foundation/catalog/dataSets")
            .await?;
        Ok(body
            .as_object()
            .map(|sets| {
                sets.iter()
                    .filter_map(|(id, set)| Some((id.clone(), set["name"].as_str()?.to_owned())))
                    .collect()
            })
            .unwrap_or_default())
    }

    async fn segments(&self) -> Result<Value, Failure> {
        self.get("/data/core/ups/segment/definitions?limit=1000")
            .await
    }

    async fn computed_attributes(&self) -> Result<Value, Failure> {
        self.get("/data/core/ca/attributes?limit=40").await
    }

    /// The namespace codes of the sandbox, for working out what an agent typed.
    async fn namespaces(&self) -> Result<Vec<String>, Failure> {
        let body = self
            .get_catalog_names("/data/core/idnamespace/identities")
            .await?;
        Ok(body
            .as_array()
            .map(|all| {
                all.iter()
                    .filter_map(|n| n["code"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default())
    }
}

#[derive(Deserialize)]
struct SearchQuery {
    q: Option<String>,
    ns: Option<String>,
}

async fn search(
    Signed { visitor, .. }: Signed<ProfilesRead>,
    State(state): State<Arc<AppState>>,
    slip: AuditSlip,
    headers: HeaderMap,
    Query(query): Query<SearchQuery>,
) -> Response {
    let lang = language(&headers);
    let q = query.q.unwrap_or_default();
    let ns = query.ns.filter(|n| !n.is_empty());
    let api = Api::new(&state, &visitor);
    let namespaces = match api.namespaces().await {
        Ok(namespaces) => namespaces,
        Err(failure) => return failure.page(lang, &q, urls::ROUTE_SEARCH, &visitor),
    };
    let codes: Vec<&str> = namespaces.iter().map(String::as_str).collect();
    let mut recent = state.recently_viewed.of(&visitor.caller.principal);
    // A customer deleted since (or erased by a privacy request) is no longer offered.
    recent.retain(|r| {
        let exists = still_exists(&state, &r.ns, &r.id);
        if !exists {
            state.recently_viewed.forget(r);
        }
        exists
    });
    let page = |outcome| {
        html(
            StatusCode::OK,
            console::search_page(
                lang,
                &console::SearchPage {
                    query: &q,
                    ns: ns.as_deref(),
                    namespaces: &codes,
                    outcome,
                    recent: &recent,
                    viewer: visitor.viewer(),
                },
            ),
        )
    };
    if q.trim().is_empty() {
        return page(console::SearchOutcome::Empty);
    }
    let others: Vec<&str> = codes
        .iter()
        .copied()
        .filter(|c| !matches!(*c, "Email" | "Phone" | "ECID"))
        .collect();
    let candidates = console::identity_input::candidates(&q, ns.as_deref(), &others);
    // (candidate, profile id, lookup response, latest event time)
    // (candidate, profile id, lookup response)
    let mut found: Vec<(&console::identity_input::Candidate, String, Value)> = Vec::new();
    for candidate in &candidates {
        match api.profile(&candidate.namespace, &candidate.value).await {
            Ok(profile) => {
                let Some(profile_id) = profile.as_object().and_then(|o| o.keys().next().cloned())
                else {
                    continue;
                };
                if found.iter().any(|(_, id, _)| *id == profile_id) {
                    continue;
                }
                if let Some(id) = rapport_types::ProfileId::parse(&profile_id) {
                    slip.profile(id.0);
                }
                found.push((candidate, profile_id, profile));
            }
            Err(failure) if failure.status == StatusCode::NOT_FOUND => {}
            // A value that is not an identity of that namespace (a malformed ECID, say).
            Err(failure) if failure.status.is_client_error() => {}
            Err(failure) => return failure.page(lang, &q, urls::ROUTE_SEARCH, &visitor),
        }
    }
    match found.as_slice() {
        [] => page(console::SearchOutcome::NotFound(&candidates)),
        [(candidate, ..)] => Redirect::to(
            &urls::ProfileUrls {
                ns: &candidate.namespace,
                id: &candidate.value,
            }
            .page(),
        )
        .into_response(),
        several => {
            // Only a list needs each customer's latest activity, to tell them apart.
            let mut latest: Vec<Option<String>> = Vec::with_capacity(several.len());
            for (candidate, ..) in several {
                latest.push(
                    api.events(
                        &candidate.namespace,
                        &candidate.value,
                        "orderby=-timestamp&limit=1",
                    )
                    .await
                    .ok()
                    .and_then(|page| {
                        page["children"][0]["entity"]["timestamp"]
                            .as_str()
                            .map(str::to_owned)
                    }),
                );
            }
            let matches: Vec<console::Match<'_>> = several
                .iter()
                .zip(&latest)
                .map(|((_, _, profile), latest)| console::Match {
                    profile,
                    last_activity: latest.as_deref(),
                })
                .collect();
            page(console::SearchOutcome::Matches(&matches))
        }
    }
}

#[derive(Deserialize)]
struct LangQuery {
    to: Option<String>,
    back: Option<String>,
}

async fn switch_language(Query(query): Query<LangQuery>) -> Response {
    let lang = query
        .to
        .as_deref()
        .and_then(Lang::parse)
        .unwrap_or(Lang::En);
    let back = query
        .back
        .filter(|b| b.starts_with(urls::BASE) && !b.starts_with("//"))
        .unwrap_or_else(|| urls::ROUTE_SEARCH.to_owned());
    let mut response = Redirect::to(&back).into_response();
    if let Ok(value) = HeaderValue::from_str(&format!(
        "{}={}; Path=/; Max-Age=31536000; SameSite=Lax",
        console::LANG_COOKIE,
        lang.code()
    )) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    response
}

async fn asset(Path(name): Path<String>) -> Response {
    match console::assets::get(&name) {
        Some(asset) => (
            [
                (header::CONTENT_TYPE, asset.content_type),
                (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
            ],
            asset.bytes,
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "no such asset").into_response(),
    }
}

fn now() -> time::OffsetDateTime {
    time::OffsetDateTime::now_utc()
}

/// Everything a profile page shows but the identity graph (which its panel loads itself).
struct Loaded {
    profile: Value,
    events: Vec<Value>,
    events_truncated: bool,
    timeline: Value,
    segments: Value,
    computed_attributes: Value,
}

impl Loaded {
    async fn read(api: &Api, ns: &str, id: &str, panel: Option<Panel>) -> Result<Loaded, Failure> {
        let wants = |p: Panel| panel.is_none_or(|wanted| wanted == p);
        let profile = api.profile(ns, id).await?;
        let needs_events = [
            Panel::Purchases,
            Panel::Spend,
            Panel::Campaigns,
            Panel::Support,
        ]
        .into_iter()
        .any(wants);
        let (events, events_truncated) = if needs_events {
            api.recent_events(ns, id, now().unix_timestamp() * 1000)?
        } else {
            (Vec::new(), false)
        };
        let timeline = if wants(Panel::Timeline) {
            api.events(ns, id, &TimelineQuery::default().api_query())
                .await?
        } else {
            Value::Null
        };
        let segments = if wants(Panel::Segments) {
            api.segments().await?
        } else {
            Value::Null
        };
        let computed_attributes = if wants(Panel::Computed) {
            api.computed_attributes().await?
        } else {
            Value::Null
        };
        Ok(Loaded {
            profile,
            events,
            events_truncated,
            timeline,
            segments,
            computed_attributes,
        })
    }

    fn data<'a>(
        &'a self,
        ns: &'a str,
        id: &'a str,
        graph: Option<&'a Value>,
        datasets: &'a BTreeMap<String, String>,
    ) -> console::ProfileData<'a> {
        console::ProfileData {
            events: &self.events,
            events_truncated: self.events_truncated,
            timeline: &self.timeline,
            segments: &self.segments,
            computed_attributes: &self.computed_attributes,
            graph,
            datasets,
            ..console::ProfileData::new(ns, id, &self.profile, now())
        }
    }
}

/// The identity as the agent would read it in a message.
fn shown_identity(ns: &str, id: &str) -> String {
    format!("{id} ({ns})")
}

async fn profile(
    Signed { visitor, .. }: Signed<ProfilesRead>,
    State(state): State<Arc<AppState>>,
    slip: AuditSlip,
    headers: HeaderMap,
    Path((ns, id)): Path<(String, String)>,
) -> Response {
    let lang = language(&headers);
    let urls = urls::ProfileUrls { ns: &ns, id: &id };
    let api = Api::new(&state, &visitor);
    slip.identity(&ns, &id);
    let loaded = match Loaded::read(&api, &ns, &id, None).await {
        Ok(loaded) => loaded,
        Err(failure) => {
            return failure.page(lang, &shown_identity(&ns, &id), &urls.page(), &visitor)
        }
    };
    note_customer(&slip, &ns, &id, Some(&loaded.profile));
    let no_datasets = BTreeMap::new();
    let body = console::profile_page(
        lang,
        &console::ProfileData {
            viewer: visitor.viewer(),
            ..loaded.data(&ns, &id, None, &no_datasets)
        },
    );
    if let Some(viewed) = console::Recent::from_profile(&loaded.profile) {
        state
            .recently_viewed
            .record(&visitor.caller.principal, viewed);
    }
    html(StatusCode::OK, body)
}

async fn panel(
    Signed { visitor, .. }: Signed<ProfilesRead>,
    State(state): State<Arc<AppState>>,
    slip: AuditSlip,
    headers: HeaderMap,
    Path((ns, id, name)): Path<(String, String, String)>,
) -> Response {
    let lang = language(&headers);
    let urls = urls::ProfileUrls { ns: &ns, id: &id };
    let Some(which) = Panel::parse(&name) else {
        return html(
            StatusCode::NOT_FOUND,
            console::error_page(
                lang,
                &ErrorKind::UnknownCustomer(&name),
                &urls.page(),
                visitor.viewer(),
            ),
        );
    };
    let api = Api::new(&state, &visitor);
    slip.identity(&ns, &id);
    let result = async {
        let loaded = Loaded::read(&api, &ns, &id, Some(which)).await?;
        note_customer(&slip, &ns, &id, Some(&loaded.profile));
        let (graph, datasets) = if which == Panel::Identity {
            (Some(api.graph(&ns, &id).await?), api.datasets().await?)
        } else {
            (None, BTreeMap::new())
        };
        Ok::<_, Failure>(console::panel(
            lang,
            which,
            &loaded.data(&ns, &id, graph.as_ref(), &datasets),
        ))
    }
    .await;
    match result {
        Ok(body) => html(StatusCode::OK, body),
        Err(failure) => failure.page(lang, &shown_identity(&ns, &id), &urls.page(), &visitor),
    }
}

#[derive(Deserialize)]
struct TimelineParams {
    kind: Option<String>,
    from: Option<String>,
    to: Option<String>,
    start: Option<String>,
}

async fn timeline(
    Signed { visitor, .. }: Signed<ProfilesRead>,
    State(state): State<Arc<AppState>>,
    slip: AuditSlip,
    headers: HeaderMap,
    Path((ns, id)): Path<(String, String)>,
    Query(params): Query<TimelineParams>,
) -> Response {
    let lang = language(&headers);
    let urls = urls::ProfileUrls { ns: &ns, id: &id };
    let query = TimelineQuery::parse(
        params.kind.as_deref(),
        params.from.as_deref(),
        params.to.as_deref(),
        params.start.as_deref(),
    );
    let api = Api::new(&state, &visitor);
    slip.identity(&ns, &id);
    match api.events(&ns, &id, &query.api_query()).await {
        Ok(page) => html(
            StatusCode::OK,
            console::timeline_fragment(lang, urls, &query, &page),
        ),
        Err(failure) => failure.page(lang, &shown_identity(&ns, &id), &urls.page(), &visitor),
    }
}

async fn explain(
    Signed { visitor, .. }: Signed<SegmentsRead>,
    State(state): State<Arc<AppState>>,
    slip: AuditSlip,
    headers: HeaderMap,
    Path((ns, id, segment)): Path<(String, String, String)>,
) -> Response {
    let lang = language(&headers);
    let urls = urls::ProfileUrls { ns: &ns, id: &id };
    let api = Api::new(&state, &visitor);
    note_customer(&slip, &ns, &id, None);
    slip.object(segment.clone());
    match api
        .get(&format!(
            "/data/core/ups/segment/definitions/{}/explain?entityId={}&entityIdNS={}",
            urls::encode(&segment),
            urls::encode(&id),
            urls::encode(&ns)
        ))
        .await
    {
        Ok(explanation) => html(
            StatusCode::OK,
            console::explanation_fragment(lang, &explanation),
        ),
        Err(failure) => failure.page(lang, &shown_identity(&ns, &id), &urls.page(), &visitor),
    }
}

#[derive(Deserialize)]
struct AuditParams {
    from: Option<String>,
    to: Option<String>,
    actor: Option<String>,
    action: Option<String>,
    profile: Option<String>,
    cursor: Option<String>,
}

/// The audit log page: one page of the audit API's answer to the visitor (so only for roles
/// holding `audit.read`), newest first. Filters the API refuses are shown on the page with
/// the API's reason (status 400).
async fn audit_log(
    Signed { visitor, .. }: Signed<AuditRead>,
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Query(params): Query<AuditParams>,
) -> Response {
    let lang = language(&headers);
    let filter = console::AuditFilter::parse(
        params.from.as_deref(),
        params.to.as_deref(),
        params.actor.as_deref(),
        params.action.as_deref(),
        params.profile.as_deref(),
        params.cursor.as_deref(),
    );
    let api = Api::new(&state, &visitor);
    let answer = api
        .get(&format!(
            "/data/foundation/audit/events?{}",
            filter.api_query()
        ))
        .await;
    let (status, answer, problem) = match answer {
        Ok(answer) => (StatusCode::OK, answer, None),
        Err(failure) if failure.status == StatusCode::BAD_REQUEST => {
            (StatusCode::BAD_REQUEST, Value::Null, Some(failure.detail))
        }
        Err(failure) => {
            return failure.page(lang, "", &filter.url(filter.cursor.as_deref()), &visitor)
        }
    };
    html(
        status,
        console::audit_page(
            lang,
            &console::AuditPage {
                filter: &filter,
                answer: &answer,
                problem: problem.as_deref(),
                profile_links: visitor.may(rapport_types::Action::ProfilesRead),
                viewer: visitor.viewer(),
            },
        ),
    )
}

/// Opens, from the audit log, the profile an entry names by its id: looks the profile up as the
/// visitor and redirects to its page by one of its identities (which the audit page itself
/// never shows). Recorded, since the answer names an identity.
async fn audit_profile(
    Signed { visitor, .. }: Signed<ProfilesRead>,
    State(state): State<Arc<AppState>>,
    slip: AuditSlip,
    headers: HeaderMap,
    Path(profile): Path<String>,
) -> Response {
    let lang = language(&headers);
    let here = urls::audit_profile(&profile);
    let api = Api::new(&state, &visitor);
    let lookup = match rapport_types::ProfileId::parse(&profile) {
        Some(id) => {
            slip.profile(id.0);
            api.get(&format!(
                "/data/core/ups/access/entities?schema.name=_xdm.context.profile&entityId={}",
                urls::encode(&profile)
            ))
            .await
        }
        None => Err(Failure {
            status: StatusCode::NOT_FOUND,
            detail: format!("\"{profile}\" is not a profile id"),
        }),
    };
    let opened = lookup.and_then(|lookup| {
        let recent = console::Recent::from_profile(&lookup).ok_or_else(|| Failure {
            status: StatusCode::NOT_FOUND,
            detail: format!("profile {profile} has no identity to open it by"),
        })?;
        note_customer(&slip, &recent.ns, &recent.id, Some(&lookup));
        Ok(recent)
    });
    match opened {
        Ok(recent) => Redirect::to(
            &urls::ProfileUrls {
                ns: &recent.ns,
                id: &recent.id,
            }
            .page(),
        )
        .into_response(),
        Err(failure) => failure.page(lang, &profile, &here, &visitor),
    }
}

/// The event fields the purchases, spend, campaigns and support panels read: the year of events
/// behind them is decoded without the rest (page views' details, devices, identity maps).
fn panel_fields() -> segments::EventProjection {
    let mut fields = segments::EventProjection::of(std::iter::empty());
    fields.also_keep([
        "_id",
        "timestamp",
        "eventType",
        "commerce.order.priceTotal",
        "commerce.order.currencyCode",
        "commerce.order.purchaseID",
        "productListItems.SKU",
        "productListItems.name",
        "productListItems.quantity",
        "productListItems.priceTotal",
        "marketing.campaignID",
        "marketing.campaignName",
        "support.reason",
        "support.outcome",
        "support.satisfaction",
        "support.durationSeconds",
    ]);
    fields
}

/// What an open profile looks like to the live stream: one fingerprint per kind of change.
#[derive(Default, Clone, PartialEq, Eq)]
struct Fingerprint {
    found: bool,
    profile: u64,
    segments: u64,
    identities: u64,
    latest_event: u64,
}

fn hash_of(value: &Value) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    value.to_string().hash(&mut hasher);
    hasher.finish()
}

impl Fingerprint {
    async fn read(api: &Api, ns: &str, id: &str) -> Result<Fingerprint, Failure> {
        let mut lookup = match api.profile(ns, id).await {
            Ok(lookup) => lookup,
            Err(failure) if failure.status == StatusCode::NOT_FOUND => {
                return Ok(Fingerprint::default())
            }
            Err(failure) => return Err(failure),
        };
        let Some((profile_id, item)) = lookup.as_object_mut().and_then(|o| o.iter_mut().next())
        else {
            return Ok(Fingerprint::default());
        };
        let profile_id = profile_id.clone();
        let entity = item["entity"].take();
        let latest = api
            .events(ns, id, "orderby=-timestamp&limit=1")
            .await?
            .get("children")
            .cloned()
            .unwrap_or(Value::Null);
        let mut rest = entity.clone();
        if let Some(object) = rest.as_object_mut() {
            object.remove("segmentMembership");
            object.remove("identityMap");
            object.insert("profileId".into(), Value::String(profile_id));
        }
        Ok(Fingerprint {
            found: true,
            profile: hash_of(&rest),
            segments: hash_of(&entity["segmentMembership"]),
            identities: hash_of(&entity["identityMap"]),
            latest_event: hash_of(&latest),
        })
    }

    /// The server-sent event names of what changed from `before` to `self`.
    fn changes(&self, before: &Fingerprint) -> Vec<&'static str> {
        if self.found != before.found {
            return vec!["reload"];
        }
        let mut names = Vec::new();
        if self.profile != before.profile {
            names.push("profile");
        }
        if self.latest_event != before.latest_event {
            names.push("events");
        }
        if self.segments != before.segments {
            names.push("segments");
        }
        if self.identities != before.identities {
            names.push("identity");
        }
        names
    }
}

/// Server-sent events for an open profile: one message per kind of change (see the
/// `rapport-console` crate's docs for the names), within [`LIVE_POLL`] of the commit that
/// holds the change. The session is checked on each poll (without counting as a use); once it
/// has ended the stream says `signed-out` and ends.
async fn live(
    Signed { visitor, .. }: Signed<ProfilesRead>,
    State(state): State<Arc<AppState>>,
    Path((ns, id)): Path<(String, String)>,
) -> Sse<impl futures_util::Stream<Item = Result<Event, Infallible>>> {
    let api = Api::new(&state, &visitor);
    let commits = state.engine.commits();
    let first = Fingerprint::read(&api, &ns, &id).await.unwrap_or_default();
    let watch = Watch {
        api,
        visitor,
        ns,
        id,
        seen: first,
        commits,
        pending: Vec::new(),
        ended: false,
    };
    let stream = futures_util::stream::unfold(watch, |mut watch| async move {
        if watch.ended {
            return None;
        }
        loop {
            if let Some(name) = watch.pending.pop() {
                let event = Event::default().event(name).data(name);
                return Some((Ok(event), watch));
            }
            tokio::time::sleep(LIVE_POLL).await;
            if !watch.visitor.still_signed_in(&watch.api.state) {
                watch.ended = true;
                let event = Event::default().event("signed-out").data("signed-out");
                return Some((Ok(event), watch));
            }
            let now_commits = watch.api.state.engine.commits();
            if now_commits == watch.commits {
                continue;
            }
            watch.commits = now_commits;
            if let Ok(now) = Fingerprint::read(&watch.api, &watch.ns, &watch.id).await {
                watch.pending = now.changes(&watch.seen);
                watch.pending.reverse();
                watch.seen = now;
            }
        }
    });
    Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}

/// What a live stream keeps between polls.
struct Watch {
    api: Api,
    visitor: Visitor,
    ns: String,
    id: String,
    seen: Fingerprint,
    commits: u64,
    /// Event names still to send, last first.
    pending: Vec<&'static str>,
    /// The session ended and the stream said so.
    ended: bool,
}
