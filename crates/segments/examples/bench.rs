//! Measures evaluation the way the server does it: the 50 definitions of the server benchmark
//! (12 demo segments and 38 generated ones, `tests/segments/server_mix.rs`) over profiles like
//! the benchmark's with 10 and with 100 events, each profile evaluated as
//! `engine::segment::membership::evaluate` does (one `SharedWork`, then `evaluate_shared` per
//! definition in order, `inSegment` reading the results so far); then the crate's own wider
//! workload. Run with `cargo run --release -p segments --example bench`.
//!
//! `bench <index>` times one definition of the mix; `bench loop <seconds>` only evaluates the
//! mix (for a profiler); `bench passes <n> <events> [<index>]` makes a fixed number of passes
//! over 300 profiles (30 with other than 10 events), for an instruction count
//! (`valgrind --tool=callgrind --toggle-collect='bench::evaluate_profile'`).

#[path = "../tests/segments/server_mix.rs"]
mod server_mix;
#[path = "../tests/segments/workload.rs"]
mod workload;

use std::cell::Cell;
use std::hint::black_box;
use std::time::Instant;

use segments::{Definition, EventRef, Outcome, SharedWork, Subject};
use server_mix::Customer;

/// Distinct profiles checked and counted (`passes`).
const CUSTOMERS: usize = 300;
/// Distinct profiles timed: few enough that their JSON stays in the CPU caches, as in the
/// server, which evaluates a profile right after reading and parsing it.
const TIMED: usize = 16;

/// Evaluates every definition on one profile as the engine does; returns how many qualify.
#[inline(never)]
fn evaluate_profile(
    defs: &[Definition],
    ids: &[String],
    profile: &serde_json::Value,
    events: &[EventRef],
    now_ms: i64,
    check: bool,
) -> usize {
    let realized: Vec<Cell<bool>> = (0..defs.len()).map(|_| Cell::new(false)).collect();
    let in_segment = |id: &str| {
        ids.iter()
            .position(|i| i == id)
            .is_some_and(|i| realized[i].get())
    };
    let subject = Subject {
        profile,
        events,
        in_segment: &in_segment,
    };
    let shared = SharedWork::with_profile(profile, events);
    let mut qualified = 0;
    for (i, d) in defs.iter().enumerate() {
        let outcome = d.evaluate_shared(black_box(&subject), &shared, now_ms);
        if check {
            let plain: Outcome = d.evaluate(&subject, now_ms);
            assert_eq!(outcome, plain, "{}", d.pql());
        }
        realized[i].set(outcome.qualified);
        qualified += usize::from(outcome.qualified);
    }
    qualified
}

/// Best and median microseconds per profile of `batches` passes over `customers`.
fn time_mix(
    defs: &[Definition],
    ids: &[String],
    customers: &[(&Customer, Vec<EventRef>)],
    batches: usize,
    passes: usize,
) -> (f64, f64) {
    let mut per_profile: Vec<f64> = (0..batches)
        .map(|_| {
            let start = Instant::now();
            for pass in 0..passes {
                for (c, refs) in customers {
                    black_box(evaluate_profile(
                        defs,
                        ids,
                        &c.profile,
                        refs,
                        server_mix::NOW_MS + pass as i64,
                        false,
                    ));
                }
            }
            start.elapsed().as_secs_f64() * 1e6 / (passes * customers.len()) as f64
        })
        .collect();
    per_profile.sort_by(f64::total_cmp);
    (per_profile[0], per_profile[per_profile.len() / 2])
}

/// `n` profiles with `events` events each (kept for the whole run).
fn customers(n: usize, events: usize) -> Vec<(&'static Customer, Vec<EventRef<'static>>)> {
    (0..n)
        .map(|p| {
            let c: &'static Customer = Box::leak(Box::new(Customer::new(p, events)));
            (c, c.refs())
        })
        .collect()
}

fn main() {
    let (profile_schema, event_schema) = server_mix::schemas();
    let defs = server_mix::definitions(&profile_schema, &event_schema);
    let ids: Vec<String> = (0..defs.len()).map(server_mix::demo_id).collect();
    let small = customers(CUSTOMERS, 10);
    let args: Vec<String> = std::env::args().skip(1).collect();

    if args.first().map(String::as_str) == Some("passes") {
        // A fixed amount of work, for an instruction count (`valgrind --tool=callgrind`).
        let passes: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(1);
        let events: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(10);
        let set = if events == 10 {
            small
        } else {
            customers(CUSTOMERS / 10, events)
        };
        if let Some(only) = args.get(3).and_then(|s| s.parse::<usize>().ok()) {
            // One definition (with its own SharedWork per profile).
            let d = &defs[only..=only];
            let mut n = 0usize;
            for _ in 0..passes {
                for (c, refs) in &set {
                    n += evaluate_profile(d, &ids, &c.profile, refs, server_mix::NOW_MS, false);
                }
            }
            println!("{n}");
            return;
        }
        let mut n = 0usize;
        for _ in 0..passes {
            for (c, refs) in &set {
                n += evaluate_profile(&defs, &ids, &c.profile, refs, server_mix::NOW_MS, false);
            }
        }
        println!("{n}");
        return;
    }
    if args.first().map(String::as_str) == Some("loop") {
        let seconds: f64 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(10.0);
        let start = Instant::now();
        let mut n = 0usize;
        while start.elapsed().as_secs_f64() < seconds {
            for (c, refs) in &small {
                n += evaluate_profile(&defs, &ids, &c.profile, refs, server_mix::NOW_MS, false);
            }
        }
        println!("{n}");
        return;
    }
    if let Some(index) = args.first().and_then(|a| a.parse::<usize>().ok()) {
        // One definition of the mix over the 10-event profiles: `bench <index>`.
        let d = &defs[index];
        let in_segment = |_: &str| true;
        let start = Instant::now();
        let rounds = 200;
        for i in 0..rounds {
            for (c, refs) in &small {
                let subject = Subject {
                    profile: &c.profile,
                    events: refs,
                    in_segment: &in_segment,
                };
                let shared = SharedWork::with_profile(&c.profile, refs);
                black_box(d.evaluate_shared(&subject, &shared, server_mix::NOW_MS + i));
            }
        }
        println!(
            "{:.3} µs  {}",
            start.elapsed().as_secs_f64() * 1e6 / (rounds as usize * small.len()) as f64,
            d.pql()
        );
        return;
    }

    // The server mix: results first (and evaluate_shared checked against evaluate).
    let qualified: usize = small
        .iter()
        .map(|(c, refs)| evaluate_profile(&defs, &ids, &c.profile, refs, server_mix::NOW_MS, true))
        .sum();
    println!(
        "server mix: {:.2} of {} definitions qualify per profile",
        qualified as f64 / small.len() as f64,
        defs.len()
    );
    time_mix(&defs, &ids, &small[..TIMED], 5, 20);
    let (best, median) = time_mix(&defs, &ids, &small[..TIMED], 80, 20);
    println!(
        "server mix, 50 definitions over 10 events: best {best:.2} µs, median {median:.2} µs per profile ({:.1} s per million profiles on one core)",
        best
    );
    let large = customers(CUSTOMERS / 10, 100);
    for (c, refs) in &large {
        evaluate_profile(&defs, &ids, &c.profile, refs, server_mix::NOW_MS, true);
    }
    let (best, median) = time_mix(&defs, &ids, &large[..TIMED / 4], 80, 20);
    println!(
        "server mix, 50 definitions over 100 events: best {best:.2} µs, median {median:.2} µs per profile"
    );

    // Per definition of the mix, slowest first.
    let in_segment = |_: &str| true;
    let mut each: Vec<(f64, &str)> = defs
        .iter()
        .map(|d| {
            let best = (0..5)
                .map(|_| {
                    let start = Instant::now();
                    for (c, refs) in &small {
                        let subject = Subject {
                            profile: &c.profile,
                            events: refs,
                            in_segment: &in_segment,
                        };
                        let shared = SharedWork::with_profile(&c.profile, refs);
                        black_box(d.evaluate_shared(&subject, &shared, server_mix::NOW_MS));
                    }
                    start.elapsed().as_secs_f64() * 1e6 / small.len() as f64
                })
                .fold(f64::MAX, f64::min);
            (best, d.pql())
        })
        .collect();
    each.sort_by(|a, b| b.0.total_cmp(&a.0));
    println!("slowest of the mix over 10 events (each with its own SharedWork):");
    for (us, text) in each.iter().take(8) {
        println!("  {us:7.3} µs  {text}");
    }

    // The crate's wider workload (chains, quantifiers, string tests...): 50 definitions over a
    // profile with 100 events, and over 10 of them.
    let (profile_schema, event_schema) = workload::schemas();
    let wide = workload::definitions(&profile_schema, &event_schema);
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
    for (label, events) in [
        ("100 events", refs.clone()),
        ("10 events", refs.iter().step_by(10).copied().collect()),
    ] {
        let subject = Subject {
            profile: &profile,
            events: &events,
            in_segment: &in_segment,
        };
        let rounds = if events.len() > 10 { 50 } else { 500 };
        let mut batches: Vec<f64> = (0..60)
            .map(|_| {
                let start = Instant::now();
                for i in 0..rounds {
                    let shared = SharedWork::with_profile(&profile, &events);
                    for d in &wide {
                        black_box(d.evaluate_shared(
                            black_box(&subject),
                            &shared,
                            workload::NOW_MS + i,
                        ));
                    }
                }
                start.elapsed().as_secs_f64() * 1e6 / rounds as f64
            })
            .collect();
        batches.sort_by(f64::total_cmp);
        println!(
            "wide workload, 50 definitions over {label}: best {:.1} µs, median {:.1} µs per profile",
            batches[0],
            batches[batches.len() / 2]
        );
    }
}
