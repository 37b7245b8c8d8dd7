//! Who gets in: every route of the table refuses callers without a key, with a bad key, with a
//! key lacking the route's action or its sandbox, and lets in a key holding just that action;
//! the key lifecycle (rotation with grace, revocation, expiry); no escalation; and `rapport serve` refusing to start without a master key.

use std::process::Command;

use axum::http::{Method, StatusCode};
use rapport::http::routes::table::{table, Guard};
use rapport_types::{Action, Scope};
use serde_json::{json, Value};

use crate::common::{Reply, TestServer, TEST_MASTER_KEY};

/// A path of the table with its parameters filled in.
pub(crate) fn concrete(path: &str) -> String {
    let mut out = String::new();
    let mut rest = path;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let end = rest[start..]
            .find('}')
            .map_or(rest.len(), |e| start + e + 1);
        out.push_str(if &rest[start..end] == "{ns}" {
            "Email"
        } else {
            "x"
        });
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

async fn send_with(
    server: &TestServer,
    method: Method,
    path: &str,
    token: Option<&str>,
    sandbox: &str,
) -> Reply {
    let bearer = token.map(|t| format!("Bearer {t}"));
    let mut headers = vec![("x-sandbox-name", sandbox)];
    if let Some(bearer) = &bearer {
        headers.push(("authorization", bearer.as_str()));
    }
    let body = if method == Method::GET || method == Method::DELETE {
        Vec::new()
    } else {
        b"{}".to_vec()
    };
    server.send_exactly(method, path, body, &headers).await
}

/// POSTs `body` as the holder of `token`.
async fn post_as(server: &TestServer, token: &str, path: &str, body: Value) -> Reply {
    let bearer = format!("Bearer {token}");
    let body = serde_json::to_vec(&body).expect("json");
    server
        .send_exactly(Method::POST, path, body, &[("authorization", &bearer)])
        .await
}

/// Creates a key through the API with the master key; returns its token.
async fn key(server: &TestServer, actions: &[&str], sandboxes: &[&str]) -> String {
    let reply = server
        .post(
            "/data/rapport/keys",
            json!({"name": "test", "actions": actions, "sandboxes": sandboxes}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    reply.body["key"].as_str().expect("the key").to_owned()
}

fn code(reply: &Reply) -> &str {
    reply.body["code"].as_str().unwrap_or_default()
}

#[tokio::test]
async fn every_route_is_guarded_by_its_action() {
    let server = TestServer::start();
    let unknown_key = "rpk_00000000000000000000_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    let mut keyed = 0;
    for route in table() {
        let Guard::Key(action) = route.guard else {
            continue;
        };
        keyed += 1;
        let path = concrete(&route.path);
        let what = format!("{} {}", route.method, route.path);
        let anonymous = send_with(&server, route.method.clone(), &path, None, "prod").await;
        assert_eq!(
            anonymous.status,
            StatusCode::UNAUTHORIZED,
            "{what}: {}",
            anonymous.body
        );
        assert_eq!(code(&anonymous), "missing_credentials", "{what}");
        assert!(anonymous.headers.contains_key("www-authenticate"), "{what}");

        let unknown = send_with(
            &server,
            route.method.clone(),
            &path,
            Some(unknown_key),
            "prod",
        )
        .await;
        assert_eq!(
            code(&unknown),
            "invalid_api_key",
            "{what}: {}",
            unknown.body
        );

        // Every other action, but not this one.
        let others: Vec<&str> = Action::ALL
            .iter()
            .filter(|a| **a != action)
            .map(|a| a.name())
            .collect();
        let lacking = key(&server, &others, &["*"]).await;
        let refused = send_with(&server, route.method.clone(), &path, Some(&lacking), "prod").await;
        assert_eq!(
            refused.status,
            StatusCode::FORBIDDEN,
            "{what}: {}",
            refused.body
        );
        assert_eq!(code(&refused), "action_not_permitted", "{what}");

        let sandboxes: &[&str] = match action.scope() {
            Scope::Server => &["*"],
            Scope::Sandbox => &["prod"],
        };
        let just_this = key(&server, &[action.name()], sandboxes).await;
        let allowed = send_with(
            &server,
            route.method.clone(),
            &path,
            Some(&just_this),
            "prod",
        )
        .await;
        assert!(
            allowed.status != StatusCode::UNAUTHORIZED && allowed.status != StatusCode::FORBIDDEN,
            "{what} refused a key holding {action}: {} {}",
            allowed.status,
            allowed.body
        );
        if action.scope() == Scope::Sandbox {
            let elsewhere = send_with(
                &server,
                route.method.clone(),
                &path,
                Some(&just_this),
                "other",
            )
            .await;
            assert_eq!(
                elsewhere.status,
                StatusCode::FORBIDDEN,
                "{what}: {}",
                elsewhere.body
            );
            assert_eq!(code(&elsewhere), "sandbox_not_permitted", "{what}");
        }
    }
    assert!(keyed > 80, "the table lists {keyed} keyed routes");
}

#[tokio::test]
async fn public_routes_are_exactly_health() {
    let public: Vec<String> = table()
        .into_iter()
        .filter(|r| r.guard == Guard::Public)
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert_eq!(public, ["GET /health"]);
    let server = TestServer::start();
    let reply = server
        .send_exactly(Method::GET, "/health", Vec::new(), &[])
        .await;
    assert_eq!(reply.status, StatusCode::OK);
}

#[test]
fn api_routes_are_declared_only_in_the_table() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/http/routes");
    for entry in std::fs::read_dir(&dir).expect("routes directory") {
        let path = entry.expect("entry").path();
        if path.file_name().is_some_and(|n| n == "table.rs") {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("source");
        assert!(
            !text.contains(".route("),
            "{} declares a route outside the table",
            path.display()
        );
    }
}

#[tokio::test]
async fn experience_events_need_events_read_as_well() {
    let server = TestServer::start();
    let profiles_only = key(&server, &["profiles.read"], &["prod"]).await;
    let path = "/data/core/ups/access/entities?schema.name=_xdm.context.experienceevent&relatedSchema.name=_xdm.context.profile&relatedEntityId=a@example.com&relatedEntityIdNS=Email";
    let refused = send_with(&server, Method::GET, path, Some(&profiles_only), "prod").await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);
    assert!(refused.body["title"]
        .as_str()
        .unwrap_or_default()
        .contains("events.read"));
    let both = key(&server, &["profiles.read", "events.read"], &["prod"]).await;
    let allowed = send_with(&server, Method::GET, path, Some(&both), "prod").await;
    assert_ne!(allowed.status, StatusCode::FORBIDDEN, "{}", allowed.body);
}

#[tokio::test]
async fn a_key_is_shown_once_rotated_with_grace_and_revoked() {
    let server = TestServer::start();
    let created = server
        .post(
            "/data/rapport/keys",
            json!({"name": "crm loader", "actions": ["schemas.read"], "sandboxes": ["prod"]}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let token = created.body["key"].as_str().expect("key").to_owned();
    let id = created.body["id"].as_str().expect("id").to_owned();
    assert!(token.starts_with(created.body["prefix"].as_str().expect("prefix")));
    let read = |t: String| {
        let server = &server;
        async move {
            send_with(
                server,
                Method::GET,
                "/data/core/idnamespace/identities",
                Some(&t),
                "prod",
            )
            .await
            .status
        }
    };
    assert_eq!(read(token.clone()).await, StatusCode::OK);

    // Listed and read back without any secret.
    let listed = server.get("/data/rapport/keys").await;
    let text = listed.body.to_string();
    assert!(
        text.contains(&id) && !text.contains(&token[token.len() - 20..]),
        "{text}"
    );
    assert_eq!(
        server.get(&format!("/data/rapport/keys/{id}")).await.body["name"],
        "crm loader"
    );

    // Rotation with a grace period: both secrets work; without one, the old stops at once.
    let rotated = server
        .post(
            &format!("/data/rapport/keys/{id}/rotate"),
            json!({"graceSeconds": 3600}),
        )
        .await;
    assert_eq!(rotated.status, StatusCode::CREATED, "{}", rotated.body);
    let second = rotated.body["key"].as_str().expect("key").to_owned();
    assert_eq!(read(token.clone()).await, StatusCode::OK);
    assert_eq!(read(second.clone()).await, StatusCode::OK);
    let third = server
        .post(
            &format!("/data/rapport/keys/{id}/rotate"),
            json!({"graceSeconds": 0}),
        )
        .await
        .body["key"]
        .as_str()
        .expect("key")
        .to_owned();
    assert_eq!(read(second).await, StatusCode::UNAUTHORIZED);
    assert_eq!(read(third.clone()).await, StatusCode::OK);

    // Revoked: refused, and the record stays with when.
    let revoked = server
        .send(
            Method::DELETE,
            &format!("/data/rapport/keys/{id}"),
            None,
            &[],
        )
        .await;
    assert_eq!(revoked.status, StatusCode::NO_CONTENT);
    assert_eq!(read(third).await, StatusCode::UNAUTHORIZED);
    assert!(server.get(&format!("/data/rapport/keys/{id}")).await.body["revokedAt"].is_string());
}

#[tokio::test]
async fn an_expired_key_is_refused_with_its_own_code() {
    let server = TestServer::start();
    let soon = engine::time::format_rfc3339_ms(engine::catalog::now_ms() + 1_500, true);
    let created = server
        .post(
            "/data/rapport/keys",
            json!({"name": "short", "actions": ["schemas.read"], "sandboxes": ["prod"], "expiresAt": soon}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let token = created.body["key"].as_str().expect("key").to_owned();
    let path = "/data/core/idnamespace/identities";
    assert_eq!(
        send_with(&server, Method::GET, path, Some(&token), "prod")
            .await
            .status,
        StatusCode::OK
    );
    tokio::time::sleep(std::time::Duration::from_millis(1_700)).await;
    let expired = send_with(&server, Method::GET, path, Some(&token), "prod").await;
    assert_eq!(expired.status, StatusCode::UNAUTHORIZED);
    assert_eq!(code(&expired), "api_key_expired", "{}", expired.body);
}

#[tokio::test]
async fn keys_survive_a_restart() {
    let mut server = TestServer::start();
    let token = key(&server, &["schemas.read"], &["prod"]).await;
    server.restart();
    let reply = send_with(
        &server,
        Method::GET,
        "/data/core/idnamespace/identities",
        Some(&token),
        "prod",
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
}

#[tokio::test]
async fn a_key_cannot_make_a_key_stronger_than_itself() {
    let server = TestServer::start();
    let manager = key(&server, &["keys.manage", "profiles.read"], &["*"]).await;
    let create = |actions: Value, sandboxes: Value| {
        post_as(
            &server,
            &manager,
            "/data/rapport/keys",
            json!({"name": "n", "actions": actions, "sandboxes": sandboxes}),
        )
    };
    let stronger = create(json!(["events.read"]), json!(["prod"])).await;
    assert_eq!(stronger.status, StatusCode::FORBIDDEN, "{}", stronger.body);
    assert!(stronger.body["title"]
        .as_str()
        .unwrap_or_default()
        .contains("events.read"));
    let weaker = create(json!(["profiles.read"]), json!(["prod"])).await;
    assert_eq!(weaker.status, StatusCode::CREATED, "{}", weaker.body);
    let invalid = create(json!(["keys.manage"]), json!(["prod"])).await;
    assert_eq!(invalid.status, StatusCode::BAD_REQUEST, "{}", invalid.body);
    assert!(
        invalid.body["title"]
            .as_str()
            .unwrap_or_default()
            .contains("/sandboxes"),
        "{}",
        invalid.body
    );
}

#[tokio::test]
async fn a_key_for_one_sandbox_sees_nothing_of_another() {
    let server = TestServer::start();
    let acme = key(&server, &["schemas.*"], &["acme"]).await;
    let path = "/data/core/idnamespace/identities";
    assert_eq!(
        send_with(&server, Method::GET, path, Some(&acme), "acme")
            .await
            .status,
        StatusCode::OK
    );
    let prod = send_with(&server, Method::GET, path, Some(&acme), "prod").await;
    assert_eq!(prod.status, StatusCode::FORBIDDEN);
    assert_eq!(code(&prod), "sandbox_not_permitted");
}

fn rapport(args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_rapport"));
    command
        .args(args)
        .env_remove("RAPPORT_MASTER_KEY")
        .env_remove("RAPPORT_DEV_MODE")
        .env_remove("RAPPORT_KEY");
    for (name, value) in env {
        command.env(name, value);
    }
    let output = command.output().expect("run rapport");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn serve_refuses_to_start_without_a_master_key_or_in_dev_mode_off_loopback() {
    let dir = tempfile::tempdir().expect("dir");
    let data = dir.path().join("data");
    let data = data.to_str().expect("path");
    let (code, _, stderr) = rapport(
        &["serve", "--data-dir", data, "--http-addr", "127.0.0.1:0"],
        &[],
    );
    assert_ne!(code, 0);
    assert!(stderr.contains("no master key"), "{stderr}");
    let (code, _, stderr) = rapport(
        &[
            "serve",
            "--data-dir",
            data,
            "--dev-mode",
            "--http-addr",
            "0.0.0.0:0",
        ],
        &[],
    );
    assert_ne!(code, 0);
    assert!(stderr.contains("loopback"), "{stderr}");
    let (code, _, stderr) = rapport(
        &["serve", "--data-dir", data, "--http-addr", "127.0.0.1:0"],
        &[("RAPPORT_MASTER_KEY", "short")],
    );
    assert_ne!(code, 0);
    assert!(stderr.contains("32 characters"), "{stderr}");
}

#[test]
fn the_keys_command_makes_master_keys_and_manages_keys_on_a_server() {
    let (code, stdout, _) = rapport(&["keys", "generate-master"], &[]);
    assert_eq!(code, 0);
    assert!(stdout.trim().len() >= 43, "{stdout}");
    let dir = tempfile::tempdir().expect("dir");
    let server = crate::common::process::spawn(&dir.path().join("data"));
    let url = format!("http://{}", server.address);
    let master = [("RAPPORT_KEY", TEST_MASTER_KEY)];
    let (code, stdout, stderr) = rapport(
        &[
            "keys",
            "create",
            "--server",
            &url,
            "--name",
            "loader",
            "--actions",
            "ingest.write,ingest.read",
        ],
        &master,
    );
    assert_eq!(code, 0, "{stderr}");
    let created: Value = serde_json::from_str(&stdout).expect("JSON");
    assert_eq!(created["actions"], json!(["ingest.write", "ingest.read"]));
    let id = created["id"].as_str().expect("id");
    let (code, stdout, _) = rapport(&["keys", "list", "--server", &url], &master);
    assert_eq!(code, 0);
    assert!(stdout.contains(id));
    let (code, stdout, stderr) = rapport(&["keys", "revoke", "--server", &url, id], &master);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("revoked"));
    let (code, _, stderr) = rapport(&["keys", "list", "--server", &url], &[]);
    assert_ne!(code, 0);
    assert!(
        stderr.contains("401") || stderr.contains("missing_credentials"),
        "{stderr}"
    );
    assert!(stderr.contains("RAPPORT_KEY"), "{stderr}");
}

#[tokio::test]
async fn the_demo_prints_a_key_that_works_and_a_new_one_each_start() {
    let server = TestServer::development();
    let token_in = |note: String| {
        note.split_whitespace()
            .find_map(|w| w.strip_prefix("RAPPORT_KEY="))
            .expect("the note gives a key")
            .to_owned()
    };
    let first = token_in(rapport::demo::access_note(&server.state()).expect("note"));
    let path = "/data/rapport/keys";
    assert_eq!(
        send_with(&server, Method::GET, path, Some(&first), "prod")
            .await
            .status,
        StatusCode::OK
    );
    let second = token_in(rapport::demo::access_note(&server.state()).expect("note"));
    assert_ne!(first, second);
    assert_eq!(
        send_with(&server, Method::GET, path, Some(&second), "prod")
            .await
            .status,
        StatusCode::OK
    );
    let stale = send_with(&server, Method::GET, path, Some(&first), "prod").await;
    assert_eq!(stale.status, StatusCode::UNAUTHORIZED, "{}", stale.body);
}

#[tokio::test]
async fn console_users_and_roles_are_managed_through_the_api() {
    let server = TestServer::start();
    let roles = server.get("/data/rapport/roles").await;
    let names: Vec<&str> = roles.body["roles"]
        .as_array()
        .expect("roles")
        .iter()
        .filter_map(|r| r["name"].as_str())
        .collect();
    assert_eq!(
        names,
        ["admin", "agent", "integration", "sales", "supervisor"]
    );

    let role = server
        .post(
            "/data/rapport/roles",
            json!({"name": "support-lead", "labels": ["I1", "SUPPORT"], "actions": ["profiles.read", "events.read"]}),
        )
        .await;
    assert_eq!(role.status, StatusCode::CREATED, "{}", role.body);
    assert_eq!(
        role.body["actions"],
        json!(["profiles.read", "events.read"])
    );

    let password = "correct horse battery staple";
    let user = server
        .post(
            "/data/rapport/users",
            json!({"name": "Dana", "displayName": "Dana Park", "role": "support-lead", "password": password}),
        )
        .await;
    assert_eq!(user.status, StatusCode::CREATED, "{}", user.body);
    assert_eq!(user.body["name"], "dana");
    assert_eq!(user.body["sandboxes"], json!(["prod"]));
    assert!(
        user.body.get("password").is_none(),
        "a given password is not echoed"
    );

    let generated = server
        .post(
            "/data/rapport/users",
            json!({"name": "lee", "role": "agent"}),
        )
        .await;
    assert_eq!(generated.status, StatusCode::CREATED, "{}", generated.body);
    let shown = generated.body["password"]
        .as_str()
        .expect("a generated password, once");
    let listed = server.get("/data/rapport/users").await.body.to_string();
    assert!(
        !listed.contains(shown) && !listed.contains(password),
        "{listed}"
    );

    let short = server
        .send(
            Method::PUT,
            "/data/rapport/users/dana/password",
            Some(json!({"password": "short"})),
            &[],
        )
        .await;
    assert_eq!(short.status, StatusCode::BAD_REQUEST);
    assert!(
        short.body["title"]
            .as_str()
            .unwrap_or_default()
            .starts_with("/password"),
        "{}",
        short.body
    );

    let disabled = server
        .send(
            Method::PATCH,
            "/data/rapport/users/dana",
            Some(json!({"disabled": true})),
            &[],
        )
        .await;
    assert_eq!(disabled.status, StatusCode::OK, "{}", disabled.body);
    assert_eq!(disabled.body["disabled"], true);

    let in_use = server
        .send(
            Method::DELETE,
            "/data/rapport/roles/support-lead",
            None,
            &[],
        )
        .await;
    assert_eq!(in_use.status, StatusCode::CONFLICT, "{}", in_use.body);
    assert_eq!(code(&in_use), "role_in_use");
    let gone = server
        .send(Method::DELETE, "/data/rapport/users/dana", None, &[])
        .await;
    assert_eq!(gone.status, StatusCode::NO_CONTENT);
    assert_eq!(
        server.get("/data/rapport/users/dana").await.status,
        StatusCode::NOT_FOUND
    );
    let deleted = server
        .send(
            Method::DELETE,
            "/data/rapport/roles/support-lead",
            None,
            &[],
        )
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{}", deleted.body);
}

#[tokio::test]
async fn managing_users_never_grants_more_than_the_manager_holds() {
    let server = TestServer::start();
    let manager = key(&server, &["users.manage", "profiles.read"], &["*"]).await;
    let post = |path: &'static str, body: Value| post_as(&server, &manager, path, body);
    let stronger = post(
        "/data/rapport/roles",
        json!({"name": "wide", "labels": ["*"], "actions": ["events.read"]}),
    )
    .await;
    assert_eq!(stronger.status, StatusCode::FORBIDDEN, "{}", stronger.body);
    let admin_user = post(
        "/data/rapport/users",
        json!({"name": "eve", "role": "admin"}),
    )
    .await;
    assert_eq!(
        admin_user.status,
        StatusCode::FORBIDDEN,
        "{}",
        admin_user.body
    );
    let narrow = post(
        "/data/rapport/roles",
        json!({"name": "reader", "labels": [], "actions": ["profiles.read"]}),
    )
    .await;
    assert_eq!(narrow.status, StatusCode::CREATED, "{}", narrow.body);
    let reader = post(
        "/data/rapport/users",
        json!({"name": "ray", "role": "reader"}),
    )
    .await;
    assert_eq!(reader.status, StatusCode::CREATED, "{}", reader.body);
}

#[test]
fn the_users_and_roles_commands_manage_the_console_s_people() {
    let dir = tempfile::tempdir().expect("dir");
    let server = crate::common::process::spawn(&dir.path().join("data"));
    let url = format!("http://{}", server.address);
    let master = [("RAPPORT_KEY", TEST_MASTER_KEY)];
    let (code, stdout, stderr) = rapport(
        &[
            "roles",
            "put",
            "--server",
            &url,
            "night-shift",
            "--labels",
            "I1,C1",
            "--actions",
            "profiles.read",
        ],
        &master,
    );
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("night-shift"), "{stdout}");
    let (code, stdout, stderr) = rapport(
        &[
            "users", "create", "--server", &url, "kim", "--role", "agent",
        ],
        &master,
    );
    assert_eq!(code, 0, "{stderr}");
    let created: Value = serde_json::from_str(&stdout).expect("JSON");
    assert!(
        created["password"].as_str().is_some_and(|p| p.len() >= 12),
        "{stdout}"
    );
    let (code, _, stderr) = rapport(
        &["users", "set-role", "--server", &url, "kim", "night-shift"],
        &master,
    );
    assert_eq!(code, 0, "{stderr}");
    let (code, stdout, _) = rapport(&["users", "list", "--server", &url], &master);
    assert_eq!(code, 0);
    let listed: Value = serde_json::from_str(&stdout).expect("JSON");
    assert_eq!(listed["users"][0]["role"], "night-shift", "{stdout}");
    let (code, _, stderr) = rapport(
        &["roles", "delete", "--server", &url, "night-shift"],
        &master,
    );
    assert_ne!(code, 0);
    assert!(stderr.contains("409"), "{stderr}");
    let (code, stdout, stderr) = rapport(&["users", "delete", "--server", &url, "kim"], &master);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("deleted"));
}

#[tokio::test]
async fn a_key_past_its_rate_limit_gets_429_with_retry_after() {
    let server = TestServer::with_options(rapport::options::ServeOptions {
        rate_limit_per_second: Some(1),
        rate_limit_burst: Some(3),
        ..Default::default()
    });
    let busy = key(&server, &["schemas.read"], &["prod"]).await;
    let other = key(&server, &["schemas.read"], &["prod"]).await;
    let path = "/data/core/idnamespace/identities";
    let header = |reply: &Reply, name: &str| {
        reply
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    for remaining in [2, 1, 0] {
        let reply = send_with(&server, Method::GET, path, Some(&busy), "prod").await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        assert_eq!(header(&reply, "ratelimit-policy"), "\"per-key\";q=3;w=3");
        assert!(
            header(&reply, "ratelimit").starts_with(&format!("\"per-key\";r={remaining};")),
            "{}",
            header(&reply, "ratelimit")
        );
    }
    let refused = send_with(&server, Method::GET, path, Some(&busy), "prod").await;
    assert_eq!(
        refused.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        refused.body
    );
    assert_eq!(code(&refused), "rate_limited");
    let retry: u64 = header(&refused, "retry-after")
        .parse()
        .expect("Retry-After seconds");
    assert!((1..=2).contains(&retry), "{retry}");
    // Other keys and the master key have their own allowance.
    let reply = send_with(&server, Method::GET, path, Some(&other), "prod").await;
    assert_eq!(reply.status, StatusCode::OK);
    let reply = send_with(&server, Method::GET, path, Some(TEST_MASTER_KEY), "prod").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(
        reply.headers.get("ratelimit").is_none(),
        "the master key is not limited"
    );
}

#[tokio::test]
async fn a_key_with_its_own_rate_limit_is_held_to_it_whatever_the_server_s() {
    // No server-wide limit: only the key with its own is limited.
    let server = TestServer::start();
    let created = server
        .post(
            "/data/rapport/keys",
            json!({"name": "partner", "actions": ["schemas.read"], "sandboxes": ["prod"],
                   "rateLimit": {"perSecond": 1, "burst": 2}}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    assert_eq!(
        created.body["rateLimit"],
        json!({"perSecond": 1, "burst": 2})
    );
    let limited = created.body["key"].as_str().expect("key").to_owned();
    let id = created.body["id"].as_str().expect("id").to_owned();
    let free = key(&server, &["schemas.read"], &["prod"]).await;
    let path = "/data/core/idnamespace/identities";
    for _ in 0..2 {
        let reply = send_with(&server, Method::GET, path, Some(&limited), "prod").await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        assert_eq!(
            reply
                .headers
                .get("ratelimit-policy")
                .and_then(|v| v.to_str().ok()),
            Some("\"per-key\";q=2;w=2")
        );
    }
    let refused = send_with(&server, Method::GET, path, Some(&limited), "prod").await;
    assert_eq!(
        refused.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        refused.body
    );
    assert!(refused.headers.get("retry-after").is_some());
    for _ in 0..5 {
        let reply = send_with(&server, Method::GET, path, Some(&free), "prod").await;
        assert_eq!(reply.status, StatusCode::OK);
        assert!(reply.headers.get("ratelimit").is_none(), "no limit applies");
    }

    // Raising the key's limit takes effect at once, with a full burst; null gives it the
    // server's (here none).
    let reply = server
        .patch(
            &format!("/data/rapport/keys/{id}"),
            json!({"rateLimit": {"perSecond": 100, "burst": 50}}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let reply = send_with(&server, Method::GET, path, Some(&limited), "prod").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(
        reply
            .headers
            .get("ratelimit-policy")
            .and_then(|v| v.to_str().ok()),
        Some("\"per-key\";q=50;w=1")
    );
    let reply = server
        .patch(
            &format!("/data/rapport/keys/{id}"),
            json!({"rateLimit": null}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.body["rateLimit"], Value::Null);
    let reply = send_with(&server, Method::GET, path, Some(&limited), "prod").await;
    assert!(reply.headers.get("ratelimit").is_none());

    // Bad limits are refused naming the field.
    for (limit, pointer) in [
        (json!({"perSecond": 0, "burst": 5}), "/rateLimit/perSecond"),
        (json!({"perSecond": 5}), "/rateLimit/burst"),
        (
            json!({"perSecond": 5, "burst": 5, "window": 1}),
            "/rateLimit/window",
        ),
        (json!(10), "/rateLimit"),
    ] {
        let reply = server
            .post(
                "/data/rapport/keys",
                json!({"name": "bad", "actions": ["schemas.read"], "sandboxes": ["prod"], "rateLimit": limit}),
            )
            .await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.body);
        assert!(
            reply.body["title"]
                .as_str()
                .is_some_and(|d| d.contains(pointer)),
            "{}",
            reply.body
        );
    }
}

#[tokio::test]
async fn a_request_past_the_timeout_is_answered_503_and_uploads_get_longer() {
    // One millisecond: hashing a password takes far longer, and answering /health does not wait.
    let server = TestServer::with_options(rapport::options::ServeOptions {
        request_timeout_ms: Some(1),
        ..Default::default()
    });
    let slow = server
        .post(
            "/data/rapport/users",
            json!({"name": "slow", "role": "agent"}),
        )
        .await;
    assert_eq!(
        slow.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        slow.body
    );
    assert_eq!(code(&slow), "request_timed_out");
    assert_eq!(server.get("/health").await.status, StatusCode::OK);
    let uploads: Vec<String> = table()
        .into_iter()
        .filter(|r| r.timeout == rapport::http::routes::table::Timeout::Long)
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert_eq!(uploads.len(), 3, "{uploads:?}");
    assert!(
        uploads.iter().all(|u| u.contains("/files/{name}")),
        "{uploads:?}"
    );
}
