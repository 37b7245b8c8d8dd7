//! Why a customer is (or is not) in an audience: the explain response rendered as a verdict and
//! the definition's clause tree with the values compared and the events that matched.

use maud::{html, Markup};
use serde_json::Value;

use crate::format::{array_at, str_at, time_el, TimeStyle};
use crate::lang::{Lang, Msg};

/// Deepest clause shown (definitions are capped far below this by the parser).
const MAX_DEPTH: usize = 24;
/// Matched events listed under a clause (the first the API lists).
const SHOWN_EVENTS: usize = 3;

/// The explanation of `/data/core/ups/segment/definitions/{id}/explain`, to swap into
/// `#segment-explain` on the profile page.
pub fn explanation_fragment(lang: Lang, explain: &Value) -> String {
    let name = str_at(explain, "/segmentName")
        .or_else(|| str_at(explain, "/segmentId"))
        .unwrap_or("");
    let qualifies = explain.get("qualifies").and_then(Value::as_bool) == Some(true);
    let excluded = explain.get("excludedByConsent").and_then(Value::as_bool) == Some(true);
    let markup = html! {
        h3 { (lang.f(Msg::ExplainTitle, &[&name])) }
        p class={ "verdict " (if qualifies { "yes" } else { "no" }) } {
            (lang.t(if qualifies { Msg::Qualifies } else { Msg::DoesNotQualify }))
        }
        @if excluded {
            p.notice { (lang.t(Msg::ExcludedByConsent)) }
        }
        @if let Some(since) = str_at(explain, "/membership/lastQualificationTime").filter(|_| qualifies) {
            p { (lang.t(Msg::MemberSince)) " " (time_el(since, TimeStyle::DateTime)) }
        }
        @if let Some(node) = explain.pointer("/explanation/root") {
            ul.clauses { (clause(lang, node, 0)) }
        }
        @if let Some(next) = str_at(explain, "/nextChangeAt") {
            p.muted.small { (lang.t(Msg::NextChange)) " " (time_el(next, TimeStyle::DateTime)) }
        }
        @if let Some(at) = str_at(explain, "/evaluatedAt") {
            p.muted.small { (lang.t(Msg::EvaluatedAt)) " " (time_el(at, TimeStyle::DateTime)) }
        }
    };
    markup.into_string()
}

fn clause(lang: Lang, node: &Value, depth: usize) -> Markup {
    let value = node.get("value").unwrap_or(&Value::Null);
    let state = match value {
        Value::Bool(true) => "holds",
        Value::Bool(false) => "fails",
        _ => "value",
    };
    let children = array_at(node, "/children");
    let matched = array_at(node, "/matchedEvents");
    html! {
        li class=(state) {
            span.mark aria-hidden="true" { (match value { Value::Bool(true) => "✓", Value::Bool(false) => "✗", _ => "=" }) }
            " "
            code { (str_at(node, "/text").unwrap_or("")) }
            " "
            span.outcome {
                @match value {
                    Value::Bool(b) => (lang.t(if *b { Msg::Holds } else { Msg::DoesNotHold })),
                    other => { "= " (shown(other)) }
                }
            }
            @if let Some(compared) = node.get("compared") {
                " (" (lang.f(Msg::ComparedValues, &[&shown(compared.get("left").unwrap_or(&Value::Null)), &shown(compared.get("right").unwrap_or(&Value::Null))])) ")"
            }
            @if let Some(count) = node.get("matchedEventCount").and_then(Value::as_u64) {
                br;
                span.muted.small {
                    (lang.f(Msg::MatchedEvents, &[&count]))
                    @if !matched.is_empty() {
                        ": "
                        @for (i, event) in matched.iter().take(SHOWN_EVENTS).enumerate() {
                            @if i > 0 { ", " }
                            @if let Some(at) = str_at(event, "/timestamp") { (time_el(at, TimeStyle::Date)) }
                        }
                        @if matched.len() > SHOWN_EVENTS || count as usize > matched.len() { "…" }
                    }
                }
            }
            @if !children.is_empty() && depth < MAX_DEPTH {
                ul { @for child in children { (clause(lang, child, depth + 1)) } }
            }
        }
    }
}

fn shown(value: &Value) -> String {
    match value {
        Value::String(s) => format!("\"{s}\""),
        other => other.to_string(),
    }
}
