//! The Feast peer: Feast's feature server over Redis, loaded with the benchmark's customers, so
//! that its lookups can be measured beside Rapport's on the same machine (bench/peers/feast).

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context;
use rapport::client::Connection;

/// The path of Feast's online lookup.
pub const LOOKUP_PATH: &str = "/get-online-features";

/// Every feature the peer defines (bench/peers/feast/feature_repo/features.py): the CRM record's
/// attributes and the aggregates of the customer's events.
pub const FEATURES: [&str; 18] = [
    "customer_profile:first_name",
    "customer_profile:last_name",
    "customer_profile:birth_date",
    "customer_profile:email",
    "customer_profile:city",
    "customer_profile:state",
    "customer_profile:country",
    "customer_profile:postal_code",
    "customer_profile:phone",
    "customer_profile:loyalty_tier",
    "customer_profile:loyalty_points",
    "customer_profile:consent_email",
    "customer_profile:consent_call",
    "customer_activity:event_count",
    "customer_activity:purchase_count",
    "customer_activity:page_view_count",
    "customer_activity:total_spent",
    "customer_activity:last_event_timestamp",
];

/// Feature server worker processes: one, as the machine has two cores and the benchmark's
/// client runs on it too.
pub const WORKERS: usize = 1;

/// How long Redis, then the feature server, may take to answer.
const REDIS_TIMEOUT: Duration = Duration::from_secs(20);
const SERVE_TIMEOUT: Duration = Duration::from_secs(180);

/// The open-loop rate both systems are measured at side by side: within what one Feast worker
/// can serve on this machine.
const SIDE_BY_SIDE_RATE: u64 = 200;

/// How many turns each system takes in one side-by-side run (the run's seconds shared out).
const SIDE_BY_SIDE_SLICES: u64 = 5;

/// One system's side-by-side run, put together from its turns.
struct Slices {
    histogram: hdrhistogram::Histogram<u64>,
    rates: Vec<f64>,
    body_bytes: usize,
}

impl Slices {
    fn new() -> anyhow::Result<Slices> {
        Ok(Slices {
            histogram: hdrhistogram::Histogram::new_with_bounds(1, 60_000_000, 3)?,
            rates: Vec::new(),
            body_bytes: 0,
        })
    }

    fn add(
        &mut self,
        histogram: &hdrhistogram::Histogram<u64>,
        rate: f64,
        body_bytes: usize,
    ) -> anyhow::Result<()> {
        self.histogram.add(histogram)?;
        self.rates.push(rate);
        self.body_bytes = body_bytes;
        Ok(())
    }

    /// The table row: the turns are equally long, so the run's rate is their mean.
    fn row(
        self,
        run: String,
        connections: usize,
        system: &'static str,
    ) -> (
        String,
        usize,
        &'static str,
        f64,
        hdrhistogram::Histogram<u64>,
        usize,
    ) {
        let rate = self.rates.iter().sum::<f64>() / self.rates.len().max(1) as f64;
        (
            run,
            connections,
            system,
            rate,
            self.histogram,
            self.body_bytes,
        )
    }
}

/// Starts the Feast peer on the lookup scenario's customers and measures its lookups and
/// Rapport's with the same load generator, taking turns ([`SIDE_BY_SIDE_SLICES`] each, so both
/// meet the same host): closed loops at 1 and 16 connections and an open loop at
/// [`SIDE_BY_SIDE_RATE`].
pub async fn measure(
    args: &crate::Args,
    rapport: &str,
    md: &mut crate::report::Markdown,
) -> anyhow::Result<serde_json::Value> {
    use crate::measure::{closed_loop, open_loop, Request};
    let repo_root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let peer = FeastPeer::start(
        &repo_root,
        args.profiles,
        args.events_per_profile,
        args.port + 2,
        args.port + 1,
    )
    .await?;
    let profiles = args.profiles.max(1);
    let feast = move |i: usize| {
        let (path, body) = FeastPeer::request(i % profiles);
        Request::post(path, body)
    };
    let rapport_lookup = move |i: usize| Request::Get(crate::load::lookup_path(i % profiles));
    let mut rows = Vec::new();
    let mut json_rows = Vec::new();
    // The two systems take turns, a slice each, so that a noisy moment of the host falls on
    // both instead of on whichever happened to run then.
    let slices = SIDE_BY_SIDE_SLICES.min(args.seconds.max(1));
    let slice_seconds = (args.seconds / slices).max(1);
    for connections in [1usize, 16] {
        closed_loop(&peer.address(), connections, 1, feast).await?;
        closed_loop(rapport, connections, 1, rapport_lookup).await?;
        let mut feast_run = Slices::new()?;
        let mut rapport_run = Slices::new()?;
        for _ in 0..slices {
            let (histogram, rate, bytes) =
                closed_loop(&peer.address(), connections, slice_seconds, feast).await?;
            feast_run.add(&histogram, rate, bytes)?;
            let (histogram, rate, bytes) =
                closed_loop(rapport, connections, slice_seconds, rapport_lookup).await?;
            rapport_run.add(&histogram, rate, bytes)?;
        }
        let run = || "closed loop".to_owned();
        rows.push(feast_run.row(run(), connections, "Feast"));
        rows.push(rapport_run.row(run(), connections, "Rapport"));
    }
    let mut feast_run = Slices::new()?;
    let mut rapport_run = Slices::new()?;
    for _ in 0..slices {
        let run = open_loop(&peer.address(), SIDE_BY_SIDE_RATE, 16, slice_seconds, feast).await?;
        feast_run.add(&run.histogram, run.achieved_per_second, run.body_bytes)?;
        let run = open_loop(
            rapport,
            SIDE_BY_SIDE_RATE,
            16,
            slice_seconds,
            rapport_lookup,
        )
        .await?;
        rapport_run.add(&run.histogram, run.achieved_per_second, run.body_bytes)?;
    }
    let rate = || format!("open loop, {SIDE_BY_SIDE_RATE}/s");
    rows.push(feast_run.row(rate(), 16, "Feast"));
    rows.push(rapport_run.row(rate(), 16, "Rapport"));

    md.heading(format!(
        "Side by side with Feast {FEAST_VERSION} over Redis ({} profiles; Feast: {} features of one customer by CRM id, {WORKERS} worker; Rapport: the whole merged profile by email; each run in {slices} turns of {slice_seconds} s each, taken in alternation)",
        args.profiles,
        FEATURES.len()
    ));
    md.line("| run | connections | system | answer bytes | requests/s | p50 µs | p90 µs | p99 µs | p99.9 µs | max µs | Feast p99 ÷ Rapport p99 |");
    md.line("|---|---|---|---|---|---|---|---|---|---|---|");
    for pair in rows.chunks(2) {
        let feast_p99 = pair[0].4.value_at_quantile(0.99);
        let rapport_p99 = pair[1].4.value_at_quantile(0.99).max(1);
        for (i, (run, connections, system, rate, histogram, bytes)) in pair.iter().enumerate() {
            let q = |p: f64| histogram.value_at_quantile(p);
            let ratio = if i == 1 {
                format!("{:.1}×", feast_p99 as f64 / rapport_p99 as f64)
            } else {
                String::new()
            };
            md.line(format!(
                "| {run} | {connections} | {system} | {bytes} | {rate:.0} | {} | {} | {} | {} | {} | {ratio} |",
                q(0.5),
                q(0.9),
                q(0.99),
                q(0.999),
                histogram.max()
            ));
            json_rows.push(serde_json::json!({"run": run, "connections": connections, "system": system,
                "body_bytes": bytes, "requests_per_second": rate, "p50_us": q(0.5), "p90_us": q(0.9),
                "p99_us": q(0.99), "p999_us": q(0.999), "max_us": histogram.max()}));
        }
    }
    let rss = peer.rss_bytes();
    let pss = peer.pss_bytes();
    md.line("");
    md.line(format!(
        "Feast's load: {:.1} s of online writes ({:.1} s with Parquet files and `feast apply`); its processes (Redis, the feature server and its worker) hold {:.1} MiB resident ({:.1} MiB proportional), Rapport's server {:.1} MiB.",
        peer.load_seconds(),
        peer.load_total_seconds(),
        rss as f64 / 1048576.0,
        pss as f64 / 1048576.0,
        crate::server_rss_bytes().unwrap_or(0) as f64 / 1048576.0
    ));
    Ok(serde_json::json!({
        "feast_version": FEAST_VERSION, "profiles": peer.profiles(), "features": FEATURES.len(),
        "load_seconds": peer.load_seconds(), "load_total_seconds": peer.load_total_seconds(),
        "feast_rss_bytes": rss, "feast_pss_bytes": pss, "rows": json_rows,
    }))
}

/// The Feast release bench/peers/feast/requirements.txt pins.
pub const FEAST_VERSION: &str = "0.67.0";

/// A running Feast feature server over its own Redis, loaded with the benchmark's customers.
/// Both servers are stopped, and their data directory removed, when it is dropped.
pub struct FeastPeer {
    redis: Option<Child>,
    feast: Option<Child>,
    address: String,
    profiles: usize,
    load_seconds: f64,
    load_total_seconds: f64,
    /// Data, the feature repository's copy and the servers' logs (dropped after the servers).
    dir: tempfile::TempDir,
}

impl FeastPeer {
    /// Runs bench/peers/feast/setup.sh, starts redis-server on `redis_port`, loads `profiles`
    /// customers with `events_per_profile` events' aggregates, starts `feast serve` on
    /// `http_port` (127.0.0.1), waits until it answers a lookup (with a timeout and a clear
    /// error, including the server's stderr tail), returns.
    pub async fn start(
        repo_root: &Path,
        profiles: usize,
        events_per_profile: usize,
        redis_port: u16,
        http_port: u16,
    ) -> anyhow::Result<FeastPeer> {
        let here = repo_root.join("bench/peers/feast");
        let setup = here.join("setup.sh");
        let status = Command::new("bash")
            .arg(&setup)
            .current_dir(repo_root)
            .stdin(Stdio::null())
            .stdout(Stdio::from(std::io::stderr()))
            .status()
            .with_context(|| format!("running {}", setup.display()))?;
        anyhow::ensure!(status.success(), "{} failed ({status})", setup.display());
        let peer_dir =
            std::env::var_os("FEAST_PEER_DIR").unwrap_or_else(|| "target/feast-peer".into());
        let venv = repo_root.join(peer_dir).join("venv");

        for port in [redis_port, http_port] {
            anyhow::ensure!(
                tokio::net::TcpStream::connect(("127.0.0.1", port))
                    .await
                    .is_err(),
                "the Feast peer's port {port} is in use: something listens on 127.0.0.1:{port}"
            );
        }
        let dir = tempfile::Builder::new().prefix("feast-peer").tempdir()?;
        let mut peer = FeastPeer {
            redis: None,
            feast: None,
            address: format!("127.0.0.1:{http_port}"),
            profiles,
            load_seconds: 0.0,
            load_total_seconds: 0.0,
            dir,
        };
        let data = peer.dir.path().to_path_buf();

        // Redis, in memory only, in the foreground so that it can be stopped.
        let serve = here.join("serve.sh");
        let redis_log = data.join("redis.log");
        let redis = Command::new("bash")
            .arg(&serve)
            .arg("redis")
            .arg(redis_port.to_string())
            .arg(&data)
            .stdin(Stdio::null())
            .stdout(log_file(&redis_log)?)
            .stderr(log_file(&redis_log)?)
            .spawn()
            .context("starting redis-server")?;
        peer.redis = Some(redis);
        let started = Instant::now();
        while tokio::net::TcpStream::connect(("127.0.0.1", redis_port))
            .await
            .is_err()
        {
            exited(&mut peer.redis, "redis-server", &redis_log)?;
            anyhow::ensure!(
                started.elapsed() < REDIS_TIMEOUT,
                "redis-server did not listen on port {redis_port} within {REDIS_TIMEOUT:?}:\n{}",
                tail(&redis_log)
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }

        // The customers, written to Redis through Feast.
        eprintln!("feast peer: loading {profiles} profiles");
        let load_log = data.join("load.log");
        let output = Command::new(venv.join("bin/python"))
            .arg(here.join("load.py"))
            .args([profiles.to_string(), events_per_profile.to_string()])
            .env("FEAST_PEER_DATA", &data)
            .env("FEAST_REDIS_PORT", redis_port.to_string())
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .current_dir(&data)
            .stdin(Stdio::null())
            .stderr(log_file(&load_log)?)
            .output()
            .context("running load.py")?;
        let stdout = String::from_utf8_lossy(&output.stdout);
        anyhow::ensure!(
            output.status.success(),
            "load.py failed ({}):\n{stdout}\n{}",
            output.status,
            tail(&load_log)
        );
        let summary: serde_json::Value = stdout
            .lines()
            .rev()
            .find_map(|line| serde_json::from_str(line).ok())
            .ok_or_else(|| anyhow::anyhow!("load.py printed no summary:\n{stdout}"))?;
        peer.load_seconds = summary["write_seconds"].as_f64().unwrap_or(0.0);
        peer.load_total_seconds = summary["seconds"].as_f64().unwrap_or(0.0);

        // The feature server: gunicorn's master and its uvicorn worker(s), with gunicorn's
        // recycling of workers every 1,000 requests turned off (serve.sh).
        let feast_log = data.join("feast.log");
        let feast = Command::new("bash")
            .arg(&serve)
            .arg("feast")
            .arg(http_port.to_string())
            .arg(&data)
            .env("FEAST_SERVE_WORKERS", WORKERS.to_string())
            .stdin(Stdio::null())
            .stdout(log_file(&feast_log)?)
            .stderr(log_file(&feast_log)?)
            .spawn()
            .context("starting feast serve")?;
        peer.feast = Some(feast);
        let (path, body) = FeastPeer::request(0);
        let started = Instant::now();
        loop {
            exited(&mut peer.feast, "feast serve", &feast_log)?;
            // Until the worker has loaded the app, connections are refused, or wait unanswered
            // in gunicorn's backlog: each try is bounded.
            let attempt = async {
                let mut connection = Connection::open(&peer.address).await?;
                connection
                    .send(
                        hyper::Method::POST,
                        path,
                        &[("content-type", "application/json")],
                        Some(body.clone().into()),
                    )
                    .await
            };
            let answer = match tokio::time::timeout(Duration::from_secs(5), attempt).await {
                Ok(Ok(answer)) => Some(answer),
                _ => None,
            };
            match answer {
                Some((200, bytes)) => {
                    let text = String::from_utf8_lossy(&bytes);
                    anyhow::ensure!(
                        text.contains("\"results\"")
                            && (profiles == 0 || text.contains("customer0@example.com")),
                        "the Feast peer does not know customer 0: {text}"
                    );
                    break;
                }
                Some((status, bytes)) => anyhow::bail!(
                    "the Feast peer answered {status}: {}\n{}",
                    String::from_utf8_lossy(&bytes),
                    tail(&feast_log)
                ),
                // Not listening yet.
                None if started.elapsed() < SERVE_TIMEOUT => {
                    tokio::time::sleep(Duration::from_millis(100)).await
                }
                None => anyhow::bail!(
                    "feast serve did not answer on {} within {SERVE_TIMEOUT:?}:\n{}",
                    peer.address,
                    tail(&feast_log)
                ),
            }
        }
        eprintln!(
            "feast peer: {profiles} profiles loaded in {:.1} s, serving after {:.1} s",
            peer.load_seconds,
            started.elapsed().as_secs_f64()
        );
        Ok(peer)
    }

    /// The address ("127.0.0.1:PORT") of the feature server.
    pub fn address(&self) -> String {
        self.address.clone()
    }

    /// The request path and JSON body that fetches all features of `profile` (the same customer
    /// as Rapport's `customer{profile}@example.com`, CRM id `crm-{profile}`).
    pub fn request(profile: usize) -> (&'static str, String) {
        let features = FEATURES
            .iter()
            .map(|f| format!("\"{f}\""))
            .collect::<Vec<_>>()
            .join(",");
        (
            LOOKUP_PATH,
            format!(
                r#"{{"features":[{features}],"entities":{{"customer_id":["crm-{profile}"]}}}}"#
            ),
        )
    }

    /// Seconds the online store's writes took (Feast's `write_to_online_store` of both feature
    /// views into Redis), the counterpart of Rapport's ingestion.
    pub fn load_seconds(&self) -> f64 {
        self.load_seconds
    }

    /// Seconds the whole load took: making the rows and Parquet files, `feast apply`, the writes.
    pub fn load_total_seconds(&self) -> f64 {
        self.load_total_seconds
    }

    /// Profiles loaded.
    pub fn profiles(&self) -> usize {
        self.profiles
    }

    /// Resident memory (bytes) of redis-server plus the feast server process(es): the sum of
    /// `VmRSS` of redis-server, gunicorn's master and its workers. Pages the master shares
    /// with the workers it forked count once per process: see [`FeastPeer::pss_bytes`].
    pub fn rss_bytes(&self) -> u64 {
        self.pids()
            .iter()
            .filter_map(|pid| proc_kib(&format!("/proc/{pid}/status"), "VmRSS:"))
            .sum::<u64>()
            * 1024
    }

    /// The same processes' proportional set size (`Pss` in `/proc/<pid>/smaps_rollup`):
    /// shared pages split between the processes that share them, so the sum is what they
    /// take together.
    pub fn pss_bytes(&self) -> u64 {
        self.pids()
            .iter()
            .filter_map(|pid| proc_kib(&format!("/proc/{pid}/smaps_rollup"), "Pss:"))
            .sum::<u64>()
            * 1024
    }

    /// redis-server, the feast server and all its descendants.
    fn pids(&self) -> Vec<u32> {
        let mut pids: Vec<u32> = self.redis.iter().map(Child::id).collect();
        if let Some(feast) = &self.feast {
            pids.extend(with_descendants(feast.id()));
        }
        pids
    }
}

impl Drop for FeastPeer {
    fn drop(&mut self) {
        if let Some(mut feast) = self.feast.take() {
            // Killed outright: on SIGINT or SIGTERM, feast serve's uvicorn worker does not stop
            // and gunicorn kills it after its 30 s grace time (Feast 0.67, gunicorn 27). The
            // master first, lest it fork a new worker, then the workers it leaves.
            let family = with_descendants(feast.id());
            let _ = feast.kill();
            let _ = feast.wait();
            for pid in family.into_iter().skip(1) {
                signal("KILL", pid);
            }
        }
        if let Some(mut redis) = self.redis.take() {
            let _ = redis.kill();
            let _ = redis.wait();
        }
    }
}

fn log_file(path: &Path) -> anyhow::Result<std::fs::File> {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("opening {}", path.display()))
}

/// The last lines of a log.
fn tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(30)..].join("\n")
}

/// Fails when `child` has exited, with its log's tail.
fn exited(child: &mut Option<Child>, name: &str, log: &Path) -> anyhow::Result<()> {
    if let Some(process) = child {
        if let Some(status) = process.try_wait()? {
            *child = None;
            anyhow::bail!("{name} exited ({status}):\n{}", tail(log));
        }
    }
    Ok(())
}

fn signal(name: &str, pid: u32) {
    let _ = Command::new("kill")
        .args([format!("-{name}"), pid.to_string()])
        .stderr(Stdio::null())
        .status();
}

/// `pid` and every process below it (from each process's parent in `/proc/<pid>/stat`).
fn with_descendants(pid: u32) -> Vec<u32> {
    let mut parents = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(child) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // pid (comm) state ppid ...: the command name may hold spaces and parentheses.
        let parent = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1))
            .and_then(|ppid| ppid.parse::<u32>().ok());
        if let Some(parent) = parent {
            parents.push((child, parent));
        }
    }
    let mut family = vec![pid];
    let mut next = 0;
    while next < family.len() {
        let parent = family[next];
        family.extend(
            parents
                .iter()
                .filter(|(_, p)| *p == parent)
                .map(|(child, _)| *child),
        );
        next += 1;
    }
    family
}

/// A `kB` field of a `/proc` file (`VmRSS:` in status, `Pss:` in smaps_rollup).
fn proc_kib(path: &str, field: &str) -> Option<u64> {
    std::fs::read_to_string(path)
        .ok()?
        .lines()
        .find_map(|line| line.strip_prefix(field))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}
