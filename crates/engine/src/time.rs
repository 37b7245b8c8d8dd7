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

/// Appends epoch milliseconds as RFC 3339 UTC to the second (`2026-11-28T17:05:09Z`), as
/// [`format_rfc3339_ms`] with `millis` false writes it, without going through a formatter: the
/// memberships of every profile write one per segment.
pub fn write_rfc3339_seconds(out: &mut Vec<u8>, epoch_ms: i64) {
    let seconds = epoch_ms.div_euclid(1000);
    let days = seconds.div_euclid(86_400);
    let of_day = seconds.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    if !(0..=9999).contains(&year) {
        out.extend_from_slice(format_rfc3339_ms(epoch_ms, false).as_bytes());
        return;
    }
    fn push(out: &mut Vec<u8>, value: i64, width: usize) {
        let mut digits = [b'0'; 4];
        let mut rest = value;
        for slot in digits[..width].iter_mut().rev() {
            *slot = b'0' + (rest % 10) as u8;
            rest /= 10;
        }
        out.extend_from_slice(&digits[..width]);
    }
    push(out, year, 4);
    out.push(b'-');
    push(out, month, 2);
    out.push(b'-');
    push(out, day, 2);
    out.push(b'T');
    push(out, of_day / 3600, 2);
    out.push(b':');
    push(out, of_day / 60 % 60, 2);
    out.push(b':');
    push(out, of_day % 60, 2);
    out.push(b'Z');
}

/// (year, month, day) of a day counted from 1970-01-01, in the proleptic Gregorian calendar
/// (eras of 400 years, March-based years so the leap day ends the year).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let march_month = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * march_month + 2) / 5 + 1;
    let month = if march_month < 10 {
        march_month + 3
    } else {
        march_month - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Parses an RFC 3339 date-time into epoch milliseconds.
pub fn parse_rfc3339_ms(text: &str) -> Option<i64> {
    let parsed = OffsetDateTime::parse(text, &Rfc3339).ok()?;
    Some((parsed.unix_timestamp_nanos() / 1_000_000) as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fast_writer_agrees_with_the_formatter() {
        // Every day from 1900 to 2100 at a moving time of day, and instants around leap days.
        let mut instants: Vec<i64> = (-25_567..47_482)
            .map(|day: i64| day * 86_400_000 + (day * 7_919_993).rem_euclid(86_400_000))
            .collect();
        instants.extend([0, -1, 951_782_399_999, 951_782_400_000, 1_709_164_800_000]);
        for ms in instants {
            let mut fast = Vec::new();
            write_rfc3339_seconds(&mut fast, ms);
            assert_eq!(
                String::from_utf8(fast).unwrap(),
                format_rfc3339_ms(ms, false),
                "{ms}"
            );
        }
    }
}
