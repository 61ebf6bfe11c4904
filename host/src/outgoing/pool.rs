//! The pooled keep-alive client of one driver (hyper, rustls for https):
//! its connections (`TCP_NODELAY`, and quick ACKs re-armed after every read)
//! and its counters.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use http::Uri;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::{Connected, Connection, HttpConnector};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpStream;
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
    /// Reply bodies dropped before their end (each may cost its connection).
    pub abandoned: AtomicU64,
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
    /// Reply bodies dropped before their end.
    pub abandoned: u64,
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
            abandoned: self.abandoned.load(Ordering::Relaxed),
        }
    }

    /// Counts a response with `status`.
    pub fn count_status(&self, status: u16) {
        *self.by_status.lock().unwrap().entry(status).or_default() += 1;
    }
}

/// How the pool's connections behave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolOptions {
    /// Re-arm `TCP_QUICKACK` after every read (Linux; elsewhere ignored).
    /// A server that writes a small reply in two segments and waits for the
    /// ACK of the first (Nagle; radosgw does) otherwise meets the client's
    /// delayed ACK, about 40 ms per request.
    pub quick_ack: bool,
    /// How long an idle connection is kept.
    pub idle_timeout: Duration,
    /// Most idle connections kept per host.
    pub max_idle_per_host: usize,
}

impl Default for PoolOptions {
    fn default() -> Self {
        Self {
            quick_ack: true,
            idle_timeout: Duration::from_secs(30),
            max_idle_per_host: 64,
        }
    }
}

/// A pool connection: TCP (with `TCP_NODELAY`), quick ACKs re-armed after
/// every read when asked.
pub(crate) struct TcpConn {
    io: TokioIo<TcpStream>,
    quick_ack: bool,
}

impl TcpConn {
    /// Linux leaves quick-ACK mode on its own; each read puts it back.
    fn rearm(&self) {
        #[cfg(target_os = "linux")]
        if self.quick_ack {
            let _ = socket2::SockRef::from(self.io.inner()).set_tcp_quickack(true);
        }
    }
}

impl hyper::rt::Read for TcpConn {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: hyper::rt::ReadBufCursor<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        let r = Pin::new(&mut this.io).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = r {
            this.rearm();
        }
        r
    }
}

impl hyper::rt::Write for TcpConn {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        let r = Pin::new(&mut this.io).poll_write(cx, buf);
        if let Poll::Ready(Ok(_)) = r {
            this.rearm();
        }
        r
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        let r = Pin::new(&mut this.io).poll_write_vectored(cx, bufs);
        if let Poll::Ready(Ok(_)) = r {
            this.rearm();
        }
        r
    }
}

impl Connection for TcpConn {
    fn connected(&self) -> Connected {
        self.io.connected()
    }
}

/// Wraps the TCP connector to count new connections and arm quick ACKs.
#[derive(Clone)]
pub(crate) struct CountingConnector {
    inner: HttpConnector,
    counters: Arc<Counters>,
    quick_ack: bool,
}

type ConnectError = <HttpConnector as tower_service::Service<Uri>>::Error;

impl tower_service::Service<Uri> for CountingConnector {
    type Response = TcpConn;
    type Error = ConnectError;
    type Future = Pin<Box<dyn Future<Output = Result<TcpConn, ConnectError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        self.counters.connections.fetch_add(1, Ordering::Relaxed);
        let quick_ack = self.quick_ack;
        let connecting = self.inner.call(uri);
        Box::pin(async move {
            let conn = TcpConn {
                io: connecting.await?,
                quick_ack,
            };
            conn.rearm();
            Ok(conn)
        })
    }
}

pub(crate) type Pool = Client<hyper_rustls::HttpsConnector<CountingConnector>, WasiBody>;

/// Opens a pool with these TLS and connection settings, counting into
/// `counters`.
pub(crate) fn new_pool(
    tls: &TlsOptions,
    options: PoolOptions,
    counters: Arc<Counters>,
) -> anyhow::Result<Pool> {
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
            quick_ack: options.quick_ack,
        });
    Ok(Client::builder(TokioExecutor::new())
        .pool_idle_timeout(options.idle_timeout)
        .pool_max_idle_per_host(options.max_idle_per_host)
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

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// Request/reply turns on one connection, the way HTTP keep-alive runs;
    /// returns whether the client socket is in quick-ACK mode afterwards.
    async fn quick_ack_after_turns(quick_ack: bool) -> bool {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut buf = [0u8; 4];
            while s.read_exact(&mut buf).await.is_ok() {
                s.write_all(b"pong").await.unwrap();
            }
        });
        let stream = TcpStream::connect(addr).await.unwrap();
        let mut conn = TokioIo::new(TcpConn {
            io: TokioIo::new(stream),
            quick_ack,
        });
        let mut buf = [0u8; 4];
        for _ in 0..20 {
            conn.write_all(b"ping").await.unwrap();
            conn.read_exact(&mut buf).await.unwrap();
        }
        let armed = socket2::SockRef::from(conn.inner().io.inner())
            .tcp_quickack()
            .unwrap();
        drop(conn);
        server.await.unwrap();
        armed
    }

    // Linux leaves quick-ACK mode once a connection turns interactive
    // (it sends soon after it receives); without re-arming, the delayed ACK
    // applies from then on.
    #[tokio::test]
    async fn reads_and_writes_keep_quick_ack_armed() {
        assert!(quick_ack_after_turns(true).await, "re-armed");
        assert!(!quick_ack_after_turns(false).await, "left to the kernel");
    }
}
