//! The console's pages and fragments rendered from real API responses of the demo company
//! (`tests/data`): each panel's content, Spanish, escaping, accessibility structure, page weight,
//! and snapshots of the identity panel and a timeline fragment; and the audit page, from an
//! answer of the audit API written in its wire shape.

use std::collections::BTreeMap;

use rapport_console::identity_input::Candidate;
use rapport_console::{
    assets, audit_page, error_page, event_kind, explanation_fragment, identity_panel, login_page,
    panel, profile_page, search_page, timeline_fragment, urls::ProfileUrls, AuditFilter, AuditPage,
    ErrorKind, EventKind, Lang, LoginNotice, LoginPage, Match, Panel, ProfileData, Recent,
    SearchOutcome, SearchPage, TimelineQuery, Viewer,
};
use serde_json::{json, Value};
use time::OffsetDateTime;

fn load(name: &str) -> Value {
    let path = format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// When the samples were taken.
fn now() -> OffsetDateTime {
    OffsetDateTime::parse(
        "2026-11-28T19:00:00Z",
        &time::format_description::well_known::Rfc3339,
    )
    .expect("time")
}

fn datasets() -> BTreeMap<String, String> {
    [
        ("be5223851d8a40c79e4561fa", "CRM Customers"),
        ("df2ce75b9c1f48ea9f67c3ca", "Loyalty Program"),
        ("734c4e85ff1348958bfe063d", "Web and App Events"),
    ]
    .into_iter()
    .map(|(id, name)| (id.to_owned(), name.to_owned()))
    .collect()
}

/// Everything the profile page of a customer needs.
struct Fixture {
    profile: Value,
    events: Vec<Value>,
    timeline: Value,
    segments: Value,
    computed: Value,
    datasets: BTreeMap<String, String>,
}

impl Fixture {
    fn new(profile: &str) -> Fixture {
        Fixture {
            profile: load(profile),
            events: load("events-sam-all.json")["children"]
                .as_array()
                .expect("children")
                .clone(),
            timeline: load("events-sam.json"),
            segments: load("segments.json"),
            computed: load("computed-attributes.json"),
            datasets: datasets(),
        }
    }

    /// Maria's page with her identity graph inline and no events.
    fn maria_with_graph<'a>(&'a self, graph: &'a Value) -> ProfileData<'a> {
        ProfileData {
            graph: Some(graph),
            events: &[],
            timeline: &Value::Null,
            ..self.data("Email", "maria.garcia@example.com")
        }
    }

    fn data<'a>(&'a self, ns: &'a str, id: &'a str) -> ProfileData<'a> {
        ProfileData {
            events: &self.events,
            timeline: &self.timeline,
            segments: &self.segments,
            computed_attributes: &self.computed,
            datasets: &self.datasets,
            ..ProfileData::new(ns, id, &self.profile, now())
        }
    }
}

/// The HTML of the element with this id (a `<section>` or `<div>`), up to its closing tag.
fn element<'a>(html: &'a str, id: &str) -> &'a str {
    let marker = format!("id=\"{id}\"");
    let at = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no #{id} in {html}"));
    let start = html[..at].rfind('<').expect("tag start");
    let tag: String = html[start + 1..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric())
        .collect();
    let (open, close) = (format!("<{tag}"), format!("</{tag}>"));
    let mut depth = 0;
    let mut i = start;
    loop {
        let next_open = html[i + 1..].find(&open).map(|p| p + i + 1);
        let next_close = html[i..].find(&close).map(|p| p + i).expect("closing tag");
        match next_open {
            Some(o) if o < next_close => {
                depth += 1;
                i = o;
            }
            _ if depth > 0 => {
                depth -= 1;
                i = next_close + 1;
            }
            _ => return &html[start..next_close + close.len()],
        }
    }
}

/// Visible text (tags removed, maud's entities decoded, spaces collapsed).
fn text(html: &str) -> String {
    let mut out = String::new();
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => {
                in_tag = true;
                out.push(' ');
            }
            '>' => in_tag = false,
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out.replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// A fragment with a line per element, for readable snapshots.
fn lines(html: &str) -> String {
    let mut out = String::new();
    for (i, piece) in html.split('<').enumerate() {
        if i > 0 {
            if !piece.starts_with('/') {
                out.push('\n');
            }
            out.push('<');
        }
        out.push_str(piece);
    }
    out.trim().to_owned()
}

#[test]
fn sam_at_a_glance() {
    let fixture = Fixture::new("profile-sam.json");
    let html = profile_page(Lang::En, &fixture.data("CRMID", "CRM-0008414"));

    let overview = text(element(&html, "panel-overview"));
    for expected in [
        "Sam Rivera",
        "Platinum 4,890 points · Cascade Rewards",
        "Customer since 2025-10-16 (13 months)",
        "sam.rivera@example.com",
        "+1 (404) 820-4050",
        "2233 Park Ave, Asheville, NC 28845, US",
        "Prefers email",
    ] {
        assert!(overview.contains(expected), "{expected} in {overview}");
    }
    let overview_html = element(&html, "panel-overview");
    assert!(
        overview_html.contains(
            r#"<li class="badge no">SMS opt-out <small>since <time datetime="2026-09-15T03:28:53Z""#
        ),
        "{overview_html}"
    );
    assert!(overview_html.contains(r#"<li class="badge yes">Calls OK</li>"#));

    let scores = text(element(&html, "panel-scores"));
    assert!(scores.contains("No scores yet"), "{scores}");

    let segments = element(&html, "panel-segments");
    assert_eq!(
        text(segments),
        "Audiences High lifetime spend VIP",
        "sorted by name"
    );
    assert!(segments.contains(r##"hx-get="/console/profile/CRMID/CRM-0008414/segments/3bae0eed-c898-49ed-9f93-ae68f2606250/explain" hx-target="#segment-explain""##));
    assert!(segments.contains(r#"aria-label="Why VIP?""#));

    let purchases = text(element(&html, "panel-purchases"));
    assert!(
        purchases.contains("48 orders in the last 12 months, $12,309.00 in total"),
        "{purchases}"
    );
    assert!(
        purchases.contains(
            "Total 2026-11-22 Camp Stove Kit ×1 $89.00 2026-11-17 Riverbed Water Sandals ×1 $59.00"
        ),
        "the last purchase first: {purchases}"
    );

    let spend = element(&html, "panel-spend");
    assert!(spend.contains(
        "<desc id=\"spend-desc\">$12,309.00 in total; highest month Jan 2026 ($1,978.00)</desc>"
    ));
    assert_eq!(spend.matches("<rect class=\"bar\"").count(), 12);
    assert!(text(spend).contains("Nov 2026 $148.00"), "data table");

    let campaigns = text(element(&html, "panel-campaigns"));
    assert!(
        campaigns.contains("3 sent, 0 opened, 0 clicked"),
        "{campaigns}"
    );
    assert!(campaigns.contains("Back to School Packs 2026-09-14 Not opened"));

    let support = element(&html, "panel-support");
    assert!(text(support).contains("3 contacts, average satisfaction 3.7 of 5"));
    assert!(
        text(support).contains("2026-09-20 Call · 7:35 Where is my order? resolved 4 of 5"),
        "{}",
        text(support)
    );
    assert!(
        support.contains(r#"<td class="num low">2 of 5</td>"#),
        "a low rating stands out"
    );

    let timeline = element(&html, "panel-timeline");
    assert!(text(timeline).contains(
        "2026-11-22 20:07 UTC Purchase Camp Stove Kit ×1 · $89.00 · SO-8414-48 2026-11-22 20:06 UTC Checkout"
    ));
    assert_eq!(timeline.matches("<li class=\"ev ").count(), 30);
    assert!(timeline.contains(r##"hx-get="/console/profile/CRMID/CRM-0008414/timeline?start=gAABoSVVTjDqxWviwvrX1A" hx-target="#timeline-list" hx-swap="beforeend""##), "{timeline}");

    let identity = element(&html, "panel-identity");
    assert!(
        identity.contains(r#"hx-trigger="load, refresh""#),
        "without a graph the identity panel loads itself: {identity}"
    );
}

#[test]
fn maria_scores_consents_and_computed_attributes() {
    let fixture = Fixture::new("profile-maria.json");
    let graph = load("graph-maria.json");
    let data = fixture.maria_with_graph(&graph);
    let html = profile_page(Lang::En, &data);

    let overview = element(&html, "panel-overview");
    assert!(overview.contains(r#"<li class="badge no">Do not call <small>since"#));
    assert!(overview.contains(r#"<li class="badge no">Email opt-out <small>since"#));
    assert!(overview.contains(r#"<li class="badge yes">SMS OK</li>"#));
    assert!(
        overview.find("Do not call") < overview.find("SMS OK"),
        "opt-outs come first"
    );
    assert!(text(overview).contains("Silver 951 points"));

    let scores = text(element(&html, "panel-scores"));
    for expected in [
        "Spent to date $307.00",
        "Predicted, next 52 weeks $425.98 Medium",
        "1.7 purchases expected, 91% likely still active",
        "Churn risk Medium 68% chance of no purchase in the next 90 days",
        "▲ Raises risk: 2 purchases in total",
        "▲ Raises risk: customer for 236 days",
        "▼ Lowers risk: 1 purchase in the last 90 days against 0 in the 90 days before",
    ] {
        assert!(scores.contains(expected), "{expected} in {scores}");
    }
    assert!(element(&html, "panel-scores").contains(r#"style="width:68%""#));

    assert!(text(element(&html, "panel-segments")).contains("Not in any audience."));

    let computed = text(element(&html, "panel-computed"));
    for expected in [
        "Last page viewed Packs",
        "Orders, all time 2",
        "Largest order, last 6 months 129",
        "Spend, last month 0",
    ] {
        assert!(computed.contains(expected), "{expected} in {computed}");
    }
    assert!(
        !computed.contains("churnPropensity"),
        "scores have their own panel"
    );

    let identity = text(element(&html, "panel-identity"));
    assert!(
        identity
            .contains("5 identities linked: CRMID 1 · Email 1 · Phone 1 · LoyaltyID 1 · ECID 1"),
        "{identity}"
    );
    assert!(identity.contains("LY0154093377"));
    assert!(identity.contains("Web and App Events"));
}

#[test]
fn bands_follow_the_documented_thresholds() {
    let with_scores = |churn: f64, ltv: f64| {
        let mut profile = load("profile-maria.json");
        let scores =
            &mut profile["P00000000000015e3"]["entity"]["_rapport"]["SystemComputedAttributes"];
        scores["churnPropensity"]["value"] = json!(churn);
        scores["lifetimeValue"]["value"] = json!(ltv);
        let data = ProfileData::new("CRMID", "CRM-0003193", &profile, now());
        panel(Lang::En, Panel::Scores, &data)
    };
    let html = with_scores(0.39, 249.0);
    assert!(
        html.contains(r#"<span class="band churn-low">Low</span>"#),
        "{html}"
    );
    assert!(html.contains(r#"<span class="band value-low">Low</span>"#));
    let html = with_scores(rapport_console::CHURN_HIGH, rapport_console::VALUE_HIGH);
    assert!(html.contains(r#"<span class="band churn-high">High</span>"#));
    assert!(html.contains(r#"<span class="band value-high">High</span>"#));
    let html = with_scores(rapport_console::CHURN_MEDIUM, rapport_console::VALUE_MEDIUM);
    assert!(html.contains(r#"<span class="band churn-medium">Medium</span>"#));
}

#[test]
fn campaign_exposure_is_grouped_by_campaign() {
    let event = |kind: &str, id: &str, name: &str, at: &str| {
        json!({"entity": {"_id": format!("{id}-{kind}"), "timestamp": at, "eventType": format!("directMarketing.{kind}"),
            "marketing": {"campaignID": id, "campaignName": name, "channel": "email"}}})
    };
    let events = vec![
        event(
            "emailSent",
            "cmp-fall",
            "Fall Layers",
            "2026-10-20T14:10:00Z",
        ),
        event(
            "emailOpened",
            "cmp-fall",
            "Fall Layers",
            "2026-10-20T16:00:00Z",
        ),
        event(
            "emailClicked",
            "cmp-fall",
            "Fall Layers",
            "2026-10-20T16:01:00Z",
        ),
        event(
            "emailSent",
            "cmp-miss",
            "We Miss You: 15% Off",
            "2026-11-10T14:00:00Z",
        ),
        event(
            "emailOpened",
            "cmp-miss",
            "We Miss You: 15% Off",
            "2026-11-10T18:00:00Z",
        ),
        event(
            "emailUnsubscribed",
            "cmp-miss",
            "We Miss You: 15% Off",
            "2026-11-10T18:02:00Z",
        ),
        event(
            "emailSent",
            "cmp-typo",
            "Holiday Gift Guide",
            "2025-12-23T14:00:00Z",
        ),
        event(
            "emailBounced",
            "cmp-typo",
            "Holiday Gift Guide",
            "2025-12-23T14:02:00Z",
        ),
    ];
    let profile = load("profile-sam.json");
    let data = ProfileData {
        events: &events,
        ..ProfileData::new("CRMID", "CRM-0008414", &profile, now())
    };
    let html = panel(Lang::En, Panel::Campaigns, &data);
    assert_eq!(
        text(&html),
        "Email campaigns 3 sent, 2 opened, 1 clicked Campaign Sent Response \
         We Miss You: 15% Off 2026-11-10 Unsubscribed Opened \
         Fall Layers 2026-10-20 Clicked \
         Holiday Gift Guide 2025-12-23 Bounced"
    );
    assert!(html.contains(r#"<span class="chip no">Unsubscribed</span>"#));
}

#[test]
fn identity_panel_explains_what_the_rules_removed() {
    let alex = identity_panel(Lang::En, &load("graph-alex.json"), &datasets());
    let shown = text(&alex);
    assert!(
        shown.contains("50 identities linked: CRMID 1 · Email 1 · Phone 1 · LoyaltyID 1 · ECID 46"),
        "{shown}"
    );
    assert!(shown.contains("Links the rules removed (14)"));
    assert_eq!(
        shown.matches("This customer's graph reached its limit of 50 identities, so the oldest, least specific identities (cookies first, then devices) were unlinked to make room.").count(),
        1,
        "one explanation for the 14 links it removed"
    );
    assert!(shown.contains("CRMID CRM-0006816 — ECID 02853223405317749302895459369676112986"));
    assert_eq!(
        alex.matches("<tr><td class=\"mono\">CRMID CRM-0006816 — ECID")
            .count(),
        14
    );
    assert!(alex.contains(r#"title="the graph reached its limit of 50 identities, so its oldest least-specific identities were unlinked""#), "the API's words stay at hand");
    assert!(
        alex.find("CRM-0006816") < alex.find("alex.kim@example.org"),
        "people identities first"
    );

    // The tablet two customers log in on, and placeholder emails (the API's shapes and texts).
    let tablet = text(&identity_panel(
        Lang::En,
        &load("graph-tablet.json"),
        &datasets(),
    ));
    assert!(tablet.contains("A customer can have only one CRMID: the newer link to CRM-0002858 won, so this link to CRM-0002857 was dropped"), "{tablet}");
    assert!(tablet.contains("Identities never linked (2)"));
    assert!(tablet.contains("This value is on the block list of placeholder values (such as test@test.com) that would join unrelated people, so it links nobody. Value When Source Email test@test.com"));
    assert!(tablet.contains("This is a placeholder (null, anonymous, invalid…) rather than a real identity, so it was ignored. Value When Source Email null"));
    let spanish = text(&identity_panel(
        Lang::Es,
        &load("graph-tablet.json"),
        &datasets(),
    ));
    assert!(
        spanish.contains(
            "Un cliente solo puede tener un CRMID: ganó el vínculo más reciente a CRM-0002858"
        ),
        "{spanish}"
    );
}

#[test]
fn identity_panel_snapshot() {
    let html = identity_panel(Lang::En, &load("graph-maria.json"), &datasets());
    insta::assert_snapshot!("identity_maria", lines(&html));
    let html = identity_panel(Lang::En, &load("graph-tablet.json"), &datasets());
    insta::assert_snapshot!("identity_tablet", lines(&html));
}

#[test]
fn timeline_snapshot_one_event_of_each_type() {
    let page = load("one-event-per-type.json");
    let urls = ProfileUrls {
        ns: "CRMID",
        id: "CRM-0008414",
    };
    let html = timeline_fragment(Lang::En, urls, &TimelineQuery::default(), &page);
    insta::assert_snapshot!("timeline_one_of_each", lines(&html));
}

#[test]
fn timeline_filters_and_pages() {
    let urls = ProfileUrls {
        ns: "Email",
        id: "sam.rivera@example.com",
    };
    let all = load("events-sam-all.json");

    // Kind: only support contacts, newest first.
    let query = TimelineQuery::parse(Some("support"), None, None, None);
    let html = timeline_fragment(Lang::En, urls, &query, &all);
    assert_eq!(
        html.matches("<li class=\"ev ev-support\"").count(),
        3,
        "{html}"
    );
    assert_eq!(html.matches("<li class=\"ev ").count(), 3);
    assert!(html.contains(r#"<option value="support" selected>Support</option>"#));
    assert!(text(&html).contains("Support call Where is my order? · resolved · 4 of 5 · 7:35"));
    assert!(
        !html.contains("Show older events"),
        "the last page has no next"
    );

    // Time range: both days included.
    let query = TimelineQuery::parse(None, Some("2026-11-17"), Some("2026-11-22"), None);
    let html = timeline_fragment(Lang::En, urls, &query, &all);
    assert_eq!(html.matches("<li class=\"ev ").count(), 14, "{html}");
    assert!(html.contains(r#"<input id="tl-from" type="date" name="from" value="2026-11-17">"#));
    let query = TimelineQuery::parse(Some("email"), Some("2020-01-01"), Some("2020-12-31"), None);
    assert!(text(&timeline_fragment(Lang::En, urls, &query, &all))
        .contains("No events for these filters."));

    // The next page appends and moves the "more" button out of band.
    let query = TimelineQuery::parse(Some("web"), None, None, Some("gAABoSVVTjDqxWviwvrX1A"));
    let page = load("events-sam.json");
    let html = timeline_fragment(Lang::En, urls, &query, &page);
    assert!(html.starts_with("<li class=\"ev ev-web\">"), "{html}");
    assert!(!html.contains("ev-purchase"), "web only");
    assert!(!html.contains("<h2"), "no panel around an appended page");
    assert!(html.ends_with(r##"<div id="timeline-more" hx-swap-oob="true"><button type="button" hx-get="/console/profile/Email/sam.rivera%40example.com/timeline?kind=web&amp;start=gAABoSVVTjDqxWviwvrX1A" hx-target="#timeline-list" hx-swap="beforeend">Show older events</button></div>"##), "{html}");

    assert_eq!(event_kind("commerce.purchases"), EventKind::Purchase);
    assert!(TimelineQuery::parse(Some("purchase"), None, None, None)
        .api_query()
        .contains("property=eventType%3Dcommerce.purchases"));
}

#[test]
fn segment_explanation() {
    let html = explanation_fragment(Lang::En, &load("explain-sam.json"));
    let shown = text(&html);
    assert!(
        shown.starts_with("Why: At risk The customer is not in this audience."),
        "{shown}"
    );
    assert!(shown.contains(
        "xEvent[eventType = \"commerce.purchases\"].count() > 0 holds (48 compared with 0)"
    ));
    assert!(html.contains(r#"48 matching events: <time datetime="2025-12-01T13:48:43Z" data-fmt="date">2025-12-01</time>, <time datetime="2025-12-01T19:22:11Z" data-fmt="date">2025-12-01</time>, <time datetime="2025-12-18T15:36:03Z" data-fmt="date">2025-12-18</time>…"#), "{html}");
    assert!(shown.contains("13 matching events: 2026-08-30"));
    assert!(shown.contains("not (exists E from xEvent where (E.eventType = \"commerce.purchases\" and E.timestamp occurs <= 90 days before now)) does not hold"));
    assert!(html.contains("<li class=\"fails\">"));
    assert!(html.contains("&lt;= 90 days"), "PQL is escaped");
    let spanish = text(&explanation_fragment(Lang::Es, &load("explain-sam.json")));
    assert!(spanish.starts_with("Por qué: At risk El cliente no pertenece a esta audiencia."));
}

#[test]
fn search_page_lists_matches_not_found_and_recent() {
    let sam = load("profile-sam.json");
    let maria = load("profile-maria.json");
    let matches = [
        Match {
            profile: &sam,
            last_activity: Some("2026-11-22T20:07:25Z"),
        },
        Match {
            profile: &maria,
            last_activity: None,
        },
    ];
    let recent = [Recent::from_profile(&maria).expect("recent")];
    assert_eq!(
        recent[0],
        Recent {
            ns: "CRMID".into(),
            id: "CRM-0003193".into(),
            name: "Maria Garcia".into()
        }
    );
    let namespaces = ["ECID", "Email", "Phone", "CRMID", "LoyaltyID"];
    let html = search_page(
        Lang::En,
        &SearchPage {
            query: "404 820 4050",
            ns: Some("Phone"),
            namespaces: &namespaces,
            outcome: SearchOutcome::Matches(&matches),
            recent: &recent,
            viewer: None,
        },
    );
    let shown = text(&html);
    assert!(
        shown.contains("2 customers match “404 820 4050”"),
        "{shown}"
    );
    assert!(shown.contains("Sam Rivera sam.rivera@example.com +1 (404) 820-4050 Asheville, NC Platinum 2026-11-22 20:07 UTC"));
    assert!(shown.contains(
        "Maria Garcia maria.garcia@example.com +1 (929) 622-3578 Los Angeles, CA Silver —"
    ));
    assert!(html.contains(r#"<a href="/console/profile/CRMID/CRM-0008414">Sam Rivera</a>"#));
    assert!(html.contains(r#"<option value="Phone" selected>Phone</option>"#));
    assert!(html.contains(r#"<option value="">Detect automatically</option>"#));
    assert!(html.contains(r#"<label for="q">Email, phone, CRM id, loyalty id or ECID</label>"#));
    assert!(html.contains(r#"value="404 820 4050""#) && html.contains("autofocus"));
    assert!(text(element(&html, "recent-h")).contains("Recently viewed"));
    assert!(html.contains(r#"<a href="/console/profile/CRMID/CRM-0003193">Maria Garcia</a>"#));

    let tried = [
        Candidate {
            namespace: "CRMID".into(),
            value: "0008414".into(),
        },
        Candidate {
            namespace: "LoyaltyID".into(),
            value: "0008414".into(),
        },
    ];
    let html = search_page(
        Lang::Es,
        &SearchPage {
            query: "0008414",
            ns: None,
            namespaces: &namespaces,
            outcome: SearchOutcome::NotFound(&tried),
            recent: &[],
            viewer: None,
        },
    );
    let shown = text(&html);
    assert!(shown.contains("Ningún cliente coincide con «0008414». Se buscó como: CRMID 0008414, LoyaltyID 0008414."), "{shown}");
    assert!(shown.contains("Aún no ha visto ningún cliente."));
    assert!(html.contains(r#"<option value="" selected>Detectar automáticamente</option>"#));
}

#[test]
fn error_pages_say_what_to_do() {
    let cases = [
        (
            ErrorKind::UnknownCustomer("Email nobody@example.com"),
            404,
            "Customer not found",
        ),
        (
            ErrorKind::ProfileTooLarge,
            422,
            "Profile too large to show in full",
        ),
        (
            ErrorKind::Unavailable,
            503,
            "The customer data is not available right now",
        ),
        (
            ErrorKind::ServerError {
                reference: "req-7f3a",
            },
            500,
            "Something went wrong",
        ),
        (ErrorKind::NotPermitted, 403, "Not allowed"),
    ];
    for (kind, status, title) in cases {
        assert_eq!(kind.status(), status);
        let html = error_page(
            Lang::En,
            &kind,
            "/console/profile/Email/nobody%40example.com",
            None,
        );
        assert!(
            html.contains(&format!("<h1 id=\"error-h\">{title}</h1>")),
            "{html}"
        );
        assert!(html.contains(r#"<a href="/console">Back to search</a>"#));
        assert!(
            html.contains(r#"<input id="q" type="search" name="q""#),
            "search stays at hand"
        );
    }
    let html = error_page(
        Lang::En,
        &ErrorKind::ServerError {
            reference: "req-7f3a",
        },
        "/console",
        None,
    );
    assert!(text(&html).contains("tell your administrator (reference req-7f3a)"));
    let html = error_page(
        Lang::Es,
        &ErrorKind::UnknownCustomer("Email nobody@example.com"),
        "/console",
        None,
    );
    assert!(text(&html).contains("Ningún cliente tiene la identidad «Email nobody@example.com»"));
}

#[test]
fn spanish_profile() {
    let fixture = Fixture::new("profile-sam.json");
    let html = profile_page(Lang::Es, &fixture.data("CRMID", "CRM-0008414"));
    assert!(html.starts_with("<!DOCTYPE html><html lang=\"es\">"));
    let shown = text(&html);
    for expected in [
        "Ir al contenido",
        "Cliente desde 2025-10-16 (13 meses)",
        "Platino 4,890 puntos",
        "Sin SMS desde 2026-09-15",
        "Acepta llamadas",
        "Prefiere correo",
        "Compras recientes 48 pedidos en los últimos 12 meses, $12,309.00 en total",
        "Campañas de correo 3 enviados, 0 abiertos, 0 con clic",
        "Historial de soporte 3 contactos, satisfacción media 3.7 de 5",
        "Llamada · 7:35 Where is my order? resuelto 4 de 5",
        "ene 2026 $1,978.00",
        "Cronología",
        "Compra Camp Stove Kit ×1 · $89.00",
        "Ver eventos anteriores",
        "Audiencias",
    ] {
        assert!(shown.contains(expected), "{expected} in {shown}");
    }
    assert!(html.contains(r#"<a aria-current="true" lang="es" href="/console/lang?to=es&amp;back=%2Fconsole%2Fprofile%2FCRMID%2FCRM-0008414">Español</a>"#));
    assert!(html.contains(r#"<a lang="en" hreflang="en" href="/console/lang?to=en&amp;back=%2Fconsole%2Fprofile%2FCRMID%2FCRM-0008414">English</a>"#));
}

#[test]
fn hostile_values_are_escaped() {
    let mut profile = load("profile-sam.json");
    let entity = &mut profile["P00000000000039e4"]["entity"];
    entity["person"]["name"] = json!({"firstName": "<script>alert(1)</script>"});
    entity["homeAddress"]["city"] = json!("\"><img src=x onerror=alert(2)>");
    entity["segmentMembership"]["ups"]["\"><b>"] = json!({"status": "realized"});
    let mut events = vec![
        json!({"entity": {"eventType": "commerce.purchases", "timestamp": "2026-11-01T10:00:00Z",
        "productListItems": [{"name": "<svg onload=alert(3)>", "quantity": 1, "priceTotal": 5.0}]}}),
    ];
    events.push(
        json!({"entity": {"eventType": "<i>custom</i>", "timestamp": "2026-11-02T10:00:00Z"}}),
    );
    let timeline = json!({"children": events.clone(), "_page": {"next": "\"><script>"}});
    let data = ProfileData {
        events: &events,
        timeline: &timeline,
        ..ProfileData::new("Email", "\"><script>alert(4)</script>", &profile, now())
    };
    let html = profile_page(Lang::En, &data);
    for raw in [
        "<script>alert",
        "<img src=x",
        "<svg onload",
        "<i>custom",
        "\"><b>",
        "\"><script>",
    ] {
        assert!(!html.contains(raw), "{raw} came out unescaped");
    }
    assert!(html.contains("<h1 id=\"panel-overview-h\">&lt;script&gt;alert(1)&lt;/script&gt;</h1>"));
    assert!(html.contains("<title>&lt;script&gt;alert(1)&lt;/script&gt; · Rapport console</title>"));
    assert!(html.contains("&lt;svg onload=alert(3)&gt; ×1"));
    assert!(
        html.contains("/console/profile/Email/%22%3E%3Cscript%3Ealert%284%29%3C%2Fscript%3E/live")
    );
    assert!(html.contains("start=%22%3E%3Cscript%3E"));

    let matches = [Match {
        profile: &profile,
        last_activity: Some("<b>soon</b>"),
    }];
    let html = search_page(
        Lang::En,
        &SearchPage {
            query: "\"><script>alert(5)</script>",
            ns: None,
            namespaces: &["<x>"],
            outcome: SearchOutcome::Matches(&matches),
            recent: &[],
            viewer: None,
        },
    );
    assert!(!html.contains("<script>alert") && !html.contains("<b>soon") && !html.contains("<x>"));
    assert!(html.contains("value=\"&quot;&gt;&lt;script&gt;alert(5)&lt;/script&gt;\""));
}

#[test]
fn panels_refresh_alone() {
    let fixture = Fixture::new("profile-maria.json");
    let graph = load("graph-maria.json");
    let data = fixture.maria_with_graph(&graph);
    let html = profile_page(Lang::En, &data);
    let urls = ProfileUrls {
        ns: "Email",
        id: "maria.garcia@example.com",
    };
    for which in Panel::ALL {
        assert_eq!(Panel::parse(which.name()), Some(which));
        let id = which.element_id();
        let section = element(&html, &id);
        assert!(
            section.contains(&format!("aria-labelledby=\"{id}-h\"")),
            "{section}"
        );
        assert!(section.contains("aria-live=\"polite\""));
        assert!(section.contains(&format!("data-live=\"{}\"", which.live_events().join(" "))));
        assert!(section.contains(&format!(
            "hx-get=\"{}\"",
            which.url(&urls).replace('&', "&amp;")
        )));
        let alone = panel(Lang::En, which, &data);
        assert!(
            alone.contains(&format!("id=\"{id}-h\"")),
            "{which:?}: {alone}"
        );
        assert!(
            section.contains(&alone),
            "{which:?}: the refresh swaps in the same content"
        );
    }
    assert_eq!(
        urls.panel("segments"),
        "/console/profile/Email/maria.garcia%40example.com/panel/segments"
    );
    check_structure(&html);
}

#[test]
fn pages_are_accessible() {
    let fixture = Fixture::new("profile-sam.json");
    let html = profile_page(Lang::En, &fixture.data("CRMID", "CRM-0008414"));
    check_structure(&html);
    assert!(html.contains("<svg class=\"chart\" viewBox=\"0 0 300 112\" role=\"img\" aria-labelledby=\"spend-title spend-desc\""));
    assert!(html
        .contains("<span class=\"live\" id=\"live-status\" role=\"status\" aria-live=\"polite\""));
    let namespaces = ["Email", "Phone"];
    let search = search_page(
        Lang::En,
        &SearchPage {
            query: "",
            ns: None,
            namespaces: &namespaces,
            outcome: SearchOutcome::Empty,
            recent: &[],
            viewer: None,
        },
    );
    check_structure(&search);
    check_structure(&error_page(
        Lang::En,
        &ErrorKind::ProfileTooLarge,
        "/console",
        None,
    ));
}

/// Landmarks, one h1, headings in order, unique ids, every label and reference pointing
/// somewhere, every control labelled.
fn check_structure(html: &str) {
    assert!(html.contains("<a class=\"skip\" href=\"#main\">"));
    assert!(html.contains("<main id=\"main\" tabindex=\"-1\">"));
    assert!(html.contains("<header class=\"top\">"));
    assert!(html.contains("<nav class=\"langs\" aria-label=\"Language\">"));
    assert_eq!(html.matches("<h1").count(), 1);
    let levels: Vec<u8> = html
        .match_indices("<h")
        .filter_map(|(i, _)| html.as_bytes().get(i + 2).copied())
        .filter(u8::is_ascii_digit)
        .map(|b| b - b'0')
        .collect();
    assert_eq!(levels.first(), Some(&1));
    assert!(
        levels.windows(2).all(|w| w[1] <= w[0] + 1),
        "no level skipped: {levels:?}"
    );
    let ids: Vec<&str> = html
        .match_indices(" id=\"")
        .map(|(i, m)| {
            let rest = &html[i + m.len()..];
            &rest[..rest.find('"').expect("quote")]
        })
        .collect();
    let mut unique = ids.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(unique.len(), ids.len(), "ids are unique");
    for attribute in [
        " for=\"",
        "aria-labelledby=\"",
        "aria-controls=\"",
        "aria-describedby=\"",
        "hx-target=\"#",
        "hx-include=\"#",
    ] {
        for (i, m) in html.match_indices(attribute) {
            let rest = &html[i + m.len()..];
            for target in rest[..rest.find('"').expect("quote")].split(' ') {
                assert!(ids.contains(&target), "{attribute}{target} points nowhere");
            }
        }
    }
    for control in ["<input id=\"", "<select id=\""] {
        for (i, m) in html.match_indices(control) {
            let rest = &html[i + m.len()..];
            let id = &rest[..rest.find('"').expect("quote")];
            assert!(html.contains(&format!("for=\"{id}\"")), "{id} has a label");
        }
    }
}

#[test]
fn truncated_events_are_announced() {
    let fixture = Fixture::new("profile-sam.json");
    let data = ProfileData {
        events_truncated: true,
        ..fixture.data("CRMID", "CRM-0008414")
    };
    let html = profile_page(Lang::En, &data);
    assert!(text(&html).contains("Summaries use the customer's 410 most recent events only."));
}

/// HTML + CSS + JS + htmx of Sam's profile page stays under 150 KB.
#[test]
fn page_weight() {
    let fixture = Fixture::new("profile-sam.json");
    let html = profile_page(Lang::En, &fixture.data("CRMID", "CRM-0008414"));
    let assets: usize = [&assets::CSS, &assets::JS, &assets::HTMX]
        .iter()
        .map(|a| a.bytes.len())
        .sum();
    let total = html.len() + assets;
    println!(
        "page weight: HTML {} + CSS {} + JS {} + htmx {} = {total} bytes",
        html.len(),
        assets::CSS.bytes.len(),
        assets::JS.bytes.len(),
        assets::HTMX.bytes.len()
    );
    assert!(total < 150 * 1024, "{total} bytes");
    for asset in [&assets::CSS, &assets::JS, &assets::HTMX] {
        assert!(html.contains(&asset.url()), "{} linked", asset.name);
    }
    assert!(
        assets::get("htmx-LICENSE.txt").is_some_and(|l| l.content_type.starts_with("text/plain"))
    );
}

/// What a role may not see (or a profile never had) leaves no empty row, dash or "not asked".
#[test]
fn missing_fields_leave_no_gap() {
    let mut profile = load("profile-maria.json");
    let entity = profile["P00000000000015e3"]["entity"]
        .as_object_mut()
        .expect("entity");
    for hidden in [
        "consents",
        "personalEmail",
        "mobilePhone",
        "loyalty",
        "_rapport",
        "person",
        "identityMap",
    ] {
        entity.remove(hidden);
    }
    let data = ProfileData::new("CRMID", "CRM-0003193", &profile, now());
    let overview = panel(Lang::En, Panel::Overview, &data);
    assert!(!overview.contains("consent-h"), "{overview}");
    assert!(!overview.contains("<dd></dd>") && !overview.contains("—"));
    assert!(
        text(&overview)
            .starts_with("CRMID CRM-0003193 Not a loyalty member Customer since 2025-12-27"),
        "{overview}"
    );
    assert!(text(&overview).contains("Address 8968 Maple Ave, Los Angeles, CA 90043, US"));
    assert!(!text(&overview).contains("Email"));
    let html = profile_page(Lang::En, &data);
    assert!(text(element(&html, "panel-scores")).contains("No scores yet"));
    assert!(
        text(element(&html, "panel-computed")).contains("No computed attribute has a value yet.")
    );
}

#[test]
fn the_sign_in_page_asks_for_name_and_password_and_says_why_it_is_shown() {
    let html = login_page(
        Lang::En,
        &LoginPage {
            next: "/console/profile/Email/sam%40example.com",
            login_token: "t0k3n",
            name: "",
            notice: None,
        },
    );
    check_structure(&html);
    assert!(html.contains(r#"<form class="signin-form" method="post" action="/console/login">"#));
    assert!(html.contains(r#"<input type="hidden" name="_login" value="t0k3n">"#));
    assert!(html.contains(
        r#"<input type="hidden" name="next" value="/console/profile/Email/sam%40example.com">"#
    ));
    assert!(html.contains(r#"autocomplete="current-password""#));
    assert!(
        !html.contains("signin-notice"),
        "no notice before an attempt"
    );
    assert!(!html.contains("Sign out"), "nobody is signed in");

    let cases = [
        (
            LoginNotice::InvalidCredentials,
            401,
            "The user name or the password is wrong.",
            "alert",
        ),
        (
            LoginNotice::Throttled { seconds: 16 },
            429,
            "Try again in 16 seconds.",
            "alert",
        ),
        (LoginNotice::FormExpired, 403, "The form expired.", "alert"),
        (
            LoginNotice::SessionEnded,
            200,
            "Your session ended.",
            "status",
        ),
        (LoginNotice::SignedOut, 200, "You are signed out.", "status"),
    ];
    for (notice, status, says, role) in cases {
        assert_eq!(notice.status(), status);
        let html = login_page(
            Lang::En,
            &LoginPage {
                next: "/console",
                login_token: "t",
                name: "ana",
                notice: Some(notice),
            },
        );
        let shown = text(&html);
        assert!(shown.contains(says), "{notice:?}: {shown}");
        assert!(html.contains(&format!("role=\"{role}\"")), "{notice:?}");
        assert!(html.contains(r#"value="ana" required"#), "the name is kept");
    }
    let spanish = login_page(
        Lang::Es,
        &LoginPage {
            next: "/console",
            login_token: "t",
            name: "",
            notice: Some(LoginNotice::SessionEnded),
        },
    );
    assert!(text(&spanish).contains("Su sesión terminó. Vuelva a iniciar sesión."));
    assert_eq!(LoginNotice::parse("ended"), Some(LoginNotice::SessionEnded));
    assert_eq!(
        LoginNotice::parse("signed-out"),
        Some(LoginNotice::SignedOut)
    );
    assert_eq!(LoginNotice::parse("whatever"), None);
}

#[test]
fn a_signed_in_page_names_the_user_and_carries_the_csrf_token_for_every_request() {
    let viewer = Viewer {
        name: "Ana <Agent>",
        csrf: "csrf-123",
        audit_log: false,
    };
    let html = search_page(
        Lang::En,
        &SearchPage {
            query: "",
            ns: None,
            namespaces: &["Email"],
            outcome: SearchOutcome::Empty,
            recent: &[],
            viewer: Some(viewer),
        },
    );
    check_structure(&html);
    assert!(html.contains(r#"<meta name="rapport-csrf" content="csrf-123">"#));
    assert!(
        html.contains(r#"hx-headers="{&quot;x-csrf-token&quot;:&quot;csrf-123&quot;}""#),
        "{html}"
    );
    assert!(html.contains(r#"<form class="signout" method="post" action="/console/logout">"#));
    assert!(html.contains(r#"<input type="hidden" name="_csrf" value="csrf-123">"#));
    assert!(text(&html).contains("Signed in as Ana <Agent>"));
    assert!(!html.contains("<Agent>"), "the name is escaped");
    let error = error_page(Lang::Es, &ErrorKind::NotPermitted, "/console", Some(viewer));
    assert!(text(&error).contains("Su rol no permite esta página."));
    assert!(text(&error).contains("Cerrar sesión"));
}

/// An answer of the audit API (`GET /data/foundation/audit/events`) in its wire shape, newest
/// first: an agent's console page, a key refused a lookup, a batch lookup of many profiles with
/// fields hidden by labels, a lookup that failed, and a sign-in; with a cursor to older entries.
fn audit_answer() -> Value {
    json!({
        "_embedded": {"events": [
            {"atMs": 1_795_893_296_123_i64, "seq": 0, "actor": {"kind": "user", "id": "ana", "role": "agent"},
             "via": "console", "client": {"address": "10.0.0.7"}, "action": "console.profile",
             "sandbox": "prod", "profiles": ["P00000000000039e4"],
             "identity": {"namespace": "CRMID", "hmac": "00112233445566778899aabbccddeeff"},
             "outcome": {"status": 200}},
            {"atMs": 1_795_893_200_000_i64, "seq": 0, "actor": {"kind": "key", "id": "0123456789abcdef0123"},
             "via": "api", "client": {"address": "192.0.2.1"}, "action": "profile.lookup",
             "sandbox": "prod", "profiles": [], "outcome": {"status": 403, "code": "action_not_permitted"}},
            {"atMs": 1_795_892_200_000_i64, "seq": 1, "actor": {"kind": "key", "id": "0123456789abcdef0123"},
             "via": "api", "client": {"address": "192.0.2.1"}, "action": "profile.lookup", "sandbox": "prod",
             "profiles": ["P0000000000000001", "P0000000000000002", "P0000000000000003", "P0000000000000004",
                          "P0000000000000005", "P0000000000000006", "P0000000000000007"],
             "fields": {"requested": ["person.name", "homeAddress.city"], "redactionStamp": 7, "redacted": 2},
             "outcome": {"status": 200}},
            {"atMs": 1_795_891_200_000_i64, "seq": 0, "actor": {"kind": "user", "id": "sol", "role": "supervisor"},
             "via": "api", "client": {}, "action": "profile.lookup", "sandbox": "prod", "profiles": [],
             "fields": {"requested": "all", "redacted": 0},
             "outcome": {"status": 404, "code": "profile_not_found"}},
            {"atMs": 1_795_890_200_000_i64, "seq": 0, "actor": {"kind": "user", "id": "ana", "role": "agent"},
             "via": "console", "client": {"address": "10.0.0.7"}, "action": "session.signin",
             "object": "ana", "profiles": [], "outcome": {"status": 303}}
        ]},
        "_page": {"count": 5, "next": "gAAB+/x"},
        "_links": {"next": {"href": "/data/foundation/audit/events?limit=50&cursor=gAAB%2B%2Fx"}}
    })
}

fn supervisor() -> Viewer<'static> {
    Viewer {
        name: "Sol Supervisor",
        csrf: "csrf-sol",
        audit_log: true,
    }
}

/// The cells of each body row of the audit table, as text.
fn audit_rows(html: &str) -> Vec<Vec<String>> {
    let table = element(html, "audit-table");
    let body = &table[table.find("<tbody>").expect("a body")..];
    body.split("<tr")
        .skip(1)
        .map(|row| {
            row.split("</t")
                .filter_map(|cell| cell.find('>').map(|at| text(&cell[at + 1..])))
                .filter(|cell| !cell.is_empty())
                .collect()
        })
        .collect()
}

#[test]
fn audit_page_lists_entries_newest_first_with_who_what_and_how_it_ended() {
    let answer = audit_answer();
    let filter = AuditFilter::default();
    let html = audit_page(
        Lang::En,
        &AuditPage {
            filter: &filter,
            answer: &answer,
            problem: None,
            profile_links: true,
            viewer: Some(supervisor()),
        },
    );
    check_structure(&html);
    let rows = audit_rows(&html);
    assert_eq!(rows.len(), 5, "{rows:?}");
    assert_eq!(
        rows[0],
        [
            "2026-11-28 19:14:56 UTC",
            "ana User, role agent",
            "console.profile",
            "Console",
            "P00000000000039e4",
            "—",
            "10.0.0.7",
            "200 answered",
        ]
    );
    assert_eq!(rows[1][1], "0123456789abcdef0123 API key");
    assert_eq!(rows[1][7], "403 refused action_not_permitted");
    assert_eq!(
        rows[2][4],
        "P0000000000000001 P0000000000000002 P0000000000000003 P0000000000000004 P0000000000000005 and 2 more"
    );
    assert_eq!(
        rows[2][5],
        "person.name, homeAddress.city 2 hidden by labels"
    );
    assert_eq!(rows[3][5], "All fields");
    assert_eq!(rows[3][6], "—");
    assert_eq!(rows[3][7], "404 failed profile_not_found");
    assert_eq!(rows[4][2], "session.signin ana", "what a change acted on");
    // The exact instant is kept; console.js leaves the UTC text alone.
    assert!(html.contains(
        r#"<time datetime="2026-11-28T19:14:56.123Z" data-local>2026-11-28 19:14:56 UTC</time>"#
    ));
    // Refusals stand out by word, class and colour; failures differently.
    assert_eq!(html.matches(r#"<tr class="refused">"#).count(), 1);
    assert_eq!(html.matches(r#"<tr class="failed">"#).count(), 1);
    assert!(html.contains(r#"<span class="outcome refused">403 refused</span>"#));
    // Profile ids open the profile; the page itself shows no identity value.
    assert!(html.contains(
        r#"<a class="mono" href="/console/audit/profile/P00000000000039e4">P00000000000039e4</a>"#
    ));
    assert!(!html.contains("00112233445566778899aabbccddeeff"));
    // Older entries through the API's cursor, the filters kept.
    assert!(html.contains(
        r#"<a id="audit-older" href="/console/audit?cursor=gAAB%2B%2Fx">Older entries</a>"#
    ));
    assert!(!html.contains("audit-newest"), "this is the newest page");
    assert!(text(&html).contains("5 entries, newest first."));
    // Column headers are headers of their columns, the time heads its row.
    for header in [
        "When",
        "Who",
        "Action",
        "Via",
        "Profiles",
        "Fields returned",
        "Client address",
        "Outcome",
    ] {
        assert!(
            html.contains(&format!(r#"<th scope="col">{header}</th>"#)),
            "{header}"
        );
    }
    assert_eq!(html.matches(r#"<th class="when" scope="row">"#).count(), 5);
    // The top bar links the audit log, marked as the current page.
    assert!(html.contains(r#"<nav class="sections" aria-label="Console sections"><ul><li><a href="/console/audit" aria-current="page">Audit log</a></li></ul></nav>"#));
    insta::assert_snapshot!("audit_table", lines(element(&html, "audit-table")));
}

#[test]
fn audit_page_keeps_its_filters_and_pages_back_to_the_newest() {
    let answer = audit_answer();
    let filter = AuditFilter::parse(
        Some("2026-11-28T19:00"),
        Some("2026-11-28T20:00"),
        Some("ana"),
        Some("console.profile"),
        Some("P00000000000039e4"),
        Some("gAAA"),
    );
    let html = audit_page(
        Lang::En,
        &AuditPage {
            filter: &filter,
            answer: &answer,
            problem: None,
            profile_links: false,
            viewer: Some(supervisor()),
        },
    );
    check_structure(&html);
    let form = element(&html, "audit-filter");
    for field in [
        r#"<input id="au-from" type="datetime-local" name="from" value="2026-11-28T19:00">"#,
        r#"<input id="au-to" type="datetime-local" name="to" value="2026-11-28T20:00">"#,
        r#"name="actor" value="ana""#,
        r#"name="action" value="console.profile""#,
        r#"name="profile" value="P00000000000039e4""#,
    ] {
        assert!(form.contains(field), "{field} in {form}");
    }
    assert!(form.contains(r#"<form class="filters audit-filters" id="audit-filter" method="get" action="/console/audit""#));
    assert!(form.contains(r#"<a href="/console/audit">Clear filters</a>"#));
    let kept = "from=2026-11-28T19%3A00&amp;to=2026-11-28T20%3A00&amp;actor=ana&amp;action=console.profile&amp;profile=P00000000000039e4";
    assert!(html.contains(&format!(
        r#"<a id="audit-older" href="/console/audit?{kept}&amp;cursor=gAAB%2B%2Fx">"#
    )));
    assert!(html.contains(&format!(
        r#"<a id="audit-newest" href="/console/audit?{kept}">"#
    )));
    // Without profiles.read, profile ids are shown but do not link.
    assert!(!html.contains("/console/audit/profile/"));
    assert!(html.contains(r#"<span class="mono">P00000000000039e4</span>"#));
    // The language switch comes back to this very page.
    assert!(html.contains(&format!(
        "back=%2Fconsole%2Faudit%3F{}",
        "from%3D2026-11-28T19%253A00"
    )));
}

#[test]
fn audit_page_says_when_nothing_matches_or_the_filters_are_refused() {
    let none = json!({"_embedded": {"events": []}, "_page": {"count": 0, "next": null}});
    let page = |filter: &AuditFilter, answer: &Value, problem: Option<&str>| {
        audit_page(
            Lang::En,
            &AuditPage {
                filter,
                answer,
                problem,
                profile_links: true,
                viewer: Some(supervisor()),
            },
        )
    };
    let html = page(&AuditFilter::default(), &none, None);
    check_structure(&html);
    assert!(text(&html).contains("The audit log has no entries yet."));
    assert!(!html.contains("audit-table") && !html.contains("audit-older"));
    let filtered = AuditFilter::parse(None, None, Some("nobody"), None, None, None);
    assert!(text(&page(&filtered, &none, None)).contains("No entry matches these filters."));
    let refused = AuditFilter::parse(None, None, None, None, Some("<b>x</b>"), None);
    let html = page(
        &refused,
        &Value::Null,
        Some("profileId: \"<b>x</b>\" is not a profile id"),
    );
    check_structure(&html);
    assert!(html.contains(r#"<p class="notice failure" id="audit-problem" role="alert">The filters could not be applied: profileId: &quot;&lt;b&gt;x&lt;/b&gt;&quot; is not a profile id</p>"#));
    assert!(!html.contains("<b>x"), "escaped");
}

#[test]
fn audit_page_in_spanish() {
    let answer = audit_answer();
    let html = audit_page(
        Lang::Es,
        &AuditPage {
            filter: &AuditFilter::default(),
            answer: &answer,
            problem: None,
            profile_links: true,
            viewer: Some(supervisor()),
        },
    );
    assert!(html.contains(r#"<html lang="es">"#));
    assert!(html.contains(r#"<h1 id="audit-h">Registro de auditoría</h1>"#));
    for header in [
        "Cuándo",
        "Quién",
        "Acción",
        "Vía",
        "Perfiles",
        "Campos devueltos",
        "Dirección del cliente",
        "Resultado",
    ] {
        assert!(
            html.contains(&format!(r#"<th scope="col">{header}</th>"#)),
            "{header}"
        );
    }
    let rows = audit_rows(&html);
    assert_eq!(rows[0][1], "ana Usuario, rol agent");
    assert_eq!(rows[0][3], "Consola");
    assert_eq!(rows[1][7], "403 rechazado action_not_permitted");
    assert_eq!(
        rows[2][5],
        "person.name, homeAddress.city 2 ocultos por etiquetas"
    );
    for shown in [
        "Desde (UTC)",
        "Hasta (UTC)",
        "Entradas anteriores",
        "Aplicar",
    ] {
        assert!(text(&html).contains(shown), "{shown}");
    }
    assert!(html.contains(r#"aria-current="page">Registro de auditoría</a>"#));
}

#[test]
fn only_viewers_whose_role_reads_the_audit_log_get_its_link() {
    let page = |viewer: Option<Viewer<'_>>| {
        search_page(
            Lang::En,
            &SearchPage {
                query: "",
                ns: None,
                namespaces: &["Email"],
                outcome: SearchOutcome::Empty,
                recent: &[],
                viewer,
            },
        )
    };
    let with = page(Some(supervisor()));
    check_structure(&with);
    assert!(with.contains(r#"<nav class="sections" aria-label="Console sections"><ul><li><a href="/console/audit">Audit log</a></li></ul></nav>"#));
    let agent = Viewer {
        audit_log: false,
        ..supervisor()
    };
    for html in [page(Some(agent)), page(None)] {
        assert!(
            !html.contains("/console/audit"),
            "no link without audit.read"
        );
        assert!(!html.contains("class=\"sections\""));
    }
}
