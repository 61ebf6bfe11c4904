//! The embedding API under load: 64 concurrent clients on one `Driver`
//! while the host swaps between two builds of the component 20 times; a writer
//! closed on one version resumed on the other; incompatible components
//! refused; a watched file deployed; the precompiled cache reused; loads from
//! inside a tokio runtime; overlap of concurrent calls measured; metrics
//! exported.

use s3_driver_suite as common;

use std::collections::BTreeSet;
use std::os::unix::fs::MetadataExt as _;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures::StreamExt as _;
use s3_driver_host::BUILT_COMPONENT;
use s3_driver_host::{
    ComponentCache, Driver, Fault, FaultRule, OpenOptions, OutgoingPolicy, Runtime, WalkControl,
};
use s3_driver_kit::EmbeddedS3;
use s3_driver_suite::BUILT_COMPONENT_B;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

fn bytes_of(path: &str) -> Vec<u8> {
    std::fs::read(path).expect("component built by build.rs")
}

async fn open(runtime: &Runtime, server: &EmbeddedS3) -> Driver {
    let params = server.params();
    let policy = OutgoingPolicy::new(s3_driver_suite::loopback());
    Driver::open(runtime, OpenOptions::new(&params).policy(policy))
        .await
        .unwrap()
}

/// Deterministic content that differs per client and round.
fn content(client: usize, round: usize, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i * 31 + client * 7 + round * 13) as u8)
        .collect()
}

fn quantiles(mut v: Vec<Duration>) -> String {
    v.sort();
    let at = |q: f64| v[((v.len() - 1) as f64 * q) as usize];
    format!(
        "min {:.2} ms, median {:.2} ms, max {:.2} ms",
        at(0.0).as_secs_f64() * 1e3,
        at(0.5).as_secs_f64() * 1e3,
        at(1.0).as_secs_f64() * 1e3
    )
}

/// One load client: rounds of small and streamed writes and reads until the
/// swaps are over (and at least two); its failures, the versions that
/// served its streams, and its round count.
async fn one_client(
    d: Driver,
    client: usize,
    swapping: Arc<AtomicBool>,
    calls: Arc<AtomicU64>,
) -> (Vec<String>, BTreeSet<String>, usize) {
    let mut failures = Vec::new();
    let mut versions = BTreeSet::new();
    let mut round = 0;
    while swapping.load(Ordering::Relaxed) || round < 2 {
        let dir = format!("/load/c{client}");
        let small = content(client, round, 1 + (client * 997 + round * 131) % 40_000);
        let path = format!("{dir}/k{round}");
        let mut check = |what: &str, ok: bool| {
            calls.fetch_add(1, Ordering::Relaxed);
            if !ok {
                failures.push(format!("client {client} round {round}: {what}"));
            }
        };
        let r = d.put_content(&path, &small).await;
        check(&format!("put {r:?}"), r.is_ok());
        let r = d.get_content(&path).await;
        check("get equal", r.as_deref().ok() == Some(&small[..]));
        let r = d.stat(&path).await;
        check(
            "stat size",
            r.as_ref().is_ok_and(|i| i.size == small.len() as u64),
        );
        let r = d.list(&dir).await;
        check(
            &format!("list {r:?}"),
            r.as_ref().is_ok_and(|l| l.contains(&path)),
        );
        // A streamed write in three pieces, read back streamed.
        let wpath = format!("{dir}/w{round}");
        let data = content(client, round + 1000, 3 * 50_000);
        let streamed = async {
            let mut w = d.writer(&wpath, false).await?;
            if let Some(v) = w.component_version() {
                versions.insert(v);
            }
            for piece in data.chunks(50_000) {
                w.write(piece).await?;
            }
            w.commit().await?;
            let mut r = d.reader(&wpath, 0).await?;
            if let Some(v) = r.component_version() {
                versions.insert(v);
            }
            r.read_to_end().await
        }
        .await;
        check(
            &format!("streamed write/read {:?}", streamed.as_ref().err()),
            streamed.as_deref().ok() == Some(&data[..]),
        );
        round += 1;
    }
    (failures, versions, round)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixty_four_clients_survive_twenty_swaps() {
    let a = bytes_of(BUILT_COMPONENT);
    let b = bytes_of(BUILT_COMPONENT_B);
    let cache_dir = tempfile::tempdir().unwrap();
    let cache = ComponentCache::new(cache_dir.path());
    let runtime = Runtime::from_file_cached(Path::new(BUILT_COMPONENT), cache).unwrap();
    // Both builds precompiled once, so the swaps measure deployment, not Cranelift.
    runtime.swap(&b).unwrap();
    runtime.swap(&a).unwrap();
    let first = Arc::downgrade(&runtime.current());
    let server = EmbeddedS3::start_temp().await.unwrap();
    let driver = open(&runtime, &server).await;

    let swapping = Arc::new(AtomicBool::new(true));
    let calls = Arc::new(AtomicU64::new(0));
    let mut clients = Vec::new();
    for client in 0..64 {
        let d = driver.clone();
        let swapping = swapping.clone();
        let calls = calls.clone();
        clients.push(tokio::spawn(one_client(d, client, swapping, calls)));
    }

    let mut swap_times = Vec::new();
    let mut reports = Vec::new();
    for i in 0..20 {
        tokio::time::sleep(Duration::from_millis(40)).await;
        let next = if i % 2 == 0 { &b } else { &a };
        let rt = runtime.clone();
        let next = next.clone();
        let report = tokio::task::spawn_blocking(move || rt.swap(&next))
            .await
            .unwrap()
            .unwrap();
        swap_times.push(report.elapsed);
        reports.push(report);
    }
    swapping.store(false, Ordering::Relaxed);

    let mut failures = Vec::new();
    let mut versions = BTreeSet::new();
    let mut rounds = 0;
    for c in clients {
        let (f, v, r) = c.await.unwrap();
        failures.extend(f);
        versions.extend(v);
        rounds += r;
    }
    let m = driver.metrics();
    println!(
        "load: 64 clients, {rounds} rounds, {} checks, {} driver calls, 20 swaps ({}), \
         all from the precompiled cache: {}",
        calls.load(Ordering::Relaxed),
        m.ops.iter().map(|o| o.calls()).sum::<u64>(),
        quantiles(swap_times),
        reports.iter().all(|r| r.cache_hit)
    );
    println!(
        "load: versions that served streams: {versions:?}; instances created {}, discarded {}; \
         most calls at once {}; HTTP requests {} over {} connections",
        m.instances_created,
        m.instances_discarded,
        m.max_in_flight,
        m.http.requests,
        m.http.connections
    );
    assert!(failures.is_empty(), "failed calls: {failures:#?}");
    assert_eq!(
        versions,
        BTreeSet::from(["0.6.0".to_owned(), "0.6.0+b".to_owned()]),
        "both builds served calls"
    );
    assert_eq!(reports.last().unwrap().generation, 22);
    assert_eq!(m.instances_discarded, 0);
    assert_eq!(m.ops.iter().map(|o| o.errors()).sum::<u64>(), 0);

    // The first version is freed once its last idle instance is let go, which
    // the next call does.
    driver.stat("/load/c0/k0").await.unwrap();
    assert!(first.upgrade().is_none(), "a swapped-out version is freed");
    assert_eq!(driver.component_version().await.unwrap(), "0.6.0");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_writer_closed_on_the_old_version_resumes_on_the_new_one() {
    let runtime = Runtime::from_file(Path::new(BUILT_COMPONENT)).unwrap();
    let server = EmbeddedS3::start_temp().await.unwrap();
    let mut params = server.params();
    params.push(("chunksize".into(), common::text("5242880")));
    let d = Driver::open(
        &runtime,
        OpenOptions::new(&params).policy(OutgoingPolicy::new(s3_driver_suite::loopback())),
    )
    .await
    .unwrap();
    let first = content(1, 1, 6 << 20);
    let second = content(2, 2, 3 << 20);
    let mut w = d.writer("/resume/blob", false).await.unwrap();
    assert_eq!(w.component_version().as_deref(), Some("0.6.0"));
    w.write(&first).await.unwrap();
    w.close().await.unwrap();
    drop(w);

    let report = runtime.swap(&bytes_of(BUILT_COMPONENT_B)).unwrap();
    assert_eq!(report.version, "0.6.0+b");
    let mut w = d.writer("/resume/blob", true).await.unwrap();
    assert_eq!(w.component_version().as_deref(), Some("0.6.0+b"));
    assert_eq!(w.size().await.unwrap(), first.len() as u64);
    w.write(&second).await.unwrap();
    w.commit().await.unwrap();
    let mut all = first;
    all.extend_from_slice(&second);
    assert!(d.get_content("/resume/blob").await.unwrap() == all);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_incompatible_component_is_refused_and_the_old_one_keeps_serving() {
    let runtime = Runtime::from_file(Path::new(BUILT_COMPONENT)).unwrap();
    let server = EmbeddedS3::start_temp().await.unwrap();
    let d = open(&runtime, &server).await;
    let before = runtime.current();

    // A component that exports nothing (the 8-byte empty component).
    let empty = [0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00];
    let e = runtime.swap(&empty).unwrap_err();
    assert!(
        format!("{e:#}").contains("does not export registry:storage/driver@0.6.0"),
        "{e:#}"
    );
    // A core module is not a component; garbage is neither.
    let core_module = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
    let e = runtime.swap(&core_module).unwrap_err();
    assert!(
        format!("{e:#}").contains("compiling the component"),
        "{e:#}"
    );
    let e = runtime.swap(b"not wasm").unwrap_err();
    assert!(
        format!("{e:#}").contains("compiling the component"),
        "{e:#}"
    );

    assert!(Arc::ptr_eq(&before, &runtime.current()));
    d.put_content("/still", b"serving").await.unwrap();
    assert_eq!(d.get_content("/still").await.unwrap(), b"serving");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_watched_file_is_deployed_and_a_bad_one_ignored() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("driver.wasm");
    std::fs::write(&path, bytes_of(BUILT_COMPONENT)).unwrap();
    let runtime = Runtime::from_file(&path).unwrap();
    let server = EmbeddedS3::start_temp().await.unwrap();
    let d = open(&runtime, &server).await;
    let mut watcher = runtime.watch(&path, Duration::from_millis(50));

    // Deploy the way operators do: write aside, rename over.
    let deploy = |bytes: &[u8]| {
        let tmp = dir.path().join("driver.wasm.new");
        std::fs::write(&tmp, bytes).unwrap();
        std::fs::rename(&tmp, &path).unwrap();
    };
    deploy(&bytes_of(BUILT_COMPONENT_B));
    let outcomes = tokio::time::timeout(Duration::from_secs(60), watcher.wait_for(1))
        .await
        .unwrap();
    assert_eq!(outcomes[0].as_ref().unwrap().version, "0.6.0+b");
    assert_eq!(d.component_version().await.unwrap(), "0.6.0+b");

    deploy(b"a truncated upload");
    let outcomes = tokio::time::timeout(Duration::from_secs(60), watcher.wait_for(2))
        .await
        .unwrap();
    assert!(outcomes[1].is_err());
    assert_eq!(d.component_version().await.unwrap(), "0.6.0+b");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_precompiled_cache_is_reused_across_runtimes() {
    let dir = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let cold =
        Runtime::from_file_cached(Path::new(BUILT_COMPONENT), ComponentCache::new(dir.path()))
            .unwrap();
    let compile = started.elapsed();
    let files = || {
        std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect::<Vec<_>>()
    };
    let written = files();
    assert_eq!(written.len(), 1, "one serialized component: {written:?}");
    let name = written[0]
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    assert!(name.starts_with(cold.current().digest()), "{name}");
    let inode = std::fs::metadata(&written[0]).unwrap().ino();

    let started = Instant::now();
    let warm =
        Runtime::from_file_cached(Path::new(BUILT_COMPONENT), ComponentCache::new(dir.path()))
            .unwrap();
    let load = started.elapsed();
    assert_eq!(files(), written);
    assert_eq!(
        std::fs::metadata(&written[0]).unwrap().ino(),
        inode,
        "the second runtime read the cache instead of writing it"
    );
    let report = warm.swap(&bytes_of(BUILT_COMPONENT)).unwrap();
    assert!(report.cache_hit);
    println!(
        "cache: compile and store {:.1} ms, load from cache {:.1} ms, swap from cache {:.1} ms",
        compile.as_secs_f64() * 1e3,
        load.as_secs_f64() * 1e3,
        report.elapsed.as_secs_f64() * 1e3
    );
}

/// Every load runs a trial instance on a plain executor, here on a thread
/// that also runs a tokio runtime. A guest that yielded the tokio way there
/// would wait for a wake-up the blocked thread never delivers; each load has a
/// few percent chance of meeting an epoch tick, so 200 loads would meet one.
#[test]
fn loads_from_inside_a_tokio_runtime_always_finish() {
    let (done, finished) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let generation = rt.block_on(async {
            let runtime = Runtime::from_file_cached(
                Path::new(BUILT_COMPONENT),
                ComponentCache::new(dir.path()),
            )
            .unwrap();
            let bytes = bytes_of(BUILT_COMPONENT);
            for _ in 0..200 {
                assert!(runtime.swap(&bytes).unwrap().cache_hit);
            }
            runtime.current().generation()
        });
        done.send(generation).unwrap();
    });
    let generation = finished
        .recv_timeout(Duration::from_secs(120))
        .expect("a load inside a tokio runtime never finished");
    assert_eq!(generation, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixty_four_calls_really_overlap() {
    let runtime = Runtime::from_file(Path::new(BUILT_COMPONENT)).unwrap();
    let server = EmbeddedS3::start_temp().await.unwrap();
    let d = open(&runtime, &server).await;
    d.put_content("/overlap", b"x").await.unwrap();
    // Each GET waits 300 ms in the host before it is sent: calls that
    // overlap have their requests in flight together.
    d.policy()
        .inject(FaultRule::every(Fault::Delay(Duration::from_millis(300))).method("GET"));
    let started = Instant::now();
    let calls: Vec<_> = (0..64)
        .map(|_| {
            let d = d.clone();
            tokio::spawn(async move { d.get_content("/overlap").await })
        })
        .collect();
    for c in calls {
        assert_eq!(c.await.unwrap().unwrap(), b"x");
    }
    let wall = started.elapsed();
    let m = d.metrics();
    println!(
        "overlap: 64 GETs of 300 ms each took {:.0} ms; most calls at once {}, most requests \
         in flight {}, instances {}",
        wall.as_secs_f64() * 1e3,
        m.max_in_flight,
        m.http.max_in_flight,
        m.instances_created
    );
    assert_eq!(m.max_in_flight, 64);
    assert_eq!(m.http.max_in_flight, 64);
    assert_eq!(m.instances_created, 64);
}

#[tokio::test(flavor = "multi_thread")]
async fn readers_writers_and_walks_as_rust_io() {
    let runtime = Runtime::from_file(Path::new(BUILT_COMPONENT)).unwrap();
    let server = EmbeddedS3::start_temp().await.unwrap();
    let d = open(&runtime, &server).await;
    let data = content(3, 3, (3 << 20) + 12345);

    let mut w = d
        .writer("/io/blob", false)
        .await
        .unwrap()
        .into_async_write();
    tokio::io::copy(&mut &data[..], &mut w).await.unwrap();
    w.commit().await.unwrap();
    let mut back = Vec::new();
    d.reader("/io/blob", 0)
        .await
        .unwrap()
        .into_async_read()
        .read_to_end(&mut back)
        .await
        .unwrap();
    assert!(back == data);

    // shutdown closes: the upload stays open and append resumes it.
    let mut w = d
        .writer("/io/resumed", false)
        .await
        .unwrap()
        .into_async_write();
    w.write_all(b"hello ").await.unwrap();
    w.shutdown().await.unwrap();
    let mut w = d.writer("/io/resumed", true).await.unwrap();
    w.write(b"world").await.unwrap();
    w.commit().await.unwrap();
    assert_eq!(d.get_content("/io/resumed").await.unwrap(), b"hello world");

    for p in ["/io/a/1", "/io/a/2", "/io/b/1", "/io/c"] {
        d.put_content(p, b"x").await.unwrap();
    }
    let streamed: Vec<String> = d
        .walk("/io", None)
        .await
        .unwrap()
        .into_stream()
        .map(|r| r.unwrap().path)
        .collect()
        .await;
    assert_eq!(
        streamed,
        [
            "/io/a",
            "/io/a/1",
            "/io/a/2",
            "/io/b",
            "/io/b/1",
            "/io/blob",
            "/io/c",
            "/io/resumed"
        ]
    );
    let mut seen = Vec::new();
    d.walk_with("/io", None, |info| {
        seen.push(info.path.clone());
        match info.path.as_str() {
            "/io/a" => WalkControl::SkipDir,
            "/io/c" => WalkControl::Stop,
            _ => WalkControl::Continue,
        }
    })
    .await
    .unwrap();
    assert_eq!(seen, ["/io/a", "/io/b", "/io/b/1", "/io/blob", "/io/c"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_count_calls_bytes_and_statuses_for_prometheus() {
    let runtime = Runtime::from_file(Path::new(BUILT_COMPONENT)).unwrap();
    let server = EmbeddedS3::start_temp().await.unwrap();
    let d = open(&runtime, &server).await;
    d.put_content("/m/a", b"12345").await.unwrap();
    d.get_content("/m/a").await.unwrap();
    d.get_content("/m/a").await.unwrap();
    assert!(d.stat("/m/missing").await.is_err());
    let m = d.metrics();
    assert_eq!(m.op("get-content").unwrap().calls(), 2);
    assert_eq!(
        m.op("stat").unwrap().outcomes,
        [("path-not-found".to_owned(), 1)]
    );
    assert_eq!((m.bytes_read, m.bytes_written), (10, 5));
    let statuses: u64 = m.http_by_status.iter().map(|(_, n)| n).sum();
    assert_eq!(statuses, m.http.requests);
    assert!(m.http_by_status.iter().any(|(s, _)| *s == 404));
    let text = m.to_prometheus(&[("driver", "blobs")]);
    assert!(
        text.contains(
            "s3_driver_calls_total{driver=\"blobs\",op=\"get-content\",outcome=\"ok\"} 2"
        )
    );
    assert!(text.contains("s3_driver_http_responses_total{driver=\"blobs\",status=\"200\"}"));
    assert!(text.contains("s3_driver_call_duration_seconds_count{driver=\"blobs\",op=\"stat\"} 1"));
}

#[test]
fn the_handles_can_cross_threads() {
    fn send_sync_clone<T: Send + Sync + Clone>() {}
    fn send<T: Send>() {}
    send_sync_clone::<Driver>();
    send_sync_clone::<Runtime>();
    send::<s3_driver_host::Reader>();
    send::<s3_driver_host::Writer>();
    send::<s3_driver_host::Walker>();
    send::<s3_driver_host::AsyncReader>();
    send::<s3_driver_host::AsyncWriter>();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_driver_opens_from_a_distribution_config_file() {
    let server = EmbeddedS3::start_temp().await.unwrap();
    let yaml = format!(
        "version: 0.1\nstorage:\n  s3:\n    accesskey: {}\n    secretkey: {}\n    region: us-east-1\n    \
         regionendpoint: {}\n    bucket: {}\n    forcepathstyle: true\n    secure: false\n    \
         rootdirectory: /from-config\n    chunksize: 5242880\n  cache:\n    blobdescriptor: inmemory\n",
        server.access_key(),
        s3_driver_kit::s3_server::DEFAULT_SECRET_KEY,
        server.endpoint(),
        server.bucket()
    );
    let config = s3_driver_host::config_file::from_str(&yaml).unwrap();
    let runtime = Runtime::from_file(Path::new(BUILT_COMPONENT)).unwrap();
    let d = Driver::open(&runtime, OpenOptions::from_config(&config))
        .await
        .unwrap();
    assert!(d.warnings().is_empty(), "{:?}", d.warnings());
    d.put_content("/c", b"configured").await.unwrap();
    assert_eq!(d.get_content("/c").await.unwrap(), b"configured");
    // The rootdirectory of the file is where it went.
    assert!(
        server.objects().iter().any(|(k, _)| k == "from-config/c"),
        "{:?}",
        server.objects()
    );
    // Egress: only the configured endpoint.
    assert_eq!(d.http_stats().denied, 0);
}
