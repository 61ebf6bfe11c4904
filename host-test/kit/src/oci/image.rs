//! Test images: layers generated from a seed (any size, streamed), configs
//! and manifests of each media type, and OCI image layouts for skopeo.

use std::path::Path;

use bytes::Bytes;
use serde_json::json;
use sha2::{Digest as _, Sha256};

/// OCI image manifest.
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// OCI image index.
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// OCI layer.
pub const OCI_LAYER: &str = "application/vnd.oci.image.layer.v1.tar";
/// OCI config.
pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
/// Docker schema 2 manifest.
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// Docker manifest list.
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
/// Docker layer.
pub const DOCKER_LAYER: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";
/// Docker config.
pub const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";

/// `sha256:<hex>` of `bytes`.
pub fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// A layer whose bytes come from a seed: `size` bytes of xorshift output.
#[derive(Debug, Clone)]
pub struct Layer {
    /// The generator's seed.
    pub seed: u64,
    /// Length in bytes.
    pub size: u64,
    /// Its digest, computed once.
    pub digest: String,
}

/// Bytes per generated piece.
const PIECE: usize = 1 << 20;

impl Layer {
    /// A layer of `size` bytes from `seed`.
    pub fn new(seed: u64, size: u64) -> Self {
        let mut h = Sha256::new();
        let mut l = Self {
            seed,
            size,
            digest: String::new(),
        };
        for piece in l.pieces() {
            h.update(&piece);
        }
        l.digest = format!("sha256:{}", hex::encode(h.finalize()));
        l
    }

    /// The content, a MiB at a time.
    pub fn pieces(&self) -> impl Iterator<Item = Bytes> + Send + 'static {
        let mut x = self.seed | 1;
        let mut left = self.size;
        std::iter::from_fn(move || {
            if left == 0 {
                return None;
            }
            let n = left.min(PIECE as u64) as usize;
            let mut v = Vec::with_capacity(n + 8);
            while v.len() < n {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                v.extend_from_slice(&x.to_le_bytes());
            }
            v.truncate(n);
            left -= n as u64;
            Some(Bytes::from(v))
        })
    }

    /// The whole content (small layers only).
    pub fn bytes(&self) -> Vec<u8> {
        self.pieces().flat_map(|b| b.to_vec()).collect()
    }
}

/// A blob held in memory (configs, manifests, small layers).
#[derive(Debug, Clone)]
pub struct Blob {
    /// Its media type.
    pub media_type: String,
    /// Its content.
    pub bytes: Vec<u8>,
}

impl Blob {
    /// Its digest.
    pub fn digest(&self) -> String {
        sha256(&self.bytes)
    }

    /// Its descriptor.
    pub fn descriptor(&self) -> serde_json::Value {
        json!({"mediaType": self.media_type, "digest": self.digest(), "size": self.bytes.len()})
    }
}

/// An image: config, layers, and its manifest.
#[derive(Debug, Clone)]
pub struct Image {
    /// The config blob.
    pub config: Blob,
    /// The layers.
    pub layers: Vec<Layer>,
    /// The manifest.
    pub manifest: Blob,
}

impl Image {
    /// An OCI (or, with `docker`, schema 2) image of these layer sizes.
    pub fn generate(seed: u64, layer_sizes: &[u64], docker: bool) -> Self {
        let layers: Vec<Layer> = layer_sizes
            .iter()
            .enumerate()
            .map(|(i, &s)| Layer::new(seed.wrapping_mul(1000).wrapping_add(i as u64 + 1), s))
            .collect();
        Self::with_layers(layers, docker, seed)
    }

    /// An image of these layers; `seed` makes its config unique.
    pub fn with_layers(layers: Vec<Layer>, docker: bool, seed: u64) -> Self {
        let (mt, layer_mt, config_mt) = if docker {
            (DOCKER_MANIFEST, DOCKER_LAYER, DOCKER_CONFIG)
        } else {
            (OCI_MANIFEST, OCI_LAYER, OCI_CONFIG)
        };
        let diff_ids: Vec<String> = layers.iter().map(|l| l.digest.clone()).collect();
        let config = Blob {
            media_type: config_mt.into(),
            bytes: serde_json::to_vec(&json!({
                "architecture": "amd64", "os": "linux",
                "config": {"Labels": {"seed": seed.to_string()}},
                "rootfs": {"type": "layers", "diff_ids": diff_ids},
            }))
            .expect("json"),
        };
        let manifest = Blob {
            media_type: mt.into(),
            bytes: serde_json::to_vec_pretty(&json!({
                "schemaVersion": 2,
                "mediaType": mt,
                "config": config.descriptor(),
                "layers": layers.iter().map(|l| json!({
                    "mediaType": layer_mt, "digest": l.digest, "size": l.size,
                })).collect::<Vec<_>>(),
            }))
            .expect("json"),
        };
        Self {
            config,
            layers,
            manifest,
        }
    }

    /// Total bytes of its layers.
    pub fn layer_bytes(&self) -> u64 {
        self.layers.iter().map(|l| l.size).sum()
    }
}

/// An index (OCI, or a Docker manifest list with `docker`) of `images`.
pub fn index_of(images: &[Image], docker: bool) -> Blob {
    let mt = if docker { DOCKER_LIST } else { OCI_INDEX };
    let archs = ["amd64", "arm64", "s390x", "ppc64le"];
    Blob {
        media_type: mt.into(),
        bytes: serde_json::to_vec_pretty(&json!({
            "schemaVersion": 2,
            "mediaType": mt,
            "manifests": images.iter().enumerate().map(|(i, im)| {
                let mut d = im.manifest.descriptor();
                d["platform"] = json!({"os": "linux", "architecture": archs[i % archs.len()]});
                d
            }).collect::<Vec<_>>(),
        }))
        .expect("json"),
    }
}

/// Writes an OCI image layout at `dir` holding `images` (every blob) and
/// naming `roots` by tag: `(tag, the root manifest or index)`.
pub fn write_oci_layout(
    dir: &Path,
    images: &[Image],
    roots: &[(&str, &Blob)],
) -> std::io::Result<()> {
    let blobs = dir.join("blobs/sha256");
    std::fs::create_dir_all(&blobs)?;
    let put = |bytes: &[u8]| {
        let d = sha256(bytes);
        std::fs::write(blobs.join(&d["sha256:".len()..]), bytes)
    };
    for im in images {
        put(&im.config.bytes)?;
        put(&im.manifest.bytes)?;
        for l in &im.layers {
            put(&l.bytes())?;
        }
    }
    let mut manifests = Vec::new();
    for (tag, root) in roots {
        put(&root.bytes)?;
        let mut d = root.descriptor();
        d["annotations"] = json!({"org.opencontainers.image.ref.name": tag});
        manifests.push(d);
    }
    std::fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#)?;
    std::fs::write(
        dir.join("index.json"),
        serde_json::to_vec(
            &json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests}),
        )
        .expect("json"),
    )
}
