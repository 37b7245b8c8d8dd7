//! The workload: 50 definitions over a profile with 100 events evaluate, give stable results,
//! and stay within a generous time budget even in a debug build.

use std::time::Instant;

use segments::{EventRef, Subject};

use super::workload::{definitions, profile_with_events, schemas, NOW_MS};

#[test]
fn fifty_definitions_over_a_hundred_events() {
    let (profile_schema, event_schema) = schemas();
    let defs = definitions(&profile_schema, &event_schema);
    assert_eq!(defs.len(), 50);
    let (profile, events) = profile_with_events();
    let refs: Vec<EventRef> = events
        .iter()
        .map(|(id, ts, v)| EventRef {
            id,
            timestamp_ms: *ts,
            value: v,
        })
        .collect();
    let in_segment = |id: &str| id == "seg-gold";
    let subject = Subject {
        profile: &profile,
        events: &refs,
        in_segment: &in_segment,
    };
    let first: Vec<_> = defs.iter().map(|d| d.evaluate(&subject, NOW_MS)).collect();
    assert_eq!(segments::evaluate_all(&defs, &subject, NOW_MS), first);
    let qualified = first.iter().filter(|o| o.qualified).count();
    assert!(
        qualified > 10 && qualified < 45,
        "{qualified} of 50 qualify"
    );
    let rounds = 20;
    let start = Instant::now();
    for _ in 0..rounds {
        for (d, want) in defs.iter().zip(&first) {
            assert_eq!(d.evaluate(&subject, NOW_MS), *want);
        }
    }
    let per_round = start.elapsed() / rounds;
    eprintln!("50 definitions over 100 events: {per_round:?} per round (debug build)");
    assert!(per_round.as_millis() < 200, "{per_round:?}");
}

#[test]
fn definitions_are_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<segments::Definition>();
}
