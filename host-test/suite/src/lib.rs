//! Shared set-up of the integration tests (in `tests/`): one compiled
//! component, a fresh embedded S3 server per test, stand-ins for AWS
//! services, the radosgw that `.ci/run` starts, and a second build of the
//! component for hot swaps.

pub mod registry;

use std::convert::Infallible;
use std::sync::{Arc, LazyLock};

use bytes::Bytes;
use http_body_util::Full;
use hyper_util::rt::{TokioExecutor, TokioIo};

use s3_driver_host::{
    Allowlist, CallError, ConfigValue, Driver, DriverError, Limits, OpenOptions, OutgoingPolicy,
    Runtime,
};
use s3_driver_kit::EmbeddedS3;

/// The same source as the bundled component, built with the version label
/// `b` (`0.6.0+b`): what hot-swap tests alternate with.
pub const BUILT_COMPONENT_B: &str = env!("S3_DRIVER_COMPONENT_B");

/// The component, compiled once per test binary.
pub static RUNTIME: LazyLock<Runtime> =
    LazyLock::new(|| Runtime::builtin().expect("component compiles"));

/// A driver on a fresh embedded server, with `extra` parameters appended.
pub async fn driver_with(extra: &[(&str, ConfigValue)]) -> (Driver, EmbeddedS3) {
    let server = EmbeddedS3::start_temp().await.expect("embedded server");
    let mut params = server.params();
    params.extend(extra.iter().map(|(k, v)| ((*k).to_owned(), v.clone())));
    let policy = OutgoingPolicy::new(loopback());
    let driver = Driver::open(&RUNTIME, OpenOptions::new(&params).policy(policy))
        .await
        .expect("driver opens");
    (driver, server)
}

/// The cap every suite driver runs under: loopback only, so a component
/// that names a link-local, private or public origin is refused at open
/// and nothing leaves this machine.
pub fn loopback() -> Allowlist {
    Allowlist::new()
        .allow_host("127.0.0.1")
        .allow_host("[::1]")
        .allow_host("localhost")
}

/// A policy whose driver may be granted anything and sends nothing: every
/// request fails as refused (opening a driver needs no request).
pub fn sends_nothing() -> OutgoingPolicy {
    let p = OutgoingPolicy::new(Allowlist::any());
    p.inject(s3_driver_host::FaultRule::every(
        s3_driver_host::Fault::Refuse,
    ));
    p
}

/// A driver on a fresh embedded server.
pub async fn driver() -> (Driver, EmbeddedS3) {
    driver_with(&[]).await
}

/// A driver on `params`, allowed to reach what they name.
pub async fn open_params(params: &[(String, ConfigValue)]) -> Driver {
    try_open_params(params).await.expect("driver opens")
}

/// [`open_params`], failures returned.
pub async fn try_open_params(params: &[(String, ConfigValue)]) -> Result<Driver, CallError> {
    Driver::open(
        &RUNTIME,
        OpenOptions::new(params).policy(OutgoingPolicy::new(loopback())),
    )
    .await
}

/// A driver on `params` with per-instance `limits`, allowed to reach what
/// the parameters name.
pub async fn open_limited(params: &[(String, ConfigValue)], limits: Limits) -> Driver {
    Driver::open(
        &RUNTIME,
        OpenOptions::new(params)
            .policy(OutgoingPolicy::new(loopback()))
            .limits(limits),
    )
    .await
    .expect("driver opens")
}

/// Serves `reply(request head) -> (status, body)` over HTTP on 127.0.0.1,
/// for stand-ins of AWS services (ip-ranges, STS, IMDS). Stops with the runtime.
pub async fn serve_http<F>(reply: F) -> std::net::SocketAddr
where
    F: Fn(&http::request::Parts) -> (u16, String) + Send + Sync + 'static,
{
    let reply = Arc::new(reply);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let reply = reply.clone();
            tokio::spawn(async move {
                let svc =
                    hyper::service::service_fn(move |req: http::Request<hyper::body::Incoming>| {
                        let (parts, _) = req.into_parts();
                        let (status, body) = reply(&parts);
                        async move {
                            Ok::<_, Infallible>(
                                http::Response::builder()
                                    .status(status)
                                    .body(Full::new(Bytes::from(body)))
                                    .unwrap(),
                            )
                        }
                    });
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    addr
}

/// Why a test is ignored when no radosgw is configured; `.ci/run` starts
/// one and runs them with `--include-ignored`.
pub const NEEDS_RADOSGW: &str = "needs radosgw: set RADOSGW_ENDPOINT, RADOSGW_TLS_ENDPOINT, \
    RADOSGW_ACCESS_KEY and RADOSGW_SECRET_KEY (CEPH_DIR=target/ceph bash .ci/ceph-rgw.sh \
    starts one) and run cargo test -- --include-ignored";

/// The `storage: s3:` block of the radosgw that `.ci/run` starts, reached at
/// the URL in the environment variable `endpoint_var` (`RADOSGW_ENDPOINT` or
/// `RADOSGW_TLS_ENDPOINT`), on `bucket`. Panics, naming what is missing,
/// when the server is not configured: the tests that call it are ignored
/// unless asked for, and asked for they must not pass without a server.
pub fn radosgw_params(endpoint_var: &str, bucket: &str) -> Vec<(String, ConfigValue)> {
    let var = |k: &str| {
        std::env::var(k)
            .ok()
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| panic!("{k} is not set; this test {NEEDS_RADOSGW}"))
    };
    vec![
        ("accesskey".into(), text(&var("RADOSGW_ACCESS_KEY"))),
        ("secretkey".into(), text(&var("RADOSGW_SECRET_KEY"))),
        ("region".into(), text("us-east-1")),
        ("regionendpoint".into(), text(&var(endpoint_var))),
        ("bucket".into(), text(bucket)),
        ("forcepathstyle".into(), ConfigValue::Boolean(true)),
    ]
}

/// The parameters of a fresh bucket `name` on the radosgw `.ci/run`
/// starts (plain HTTP), created first.
pub async fn radosgw_bucket(name: &str) -> Vec<(String, ConfigValue)> {
    let params = radosgw_params("RADOSGW_ENDPOINT", name);
    let raw = s3_driver_kit::raw::RawS3::from_params(&params).unwrap();
    raw.create_bucket().await.unwrap();
    params
}

/// A driver on a fresh bucket `name` of that radosgw, every other key at
/// its default.
pub async fn radosgw_driver(name: &str) -> Driver {
    open_params(&radosgw_bucket(name).await).await
}

/// Text parameter.
pub fn text(s: &str) -> ConfigValue {
    ConfigValue::Text(s.to_owned())
}

/// The `path-not-found` path, or a panic naming what came instead.
pub fn not_found_path<T: std::fmt::Debug>(r: Result<T, CallError>) -> String {
    match r {
        Err(CallError::Driver(DriverError::PathNotFound(p))) => {
            assert_eq!(p.driver, "s3aws");
            p.path
        }
        other => panic!("expected path-not-found, got {other:?}"),
    }
}

/// `n` bytes of a fixed pattern that is not valid UTF-8 and differs per byte.
pub fn bytes(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 131 + 7) as u8 ^ 0x80).collect()
}

/// A `tracing` writer that keeps what it is given.
#[derive(Clone, Default)]
pub struct Captured(Arc<std::sync::Mutex<Vec<u8>>>);

impl Captured {
    /// Everything written so far.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Captures the `tracing` events `filter` selects on this thread (where a
/// test's body, and so the driver calls it awaits, runs) until the guard
/// is dropped.
pub fn capture_logs(filter: &str) -> (Captured, tracing::subscriber::DefaultGuard) {
    let log = Captured::default();
    let writer = log.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_env_filter(filter)
        .with_ansi(false)
        .finish();
    (log, tracing::subscriber::set_default(subscriber))
}
