//! The demo company: Cascade Outfitters, a fictional outdoor retailer, generated from a seed
//! (`generator`), set up through the engine's catalog API (`setup`), loaded through the engine's
//! writer, or written out as files for the batch path (`files`).
//!
//! Loading replays the simulated history: each record is ingested with its own time (an event's
//! timestamp, a profile record's last update) as the time it was received, so the identity
//! graph's first and last sightings, and therefore which link is the most recent, follow the
//! story and not the order the records happen to be loaded in.

pub mod computed;
pub mod files;
pub mod generator;
pub mod segments;
pub mod setup;

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use engine::{Engine, Job, PreparedWrite, SandboxCatalog};
use rapport_types::{ProfileId, SandboxName};
use serde_json::Value;

pub use files::group_digits;
use generator::{DemoDataset, Generator, Interesting};
use setup::DemoDatasets;

/// Options of `rapport demo`.
#[derive(Debug, Clone, clap::Args)]
pub struct DemoOptions {
    /// How many customers the demo company has (millions are fine, for benchmarks)
    #[arg(long, default_value_t = 10_000)]
    pub customers: u64,
    /// The generator's seed: the same seed gives the same company, record for record
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Only write the datasets into this directory as JSON Lines, CSV and Parquet, then exit (no server)
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

impl Default for DemoOptions {
    fn default() -> DemoOptions {
        DemoOptions {
            customers: 10_000,
            seed: 42,
            out: None,
        }
    }
}

/// What `load` did, and which customers to look at.
#[derive(Debug, Clone)]
pub struct DemoSummary {
    pub seed: u64,
    pub customers: u64,
    /// The demo was there already; nothing was loaded.
    pub already_loaded: bool,
    /// Records per dataset: `(dataset name, count)`.
    pub records: Vec<(String, u64)>,
    pub seconds: f64,
    pub interesting: Vec<Interesting>,
    /// Said when the options asked for something other than what is loaded.
    pub note: Option<String>,
    /// How many segment definitions the demo has.
    pub segments: usize,
}

/// Customers per unit of work of a preparing thread.
const BLOCK_CUSTOMERS: u64 = 50;
/// Writes per job submitted to the writer.
const CHUNK_WRITES: usize = 5_000;
/// Jobs submitted and not yet acknowledged.
const IN_FLIGHT: usize = 2;
/// Threads generating and preparing records.
const PREPARING_THREADS: u64 = 2;

/// Loads the demo into the `prod` sandbox, unless it is there already (then only the summary is
/// given again). An interrupted load is resumed: loading the same record twice replaces it.
pub fn load(engine: &Engine, options: &DemoOptions) -> anyhow::Result<DemoSummary> {
    let started = Instant::now();
    let sandbox = SandboxName::default_sandbox();
    let (seed, customers, note) = match setup::existing(engine, &sandbox)? {
        Some(existing) => {
            let differs = existing.seed != options.seed || existing.customers != options.customers;
            let note = differs.then(|| {
                format!(
                    "this data directory holds the demo made with --seed {} --customers {}; use a fresh --data-dir for another",
                    existing.seed, existing.customers
                )
            });
            if existing.complete {
                let generator = Generator::new(existing.seed, existing.customers)?;
                let segments = segments::ensure(engine, &sandbox)?;
                computed::ensure(engine, &sandbox)?;
                return Ok(DemoSummary {
                    seed: existing.seed,
                    customers: existing.customers,
                    already_loaded: true,
                    records: DemoDataset::ALL
                        .iter()
                        .map(|d| (d.name().to_owned(), existing.records[d.index()]))
                        .collect(),
                    seconds: started.elapsed().as_secs_f64(),
                    interesting: generator.interesting(),
                    note,
                    segments,
                });
            }
            eprintln!(
                "demo: resuming an interrupted load (seed {}, {} customers)",
                existing.seed, existing.customers
            );
            (existing.seed, existing.customers, note)
        }
        None => (options.seed, options.customers, None),
    };
    let generator = Generator::new(seed, customers)?;
    let datasets = setup::ensure(engine, &sandbox, &generator)?;
    // The simulated year ends now, so "today", "the last 7 days" and "at risk" mean something
    // on the day the demo is loaded; whole minutes keep the generated times round.
    let shift_ms =
        (engine::catalog::now_ms() - generator::HISTORY_END_MS).div_euclid(60_000) * 60_000;
    let records = ingest(engine, &sandbox, &generator, &datasets, shift_ms)?;
    setup::mark_complete(engine, &sandbox, &generator, &datasets, &records)?;
    // Defined after loading: one job evaluates them over every customer, and from then on
    // every write keeps them current.
    let segments = segments::ensure(engine, &sandbox)?;
    computed::ensure(engine, &sandbox)?;
    Ok(DemoSummary {
        seed,
        customers,
        already_loaded: false,
        records: DemoDataset::ALL
            .iter()
            .map(|d| (d.name().to_owned(), records[d.index()]))
            .collect(),
        seconds: started.elapsed().as_secs_f64(),
        interesting: generator.interesting(),
        note,
        segments,
    })
}

/// Writes the demo's datasets as files (`--out`); returns what was written, for the terminal.
/// The name of the key the demo makes for trying authentication.
const DEMO_KEY_NAME: &str = "demo";

/// How callers get in, for the demo's summary: in development mode, that requests without a
/// key are let in; and a key to try (the demo's key, given a new secret on every start, since
/// only its hash is kept), with every action on every sandbox.
pub fn access_note(state: &crate::state::AppState) -> anyhow::Result<String> {
    let now = engine::catalog::now_ms();
    let existing = state
        .keys
        .list()
        .into_iter()
        .find(|k| k.name == DEMO_KEY_NAME && !k.is_revoked());
    let token = match existing {
        Some(key) => state.keys.rotate(&key.id.to_string(), 0, now),
        None => state.keys.create(
            auth::NewKey {
                name: DEMO_KEY_NAME.to_owned(),
                description: Some("made by rapport demo".to_owned()),
                actions: rapport_types::ActionSet::all(),
                sandboxes: auth::SandboxScope::All,
                expires_ms: None,
                role: None,
                rate_limit: None,
            },
            (rapport_types::ActionSet::all(), &auth::SandboxScope::All),
            "demo",
            now,
        ),
    }
    .map_err(|e| anyhow::anyhow!("the demo's API key: {e}"))?
    .1;
    let mode = match state.settings.access.dev_mode {
        true => "Development mode (loopback only): requests without a key are let in, and the console opens without signing in.\n",
        false => "",
    };
    let users = demo_users(state, now)?;
    Ok(format!(
        "{mode}An API key with every action (a new secret on every start):\n  export RAPPORT_KEY={token}\n  curl -H \"Authorization: Bearer $RAPPORT_KEY\" ...\nConsole users (sign in at /console/login; new passwords on every start):\n{users}"
    ))
}

/// The demo's console users, one per built-in role an agent's company would hand out.
const DEMO_USERS: [(&str, &str, &str); 3] = [
    ("ana", "Ana Agent", "agent"),
    ("sol", "Sol Supervisor", "supervisor"),
    ("sara", "Sara Sales", "sales"),
];

/// Makes the demo's console users afresh (so each start prints passwords that work; only
/// their hashes are kept) and lists them with their passwords.
fn demo_users(state: &crate::state::AppState, now: i64) -> anyhow::Result<String> {
    let mut lines = String::new();
    for (name, display_name, role) in DEMO_USERS {
        if state.users.user(name).is_ok() {
            state
                .users
                .delete_user(name)
                .map_err(|e| anyhow::anyhow!("the demo user {name}: {e}"))?;
        }
        let (_, password) = state
            .users
            .create_user(
                auth::NewUser {
                    name: name.to_owned(),
                    display_name: Some(display_name.to_owned()),
                    password: None,
                    role: role.to_owned(),
                    sandboxes: auth::SandboxScope::All,
                },
                now,
            )
            .map_err(|e| anyhow::anyhow!("the demo user {name}: {e}"))?;
        let password = password.unwrap_or_default();
        lines.push_str(&format!("  {name:<5} ({role:<10}) password {password}\n"));
    }
    Ok(lines)
}

pub fn write_files(options: &DemoOptions) -> anyhow::Result<String> {
    let Some(dir) = &options.out else {
        anyhow::bail!("--out DIR names where to write the files");
    };
    let generator = Generator::new(options.seed, options.customers)?;
    Ok(files::write(dir, &generator)?.report())
}

/// The prepared writes of one block of customers.
struct Block {
    writes: Vec<PreparedWrite>,
    records: [u64; 5],
    customers: u64,
}

/// Generates and prepares on `PREPARING_THREADS` threads, block by block, and submits the writes
/// in customer order, in chunks, keeping the writer busy. Returns the records per dataset.
fn ingest(
    engine: &Engine,
    sandbox: &SandboxName,
    generator: &Generator,
    datasets: &DemoDatasets,
    shift_ms: i64,
) -> anyhow::Result<[u64; 5]> {
    let catalog = engine.sandbox(sandbox)?;
    let customers = generator.customers();
    let blocks = customers.div_ceil(BLOCK_CUSTOMERS);
    std::thread::scope(|scope| {
        let mut receivers = Vec::new();
        for worker in 0..PREPARING_THREADS {
            let (sender, receiver) = mpsc::sync_channel::<anyhow::Result<Block>>(4);
            receivers.push(receiver);
            let catalog = &catalog;
            scope.spawn(move || {
                let mut block = worker;
                while block < blocks {
                    let first = block * BLOCK_CUSTOMERS;
                    let range = first..(first + BLOCK_CUSTOMERS).min(customers);
                    let prepared =
                        prepare_block(engine, catalog, generator, datasets, range, shift_ms);
                    let failed = prepared.is_err();
                    if sender.send(prepared).is_err() || failed {
                        return;
                    }
                    block += PREPARING_THREADS;
                }
            });
        }
        let mut submitter = Submitter {
            engine,
            in_flight: VecDeque::new(),
        };
        let mut records = [0u64; 5];
        let mut done = 0u64;
        let mut chunk: Vec<PreparedWrite> = Vec::with_capacity(CHUNK_WRITES * 2);
        let started = Instant::now();
        let mut last_report = Instant::now();
        for block in 0..blocks {
            let receiver = &receivers[(block % PREPARING_THREADS) as usize];
            let prepared = receiver
                .recv()
                .map_err(|_| anyhow::anyhow!("a demo preparing thread stopped"))??;
            for (total, count) in records.iter_mut().zip(prepared.records) {
                *total += count;
            }
            done += prepared.customers;
            chunk.extend(prepared.writes);
            if chunk.len() >= CHUNK_WRITES {
                submitter.submit(std::mem::replace(
                    &mut chunk,
                    Vec::with_capacity(CHUNK_WRITES * 2),
                ))?;
            }
            if last_report.elapsed() >= Duration::from_secs(1) {
                last_report = Instant::now();
                let seconds = started.elapsed().as_secs_f64();
                let total: u64 = records.iter().sum();
                eprintln!(
                    "demo: {} of {} customers prepared, {} records ({:.0} records/s)",
                    group_digits(done),
                    group_digits(customers),
                    group_digits(total),
                    total as f64 / seconds
                );
            }
        }
        if !chunk.is_empty() {
            submitter.submit(chunk)?;
        }
        submitter.finish()?;
        Ok(records)
    })
}

fn prepare_block(
    engine: &Engine,
    catalog: &SandboxCatalog,
    generator: &Generator,
    datasets: &DemoDatasets,
    range: std::ops::Range<u64>,
    shift_ms: i64,
) -> anyhow::Result<Block> {
    let customers = range.end - range.start;
    let mut writes = Vec::with_capacity(customers as usize * 40);
    let mut records = [0u64; 5];
    let mut failure = None;
    let mut current = u64::MAX;
    let mut number = 0;
    generator.for_each_record(range, |customer, record| {
        if failure.is_some() {
            return;
        }
        if customer != current {
            current = customer;
            number = 0;
        }
        let source = format!("demo:{}:{number}", customer + 1);
        number += 1;
        records[record.dataset.index()] += 1;
        let dataset = record.dataset;
        let mut value = record.value;
        shift_times(&mut value, shift_ms);
        match engine.prepare(
            catalog,
            datasets.id(dataset),
            value,
            source.clone(),
            record.at_ms + shift_ms,
        ) {
            Ok(write) => writes.push(write),
            Err(error) => {
                failure = Some(anyhow::anyhow!(
                    "demo record {source} for \"{}\" was refused: {error}",
                    dataset.name()
                ))
            }
        }
    });
    match failure {
        Some(error) => Err(error),
        None => Ok(Block {
            writes,
            records,
            customers,
        }),
    }
}

type IngestReply = engine::Result<Vec<engine::Result<Option<ProfileId>>>>;

/// Submits chunks to the writer, at most `IN_FLIGHT` unacknowledged at a time.
struct Submitter<'e> {
    engine: &'e Engine,
    in_flight: VecDeque<(mpsc::Receiver<IngestReply>, Vec<String>)>,
}

impl Submitter<'_> {
    fn submit(&mut self, writes: Vec<PreparedWrite>) -> anyhow::Result<()> {
        while self.in_flight.len() >= IN_FLIGHT {
            self.wait_one()?;
        }
        let sources = writes.iter().map(|w| w.source_record.clone()).collect();
        let (sender, receiver) = mpsc::channel();
        self.engine
            .submit(Job::Ingest {
                writes,
                reply: Box::new(move |result| {
                    let _ = sender.send(result);
                }),
            })
            .map_err(|e| anyhow::anyhow!("submitting demo records: {e}"))?;
        self.in_flight.push_back((receiver, sources));
        Ok(())
    }

    fn wait_one(&mut self) -> anyhow::Result<()> {
        let Some((receiver, sources)) = self.in_flight.pop_front() else {
            return Ok(());
        };
        let results = receiver
            .recv()
            .map_err(|_| anyhow::anyhow!("the writer stopped before answering"))?
            .map_err(|e| anyhow::anyhow!("loading demo records: {e}"))?;
        for (result, source) in results.into_iter().zip(sources) {
            if let Err(error) = result {
                anyhow::bail!("demo record {source} was refused: {error}");
            }
        }
        Ok(())
    }

    fn finish(mut self) -> anyhow::Result<()> {
        while !self.in_flight.is_empty() {
            self.wait_one()?;
        }
        Ok(())
    }
}

impl DemoSummary {
    /// The summary for the terminal, with the exact lookup URLs of each interesting customer
    /// on the server at `base_url` (such as `http://127.0.0.1:8080`).
    pub fn report(&self, base_url: &str) -> String {
        let mut text = String::new();
        let total: u64 = self.records.iter().map(|(_, n)| n).sum();
        if self.already_loaded {
            text.push_str(&format!(
                "The demo retailer Cascade Outfitters is already loaded: {} customers (seed {}), {} records.\n",
                group_digits(self.customers),
                self.seed,
                group_digits(total)
            ));
        } else {
            text.push_str(&format!(
                "Loaded the demo retailer Cascade Outfitters: {} customers (seed {}), {} records in {:.1} s.\n",
                group_digits(self.customers),
                self.seed,
                group_digits(total),
                self.seconds
            ));
        }
        for (name, count) in &self.records {
            text.push_str(&format!("  {name:<26} {:>12}\n", group_digits(*count)));
        }
        if let Some(note) = &self.note {
            text.push_str(&format!("Note: {note}.\n"));
        }
        text.push_str(&format!(
            "\n{} segments (VIP, At risk, Cart abandoners today, Frequent callers...), evaluated in real time:\n    curl '{}/data/core/ups/segment/definitions'\n  Each profile lists its memberships under segmentMembership.\n",
            self.segments,
            base_url.trim_end_matches('/')
        ));
        text.push_str("\nCustomers worth a look:\n");
        for customer in &self.interesting {
            let [profile, events, graph] = lookup_urls(base_url, &customer.namespace, &customer.id);
            text.push_str(&format!(
                "\n  {} ({} {})\n  Look for: {}\n    curl '{profile}'\n    curl '{events}'\n    curl '{graph}'\n",
                customer.label, customer.namespace, customer.id, customer.look_for
            ));
        }
        text
    }
}

/// Moves every date-time of a record (`2026-03-01T10:00:00Z`) by `shift_ms`; dates without a
/// time (birth dates) stay.
pub fn shift_times(value: &mut Value, shift_ms: i64) {
    match value {
        Value::String(text) if shift_ms != 0 && looks_like_date_time(text) => {
            if let Some(ms) = engine::time::parse_rfc3339_ms(text) {
                *text = generator::iso(ms + shift_ms);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| shift_times(v, shift_ms)),
        Value::Object(fields) => fields.values_mut().for_each(|v| shift_times(v, shift_ms)),
        _ => {}
    }
}

fn looks_like_date_time(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.len() >= 20 && bytes[4] == b'-' && bytes[7] == b'-' && bytes[10] == b'T'
}

/// The profile, recent-events and identity-graph URLs of an identity.
pub fn lookup_urls(base_url: &str, namespace: &str, id: &str) -> [String; 3] {
    let id: String = form_urlencoded::byte_serialize(id.as_bytes()).collect();
    let namespace: String = form_urlencoded::byte_serialize(namespace.as_bytes()).collect();
    let base = base_url.trim_end_matches('/');
    [
        format!("{base}/data/core/ups/access/entities?schema.name=_xdm.context.profile&entityId={id}&entityIdNS={namespace}"),
        format!("{base}/data/core/ups/access/entities?schema.name=_xdm.context.experienceevent&relatedSchema.name=_xdm.context.profile&relatedEntityId={id}&relatedEntityIdNS={namespace}&orderby=-timestamp&limit=5"),
        format!("{base}/data/core/identity/graph?ns={namespace}&id={id}"),
    ]
}
