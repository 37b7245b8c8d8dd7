//! UTC calendar arithmetic on epoch milliseconds: parsing and printing XDM dates and date-times,
//! calendar periods, unit shifts, and the monotone bounds (functions of the evaluation time) whose
//! crossings are the instants a time window opens or closes.

use pql::Unit;
use time::{Date, Month};

/// How many window bounds of one definition are computed once per evaluation.
pub(crate) const CACHED_BOUNDS: usize = 8;

pub(crate) const SECOND: i64 = 1_000;
pub(crate) const MINUTE: i64 = 60 * SECOND;
pub(crate) const HOUR: i64 = 60 * MINUTE;
pub(crate) const DAY: i64 = 24 * HOUR;
pub(crate) const WEEK: i64 = 7 * DAY;

/// The length of a unit that always has the same length, in milliseconds (UTC has no DST).
pub(crate) fn fixed_len(unit: Unit) -> Option<i64> {
    Some(match unit {
        Unit::Millisecond => 1,
        Unit::Second => SECOND,
        Unit::Minute => MINUTE,
        Unit::Hour => HOUR,
        Unit::Day => DAY,
        Unit::Week => WEEK,
        _ => return None,
    })
}

/// The number of months in a calendar unit of a month or more.
fn months_in(unit: Unit) -> i64 {
    match unit {
        Unit::Month => 1,
        Unit::Year => 12,
        Unit::Decade => 120,
        Unit::Century => 1_200,
        _ => 12_000,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (closed form, any year; checked against
/// the `time` crate in the tests).
pub(crate) fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    // Count years from March, so that the leap day ends the year.
    let (y, m) = if month <= 2 {
        (year - 1, month + 9)
    } else {
        (year, month - 3)
    };
    let era = y.div_euclid(400);
    let year_of_era = y - era * 400;
    let day_of_year = (153 * m + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The (year, month, day) of a day counted from 1970-01-01.
pub(crate) fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let m = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * m + 2) / 5 + 1;
    let month = if m < 10 { m + 3 } else { m - 9 };
    (year_of_era + era * 400 + i64::from(month <= 2), month, day)
}

fn is_leap(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

/// The number of days of a month.
pub(crate) fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// The calendar date (year, month, day) and the milliseconds into that day of an instant.
pub(crate) fn civil(ms: i64) -> (i64, i64, i64, i64) {
    let (y, m, d) = civil_from_days(ms.div_euclid(DAY));
    (y, m, d, ms.rem_euclid(DAY))
}

/// Midnight UTC of a calendar day (not checked; see [`ymd_ms`]).
fn midnight(year: i64, month: i64, day: i64) -> i64 {
    days_from_civil(year, month, day).saturating_mul(DAY)
}

/// Midnight UTC of a calendar day, if the day exists (in years -9999 to 9999).
pub(crate) fn ymd_ms(year: i64, month: i64, day: i64) -> Option<i64> {
    let y = i32::try_from(year).ok()?;
    let m = Month::try_from(u8::try_from(month).ok()?).ok()?;
    Date::from_calendar_date(y, m, u8::try_from(day).ok()?).ok()?;
    Some(midnight(year, month, day))
}

fn two_digits(b: &[u8]) -> Option<i64> {
    match b {
        [a @ b'0'..=b'9', c @ b'0'..=b'9'] => Some(i64::from((a - b'0') * 10 + (c - b'0'))),
        _ => None,
    }
}

fn four_digits(b: &[u8]) -> Option<i64> {
    Some(two_digits(b.get(0..2)?)? * 100 + two_digits(b.get(2..4)?)?)
}

/// Parses an XDM `date` (`2024-02-29`, midnight UTC, second value `true`) or `date-time`
/// (RFC 3339: `2024-02-29T10:15:30.250+01:00`; a missing offset is read as UTC, the `T` may be
/// `t` or a space, seconds and fractions are optional, digits past milliseconds are truncated).
pub(crate) fn parse_time(s: &str) -> Option<(i64, bool)> {
    let b = s.as_bytes();
    if b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let day = ymd_ms(
        four_digits(&b[0..4])?,
        two_digits(&b[5..7])?,
        two_digits(&b[8..10])?,
    )?;
    if b.len() == 10 {
        return Some((day, true));
    }
    if !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    let rest = &b[11..];
    let hour = two_digits(rest.get(0..2)?)?;
    if rest.get(2) != Some(&b':') {
        return None;
    }
    let minute = two_digits(rest.get(3..5)?)?;
    let mut i = 5;
    let mut second = 0;
    let mut millis = 0;
    if rest.get(i) == Some(&b':') {
        second = two_digits(rest.get(i + 1..i + 3)?)?;
        i += 3;
        if rest.get(i) == Some(&b'.') {
            i += 1;
            let start = i;
            while rest.get(i).is_some_and(u8::is_ascii_digit) {
                if i - start < 3 {
                    millis = millis * 10 + i64::from(rest[i] - b'0');
                }
                i += 1;
            }
            let digits = i - start;
            if digits == 0 {
                return None;
            }
            for _ in digits..3 {
                millis *= 10;
            }
        }
    }
    if hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let offset = match &rest[i..] {
        [] | [b'Z'] | [b'z'] => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] | [sign @ (b'+' | b'-'), h1, h2, m1, m2] => {
            let h = two_digits(&[*h1, *h2])?;
            let m = two_digits(&[*m1, *m2])?;
            if h > 23 || m > 59 {
                return None;
            }
            let o = h * HOUR + m * MINUTE;
            if *sign == b'-' {
                -o
            } else {
                o
            }
        }
        _ => return None,
    };
    Some((
        day + hour * HOUR + minute * MINUTE + second.min(59) * SECOND + millis - offset,
        false,
    ))
}

/// RFC 3339 in UTC: `2024-02-29T10:15:30Z`, with `.250` when there are milliseconds.
pub(crate) fn format_time(ms: i64) -> String {
    let (year, month, day, tod) = civil(ms);
    let (h, m, s, f) = (
        tod / HOUR,
        tod % HOUR / MINUTE,
        tod % MINUTE / SECOND,
        tod % SECOND,
    );
    if f == 0 {
        format!("{year:04}-{month:02}-{day:02}T{h:02}:{m:02}:{s:02}Z")
    } else {
        format!("{year:04}-{month:02}-{day:02}T{h:02}:{m:02}:{s:02}.{f:03}Z")
    }
}

/// The start of the calendar period of `unit` holding `t` (weeks start on Monday; decades,
/// centuries and millennia start at years divisible by 10, 100, 1000).
pub(crate) fn floor(t: i64, unit: Unit) -> i64 {
    match unit {
        Unit::Millisecond => t,
        Unit::Week => {
            let days = t.div_euclid(DAY);
            // 1970-01-01 was a Thursday, index 3 counting from Monday.
            (days - (days + 3).rem_euclid(7)) * DAY
        }
        _ => {
            if let Some(len) = fixed_len(unit) {
                return t - t.rem_euclid(len);
            }
            let (year, month, _, _) = civil(t);
            let (year, month) = match unit {
                Unit::Month => (year, month),
                Unit::Year => (year, 1),
                Unit::Decade => (year - year.rem_euclid(10), 1),
                Unit::Century => (year - year.rem_euclid(100), 1),
                _ => (year - year.rem_euclid(1_000), 1),
            };
            midnight(year, month, 1)
        }
    }
}

/// `t` moved by `n` units. Months and longer move on the calendar, keeping the day and time;
/// when the day does not exist in the target month (the 31st, the 29th of February) the
/// result is the first instant of the following month, which keeps the shift monotone.
pub(crate) fn shift(t: i64, n: i64, unit: Unit) -> i64 {
    if n == 0 {
        return t;
    }
    if let Some(len) = fixed_len(unit) {
        return t.saturating_add(n.saturating_mul(len));
    }
    let months = n.saturating_mul(months_in(unit));
    let (year, month, day, tod) = civil(t);
    let total = (year * 12 + month - 1).saturating_add(months);
    let (year, month) = (total.div_euclid(12), total.rem_euclid(12) + 1);
    if day > days_in_month(year, month) {
        return midnight(year, month, 1).saturating_add(days_in_month(year, month) * DAY);
    }
    midnight(year, month, day).saturating_add(tod)
}

/// `[start, end)` of the period `offset` periods of `unit` away from the one holding `now`
/// (`this month` is offset 0, `last week` -1, `tomorrow` is `Day` +1).
pub(crate) fn period(offset: i64, unit: Unit, now: i64) -> (i64, i64) {
    let start = shift(floor(now, unit), offset, unit);
    (start, shift(start, 1, unit))
}

/// The first instant after `now` at which the period of `unit` holding `now` ends.
pub(crate) fn next_boundary(now: i64, unit: Unit) -> i64 {
    shift(floor(now, unit), 1, unit)
}

/// What a time anchor is at a given evaluation time.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Base {
    /// The evaluation instant: `[now, now + 1)`.
    Now,
    /// A calendar period relative to the one holding `now` (`today`, `last month`...).
    Period { unit: Unit, offset: i64 },
    /// A fixed interval `[start, end)`: an instant (`end = start + 1`) or a day.
    Fixed { start: i64, end: i64 },
}

/// One bound of a time window: an edge of an anchor, moved by a number of units. Its value is
/// a non-decreasing function of the evaluation time, which is what makes the instant a window
/// condition flips computable.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Bound {
    pub base: Base,
    /// The end of the anchor interval rather than its start.
    pub end: bool,
    /// Units to move by (negative for `before`).
    pub shift: i64,
    pub unit: Unit,
}

/// What a bound is at one evaluation: its value now, and for calendar periods the next
/// boundary and its value there (the value is constant in between).
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Prepared {
    pub now: i64,
    pub value: i64,
    /// The first instant after `now` at which the value may change (`i64::MAX` when it moves
    /// continuously with `now` or never).
    pub boundary: i64,
    /// The value at `boundary`.
    pub value_at_boundary: i64,
}

impl Bound {
    /// The bound's instant when the evaluation time is `now`.
    pub(crate) fn value(&self, now: i64) -> i64 {
        let (start, end) = match self.base {
            Base::Now => (now, now.saturating_add(1)),
            Base::Period { unit, offset } => period(offset, unit, now),
            Base::Fixed { start, end } => (start, end),
        };
        shift(if self.end { end } else { start }, self.shift, self.unit)
    }

    /// Whether the value depends on the evaluation time.
    pub(crate) fn moves(&self) -> bool {
        !matches!(self.base, Base::Fixed { .. })
    }

    /// The bound at `now`, with what [`Bound::reach`] needs.
    pub(crate) fn prepare(&self, now: i64) -> Prepared {
        let value = self.value(now);
        let (boundary, value_at_boundary) = match self.base {
            Base::Period { unit, .. } => {
                let b = next_boundary(now, unit);
                (b, self.value(b))
            }
            _ => (i64::MAX, value),
        };
        Prepared {
            now,
            value,
            boundary,
            value_at_boundary,
        }
    }

    /// The first instant `t > now` at which `value(t) >= target` (`> target` when `strict`),
    /// when that instant is earlier than `best`. `None` when the value already qualifies at
    /// `now` (it then qualifies forever: the value never decreases), or when the instant is not
    /// earlier than `best` (the caller keeps the minimum).
    pub(crate) fn reach(&self, p: &Prepared, target: i64, strict: bool, best: i64) -> Option<i64> {
        let now = p.now;
        let goal = |v: i64| if strict { v > target } else { v >= target };
        if !self.moves() || goal(p.value) || now >= best.saturating_sub(1) {
            return None;
        }
        let at = |t: i64| goal(self.value(t));
        match (self.base, fixed_len(self.unit)) {
            (Base::Now, Some(len)) => {
                // value(t) = t + c: solved exactly.
                let c = i64::from(self.end).saturating_add(self.shift.saturating_mul(len));
                let t = target
                    .saturating_add(i64::from(strict))
                    .saturating_sub(c)
                    .max(now + 1);
                (t < best).then_some(t)
            }
            (Base::Now, None) => {
                // value(t) = t moved by whole months: undo the move, then check that the
                // candidate is the first instant that qualifies (it is, unless the day is one a
                // month lacks; then search).
                let goal_value = target.saturating_add(i64::from(strict));
                let c =
                    shift(goal_value, -self.shift, self.unit).saturating_sub(i64::from(self.end));
                if c.saturating_sub(7 * DAY) >= best {
                    return None;
                }
                if c > now && at(c) && !at(c - 1) {
                    return (c < best).then_some(c);
                }
                self.search(now, best, &at)
            }
            (Base::Period { .. }, _) => {
                // Constant until the next boundary.
                if p.boundary >= best {
                    return None;
                }
                if goal(p.value_at_boundary) {
                    return Some(p.boundary);
                }
                self.search(p.boundary, best, &at)
            }
            (Base::Fixed { .. }, _) => None,
        }
    }

    /// The first instant after `lo` (where the goal does not hold) at which `at` holds, if
    /// earlier than `best`. Returns only instants where the goal holds, so giving up early
    /// still returns a safe (early) instant.
    fn search(&self, mut lo: i64, best: i64, at: &dyn Fn(i64) -> bool) -> Option<i64> {
        let mut hi;
        if best != i64::MAX {
            hi = best - 1;
            if hi <= lo || !at(hi) {
                return None;
            }
        } else {
            let start = lo;
            let mut step: i64 = 1;
            loop {
                hi = start.saturating_add(step);
                if at(hi) {
                    break;
                }
                if hi == i64::MAX || step > (1 << 55) {
                    return Some(hi);
                }
                lo = hi;
                step = step.saturating_mul(2);
            }
        }
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2;
            if at(mid) {
                hi = mid;
            } else {
                lo = mid;
            }
        }
        Some(hi)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> i64 {
        parse_time(s).unwrap().0
    }

    #[test]
    fn parses_and_formats() {
        assert_eq!(parse_time("1970-01-01"), Some((0, true)));
        assert_eq!(t("1970-01-01T00:00:01Z"), 1_000);
        assert_eq!(t("1970-01-01T01:00:00+01:00"), 0);
        assert_eq!(t("1970-01-01T00:00:00.5Z"), 500);
        assert_eq!(t("1970-01-01T00:00:00.123456Z"), 123);
        assert_eq!(parse_time("2023-02-29"), None);
        assert_eq!(parse_time("2024-13-01"), None);
        assert_eq!(parse_time("yesterday"), None);
        assert_eq!(
            format_time(t("2024-02-29T10:15:30.250Z")),
            "2024-02-29T10:15:30.250Z"
        );
        assert_eq!(
            format_time(t("2024-02-29T10:15:30Z")),
            "2024-02-29T10:15:30Z"
        );
    }

    #[test]
    fn periods_and_shifts() {
        let now = t("2024-02-29T10:00:00Z");
        assert_eq!(floor(now, Unit::Week), t("2024-02-26"));
        assert_eq!(floor(now, Unit::Month), t("2024-02-01"));
        assert_eq!(floor(now, Unit::Decade), t("2020-01-01"));
        assert_eq!(shift(now, 1, Unit::Year), t("2025-03-01"));
        assert_eq!(shift(t("2024-03-31"), -1, Unit::Month), t("2024-03-01"));
        assert_eq!(
            shift(t("2024-01-31T05:00:00Z"), 1, Unit::Month),
            t("2024-03-01")
        );
        assert_eq!(
            shift(t("2024-01-15T05:00:00Z"), -1, Unit::Month),
            t("2023-12-15T05:00:00Z")
        );
        assert_eq!(
            period(-1, Unit::Month, t("2024-01-10")),
            (t("2023-12-01"), t("2024-01-01"))
        );
    }

    #[test]
    fn reach_is_exact() {
        let now = t("2024-03-10T12:00:00Z");
        let month_ago = Bound {
            base: Base::Now,
            end: false,
            shift: -1,
            unit: Unit::Month,
        };
        let target = t("2024-02-20T00:00:00Z");
        let at = month_ago
            .reach(&month_ago.prepare(now), target, true, i64::MAX)
            .unwrap();
        assert!(month_ago.value(at) > target && month_ago.value(at - 1) <= target);
        let today = Bound {
            base: Base::Period {
                unit: Unit::Day,
                offset: 0,
            },
            end: false,
            shift: -7,
            unit: Unit::Day,
        };
        let at = today.reach(
            &today.prepare(now),
            t("2024-03-05T08:00:00Z"),
            true,
            i64::MAX,
        );
        assert_eq!(at, Some(t("2024-03-13")));
    }

    #[test]
    fn day_arithmetic_agrees_with_the_time_crate() {
        let epoch = time::Date::from_calendar_date(1970, Month::January, 1).unwrap();
        let mut days = -800_000;
        while days < 800_000 {
            let date = epoch + time::Duration::days(days);
            let (y, m, d) = civil_from_days(days);
            assert_eq!(
                (y, m, d),
                (
                    i64::from(date.year()),
                    i64::from(date.month() as u8),
                    i64::from(date.day())
                )
            );
            assert_eq!(days_from_civil(y, m, d), days);
            assert_eq!(
                days_in_month(y, m),
                i64::from(date.month().length(date.year()))
            );
            days += 13;
        }
    }

    #[test]
    fn month_windows_are_solved_exactly() {
        // Every target in three years, against a brute-force search.
        let now = t("2024-01-01T00:00:00Z");
        for n in [-1i64, -2, -12, 1] {
            let b = Bound {
                base: Base::Now,
                end: false,
                shift: n,
                unit: Unit::Month,
            };
            let p = b.prepare(now);
            let mut target = now - 40 * DAY;
            while target < now + 3 * 365 * DAY {
                for strict in [false, true] {
                    let goal = |v: i64| if strict { v > target } else { v >= target };
                    if let Some(at) = b.reach(&p, target, strict, i64::MAX) {
                        assert!(at > now && goal(b.value(at)), "{n} {target} {at}");
                        assert!(at - 1 == now || !goal(b.value(at - 1)), "{n} {target} {at}");
                    } else {
                        assert!(goal(b.value(now)));
                    }
                }
                target += 7 * HOUR + 13 * MINUTE;
            }
        }
    }
}
