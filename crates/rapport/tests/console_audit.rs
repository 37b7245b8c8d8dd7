//! The console's audit log page in a real headless Chromium, against a server that is not in
//! development mode: a supervisor finds an agent's view of a customer, narrows the list to
//! that agent and opens the customer from it; an agent has no link to the page and is refused
//! it; the page in Spanish. And, through the router, the audit entries of visits to the page.

use axum::http::StatusCode;
use fantoccini::Locator;
use serde_json::{json, Value};

use crate::audit_log::entries;
use crate::common::TestServer;
use crate::console::Browser;

const PASSWORD: &str = "correct horse battery staple";

/// A server with one customer (Kim, CRM-1), the agent `ana` and the supervisor `sol` (whose
/// role holds `audit.read`).
async fn server_with_kim() -> (TestServer, String) {
    let server = TestServer::start();
    let company = server.company(&[]).await;
    server
        .ingest(
            &company.crm,
            json!({"identityMap": {"CRMID": [{"id": "CRM-1", "primary": true}], "Email": [{"id": "kim@example.com"}]}, "person": {"name": {"firstName": "Kim", "lastName": "Ortiz"}}}),
        )
        .await;
    for (name, shown, role) in [
        ("ana", "Ana Agent", "agent"),
        ("sol", "Sol Supervisor", "supervisor"),
    ] {
        let reply = server
            .post(
                "/data/rapport/users",
                json!({"name": name, "displayName": shown, "role": role, "password": PASSWORD}),
            )
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    }
    let base = server.listen().await;
    (server, base)
}

/// Signs `name` in on the sign-in page the browser was sent to.
async fn sign_in(browser: &Browser, name: &str) {
    crate::console_signin::sign_in(browser, name, PASSWORD).await;
}

/// Signs out with the top bar's button.
async fn sign_out(browser: &Browser) {
    browser
        .client
        .find(Locator::Css(".signout button"))
        .await
        .expect("the sign-out button")
        .click()
        .await
        .expect("clicked");
    browser
        .wait_until(
            "location.pathname === '/console/login' && document.querySelector('#password')",
            10,
            "signed out",
        )
        .await;
}

/// The audit table's rows as the page shows them: actor id, action, profile links (text and
/// target), client address and outcome.
async fn rows(browser: &Browser) -> Vec<Value> {
    let rows = browser
        .eval(
            "return Array.from(document.querySelectorAll('#audit-table tbody tr')).map(tr => ({
                who: tr.querySelector('td.who .actor-id').textContent,
                action: tr.querySelector('td.action code').textContent,
                profiles: Array.from(tr.querySelectorAll('td.profiles a')).map(a => [a.textContent, a.getAttribute('href')]),
                client: tr.querySelector('td.client').textContent,
                outcome: tr.querySelector('td.outcome > span').textContent,
                refused: tr.classList.contains('refused'),
            }));",
        )
        .await;
    rows.as_array().cloned().expect("rows")
}

/// The selector of the top bar's link to the audit log.
const AUDIT_LINK: &str = "nav.sections a[href='/console/audit']";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_supervisor_finds_an_agent_s_profile_view_narrows_the_log_to_the_agent_and_opens_the_profile(
) {
    let (server, base) = server_with_kim().await;
    let kim = server.profile_id("CRMID", "CRM-1").await;
    let browser = Browser::start("en-US").await;

    // Ana opens Kim's profile.
    browser
        .goto(&format!("{base}/console/profile/CRMID/CRM-1"))
        .await;
    sign_in(&browser, "ana").await;
    browser
        .wait_until(
            "location.pathname === '/console/profile/CRMID/CRM-1' && document.querySelector('h1') && document.querySelector('h1').innerText.includes('Kim')",
            10,
            "ana sees Kim's profile",
        )
        .await;
    sign_out(&browser).await;

    // Sol signs in and follows the top bar's link to the audit log.
    browser.goto(&format!("{base}/console")).await;
    sign_in(&browser, "sol").await;
    browser
        .wait_until(
            &format!(
                "location.pathname === '/console' && document.querySelector(\"{AUDIT_LINK}\")"
            ),
            10,
            "sol's top bar links the audit log",
        )
        .await;
    browser
        .client
        .find(Locator::Css(AUDIT_LINK))
        .await
        .expect("the audit log link")
        .click()
        .await
        .expect("clicked");
    browser
        .wait_until(
            "location.pathname === '/console/audit' && document.querySelector('#audit-table')",
            10,
            "the audit log is shown",
        )
        .await;
    assert_eq!(browser.text("h1").await, "Audit log");
    let everyone = rows(&browser).await;
    let link = format!("/console/audit/profile/{kim}");
    let anas_view = everyone
        .iter()
        .find(|row| row["who"] == "ana" && row["action"] == "console.profile")
        .unwrap_or_else(|| panic!("ana's console.profile entry is listed: {everyone:#?}"));
    assert_eq!(
        anas_view["profiles"],
        json!([[kim, link]]),
        "the entry names Kim's profile, as a link"
    );
    assert_eq!(anas_view["client"], "127.0.0.1");
    assert_eq!(anas_view["outcome"], "200 answered");
    assert!(
        everyone.iter().any(|row| row["who"] == "sol"),
        "before filtering the list holds others' entries too (sol's sign-in): {everyone:#?}"
    );
    browser.screenshot("audit-log").await;

    // The filter by actor narrows the list to ana's entries.
    browser.mark_document().await;
    let actor = browser
        .client
        .find(Locator::Css("#au-actor"))
        .await
        .expect("the actor filter");
    actor.send_keys("ana\u{E007}").await.expect("typed");
    browser
        .wait_until(
            "window.__sameDocument !== true && document.readyState === 'complete' && new URLSearchParams(location.search).get('actor') === 'ana' && document.querySelector('#audit-table')",
            10,
            "the filtered list is shown",
        )
        .await;
    let anas = rows(&browser).await;
    assert!(
        anas.iter().all(|row| row["who"] == "ana"),
        "only ana's entries: {anas:#?}"
    );
    assert!(
        anas.len() < everyone.len(),
        "the list narrowed: {} of {}",
        anas.len(),
        everyone.len()
    );
    assert!(
        anas.iter().any(
            |row| row["action"] == "console.profile" && row["profiles"] == json!([[kim, link]])
        ),
        "ana's view of Kim is still listed: {anas:#?}"
    );
    assert_eq!(
        browser
            .eval("return document.querySelector('#au-actor').value;")
            .await,
        json!("ana"),
        "the form keeps the filter"
    );

    // The profile id opens Kim's profile page.
    browser
        .client
        .find(Locator::Css(&format!("td.profiles a[href='{link}']")))
        .await
        .expect("the profile link")
        .click()
        .await
        .expect("clicked");
    browser
        .wait_until(
            "location.pathname === '/console/profile/CRMID/CRM-1' && document.querySelector('h1') && document.querySelector('h1').innerText.includes('Kim')",
            10,
            "the profile link opens Kim's profile",
        )
        .await;
    browser.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_has_no_audit_log_link_and_is_refused_the_page() {
    let (_server, base) = server_with_kim().await;
    let browser = Browser::start("en-US").await;
    browser.goto(&format!("{base}/console")).await;
    sign_in(&browser, "ana").await;
    browser
        .wait_until(
            "location.pathname === '/console' && document.querySelector('.signout button')",
            10,
            "ana is signed in",
        )
        .await;
    assert_eq!(
        browser
            .eval("return document.querySelectorAll(\"nav.sections, a[href^='/console/audit']\").length;")
            .await,
        json!(0),
        "no link to the audit log for an agent"
    );
    assert_eq!(
        browser
            .eval("return fetch('/console/audit').then(r => r.status);")
            .await,
        json!(403)
    );
    browser.goto(&format!("{base}/console/audit")).await;
    browser
        .wait_until(
            "document.readyState === 'complete' && document.querySelector('h1')",
            10,
            "the refusal is shown",
        )
        .await;
    assert_eq!(
        browser.eval("return location.pathname;").await,
        json!("/console/audit"),
        "a refusal, not a trip to the sign-in page"
    );
    assert_eq!(browser.text("h1").await, "Not allowed");
    assert!(browser
        .text("main")
        .await
        .contains("Your role does not allow this page."));
    assert_eq!(
        browser
            .eval("return document.querySelectorAll('#audit-table, #audit-filter').length;")
            .await,
        json!(0),
        "nothing of the log is shown"
    );
    browser.screenshot("audit-log-refused").await;

    // The same top bar does link the page for a supervisor.
    sign_out(&browser).await;
    browser.goto(&format!("{base}/console")).await;
    sign_in(&browser, "sol").await;
    browser
        .wait_until(
            &format!(
                "location.pathname === '/console' && document.querySelector(\"{AUDIT_LINK}\")"
            ),
            10,
            "sol's top bar links the audit log",
        )
        .await;
    browser.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_audit_log_page_in_spanish_has_spanish_headings() {
    let (_server, base) = server_with_kim().await;
    let browser = Browser::start("es").await;
    browser.goto(&format!("{base}/console/audit")).await;
    sign_in(&browser, "sol").await;
    browser
        .wait_until(
            "location.pathname === '/console/audit' && document.querySelector('#audit-table')",
            10,
            "the audit log is shown",
        )
        .await;
    assert_eq!(
        browser.eval("return document.documentElement.lang;").await,
        json!("es")
    );
    assert_eq!(browser.text("h1").await, "Registro de auditoría");
    assert_eq!(
        browser
            .eval("return Array.from(document.querySelectorAll('#audit-table thead th')).map(th => th.textContent);")
            .await,
        json!([
            "Cuándo",
            "Quién",
            "Acción",
            "Vía",
            "Perfiles",
            "Campos devueltos",
            "Dirección del cliente",
            "Resultado"
        ])
    );
    assert_eq!(
        browser.text(AUDIT_LINK).await,
        "Registro de auditoría",
        "the top bar's link"
    );
    assert_eq!(
        browser
            .eval("return Array.from(document.querySelectorAll('#audit-filter label')).map(l => l.textContent);")
            .await,
        json!(["Desde (UTC)", "Hasta (UTC)", "Quién", "Acción", "Id de perfil"])
    );
    let signin = rows(&browser)
        .await
        .into_iter()
        .find(|row| row["who"] == "sol" && row["action"] == "session.signin")
        .expect("sol's sign-in is listed");
    assert_eq!(signin["outcome"], "303 respondido");
    browser.screenshot("audit-log-es").await;
    browser.finish().await;
}

#[tokio::test]
async fn visiting_the_audit_log_is_recorded_and_so_is_a_refused_visit() {
    let (server, _base) = server_with_kim().await;
    let sol = crate::signin::session(&server, "sol").await;
    let ana = crate::signin::session(&server, "ana").await;
    let visit = |session: String| {
        let server = &server;
        async move {
            let cookie = format!("rapport_session={session}");
            server
                .send_exactly(
                    axum::http::Method::GET,
                    "/console/audit?actor=ana",
                    Vec::new(),
                    &[("cookie", &cookie)],
                )
                .await
        }
    };
    let shown = visit(sol).await;
    assert_eq!(shown.status, StatusCode::OK);
    let refused = visit(ana).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let visits = entries(&server, "action=console.audit").await;
    assert_eq!(visits.len(), 2, "one entry per visit: {visits:#?}");
    let (refusal, seen) = (&visits[0], &visits[1]);
    assert_eq!(
        seen["actor"],
        json!({"kind": "user", "id": "sol", "role": "supervisor"})
    );
    assert_eq!(seen["via"], "console");
    assert_eq!(seen["outcome"]["status"], 200);
    assert_eq!(refusal["via"], "console");
    assert_eq!(refusal["outcome"]["status"], 403);
    assert_eq!(
        refusal["actor"],
        json!({"kind": "user", "id": "ana", "role": "agent"}),
        "a refused visit is recorded as who made it"
    );
}

#[tokio::test]
async fn a_filter_the_api_refuses_is_shown_with_the_api_s_reason() {
    let (server, _base) = server_with_kim().await;
    let sol = crate::signin::session(&server, "sol").await;
    let cookie = format!("rapport_session={sol}");
    let page = server
        .send_exactly(
            axum::http::Method::GET,
            "/console/audit?actor=bogus%3Ax",
            Vec::new(),
            &[("cookie", &cookie)],
        )
        .await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    let html = page.body.as_str().expect("html");
    assert!(
        html.contains(
            "The filters could not be applied: actor: &quot;bogus:x&quot; is not kind:id"
        ),
        "{html}"
    );
}
