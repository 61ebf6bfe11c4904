//! One S3 bucket as the driver talks to it: requests built by [`Requests`],
//! signed with the current credentials, sent through the [`Transport`],
//! retried by the policy when [`crate::classify`] says a later attempt may
//! succeed, and replies read into values or typed errors. Everything above
//! (multipart uploads, walks, the writer, the storage-driver semantics)
//! goes through it.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use crate::classify::needs_a_look;
use crate::config::Config;
use crate::credentials::{CredentialChain, Source};
use crate::error::{Error, Result};
use crate::platform::{LogLevel, Platform};
use crate::reader::{content_length, read_exactly};
use crate::retry::Jitter;
use crate::s3::endpoint::Endpoint;
use crate::s3::error::from_reply;
use crate::s3::request::{ListObjects, Requests};
use crate::s3::xml::{self, ListBucketResult};
use crate::sign::v4::Signer;
use crate::sign::v4_streaming::{self, ChunkedBody};
use crate::sign::{RequestSigner, v2};
use crate::time::UtcDateTime;
use crate::transport::{Body as _, Request, Response, Transport};

/// Error replies are small; anything bigger is not an S3 error body.
pub const ERROR_BODY_LIMIT: usize = 64 * 1024;
/// XML replies (listings of 1000 keys) stay well below this.
pub const XML_BODY_LIMIT: usize = 16 << 20;

/// What a HEAD tells about an object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectHead {
    /// Its size.
    pub size: u64,
    /// Its `Last-Modified`, when the server sent a readable one.
    pub mod_time: Option<UtcDateTime>,
    /// Its ETag without quotes, when sent.
    pub etag: Option<String>,
}

/// What a request attempt's log line needs, taken when the attempt starts
/// (only when `loglevel` asks for request lines).
#[derive(Debug)]
pub struct AttemptLog {
    /// Method, host and path (never the query: it may hold a token).
    what: String,
    attempt: u32,
    started: UtcDateTime,
}

/// A signed, retrying S3 client for the configured bucket.
pub struct S3Client<T: Transport> {
    config: Config,
    requests: Requests,
    credentials: CredentialChain,
    /// The bucket when SigV2 signs virtual-hosted requests; `None` for SigV4
    /// or path style.
    v2_bucket: Option<String>,
    transport: T,
    platform: Rc<dyn Platform>,
    jitter: Cell<Jitter>,
    /// The SigV4 signer of the current credentials (with its day key).
    v4_signer: RefCell<Option<Rc<Signer>>>,
    /// Set once the server answered an `aws-chunked` body with 501: from
    /// then on signed bodies are hashed whole.
    chunked_refused: Cell<bool>,
}

impl<T: Transport> S3Client<T> {
    /// A client for `config`'s bucket. Sends nothing.
    pub fn new(config: Config, mut transport: T, platform: Rc<dyn Platform>) -> Result<Self> {
        transport.set_timeouts(config.timeouts);
        let endpoint = Endpoint::from_config(&config)?;
        let source = Source::choose(
            &config.credentials,
            |k| platform.env(k),
            |path| platform.read_file(path).ok(),
        )?;
        let salt = config.bucket.len() as u64 ^ config.chunk_size;
        Ok(Self {
            credentials: CredentialChain::new(source),
            v2_bucket: (!endpoint.path_style).then(|| endpoint.bucket.clone()),
            requests: Requests::new(endpoint, &config),
            jitter: Cell::new(Jitter::new(platform.random_seed(), salt)),
            config,
            transport,
            platform,
            v4_signer: RefCell::new(None),
            chunked_refused: Cell::new(false),
        })
    }

    /// The parsed configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The request builders.
    pub fn requests(&self) -> &Requests {
        &self.requests
    }

    /// The transport requests go through.
    pub fn transport(&self) -> &T {
        &self.transport
    }

    /// The platform (clock, environment, files, log).
    pub fn platform(&self) -> &dyn Platform {
        &*self.platform
    }

    /// The current time.
    pub fn now(&self) -> UtcDateTime {
        self.platform.now()
    }

    /// The signer for now: the configured version with current credentials.
    pub fn signer(&self) -> Result<RequestSigner> {
        let credentials = self.credentials.get(&self.transport, &*self.platform)?;
        Ok(self.signer_for(credentials))
    }

    /// A signer for a presigned URL meant to live `lifetime` seconds, and
    /// the lifetime it may have: temporary credentials are refreshed so they
    /// outlive it, and when the source cannot give that long the URL is cut
    /// to their expiry, so it never outlives the credentials that signed it.
    pub fn presign_signer(&self, lifetime: u64) -> Result<(RequestSigner, u64)> {
        let (credentials, expires) =
            self.credentials
                .get_valid_for(&self.transport, &*self.platform, lifetime as i64)?;
        let now = self.platform.now().seconds;
        let lifetime = match expires {
            Some(e) => lifetime.min((e - now).max(1) as u64),
            None => lifetime,
        };
        Ok((self.signer_for(credentials), lifetime))
    }

    fn signer_for(&self, credentials: crate::sign::Credentials) -> RequestSigner {
        if self.config.v4_auth {
            // The same signer while the credentials last: it keeps the day's key.
            let mut cached = self.v4_signer.borrow_mut();
            match &*cached {
                Some(s) if *s.credentials() == credentials => {}
                _ => {
                    *cached = Some(Rc::new(
                        Signer::new(credentials, &self.config.region, "s3")
                            .with_payload_signing(self.config.payload_signing)
                            .with_body_hasher(self.platform.body_hasher()),
                    ))
                }
            }
            RequestSigner::V4(cached.as_ref().expect("set above").clone())
        } else {
            RequestSigner::V2 {
                signer: v2::Signer::new(credentials),
                virtual_host_bucket: self.v2_bucket.clone(),
            }
        }
    }

    /// Marks `req` as attempt `attempt` of the retry policy (the AWS SDKs'
    /// `amz-sdk-request` header, which hosts count) and signs it for `body`.
    pub fn stamp(&self, req: &mut Request, body: &[u8], attempt: u32) -> Result<()> {
        self.mark_attempt(req, attempt);
        let now = self.platform.now();
        self.signer()?.sign_request(now, req, body);
        Ok(())
    }

    fn mark_attempt(&self, req: &mut Request, attempt: u32) {
        req.header(
            "amz-sdk-request",
            format!("attempt={attempt}; max={}", self.config.retry.max_attempts),
        );
    }

    /// Whether `body` goes out in signed chunks (`streamingsignature`): a
    /// SigV4-signed body large enough to gain, with no integrity header
    /// (those are computed over the whole body first anyway), to a server
    /// that has not refused the encoding.
    fn sends_chunked(&self, req: &Request, body: &[u8]) -> bool {
        self.config.streaming_signature
            && self.config.v4_auth
            && !self.chunked_refused.get()
            && body.len() >= v4_streaming::MIN_BODY
            && self.config.payload_signing.signs(req.secure)
            && !req
                .headers
                .iter()
                .any(|(k, _)| k == "content-md5" || k.starts_with("x-amz-checksum-"))
    }

    /// Signs `req` with a seed signature and sends `body` in signed chunks,
    /// each hashed while the host sends the one before. `None` when the
    /// server refused the encoding (501): the caller sends it whole.
    fn send_chunked(
        &self,
        req: &Request,
        body: &[u8],
        attempt: u32,
    ) -> Result<Option<Response<T::Body>>> {
        let RequestSigner::V4(signer) = self.signer()? else {
            return Ok(None);
        };
        let mut req = req.clone();
        self.mark_attempt(&mut req, attempt);
        let chunk = v4_streaming::CHUNK_SIZE;
        // AWS documents the header and strips it from the object; other
        // servers may store it.
        let on_aws = self.config.region_endpoint.is_none();
        let chunks =
            signer.sign_streaming(self.platform.now(), &mut req, (body.len(), chunk), on_aws);
        let resp = self
            .transport
            .send_pieces(&req, &mut ChunkedBody::new(body, chunk, chunks))?;
        if resp.status != 501 {
            return Ok(Some(resp));
        }
        self.chunked_refused.set(true);
        self.platform.log(
            LogLevel::Warn,
            "the server does not implement aws-chunked bodies (501): signed bodies are hashed whole from now on",
        );
        Ok(None)
    }

    /// The start of an attempt's log line, when `loglevel` asks for them.
    pub fn attempt_log(&self, req: &Request, attempt: u32) -> Option<AttemptLog> {
        (self.config.log_level != "off").then(|| AttemptLog {
            what: format!("{} {}{}", req.method, req.authority, req.path),
            attempt,
            started: self.platform.now(),
        })
    }

    /// Logs an attempt's outcome: the reply's status and request id, or the
    /// failure without a reply, and how long it took.
    pub fn log_attempt(
        &self,
        log: Option<AttemptLog>,
        head: Option<(u16, Option<&str>)>,
        error: Option<&Error>,
    ) {
        let Some(log) = log else {
            return;
        };
        let mut line = log.what;
        match head {
            Some((status, id)) => {
                line.push_str(&format!(" -> {status} request-id {}", id.unwrap_or("-")));
            }
            None => line.push_str(" -> no reply"),
        }
        if let Some(e) = error {
            line.push_str(&format!(" ({e})"));
        }
        let ms = self.platform.now().millis_since(log.started);
        line.push_str(&format!(" attempt {} {ms} ms", log.attempt));
        self.platform.log(LogLevel::Debug, &line);
    }

    /// Signs and sends once.
    fn send_once(&self, req: &Request, body: &[u8], attempt: u32) -> Result<Response<T::Body>> {
        if self.sends_chunked(req, body)
            && let Some(resp) = self.send_chunked(req, body, attempt)?
        {
            return Ok(resp);
        }
        let mut req = req.clone();
        self.stamp(&mut req, body, attempt)?;
        self.transport.send(&req, body)
    }

    /// A reply the classifier must see before anyone takes it (a retryable
    /// status, or a 400 that may be `RequestTimeout`) as the error it
    /// carries; others as they are.
    pub fn screen(&self, op: &str, resp: Response<T::Body>) -> Result<Response<T::Body>> {
        if needs_a_look(resp.status) {
            return Err(self.reply_error(op, resp));
        }
        Ok(resp)
    }

    /// Sends `req` until `accept` takes the reply or it fails for good.
    /// Failures the classifier calls retryable (replies, network failures of
    /// the head or, as seen by `accept`, the body) are tried again after a
    /// jittered backoff, up to `maxattempts` in all, starting the count at
    /// `first_attempt`. The body is a slice, so every attempt sends the same
    /// bytes.
    pub fn exchange<R>(
        &self,
        op: &str,
        req: &Request,
        body: &[u8],
        first_attempt: u32,
        mut accept: impl FnMut(Response<T::Body>) -> Result<R>,
    ) -> Result<R> {
        let mut attempt = first_attempt.max(1);
        loop {
            let log = self.attempt_log(req, attempt);
            let outcome = match self.send_once(req, body, attempt) {
                Ok(resp) => {
                    let head = log.is_some().then(|| {
                        let id = resp.header("x-amz-request-id").map(str::to_owned);
                        (resp.status, id)
                    });
                    let r = self.screen(op, resp).and_then(&mut accept);
                    let head = head.as_ref().map(|(s, id)| (*s, id.as_deref()));
                    self.log_attempt(log, head, r.as_ref().err());
                    r
                }
                Err(e) => {
                    self.log_attempt(log, None, Some(&e));
                    Err(e)
                }
            };
            match outcome {
                Err(e) if self.back_off(attempt, &e) => attempt += 1,
                other => return other,
            }
        }
    }

    /// Whether `error`, met on attempt `attempt`, deserves another; if so,
    /// waits the jittered backoff first.
    pub fn back_off(&self, attempt: u32, error: &Error) -> bool {
        let policy = self.config.retry;
        if attempt >= policy.max_attempts || !error.retryable() {
            return false;
        }
        let mut jitter = self.jitter.get();
        let wait = policy.delay(attempt, jitter.next_u64());
        self.jitter.set(jitter);
        self.platform.sleep(wait);
        true
    }

    /// Turns an error reply into the driver's error, reading its body.
    pub fn reply_error(&self, op: &str, mut resp: Response<T::Body>) -> Error {
        let body = resp.body.read_to_end(ERROR_BODY_LIMIT).unwrap_or_default();
        from_reply(
            op,
            &self.config.bucket,
            resp.status,
            resp.header("x-amz-request-id"),
            &body,
        )
    }

    /// Sends (with retries) and parses a 2xx XML reply rooted at `root`.
    pub fn call_xml<R: serde::de::DeserializeOwned>(
        &self,
        op: &str,
        req: Request,
        body: &[u8],
        root: &str,
    ) -> Result<R> {
        self.exchange(op, &req, body, 1, |resp| self.read_xml(op, resp, root))
    }

    /// Interprets a reply that should be XML rooted at `root`. S3 may answer
    /// 200 with an `<Error>` body (CompleteMultipartUpload); that is an error
    /// too. A reply cut short is a network failure (retried), not a
    /// malformed reply.
    pub fn read_xml<R: serde::de::DeserializeOwned>(
        &self,
        op: &str,
        resp: Response<T::Body>,
        root: &str,
    ) -> Result<R> {
        if !(200..300).contains(&resp.status) {
            return Err(self.reply_error(op, resp));
        }
        let mut resp = resp;
        let bytes = read_exactly(&mut resp, XML_BODY_LIMIT)?;
        if xml::root_name(&bytes).as_deref() == Some("Error") {
            return Err(from_reply(
                op,
                &self.config.bucket,
                resp.status,
                resp.header("x-amz-request-id"),
                &bytes,
            ));
        }
        xml::parse(&bytes, root, op)
    }

    /// Sends (with retries) and discards a 2xx reply's body.
    pub fn call_drain(&self, op: &str, req: Request, body: &[u8]) -> Result<()> {
        self.exchange(op, &req, body, 1, |mut resp| {
            if !(200..300).contains(&resp.status) {
                return Err(self.reply_error(op, resp));
            }
            resp.body.read_to_end(XML_BODY_LIMIT)?;
            Ok(())
        })
    }

    /// One page of ListObjectsV2.
    pub fn list_objects(&self, op: &str, p: &ListObjects<'_>) -> Result<ListBucketResult> {
        self.call_xml(
            op,
            self.requests.list_objects_v2(p),
            &[],
            "ListBucketResult",
        )
    }

    /// HEAD of `key`: `None` when it does not exist.
    pub fn head_object(&self, op: &str, key: &str) -> Result<Option<ObjectHead>> {
        let req = self.requests.head_object(key);
        self.exchange(op, &req, &[], 1, |resp| match resp.status {
            200 => {
                let size = content_length(&resp)
                    .ok_or_else(|| Error::MalformedResponse(format!("{op}: no Content-Length")))?;
                Ok(Some(ObjectHead {
                    size,
                    mod_time: resp
                        .header("last-modified")
                        .and_then(UtcDateTime::parse_http_date),
                    etag: resp.header("etag").map(|e| e.trim_matches('"').to_owned()),
                }))
            }
            404 => Ok(None),
            _ => Err(self.reply_error(op, resp)),
        })
    }

    /// Bytes `from..` of an object, read whole (a reply cut short is tried
    /// again); empty when `from` is at or past the end.
    pub fn get_range(&self, op: &str, key: &str, from: u64) -> Result<Vec<u8>> {
        let req = self.requests.get_object(key, from);
        self.exchange(op, &req, &[], 1, |mut resp| match resp.status {
            200 | 206 => read_exactly(&mut resp, usize::MAX),
            416 => {
                resp.discard_body();
                Ok(Vec::new())
            }
            _ => Err(self.reply_error(op, resp)),
        })
    }
}
