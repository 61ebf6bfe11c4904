//! Listings and metadata: List and Delete of a directory of small files,
//! Stat, and a Walk of many keys.

use std::time::{Duration, Instant};

use s3_storage_driver::s3::request::ListObjects;
use s3_storage_driver::s3::xml::{ListBucketResult, parse};

use super::{Bench, Line, NATIVE, RAW, SMALL_ROUNDS, ok};

impl Bench<'_> {
    /// `list` of a directory of `files` files.
    pub(super) async fn list(&mut self, files: usize) -> anyhow::Result<()> {
        let d = self.d;
        let dir = format!("/bench/list{files}");
        for i in 0..files {
            d.put_content(&format!("{dir}/{i}"), b"x").await?;
        }
        let rounds = self.rounds() * SMALL_ROUNDS;
        let w = format!("List {files}");
        self.timed(&w, "component", rounds, 0, || async {
            for _ in 0..rounds {
                anyhow::ensure!(d.list(&dir).await?.len() == files);
            }
            Ok(())
        })
        .await?;
        let (native, key) = (self.native.clone(), self.key(&dir));
        self.timed(&w, NATIVE, rounds, 0, || async {
            for _ in 0..rounds {
                anyhow::ensure!(native.list(&key).await? == files);
            }
            Ok(())
        })
        .await?;
        let (raw, prefix) = (self.raw.clone(), format!("{}/", self.key(&dir)));
        self.timed(&w, RAW, rounds, 0, || async {
            for _ in 0..rounds {
                let req = raw.requests().list_objects_v2(&ListObjects {
                    prefix: &prefix,
                    delimiter: Some("/"),
                    max_keys: 1000,
                    ..Default::default()
                });
                ok(&raw.send(req, &[]).await?, "list")?;
            }
            Ok(())
        })
        .await
    }

    /// Recursive delete of a directory of `files` files; only the delete is
    /// timed and counted, not writing the files.
    pub(super) async fn delete(&mut self, files: usize) -> anyhow::Result<()> {
        let w = format!("Delete {files}");
        let rounds = self.rounds().min(5);
        let d = self.d;
        let (mut elapsed, mut requests) = (Duration::ZERO, 0);
        for r in 0..rounds {
            let dir = format!("/bench/del{files}-{r}");
            for i in 0..files {
                d.put_content(&format!("{dir}/{i}"), b"x").await?;
            }
            let (before, started) = (d.http_stats().requests, Instant::now());
            d.delete(&dir).await?;
            elapsed += started.elapsed();
            requests += d.http_stats().requests - before;
        }
        self.sample(&w, "component", measured(rounds, elapsed, Some(requests)));
        let mut elapsed = Duration::ZERO;
        for r in 0..rounds {
            let dir = self.key(&format!("/bench/delnative{files}-{r}"));
            for i in 0..files {
                self.native.put(&format!("{dir}/{i}"), b"x").await?;
            }
            let started = Instant::now();
            anyhow::ensure!(self.native.delete_prefix(&dir).await? == files);
            elapsed += started.elapsed();
        }
        self.sample(&w, NATIVE, measured(rounds, elapsed, None));
        let (mut elapsed, mut requests) = (Duration::ZERO, 0);
        for r in 0..rounds {
            let keys: Vec<String> = (0..files)
                .map(|i| self.key(&format!("/bench/delraw{files}-{r}/{i}")))
                .collect();
            for k in &keys {
                ok(&self.raw.put(k, b"x").await?, "put")?;
            }
            let (before, started) = (self.raw.sent(), Instant::now());
            let (req, body) = self.raw.requests().delete_objects(&keys);
            ok(&self.raw.send(req, &body).await?, "delete")?;
            elapsed += started.elapsed();
            requests += self.raw.sent() - before;
        }
        self.sample(&w, RAW, measured(rounds, elapsed, Some(requests)));
        Ok(())
    }

    /// `stat` of one small file.
    pub(super) async fn stat(&mut self) -> anyhow::Result<()> {
        let d = self.d;
        d.put_content("/bench/stat", b"x").await?;
        let n = self.rounds() * SMALL_ROUNDS * 4;
        self.timed("Stat", "component", n, 0, || async {
            for _ in 0..n {
                d.stat("/bench/stat").await?;
            }
            Ok(())
        })
        .await?;
        let (native, key) = (self.native.clone(), self.key("/bench/stat"));
        self.timed("Stat", NATIVE, n, 0, || async {
            for _ in 0..n {
                native.head(&key).await?;
            }
            Ok(())
        })
        .await?;
        let raw = self.raw.clone();
        self.timed("Stat", RAW, n, 0, || async {
            for _ in 0..n {
                ok(
                    &raw.send(raw.requests().head_object(&key), &[]).await?,
                    "head",
                )?;
            }
            Ok(())
        })
        .await
    }

    /// A walk of `walk_keys` keys in 100 directories, written concurrently
    /// through the raw client first.
    pub(super) async fn walk(&mut self) -> anyhow::Result<()> {
        let n = self.o.walk_keys;
        let dir = format!("/bench/walk{n}");
        let keys: Vec<String> = (0..n)
            .map(|i| self.key(&format!("{dir}/d{}/k{i}", i % 100)))
            .collect();
        for batch in keys.chunks(64) {
            let puts = batch.iter().map(|k| self.raw.put(k, b"x"));
            for r in futures::future::join_all(puts).await {
                ok(&r?, "put")?;
            }
        }
        let w = format!("Walk {n}");
        let d = self.d;
        self.timed(&w, "component", 1, 0, || async {
            anyhow::ensure!(d.walk_all(&dir, None).await?.len() >= n);
            Ok(())
        })
        .await?;
        let (native, key) = (self.native.clone(), self.key(&dir));
        self.timed(&w, NATIVE, 1, 0, || async {
            anyhow::ensure!(native.walk(&key).await? == n);
            Ok(())
        })
        .await?;
        let (raw, prefix) = (self.raw.clone(), format!("{}/", self.key(&dir)));
        self.timed(&w, RAW, 1, 0, || async {
            let mut token: Option<String> = None;
            let mut seen = 0;
            loop {
                let req = raw.requests().list_objects_v2(&ListObjects {
                    prefix: &prefix,
                    continuation_token: token.as_deref(),
                    max_keys: 1000,
                    ..Default::default()
                });
                let r = raw.send(req, &[]).await?;
                ok(&r, "list")?;
                let page: ListBucketResult = parse(&r.body, "ListBucketResult", "bench")
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
                seen += page.contents.len();
                if !page.is_truncated {
                    break;
                }
                token = page.next_continuation_token;
            }
            anyhow::ensure!(seen == n);
            Ok(())
        })
        .await
    }
}

/// A row of `ops` operations that took `elapsed` in all.
fn measured(ops: usize, elapsed: Duration, requests: Option<u64>) -> Line {
    Line {
        ops,
        bytes: 0,
        elapsed,
        requests,
        rss: None,
    }
}
