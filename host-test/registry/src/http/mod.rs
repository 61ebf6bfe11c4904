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

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Mutex;

use http::{HeaderMap, Method, Request, Response, StatusCode, header};

use crate::digest::Sha256State;
use crate::error::{ApiError, ApiResult, Failure};
use crate::names::RepoName;
use crate::store::Store;
use auth::Htpasswd;
use body::Body;
use route::Route;

/// Sent on every reply, as Docker clients expect.
const API_VERSION: (&str, &str) = ("Docker-Distribution-API-Version", "registry/2.0");
/// Upload SHA-256 states kept in memory at most (the bucket has them all).
const STATES_KEPT: usize = 4096;
/// A request body left unread by a refusal is read and dropped up to this
/// much, so the refusal reaches the client: closing a connection with
/// unread data makes the kernel reset it, which can destroy the reply.
const DRAIN_LIMIT: usize = 64 << 20;

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
}

/// A registry: its store, its options, and the upload states it has in
/// memory (a cache: every state is also in the bucket).
#[derive(Debug)]
pub struct Registry {
    store: Store,
    options: Options,
    states: Mutex<HashMap<String, Sha256State>>,
}

/// A request's body until a handler takes it; what no handler took is
/// drained after the reply is decided.
pub(crate) struct BodySlot(Mutex<Option<Body>>);

impl BodySlot {
    /// The body (empty if already taken).
    pub fn take(&self) -> Body {
        self.0
            .lock()
            .expect("not poisoned")
            .take()
            .unwrap_or_else(body::empty)
    }

    /// Reads and drops what nobody took, up to [`DRAIN_LIMIT`].
    async fn drain(&self) {
        use http_body_util::BodyExt as _;
        let left = self.0.lock().expect("not poisoned").take();
        if let Some(mut b) = left {
            let mut seen = 0usize;
            while seen < DRAIN_LIMIT {
                match b.frame().await {
                    Some(Ok(f)) => seen += f.data_ref().map_or(0, |d| d.len()),
                    _ => break,
                }
            }
        }
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
        }
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
        let slot = BodySlot(Mutex::new(Some(body)));
        let mut reply = match self.authorize(&call) {
            Err(e) => self.error_reply(&e, head),
            Ok(()) => match route::route(parts.uri.path()) {
                None => {
                    self.error_reply(&ApiError::new(Failure::NotFound, "no such endpoint"), head)
                }
                Some(r) => self
                    .dispatch(r, call, &slot)
                    .await
                    .unwrap_or_else(|e| self.error_reply(&e, head)),
            },
        };
        slot.drain().await;
        reply
            .headers_mut()
            .insert(API_VERSION.0, http::HeaderValue::from_static(API_VERSION.1));
        reply
    }

    fn authorize(&self, call: &Call) -> ApiResult<()> {
        match &self.options.htpasswd {
            Some(h) if !h.allows(call.header(header::AUTHORIZATION)) => Err(ApiError::new(
                Failure::Unauthorized,
                "authentication required",
            )),
            _ => Ok(()),
        }
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
