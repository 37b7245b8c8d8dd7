//! The profile page and its panels: who the customer is and what they agreed to, what they are
//! worth and whether they are at risk, audiences, purchases, campaigns, support, spend, computed
//! attributes, the timeline and the identity graph. Each panel can be rendered alone for an htmx
//! refresh.
//!
//! Bands (shown in words as well as colour):
//! - churn propensity (chance of no purchase within the model's horizon): **Low** below 40 %,
//!   **Medium** from 40 %, **High** from 70 %;
//! - predicted lifetime value (the model's horizon, usually 52 weeks): **Low** below $250,
//!   **Medium** from $250, **High** from $1,000.

use std::collections::BTreeMap;

use maud::{html, Markup};
use serde_json::Value;
use time::{Duration, OffsetDateTime};

use crate::chart::{monthly_spend, spend_chart};
use crate::customer;
use crate::format::{
    self, array_at, date_el, money, num_at, parse_time, percent, plain_number, str_at, time_el,
    TimeStyle,
};
use crate::identity::identity_inner;
use crate::lang::{Lang, Msg};
use crate::layout::{page, Shell, Viewer};
use crate::timeline::{
    event_entity, event_kind, order_total, outcome, products, timeline_fragment, EventKind,
    TimelineQuery,
};
use crate::urls::ProfileUrls;

/// Churn propensity from which the band is Medium.
pub const CHURN_MEDIUM: f64 = 0.4;
/// Churn propensity from which the band is High.
pub const CHURN_HIGH: f64 = 0.7;
/// Predicted lifetime value (dollars) from which the band is Medium.
pub const VALUE_MEDIUM: f64 = 250.0;
/// Predicted lifetime value (dollars) from which the band is High.
pub const VALUE_HIGH: f64 = 1000.0;

/// Rows the purchases and support panels list.
const RECENT_ROWS: usize = 5;

static NULL: Value = Value::Null;
static NO_DATASETS: BTreeMap<String, String> = BTreeMap::new();

/// Everything the profile page shows, as the HTTP API returns it. Each [`Panel`] says which
/// fields it reads, so a panel refresh only needs to load those.
#[derive(Debug, Clone, Copy)]
pub struct ProfileData<'a> {
    /// Namespace of the identity the page was opened with; every URL of the page uses it.
    pub ns: &'a str,
    /// Value of that identity.
    pub id: &'a str,
    /// The entity lookup response with `withCA=true` (`{"<profileId>": {"entity": …}}`), or its
    /// item, or the entity.
    pub profile: &'a Value,
    /// The customer's experience events of the last 12 months, newest first (the `children` of
    /// the events API pages, or their entities).
    pub events: &'a [Value],
    /// True when `events` was cut short of 12 months (too many events): the page says so.
    pub events_truncated: bool,
    /// The first timeline page: the events API response for
    /// `TimelineQuery::default().api_query()`.
    pub timeline: &'a Value,
    /// The segment definitions (the definitions list response, or its `segments` array).
    pub segments: &'a Value,
    /// The computed attribute definitions (the list response, or its `computedAttributes`).
    pub computed_attributes: &'a Value,
    /// The explained identity graph (`/data/core/identity/graph`); `None` loads the identity
    /// panel with htmx after the page (it can be large).
    pub graph: Option<&'a Value>,
    /// Dataset id to name (the catalog's `dataSets`), to name identity sources.
    pub datasets: &'a BTreeMap<String, String>,
    /// The current time (tenure, the last 12 months).
    pub now: OffsetDateTime,
    /// The signed-in user, if any.
    pub viewer: Option<Viewer<'a>>,
}

impl<'a> ProfileData<'a> {
    /// The data of a profile with nothing but the lookup response; fill in the rest with struct
    /// update syntax.
    pub fn new(ns: &'a str, id: &'a str, profile: &'a Value, now: OffsetDateTime) -> Self {
        ProfileData {
            ns,
            id,
            profile,
            events: &[],
            events_truncated: false,
            timeline: &NULL,
            segments: &NULL,
            computed_attributes: &NULL,
            graph: None,
            datasets: &NO_DATASETS,
            now,
            viewer: None,
        }
    }

    fn urls(&self) -> ProfileUrls<'a> {
        ProfileUrls {
            ns: self.ns,
            id: self.id,
        }
    }

    fn entity(&self) -> &'a Value {
        customer::entity(self.profile)
    }

    /// The events of the last 12 months of one kind, newest first.
    fn events_of(&self, kind: EventKind) -> Vec<&'a Value> {
        let since = self.now - Duration::days(366);
        let mut events: Vec<&Value> = self
            .events
            .iter()
            .map(event_entity)
            .filter(|e| event_kind(str_at(e, "/eventType").unwrap_or("")) == kind)
            .filter(|e| {
                str_at(e, "/timestamp")
                    .and_then(parse_time)
                    .is_some_and(|t| t >= since)
            })
            .collect();
        events.sort_by_cached_key(|e| {
            std::cmp::Reverse(str_at(e, "/timestamp").and_then(parse_time))
        });
        events
    }
}

/// One refreshable part of the profile page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Panel {
    /// Name, contact details, loyalty, tenure and consents. Reads `profile`, `now`.
    Overview,
    /// Lifetime value and churn propensity with reasons. Reads `profile`.
    Scores,
    /// Audience badges. Reads `profile`, `segments`.
    Segments,
    /// Recent purchases. Reads `events`, `now`.
    Purchases,
    /// Spend per month. Reads `events`, `now`.
    Spend,
    /// Campaign exposure. Reads `events`, `now`.
    Campaigns,
    /// Support history. Reads `events`, `now`.
    Support,
    /// Computed attributes. Reads `profile`, `computed_attributes`.
    Computed,
    /// The timeline's first page. Reads `timeline` (refreshed through the timeline URL, with
    /// the filters in use).
    Timeline,
    /// The identity graph. Reads `graph`, `datasets`.
    Identity,
}

impl Panel {
    /// Every panel, in page order.
    pub const ALL: [Panel; 10] = [
        Panel::Overview,
        Panel::Scores,
        Panel::Segments,
        Panel::Purchases,
        Panel::Spend,
        Panel::Campaigns,
        Panel::Support,
        Panel::Computed,
        Panel::Timeline,
        Panel::Identity,
    ];

    /// The panel's name in URLs (`/panel/{name}`).
    pub fn name(self) -> &'static str {
        match self {
            Panel::Overview => "overview",
            Panel::Scores => "scores",
            Panel::Segments => "segments",
            Panel::Purchases => "purchases",
            Panel::Spend => "spend",
            Panel::Campaigns => "campaigns",
            Panel::Support => "support",
            Panel::Computed => "computed",
            Panel::Timeline => "timeline",
            Panel::Identity => "identity",
        }
    }

    /// The panel of a URL name.
    pub fn parse(name: &str) -> Option<Panel> {
        Panel::ALL.into_iter().find(|p| p.name() == name)
    }

    /// The element id (`panel-{name}`).
    pub fn element_id(self) -> String {
        format!("panel-{}", self.name())
    }

    /// The server-sent event names that refresh this panel.
    pub fn live_events(self) -> &'static [&'static str] {
        match self {
            Panel::Overview => &["profile"],
            Panel::Scores | Panel::Computed => &["profile", "events"],
            Panel::Segments => &["segments"],
            Panel::Purchases | Panel::Spend | Panel::Campaigns | Panel::Support => &["events"],
            Panel::Timeline => &["events"],
            Panel::Identity => &["identity"],
        }
    }

    /// The URL that refreshes the panel.
    pub fn url(self, urls: &ProfileUrls<'_>) -> String {
        match self {
            Panel::Timeline => urls.timeline("", "", "", ""),
            other => urls.panel(other.name()),
        }
    }
}

/// The profile page, a full HTML document.
pub fn profile_page(lang: Lang, data: &ProfileData<'_>) -> String {
    let entity = data.entity();
    let urls = data.urls();
    let title = customer::name(entity).unwrap_or_else(|| format!("{} {}", data.ns, data.id));
    let here = urls.page();
    let live = urls.live();
    let section = |p: Panel| panel_section(lang, data, p);
    let content = html! {
        (section(Panel::Overview))
        @if data.events_truncated {
            p.notice role="note" { (lang.f(Msg::EventsTruncated, &[&data.events.len()])) }
        }
        div.grid {
            div.col {
                (section(Panel::Scores))
                (section(Panel::Segments))
                div #segment-explain.panel.explain aria-live="polite" {
                    p.muted { (lang.t(Msg::ExplainHint)) }
                }
            }
            div.col {
                (section(Panel::Purchases))
                (section(Panel::Spend))
            }
            div.col { (section(Panel::Campaigns)) }
            div.col {
                (section(Panel::Support))
                (section(Panel::Computed))
            }
        }
        div.lower {
            (section(Panel::Timeline))
            (section(Panel::Identity))
        }
    };
    page(
        &Shell {
            lang,
            title: &title,
            here: &here,
            live: Some(&live),
            top_search: true,
            viewer: data.viewer,
        },
        content,
    )
}

/// One panel's inner HTML (what its `hx-get` swaps in).
pub fn panel(lang: Lang, which: Panel, data: &ProfileData<'_>) -> String {
    panel_inner(lang, which, data).into_string()
}

fn panel_section(lang: Lang, data: &ProfileData<'_>, which: Panel) -> Markup {
    let urls = data.urls();
    let id = which.element_id();
    let lazy = which == Panel::Identity && data.graph.is_none();
    let trigger = if lazy { "load, refresh" } else { "refresh" };
    let include = (which == Panel::Timeline).then_some("#timeline-filter");
    html! {
        section id=(id) class={ "panel " (which.name()) } aria-labelledby={ (id) "-h" }
            aria-live="polite" data-live=(which.live_events().join(" "))
            hx-get=(which.url(&urls)) hx-trigger=(trigger) hx-swap="innerHTML"
            hx-include=[include] hx-disinherit="*" {
            @if lazy {
                h2 id={ (id) "-h" } { (lang.t(Msg::IdentityTitle)) }
                p.muted { (lang.t(Msg::Loading)) }
            } @else {
                (panel_inner(lang, which, data))
            }
        }
    }
}

fn panel_inner(lang: Lang, which: Panel, data: &ProfileData<'_>) -> Markup {
    match which {
        Panel::Overview => overview(lang, data),
        Panel::Scores => scores(lang, data),
        Panel::Segments => segments(lang, data),
        Panel::Purchases => purchases(lang, data),
        Panel::Spend => spend(lang, data),
        Panel::Campaigns => campaigns(lang, data),
        Panel::Support => support(lang, data),
        Panel::Computed => computed(lang, data),
        Panel::Timeline => maud::PreEscaped(timeline_fragment(
            lang,
            data.urls(),
            &TimelineQuery::default(),
            data.timeline,
        )),
        Panel::Identity => match data.graph {
            Some(graph) => identity_inner(lang, graph, data.datasets),
            None => html! {
                h2 #panel-identity-h { (lang.t(Msg::IdentityTitle)) }
                p.muted { (lang.t(Msg::IdentityNotLoaded)) }
            },
        },
    }
}

fn heading(lang: Lang, which: Panel, msg: Msg) -> Markup {
    html! { h2 id={ (which.element_id()) "-h" } { (lang.t(msg)) } }
}

// ---- Overview -------------------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Consent {
    No,
    Yes,
    Unknown,
}

fn consent(value: Option<&str>) -> Consent {
    match value.map(str::to_ascii_lowercase).as_deref() {
        Some("n" | "dn") => Consent::No,
        Some("y" | "dy") => Consent::Yes,
        _ => Consent::Unknown,
    }
}

fn overview(lang: Lang, data: &ProfileData<'_>) -> Markup {
    let entity = data.entity();
    let name = customer::name(entity).unwrap_or_else(|| format!("{} {}", data.ns, data.id));
    let address = address(entity);
    let since = customer_since(entity);
    html! {
        div.who {
            h1 #panel-overview-h { (name) }
            p.loyalty {
                @match customer::tier(entity, lang) {
                    Some(tier) => {
                        span class={ "tier tier-" (str_at(entity, "/loyalty/tier").unwrap_or("").to_ascii_lowercase()) } { (tier) }
                        @if let Some(points) = num_at(entity, "/loyalty/points") {
                            " " (lang.f(Msg::Points, &[&format::number(points, 0)]))
                        }
                        @if let Some(program) = str_at(entity, "/loyalty/program") { " · " (program) }
                    },
                    None => span.muted { (lang.t(Msg::NotAMember)) },
                }
            }
            @if let Some((text, at)) = since {
                p.tenure {
                    (lang.t(Msg::CustomerSince)) " " (time_el(text, TimeStyle::Date))
                    " (" (tenure(lang, at, data.now)) ")"
                }
            }
        }
        dl.contact aria-label=(lang.t(Msg::ContactDetails)) {
            @if let Some(email) = customer::email(entity) {
                div { dt { (lang.t(Msg::ColEmail)) } dd { (email) } }
            }
            @if let Some(phone) = customer::phone(entity) {
                div { dt { (lang.t(Msg::Phone)) } dd { (format::phone(phone)) } }
            }
            @if let Some(address) = address {
                div { dt { (lang.t(Msg::Address)) } dd { (address) } }
            }
            @if let Some(birth) = str_at(entity, "/person/birthDate") {
                div { dt { (lang.t(Msg::Born)) } dd { (date_el(birth)) } }
            }
            @if let Some(language) = str_at(entity, "/preferredLanguage") {
                div { dt { (lang.t(Msg::PreferredLanguage)) } dd { (language) } }
            }
            @if let Some(pid) = customer::profile_id(data.profile) {
                div { dt { (lang.t(Msg::ProfileId)) } dd.mono { (pid) } }
            }
        }
        (consents(lang, entity))
    }
}

fn address(entity: &Value) -> Option<String> {
    let street = str_at(entity, "/homeAddress/street1");
    let city = str_at(entity, "/homeAddress/city");
    let region = [
        str_at(entity, "/homeAddress/stateProvince"),
        str_at(entity, "/homeAddress/postalCode"),
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>()
    .join(" ");
    let country = str_at(entity, "/homeAddress/countryCode")
        .or_else(|| str_at(entity, "/homeAddress/country"));
    let parts: Vec<&str> = [street, city, Some(region.as_str()), country]
        .into_iter()
        .flatten()
        .filter(|p| !p.is_empty())
        .collect();
    (!parts.is_empty()).then(|| parts.join(", "))
}

/// The earliest of the CRM record's creation and the loyalty join date.
fn customer_since(entity: &Value) -> Option<(&str, OffsetDateTime)> {
    ["/extSourceSystemAudit/createdDate", "/loyalty/joinDate"]
        .iter()
        .filter_map(|p| {
            let text = str_at(entity, p)?;
            Some((text, parse_time(text)?))
        })
        .min_by_key(|(_, at)| *at)
}

fn tenure(lang: Lang, since: OffsetDateTime, now: OffsetDateTime) -> String {
    let months = (now.year() - since.year()) * 12 + i32::from(u8::from(now.month()))
        - i32::from(u8::from(since.month()))
        - i32::from(now.day() < since.day());
    match months {
        m if m < 1 => lang.t(Msg::TenureNew).to_owned(),
        1 => lang.t(Msg::TenureMonth).to_owned(),
        m if m < 24 => lang.f(Msg::TenureMonths, &[&m]),
        m => lang.f(Msg::TenureYears, &[&(m / 12)]),
    }
}

/// The consent badges; nothing at all when the profile carries no marketing consents (never
/// asked, or hidden from this agent), rather than a row of "not asked".
fn consents(lang: Lang, entity: &Value) -> Markup {
    if entity.pointer("/consents/marketing").is_none() {
        return html! {};
    }
    let channel = |name: &str| {
        let val = str_at(entity, &format!("/consents/marketing/{name}/val"));
        let at = str_at(entity, &format!("/consents/marketing/{name}/time"));
        (consent(val), at, val.is_some())
    };
    let any = channel("any");
    let mut badges: Vec<(Consent, Msg, Option<&str>)> = Vec::new();
    if any.0 == Consent::No {
        badges.push((Consent::No, Msg::DoNotContact, any.1));
    }
    for (name, no, yes, unknown) in [
        ("call", Msg::DoNotCall, Msg::CallOk, Msg::CallUnknown),
        ("email", Msg::EmailOptOut, Msg::EmailOk, Msg::EmailUnknown),
        ("sms", Msg::SmsOptOut, Msg::SmsOk, Msg::SmsUnknown),
    ] {
        let (state, at, _) = channel(name);
        let msg = match state {
            Consent::No => no,
            Consent::Yes => yes,
            Consent::Unknown => unknown,
        };
        badges.push((state, msg, at));
    }
    badges.sort_by_key(|b| b.0);
    let preferred = str_at(entity, "/consents/marketing/preferred").map(|p| match p {
        "call" | "phone" => lang.t(Msg::ChannelCall).to_owned(),
        "email" => lang.t(Msg::ChannelEmail).to_owned(),
        "sms" => lang.t(Msg::ChannelSms).to_owned(),
        other => other.to_owned(),
    });
    html! {
        div.consent role="group" aria-labelledby="consent-h" {
            h2 #consent-h { (lang.t(Msg::ConsentTitle)) }
            ul.badges {
                @for (state, msg, at) in badges {
                    @let class = match state { Consent::No => "badge no", Consent::Yes => "badge yes", Consent::Unknown => "badge unknown" };
                    li class=(class) {
                        (lang.t(msg))
                        @if let (Consent::No, Some(at)) = (state, at) {
                            " " small { (lang.t(Msg::Since)) " " (time_el(at, TimeStyle::Date)) }
                        }
                    }
                }
            }
            @if let Some(preferred) = preferred {
                p.preferred { (lang.f(Msg::Preferred, &[&preferred])) }
            }
        }
    }
}

// ---- Scores ---------------------------------------------------------------------------------

/// The object holding computed attributes and scores: `_{tenant}.SystemComputedAttributes`.
fn system_attributes(entity: &Value) -> Option<&serde_json::Map<String, Value>> {
    entity.as_object()?.iter().find_map(|(key, value)| {
        if key.starts_with('_') {
            value.get("SystemComputedAttributes")?.as_object()
        } else {
            None
        }
    })
}

#[derive(Clone, Copy)]
enum Band {
    Low,
    Medium,
    High,
}

impl Band {
    fn of(value: f64, medium: f64, high: f64) -> Band {
        if value >= high {
            Band::High
        } else if value >= medium {
            Band::Medium
        } else {
            Band::Low
        }
    }

    fn label(self) -> Msg {
        match self {
            Band::Low => Msg::BandLow,
            Band::Medium => Msg::BandMedium,
            Band::High => Msg::BandHigh,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Band::Low => "low",
            Band::Medium => "medium",
            Band::High => "high",
        }
    }
}

fn scores(lang: Lang, data: &ProfileData<'_>) -> Markup {
    let attributes = system_attributes(data.entity());
    let ltv = attributes.and_then(|a| a.get("lifetimeValue"));
    let churn = attributes.and_then(|a| a.get("churnPropensity"));
    html! {
        (heading(lang, Panel::Scores, Msg::ScoresTitle))
        @if ltv.is_none() && churn.is_none() {
            p.muted { (lang.t(Msg::NoScores)) }
        }
        @if let Some(ltv) = ltv {
            div.score {
                h3 { (lang.t(Msg::LifetimeValue)) }
                dl.figures {
                    @if let Some(spent) = num_at(ltv, "/historicalValue") {
                        div { dt { (lang.t(Msg::SpentToDate)) } dd.big { (money(spent, "USD")) } }
                    }
                    @if let Some(predicted) = num_at(ltv, "/value") {
                        @let band = Band::of(predicted, VALUE_MEDIUM, VALUE_HIGH);
                        div {
                            dt { (lang.f(Msg::PredictedValue, &[&plain_number(num_at(ltv, "/horizonWeeks").unwrap_or(52.0))])) }
                            dd.big {
                                (money(predicted, "USD")) " "
                                span class={ "band value-" (band.name()) } { (lang.t(band.label())) }
                            }
                        }
                    }
                }
                @if let (Some(purchases), Some(alive)) = (num_at(ltv, "/expectedPurchases"), num_at(ltv, "/probabilityAlive")) {
                    p.muted { (lang.f(Msg::ExpectedPurchases, &[&format::number(purchases, 1), &percent(alive)])) }
                }
            }
        }
        @if let Some(churn) = churn {
            @if let Some(value) = num_at(churn, "/value") {
                @let band = Band::of(value, CHURN_MEDIUM, CHURN_HIGH);
                div.score {
                    h3 { (lang.t(Msg::ChurnRisk)) }
                    p.big {
                        span class={ "band churn-" (band.name()) } { (lang.t(band.label())) }
                        " " (percent(value))
                        " " span.muted { (lang.f(Msg::ChurnHorizon, &[&plain_number(num_at(churn, "/horizonDays").unwrap_or(90.0))])) }
                    }
                    div.meter aria-hidden="true" { span class={ "churn-" (band.name()) } style={ "width:" (format!("{:.0}", value.clamp(0.0, 1.0) * 100.0)) "%" } {} }
                    @let reasons = array_at(churn, "/reasons");
                    @if !reasons.is_empty() {
                        ul.reasons {
                            @for reason in reasons {
                                @let raises = str_at(reason, "/direction") == Some("raisesChurnRisk");
                                li class=(if raises { "raises" } else { "lowers" }) {
                                    span.dir { (if raises { "▲ " } else { "▼ " }) (lang.t(if raises { Msg::RaisesRisk } else { Msg::LowersRisk })) ":" }
                                    " " (str_at(reason, "/text").unwrap_or(""))
                                }
                            }
                        }
                    }
                }
            }
        }
        @if let Some(at) = churn.or(ltv).and_then(|s| str_at(s, "/scoredAt")) {
            p.muted.small { (lang.t(Msg::ScoredAt)) " " (time_el(at, TimeStyle::DateTime)) }
        }
    }
}

// ---- Segments -------------------------------------------------------------------------------

fn segments(lang: Lang, data: &ProfileData<'_>) -> Markup {
    let urls = data.urls();
    let definitions = format::items(data.segments, "segments");
    let definition = |id: &str| definitions.iter().find(|d| str_at(d, "/id") == Some(id));
    let memberships = data
        .entity()
        .pointer("/segmentMembership/ups")
        .and_then(Value::as_object);
    let mut current = Vec::new();
    let mut left = Vec::new();
    for (id, membership) in memberships.into_iter().flatten() {
        let found = definition(id);
        let name = found
            .and_then(|d| str_at(d, "/name"))
            .unwrap_or(id)
            .to_owned();
        let description = found.and_then(|d| str_at(d, "/description"));
        match str_at(membership, "/status") {
            Some("realized" | "existing") => current.push((name, id.as_str(), description)),
            Some("exited") => left.push(name),
            _ => {}
        }
    }
    current.sort();
    left.sort();
    html! {
        (heading(lang, Panel::Segments, Msg::SegmentsTitle))
        @if current.is_empty() {
            p.muted { (lang.t(Msg::SegmentsNone)) }
        } @else {
            ul.badges.segments {
                @for (name, id, description) in &current {
                    li {
                        button.badge.seg type="button" hx-get=(urls.explain(id))
                            hx-target="#segment-explain" hx-swap="innerHTML"
                            aria-controls="segment-explain" title=[description]
                            aria-label=(lang.f(Msg::WhyButton, &[name])) {
                            (name)
                        }
                    }
                }
            }
        }
        @if !left.is_empty() {
            p.muted.small { (lang.t(Msg::SegmentsLeft)) " " (left.join(", ")) }
        }
    }
}

// ---- Purchases, spend -----------------------------------------------------------------------

fn purchases(lang: Lang, data: &ProfileData<'_>) -> Markup {
    let purchases = data.events_of(EventKind::Purchase);
    let total: f64 = purchases
        .iter()
        .filter_map(|p| order_total(p).map(|(t, _)| t))
        .sum();
    let currency = purchases
        .first()
        .and_then(|p| order_total(p))
        .map_or("USD", |(_, c)| c);
    html! {
        (heading(lang, Panel::Purchases, Msg::PurchasesTitle))
        @if purchases.is_empty() {
            p.muted { (lang.t(Msg::PurchasesNone)) }
        } @else {
            p.summary { (lang.f(Msg::PurchasesSummary, &[&purchases.len(), &money(total, currency)])) }
            table.compact {
                thead { tr {
                    th scope="col" { (lang.t(Msg::ColDate)) }
                    th scope="col" { (lang.t(Msg::ColProducts)) }
                    th scope="col" class="num" { (lang.t(Msg::ColTotal)) }
                } }
                tbody {
                    @for purchase in purchases.iter().take(RECENT_ROWS) {
                        tr {
                            td { @if let Some(at) = str_at(purchase, "/timestamp") { (time_el(at, TimeStyle::Date)) } }
                            td { (products(purchase)) }
                            td.num { @if let Some((t, c)) = order_total(purchase) { (money(t, c)) } }
                        }
                    }
                }
            }
        }
    }
}

fn spend(lang: Lang, data: &ProfileData<'_>) -> Markup {
    let purchases = data.events_of(EventKind::Purchase);
    let currency = purchases
        .first()
        .and_then(|p| order_total(p))
        .map_or("USD", |(_, c)| c);
    let months = monthly_spend(&purchases, data.now);
    html! {
        (heading(lang, Panel::Spend, Msg::SpendTitle))
        (spend_chart(lang, &months, currency))
    }
}

// ---- Campaigns ------------------------------------------------------------------------------

#[derive(Default)]
struct Exposure<'a> {
    name: &'a str,
    sent: Option<&'a str>,
    latest: Option<OffsetDateTime>,
    opened: bool,
    clicked: bool,
    unsubscribed: bool,
    bounced: bool,
}

fn campaigns(lang: Lang, data: &ProfileData<'_>) -> Markup {
    let mut by_campaign: Vec<(&str, Exposure<'_>)> = Vec::new();
    for event in data.events_of(EventKind::Email) {
        let Some(key) = str_at(event, "/marketing/campaignID")
            .or_else(|| str_at(event, "/marketing/campaignName"))
        else {
            continue;
        };
        let index = match by_campaign.iter().position(|(k, _)| *k == key) {
            Some(i) => i,
            None => {
                by_campaign.push((key, Exposure::default()));
                by_campaign.len() - 1
            }
        };
        let exposure = &mut by_campaign[index].1;
        if exposure.name.is_empty() {
            exposure.name = str_at(event, "/marketing/campaignName").unwrap_or(key);
        }
        let at = str_at(event, "/timestamp");
        exposure.latest = exposure.latest.max(at.and_then(parse_time));
        match str_at(event, "/eventType").unwrap_or("") {
            "directMarketing.emailSent" => exposure.sent = exposure.sent.or(at),
            "directMarketing.emailOpened" => exposure.opened = true,
            "directMarketing.emailClicked" => exposure.clicked = true,
            "directMarketing.emailUnsubscribed" => exposure.unsubscribed = true,
            "directMarketing.emailBounced" => exposure.bounced = true,
            _ => {}
        }
    }
    by_campaign.sort_by_key(|(_, e)| std::cmp::Reverse(e.latest));
    let count = |f: fn(&Exposure<'_>) -> bool| by_campaign.iter().filter(|(_, e)| f(e)).count();
    let sent = count(|e| e.sent.is_some());
    let opened = count(|e| e.opened || e.clicked);
    let clicked = count(|e| e.clicked);
    html! {
        (heading(lang, Panel::Campaigns, Msg::CampaignsTitle))
        @if by_campaign.is_empty() {
            p.muted { (lang.t(Msg::CampaignsNone)) }
        } @else {
            p.summary { (lang.f(Msg::CampaignsSummary, &[&sent, &opened, &clicked])) }
            div.scroll {
                table.compact {
                    thead { tr {
                        th scope="col" { (lang.t(Msg::ColCampaign)) }
                        th scope="col" { (lang.t(Msg::ColSent)) }
                        th scope="col" { (lang.t(Msg::ColResponse)) }
                    } }
                    tbody {
                        @for (_, e) in &by_campaign {
                            tr {
                                th scope="row" { (e.name) }
                                td { @if let Some(at) = e.sent { (time_el(at, TimeStyle::Date)) } @else { "—" } }
                                td {
                                    @if e.bounced { span.chip.no { (lang.t(Msg::Bounced)) } " " }
                                    @if e.unsubscribed { span.chip.no { (lang.t(Msg::Unsubscribed)) } " " }
                                    @if e.clicked { span.chip.yes { (lang.t(Msg::Clicked)) } " " }
                                    @if e.opened && !e.clicked { span.chip.yes { (lang.t(Msg::Opened)) } " " }
                                    @if !(e.opened || e.clicked || e.bounced || e.unsubscribed) {
                                        span.muted { (lang.t(Msg::NotOpened)) }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

// ---- Support --------------------------------------------------------------------------------

fn support(lang: Lang, data: &ProfileData<'_>) -> Markup {
    let contacts = data.events_of(EventKind::Support);
    let ratings: Vec<f64> = contacts
        .iter()
        .filter_map(|c| num_at(c, "/support/satisfaction"))
        .collect();
    let average = (!ratings.is_empty())
        .then(|| ratings.iter().sum::<f64>() / ratings.len() as f64)
        .map_or_else(
            || "—".to_owned(),
            |a| lang.f(Msg::OutOfFive, &[&format::number(a, 1)]),
        );
    html! {
        (heading(lang, Panel::Support, Msg::SupportTitle))
        @if contacts.is_empty() {
            p.muted { (lang.t(Msg::SupportNone)) }
        } @else {
            p.summary { (lang.f(Msg::SupportSummary, &[&contacts.len(), &average])) }
            table.compact {
                thead { tr {
                    th scope="col" { (lang.t(Msg::ColDate)) }
                    th scope="col" { (lang.t(Msg::ColReason)) }
                    th scope="col" { (lang.t(Msg::ColOutcome)) }
                    th scope="col" class="num" { (lang.t(Msg::ColSatisfaction)) }
                } }
                tbody {
                    @for contact in contacts.iter().take(RECENT_ROWS) {
                        @let channel = if str_at(contact, "/eventType") == Some("support.chat") { Msg::Chat } else { Msg::Call };
                        @let satisfaction = num_at(contact, "/support/satisfaction");
                        tr {
                            td {
                                @if let Some(at) = str_at(contact, "/timestamp") { (time_el(at, TimeStyle::Date)) }
                                br; span.muted { (lang.t(channel)) @if let Some(d) = num_at(contact, "/support/durationSeconds") { " · " (format::duration(d)) } }
                            }
                            td { (str_at(contact, "/support/reason").unwrap_or("—")) }
                            td { (str_at(contact, "/support/outcome").map_or_else(|| "—".to_owned(), |o| outcome(lang, o))) }
                            td.num.low[satisfaction.is_some_and(|s| s <= 2.0)] {
                                @match satisfaction {
                                    Some(s) => (lang.f(Msg::OutOfFive, &[&plain_number(s)])),
                                    None => "—",
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

// ---- Computed attributes --------------------------------------------------------------------

fn computed(lang: Lang, data: &ProfileData<'_>) -> Markup {
    let definitions = format::items(data.computed_attributes, "computedAttributes");
    let values = system_attributes(data.entity());
    let mut rows: Vec<(String, String)> = Vec::new();
    if let Some(values) = values {
        let scores = ["lifetimeValue", "churnPropensity"];
        let mut names: Vec<&str> = definitions
            .iter()
            .filter_map(|d| str_at(d, "/name"))
            .filter(|n| values.contains_key(*n))
            .collect();
        names.extend(
            values
                .keys()
                .map(String::as_str)
                .filter(|k| !scores.contains(k) && !names.contains(k))
                .collect::<Vec<_>>(),
        );
        for name in names {
            let label = definitions
                .iter()
                .find(|d| str_at(d, "/name") == Some(name))
                .and_then(|d| str_at(d, "/displayName"))
                .unwrap_or(name);
            let value = match values.get(name).and_then(|v| v.get("value")) {
                Some(Value::Number(n)) => n.as_f64().map_or_else(|| n.to_string(), plain_number),
                Some(Value::String(s)) => s.clone(),
                Some(Value::Bool(b)) => lang.t(if *b { Msg::Yes } else { Msg::No }).to_owned(),
                Some(Value::Null) | None => "—".to_owned(),
                Some(other) => other.to_string(),
            };
            rows.push((label.to_owned(), value));
        }
    }
    html! {
        (heading(lang, Panel::Computed, Msg::ComputedTitle))
        @if rows.is_empty() {
            p.muted { (lang.t(Msg::ComputedNone)) }
        } @else {
            dl.pairs {
                @for (label, value) in &rows {
                    div { dt { (label) } dd { (value) } }
                }
            }
        }
    }
}
