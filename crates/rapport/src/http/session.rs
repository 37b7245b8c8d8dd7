//! Console sessions: who is looking at a console page, as the [`Signed<A>`] extractor every
//! console handler takes first (so the action a page needs is in its signature, as for the
//! API's `Authorized<A>`), sign-in and sign-out, the forgery checks, and the headers every
//! console response carries.
//!
//! A session is the `rapport_session` cookie (`HttpOnly; SameSite=Lax`, `Secure` with
//! `--cookie-secure`), naming a session of [`auth::Users`]. Requests that change something
//! (anything but GET and HEAD) must also carry the session's CSRF token (the `x-csrf-token`
//! header htmx sends from `<body hx-headers>`, or the `_csrf` form field), and must not come
//! from another origin (`Origin`, `Sec-Fetch-Site`). The sign-in form has no session yet: it
//! carries a token that must equal its `rapport_login` cookie (`SameSite=Strict`, 10 minutes).
//!
//! In development mode a request without a session is let in as the development caller, so
//! `rapport demo` shows the console at once; a signed-in session is still used when there is one.

use std::marker::PhantomData;
use std::sync::Arc;

use axum::extract::{FromRequestParts, Query, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use base64::Engine as _;
use rapport_console::{self as console, urls, Lang, LoginNotice, LoginPage};
use rapport_types::{Code, SandboxName};
use serde::Deserialize;
use subtle::ConstantTimeEq;

use super::audit::{actor_of, client_of as audit_client, record_now};
use super::auth::{Caller, Principal, RequiredAction};
use super::error::ApiError;
use crate::state::AppState;

/// The cookie that names a console session.
pub const SESSION_COOKIE: &str = "rapport_session";

/// The value of a cookie in the request's `Cookie` headers.
pub fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

/// The language of a console response.
pub fn language(headers: &HeaderMap) -> Lang {
    Lang::negotiate(
        headers
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok()),
        cookie(headers, console::LANG_COOKIE),
    )
}

/// An HTML response that no cache keeps.
pub fn html(status: StatusCode, body: String) -> Response {
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// A signed-in console user, as a page shows them.
#[derive(Debug, Clone)]
pub struct SignedInUser {
    /// The user's display name, or their user name.
    pub shown_name: String,
    /// The session's CSRF token.
    pub csrf: String,
    /// The session token (the cookie's value), to re-check the session while a stream is open.
    pub token: String,
}

/// Who is looking at a console page: a signed-in user, or (in development mode, without a
/// session) the development caller.
#[derive(Debug, Clone)]
pub struct Visitor {
    pub caller: Arc<Caller>,
    pub signed_in: Option<SignedInUser>,
}

impl Visitor {
    /// The top bar's user, the CSRF token pages carry, and which of the console's other pages
    /// the user's role opens (each link shown exactly when the page's `Signed<A>` would let
    /// the user in).
    pub fn viewer(&self) -> Option<console::Viewer<'_>> {
        self.signed_in.as_ref().map(|user| console::Viewer {
            name: &user.shown_name,
            csrf: &user.csrf,
            audit_log: self.may(rapport_types::Action::AuditRead),
        })
    }

    /// Whether the visitor's role allows `action` in the console's sandbox.
    pub fn may(&self, action: rapport_types::Action) -> bool {
        self.caller
            .require(action, &SandboxName::default_sandbox())
            .is_ok()
    }

    /// Whether the visitor's session is still live, without counting as a use of it (the
    /// live stream asks this on each poll: an open tab does not keep a session alive).
    pub fn still_signed_in(&self, state: &AppState) -> bool {
        match &self.signed_in {
            None => true,
            Some(user) => state.users.session_is_live(&user.token, now_ms()),
        }
    }
}

fn now_ms() -> i64 {
    engine::catalog::now_ms()
}

/// The session a request's cookie names, with its caller; `None` when there is no live one.
fn session_of(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<Option<(auth::ActiveSession, SignedInUser, Arc<Caller>)>, ApiError> {
    let Some(token) = cookie(headers, SESSION_COOKIE) else {
        return Ok(None);
    };
    let active = match state.users.session(token, now_ms()) {
        Ok(Some(active)) => active,
        Ok(None) => return Ok(None),
        Err(error) => return Err(ApiError::new(error.code, error.message)),
    };
    let role = state
        .users
        .role(&active.user.role)
        .map_err(|error| ApiError::new(error.code, error.message))?;
    let caller = Arc::new(Caller {
        principal: Principal::User(active.user.name.clone()),
        actions: role.actions,
        sandboxes: active.user.sandboxes.clone(),
        labels: role.labels.clone(),
        rate_limit: None,
    });
    let user = SignedInUser {
        shown_name: active
            .user
            .display_name
            .clone()
            .unwrap_or_else(|| active.user.name.clone()),
        csrf: active.csrf.clone(),
        token: token.to_owned(),
    };
    Ok(Some((active, user, caller)))
}

/// Whether the request comes from the console's own pages: `Sec-Fetch-Site`, when sent, is
/// `same-origin`; `Origin`, when sent, names this server (the `Host` it was sent to). An
/// opaque `Origin: null` passes only beside `Sec-Fetch-Site: same-origin`.
fn same_origin(headers: &HeaderMap) -> Result<(), String> {
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let site = text("sec-fetch-site");
    if let Some(site) = site {
        if site != "same-origin" {
            return Err(format!(
                "Sec-Fetch-Site: the request came from a {site} page, not from the console"
            ));
        }
    }
    match text("origin") {
        None => Ok(()),
        Some("null") if site == Some("same-origin") => Ok(()),
        Some(origin) => {
            let host = text("host").unwrap_or_default();
            let origin_host = origin.split_once("://").map_or(origin, |(_, rest)| rest);
            if origin_host.eq_ignore_ascii_case(host) {
                Ok(())
            } else {
                Err(format!(
                    "Origin: {origin} is not this server ({host}); console changes are accepted only from its own pages"
                ))
            }
        }
    }
}

/// A console request from someone allowed action `A`: the first argument of every console
/// handler. A request without a live session goes to the sign-in page (a fragment's request
/// tells htmx to go there; a live stream is told `signed-out`); one whose role lacks `A` gets
/// a page saying so; a change without the session's CSRF token, or from another origin, is
/// refused `403 csrf_rejected`.
pub struct Signed<A> {
    pub visitor: Visitor,
    _action: PhantomData<A>,
}

impl<A: RequiredAction> FromRequestParts<Arc<AppState>> for Signed<A> {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        let session = session_of(state, &parts.headers).map_err(IntoResponse::into_response)?;
        let visitor = match session {
            Some((active, user, caller)) => {
                if !matches!(parts.method, Method::GET | Method::HEAD) {
                    let presented = parts
                        .headers
                        .get(console::CSRF_HEADER)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default();
                    if !active.csrf_matches(presented) {
                        return Err(ApiError::new(
                            Code::CsrfRejected,
                            format!(
                                "{}: missing or not this session's token",
                                console::CSRF_HEADER
                            ),
                        )
                        .into_response());
                    }
                    same_origin(&parts.headers).map_err(|message| {
                        ApiError::new(Code::CsrfRejected, message).into_response()
                    })?;
                }
                Visitor {
                    caller,
                    signed_in: Some(user),
                }
            }
            None if state.settings.access.dev_mode => Visitor {
                caller: Arc::new(Caller::unrestricted(Principal::Dev)),
                signed_in: None,
            },
            None => return Err(sign_in_first(parts)),
        };
        // Recorded as the signed-in user, refused or not.
        if let Some(slip) = parts.extensions.get::<super::audit::AuditSlip>() {
            slip.actor(&visitor.caller.principal);
        }
        if let Err(error) = visitor
            .caller
            .require(A::ACTION, &SandboxName::default_sandbox())
        {
            tracing::info!(caller = %visitor.caller.principal.name(), detail = %error.message, "console page refused");
            let lang = language(&parts.headers);
            let here = parts.uri.path().to_owned();
            return Err(html(
                StatusCode::FORBIDDEN,
                console::error_page(
                    lang,
                    &console::ErrorKind::NotPermitted,
                    &here,
                    visitor.viewer(),
                ),
            ));
        }
        Ok(Signed {
            visitor,
            _action: PhantomData,
        })
    }
}

/// The answer to a console request without a live session.
fn sign_in_first(parts: &Parts) -> Response {
    let ended = cookie(&parts.headers, SESSION_COOKIE).is_some();
    let wants_stream = parts
        .headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("text/event-stream"));
    if wants_stream {
        // EventSource would retry a refusal for ever; this tells the page to sign in.
        return (
            StatusCode::OK,
            [
                (header::CONTENT_TYPE, "text/event-stream"),
                (header::CACHE_CONTROL, "no-store"),
            ],
            "event: signed-out\ndata: signed-out\n\n",
        )
            .into_response();
    }
    let next = if parts.headers.contains_key("hx-request") {
        // A fragment: come back to the page it was for.
        parts
            .headers
            .get("hx-current-url")
            .and_then(|v| v.to_str().ok())
            .and_then(|url| url.find("/console").map(|at| url[at..].to_owned()))
            .unwrap_or_else(|| urls::ROUTE_SEARCH.to_owned())
    } else {
        parts
            .uri
            .path_and_query()
            .map(|pq| pq.as_str().to_owned())
            .unwrap_or_else(|| urls::ROUTE_SEARCH.to_owned())
    };
    let mut login = urls::login(&next);
    if ended {
        login.push_str(if login.contains('?') { "&" } else { "?" });
        login.push_str("notice=ended");
    }
    let mut response = if parts.headers.contains_key("hx-request") {
        let mut response = StatusCode::UNAUTHORIZED.into_response();
        if let Ok(value) = HeaderValue::from_str(&login) {
            response.headers_mut().insert("hx-redirect", value);
        }
        response
    } else {
        Redirect::to(&login).into_response()
    };
    if ended {
        expire_cookie(response.headers_mut(), SESSION_COOKIE, "/");
    }
    response
}

/// Adds a `Set-Cookie` that deletes cookie `name` at `path`.
fn expire_cookie(headers: &mut HeaderMap, name: &str, path: &str) {
    if let Ok(value) = HeaderValue::from_str(&format!(
        "{name}=; Path={path}; Max-Age=0; HttpOnly; SameSite=Lax"
    )) {
        headers.append(header::SET_COOKIE, value);
    }
}

/// The attributes every console cookie shares: `Secure` when the server says so.
fn secure_suffix(state: &AppState) -> &'static str {
    if state.settings.access.cookie_secure {
        "; Secure"
    } else {
        ""
    }
}

/// A fresh random token: 32 bytes, base64url.
fn random_token() -> Result<String, ApiError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| {
        ApiError::new(
            Code::Internal,
            format!("the system's random source failed: {e}"),
        )
    })?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

#[derive(Deserialize)]
pub struct LoginQuery {
    next: Option<String>,
    notice: Option<String>,
}

/// Where to go once signed in: `next` when it is a console path, else the search page.
fn next_or_search(next: Option<&str>) -> String {
    next.filter(|n| urls::is_console_path(n))
        .unwrap_or(urls::ROUTE_SEARCH)
        .to_owned()
}

/// The sign-in page with a fresh form token (and its cookie).
fn login_form(
    state: &AppState,
    lang: Lang,
    next: &str,
    name: &str,
    notice: Option<LoginNotice>,
) -> Response {
    let token = match random_token() {
        Ok(token) => token,
        Err(error) => return error.into_response(),
    };
    let status = notice
        .map(|n| StatusCode::from_u16(n.status()).unwrap_or(StatusCode::OK))
        .unwrap_or(StatusCode::OK);
    let mut response = html(
        status,
        console::login_page(
            lang,
            &LoginPage {
                next,
                login_token: &token,
                name,
                notice,
            },
        ),
    );
    if let Ok(value) = HeaderValue::from_str(&format!(
        "{}={token}; Path={}; Max-Age=600; HttpOnly; SameSite=Strict{}",
        console::LOGIN_COOKIE,
        urls::ROUTE_LOGIN,
        secure_suffix(state)
    )) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}

/// `GET /console/login`: the sign-in page (or, for someone signed in already, where they were
/// going).
pub async fn login_page(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Query(query): Query<LoginQuery>,
) -> Response {
    let next = next_or_search(query.next.as_deref());
    if let Ok(Some(_)) = session_of(&state, &headers) {
        return Redirect::to(&next).into_response();
    }
    let notice = query.notice.as_deref().and_then(LoginNotice::parse);
    login_form(&state, language(&headers), &next, "", notice)
}

#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    password: String,
    #[serde(rename = "_login", default)]
    login_token: String,
    next: Option<String>,
}

/// `POST /console/login`: checks the form came from the sign-in page, then the password; on
/// success sets the session cookie and goes on to `next`.
pub async fn sign_in(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    extensions: axum::http::Extensions,
    Form(form): Form<LoginForm>,
) -> Response {
    let client = audit_client(&headers, &extensions);
    let lang = language(&headers);
    let next = next_or_search(form.next.as_deref());
    let expected = cookie(&headers, console::LOGIN_COOKIE).unwrap_or_default();
    let form_is_ours = !expected.is_empty()
        && bool::from(expected.as_bytes().ct_eq(form.login_token.as_bytes()))
        && same_origin(&headers).is_ok();
    if !form_is_ours {
        tracing::info!("console sign-in refused: the form did not come from the sign-in page");
        return login_form(
            &state,
            lang,
            &next,
            &form.name,
            Some(LoginNotice::FormExpired),
        );
    }
    let users = state.users.clone();
    let (name, password) = (form.name.clone(), form.password);
    let outcome =
        tokio::task::spawn_blocking(move || users.sign_in(&name, &password, now_ms())).await;
    let failed = |status: StatusCode| {
        record_now(
            &state,
            audit::Actor::new(audit::ActorKind::System, "sign-in"),
            "session.failed",
            Some(form.name.trim().to_lowercase()),
            status,
            client.clone(),
        )
    };
    let signed = match outcome {
        Ok(Ok(signed)) => signed,
        Ok(Err(error)) if error.code == Code::LoginThrottled => {
            if let Err(error) = failed(StatusCode::TOO_MANY_REQUESTS) {
                return error.into_response();
            }
            let seconds = error.retry_after_seconds.unwrap_or(1);
            let mut response = login_form(
                &state,
                lang,
                &next,
                &form.name,
                Some(LoginNotice::Throttled { seconds }),
            );
            if let Ok(value) = HeaderValue::from_str(&seconds.to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
            return response;
        }
        Ok(Err(error)) if error.code == Code::InvalidCredentials => {
            if let Err(error) = failed(StatusCode::UNAUTHORIZED) {
                return error.into_response();
            }
            return login_form(
                &state,
                lang,
                &next,
                &form.name,
                Some(LoginNotice::InvalidCredentials),
            );
        }
        Ok(Err(error)) => return ApiError::new(error.code, error.message).into_response(),
        Err(join) => {
            return ApiError::new(Code::Internal, format!("the sign-in failed: {join}"))
                .into_response()
        }
    };
    let principal = Principal::User(signed.user.name.clone());
    if let Err(error) = record_now(
        &state,
        actor_of(&principal, &state.users),
        "session.signin",
        Some(signed.user.name.clone()),
        StatusCode::SEE_OTHER,
        client,
    ) {
        // Not recorded, so not signed in.
        let _ = state.users.sign_out(&signed.token);
        return error.into_response();
    }
    let mut response = Redirect::to(&next).into_response();
    if let Ok(value) = HeaderValue::from_str(&format!(
        "{SESSION_COOKIE}={}; Path=/; HttpOnly; SameSite=Lax{}",
        signed.token,
        secure_suffix(&state)
    )) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    expire_cookie(
        response.headers_mut(),
        console::LOGIN_COOKIE,
        urls::ROUTE_LOGIN,
    );
    response
}

#[derive(Deserialize)]
pub struct LogoutForm {
    #[serde(rename = "_csrf", default)]
    csrf: String,
}

/// `POST /console/logout`: ends the session (the form carries its CSRF token, or htmx sends
/// it as a header) and shows the sign-in page.
pub async fn sign_out(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    extensions: axum::http::Extensions,
    Form(form): Form<LogoutForm>,
) -> Response {
    let Some(token) = cookie(&headers, SESSION_COOKIE) else {
        return Redirect::to(urls::ROUTE_LOGIN).into_response();
    };
    let active = match state.users.session(token, now_ms()) {
        Ok(Some(active)) => active,
        Ok(None) => return Redirect::to(urls::ROUTE_LOGIN).into_response(),
        Err(error) => return ApiError::new(error.code, error.message).into_response(),
    };
    let header_token = headers
        .get(console::CSRF_HEADER)
        .and_then(|v| v.to_str().ok());
    let presented = header_token.unwrap_or(&form.csrf);
    if !active.csrf_matches(presented) {
        return ApiError::new(
            Code::CsrfRejected,
            format!(
                "{}: missing or not this session's token; the session goes on",
                console::CSRF_FIELD
            ),
        )
        .into_response();
    }
    if let Err(message) = same_origin(&headers) {
        return ApiError::new(Code::CsrfRejected, message).into_response();
    }
    if let Err(error) = state.users.sign_out(token) {
        return ApiError::new(error.code, error.message).into_response();
    }
    let principal = Principal::User(active.user.name.clone());
    if let Err(error) = record_now(
        &state,
        actor_of(&principal, &state.users),
        "session.signout",
        Some(active.user.name.clone()),
        StatusCode::SEE_OTHER,
        audit_client(&headers, &extensions),
    ) {
        return error.into_response();
    }
    let mut response =
        Redirect::to(&format!("{}?notice=signed-out", urls::ROUTE_LOGIN)).into_response();
    expire_cookie(response.headers_mut(), SESSION_COOKIE, "/");
    response
}

/// Adds the headers every console response carries: no framing, no referrer to other sites
/// (console URLs hold identities; within the console the browser keeps sending `Origin`, which
/// the forgery checks read), no content sniffing, and a content security policy as tight as
/// the pages allow.
pub async fn console_headers(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'",
        ),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    response
}
