//! The pooled keep-alive client of one driver (hyper, rustls for https) and
//! its counters.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use http::Uri;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use wasmtime_wasi_http::{Error as HttpError, WasiBody};

use super::tls::{TlsOptions, find_rustls, tls_config};

/// Counts what the guest asked for and what the pool did.
#[derive(Debug, Default)]
pub struct Counters {
    /// Requests the guest sent that were allowed.
    pub requests: AtomicU64,
    /// Requests refused by the allowlist.
    pub denied: AtomicU64,
    /// TCP connections opened (fewer than requests when the pool works).
    pub connections: AtomicU64,
    /// Requests that failed without a response.
    pub failed: AtomicU64,
    /// Requests sent whose response head has not arrived yet.
    pub in_flight: AtomicU64,
    /// The highest `in_flight` seen.
    pub max_in_flight: AtomicU64,
    /// Requests the guest marked as a retry (`amz-sdk-request: attempt=N`, N > 1).
    pub retries: AtomicU64,
    /// Responses by HTTP status.
    pub by_status: std::sync::Mutex<std::collections::BTreeMap<u16, u64>>,
}

/// A snapshot of [`Counters`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Stats {
    /// Allowed requests.
    pub requests: u64,
    /// Refused requests.
    pub denied: u64,
    /// Connections opened.
    pub connections: u64,
    /// Requests without a response.
    pub failed: u64,
    /// Most requests awaiting their response head at once.
    pub max_in_flight: u64,
    /// Requests that were retries of an earlier attempt.
    pub retries: u64,
}

impl Counters {
    /// A snapshot of the counts.
    pub fn snapshot(&self) -> Stats {
        Stats {
            requests: self.requests.load(Ordering::Relaxed),
            denied: self.denied.load(Ordering::Relaxed),
            connections: self.connections.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
            max_in_flight: self.max_in_flight.load(Ordering::Relaxed),
            retries: self.retries.load(Ordering::Relaxed),
        }
    }

    /// Counts a response with `status`.
    pub fn count_status(&self, status: u16) {
        *self.by_status.lock().unwrap().entry(status).or_default() += 1;
    }
}

/// Wraps the TCP connector to count new connections.
#[derive(Clone)]
pub(crate) struct CountingConnector {
    inner: HttpConnector,
    counters: Arc<Counters>,
}

impl tower_service::Service<Uri> for CountingConnector {
    type Response = <HttpConnector as tower_service::Service<Uri>>::Response;
    type Error = <HttpConnector as tower_service::Service<Uri>>::Error;
    type Future = <HttpConnector as tower_service::Service<Uri>>::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        self.counters.connections.fetch_add(1, Ordering::Relaxed);
        self.inner.call(uri)
    }
}

pub(crate) type Pool = Client<hyper_rustls::HttpsConnector<CountingConnector>, WasiBody>;

/// Opens a pool with these TLS settings, counting into `counters`.
pub(crate) fn new_pool(tls: &TlsOptions, counters: Arc<Counters>) -> anyhow::Result<Pool> {
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    http.set_nodelay(true);
    http.set_connect_timeout(Some(Duration::from_secs(10)));
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls_config(tls)?)
        .https_or_http()
        .enable_http1()
        .wrap_connector(CountingConnector {
            inner: http,
            counters,
        });
    Ok(Client::builder(TokioExecutor::new())
        .pool_idle_timeout(Duration::from_secs(30))
        .pool_max_idle_per_host(64)
        .build(connector))
}

/// Maps a pool error to the wasi:http code the guest sees. Only hyper's own
/// one-line description crosses over: never host paths or backtraces.
pub(crate) fn client_error(e: &hyper_util::client::legacy::Error) -> HttpError {
    use std::error::Error as _;
    // A failed TLS handshake also counts as a connect error: look for rustls.
    match e.source().and_then(find_rustls) {
        Some(rustls::Error::InvalidCertificate(_)) => return HttpError::TlsCertificateError,
        Some(_) => return HttpError::TlsProtocolError,
        None => {}
    }
    if e.is_connect() {
        return HttpError::ConnectionRefused;
    }
    match e.source().and_then(|s| s.downcast_ref::<hyper::Error>()) {
        Some(h) if h.is_timeout() => HttpError::ConnectionReadTimeout,
        Some(h) if h.is_incomplete_message() => HttpError::HttpResponseIncomplete,
        Some(h) => HttpError::InternalError(Some(h.to_string())),
        None => HttpError::InternalError(Some(e.to_string())),
    }
}
