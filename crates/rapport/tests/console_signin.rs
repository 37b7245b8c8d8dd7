//! Console sign-in in a real headless Chromium against a server that is not in development
//! mode: a profile link opened signed out leads through the sign-in page back to the profile;
//! a wrong password is refused; the session cookie is out of scripts' reach; a change made
//! without the session's CSRF token is refused and the session goes on; signing out; and an
//! open profile page sent to sign in again once the session has been idle too long.

use axum::http::StatusCode;
use fantoccini::Locator;
use rapport::options::ServeOptions;
use serde_json::json;

use crate::common::TestServer;
use crate::console::Browser;

const PASSWORD: &str = "correct horse battery staple";

/// A server whose sessions end after `idle_seconds` unused, with one customer (Kim, CRM-1)
/// and the agent `ana`.
async fn server_with_kim(idle_seconds: u64) -> (TestServer, String) {
    let server = TestServer::with_options(ServeOptions {
        session_idle_seconds: Some(idle_seconds),
        ..ServeOptions::default()
    });
    let company = server.company(&[]).await;
    server
        .ingest(
            &company.crm,
            json!({"identityMap": {"CRMID": [{"id": "CRM-1", "primary": true}], "Email": [{"id": "kim@example.com"}]}, "person": {"name": {"firstName": "Kim", "lastName": "Ortiz"}}}),
        )
        .await;
    let reply = server
        .post(
            "/data/rapport/users",
            json!({"name": "ana", "displayName": "Ana Agent", "role": "agent", "password": PASSWORD}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    let base = server.listen().await;
    (server, base)
}

/// Types the name and password into the sign-in form and submits it.
pub(crate) async fn sign_in(browser: &Browser, name: &str, password: &str) {
    browser
        .wait_until(
            "location.pathname === '/console/login' && document.querySelector('#password')",
            10,
            "the sign-in page is shown",
        )
        .await;
    let field = |css: &'static str| async move {
        browser
            .client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{css}: {e}"))
    };
    let name_field = field("#name").await;
    name_field.clear().await.expect("clear");
    name_field.send_keys(name).await.expect("name typed");
    field("#password")
        .await
        .send_keys(&format!("{password}\u{E007}"))
        .await
        .expect("password typed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_signs_in_through_a_profile_link_and_signs_out() {
    let (_server, base) = server_with_kim(1800).await;
    let browser = Browser::start("en-US").await;
    let profile = format!("{base}/console/profile/CRMID/CRM-1");
    browser.goto(&profile).await;
    sign_in(&browser, "ana", "not the password at all").await;
    browser
        .wait_until(
            "document.querySelector('#signin-notice') && document.querySelector('#signin-notice').innerText.includes('The user name or the password is wrong.')",
            10,
            "a wrong password is refused",
        )
        .await;
    sign_in(&browser, "ana", PASSWORD).await;
    browser
        .wait_until(
            "location.pathname === '/console/profile/CRMID/CRM-1' && document.querySelector('h1') && document.querySelector('h1').innerText.includes('Kim')",
            10,
            "signing in goes on to the profile the link named",
        )
        .await;
    assert!(browser
        .text(".signout")
        .await
        .contains("Signed in as Ana Agent"));
    assert_eq!(
        browser
            .eval("return document.cookie.includes('rapport_session');")
            .await,
        json!(false),
        "the session cookie is HttpOnly"
    );
    browser.screenshot("signed-in-profile").await;

    // A change sent without the session's token (what a forged request would be) is refused,
    // and the session goes on.
    let forged = browser
        .eval("return fetch('/console/logout', {method: 'POST', headers: {'content-type': 'application/x-www-form-urlencoded'}, body: '_csrf=guess'}).then(r => r.status);")
        .await;
    assert_eq!(forged, json!(403));
    browser.mark_document().await;
    browser.goto(&profile).await;
    browser
        .wait_until(
            "window.__sameDocument !== true && document.readyState === 'complete' && location.pathname === '/console/profile/CRMID/CRM-1' && document.querySelector('.signout button')",
            10,
            "still signed in after the forged request",
        )
        .await;

    // Signing out with the button.
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
            "location.pathname === '/console/login' && document.body.innerText.includes('You are signed out.')",
            10,
            "signing out shows the sign-in page",
        )
        .await;
    browser.goto(&profile).await;
    browser
        .wait_until(
            "location.pathname === '/console/login'",
            10,
            "a profile needs signing in again",
        )
        .await;
    browser.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_open_profile_goes_to_sign_in_once_the_session_has_been_idle_too_long() {
    let (_server, base) = server_with_kim(3).await;
    let browser = Browser::start("es").await;
    browser
        .goto(&format!("{base}/console/profile/CRMID/CRM-1"))
        .await;
    sign_in(&browser, "ana", PASSWORD).await;
    browser
        .wait_until(
            "location.pathname === '/console/profile/CRMID/CRM-1' && document.querySelector('#live-status').classList.contains('on')",
            10,
            "the profile is open and live",
        )
        .await;
    // Nobody touches the page: the live stream, which does not keep a session alive, notices
    // the end and the page goes to the sign-in page, saying why, in the agent's language.
    browser
        .wait_until(
            "location.pathname === '/console/login' && document.body.innerText.includes('Su sesión terminó.')",
            15,
            "the idle session ends and the page says so",
        )
        .await;
    assert_eq!(
        browser
            .eval("return new URLSearchParams(location.search).get('next');")
            .await,
        json!("/console/profile/CRMID/CRM-1"),
        "signing in again comes back to the profile"
    );
    browser.screenshot("session-ended").await;
    browser.finish().await;
}
