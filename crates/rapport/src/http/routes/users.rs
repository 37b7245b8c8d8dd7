//! The console's users and roles (`/data/rapport/users`, `/data/rapport/roles`): who may sign
//! in to the agent console, with which role, and what each role may see and do.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use engine::time::format_rfc3339_ms;
use rapport_types::{ActionSet, Code};
use serde_json::{json, Map, Value};

use super::fields::{object, strings, text};
use super::table::Route;
use super::{blocking, json};
use crate::http::audit::AuditSlip;
use crate::http::auth::{Authorized, Caller, UsersManage};
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::JsonBody;
use crate::state::AppState;

const USERS: &str = "/data/rapport/users";
const ROLES: &str = "/data/rapport/roles";

pub fn routes() -> Vec<Route> {
    vec![
        Route::keyed(Method::GET, USERS, list_users).audited("user.list"),
        Route::keyed(Method::POST, USERS, create_user).audited_change("user.create"),
        Route::keyed(Method::GET, format!("{USERS}/{{name}}"), get_user).audited("user.read"),
        Route::keyed(Method::PATCH, format!("{USERS}/{{name}}"), patch_user)
            .audited_change("user.update"),
        Route::keyed(Method::DELETE, format!("{USERS}/{{name}}"), delete_user)
            .audited_change("user.delete"),
        Route::keyed(
            Method::PUT,
            format!("{USERS}/{{name}}/password"),
            reset_password,
        )
        .audited_change("user.password"),
        Route::keyed(Method::GET, ROLES, list_roles).audited("role.list"),
        Route::keyed(Method::POST, ROLES, create_role).audited_change("role.create"),
        Route::keyed(Method::GET, format!("{ROLES}/{{name}}"), get_role).audited("role.read"),
        Route::keyed(Method::PUT, format!("{ROLES}/{{name}}"), put_role)
            .audited_change("role.update"),
        Route::keyed(Method::DELETE, format!("{ROLES}/{{name}}"), delete_role)
            .audited_change("role.delete"),
    ]
}

fn auth_error(error: auth::AuthError) -> ApiError {
    ApiError::new(error.code, error.message)
}

fn time(ms: Option<i64>) -> Value {
    ms.map_or(Value::Null, |ms| json!(format_rfc3339_ms(ms, true)))
}

/// A user as the API shows it: never the password or its hash.
fn user_json(user: &auth::UserRecord) -> Value {
    json!({
        "name": user.name,
        "displayName": user.display_name,
        "role": user.role,
        "sandboxes": user.sandboxes.names(),
        "disabled": user.disabled,
        "createdAt": time(Some(user.created_ms)),
        "updatedAt": time(Some(user.updated_ms)),
        "passwordChangedAt": time(Some(user.password_changed_ms)),
        "lockedUntil": time(user.locked_until_ms),
    })
}

fn role_json(role: &auth::Role) -> Value {
    json!({
        "name": role.name,
        "labels": role.labels.names(),
        "actions": role.actions.names(),
        "builtIn": role.built_in,
        "updatedAt": time(Some(role.updated_ms)),
    })
}

fn sandboxes(fields: &Map<String, Value>) -> ApiResult<Option<auth::SandboxScope>> {
    strings(fields, "sandboxes", Code::InvalidUser)?
        .map(|names| {
            auth::SandboxScope::parse(&names)
                .map_err(|e| ApiError::new(Code::InvalidUser, format!("/sandboxes: {e}")))
        })
        .transpose()
}

/// A user may be given only a role whose actions the caller holds itself, so that managing
/// users never grants more than the manager has.
fn check_role_within(state: &AppState, caller: &Caller, role: &str) -> ApiResult<()> {
    let Ok(role) = state.users.role(role) else {
        return Ok(()); // the store answers "no role" precisely
    };
    not_stronger(caller, role.actions)
}

fn not_stronger(caller: &Caller, actions: ActionSet) -> ApiResult<()> {
    match actions.iter().find(|a| !caller.actions.contains(*a)) {
        Some(action) => Err(ApiError::new(
            Code::ActionNotPermitted,
            format!(
                "{} does not hold {action}, so it cannot grant it through a role",
                caller.principal.name()
            ),
        )),
        None => Ok(()),
    }
}

async fn list_users(
    _: Authorized<UsersManage>,
    State(state): State<Arc<AppState>>,
) -> ApiResult<Response> {
    let users: Vec<Value> = state.users.users().iter().map(|u| user_json(u)).collect();
    Ok(json(StatusCode::OK, &json!({"users": users})))
}

async fn create_user(
    Authorized { caller, .. }: Authorized<UsersManage>,
    State(state): State<Arc<AppState>>,
    slip: AuditSlip,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    let fields = object(&body, Code::InvalidUser)?;
    let code = Code::InvalidUser;
    let name = text(fields, "name", code)?
        .ok_or_else(|| ApiError::new(code, "/name: required, a string"))?;
    slip.object(name.to_lowercase());
    let role = text(fields, "role", code)?
        .ok_or_else(|| ApiError::new(code, "/role: required, the name of a role"))?;
    check_role_within(&state, &caller, &role)?;
    let new = auth::NewUser {
        name,
        display_name: text(fields, "displayName", code)?,
        password: text(fields, "password", code)?,
        role,
        sandboxes: sandboxes(fields)?.unwrap_or_else(|| {
            auth::SandboxScope::Only(
                [rapport_types::SandboxName::default_sandbox()]
                    .into_iter()
                    .collect(),
            )
        }),
    };
    let users = state.users.clone();
    // Hashing a password takes tens of milliseconds: off the request threads.
    let (user, generated) = blocking(move || {
        users
            .create_user(new, engine::catalog::now_ms())
            .map_err(auth_error)
    })
    .await?;
    let mut body = user_json(&user);
    if let Some(password) = generated {
        body["password"] = json!(password);
    }
    Ok(json(StatusCode::CREATED, &body))
}

async fn get_user(
    _: Authorized<UsersManage>,
    State(state): State<Arc<AppState>>,
    Path(name): Path<String>,
) -> ApiResult<Response> {
    let user = state.users.user(&name).map_err(auth_error)?;
    Ok(json(StatusCode::OK, &user_json(&user)))
}

async fn patch_user(
    Authorized { caller, .. }: Authorized<UsersManage>,
    State(state): State<Arc<AppState>>,
    Path(name): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    let code = Code::InvalidUser;
    let fields = object(&body, code)?;
    if let Some(other) = fields
        .keys()
        .find(|k| !["displayName", "role", "sandboxes", "disabled"].contains(&k.as_str()))
    {
        return Err(ApiError::new(
            code,
            format!("/{other}: only displayName, role, sandboxes and disabled change here (the password has its own route)"),
        ));
    }
    let role = text(fields, "role", code)?;
    if let Some(role) = &role {
        check_role_within(&state, &caller, role)?;
    }
    let patch = auth::UserPatch {
        display_name: match fields.get("displayName") {
            None => None,
            Some(Value::Null) => Some(None),
            Some(_) => Some(text(fields, "displayName", code)?),
        },
        role,
        sandboxes: sandboxes(fields)?,
        disabled: match fields.get("disabled") {
            None => None,
            Some(Value::Bool(disabled)) => Some(*disabled),
            Some(_) => return Err(ApiError::new(code, "/disabled: expected true or false")),
        },
    };
    let user = state
        .users
        .update_user(&name, patch, engine::catalog::now_ms())
        .map_err(auth_error)?;
    Ok(json(StatusCode::OK, &user_json(&user)))
}

async fn delete_user(
    _: Authorized<UsersManage>,
    State(state): State<Arc<AppState>>,
    Path(name): Path<String>,
) -> ApiResult<Response> {
    state.users.delete_user(&name).map_err(auth_error)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn reset_password(
    _: Authorized<UsersManage>,
    State(state): State<Arc<AppState>>,
    Path(name): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    let code = Code::InvalidUser;
    let password = text(object(&body, code)?, "password", code)?
        .ok_or_else(|| ApiError::new(code, "/password: required, a string"))?;
    let users = state.users.clone();
    let user = blocking(move || {
        users
            .set_password(&name, &password, engine::catalog::now_ms())
            .map_err(auth_error)
    })
    .await?;
    Ok(json(StatusCode::OK, &user_json(&user)))
}

async fn list_roles(
    _: Authorized<UsersManage>,
    State(state): State<Arc<AppState>>,
) -> ApiResult<Response> {
    let roles: Vec<Value> = state.users.roles().iter().map(|r| role_json(r)).collect();
    Ok(json(StatusCode::OK, &json!({"roles": roles})))
}

/// A role's labels and actions from a body.
fn grants(fields: &Map<String, Value>) -> ApiResult<(auth::LabelGrant, ActionSet)> {
    let code = Code::InvalidRole;
    let labels = strings(fields, "labels", code)?
        .ok_or_else(|| ApiError::new(code, "/labels: required, label names or [\"*\"]"))?;
    let labels = auth::LabelGrant::parse(&labels)
        .map_err(|e| ApiError::new(code, format!("/labels: {e}")))?;
    let actions = strings(fields, "actions", code)?
        .ok_or_else(|| ApiError::new(code, "/actions: required, action names"))?;
    let actions = ActionSet::parse(actions.iter().map(String::as_str))
        .map_err(|e| ApiError::new(code, format!("/actions: {e}")))?;
    Ok((labels, actions))
}

async fn create_role(
    Authorized { caller, .. }: Authorized<UsersManage>,
    State(state): State<Arc<AppState>>,
    slip: AuditSlip,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    let fields = object(&body, Code::InvalidRole)?;
    let name = text(fields, "name", Code::InvalidRole)?
        .ok_or_else(|| ApiError::new(Code::InvalidRole, "/name: required, a string"))?;
    slip.object(name.clone());
    if state.users.role(&name).is_ok() {
        return Err(ApiError::new(
            Code::InvalidRole,
            format!("/name: a role \"{name}\" exists already; PUT {ROLES}/{name} replaces it"),
        ));
    }
    let (labels, actions) = grants(fields)?;
    not_stronger(&caller, actions)?;
    let role = state
        .users
        .put_role(&name, labels, actions, engine::catalog::now_ms())
        .map_err(auth_error)?;
    Ok(json(StatusCode::CREATED, &role_json(&role)))
}

async fn get_role(
    _: Authorized<UsersManage>,
    State(state): State<Arc<AppState>>,
    Path(name): Path<String>,
) -> ApiResult<Response> {
    let role = state.users.role(&name).map_err(auth_error)?;
    Ok(json(StatusCode::OK, &role_json(&role)))
}

async fn put_role(
    Authorized { caller, .. }: Authorized<UsersManage>,
    State(state): State<Arc<AppState>>,
    Path(name): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    let (labels, actions) = grants(object(&body, Code::InvalidRole)?)?;
    not_stronger(&caller, actions)?;
    let role = state
        .users
        .put_role(&name, labels, actions, engine::catalog::now_ms())
        .map_err(auth_error)?;
    Ok(json(StatusCode::OK, &role_json(&role)))
}

async fn delete_role(
    _: Authorized<UsersManage>,
    State(state): State<Arc<AppState>>,
    Path(name): Path<String>,
) -> ApiResult<Response> {
    state.users.delete_role(&name).map_err(auth_error)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
