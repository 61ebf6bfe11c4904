//! A registry ([`s3_driver_registry`]) served in the test process on a
//! loopback port, with a client for it.

use std::net::SocketAddr;
use std::sync::Arc;

use s3_driver_host::Driver;
use s3_driver_kit::oci::OciClient;
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
