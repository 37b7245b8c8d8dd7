//! Latency runs, recorded in HDR histograms: closed loops (profile lookups by email and the
//! floor endpoint at 1 and 16 connections) and open loops at fixed request rates, timed from
//! each request's intended send time.

use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde_json::{json, Value};

use crate::Args;
use hyper::body::Bytes;
use rapport::client::Connection;

/// One request of a load: a GET of a path, or a POST of a JSON body.
#[derive(Clone)]
pub enum Request {
    Get(String),
    Post(String, Bytes),
}

impl Request {
    pub fn post(path: &str, body: String) -> Request {
        Request::Post(path.to_owned(), Bytes::from(body))
    }

    fn path(&self) -> &str {
        match self {
            Request::Get(path) | Request::Post(path, _) => path,
        }
    }

    /// Sends it; fails unless the answer is 2xx (a streaming batch answers 207).
    async fn send(&self, connection: &mut Connection) -> anyhow::Result<Bytes> {
        let (status, body) = match self {
            Request::Get(path) => connection.get(path).await?,
            Request::Post(path, body) => {
                connection
                    .send(
                        hyper::Method::POST,
                        path,
                        &[("content-type", "application/json")],
                        Some(body.clone()),
                    )
                    .await?
            }
        };
        anyhow::ensure!(
            (200..300).contains(&status),
            "{} answered {status}: {}",
            self.path(),
            String::from_utf8_lossy(&body[..body.len().min(500)])
        );
        Ok(body)
    }
}

pub struct Row {
    pub connections: usize,
    pub target: &'static str,
    pub requests_per_second: f64,
    pub histogram: Histogram<u64>,
    pub floor: Option<(u64, u64, u64)>,
    pub body_bytes: usize,
    /// For an open-loop run: its target rate, and the client's own lag.
    pub open_loop: Option<OpenLoopDetails>,
}

/// What an open-loop row adds.
pub struct OpenLoopDetails {
    /// Requests a second asked for.
    pub rate: u64,
    /// p50 and p99 of how late the client handed requests to a connection, in µs.
    pub client_lag_p50: u64,
    pub client_lag_p99: u64,
}

/// p50, p99 and p99.9 of a histogram.
fn quantiles(histogram: &Histogram<u64>) -> (u64, u64, u64) {
    (
        histogram.value_at_quantile(0.5),
        histogram.value_at_quantile(0.99),
        histogram.value_at_quantile(0.999),
    )
}

impl Row {
    fn quantiles(&self) -> (u64, u64, u64) {
        quantiles(&self.histogram)
    }

    pub fn markdown(&self) -> String {
        let (p50, p99, p999) = self.quantiles();
        let ratio = |value: u64, floor: u64| format!("{:.2}×", value as f64 / floor.max(1) as f64);
        let (r50, r99, r999) = match self.floor {
            Some((f50, f99, f999)) => (ratio(p50, f50), ratio(p99, f99), ratio(p999, f999)),
            None => ("1.00× (floor)".into(), "".into(), "".into()),
        };
        let target = match &self.open_loop {
            Some(open) => format!(
                "{} at {}/s (client lag p50 {} µs, p99 {} µs)",
                self.target, open.rate, open.client_lag_p50, open.client_lag_p99
            ),
            None => self.target.to_owned(),
        };
        format!(
            "| {} | {} ({} B) | {:.0} | {p50} | {} | {p99} | {p999} | {} | {r50} | {r99} | {r999} |",
            self.connections,
            target,
            self.body_bytes,
            self.requests_per_second,
            self.histogram.value_at_quantile(0.9),
            self.histogram.max()
        )
    }

    pub fn json(&self) -> Value {
        let (p50, p99, p999) = self.quantiles();
        json!({"connections": self.connections, "target": self.target, "requests_per_second": self.requests_per_second,
               "body_bytes": self.body_bytes, "p50_us": p50, "p90_us": self.histogram.value_at_quantile(0.9), "p99_us": p99, "p999_us": p999, "max_us": self.histogram.max(),
               "floor_p50_us": self.floor.map(|f| f.0), "floor_p99_us": self.floor.map(|f| f.1), "floor_p999_us": self.floor.map(|f| f.2),
               "open_loop_rate": self.open_loop.as_ref().map(|o| o.rate),
               "client_lag_p50_us": self.open_loop.as_ref().map(|o| o.client_lag_p50),
               "client_lag_p99_us": self.open_loop.as_ref().map(|o| o.client_lag_p99)})
    }
}

/// Runs `connections` closed loops for `seconds`, each sending the request `make(i)` gives,
/// with the master key.
pub async fn closed_loop(
    address: &str,
    connections: usize,
    seconds: u64,
    make: impl Fn(usize) -> Request + Send + Sync + Clone + 'static,
) -> anyhow::Result<(Histogram<u64>, f64, usize)> {
    closed_loop_as(address, connections, seconds, None, make).await
}

/// [`closed_loop`] with `key` (`None`: the master key).
async fn closed_loop_as(
    address: &str,
    connections: usize,
    seconds: u64,
    key: Option<std::sync::Arc<str>>,
    make: impl Fn(usize) -> Request + Send + Sync + Clone + 'static,
) -> anyhow::Result<(Histogram<u64>, f64, usize)> {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let mut tasks = Vec::new();
    for connection_index in 0..connections {
        let address = address.to_owned();
        let make = make.clone();
        let key = key.clone();
        tasks.push(tokio::spawn(async move {
            let mut connection = crate::load::connect(&address, None).await?;
            if let Some(key) = &key {
                connection = connection.with_key(Some(key));
            }
            let mut histogram = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
            let mut i = connection_index.wrapping_mul(7_919);
            let mut body_bytes = 0;
            while Instant::now() < deadline {
                let request = make(i);
                let sent = Instant::now();
                let body = request.send(&mut connection).await?;
                let micros = sent.elapsed().as_micros() as u64;
                histogram.record(micros.max(1))?;
                body_bytes = body.len();
                i = i.wrapping_add(104_729);
            }
            anyhow::Ok((histogram, body_bytes))
        }));
    }
    let mut total = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
    let mut body_bytes = 0;
    for task in tasks {
        let (histogram, bytes) = task.await??;
        total.add(&histogram)?;
        body_bytes = bytes;
    }
    let rate = total.len() as f64 / seconds as f64;
    Ok((total, rate, body_bytes))
}

/// The floor's request for answers as large as `request`'s (asked once, with the master key):
/// a GET for a GET, and for a POST a POST of the same body.
async fn floor_like(
    address: &str,
    request: &Request,
) -> anyhow::Result<impl Fn(usize) -> Request + Send + Sync + Clone + 'static> {
    let mut probe = crate::load::connect(address, None).await?;
    let size = request.send(&mut probe).await?.len();
    let path = format!("/health/floor?bytes={size}");
    let floor = match request {
        Request::Get(_) => Request::Get(path),
        Request::Post(_, body) => Request::Post(path, body.clone()),
    };
    Ok(move |_: usize| floor.clone())
}

/// Closed loops of `target` beside the floor (same answer size), at 1 and 16 connections.
pub async fn beside_floor(
    address: &str,
    seconds: u64,
    target: &'static str,
    make: impl Fn(usize) -> Request + Send + Sync + Clone + 'static,
) -> anyhow::Result<Vec<Row>> {
    let mut rows = beside_floor_at(address, 1, seconds, target, make.clone()).await?;
    rows.extend(beside_floor_at(address, 16, seconds, target, make).await?);
    Ok(rows)
}

/// Closed loops of `target` and of the floor (same answer size) at `connections`, measured
/// back to back in the same run after a warm-up.
pub async fn beside_floor_at(
    address: &str,
    connections: usize,
    seconds: u64,
    target: &'static str,
    make: impl Fn(usize) -> Request + Send + Sync + Clone + 'static,
) -> anyhow::Result<Vec<Row>> {
    let floor_request = floor_like(address, &make(0)).await?;
    closed_loop(address, connections, 1, make.clone()).await?;
    let (floor, floor_rate, floor_bytes) =
        closed_loop(address, connections, seconds, floor_request).await?;
    let (measured, rate, bytes) = closed_loop(address, connections, seconds, make).await?;
    let floor_quantiles = quantiles(&floor);
    Ok(vec![
        Row {
            connections,
            target: "floor",
            requests_per_second: floor_rate,
            histogram: floor,
            floor: None,
            body_bytes: floor_bytes,
            open_loop: None,
        },
        Row {
            connections,
            target,
            requests_per_second: rate,
            histogram: measured,
            floor: Some(floor_quantiles),
            body_bytes: bytes,
            open_loop: None,
        },
    ])
}

pub async fn lookups(args: &Args, address: &str) -> anyhow::Result<Vec<Row>> {
    let profiles = args.profiles.max(1);
    beside_floor(address, args.seconds, "lookup", move |i: usize| {
        Request::Get(crate::load::lookup_path(i % profiles))
    })
    .await
}

/// One connection's lookups as a key whose role may not see some labelled fields (the sales
/// role: no birth date), beside the same lookups with the master key (every label: the
/// prepared view's bytes as they are) and the floor, measured back to back in one run.
pub async fn redacted_lookups(args: &Args, address: &str, key: &str) -> anyhow::Result<Vec<Row>> {
    let profiles = args.profiles.max(1);
    let lookup_path = move |i: usize| Request::Get(crate::load::lookup_path(i % profiles));
    let key: std::sync::Arc<str> = key.into();
    let mut probe = crate::load::connect(address, None)
        .await?
        .with_key(Some(&key));
    let sample = lookup_path(0).send(&mut probe).await?;
    anyhow::ensure!(
        !String::from_utf8_lossy(&sample).contains("birthDate"),
        "the redacted lookup still shows the birth date"
    );
    let size = sample.len();
    let floor_path = move |_: usize| Request::Get(format!("/health/floor?bytes={size}"));
    closed_loop_as(address, 1, 1, Some(key.clone()), lookup_path).await?;
    let (floor, floor_rate, floor_bytes) =
        closed_loop(address, 1, args.seconds, floor_path).await?;
    let (full, full_rate, full_bytes) = closed_loop(address, 1, args.seconds, lookup_path).await?;
    let (redacted, redacted_rate, redacted_bytes) =
        closed_loop_as(address, 1, args.seconds, Some(key), lookup_path).await?;
    let floor_quantiles = quantiles(&floor);
    Ok(vec![
        Row {
            connections: 1,
            target: "floor",
            requests_per_second: floor_rate,
            histogram: floor,
            floor: None,
            body_bytes: floor_bytes,
            open_loop: None,
        },
        Row {
            connections: 1,
            target: "lookup, every label",
            requests_per_second: full_rate,
            histogram: full,
            floor: Some(floor_quantiles),
            body_bytes: full_bytes,
            open_loop: None,
        },
        Row {
            connections: 1,
            target: "lookup, sales role",
            requests_per_second: redacted_rate,
            histogram: redacted,
            floor: Some(floor_quantiles),
            body_bytes: redacted_bytes,
            open_loop: None,
        },
    ])
}

/// An open-loop run's result: latencies measured from each request's intended send time (so a
/// slow answer delays nothing it should not: no coordinated omission), and how late the client
/// itself sent requests, which is the client's cost, not the server's.
pub struct OpenLoop {
    pub histogram: Histogram<u64>,
    /// Microseconds between a request's intended time and the moment it was handed to a
    /// connection.
    pub client_lag: Histogram<u64>,
    /// Requests answered per second over the run.
    pub achieved_per_second: f64,
    pub body_bytes: usize,
}

/// Sends `rate` requests a second for `seconds`, each at its intended time `start + i / rate`,
/// over a pool of `connections` keep-alive connections; a request waits for a free connection
/// when all are busy, and that wait counts in its latency.
pub async fn open_loop(
    address: &str,
    rate: u64,
    connections: usize,
    seconds: u64,
    make: impl Fn(usize) -> Request + Send + Sync + Clone + 'static,
) -> anyhow::Result<OpenLoop> {
    anyhow::ensure!(rate > 0, "an open-loop rate must be positive");
    let total = rate * seconds;
    let (sender, receiver) = tokio::sync::mpsc::unbounded_channel::<(Instant, usize)>();
    let receiver = std::sync::Arc::new(tokio::sync::Mutex::new(receiver));
    let mut workers = Vec::new();
    for _ in 0..connections.max(1) {
        let address = address.to_owned();
        let receiver = receiver.clone();
        let make = make.clone();
        workers.push(tokio::spawn(async move {
            let mut connection = crate::load::connect(&address, None).await?;
            let mut histogram = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
            let mut client_lag = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
            let mut body_bytes = 0;
            loop {
                let next = receiver.lock().await.recv().await;
                let Some((intended, i)) = next else { break };
                client_lag.record((intended.elapsed().as_micros() as u64).max(1))?;
                let body = make(i).send(&mut connection).await?;
                histogram.record((intended.elapsed().as_micros() as u64).max(1))?;
                body_bytes = body.len();
            }
            anyhow::Ok((histogram, client_lag, body_bytes))
        }));
    }
    // The pacing runs on a thread of its own: the runtime's timer ticks in milliseconds, which
    // would send requests in bursts and charge up to a millisecond of the client's lateness to
    // every request; a thread's sleep wakes within tens of microseconds.
    let start = Instant::now() + Duration::from_millis(10);
    let interval_nanos = 1_000_000_000 / rate;
    let pacer = std::thread::spawn(move || {
        for i in 0..total {
            let intended = start + Duration::from_nanos(i * interval_nanos);
            let now = Instant::now();
            if intended > now {
                std::thread::sleep(intended - now);
            }
            if sender
                .send((intended, (i as usize).wrapping_mul(104_729)))
                .is_err()
            {
                break;
            }
        }
    });
    let mut histogram = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
    let mut client_lag = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
    let mut body_bytes = 0;
    for worker in workers {
        let (h, lag, bytes) = worker.await??;
        histogram.add(&h)?;
        client_lag.add(&lag)?;
        body_bytes = bytes;
    }
    pacer
        .join()
        .map_err(|_| anyhow::anyhow!("the open-loop pacer panicked"))?;
    let elapsed = start.elapsed().as_secs_f64().max(f64::EPSILON);
    Ok(OpenLoop {
        achieved_per_second: histogram.len() as f64 / elapsed,
        histogram,
        client_lag,
        body_bytes,
    })
}

/// Lookups and the floor at fixed rates (open loop, 16 connections), back to back per rate.
pub async fn open_loop_lookups(args: &Args, address: &str) -> anyhow::Result<Vec<Row>> {
    let profiles = args.profiles.max(1);
    let lookup_path = move |i: usize| Request::Get(crate::load::lookup_path(i % profiles));
    let floor_path = floor_like(address, &lookup_path(0)).await?;
    let mut rows = Vec::new();
    for &rate in args.open_loop_rates.iter().filter(|rate| **rate > 0) {
        let floor = open_loop(address, rate, 16, args.seconds, floor_path.clone()).await?;
        let lookup = open_loop(address, rate, 16, args.seconds, lookup_path).await?;
        let floor_quantiles = quantiles(&floor.histogram);
        for (target, run, floor) in [
            ("floor", floor, None),
            ("lookup", lookup, Some(floor_quantiles)),
        ] {
            rows.push(Row {
                connections: 16,
                target,
                requests_per_second: run.achieved_per_second,
                floor,
                body_bytes: run.body_bytes,
                open_loop: Some(OpenLoopDetails {
                    rate,
                    client_lag_p99: run.client_lag.value_at_quantile(0.99),
                    client_lag_p50: run.client_lag.value_at_quantile(0.5),
                }),
                histogram: run.histogram,
            });
        }
    }
    Ok(rows)
}
