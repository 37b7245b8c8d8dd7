//! The identity panel: every identity of the customer's graph with its namespace, when and from
//! which source it was linked, and the links the rules removed and the values they refused, with
//! the API's reasons rewritten in plain words.

use std::collections::BTreeMap;

use maud::{html, Markup};
use serde_json::Value;

use crate::format::{array_at, str_at, time_el, TimeStyle};
use crate::lang::{Lang, Msg};

/// The identity panel's inner HTML for an explained graph (`/data/core/identity/graph`);
/// `datasets` maps dataset ids to names (ids without a name are shown as they are).
pub fn identity_panel(lang: Lang, graph: &Value, datasets: &BTreeMap<String, String>) -> String {
    identity_inner(lang, graph, datasets).into_string()
}

/// People identities first, devices and cookies last.
fn namespace_rank(namespace: &str) -> usize {
    match namespace {
        "CRMID" => 0,
        "Email" => 1,
        "Phone" => 2,
        "LoyaltyID" => 3,
        "ECID" => 5,
        _ => 4,
    }
}

pub(crate) fn identity_inner(
    lang: Lang,
    graph: &Value,
    datasets: &BTreeMap<String, String>,
) -> Markup {
    let source = |item: &Value| {
        let id = str_at(item, "/dataset").unwrap_or("");
        datasets.get(id).cloned().unwrap_or_else(|| id.to_owned())
    };
    let mut identities: Vec<&Value> = array_at(graph, "/identities").iter().collect();
    identities.sort_by_key(|i| {
        let namespace = str_at(i, "/namespace").unwrap_or("");
        (
            namespace_rank(namespace),
            namespace.to_owned(),
            str_at(i, "/firstSeen").unwrap_or("").to_owned(),
        )
    });
    let mut counts: Vec<(&str, usize)> = Vec::new();
    for identity in &identities {
        let namespace = str_at(identity, "/namespace").unwrap_or("?");
        match counts.iter_mut().find(|(n, _)| *n == namespace) {
            Some((_, count)) => *count += 1,
            None => counts.push((namespace, 1)),
        }
    }
    let removed = array_at(graph, "/removedLinks");
    let refused = array_at(graph, "/refusedIdentities");
    html! {
        h2 #panel-identity-h { (lang.t(Msg::IdentityTitle)) }
        p.summary {
            (lang.f(Msg::IdentitySummary, &[&identities.len()]))
            @if !counts.is_empty() {
                ": "
                (counts.iter().map(|(n, c)| format!("{n} {c}")).collect::<Vec<_>>().join(" · "))
            }
        }
        div.scroll.tall {
            table.compact.identities {
                thead { tr {
                    th scope="col" { (lang.t(Msg::ColNamespace)) }
                    th scope="col" { (lang.t(Msg::ColValue)) }
                    th scope="col" { (lang.t(Msg::ColLinked)) }
                    th scope="col" { (lang.t(Msg::ColLastSeen)) }
                    th scope="col" { (lang.t(Msg::ColSource)) }
                } }
                tbody {
                    @for identity in &identities {
                        tr {
                            td { (str_at(identity, "/namespace").unwrap_or("?")) }
                            th scope="row" .mono { (str_at(identity, "/id").unwrap_or("")) }
                            td { @if let Some(at) = str_at(identity, "/firstSeen") { (time_el(at, TimeStyle::DateTime)) } }
                            td { @if let Some(at) = str_at(identity, "/lastSeen") { (time_el(at, TimeStyle::DateTime)) } }
                            td { (source(identity)) }
                        }
                    }
                }
            }
        }
        @if !removed.is_empty() {
            h3 { (lang.t(Msg::RemovedTitle)) " (" (removed.len()) ")" }
            div.scroll {
                @for (reason, links) in by_reason(removed, |raw| removal_reason(lang, raw)) {
                    p.reason title=(reason.1) { (reason.0) }
                    table.compact.removed {
                        thead { tr {
                            th scope="col" { (lang.t(Msg::ColLink)) }
                            th scope="col" { (lang.t(Msg::ColWhen)) }
                        } }
                        tbody {
                            @for link in links {
                                tr {
                                    td.mono { (identity_text(link, "/from")) " — " (identity_text(link, "/to")) }
                                    td { @if let Some(at) = str_at(link, "/removedAt") { (time_el(at, TimeStyle::DateTime)) } }
                                }
                            }
                        }
                    }
                }
            }
        }
        @if !refused.is_empty() {
            h3 { (lang.t(Msg::RefusedTitle)) " (" (refused.len()) ")" }
            @for (reason, identities) in by_reason(refused, |raw| refusal_reason(lang, raw)) {
                p.reason title=(reason.1) { (reason.0) }
                table.compact.refused {
                    thead { tr {
                        th scope="col" { (lang.t(Msg::ColValue)) }
                        th scope="col" { (lang.t(Msg::ColWhen)) }
                        th scope="col" { (lang.t(Msg::ColSource)) }
                    } }
                    tbody {
                        @for identity in identities {
                            tr {
                                td.mono { (identity_text(identity, "")) }
                                td { @if let Some(at) = str_at(identity, "/refusedAt") { (time_el(at, TimeStyle::DateTime)) } }
                                td { (source(identity)) }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Items grouped by their reason in plain words (with the API's own text), in first-seen order.
fn by_reason(
    items: &[Value],
    plain: impl Fn(&str) -> String,
) -> Vec<((String, &str), Vec<&Value>)> {
    let mut groups: Vec<((String, &str), Vec<&Value>)> = Vec::new();
    for item in items {
        let raw = str_at(item, "/reason").unwrap_or("");
        let reason = plain(raw);
        match groups.iter_mut().find(|((r, _), _)| *r == reason) {
            Some((_, members)) => members.push(item),
            None => groups.push(((reason, raw), vec![item])),
        }
    }
    groups
}

/// `Namespace value` of the identity at `pointer` (`""` for the item itself).
fn identity_text(item: &Value, pointer: &str) -> String {
    let namespace = str_at(item, &format!("{pointer}/namespace")).unwrap_or("?");
    let id = item
        .pointer(&format!("{pointer}/id"))
        .and_then(Value::as_str)
        .unwrap_or("");
    format!("{namespace} {id}")
}

/// The API's removal reason (`RemovalReason` in the engine) in plain words; a text of another
/// shape is shown as it is.
pub(crate) fn removal_reason(lang: Lang, text: &str) -> String {
    if let Some(rest) = text.strip_prefix("the graph reached its limit of ") {
        if let Some(limit) = rest.split(' ').next().filter(|n| n.parse::<u64>().is_ok()) {
            return lang.f(Msg::ReasonGraphLimit, &[&limit]);
        }
    }
    if let Some((namespace, rest)) = text.split_once(" is unique in a graph: ") {
        let kept = rest
            .strip_prefix(&format!("the more recent link to {namespace} "))
            .and_then(|r| r.split_once(" won, so the link to "));
        if let Some((kept, rest)) = kept {
            let refused = rest
                .strip_prefix(&format!("{namespace} "))
                .and_then(|r| r.strip_suffix(" was removed"));
            if let Some(refused) = refused {
                return lang.f(Msg::ReasonUnique, &[&namespace, &kept, &refused]);
            }
        }
    }
    text.to_owned()
}

/// The API's refusal reason (`Refusal::describe` in the engine) in plain words.
pub(crate) fn refusal_reason(lang: Lang, text: &str) -> String {
    let msg = if text.contains("block list") {
        Msg::ReasonBlocked
    } else if text.contains("placeholder") {
        Msg::ReasonPlaceholder
    } else if text.contains("empty") {
        Msg::ReasonEmpty
    } else if text.contains("longer than") {
        Msg::ReasonTooLong
    } else if text.contains("ECID must be") {
        Msg::ReasonMalformedEcid
    } else {
        return text.to_owned();
    };
    lang.t(msg).to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_engines_reasons_are_rewritten() {
        let unique = "CRMID is unique in a graph: the more recent link to CRMID CRM-0000002 won, so the link to CRMID CRM-0000001 was removed";
        assert_eq!(
            removal_reason(Lang::En, unique),
            "A customer can have only one CRMID: the newer link to CRM-0000002 won, so this link to CRM-0000001 was dropped (a shared device follows whoever signed in last)."
        );
        let limit = "the graph reached its limit of 50 identities, so its oldest least-specific identities were unlinked";
        assert!(removal_reason(Lang::Es, limit)
            .starts_with("El grafo de este cliente alcanzó su límite de 50"));
        assert_eq!(removal_reason(Lang::En, "new rule"), "new rule");
        for (text, expected) in [
            ("the value is empty or only whitespace", Msg::ReasonEmpty),
            ("the value is a placeholder (null, anonymous, invalid) that would link unrelated people", Msg::ReasonPlaceholder),
            ("the value is on the sandbox's block list", Msg::ReasonBlocked),
            ("the value is longer than 1024 characters", Msg::ReasonTooLong),
            ("an ECID must be exactly 38 digits", Msg::ReasonMalformedEcid),
        ] {
            assert_eq!(refusal_reason(Lang::En, text), Lang::En.t(expected), "{text}");
        }
    }
}
