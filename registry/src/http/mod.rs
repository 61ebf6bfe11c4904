//! The OCI Distribution API over HTTP: routing, the common headers, the
//! error replies, and one file per family of endpoints.

pub mod auth;
mod blobs;
pub mod body;
mod listing;
mod manifests;
pub mod range;
pub mod route;
pub mod server;
mod uploads;

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http::{HeaderMap, Method, Request, Response, StatusCode, header};

use crate::digest::Sha256State;
use crate::error::{ApiError, ApiResult, Failure};
use crate::names::RepoName;
use crate::store::Store;
use auth::Htpasswd;
use body::{Body, BodySlot};
use route::Route;

/// Sent on every reply, as Docker clients expect.
const API_VERSION: (&str, &str) = ("Docker-Distribution-API-Version", "registry/2.0");
/// Upload SHA-256 states kept in memory at most (the bucket has them all).
const STATES_KEPT: usize = 4096;
/// A request body left unread by a refusal is read and dropped up to this
/// much, so the refusal reaches the client: closing a connection with
/// unread data makes the kernel reset it, which can destroy the reply.
const DRAIN_LIMIT: usize = 64 << 20;
/// What is read of a refused (unauthenticated, malformed) request's body.
const REFUSED_DRAIN_LIMIT: usize = 64 << 10;

/// How long the HTTP front waits on a client, and how much it takes from one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpLimits {
    /// Longest wait for a request's headers, from its first byte or from
    /// the end of the previous request on a kept-alive connection: a client
    /// that trickles headers or idles is disconnected after it.
    pub header_timeout: Duration,
    /// Longest wait for the next piece of a request body. A client that
    /// stalls mid-body ends its request as broken.
    pub body_timeout: Duration,
    /// Most `?tag=` values one manifest `PUT` may carry.
    pub max_tags_per_put: usize,
}

impl Default for HttpLimits {
    fn default() -> Self {
        Self {
            header_timeout: Duration::from_secs(30),
            body_timeout: Duration::from_secs(30),
            max_tags_per_put: 64,
        }
    }
}

/// What the registry allows.
#[derive(Debug, Default)]
pub struct Options {
    /// `storage: delete: enabled:` — blob, manifest and tag deletes.
    pub delete_enabled: bool,
    /// Blob downloads answer `307` to the driver's `redirect-url` when it
    /// gives one (`storage: redirect: disable: false`, the Go default).
    pub redirect: bool,
    /// `auth: htpasswd:`; `None` serves everyone.
    pub htpasswd: Option<Htpasswd>,
    /// Timeouts and caps of the HTTP front.
    pub limits: HttpLimits,
}

/// A registry: its store, its options, and the upload states it has in
/// memory (a cache: every state is also in the bucket).
#[derive(Debug)]
pub struct Registry {
    store: Store,
    options: Options,
    states: Mutex<HashMap<String, Sha256State>>,
    /// Upload sessions a request of this process is writing to.
    busy: Arc<Mutex<HashSet<String>>>,
    /// Failed logins by client.
    failures: auth::Failures,
}

/// A session held by one request; released when dropped.
pub(crate) struct SessionGuard {
    busy: Arc<Mutex<HashSet<String>>>,
    id: String,
}

impl Drop for SessionGuard {
    fn drop(&mut self) {
        self.busy.lock().expect("not poisoned").remove(&self.id);
    }
}

/// One request's parts, as the handlers take them.
pub(crate) struct Call {
    pub method: Method,
    pub headers: HeaderMap,
    pub query: Vec<(String, String)>,
    pub peer: SocketAddr,
}

impl Call {
    /// A header's value as text.
    pub fn header(&self, name: impl header::AsHeaderName) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The first value of a query parameter.
    pub fn param(&self, key: &str) -> Option<&str> {
        route::first(&self.query, key)
    }
}

impl Registry {
    /// A registry on `store` with `options`.
    pub fn new(store: Store, options: Options) -> Self {
        Self {
            store,
            options,
            states: Mutex::new(HashMap::new()),
            busy: Arc::default(),
            failures: auth::Failures::default(),
        }
    }

    /// The session for one request's writes, or `None` while another
    /// request of this process writes to it: two requests appending to one
    /// upload at once would interleave their bytes.
    pub(crate) fn hold_session(&self, id: &str) -> Option<SessionGuard> {
        let mut busy = self.busy.lock().expect("not poisoned");
        busy.insert(id.to_owned()).then(|| SessionGuard {
            busy: self.busy.clone(),
            id: id.to_owned(),
        })
    }

    /// The HTTP front's timeouts and caps.
    pub fn limits(&self) -> HttpLimits {
        self.options.limits
    }

    /// Its store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    pub(crate) fn remembered_state(&self, id: &str, offset: u64) -> Option<Sha256State> {
        let states = self.states.lock().expect("not poisoned");
        states.get(id).filter(|s| s.len() == offset).cloned()
    }

    pub(crate) fn remember_state(&self, id: &str, state: Option<Sha256State>) {
        let mut states = self.states.lock().expect("not poisoned");
        match state {
            Some(s) => {
                if states.len() >= STATES_KEPT && !states.contains_key(id) {
                    states.clear();
                }
                states.insert(id.to_owned(), s);
            }
            None => {
                states.remove(id);
            }
        }
    }

    /// Serves one request. `peer` is the client's address (for redirects
    /// that filter by it).
    pub async fn handle<B>(&self, req: Request<B>, peer: SocketAddr) -> Response<Body>
    where
        B: http_body::Body<Data = bytes::Bytes> + Send + 'static,
        B::Error: std::fmt::Display,
    {
        use http_body_util::BodyExt as _;
        let (parts, incoming) = req.into_parts();
        let head = parts.method == Method::HEAD;
        let body: Body = incoming
            .map_err(|e| std::io::Error::other(e.to_string()))
            .boxed_unsync();
        let call = Call {
            method: parts.method,
            headers: parts.headers,
            query: route::query_pairs(parts.uri.query()),
            peer,
        };
        let slot = BodySlot::new(body);
        let idle = self.options.limits.body_timeout;
        // Refused before its body is read: an unauthenticated client's body
        // is not waited for (no `100 Continue`), only a little of it is read
        // so the refusal is not lost to a reset, and the connection closes.
        let refused = match check_host(parts.version, &call.headers) {
            Err(e) => Some(e),
            Ok(()) => self.authorize(&call).await.err(),
        };
        let mut reply = match refused {
            Some(e) => {
                let mut reply = self.error_reply(&e, head);
                // A client that waits for `100 Continue` has sent nothing:
                // polling its body would invite it to.
                if !call
                    .header(header::EXPECT)
                    .is_some_and(|v| v.eq_ignore_ascii_case("100-continue"))
                {
                    slot.drain(REFUSED_DRAIN_LIMIT, idle).await;
                }
                reply
                    .headers_mut()
                    .insert(header::CONNECTION, http::HeaderValue::from_static("close"));
                reply
            }
            None => {
                let mut reply = match route::route(parts.uri.path()) {
                    None => self
                        .error_reply(&ApiError::new(Failure::NotFound, "no such endpoint"), head),
                    Some(r) => self
                        .dispatch(r, call, &slot)
                        .await
                        .unwrap_or_else(|e| self.error_reply(&e, head)),
                };
                if !slot.drain(DRAIN_LIMIT, idle).await {
                    reply
                        .headers_mut()
                        .insert(header::CONNECTION, http::HeaderValue::from_static("close"));
                }
                reply
            }
        };
        reply
            .headers_mut()
            .insert(API_VERSION.0, http::HeaderValue::from_static(API_VERSION.1));
        reply
    }

    /// Lets the request through when no `auth:` is configured or its Basic
    /// credentials are good; a client past its failed attempts is refused
    /// without a bcrypt run.
    async fn authorize(&self, call: &Call) -> ApiResult<()> {
        let Some(h) = &self.options.htpasswd else {
            return Ok(());
        };
        let given = call.header(header::AUTHORIZATION);
        let client = call.peer.ip();
        // A credential verified before passes even from a blocked address
        // (clients behind one proxy share it); a new one is not tried there.
        let ok = h.allows_async(given, !self.failures.blocked(client)).await;
        if ok {
            return Ok(());
        }
        if given.is_some() {
            self.failures.failed(client);
        }
        Err(ApiError::new(
            Failure::Unauthorized,
            "authentication required",
        ))
    }

    /// The error's status, its JSON (none for HEAD), and the challenge on
    /// a 401.
    fn error_reply(&self, e: &ApiError, head: bool) -> Response<Body> {
        let (status, _) = e.failure.wire();
        let text = e.body();
        let mut b = Response::builder()
            .status(status)
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::CONTENT_LENGTH, text.len());
        for (k, v) in &e.headers {
            b = b.header(*k, v);
        }
        if status == StatusCode::UNAUTHORIZED
            && let Some(h) = &self.options.htpasswd
        {
            b = b.header(
                header::WWW_AUTHENTICATE,
                format!("Basic realm=\"{}\"", h.realm()),
            );
        }
        let body = if head {
            body::empty()
        } else {
            body::full(text)
        };
        b.body(body).expect("valid reply")
    }

    async fn dispatch(&self, r: Route, call: Call, body: &BodySlot) -> ApiResult<Response<Body>> {
        let m = call.method.clone();
        let is = |allowed: &[Method]| allowed.contains(&m);
        let get = [Method::GET, Method::HEAD];
        match r {
            Route::Base if is(&get) => Ok(reply(StatusCode::OK)
                .header(header::CONTENT_TYPE, "application/json")
                .body(body::full("{}"))
                .expect("valid reply")),
            Route::Catalog if is(&get) => self.catalog(&call).await,
            Route::Tags { name } if is(&get) => self.tags(&repo(&name)?, &call).await,
            Route::Referrers { name, digest } if is(&[Method::GET]) => {
                self.referrers(&repo(&name)?, &digest, &call).await
            }
            Route::Blob { name, digest } => {
                let name = repo(&name)?;
                match m {
                    Method::GET | Method::HEAD => self.get_blob(&name, &digest, &call).await,
                    Method::DELETE => self.delete_blob(&name, &digest).await,
                    _ => Err(not_allowed()),
                }
            }
            Route::Uploads { name } if is(&[Method::POST]) => {
                self.start_upload(&repo(&name)?, call, body).await
            }
            Route::Upload { name, id } => {
                let name = repo(&name)?;
                match m {
                    Method::PATCH => self.patch_upload(&name, &id, call, body).await,
                    Method::PUT => self.finish_upload(&name, &id, call, body).await,
                    Method::GET => self.upload_status(&name, &id).await,
                    Method::DELETE => self.cancel_upload(&name, &id).await,
                    _ => Err(not_allowed()),
                }
            }
            Route::Manifest { name, reference } => {
                let name = repo(&name)?;
                match m {
                    Method::GET | Method::HEAD => {
                        self.get_manifest(&name, &reference, m == Method::HEAD)
                            .await
                    }
                    Method::PUT => self.put_manifest(&name, &reference, call, body).await,
                    Method::DELETE => self.delete_manifest(&name, &reference).await,
                    _ => Err(not_allowed()),
                }
            }
            _ => Err(not_allowed()),
        }
    }
}

/// HTTP/1.1 requires exactly one `Host` header (RFC 9112, 3.2); HTTP/1.0
/// may omit it.
fn check_host(version: http::Version, headers: &HeaderMap) -> ApiResult<()> {
    let hosts = headers.get_all(header::HOST).iter().count();
    let ok = match version {
        http::Version::HTTP_10 | http::Version::HTTP_09 => hosts <= 1,
        _ => hosts == 1,
    };
    if ok {
        Ok(())
    } else {
        Err(ApiError::new(
            Failure::BadRequest,
            format!("a request needs exactly one Host header, not {hosts}"),
        ))
    }
}

/// A reply builder with `status`.
pub(crate) fn reply(status: StatusCode) -> http::response::Builder {
    Response::builder().status(status)
}

fn not_allowed() -> ApiError {
    ApiError::new(
        Failure::MethodNotAllowed,
        "method not allowed on this endpoint",
    )
}

/// The repository name, checked by the grammar.
fn repo(name: &str) -> ApiResult<RepoName> {
    RepoName::parse(name).ok_or_else(|| {
        ApiError::new(
            Failure::NameInvalid,
            format!("invalid repository name {name:?}"),
        )
    })
}
