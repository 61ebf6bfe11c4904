//! The storage-driver semantics of the reference S3 driver, over any
//! [`Transport`]: path checks, key mapping, request building, signing and reply
//! interpretation. No I/O of its own.

use crate::config::{Config, Value};
use crate::error::{Error, Result};
use crate::path::{self, KeyMapper};
use crate::s3::endpoint::Endpoint;
use crate::s3::error::{from_reply, is_not_found};
use crate::s3::request::{ListObjects, Requests};
use crate::s3::xml::{self, DeleteResult, ListBucketResult};
use crate::sign::Credentials;
use crate::sign::v4::{CanonicalInput, Signer, UNSIGNED_PAYLOAD, sha256_hex};
use crate::time::UtcDateTime;
use crate::transport::{Body, Request, Response, Transport};

/// The driver's name, as the reference registers it and puts in every error.
pub const NAME: &str = "s3aws";
/// S3's page size and the most keys one DeleteObjects takes.
pub const LIST_MAX: u32 = 1000;
/// Error replies are small; anything bigger is not an S3 error body.
const ERROR_BODY_LIMIT: usize = 64 * 1024;
/// XML replies (listings of 1000 keys) stay well below this.
const XML_BODY_LIMIT: usize = 16 << 20;

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

/// A streamed object body; `None` when the offset was at or past the end.
pub struct FileReader<B> {
    body: Option<B>,
}

impl<B: Body> FileReader<B> {
    /// Up to `max` next bytes; empty at the end.
    pub fn read(&mut self, max: usize) -> Result<Vec<u8>> {
        match &mut self.body {
            None => Ok(Vec::new()),
            Some(b) => {
                let chunk = b.read(max.max(1))?;
                if chunk.is_empty() {
                    self.body = None;
                }
                Ok(chunk)
            }
        }
    }
}

/// The S3 storage driver.
pub struct S3Driver<T: Transport> {
    config: Config,
    keys: KeyMapper,
    requests: Requests,
    signer: Signer,
    transport: T,
}

/// Static keys from the configuration, else the standard AWS environment variables.
fn resolve_credentials(configured: &Credentials) -> Result<Credentials> {
    if !configured.is_empty() {
        return Ok(configured.clone());
    }
    let var = |n: &str| std::env::var(n).ok().filter(|v| !v.is_empty());
    match (var("AWS_ACCESS_KEY_ID"), var("AWS_SECRET_ACCESS_KEY")) {
        (Some(ak), Some(sk)) => Ok(Credentials::new(ak, sk, var("AWS_SESSION_TOKEN"))),
        _ => Err(Error::InvalidConfig(
            "no credentials: set accesskey and secretkey, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the environment the host grants".into(),
        )),
    }
}

impl<T: Transport> S3Driver<T> {
    /// Opens a driver from `storage: s3:` parameters. Sends nothing.
    pub fn open(params: &[(String, Value)], transport: T) -> Result<Self> {
        let config = Config::from_params(params)?;
        let credentials = resolve_credentials(&config.credentials)?;
        let endpoint = Endpoint::from_config(&config)?;
        Ok(Self {
            keys: KeyMapper::new(&config.root_directory),
            requests: Requests::new(endpoint, &config),
            signer: Signer::new(credentials, &config.region, "s3"),
            config,
            transport,
        })
    }

    /// The parsed configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Signs with SigV4. Over TLS the body is not hashed (`UNSIGNED-PAYLOAD`):
    /// TLS already protects it and SHA-256 in wasm costs ~1.6 ms/MB. Over plain
    /// HTTP the body hash is signed so a changed byte is refused by the server.
    fn sign(&self, req: &mut Request, body: &[u8]) {
        let at = UtcDateTime::now();
        let payload = if req.secure {
            UNSIGNED_PAYLOAD.to_owned()
        } else {
            sha256_hex(body)
        };
        req.header("x-amz-date", at.amz_date());
        req.header("x-amz-content-sha256", payload.clone());
        if let Some(token) = self.signer.credentials().session_token() {
            req.header("x-amz-security-token", token);
        }
        // Sign everything we send except what proxies may rewrite.
        let mut signed = vec![("host".to_owned(), req.authority.clone())];
        signed.extend(
            req.headers
                .iter()
                .filter(|(k, _)| k != "user-agent" && k != "content-length")
                .cloned(),
        );
        let auth = self.signer.authorize(
            at,
            &CanonicalInput {
                method: req.method,
                path: &req.path,
                query: &req.query,
                headers: &signed,
                payload_hash: &payload,
            },
        );
        req.header("authorization", auth.authorization);
    }

    /// Signs and sends; any status is returned as is.
    fn send(&self, mut req: Request, body: &[u8]) -> Result<Response<T::Body>> {
        self.sign(&mut req, body);
        self.transport.send(&req, body)
    }

    /// Turns an error reply into the driver's error, reading its body.
    fn reply_error(op: &str, mut resp: Response<T::Body>) -> Error {
        let body = resp.body.read_to_end(ERROR_BODY_LIMIT).unwrap_or_default();
        from_reply(op, resp.status, resp.header("x-amz-request-id"), &body)
    }

    /// Sends and fails on any status outside 2xx.
    fn call(&self, op: &str, req: Request, body: &[u8]) -> Result<Response<T::Body>> {
        let resp = self.send(req, body)?;
        if (200..300).contains(&resp.status) {
            Ok(resp)
        } else {
            Err(Self::reply_error(op, resp))
        }
    }

    /// Sends and parses a 2xx XML reply rooted at `root`. S3 may answer 200
    /// with an `<Error>` body (CompleteMultipartUpload); that is an error too.
    fn call_xml<R: serde::de::DeserializeOwned>(
        &self,
        op: &str,
        req: Request,
        body: &[u8],
        root: &str,
    ) -> Result<R> {
        let mut resp = self.call(op, req, body)?;
        let bytes = resp.body.read_to_end(XML_BODY_LIMIT)?;
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

    /// Sends and discards a 2xx reply's body.
    fn call_drain(&self, op: &str, req: Request, body: &[u8]) -> Result<()> {
        let mut resp = self.call(op, req, body)?;
        resp.body.read_to_end(XML_BODY_LIMIT)?;
        Ok(())
    }

    fn list_page(&self, op: &str, p: &ListObjects<'_>) -> Result<ListBucketResult> {
        self.call_xml(
            op,
            self.requests.list_objects_v2(p),
            &[],
            "ListBucketResult",
        )
    }

    /// The whole content of a file.
    pub fn get_content(&self, path: &str) -> Result<Vec<u8>> {
        let mut r = self.open_reader(path, 0, "get-content")?;
        let mut out = Vec::new();
        loop {
            let chunk = r.read(1 << 20)?;
            if chunk.is_empty() {
                return Ok(out);
            }
            out.extend_from_slice(&chunk);
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
        let resp = self.send(
            self.requests
                .get_object(&self.keys.key(path), offset as u64),
            &[],
        )?;
        match resp.status {
            200 | 206 => Ok(FileReader {
                body: Some(resp.body),
            }),
            // InvalidRange: at or past the end (or any offset of an empty object).
            416 => Ok(FileReader { body: None }),
            _ => match Self::reply_error(&op, resp) {
                Error::Backend(b) if is_not_found(b.status, &b.code) => Err(Error::PathNotFound {
                    path: path.to_owned(),
                }),
                e => Err(e),
            },
        }
    }

    /// HEAD first; for a missing key, a listing under `path/` decides whether
    /// it is a directory. Unlike the reference, `/a/b` is not a directory just
    /// because `/a/bc` exists.
    pub fn stat(&self, path: &str) -> Result<FileInfo> {
        path::check_or_root(path)?;
        let op = format!("stat {path}");
        if path != "/" {
            let resp = self.send(self.requests.head_object(&self.keys.key(path)), &[])?;
            match resp.status {
                200 => {
                    let size = resp
                        .header("content-length")
                        .and_then(|v| v.trim().parse().ok())
                        .ok_or_else(|| {
                            Error::MalformedResponse(format!("{op}: no Content-Length"))
                        })?;
                    let mod_time = resp
                        .header("last-modified")
                        .and_then(UtcDateTime::parse_http_date);
                    return Ok(FileInfo {
                        path: path.to_owned(),
                        size,
                        mod_time,
                        is_dir: false,
                    });
                }
                404 => {}
                _ => return Err(Self::reply_error(&op, resp)),
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
