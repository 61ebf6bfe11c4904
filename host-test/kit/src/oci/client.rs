//! An OCI Distribution client over plain HTTP: every request the API has,
//! with the push and pull flows built on them. Redirects (a registry's 307
//! to a presigned S3 or CloudFront URL) are followed for reads.

use std::io;

use anyhow::{Context as _, bail};
use base64::Engine as _;
use bytes::Bytes;
use futures::StreamExt as _;
use http::{Method, Request, StatusCode, header};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::Frame;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use sha2::{Digest as _, Sha256};

use super::image::{Image, Layer, sha256};

type Body = UnsyncBoxBody<Bytes, io::Error>;

/// A reply with its whole body.
#[derive(Debug, Clone)]
pub struct Reply {
    /// Status.
    pub status: StatusCode,
    /// Headers.
    pub headers: http::HeaderMap,
    /// Body.
    pub body: Bytes,
}

impl Reply {
    /// A header as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }

    /// The first error code of an error body.
    pub fn code(&self) -> String {
        self.json()["errors"][0]["code"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    fn expect(self, want: StatusCode, what: &str) -> anyhow::Result<Self> {
        if self.status != want {
            bail!(
                "{what}: HTTP {} (wanted {want}): {}",
                self.status,
                String::from_utf8_lossy(&self.body)
            );
        }
        Ok(self)
    }
}

/// A body from bytes.
pub fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into())
        .map_err(|never| match never {})
        .boxed_unsync()
}

fn layer_body(layer: &Layer) -> Body {
    let stream = futures::stream::iter(layer.pieces()).map(|b| Ok::<_, io::Error>(Frame::data(b)));
    StreamBody::new(stream).boxed_unsync()
}

/// A client of one registry.
#[derive(Clone)]
pub struct OciClient {
    base: String,
    basic: Option<String>,
    client: Client<HttpsConnector<HttpConnector>, Body>,
}

fn connector(extra_ca_pem: Option<&str>) -> anyhow::Result<HttpsConnector<HttpConnector>> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let mut http = HttpConnector::new();
    http.set_nodelay(true);
    http.enforce_http(false);
    let mut roots = rustls::RootCertStore::empty();
    if let Some(pem) = extra_ca_pem {
        for cert in CertificateDer::pem_slice_iter(pem.as_bytes()) {
            roots.add(cert?)?;
        }
    }
    let tls = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()?
    .with_root_certificates(roots)
    .with_no_client_auth();
    Ok(hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http()
        .enable_http1()
        .wrap_connector(http))
}

impl OciClient {
    /// A client of the registry at `base` (`http://127.0.0.1:5000`).
    pub fn new(base: &str) -> Self {
        Self::with_ca(base, None).expect("no certificate to read")
    }

    /// A client that also follows redirects to HTTPS servers whose
    /// certificate chains to `ca_pem` (a test CA).
    pub fn with_ca(base: &str, ca_pem: Option<&str>) -> anyhow::Result<Self> {
        Ok(Self {
            base: base.trim_end_matches('/').to_owned(),
            basic: None,
            client: Client::builder(TokioExecutor::new()).build(connector(ca_pem)?),
        })
    }

    /// The same client sending Basic credentials.
    pub fn with_basic(mut self, user: &str, password: &str) -> Self {
        let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        self.basic = Some(format!("Basic {token}"));
        self
    }

    /// The registry's base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// Sends one request to `target` (a path on the registry, or an
    /// absolute URL) and reads the whole reply.
    pub async fn send(
        &self,
        method: Method,
        target: &str,
        headers: &[(&str, &str)],
        body: Body,
    ) -> anyhow::Result<Reply> {
        let url = if target.starts_with("http://") || target.starts_with("https://") {
            target.to_owned()
        } else {
            format!("{}{target}", self.base)
        };
        let same_host = url.starts_with(&self.base);
        let mut b = Request::builder().method(method.clone()).uri(&url);
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        if same_host && let Some(auth) = &self.basic {
            b = b.header(header::AUTHORIZATION, auth);
        }
        let resp = self
            .client
            .request(b.body(body)?)
            .await
            .with_context(|| format!("{method} {url}"))?;
        let (parts, body) = resp.into_parts();
        let body = body
            .collect()
            .await
            .context("reading the reply")?
            .to_bytes();
        Ok(Reply {
            status: parts.status,
            headers: parts.headers,
            body,
        })
    }

    /// `GET` (or `HEAD`) following redirects, as a pulling client does.
    pub async fn get(
        &self,
        method: Method,
        target: &str,
        headers: &[(&str, &str)],
    ) -> anyhow::Result<Reply> {
        let mut target = target.to_owned();
        for _ in 0..5 {
            let r = self
                .send(method.clone(), &target, headers, full(Bytes::new()))
                .await?;
            if !r.status.is_redirection() {
                return Ok(r);
            }
            target = r
                .header("location")
                .context("a redirect without Location")?
                .to_owned();
        }
        bail!("too many redirects")
    }

    /// Starts an upload session; its Location.
    pub async fn start_upload(&self, repo: &str) -> anyhow::Result<String> {
        let r = self
            .send(
                Method::POST,
                &format!("/v2/{repo}/blobs/uploads/"),
                &[("content-length", "0")],
                full(Bytes::new()),
            )
            .await?
            .expect(StatusCode::ACCEPTED, "start upload")?;
        Ok(r.header("location").context("no Location")?.to_owned())
    }

    /// `location` with `?digest=` (or `&digest=`) appended.
    pub fn with_digest(location: &str, digest: &str) -> String {
        let sep = if location.contains('?') { '&' } else { '?' };
        format!("{location}{sep}digest={digest}")
    }

    /// Pushes bytes as a blob: a session, then one `PUT` with the content.
    pub async fn push_blob(&self, repo: &str, bytes: &[u8]) -> anyhow::Result<String> {
        let d = sha256(bytes);
        let loc = self.start_upload(repo).await?;
        let len = bytes.len().to_string();
        self.send(
            Method::PUT,
            &Self::with_digest(&loc, &d),
            &[
                ("content-type", "application/octet-stream"),
                ("content-length", &len),
            ],
            full(bytes.to_vec()),
        )
        .await?
        .expect(StatusCode::CREATED, "push blob")?;
        Ok(d)
    }

    /// Pushes a generated layer streamed in one `PATCH`, then the closing
    /// `PUT` (how Docker pushes).
    pub async fn push_layer(&self, repo: &str, layer: &Layer) -> anyhow::Result<()> {
        let loc = self.start_upload(repo).await?;
        let r = self
            .send(
                Method::PATCH,
                &loc,
                &[("content-type", "application/octet-stream")],
                layer_body(layer),
            )
            .await?
            .expect(StatusCode::ACCEPTED, "patch layer")?;
        let loc = r.header("location").context("no Location")?.to_owned();
        self.send(
            Method::PUT,
            &Self::with_digest(&loc, &layer.digest),
            &[("content-length", "0")],
            full(Bytes::new()),
        )
        .await?
        .expect(StatusCode::CREATED, "close layer upload")?;
        Ok(())
    }

    /// Pushes a manifest (or index) under `reference`; the reply.
    pub async fn push_manifest(
        &self,
        repo: &str,
        reference: &str,
        media_type: &str,
        bytes: &[u8],
    ) -> anyhow::Result<Reply> {
        self.send(
            Method::PUT,
            &format!("/v2/{repo}/manifests/{reference}"),
            &[("content-type", media_type)],
            full(bytes.to_vec()),
        )
        .await
    }

    /// Pushes a whole image: its layers and config (skipping blobs the
    /// repository has, as clients do), then its manifest under `tag`.
    pub async fn push_image(&self, repo: &str, tag: &str, image: &Image) -> anyhow::Result<()> {
        for layer in &image.layers {
            let head = self
                .send(
                    Method::HEAD,
                    &format!("/v2/{repo}/blobs/{}", layer.digest),
                    &[],
                    full(Bytes::new()),
                )
                .await?;
            if head.status != StatusCode::OK {
                self.push_layer(repo, layer).await?;
            }
        }
        self.push_blob(repo, &image.config.bytes).await?;
        self.push_manifest(repo, tag, &image.manifest.media_type, &image.manifest.bytes)
            .await?
            .expect(StatusCode::CREATED, "push manifest")?;
        Ok(())
    }

    /// Pulls a blob, hashing it as it arrives (never held whole); its size.
    pub async fn pull_blob_checked(&self, repo: &str, digest: &str) -> anyhow::Result<u64> {
        let mut target = format!("/v2/{repo}/blobs/{digest}");
        for _ in 0..5 {
            let url = if target.starts_with("http") {
                target.clone()
            } else {
                format!("{}{target}", self.base)
            };
            let mut b = Request::builder().uri(&url);
            if url.starts_with(&self.base)
                && let Some(auth) = &self.basic
            {
                b = b.header(header::AUTHORIZATION, auth);
            }
            let resp = self.client.request(b.body(full(Bytes::new()))?).await?;
            if resp.status().is_redirection() {
                target = resp.headers()[header::LOCATION].to_str()?.to_owned();
                continue;
            }
            if resp.status() != StatusCode::OK {
                bail!("pull {digest}: HTTP {}", resp.status());
            }
            let mut body = resp.into_body();
            let (mut h, mut n) = (Sha256::new(), 0u64);
            while let Some(frame) = body.frame().await {
                if let Ok(data) = frame?.into_data() {
                    h.update(&data);
                    n += data.len() as u64;
                }
            }
            let got = format!("sha256:{}", hex::encode(h.finalize()));
            if got != digest {
                bail!("pull {digest}: content hashes to {got}");
            }
            return Ok(n);
        }
        bail!("too many redirects")
    }

    /// Pulls an image by tag and checks every digest; the bytes pulled.
    pub async fn pull_image(&self, repo: &str, tag: &str) -> anyhow::Result<u64> {
        let accept = [
            ("accept", super::image::OCI_MANIFEST),
            ("accept", super::image::DOCKER_MANIFEST),
        ];
        let m = self
            .get(Method::GET, &format!("/v2/{repo}/manifests/{tag}"), &accept)
            .await?
            .expect(StatusCode::OK, "pull manifest")?;
        let doc = m.json();
        let mut total = m.body.len() as u64;
        let digests =
            std::iter::once(&doc["config"]).chain(doc["layers"].as_array().into_iter().flatten());
        for d in digests {
            let digest = d["digest"].as_str().context("descriptor without digest")?;
            total += self.pull_blob_checked(repo, digest).await?;
        }
        Ok(total)
    }
}
