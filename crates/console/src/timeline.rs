//! The timeline: every experience event, newest first, filtered by kind and date range and paged
//! with htmx (the "more" button appends the next page), and the one mapping of event types to
//! kinds.

use maud::{html, Markup};
use serde_json::Value;
use time::{Date, OffsetDateTime, Time};

use crate::format::{self, array_at, num_at, parse_date, parse_time, str_at, time_el, TimeStyle};
use crate::lang::{Lang, Msg};
use crate::urls::{self, ProfileUrls};

/// Events per timeline page (the events API's `limit`).
pub const TIMELINE_PAGE: usize = 30;

/// What an event is about, for filtering and labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventKind {
    /// `commerce.purchases`.
    Purchase,
    /// `web.*` and the other `commerce.*` (product views, cart adds, checkouts).
    Web,
    /// `directMarketing.*` (sent, opened, clicked, unsubscribed, bounced).
    Email,
    /// `support.*` (calls and chats).
    Support,
    /// `application.*` (app launches).
    App,
    /// Anything else.
    Other,
}

impl EventKind {
    /// The kinds the timeline offers as filters.
    pub const FILTERS: [EventKind; 5] = [
        EventKind::Purchase,
        EventKind::Web,
        EventKind::Email,
        EventKind::Support,
        EventKind::App,
    ];

    /// The kind's name in URLs (`kind=`).
    pub fn name(self) -> &'static str {
        match self {
            EventKind::Purchase => "purchase",
            EventKind::Web => "web",
            EventKind::Email => "email",
            EventKind::Support => "support",
            EventKind::App => "app",
            EventKind::Other => "other",
        }
    }

    /// The kind of a `kind=` value.
    pub fn parse(name: &str) -> Option<EventKind> {
        [
            EventKind::Purchase,
            EventKind::Web,
            EventKind::Email,
            EventKind::Support,
            EventKind::App,
            EventKind::Other,
        ]
        .into_iter()
        .find(|k| k.name() == name)
    }

    /// The events API `property` filters that select exactly this kind (string ranges over
    /// `eventType`), or `None` when they cannot (web, other): then fetch unfiltered pages;
    /// [`timeline_fragment`] keeps only the events of the kind.
    pub fn api_filters(self) -> Option<&'static [&'static str]> {
        match self {
            EventKind::Purchase => Some(&["eventType=commerce.purchases"]),
            EventKind::Email => {
                Some(&["eventType>=directMarketing.", "eventType<directMarketing/"])
            }
            EventKind::Support => Some(&["eventType>=support.", "eventType<support/"]),
            EventKind::App => Some(&["eventType>=application.", "eventType<application/"]),
            EventKind::Web | EventKind::Other => None,
        }
    }

    fn label(self) -> Msg {
        match self {
            EventKind::Purchase => Msg::KindPurchase,
            EventKind::Web => Msg::KindWeb,
            EventKind::Email => Msg::KindEmail,
            EventKind::Support => Msg::KindSupport,
            EventKind::App => Msg::KindApp,
            EventKind::Other => Msg::KindOther,
        }
    }
}

/// The kind of an `eventType`.
pub fn event_kind(event_type: &str) -> EventKind {
    let family = event_type.split('.').next().unwrap_or("");
    match (family, event_type) {
        (_, "commerce.purchases") => EventKind::Purchase,
        ("commerce" | "web", _) => EventKind::Web,
        ("directMarketing", _) => EventKind::Email,
        ("support", _) => EventKind::Support,
        ("application", _) => EventKind::App,
        _ => EventKind::Other,
    }
}

/// The timeline's filters and page, from its URL's query (`kind`, `from`, `to` as
/// `YYYY-MM-DD`, both days included, in UTC; `start`: the events API's next-page cursor).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TimelineQuery {
    /// Only events of this kind.
    pub kind: Option<EventKind>,
    /// From this day (UTC) on.
    pub from: Option<Date>,
    /// Up to this day (UTC) included.
    pub to: Option<Date>,
    /// The events API cursor of the page to show; `None` for the first page.
    pub start: Option<String>,
}

impl TimelineQuery {
    /// Reads the query parameters; values that do not parse are ignored, and a range given
    /// backwards is turned around.
    pub fn parse(
        kind: Option<&str>,
        from: Option<&str>,
        to: Option<&str>,
        start: Option<&str>,
    ) -> TimelineQuery {
        let mut from = from.and_then(parse_date);
        let mut to = to.and_then(parse_date);
        if let (Some(f), Some(t)) = (from, to) {
            if t < f {
                (from, to) = (Some(t), Some(f));
            }
        }
        TimelineQuery {
            kind: kind.and_then(EventKind::parse),
            from,
            to,
            start: start
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned),
        }
    }

    /// The query parameters of the events API call for this page (to follow
    /// `/data/core/ups/access/entities?schema.name=_xdm.context.experienceevent&relatedSchema.name=_xdm.context.profile&relatedEntityId=…&relatedEntityIdNS=…&`):
    /// newest first, [`TIMELINE_PAGE`] events, the time window as `startTime`/`endTime`, the
    /// kind as `property` filters when it can be, and the cursor.
    pub fn api_query(&self) -> String {
        let mut pairs = vec![
            ("orderby".to_owned(), "-timestamp".to_owned()),
            ("limit".to_owned(), TIMELINE_PAGE.to_string()),
        ];
        if let Some(ms) = self.start_ms() {
            pairs.push(("startTime".into(), ms.to_string()));
        }
        if let Some(ms) = self.end_ms() {
            pairs.push(("endTime".into(), ms.to_string()));
        }
        for filter in self.kind.and_then(EventKind::api_filters).unwrap_or(&[]) {
            pairs.push(("property".into(), (*filter).to_owned()));
        }
        if let Some(start) = &self.start {
            pairs.push(("start".into(), start.clone()));
        }
        pairs
            .iter()
            .map(|(k, v)| format!("{k}={}", urls::encode(v)))
            .collect::<Vec<_>>()
            .join("&")
    }

    fn start_ms(&self) -> Option<i64> {
        self.from.map(day_start_ms)
    }

    fn end_ms(&self) -> Option<i64> {
        self.to.map(|d| day_start_ms(d) + 86_400_000)
    }

    fn keeps(&self, event: &Value) -> bool {
        let kind_ok = self
            .kind
            .is_none_or(|k| event_kind(str_at(event, "/eventType").unwrap_or("")) == k);
        let at = str_at(event, "/timestamp")
            .and_then(parse_time)
            .map(|t| (t.unix_timestamp_nanos() / 1_000_000) as i64);
        let time_ok = match at {
            Some(ms) => {
                self.start_ms().is_none_or(|s| ms >= s) && self.end_ms().is_none_or(|e| ms < e)
            }
            None => self.from.is_none() && self.to.is_none(),
        };
        kind_ok && time_ok
    }

    fn date_text(date: Option<Date>) -> String {
        date.map(|d| format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day()))
            .unwrap_or_default()
    }

    fn url(&self, urls: &ProfileUrls<'_>, start: &str) -> String {
        urls.timeline(
            self.kind.map_or("", EventKind::name),
            &Self::date_text(self.from),
            &Self::date_text(self.to),
            start,
        )
    }
}

fn day_start_ms(day: Date) -> i64 {
    (OffsetDateTime::new_utc(day, Time::MIDNIGHT).unix_timestamp()) * 1000
}

/// The entity of an events page child (`{"entity": …}`) or the event itself.
pub(crate) fn event_entity(child: &Value) -> &Value {
    child
        .get("entity")
        .filter(|e| e.is_object())
        .unwrap_or(child)
}

/// The events of an events page response (or a plain array of them), newest first.
pub(crate) fn page_events(page: &Value) -> Vec<&Value> {
    let mut events: Vec<&Value> = format::items(page, "children")
        .iter()
        .map(event_entity)
        .collect();
    events.sort_by_cached_key(|e| std::cmp::Reverse(str_at(e, "/timestamp").and_then(parse_time)));
    events
}

fn next_cursor(page: &Value) -> Option<String> {
    if let Some(next) = str_at(page, "/_page/next") {
        return Some(next.to_owned());
    }
    let href = str_at(page, "/_links/next/href")?;
    let query = href.split_once('?')?.1;
    query
        .split('&')
        .find_map(|pair| pair.strip_prefix("start="))
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
}

/// The timeline. Without a `start` cursor in `query`: the panel's inner HTML (heading, filter
/// form, first page, "more" button). With one: the events of that page as `<li>` elements, to
/// append to `#timeline-list`, and the next "more" button as an out-of-band swap.
///
/// `page` is the events API response for `query.api_query()`.
pub fn timeline_fragment(
    lang: Lang,
    urls: ProfileUrls<'_>,
    query: &TimelineQuery,
    page: &Value,
) -> String {
    let events: Vec<&Value> = page_events(page)
        .into_iter()
        .filter(|e| query.keeps(e))
        .collect();
    let more = more_button(
        lang,
        &urls,
        query,
        next_cursor(page).as_deref(),
        query.start.is_some(),
    );
    let markup = if query.start.is_some() {
        html! {
            @for event in &events { (event_item(lang, event)) }
            (more)
        }
    } else {
        html! {
            h2 #panel-timeline-h { (lang.t(Msg::TimelineTitle)) }
            (filter_form(lang, &urls, query))
            @if events.is_empty() {
                p.muted #timeline-empty { (lang.t(Msg::NoEvents)) }
            }
            ol #timeline-list.timeline {
                @for event in &events { (event_item(lang, event)) }
            }
            (more)
        }
    };
    markup.into_string()
}

fn more_button(
    lang: Lang,
    urls: &ProfileUrls<'_>,
    query: &TimelineQuery,
    next: Option<&str>,
    out_of_band: bool,
) -> Markup {
    html! {
        div #timeline-more hx-swap-oob=[out_of_band.then_some("true")] {
            @if let Some(next) = next {
                button type="button" hx-get=(query.url(urls, next)) hx-target="#timeline-list"
                    hx-swap="beforeend" {
                    (lang.t(Msg::MoreEvents))
                }
            }
        }
    }
}

fn filter_form(lang: Lang, urls: &ProfileUrls<'_>, query: &TimelineQuery) -> Markup {
    let base = urls.timeline("", "", "", "");
    html! {
        form #timeline-filter.filters method="get" action=(base) hx-get=(base)
            hx-target="#panel-timeline" hx-swap="innerHTML" hx-trigger="change, submit" {
            label for="tl-kind" { (lang.t(Msg::KindLabel)) }
            select #tl-kind name="kind" {
                option value="" selected[query.kind.is_none()] { (lang.t(Msg::KindAll)) }
                @for kind in EventKind::FILTERS {
                    option value=(kind.name()) selected[query.kind == Some(kind)] { (lang.t(kind.label())) }
                }
            }
            label for="tl-from" { (lang.t(Msg::FromLabel)) }
            input #tl-from type="date" name="from" value=(TimelineQuery::date_text(query.from));
            label for="tl-to" { (lang.t(Msg::ToLabel)) }
            input #tl-to type="date" name="to" value=(TimelineQuery::date_text(query.to));
            button type="submit" { (lang.t(Msg::ApplyFilter)) }
        }
    }
}

fn event_item(lang: Lang, event: &Value) -> Markup {
    let event_type = str_at(event, "/eventType").unwrap_or("");
    let kind = event_kind(event_type);
    let (label, detail) = describe(lang, event);
    html! {
        li class={ "ev ev-" (kind.name()) } {
            @if let Some(at) = str_at(event, "/timestamp") { (time_el(at, TimeStyle::DateTime)) }
            " "
            span.ev-kind { (label) }
            @if !detail.is_empty() {
                " "
                span.ev-text { (detail) }
            }
        }
    }
}

/// Product lines as `Camp Stove Kit ×1, Chalk Bag ×2`.
pub(crate) fn products(event: &Value) -> String {
    array_at(event, "/productListItems")
        .iter()
        .filter_map(|item| {
            let name = str_at(item, "/name").or_else(|| str_at(item, "/SKU"))?;
            Some(match num_at(item, "/quantity") {
                Some(q) => format!("{name} ×{}", format::plain_number(q)),
                None => name.to_owned(),
            })
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The order total of a purchase and its currency.
pub(crate) fn order_total(event: &Value) -> Option<(f64, &str)> {
    let total = num_at(event, "/commerce/order/priceTotal").or_else(|| {
        let lines = array_at(event, "/productListItems");
        (!lines.is_empty()).then(|| lines.iter().filter_map(|l| num_at(l, "/priceTotal")).sum())
    })?;
    let currency = str_at(event, "/commerce/order/currencyCode")
        .or_else(|| str_at(event, "/productListItems/0/currencyCode"))
        .unwrap_or("USD");
    Some((total, currency))
}

/// A support outcome in the page's language.
pub(crate) fn outcome(lang: Lang, outcome: &str) -> String {
    let msg = match outcome {
        "resolved" => Msg::OutcomeResolved,
        "escalated" => Msg::OutcomeEscalated,
        "unresolved" => Msg::OutcomeUnresolved,
        "callback_scheduled" => Msg::OutcomeCallback,
        "transferred" => Msg::OutcomeTransferred,
        other => return other.replace('_', " "),
    };
    lang.t(msg).to_owned()
}

/// An event's label and one line of detail.
fn describe(lang: Lang, event: &Value) -> (String, String) {
    let event_type = str_at(event, "/eventType").unwrap_or("");
    let campaign = || {
        str_at(event, "/marketing/campaignName")
            .unwrap_or("")
            .to_owned()
    };
    let (label, detail) = match event_type {
        "commerce.purchases" => {
            let mut parts = vec![products(event)];
            if let Some((total, currency)) = order_total(event) {
                parts.push(format::money(total, currency));
            }
            if let Some(order) = str_at(event, "/commerce/order/purchaseID") {
                parts.push(order.to_owned());
            }
            (Msg::EvPurchase, join(parts))
        }
        "commerce.checkouts" => (Msg::EvCheckout, products(event)),
        "commerce.productListAdds" => (Msg::EvCartAdd, products(event)),
        "commerce.productViews" => (Msg::EvProductView, products(event)),
        "web.webpagedetails.pageViews" => (
            Msg::EvPageView,
            str_at(event, "/web/webPageDetails/name")
                .unwrap_or("")
                .to_owned(),
        ),
        "application.launch" => (
            Msg::EvAppLaunch,
            join(
                ["/device/model", "/environment/operatingSystem"]
                    .iter()
                    .filter_map(|p| str_at(event, p).map(str::to_owned))
                    .collect(),
            ),
        ),
        "directMarketing.emailSent" => (Msg::EvEmailSent, campaign()),
        "directMarketing.emailOpened" => (Msg::EvEmailOpened, campaign()),
        "directMarketing.emailClicked" => (Msg::EvEmailClicked, campaign()),
        "directMarketing.emailUnsubscribed" => (Msg::EvEmailUnsubscribed, campaign()),
        "directMarketing.emailBounced" => (Msg::EvEmailBounced, campaign()),
        "support.call" | "support.chat" => {
            let label = if event_type == "support.call" {
                Msg::EvCall
            } else {
                Msg::EvChat
            };
            let mut parts = Vec::new();
            if let Some(reason) = str_at(event, "/support/reason") {
                parts.push(reason.to_owned());
            }
            if let Some(o) = str_at(event, "/support/outcome") {
                parts.push(outcome(lang, o));
            }
            if let Some(s) = num_at(event, "/support/satisfaction") {
                parts.push(lang.f(Msg::OutOfFive, &[&format::plain_number(s)]));
            }
            if let Some(d) = num_at(event, "/support/durationSeconds") {
                parts.push(format::duration(d));
            }
            (label, join(parts))
        }
        other => return (other.to_owned(), String::new()),
    };
    (lang.t(label).to_owned(), detail)
}

fn join(parts: Vec<String>) -> String {
    parts
        .into_iter()
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join(" · ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_demo_event_type_has_its_kind() {
        let expected = [
            ("application.launch", EventKind::App),
            ("commerce.checkouts", EventKind::Web),
            ("commerce.productListAdds", EventKind::Web),
            ("commerce.productViews", EventKind::Web),
            ("commerce.purchases", EventKind::Purchase),
            ("directMarketing.emailSent", EventKind::Email),
            ("directMarketing.emailOpened", EventKind::Email),
            ("directMarketing.emailClicked", EventKind::Email),
            ("directMarketing.emailUnsubscribed", EventKind::Email),
            ("directMarketing.emailBounced", EventKind::Email),
            ("support.call", EventKind::Support),
            ("support.chat", EventKind::Support),
            ("web.webpagedetails.pageViews", EventKind::Web),
            ("decisioning.propositionDisplay", EventKind::Other),
        ];
        for (event_type, kind) in expected {
            assert_eq!(event_kind(event_type), kind, "{event_type}");
        }
    }

    /// The API's string ranges select exactly the kind's event types.
    #[test]
    fn api_filters_select_the_kind() {
        let types = [
            "application.launch",
            "commerce.checkouts",
            "commerce.purchases",
            "directMarketing.emailSent",
            "directMarketing.emailBounced",
            "support.call",
            "support.chat",
            "web.webpagedetails.pageViews",
        ];
        for kind in EventKind::FILTERS {
            let Some(filters) = kind.api_filters() else {
                continue;
            };
            for event_type in types {
                let selected = filters.iter().all(|f| {
                    let (op, value) = if let Some(v) = f.strip_prefix("eventType>=") {
                        (">=", v)
                    } else if let Some(v) = f.strip_prefix("eventType<") {
                        ("<", v)
                    } else {
                        ("=", f.strip_prefix("eventType=").unwrap())
                    };
                    match op {
                        ">=" => event_type >= value,
                        "<" => event_type < value,
                        _ => event_type == value,
                    }
                });
                assert_eq!(
                    selected,
                    event_kind(event_type) == kind,
                    "{kind:?} {event_type}"
                );
            }
        }
    }

    #[test]
    fn query_parsing_and_api_parameters() {
        let query = TimelineQuery::parse(
            Some("email"),
            Some("2026-10-31"),
            Some("2026-10-01"),
            Some(" gAAB "),
        );
        assert_eq!(query.kind, Some(EventKind::Email));
        assert_eq!(query.from.unwrap().to_string(), "2026-10-01");
        assert_eq!(
            query.api_query(),
            "orderby=-timestamp&limit=30&startTime=1790812800000&endTime=1793491200000&property=eventType%3E%3DdirectMarketing.&property=eventType%3CdirectMarketing%2F&start=gAAB"
        );
        assert_eq!(
            TimelineQuery::parse(Some("nonsense"), Some("2026-13-01"), None, Some("")),
            TimelineQuery::default()
        );
    }
}
