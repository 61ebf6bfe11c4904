//! The reference driver's test suite (Distribution's `testsuites.go`, 36
//! cases, and the S3 driver's own `s3_test.go`, 12 cases), ported to run
//! through the component in wasmtime against any S3-compatible target.
//!
//! Each case runs under its own fresh `rootdirectory`, like the reference's
//! `t.TempDir()` root, and must leave nothing behind: after the case, `List("/")`
//! must be empty and no multipart upload may remain open under the root.
//!
//! | case | reference |
//! |---|---|
//! | `root_exists` | TestRootExists |
//! | `valid_paths` | TestValidPaths |
//! | `invalid_paths` | TestInvalidPaths |
//! | `write_read_1` .. `write_read_4` | TestWriteRead1-4 |
//! | `write_read_non_utf8` | TestWriteReadNonUTF8 |
//! | `truncate` | TestTruncate |
//! | `read_nonexistent` | TestReadNonexistent |
//! | `write_read_streams_1` .. `_4` | TestWriteReadStreams1-4 |
//! | `write_read_streams_non_utf8` | TestWriteReadStreamsNonUTF8 |
//! | `write_read_large_streams` | TestWriteReadLargeStreams (5 GiB with full size, 32 MiB otherwise) |
//! | `reader_with_offset` | TestReaderWithOffset |
//! | `continue_stream_append_large` | TestContinueStreamAppendLarge (10 MiB) |
//! | `continue_stream_append_small` | TestContinueStreamAppendSmall (32 B) |
//! | `read_nonexistent_stream` | TestReadNonexistentStream |
//! | `write_zero_byte_stream_then_append` | TestWriteZeroByteStreamThenAppend |
//! | `write_zero_byte_content_then_append` | TestWriteZeroByteContentThenAppend |
//! | `list` | TestList |
//! | `move_file` | TestMove |
//! | `move_overwrite` | TestMoveOverwrite |
//! | `move_nonexistent` | TestMoveNonexistent |
//! | `move_invalid` | TestMoveInvalid |
//! | `delete` | TestDelete |
//! | `redirect_url` | TestRedirectURL |
//! | `delete_nonexistent` | TestDeleteNonexistent |
//! | `delete_folder` | TestDeleteFolder |
//! | `delete_only_deletes_subpaths` | TestDeleteOnlyDeletesSubpaths |
//! | `stat_call` | TestStatCall (sleeps 10 s + 5 s with full size, 1.1 s otherwise) |
//! | `put_content_multiple_times` | TestPutContentMultipleTimes |
//! | `concurrent_stream_reads` | TestConcurrentStreamReads (128 MiB full, 10 MiB otherwise) |
//! | `concurrent_file_streams` | TestConcurrentFileStreams (32 x 32 MiB full, 8 x 8 MiB otherwise) |
//! | `s3_driver_suite` | TestS3DriverSuite (the reference constructor's settings) |
//! | `s3_log_level_from_param` | TestGetS3LogLevelFromParam |
//! | `is_subpath` | TestIsSubpath (observed through walk's skip-dir) |
//! | `empty_root_list` | TestEmptyRootList |
//! | `client_transport` | TestClientTransport |
//! | `storage_class` | TestStorageClass |
//! | `s3_delete` | TestDelete (S3) |
//! | `walk_empty_uploads_dir` | TestWalkEmptyUploadsDir |
//! | `walk` | TestWalk, every sub-case |
//! | `over_thousand_blobs` | TestOverThousandBlobs |
//! | `move_with_multipart_copy` | TestMoveWithMultipartCopy |
//! | `list_objects_v2` | TestListObjectsV2 |

use std::fmt;
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use sha2::{Digest, Sha256};

use crate::raw::RawS3;
use crate::{
    Allowlist, CallError, CallResult, ConfigValue, Driver, DriverError, FileInfo, OutgoingPolicy,
    RedirectRequest, Runtime,
};

/// What a target server cannot do; the cases that need it are skipped there,
/// saying why.
#[derive(Debug, Clone, Default)]
pub struct Quirks {
    /// The server does not keep storage classes (s3s-fs).
    pub storage_class_not_kept: Option<&'static str>,
}

/// A server to run the suite against.
#[derive(Clone)]
pub struct Target {
    /// Shown in reports.
    pub name: String,
    /// Its `storage: s3:` block; a `rootdirectory` in it becomes the base of
    /// every case's scratch root.
    pub params: Vec<(String, ConfigValue)>,
    /// Run the reference's full sizes (5 GiB stream, 32 x 32 MiB streams).
    pub full_size: bool,
    /// What it lacks.
    pub quirks: Quirks,
}

/// Why a case did not pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Passed.
    Pass,
    /// Failed, with the reason.
    Fail(String),
    /// Not run on this target, with the reason.
    Skip(String),
}

/// A case's failure or skip.
#[derive(Debug)]
pub enum Stop {
    /// The case failed.
    Fail(String),
    /// The target cannot run the case.
    Skip(String),
}

impl From<String> for Stop {
    fn from(s: String) -> Self {
        Stop::Fail(s)
    }
}

type CaseResult = Result<(), Stop>;

/// One ported case.
pub struct Case {
    /// Our name (snake case).
    pub name: &'static str,
    /// The reference test it ports.
    pub reference: &'static str,
    run: for<'a> fn(&'a Ctx) -> BoxFuture<'a, CaseResult>,
}

impl fmt::Debug for Case {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.name, self.reference)
    }
}

/// What a running case has: its driver under a fresh root, the target, a raw client.
pub struct Ctx {
    runtime: Runtime,
    target: Target,
    /// The case's `rootdirectory`.
    root: String,
    /// The driver under test.
    pub driver: Driver,
    raw: Option<RawS3>,
}

macro_rules! ensure {
    ($cond:expr, $($fmt:tt)+) => {
        if !$cond {
            return Err(Stop::Fail(format!($($fmt)+)));
        }
    };
}

fn ok<T>(r: CallResult<T>, what: impl fmt::Display) -> Result<T, Stop> {
    r.map_err(|e| Stop::Fail(format!("{what}: {e}")))
}

fn expect_not_found<T>(r: CallResult<T>, what: impl fmt::Display) -> CaseResult {
    match r {
        Err(CallError::Driver(DriverError::PathNotFound(p))) => {
            ensure!(p.driver == "s3aws", "{what}: error without the driver name");
            Ok(())
        }
        Err(e) => Err(Stop::Fail(format!(
            "{what}: expected path-not-found, got {e}"
        ))),
        Ok(_) => Err(Stop::Fail(format!(
            "{what}: expected path-not-found, got success"
        ))),
    }
}

/// The reference's `randomContents(n)`: a prefix of one fixed pseudo-random
/// stream, so equal lengths are equal and shorter ones are prefixes.
pub fn contents(n: usize) -> Vec<u8> {
    let mut out = vec![0u8; n];
    fill(&mut out, 0);
    out
}

/// Fills `buf` with the stream's bytes from `offset` (8-byte aligned blocks).
fn fill(buf: &mut [u8], offset: u64) {
    for (i, b) in buf.iter_mut().enumerate() {
        let pos = offset + i as u64;
        let block = pos / 8;
        let mut x = block.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xD1B5_4A32_D192_ED03;
        x ^= x >> 31;
        x = x.wrapping_mul(0xBF58_476D_1CE4_E5B9);
        x ^= x >> 29;
        *b = (x >> ((pos % 8) * 8)) as u8;
    }
}

/// A random-looking file name of `n` characters from `[a-z0-9-]`.
fn random_name(n: usize) -> String {
    let mut seed = Instant::now().elapsed().as_nanos() as u64
        ^ std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(7);
    let alphabet = b"abcdefghijklmnopqrstuvwxyz0123456789";
    (0..n)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            alphabet[(seed % alphabet.len() as u64) as usize] as char
        })
        .collect()
}

impl Ctx {
    fn params_with(&self, extra: &[(&str, ConfigValue)]) -> Vec<(String, ConfigValue)> {
        let mut p: Vec<(String, ConfigValue)> = self
            .target
            .params
            .iter()
            .filter(|(k, _)| k != "rootdirectory")
            .cloned()
            .collect();
        p.push(("rootdirectory".into(), ConfigValue::Text(self.root.clone())));
        p.push(("chunksize".into(), ConfigValue::Integer(5 << 20)));
        for (k, v) in extra {
            p.retain(|(key, _)| key != k);
            p.push(((*k).to_owned(), v.clone()));
        }
        p
    }

    /// Another driver on the same root (real concurrency: its own instance).
    async fn driver_with(&self, extra: &[(&str, ConfigValue)]) -> Result<Driver, Stop> {
        let params = self.params_with(extra);
        let policy = OutgoingPolicy::new(Allowlist::for_params(&params));
        ok(
            Driver::open(&self.runtime, &params, policy, &[]).await,
            "opening a driver",
        )
    }

    fn raw(&self) -> Result<&RawS3, Stop> {
        self.raw
            .as_ref()
            .ok_or_else(|| Stop::Skip("needs static credentials for raw S3 requests".into()))
    }

    /// The full S3 key of a path under this case's root.
    fn key(&self, path: &str) -> String {
        format!("{}{}", self.root.trim_matches('/'), path)
    }

    fn full(&self) -> bool {
        self.target.full_size
    }

    async fn put(&self, path: &str, data: &[u8]) -> CaseResult {
        ok(
            self.driver.put_content(path, data).await,
            format!("put {path}"),
        )
    }

    async fn get(&self, path: &str) -> Result<Vec<u8>, Stop> {
        ok(self.driver.get_content(path).await, format!("get {path}"))
    }

    async fn delete(&self, path: &str) -> CaseResult {
        ok(self.driver.delete(path).await, format!("delete {path}"))
    }

    async fn write_read_compare(&self, path: &str, data: &[u8]) -> CaseResult {
        self.put(path, data).await?;
        let back = self.get(path).await?;
        ensure!(
            back == data,
            "{path}: read back {} bytes that differ",
            back.len()
        );
        self.delete(path).await
    }

    /// `Writer(false)`, write, Commit, Close, then `Reader(0)` and compare.
    async fn write_read_compare_streams(&self, path: &str, data: &[u8]) -> CaseResult {
        let mut w = ok(self.driver.writer(path, false).await, "writer")?;
        let n = ok(w.write(data).await, "write")?;
        ensure!(n == data.len() as u64, "wrote {n} of {} bytes", data.len());
        ok(w.commit().await, "commit")?;
        ok(w.close().await, "close after commit")?;
        let mut r = ok(self.driver.reader(path, 0).await, "reader")?;
        let back = ok(r.read_to_end().await, "read")?;
        ensure!(
            back == data,
            "{path}: streamed back {} bytes that differ",
            back.len()
        );
        self.delete(path).await
    }
}

macro_rules! case {
    ($name:ident, $reference:literal, |$c:ident| $body:block) => {
        #[allow(clippy::needless_lifetimes)]
        fn $name<'a>($c: &'a Ctx) -> BoxFuture<'a, CaseResult> {
            Box::pin(async move { $body })
        }
    };
}

case!(root_exists, "TestRootExists", |c| {
    ok(c.driver.list("/").await, "List(\"/\")")?;
    Ok(())
});

case!(valid_paths, "TestValidPaths", |c| {
    let data = contents(64);
    for p in [
        "/a",
        "/2",
        "/aa",
        "/a.a",
        "/0-9/abcdefg",
        "/abcdefg/z.75",
        "/abc/1.2.3.4.5-6_zyx/123.z/4",
        "/docker/docker-registry",
        "/123.abc",
        "/abc./abc",
        "/.abc",
        "/a--b",
        "/a-.b",
        "/_.abc",
        "/Docker/docker-registry",
        "/Abc/Cba",
    ] {
        c.put(p, &data).await?;
        ensure!(c.get(p).await? == data, "{p}: content differs");
        let first = format!("/{}", p.split('/').nth(1).unwrap_or_default());
        // deletePath: PathNotFound is fine (an earlier delete took it).
        match c.driver.delete(&first).await {
            Ok(()) | Err(CallError::Driver(DriverError::PathNotFound(_))) => {}
            Err(e) => return Err(Stop::Fail(format!("delete {first}: {e}"))),
        }
    }
    Ok(())
});

case!(invalid_paths, "TestInvalidPaths", |c| {
    for p in ["", "/", "abc", "123.abc", "//bcd", "/abc_123/"] {
        for (what, r) in [
            ("put", c.driver.put_content(p, b"x").await.map(|_| ())),
            ("get", c.driver.get_content(p).await.map(|_| ())),
        ] {
            match r {
                Err(e @ CallError::Driver(DriverError::InvalidPath(_))) => {
                    ensure!(
                        e.to_string().contains("s3aws"),
                        "{what} {p:?}: {e} lacks the driver name"
                    );
                }
                other => {
                    return Err(Stop::Fail(format!(
                        "{what} {p:?}: expected invalid-path, got {:?}",
                        other.err()
                    )));
                }
            }
        }
    }
    Ok(())
});

case!(write_read_1, "TestWriteRead1", |c| {
    c.write_read_compare(&format!("/{}", random_name(32)), b"a")
        .await
});
case!(write_read_2, "TestWriteRead2", |c| {
    c.write_read_compare(&format!("/{}", random_name(32)), "\u{df}".as_bytes())
        .await
});
case!(write_read_3, "TestWriteRead3", |c| {
    c.write_read_compare(&format!("/{}", random_name(32)), &contents(32))
        .await
});
case!(write_read_4, "TestWriteRead4", |c| {
    c.write_read_compare(&format!("/{}", random_name(32)), &contents(1 << 20))
        .await
});
case!(write_read_non_utf8, "TestWriteReadNonUTF8", |c| {
    c.write_read_compare(&format!("/{}", random_name(32)), &[0x80; 4])
        .await
});

case!(truncate, "TestTruncate", |c| {
    let p = format!("/{}", random_name(32));
    c.put(&p, &contents(1 << 20)).await?;
    c.put(&p, &contents(1024)).await?;
    ensure!(c.get(&p).await? == contents(1024), "not truncated to 1 KiB");
    c.delete(&p).await
});

case!(read_nonexistent, "TestReadNonexistent", |c| {
    expect_not_found(
        c.driver.get_content(&format!("/{}", random_name(32))).await,
        "get",
    )
});

case!(write_read_streams_1, "TestWriteReadStreams1", |c| {
    c.write_read_compare_streams(&format!("/{}", random_name(32)), b"a")
        .await
});
case!(write_read_streams_2, "TestWriteReadStreams2", |c| {
    c.write_read_compare_streams(&format!("/{}", random_name(32)), "\u{df}".as_bytes())
        .await
});
case!(write_read_streams_3, "TestWriteReadStreams3", |c| {
    c.write_read_compare_streams(&format!("/{}", random_name(32)), &contents(32))
        .await
});
case!(write_read_streams_4, "TestWriteReadStreams4", |c| {
    c.write_read_compare_streams(&format!("/{}", random_name(32)), &contents(1 << 20))
        .await
});
case!(
    write_read_streams_non_utf8,
    "TestWriteReadStreamsNonUTF8",
    |c| {
        c.write_read_compare_streams(&format!("/{}", random_name(32)), &[0x80; 4])
            .await
    }
);

case!(write_read_large_streams, "TestWriteReadLargeStreams", |c| {
    let size: u64 = if c.full() { 5 << 30 } else { 32 << 20 };
    let p = format!("/{}", random_name(32));
    let mut w = ok(c.driver.writer(&p, false).await, "writer")?;
    let mut hash = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut written = 0u64;
    while written < size {
        let n = (size - written).min(buf.len() as u64) as usize;
        fill(&mut buf[..n], written);
        hash.update(&buf[..n]);
        written += ok(w.write(&buf[..n]).await, "write")?;
    }
    ensure!(written == size, "wrote {written} of {size}");
    ok(w.commit().await, "commit")?;
    ok(w.close().await, "close")?;
    let mut r = ok(c.driver.reader(&p, 0).await, "reader")?;
    let mut back = Sha256::new();
    let mut read = 0u64;
    loop {
        let chunk = ok(r.read(1 << 20).await, "read")?;
        if chunk.is_empty() {
            break;
        }
        read += chunk.len() as u64;
        back.update(&chunk);
    }
    ensure!(read == size, "read {read} of {size}");
    ensure!(
        hash.finalize() == back.finalize(),
        "SHA-256 of the read-back differs"
    );
    c.delete(&p).await
});

case!(reader_with_offset, "TestReaderWithOffset", |c| {
    let p = format!("/{}", random_name(32));
    let chunk = 32usize;
    let data = contents(3 * chunk);
    c.put(&p, &data).await?;
    for offset in [0, chunk, 2 * chunk] {
        let mut r = ok(c.driver.reader(&p, offset as i64).await, "reader")?;
        let back = ok(r.read_to_end().await, "read")?;
        ensure!(back == data[offset..], "offset {offset}: wrong tail");
    }
    match c.driver.reader(&p, -1).await {
        Err(e @ CallError::Driver(DriverError::InvalidOffset(_))) => {
            let CallError::Driver(DriverError::InvalidOffset(o)) = &e else {
                unreachable!()
            };
            ensure!(o.offset == -1 && o.path == p, "invalid-offset fields: {e}");
            ensure!(e.to_string().contains("s3aws"), "{e} lacks the driver name");
        }
        Err(e) => {
            return Err(Stop::Fail(format!(
                "Reader(-1): expected invalid-offset, got {e}"
            )));
        }
        Ok(_) => return Err(Stop::Fail("Reader(-1) succeeded".into())),
    }
    let mut r = ok(c.driver.reader(&p, 3 * chunk as i64).await, "reader at EOF")?;
    ensure!(
        ok(r.read(64).await, "read at EOF")?.is_empty(),
        "data past EOF"
    );
    let mut r = ok(c.driver.reader(&p, 3 * chunk as i64 - 1).await, "reader")?;
    ensure!(
        ok(r.read(64).await, "read")? == data[3 * chunk - 1..],
        "last byte"
    );
    ensure!(
        ok(r.read(64).await, "read")?.is_empty(),
        "no EOF after the last byte"
    );
    c.delete(&p).await
});

/// `testContinueStreamAppend(chunk)`.
async fn continue_stream_append(c: &Ctx, chunk: usize) -> CaseResult {
    let p = format!("/{}", random_name(32));
    let full = contents(3 * chunk);
    let mut w = ok(c.driver.writer(&p, false).await, "writer")?;
    ok(w.write(&full[..chunk]).await, "write 1")?;
    ok(w.close().await, "close 1")?;
    ensure!(
        ok(w.size().await, "size")? == chunk as u64,
        "size after close 1"
    );
    let mut w = ok(c.driver.writer(&p, true).await, "append 1")?;
    ensure!(
        ok(w.size().await, "size")? == chunk as u64,
        "size on resume 1"
    );
    ok(w.write(&full[chunk..2 * chunk]).await, "write 2")?;
    ok(w.close().await, "close 2")?;
    ensure!(
        ok(w.size().await, "size")? == 2 * chunk as u64,
        "size after close 2"
    );
    let mut w = ok(c.driver.writer(&p, true).await, "append 2")?;
    ensure!(
        ok(w.size().await, "size")? == 2 * chunk as u64,
        "size on resume 2"
    );
    ok(w.write(&full[2 * chunk..]).await, "write 3")?;
    ok(w.commit().await, "commit")?;
    ok(w.close().await, "close 3")?;
    ensure!(c.get(&p).await? == full, "content differs");
    c.delete(&p).await
}

case!(
    continue_stream_append_large,
    "TestContinueStreamAppendLarge",
    |c| { continue_stream_append(c, 10 << 20).await }
);
case!(
    continue_stream_append_small,
    "TestContinueStreamAppendSmall",
    |c| { continue_stream_append(c, 32).await }
);

case!(read_nonexistent_stream, "TestReadNonexistentStream", |c| {
    let p = format!("/{}", random_name(32));
    expect_not_found(c.driver.reader(&p, 0).await.map(|_| ()), "Reader(0)")?;
    expect_not_found(c.driver.reader(&p, 64).await.map(|_| ()), "Reader(64)")
});

/// Appending 32 bytes to a committed empty file.
async fn append_to_empty(c: &Ctx, p: &str) -> CaseResult {
    let mut r = ok(c.driver.reader(p, 0).await, "reader of the empty file")?;
    ensure!(
        ok(r.read(64).await, "read")?.is_empty(),
        "empty file has data"
    );
    let data = contents(32);
    let mut w = ok(c.driver.writer(p, true).await, "append")?;
    ok(w.write(&data).await, "write")?;
    ok(w.commit().await, "commit")?;
    ok(w.close().await, "close")?;
    ensure!(ok(w.size().await, "size")? == 32, "size after append");
    ensure!(c.get(p).await? == data, "content differs");
    c.delete(p).await
}

case!(
    write_zero_byte_stream_then_append,
    "TestWriteZeroByteStreamThenAppend",
    |c| {
        let p = format!("/{}", random_name(32));
        let mut w = ok(c.driver.writer(&p, false).await, "writer")?;
        ok(w.commit().await, "commit")?;
        ok(w.close().await, "close")?;
        ensure!(ok(w.size().await, "size")? == 0, "size of an empty commit");
        append_to_empty(c, &p).await
    }
);

case!(
    write_zero_byte_content_then_append,
    "TestWriteZeroByteContentThenAppend",
    |c| {
        let p = format!("/{}", random_name(32));
        c.put(&p, &[]).await?;
        append_to_empty(c, &p).await
    }
);

case!(list, "TestList", |c| {
    let root = format!("/{}", random_name(8 + (random_name(1).len() % 8)));
    expect_not_found(
        c.driver.list(&format!("{root}/nonexistent")).await,
        "list nonexistent",
    )?;
    let parent = format!("{root}/{}", random_name(8));
    let mut children = Vec::new();
    for _ in 0..50 {
        let child = format!("{parent}/{}", random_name(16));
        c.put(&child, &contents(32)).await?;
        children.push(child);
    }
    children.sort();
    ensure!(
        ok(c.driver.list("/").await, "list /")? == vec![root.clone()],
        "List(\"/\")"
    );
    ensure!(
        ok(c.driver.list(&root).await, "list root")? == vec![parent.clone()],
        "List(root)"
    );
    let mut got = ok(c.driver.list(&parent).await, "list parent")?;
    got.sort();
    ensure!(
        got == children,
        "List(parent): {} entries differ",
        got.len()
    );
    c.delete(&root).await
});

case!(move_file, "TestMove", |c| {
    let (src, dst) = (
        format!("/{}", random_name(32)),
        format!("/{}", random_name(32)),
    );
    let data = contents(32);
    c.put(&src, &data).await?;
    ok(c.driver.move_(&src, &dst).await, "move")?;
    ensure!(c.get(&dst).await? == data, "destination differs");
    expect_not_found(c.driver.get_content(&src).await, "source after move")?;
    c.delete(&dst).await
});

case!(move_overwrite, "TestMoveOverwrite", |c| {
    let (src, dst) = (
        format!("/{}", random_name(32)),
        format!("/{}", random_name(32)),
    );
    c.put(&src, &contents(32)).await?;
    c.put(&dst, &contents(64)).await?;
    ok(c.driver.move_(&src, &dst).await, "move")?;
    ensure!(
        c.get(&dst).await? == contents(32),
        "destination not overwritten"
    );
    expect_not_found(c.driver.get_content(&src).await, "source after move")?;
    c.delete(&dst).await
});

case!(move_nonexistent, "TestMoveNonexistent", |c| {
    let (src, dst) = (
        format!("/{}", random_name(32)),
        format!("/{}", random_name(32)),
    );
    c.put(&dst, &contents(32)).await?;
    expect_not_found(c.driver.move_(&src, &dst).await, "move of a missing source")?;
    ensure!(c.get(&dst).await? == contents(32), "destination changed");
    c.delete(&dst).await
});

case!(move_invalid, "TestMoveInvalid", |c| {
    c.put("/notadir", &contents(32)).await?;
    ensure!(
        c.driver
            .move_("/notadir/foo", "/notadir/bar")
            .await
            .is_err(),
        "moving below a file succeeded"
    );
    c.delete("/notadir").await
});

case!(delete, "TestDelete", |c| {
    let p = format!("/{}", random_name(32));
    c.put(&p, &contents(32)).await?;
    c.delete(&p).await?;
    expect_not_found(c.driver.get_content(&p).await, "get after delete")
});

case!(redirect_url, "TestRedirectURL", |c| {
    let p = format!("/{}", random_name(32));
    let data = contents(32);
    c.put(&p, &data).await?;
    let request = |method: &str| RedirectRequest {
        method: method.into(),
        remote_addr: "127.0.0.1".into(),
        forwarded_for: None,
        real_ip: None,
    };
    let raw = c.raw()?;
    if let Some(url) = ok(
        c.driver.redirect_url(&request("GET"), &p).await,
        "redirect GET",
    )? {
        let r = raw
            .fetch("GET", &url)
            .await
            .map_err(|e| format!("GET {url}: {e:#}"))?;
        ensure!(r.status == 200, "GET of the URL: HTTP {}", r.status);
        ensure!(
            r.body[..] == data[..],
            "GET of the URL returned other bytes"
        );
        let url = ok(
            c.driver.redirect_url(&request("HEAD"), &p).await,
            "redirect HEAD",
        )?
        .ok_or_else(|| Stop::Fail("no HEAD URL".into()))?;
        let r = raw
            .fetch("HEAD", &url)
            .await
            .map_err(|e| format!("HEAD: {e:#}"))?;
        ensure!(r.status == 200, "HEAD of the URL: HTTP {}", r.status);
        ensure!(
            r.header("content-length") == Some("32"),
            "HEAD content-length"
        );
    }
    ensure!(
        ok(
            c.driver.redirect_url(&request("PUT"), &p).await,
            "redirect PUT"
        )?
        .is_none(),
        "PUT must not redirect"
    );
    c.delete(&p).await
});

case!(delete_nonexistent, "TestDeleteNonexistent", |c| {
    expect_not_found(
        c.driver.delete(&format!("/{}", random_name(32))).await,
        "delete",
    )
});

case!(delete_folder, "TestDeleteFolder", |c| {
    let dir = format!("/{}", random_name(32));
    let files: Vec<String> = (0..3)
        .map(|_| format!("{dir}/{}", random_name(32)))
        .collect();
    for f in &files {
        c.put(f, &contents(32)).await?;
    }
    c.delete(&files[0]).await?;
    expect_not_found(c.driver.get_content(&files[0]).await, "first file")?;
    ensure!(c.get(&files[1]).await? == contents(32), "second file lost");
    c.delete(&dir).await?;
    for f in &files {
        expect_not_found(c.driver.get_content(f).await, "after folder delete")?;
    }
    Ok(())
});

case!(
    delete_only_deletes_subpaths,
    "TestDeleteOnlyDeletesSubpaths",
    |c| {
        let dir = format!("/{}", random_name(32));
        let file = random_name(32);
        let sub = random_name(32);
        let paths = [
            format!("{dir}/{file}"),
            format!("{dir}/{file}suffix"),
            format!("{dir}/{sub}/{file}"),
            format!("{dir}/{sub}suffix/{file}"),
        ];
        for p in &paths {
            c.put(p, &contents(32)).await?;
        }
        c.delete(&paths[0]).await?;
        expect_not_found(c.driver.get_content(&paths[0]).await, "deleted file")?;
        ensure!(
            c.get(&paths[1]).await? == contents(32),
            "sibling file deleted"
        );
        c.delete(&format!("{dir}/{sub}")).await?;
        expect_not_found(c.driver.get_content(&paths[2]).await, "file in deleted dir")?;
        ensure!(
            c.get(&paths[3]).await? == contents(32),
            "sibling directory deleted"
        );
        c.delete(&dir).await
    }
);

case!(stat_call, "TestStatCall", |c| {
    let dir = format!("/{}", random_name(32));
    let file = format!("{dir}/{}", random_name(32));
    expect_not_found(c.driver.stat(&dir).await, "stat dir before")?;
    expect_not_found(c.driver.stat(&file).await, "stat file before")?;
    c.put(&file, &contents(4096)).await?;
    let fi = ok(c.driver.stat(&file).await, "stat file")?;
    ensure!(
        fi.path == file && fi.size == 4096 && !fi.is_dir,
        "file info {fi:?}"
    );
    let first = fi
        .mod_time
        .ok_or_else(|| Stop::Fail("file without mod-time".into()))?;
    let (pause, settle) = if c.full() {
        (Duration::from_secs(10), Duration::from_secs(5))
    } else {
        (Duration::from_millis(1100), Duration::ZERO)
    };
    tokio::time::sleep(pause).await;
    c.put(&file, &contents(4096)).await?;
    let fi = ok(c.driver.stat(&file).await, "stat file again")?;
    tokio::time::sleep(settle).await;
    let second = fi
        .mod_time
        .ok_or_else(|| Stop::Fail("file without mod-time".into()))?;
    ensure!(
        (second.seconds, second.nanoseconds) > (first.seconds, first.nanoseconds),
        "mod-time did not advance"
    );
    let di = ok(c.driver.stat(&dir).await, "stat dir")?;
    ensure!(
        di.path == dir && di.size == 0 && di.is_dir,
        "dir info {di:?}"
    );
    match c.driver.stat("/").await {
        Ok(_) | Err(CallError::Driver(DriverError::PathNotFound(_))) => {}
        Err(e) => return Err(Stop::Fail(format!("Stat(\"/\"): {e}"))),
    }
    c.delete(&dir).await
});

case!(
    put_content_multiple_times,
    "TestPutContentMultipleTimes",
    |c| {
        let p = format!("/{}", random_name(32));
        c.put(&p, &contents(4096)).await?;
        c.put(&p, &contents(2048)).await?;
        ensure!(
            c.get(&p).await? == contents(2048),
            "second put not read back"
        );
        c.delete(&p).await
    }
);

case!(concurrent_stream_reads, "TestConcurrentStreamReads", |c| {
    let size = if c.full() { 128 << 20 } else { 10 << 20 };
    let p = format!("/{}", random_name(32));
    let data = contents(size);
    c.put(&p, &data).await?;
    let mut tasks = Vec::new();
    for i in 0..10u64 {
        let d = c.driver_with(&[]).await?;
        let offset = ((i * 7_919_993 + 12_345) % size as u64) as usize;
        let path = p.clone();
        tasks.push(tokio::spawn(async move {
            let mut r = d.reader(&path, offset as i64).await?;
            r.read_to_end().await.map(|b| (offset, b))
        }));
    }
    for t in tasks {
        let joined = t.await.map_err(|e| format!("reader task: {e}"))?;
        let (offset, back) = ok(joined, "concurrent read")?;
        ensure!(back == data[offset..], "read at {offset} differs");
    }
    c.delete(&p).await
});

case!(concurrent_file_streams, "TestConcurrentFileStreams", |c| {
    let (streams, mib) = if c.full() { (32, 32) } else { (8, 8) };
    let mut tasks = Vec::new();
    for _ in 0..streams {
        let d = c.driver_with(&[]).await?;
        let path = format!("/{}", random_name(32));
        tasks.push(tokio::spawn(async move {
            let data = contents(mib << 20);
            let mut w = d.writer(&path, false).await?;
            for piece in data.chunks(1 << 20) {
                w.write(piece).await?;
            }
            w.commit().await?;
            w.close().await?;
            let back = d.reader(&path, 0).await?.read_to_end().await?;
            d.delete(&path).await?;
            Ok::<bool, CallError>(back == data)
        }));
    }
    for t in tasks {
        let joined = t.await.map_err(|e| format!("stream task: {e}"))?;
        let same = ok(joined, "stream")?;
        ensure!(same, "a stream read back different bytes");
    }
    Ok(())
});

case!(s3_driver_suite, "TestS3DriverSuite", |c| {
    // The reference constructor: minimum chunk size, default copy settings,
    // user agent "s3aws-test", a non-empty root, STANDARD.
    ensure!(
        !c.root.trim_matches('/').is_empty(),
        "the suite needs a non-empty root"
    );
    let d = c
        .driver_with(&[
            ("useragent", ConfigValue::Text("s3aws-test".into())),
            ("storageclass", ConfigValue::Text("STANDARD".into())),
        ])
        .await?;
    ensure!(ok(d.name().await, "name")? == "s3aws", "driver name");
    ensure!(d.warnings().is_empty(), "warnings: {:?}", d.warnings());
    let p = format!("/{}", random_name(16));
    ok(d.put_content(&p, b"suite").await, "put")?;
    ensure!(ok(d.get_content(&p).await, "get")? == b"suite", "content");
    ok(d.delete(&p).await, "delete")
});

case!(s3_log_level_from_param, "TestGetS3LogLevelFromParam", |c| {
    let t = |s: &str| ConfigValue::Text(s.into());
    let known = [
        ConfigValue::Boolean(false),
        ConfigValue::Boolean(true),
        t("off"),
        t("OFF"),
        t("debug"),
        t("DEBUG"),
        t("debugwithsigning"),
        t("debugwithhttpbody"),
        t("debugwithrequestretries"),
        t("debugwithrequesterrors"),
        t("debugwitheventstreambody"),
        t(""),
        ConfigValue::Integer(42),
        ConfigValue::Float(42.0),
        ConfigValue::TextList(vec!["debug".into()]),
    ];
    for v in known {
        let d = c.driver_with(&[("loglevel", v.clone())]).await?;
        ensure!(
            d.warnings().is_empty(),
            "loglevel {v:?}: warnings {:?}",
            d.warnings()
        );
    }
    // An unknown name means "off", as in the reference; we also say so.
    let d = c.driver_with(&[("loglevel", t("invalid"))]).await?;
    ensure!(
        d.warnings().iter().any(|w| w.contains("loglevel")),
        "no warning for an unknown loglevel"
    );
    Ok(())
});

case!(is_subpath, "TestIsSubpath", |c| {
    for p in [
        "/tags/1.2/current",
        "/tags/1.20/current",
        "/tags/1.2-rc/current",
    ] {
        c.put(p, p.as_bytes()).await?;
    }
    let mut w = ok(c.driver.walk("/tags", None).await, "walk")?;
    let mut seen = Vec::new();
    loop {
        let page = ok(w.next(1).await, "next")?;
        let Some(e) = page.into_iter().next() else {
            break;
        };
        if e.path == "/tags/1.2" {
            ok(w.skip_dir(&e.path).await, "skip-dir")?;
        }
        seen.push(e.path);
    }
    ensure!(
        !seen.contains(&"/tags/1.2/current".to_owned()),
        "skipped dir entered: {seen:?}"
    );
    ensure!(
        seen.contains(&"/tags/1.20/current".to_owned())
            && seen.contains(&"/tags/1.2-rc/current".to_owned()),
        "a sibling of the skipped directory was dropped: {seen:?}"
    );
    c.delete("/tags").await
});

case!(empty_root_list, "TestEmptyRootList", |c| {
    let file = format!("/{}", random_name(16));
    c.put(&file, b"root list").await?;
    for root in ["", "/"] {
        let d = c
            .driver_with(&[("rootdirectory", ConfigValue::Text(root.into()))])
            .await?;
        for p in ok(d.list("/").await, "list / without a root")? {
            ensure!(
                p.starts_with('/') && !p.ends_with('/') && !p.contains("//"),
                "root {root:?}: invalid path {p:?}"
            );
        }
    }
    c.delete(&file).await
});

case!(client_transport, "TestClientTransport", |c| {
    for (value, skips) in [("true", true), ("false", false)] {
        let params = c.params_with(&[("skipverify", ConfigValue::Text(value.into()))]);
        let policy =
            OutgoingPolicy::new(Allowlist::for_params(&params)).with_tls_from_params(&params);
        ensure!(
            policy.skips_tls_verification() == skips,
            "skipverify {value}: the host's TLS policy disagrees"
        );
        let d = ok(Driver::open(&c.runtime, &params, policy, &[]).await, "open")?;
        ok(d.list("/").await, "list through that transport")?;
    }
    Ok(())
});

case!(storage_class, "TestStorageClass", |c| {
    if let Some(why) = c.target.quirks.storage_class_not_kept {
        return Err(Stop::Skip(why.into()));
    }
    let raw = c.raw()?;
    for class in ["NONE", "STANDARD", "REDUCED_REDUNDANCY"] {
        let d = c
            .driver_with(&[("storageclass", ConfigValue::Text(class.into()))])
            .await?;
        let p = format!("/{}", class.to_ascii_lowercase());
        ok(
            d.put_content(&p, b"class").await,
            format!("put with {class}"),
        )?;
        let r = raw
            .get(&c.key(&p))
            .await
            .map_err(|e| format!("raw get: {e:#}"))?;
        ensure!(matches!(r.status, 200 | 206), "raw get: HTTP {}", r.status);
        let header = r.header("x-amz-storage-class");
        match class {
            // AWS omits the header for STANDARD; radosgw names it. Same class.
            "STANDARD" => ensure!(
                matches!(header, None | Some("STANDARD")),
                "STANDARD reported as {header:?}"
            ),
            "REDUCED_REDUNDANCY" => {
                ensure!(header == Some(class), "{class} reported as {header:?}")
            }
            _ => {}
        }
        ok(d.delete(&p).await, "delete")?;
    }
    Ok(())
});

case!(s3_delete, "TestDelete (S3)", |c| {
    let objects = [
        "/file1",
        "/file1-2",
        "/folder1/file1",
        "/folder2/file1",
        "/folder3/file1",
        "/folder3/subfolder1/subfolder1/file1",
        "/folder3/subfolder2/subfolder1/file1",
        "/folder4/file1",
        "/folder1-v2/file1",
        "/folder1-v2/subfolder1/file1",
    ];
    let reset = || async {
        for o in objects {
            c.put(o, o.as_bytes()).await?;
        }
        Ok::<(), Stop>(())
    };
    let check = |deleted: &'static [&'static str]| async move {
        for o in objects {
            let r = c.driver.stat(o).await;
            if deleted.contains(&o) {
                expect_not_found(r, format!("{o} should be gone"))?;
            } else {
                ok(r, format!("{o} should remain"))?;
            }
        }
        Ok::<(), Stop>(())
    };
    let cases: &[(&str, &[&str])] = &[
        ("/folder1", &["/folder1/file1"]),
        ("/folder2", &["/folder2/file1"]),
        (
            "/folder3",
            &[
                "/folder3/file1",
                "/folder3/subfolder1/subfolder1/file1",
                "/folder3/subfolder2/subfolder1/file1",
            ],
        ),
        ("/file1", &["/file1"]),
        ("/file1-2", &["/file1-2"]),
        ("/folder1-v2/file1", &["/folder1-v2/file1"]),
        ("/folder4/file1", &["/folder4/file1"]),
    ];
    for (target, gone) in cases {
        reset().await?;
        ok(c.driver.delete(target).await, format!("delete {target}"))?;
        check(gone).await?;
    }
    expect_not_found(
        c.driver.delete("/folder5").await,
        "delete of a missing folder",
    )?;
    for bad in ["/folder1/", "/folder1/*"] {
        ensure!(
            matches!(
                c.driver.delete(bad).await,
                Err(CallError::Driver(DriverError::InvalidPath(_)))
            ),
            "delete {bad}: expected invalid-path"
        );
    }
    for top in [
        "/file1",
        "/file1-2",
        "/folder1",
        "/folder1-v2",
        "/folder2",
        "/folder3",
        "/folder4",
    ] {
        match c.driver.delete(top).await {
            Ok(()) | Err(CallError::Driver(DriverError::PathNotFound(_))) => {}
            Err(e) => return Err(Stop::Fail(format!("cleanup {top}: {e}"))),
        }
    }
    Ok(())
});

case!(walk_empty_uploads_dir, "TestWalkEmptyUploadsDir", |c| {
    let raw = c.raw()?;
    let base = "/docker/registry/v2/repositories/testns/testimg";
    c.put(&format!("{base}/_layers/sha256/abc/link"), b"link")
        .await?;
    let marker = c.key(&format!("{base}/_uploads/"));
    let r = raw
        .put(&marker, &[])
        .await
        .map_err(|e| format!("raw put: {e:#}"))?;
    let stored = r.status == 200
        && raw
            .get(&marker)
            .await
            .map(|g| g.status == 200 || g.status == 206 || g.status == 416)
            .unwrap_or(false);
    if !stored {
        let _ = c.driver.delete("/docker").await;
        return Err(Stop::Skip(
            "the server cannot store an empty-directory marker key".into(),
        ));
    }
    let all = ok(c.driver.walk_all("/docker/registry/v2", None).await, "walk")?;
    for e in &all {
        ensure!(
            !e.path.ends_with('/') && !e.path.contains("//"),
            "walk yielded {:?}",
            e.path
        );
    }
    ensure!(
        all.iter()
            .any(|e| e.path == format!("{base}/_uploads") && e.is_dir),
        "the marker's directory is missing: {all:?}"
    );
    raw.send(raw.requests().delete_object(&marker), &[])
        .await
        .map_err(|e| format!("raw delete: {e:#}"))?;
    c.delete("/docker").await
});

fn names(entries: &[FileInfo]) -> Vec<String> {
    entries.iter().map(|e| e.path.clone()).collect()
}

case!(walk, "TestWalk", |c| {
    let files = [
        "/file1",
        "/folder1-suffix/file1",
        "/folder1/file1",
        "/folder2/file1",
        "/folder3/subfolder1/subfolder1/file1",
        "/folder3/subfolder2/subfolder1/file1",
        "/folder4/file1",
    ];
    for f in files {
        c.put(f, f.as_bytes()).await?;
    }
    let all: Vec<String> = [
        "/file1",
        "/folder1-suffix",
        "/folder1-suffix/file1",
        "/folder1",
        "/folder1/file1",
        "/folder2",
        "/folder2/file1",
        "/folder3",
        "/folder3/subfolder1",
        "/folder3/subfolder1/subfolder1",
        "/folder3/subfolder1/subfolder1/file1",
        "/folder3/subfolder2",
        "/folder3/subfolder2/subfolder1",
        "/folder3/subfolder2/subfolder1/file1",
        "/folder4",
        "/folder4/file1",
    ]
    .map(String::from)
    .to_vec();
    let got = ok(c.driver.walk_all("/", None).await, "walk all")?;
    ensure!(names(&got) == all, "walk all: {:?}", names(&got));
    for e in &got {
        let want_size = if e.is_dir { 0 } else { e.path.len() as u64 };
        ensure!(e.size == want_size, "{}: size {}", e.path, e.size);
    }
    // skip directory
    let mut w = ok(c.driver.walk("/", None).await, "walk")?;
    let mut seen = Vec::new();
    loop {
        let Some(e) = ok(w.next(1).await, "next")?.pop() else {
            break;
        };
        if e.path == "/folder3" {
            ok(w.skip_dir("/folder3").await, "skip")?;
        }
        seen.push(e.path);
    }
    ensure!(
        !seen.iter().any(|p| p.starts_with("/folder3/")),
        "skip directory: {seen:?}"
    );
    ensure!(
        seen.contains(&"/folder4/file1".to_owned()),
        "skip stopped the walk"
    );
    let hint = "/folder3/subfolder1/subfolder1/file1";
    let cases: &[(&str, Option<&str>, &[&str])] = &[
        (
            "/",
            Some(hint),
            &[
                "/folder3",
                "/folder3/subfolder2",
                "/folder3/subfolder2/subfolder1",
                "/folder3/subfolder2/subfolder1/file1",
                "/folder4",
                "/folder4/file1",
            ],
        ),
        (
            "/folder3",
            Some(hint),
            &[
                "/folder3/subfolder2",
                "/folder3/subfolder2/subfolder1",
                "/folder3/subfolder2/subfolder1/file1",
            ],
        ),
        ("/folder1", Some("/folder2"), &[]),
        ("/folder1", None, &["/folder1/file1"]),
    ];
    let folder3: Vec<&str> = all
        .iter()
        .filter(|p| p.starts_with("/folder3/"))
        .map(String::as_str)
        .collect();
    for (from, hint, want) in cases {
        let got = ok(
            c.driver.walk_all(from, *hint).await,
            format!("walk {from} after {hint:?}"),
        )?;
        ensure!(
            names(&got) == *want,
            "walk {from} after {hint:?}: {:?}",
            names(&got)
        );
    }
    for hint in ["/folder3", "/folder3/notafolder/notafile"] {
        let got = ok(
            c.driver.walk_all("/folder3", Some(hint)).await,
            "walk folder3",
        )?;
        ensure!(names(&got) == folder3, "start {hint}: {:?}", names(&got));
    }
    // stop early: the caller stops after /folder1/file1 and gets everything before it
    let mut w = ok(c.driver.walk("/", None).await, "walk")?;
    let mut seen = Vec::new();
    while let Some(e) = ok(w.next(1).await, "next")?.pop() {
        let stop = e.path == "/folder1/file1";
        seen.push(e.path);
        if stop {
            break;
        }
    }
    ensure!(seen == all[..5], "stop early: {seen:?}");
    // error: a caller that fails on the first entry has seen only /file1
    let mut w = ok(c.driver.walk("/", None).await, "walk")?;
    let first = ok(w.next(1).await, "next")?;
    ensure!(
        names(&first) == ["/file1"],
        "first entry: {:?}",
        names(&first)
    );
    for top in [
        "/file1",
        "/folder1-suffix",
        "/folder1",
        "/folder2",
        "/folder3",
        "/folder4",
    ] {
        c.delete(top).await?;
    }
    // a walk of a missing path is empty, not an error
    let none = ok(
        c.driver.walk_all("/nothing-here", None).await,
        "walk missing",
    )?;
    ensure!(
        none.is_empty(),
        "walk of a missing path: {:?}",
        names(&none)
    );
    Ok(())
});

case!(over_thousand_blobs, "TestOverThousandBlobs", |c| {
    for i in 0..1005 {
        c.put(&format!("/thousandfiletest/file{i}"), b"value")
            .await?;
    }
    c.delete("/thousandfiletest").await?;
    expect_not_found(
        c.driver.list("/thousandfiletest").await,
        "list after delete",
    )
});

case!(move_with_multipart_copy, "TestMoveWithMultipartCopy", |c| {
    let (src, dst) = ("/source/multipart", "/dest/multipart");
    // Twice the default multipart-copy threshold (32 MiB).
    let data = contents(64 << 20);
    c.put(src, &data).await?;
    ok(c.driver.move_(src, dst).await, "move")?;
    ensure!(c.get(dst).await? == data, "moved content differs");
    expect_not_found(c.driver.get_content(src).await, "source after move")?;
    c.delete("/dest").await
});

case!(list_objects_v2, "TestListObjectsV2", |c| {
    let prefix = "/test-list-objects-v2";
    let files: Vec<String> = (0..6).map(|i| format!("{prefix}/{i}")).collect();
    for f in &files {
        c.put(f, f.as_bytes()).await?;
    }
    let fi = ok(c.driver.stat(&files[0]).await, "stat")?;
    ensure!(
        !fi.is_dir && fi.size == files[0].len() as u64,
        "stat of the first file: {fi:?}"
    );
    let sub = format!("{prefix}/sub/0");
    c.put(&sub, sub.as_bytes()).await?;
    let mut listed = ok(c.driver.list(prefix).await, "list")?;
    listed.sort();
    let mut want = files.clone();
    want.push(format!("{prefix}/sub"));
    want.sort();
    ensure!(listed == want, "list: {listed:?}");
    let walked = ok(c.driver.walk_all(prefix, None).await, "walk")?;
    let mut want_walk = files.clone();
    want_walk.push(format!("{prefix}/sub"));
    want_walk.push(sub.clone());
    ensure!(names(&walked) == want_walk, "walk: {:?}", names(&walked));
    for e in walked.iter().filter(|e| !e.is_dir) {
        ensure!(e.size == e.path.len() as u64, "{} size {}", e.path, e.size);
    }
    c.delete(prefix).await
});

/// Every case, in the reference's order.
pub const CASES: &[Case] = &[
    Case {
        name: "root_exists",
        reference: "TestRootExists",
        run: root_exists,
    },
    Case {
        name: "valid_paths",
        reference: "TestValidPaths",
        run: valid_paths,
    },
    Case {
        name: "invalid_paths",
        reference: "TestInvalidPaths",
        run: invalid_paths,
    },
    Case {
        name: "write_read_1",
        reference: "TestWriteRead1",
        run: write_read_1,
    },
    Case {
        name: "write_read_2",
        reference: "TestWriteRead2",
        run: write_read_2,
    },
    Case {
        name: "write_read_3",
        reference: "TestWriteRead3",
        run: write_read_3,
    },
    Case {
        name: "write_read_4",
        reference: "TestWriteRead4",
        run: write_read_4,
    },
    Case {
        name: "write_read_non_utf8",
        reference: "TestWriteReadNonUTF8",
        run: write_read_non_utf8,
    },
    Case {
        name: "truncate",
        reference: "TestTruncate",
        run: truncate,
    },
    Case {
        name: "read_nonexistent",
        reference: "TestReadNonexistent",
        run: read_nonexistent,
    },
    Case {
        name: "write_read_streams_1",
        reference: "TestWriteReadStreams1",
        run: write_read_streams_1,
    },
    Case {
        name: "write_read_streams_2",
        reference: "TestWriteReadStreams2",
        run: write_read_streams_2,
    },
    Case {
        name: "write_read_streams_3",
        reference: "TestWriteReadStreams3",
        run: write_read_streams_3,
    },
    Case {
        name: "write_read_streams_4",
        reference: "TestWriteReadStreams4",
        run: write_read_streams_4,
    },
    Case {
        name: "write_read_streams_non_utf8",
        reference: "TestWriteReadStreamsNonUTF8",
        run: write_read_streams_non_utf8,
    },
    Case {
        name: "write_read_large_streams",
        reference: "TestWriteReadLargeStreams",
        run: write_read_large_streams,
    },
    Case {
        name: "reader_with_offset",
        reference: "TestReaderWithOffset",
        run: reader_with_offset,
    },
    Case {
        name: "continue_stream_append_large",
        reference: "TestContinueStreamAppendLarge",
        run: continue_stream_append_large,
    },
    Case {
        name: "continue_stream_append_small",
        reference: "TestContinueStreamAppendSmall",
        run: continue_stream_append_small,
    },
    Case {
        name: "read_nonexistent_stream",
        reference: "TestReadNonexistentStream",
        run: read_nonexistent_stream,
    },
    Case {
        name: "write_zero_byte_stream_then_append",
        reference: "TestWriteZeroByteStreamThenAppend",
        run: write_zero_byte_stream_then_append,
    },
    Case {
        name: "write_zero_byte_content_then_append",
        reference: "TestWriteZeroByteContentThenAppend",
        run: write_zero_byte_content_then_append,
    },
    Case {
        name: "list",
        reference: "TestList",
        run: list,
    },
    Case {
        name: "move_file",
        reference: "TestMove",
        run: move_file,
    },
    Case {
        name: "move_overwrite",
        reference: "TestMoveOverwrite",
        run: move_overwrite,
    },
    Case {
        name: "move_nonexistent",
        reference: "TestMoveNonexistent",
        run: move_nonexistent,
    },
    Case {
        name: "move_invalid",
        reference: "TestMoveInvalid",
        run: move_invalid,
    },
    Case {
        name: "delete",
        reference: "TestDelete",
        run: delete,
    },
    Case {
        name: "redirect_url",
        reference: "TestRedirectURL",
        run: redirect_url,
    },
    Case {
        name: "delete_nonexistent",
        reference: "TestDeleteNonexistent",
        run: delete_nonexistent,
    },
    Case {
        name: "delete_folder",
        reference: "TestDeleteFolder",
        run: delete_folder,
    },
    Case {
        name: "delete_only_deletes_subpaths",
        reference: "TestDeleteOnlyDeletesSubpaths",
        run: delete_only_deletes_subpaths,
    },
    Case {
        name: "stat_call",
        reference: "TestStatCall",
        run: stat_call,
    },
    Case {
        name: "put_content_multiple_times",
        reference: "TestPutContentMultipleTimes",
        run: put_content_multiple_times,
    },
    Case {
        name: "concurrent_stream_reads",
        reference: "TestConcurrentStreamReads",
        run: concurrent_stream_reads,
    },
    Case {
        name: "concurrent_file_streams",
        reference: "TestConcurrentFileStreams",
        run: concurrent_file_streams,
    },
    Case {
        name: "s3_driver_suite",
        reference: "TestS3DriverSuite",
        run: s3_driver_suite,
    },
    Case {
        name: "s3_log_level_from_param",
        reference: "TestGetS3LogLevelFromParam",
        run: s3_log_level_from_param,
    },
    Case {
        name: "is_subpath",
        reference: "TestIsSubpath",
        run: is_subpath,
    },
    Case {
        name: "empty_root_list",
        reference: "TestEmptyRootList",
        run: empty_root_list,
    },
    Case {
        name: "client_transport",
        reference: "TestClientTransport",
        run: client_transport,
    },
    Case {
        name: "storage_class",
        reference: "TestStorageClass",
        run: storage_class,
    },
    Case {
        name: "s3_delete",
        reference: "TestDelete (S3)",
        run: s3_delete,
    },
    Case {
        name: "walk_empty_uploads_dir",
        reference: "TestWalkEmptyUploadsDir",
        run: walk_empty_uploads_dir,
    },
    Case {
        name: "walk",
        reference: "TestWalk",
        run: walk,
    },
    Case {
        name: "over_thousand_blobs",
        reference: "TestOverThousandBlobs",
        run: over_thousand_blobs,
    },
    Case {
        name: "move_with_multipart_copy",
        reference: "TestMoveWithMultipartCopy",
        run: move_with_multipart_copy,
    },
    Case {
        name: "list_objects_v2",
        reference: "TestListObjectsV2",
        run: list_objects_v2,
    },
];

/// The case called `name`.
pub fn case(name: &str) -> Option<&'static Case> {
    CASES.iter().find(|c| c.name == name)
}

/// Runs one case under a fresh root and checks it left nothing behind.
pub async fn run_case(runtime: &Runtime, target: &Target, case: &Case) -> Outcome {
    let base = target
        .params
        .iter()
        .rev()
        .find(|(k, _)| k == "rootdirectory")
        .and_then(|(_, v)| match v {
            ConfigValue::Text(s) => Some(s.trim_matches('/').to_owned()),
            _ => None,
        })
        .filter(|s| !s.is_empty());
    let leaf = format!(
        "conformance-{}-{}",
        case.name.replace('_', "-"),
        random_name(8)
    );
    let root = match base {
        Some(b) => format!("/{b}/{leaf}"),
        None => format!("/{leaf}"),
    };
    let mut ctx = Ctx {
        runtime: runtime.clone(),
        target: target.clone(),
        root,
        driver: match open_plain(runtime, target).await {
            Ok(d) => d,
            Err(e) => return Outcome::Fail(format!("opening the driver: {e}")),
        },
        raw: None,
    };
    let params = ctx.params_with(&[]);
    ctx.raw = RawS3::from_params(&params).ok();
    ctx.driver = match ctx.driver_with(&[]).await {
        Ok(d) => d,
        Err(Stop::Fail(m) | Stop::Skip(m)) => return Outcome::Fail(m),
    };
    let result = (case.run)(&ctx).await;
    let leftovers = teardown(&ctx).await;
    match (result, leftovers) {
        (Ok(()), None) => Outcome::Pass,
        (Ok(()), Some(left)) => Outcome::Fail(format!("did not clean up properly: {left}")),
        (Err(Stop::Fail(m)), _) => Outcome::Fail(m),
        (Err(Stop::Skip(m)), _) => Outcome::Skip(m),
    }
}

async fn open_plain(runtime: &Runtime, target: &Target) -> CallResult<Driver> {
    let policy = OutgoingPolicy::new(Allowlist::for_params(&target.params));
    Driver::open(runtime, &target.params, policy, &[]).await
}

/// `TearDownTest`: `List("/")` must be empty and no upload may remain open.
/// Whatever is left is removed, so one failure does not spill into the next.
async fn teardown(ctx: &Ctx) -> Option<String> {
    let mut problems = Vec::new();
    match ctx.driver.list("/").await {
        Ok(left) if left.is_empty() => {}
        Ok(left) => {
            problems.push(format!("List(\"/\") = {left:?}"));
            for p in left {
                let _ = ctx.driver.delete(&p).await;
            }
        }
        Err(e) => problems.push(format!("List(\"/\"): {e}")),
    }
    if let Some(raw) = &ctx.raw {
        let prefix = format!("{}/", ctx.root.trim_matches('/'));
        match raw.abort_uploads(&prefix).await {
            Ok(0) => {}
            Ok(n) => problems.push(format!("{n} multipart upload(s) left open")),
            Err(e) => problems.push(format!("listing uploads: {e:#}")),
        }
    }
    (!problems.is_empty()).then(|| problems.join("; "))
}

/// Runs every case in order; `on_result` sees each outcome as it comes.
pub async fn run_all(
    runtime: &Runtime,
    target: &Target,
    mut on_result: impl FnMut(&Case, &Outcome, Duration),
) -> Vec<(&'static Case, Outcome)> {
    let mut out = Vec::new();
    for case in CASES {
        let t = Instant::now();
        let outcome = run_case(runtime, target, case).await;
        on_result(case, &outcome, t.elapsed());
        out.push((case, outcome));
    }
    out
}
