//! The host's outgoing HTTP for one driver, installed as the store's
//! `WasiHttpHooks`: the egress [`Allowlist`], a pooled keep-alive client with
//! the driver's [`TlsOptions`], the request timeouts the guest asked for, and
//! counters. With the `test-hooks` feature, faults can be injected.

mod abandoned;
pub mod allowlist;
mod between_bytes;
#[cfg(feature = "test-hooks")]
pub mod faults;
pub mod pool;
pub mod tls;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use http::Uri;
use http_body_util::BodyExt;
use wasmtime_wasi_http::{Error as HttpError, RequestOptions, WasiBody, WasiHttpHooks};

pub use allowlist::Allowlist;
pub use pool::{Counters, PoolOptions, Stats};
pub use tls::TlsOptions;

use abandoned::CountAbandoned;
use between_bytes::BetweenBytes;
use pool::{Pool, client_error, new_pool};

/// 1 MiB pieces of a request body the host queues ahead of the network
/// (wasmtime's default is 1). The guest returns from a `write` once its
/// parts' bodies are queued, so a deeper queue lets more of a part travel
/// while the caller is away; 2 measured as fast as 4 on radosgw with less
/// memory, and each in-flight request may hold this much plus one piece.
pub const OUTGOING_BODY_BUFFER_CHUNKS: usize = 2;

struct Shared {
    pool: Pool,
    allow: Allowlist,
    counters: Arc<Counters>,
    tls: TlsOptions,
    options: PoolOptions,
    #[cfg(feature = "test-hooks")]
    faults: std::sync::Mutex<Vec<faults::FaultRule>>,
}

/// The outgoing policy of one driver; clones share the pool and counters.
#[derive(Clone)]
pub struct OutgoingPolicy {
    shared: Arc<Shared>,
    /// What one component version was granted (its `requirements`); `None`
    /// checks the cap alone (instances outside a driver).
    granted: Option<Arc<Allowlist>>,
}

impl OutgoingPolicy {
    /// A policy with its own connection pool, verifying TLS certificates
    /// against the webpki roots.
    pub fn new(allow: Allowlist) -> Self {
        Self::with_tls(allow, TlsOptions::default()).expect("the default TLS settings are valid")
    }

    /// A policy with its own pool and these TLS settings.
    pub fn with_tls(allow: Allowlist, tls: TlsOptions) -> anyhow::Result<Self> {
        Self::with_options(allow, tls, PoolOptions::default())
    }

    /// A policy with its own pool, these TLS settings and these connection
    /// settings (quick ACKs, idle connections).
    pub fn with_options(
        allow: Allowlist,
        tls: TlsOptions,
        options: PoolOptions,
    ) -> anyhow::Result<Self> {
        let counters = Arc::new(Counters::default());
        let pool = new_pool(&tls, options, counters.clone())?;
        Ok(Self {
            granted: None,
            shared: Arc::new(Shared {
                pool,
                allow,
                counters,
                tls,
                options,
                #[cfg(feature = "test-hooks")]
                faults: Default::default(),
            }),
        })
    }

    /// The embedder's cap: a component version is granted only origins it
    /// allows.
    pub fn cap(&self) -> &Allowlist {
        &self.shared.allow
    }

    /// This policy's pool and counters, with `granted` as what requests may
    /// reach (a component version's grant, inside the cap).
    pub(crate) fn granting(&self, granted: Allowlist) -> Self {
        Self {
            shared: self.shared.clone(),
            granted: Some(Arc::new(granted)),
        }
    }

    /// The same cap and CA, accepting any certificate, with a pool of its
    /// own: a driver's policy before its first request, when the component
    /// says its configuration skips verification (`skipverify`).
    pub(crate) fn insecure(&self) -> Self {
        let tls = TlsOptions {
            skip_verify: true,
            ..self.shared.tls.clone()
        };
        Self::with_options(self.shared.allow.clone(), tls, self.shared.options)
            .expect("settings that built once build again")
    }

    /// True when this policy accepts any server certificate.
    pub fn skips_tls_verification(&self) -> bool {
        self.shared.tls.skip_verify
    }

    /// The counters so far.
    pub fn stats(&self) -> Stats {
        self.shared.counters.snapshot()
    }

    /// Responses received so far, by HTTP status.
    pub fn responses_by_status(&self) -> Vec<(u16, u64)> {
        let m = self.shared.counters.by_status.lock().unwrap();
        m.iter().map(|(k, v)| (*k, *v)).collect()
    }

    /// Adds a fault to this policy's requests (tests and drills only).
    #[cfg(feature = "test-hooks")]
    pub fn inject(&self, rule: faults::FaultRule) {
        self.shared.faults.lock().unwrap().push(rule);
    }

    /// Removes every injected fault.
    #[cfg(feature = "test-hooks")]
    pub fn clear_faults(&self) {
        self.shared.faults.lock().unwrap().clear();
    }
}

fn authority_of(uri: &Uri) -> Option<String> {
    let a = uri.authority()?;
    let secure = uri.scheme() == Some(&http::uri::Scheme::HTTPS);
    Some(match a.port_u16() {
        Some(_) => a.as_str().to_owned(),
        None => format!("{}:{}", a.host(), if secure { 443 } else { 80 }),
    })
}

/// The "request finished" future of an exchange.
type Finished = Box<dyn Future<Output = Result<(), HttpError>> + Send>;
/// What `send_request` resolves to.
type Sent = Result<(http::Response<WasiBody>, Finished), HttpError>;

fn done() -> Finished {
    Box::new(async { Ok(()) })
}

/// Whether the guest marked the request as a retry (`amz-sdk-request:
/// attempt=N`, N > 1, as the AWS SDKs do).
fn is_retry<B>(request: &http::Request<B>) -> bool {
    request
        .headers()
        .get("amz-sdk-request")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').find_map(|p| p.trim().strip_prefix("attempt=")))
        .and_then(|n| n.parse::<u32>().ok())
        .is_some_and(|n| n > 1)
}

/// Sends one allowed request through the pool under the guest's timeouts:
/// connecting and waiting for the head share one deadline; the body then
/// runs under the between-bytes timeout. `delay` stands for a server that
/// thinks before answering (an injected fault).
async fn exchange(
    shared: &Shared,
    request: http::Request<WasiBody>,
    timeouts: &RequestOptions,
    delay: Duration,
) -> Result<http::Response<WasiBody>, HttpError> {
    let first_byte = timeouts
        .first_byte_timeout
        .unwrap_or(Duration::from_secs(600));
    let head_deadline = timeouts.connect_timeout.unwrap_or(Duration::ZERO) + first_byte;
    let counters = &shared.counters;
    let now = counters.in_flight.fetch_add(1, Ordering::Relaxed) + 1;
    counters.max_in_flight.fetch_max(now, Ordering::Relaxed);
    // Only a real delay sleeps: tokio's timer has millisecond ticks, so even
    // a zero sleep would add up to a millisecond per request.
    let waited = if delay.is_zero() {
        Ok(())
    } else {
        tokio::time::timeout(first_byte, tokio::time::sleep(delay)).await
    };
    let outcome = match waited {
        Ok(()) => tokio::time::timeout(head_deadline, shared.pool.request(request)).await,
        Err(elapsed) => Err(elapsed),
    };
    counters.in_flight.fetch_sub(1, Ordering::Relaxed);
    let response = match outcome {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => {
            counters.failed.fetch_add(1, Ordering::Relaxed);
            return Err(client_error(&e));
        }
        Err(_) => {
            counters.failed.fetch_add(1, Ordering::Relaxed);
            return Err(HttpError::ConnectionReadTimeout);
        }
    };
    counters.count_status(response.status().as_u16());
    let mut response = response.map(|b| {
        CountAbandoned::new(b, shared.counters.clone())
            .map_err(HttpError::from)
            .boxed_unsync()
    });
    if let Some(between) = timeouts.between_bytes_timeout {
        response = response.map(|b| BetweenBytes::new(b, between).boxed_unsync());
    }
    Ok(response)
}

impl WasiHttpHooks for OutgoingPolicy {
    fn p2_outgoing_body_buffer_chunks(&mut self) -> usize {
        OUTGOING_BODY_BUFFER_CHUNKS
    }

    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        _fut: Finished,
    ) -> Box<dyn Future<Output = Sent> + Send> {
        let shared = self.shared.clone();
        let granted = self.granted.clone();
        let fut: Pin<Box<dyn Future<Output = Sent> + Send>> = Box::pin(async move {
            let allowed = authority_of(request.uri()).is_some_and(|a| {
                shared.allow.allows(&a) && granted.as_ref().is_none_or(|g| g.allows(&a))
            });
            if !allowed {
                shared.counters.denied.fetch_add(1, Ordering::Relaxed);
                return Err(HttpError::HttpRequestDenied);
            }
            shared.counters.requests.fetch_add(1, Ordering::Relaxed);
            if is_retry(&request) {
                shared.counters.retries.fetch_add(1, Ordering::Relaxed);
            }
            let timeouts = options.unwrap_or_default();
            #[cfg(feature = "test-hooks")]
            {
                let plan =
                    match faults::before_send(&shared.faults, &shared.counters, request).await {
                        faults::Plan::Answered(sent) => return sent,
                        faults::Plan::Send(plan) => plan,
                    };
                let response = exchange(&shared, plan.request, &timeouts, plan.delay).await?;
                Ok((
                    faults::after_reply(plan.on_reply, response, &timeouts),
                    done(),
                ))
            }
            #[cfg(not(feature = "test-hooks"))]
            {
                let response = exchange(&shared, request, &timeouts, Duration::ZERO).await?;
                Ok((response, done()))
            }
        });
        Box::new(fut)
    }
}
