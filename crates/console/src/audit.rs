//! The audit log page, for supervisors (roles holding `audit.read`): one page of the audit API's
//! entries, newest first, as a table (when, who, action, via, profiles, fields returned, client
//! address, outcome), its filters in a GET form, and a link to the older entries.
//!
//! Times are shown and filtered in UTC, to the second, as the log keeps them: the page does not
//! let `console.js` move them into the agent's zone, so a time read in the table can be typed
//! into the filters as it is.

use maud::{html, Markup};
use serde_json::Value;
use time::format_description::BorrowedFormatItem;
use time::macros::format_description;
use time::{Duration, OffsetDateTime, PrimitiveDateTime};

use crate::format::{array_at, str_at};
use crate::lang::{Lang, Msg};
use crate::layout::{page, Shell, Viewer};
use crate::urls;

/// Entries per page of the audit page.
pub const AUDIT_PAGE: usize = 50;

/// How many profile ids a row lists before saying how many more there are.
const PROFILES_SHOWN: usize = 5;
/// How many field paths a row lists before saying how many more there are.
const FIELDS_SHOWN: usize = 6;

/// The audit page's filters, as typed in its form (trimmed; times in the form's
/// `YYYY-MM-DDTHH:MM[:SS]`, UTC), and the audit API's cursor of the page to show.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    /// Entries at or after this time (UTC).
    pub from: String,
    /// Entries up to this time (UTC), the minute (or second) it names included.
    pub to: String,
    /// A user name, or `kind:id` as the log names actors (`key:…`, `user:…`, `master:master`).
    pub actor: String,
    /// An action's name (`console.profile`, `profile.lookup`, …).
    pub action: String,
    /// A profile id (`P…`); the API adds the ids merged into it since.
    pub profile: String,
    /// The audit API's cursor of the page to show; `None` for the newest entries.
    pub cursor: Option<String>,
}

impl AuditFilter {
    /// Reads the page's query parameters. Times that parse are written back in the form's own
    /// format (a range given backwards is turned around); anything else is kept as typed, for
    /// the API to refuse naming the parameter.
    pub fn parse(
        from: Option<&str>,
        to: Option<&str>,
        actor: Option<&str>,
        action: Option<&str>,
        profile: Option<&str>,
        cursor: Option<&str>,
    ) -> AuditFilter {
        let text = |value: Option<&str>| value.map(str::trim).unwrap_or_default().to_owned();
        let mut from = normalise_time(&text(from));
        let mut to = normalise_time(&text(to));
        if let (Some((f, _)), Some((t, _))) = (parse_utc(&from), parse_utc(&to)) {
            if t < f {
                std::mem::swap(&mut from, &mut to);
            }
        }
        AuditFilter {
            from,
            to,
            actor: text(actor),
            action: text(action),
            profile: text(profile),
            cursor: cursor
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .map(str::to_owned),
        }
    }

    /// Whether any filter is set (the cursor is not a filter).
    pub fn is_filtered(&self) -> bool {
        [
            &self.from,
            &self.to,
            &self.actor,
            &self.action,
            &self.profile,
        ]
        .iter()
        .any(|f| !f.is_empty())
    }

    /// The query of the audit API call for this page (to follow
    /// `/data/foundation/audit/events?`): [`AUDIT_PAGE`] entries, `start` and `end` as RFC 3339
    /// (`end` just after the minute or second `to` names), `actor` as `kind:id` (a bare name is
    /// a user's), `action`, `profileId` and the cursor.
    pub fn api_query(&self) -> String {
        let mut pairs: Vec<(&str, String)> = vec![("limit", AUDIT_PAGE.to_string())];
        if !self.from.is_empty() {
            let start =
                parse_utc(&self.from).map_or_else(|| self.from.clone(), |(at, _)| rfc3339(at));
            pairs.push(("start", start));
        }
        if !self.to.is_empty() {
            let end = parse_utc(&self.to)
                .map_or_else(|| self.to.clone(), |(at, span)| rfc3339(at + span));
            pairs.push(("end", end));
        }
        if !self.actor.is_empty() {
            pairs.push(("actor", self.actor_filter()));
        }
        if !self.action.is_empty() {
            pairs.push(("action", self.action.clone()));
        }
        if !self.profile.is_empty() {
            pairs.push(("profileId", self.profile.clone()));
        }
        if let Some(cursor) = &self.cursor {
            pairs.push(("cursor", cursor.clone()));
        }
        pairs
            .iter()
            .map(|(key, value)| format!("{key}={}", urls::encode(value)))
            .collect::<Vec<_>>()
            .join("&")
    }

    /// This page with these filters, at the API's `cursor` (`None`: the newest entries).
    pub fn url(&self, cursor: Option<&str>) -> String {
        urls::audit(
            &self.from,
            &self.to,
            &self.actor,
            &self.action,
            &self.profile,
            cursor.unwrap_or(""),
        )
    }

    /// The actor as the API names it: user and key names are lower case, and a bare name is a
    /// console user's.
    fn actor_filter(&self) -> String {
        let actor = self.actor.to_lowercase();
        if actor.contains(':') {
            actor
        } else {
            format!("user:{actor}")
        }
    }
}

/// The form's times to the second and to the minute (as a `datetime-local` input takes them),
/// the API's filter times, and the table's exact and shown times.
const TO_THE_SECOND: &[BorrowedFormatItem<'_>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]");
const TO_THE_MINUTE: &[BorrowedFormatItem<'_>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]");
const API_TIME: &[BorrowedFormatItem<'_>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
const EXACT_TIME: &[BorrowedFormatItem<'_>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");
const SHOWN_TIME: &[BorrowedFormatItem<'_>] =
    format_description!("[year]-[month]-[day] [hour]:[minute]:[second] UTC");

/// A time typed in the form, read as UTC, with how long the text spans (a minute, or a second
/// when it gives seconds): `2026-05-01T14:03`, `2026-05-01T14:03:20`, or with a space for `T`.
fn parse_utc(text: &str) -> Option<(PrimitiveDateTime, Duration)> {
    let text = text.trim().replacen(' ', "T", 1);
    if let Ok(at) = PrimitiveDateTime::parse(&text, TO_THE_SECOND) {
        return Some((at, Duration::SECOND));
    }
    PrimitiveDateTime::parse(&text, TO_THE_MINUTE)
        .ok()
        .map(|at| (at, Duration::MINUTE))
}

/// A time as the form's `datetime-local` input takes it, when it parses; else as typed.
fn normalise_time(text: &str) -> String {
    let formatted = match parse_utc(text) {
        Some((at, span)) if span == Duration::SECOND => at.format(TO_THE_SECOND),
        Some((at, _)) => at.format(TO_THE_MINUTE),
        None => return text.to_owned(),
    };
    formatted.unwrap_or_else(|_| text.to_owned())
}

fn rfc3339(at: PrimitiveDateTime) -> String {
    at.format(API_TIME).unwrap_or_default()
}

/// What the audit page shows.
#[derive(Debug, Clone, Copy)]
pub struct AuditPage<'a> {
    /// The filters (and cursor) of this page.
    pub filter: &'a AuditFilter,
    /// The audit API's answer (`_embedded.events`, `_page.next`); `Value::Null` when it refused
    /// the filters.
    pub answer: &'a Value,
    /// Why the API refused the filters (its problem's detail), when it did.
    pub problem: Option<&'a str>,
    /// Whether profile ids link to the profile (the viewer's role may open customers).
    pub profile_links: bool,
    /// The signed-in user, if any.
    pub viewer: Option<Viewer<'a>>,
}

/// The audit log page, a full HTML document.
pub fn audit_page(lang: Lang, audit: &AuditPage<'_>) -> String {
    let filter = audit.filter;
    let here = filter.url(filter.cursor.as_deref());
    let entries = array_at(audit.answer, "/_embedded/events");
    let next = str_at(audit.answer, "/_page/next");
    let content = html! {
        section.audit-page aria-labelledby="audit-h" {
            h1 #audit-h { (lang.t(Msg::AuditTitle)) }
            p.muted { (lang.t(Msg::AuditIntro)) }
            (filter_form(lang, filter))
            @if let Some(problem) = audit.problem {
                p #audit-problem.notice.failure role="alert" { (lang.f(Msg::AuditProblem, &[&problem])) }
            } @else if entries.is_empty() {
                p #audit-empty.notice role="status" {
                    @if filter.is_filtered() || filter.cursor.is_some() {
                        (lang.t(Msg::AuditNoMatch))
                    } @else {
                        (lang.t(Msg::AuditEmpty))
                    }
                }
            } @else {
                p #audit-count.muted { (lang.f(Msg::AuditCount, &[&entries.len()])) }
                div.table-scroll {
                    table #audit-table.audit.compact aria-labelledby="audit-h" aria-describedby="audit-count" {
                        thead { tr {
                            th scope="col" { (lang.t(Msg::ColWhen)) }
                            th scope="col" { (lang.t(Msg::AuditActor)) }
                            th scope="col" { (lang.t(Msg::AuditAction)) }
                            th scope="col" { (lang.t(Msg::ColVia)) }
                            th scope="col" { (lang.t(Msg::ColProfiles)) }
                            th scope="col" { (lang.t(Msg::ColFields)) }
                            th scope="col" { (lang.t(Msg::ColClient)) }
                            th scope="col" { (lang.t(Msg::ColOutcome)) }
                        } }
                        tbody {
                            @for entry in entries { (entry_row(lang, entry, audit.profile_links)) }
                        }
                    }
                }
            }
            @if next.is_some() || filter.cursor.is_some() {
                nav.pager aria-label=(lang.t(Msg::AuditPages)) {
                    @if filter.cursor.is_some() {
                        a #audit-newest href=(filter.url(None)) { (lang.t(Msg::AuditNewest)) }
                    }
                    @if let Some(next) = next {
                        a #audit-older href=(filter.url(Some(next))) { (lang.t(Msg::AuditOlder)) }
                    }
                }
            }
        }
    };
    page(
        &Shell {
            lang,
            title: lang.t(Msg::AuditTitle),
            here: &here,
            live: None,
            top_search: true,
            viewer: audit.viewer,
        },
        content,
    )
}

fn filter_form(lang: Lang, filter: &AuditFilter) -> Markup {
    html! {
        form #audit-filter.filters.audit-filters method="get" action=(urls::ROUTE_AUDIT)
            aria-label=(lang.t(Msg::AuditFilterLabel)) {
            span.field {
                label for="au-from" { (lang.t(Msg::AuditFrom)) }
                input #au-from type="datetime-local" name="from" value=(filter.from);
            }
            span.field {
                label for="au-to" { (lang.t(Msg::AuditTo)) }
                input #au-to type="datetime-local" name="to" value=(filter.to);
            }
            span.field {
                label for="au-actor" { (lang.t(Msg::AuditActor)) }
                input #au-actor type="text" name="actor" value=(filter.actor) autocomplete="off"
                    spellcheck="false" aria-describedby="au-actor-hint";
            }
            span.field {
                label for="au-action" { (lang.t(Msg::AuditAction)) }
                input #au-action type="text" name="action" value=(filter.action) autocomplete="off"
                    spellcheck="false" placeholder="console.profile";
            }
            span.field {
                label for="au-profile" { (lang.t(Msg::AuditProfile)) }
                input #au-profile type="text" name="profile" value=(filter.profile) autocomplete="off"
                    spellcheck="false" placeholder="P…";
            }
            button type="submit" { (lang.t(Msg::ApplyFilter)) }
            @if filter.is_filtered() {
                a href=(urls::ROUTE_AUDIT) { (lang.t(Msg::AuditClear)) }
            }
            p #au-actor-hint.muted.small { (lang.t(Msg::AuditActorHint)) }
        }
    }
}

/// How an entry ended, as its styling and word: answered, refused (no credentials, not
/// allowed, rate limited, or the log could not take it) or failed.
fn outcome_of(status: u64) -> (&'static str, Msg) {
    match status {
        401 | 403 | 429 => ("refused", Msg::OutcomeRefused),
        400.. => ("failed", Msg::OutcomeFailed),
        _ => ("ok", Msg::OutcomeAnswered),
    }
}

fn entry_row(lang: Lang, entry: &Value, profile_links: bool) -> Markup {
    let status = entry
        .pointer("/outcome/status")
        .and_then(Value::as_u64)
        .unwrap_or(0);
    let (outcome, word) = outcome_of(status);
    html! {
        tr class=[(outcome != "ok").then_some(outcome)] {
            th.when scope="row" { (when(entry)) }
            td.who { (who(lang, &entry["actor"])) }
            td.action {
                code { (str_at(entry, "/action").unwrap_or("—")) }
                @if let Some(object) = str_at(entry, "/object") {
                    br;
                    span.muted.small { (object) }
                }
            }
            td.via { (via(lang, str_at(entry, "/via").unwrap_or(""))) }
            td.profiles { (profiles(lang, array_at(entry, "/profiles"), profile_links)) }
            td.fields { (fields(lang, &entry["fields"])) }
            td.client { (str_at(entry, "/client/address").unwrap_or("—")) }
            td.outcome {
                span class={ "outcome " (outcome) } { (status) " " (lang.t(word)) }
                @if let Some(code) = str_at(entry, "/outcome/code") {
                    br;
                    code.small { (code) }
                }
            }
        }
    }
}

/// The entry's time, UTC to the second (the exact instant, to the millisecond, in `datetime`).
fn when(entry: &Value) -> Markup {
    let Some(at) = entry
        .get("atMs")
        .and_then(Value::as_i64)
        .and_then(|ms| OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).ok())
    else {
        return html! { "—" };
    };
    let (Ok(exact), Ok(shown)) = (at.format(EXACT_TIME), at.format(SHOWN_TIME)) else {
        return html! { "—" };
    };
    // `data-local` tells console.js the text is final: the page stays in UTC, like its filters.
    html! { time datetime=(exact) data-local { (shown) } }
}

fn who(lang: Lang, actor: &Value) -> Markup {
    let kind = match str_at(actor, "/kind").unwrap_or("") {
        "user" => Msg::ActorUser,
        "key" => Msg::ActorKey,
        "master" => Msg::ActorMaster,
        "dev" => Msg::ActorDev,
        _ => Msg::ActorSystem,
    };
    html! {
        span.actor-id { (str_at(actor, "/id").unwrap_or("—")) }
        br;
        span.muted.small {
            (lang.t(kind))
            @if let Some(role) = str_at(actor, "/role") {
                ", " (lang.f(Msg::ActorRole, &[&role]))
            }
        }
    }
}

fn via(lang: Lang, via: &str) -> Markup {
    match via {
        "api" => html! { (lang.t(Msg::ViaApi)) },
        "console" => html! { (lang.t(Msg::ViaConsole)) },
        "cli" => html! { (lang.t(Msg::ViaCli)) },
        "" => html! { "—" },
        other => html! { (other) },
    }
}

fn profiles(lang: Lang, ids: &[Value], links: bool) -> Markup {
    let ids: Vec<&str> = ids.iter().filter_map(Value::as_str).collect();
    if ids.is_empty() {
        return html! { "—" };
    }
    let more = ids.len().saturating_sub(PROFILES_SHOWN);
    html! {
        ul.plain {
            @for id in ids.iter().take(PROFILES_SHOWN) {
                li {
                    @if links {
                        a.mono href=(urls::audit_profile(id)) { (id) }
                    } @else {
                        span.mono { (id) }
                    }
                }
            }
            @if more > 0 {
                li.muted { (lang.f(Msg::ProfilesMore, &[&more])) }
            }
        }
    }
}

fn fields(lang: Lang, fields: &Value) -> Markup {
    let hidden = fields.get("redacted").and_then(Value::as_u64).unwrap_or(0);
    let requested = match fields.get("requested") {
        Some(Value::String(all)) if all == "all" => html! { (lang.t(Msg::FieldsAll)) },
        Some(Value::Array(paths)) => {
            let paths: Vec<&str> = paths.iter().filter_map(Value::as_str).collect();
            let more = paths.len().saturating_sub(FIELDS_SHOWN);
            html! {
                span.mono { (paths.iter().take(FIELDS_SHOWN).copied().collect::<Vec<_>>().join(", ")) }
                @if more > 0 {
                    " " span.muted { (lang.f(Msg::ProfilesMore, &[&more])) }
                }
            }
        }
        _ => return html! { "—" },
    };
    html! {
        (requested)
        @if hidden > 0 {
            br;
            span.muted.small { (lang.f(Msg::FieldsHidden, &[&hidden])) }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filter(from: &str, to: &str, actor: &str) -> AuditFilter {
        AuditFilter::parse(Some(from), Some(to), Some(actor), None, None, None)
    }

    #[test]
    fn times_are_utc_and_to_includes_the_minute_it_names() {
        let f = filter("2026-05-01T10:00", "2026-05-01 11:30", "");
        assert_eq!(f.to, "2026-05-01T11:30");
        assert_eq!(
            f.api_query(),
            "limit=50&start=2026-05-01T10%3A00%3A00Z&end=2026-05-01T11%3A31%3A00Z"
        );
        let f = filter("", "2026-05-01T11:30:15", "");
        assert!(f.api_query().ends_with("end=2026-05-01T11%3A30%3A16Z"));
        let backwards = filter("2026-05-02T00:00", "2026-05-01T00:00", "");
        assert_eq!(
            (backwards.from.as_str(), backwards.to.as_str()),
            ("2026-05-01T00:00", "2026-05-02T00:00")
        );
        let garbage = filter("yesterday", "", "");
        assert_eq!(garbage.api_query(), "limit=50&start=yesterday");
    }

    #[test]
    fn a_bare_actor_is_a_user_and_other_filters_pass_through() {
        assert!(filter("", "", " Ana ")
            .api_query()
            .ends_with("actor=user%3Aana"));
        assert!(filter("", "", "key:0A1b")
            .api_query()
            .ends_with("actor=key%3A0a1b"));
        let f = AuditFilter::parse(
            None,
            None,
            None,
            Some("console.profile"),
            Some("P00000000000039e4"),
            Some("gAAB"),
        );
        assert_eq!(
            f.api_query(),
            "limit=50&action=console.profile&profileId=P00000000000039e4&cursor=gAAB"
        );
        assert!(f.is_filtered());
        assert!(!AuditFilter::parse(None, None, None, None, None, Some("x")).is_filtered());
        assert_eq!(
            f.url(Some("next")),
            "/console/audit?action=console.profile&profile=P00000000000039e4&cursor=next"
        );
    }
}
