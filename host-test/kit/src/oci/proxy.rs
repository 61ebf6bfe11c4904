//! A round-robin HTTP proxy: each request goes to the next upstream, the
//! way operators put several registry processes behind one address.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use http_body_util::BodyExt;
use http_body_util::combinators::UnsyncBoxBody;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};

type Body = UnsyncBoxBody<Bytes, hyper::Error>;

/// Starts a proxy on 127.0.0.1 in front of `upstreams`; its address and a
/// counter of requests forwarded to each upstream.
pub async fn round_robin(upstreams: Vec<SocketAddr>) -> (SocketAddr, Arc<Vec<AtomicUsize>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let counts = Arc::new(
        upstreams
            .iter()
            .map(|_| AtomicUsize::new(0))
            .collect::<Vec<_>>(),
    );
    let next = Arc::new(AtomicUsize::new(0));
    let client: Client<HttpConnector, Body> = Client::builder(TokioExecutor::new()).build_http();
    let upstreams = Arc::new(upstreams);
    let seen = counts.clone();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let (client, upstreams, next, seen) = (
                client.clone(),
                upstreams.clone(),
                next.clone(),
                seen.clone(),
            );
            tokio::spawn(async move {
                let svc =
                    hyper::service::service_fn(move |req: http::Request<hyper::body::Incoming>| {
                        let (client, upstreams, next, seen) = (
                            client.clone(),
                            upstreams.clone(),
                            next.clone(),
                            seen.clone(),
                        );
                        async move {
                            let i = next.fetch_add(1, Ordering::Relaxed) % upstreams.len();
                            seen[i].fetch_add(1, Ordering::Relaxed);
                            let (mut parts, body) = req.into_parts();
                            let path = parts
                                .uri
                                .path_and_query()
                                .map_or("/", |p| p.as_str())
                                .to_owned();
                            parts.uri = format!("http://{}{path}", upstreams[i])
                                .parse()
                                .expect("uri");
                            let req = http::Request::from_parts(parts, body.boxed_unsync());
                            let reply = match client.request(req).await {
                                Ok(r) => r.map(|b| b.boxed_unsync()),
                                Err(e) => http::Response::builder()
                                    .status(502)
                                    .body(
                                        http_body_util::Full::new(Bytes::from(e.to_string()))
                                            .map_err(|n| match n {})
                                            .boxed_unsync(),
                                    )
                                    .expect("reply"),
                            };
                            Ok::<_, Infallible>(reply)
                        }
                    });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    (addr, counts)
}
