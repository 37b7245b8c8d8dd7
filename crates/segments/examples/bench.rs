//! Measures evaluation: 50 definitions over a profile with 100 events, and the batch case of
//! many profiles. Run with `cargo run --release -p segments --example bench`.

#[path = "../tests/segments/workload.rs"]
mod workload;

use std::hint::black_box;
use std::time::Instant;

use segments::{EventRef, Subject};

fn main() {
    let (profile_schema, event_schema) = workload::schemas();
    let defs = workload::definitions(&profile_schema, &event_schema);
    let (profile, events) = workload::profile_with_events();
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
    if let Some(index) = std::env::args()
        .nth(1)
        .and_then(|a| a.parse::<usize>().ok())
    {
        // Profile one definition: `bench <index>`.
        let d = &defs[index];
        let start = Instant::now();
        let n = 200_000;
        for i in 0..n {
            black_box(d.evaluate(black_box(&subject), workload::NOW_MS + i));
        }
        println!(
            "{:.2} µs  {}",
            start.elapsed().as_secs_f64() * 1e6 / n as f64,
            workload::DEFINITIONS[index]
        );
        return;
    }
    let qualified = defs
        .iter()
        .filter(|d| d.evaluate(&subject, workload::NOW_MS).qualified)
        .count();
    println!("{qualified} of {} definitions qualify", defs.len());

    // Warm up, then time batches of rounds of all 50 definitions; the machine may be shared,
    // so report the best and the median batch.
    for _ in 0..1_000 {
        for d in &defs {
            black_box(d.evaluate(black_box(&subject), workload::NOW_MS));
        }
    }
    let rounds = 2_000;
    let mut batches: Vec<f64> = (0..10)
        .map(|_| {
            let start = Instant::now();
            for i in 0..rounds {
                for d in &defs {
                    black_box(d.evaluate(black_box(&subject), workload::NOW_MS + i));
                }
            }
            start.elapsed().as_secs_f64() * 1e6 / rounds as f64
        })
        .collect();
    batches.sort_by(f64::total_cmp);
    println!(
        "50 definitions over 100 events: best {:.1} µs, median {:.1} µs per round ({:.2} µs per definition at best)",
        batches[0],
        batches[batches.len() / 2],
        batches[0] / defs.len() as f64
    );

    // The same with `evaluate_all`, which reads each event's type once for all definitions.
    let mut shared: Vec<f64> = (0..10)
        .map(|_| {
            let start = Instant::now();
            for i in 0..rounds {
                black_box(segments::evaluate_all(
                    &defs,
                    black_box(&subject),
                    workload::NOW_MS + i,
                ));
            }
            start.elapsed().as_secs_f64() * 1e6 / rounds as f64
        })
        .collect();
    shared.sort_by(f64::total_cmp);
    println!(
        "the same with evaluate_all: best {:.1} µs, median {:.1} µs per round",
        shared[0],
        shared[shared.len() / 2]
    );

    // A batch of profiles: the same 50 definitions over 10,000 profiles with 10 events each.
    let small: Vec<EventRef> = refs.iter().step_by(10).copied().collect();
    let small_subject = Subject {
        profile: &profile,
        events: &small,
        in_segment: &in_segment,
    };
    let start = Instant::now();
    for i in 0..10_000 {
        black_box(segments::evaluate_all(
            &defs,
            black_box(&small_subject),
            workload::NOW_MS + i,
        ));
    }
    let per_profile = start.elapsed().as_secs_f64() * 1e6 / 10_000.0;
    println!(
        "50 definitions over 10 events (evaluate_all): {per_profile:.1} µs per profile, {:.1} s per million profiles on one core",
        per_profile
    );

    // Per definition, slowest first.
    let mut each: Vec<(f64, &str)> = defs
        .iter()
        .zip(workload::DEFINITIONS)
        .map(|(d, text)| {
            let n = 5_000;
            let best = (0..5)
                .map(|_| {
                    let start = Instant::now();
                    for i in 0..n {
                        black_box(d.evaluate(black_box(&subject), workload::NOW_MS + i));
                    }
                    start.elapsed().as_secs_f64() * 1e6 / n as f64
                })
                .fold(f64::MAX, f64::min);
            (best, text)
        })
        .collect();
    each.sort_by(|a, b| b.0.total_cmp(&a.0));
    println!("slowest definitions:");
    for (us, text) in each.iter().take(8) {
        println!("  {us:7.2} µs  {text}");
    }
}
