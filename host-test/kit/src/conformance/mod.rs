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
use s3_driver_host::{
    Allowlist, CallError, CallResult, ConfigValue, Driver, DriverError, FileInfo, OpenOptions,
    OutgoingPolicy, RedirectRequest, Runtime, WalkControl,
};

/// The cases a server cannot run, and why: the only way a case may end
/// without passing or failing. Keyed by [`Target::server`].
pub const UNSUPPORTED: &[(&str, &str, &str)] = &[
    (
        "s3s-fs",
        "storage_class",
        "s3s-fs keeps no storage classes (GetObject never names one)",
    ),
    (
        "s3s-fs",
        "walk_empty_uploads_dir",
        "s3s-fs stores keys as files and cannot store an empty-directory marker key",
    ),
];

/// Why `case` cannot run on `server`, when the table says so.
pub fn unsupported(server: &str, case: &str) -> Option<&'static str> {
    UNSUPPORTED
        .iter()
        .find(|(s, c, _)| *s == server && *c == case)
        .map(|(_, _, why)| *why)
}

/// How many cases of the suite are the generic ones (`testsuites.go`); the
/// rest are the S3 driver's own (`s3_test.go`).
pub const GENERIC_CASES: usize = 36;

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
    /// The kind of server (`s3s-fs`, `radosgw`, `s3`...), which
    /// [`UNSUPPORTED`] is keyed by.
    pub server: &'static str,
}

/// How a case ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Passed.
    Pass,
    /// Failed, with the reason.
    Fail(String),
    /// Not run: [`UNSUPPORTED`] declares the server cannot, with the reason.
    Unsupported(&'static str),
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Pass => f.write_str("pass"),
            Outcome::Fail(why) => write!(f, "FAIL: {why}"),
            Outcome::Unsupported(why) => write!(f, "unsupported ({why})"),
        }
    }
}

/// Pass, fail and unsupported counts of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Counts {
    /// Cases that passed.
    pub pass: usize,
    /// Cases that failed.
    pub fail: usize,
    /// Cases declared unsupported on the server.
    pub unsupported: usize,
}

impl Counts {
    /// Counts one outcome.
    pub fn add(&mut self, outcome: &Outcome) {
        match outcome {
            Outcome::Pass => self.pass += 1,
            Outcome::Fail(_) => self.fail += 1,
            Outcome::Unsupported(_) => self.unsupported += 1,
        }
    }
}

impl fmt::Display for Counts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} passed, {} failed, {} unsupported",
            self.pass, self.fail, self.unsupported
        )
    }
}

/// Why a case failed.
#[derive(Debug)]
pub struct Stop(pub String);

impl From<String> for Stop {
    fn from(s: String) -> Self {
        Stop(s)
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
            return Err(Stop(format!($($fmt)+)));
        }
    };
}

fn ok<T>(r: CallResult<T>, what: impl fmt::Display) -> Result<T, Stop> {
    r.map_err(|e| Stop(format!("{what}: {e}")))
}

fn expect_not_found<T>(r: CallResult<T>, what: impl fmt::Display) -> CaseResult {
    match r {
        Err(CallError::Driver(DriverError::PathNotFound(p))) => {
            ensure!(p.driver == "s3aws", "{what}: error without the driver name");
            Ok(())
        }
        Err(e) => Err(Stop(format!("{what}: expected path-not-found, got {e}"))),
        Ok(_) => Err(Stop(format!(
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

/// A random length in `[min, max]`.
fn random_len(min: usize, max: usize) -> usize {
    min + (random_u64() % (max - min + 1) as u64) as usize
}

/// The next number of a process-wide generator seeded from the clock.
fn random_u64() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static STATE: AtomicU64 = AtomicU64::new(0);
    let mut x = STATE.load(Ordering::Relaxed);
    if x == 0 {
        x = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(7, |d| d.as_nanos() as u64)
            | 1;
    }
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    STATE.store(x, Ordering::Relaxed);
    x
}

/// The reference's `randomFilename(n)`: `n` characters of `[a-z0-9]`, with
/// a `-` a quarter of the time, never first, never last, never doubled.
fn random_name(n: usize) -> String {
    let alphabet = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut out = String::with_capacity(n);
    for i in 0..n {
        let r = random_u64();
        let dash_ok = i > 0 && i + 1 < n && !out.ends_with('-');
        if dash_ok && r.is_multiple_of(4) {
            out.push('-');
        } else {
            out.push(alphabet[((r >> 8) % alphabet.len() as u64) as usize] as char);
        }
    }
    out
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
        let policy = OutgoingPolicy::new(Allowlist::any());
        ok(
            Driver::open(&self.runtime, OpenOptions::new(&params).policy(policy)).await,
            "opening a driver",
        )
    }

    fn raw(&self) -> Result<&RawS3, Stop> {
        self.raw
            .as_ref()
            .ok_or_else(|| Stop("needs static credentials for raw S3 requests".into()))
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
        pub(super) fn $name<'a>($c: &'a Ctx) -> BoxFuture<'a, CaseResult> {
            Box::pin(async move { $body })
        }
    };
}

// The cases, by concern; they use the macros above.
mod deletes;
mod files;
mod listing;
mod moves;
mod s3_settings;
mod streams;
mod walks;

/// Every case, in the reference's order.
pub const CASES: &[Case] = &[
    Case {
        name: "root_exists",
        reference: "TestRootExists",
        run: files::root_exists,
    },
    Case {
        name: "valid_paths",
        reference: "TestValidPaths",
        run: files::valid_paths,
    },
    Case {
        name: "invalid_paths",
        reference: "TestInvalidPaths",
        run: files::invalid_paths,
    },
    Case {
        name: "write_read_1",
        reference: "TestWriteRead1",
        run: files::write_read_1,
    },
    Case {
        name: "write_read_2",
        reference: "TestWriteRead2",
        run: files::write_read_2,
    },
    Case {
        name: "write_read_3",
        reference: "TestWriteRead3",
        run: files::write_read_3,
    },
    Case {
        name: "write_read_4",
        reference: "TestWriteRead4",
        run: files::write_read_4,
    },
    Case {
        name: "write_read_non_utf8",
        reference: "TestWriteReadNonUTF8",
        run: files::write_read_non_utf8,
    },
    Case {
        name: "truncate",
        reference: "TestTruncate",
        run: files::truncate,
    },
    Case {
        name: "read_nonexistent",
        reference: "TestReadNonexistent",
        run: files::read_nonexistent,
    },
    Case {
        name: "write_read_streams_1",
        reference: "TestWriteReadStreams1",
        run: streams::write_read_streams_1,
    },
    Case {
        name: "write_read_streams_2",
        reference: "TestWriteReadStreams2",
        run: streams::write_read_streams_2,
    },
    Case {
        name: "write_read_streams_3",
        reference: "TestWriteReadStreams3",
        run: streams::write_read_streams_3,
    },
    Case {
        name: "write_read_streams_4",
        reference: "TestWriteReadStreams4",
        run: streams::write_read_streams_4,
    },
    Case {
        name: "write_read_streams_non_utf8",
        reference: "TestWriteReadStreamsNonUTF8",
        run: streams::write_read_streams_non_utf8,
    },
    Case {
        name: "write_read_large_streams",
        reference: "TestWriteReadLargeStreams",
        run: streams::write_read_large_streams,
    },
    Case {
        name: "reader_with_offset",
        reference: "TestReaderWithOffset",
        run: streams::reader_with_offset,
    },
    Case {
        name: "continue_stream_append_large",
        reference: "TestContinueStreamAppendLarge",
        run: streams::continue_stream_append_large,
    },
    Case {
        name: "continue_stream_append_small",
        reference: "TestContinueStreamAppendSmall",
        run: streams::continue_stream_append_small,
    },
    Case {
        name: "read_nonexistent_stream",
        reference: "TestReadNonexistentStream",
        run: streams::read_nonexistent_stream,
    },
    Case {
        name: "write_zero_byte_stream_then_append",
        reference: "TestWriteZeroByteStreamThenAppend",
        run: streams::write_zero_byte_stream_then_append,
    },
    Case {
        name: "write_zero_byte_content_then_append",
        reference: "TestWriteZeroByteContentThenAppend",
        run: streams::write_zero_byte_content_then_append,
    },
    Case {
        name: "list",
        reference: "TestList",
        run: listing::list,
    },
    Case {
        name: "move_file",
        reference: "TestMove",
        run: moves::move_file,
    },
    Case {
        name: "move_overwrite",
        reference: "TestMoveOverwrite",
        run: moves::move_overwrite,
    },
    Case {
        name: "move_nonexistent",
        reference: "TestMoveNonexistent",
        run: moves::move_nonexistent,
    },
    Case {
        name: "move_invalid",
        reference: "TestMoveInvalid",
        run: moves::move_invalid,
    },
    Case {
        name: "delete",
        reference: "TestDelete",
        run: deletes::delete,
    },
    Case {
        name: "redirect_url",
        reference: "TestRedirectURL",
        run: s3_settings::redirect_url,
    },
    Case {
        name: "delete_nonexistent",
        reference: "TestDeleteNonexistent",
        run: deletes::delete_nonexistent,
    },
    Case {
        name: "delete_folder",
        reference: "TestDeleteFolder",
        run: deletes::delete_folder,
    },
    Case {
        name: "delete_only_deletes_subpaths",
        reference: "TestDeleteOnlyDeletesSubpaths",
        run: deletes::delete_only_deletes_subpaths,
    },
    Case {
        name: "stat_call",
        reference: "TestStatCall",
        run: listing::stat_call,
    },
    Case {
        name: "put_content_multiple_times",
        reference: "TestPutContentMultipleTimes",
        run: files::put_content_multiple_times,
    },
    Case {
        name: "concurrent_stream_reads",
        reference: "TestConcurrentStreamReads",
        run: streams::concurrent_stream_reads,
    },
    Case {
        name: "concurrent_file_streams",
        reference: "TestConcurrentFileStreams",
        run: streams::concurrent_file_streams,
    },
    Case {
        name: "s3_driver_suite",
        reference: "TestS3DriverSuite",
        run: s3_settings::s3_driver_suite,
    },
    Case {
        name: "s3_log_level_from_param",
        reference: "TestGetS3LogLevelFromParam",
        run: s3_settings::s3_log_level_from_param,
    },
    Case {
        name: "is_subpath",
        reference: "TestIsSubpath",
        run: listing::is_subpath,
    },
    Case {
        name: "empty_root_list",
        reference: "TestEmptyRootList",
        run: listing::empty_root_list,
    },
    Case {
        name: "client_transport",
        reference: "TestClientTransport",
        run: s3_settings::client_transport,
    },
    Case {
        name: "storage_class",
        reference: "TestStorageClass",
        run: s3_settings::storage_class,
    },
    Case {
        name: "s3_delete",
        reference: "TestDelete (S3)",
        run: deletes::s3_delete,
    },
    Case {
        name: "walk_empty_uploads_dir",
        reference: "TestWalkEmptyUploadsDir",
        run: walks::walk_empty_uploads_dir,
    },
    Case {
        name: "walk",
        reference: "TestWalk",
        run: walks::walk,
    },
    Case {
        name: "over_thousand_blobs",
        reference: "TestOverThousandBlobs",
        run: listing::over_thousand_blobs,
    },
    Case {
        name: "move_with_multipart_copy",
        reference: "TestMoveWithMultipartCopy",
        run: moves::move_with_multipart_copy,
    },
    Case {
        name: "list_objects_v2",
        reference: "TestListObjectsV2",
        run: listing::list_objects_v2,
    },
];

/// The case called `name`.
pub fn case(name: &str) -> Option<&'static Case> {
    CASES.iter().find(|c| c.name == name)
}

/// Runs one case under a fresh root and checks it left nothing behind;
/// a case the server is declared unable to run is not run.
pub async fn run_case(runtime: &Runtime, target: &Target, case: &Case) -> Outcome {
    if let Some(why) = unsupported(target.server, case.name) {
        return Outcome::Unsupported(why);
    }
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
        Err(Stop(m)) => return Outcome::Fail(m),
    };
    let result = (case.run)(&ctx).await;
    let leftovers = teardown(&ctx).await;
    match (result, leftovers) {
        (Ok(()), None) => Outcome::Pass,
        (Ok(()), Some(left)) => Outcome::Fail(format!("did not clean up properly: {left}")),
        (Err(Stop(m)), _) => Outcome::Fail(m),
    }
}

async fn open_plain(runtime: &Runtime, target: &Target) -> CallResult<Driver> {
    let policy = OutgoingPolicy::new(Allowlist::any());
    Driver::open(runtime, OpenOptions::new(&target.params).policy(policy)).await
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
