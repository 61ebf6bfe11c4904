//! A registry ([`s3_driver_registry`]) served in the test process on a
//! loopback port, with a client for it.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http::{Method, StatusCode};
use s3_driver_host::Driver;
use s3_driver_kit::oci::client::full;
use s3_driver_kit::oci::{OciClient, Reply};
use s3_driver_registry::{Options, Registry, Store};

/// A registry serving on 127.0.0.1 until [`Running::stop`] (or drop).
pub struct Running {
    /// Where it listens.
    pub addr: SocketAddr,
    /// A client of it.
    pub client: OciClient,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

/// Options with deletes on and redirects off: what most API tests want.
pub fn test_options() -> Options {
    Options {
        delete_enabled: true,
        redirect: false,
        htpasswd: None,
        limits: s3_driver_registry::HttpLimits::default(),
    }
}

/// Serves a registry on `driver`'s store with `options`.
pub async fn start_registry(driver: Driver, options: Options) -> Running {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let registry = Arc::new(Registry::new(Store::new(driver), options));
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        s3_driver_registry::serve(listener, registry, async {
            let _ = rx.await;
        })
        .await
        .unwrap();
    });
    Running {
        addr,
        client: OciClient::new(&format!("http://{addr}")),
        stop: Some(tx),
        task: Some(task),
    }
}

impl Running {
    /// Stops accepting connections (a restart's first half); connections
    /// already open are dropped with the task.
    pub async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.task.take() {
            let _ = t.await;
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
    }
}

/// A registry with the test options on a fresh embedded bucket, its driver
/// and the server.
pub async fn registry() -> (Running, s3_driver_host::Driver, s3_driver_kit::EmbeddedS3) {
    let (d, server) = crate::driver().await;
    let r = start_registry(d.clone(), test_options()).await;
    (r, d, server)
}

/// Sends a request with a body, expecting a reply.
pub async fn send(
    c: &OciClient,
    m: Method,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Reply {
    c.send(m, path, headers, full(Bytes::copy_from_slice(body)))
        .await
        .unwrap()
}

/// The hex part of a `sha256:` digest.
pub fn hex_of(digest: &str) -> &str {
    &digest["sha256:".len()..]
}

/// The closing PUT of a session whose content is all there; it must be 201.
pub async fn close_upload(c: &OciClient, loc: &str, digest: &str) {
    let put = send(
        c,
        Method::PUT,
        &OciClient::with_digest(loc, digest),
        &[],
        b"",
    )
    .await;
    assert_eq!(
        put.status,
        StatusCode::CREATED,
        "{}",
        String::from_utf8_lossy(&put.body)
    );
}

/// Starts a session and returns its location.
pub async fn session(c: &OciClient, repo: &str) -> String {
    c.start_upload(repo).await.unwrap()
}

/// Sends `data` as the chunk at `start` of an upload.
pub async fn patch(c: &OciClient, loc: &str, start: usize, data: &[u8]) -> Reply {
    let range = format!("{start}-{}", start + data.len() - 1);
    let len = data.len().to_string();
    send(
        c,
        Method::PATCH,
        loc,
        &[("content-range", &range), ("content-length", &len)],
        data,
    )
    .await
}
