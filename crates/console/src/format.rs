//! Small formatting helpers shared by the pages: reading JSON fields, amounts, numbers, phone
//! numbers, durations and `<time>` elements (which the browser rewrites in the agent's zone).

use maud::{html, Markup};
use serde_json::Value;
use time::format_description::well_known::Rfc3339;
use time::{Date, OffsetDateTime};

/// The string at a JSON pointer, if it is a non-empty string.
pub(crate) fn str_at<'a>(value: &'a Value, pointer: &str) -> Option<&'a str> {
    value
        .pointer(pointer)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

/// The number at a JSON pointer.
pub(crate) fn num_at(value: &Value, pointer: &str) -> Option<f64> {
    value.pointer(pointer).and_then(Value::as_f64)
}

/// The array at a JSON pointer, or an empty slice.
pub(crate) fn array_at<'a>(value: &'a Value, pointer: &str) -> &'a [Value] {
    value
        .pointer(pointer)
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

/// The items of a list response: the array itself, or the array under `key`.
pub(crate) fn items<'a>(value: &'a Value, key: &str) -> &'a [Value] {
    match value {
        Value::Array(items) => items,
        other => array_at(other, &format!("/{key}")),
    }
}

pub(crate) fn parse_time(text: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(text.trim(), &Rfc3339).ok()
}

pub(crate) fn parse_date(text: &str) -> Option<Date> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    Date::parse(text.get(..10)?, &format).ok()
}

/// How a `<time>` is shown; console.js formats it with `Intl.DateTimeFormat` in the agent's
/// zone and the page's language.
#[derive(Debug, Clone, Copy)]
pub(crate) enum TimeStyle {
    /// Date and time of day.
    DateTime,
    /// The date alone.
    Date,
}

/// A `<time datetime>` for an RFC 3339 instant; the server's text (UTC) is the fallback.
pub(crate) fn time_el(text: &str, style: TimeStyle) -> Markup {
    let Some(at) = parse_time(text) else {
        return html! { (text) };
    };
    let at = at.to_offset(time::UtcOffset::UTC);
    let fallback = match style {
        TimeStyle::DateTime => format!(
            "{:04}-{:02}-{:02} {:02}:{:02} UTC",
            at.year(),
            u8::from(at.month()),
            at.day(),
            at.hour(),
            at.minute()
        ),
        TimeStyle::Date => format!(
            "{:04}-{:02}-{:02}",
            at.year(),
            u8::from(at.month()),
            at.day()
        ),
    };
    let fmt = match style {
        TimeStyle::DateTime => "datetime",
        TimeStyle::Date => "date",
    };
    html! { time datetime=(text.trim()) data-fmt=(fmt) { (fallback) } }
}

/// A calendar date (`1986-10-13`), shown without any time zone shift.
pub(crate) fn date_el(text: &str) -> Markup {
    match parse_date(text) {
        Some(date) => {
            let iso = format!(
                "{:04}-{:02}-{:02}",
                date.year(),
                u8::from(date.month()),
                date.day()
            );
            html! { time datetime=(iso) data-fmt="day" { (iso) } }
        }
        None => html! { (text) },
    }
}

/// `1234567.891` with `decimals` digits: `1,234,567.89`.
pub(crate) fn number(value: f64, decimals: usize) -> String {
    let text = format!("{:.*}", decimals, value.abs());
    let (whole, fraction) = text.split_once('.').unwrap_or((&text, ""));
    let mut grouped = String::new();
    for (i, digit) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    let sign = if value < 0.0 && text.bytes().any(|b| (b'1'..=b'9').contains(&b)) {
        "-"
    } else {
        ""
    };
    if fraction.is_empty() {
        format!("{sign}{grouped}")
    } else {
        format!("{sign}{grouped}.{fraction}")
    }
}

/// An amount: `$1,234.56` in dollars, `1,234.56 EUR` otherwise.
pub(crate) fn money(amount: f64, currency: &str) -> String {
    match currency {
        "" | "USD" => {
            let sign = if amount < 0.0 { "-" } else { "" };
            format!("{sign}${}", number(amount.abs(), 2))
        }
        other => format!("{} {other}", number(amount, 2)),
    }
}

/// A share (0 to 1) as a whole percentage.
pub(crate) fn percent(share: f64) -> String {
    format!("{:.0}%", share * 100.0)
}

/// A plain number: whole numbers without decimals, others with up to two.
pub(crate) fn plain_number(value: f64) -> String {
    if value.fract() == 0.0 && value.abs() < 1e15 {
        number(value, 0)
    } else {
        number(value, 2)
    }
}

/// `+14048204050` as `+1 (404) 820-4050`; other numbers as stored.
pub(crate) fn phone(e164: &str) -> String {
    match e164.strip_prefix("+1") {
        Some(rest) if rest.len() == 10 && rest.bytes().all(|b| b.is_ascii_digit()) => {
            format!("+1 ({}) {}-{}", &rest[..3], &rest[3..6], &rest[6..])
        }
        _ => e164.to_owned(),
    }
}

/// Seconds as `m:ss` (or `h:mm:ss`).
pub(crate) fn duration(seconds: f64) -> String {
    let total = seconds.max(0.0).round() as u64;
    let (h, m, s) = (total / 3600, total / 60 % 60, total % 60);
    if h > 0 {
        format!("{h}:{m:02}:{s:02}")
    } else {
        format!("{m}:{s:02}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_amounts() {
        assert_eq!(number(1234567.891, 2), "1,234,567.89");
        assert_eq!(number(999.0, 0), "999");
        assert_eq!(number(-0.001, 2), "0.00");
        assert_eq!(money(89.0, "USD"), "$89.00");
        assert_eq!(money(2425.98, ""), "$2,425.98");
        assert_eq!(money(-5.0, "USD"), "-$5.00");
        assert_eq!(money(10.5, "EUR"), "10.50 EUR");
        assert_eq!(percent(0.6812), "68%");
        assert_eq!(plain_number(129.0), "129");
        assert_eq!(plain_number(1.7266), "1.73");
    }

    #[test]
    fn phones_durations_times() {
        assert_eq!(phone("+14048204050"), "+1 (404) 820-4050");
        assert_eq!(phone("+442079460958"), "+442079460958");
        assert_eq!(duration(455.0), "7:35");
        assert_eq!(duration(3725.0), "1:02:05");
        assert_eq!(
            time_el("2026-11-22T20:07:25Z", TimeStyle::DateTime).into_string(),
            r#"<time datetime="2026-11-22T20:07:25Z" data-fmt="datetime">2026-11-22 20:07 UTC</time>"#
        );
        assert_eq!(time_el("soon", TimeStyle::Date).into_string(), "soon");
        assert_eq!(
            date_el("1986-10-13").into_string(),
            r#"<time datetime="1986-10-13" data-fmt="day">1986-10-13</time>"#
        );
    }
}
