//! Who is calling, and whether they may: authentication is a middleware that turns the
//! request's credentials into an [`Authentication`]; authorisation is the [`Authorized<A>`]
//! extractor, the first argument of every guarded handler, so the action a handler needs is
//! in its signature.
//!
//! Credentials travel as AEP clients send them: `Authorization: Bearer <key>` (with any
//! `x-api-key`, which AEP uses as a client id); with no `Authorization`, an `x-api-key`
//! holding a whole Rapport key is accepted too (for curl users).

use std::marker::PhantomData;
use std::sync::Arc;

use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use rapport_types::{Action, ActionSet, Code, SandboxName, Scope};

use super::error::ApiError;
use super::extract::Sandbox;
use crate::state::AppState;

/// Who a caller is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// The server's master key.
    Master,
    /// Anyone, on a server started in development mode, sending no credentials.
    Dev,
    /// An API key, by its public id.
    Key(String),
    /// A console user signed in, by their user name.
    User(String),
}

impl Principal {
    /// How the principal is named in records (`key:<id>`, `master`, `dev`).
    pub fn name(&self) -> String {
        match self {
            Principal::Master => "master".to_owned(),
            Principal::Dev => "dev".to_owned(),
            Principal::Key(id) => format!("key:{id}"),
            Principal::User(name) => format!("user:{name}"),
        }
    }
}

/// A caller whose credentials were accepted: what they may do, and where.
#[derive(Debug, Clone)]
pub struct Caller {
    pub principal: Principal,
    pub actions: ActionSet,
    pub sandboxes: auth::SandboxScope,
    /// The data usage labels the caller may see (API keys: all of them; people: their role's).
    pub labels: auth::LabelGrant,
    /// An API key's own rate limit (`None`: the server's, for a key; none for anyone else).
    pub rate_limit: Option<auth::KeyRateLimit>,
}

impl Caller {
    /// A caller that may do anything anywhere.
    pub fn unrestricted(principal: Principal) -> Caller {
        Caller {
            principal,
            actions: ActionSet::all(),
            sandboxes: auth::SandboxScope::All,
            labels: auth::LabelGrant::All,
            rate_limit: None,
        }
    }

    /// What the caller may not see in a sandbox: nothing when they hold every label or no
    /// field there is labelled.
    pub fn redaction(&self, catalog: &engine::SandboxCatalog) -> engine::Redaction {
        match &self.labels {
            auth::LabelGrant::All => engine::Redaction::none(),
            _ if catalog.label_index.is_empty() => engine::Redaction::none(),
            grant => catalog.label_index.redaction(|label| grant.allows(label)),
        }
    }

    /// Runs `define` with the labels the caller may define over (see [`engine::Clearance`]).
    pub fn with_clearance<T>(&self, define: impl FnOnce(engine::Clearance<'_>) -> T) -> T {
        match &self.labels {
            auth::LabelGrant::All => define(engine::Clearance::All),
            grant => define(engine::Clearance::Only(&|label| grant.allows(label))),
        }
    }

    /// Whether the caller may take `action` in `sandbox`: 403 otherwise, naming what is missing.
    pub fn require(&self, action: Action, sandbox: &SandboxName) -> Result<(), ApiError> {
        if !self.actions.contains(action) {
            return Err(ApiError::new(
                Code::ActionNotPermitted,
                format!(
                    "Authorization: {} may not {action}; its actions are {}",
                    self.principal.name(),
                    names_or_none(self.actions)
                ),
            ));
        }
        if action.scope() == Scope::Sandbox && !self.sandboxes.allows(sandbox) {
            return Err(ApiError::new(
                Code::SandboxNotPermitted,
                format!(
                    "x-sandbox-name: {} may not act in sandbox \"{sandbox}\"; its sandboxes are {}",
                    self.principal.name(),
                    self.sandboxes.names().join(", ")
                ),
            ));
        }
        Ok(())
    }
}

fn names_or_none(actions: ActionSet) -> String {
    let names = actions.names();
    if names.is_empty() {
        "none".to_owned()
    } else {
        names.join(", ")
    }
}

/// What authentication found, put in the request's extensions by [`authenticate`] (and by the
/// console for its in-process calls).
#[derive(Debug, Clone)]
pub enum Authentication {
    Caller(Arc<Caller>),
    /// Credentials were sent and refused: the error a guarded route answers with.
    Failed(Code, String),
    /// No credentials.
    Anonymous,
}

/// The middleware: reads the credentials, resolves them, and records the outcome. It refuses
/// nothing itself, so public routes still answer; guarded routes refuse in [`Authorized`].
pub async fn authenticate(
    State(state): State<Arc<AppState>>,
    mut request: Request,
    next: Next,
) -> Response {
    let authentication = resolve(&state, request.headers());
    // API keys are rate-limited (by their own limit, or the server's) before anything else is
    // done for them.
    let limited = match &authentication {
        Authentication::Caller(caller) => match &caller.principal {
            Principal::Key(id) => state.limits.check(id, caller.rate_limit),
            _ => None,
        },
        _ => None,
    };
    request.extensions_mut().insert(authentication);
    request.extensions_mut().insert(super::audit::AuditContext {
        recorder: state.audit.recorder(),
        users: state.users.clone(),
    });
    match limited {
        None => next.run(request).await,
        Some(Ok(allowance)) => {
            let mut response = next.run(request).await;
            allowance.announce(response.headers_mut());
            response
        }
        Some(Err(refusal)) => refusal.into_response(),
    }
}

/// The credentials of a request, resolved.
pub fn resolve(state: &AppState, headers: &HeaderMap) -> Authentication {
    let token = match presented_token(headers) {
        Ok(Some(token)) => token,
        Ok(None) if state.settings.access.dev_mode => {
            return Authentication::Caller(Arc::new(Caller::unrestricted(Principal::Dev)))
        }
        Ok(None) => return Authentication::Anonymous,
        Err(message) => return Authentication::Failed(Code::InvalidApiKey, message),
    };
    if let Some(master) = &state.settings.access.master_key {
        if master.verify(&token) {
            return Authentication::Caller(Arc::new(Caller::unrestricted(Principal::Master)));
        }
    }
    match state.keys.authenticate(&token, engine::catalog::now_ms()) {
        Ok(record) => Authentication::Caller(Arc::new(Caller {
            principal: Principal::Key(record.id.to_string()),
            actions: record.actions,
            sandboxes: record.sandboxes.clone(),
            // A key with a role sees that role's labels (none, if the role was deleted since).
            labels: match &record.role {
                None => auth::LabelGrant::All,
                Some(role) => state
                    .users
                    .role(role)
                    .map(|role| role.labels.clone())
                    .unwrap_or_else(|_| auth::LabelGrant::Only(Default::default())),
            },
            rate_limit: record.rate_limit,
        })),
        Err(error) => Authentication::Failed(error.code, error.message),
    }
}

/// The token a request presents: the bearer, else an `x-api-key` holding a whole key.
fn presented_token(headers: &HeaderMap) -> Result<Option<String>, String> {
    let text = |name: &str| {
        headers
            .get(name)
            .map(|v| v.to_str().map(str::trim).map(str::to_owned))
    };
    let api_key = text("x-api-key").and_then(Result::ok);
    match text("authorization") {
        Some(Ok(value)) => {
            let Some((scheme, token)) = value.split_once(' ') else {
                return Err("Authorization: expected \"Bearer <key>\"".to_owned());
            };
            if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
                return Err("Authorization: expected \"Bearer <key>\"".to_owned());
            }
            let token = token.trim().to_owned();
            // An x-api-key is AEP's client id; when it is itself a Rapport key, it must agree.
            if let Some(other) = api_key.filter(|k| k.starts_with("rpk_")) {
                if other != token {
                    return Err(
                        "x-api-key: a different Rapport key than the one in Authorization".into(),
                    );
                }
            }
            Ok(Some(token))
        }
        Some(Err(_)) => Err("Authorization: not valid header text".to_owned()),
        None => Ok(api_key.filter(|k| k.starts_with("rpk_"))),
    }
}

/// One action a route requires, as a type: `Authorized<ProfilesRead>`.
pub trait RequiredAction: Send + Sync + 'static {
    const ACTION: Action;
}

macro_rules! required_actions {
    ($($marker:ident,)*) => {
        $(
            #[doc = concat!("Requires [`Action::", stringify!($marker), "`].")]
            pub struct $marker;
            impl RequiredAction for $marker {
                const ACTION: Action = Action::$marker;
            }
        )*
    };
}

required_actions! {
    ProfilesRead, ProfilesDelete, EventsRead, IdentitiesRead, IngestWrite, IngestRead,
    SchemasRead, SchemasWrite, SegmentsRead, SegmentsWrite, AttributesRead, AttributesWrite,
    ModelsRead, ModelsWrite, KeysManage, UsersManage, AuditRead, PrivacyManage, LabelsManage,
    MetricsRead,
}

/// A caller allowed to take action `A` in the request's sandbox (`x-sandbox-name`). The first
/// argument of every guarded handler: extractors run in order, so nothing of the request is
/// read before the caller is let in.
pub struct Authorized<A> {
    pub sandbox: SandboxName,
    pub caller: Arc<Caller>,
    _action: PhantomData<A>,
}

impl<A: RequiredAction> FromRequestParts<Arc<AppState>> for Authorized<A> {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        let caller = match parts.extensions.get::<Authentication>() {
            Some(Authentication::Caller(caller)) => caller.clone(),
            Some(Authentication::Failed(code, message)) => {
                return Err(ApiError::new(*code, message.clone()))
            }
            Some(Authentication::Anonymous) | None => {
                return Err(ApiError::new(
                    Code::MissingCredentials,
                    format!(
                        "Authorization: required for this route (it needs {}); send \"Authorization: Bearer <key>\" as AEP clients do",
                        A::ACTION
                    ),
                ))
            }
        };
        let Sandbox(sandbox) = Sandbox::from_request_parts(parts, state).await?;
        caller.require(A::ACTION, &sandbox)?;
        Ok(Authorized {
            sandbox,
            caller,
            _action: PhantomData,
        })
    }
}

/// A second action one branch of a handler needs (the entity API's experience events need
/// `events.read`): it never refuses by itself; the branch calls [`Permit::require`]. Still in
/// the signature.
pub struct Permit<A> {
    outcome: Result<(), (Code, String)>,
    _action: PhantomData<A>,
}

impl<A: RequiredAction> Permit<A> {
    pub fn require(&self) -> Result<(), ApiError> {
        self.outcome
            .clone()
            .map_err(|(code, message)| ApiError::new(code, message))
    }
}

impl<A: RequiredAction> FromRequestParts<Arc<AppState>> for Permit<A> {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        let outcome = match Authorized::<A>::from_request_parts(parts, state).await {
            Ok(_) => Ok(()),
            Err(error) => Err((error.code, error.message)),
        };
        Ok(Permit {
            outcome,
            _action: PhantomData,
        })
    }
}
