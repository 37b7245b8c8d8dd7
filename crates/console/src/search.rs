//! The search page: one search box with an explicit namespace choice, the customers a search
//! matched (with enough to tell them apart), "not found", and the recently viewed customers.

use maud::{html, Markup};
use serde_json::Value;

use crate::customer;
use crate::format::{time_el, TimeStyle};
use crate::identity_input::Candidate;
use crate::lang::{Lang, Msg};
use crate::layout::{page, Shell, Viewer};
use crate::urls::{self, ProfileUrls};

/// What the search page shows.
#[derive(Debug, Clone, Copy)]
pub struct SearchPage<'a> {
    /// What the agent typed (`""` before any search).
    pub query: &'a str,
    /// The namespace the agent chose, `None` for "detect automatically".
    pub ns: Option<&'a str>,
    /// The sandbox's namespace codes, for the choice.
    pub namespaces: &'a [&'a str],
    /// The outcome of the search.
    pub outcome: SearchOutcome<'a>,
    /// Recently viewed customers, most recent first.
    pub recent: &'a [Recent],
    /// The signed-in user, if any.
    pub viewer: Option<Viewer<'a>>,
}

/// The outcome of a search.
#[derive(Debug, Clone, Copy)]
pub enum SearchOutcome<'a> {
    /// No search yet.
    Empty,
    /// No profile matched; the identities that were tried.
    NotFound(&'a [Candidate]),
    /// The profiles found (when exactly one matches the server may redirect to it instead).
    Matches(&'a [Match<'a>]),
}

/// One profile a search found.
#[derive(Debug, Clone, Copy)]
pub struct Match<'a> {
    /// The entity lookup response (or its item, or the entity).
    pub profile: &'a Value,
    /// RFC 3339 time of the customer's latest event, if known.
    pub last_activity: Option<&'a str>,
}

/// A recently viewed customer: the identity the profile was opened with and a name to show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recent {
    /// Namespace code.
    pub ns: String,
    /// Identity value.
    pub id: String,
    /// The customer's name (or the identity when there is none).
    pub name: String,
}

impl Recent {
    /// The entry for a profile (its primary identity and name), as the server records it when
    /// the profile page is shown.
    pub fn from_profile(profile: &Value) -> Option<Recent> {
        let entity = customer::entity(profile);
        let (ns, id) = customer::link_identity(entity)?;
        let name = customer::name(entity).unwrap_or_else(|| id.clone());
        Some(Recent { ns, id, name })
    }
}

/// The search page, a full HTML document.
pub fn search_page(lang: Lang, search: &SearchPage<'_>) -> String {
    let here = urls::search(search.query, search.ns);
    let content = html! {
        section.search-page aria-labelledby="search-h" {
            h1 #search-h { (lang.t(Msg::SearchTitle)) }
            (search_form(lang, search.query, search.ns, search.namespaces))
        }
        @match search.outcome {
            SearchOutcome::Empty => {}
            SearchOutcome::NotFound(tried) => (not_found(lang, search.query, tried)),
            SearchOutcome::Matches(matches) => (match_list(lang, search.query, matches)),
        }
        section.recent aria-labelledby="recent-h" {
            h2 #recent-h { (lang.t(Msg::RecentTitle)) }
            @if search.recent.is_empty() {
                p.muted { (lang.t(Msg::RecentEmpty)) }
            } @else {
                ul.recent-list {
                    @for recent in search.recent {
                        li {
                            a href=(ProfileUrls { ns: &recent.ns, id: &recent.id }.page()) { (recent.name) }
                            " "
                            span.muted { (recent.ns) " " (recent.id) }
                        }
                    }
                }
            }
        }
    };
    page(
        &Shell {
            lang,
            title: lang.t(Msg::SearchTitle),
            here: &here,
            live: None,
            top_search: false,
            viewer: search.viewer,
        },
        content,
    )
}

/// The big search form (also on error pages).
pub(crate) fn search_form(
    lang: Lang,
    query: &str,
    ns: Option<&str>,
    namespaces: &[&str],
) -> Markup {
    html! {
        form.search role="search" method="get" action=(urls::ROUTE_SEARCH) {
            label for="q" { (lang.t(Msg::SearchLabel)) }
            div.search-row {
                input #q type="search" name="q" value=(query) autocomplete="off"
                    spellcheck="false" autofocus aria-describedby="search-hint";
                label.sr-only for="ns" { (lang.t(Msg::NamespaceLabel)) }
                select #ns name="ns" title=(lang.t(Msg::NamespaceLabel)) {
                    option value="" selected[ns.is_none()] { (lang.t(Msg::DetectAutomatically)) }
                    @for namespace in namespaces {
                        option value=(namespace) selected[ns == Some(*namespace)] { (namespace) }
                    }
                }
                button type="submit" { (lang.t(Msg::SearchButton)) }
            }
            p #search-hint.muted { (lang.t(Msg::SearchHint)) }
        }
    }
}

fn not_found(lang: Lang, query: &str, tried: &[Candidate]) -> Markup {
    let tried_text = tried
        .iter()
        .map(|c| format!("{} {}", c.namespace, c.value))
        .collect::<Vec<_>>()
        .join(", ");
    html! {
        section.notice role="status" {
            p { strong { (lang.f(Msg::NotFound, &[&query.trim()])) } }
            @if !tried.is_empty() {
                p { (lang.f(Msg::NotFoundTried, &[&tried_text])) }
            }
            p { (lang.t(Msg::NotFoundHint)) }
        }
    }
}

fn match_list(lang: Lang, query: &str, matches: &[Match<'_>]) -> Markup {
    html! {
        section.matches aria-labelledby="matches-h" {
            h2 #matches-h { (lang.f(Msg::MatchesTitle, &[&matches.len(), &query.trim()])) }
            @if matches.len() > 1 { p.muted { (lang.t(Msg::MatchesHint)) } }
            table {
                thead { tr {
                    th scope="col" { (lang.t(Msg::ColName)) }
                    th scope="col" { (lang.t(Msg::ColEmail)) }
                    th scope="col" { (lang.t(Msg::Phone)) }
                    th scope="col" { (lang.t(Msg::ColCity)) }
                    th scope="col" { (lang.t(Msg::ColTier)) }
                    th scope="col" { (lang.t(Msg::ColLastActivity)) }
                } }
                tbody {
                    @for found in matches {
                        @let entity = customer::entity(found.profile);
                        @let link = customer::link_identity(entity);
                        @let name = customer::name(entity)
                            .or_else(|| customer::profile_id(found.profile).map(str::to_owned))
                            .unwrap_or_else(|| lang.t(Msg::Unknown).to_owned());
                        tr {
                            th scope="row" {
                                @match &link {
                                    Some((ns, id)) => a href=(ProfileUrls { ns, id }.page()) { (name) },
                                    None => (name),
                                }
                            }
                            td { (customer::email(entity).unwrap_or("—")) }
                            td { (customer::phone(entity).map(crate::format::phone).unwrap_or_else(|| "—".into())) }
                            td { (customer::city(entity).unwrap_or_else(|| "—".into())) }
                            td { (customer::tier(entity, lang).unwrap_or_else(|| "—".into())) }
                            td { @match found.last_activity {
                                Some(at) => (time_el(at, TimeStyle::DateTime)),
                                None => "—",
                            } }
                        }
                    }
                }
            }
        }
    }
}
