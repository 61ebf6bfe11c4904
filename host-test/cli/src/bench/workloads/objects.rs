//! Whole objects and streams: PutGet and Stream per size, Move of a big
//! object, and concurrent streams.

use s3_driver_host::Driver;
use s3_driver_kit::raw::RawS3;
use s3_storage_driver::s3::request::CompletedPart;
use s3_storage_driver::s3::xml::{InitiateMultipartUploadResult, parse};

use super::{Bench, MIB, NATIVE, RAW, SMALL_ROUNDS, content, human, ok, raw_len};

/// Raw multipart upload of `data` in `chunk` parts.
async fn raw_multipart(raw: &RawS3, key: &str, data: &[u8], chunk: usize) -> anyhow::Result<()> {
    let q = raw.requests();
    let r = raw.send(q.create_multipart_upload(key, true), &[]).await?;
    ok(&r, "create")?;
    let created: InitiateMultipartUploadResult =
        parse(&r.body, "InitiateMultipartUploadResult", "bench")
            .map_err(|e| anyhow::anyhow!("{e}"))?;
    let id = created.upload_id;
    let mut parts = Vec::new();
    let pieces: Vec<&[u8]> = if data.is_empty() {
        vec![&[]]
    } else {
        data.chunks(chunk.max(1)).collect()
    };
    for (i, piece) in pieces.into_iter().enumerate() {
        let number = i as u32 + 1;
        let r = raw
            .send(q.upload_part(key, &id, number, piece).0, piece)
            .await?;
        ok(&r, "part")?;
        let etag = r.header("etag").unwrap_or_default().to_owned();
        parts.push(CompletedPart {
            number,
            etag,
            checksum: None,
        });
    }
    let (req, body) = q.complete_multipart_upload(key, &id, &parts);
    ok(&raw.send(req, &body).await?, "complete")
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

impl<'a> Bench<'a> {
    /// Rounds of a workload of objects of `size`: fewer for big ones, more
    /// for ones under 1 MiB, whose few milliseconds each are at the mercy
    /// of one slow reply (ten rounds of PutGet 0 B on radosgw read 0.80x
    /// and 0.93x object_store in two runs minutes apart).
    fn rounds_of(&self, size: usize) -> usize {
        if size >= 64 * MIB {
            2
        } else if size < MIB {
            self.rounds() * SMALL_ROUNDS
        } else {
            self.rounds()
        }
    }

    /// PutContent then GetContent, `n` times.
    pub(super) async fn put_get(&mut self, size: usize) -> anyhow::Result<()> {
        let data = content(size);
        let n = self.rounds_of(size);
        let w = format!("PutGet {}", human(size));
        let d = self.d;
        self.timed(&w, "component", n, 2 * n * size, || async {
            for i in 0..n {
                let p = format!("/bench/putget/{i}");
                d.put_content(&p, &data).await?;
                anyhow::ensure!(d.get_content(&p).await?.len() == size);
            }
            Ok(())
        })
        .await?;
        let keys: Vec<String> = (0..n)
            .map(|i| self.key(&format!("/bench/putget-native/{i}")))
            .collect();
        let native = self.native.clone();
        self.timed(&w, NATIVE, n, 2 * n * size, || async {
            for k in &keys {
                native.put(k, &data).await?;
                anyhow::ensure!(native.get(k).await?.len() == size);
            }
            Ok(())
        })
        .await?;
        let keys: Vec<String> = (0..n)
            .map(|i| self.key(&format!("/bench/putget-raw/{i}")))
            .collect();
        let raw = self.raw.clone();
        self.timed(&w, RAW, n, 2 * n * size, || async {
            for k in &keys {
                ok(&raw.put(k, &data).await?, "put")?;
                anyhow::ensure!(raw_len(&raw, k).await? == size);
            }
            Ok(())
        })
        .await
    }

    /// A writer in 1 MiB pieces then a reader, `n` times.
    pub(super) async fn stream(&mut self, size: usize) -> anyhow::Result<()> {
        let data = content(size);
        let n = self.rounds_of(size);
        let w = format!("Stream {}", human(size));
        let d = self.d;
        self.timed(&w, "component", n, 2 * n * size, || async {
            for i in 0..n {
                stream_round_trip(d, &format!("/bench/stream/{i}"), &data).await?;
            }
            Ok(())
        })
        .await?;
        let keys: Vec<String> = (0..n)
            .map(|i| self.key(&format!("/bench/stream-native/{i}")))
            .collect();
        let native = self.native.clone();
        self.timed(&w, NATIVE, n, 2 * n * size, || async {
            for k in &keys {
                anyhow::ensure!(native.stream_round_trip(k, &data).await? == size);
            }
            Ok(())
        })
        .await?;
        let keys: Vec<String> = (0..n)
            .map(|i| self.key(&format!("/bench/stream-raw/{i}")))
            .collect();
        let (raw, chunk) = (self.raw.clone(), self.chunk);
        self.timed(&w, RAW, n, 2 * n * size, || async {
            for k in &keys {
                raw_multipart(&raw, k, &data, chunk).await?;
                anyhow::ensure!(raw_len(&raw, k).await? == size);
            }
            Ok(())
        })
        .await
    }

    /// Moves a big object there and back, through `d` for the component
    /// (its requests counted by `d`).
    pub(super) async fn move_big(&mut self, d: &'a Driver, w: &str) -> anyhow::Result<()> {
        let usual = std::mem::replace(&mut self.d, d);
        let moved = self.move_big_with(w).await;
        self.d = usual;
        moved
    }

    async fn move_big_with(&mut self, w: &str) -> anyhow::Result<()> {
        let big = content(self.o.big);
        let d = self.d;
        d.put_content("/bench/move/a", &big).await?;
        let bytes = self.o.big * 2;
        self.timed(w, "component", 2, bytes, || async {
            d.move_("/bench/move/a", "/bench/move/b").await?;
            d.move_("/bench/move/b", "/bench/move/a").await?;
            Ok(())
        })
        .await?;
        let (na, nb) = (
            self.key("/bench/move-native/a"),
            self.key("/bench/move-native/b"),
        );
        let native = self.native.clone();
        native.put(&na, &big).await?;
        self.timed(w, NATIVE, 2, bytes, || async {
            native.rename(&na, &nb).await?;
            native.rename(&nb, &na).await
        })
        .await?;
        let (ka, kb) = (self.key("/bench/move-raw/a"), self.key("/bench/move-raw/b"));
        let raw = self.raw.clone();
        ok(&raw.put(&ka, &big).await?, "put")?;
        self.timed(w, RAW, 2, bytes, || async {
            for (from, to) in [(&ka, &kb), (&kb, &ka)] {
                let q = raw.requests();
                ok(&raw.send(q.copy_object(from, to), &[]).await?, "copy")?;
                ok(&raw.send(q.delete_object(from), &[]).await?, "delete")?;
            }
            Ok(())
        })
        .await
    }

    /// `streams` stream round trips of a big object at once.
    pub(super) async fn concurrent_streams(&mut self) -> anyhow::Result<()> {
        let (streams, size) = (self.o.streams, self.o.big);
        let big = content(size);
        let w = format!("{streams} concurrent streams of {}", human(size));
        let total = 2 * streams * size;
        let d = self.d;
        self.timed(&w, "component", streams, total, || async {
            let tasks = (0..streams).map(|i| {
                let big = &big;
                async move { stream_round_trip(d, &format!("/bench/streams/{i}"), big).await }
            });
            futures::future::try_join_all(tasks).await.map(drop)
        })
        .await?;
        let keys: Vec<String> = (0..streams)
            .map(|i| self.key(&format!("/bench/streams-native/{i}")))
            .collect();
        let native = self.native.clone();
        self.timed(&w, NATIVE, streams, total, || async {
            let tasks = keys.iter().map(|k| {
                let (native, big) = (&native, &big);
                async move {
                    anyhow::ensure!(native.stream_round_trip(k, big).await? == big.len());
                    Ok::<_, anyhow::Error>(())
                }
            });
            futures::future::try_join_all(tasks).await.map(drop)
        })
        .await?;
        let keys: Vec<String> = (0..streams)
            .map(|i| self.key(&format!("/bench/streams-raw/{i}")))
            .collect();
        let (raw, chunk) = (self.raw.clone(), self.chunk);
        self.timed(&w, RAW, streams, total, || async {
            let tasks = keys.iter().map(|k| {
                let (raw, big) = (&raw, &big);
                async move {
                    raw_multipart(raw, k, big, chunk).await?;
                    anyhow::ensure!(raw_len(raw, k).await? == big.len());
                    Ok::<_, anyhow::Error>(())
                }
            });
            futures::future::try_join_all(tasks).await.map(drop)
        })
        .await
    }
}
