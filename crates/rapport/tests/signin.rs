//! Console sign-in through the router (the browser flows are in `console_signin`): the pages
//! send the signed-out to the sign-in page; the sign-in form must come from the sign-in page;
//! failed sign-ins are throttled; signing out needs the session's CSRF token; a role without
//! the page's action sees a refusal; the cookies' attributes; the console's security headers.

use axum::http::{header, Method, StatusCode};
use serde_json::json;

use crate::common::{Reply, TestServer};

/// The demo agent's password in these tests.
const PASSWORD: &str = "correct horse battery staple";

fn form(pairs: &[(&str, &str)]) -> Vec<u8> {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
        .into_bytes()
}

fn set_cookies(reply: &Reply) -> Vec<String> {
    reply
        .headers
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().expect("text").to_owned())
        .collect()
}

/// The value a `Set-Cookie` of the reply gives cookie `name`.
fn cookie_value(reply: &Reply, name: &str) -> Option<String> {
    set_cookies(reply).iter().find_map(|c| {
        c.split(';')
            .next()
            .and_then(|pair| pair.strip_prefix(&format!("{name}=")))
            .map(str::to_owned)
    })
}

fn location(reply: &Reply) -> &str {
    reply
        .headers
        .get(header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}

fn page(reply: &Reply) -> &str {
    reply.body.as_str().unwrap_or_default()
}

/// The value of the hidden input `name` in a page.
fn hidden(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker).map(|at| at + marker.len()).expect(name);
    html[start..start + html[start..].find('"').expect("closing quote")].to_owned()
}

async fn user(server: &TestServer, name: &str, role: &str) {
    let reply = server
        .post(
            "/data/rapport/users",
            json!({"name": name, "role": role, "password": PASSWORD}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
}

/// Opens the sign-in page and posts the form as a browser would: the form token comes back
/// with its cookie. Returns the answer.
pub(crate) async fn sign_in(server: &TestServer, name: &str, password: &str, next: &str) -> Reply {
    let login = server
        .send_exactly(
            Method::GET,
            &format!("/console/login?next={}", crate::common::encode(next)),
            Vec::new(),
            &[],
        )
        .await;
    assert_eq!(login.status, StatusCode::OK);
    let token = cookie_value(&login, "rapport_login").expect("the form's cookie");
    assert_eq!(hidden(page(&login), "_login"), token);
    let cookie = format!("rapport_login={token}");
    server
        .send_exactly(
            Method::POST,
            "/console/login",
            form(&[
                ("name", name),
                ("password", password),
                ("_login", &token),
                ("next", next),
            ]),
            &[
                ("content-type", "application/x-www-form-urlencoded"),
                ("cookie", &cookie),
                ("origin", "http://rapport.test"),
                ("host", "rapport.test"),
            ],
        )
        .await
}

/// Signs in and returns the session cookie's value.
pub(crate) async fn session(server: &TestServer, name: &str) -> String {
    let reply = sign_in(server, name, PASSWORD, "/console").await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.body);
    cookie_value(&reply, "rapport_session").expect("a session cookie")
}

async fn get_as(server: &TestServer, session: &str, uri: &str, extra: &[(&str, &str)]) -> Reply {
    let cookie = format!("rapport_session={session}");
    let mut headers = vec![("cookie", cookie.as_str())];
    headers.extend_from_slice(extra);
    server
        .send_exactly(Method::GET, uri, Vec::new(), &headers)
        .await
}

#[tokio::test]
async fn console_pages_send_the_signed_out_to_sign_in() {
    let server = TestServer::start();
    let reply = server
        .send_exactly(Method::GET, "/console?q=sam", Vec::new(), &[])
        .await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER);
    assert_eq!(location(&reply), "/console/login?next=%2Fconsole%3Fq%3Dsam");

    // An htmx fragment: htmx is told where to go, back to the page the fragment was for.
    let reply = server
        .send_exactly(
            Method::GET,
            "/console/profile/Email/a%40b.c/panel/scores",
            Vec::new(),
            &[
                ("hx-request", "true"),
                ("hx-current-url", "http://x/console/profile/Email/a%40b.c"),
            ],
        )
        .await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        reply.headers.get("hx-redirect").expect("hx-redirect"),
        "/console/login?next=%2Fconsole%2Fprofile%2FEmail%2Fa%2540b.c"
    );

    // A live stream is told to sign in (EventSource would retry a refusal for ever).
    let reply = server
        .send_exactly(
            Method::GET,
            "/console/profile/Email/a%40b.c/live",
            Vec::new(),
            &[("accept", "text/event-stream")],
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(page(&reply).contains("event: signed-out"), "{}", reply.body);

    // An unknown or ended session is sent to sign in again, told why, and the cookie is dropped.
    let reply = get_as(&server, "not-a-session", "/console", &[]).await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER);
    assert_eq!(
        location(&reply),
        "/console/login?next=%2Fconsole&notice=ended"
    );
    assert!(set_cookies(&reply)
        .iter()
        .any(|c| c.starts_with("rapport_session=;") && c.contains("Max-Age=0")));

    // An API key is not a console session.
    let reply = server
        .send_raw(Method::GET, "/console", Vec::new(), &[])
        .await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER);

    // What stays public: the sign-in page, the language switch and the assets.
    for uri in ["/console/login", "/console/lang?to=es&back=/console"] {
        let reply = server.send_exactly(Method::GET, uri, Vec::new(), &[]).await;
        assert!(
            reply.status == StatusCode::OK || reply.status == StatusCode::SEE_OTHER,
            "{uri}: {}",
            reply.status
        );
        assert_ne!(location(&reply).split('?').next(), Some("/console/login"));
    }
}

#[tokio::test]
async fn a_signed_in_agent_gets_pages_and_a_session_cookie_that_scripts_cannot_read() {
    let server = TestServer::start();
    user(&server, "ana", "agent").await;
    let reply = sign_in(&server, "ANA", PASSWORD, "/console?q=nobody").await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.body);
    assert_eq!(location(&reply), "/console?q=nobody");
    let cookies = set_cookies(&reply);
    let session = cookies
        .iter()
        .find(|c| c.starts_with("rapport_session="))
        .expect("a session cookie");
    assert!(
        session.contains("; Path=/; HttpOnly; SameSite=Lax"),
        "{session}"
    );
    assert!(!session.contains("Secure"), "no TLS, no --cookie-secure");
    assert!(
        cookies
            .iter()
            .any(|c| c.starts_with("rapport_login=;") && c.contains("Max-Age=0")),
        "the form's cookie is dropped: {cookies:?}"
    );

    let token = cookie_value(&reply, "rapport_session").expect("token");
    let search = get_as(&server, &token, "/console", &[]).await;
    assert_eq!(search.status, StatusCode::OK);
    assert!(
        page(&search).contains("Signed in as ana"),
        "{}",
        search.body
    );
    let csrf = hidden(page(&search), "_csrf");
    assert!(page(&search).contains(&format!("<meta name=\"rapport-csrf\" content=\"{csrf}\">")));

    // Where `next` is not a console path, sign-in goes to the search page.
    let reply = sign_in(&server, "ana", PASSWORD, "https://evil.example/").await;
    assert_eq!(location(&reply), "/console");
    let reply = sign_in(&server, "ana", PASSWORD, "//evil.example/console").await;
    assert_eq!(location(&reply), "/console");

    // Signed in already, the sign-in page goes on.
    let again = get_as(
        &server,
        &token,
        "/console/login?next=%2Fconsole%3Fq%3Dx",
        &[],
    )
    .await;
    assert_eq!(again.status, StatusCode::SEE_OTHER);
    assert_eq!(location(&again), "/console?q=x");
}

#[tokio::test]
async fn the_sign_in_form_must_come_from_the_sign_in_page() {
    let server = TestServer::start();
    user(&server, "ana", "agent").await;
    let post = |headers: Vec<(&'static str, String)>, token: &str| {
        let body = form(&[
            ("name", "ana"),
            ("password", PASSWORD),
            ("_login", token),
            ("next", "/console"),
        ]);
        let server = &server;
        async move {
            let mut all: Vec<(&str, &str)> =
                vec![("content-type", "application/x-www-form-urlencoded")];
            all.extend(headers.iter().map(|(n, v)| (*n, v.as_str())));
            server
                .send_exactly(Method::POST, "/console/login", body, &all)
                .await
        }
    };
    // No cookie: a form posted from elsewhere.
    let reply = post(vec![], "forged").await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert!(page(&reply).contains("The form expired."), "{}", reply.body);
    assert!(cookie_value(&reply, "rapport_session").is_none());
    // A cookie that does not match the field.
    let reply = post(vec![("cookie", "rapport_login=aaaa".to_owned())], "bbbb").await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    // Matching, but from another origin.
    let reply = post(
        vec![
            ("cookie", "rapport_login=aaaa".to_owned()),
            ("origin", "https://evil.example".to_owned()),
            ("host", "rapport.test".to_owned()),
        ],
        "aaaa",
    )
    .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert!(cookie_value(&reply, "rapport_session").is_none());
    // Matching, from this origin: signed in.
    let reply = post(
        vec![
            ("cookie", "rapport_login=aaaa".to_owned()),
            ("origin", "http://rapport.test".to_owned()),
            ("host", "rapport.test".to_owned()),
            ("sec-fetch-site", "same-origin".to_owned()),
        ],
        "aaaa",
    )
    .await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.body);
    assert!(cookie_value(&reply, "rapport_session").is_some());
}

#[tokio::test]
async fn failed_sign_ins_say_nothing_of_which_part_was_wrong_and_are_throttled() {
    let server = TestServer::start();
    user(&server, "ana", "agent").await;
    let unknown = sign_in(&server, "nobody", PASSWORD, "/console").await;
    let wrong = sign_in(&server, "ana", "not the password at all", "/console").await;
    for reply in [&unknown, &wrong] {
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
        assert!(page(reply).contains("The user name or the password is wrong."));
        assert!(cookie_value(reply, "rapport_session").is_none());
    }
    assert!(
        page(&wrong).contains("value=\"ana\" required"),
        "the name is kept"
    );
    for _ in 0..4 {
        let reply = sign_in(&server, "ana", "still not the password", "/console").await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    }
    // Five failures in a row: the right password must now wait.
    let throttled = sign_in(&server, "ana", PASSWORD, "/console").await;
    assert_eq!(throttled.status, StatusCode::TOO_MANY_REQUESTS);
    let wait: u64 = throttled
        .headers
        .get(header::RETRY_AFTER)
        .expect("Retry-After")
        .to_str()
        .expect("text")
        .parse()
        .expect("seconds");
    assert!(wait >= 1);
    assert!(
        page(&throttled).contains(&format!("Try again in {wait} seconds.")),
        "{}",
        throttled.body
    );
    assert!(cookie_value(&throttled, "rapport_session").is_none());
}

#[tokio::test]
async fn signing_out_needs_the_session_s_csrf_token() {
    let server = TestServer::start();
    user(&server, "ana", "agent").await;
    let token = session(&server, "ana").await;
    let csrf = hidden(
        page(&get_as(&server, &token, "/console", &[]).await),
        "_csrf",
    );
    let cookie = format!("rapport_session={token}");
    let logout = |body: Vec<u8>, extra: Vec<(&'static str, String)>| {
        let server = &server;
        let cookie = cookie.clone();
        async move {
            let mut headers: Vec<(&str, &str)> = vec![
                ("content-type", "application/x-www-form-urlencoded"),
                ("cookie", cookie.as_str()),
            ];
            headers.extend(extra.iter().map(|(n, v)| (*n, v.as_str())));
            server
                .send_exactly(Method::POST, "/console/logout", body, &headers)
                .await
        }
    };
    // Without the token, with a wrong one, or from another origin: refused, the session goes on.
    let refusals = [
        logout(form(&[]), vec![]).await,
        logout(form(&[("_csrf", "wrong")]), vec![]).await,
        logout(
            form(&[("_csrf", &csrf)]),
            vec![
                ("origin", "https://evil.example".to_owned()),
                ("host", "rapport.test".to_owned()),
            ],
        )
        .await,
        logout(
            form(&[("_csrf", &csrf)]),
            vec![("sec-fetch-site", "cross-site".to_owned())],
        )
        .await,
    ];
    for reply in &refusals {
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{}", reply.body);
        assert_eq!(reply.body["code"], "csrf_rejected", "{}", reply.body);
    }
    assert_eq!(
        get_as(&server, &token, "/console", &[]).await.status,
        StatusCode::OK
    );
    // The token as a header (as htmx sends it) or as the form field: signed out.
    let reply = logout(form(&[]), vec![("x-csrf-token", csrf.clone())]).await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.body);
    assert_eq!(location(&reply), "/console/login?notice=signed-out");
    let after = get_as(&server, &token, "/console", &[]).await;
    assert_eq!(after.status, StatusCode::SEE_OTHER);
    let signed_out = server
        .send_exactly(
            Method::GET,
            "/console/login?notice=signed-out",
            Vec::new(),
            &[],
        )
        .await;
    assert!(page(&signed_out).contains("You are signed out."));
}

#[tokio::test]
async fn a_role_without_the_page_s_action_sees_a_refusal_not_the_customer() {
    let server = TestServer::start();
    let role = server
        .post(
            "/data/rapport/roles",
            json!({"name": "batch-clerk", "labels": ["I1"], "actions": ["ingest.write", "ingest.read"]}),
        )
        .await;
    assert!(role.status.is_success(), "{}", role.body);
    user(&server, "carl", "batch-clerk").await;
    let token = session(&server, "carl").await;
    let reply = get_as(&server, &token, "/console", &[]).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert!(page(&reply).contains("Your role does not allow this page."));
    assert!(page(&reply).contains("Signed in as carl"), "{}", reply.body);
}

#[tokio::test]
async fn console_cookies_are_secure_when_asked_and_every_answer_carries_security_headers() {
    let server = TestServer::with_options(rapport::options::ServeOptions {
        cookie_secure: true,
        ..Default::default()
    });
    user(&server, "ana", "agent").await;
    let login = server
        .send_exactly(Method::GET, "/console/login", Vec::new(), &[])
        .await;
    assert!(set_cookies(&login)
        .iter()
        .any(|c| c.starts_with("rapport_login=")
            && c.contains("Path=/console/login")
            && c.contains("SameSite=Strict")
            && c.ends_with("; Secure")));
    let reply = sign_in(&server, "ana", PASSWORD, "/console").await;
    let session = set_cookies(&reply)
        .into_iter()
        .find(|c| c.starts_with("rapport_session="))
        .expect("a session");
    assert!(
        session.ends_with("; HttpOnly; SameSite=Lax; Secure"),
        "{session}"
    );

    for reply in [&login, &reply] {
        let headers = &reply.headers;
        let csp = headers
            .get(header::CONTENT_SECURITY_POLICY)
            .expect("a content security policy")
            .to_str()
            .expect("text");
        assert!(csp.contains("default-src 'self'") && csp.contains("frame-ancestors 'none'"));
        assert_eq!(
            headers.get(header::REFERRER_POLICY).expect("referrer"),
            "same-origin"
        );
        assert_eq!(
            headers
                .get(header::X_CONTENT_TYPE_OPTIONS)
                .expect("nosniff"),
            "nosniff"
        );
        assert_eq!(
            headers.get(header::X_FRAME_OPTIONS).expect("frames"),
            "DENY"
        );
    }
}

#[tokio::test]
async fn a_session_ends_after_the_idle_time_and_when_its_user_is_disabled() {
    let server = TestServer::with_options(rapport::options::ServeOptions {
        session_idle_seconds: Some(1),
        ..Default::default()
    });
    user(&server, "ana", "agent").await;
    user(&server, "bo", "agent").await;
    let ana = session(&server, "ana").await;
    let bo = session(&server, "bo").await;
    assert_eq!(
        get_as(&server, &ana, "/console", &[]).await.status,
        StatusCode::OK
    );
    // Idle for longer than a second: ended.
    tokio::time::sleep(std::time::Duration::from_millis(1_300)).await;
    let reply = get_as(&server, &ana, "/console", &[]).await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER);
    assert!(
        location(&reply).ends_with("notice=ended"),
        "{}",
        location(&reply)
    );

    // Disabling a user ends their session at once.
    let bo_again = session(&server, "bo").await;
    assert_ne!(bo, bo_again);
    let disabled = server
        .patch("/data/rapport/users/bo", json!({"disabled": true}))
        .await;
    assert_eq!(disabled.status, StatusCode::OK, "{}", disabled.body);
    let reply = get_as(&server, &bo_again, "/console", &[]).await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER);
}
