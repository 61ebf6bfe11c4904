//! The host's outgoing-HTTP policy for a driver: which authorities the guest may
//! reach, one pooled keep-alive client (rustls for https) shared by every
//! request, and counters. Installed as the store's `WasiHttpHooks`.

use std::collections::HashSet;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use http::Uri;
use http_body_util::BodyExt;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use s3_storage_driver::cloudfront::DEFAULT_IP_RANGES_URL;
use s3_storage_driver::config::Config;
use s3_storage_driver::credentials::Source;
use s3_storage_driver::s3::endpoint::Endpoint;
use s3_storage_driver::url::split_url;
use wasmtime_wasi_http::{Error as HttpError, RequestOptions, WasiBody, WasiHttpHooks};

use crate::faults::{BetweenBytes, Fault, FaultBody, FaultRule};

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

/// Wraps the TCP connector to count new connections.
#[derive(Clone)]
struct CountingConnector {
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

type Pool = Client<hyper_rustls::HttpsConnector<CountingConnector>, WasiBody>;

/// Which `host:port` authorities a driver may reach.
#[derive(Debug, Clone, Default)]
pub struct Allowlist {
    exact: HashSet<String>,
    /// `(".amazonaws.com", 443)`: any host ending so, on that port.
    suffixes: Vec<(String, u16)>,
}

impl Allowlist {
    /// Nothing allowed.
    pub fn new() -> Self {
        Self::default()
    }

    /// Allows one authority (`127.0.0.1:9000`, `minio.local:443`).
    pub fn allow(mut self, authority: &str) -> Self {
        self.exact.insert(authority.to_ascii_lowercase());
        self
    }

    /// Allows every host under a domain suffix on one port.
    pub fn allow_suffix(mut self, suffix: &str, port: u16) -> Self {
        self.suffixes.push((suffix.to_ascii_lowercase(), port));
        self
    }

    /// The allowlist a `storage: s3:` block implies: exactly the authority
    /// the driver's requests go to, resolved by the component's own endpoint
    /// rules. An invalid block allows nothing (the driver refuses to open).
    pub fn for_params(params: &[(String, crate::ConfigValue)]) -> Self {
        let Some(config) = core_config(params) else {
            return Self::new();
        };
        match Endpoint::from_config(&config) {
            Ok(endpoint) => Self::new().allow(&with_port(&endpoint.bucket().0, endpoint.secure)),
            Err(_) => Self::new(),
        }
    }

    /// The allowlist of a whole configuration: the storage endpoint, plus the
    /// CloudFront IP-ranges host when an IP filter is configured.
    pub fn for_config(
        params: &[(String, crate::ConfigValue)],
        middleware: &[crate::Middleware],
    ) -> Self {
        use crate::ConfigValue;
        let mut allow = Self::for_params(params);
        for m in middleware.iter().filter(|m| m.name == "cloudfront") {
            let get = |k: &str| {
                m.options
                    .iter()
                    .rev()
                    .find(|p| p.key.eq_ignore_ascii_case(k))
                    .and_then(|p| match &p.value {
                        ConfigValue::Text(s) => Some(s.trim().to_owned()),
                        _ => None,
                    })
            };
            let filtered = get("ipfilteredby")
                .is_some_and(|f| !f.is_empty() && !f.eq_ignore_ascii_case("none"));
            if filtered {
                let url = get("iprangesurl").unwrap_or_else(|| DEFAULT_IP_RANGES_URL.into());
                if let Some(u) = split_url(&url) {
                    allow = allow.allow(&with_port(&u.authority, u.secure));
                }
            }
        }
        allow
    }

    /// Adds what the credential chain will need when the configuration has no
    /// static keys and `env` (what the guest is granted) has none either: the
    /// STS endpoint for web identity, else the instance metadata service.
    pub fn with_credential_endpoints(
        self,
        params: &[(String, crate::ConfigValue)],
        env: &[(String, String)],
    ) -> Self {
        let Some(config) = core_config(params) else {
            return self;
        };
        let lookup = |k: &str| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        let url = match Source::choose(&config.credentials, lookup) {
            Source::Fixed(_) => return self,
            Source::WebIdentity { endpoint, .. } | Source::InstanceMetadata { endpoint } => {
                endpoint
            }
        };
        match split_url(&url) {
            Some(u) => self.allow(&with_port(&u.authority, u.secure)),
            None => self,
        }
    }

    /// True when `authority` (with its port) may be reached.
    pub fn allows(&self, authority: &str) -> bool {
        let authority = authority.to_ascii_lowercase();
        if self.exact.contains(&authority) {
            return true;
        }
        let Some((host, port)) = authority.rsplit_once(':') else {
            return false;
        };
        let Ok(port) = port.parse::<u16>() else {
            return false;
        };
        self.suffixes
            .iter()
            .any(|(suffix, p)| *p == port && host.ends_with(suffix.as_str()))
    }
}

/// The component's own reading of a `storage: s3:` block, if it is valid.
fn core_config(params: &[(String, crate::ConfigValue)]) -> Option<Config> {
    Config::from_params(&crate::raw::core_params(params)).ok()
}

/// `host` with its scheme's default port made explicit.
fn with_port(host: &str, secure: bool) -> String {
    let port_part = if host.starts_with('[') {
        host.split_once("]:").map(|(_, p)| p)
    } else {
        host.rsplit_once(':').map(|(_, p)| p)
    };
    if port_part.is_some_and(|p| p.parse::<u16>().is_ok()) {
        host.to_owned()
    } else {
        format!("{host}:{}", if secure { 443 } else { 80 })
    }
}

struct Shared {
    pool: Pool,
    allow: Allowlist,
    counters: Arc<Counters>,
    tls: TlsOptions,
    faults: std::sync::Mutex<Vec<FaultRule>>,
}

/// Accepts any server certificate but still checks handshake signatures:
/// what `skipverify: true` asks for, for this driver's requests only.
#[derive(Debug)]
struct SkipCertificateCheck(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for SkipCertificateCheck {
    fn verify_server_cert(
        &self,
        _end_entity: &rustls::pki_types::CertificateDer<'_>,
        _intermediates: &[rustls::pki_types::CertificateDer<'_>],
        _server_name: &rustls::pki_types::ServerName<'_>,
        _ocsp_response: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// TLS settings of one driver's requests.
#[derive(Debug, Clone, Default)]
pub struct TlsOptions {
    /// Accept any server certificate (`skipverify: true`).
    pub skip_verify: bool,
    /// PEM certificates trusted besides the webpki roots (a private CA).
    pub extra_roots_pem: Option<String>,
}

fn tls_config(options: &TlsOptions) -> anyhow::Result<rustls::ClientConfig> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .expect("ring supports the default TLS versions");
    if options.skip_verify {
        return Ok(builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(SkipCertificateCheck(provider)))
            .with_no_client_auth());
    }
    let mut roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    if let Some(pem) = &options.extra_roots_pem {
        let mut added = 0;
        for cert in CertificateDer::pem_slice_iter(pem.as_bytes()) {
            roots.add(cert?)?;
            added += 1;
        }
        anyhow::ensure!(added > 0, "the CA file holds no PEM certificate");
    }
    Ok(builder.with_root_certificates(roots).with_no_client_auth())
}

/// The outgoing policy of one driver; clones share the pool and counters.
#[derive(Clone)]
pub struct OutgoingPolicy {
    shared: Arc<Shared>,
}

impl OutgoingPolicy {
    /// A policy with its own connection pool, verifying TLS certificates
    /// against the webpki roots.
    pub fn new(allow: Allowlist) -> Self {
        Self::with_tls(allow, TlsOptions::default()).expect("the default TLS settings are valid")
    }

    /// A policy with its own pool and these TLS settings.
    pub fn with_tls(allow: Allowlist, tls: TlsOptions) -> anyhow::Result<Self> {
        let counters = Arc::new(Counters::default());
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_nodelay(true);
        http.set_connect_timeout(Some(Duration::from_secs(10)));
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls_config(&tls)?)
            .https_or_http()
            .enable_http1()
            .wrap_connector(CountingConnector {
                inner: http,
                counters: counters.clone(),
            });
        let pool = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .pool_max_idle_per_host(64)
            .build(connector);
        Ok(Self {
            shared: Arc::new(Shared {
                pool,
                allow,
                counters,
                tls,
                faults: Default::default(),
            }),
        })
    }

    /// The same allowlist and CA with the `skipverify` of a `storage: s3:`
    /// block, with a pool of its own.
    pub fn with_tls_from_params(self, params: &[(String, crate::ConfigValue)]) -> Self {
        use crate::ConfigValue;
        let skip = params
            .iter()
            .rev()
            .find(|(k, _)| k == "skipverify")
            .is_some_and(|(_, v)| {
                matches!(v, ConfigValue::Boolean(true))
                    || matches!(v, ConfigValue::Text(s) if matches!(s.as_str(), "1" | "t" | "T" | "true" | "TRUE" | "True"))
            });
        let tls = TlsOptions {
            skip_verify: skip,
            ..self.shared.tls.clone()
        };
        Self::with_tls(self.shared.allow.clone(), tls)
            .expect("settings that built once build again")
    }

    /// True when this policy accepts any server certificate.
    pub fn skips_tls_verification(&self) -> bool {
        self.shared.tls.skip_verify
    }

    /// The counters so far.
    pub fn stats(&self) -> Stats {
        let c = &self.shared.counters;
        Stats {
            requests: c.requests.load(Ordering::Relaxed),
            denied: c.denied.load(Ordering::Relaxed),
            connections: c.connections.load(Ordering::Relaxed),
            failed: c.failed.load(Ordering::Relaxed),
            max_in_flight: c.max_in_flight.load(Ordering::Relaxed),
            retries: c.retries.load(Ordering::Relaxed),
        }
    }

    /// Responses received so far, by HTTP status.
    pub fn responses_by_status(&self) -> Vec<(u16, u64)> {
        let m = self.shared.counters.by_status.lock().unwrap();
        m.iter().map(|(k, v)| (*k, *v)).collect()
    }

    /// Adds a fault to this policy's requests (tests and drills only).
    pub fn inject(&self, rule: FaultRule) {
        self.shared.faults.lock().unwrap().push(rule);
    }

    /// Removes every injected fault.
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

/// The rustls error behind a connector error, through nested `io::Error`s.
fn find_rustls<'a>(err: &'a (dyn std::error::Error + 'static)) -> Option<&'a rustls::Error> {
    if let Some(tls) = err.downcast_ref::<rustls::Error>() {
        return Some(tls);
    }
    if let Some(inner) = err
        .downcast_ref::<std::io::Error>()
        .and_then(|io| io.get_ref())
        && let Some(found) = find_rustls(inner)
    {
        return Some(found);
    }
    err.source().and_then(find_rustls)
}

/// Maps a pool error to the wasi:http code the guest sees. Only hyper's own
/// one-line description crosses over: never host paths or backtraces.
fn client_error(e: &hyper_util::client::legacy::Error) -> HttpError {
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

/// The "request finished" future of a reply the hook completed itself.
fn done() -> Box<dyn Future<Output = Result<(), HttpError>> + Send> {
    Box::new(async { Ok(()) })
}

fn count_status(shared: &Shared, status: u16) {
    *shared
        .counters
        .by_status
        .lock()
        .unwrap()
        .entry(status)
        .or_default() += 1;
}

/// An S3 error reply made by the hook: the XML body a real server sends.
fn s3_error_reply(shared: &Shared, status: u16, code: &str) -> http::Response<WasiBody> {
    count_status(shared, status);
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code>\
         <Message>injected by the host</Message><RequestId>fault-injection</RequestId></Error>"
    );
    http::Response::builder()
        .status(status)
        .header("content-type", "application/xml")
        .header("content-length", body.len())
        .header("x-amz-request-id", "fault-injection")
        .body(
            http_body_util::Full::new(bytes::Bytes::from(body))
                .map_err(|never| match never {})
                .boxed_unsync(),
        )
        .expect("a valid response")
}

type SendFuture = Pin<
    Box<
        dyn Future<
                Output = Result<
                    (
                        http::Response<WasiBody>,
                        Box<dyn Future<Output = Result<(), HttpError>> + Send>,
                    ),
                    HttpError,
                >,
            > + Send,
    >,
>;

/// 1 MiB pieces of a request body the host queues ahead of the network
/// (wasmtime's default is 1). The guest returns from a `write` once its
/// parts' bodies are queued, so a deeper queue lets more of a part travel
/// while the caller is away; 2 measured as fast as 4 on radosgw with less
/// memory, and each in-flight request may hold this much plus one piece.
pub const OUTGOING_BODY_BUFFER_CHUNKS: usize = 2;

impl WasiHttpHooks for OutgoingPolicy {
    fn p2_outgoing_body_buffer_chunks(&mut self) -> usize {
        OUTGOING_BODY_BUFFER_CHUNKS
    }

    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        _fut: Box<dyn Future<Output = Result<(), HttpError>> + Send>,
    ) -> Box<
        dyn Future<
                Output = Result<
                    (
                        http::Response<WasiBody>,
                        Box<dyn Future<Output = Result<(), HttpError>> + Send>,
                    ),
                    HttpError,
                >,
            > + Send,
    > {
        let shared = self.shared.clone();
        let fut: SendFuture = Box::pin(async move {
            let allowed = authority_of(request.uri()).is_some_and(|a| shared.allow.allows(&a));
            if !allowed {
                shared.counters.denied.fetch_add(1, Ordering::Relaxed);
                return Err(HttpError::HttpRequestDenied);
            }
            shared.counters.requests.fetch_add(1, Ordering::Relaxed);
            let retry = request
                .headers()
                .get("amz-sdk-request")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.split(';').find_map(|p| p.trim().strip_prefix("attempt=")))
                .and_then(|n| n.parse::<u32>().ok())
                .is_some_and(|n| n > 1);
            if retry {
                shared.counters.retries.fetch_add(1, Ordering::Relaxed);
            }
            let fault = {
                let mut faults = shared.faults.lock().unwrap();
                faults.iter_mut().find_map(|f| f.take(&request))
            };
            let mut delay = Duration::ZERO;
            let mut request = request;
            let mut on_reply = None;
            match fault {
                Some(Fault::Refuse) => {
                    shared.counters.failed.fetch_add(1, Ordering::Relaxed);
                    return Err(HttpError::ConnectionRefused);
                }
                Some(Fault::Delay(d)) => delay = d,
                Some(Fault::Status { status, code }) => {
                    // Like a server that reads the request, then refuses it.
                    let _ = request.into_body().collect().await;
                    return Ok((s3_error_reply(&shared, status, &code), done()));
                }
                Some(Fault::ResetRequestAfter(n)) => {
                    request = request.map(|b| FaultBody::reset_after(b, n).boxed_unsync());
                }
                Some(reply) => on_reply = Some(reply),
                None => {}
            }
            let timeouts = options.unwrap_or_default();
            let first_byte = timeouts
                .first_byte_timeout
                .unwrap_or(Duration::from_secs(600));
            // Connecting (when the pool has no idle connection) and waiting
            // for the head share one deadline.
            let head_deadline = timeouts.connect_timeout.unwrap_or(Duration::ZERO) + first_byte;
            let now = shared.counters.in_flight.fetch_add(1, Ordering::Relaxed) + 1;
            shared
                .counters
                .max_in_flight
                .fetch_max(now, Ordering::Relaxed);
            // A delay stands for a server that thinks before answering: it
            // counts as in flight and against the first-byte timeout.
            // (Only a real delay sleeps: tokio's timer has millisecond ticks,
            // so even a zero sleep would add up to a millisecond per request.)
            let waited = if delay.is_zero() {
                Ok(())
            } else {
                tokio::time::timeout(first_byte, tokio::time::sleep(delay)).await
            };
            let outcome = match waited {
                Ok(()) => tokio::time::timeout(head_deadline, shared.pool.request(request)).await,
                Err(elapsed) => Err(elapsed),
            };
            shared.counters.in_flight.fetch_sub(1, Ordering::Relaxed);
            let response = match outcome {
                Ok(Ok(r)) => r,
                Ok(Err(e)) => {
                    shared.counters.failed.fetch_add(1, Ordering::Relaxed);
                    return Err(client_error(&e));
                }
                Err(_) => {
                    shared.counters.failed.fetch_add(1, Ordering::Relaxed);
                    return Err(HttpError::ConnectionReadTimeout);
                }
            };
            count_status(&shared, response.status().as_u16());
            let mut response = response.map(|b| b.map_err(HttpError::from).boxed_unsync());
            if let Some(between) = timeouts.between_bytes_timeout {
                response = response.map(|b| BetweenBytes::new(b, between).boxed_unsync());
            }
            match on_reply {
                Some(Fault::ResetResponseAfter(n)) => {
                    response = response.map(|b| FaultBody::reset_after(b, n).boxed_unsync());
                }
                Some(Fault::TruncateResponse(n)) => {
                    response = response.map(|b| FaultBody::truncate_after(b, n).boxed_unsync());
                }
                Some(Fault::StallResponseAfter(n)) => {
                    // Under the between-bytes timer, which then fires.
                    response = response.map(|b| FaultBody::stall_after(b, n).boxed_unsync());
                    if let Some(between) = timeouts.between_bytes_timeout {
                        response = response.map(|b| BetweenBytes::new(b, between).boxed_unsync());
                    }
                }
                Some(Fault::ReplaceBody(bytes)) => {
                    let (mut parts, _) = response.into_parts();
                    parts.headers.insert(
                        http::header::CONTENT_LENGTH,
                        http::HeaderValue::from(bytes.len()),
                    );
                    let body = http_body_util::Full::new(bytes::Bytes::from(bytes))
                        .map_err(|never| match never {})
                        .boxed_unsync();
                    response = http::Response::from_parts(parts, body);
                }
                _ => {}
            }
            Ok((response, done()))
        });
        Box::new(fut)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allowlist_matches_authorities_with_ports() {
        let a = Allowlist::new()
            .allow("127.0.0.1:9000")
            .allow_suffix(".amazonaws.com", 443);
        assert!(a.allows("127.0.0.1:9000"));
        assert!(!a.allows("127.0.0.1:9001"));
        assert!(a.allows("registry.s3.amazonaws.com:443"));
        assert!(!a.allows("registry.s3.amazonaws.com:80"));
        assert!(!a.allows("evil.com:443"));
        assert!(!a.allows("amazonaws.com.evil.com:443"));
    }

    #[test]
    fn default_ports_are_made_explicit() {
        assert_eq!(with_port("minio.local", true), "minio.local:443");
        assert_eq!(with_port("minio.local:9000", true), "minio.local:9000");
        assert_eq!(with_port("[::1]:9000", false), "[::1]:9000");
        assert_eq!(with_port("[::1]", false), "[::1]:80");
    }
}
