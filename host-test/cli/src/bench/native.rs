//! The native comparison client: object_store's S3 store (reqwest, rustls,
//! its own connection pool) on the same bucket and keys as the component,
//! doing each workload the way that crate is meant to be used.

use std::sync::Arc;

use anyhow::{Context as _, bail};
use futures::{StreamExt as _, TryStreamExt as _};
use object_store::aws::AmazonS3Builder;
use object_store::path::Path;
use object_store::{ObjectStore, PutPayload, WriteMultipart};

use s3_driver_host::ConfigValue;
use s3_driver_kit::core_params;
use s3_storage_driver::config::{Config, Key, Params};
use s3_storage_driver::s3::endpoint::Endpoint;

/// One object_store S3 store.
#[derive(Clone)]
pub struct Native {
    store: Arc<dyn ObjectStore>,
    chunk: usize,
    concurrency: usize,
}

/// Whether bodies are hashed and signed, as the component decides it: by
/// the scheme requests really use (an `http://` endpoint is plain HTTP
/// whatever `secure` says), so both clients do the same work per byte.
fn signs_payloads(cfg: &Config, endpoint: &Endpoint) -> bool {
    cfg.payload_signing.signs(endpoint.secure)
}

impl Native {
    /// The store for a driver configuration: same endpoint, bucket, region
    /// and static keys, addressed exactly as the component addresses it (the
    /// component's own endpoint rules decide path or virtual-hosted style);
    /// multipart uploads with the driver's `chunksize` and at most
    /// `multipartuploadmaxconcurrency` parts in flight, so both clients hold
    /// the same memory.
    pub fn from_params(params: &[(String, ConfigValue)]) -> anyhow::Result<Self> {
        let params = core_params(params);
        let cfg = Config::from_params(&params).map_err(|e| anyhow::anyhow!("{e}"))?;
        let endpoint = Endpoint::from_config(&cfg).map_err(|e| anyhow::anyhow!("{e}"))?;
        let p = Params::new(&params);
        let text = |k: Key| p.optional(k.name()).ok().flatten();
        let (Some(access), Some(secret)) = (text(Key::AccessKey), text(Key::SecretKey)) else {
            bail!("the native client needs accesskey and secretkey in the configuration");
        };
        let mut b = AmazonS3Builder::new()
            .with_bucket_name(&cfg.bucket)
            .with_region(&cfg.region)
            .with_access_key_id(access)
            .with_secret_access_key(secret)
            .with_virtual_hosted_style_request(!endpoint.path_style)
            .with_unsigned_payload(!signs_payloads(&cfg, &endpoint));
        if cfg.region_endpoint.is_some() {
            // The scheme and host the component resolved and sends to.
            let scheme = if endpoint.secure { "https" } else { "http" };
            b = b
                .with_allow_http(!endpoint.secure)
                .with_endpoint(format!("{scheme}://{}", endpoint.host));
        }
        Ok(Self {
            store: Arc::new(b.build().context("building the object_store client")?),
            chunk: cfg.chunk_size as usize,
            concurrency: cfg.upload_max_concurrency as usize,
        })
    }

    /// One PutObject.
    pub async fn put(&self, key: &str, data: &[u8]) -> anyhow::Result<()> {
        let payload = PutPayload::from(bytes::Bytes::copy_from_slice(data));
        self.store.put(&Path::from(key), payload).await?;
        Ok(())
    }

    /// The whole object, as one buffer.
    pub async fn get(&self, key: &str) -> anyhow::Result<bytes::Bytes> {
        Ok(self.store.get(&Path::from(key)).await?.bytes().await?)
    }

    /// A multipart upload fed in 1 MiB writes, then a streamed read in
    /// whatever pieces the store yields; returns the bytes read back.
    pub async fn stream_round_trip(&self, key: &str, data: &[u8]) -> anyhow::Result<usize> {
        let path = Path::from(key);
        let upload = self.store.put_multipart(&path).await?;
        let mut w = WriteMultipart::new_with_chunk_size(upload, self.chunk);
        for piece in data.chunks(1 << 20) {
            w.wait_for_capacity(self.concurrency).await?;
            w.write(piece);
        }
        w.finish().await?;
        let mut stream = self.store.get(&path).await?.into_stream();
        let mut got = 0;
        while let Some(piece) = stream.next().await {
            got += piece?.len();
        }
        Ok(got)
    }

    /// HeadObject.
    pub async fn head(&self, key: &str) -> anyhow::Result<u64> {
        Ok(self.store.head(&Path::from(key)).await?.size)
    }

    /// Direct children under `prefix` (files and common prefixes).
    pub async fn list(&self, prefix: &str) -> anyhow::Result<usize> {
        let r = self
            .store
            .list_with_delimiter(Some(&Path::from(prefix)))
            .await?;
        Ok(r.objects.len() + r.common_prefixes.len())
    }

    /// Every key under `prefix`, paged.
    pub async fn walk(&self, prefix: &str) -> anyhow::Result<usize> {
        let keys: Vec<_> = self
            .store
            .list(Some(&Path::from(prefix)))
            .try_collect()
            .await?;
        Ok(keys.len())
    }

    /// Lists `prefix` and deletes what it finds in bulk (DeleteObjects).
    pub async fn delete_prefix(&self, prefix: &str) -> anyhow::Result<usize> {
        let listed = self
            .store
            .list(Some(&Path::from(prefix)))
            .map_ok(|m| m.location)
            .boxed();
        let deleted: Vec<_> = self.store.delete_stream(listed).try_collect().await?;
        Ok(deleted.len())
    }

    /// CopyObject, then DeleteObject of the source.
    pub async fn rename(&self, from: &str, to: &str) -> anyhow::Result<()> {
        self.store
            .rename(&Path::from(from), &Path::from(to))
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decide(endpoint: &str, signing: &str) -> bool {
        let params = [
            ("bucket", "b"),
            ("region", "us-east-1"),
            ("regionendpoint", endpoint),
            ("payloadsigning", signing),
        ]
        .map(|(k, v)| (k.to_owned(), ConfigValue::Text(v.to_owned())));
        let cfg = Config::from_params(&core_params(&params)).unwrap();
        signs_payloads(&cfg, &Endpoint::from_config(&cfg).unwrap())
    }

    #[test]
    fn the_native_client_signs_bodies_exactly_when_the_component_does() {
        // `secure` defaults to true; the endpoint's scheme is what counts.
        assert!(decide("http://127.0.0.1:7480", "auto"));
        assert!(!decide("https://127.0.0.1:7443", "auto"));
        assert!(decide("https://127.0.0.1:7443", "signed"));
        assert!(!decide("http://127.0.0.1:7480", "unsigned"));
    }
}
