//! The reference suite's benchmark workloads and ours, each run through the
//! component, through a native Rust S3 client (object_store), and through
//! the raw ceiling (the same signing code, natively, over a pooled hyper
//! client, no wasm), on the same server in the same run.

use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};

use super::native::Native;
use super::{Table, peak_rss_mib, reset_peak_rss};
use crate::raw::RawS3;
use crate::{ConfigValue, Driver};

const MIB: usize = 1 << 20;

/// What to run.
#[derive(Debug, Clone)]
pub struct Options {
    /// Object sizes of the PutGet and Stream workloads.
    pub sizes: Vec<usize>,
    /// Repetitions of each small workload.
    pub rounds: usize,
    /// Keys of the Walk workload.
    pub walk_keys: usize,
    /// Size of the Move and concurrent-stream objects.
    pub big: usize,
    /// Concurrent streams.
    pub streams: usize,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            sizes: vec![0, 1 << 10, MIB, 64 * MIB],
            rounds: 20,
            walk_keys: 10_000,
            big: 64 * MIB,
            streams: 16,
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

/// One measured line.
struct Line {
    ops: usize,
    bytes: usize,
    elapsed: Duration,
    requests: Option<u64>,
    rss: Option<f64>,
}

struct Bench<'a> {
    d: &'a Driver,
    table: Table,
    /// Component ops/s of the current workload, for the ratios.
    last_component: f64,
}

impl Bench<'_> {
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

    /// Times `f` through the component, counting its HTTP requests.
    async fn component<F, Fut>(
        &mut self,
        workload: &str,
        ops: usize,
        bytes: usize,
        f: F,
    ) -> anyhow::Result<()>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = anyhow::Result<()>>,
    {
        let before = self.d.http_stats().requests;
        let requests = |b: &Self| Some(b.d.http_stats().requests - before);
        self.timed(workload, "component", ops, bytes, requests, f)
            .await
    }

    /// Times `f` on the raw ceiling; `requests` is what one op sends.
    async fn raw<F, Fut>(
        &mut self,
        workload: &str,
        ops: usize,
        bytes: usize,
        requests: u64,
        f: F,
    ) -> anyhow::Result<()>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = anyhow::Result<()>>,
    {
        let requests = move |_: &Self| Some(requests * ops as u64);
        self.timed(workload, "raw ceiling", ops, bytes, requests, f)
            .await
    }

    /// Times `f` on object_store, whose requests this host cannot count.
    async fn native<F, Fut>(
        &mut self,
        workload: &str,
        ops: usize,
        bytes: usize,
        f: F,
    ) -> anyhow::Result<()>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = anyhow::Result<()>>,
    {
        self.timed(workload, NATIVE, ops, bytes, |_| None, f).await
    }

    /// Runs `f` once, timed, in a fresh peak-RSS window; `requests` counts
    /// what it sent, afterwards.
    async fn timed<F, Fut>(
        &mut self,
        workload: &str,
        client: &str,
        ops: usize,
        bytes: usize,
        requests: impl FnOnce(&Self) -> Option<u64>,
        f: F,
    ) -> anyhow::Result<()>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = anyhow::Result<()>>,
    {
        reset_peak_rss();
        let started = Instant::now();
        f().await.with_context(|| format!("{workload} {client}"))?;
        let elapsed = started.elapsed();
        let requests = requests(self);
        self.row(
            workload,
            client,
            Line {
                ops,
                bytes,
                elapsed,
                requests,
                rss: peak_rss_mib(),
            },
        );
        Ok(())
    }
}

/// The native client's name in the table.
const NATIVE: &str = "object_store";

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

fn ok(r: &crate::raw::RawReply, what: &str) -> anyhow::Result<()> {
    if !(200..300).contains(&r.status) {
        bail!("{what}: HTTP {}", r.status);
    }
    Ok(())
}

/// Raw multipart upload of `data` in `chunk` parts, then nothing else.
async fn raw_multipart(raw: &RawS3, key: &str, data: &[u8], chunk: usize) -> anyhow::Result<u64> {
    let q = raw.requests();
    let r = raw.send(q.create_multipart_upload(key), &[]).await?;
    ok(&r, "create")?;
    let created: s3_storage_driver::s3::xml::InitiateMultipartUploadResult =
        s3_storage_driver::s3::xml::parse(&r.body, "InitiateMultipartUploadResult", "bench")
            .map_err(|e| anyhow::anyhow!("{e}"))?;
    let id = created.upload_id;
    let mut parts = Vec::new();
    for (i, piece) in data.chunks(chunk.max(1)).enumerate() {
        let n = i as u32 + 1;
        let r = raw
            .send(q.upload_part(key, &id, n, piece.len()), piece)
            .await?;
        ok(&r, "part")?;
        let etag = r.header("etag").unwrap_or_default().to_owned();
        parts.push(s3_storage_driver::s3::request::CompletedPart { number: n, etag });
    }
    if parts.is_empty() {
        let r = raw.send(q.upload_part(key, &id, 1, 0), &[]).await?;
        ok(&r, "part")?;
        let etag = r.header("etag").unwrap_or_default().to_owned();
        parts.push(s3_storage_driver::s3::request::CompletedPart { number: 1, etag });
    }
    let (req, body) = q.complete_multipart_upload(key, &id, &parts);
    let r = raw.send(req, &body).await?;
    ok(&r, "complete")?;
    Ok(parts.len() as u64 + 2)
}

/// Writes `data` through a writer in 1 MiB pieces, commits, and reads it back
/// through a reader in 1 MiB pieces, checking the length.
async fn stream_round_trip(d: &Driver, path: &str, data: &[u8]) -> anyhow::Result<()> {
    let mut w = d.writer(path, false).await?;
    for piece in data.chunks(MIB) {
        w.write(piece).await?;
    }
    w.commit().await?;
    let mut r = d.reader(path, 0).await?;
    let mut got = 0;
    loop {
        let c = r.read(MIB as u32).await?;
        if c.is_empty() {
            break;
        }
        got += c.len();
    }
    anyhow::ensure!(
        got == data.len(),
        "{path}: read back {got} of {} bytes",
        data.len()
    );
    Ok(())
}

/// Runs every workload; `params` names the store the driver `d` was opened on.
pub async fn run(
    d: &Driver,
    params: &[(String, ConfigValue)],
    o: &Options,
) -> anyhow::Result<Table> {
    let raw = RawS3::from_params(params)?;
    let native = Native::from_params(params)?;
    let chunk = s3_storage_driver::config::Config::from_params(&crate::raw::core_params(params))
        .map_err(|e| anyhow::anyhow!("{e}"))?
        .chunk_size as usize;
    let root = crate::raw::core_params(params)
        .iter()
        .rev()
        .find(|(k, _)| k == "rootdirectory")
        .map(|(_, v)| v.to_string().trim_matches('/').to_owned())
        .filter(|r| !r.is_empty());
    let key = |path: &str| match &root {
        Some(r) => format!("{r}{path}"),
        None => path.trim_start_matches('/').to_owned(),
    };
    let mut b = Bench {
        d,
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
    };
    let rounds = o.rounds.max(1);

    for &size in &o.sizes {
        let data = content(size);
        let n = if size >= 64 * MIB { 2 } else { rounds };
        let w = format!("PutGet {}", human(size));
        b.component(&w, n, 2 * n * size, || async {
            for i in 0..n {
                let p = format!("/bench/putget/{i}");
                d.put_content(&p, &data).await?;
                anyhow::ensure!(d.get_content(&p).await?.len() == size);
            }
            Ok(())
        })
        .await?;
        b.native(&w, n, 2 * n * size, || async {
            for i in 0..n {
                let k = key(&format!("/bench/putget-native/{i}"));
                native.put(&k, &data).await?;
                anyhow::ensure!(native.get(&k).await?.len() == size);
            }
            Ok(())
        })
        .await?;
        b.raw(&w, n, 2 * n * size, 2, || async {
            for i in 0..n {
                let k = key(&format!("/bench/putget-raw/{i}"));
                ok(&raw.put(&k, &data).await?, "put")?;
                anyhow::ensure!(raw_len(&raw, &k).await? == size);
            }
            Ok(())
        })
        .await?;

        let w = format!("Stream {}", human(size));
        b.component(&w, n, 2 * n * size, || async {
            for i in 0..n {
                stream_round_trip(d, &format!("/bench/stream/{i}"), &data).await?;
            }
            Ok(())
        })
        .await?;
        b.native(&w, n, 2 * n * size, || async {
            for i in 0..n {
                let k = key(&format!("/bench/stream-native/{i}"));
                anyhow::ensure!(native.stream_round_trip(&k, &data).await? == size);
            }
            Ok(())
        })
        .await?;
        let parts = size.div_ceil(chunk).max(1) as u64;
        b.raw(&w, n, 2 * n * size, parts + 3, || async {
            for i in 0..n {
                let k = key(&format!("/bench/stream-raw/{i}"));
                raw_multipart(&raw, &k, &data, chunk).await?;
                anyhow::ensure!(raw_len(&raw, &k).await? == size);
            }
            Ok(())
        })
        .await?;
    }

    for files in [5usize, 50] {
        let dir = format!("/bench/list{files}");
        for i in 0..files {
            d.put_content(&format!("{dir}/{i}"), b"x").await?;
        }
        let w = format!("List {files}");
        b.component(&w, rounds, 0, || async {
            for _ in 0..rounds {
                anyhow::ensure!(d.list(&dir).await?.len() == files);
            }
            Ok(())
        })
        .await?;
        b.native(&w, rounds, 0, || async {
            for _ in 0..rounds {
                anyhow::ensure!(native.list(&key(&dir)).await? == files);
            }
            Ok(())
        })
        .await?;
        let prefix = format!("{}/", key(&dir));
        b.raw(&w, rounds, 0, 1, || async {
            for _ in 0..rounds {
                let req =
                    raw.requests()
                        .list_objects_v2(&s3_storage_driver::s3::request::ListObjects {
                            prefix: &prefix,
                            delimiter: Some("/"),
                            max_keys: 1000,
                            ..Default::default()
                        });
                ok(&raw.send(req, &[]).await?, "list")?;
            }
            Ok(())
        })
        .await?;

        let w = format!("Delete {files}");
        let del_rounds = rounds.min(5);
        let mut component_time = Duration::ZERO;
        let before = d.http_stats().requests;
        let mut setup_requests = 0;
        for r in 0..del_rounds {
            let dir = format!("/bench/del{files}-{r}");
            let s0 = d.http_stats().requests;
            for i in 0..files {
                d.put_content(&format!("{dir}/{i}"), b"x").await?;
            }
            setup_requests += d.http_stats().requests - s0;
            let started = Instant::now();
            d.delete(&dir).await?;
            component_time += started.elapsed();
        }
        let requests = d.http_stats().requests - before - setup_requests;
        b.row(
            &w,
            "component",
            Line {
                ops: del_rounds,
                bytes: 0,
                elapsed: component_time,
                requests: Some(requests),
                rss: None,
            },
        );
        let mut native_time = Duration::ZERO;
        for r in 0..del_rounds {
            let dir = key(&format!("/bench/delnative{files}-{r}"));
            for i in 0..files {
                native.put(&format!("{dir}/{i}"), b"x").await?;
            }
            let started = Instant::now();
            anyhow::ensure!(native.delete_prefix(&dir).await? == files);
            native_time += started.elapsed();
        }
        b.row(
            &w,
            NATIVE,
            Line {
                ops: del_rounds,
                bytes: 0,
                elapsed: native_time,
                requests: None,
                rss: None,
            },
        );
        let mut raw_time = Duration::ZERO;
        for r in 0..del_rounds {
            let keys: Vec<String> = (0..files)
                .map(|i| key(&format!("/bench/delraw{files}-{r}/{i}")))
                .collect();
            for k in &keys {
                ok(&raw.put(k, b"x").await?, "put")?;
            }
            let started = Instant::now();
            let (req, body) = raw.requests().delete_objects(&keys);
            ok(&raw.send(req, &body).await?, "delete")?;
            raw_time += started.elapsed();
        }
        b.row(
            &w,
            "raw ceiling",
            Line {
                ops: del_rounds,
                bytes: 0,
                elapsed: raw_time,
                requests: Some(del_rounds as u64),
                rss: None,
            },
        );
    }

    d.put_content("/bench/stat", b"x").await?;
    b.component("Stat", rounds * 5, 0, || async {
        for _ in 0..rounds * 5 {
            d.stat("/bench/stat").await?;
        }
        Ok(())
    })
    .await?;
    let k = key("/bench/stat");
    b.native("Stat", rounds * 5, 0, || async {
        for _ in 0..rounds * 5 {
            native.head(&k).await?;
        }
        Ok(())
    })
    .await?;
    b.raw("Stat", rounds * 5, 0, 1, || async {
        for _ in 0..rounds * 5 {
            ok(
                &raw.send(raw.requests().head_object(&k), &[]).await?,
                "head",
            )?;
        }
        Ok(())
    })
    .await?;

    // Walk: the keys are written concurrently through the raw client.
    let walk_dir = format!("/bench/walk{}", o.walk_keys);
    let keys: Vec<String> = (0..o.walk_keys)
        .map(|i| key(&format!("{walk_dir}/d{}/k{i}", i % 100)))
        .collect();
    for batch in keys.chunks(64) {
        let puts = batch.iter().map(|k| raw.put(k, b"x"));
        for r in futures::future::join_all(puts).await {
            ok(&r?, "put")?;
        }
    }
    let w = format!("Walk {}", o.walk_keys);
    b.component(&w, 1, 0, || async {
        let all = d.walk_all(&walk_dir, None).await?;
        anyhow::ensure!(all.len() >= o.walk_keys);
        Ok(())
    })
    .await?;
    b.native(&w, 1, 0, || async {
        anyhow::ensure!(native.walk(&key(&walk_dir)).await? == o.walk_keys);
        Ok(())
    })
    .await?;
    let prefix = format!("{}/", key(&walk_dir));
    let pages = o.walk_keys.div_ceil(1000) as u64;
    // One walk is one op; its requests are the pages.
    b.raw(&w, 1, 0, pages, || async {
        let mut token: Option<String> = None;
        let mut seen = 0;
        loop {
            let req =
                raw.requests()
                    .list_objects_v2(&s3_storage_driver::s3::request::ListObjects {
                        prefix: &prefix,
                        continuation_token: token.as_deref(),
                        max_keys: 1000,
                        ..Default::default()
                    });
            let r = raw.send(req, &[]).await?;
            ok(&r, "list")?;
            let page: s3_storage_driver::s3::xml::ListBucketResult =
                s3_storage_driver::s3::xml::parse(&r.body, "ListBucketResult", "bench")
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
            seen += page.contents.len();
            if !page.is_truncated {
                break;
            }
            token = page.next_continuation_token;
        }
        anyhow::ensure!(seen == o.walk_keys);
        Ok(())
    })
    .await?;

    let big = content(o.big);
    let w = format!("Move {}", human(o.big));
    d.put_content("/bench/move/a", &big).await?;
    b.component(&w, 2, o.big * 2, || async {
        d.move_("/bench/move/a", "/bench/move/b").await?;
        d.move_("/bench/move/b", "/bench/move/a").await?;
        Ok(())
    })
    .await?;
    let (na, nb) = (key("/bench/move-native/a"), key("/bench/move-native/b"));
    native.put(&na, &big).await?;
    b.native(&w, 2, o.big * 2, || async {
        native.rename(&na, &nb).await?;
        native.rename(&nb, &na).await
    })
    .await?;
    let (ka, kb) = (key("/bench/move-raw/a"), key("/bench/move-raw/b"));
    ok(&raw.put(&ka, &big).await?, "put")?;
    b.raw(&w, 2, o.big * 2, 2, || async {
        for (from, to) in [(&ka, &kb), (&kb, &ka)] {
            ok(
                &raw.send(raw.requests().copy_object(from, to), &[]).await?,
                "copy",
            )?;
            ok(
                &raw.send(raw.requests().delete_object(from), &[]).await?,
                "delete",
            )?;
        }
        Ok(())
    })
    .await?;

    let w = format!("{} concurrent streams of {}", o.streams, human(o.big));
    let total = 2 * o.streams * o.big;
    b.component(&w, o.streams, total, || async {
        let tasks = (0..o.streams).map(|i| {
            let d = d.clone();
            let big = &big;
            async move { stream_round_trip(&d, &format!("/bench/streams/{i}"), big).await }
        });
        for r in futures::future::join_all(tasks).await {
            r?;
        }
        Ok(())
    })
    .await?;
    b.native(&w, o.streams, total, || async {
        let tasks = (0..o.streams).map(|i| {
            let big = &big;
            let k = key(&format!("/bench/streams-native/{i}"));
            let native = &native;
            async move {
                anyhow::ensure!(native.stream_round_trip(&k, big).await? == big.len());
                Ok::<_, anyhow::Error>(())
            }
        });
        for r in futures::future::join_all(tasks).await {
            r?;
        }
        Ok(())
    })
    .await?;
    let parts = o.big.div_ceil(chunk) as u64;
    b.raw(&w, o.streams, total, parts + 3, || async {
        let tasks = (0..o.streams).map(|i| {
            let big = &big;
            let k = key(&format!("/bench/streams-raw/{i}"));
            let raw = &raw;
            async move {
                raw_multipart(raw, &k, big, chunk).await?;
                anyhow::ensure!(raw_len(raw, &k).await? == big.len());
                Ok::<_, anyhow::Error>(())
            }
        });
        for r in futures::future::join_all(tasks).await {
            r?;
        }
        Ok(())
    })
    .await?;

    d.delete("/bench").await?;
    Ok(b.table)
}
