//! Raw S3 requests from the host, built by the component's own sans-IO core
//! (`s3_storage_driver`'s request builders), signed by AWS's `aws-sigv4`
//! (never the driver's signer, so the two are checked against each other by
//! every server that verifies them), sent with hyper. For what the
//! storage-driver contract cannot express: creating the bucket on a fresh
//! server, planting an empty-directory marker, reading a storage-class header,
//! counting leftover multipart uploads.

use anyhow::{Context as _, bail};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use s3_storage_driver::config::Config;
use s3_storage_driver::s3::endpoint::Endpoint;
use s3_storage_driver::s3::request::Requests;
use s3_storage_driver::s3::xml::{ListMultipartUploadsResult, parse};
use s3_storage_driver::transport::Request;

use crate::core_params;
use s3_driver_host::ConfigValue;

/// A reply: status, headers, body.
pub struct RawReply {
    /// HTTP status.
    pub status: u16,
    /// Headers.
    pub headers: http::HeaderMap,
    /// Body.
    pub body: Bytes,
}

impl RawReply {
    /// A header as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// The text of parameter `key` (the last one given), empty when absent.
fn param(params: &[(String, ConfigValue)], key: &str) -> String {
    params
        .iter()
        .rev()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, v)| match v {
            ConfigValue::Text(s) => s.clone(),
            _ => String::new(),
        })
        .unwrap_or_default()
}

/// A native S3 client for one bucket.
pub struct RawS3 {
    /// HTTP requests sent so far (every exchange, counted as it goes out).
    sent: std::sync::atomic::AtomicU64,
    requests: Requests,
    endpoint: Endpoint,
    identity: aws_smithy_runtime_api::client::identity::Identity,
    region: String,
    client: Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>,
}

impl RawS3 {
    /// A client for the bucket a `storage: s3:` block names (static keys only).
    pub fn from_params(params: &[(String, ConfigValue)]) -> anyhow::Result<Self> {
        let cfg = Config::from_params(&core_params(params)).map_err(|e| anyhow::anyhow!("{e}"))?;
        if cfg.credentials.is_empty() {
            bail!("raw S3 access needs accesskey and secretkey in the configuration");
        }
        let endpoint = Endpoint::from_config(&cfg).map_err(|e| anyhow::anyhow!("{e}"))?;
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_webpki_roots()
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        Ok(Self {
            sent: Default::default(),
            requests: Requests::new(endpoint.clone(), &cfg),
            identity: aws_credential_types::Credentials::new(
                param(params, "accesskey"),
                param(params, "secretkey"),
                Some(param(params, "sessiontoken")).filter(|t| !t.is_empty()),
                None,
                "storage: s3:",
            )
            .into(),
            region: cfg.region.clone(),
            endpoint,
            client: Client::builder(TokioExecutor::new()).build(connector),
        })
    }

    /// How many HTTP requests this client has sent.
    pub fn sent(&self) -> u64 {
        self.sent.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The request builders.
    pub fn requests(&self) -> &Requests {
        &self.requests
    }

    /// Signs and sends a request, reading the whole reply.
    pub async fn send(&self, req: Request, body: &[u8]) -> anyhow::Result<RawReply> {
        let mut builder = http::Request::builder().method(req.method).uri(req.url());
        for (k, v) in &req.headers {
            builder = builder.header(k, v);
        }
        let mut request = builder.body(Full::new(Bytes::copy_from_slice(body)))?;
        self.sign(&mut request, body)?;
        self.exchange(request).await.context("raw S3 request")
    }

    /// Signs `request` as S3 wants it: the path encoded once and not
    /// normalised, the payload's SHA-256 in `x-amz-content-sha256`.
    fn sign(&self, request: &mut http::Request<Full<Bytes>>, body: &[u8]) -> anyhow::Result<()> {
        use aws_sigv4::http_request::{
            PayloadChecksumKind, PercentEncodingMode, SignableBody, SignableRequest,
            SigningSettings, UriPathNormalizationMode, sign,
        };
        let mut settings = SigningSettings::default();
        settings.percent_encoding_mode = PercentEncodingMode::Single;
        settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
        settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
        let params = aws_sigv4::sign::v4::SigningParams::builder()
            .identity(&self.identity)
            .region(&self.region)
            .name("s3")
            .time(std::time::SystemTime::now())
            .settings(settings)
            .build()?
            .into();
        let headers: Vec<(String, String)> = request
            .headers()
            .iter()
            .map(|(k, v)| Ok((k.as_str().to_owned(), v.to_str()?.to_owned())))
            .collect::<anyhow::Result<_>>()?;
        let uri = request.uri().to_string();
        let signable = SignableRequest::new(
            request.method().as_str(),
            &uri,
            headers.iter().map(|(k, v)| (k.as_str(), v.as_str())),
            SignableBody::Bytes(body),
        )?;
        let (instructions, _) = sign(signable, &params)?.into_parts();
        instructions.apply_to_request_http1x(request);
        Ok(())
    }

    async fn exchange(&self, request: http::Request<Full<Bytes>>) -> anyhow::Result<RawReply> {
        self.sent.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let resp = self.client.request(request).await?;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let body = resp.into_body().collect().await?.to_bytes();
        Ok(RawReply {
            status,
            headers,
            body,
        })
    }

    /// An unsigned request to a URL (a presigned one, for instance).
    pub async fn fetch(&self, method: &str, url: &str) -> anyhow::Result<RawReply> {
        let request = http::Request::builder()
            .method(method)
            .uri(url)
            .body(Full::new(Bytes::new()))?;
        self.exchange(request).await.context("fetching the URL")
    }

    /// Creates the bucket; an existing bucket of ours is fine.
    pub async fn create_bucket(&self) -> anyhow::Result<()> {
        let (authority, path) = self.endpoint.bucket();
        let req = Request {
            method: "PUT",
            secure: self.endpoint.secure,
            authority,
            path,
            query: vec![],
            headers: vec![("content-length".into(), "0".into())],
        };
        let r = self.send(req, &[]).await?;
        let body = String::from_utf8_lossy(&r.body);
        if r.status == 200 || body.contains("BucketAlreadyOwnedByYou") {
            Ok(())
        } else {
            bail!("creating the bucket: HTTP {}: {body}", r.status)
        }
    }

    /// PutObject of `body` at `key`, with the configuration's write headers.
    pub async fn put(&self, key: &str, body: &[u8]) -> anyhow::Result<RawReply> {
        self.send(self.requests.put_object(key, body), body).await
    }

    /// GetObject of a whole key.
    pub async fn get(&self, key: &str) -> anyhow::Result<RawReply> {
        self.send(self.requests.get_object(key, 0), &[]).await
    }

    /// Open multipart uploads under `prefix`, as `(key, upload id)`.
    pub async fn uploads(&self, prefix: &str) -> anyhow::Result<Vec<(String, String)>> {
        let mut out = Vec::new();
        let (mut key_marker, mut id_marker): (Option<String>, Option<String>) = (None, None);
        loop {
            let r = self
                .send(
                    self.requests.list_multipart_uploads(
                        prefix,
                        key_marker.as_deref(),
                        id_marker.as_deref(),
                    ),
                    &[],
                )
                .await?;
            if r.status != 200 {
                bail!("ListMultipartUploads: HTTP {}", r.status);
            }
            let page: ListMultipartUploadsResult =
                parse(&r.body, "ListMultipartUploadsResult", "uploads")
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
            out.extend(page.uploads.into_iter().map(|u| (u.key, u.upload_id)));
            if !page.is_truncated {
                return Ok(out);
            }
            key_marker = page.next_key_marker;
            id_marker = page.next_upload_id_marker;
        }
    }

    /// Aborts every open upload under `prefix`; returns how many there were.
    pub async fn abort_uploads(&self, prefix: &str) -> anyhow::Result<usize> {
        let uploads = self.uploads(prefix).await?;
        for (key, id) in &uploads {
            self.send(self.requests.abort_multipart_upload(key, id), &[])
                .await?;
        }
        Ok(uploads.len())
    }
}
