//! The route table: every API route, declared once with the guard it has, so the router and
//! the tests that walk every route are built from the same list.
//!
//! A keyed route's action is not written here: [`Route::keyed`] reads it off the handler's
//! first argument, `Authorized<A>`, so the table cannot disagree with the handler.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::response::IntoResponse;
use rapport_types::Code;

use axum::handler::Handler;
use axum::http::Method;
use axum::routing::{on, MethodFilter, MethodRouter};
use axum::Router;
use rapport_types::Action;

use crate::http::audit::{Audited, Durability};
use crate::http::auth::{Authorized, RequiredAction};
use crate::http::error::ApiError;
use crate::state::AppState;
use audit::{AuditAction, Via};

/// What a route asks of its caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Guard {
    /// Anyone may call it.
    Public,
    /// A key (or the master key) granting this action in the request's sandbox.
    Key(Action),
}

/// How long a route may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Timeout {
    /// The server's request timeout.
    Default,
    /// File uploads: at least [`crate::options::LONG_REQUEST`].
    Long,
}

/// One method on one path.
pub struct Route {
    pub method: Method,
    pub path: String,
    pub guard: Guard,
    pub timeout: Timeout,
    /// What the route records in the audit log, if anything.
    pub audit: Option<Audited>,
    endpoint: MethodRouter<Arc<AppState>>,
}

/// Implemented for handlers whose first argument is `G` (up to eight arguments), the way
/// axum's `Handler` is: what lets [`Route::keyed`] infer the action from the handler.
pub trait GuardedBy<G, Rest> {}

macro_rules! guarded_by {
    ($($rest:ident),*) => {
        impl<F, Fut, G, $($rest,)*> GuardedBy<G, ($($rest,)*)> for F where F: FnOnce(G, $($rest,)*) -> Fut {}
    };
}

guarded_by!();
guarded_by!(T1);
guarded_by!(T1, T2);
guarded_by!(T1, T2, T3);
guarded_by!(T1, T2, T3, T4);
guarded_by!(T1, T2, T3, T4, T5);
guarded_by!(T1, T2, T3, T4, T5, T6);
guarded_by!(T1, T2, T3, T4, T5, T6, T7);

fn filter(method: &Method) -> MethodFilter {
    MethodFilter::try_from(method.clone())
        .unwrap_or_else(|_| panic!("{method} is not a routable method"))
}

impl Route {
    /// A route guarded by the action of the handler's `Authorized<A>` first argument.
    pub fn keyed<H, T, A, Rest>(method: Method, path: impl Into<String>, handler: H) -> Route
    where
        H: Handler<T, Arc<AppState>> + GuardedBy<Authorized<A>, Rest>,
        A: RequiredAction,
        T: 'static,
    {
        Route {
            endpoint: on(filter(&method), handler),
            method,
            path: path.into(),
            guard: Guard::Key(A::ACTION),
            timeout: Timeout::Default,
            audit: None,
        }
    }

    /// Each request is recorded in the audit log as `action` (a lookup: recorded after the
    /// answer is made, without waiting for the commit).
    pub fn audited(mut self, action: &'static str) -> Route {
        self.audit = Some(Audited {
            action: AuditAction::from_static(action),
            durability: Durability::Queued,
            via: Via::Api,
        });
        self
    }

    /// Each request is recorded in the audit log as `action`, committed before the answer (a
    /// change to who may do what, or a privacy request).
    pub fn audited_change(mut self, action: &'static str) -> Route {
        self.audit = Some(Audited {
            action: AuditAction::from_static(action),
            durability: Durability::Committed,
            via: Via::Api,
        });
        self
    }

    /// The route may take as long as a large upload does.
    pub fn long(mut self) -> Route {
        self.timeout = Timeout::Long;
        self
    }

    /// A route anyone may call.
    pub fn public<H, T>(method: Method, path: impl Into<String>, handler: H) -> Route
    where
        H: Handler<T, Arc<AppState>>,
        T: 'static,
    {
        Route {
            endpoint: on(filter(&method), handler),
            method,
            path: path.into(),
            guard: Guard::Public,
            timeout: Timeout::Default,
            audit: None,
        }
    }
}

/// Every API route.
pub fn table() -> Vec<Route> {
    [
        super::health::routes(),
        super::entities::routes(),
        super::collection::routes(),
        super::batches::routes(),
        super::schemas::routes(),
        super::datasets::routes(),
        super::namespaces::routes(),
        super::identities::routes(),
        super::merge_policies::routes(),
        super::segments::routes(),
        super::computed::routes(),
        super::models::routes(),
        super::keys::routes(),
        super::users::routes(),
        super::privacy::routes(),
        super::metrics::routes(),
        crate::http::audit::routes(),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// Answers `503 request_timed_out` when the request takes longer than the route may.
async fn limit_time(
    State(limit): State<Duration>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => ApiError::new(
            Code::RequestTimedOut,
            format!(
                "the request took longer than {} ms and was abandoned; a write in it may still have been applied, and sending it again is safe (records and events are identified by their identities and _id)",
                limit.as_millis()
            ),
        )
        .into_response(),
    }
}

/// The router of a table: the methods of one path share one method router (a method declared
/// twice on a path panics when the router is built, so a duplicate never goes unnoticed). Each
/// route is limited to `timeout` (uploads to at least [`crate::options::LONG_REQUEST`]).
pub fn router(table: Vec<Route>, timeout: Duration) -> Router<Arc<AppState>> {
    let mut by_path: BTreeMap<String, MethodRouter<Arc<AppState>>> = BTreeMap::new();
    for mut route in table {
        let limit = match route.timeout {
            Timeout::Default => timeout,
            Timeout::Long => timeout.max(crate::options::LONG_REQUEST),
        };
        route.endpoint = route
            .endpoint
            .layer(axum::middleware::from_fn_with_state(limit, limit_time));
        if let Some(audited) = route.audit {
            // Outside the time limit: a request abandoned for time is recorded too.
            route.endpoint = route.endpoint.layer(axum::middleware::from_fn_with_state(
                Arc::new(audited),
                crate::http::audit::audit_request,
            ));
        }
        let merged = match by_path.remove(&route.path) {
            Some(existing) => existing.merge(route.endpoint),
            None => route.endpoint,
        };
        by_path.insert(route.path, merged);
    }
    by_path
        .into_iter()
        .fold(Router::new(), |router, (path, endpoint)| {
            router.route(&path, endpoint)
        })
}
