//! The running state of one computed attribute on one profile, exact as events arrive in any
//! order and as the lookback window slides, without the profile's history.
//!
//! A windowed attribute keeps the matching events inside its window (and any dated in the
//! future), so its state grows with the window, never with the history; an all-time attribute
//! keeps one aggregate. Replacing or deleting an event is rare and handled by the caller
//! rebuilding the state from the stored events ([`AttributeState::rebuild`]).

use chrono::{DateTime, Datelike, Months, Timelike, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// How a computed attribute aggregates the values of its matching events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Function {
    Sum,
    Count,
    Min,
    Max,
    MostRecent,
}

impl Function {
    pub fn as_str(self) -> &'static str {
        match self {
            Function::Sum => "SUM",
            Function::Count => "COUNT",
            Function::Min => "MIN",
            Function::Max => "MAX",
            Function::MostRecent => "MOST_RECENT",
        }
    }

    /// The PQL method that expresses it (`xEvent[...].sum(field)`).
    pub fn method(self) -> &'static str {
        match self {
            Function::Sum => "sum",
            Function::Count => "count",
            Function::Min => "min",
            Function::Max => "max",
            Function::MostRecent => "mostRecent",
        }
    }

    /// Whether the field must be a number.
    pub fn numeric(self) -> bool {
        matches!(self, Function::Sum | Function::Min | Function::Max)
    }
}

/// The unit of a lookback.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum LookbackUnit {
    Hours,
    Days,
    Weeks,
    Months,
}

impl LookbackUnit {
    pub fn as_str(self) -> &'static str {
        match self {
            LookbackUnit::Hours => "HOURS",
            LookbackUnit::Days => "DAYS",
            LookbackUnit::Weeks => "WEEKS",
            LookbackUnit::Months => "MONTHS",
        }
    }
}

/// How far back events count: the last `count` units before now (months on the calendar), or
/// all time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Lookback {
    AllTime,
    Last { count: u32, unit: LookbackUnit },
}

const HOUR_MS: i64 = 3_600_000;

impl Lookback {
    /// The earliest timestamp inside the window at `now_ms` (`None`: all time).
    pub fn window_start(self, now_ms: i64) -> Option<i64> {
        let Lookback::Last { count, unit } = self else {
            return None;
        };
        let count = i64::from(count);
        Some(match unit {
            LookbackUnit::Hours => now_ms - count * HOUR_MS,
            LookbackUnit::Days => now_ms - count * 24 * HOUR_MS,
            LookbackUnit::Weeks => now_ms - count * 7 * 24 * HOUR_MS,
            LookbackUnit::Months => {
                // The same day and time `count` months earlier; when that day does not exist
                // (30 March less a month), the first instant of the month after it, so the
                // start never moves backwards as time passes.
                let now = DateTime::<Utc>::from_timestamp_millis(now_ms)?;
                let earlier = now.checked_sub_months(Months::new(u32::try_from(count).ok()?))?;
                if earlier.day() == now.day() {
                    earlier.timestamp_millis()
                } else {
                    first_of_next_month(earlier)?
                }
            }
        })
    }

    /// The first instant at which an event at `timestamp_ms` is no longer inside the window
    /// (`None`: never). The window start only moves forward with now, so this is the least
    /// `now` whose start is past the timestamp.
    pub fn leaves_at(self, timestamp_ms: i64) -> Option<i64> {
        let Lookback::Last { count, unit } = self else {
            return None;
        };
        if unit != LookbackUnit::Months {
            let start_at_ts = self.window_start(timestamp_ms)?;
            return Some(timestamp_ms + (timestamp_ms - start_at_ts) + 1);
        }
        // Calendar months: the event leaves one millisecond after the same time `count` months
        // later; when that day does not exist (31 March plus a month), the date is clamped to
        // the month's last day, and the event leaves when the following month begins.
        let at = DateTime::<Utc>::from_timestamp_millis(timestamp_ms)?;
        let later = at.checked_add_months(Months::new(count))?;
        let leaves = if later.day() == at.day() {
            later.timestamp_millis() + 1
        } else {
            first_of_next_month(later)?
        };
        debug_assert!(
            self.window_start(leaves).is_some_and(|s| s > timestamp_ms)
                && self
                    .window_start(leaves - 1)
                    .is_some_and(|s| s <= timestamp_ms),
            "{timestamp_ms} leaves a {count}-month window at {leaves}"
        );
        Some(leaves)
    }
}

/// The first instant of the month after the one `at` is in.
fn first_of_next_month(at: DateTime<Utc>) -> Option<i64> {
    let first = at
        .with_day(1)?
        .with_hour(0)?
        .with_minute(0)?
        .with_second(0)?
        .with_nanosecond(0)?;
    Some(first.checked_add_months(Months::new(1))?.timestamp_millis())
}

/// A value read from an event's field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Scalar {
    /// The event matched but has no value in the field (counts for `COUNT` only).
    Missing,
    Number(f64),
    Text(String),
    Bool(bool),
}

impl Scalar {
    pub fn from_json(value: Option<&Value>) -> Scalar {
        match value {
            Some(Value::Number(n)) => n.as_f64().map_or(Scalar::Missing, Scalar::Number),
            Some(Value::String(s)) => Scalar::Text(s.clone()),
            Some(Value::Bool(b)) => Scalar::Bool(*b),
            _ => Scalar::Missing,
        }
    }

    fn number(&self) -> Option<f64> {
        match self {
            Scalar::Number(n) => Some(*n),
            _ => None,
        }
    }

    fn to_json(&self) -> Value {
        match self {
            Scalar::Missing => Value::Null,
            Scalar::Number(n) => number_json(*n),
            Scalar::Text(s) => Value::String(s.clone()),
            Scalar::Bool(b) => Value::Bool(*b),
        }
    }
}

fn number_json(n: f64) -> Value {
    if n.fract() == 0.0 && n.abs() < 9.0e15 {
        Value::from(n as i64)
    } else {
        serde_json::Number::from_f64(n).map_or(Value::Null, Value::Number)
    }
}

/// The lookbacks one state serves: all time, or one or more windows over the same matching
/// events (kept while any of the windows holds them). All-time and windowed attributes never
/// share a state: one folds, the other keeps events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Span {
    AllTime,
    Windows(Vec<Lookback>),
}

impl Span {
    pub fn of(lookback: Lookback) -> Span {
        match lookback {
            Lookback::AllTime => Span::AllTime,
            window => Span::Windows(vec![window]),
        }
    }

    /// The earliest instant any of the windows holds at `now_ms` (`None`: all time).
    pub fn start(&self, now_ms: i64) -> Option<i64> {
        match self {
            Span::AllTime => None,
            Span::Windows(windows) => windows.iter().filter_map(|w| w.window_start(now_ms)).min(),
        }
    }
}

/// One matching event: when it happened, and its field's value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    pub timestamp_ms: i64,
    pub value: Scalar,
}

/// Everything folded in of an all-time attribute's events that are not in the future.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Aggregate {
    pub count: u64,
    pub sum: f64,
    pub min: Option<f64>,
    pub max: Option<f64>,
    /// The latest event with a value: (timestamp, value).
    pub latest: Option<(i64, Scalar)>,
}

impl Aggregate {
    fn add(&mut self, entry: Entry) {
        self.count += 1;
        if let Some(n) = entry.value.number() {
            self.sum += n;
            self.min = Some(self.min.map_or(n, |m| m.min(n)));
            self.max = Some(self.max.map_or(n, |m| m.max(n)));
        }
        if entry.value != Scalar::Missing
            && self
                .latest
                .as_ref()
                .is_none_or(|(at, _)| entry.timestamp_ms >= *at)
        {
            self.latest = Some((entry.timestamp_ms, entry.value));
        }
    }
}

/// The state of one attribute on one profile.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AttributeState {
    /// Windowed: the matching events not yet out of the window, in timestamp order. All time:
    /// the matching events dated in the future, folded into `folded` once their time comes.
    pub entries: Vec<Entry>,
    /// All time: the events already folded.
    pub folded: Aggregate,
}

impl AttributeState {
    /// The state of an attribute over `events` (matching events, any order) at `now_ms`.
    pub fn rebuild(
        lookback: Lookback,
        events: impl IntoIterator<Item = Entry>,
        now_ms: i64,
    ) -> AttributeState {
        let mut state = AttributeState::default();
        for entry in events {
            state.add(lookback, entry, now_ms);
        }
        state
    }

    /// Adds one matching event (events arrive in any order).
    pub fn add(&mut self, lookback: Lookback, entry: Entry, now_ms: i64) {
        self.add_in(&Span::of(lookback), entry, now_ms);
    }

    /// Adds one matching event to a state serving `span`.
    pub fn add_in(&mut self, span: &Span, entry: Entry, now_ms: i64) {
        if *span == Span::AllTime && entry.timestamp_ms <= now_ms {
            self.folded.add(entry);
            return;
        }
        if span
            .start(now_ms)
            .is_some_and(|start| entry.timestamp_ms < start)
        {
            return;
        }
        let at = self
            .entries
            .partition_point(|e| e.timestamp_ms <= entry.timestamp_ms);
        self.entries.insert(at, entry);
    }

    /// Drops what the window left behind and folds what is no longer in the future, as of
    /// `now_ms`. Returns whether anything moved.
    pub fn advance(&mut self, lookback: Lookback, now_ms: i64) -> bool {
        self.advance_in(&Span::of(lookback), now_ms)
    }

    /// [`AttributeState::advance`] for a state serving `span`: entries stay while any of its
    /// windows holds them.
    pub fn advance_in(&mut self, span: &Span, now_ms: i64) -> bool {
        match span {
            Span::Windows(_) => {
                let start = span.start(now_ms).unwrap_or(i64::MIN);
                let gone = self.entries.partition_point(|e| e.timestamp_ms < start);
                self.entries.drain(..gone);
                gone > 0
            }
            Span::AllTime => {
                let due = self.entries.partition_point(|e| e.timestamp_ms <= now_ms);
                for entry in self.entries.drain(..due) {
                    self.folded.add(entry);
                }
                due > 0
            }
        }
    }

    /// The attribute's value at `now_ms` (after [`AttributeState::advance`] to `now_ms`):
    /// `SUM` and `COUNT` of nothing are 0; `MIN`, `MAX` and `MOST_RECENT` of nothing are null.
    pub fn value(&self, lookback: Lookback, function: Function, now_ms: i64) -> Value {
        let current = || {
            let start = lookback.window_start(now_ms).unwrap_or(i64::MIN);
            self.entries
                .iter()
                .filter(move |e| e.timestamp_ms >= start && e.timestamp_ms <= now_ms)
        };
        if lookback == Lookback::AllTime {
            let a = &self.folded;
            return match function {
                Function::Sum => number_json(a.sum),
                Function::Count => Value::from(a.count),
                Function::Min => a.min.map_or(Value::Null, number_json),
                Function::Max => a.max.map_or(Value::Null, number_json),
                Function::MostRecent => a.latest.as_ref().map_or(Value::Null, |(_, v)| v.to_json()),
            };
        }
        let numbers = || current().filter_map(|e| e.value.number());
        match function {
            Function::Sum => number_json(numbers().sum()),
            Function::Count => Value::from(current().count() as u64),
            Function::Min => numbers().reduce(f64::min).map_or(Value::Null, number_json),
            Function::Max => numbers().reduce(f64::max).map_or(Value::Null, number_json),
            Function::MostRecent => current()
                .rfind(|e| e.value != Scalar::Missing)
                .map_or(Value::Null, |e| e.value.to_json()),
        }
    }

    /// The next instant after `now_ms` at which the value may change with no new event: an
    /// event leaving the window, or a future-dated event coming due.
    pub fn next_change(&self, lookback: Lookback, now_ms: i64) -> Option<i64> {
        let due = self
            .entries
            .iter()
            .find(|e| e.timestamp_ms > now_ms)
            .map(|e| e.timestamp_ms);
        // The oldest event inside this window (a state serving several windows may keep older
        // ones for a longer window).
        let start = lookback.window_start(now_ms);
        let leaving = self
            .entries
            .iter()
            .find(|e| e.timestamp_ms <= now_ms && start.is_none_or(|s| e.timestamp_ms >= s))
            .and_then(|e| lookback.leaves_at(e.timestamp_ms));
        [due, leaving]
            .into_iter()
            .flatten()
            .filter(|at| *at > now_ms)
            .min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 24 * HOUR_MS;

    #[test]
    fn month_windows_follow_the_calendar() {
        let months = Lookback::Last {
            count: 1,
            unit: LookbackUnit::Months,
        };
        let march_31 = DateTime::parse_from_rfc3339("2026-03-31T12:00:00Z")
            .unwrap()
            .timestamp_millis();
        let leaves = months.leaves_at(march_31).unwrap();
        // On April 30 at noon the window starts March 30 at noon: still inside. It leaves when
        // the window start passes March 31 noon, at May 1 00:00 (April has no 31st).
        assert!(months.window_start(leaves).unwrap() > march_31);
        assert!(months.window_start(leaves - 1).unwrap() <= march_31);
        let days = Lookback::Last {
            count: 7,
            unit: LookbackUnit::Days,
        };
        assert_eq!(days.leaves_at(0), Some(7 * DAY + 1));
        assert_eq!(days.window_start(7 * DAY + 1), Some(1));
    }
}
