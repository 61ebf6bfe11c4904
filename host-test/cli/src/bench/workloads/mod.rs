//! The reference suite's benchmark workloads and ours, each run through the
//! component, through a native Rust S3 client (object_store), and through
//! the raw ceiling (the same signing code, natively, over a pooled hyper
//! client, no wasm), on the same server in the same run. Every requests/op
//! figure is counted: the component's by the host's policy, the raw
//! client's by the client itself; object_store's cannot be seen (`-`).

mod listings;
mod objects;

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use s3_driver_host::{ConfigValue, Driver};
use s3_driver_kit::core_params;
use s3_driver_kit::raw::{RawReply, RawS3};
use s3_storage_driver::config::{Config, Params};

use super::native::Native;
use super::{Table, peak_rss_mib, reset_peak_rss};

const MIB: usize = 1 << 20;
/// How many times `--rounds` a row of sub-MiB objects or of listings runs
/// (Stat four times that): each takes a millisecond or so, and ten of them
/// make one noisy figure.
const SMALL_ROUNDS: usize = 5;

/// What to run.
#[derive(Debug, Clone)]
pub struct Options {
    /// Object sizes of the PutGet and Stream workloads.
    pub sizes: Vec<usize>,
    /// Repetitions of each small workload.
    pub rounds: usize,
    /// Times the whole sequence of workloads runs; each row is the median
    /// trial. The clients take turns within a trial, so a server that
    /// slows down or warms up over the run weighs on all of them alike.
    pub trials: usize,
    /// Keys of the Walk workload.
    pub walk_keys: usize,
    /// Size of the Move and concurrent-stream objects.
    pub big: usize,
    /// Concurrent streams.
    pub streams: usize,
    /// Only the workloads whose name contains this (`Stat`, `PutGet`...).
    pub only: Option<String>,
    /// Only these clients (`component`, `object_store`, `raw`); all when empty.
    pub clients: Vec<String>,
}

impl Options {
    /// Whether the workload family `name` runs.
    fn wants(&self, name: &str) -> bool {
        self.only.as_deref().is_none_or(|o| name.contains(o))
    }
}

impl Default for Options {
    fn default() -> Self {
        Self {
            sizes: vec![0, 1 << 10, MIB, 64 * MIB],
            rounds: 20,
            trials: 3,
            walk_keys: 10_000,
            big: 64 * MIB,
            streams: 16,
            only: None,
            clients: Vec::new(),
        }
    }
}

fn content(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 + i / 4099) as u8).collect()
}

fn human(bytes: usize) -> String {
    match bytes {
        0 => "0 B".into(),
        b if b < MIB => format!("{} KiB", b >> 10),
        b => format!("{} MiB", b >> 20),
    }
}

/// The native client's name in the table.
const NATIVE: &str = "object_store";
/// The raw client's name in the table.
const RAW: &str = "raw ceiling";

/// One measured line.
struct Line {
    ops: usize,
    bytes: usize,
    elapsed: Duration,
    requests: Option<u64>,
    rss: Option<f64>,
}

/// Everything a workload needs: the three clients, where keys go, the table.
struct Bench<'a> {
    d: &'a Driver,
    /// Shared with the workloads' futures; clones count into one counter.
    raw: Arc<RawS3>,
    native: Native,
    /// The driver's `chunksize`.
    chunk: usize,
    /// The driver's `rootdirectory`, trimmed, for the other clients' keys.
    root: Option<String>,
    o: &'a Options,
    table: Table,
    /// Component ops/s of the current workload, for the ratios.
    last_component: f64,
    /// (workload, client, ops/s) of every row, for the verdicts.
    results: Vec<(String, String, f64)>,
    /// Every trial's line per workload and client, in the order they ran.
    samples: Vec<(String, String, Vec<Line>)>,
}

/// The workloads' table and one verdict line per workload.
pub struct Report {
    /// One row per workload and client.
    pub table: Table,
    /// Which client won each workload, and by how much.
    pub verdicts: Vec<String>,
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.table)?;
        for v in &self.verdicts {
            writeln!(f, "{v}")?;
        }
        Ok(())
    }
}

/// One line per workload, in the order they ran: the fastest client and its
/// lead over the next, and the component against the native client.
fn verdicts(results: &[(String, String, f64)]) -> Vec<String> {
    let mut order: Vec<&str> = Vec::new();
    for (w, _, _) in results {
        if !order.contains(&w.as_str()) {
            order.push(w);
        }
    }
    order
        .into_iter()
        .map(|w| {
            let mut rows: Vec<(&str, f64)> = results
                .iter()
                .filter(|(rw, _, _)| rw == w)
                .map(|(_, c, ops)| (c.as_str(), *ops))
                .collect();
            rows.sort_by(|a, b| b.1.total_cmp(&a.1));
            let of = |client: &str| rows.iter().find(|r| r.0 == client).map(|r| r.1);
            let lead = match rows.get(1) {
                Some((next, ops)) => {
                    format!(
                        "{} wins, {:.2}x {next}",
                        rows[0].0,
                        rows[0].1 / ops.max(1e-9)
                    )
                }
                None => format!("{} alone", rows[0].0),
            };
            let versus = match (of("component"), of(NATIVE)) {
                (Some(c), Some(n)) => format!("; component {:.2}x {NATIVE}", c / n.max(1e-9)),
                _ => String::new(),
            };
            format!("verdict {w}: {lead}{versus}")
        })
        .collect()
}

impl Bench<'_> {
    /// The key the component stores `path` at, for the other clients.
    fn key(&self, path: &str) -> String {
        match &self.root {
            Some(r) => format!("{r}{path}"),
            None => path.trim_start_matches('/').to_owned(),
        }
    }

    fn rounds(&self) -> usize {
        self.o.rounds.max(1)
    }

    fn row(&mut self, workload: &str, client: &str, l: Line) {
        let secs = l.elapsed.as_secs_f64().max(1e-9);
        let ops = l.ops as f64 / secs;
        let mbs = if l.bytes > 0 {
            format!("{:.1}", l.bytes as f64 / MIB as f64 / secs)
        } else {
            "-".into()
        };
        let ratio = if client == "component" {
            self.last_component = ops;
            "1.00".to_owned()
        } else {
            format!("{:.2}", self.last_component / ops)
        };
        let rpo = l
            .requests
            .map_or("-".into(), |r| format!("{:.2}", r as f64 / l.ops as f64));
        let rss = l.rss.map_or("-".into(), |r| format!("{r:.0}"));
        self.results
            .push((workload.to_owned(), client.to_owned(), ops));
        self.table.row(&[
            workload,
            client,
            &format!("{ops:.1}"),
            &mbs,
            &ratio,
            &rpo,
            &rss,
        ]);
    }

    /// Requests sent so far by `client`, where this host can count them.
    fn sent(&self, client: &str) -> Option<u64> {
        match client {
            "component" => Some(self.d.http_stats().requests),
            RAW => Some(self.raw.sent()),
            _ => None,
        }
    }

    /// Runs `f` once as `client`, timed, in a fresh peak-RSS window, and
    /// adds its row with the requests it sent.
    async fn timed<F, Fut>(
        &mut self,
        workload: &str,
        client: &str,
        ops: usize,
        bytes: usize,
        f: F,
    ) -> anyhow::Result<()>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = anyhow::Result<()>>,
    {
        let short = if client == RAW { "raw" } else { client };
        if !self.o.clients.is_empty() && !self.o.clients.iter().any(|c| c == short) {
            return Ok(());
        }
        let before = self.sent(client);
        reset_peak_rss();
        let started = Instant::now();
        f().await.with_context(|| format!("{workload} {client}"))?;
        let elapsed = started.elapsed();
        let requests = self.sent(client).zip(before).map(|(a, b)| a - b);
        let line = Line {
            ops,
            bytes,
            elapsed,
            requests,
            rss: peak_rss_mib(),
        };
        self.sample(workload, client, line);
        Ok(())
    }

    /// Keeps one trial's line of `workload` through `client`.
    fn sample(&mut self, workload: &str, client: &str, line: Line) {
        match self
            .samples
            .iter_mut()
            .find(|(w, c, _)| w == workload && c == client)
        {
            Some((_, _, lines)) => lines.push(line),
            None => self
                .samples
                .push((workload.to_owned(), client.to_owned(), vec![line])),
        }
    }

    /// One row per workload and client: its median trial by ops/s, with
    /// the lowest peak RSS of its trials (the process keeps what earlier
    /// trials' big rows allocated, so later trials start higher).
    fn rows_from_samples(&mut self) {
        for (workload, client, mut lines) in std::mem::take(&mut self.samples) {
            lines.sort_by(|a, b| a.rate().total_cmp(&b.rate()));
            let rss = lines.iter().filter_map(|l| l.rss).reduce(f64::min);
            let mut median = lines.swap_remove(lines.len() / 2);
            median.rss = rss;
            self.row(&workload, &client, median);
        }
    }
}

impl Line {
    /// Operations per second.
    fn rate(&self) -> f64 {
        self.ops as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// The length of a whole object read back (an empty one answers 416 to the
/// driver's `Range: bytes=0-`).
async fn raw_len(raw: &RawS3, key: &str) -> anyhow::Result<usize> {
    let r = raw.get(key).await?;
    match r.status {
        416 => Ok(0),
        _ => {
            ok(&r, "get")?;
            Ok(r.body.len())
        }
    }
}

fn ok(r: &RawReply, what: &str) -> anyhow::Result<()> {
    if !(200..300).contains(&r.status) {
        bail!("{what}: HTTP {}", r.status);
    }
    Ok(())
}

/// Runs every workload; `params` names the store the driver `d` was opened on.
/// `copy_above`, opened on the same store with `multipartcopythresholdsize`
/// above the Move object's size, adds the Move row that copies in one request.
pub async fn run(
    d: &Driver,
    copy_above: Option<&Driver>,
    params: &[(String, ConfigValue)],
    o: &Options,
) -> anyhow::Result<Report> {
    let core = core_params(params);
    let chunk = Config::from_params(&core)
        .map_err(|e| anyhow::anyhow!("{e}"))?
        .chunk_size as usize;
    let root = Params::new(&core)
        .string(s3_storage_driver::config::Key::RootDirectory.name())
        .map_err(|e| anyhow::anyhow!("{e}"))?
        .trim_matches('/')
        .to_owned();
    let mut b = Bench {
        d,
        raw: Arc::new(RawS3::from_params(params)?),
        native: Native::from_params(params)?,
        chunk,
        root: Some(root).filter(|r| !r.is_empty()),
        o,
        table: Table::new(&[
            "workload",
            "client",
            "ops/s",
            "MiB/s",
            "component/this",
            "requests/op",
            "peak RSS MiB",
        ]),
        last_component: 0.0,
        results: Vec::new(),
        samples: Vec::new(),
    };
    // The first write to a new radosgw bucket waits about a second (its
    // index is set up), and whichever client went first would pay it: one
    // untimed write and delete by the raw client before any row.
    let warm = b.key("/bench/warm-up");
    ok(&b.raw.put(&warm, b"x").await?, "warm-up put")?;
    let req = b.raw.requests().delete_object(&warm);
    ok(&b.raw.send(req, &[]).await?, "warm-up delete")?;
    for _ in 0..o.trials.max(1) {
        b.trial(copy_above).await?;
    }
    b.rows_from_samples();
    // Nothing may be left, whichever workloads ran.
    match d.delete("/bench").await {
        Ok(())
        | Err(s3_driver_host::CallError::Driver(s3_driver_host::DriverError::PathNotFound(_))) => {}
        Err(e) => return Err(e.into()),
    }
    let verdicts = verdicts(&b.results);
    Ok(Report {
        table: b.table,
        verdicts,
    })
}

impl<'a> Bench<'a> {
    /// Every chosen workload once, each through every chosen client.
    async fn trial(&mut self, copy_above: Option<&'a Driver>) -> anyhow::Result<()> {
        let o = self.o;
        for &size in &o.sizes {
            if o.wants("PutGet") {
                self.put_get(size).await?;
            }
            if o.wants("Stream") {
                self.stream(size).await?;
            }
        }
        for files in [5usize, 50] {
            if o.wants("List") {
                self.list(files).await?;
            }
            if o.wants("Delete") {
                self.delete(files).await?;
            }
        }
        if o.wants("Stat") {
            self.stat().await?;
        }
        if o.wants("Walk") {
            self.walk().await?;
        }
        if o.wants("Move") {
            let w = format!("Move {}", human(o.big));
            self.move_big(self.d, &w).await?;
            if let Some(one_copy) = copy_above {
                self.move_big(one_copy, &format!("{w}, multipartcopythresholdsize above"))
                    .await?;
            }
        }
        if o.wants("concurrent streams") {
            self.concurrent_streams().await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_verdict_names_the_winner_and_the_component_against_the_native_client() {
        let r = |w: &str, c: &str, ops: f64| (w.to_owned(), c.to_owned(), ops);
        let lines = verdicts(&[
            r("Stat", "component", 300.0),
            r("Stat", NATIVE, 100.0),
            r("Stat", RAW, 200.0),
            r("List 5", NATIVE, 50.0),
            r("List 5", "component", 25.0),
        ]);
        assert_eq!(
            lines,
            [
                "verdict Stat: component wins, 1.50x raw ceiling; component 3.00x object_store",
                "verdict List 5: object_store wins, 2.00x component; component 0.50x object_store",
            ]
        );
    }
}
