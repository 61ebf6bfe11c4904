//! Serving a [`Registry`] on a TCP listener: HTTP/1.1 with keep-alive, one
//! task per connection, until the shutdown future resolves.

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;

use super::Registry;

/// Accepts connections on `listener` and serves `registry` on each until
/// `shutdown` resolves; connections already open finish their requests.
pub async fn serve(
    listener: TcpListener,
    registry: Arc<Registry>,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of descriptors or a connection reset before accept:
                    // the listener itself is fine.
                    tracing::warn!(error = %e, "accept failed");
                    continue;
                }
            },
            () = &mut shutdown => return Ok(()),
        };
        let _ = stream.set_nodelay(true);
        let registry = registry.clone();
        let header_timeout = registry.limits().header_timeout;
        tokio::spawn(async move {
            let service = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                let registry = registry.clone();
                async move {
                    let started = Instant::now();
                    let (method, path) = (req.method().clone(), req.uri().path().to_owned());
                    let reply = registry.handle(req, peer).await;
                    tracing::debug!(
                        target: "s3_driver_registry::access",
                        %method, %path, status = reply.status().as_u16(),
                        ms = started.elapsed().as_millis() as u64,
                    );
                    Ok::<_, Infallible>(reply)
                }
            });
            // The header timeout also ends a kept-alive connection that sends
            // no next request: neither a trickler nor an idler holds it.
            if let Err(e) = http1::Builder::new()
                .keep_alive(true)
                .timer(TokioTimer::new())
                .header_read_timeout(header_timeout)
                .serve_connection(TokioIo::new(stream), service)
                .await
            {
                tracing::debug!(error = %e, %peer, "connection ended with an error");
            }
        });
    }
}
