//! The spend-over-time chart: monthly purchase totals over the last 12 months as hand-made SVG
//! bars, with a title and description for screen readers and the same numbers as a table.

use maud::{html, Markup};
use serde_json::Value;
use time::{Month, OffsetDateTime};

use crate::format::{money, parse_time, str_at};
use crate::lang::{Lang, Msg};
use crate::timeline::order_total;

/// One month's purchases.
pub(crate) struct MonthSpend {
    pub year: i32,
    pub month: Month,
    pub total: f64,
}

/// The totals of `purchases` per month, for the 12 calendar months (UTC) ending with `now`'s.
pub(crate) fn monthly_spend(purchases: &[&Value], now: OffsetDateTime) -> Vec<MonthSpend> {
    let now = now.to_offset(time::UtcOffset::UTC);
    let mut months: Vec<MonthSpend> = (0..12)
        .rev()
        .map(|back| {
            let index = now.year() * 12 + i32::from(u8::from(now.month())) - 1 - back;
            MonthSpend {
                year: index.div_euclid(12),
                month: Month::try_from((index.rem_euclid(12) + 1) as u8).unwrap_or(Month::January),
                total: 0.0,
            }
        })
        .collect();
    for purchase in purchases {
        let Some(at) = str_at(purchase, "/timestamp").and_then(parse_time) else {
            continue;
        };
        let at = at.to_offset(time::UtcOffset::UTC);
        if let Some(slot) = months
            .iter_mut()
            .find(|m| m.year == at.year() && m.month == at.month())
        {
            slot.total += order_total(purchase).map_or(0.0, |(total, _)| total);
        }
    }
    months
}

pub(crate) fn month_name(lang: Lang, month: Month) -> &'static str {
    let msg = match month {
        Month::January => Msg::Month1,
        Month::February => Msg::Month2,
        Month::March => Msg::Month3,
        Month::April => Msg::Month4,
        Month::May => Msg::Month5,
        Month::June => Msg::Month6,
        Month::July => Msg::Month7,
        Month::August => Msg::Month8,
        Month::September => Msg::Month9,
        Month::October => Msg::Month10,
        Month::November => Msg::Month11,
        Month::December => Msg::Month12,
    };
    lang.t(msg)
}

const WIDTH: f64 = 300.0;
const BASELINE: f64 = 96.0;
const TOP: f64 = 14.0;

/// The chart (SVG) and its data table.
pub(crate) fn spend_chart(lang: Lang, months: &[MonthSpend], currency: &str) -> Markup {
    let total: f64 = months.iter().map(|m| m.total).sum();
    let peak = months
        .iter()
        .max_by(|a, b| a.total.total_cmp(&b.total))
        .filter(|m| m.total > 0.0);
    let scale = peak.map_or(0.0, |p| (BASELINE - TOP) / p.total);
    let slot = WIDTH / months.len().max(1) as f64;
    let label = |m: &MonthSpend| format!("{} {}", month_name(lang, m.month), m.year);
    let description = match peak {
        Some(p) => lang.f(
            Msg::SpendChartDesc,
            &[
                &money(total, currency),
                &label(p),
                &money(p.total, currency),
            ],
        ),
        None => lang.f(
            Msg::SpendChartDesc,
            &[&money(0.0, currency), &"—", &money(0.0, currency)],
        ),
    };
    html! {
        svg.chart viewBox="0 0 300 112" role="img" aria-labelledby="spend-title spend-desc"
            xmlns="http://www.w3.org/2000/svg" {
            title #spend-title { (lang.t(Msg::SpendChartTitle)) }
            desc #spend-desc { (description) }
            @if let Some(p) = peak {
                text.axis x="0" y="9" { (money(p.total, currency)) }
                line.grid x1="0" x2="300" y1=(TOP) y2=(TOP) {}
            }
            line.axis-line x1="0" x2="300" y1=(BASELINE) y2=(BASELINE) {}
            @for (i, m) in months.iter().enumerate() {
                @let height = (m.total * scale).max(if m.total > 0.0 { 1.0 } else { 0.0 });
                @let x = i as f64 * slot;
                g {
                    title { (label(m)) ": " (money(m.total, currency)) }
                    rect.bar x=(fixed(x + slot * 0.15)) y=(fixed(BASELINE - height))
                        width=(fixed(slot * 0.7)) height=(fixed(height)) {}
                    text.axis x=(fixed(x + slot / 2.0)) y="108" text-anchor="middle" {
                        (initial(month_name(lang, m.month)))
                    }
                }
            }
        }
        details.chart-data {
            summary { (lang.t(Msg::SpendData)) }
            table {
                caption.sr-only { (lang.t(Msg::SpendChartTitle)) }
                thead { tr { th scope="col" { (lang.t(Msg::ColMonth)) } th scope="col" { (lang.t(Msg::ColSpend)) } } }
                tbody {
                    @for m in months {
                        tr { th scope="row" { (label(m)) } td.num { (money(m.total, currency)) } }
                    }
                }
            }
        }
    }
}

/// The first letter of a month's name, upper-cased.
fn initial(name: &str) -> String {
    name.chars().take(1).flat_map(char::to_uppercase).collect()
}

fn fixed(value: f64) -> String {
    let text = format!("{value:.1}");
    text.strip_suffix(".0").map_or(text.clone(), str::to_owned)
}
