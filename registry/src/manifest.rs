//! Manifests as the registry needs them: which kind a pushed document is,
//! what it references (checked before it is stored), its subject, and the
//! descriptor the referrers API lists for it. The bytes are stored exactly
//! as pushed; nothing here rewrites them.

use serde_json::{Map, Value};

use crate::digest::Digest;
use crate::error::{ApiError, ApiResult, Failure};

/// OCI image manifest.
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// OCI image index.
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// Docker image manifest, schema 2.
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// Docker manifest list.
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
/// Docker schema 1 (signed or not): refused.
const DOCKER_SCHEMA1: [&str; 2] = [
    "application/vnd.docker.distribution.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v1+prettyjws",
];

/// Largest manifest accepted; the specification asks for at least 4 MB.
pub const MAX_MANIFEST_BYTES: usize = 4 << 20;

/// Layer media types a client fetches from their `urls`, so the registry
/// holds no blob for them.
fn non_distributable(media_type: &str) -> bool {
    media_type.contains(".nondistributable.")
        || media_type == "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"
}

/// What kind of document a manifest is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// An image manifest: a config and layers.
    Image,
    /// An index or manifest list: child manifests.
    Index,
}

/// A pushed manifest, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct Manifest {
    /// Image or index.
    pub kind: Kind,
    /// Its media type (the `mediaType` field, else the request's
    /// `Content-Type`, else guessed from the structure as OCI).
    pub media_type: String,
    /// Blobs it needs in the repository (config and layers, but not
    /// non-distributable layers).
    pub blobs: Vec<Digest>,
    /// Child manifests it needs in the repository.
    pub children: Vec<Digest>,
    /// The manifest it refers to (`subject`), if any.
    pub subject: Option<Digest>,
}

fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::new(Failure::ManifestInvalid, message)
}

/// The media type without parameters, lowercased.
fn bare(content_type: &str) -> String {
    content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
}

fn kind_of(media_type: &str) -> Option<Kind> {
    match media_type {
        OCI_MANIFEST | DOCKER_MANIFEST => Some(Kind::Image),
        OCI_INDEX | DOCKER_LIST => Some(Kind::Index),
        _ => None,
    }
}

/// The digest of a descriptor object, checked.
fn descriptor_digest(d: &Value, what: &str) -> ApiResult<Digest> {
    let obj = d
        .as_object()
        .ok_or_else(|| invalid(format!("{what} is not a descriptor")))?;
    let digest = obj
        .get("digest")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid(format!("{what} has no digest")))?;
    let size_ok = obj
        .get("size")
        .and_then(Value::as_i64)
        .is_some_and(|n| n >= 0);
    if !size_ok {
        return Err(invalid(format!("{what} has no valid size")));
    }
    if !obj.get("mediaType").is_some_and(Value::is_string) {
        return Err(invalid(format!("{what} has no mediaType")));
    }
    Digest::parse(digest).map_err(|e| invalid(format!("{what}: {e}")))
}

/// Parses and checks a pushed manifest. `content_type` is the request's.
pub fn parse(body: &[u8], content_type: Option<&str>) -> ApiResult<Manifest> {
    if body.len() > MAX_MANIFEST_BYTES {
        return Err(ApiError::new(
            Failure::ManifestTooLarge,
            format!("manifest is larger than {MAX_MANIFEST_BYTES} bytes"),
        ));
    }
    let doc: Value =
        serde_json::from_slice(body).map_err(|e| invalid(format!("manifest is not JSON: {e}")))?;
    let obj = doc
        .as_object()
        .ok_or_else(|| invalid("manifest is not a JSON object"))?;
    let declared = obj.get("mediaType").and_then(Value::as_str).map(bare);
    let requested = content_type.map(bare);
    if requested
        .as_deref()
        .is_some_and(|t| DOCKER_SCHEMA1.contains(&t))
        || obj.get("schemaVersion").and_then(Value::as_i64) == Some(1)
    {
        return Err(invalid("schema 1 manifests are not supported"));
    }
    if obj.get("schemaVersion").and_then(Value::as_i64) != Some(2) {
        return Err(invalid("schemaVersion must be 2"));
    }
    let requested = requested.filter(|t| kind_of(t).is_some());
    if let (Some(d), Some(r)) = (&declared, &requested)
        && d != r
    {
        return Err(invalid(format!(
            "mediaType {d} does not match Content-Type {r}"
        )));
    }
    let media_type = declared
        .or(requested)
        .unwrap_or_else(|| guess(obj).to_owned());
    let kind = kind_of(&media_type)
        .ok_or_else(|| invalid(format!("unsupported manifest media type {media_type}")))?;
    let subject = match obj.get("subject") {
        Some(s) => Some(descriptor_digest(s, "subject")?),
        None => None,
    };
    let (mut blobs, mut children) = (Vec::new(), Vec::new());
    match kind {
        Kind::Image => {
            let config = obj
                .get("config")
                .ok_or_else(|| invalid("image manifest has no config"))?;
            blobs.push(descriptor_digest(config, "config")?);
            let layers = obj
                .get("layers")
                .and_then(Value::as_array)
                .ok_or_else(|| invalid("image manifest has no layers array"))?;
            for (i, layer) in layers.iter().enumerate() {
                let digest = descriptor_digest(layer, &format!("layer {i}"))?;
                let media_type = layer["mediaType"].as_str().unwrap_or_default();
                if non_distributable(media_type) {
                    check_urls(layer, i)?;
                } else {
                    blobs.push(digest);
                }
            }
        }
        Kind::Index => {
            let manifests = obj
                .get("manifests")
                .and_then(Value::as_array)
                .ok_or_else(|| invalid("index has no manifests array"))?;
            for (i, m) in manifests.iter().enumerate() {
                children.push(descriptor_digest(m, &format!("manifest {i}"))?);
            }
        }
    }
    Ok(Manifest {
        kind,
        media_type,
        blobs,
        children,
        subject,
    })
}

/// A non-distributable layer must say where it is fetched from, over HTTP(S).
fn check_urls(layer: &Value, i: usize) -> ApiResult<()> {
    let urls = layer["urls"].as_array().map(Vec::as_slice).unwrap_or(&[]);
    if urls.is_empty() {
        return Err(invalid(format!("non-distributable layer {i} has no urls")));
    }
    for u in urls {
        let u = u.as_str().unwrap_or_default();
        let scheme_ok = u.starts_with("https://") || u.starts_with("http://");
        if !scheme_ok || u.contains('#') {
            return Err(invalid(format!("layer {i} has an invalid url")));
        }
    }
    Ok(())
}

/// An OCI document without `mediaType`: an index if it lists manifests.
fn guess(obj: &Map<String, Value>) -> &'static str {
    if obj.contains_key("manifests") {
        OCI_INDEX
    } else {
        OCI_MANIFEST
    }
}

/// The `Content-Type` a stored manifest is served with: its `mediaType`,
/// else OCI by its structure.
pub fn served_media_type(body: &[u8]) -> String {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(obj)) => obj
            .get("mediaType")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .unwrap_or_else(|| guess(&obj).to_owned()),
        _ => OCI_MANIFEST.to_owned(),
    }
}

/// The subject a stored manifest names, if it parses.
pub fn subject_of(body: &[u8]) -> Option<Digest> {
    let doc: Value = serde_json::from_slice(body).ok()?;
    Digest::parse(doc.get("subject")?.get("digest")?.as_str()?).ok()
}

/// The descriptor the referrers API lists for a stored manifest: its media
/// type, size and digest; `artifactType` (an image manifest without one
/// takes its config's media type; an index without one has none); its
/// annotations.
pub fn referrer_descriptor(body: &[u8], digest: &Digest) -> Value {
    let doc: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let media_type = served_media_type(body);
    let mut d = Map::new();
    d.insert("mediaType".into(), media_type.clone().into());
    d.insert("digest".into(), digest.to_string().into());
    d.insert("size".into(), (body.len() as u64).into());
    let artifact_type = doc
        .get("artifactType")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .or_else(|| match kind_of(&media_type) {
            Some(Kind::Image) => doc["config"]["mediaType"].as_str().map(str::to_owned),
            _ => None,
        });
    if let Some(t) = artifact_type {
        d.insert("artifactType".into(), t.into());
    }
    if let Some(a) = doc.get("annotations").filter(|a| a.is_object()) {
        d.insert("annotations".into(), a.clone());
    }
    Value::Object(d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn dg(c: char) -> String {
        format!("sha256:{}", c.to_string().repeat(64))
    }

    fn image(extra: Value) -> Vec<u8> {
        let mut m = json!({
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": dg('a'), "size": 2},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": dg('b'), "size": 3}]
        });
        if let (Some(m), Value::Object(e)) = (m.as_object_mut(), extra) {
            m.extend(e);
        }
        serde_json::to_vec(&m).unwrap()
    }

    #[test]
    fn an_image_needs_its_config_and_layers() {
        let m = parse(&image(json!({})), Some(OCI_MANIFEST)).unwrap();
        assert_eq!(m.kind, Kind::Image);
        assert_eq!(
            m.blobs.iter().map(|d| d.to_string()).collect::<Vec<_>>(),
            [dg('a'), dg('b')]
        );
        assert!(m.subject.is_none());
    }

    #[test]
    fn an_index_needs_its_children() {
        let body = serde_json::to_vec(&json!({
            "schemaVersion": 2,
            "manifests": [{"mediaType": OCI_MANIFEST, "digest": dg('c'), "size": 9}]
        }))
        .unwrap();
        let m = parse(&body, Some(OCI_INDEX)).unwrap();
        assert_eq!(m.kind, Kind::Index);
        assert_eq!(m.children[0].to_string(), dg('c'));
        assert_eq!(served_media_type(&body), OCI_INDEX);
    }

    #[test]
    fn bad_documents_are_manifest_invalid() {
        let cases: Vec<(Vec<u8>, Option<&str>)> = vec![
            (b"{".to_vec(), None),
            (b"[]".to_vec(), None),
            (br#"{"schemaVersion":1,"fsLayers":[]}"#.to_vec(), None),
            (image(json!({})), Some(OCI_INDEX)),
            (
                image(json!({"config": {"digest": "sha256:x", "size": 1, "mediaType": "a"}})),
                None,
            ),
            (image(json!({"layers": null})), None),
            (image(json!({"mediaType": "application/x-unknown"})), None),
        ];
        for (body, ct) in cases {
            let e = parse(&body, ct).unwrap_err();
            assert_eq!(
                e.failure,
                Failure::ManifestInvalid,
                "{}",
                String::from_utf8_lossy(&body)
            );
        }
        let big = vec![b' '; MAX_MANIFEST_BYTES + 1];
        assert_eq!(
            parse(&big, None).unwrap_err().failure,
            Failure::ManifestTooLarge
        );
    }

    #[test]
    fn non_distributable_layers_are_fetched_from_their_urls() {
        let body = image(json!({"layers": [{
            "mediaType": "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
            "digest": dg('d'), "size": 5, "urls": ["https://example.com/x"]
        }]}));
        let m = parse(&body, None).unwrap();
        assert_eq!(m.blobs.len(), 1, "the config only");
        let no_urls = image(json!({"layers": [{
            "mediaType": "application/vnd.oci.image.layer.nondistributable.v1.tar",
            "digest": dg('d'), "size": 5
        }]}));
        assert!(parse(&no_urls, None).is_err());
    }

    #[test]
    fn a_referrer_descriptor_carries_artifact_type_and_annotations() {
        let body = image(json!({
            "subject": {"mediaType": OCI_MANIFEST, "digest": dg('e'), "size": 7},
            "annotations": {"k": "v"}
        }));
        let d = Digest::of(crate::digest::Algorithm::Sha256, &body);
        assert_eq!(subject_of(&body).unwrap().to_string(), dg('e'));
        let desc = referrer_descriptor(&body, &d);
        assert_eq!(
            desc["artifactType"],
            "application/vnd.oci.image.config.v1+json"
        );
        assert_eq!(desc["annotations"]["k"], "v");
        assert_eq!(desc["size"], body.len());
        let typed = image(json!({"artifactType": "application/x-sbom"}));
        assert_eq!(
            referrer_descriptor(&typed, &d)["artifactType"],
            "application/x-sbom"
        );
    }
}
