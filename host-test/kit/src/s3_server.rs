//! An embedded S3 server for tests, the demo and benchmarks: `s3s` + `s3s-fs`
//! in-process on `127.0.0.1:0`, verifying SigV4 (and SigV2) like a real server.
//!
//! `s3s-fs` lacks what a resumable writer needs, so [`FsWithUploads`] wraps it:
//! ListMultipartUploads (from a registry of open uploads), ListParts sorted by
//! part number with ETags and paginated, `NoSuchUpload` once an upload is
//! completed or aborted, and `NoSuchKey` (not 500) for the key of a directory.
//! It also refuses, before storing anything, a PutObject or UploadPart body
//! that does not match its `Content-MD5` or `x-amz-checksum-*` header, as S3
//! does. Every other operation is forwarded unchanged.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use anyhow::Context as _;
use hyper_util::rt::{TokioExecutor, TokioIo};
use md5::{Digest, Md5};
use s3s::dto::*;
use s3s::service::S3ServiceBuilder;
use s3s::{S3, S3Request, S3Response, S3Result, s3_error};
use tokio::net::TcpListener;

use s3_driver_host::ConfigValue;

use crate::s3_checksums::{Claim, expected};
use crate::s3_key_locks::KeyLocks;

/// Access key of the embedded server when none is given.
pub const DEFAULT_ACCESS_KEY: &str = "AKIAEMBEDDEDEXAMPLE";
/// Secret key of the embedded server when none is given. It doubles as a
/// marker: `.ci/run` fails when it appears anywhere in the test output.
pub const DEFAULT_SECRET_KEY: &str = "embedded/SECRET-MARKER/EXAMPLEKEY";
/// Bucket the embedded server creates.
pub const DEFAULT_BUCKET: &str = "registry";

#[derive(Debug, Clone)]
struct OpenUpload {
    bucket: String,
    key: String,
    upload_id: String,
    /// When CreateMultipartUpload answered (ListMultipartUploads' `Initiated`).
    initiated: std::time::SystemTime,
}

/// Page sizes of the listings the wrapper implements; S3's are 1000. Smaller
/// pages let tests exercise the driver's pagination with a few objects.
#[derive(Debug, Clone, Copy)]
pub struct PageSizes {
    /// Most parts per ListParts page.
    pub parts: i32,
    /// Most uploads per ListMultipartUploads page.
    pub uploads: i32,
}

impl Default for PageSizes {
    fn default() -> Self {
        Self {
            parts: 1000,
            uploads: 1000,
        }
    }
}

/// `s3s_fs::FileSystem` plus the multipart bookkeeping it lacks.
pub struct FsWithUploads {
    fs: s3s_fs::FileSystem,
    root: PathBuf,
    uploads: Mutex<Vec<OpenUpload>>,
    pages: PageSizes,
    locks: KeyLocks,
}

impl FsWithUploads {
    /// Serves the buckets (directories) under `root`.
    pub fn new(root: &Path, pages: PageSizes) -> anyhow::Result<Self> {
        Ok(Self {
            pages,
            fs: s3s_fs::FileSystem::new(root)
                .map_err(|e| anyhow::anyhow!("s3s-fs cannot serve {}: {e:?}", root.display()))?,
            root: root.to_path_buf(),
            uploads: Mutex::new(recorded_uploads(root)),
            locks: KeyLocks::new(),
        })
    }

    fn is_open(&self, upload_id: &str) -> bool {
        self.uploads
            .lock()
            .unwrap()
            .iter()
            .any(|u| u.upload_id == upload_id)
    }

    /// s3s-fs maps keys to files, so the key of a "directory" (`a/b` when
    /// `a/b/c` exists) is a directory on disk, which it answers with 500.
    /// S3 has no such object: it says NoSuchKey.
    fn is_directory(&self, bucket: &str, key: &str) -> bool {
        !key.is_empty() && !key.contains("..") && self.root.join(bucket).join(key).is_dir()
    }

    fn forget(&self, upload_id: &str) {
        self.uploads
            .lock()
            .unwrap()
            .retain(|u| u.upload_id != upload_id);
        self.journal(&serde_json::json!(["-", upload_id]));
    }

    /// Records an upload as open and appends it to [`UPLOADS_JOURNAL`], so a
    /// server started again on the same root lists the uploads S3 would
    /// still have (s3s-fs keeps their parts on disk).
    fn opened(&self, open: OpenUpload) {
        let at = open
            .initiated
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        let line = serde_json::json!([
            "+",
            open.upload_id,
            open.bucket,
            open.key,
            at.as_secs(),
            at.subsec_nanos()
        ]);
        self.uploads.lock().unwrap().push(open);
        self.journal(&line);
    }

    /// Appends one line to the journal (one `write` of a short line, so
    /// concurrent appends do not interleave).
    fn journal(&self, line: &serde_json::Value) {
        use std::io::Write as _;
        let appended = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.root.join(UPLOADS_JOURNAL))
            .and_then(|mut f| f.write_all(format!("{line}\n").as_bytes()));
        if let Err(e) = appended {
            eprintln!("embedded S3: cannot record an upload: {e}");
        }
    }
}

/// `n` characters of `alphabet` (at most 256 long) from the system's
/// random source.
fn random_text(n: usize, alphabet: &[u8]) -> String {
    let mut raw = vec![0u8; n];
    getrandom::fill(&mut raw).expect("the system's random source");
    raw.iter()
        .map(|b| alphabet[*b as usize % alphabet.len()] as char)
        .collect()
}

/// Where the uploads opened and closed are recorded under the server's root.
const UPLOADS_JOURNAL: &str = ".uploads-journal";

/// The open uploads a server on `root` recorded earlier: those opened and
/// not closed since.
fn recorded_uploads(root: &Path) -> Vec<OpenUpload> {
    let Ok(text) = std::fs::read_to_string(root.join(UPLOADS_JOURNAL)) else {
        return Vec::new();
    };
    let mut open: Vec<OpenUpload> = Vec::new();
    for line in text.lines() {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        let text = |i: usize| v.get(i).and_then(|t| t.as_str()).map(str::to_owned);
        match (text(0).as_deref(), text(1)) {
            (Some("-"), Some(id)) => open.retain(|u| u.upload_id != id),
            (Some("+"), Some(upload_id)) => {
                let (Some(bucket), Some(key)) = (text(2), text(3)) else {
                    continue;
                };
                let secs = v.get(4).and_then(|n| n.as_u64()).unwrap_or(0);
                let nanos = v.get(5).and_then(|n| n.as_u64()).unwrap_or(0) as u32;
                open.push(OpenUpload {
                    bucket,
                    key,
                    upload_id,
                    initiated: std::time::UNIX_EPOCH + std::time::Duration::new(secs, nanos),
                });
            }
            _ => {}
        }
    }
    open
}

#[async_trait::async_trait]
impl S3 for FsWithUploads {
    async fn create_bucket(
        &self,
        req: S3Request<CreateBucketInput>,
    ) -> S3Result<S3Response<CreateBucketOutput>> {
        self.fs.create_bucket(req).await
    }
    async fn copy_object(
        &self,
        req: S3Request<CopyObjectInput>,
    ) -> S3Result<S3Response<CopyObjectOutput>> {
        let _w = self.locks.write(&req.input.bucket, &req.input.key).await;
        self.fs.copy_object(req).await
    }
    async fn delete_bucket(
        &self,
        req: S3Request<DeleteBucketInput>,
    ) -> S3Result<S3Response<DeleteBucketOutput>> {
        self.fs.delete_bucket(req).await
    }
    async fn delete_object(
        &self,
        req: S3Request<DeleteObjectInput>,
    ) -> S3Result<S3Response<DeleteObjectOutput>> {
        let _w = self.locks.write(&req.input.bucket, &req.input.key).await;
        self.fs.delete_object(req).await
    }
    async fn delete_objects(
        &self,
        req: S3Request<DeleteObjectsInput>,
    ) -> S3Result<S3Response<DeleteObjectsOutput>> {
        let keys = req.input.delete.objects.iter().map(|o| o.key.as_str());
        let _w = self.locks.write_all(&req.input.bucket, keys).await;
        self.fs.delete_objects(req).await
    }
    async fn get_bucket_location(
        &self,
        req: S3Request<GetBucketLocationInput>,
    ) -> S3Result<S3Response<GetBucketLocationOutput>> {
        self.fs.get_bucket_location(req).await
    }
    async fn get_object(
        &self,
        req: S3Request<GetObjectInput>,
    ) -> S3Result<S3Response<GetObjectOutput>> {
        if self.is_directory(&req.input.bucket, &req.input.key) {
            return Err(s3_error!(NoSuchKey));
        }
        let _r = self.locks.read(&req.input.bucket, &req.input.key).await;
        self.fs.get_object(req).await
    }
    async fn head_bucket(
        &self,
        req: S3Request<HeadBucketInput>,
    ) -> S3Result<S3Response<HeadBucketOutput>> {
        self.fs.head_bucket(req).await
    }
    async fn head_object(
        &self,
        req: S3Request<HeadObjectInput>,
    ) -> S3Result<S3Response<HeadObjectOutput>> {
        if self.is_directory(&req.input.bucket, &req.input.key) {
            return Err(s3_error!(NoSuchKey));
        }
        let _r = self.locks.read(&req.input.bucket, &req.input.key).await;
        self.fs.head_object(req).await
    }
    async fn list_buckets(
        &self,
        req: S3Request<ListBucketsInput>,
    ) -> S3Result<S3Response<ListBucketsOutput>> {
        self.fs.list_buckets(req).await
    }
    async fn list_objects(
        &self,
        req: S3Request<ListObjectsInput>,
    ) -> S3Result<S3Response<ListObjectsOutput>> {
        self.fs.list_objects(req).await
    }
    async fn list_objects_v2(
        &self,
        req: S3Request<ListObjectsV2Input>,
    ) -> S3Result<S3Response<ListObjectsV2Output>> {
        let bucket_root = self.root.join(&req.input.bucket);
        if req.input.delimiter.is_some()
            || req.input.bucket.contains('/')
            || req.input.bucket.contains("..")
            || !bucket_root.is_dir()
        {
            return self.fs.list_objects_v2(req).await;
        }
        crate::s3_listing::list_flat(&bucket_root, &req.input)
            .await
            .map(S3Response::new)
    }
    async fn put_object(
        &self,
        mut req: S3Request<PutObjectInput>,
    ) -> S3Result<S3Response<PutObjectOutput>> {
        let i = &mut req.input;
        let claims = claims(
            &i.content_md5,
            [
                &i.checksum_crc32,
                &i.checksum_crc32c,
                &i.checksum_sha256,
                &i.checksum_crc64nvme,
            ],
        );
        check_integrity(&mut i.body, claims).await?;
        let _w = self.locks.write(&req.input.bucket, &req.input.key).await;
        self.fs.put_object(req).await
    }
    async fn create_multipart_upload(
        &self,
        req: S3Request<CreateMultipartUploadInput>,
    ) -> S3Result<S3Response<CreateMultipartUploadOutput>> {
        let (bucket, key) = (req.input.bucket.clone(), req.input.key.clone());
        let resp = self.fs.create_multipart_upload(req).await?;
        if let Some(id) = &resp.output.upload_id {
            let open = OpenUpload {
                bucket,
                key,
                upload_id: id.clone(),
                initiated: std::time::SystemTime::now(),
            };
            self.opened(open);
        }
        Ok(resp)
    }
    async fn upload_part(
        &self,
        mut req: S3Request<UploadPartInput>,
    ) -> S3Result<S3Response<UploadPartOutput>> {
        if !self.is_open(&req.input.upload_id) {
            return Err(s3_error!(NoSuchUpload));
        }
        let i = &mut req.input;
        let claims = claims(
            &i.content_md5,
            [
                &i.checksum_crc32,
                &i.checksum_crc32c,
                &i.checksum_sha256,
                &i.checksum_crc64nvme,
            ],
        );
        check_integrity(&mut i.body, claims).await?;
        self.fs.upload_part(req).await
    }
    async fn upload_part_copy(
        &self,
        req: S3Request<UploadPartCopyInput>,
    ) -> S3Result<S3Response<UploadPartCopyOutput>> {
        if !self.is_open(&req.input.upload_id) {
            return Err(s3_error!(NoSuchUpload));
        }
        self.fs.upload_part_copy(req).await
    }
    async fn complete_multipart_upload(
        &self,
        req: S3Request<CompleteMultipartUploadInput>,
    ) -> S3Result<S3Response<CompleteMultipartUploadOutput>> {
        let id = req.input.upload_id.clone();
        if !self.is_open(&id) {
            return Err(s3_error!(NoSuchUpload));
        }
        let resp = {
            let _w = self.locks.write(&req.input.bucket, &req.input.key).await;
            self.fs.complete_multipart_upload(req).await?
        };
        self.forget(&id);
        Ok(resp)
    }
    async fn abort_multipart_upload(
        &self,
        req: S3Request<AbortMultipartUploadInput>,
    ) -> S3Result<S3Response<AbortMultipartUploadOutput>> {
        let id = req.input.upload_id.clone();
        if !self.is_open(&id) {
            return Err(s3_error!(NoSuchUpload));
        }
        let resp = self.fs.abort_multipart_upload(req).await?;
        self.forget(&id);
        Ok(resp)
    }

    /// Sorted by part number, with the MD5 ETags s3s-fs leaves out, paginated.
    async fn list_parts(
        &self,
        req: S3Request<ListPartsInput>,
    ) -> S3Result<S3Response<ListPartsOutput>> {
        let input = &req.input;
        if !self.is_open(&input.upload_id) {
            return Err(s3_error!(NoSuchUpload));
        }
        let marker = input.part_number_marker.unwrap_or(0);
        let max = input
            .max_parts
            .unwrap_or(self.pages.parts)
            .clamp(1, self.pages.parts);
        let prefix = format!(".upload_id-{}.part-", input.upload_id);
        let mut numbers = Vec::new();
        let mut dir = tokio::fs::read_dir(&self.root)
            .await
            .map_err(|e| s3_error!(e, InternalError))?;
        while let Some(entry) = dir
            .next_entry()
            .await
            .map_err(|e| s3_error!(e, InternalError))?
        {
            let name = entry.file_name();
            let Some(n) = name
                .to_str()
                .and_then(|n| n.strip_prefix(&prefix))
                .and_then(|n| n.parse::<i32>().ok())
            else {
                continue;
            };
            if n > marker {
                numbers.push(n);
            }
        }
        numbers.sort_unstable();
        let truncated = numbers.len() > max as usize;
        numbers.truncate(max as usize);
        let mut parts = Vec::with_capacity(numbers.len());
        for n in &numbers {
            let path = self.root.join(format!("{prefix}{n}"));
            let data = tokio::fs::read(&path)
                .await
                .map_err(|e| s3_error!(e, InternalError))?;
            parts.push(Part {
                part_number: Some(*n),
                size: Some(data.len() as i64),
                e_tag: Some(ETag::Strong(hex::encode(Md5::digest(&data)))),
                ..Default::default()
            });
        }
        Ok(S3Response::new(ListPartsOutput {
            bucket: Some(input.bucket.clone()),
            key: Some(input.key.clone()),
            upload_id: Some(input.upload_id.clone()),
            part_number_marker: input.part_number_marker,
            next_part_number_marker: truncated.then(|| *numbers.last().unwrap()),
            max_parts: Some(max),
            is_truncated: Some(truncated),
            parts: Some(parts),
            ..Default::default()
        }))
    }

    /// Open uploads under the prefix, ordered by key then id, paginated with
    /// both markers as S3 does.
    async fn list_multipart_uploads(
        &self,
        req: S3Request<ListMultipartUploadsInput>,
    ) -> S3Result<S3Response<ListMultipartUploadsOutput>> {
        let input = &req.input;
        let prefix = input.prefix.clone().unwrap_or_default();
        let max = input
            .max_uploads
            .unwrap_or(self.pages.uploads)
            .clamp(1, self.pages.uploads) as usize;
        let key_marker = input.key_marker.clone();
        let id_marker = input.upload_id_marker.clone();
        let mut open: Vec<OpenUpload> = self
            .uploads
            .lock()
            .unwrap()
            .iter()
            .filter(|u| u.bucket == input.bucket && u.key.starts_with(&prefix))
            .cloned()
            .collect();
        open.sort_by(|a, b| (&a.key, &a.upload_id).cmp(&(&b.key, &b.upload_id)));
        open.retain(|u| match (&key_marker, &id_marker) {
            (None, _) => true,
            (Some(k), None) => u.key > *k,
            (Some(k), Some(id)) => u.key > *k || (u.key == *k && u.upload_id > *id),
        });
        let truncated = open.len() > max;
        open.truncate(max);
        let last = open.last().cloned();
        Ok(S3Response::new(ListMultipartUploadsOutput {
            bucket: Some(input.bucket.clone()),
            prefix: input.prefix.clone(),
            key_marker,
            upload_id_marker: id_marker,
            is_truncated: Some(truncated),
            next_key_marker: last.as_ref().filter(|_| truncated).map(|u| u.key.clone()),
            next_upload_id_marker: last.filter(|_| truncated).map(|u| u.upload_id),
            uploads: Some(
                open.into_iter()
                    .map(|u| MultipartUpload {
                        key: Some(u.key),
                        upload_id: Some(u.upload_id),
                        initiated: Some(u.initiated.into()),
                        ..Default::default()
                    })
                    .collect(),
            ),
            ..Default::default()
        }))
    }
}

/// A request's integrity claims: `Content-MD5` and the `x-amz-checksum-*`
/// values (CRC32, CRC32C, SHA-256, CRC64/NVME).
fn claims(md5: &Option<String>, amz: [&Option<String>; 4]) -> [(Claim, Option<String>); 5] {
    use Claim as A;
    [
        (A::Md5, md5.clone()),
        (A::Crc32, amz[0].clone()),
        (A::Crc32c, amz[1].clone()),
        (A::Sha256, amz[2].clone()),
        (A::Crc64Nvme, amz[3].clone()),
    ]
}

/// Refuses a body that does not match its integrity claims before anything
/// is stored, as S3 does (s3s-fs checks PutObject's only after writing the
/// file, and UploadPart's not at all). The body is read whole: objects and
/// parts are a few MiB here.
async fn check_integrity(
    body: &mut Option<StreamingBlob>,
    claims: [(Claim, Option<String>); 5],
) -> S3Result<()> {
    use futures::TryStreamExt as _;
    if claims.iter().all(|(_, v)| v.is_none()) {
        return Ok(());
    }
    let Some(blob) = body.take() else {
        return Ok(());
    };
    let chunks: Vec<bytes::Bytes> = blob
        .try_collect()
        .await
        .map_err(|e| s3_error!(IncompleteBody, "{e}"))?;
    let whole = chunks.concat();
    for (algorithm, claimed) in claims {
        let Some(claimed) = claimed else { continue };
        if expected(algorithm, &whole) != claimed {
            return Err(s3_error!(
                BadDigest,
                "the {algorithm:?} you specified did not match the calculated checksum"
            ));
        }
    }
    *body = Some(StreamingBlob::from(s3s::Body::from(whole)));
    Ok(())
}

/// A running embedded server. Stops when dropped.
pub struct EmbeddedS3 {
    addr: SocketAddr,
    secure: bool,
    access_key: String,
    secret_key: String,
    bucket: String,
    root: PathBuf,
    _temp: Option<tempfile::TempDir>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for EmbeddedS3 {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl EmbeddedS3 {
    /// Starts a server with the default keys and bucket on a temporary directory.
    pub async fn start_temp() -> anyhow::Result<Self> {
        Self::start_temp_with(PageSizes::default()).await
    }

    /// Like [`EmbeddedS3::start_temp`], with listing page sizes of its own.
    pub async fn start_temp_with(pages: PageSizes) -> anyhow::Result<Self> {
        let dir = tempfile::Builder::new()
            .prefix("s3-driver-embedded-")
            .tempdir()?;
        let mut s = Self::start_with(
            dir.path(),
            DEFAULT_ACCESS_KEY,
            DEFAULT_SECRET_KEY,
            DEFAULT_BUCKET,
            pages,
        )
        .await?;
        s._temp = Some(dir);
        Ok(s)
    }

    /// Starts a server for this process alone: keys drawn at random for
    /// this run (held in memory only, never written or logged), on `root`
    /// (created readable by its owner only) or a temporary directory. Any
    /// other local process can reach the port, but without the keys it can
    /// neither read nor write.
    pub async fn start_private(root: Option<&Path>) -> anyhow::Result<Self> {
        let access = format!(
            "AKIA{}",
            random_text(16, b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
        );
        let secret = random_text(
            40,
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/",
        );
        match root {
            Some(root) => {
                std::fs::create_dir_all(root)
                    .with_context(|| format!("creating {}", root.display()))?;
                #[cfg(unix)]
                {
                    use std::os::unix::fs::PermissionsExt as _;
                    std::fs::set_permissions(root, std::fs::Permissions::from_mode(0o700))
                        .with_context(|| format!("restricting {}", root.display()))?;
                }
                Self::start(root, &access, &secret, DEFAULT_BUCKET).await
            }
            None => {
                // tempfile creates its directories readable by the owner only.
                let dir = tempfile::Builder::new()
                    .prefix("s3-driver-embedded-")
                    .tempdir()?;
                let mut s = Self::start(dir.path(), &access, &secret, DEFAULT_BUCKET).await?;
                s._temp = Some(dir);
                Ok(s)
            }
        }
    }

    /// Starts a server storing buckets under `root`, creating `bucket`.
    pub async fn start(
        root: &Path,
        access_key: &str,
        secret_key: &str,
        bucket: &str,
    ) -> anyhow::Result<Self> {
        Self::start_with(root, access_key, secret_key, bucket, PageSizes::default()).await
    }

    /// Starts a temporary server speaking HTTPS with this certificate chain
    /// and key (PEM).
    pub async fn start_temp_tls(cert_pem: &str, key_pem: &str) -> anyhow::Result<Self> {
        use rustls::pki_types::pem::PemObject;
        use rustls::pki_types::{CertificateDer, PrivateKeyDer};
        let certs =
            CertificateDer::pem_slice_iter(cert_pem.as_bytes()).collect::<Result<Vec<_>, _>>()?;
        let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes())?;
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(certs, key)?;
        let dir = tempfile::Builder::new()
            .prefix("s3-driver-embedded-tls-")
            .tempdir()?;
        let mut s = Self::serve(
            dir.path(),
            DEFAULT_ACCESS_KEY,
            DEFAULT_SECRET_KEY,
            DEFAULT_BUCKET,
            PageSizes::default(),
            Some(tokio_rustls::TlsAcceptor::from(Arc::new(config))),
        )
        .await?;
        s._temp = Some(dir);
        Ok(s)
    }

    /// Like [`EmbeddedS3::start`], with listing page sizes of its own.
    pub async fn start_with(
        root: &Path,
        access_key: &str,
        secret_key: &str,
        bucket: &str,
        pages: PageSizes,
    ) -> anyhow::Result<Self> {
        Self::serve(root, access_key, secret_key, bucket, pages, None).await
    }

    async fn serve(
        root: &Path,
        access_key: &str,
        secret_key: &str,
        bucket: &str,
        pages: PageSizes,
        tls: Option<tokio_rustls::TlsAcceptor>,
    ) -> anyhow::Result<Self> {
        std::fs::create_dir_all(root.join(bucket)).context("creating the bucket directory")?;
        let mut builder = S3ServiceBuilder::new(FsWithUploads::new(root, pages)?);
        builder.set_auth(s3s::auth::SimpleAuth::from_single(access_key, secret_key));
        let service = builder.build();
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let secure = tls.is_some();
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let _ = stream.set_nodelay(true);
                let svc = service.clone();
                let tls = tls.clone();
                tokio::spawn(async move {
                    let builder =
                        hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
                    match tls {
                        None => {
                            let _ = builder.serve_connection(TokioIo::new(stream), svc).await;
                        }
                        Some(acceptor) => {
                            if let Ok(stream) = acceptor.accept(stream).await {
                                let _ = builder.serve_connection(TokioIo::new(stream), svc).await;
                            }
                        }
                    }
                });
            }
        });
        Ok(Self {
            addr,
            secure,
            access_key: access_key.to_owned(),
            secret_key: secret_key.to_owned(),
            bucket: bucket.to_owned(),
            root: root.to_path_buf(),
            _temp: None,
            task,
        })
    }

    /// `http://127.0.0.1:PORT` (`https://` in TLS mode).
    pub fn endpoint(&self) -> String {
        let scheme = if self.secure { "https" } else { "http" };
        format!("{scheme}://{}", self.addr)
    }

    /// The directory holding the buckets (a bucket is a directory, an object a file).
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The access key.
    pub fn access_key(&self) -> &str {
        &self.access_key
    }

    /// The bucket.
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// A `storage: s3:` parameter block that reaches this server.
    pub fn params(&self) -> Vec<(String, ConfigValue)> {
        let t = |s: &str| ConfigValue::Text(s.to_owned());
        vec![
            ("accesskey".into(), t(&self.access_key)),
            ("secretkey".into(), t(&self.secret_key)),
            ("region".into(), t("us-east-1")),
            ("regionendpoint".into(), t(&self.endpoint())),
            ("bucket".into(), t(&self.bucket)),
            ("forcepathstyle".into(), ConfigValue::Boolean(true)),
            ("secure".into(), ConfigValue::Boolean(self.secure)),
        ]
    }

    /// The objects stored, as `(key, size)`, for checks that bypass the driver.
    pub fn objects(&self) -> Vec<(String, u64)> {
        let base = self.root.join(&self.bucket);
        let mut out = Vec::new();
        let mut stack = vec![base.clone()];
        while let Some(dir) = stack.pop() {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for e in entries.flatten() {
                let p = e.path();
                let name = e.file_name().to_string_lossy().into_owned();
                if name.starts_with(".") {
                    continue;
                }
                if p.is_dir() {
                    stack.push(p);
                } else if let Ok(rel) = p.strip_prefix(&base) {
                    let len = e.metadata().map(|m| m.len()).unwrap_or(0);
                    out.push((rel.to_string_lossy().into_owned(), len));
                }
            }
        }
        out.sort();
        out
    }
}
