//! Computed attribute state against a brute-force recomputation: random streams of matching
//! events (out of order, some dated in the future, some without a value), time passing with no
//! new events, and deletes (which the engine handles by rebuilding from the remaining events).
//! After every step the kept state must give exactly the value the whole event list gives, and
//! its next change must be the first instant the window's contents move.

use engine::computed::state::Span;
use engine::computed::{AttributeState, Entry, Function, Lookback, LookbackUnit, Scalar};
use proptest::prelude::*;
use serde_json::Value;

const HOUR: i64 = 3_600_000;
/// 2026-01-01T00:00:00Z: month arithmetic meets real calendars.
const START: i64 = 1_767_225_600_000;

#[derive(Debug, Clone)]
enum Step {
    /// An event at `now + offset` (negative: in the past).
    Add { offset: i64, value: Option<i64> },
    /// Time passes.
    Wait(i64),
    /// The event at this index (modulo the count) is deleted.
    Delete(usize),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        5 => (-60 * 24 * HOUR..6 * HOUR, prop::option::weighted(0.8, -50i64..500))
            .prop_map(|(offset, value)| Step::Add { offset, value }),
        3 => prop_oneof![0..HOUR, 0..3 * 24 * HOUR, 0..40 * 24 * HOUR].prop_map(Step::Wait),
        1 => any::<usize>().prop_map(Step::Delete),
    ]
}

fn lookback() -> impl Strategy<Value = Lookback> {
    prop_oneof![
        Just(Lookback::AllTime),
        (1u32..=24).prop_map(|count| Lookback::Last {
            count,
            unit: LookbackUnit::Hours
        }),
        (1u32..=7).prop_map(|count| Lookback::Last {
            count,
            unit: LookbackUnit::Days
        }),
        (1u32..=4).prop_map(|count| Lookback::Last {
            count,
            unit: LookbackUnit::Weeks
        }),
        (1u32..=6).prop_map(|count| Lookback::Last {
            count,
            unit: LookbackUnit::Months
        }),
    ]
}

fn function() -> impl Strategy<Value = Function> {
    prop_oneof![
        Just(Function::Sum),
        Just(Function::Count),
        Just(Function::Min),
        Just(Function::Max),
        Just(Function::MostRecent),
    ]
}

fn in_window(lookback: Lookback, timestamp_ms: i64, now_ms: i64) -> bool {
    timestamp_ms <= now_ms
        && lookback
            .window_start(now_ms)
            .is_none_or(|start| timestamp_ms >= start)
}

fn number(n: f64) -> Value {
    if n.fract() == 0.0 {
        Value::from(n as i64)
    } else {
        serde_json::Number::from_f64(n).map_or(Value::Null, Value::Number)
    }
}

/// The value computed from every event, the slow way.
fn brute(events: &[Entry], lookback: Lookback, function: Function, now_ms: i64) -> Value {
    let current: Vec<&Entry> = events
        .iter()
        .filter(|e| in_window(lookback, e.timestamp_ms, now_ms))
        .collect();
    let numbers: Vec<f64> = current
        .iter()
        .filter_map(|e| match e.value {
            Scalar::Number(n) => Some(n),
            _ => None,
        })
        .collect();
    match function {
        Function::Sum => number(numbers.iter().sum()),
        Function::Count => Value::from(current.len() as u64),
        Function::Min => numbers
            .iter()
            .copied()
            .reduce(f64::min)
            .map_or(Value::Null, number),
        Function::Max => numbers
            .iter()
            .copied()
            .reduce(f64::max)
            .map_or(Value::Null, number),
        Function::MostRecent => current
            .iter()
            .filter(|e| e.value != Scalar::Missing)
            .max_by_key(|e| e.timestamp_ms)
            .map_or(Value::Null, |e| match &e.value {
                Scalar::Number(n) => number(*n),
                _ => Value::Null,
            }),
    }
}

/// The entry of the `i`th step, an event at `now + offset`. Timestamps are distinct (the step's
/// index is added), so "most recent" has one answer.
fn added(now: i64, offset: i64, value: Option<i64>, i: usize) -> Entry {
    Entry {
        timestamp_ms: now + offset - offset.rem_euclid(1000) + i as i64,
        value: value.map_or(Scalar::Missing, |v| Scalar::Number(v as f64)),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn the_kept_state_gives_what_the_whole_history_gives(
        lookback in lookback(),
        function in function(),
        steps in prop::collection::vec(step(), 1..60),
    ) {
        let mut now = START;
        let mut events: Vec<Entry> = Vec::new();
        let mut state = AttributeState::default();
        for (i, step) in steps.into_iter().enumerate() {
            match step {
                Step::Add { offset, value } => {
                    let entry = added(now, offset, value, i);
                    events.push(entry.clone());
                    state.add(lookback, entry, now);
                }
                Step::Wait(ms) => now += ms,
                Step::Delete(k) => {
                    if !events.is_empty() {
                        events.remove(k % events.len());
                        state = AttributeState::rebuild(lookback, events.iter().cloned(), now);
                    }
                }
            }
            state.advance(lookback, now);
            prop_assert_eq!(
                state.value(lookback, function, now),
                brute(&events, lookback, function, now),
                "at {} with {:?}", now, events
            );
            // Nothing moves before the next change, and something does at it.
            match state.next_change(lookback, now) {
                Some(next) => {
                    prop_assert!(next > now);
                    for e in &events {
                        prop_assert_eq!(
                            in_window(lookback, e.timestamp_ms, now),
                            in_window(lookback, e.timestamp_ms, next - 1),
                            "{:?} moved before {}", e, next
                        );
                    }
                    prop_assert!(
                        events.iter().any(|e| in_window(lookback, e.timestamp_ms, now)
                            != in_window(lookback, e.timestamp_ms, next)),
                        "nothing moves at {}", next
                    );
                }
                None => {
                    // Then nothing will ever move: check far ahead.
                    let later = now + 400 * 24 * HOUR;
                    for e in &events {
                        prop_assert_eq!(
                            in_window(lookback, e.timestamp_ms, now),
                            in_window(lookback, e.timestamp_ms, later),
                            "{:?} moves though no change is scheduled", e
                        );
                    }
                }
            }
        }
    }

    /// Attributes over the same events share one state kept for all their windows: each
    /// window's value and next change are still exactly its own.
    #[test]
    fn a_state_shared_by_several_windows_gives_each_its_own_value(
        windows in prop::collection::vec(lookback(), 1..4),
        steps in prop::collection::vec(step(), 1..60),
    ) {
        let windows: Vec<Lookback> = windows
            .into_iter()
            .filter(|w| *w != Lookback::AllTime)
            .collect();
        prop_assume!(!windows.is_empty());
        let span = Span::Windows(windows.clone());
        let mut now = START;
        let mut events: Vec<Entry> = Vec::new();
        let mut state = AttributeState::default();
        for (i, step) in steps.into_iter().enumerate() {
            match step {
                Step::Add { offset, value } => {
                    let entry = added(now, offset, value, i);
                    events.push(entry.clone());
                    state.add_in(&span, entry, now);
                }
                Step::Wait(ms) => now += ms,
                Step::Delete(k) => {
                    if !events.is_empty() {
                        events.remove(k % events.len());
                        state = AttributeState::default();
                        for e in &events {
                            state.add_in(&span, e.clone(), now);
                        }
                    }
                }
            }
            state.advance_in(&span, now);
            for &lookback in &windows {
                for function in [Function::Sum, Function::Count, Function::Max, Function::MostRecent] {
                    prop_assert_eq!(
                        state.value(lookback, function, now),
                        brute(&events, lookback, function, now),
                        "{:?} {:?} at {} with {:?}", lookback, function, now, events
                    );
                }
                if let Some(next) = state.next_change(lookback, now) {
                    prop_assert!(next > now);
                    for e in &events {
                        prop_assert_eq!(
                            in_window(lookback, e.timestamp_ms, now),
                            in_window(lookback, e.timestamp_ms, next - 1),
                            "{:?} moved out of {:?} before {}", e, lookback, next
                        );
                    }
                    prop_assert!(
                        events.iter().any(|e| in_window(lookback, e.timestamp_ms, now)
                            != in_window(lookback, e.timestamp_ms, next)),
                        "nothing moves in {:?} at {}", lookback, next
                    );
                }
            }
        }
    }
}
