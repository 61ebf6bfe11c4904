//! The storage-driver semantics of the reference S3 driver, over any
//! [`Transport`]: path checks, key mapping, request building, signing and reply
//! interpretation. No I/O of its own.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use crate::cloudfront::{CloudFrontOptions, IpFilter, IpRanges, client_ip, split_url};
use crate::config::{Config, Value};
use crate::credentials::{CredentialChain, Source};
use crate::error::{Error, Result};
use crate::path::{self, KeyMapper};
use crate::retry::{self, Jitter};
use crate::s3::endpoint::Endpoint;
use crate::s3::error::{from_reply, is_not_found};
use crate::s3::request::{CompletedPart, ListObjects, Requests};
use crate::s3::xml::{
    self, CopyResult, DeleteResult, InitiateMultipartUploadResult, ListBucketResult,
    ListMultipartUploadsResult, ListPartsResult, Part,
};
use crate::sign::v4::Signer;
use crate::sign::{RequestSigner, v2};
use crate::time::UtcDateTime;
use crate::transport::{Body, Request, Response, Transport};

/// The driver's name, as the reference registers it and puts in every error.
pub const NAME: &str = "s3aws";

/// This build's version: the crate version, `+label` when the build set
/// `S3_DRIVER_BUILD_LABEL` (two builds of one source tell themselves apart).
pub fn build_version() -> String {
    match option_env!("S3_DRIVER_BUILD_LABEL") {
        Some(label) if !label.is_empty() => format!("{}+{label}", env!("CARGO_PKG_VERSION")),
        _ => env!("CARGO_PKG_VERSION").to_owned(),
    }
}
/// S3's page size and the most keys one DeleteObjects takes.
pub const LIST_MAX: u32 = 1000;
/// Error replies are small; anything bigger is not an S3 error body.
const ERROR_BODY_LIMIT: usize = 64 * 1024;
/// XML replies (listings of 1000 keys) stay well below this.
const XML_BODY_LIMIT: usize = 16 << 20;
/// How long presigned redirect URLs stay valid (fixed in the reference).
pub const PRESIGN_EXPIRY_SECS: u64 = 20 * 60;

/// What `stat` reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileInfo {
    /// Storage path.
    pub path: String,
    /// Size in bytes, 0 for directories.
    pub size: u64,
    /// Server modification time; none for directories.
    pub mod_time: Option<UtcDateTime>,
    /// True for a directory.
    pub is_dir: bool,
}

/// The parts of a client's request that decide a redirect.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RedirectRequest {
    /// HTTP method.
    pub method: String,
    /// Peer address (`ip` or `ip:port`).
    pub remote_addr: String,
    /// `X-Forwarded-For`.
    pub forwarded_for: Option<String>,
    /// `X-Real-Ip`.
    pub real_ip: Option<String>,
}

/// The CloudFront middleware's state: options and the last good IP ranges.
struct CloudFront {
    options: CloudFrontOptions,
    ranges: RefCell<Option<IpRanges>>,
    last_attempt: RefCell<Option<i64>>,
}

/// A streamed object body; `None` when the offset was at or past the end.
pub struct FileReader<B> {
    body: Option<B>,
    /// The reply's Content-Length: a body that ends before it is an error,
    /// never a silently short file.
    expected: Option<u64>,
    received: u64,
}

impl<B: Body> FileReader<B> {
    /// Up to `max` next bytes; empty at the end.
    pub fn read(&mut self, max: usize) -> Result<Vec<u8>> {
        match &mut self.body {
            None => Ok(Vec::new()),
            Some(b) => {
                let chunk = match b.read(max.max(1)) {
                    Ok(c) => c,
                    Err(e) => {
                        self.body = None;
                        return Err(e);
                    }
                };
                self.received += chunk.len() as u64;
                if chunk.is_empty() {
                    self.body = None;
                    if let Some(expected) = self.expected
                        && self.received < expected
                    {
                        return Err(short_body(self.received, expected));
                    }
                }
                Ok(chunk)
            }
        }
    }
}

fn short_body(received: u64, expected: u64) -> Error {
    Error::Network(format!(
        "response ended early: {received} of {expected} bytes"
    ))
}

/// The Content-Length of a reply, if it has a valid one.
fn content_length<B>(resp: &Response<B>) -> Option<u64> {
    resp.header("content-length")
        .and_then(|v| v.trim().parse().ok())
}

/// The whole body, which must be as long as the reply said.
fn read_exactly<B: Body>(resp: &mut Response<B>) -> Result<Vec<u8>> {
    let expected = content_length(resp);
    let body = resp.body.read_to_end(usize::MAX)?;
    match expected {
        Some(n) if (body.len() as u64) < n => Err(short_body(body.len() as u64, n)),
        _ => Ok(body),
    }
}

/// The ETag S3 gives an object completed from `parts`: the MD5 of the parts'
/// binary MD5s, then `-` and the part count. `None` when a part's ETag is not
/// an MD5 (some encryption modes).
pub fn multipart_etag(parts: &[CompletedPart]) -> Option<String> {
    use md5::{Digest, Md5};
    let mut all = Vec::with_capacity(parts.len() * 16);
    for p in parts {
        let raw = hex::decode(p.etag.trim_matches('"')).ok()?;
        if raw.len() != 16 {
            return None;
        }
        all.extend_from_slice(&raw);
    }
    Some(format!(
        "{}-{}",
        hex::encode(Md5::digest(&all)),
        parts.len()
    ))
}

/// The S3 storage driver.
pub struct S3Driver<T: Transport> {
    config: Config,
    cloudfront: Option<CloudFront>,
    warnings: Vec<String>,
    keys: KeyMapper,
    requests: Requests,
    credentials: CredentialChain,
    /// The bucket when SigV2 signs virtual-hosted requests; `None` for SigV4
    /// or path style.
    v2_bucket: Option<String>,
    transport: T,
    jitter: Cell<Jitter>,
    /// The SigV4 signer of the current credentials (with its day key).
    v4_signer: RefCell<Option<Rc<Signer>>>,
}

impl<T: Transport> S3Driver<T> {
    /// Opens a driver from `storage: s3:` parameters. Sends nothing.
    pub fn open(params: &[(String, Value)], transport: T) -> Result<Self> {
        Self::open_with_middleware(params, &[], transport)
    }

    /// Opens a driver with `middleware: storage:` entries (`cloudfront`).
    pub fn open_with_middleware(
        params: &[(String, Value)],
        middleware: &[(String, Vec<(String, Value)>)],
        mut transport: T,
    ) -> Result<Self> {
        let config = Config::from_params(params)?;
        transport.set_timeouts(config.timeouts);
        let endpoint = Endpoint::from_config(&config)?;
        let mut warnings = config.warnings.clone();
        let mut cloudfront = None;
        for (name, options) in middleware {
            match name.as_str() {
                "cloudfront" => {
                    let options = CloudFrontOptions::from_options(
                        options,
                        |path| std::fs::read_to_string(path),
                        &mut warnings,
                    )?;
                    cloudfront = Some(CloudFront {
                        options,
                        ranges: RefCell::new(None),
                        last_attempt: RefCell::new(None),
                    });
                }
                other => {
                    return Err(Error::InvalidConfig(format!(
                        "no storage middleware registered with name: {other}"
                    )));
                }
            }
        }
        let driver = Self {
            keys: KeyMapper::new(&config.root_directory),
            credentials: CredentialChain::new(Source::choose(&config.credentials, |k| {
                std::env::var(k).ok()
            })),
            v2_bucket: (!endpoint.path_style).then(|| endpoint.bucket.clone()),
            requests: Requests::new(endpoint, &config),
            config,
            cloudfront,
            warnings,
            transport,
            jitter: Cell::new(Jitter::new(params.len() as u64)),
            v4_signer: RefCell::new(None),
        };
        if let Some(cf) = &driver.cloudfront
            && cf.options.filter != IpFilter::None
            && let Err(e) = driver.refresh_ip_ranges(cf, UtcDateTime::now())
        {
            let mut d = driver;
            d.warnings.push(format!(
                "cloudfront: failed to update AWS IP ranges ({e}); every client gets CloudFront until a fetch succeeds"
            ));
            return Ok(d);
        }
        Ok(driver)
    }

    /// Warnings found while opening (unknown keys, failed IP-range fetch...).
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// Fetches the AWS IP ranges; keeps the last good list on failure.
    fn refresh_ip_ranges(&self, cf: &CloudFront, now: UtcDateTime) -> Result<()> {
        *cf.last_attempt.borrow_mut() = Some(now.seconds);
        let (secure, authority, path) =
            split_url(&cf.options.ip_ranges_url).expect("checked at open");
        let (path, query) = match path.split_once('?') {
            Some((p, q)) => (p.to_owned(), q),
            None => (path, ""),
        };
        let query = query
            .split('&')
            .filter(|kv| !kv.is_empty())
            .map(|kv| match kv.split_once('=') {
                Some((k, v)) => (k.to_owned(), v.to_owned()),
                None => (kv.to_owned(), String::new()),
            })
            .collect();
        let req = Request {
            method: "GET",
            secure,
            authority,
            path,
            query,
            headers: vec![("accept".into(), "application/json".into())],
        };
        let mut resp = self.transport.send(&req, &[])?;
        let body = resp.body.read_to_end(XML_BODY_LIMIT)?;
        if resp.status != 200 {
            return Err(Error::MalformedResponse(format!(
                "failed to fetch network data: HTTP {}",
                resp.status
            )));
        }
        let regions = match &cf.options.filter {
            IpFilter::AwsRegion(r) => Some(r.as_slice()),
            _ => None,
        };
        let (ranges, skipped) = IpRanges::parse(&body, regions)?;
        if skipped > 0 {
            eprintln!("{NAME}: cloudfront: skipped {skipped} unparsable AWS IP prefix(es)");
        }
        *cf.ranges.borrow_mut() = Some(ranges);
        Ok(())
    }

    /// True when the IP filter says this client is inside AWS.
    fn inside_aws(&self, cf: &CloudFront, req: &RedirectRequest, now: UtcDateTime) -> bool {
        if cf.options.filter == IpFilter::None {
            return false;
        }
        let due = cf
            .last_attempt
            .borrow()
            .is_none_or(|t| now.seconds - t >= cf.options.update_frequency_secs as i64);
        if due && let Err(e) = self.refresh_ip_ranges(cf, now) {
            eprintln!("{NAME}: cloudfront: failed to update AWS IP ranges: {e}");
        }
        let Some(ip) = client_ip(
            &req.remote_addr,
            req.forwarded_for.as_deref(),
            req.real_ip.as_deref(),
        ) else {
            return false;
        };
        cf.ranges.borrow().as_ref().is_some_and(|r| r.contains(ip))
    }

    /// The parsed configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Signs and sends once, marked as attempt `attempt` of the retry policy
    /// (the AWS SDKs' `amz-sdk-request` header, which hosts count).
    fn send_once(&self, req: &Request, body: &[u8], attempt: u32) -> Result<Response<T::Body>> {
        let mut req = req.clone();
        self.stamp(&mut req, body, attempt)?;
        self.transport.send(&req, body)
    }

    /// Marks `req` as attempt `attempt` and signs it for `body`.
    fn stamp(&self, req: &mut Request, body: &[u8], attempt: u32) -> Result<()> {
        req.header(
            "amz-sdk-request",
            format!("attempt={attempt}; max={}", self.config.retry.max_attempts),
        );
        let now = UtcDateTime::now();
        self.signer(now)?.sign_request(now, req, body);
        Ok(())
    }

    /// A reply worth another attempt (a retryable status, or a 400 whose
    /// code may be `RequestTimeout`) as the error it carries; others as is.
    fn screen(op: &str, resp: Response<T::Body>) -> Result<Response<T::Body>> {
        if retry::retryable_status(resp.status) || resp.status == 400 {
            return Err(Self::reply_error(op, resp));
        }
        Ok(resp)
    }

    /// Sends `req` until `accept` takes the reply or fails for good. Replies
    /// with a retryable status, a 400 (whose code may be `RequestTimeout`),
    /// and network failures (head or body, as seen by `accept`) are tried
    /// again after a jittered backoff, up to `maxattempts` in all. The body
    /// is a slice, so every attempt sends the same bytes.
    fn exchange<R>(
        &self,
        op: &str,
        req: &Request,
        body: &[u8],
        first_attempt: u32,
        mut accept: impl FnMut(Response<T::Body>) -> Result<R>,
    ) -> Result<R> {
        let mut attempt = first_attempt.max(1);
        loop {
            let outcome = self
                .send_once(req, body, attempt)
                .and_then(|resp| Self::screen(op, resp))
                .and_then(&mut accept);
            match outcome {
                Err(e) if self.back_off(attempt, &e) => attempt += 1,
                other => return other,
            }
        }
    }

    /// Whether `error`, met on attempt `attempt`, deserves another; if so,
    /// waits the jittered backoff first.
    pub(crate) fn back_off(&self, attempt: u32, error: &Error) -> bool {
        let policy = self.config.retry;
        if attempt >= policy.max_attempts || !retry::retryable(error) {
            return false;
        }
        let mut jitter = self.jitter.get();
        let wait = policy.delay(attempt, jitter.next_u64());
        self.jitter.set(jitter);
        self.transport.sleep(wait);
        true
    }

    /// Turns an error reply into the driver's error, reading its body.
    fn reply_error(op: &str, mut resp: Response<T::Body>) -> Error {
        let body = resp.body.read_to_end(ERROR_BODY_LIMIT).unwrap_or_default();
        from_reply(op, resp.status, resp.header("x-amz-request-id"), &body)
    }

    /// Sends (with retries) and parses a 2xx XML reply rooted at `root`. S3
    /// may answer 200 with an `<Error>` body (CompleteMultipartUpload); that
    /// is an error too. A reply cut short is tried again.
    fn call_xml<R: serde::de::DeserializeOwned>(
        &self,
        op: &str,
        req: Request,
        body: &[u8],
        root: &str,
    ) -> Result<R> {
        self.exchange(op, &req, body, 1, |resp| self.read_xml(op, resp, root))
    }

    /// Interprets a reply that should be XML rooted at `root`.
    fn read_xml<R: serde::de::DeserializeOwned>(
        &self,
        op: &str,
        resp: Response<T::Body>,
        root: &str,
    ) -> Result<R> {
        if !(200..300).contains(&resp.status) {
            return Err(Self::reply_error(op, resp));
        }
        let mut resp = resp;
        let expected = content_length(&resp);
        let bytes = resp.body.read_to_end(XML_BODY_LIMIT)?;
        // Cut short: a network failure (retried), not a malformed reply.
        if let Some(n) = expected
            && (bytes.len() as u64) < n
        {
            return Err(short_body(bytes.len() as u64, n));
        }
        if xml::root_name(&bytes).as_deref() == Some("Error") {
            return Err(from_reply(
                op,
                resp.status,
                resp.header("x-amz-request-id"),
                &bytes,
            ));
        }
        xml::parse(&bytes, root, op)
    }

    /// Sends (with retries) and discards a 2xx reply's body.
    fn call_drain(&self, op: &str, req: Request, body: &[u8]) -> Result<()> {
        self.exchange(op, &req, body, 1, |mut resp| {
            if !(200..300).contains(&resp.status) {
                return Err(Self::reply_error(op, resp));
            }
            resp.body.read_to_end(XML_BODY_LIMIT)?;
            Ok(())
        })
    }

    fn list_page(&self, op: &str, p: &ListObjects<'_>) -> Result<ListBucketResult> {
        self.call_xml(
            op,
            self.requests.list_objects_v2(p),
            &[],
            "ListBucketResult",
        )
    }

    /// The request builders (for hosts that need raw requests, like test harnesses).
    pub fn requests(&self) -> &Requests {
        &self.requests
    }

    /// The signer for now: the configured version with current credentials.
    pub fn signer(&self, now: UtcDateTime) -> Result<RequestSigner> {
        let credentials = self.credentials.get(&self.transport, now)?;
        Ok(if self.config.v4_auth {
            // The same signer while the credentials last: it keeps the day's key.
            let mut cached = self.v4_signer.borrow_mut();
            match &*cached {
                Some(s) if *s.credentials() == credentials => {}
                _ => {
                    *cached = Some(Rc::new(
                        Signer::new(credentials, &self.config.region, "s3")
                            .with_payload_signing(self.config.payload_signing),
                    ))
                }
            }
            RequestSigner::V4(cached.as_ref().expect("set above").clone())
        } else {
            RequestSigner::V2 {
                signer: v2::Signer::new(credentials),
                virtual_host_bucket: self.v2_bucket.clone(),
            }
        })
    }

    /// Maps paths to keys.
    pub fn keys(&self) -> &KeyMapper {
        &self.keys
    }

    /// Lists one page of keys (used by the walker).
    pub(crate) fn list_objects(&self, op: &str, p: &ListObjects<'_>) -> Result<ListBucketResult> {
        self.list_page(op, p)
    }

    /// Starts a multipart upload with every write setting; returns its id.
    pub(crate) fn create_upload(&self, op: &str, key: &str) -> Result<String> {
        let r: InitiateMultipartUploadResult = self.call_xml(
            op,
            self.requests.create_multipart_upload(key),
            &[],
            "InitiateMultipartUploadResult",
        )?;
        Ok(r.upload_id)
    }

    /// Uploads one part; returns its ETag.
    pub(crate) fn upload_part(
        &self,
        op: &str,
        key: &str,
        upload_id: &str,
        number: u32,
        data: &[u8],
    ) -> Result<String> {
        let req = self
            .requests
            .upload_part(key, upload_id, number, data.len());
        self.exchange(op, &req, data, 1, |resp| Self::part_etag(op, resp))
    }

    /// Starts uploading part `number` without waiting: the writer keeps
    /// several under way and collects them with [`Self::finish_part`].
    pub(crate) fn begin_part(
        &self,
        key: &str,
        upload_id: &str,
        number: u32,
        data: Rc<Vec<u8>>,
        attempt: u32,
    ) -> Result<T::Pending> {
        let mut req = self
            .requests
            .upload_part(key, upload_id, number, data.len());
        self.stamp(&mut req, &data, attempt)?;
        self.transport.begin(&req, data)
    }

    /// Hands part bodies to the host; see [`Transport::drive`].
    pub(crate) fn drive(&self, pending: &mut [&mut T::Pending], wait: bool) -> Vec<usize> {
        self.transport.drive(pending, wait)
    }

    /// The ETag of a part started by [`Self::begin_part`], or why it failed.
    pub(crate) fn finish_part(&self, op: &str, pending: T::Pending) -> Result<String> {
        let resp = Self::screen(op, self.transport.complete(pending)?)?;
        Self::part_etag(op, resp)
    }

    /// An UploadPart reply's ETag, draining the reply.
    fn part_etag(op: &str, mut resp: Response<T::Body>) -> Result<String> {
        if !(200..300).contains(&resp.status) {
            return Err(Self::reply_error(op, resp));
        }
        let etag = resp.header("etag").map(str::to_owned).ok_or_else(|| {
            Error::MalformedResponse(format!("{op}: UploadPart reply without ETag"))
        })?;
        resp.body.read_to_end(ERROR_BODY_LIMIT)?;
        Ok(etag)
    }

    /// Copies bytes `range` (inclusive) of `source_key` into part `number`.
    pub(crate) fn upload_part_copy(
        &self,
        op: &str,
        key: &str,
        upload_id: &str,
        number: u32,
        source_key: &str,
        range: (u64, u64),
    ) -> Result<String> {
        let req = self
            .requests
            .upload_part_copy(key, upload_id, number, source_key, Some(range));
        let r: CopyResult = self.call_xml(op, req, &[], "CopyPartResult")?;
        Ok(r.etag)
    }

    /// Completes an upload; the object becomes visible.
    pub(crate) fn complete_upload(
        &self,
        op: &str,
        key: &str,
        upload_id: &str,
        parts: &[CompletedPart],
    ) -> Result<()> {
        let (req, body) = self
            .requests
            .complete_multipart_upload(key, upload_id, parts);
        match self.call_xml::<xml::CompleteMultipartUploadResult>(
            op,
            req,
            &body,
            "CompleteMultipartUploadResult",
        ) {
            Ok(_) => Ok(()),
            // An earlier attempt may have completed it and lost the reply:
            // the object then carries exactly this upload's multipart ETag.
            Err(Error::Backend(b)) if b.code == "NoSuchUpload" => {
                match (self.object_etag(op, key), multipart_etag(parts)) {
                    (Ok(Some(found)), Some(expected)) if found == expected => Ok(()),
                    _ => Err(Error::Backend(b)),
                }
            }
            Err(e) => Err(e),
        }
    }

    /// The ETag of the object at `key` (without quotes), if it exists.
    fn object_etag(&self, op: &str, key: &str) -> Result<Option<String>> {
        self.exchange(
            op,
            &self.requests.head_object(key),
            &[],
            1,
            |resp| match resp.status {
                200 => Ok(resp.header("etag").map(|e| e.trim_matches('"').to_owned())),
                404 => Ok(None),
                _ => Err(Self::reply_error(op, resp)),
            },
        )
    }

    /// Aborts an upload.
    pub(crate) fn abort_upload(&self, op: &str, key: &str, upload_id: &str) -> Result<()> {
        self.call_drain(
            op,
            self.requests.abort_multipart_upload(key, upload_id),
            &[],
        )
    }

    /// The id of an open upload of exactly `key`, paging with both markers.
    pub(crate) fn find_upload(&self, op: &str, key: &str) -> Result<Option<String>> {
        let (mut key_marker, mut id_marker): (Option<String>, Option<String>) = (None, None);
        loop {
            let req = self.requests.list_multipart_uploads(
                key,
                key_marker.as_deref(),
                id_marker.as_deref(),
            );
            let page: ListMultipartUploadsResult =
                self.call_xml(op, req, &[], "ListMultipartUploadsResult")?;
            if let Some(u) = page.uploads.iter().find(|u| u.key == key) {
                return Ok(Some(u.upload_id.clone()));
            }
            if !page.is_truncated {
                return Ok(None);
            }
            if page.next_key_marker.is_none() && page.next_upload_id_marker.is_none() {
                return Err(Error::MalformedResponse(format!(
                    "{op}: truncated upload listing without markers"
                )));
            }
            key_marker = page.next_key_marker;
            id_marker = page.next_upload_id_marker;
        }
    }

    /// Every part of an upload, paging through ListParts (layers over 10 GB
    /// have more than one page).
    pub(crate) fn list_parts(&self, op: &str, key: &str, upload_id: &str) -> Result<Vec<Part>> {
        let mut parts = Vec::new();
        let mut marker = None;
        loop {
            let page: ListPartsResult = self.call_xml(
                op,
                self.requests.list_parts(key, upload_id, marker),
                &[],
                "ListPartsResult",
            )?;
            parts.extend(page.parts);
            if !page.is_truncated {
                break;
            }
            marker = Some(page.next_part_number_marker.ok_or_else(|| {
                Error::MalformedResponse(format!("{op}: truncated part listing without marker"))
            })?);
        }
        parts.sort_by_key(|p| p.part_number);
        Ok(parts)
    }

    /// Bytes `from..` of an object (for re-buffering a resumed upload's tail).
    pub(crate) fn get_range(&self, op: &str, key: &str, from: u64) -> Result<Vec<u8>> {
        let req = self.requests.get_object(key, from);
        self.exchange(op, &req, &[], 1, |mut resp| match resp.status {
            200 | 206 => read_exactly(&mut resp),
            416 => Ok(Vec::new()),
            _ => Err(Self::reply_error(op, resp)),
        })
    }

    /// Moves `source` to `destination`: CopyObject up to the threshold, a
    /// multipart copy above it (aborted if any part fails), then deletes the
    /// source object.
    pub fn move_(&self, source: &str, destination: &str) -> Result<()> {
        path::check(source)?;
        path::check(destination)?;
        let op = format!("move {source} {destination}");
        let info = self.stat(source)?;
        if info.is_dir {
            return Err(Error::PathNotFound {
                path: source.to_owned(),
            });
        }
        let (src, dst) = (self.keys.key(source), self.keys.key(destination));
        if info.size <= self.config.multipart_copy_threshold_size {
            let req = self.requests.copy_object(&src, &dst);
            match self.call_xml::<CopyResult>(&op, req, &[], "CopyObjectResult") {
                Ok(_) => {}
                Err(Error::Backend(b)) if is_not_found(b.status, &b.code) => {
                    return Err(Error::PathNotFound {
                        path: source.to_owned(),
                    });
                }
                Err(e) => return Err(e),
            }
        } else {
            self.multipart_copy(&op, &src, &dst, info.size)?;
        }
        self.call_drain(&op, self.requests.delete_object(&src), &[])
    }

    /// Copies `src` to `dst` in `multipartcopychunksize` ranges, up to
    /// `multipartcopymaxconcurrency` UploadPartCopy requests in flight.
    fn multipart_copy(&self, op: &str, src: &str, dst: &str, size: u64) -> Result<()> {
        let chunk = self.config.multipart_copy_chunk_size;
        let limit = self
            .config
            .multipart_copy_max_concurrency
            .min(usize::MAX as u64) as usize;
        let upload_id = self.create_upload(op, dst)?;
        let copy_parts = || -> Result<()> {
            let mut requests = Vec::new();
            let mut ranges = Vec::new();
            let mut first = 0u64;
            while first < size {
                let last = (first + chunk).min(size) - 1;
                ranges.push((first, last));
                let number = requests.len() as u32 + 1;
                let mut req = self.requests.upload_part_copy(
                    dst,
                    &upload_id,
                    number,
                    src,
                    Some((first, last)),
                );
                self.stamp(&mut req, &[], 1)?;
                requests.push(req);
                first = last + 1;
            }
            let mut parts = Vec::with_capacity(requests.len());
            for (i, reply) in self
                .transport
                .send_many(&requests, limit)
                .into_iter()
                .enumerate()
            {
                let first: Result<CopyResult> = reply
                    .and_then(|resp| Self::screen(op, resp))
                    .and_then(|resp| self.read_xml(op, resp, "CopyPartResult"));
                // A part that failed in the batch gets the remaining attempts alone.
                let r = match first {
                    Err(e) if retry::retryable(&e) && self.config.retry.max_attempts > 1 => {
                        let unsigned = self.requests.upload_part_copy(
                            dst,
                            &upload_id,
                            i as u32 + 1,
                            src,
                            Some(ranges[i]),
                        );
                        self.exchange(op, &unsigned, &[], 2, |resp| {
                            self.read_xml(op, resp, "CopyPartResult")
                        })?
                    }
                    other => other?,
                };
                parts.push(CompletedPart {
                    number: i as u32 + 1,
                    etag: r.etag,
                });
            }
            self.complete_upload(op, dst, &upload_id, &parts)
        };
        copy_parts().inspect_err(|_| {
            // Unlike the reference, leave no upload behind.
            let _ = self.abort_upload(op, dst, &upload_id);
        })
    }

    /// The redirect for a client's request: CloudFront's signed URL when the
    /// middleware is on (any method), unless the IP filter places the client
    /// inside AWS; otherwise an S3 URL presigned for 20 minutes (GET and HEAD
    /// only; other methods are not redirected). `redirectendpoint` replaces
    /// the S3 URL's scheme and host before signing.
    pub fn redirect_url(&self, request: &RedirectRequest, path: &str) -> Result<Option<String>> {
        path::check(path)?;
        let now = UtcDateTime::now();
        if let Some(cf) = &self.cloudfront
            && !self.inside_aws(cf, request, now)
        {
            return cf.options.signed_url(&self.keys.key(path), now).map(Some);
        }
        // Methods are case-sensitive (RFC 9110), as in the reference.
        let method = match request.method.as_str() {
            "GET" => "GET",
            "HEAD" => "HEAD",
            _ => return Ok(None),
        };
        let mut req = self.requests.head_object(&self.keys.key(path));
        req.method = method;
        if let Some(endpoint) = &self.config.redirect_endpoint {
            let (scheme, host) = endpoint.split_once("://").unwrap_or(("https", endpoint));
            req.secure = scheme.eq_ignore_ascii_case("https");
            req.authority = host.trim_end_matches('/').to_owned();
        }
        Ok(Some(self.signer(now)?.presigned_url(
            now,
            PRESIGN_EXPIRY_SECS,
            &req,
        )))
    }

    /// The whole content of a file, in one GET; a reply cut short is tried
    /// again.
    pub fn get_content(&self, path: &str) -> Result<Vec<u8>> {
        path::check(path)?;
        let op = format!("get-content {path}");
        let req = self.requests.get_object(&self.keys.key(path), 0);
        let content = self.exchange(&op, &req, &[], 1, |mut resp| match resp.status {
            200 | 206 => read_exactly(&mut resp),
            416 => Ok(Vec::new()),
            _ => Err(Self::reply_error(&op, resp)),
        });
        match content {
            Err(Error::Backend(b)) if is_not_found(b.status, &b.code) => Err(Error::PathNotFound {
                path: path.to_owned(),
            }),
            other => other,
        }
    }

    /// Stores `content` with one PutObject.
    pub fn put_content(&self, path: &str, content: &[u8]) -> Result<()> {
        path::check(path)?;
        let op = format!("put-content {path}");
        let req = self
            .requests
            .put_object(&self.keys.key(path), content.len());
        self.call_drain(&op, req, content)
    }

    /// A reader from `offset`; the negative-offset check comes first, as in the reference.
    pub fn reader(&self, path: &str, offset: i64) -> Result<FileReader<T::Body>> {
        self.open_reader(path, offset, "reader")
    }

    fn open_reader(&self, path: &str, offset: i64, what: &str) -> Result<FileReader<T::Body>> {
        if offset < 0 {
            return Err(Error::InvalidOffset {
                path: path.to_owned(),
                offset,
            });
        }
        path::check(path)?;
        let op = format!("{what} {path}");
        let req = self
            .requests
            .get_object(&self.keys.key(path), offset as u64);
        let reader = self.exchange(&op, &req, &[], 1, |resp| match resp.status {
            200 | 206 => Ok(FileReader {
                expected: content_length(&resp),
                received: 0,
                body: Some(resp.body),
            }),
            // InvalidRange: at or past the end (or any offset of an empty object).
            416 => Ok(FileReader {
                body: None,
                expected: None,
                received: 0,
            }),
            _ => Err(Self::reply_error(&op, resp)),
        });
        match reader {
            Err(Error::Backend(b)) if is_not_found(b.status, &b.code) => Err(Error::PathNotFound {
                path: path.to_owned(),
            }),
            other => other,
        }
    }

    /// HEAD first; for a missing key, a listing under `path/` decides whether
    /// it is a directory. Unlike the reference, `/a/b` is not a directory just
    /// because `/a/bc` exists.
    pub fn stat(&self, path: &str) -> Result<FileInfo> {
        path::check_or_root(path)?;
        let op = format!("stat {path}");
        if path != "/" {
            let req = self.requests.head_object(&self.keys.key(path));
            let found = self.exchange(&op, &req, &[], 1, |resp| match resp.status {
                200 => {
                    let size = content_length(&resp).ok_or_else(|| {
                        Error::MalformedResponse(format!("{op}: no Content-Length"))
                    })?;
                    let mod_time = resp
                        .header("last-modified")
                        .and_then(UtcDateTime::parse_http_date);
                    Ok(Some(FileInfo {
                        path: path.to_owned(),
                        size,
                        mod_time,
                        is_dir: false,
                    }))
                }
                404 => Ok(None),
                _ => Err(Self::reply_error(&op, resp)),
            })?;
            if let Some(info) = found {
                return Ok(info);
            }
        }
        let prefix = self.keys.dir_prefix(path);
        let page = self.list_page(
            &op,
            &ListObjects {
                prefix: &prefix,
                max_keys: 1,
                ..Default::default()
            },
        )?;
        if page.contents.is_empty() && page.common_prefixes.is_empty() {
            return Err(Error::PathNotFound {
                path: path.to_owned(),
            });
        }
        Ok(FileInfo {
            path: path.to_owned(),
            size: 0,
            mod_time: None,
            is_dir: true,
        })
    }

    /// Direct children: files first, then directories, as S3 lists them.
    pub fn list(&self, path: &str) -> Result<Vec<String>> {
        path::check_or_root(path)?;
        let op = format!("list {path}");
        let prefix = self.keys.dir_prefix(path);
        let (mut files, mut dirs) = (Vec::new(), Vec::new());
        let mut token: Option<String> = None;
        loop {
            let page = self.list_page(
                &op,
                &ListObjects {
                    prefix: &prefix,
                    delimiter: Some("/"),
                    max_keys: LIST_MAX,
                    continuation_token: token.as_deref(),
                    start_after: None,
                },
            )?;
            // A key equal to the prefix is an empty-directory marker, not a child.
            files.extend(
                page.contents
                    .iter()
                    .filter(|o| o.key != prefix)
                    .map(|o| self.keys.path(&o.key)),
            );
            dirs.extend(
                page.common_prefixes
                    .iter()
                    .map(|p| self.keys.path(p.prefix.trim_end_matches('/'))),
            );
            if !page.is_truncated {
                break;
            }
            token = Some(page.next_continuation_token.ok_or_else(|| {
                Error::MalformedResponse(format!(
                    "{op}: truncated listing without NextContinuationToken"
                ))
            })?);
        }
        if path != "/" && files.is_empty() && dirs.is_empty() {
            return Err(Error::PathNotFound {
                path: path.to_owned(),
            });
        }
        files.extend(dirs);
        Ok(files)
    }

    /// Deletes `path` and everything under `path/`, in batches of at most 1000.
    /// Siblings that share the prefix (`/a/bc`, `/a/b-x`) are skipped, never a
    /// reason to stop. Nothing to delete is `path-not-found`.
    pub fn delete(&self, path: &str) -> Result<()> {
        path::check(path)?;
        let op = format!("delete {path}");
        let key = self.keys.key(path);
        let below = format!("{key}/");
        let mut start_after: Option<String> = None;
        let mut deleted = 0usize;
        loop {
            let page = self.list_page(
                &op,
                &ListObjects {
                    prefix: &key,
                    max_keys: LIST_MAX,
                    start_after: start_after.as_deref(),
                    ..Default::default()
                },
            )?;
            let batch: Vec<String> = page
                .contents
                .iter()
                .filter(|o| o.key == key || o.key.starts_with(&below))
                .map(|o| o.key.clone())
                .collect();
            if !batch.is_empty() {
                self.delete_batch(&op, &batch)?;
                deleted += batch.len();
            }
            match (page.is_truncated, page.contents.last()) {
                (true, Some(last)) => start_after = Some(last.key.clone()),
                _ => break,
            }
        }
        if deleted == 0 {
            return Err(Error::PathNotFound {
                path: path.to_owned(),
            });
        }
        Ok(())
    }

    fn delete_batch(&self, op: &str, keys: &[String]) -> Result<()> {
        let (req, body) = self.requests.delete_objects(keys);
        let result: DeleteResult = self.call_xml(op, req, &body, "DeleteResult")?;
        if let Some(first) = result.errors.first() {
            let detail = result
                .errors
                .iter()
                .map(|e| format!("{}: {} {}", e.key, e.code, e.message))
                .collect::<Vec<_>>()
                .join("; ");
            return Err(Error::Backend(crate::error::BackendError {
                operation: op.to_owned(),
                code: first.code.clone(),
                message: format!(
                    "{} of {} keys not deleted: {detail}",
                    result.errors.len(),
                    keys.len()
                ),
                status: 200,
                request_id: String::new(),
            }));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multipart_etag_is_the_md5_of_the_part_md5s() {
        let part = |number, etag: &str| CompletedPart {
            number,
            etag: etag.into(),
        };
        let parts = [
            part(1, "\"0cc175b9c0f1b6a831c399e269772661\""),
            part(2, "92eb5ffee6ae2fec3ad71c777531578f"),
        ];
        assert_eq!(
            multipart_etag(&parts).as_deref(),
            Some("96e024ba2074fe77e8e965ba43a704be-2")
        );
        // An ETag that is not an MD5 (SSE-KMS) gives no expectation.
        assert_eq!(multipart_etag(&[part(1, "\"abc-1\"")]), None);
    }
}
