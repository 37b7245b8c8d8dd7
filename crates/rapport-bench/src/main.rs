//! `rapport-bench`: starts the release `rapport` binary on a fresh data directory, loads
//! profiles and events through the streaming API, then measures profile lookups by email over
//! HTTP keep-alive beside the floor (a trivial endpoint of the same server returning a body of
//! the same size), and prints Markdown tables plus a JSON summary.

mod batch;
mod computed;
mod freshness;
mod ingest;
mod load;
mod measure;
mod peer;
mod report;
mod segments;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Parser;
use rapport::client;
use serde_json::json;

#[derive(Parser, Debug, Clone)]
#[command(about = "Benchmarks rapport end to end over HTTP")]
pub struct Args {
    /// What to measure: `all` (every scenario below, one after the other, each on a fresh
    /// server, into one JSON file), `lookup` (streaming load, then lookups beside the floor,
    /// open-loop rates, freshness and footprint), `batch`
    /// (profile records as JSON Lines and CSV, and events as JSON Lines, through the batch API)
    /// or `segments` (a segment job over every profile, and streaming evaluation's cost per event)
    /// or `computed` (what keeping 25 computed attributes exact costs each ingested event)
    /// or `models` (training both built-in models and scoring every profile)
    #[arg(long, default_value = "lookup")]
    pub scenario: String,
    /// Profiles to load (each gets one CRM record)
    #[arg(long, default_value_t = 100_000)]
    pub profiles: usize,
    /// Experience events per profile
    #[arg(long, default_value_t = 20)]
    pub events_per_profile: usize,
    /// Messages per streaming batch request
    #[arg(long, default_value_t = 500)]
    pub batch_size: usize,
    /// Concurrent ingestion clients
    #[arg(long, default_value_t = 4)]
    pub ingest_clients: usize,
    /// The lookup scenario reads the store's file once before it measures lookups, as a server
    /// that has run a while holds it in memory (when it fits): what the load left on disk is not
    /// read one fault at a time during the runs. The server's major page faults are printed
    /// either way
    #[arg(long)]
    pub warm_store: bool,
    /// Seconds each latency run lasts
    #[arg(long, default_value_t = 10)]
    pub seconds: u64,
    /// The rapport binary [default: next to this one]
    #[arg(long)]
    pub rapport_bin: Option<PathBuf>,
    /// Where to write the JSON summary
    #[arg(long, default_value = "target/bench-results.json")]
    pub json_out: PathBuf,
    /// The segments scenario's largest definition count (50 or 500): 50 skips the 500 phase
    #[arg(long, default_value_t = 500)]
    pub max_definitions: usize,
    /// The lookup scenario also measures lookups by a key of the sales role, which may not see
    /// the birth date (labelled I2): the cost of field-level redaction
    #[arg(long)]
    pub redacted: bool,
    /// The lookup scenario's open-loop rates, requests a second (16 connections; latency
    /// timed from each request's intended send time); 0 to skip
    #[arg(long, value_delimiter = ',', default_value = "1000,4000")]
    pub open_loop_rates: Vec<u64>,
    /// The lookup scenario streams this many events a second while it measures lookups once
    /// more; 0 to skip
    #[arg(long, default_value_t = 10_000)]
    pub ingest_rate_during_lookups: u64,
    /// Events each streaming-ingestion phase (1 client, then 16) sends after the load; 0 to skip
    #[arg(long, default_value_t = 100_000)]
    pub stream_events: usize,
    /// The lookup scenario also loads the same customers into Feast's feature server over Redis
    /// (bench/peers/feast: Python packages and redis-server are installed on first use) and
    /// measures its lookups beside Rapport's
    #[arg(long)]
    pub feast: bool,
    /// Port for the server under test (Feast's feature server takes the next, its Redis the one
    /// after)
    #[arg(long, default_value_t = 18_181)]
    pub port: u16,
    /// Where to write the run's Markdown tables
    #[arg(long, default_value = "target/bench-results.md")]
    pub markdown_out: PathBuf,
    /// Replace the tables between BENCHMARKS.md's `rapport-bench` markers in this file with the
    /// run's
    #[arg(long)]
    pub write_benchmarks: Option<PathBuf>,
}

struct Server(Child);

/// The master key the server under test is started with (a fixed value: the server lives only
/// as long as the run, on a loopback port).
pub(crate) const MASTER_KEY: &str = "rapport-bench-master-key-0123456789abcdefghij";

/// The server's process id, once started (0 before).
static SERVER_PID: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

fn server_pid() -> Option<u32> {
    match SERVER_PID.load(std::sync::atomic::Ordering::Relaxed) {
        0 => None,
        pid => Some(pid),
    }
}

/// The server's major page faults so far (pages it waited for the disk to read), field 12 of
/// `/proc/<pid>/stat`.
pub(crate) fn server_major_faults() -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{}/stat", server_pid()?)).ok()?;
    // The command name is in parentheses and may hold spaces: count fields after it.
    let after_name = &stat[stat.rfind(')')? + 1..];
    after_name.split_whitespace().nth(9)?.parse().ok()
}

/// The server's resident set size, in bytes (`VmRSS` in `/proc/<pid>/status`).
pub(crate) fn server_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{}/status", server_pid()?)).ok()?;
    let kib: u64 = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kib * 1024)
}

/// Bytes of the files under `dir` as the disk holds them (allocated blocks, so LMDB's sparse
/// map counts only what it uses).
fn disk_bytes(dir: &std::path::Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let mut total = 0;
    let mut folders = vec![dir.to_path_buf()];
    while let Some(folder) = folders.pop() {
        let Ok(entries) = std::fs::read_dir(&folder) else {
            continue;
        };
        for entry in entries.flatten() {
            match entry.metadata() {
                Ok(meta) if meta.is_dir() => folders.push(entry.path()),
                Ok(meta) => total += meta.blocks() * 512,
                Err(_) => {}
            }
        }
    }
    total
}

/// Reads the store's file from start to end, so that the kernel holds its pages (the server's
/// map shares them); returns the bytes read.
fn read_store_once(data_dir: &std::path::Path) -> std::io::Result<u64> {
    let mut file = std::fs::File::open(data_dir.join("lmdb").join("data.mdb"))?;
    std::io::copy(&mut file, &mut std::io::sink())
}

/// How to start the server under test (again).
pub(crate) struct ServerCommand {
    binary: PathBuf,
    data_dir: PathBuf,
    address: String,
}

impl ServerCommand {
    fn start(&self) -> anyhow::Result<Server> {
        let child = Command::new(&self.binary)
            .args(["serve", "--data-dir"])
            .arg(&self.data_dir)
            .args([
                "--http-addr",
                &self.address,
                "--log",
                "warn",
                "--max-payload-bytes",
                "4194304",
            ])
            .env("RAPPORT_MASTER_KEY", MASTER_KEY)
            .env_remove("RAPPORT_DEV_MODE")
            .stdout(Stdio::null())
            .spawn()
            .with_context(|| format!("starting {}", self.binary.display()))?;
        SERVER_PID.store(child.id(), std::sync::atomic::Ordering::Relaxed);
        Ok(Server(child))
    }
}

/// How many bytes the server has handed to write calls so far (`wchar` in
/// `/proc/<pid>/io`), where the system tells.
pub(crate) fn server_write_bytes() -> Option<u64> {
    let io = std::fs::read_to_string(format!("/proc/{}/io", server_pid()?)).ok()?;
    io.lines()
        .find_map(|line| line.strip_prefix("wchar:"))
        .and_then(|bytes| bytes.trim().parse().ok())
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let binary = match &args.rapport_bin {
        Some(path) => path.clone(),
        None => std::env::current_exe()?.with_file_name("rapport"),
    };
    anyhow::ensure!(
        binary.exists(),
        "{} not found: build it with `cargo build --release -p rapport`",
        binary.display()
    );
    let started = chrono::Utc::now();
    let mut md = report::Markdown::default();
    let report = if args.scenario == "all" {
        // Each scenario on a fresh server and data directory, one after the other.
        let mut reports = serde_json::Map::new();
        for scenario in SCENARIOS {
            md.line("");
            md.line(format!("### Scenario `{scenario}`"));
            let args = Args {
                scenario: scenario.to_owned(),
                ..args.clone()
            };
            reports.insert(scenario.to_owned(), run_scenario(&args, &binary, &mut md)?);
        }
        serde_json::Value::Object(reports)
    } else {
        run_scenario(&args, &binary, &mut md)?
    };
    std::fs::create_dir_all(args.json_out.parent().unwrap_or(std::path::Path::new(".")))?;
    std::fs::write(&args.json_out, serde_json::to_vec_pretty(&report)?)?;
    println!("\nJSON summary written to {}", args.json_out.display());
    let command: Vec<String> = std::env::args().skip(1).collect();
    let tables = format!(
        "Written by `rapport-bench {}` on {} ({} minutes; {} cores).\n{}",
        command.join(" "),
        started.format("%Y-%m-%d %H:%M UTC"),
        (chrono::Utc::now() - started).num_minutes(),
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        md.text()
    );
    std::fs::create_dir_all(
        args.markdown_out
            .parent()
            .unwrap_or(std::path::Path::new(".")),
    )?;
    std::fs::write(&args.markdown_out, &tables)?;
    println!("Markdown tables written to {}", args.markdown_out.display());
    if let Some(path) = &args.write_benchmarks {
        let before =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        std::fs::write(path, report::replace_between_markers(&before, &tables))?;
        println!("Tables replaced in {}", path.display());
    }
    Ok(())
}

/// Every scenario `all` runs, in order.
const SCENARIOS: [&str; 5] = ["lookup", "batch", "segments", "computed", "models"];

/// Starts a server on a fresh data directory and runs `args.scenario` against it.
fn run_scenario(
    args: &Args,
    binary: &std::path::Path,
    md: &mut report::Markdown,
) -> anyhow::Result<serde_json::Value> {
    let data = tempfile::tempdir()?;
    let address = format!("127.0.0.1:{}", args.port);
    let command = ServerCommand {
        binary: binary.to_path_buf(),
        data_dir: data.path().to_path_buf(),
        address: address.clone(),
    };
    let mut server = command.start()?;
    // One client thread: the machine is small, and the client must not crowd the server.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let report = runtime.block_on(run(args, &address, &command, &mut server, md))?;
    drop(server);
    Ok(report)
}

async fn run(
    args: &Args,
    address: &str,
    command: &ServerCommand,
    server: &mut Server,
    md: &mut report::Markdown,
) -> anyhow::Result<serde_json::Value> {
    let started = Instant::now();
    loop {
        if client::Connection::open(address).await.is_ok() {
            break;
        }
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(20),
            "the server did not start"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let setup = load::setup(address).await?;
    if args.scenario == "batch" {
        let dir = tempfile::tempdir()?;
        let runs = batch::run(args, address, &setup, dir.path()).await?;
        md.heading("Batch ingestion");
        md.line("| input | records | bytes | seconds | records/s |\n|---|---|---|---|---|");
        for run in &runs {
            md.line(format!(
                "| {} | {} | {} | {:.1} | {:.0} |",
                run.label,
                run.records,
                run.bytes,
                run.seconds,
                run.records as f64 / run.seconds
            ));
        }
        return Ok(
            json!({"scenario": "batch", "profiles": args.profiles, "runs": runs.iter().map(|r| r.json()).collect::<Vec<_>>()}),
        );
    }
    if args.scenario == "segments" {
        let dir = tempfile::tempdir()?;
        let report = segments::run(args, address, &setup, dir.path()).await?;
        md.line(&report.markdown);
        return Ok(json!({"scenario": "segments", "report": report.json}));
    }
    if args.scenario == "models" {
        let dir = tempfile::tempdir()?;
        let report = computed::run_models(args, address, &setup, dir.path()).await?;
        md.line(&report.markdown);
        return Ok(json!({"scenario": "models", "report": report.json}));
    }
    if args.scenario == "computed" {
        let dir = tempfile::tempdir()?;
        let report = computed::run(args, address, &setup, dir.path()).await?;
        md.line(&report.markdown);
        return Ok(json!({"scenario": "computed", "report": report.json}));
    }
    anyhow::ensure!(
        args.scenario == "lookup",
        "--scenario: \"{}\" is not all, lookup, batch, segments, computed or models",
        args.scenario
    );
    let loaded = load::load(args, address, &setup).await?;
    md.heading(format!(
        "Streaming load: {} profiles, {} events each ({} clients, {} messages a request)",
        args.profiles, args.events_per_profile, args.ingest_clients, args.batch_size
    ));
    md.line("| phase | events stored before | items | seconds | items/s | writes a commit | apply µs a write | commit µs a write | writer busy |");
    md.line("|---|---|---|---|---|---|---|---|---|");
    md.line(format!(
        "| profile records | 0 | {} | {:.1} | {:.0} | | | | |",
        loaded.records,
        loaded.record_seconds,
        loaded.records as f64 / loaded.record_seconds
    ));
    for slice in &loaded.slices {
        md.line(format!(
            "| experience events | {} | {} | {:.1} | {:.0} | {} |",
            slice.stored_before,
            slice.events,
            slice.seconds,
            slice.events as f64 / slice.seconds,
            slice.writer.cells()
        ));
    }

    // Let the kernel finish writing back what the load dirtied before measuring latency.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let warmed = match args.warm_store {
        true => {
            let dir = command.data_dir.clone();
            let started = std::time::Instant::now();
            let bytes = tokio::task::spawn_blocking(move || read_store_once(&dir)).await??;
            Some((bytes, started.elapsed().as_secs_f64()))
        }
        false => None,
    };
    let faults_before = server_major_faults();
    let lookups = measure::lookups(args, address).await?;
    let lookup_faults = faults_before.zip(server_major_faults()).map(|(b, a)| a - b);
    md.heading(format!(
        "Profile lookup by email ({} profiles, {} events each)",
        args.profiles, args.events_per_profile
    ));
    md.rows(&lookups);
    if let Some((bytes, seconds)) = warmed {
        md.line(format!(
            "Measured after the store's file ({:.1} GiB) was read once, in {seconds:.0} s (`--warm-store`).",
            bytes as f64 / (1u64 << 30) as f64
        ));
    }
    if let Some(faults) = lookup_faults {
        md.line(format!(
            "Major page faults in the server during these runs (a page read from disk): {faults}."
        ));
    }
    let open_loop = measure::open_loop_lookups(args, address).await?;
    if !open_loop.is_empty() {
        md.heading("Profile lookup at fixed rates (open loop, 16 connections)");
        md.rows(&open_loop);
    }
    let events_and_batch = ingest::events_and_batch_lookups(args, address, &setup).await?;
    md.heading(format!(
        "Events lookup (the last 50 of a profile's {}) and batch lookup (100 profiles by email)",
        args.events_per_profile + ingest::EXTRA_EVENTS
    ));
    md.rows(&events_and_batch);
    let under_ingestion = if args.ingest_rate_during_lookups > 0 {
        let under =
            ingest::lookups_under_ingestion(args, address, &setup, args.ingest_rate_during_lookups)
                .await?;
        md.heading(format!(
            "Profile lookup while streaming {} events/s (achieved {:.0}/s; acknowledgements p50 {} µs, p99 {} µs from each batch's intended time)",
            under.events_rate, under.events_achieved, under.ack_p50, under.ack_p99
        ));
        md.rows(&under.rows);
        Some(under.json())
    } else {
        None
    };
    let streamed = if args.stream_events > 0 {
        let phases = ingest::streaming(args, address, &setup, args.stream_events).await?;
        md.heading(format!(
            "Streaming ingestion into the loaded store ({} events a phase, {} a request)",
            args.stream_events, args.batch_size
        ));
        md.line("| clients | events/s | writes a commit | apply µs a write | commit µs a write | writer busy |");
        md.line("|---|---|---|---|---|---|");
        for phase in &phases {
            md.line(format!(
                "| {} | {:.0} | {} |",
                phase.clients,
                phase.events as f64 / phase.seconds,
                phase.writer.cells()
            ));
        }
        phases.iter().map(ingest::Streamed::json).collect()
    } else {
        Vec::new()
    };
    let redacted = if args.redacted {
        let key = load::sales_key(address, &setup).await?;
        let rows = measure::redacted_lookups(args, address, &key).await?;
        md.heading("Profile lookup with field-level redaction (1 connection)");
        md.rows(&rows);
        rows.iter().map(|r| r.json()).collect::<Vec<_>>()
    } else {
        Vec::new()
    };
    let fresh = freshness::run(args, address, &setup).await?;
    md.heading("Freshness (a CRM record streamed, then the profile looked up at once: its new value and its streaming segment membership)");
    md.line(fresh.markdown());
    let feast = if args.feast {
        Some(peer::measure(args, address, md).await?)
    } else {
        None
    };
    let footprint = footprint(args, address, command, server, md).await?;
    Ok(json!({
        "footprint": footprint,
        "freshness": fresh.json(),
        "redacted_lookups": redacted,
        "profiles": args.profiles,
        "events_per_profile": args.events_per_profile,
        "load": {
            "records": loaded.records, "record_seconds": loaded.record_seconds,
            "events": loaded.events, "event_seconds": loaded.event_seconds,
            "events_per_second": loaded.events as f64 / loaded.event_seconds,
            "records_per_second": loaded.records as f64 / loaded.record_seconds,
            "slices": loaded.slices.iter().map(|s| json!({"stored_before": s.stored_before, "events": s.events, "seconds": s.seconds, "writer": s.writer.json()})).collect::<Vec<_>>(),
        },
        "lookups": lookups.iter().map(|r| r.json()).collect::<Vec<_>>(),
        "lookup_major_faults": lookup_faults,
        "warm_store": warmed.map(|(bytes, seconds)| json!({"bytes": bytes, "seconds": seconds})),
        "open_loop_lookups": open_loop.iter().map(|r| r.json()).collect::<Vec<_>>(),
        "events_and_batch_lookups": events_and_batch.iter().map(|r| r.json()).collect::<Vec<_>>(),
        "lookups_under_ingestion": under_ingestion,
        "streaming": streamed,
        "feast": feast,
    }))
}

/// Memory and disk per profile after the load and the lookups, then the time a restarted
/// server takes to answer its first lookup, and its memory then.
async fn footprint(
    args: &Args,
    address: &str,
    command: &ServerCommand,
    server: &mut Server,
    md: &mut report::Markdown,
) -> anyhow::Result<serde_json::Value> {
    let profiles = args.profiles.max(1) as f64;
    let rss = server_rss_bytes().unwrap_or(0);
    let disk = disk_bytes(&command.data_dir);
    // Stopped hard, as a crash would: LMDB needs no recovery.
    let _ = server.0.kill();
    let _ = server.0.wait();
    let started = Instant::now();
    *server = command.start()?;
    let lookup = load::lookup_path(args.profiles / 2);
    let first_lookup = loop {
        if let Ok(mut connection) = load::connect(address, None).await {
            if let Ok((200, _)) = connection.get(&lookup).await {
                break started.elapsed();
            }
        }
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(300),
            "the restarted server answered no lookup within 300 s"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    let rss_restarted = server_rss_bytes().unwrap_or(0);
    md.heading(format!(
        "Footprint ({} profiles, {} events each)",
        args.profiles, args.events_per_profile
    ));
    md.line("| measure | value | per profile |\n|---|---|---|");
    md.line(format!(
        "| resident memory after load and lookups | {:.1} MiB | {:.0} B |",
        rss as f64 / 1048576.0,
        rss as f64 / profiles
    ));
    md.line(format!(
        "| disk (store, audit log, files) | {:.1} MiB | {:.0} B |",
        disk as f64 / 1048576.0,
        disk as f64 / profiles
    ));
    md.line(format!(
        "| restart to the first lookup answered | {} ms | |",
        first_lookup.as_millis()
    ));
    md.line(format!(
        "| resident memory right after that lookup | {:.1} MiB | |",
        rss_restarted as f64 / 1048576.0
    ));
    Ok(json!({
        "rss_bytes": rss, "rss_bytes_per_profile": rss as f64 / profiles,
        "disk_bytes": disk, "disk_bytes_per_profile": disk as f64 / profiles,
        "restart_to_first_lookup_ms": first_lookup.as_millis() as u64,
        "rss_bytes_after_restart": rss_restarted,
    }))
}
