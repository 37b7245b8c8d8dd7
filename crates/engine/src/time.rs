//! Time helpers: epoch milliseconds to and from RFC 3339.

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// Formats epoch milliseconds as RFC 3339 UTC; with `millis` false, to the second.
pub fn format_rfc3339_ms(epoch_ms: i64, millis: bool) -> String {
    let nanos = i128::from(if millis {
        epoch_ms
    } else {
        epoch_ms - epoch_ms.rem_euclid(1000)
    }) * 1_000_000;
    OffsetDateTime::from_unix_timestamp_nanos(nanos)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_else(|| "1970-01-01T00:00:00Z".to_owned())
}

/// Parses an RFC 3339 date-time into epoch milliseconds.
pub fn parse_rfc3339_ms(text: &str) -> Option<i64> {
    let parsed = OffsetDateTime::parse(text, &Rfc3339).ok()?;
    Some((parsed.unix_timestamp_nanos() / 1_000_000) as i64)
}
