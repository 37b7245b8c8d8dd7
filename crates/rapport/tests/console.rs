//! The agent console in a real headless Chromium (Debian's `chromium` driven through
//! `chromedriver` over WebDriver) against a server listening on loopback with the demo company:
//! search by every kind of identity, each panel against the API, the timeline's paging and
//! filters, a live event, the language switch and keyboard-only navigation. Screenshots go to
//! `target/tmp/console-screenshots/`.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use axum::http::{Method, StatusCode};
use fantoccini::{Client, ClientBuilder, Locator};
use rapport::demo::generator::DemoDataset;
use rapport::demo::{self, DemoOptions};
use serde_json::{json, Value};

use crate::common::{encode, only_entity, TestServer};

/// A headless Chromium session; the driver (and its browser) end with it.
pub(crate) struct Browser {
    pub(crate) client: Client,
    driver: Child,
    _profile: tempfile::TempDir,
}

impl Drop for Browser {
    /// Ends the driver and the browser it started, even when a test failed before closing the
    /// session (the browser's processes are found by their own profile directory).
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
        let _ = Command::new("pkill")
            .args(["-KILL", "-f"])
            .arg(self._profile.path())
            .status();
    }
}

pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

impl Browser {
    /// Starts chromedriver and a browser whose language is `language` (`en-US`, `es`).
    pub(crate) async fn start(language: &str) -> Browser {
        let port = free_port();
        let driver = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver runs (apt-get install chromium chromium-driver; .ci/run does)");
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "chromedriver did not start"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let profile = tempfile::tempdir().expect("profile dir");
        let capabilities = json!({
            "goog:chromeOptions": {
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--disable-quic", "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync", "--window-size=1280,800",
                    format!("--lang={language}"),
                    format!("--user-data-dir={}", profile.path().display()),
                ],
                "prefs": {"intl.accept_languages": language},
            }
        });
        let Value::Object(capabilities) = capabilities else {
            unreachable!()
        };
        let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(capabilities)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .expect("a browser session");
        Browser {
            client,
            driver,
            _profile: profile,
        }
    }

    pub(crate) async fn goto(&self, url: &str) {
        self.client.goto(url).await.expect("navigates");
    }

    /// Runs `script` (a function body) and returns what it returns.
    pub(crate) async fn eval(&self, script: &str) -> Value {
        self.client
            .execute(script, Vec::new())
            .await
            .unwrap_or_else(|e| panic!("{script}: {e}"))
    }

    /// Waits until the JavaScript expression `condition` is true; panics with `what` after
    /// `seconds`.
    pub(crate) async fn wait_until(&self, condition: &str, seconds: u64, what: &str) {
        let started = Instant::now();
        loop {
            if self.eval(&format!("return !!({condition});")).await == json!(true) {
                return;
            }
            if started.elapsed() > Duration::from_secs(seconds) {
                let text = self
                    .eval("return document.body ? document.body.innerText : '';")
                    .await;
                panic!(
                    "{what}: `{condition}` still false after {seconds} s; the page says:\n{}",
                    text.as_str().unwrap_or_default()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Marks the current document, to tell later that no navigation replaced it.
    pub(crate) async fn mark_document(&self) {
        self.eval("window.__sameDocument = true; return 1;").await;
    }

    /// Asserts the document marked by [`Browser::mark_document`] is still the one shown.
    pub(crate) async fn assert_same_document(&self) {
        assert_eq!(
            self.eval("return window.__sameDocument === true;").await,
            json!(true),
            "the page was reloaded"
        );
    }

    /// Waits until the search box has the focus.
    pub(crate) async fn wait_for_search_focus(&self) {
        self.wait_until(
            "document.activeElement && document.activeElement.id === 'q'",
            5,
            "the search box has the focus",
        )
        .await;
    }

    pub(crate) async fn text(&self, css: &str) -> String {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{css}: {e}"))
            .text()
            .await
            .expect("text")
    }

    /// Types into the focused element (`\u{E007}` is Enter).
    pub(crate) async fn type_keys(&self, keys: &str) {
        self.client
            .active_element()
            .await
            .expect("a focused element")
            .send_keys(keys)
            .await
            .expect("keys");
    }

    pub(crate) async fn screenshot(&self, name: &str) {
        let png = self.client.screenshot().await.expect("screenshot");
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("console-screenshots");
        std::fs::create_dir_all(&dir).expect("screenshot dir");
        std::fs::write(dir.join(format!("{name}.png")), png).expect("screenshot written");
    }

    pub(crate) async fn finish(self) {
        let client = self.client.clone();
        let _ = client.close().await;
    }
}

const ENTER: &str = "\u{E007}";

/// Returns the visible texts whose colour against their effective background is below WCAG AA
/// (a contrast of 4.5:1, or 3:1 for text of 24 px, or 18.66 px bold, and up).
const CONTRAST_CHECK: &str = include_str!("console_contrast.js");
const TAB: &str = "\u{E004}";

/// A demo company on a server listening on loopback, and the frequent buyer's identities.
struct Demo {
    server: TestServer,
    base: String,
    crm_id: String,
    entity: Value,
}

impl Demo {
    async fn start() -> Demo {
        let server = TestServer::development();
        let engine = server.engine();
        let summary = tokio::task::spawn_blocking(move || {
            demo::load(
                &engine,
                &DemoOptions {
                    customers: 300,
                    seed: 7,
                    out: None,
                },
            )
        })
        .await
        .expect("join")
        .expect("the demo loads");
        let buyer = summary
            .interesting
            .iter()
            .find(|i| i.label.starts_with("Frequent buyer"))
            .expect("the demo has a frequent buyer");
        assert_eq!(buyer.namespace, "CRMID");
        let crm_id = buyer.id.clone();
        // The demo trains its models in the background once loaded: wait for the scores.
        let started = Instant::now();
        let entity = loop {
            let reply = server.profile_with("CRMID", &crm_id, "withCA=true").await;
            assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
            let entity = only_entity(&reply.body).1["entity"].clone();
            if entity["_rapport"]["SystemComputedAttributes"]["churnPropensity"].is_object() {
                break entity;
            }
            assert!(
                started.elapsed() < Duration::from_secs(120),
                "the demo's models were not trained in time"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        };
        let base = server.listen().await;
        Demo {
            server,
            base,
            crm_id,
            entity,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn profile_url(&self) -> String {
        self.url(&format!("/console/profile/CRMID/{}", encode(&self.crm_id)))
    }

    fn identity(&self, namespace: &str) -> String {
        self.entity["identityMap"][namespace][0]["id"]
            .as_str()
            .unwrap_or_else(|| panic!("the buyer has a {namespace} identity"))
            .to_owned()
    }

    fn full_name(&self) -> String {
        self.entity["person"]["name"]["fullName"]
            .as_str()
            .expect("a name")
            .to_owned()
    }

    /// The API's answer to `GET path`.
    async fn api(&self, path: &str) -> Value {
        let reply = self.server.get(path).await;
        assert_eq!(reply.status, StatusCode::OK, "{path}: {}", reply.body);
        reply.body
    }

    async fn events(&self, query: &str) -> Vec<Value> {
        self.server.events("CRMID", &self.crm_id, query).await.body["children"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }
}

/// Opens the profile page and waits for its panels (and the identity graph) to be there.
async fn open_profile(browser: &Browser, demo: &Demo) {
    browser.goto(&demo.profile_url()).await;
    browser
        .wait_until(
            "document.querySelector('#panel-identity') && !document.querySelector('#panel-identity').innerText.includes('Loading') && !document.querySelector('#panel-identity').innerText.includes('Cargando')",
            10,
            "the identity panel loads",
        )
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_finds_the_customer_by_each_kind_of_identity() {
    let demo = Demo::start().await;
    let browser = Browser::start("en-US").await;
    let name = demo.full_name();
    let email = demo.identity("Email");
    let phone = demo.identity("Phone");
    assert!(phone.starts_with("+1") && phone.len() == 12, "{phone}");
    let typed_phone = format!("({}) {}-{}", &phone[2..5], &phone[5..8], &phone[8..]);
    let tries = [
        (
            "email in capitals with spaces",
            format!("  {}  ", email.to_uppercase()),
        ),
        ("phone as people write it", typed_phone),
        ("CRM id in lower case", demo.crm_id.to_lowercase()),
        ("loyalty id", demo.identity("LoyaltyID")),
        ("ECID", demo.identity("ECID")),
    ];
    for (what, typed) in &tries {
        browser.goto(&demo.url("/console")).await;
        browser.wait_for_search_focus().await;
        browser.type_keys(&format!("{typed}{ENTER}")).await;
        browser
            .wait_until(
                &format!("document.querySelector('h1') && document.querySelector('h1').innerText.includes({})", json!(name)),
                10,
                what,
            )
            .await;
        let url = browser.client.current_url().await.expect("url");
        assert!(url.path().starts_with("/console/profile/"), "{what}: {url}");
    }
    // Nobody has this email: the page says so and names what was tried.
    browser.goto(&demo.url("/console")).await;
    browser
        .type_keys(&format!("nobody.at.all@example.com{ENTER}"))
        .await;
    browser
        .wait_until(
            "document.body.innerText.includes('nobody.at.all@example.com')",
            5,
            "the unknown identity is named",
        )
        .await;
    assert!(browser.client.find(Locator::Css("h1")).await.is_ok());
    let url = browser.client.current_url().await.expect("url");
    assert_eq!(
        url.path(),
        "/console",
        "an unknown customer stays on the search page"
    );
    browser.screenshot("search-not-found").await;
    browser.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_profile_page_shows_what_the_api_returns() {
    let demo = Demo::start().await;
    let browser = Browser::start("en-US").await;
    open_profile(&browser, &demo).await;
    let lookup = demo
        .api(&format!(
            "/data/core/ups/access/entities?schema.name=_xdm.context.profile&entityId={}&entityIdNS=CRMID&withCA=true",
            demo.crm_id
        ))
        .await;
    let (_, item) = only_entity(&lookup);
    let entity = &item["entity"];

    // Who: name, tier, contact details.
    assert!(browser.text("h1").await.contains(&demo.full_name()));
    let overview = browser.text("#panel-overview").await;
    let tier = entity["loyalty"]["tier"]
        .as_str()
        .expect("the frequent buyer has a loyalty tier");
    assert!(
        overview.to_lowercase().contains(tier),
        "tier {tier} in {overview}"
    );
    assert!(overview.contains(&demo.identity("Email")), "{overview}");
    // Consent: every channel the customer refused is a "no" badge.
    for (channel, words) in [
        ("call", "Do not call"),
        ("email", "Email opt-out"),
        ("sms", "SMS opt-out"),
    ] {
        let refused = entity["consents"]["marketing"][channel]["val"] == json!("n");
        assert_eq!(overview.contains(words), refused, "{channel}: {overview}");
    }

    // Worth and risk: the scores the API shows, with their reasons.
    let computed = &entity["_rapport"]["SystemComputedAttributes"];
    let scores = browser.text("#panel-scores").await;
    let churn = computed["churnPropensity"]["value"]
        .as_f64()
        .expect("a churn score");
    assert!(
        scores.contains(&format!("{:.0}%", churn * 100.0)),
        "churn {churn} in {scores}"
    );
    for reason in computed["churnPropensity"]["reasons"]
        .as_array()
        .expect("reasons")
    {
        let text = reason["text"].as_str().expect("reason text");
        assert!(scores.contains(text), "reason {text} in {scores}");
    }
    let band = if churn >= rapport_console::CHURN_HIGH {
        "High"
    } else if churn >= rapport_console::CHURN_MEDIUM {
        "Medium"
    } else {
        "Low"
    };
    assert!(scores.contains(band), "{band} band in {scores}");

    // Audiences: one badge per realized membership, named as the definitions name them.
    let definitions = demo
        .api("/data/core/ups/segment/definitions?limit=100")
        .await;
    let memberships = entity["segmentMembership"]["ups"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    let realized: Vec<String> = memberships
        .iter()
        .filter(|(_, m)| m["status"] == json!("realized"))
        .map(|(id, _)| {
            definitions["segments"]
                .as_array()
                .expect("segments")
                .iter()
                .find(|d| d["id"] == json!(id))
                .and_then(|d| d["name"].as_str())
                .expect("a named definition")
                .to_owned()
        })
        .collect();
    assert!(
        !realized.is_empty(),
        "the frequent buyer is in some segment"
    );
    let badges = browser
        .eval("return Array.from(document.querySelectorAll('#panel-segments .badge.seg')).map(b => b.innerText.trim());")
        .await;
    let badges: Vec<String> = badges
        .as_array()
        .expect("badges")
        .iter()
        .map(|b| b.as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(
        badges.len(),
        realized.len(),
        "{badges:?} against {realized:?}"
    );
    for name in &realized {
        assert!(
            badges.iter().any(|b| b.contains(name.as_str())),
            "{name} in {badges:?}"
        );
    }
    // Why: the first badge explains itself.
    browser
        .client
        .find(Locator::Css("#panel-segments .badge.seg"))
        .await
        .expect("a badge")
        .click()
        .await
        .expect("click");
    browser
        .wait_until("document.querySelector('#segment-explain') && document.querySelector('#segment-explain').innerText.includes('The customer is in this audience')", 5, "the explanation shows")
        .await;

    // Recent purchases: the latest order's product and the computed attributes' values.
    let purchases = demo
        .events("orderby=-timestamp&limit=1&property=eventType=commerce.purchases")
        .await;
    let latest = &purchases[0]["entity"];
    let product = latest["productListItems"][0]["name"]
        .as_str()
        .expect("a product");
    let shown = browser.text("#panel-purchases").await;
    assert!(shown.contains(product), "{product} in {shown}");
    let computed_panel = browser.text("#panel-computed").await;
    let orders = computed["orders"]["value"]
        .as_i64()
        .expect("an orders attribute");
    assert!(
        computed_panel.contains(&orders.to_string()),
        "{orders} in {computed_panel}"
    );

    // Campaigns and support: every campaign that reached the customer this year, and every
    // support contact's reason.
    let year_ago =
        (time::OffsetDateTime::now_utc() - time::Duration::days(365)).unix_timestamp() * 1000;
    let campaigns = browser.text("#panel-campaigns").await;
    for event in demo
        .events(&format!("orderby=-timestamp&limit=1000&startTime={year_ago}&property=eventType=directMarketing.emailSent"))
        .await
    {
        let name = event["entity"]["marketing"]["campaignName"].as_str().expect("a campaign name");
        assert!(campaigns.contains(name), "{name} in {campaigns}");
    }
    let support = browser.text("#panel-support").await;
    let contacts: Vec<Value> = demo
        .events(&format!(
            "orderby=-timestamp&limit=1000&startTime={year_ago}"
        ))
        .await
        .into_iter()
        .filter(|e| {
            e["entity"]["eventType"]
                .as_str()
                .is_some_and(|t| t.starts_with("support."))
        })
        .collect();
    assert!(!contacts.is_empty(), "the frequent buyer called support");
    for contact in &contacts {
        let reason = contact["entity"]["support"]["reason"]
            .as_str()
            .expect("a reason");
        assert!(support.contains(reason), "{reason} in {support}");
    }
    // Spend: the chart is an SVG with bars.
    let bars = browser
        .eval("return document.querySelectorAll('#panel-spend svg rect').length;")
        .await;
    assert!(bars.as_u64().unwrap_or(0) > 0, "the spend chart has bars");

    // Identities: every identity of the graph, by value.
    let graph = demo
        .api(&format!(
            "/data/core/identity/graph?ns=CRMID&id={}",
            demo.crm_id
        ))
        .await;
    let identities = browser.text("#panel-identity").await;
    for identity in graph["identities"].as_array().expect("identities") {
        let value = identity["id"].as_str().expect("an id");
        assert!(identities.contains(value), "{value} in the identity panel");
    }

    // The essentials fit a 1280×800 screen without scrolling.
    for panel in ["#panel-overview", "#panel-scores", "#panel-segments"] {
        let inside = browser
            .eval(&format!(
                "const r = document.querySelector('{panel}').getBoundingClientRect(); return [r.top, window.innerHeight];"
            ))
            .await;
        let (top, height) = (
            inside[0].as_f64().unwrap_or(f64::MAX),
            inside[1].as_f64().unwrap_or(0.0),
        );
        assert!(
            top < height,
            "{panel} starts at {top}, below the {height} px window"
        );
    }
    // Every visible text passes WCAG AA contrast against the background it is drawn on
    // (4.5:1, or 3:1 for large text).
    let failures = browser.eval(CONTRAST_CHECK).await;
    assert_eq!(failures, json!([]), "texts below WCAG AA contrast");
    // (The check itself sees a pale grey on white.)
    let failures = browser
        .eval(&format!("const p = document.createElement('p'); p.id = 'pale'; p.style.color = '#aaaaaa'; p.textContent = 'pale text'; document.querySelector('main').appendChild(p); const found = (function() {{ {CONTRAST_CHECK} }})(); p.remove(); return found;"))
        .await;
    assert!(failures.to_string().contains("pale text"), "{failures}");
    browser.screenshot("profile").await;
    // A narrow window has no horizontal scrolling.
    browser
        .client
        .set_window_size(420, 900)
        .await
        .expect("resize");
    browser
        .wait_until(
            "document.documentElement.scrollWidth <= window.innerWidth + 1",
            5,
            "no sideways scrolling at 420 px",
        )
        .await;
    browser.screenshot("profile-narrow").await;
    browser.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_timeline_pages_and_filters_without_reloading() {
    let demo = Demo::start().await;
    let browser = Browser::start("en-US").await;
    open_profile(&browser, &demo).await;
    browser.mark_document().await;
    let first = demo.events("orderby=-timestamp&limit=60").await;
    assert_eq!(
        first.len(),
        60,
        "the frequent buyer has more than two pages of events"
    );
    let items = "document.querySelectorAll('#timeline-list li').length";
    browser
        .wait_until(&format!("{items} === 30"), 5, "a first page of 30")
        .await;
    browser
        .client
        .find(Locator::Css("#timeline-more button"))
        .await
        .expect("a more button")
        .click()
        .await
        .expect("click");
    browser
        .wait_until(&format!("{items} === 60"), 5, "a second page appended")
        .await;
    // The 31st event shown is the API's 31st.
    let at_31 = first[30]["entity"]["timestamp"]
        .as_str()
        .expect("a timestamp");
    let shown_31 = browser
        .eval("return document.querySelectorAll('#timeline-list li')[30].querySelector('time').getAttribute('datetime');")
        .await;
    assert_eq!(shown_31, json!(at_31));
    // Filter to purchases.
    let purchases = demo
        .events("orderby=-timestamp&limit=30&property=eventType=commerce.purchases")
        .await;
    browser
        .eval("const s = document.querySelector('#tl-kind'); s.value = 'purchase'; s.dispatchEvent(new Event('change', {bubbles: true})); return 1;")
        .await;
    browser
        .wait_until(
            &format!(
                "{items} === {} && Array.from(document.querySelectorAll('#timeline-list li')).every(li => li.classList.contains('ev-purchase'))",
                purchases.len()
            ),
            5,
            "only purchases",
        )
        .await;
    browser.assert_same_document().await;
    // A time range: one day that had a purchase shows only that day's events.
    let day = purchases[0]["entity"]["timestamp"]
        .as_str()
        .expect("a timestamp")[..10]
        .to_owned();
    browser
        .eval(&format!("const f = document.querySelector('#tl-from'); f.value = '{day}'; const t = document.querySelector('#tl-to'); t.value = '{day}'; t.dispatchEvent(new Event('change', {{bubbles: true}})); return 1;"))
        .await;
    browser
        .wait_until(
            &format!("{items} > 0 && Array.from(document.querySelectorAll('#timeline-list li time')).every(t => t.getAttribute('datetime').startsWith('{day}'))"),
            5,
            "only the day's events",
        )
        .await;
    browser.screenshot("timeline-purchases").await;
    browser.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_ingested_through_the_api_appears_live() {
    let demo = Demo::start().await;
    let browser = Browser::start("en-US").await;
    open_profile(&browser, &demo).await;
    browser.mark_document().await;
    browser
        .wait_until(
            "document.querySelector('#live-status').classList.contains('on')",
            10,
            "the live stream is connected",
        )
        .await;
    let datasets = demo.api("/data/foundation/catalog/dataSets").await;
    let dataset = datasets
        .as_object()
        .expect("datasets")
        .iter()
        .find(|(_, d)| d["name"] == json!(DemoDataset::WebAndApp.name()))
        .map(|(id, _)| id.clone())
        .expect("the web and app dataset");
    let now = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .expect("now");
    let event = json!({
        "_id": "live-console-test-1",
        "timestamp": now,
        "eventType": "commerce.purchases",
        "identityMap": {"CRMID": [{"id": demo.crm_id, "authenticatedState": "authenticated"}]},
        "commerce": {"order": {"purchaseID": "LIVE-1", "priceTotal": 123.45, "currencyCode": "USD"}, "purchases": {"value": 1.0}},
        "productListItems": [{"SKU": "LIVE-1", "name": "Live Test Lantern", "quantity": 1, "priceTotal": 123.45}]
    });
    let sent = Instant::now();
    let reply = demo
        .server
        .send(
            Method::POST,
            "/collection/test-inlet",
            Some(json!({"header": {"datasetId": dataset}, "body": {"xdmEntity": event}})),
            &[],
        )
        .await;
    assert!(reply.status.is_success(), "{}", reply.body);
    browser
        .wait_until("document.querySelector('#panel-timeline').innerText.includes('Live Test Lantern') && document.querySelector('#panel-purchases').innerText.includes('Live Test Lantern')", 5, "the new purchase appears")
        .await;
    // Pushed within a second by design (a 100 ms look at the commit counter, a 200 ms debounce,
    // one panel request);
    // the bound leaves room for a loaded test machine, and the time is printed.
    let seconds = sent.elapsed().as_secs_f64();
    eprintln!("the new purchase appeared {seconds:.2} s after the ingestion request was sent");
    assert!(seconds < 3.0, "took {seconds:.2} s");
    browser.assert_same_document().await;
    browser.screenshot("live-event").await;
    browser.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_language_follows_the_browser_and_can_be_switched() {
    let demo = Demo::start().await;
    // A browser that prefers Spanish gets Spanish.
    let browser = Browser::start("es").await;
    open_profile(&browser, &demo).await;
    assert_eq!(
        browser.eval("return document.documentElement.lang;").await,
        json!("es")
    );
    assert!(
        browser.text("header").await.contains("Buscar"),
        "the search button in Spanish"
    );
    browser.screenshot("profile-es").await;
    // Switching to English keeps the agent on the profile.
    browser
        .client
        .find(Locator::Css("nav.langs a[lang='en']"))
        .await
        .expect("an English link")
        .click()
        .await
        .expect("click");
    browser
        .wait_until(
            "document.documentElement.lang === 'en'",
            5,
            "English after the switch",
        )
        .await;
    assert!(browser.text("h1").await.contains(&demo.full_name()));
    assert!(browser.text("header").await.contains("Search"));
    // And the choice sticks on the next page.
    browser.goto(&demo.url("/console")).await;
    assert_eq!(
        browser.eval("return document.documentElement.lang;").await,
        json!("en")
    );
    browser.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_keyboard_alone_reaches_a_profile() {
    let demo = Demo::start().await;
    let browser = Browser::start("en-US").await;
    let name = demo.full_name();
    browser.goto(&demo.url("/console")).await;
    browser.wait_for_search_focus().await;
    browser
        .type_keys(&format!("{}{ENTER}", demo.identity("Email")))
        .await;
    browser
        .wait_until(
            &format!(
                "document.querySelector('h1').innerText.includes({})",
                json!(name)
            ),
            10,
            "the profile opens",
        )
        .await;
    // "/" goes back to the search box from anywhere on the page.
    browser
        .eval("document.activeElement.blur(); document.body.focus(); return 1;")
        .await;
    browser.type_keys("/").await;
    browser.wait_for_search_focus().await;
    // Back on the search page, the customer is among the recently viewed: Tab to it, Enter.
    browser.goto(&demo.url("/console")).await;
    browser.wait_for_search_focus().await;
    let mut reached = false;
    for _ in 0..15 {
        browser.type_keys(TAB).await;
        let focused = browser
            .eval("return document.activeElement ? document.activeElement.innerText || '' : '';")
            .await;
        if focused.as_str().is_some_and(|t| t.contains(&name)) {
            reached = true;
            break;
        }
    }
    assert!(reached, "Tab reaches the recently viewed {name}");
    browser.type_keys(ENTER).await;
    browser
        .wait_until(&format!("location.pathname.startsWith('/console/profile/') && document.querySelector('h1').innerText.includes({})", json!(name)), 10, "Enter opens the recent profile")
        .await;
    browser.finish().await;
}

#[tokio::test]
async fn console_pages_answer_errors_a_person_can_act_on() {
    let server = TestServer::development();
    // An unknown customer: a page that says so, with a 404, never a stack trace.
    let reply = server
        .send(
            Method::GET,
            "/console/profile/Email/nobody%40example.com",
            None,
            &[],
        )
        .await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    let page = reply.body.as_str().expect("html");
    assert!(page.contains("nobody@example.com"), "{page}");
    assert!(reply
        .content_type()
        .is_some_and(|t| t.starts_with("text/html")));
    // Accept-Language picks Spanish when there is no cookie.
    let reply = server
        .send(
            Method::GET,
            "/console",
            None,
            &[("accept-language", "es-MX,es;q=0.9,en;q=0.5")],
        )
        .await;
    assert!(reply.body.as_str().expect("html").contains("lang=\"es\""));
    // The root is the console.
    let reply = server.get("/").await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER);
    assert_eq!(reply.headers["location"], "/console");
    // The language switch only goes back into the console.
    let reply = server
        .get("/console/lang?to=es&back=https://elsewhere.example/")
        .await;
    assert_eq!(reply.headers["location"], "/console");
}

#[tokio::test]
async fn several_customers_matching_what_was_typed_are_listed_to_tell_them_apart() {
    let server = TestServer::development();
    let company = server.company(&[]).await;
    server
        .namespace("LoyaltyID", "CROSS_DEVICE", false, &[])
        .await;
    // "ZX-99" is one customer's CRM id and another's loyalty id.
    server
        .ingest(
            &company.crm,
            json!({"identityMap": {"CRMID": [{"id": "ZX-99", "primary": true}]},
                   "person": {"name": {"firstName": "Ann", "lastName": "One", "fullName": "Ann One"}},
                   "homeAddress": {"city": "Boise"}}),
        )
        .await;
    server
        .ingest(
            &company.loyalty,
            json!({"identityMap": {"LoyaltyID": [{"id": "ZX-99", "primary": true}]},
                   "person": {"name": {"firstName": "Ben", "lastName": "Two", "fullName": "Ben Two"}},
                   "homeAddress": {"city": "Tulsa"}}),
        )
        .await;
    let reply = server
        .send(Method::GET, "/console?q=ZX-99", None, &[])
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    let page = reply.body.as_str().expect("html");
    for shown in ["Ann One", "Boise", "Ben Two", "Tulsa"] {
        assert!(page.contains(shown), "{shown} in the list");
    }
    // Each opens the customer by the identity that matched.
    assert!(page.contains("/console/profile/CRMID/ZX-99"), "{page}");
    assert!(page.contains("/console/profile/LoyaltyID/ZX-99"), "{page}");
    // With the namespace chosen, only that customer: straight to the profile.
    let reply = server
        .send(Method::GET, "/console?q=ZX-99&ns=LoyaltyID", None, &[])
        .await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER);
    assert_eq!(
        reply.headers["location"],
        "/console/profile/LoyaltyID/ZX-99"
    );
}
