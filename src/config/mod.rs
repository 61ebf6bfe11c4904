//! The `storage: s3:` parameters, parsed with the reference driver's rules into a
//! typed [`Config`]. Every rejection names the parameter and what it accepts.
//! The parameters themselves are listed once, in [`keys::KEYS`].

pub mod keys;
pub mod regions;
pub mod value;

use std::time::Duration;

use crate::error::{Error, Result};
use crate::retry::RetryPolicy;
use crate::sign::Credentials;
use crate::sign::v4::PayloadSigning;
use crate::transport::Timeouts;

pub use keys::{
    KEYS, Key, KeySpec, LOG_LEVELS, MAX_CHUNK_SIZE, MIN_CHUNK_SIZE, OBJECT_ACLS, Rule,
    STORAGE_CLASSES,
};
pub use value::{Params, Value, parse_bool};

/// The S3 driver's configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Static credentials; empty keys mean "take them from the environment".
    pub credentials: Credentials,
    /// Signing region.
    pub region: String,
    /// Custom endpoint (`http://127.0.0.1:9000`, `minio.local`), if any.
    pub region_endpoint: Option<String>,
    /// Path-style addressing (`endpoint/bucket/key`).
    pub force_path_style: bool,
    /// Bucket name.
    pub bucket: String,
    /// Server-side encryption.
    pub encrypt: bool,
    /// KMS key id (sent whenever set, as the reference does).
    pub key_id: Option<String>,
    /// HTTPS (true) or HTTP.
    pub secure: bool,
    /// Skip TLS verification; the host applies it to this driver's requests.
    pub skip_verify: bool,
    /// SigV4 (true) or SigV2.
    pub v4_auth: bool,
    /// Multipart part size.
    pub chunk_size: u64,
    /// Multipart-copy part size.
    pub multipart_copy_chunk_size: u64,
    /// Multipart-copy parallelism.
    pub multipart_copy_max_concurrency: u64,
    /// Above this size a move uses a multipart copy.
    pub multipart_copy_threshold_size: u64,
    /// UploadPart requests a writer keeps in flight.
    pub upload_max_concurrency: u64,
    /// When SigV4 hashes request bodies.
    pub payload_signing: PayloadSigning,
    /// Signed bodies of [`crate::sign::v4_streaming::MIN_BODY`] or more go
    /// out `aws-chunked` with chunk signatures.
    pub streaming_signature: bool,
    /// The integrity header of request bodies.
    pub checksum: ChecksumAlgorithm,
    /// Key prefix for every path.
    pub root_directory: String,
    /// Storage class header value; `None` for `NONE`.
    pub storage_class: Option<String>,
    /// Canned ACL sent with every write.
    pub object_acl: String,
    /// Appended to the User-Agent.
    pub user_agent: Option<String>,
    /// Dual-stack Amazon host names.
    pub use_dual_stack: bool,
    /// Transfer-acceleration host names.
    pub accelerate: bool,
    /// FIPS host names.
    pub use_fips_endpoint: bool,
    /// Scheme and host that replace the endpoint in presigned URLs.
    pub redirect_endpoint: Option<String>,
    /// The reference's log level name (lower case).
    pub log_level: String,
    /// Retries of failed requests (ours; the reference relies on its SDK's).
    pub retry: RetryPolicy,
    /// Per-request network timeouts, handed to the host with each request.
    pub timeouts: Timeouts,
    /// Unknown or ignored parameters, reported to the operator.
    pub warnings: Vec<String>,
}

fn invalid(message: String) -> Error {
    Error::InvalidConfig(message)
}

/// Reads parameters by [`Key`], with the table's defaults and bounds.
struct Reader<'a>(Params<'a>);

impl Reader<'_> {
    fn text(&self, key: Key) -> Result<String> {
        self.0.string(key.name())
    }

    fn optional(&self, key: Key) -> Result<Option<String>> {
        self.0.optional(key.name())
    }

    fn secret(&self, key: Key) -> Result<String> {
        self.0.secret(key.name())
    }

    fn flag(&self, key: Key) -> Result<bool> {
        match key.spec().rule {
            Rule::Bool(default) => self.0.boolean(key.name(), default),
            other => unreachable!("{} is read as {other:?}", key.name()),
        }
    }

    fn int(&self, key: Key) -> Result<u64> {
        match key.spec().rule {
            Rule::Int { default, min, max } => self.0.integer(key.name(), default, min, max),
            other => unreachable!("{} is read as {other:?}", key.name()),
        }
    }

    fn duration(&self, key: Key) -> Result<Duration> {
        match key.spec().rule {
            Rule::Duration { default, max } => self.0.duration(key.name(), default, max),
            other => unreachable!("{} is read as {other:?}", key.name()),
        }
    }

    /// A `Choice` key's value as written, or its default when absent or empty.
    fn choice_text(&self, key: Key) -> Result<(String, &'static [&'static str])> {
        match key.spec().rule {
            Rule::Choice { default, choices } => {
                let raw = self.text(key)?;
                Ok((
                    if raw.is_empty() {
                        default.to_owned()
                    } else {
                        raw
                    },
                    choices,
                ))
            }
            other => unreachable!("{} is read as {other:?}", key.name()),
        }
    }
}

/// Where and as whom to connect.
struct Connection {
    credentials: Credentials,
    region: String,
    region_endpoint: Option<String>,
    bucket: String,
    v4_auth: bool,
}

impl Connection {
    fn read(r: &Reader<'_>) -> Result<Self> {
        let region_endpoint = r.optional(Key::RegionEndpoint)?;
        let region = r.text(Key::Region)?;
        if region_endpoint.is_none() {
            if region.is_empty() {
                return Err(invalid("no region parameter provided".into()));
            }
            if !regions::is_aws_region(&region) {
                return Err(invalid(format!("invalid region provided: {region}")));
            }
        }
        // S3-compatible servers ignore the region but SigV4 still needs one.
        let region = if region.is_empty() {
            "us-east-1".to_owned()
        } else {
            region
        };
        let bucket = r.text(Key::Bucket)?;
        if bucket.is_empty() {
            return Err(invalid("no bucket parameter provided".into()));
        }
        let v4_auth = r.flag(Key::V4Auth)?;
        let amazon = region_endpoint
            .as_deref()
            .is_none_or(|e| e.contains("amazonaws.com"));
        if !v4_auth && (amazon || region == "eu-central-1") {
            return Err(invalid(
                "on Amazon S3 this storage driver can only be used with v4 authentication (v4auth)"
                    .into(),
            ));
        }
        let token = r.secret(Key::SessionToken)?;
        Ok(Self {
            credentials: Credentials::new(
                r.secret(Key::AccessKey)?,
                r.secret(Key::SecretKey)?,
                Some(token).filter(|s| !s.is_empty()),
            ),
            region,
            region_endpoint,
            bucket,
            v4_auth,
        })
    }
}

/// How request bodies are protected on the way (`checksumalgorithm`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ChecksumAlgorithm {
    /// No integrity header (the reference's behaviour).
    #[default]
    None,
    /// `Content-MD5` on every body.
    Md5,
    /// `x-amz-checksum-crc32`.
    Crc32,
    /// `x-amz-checksum-crc32c`.
    Crc32c,
    /// `x-amz-checksum-sha256`.
    Sha256,
    /// `x-amz-checksum-crc64nvme` (a full-object checksum for multipart).
    Crc64Nvme,
}

impl ChecksumAlgorithm {
    /// The algorithm a `checksumalgorithm` word names (case-insensitive).
    pub fn parse(word: &str) -> Option<Self> {
        Some(match word.to_ascii_lowercase().as_str() {
            "" | "none" => Self::None,
            "md5" => Self::Md5,
            "crc32" => Self::Crc32,
            "crc32c" => Self::Crc32c,
            "sha256" => Self::Sha256,
            "crc64nvme" => Self::Crc64Nvme,
            _ => return None,
        })
    }
}

/// The headers every object write carries.
struct WriteSettings {
    storage_class: Option<String>,
    object_acl: String,
    payload_signing: PayloadSigning,
    checksum: ChecksumAlgorithm,
}

impl WriteSettings {
    fn read(r: &Reader<'_>) -> Result<Self> {
        let (raw, classes) = r.choice_text(Key::StorageClass)?;
        let upper = raw.to_ascii_uppercase();
        if !classes.contains(&upper.as_str()) {
            return Err(invalid(format!(
                "the storageclass parameter must be one of [{}], {raw} invalid",
                classes.join(" ")
            )));
        }
        let (acl, acls) = r.choice_text(Key::ObjectAcl)?;
        if !acls.contains(&acl.as_str()) {
            return Err(invalid(format!(
                "invalid value for objectacl parameter: {acl} (one of {})",
                acls.join(", ")
            )));
        }
        let (mode, modes) = r.choice_text(Key::PayloadSigning)?;
        let payload_signing = PayloadSigning::parse(&mode).ok_or_else(|| {
            invalid(format!(
                "the payloadsigning parameter must be one of [{}], {mode} invalid",
                modes.join(" ")
            ))
        })?;
        let (word, words) = r.choice_text(Key::ChecksumAlgorithm)?;
        let checksum = ChecksumAlgorithm::parse(&word).ok_or_else(|| {
            invalid(format!(
                "the checksumalgorithm parameter must be one of [{}], {word} invalid",
                words.join(" ")
            ))
        })?;
        Ok(Self {
            storage_class: (upper != "NONE").then_some(upper),
            object_acl: acl,
            payload_signing,
            checksum,
        })
    }
}

/// The reference maps anything unknown, YAML booleans included, to `off`.
fn log_level(r: &Reader<'_>, warnings: &mut Vec<String>) -> String {
    match r.0.get(Key::LogLevel.name()) {
        Some(Value::Text(s)) if LOG_LEVELS.contains(&s.to_ascii_lowercase().as_str()) => {
            s.to_ascii_lowercase()
        }
        Some(Value::Text(s)) if !s.is_empty() => {
            warnings.push(format!("unknown loglevel {s:?}; logging is off"));
            "off".to_owned()
        }
        _ => "off".to_owned(),
    }
}

impl Config {
    /// Parses the parameters of a `storage: s3:` block.
    pub fn from_params(items: &[(String, Value)]) -> Result<Config> {
        let r = Reader(Params::new(items));
        let mut warnings: Vec<String> = items
            .iter()
            .filter(|(key, _)| Key::from_name(key).is_none())
            .map(|(key, _)| format!("unknown parameter {key:?} ignored"))
            .collect();
        let connection = Connection::read(&r)?;
        let writes = WriteSettings::read(&r)?;
        let log_level = log_level(&r, &mut warnings);
        let redirect_endpoint = r.optional(Key::RedirectEndpoint)?;
        if let Some(e) = &redirect_endpoint {
            check_redirect_endpoint(e)?;
        }
        let key_id = r.optional(Key::KeyId)?;
        let encrypt = r.flag(Key::Encrypt)?;
        if key_id.is_some() && !encrypt {
            warnings.push("keyid is set but encrypt is false: objects are not encrypted".into());
        }
        Ok(Config {
            credentials: connection.credentials,
            region: connection.region,
            region_endpoint: connection.region_endpoint,
            force_path_style: r.flag(Key::ForcePathStyle)?,
            bucket: connection.bucket,
            encrypt,
            key_id,
            secure: r.flag(Key::Secure)?,
            skip_verify: r.flag(Key::SkipVerify)?,
            v4_auth: connection.v4_auth,
            chunk_size: r.int(Key::ChunkSize)?,
            multipart_copy_chunk_size: r.int(Key::MultipartCopyChunkSize)?,
            multipart_copy_max_concurrency: r.int(Key::MultipartCopyMaxConcurrency)?,
            multipart_copy_threshold_size: r.int(Key::MultipartCopyThresholdSize)?,
            upload_max_concurrency: r.int(Key::MultipartUploadMaxConcurrency)?,
            payload_signing: writes.payload_signing,
            streaming_signature: r.flag(Key::StreamingSignature)?,
            checksum: writes.checksum,
            root_directory: r.text(Key::RootDirectory)?,
            storage_class: writes.storage_class,
            object_acl: writes.object_acl,
            user_agent: r.optional(Key::UserAgent)?,
            use_dual_stack: r.flag(Key::UseDualStack)?,
            accelerate: r.flag(Key::Accelerate)?,
            use_fips_endpoint: r.flag(Key::UseFipsEndpoint)?,
            redirect_endpoint,
            log_level,
            retry: RetryPolicy {
                max_attempts: r.int(Key::MaxAttempts)? as u32,
                base_delay: r.duration(Key::RetryBaseDelay)?,
                ..RetryPolicy::default()
            },
            timeouts: Timeouts {
                connect: r.duration(Key::ConnectTimeout)?,
                first_byte: r.duration(Key::FirstByteTimeout)?,
                between_bytes: r.duration(Key::BetweenBytesTimeout)?,
            },
            warnings,
        })
    }
}

/// The reference's `redirectendpoint` checks: scheme and host, no path, no query.
fn check_redirect_endpoint(url: &str) -> Result<()> {
    let Some((scheme, rest)) = url.split_once("://") else {
        return Err(invalid(format!(
            "no scheme specified for redirectendpoint: {url}"
        )));
    };
    if scheme.is_empty() {
        return Err(invalid("no scheme specified for redirectendpoint".into()));
    }
    if rest.contains('?') {
        return Err(invalid(
            "redirectendpoint cannot contain query parameters".into(),
        ));
    }
    let (host, path) = rest.split_once('/').map_or((rest, ""), |(h, p)| (h, p));
    if host.is_empty() {
        return Err(invalid("no host specified for redirectendpoint".into()));
    }
    if !path.is_empty() {
        return Err(invalid(format!(
            "redirectendpoint cannot contain a base path: /{path}"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, Value)]) -> Vec<(String, Value)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect()
    }

    fn text(s: &str) -> Value {
        Value::Text(s.to_owned())
    }

    fn base() -> Vec<(String, Value)> {
        params(&[
            ("accesskey", text("AK")),
            ("secretkey", text("SK")),
            ("region", text("us-east-1")),
            ("bucket", text("registry")),
        ])
    }

    fn with(extra: &[(&str, Value)]) -> Vec<(String, Value)> {
        let mut p = base();
        p.extend(params(extra));
        p
    }

    fn error_of(p: &[(String, Value)]) -> String {
        match Config::from_params(p) {
            Err(Error::InvalidConfig(m)) => m,
            other => panic!("expected invalid-config, got {other:?}"),
        }
    }

    #[test]
    fn defaults_match_the_reference() {
        let c = Config::from_params(&base()).unwrap();
        assert_eq!(c.chunk_size, 10 << 20);
        assert!(c.secure && c.v4_auth && !c.encrypt && !c.force_path_style);
        assert_eq!(c.storage_class.as_deref(), Some("STANDARD"));
        assert_eq!(c.object_acl, "private");
        assert_eq!(c.multipart_copy_chunk_size, 32 << 20);
        assert_eq!(c.multipart_copy_max_concurrency, 100);
        assert_eq!(c.multipart_copy_threshold_size, 32 << 20);
        assert_eq!(c.upload_max_concurrency, 2);
        assert_eq!(c.payload_signing, PayloadSigning::Auto);
        assert_eq!(c.log_level, "off");
        assert!(c.warnings.is_empty());
    }

    #[test]
    fn booleans_and_integers_may_be_strings() {
        let c = Config::from_params(&with(&[
            ("encrypt", text("TRUE")),
            ("secure", text("0")),
            ("chunksize", text("5242880")),
            ("forcepathstyle", Value::Bool(true)),
        ]))
        .unwrap();
        assert!(c.encrypt && !c.secure && c.force_path_style);
        assert_eq!(c.chunk_size, 5 << 20);
        let c = Config::from_params(&with(&[("chunksize", Value::Int(6 << 20))])).unwrap();
        assert_eq!(c.chunk_size, 6 << 20);
    }

    #[test]
    fn bad_values_name_the_parameter_and_the_range() {
        assert_eq!(
            error_of(&with(&[("chunksize", Value::Int(1024))])),
            "the chunksize 1024 parameter should be a number between 5242880 and 5368709120 (inclusive)"
        );
        assert_eq!(
            error_of(&with(&[("chunksize", text("lots"))])),
            "chunksize parameter must be an integer, lots invalid"
        );
        assert_eq!(
            error_of(&with(&[("chunksize", Value::Float(5242880.0))])),
            "chunksize parameter must be an integer, 5242880 invalid"
        );
        assert_eq!(
            error_of(&with(&[("payloadsigning", text("sometimes"))])),
            "the payloadsigning parameter must be one of [auto signed unsigned], sometimes invalid"
        );
        for n in [0, 65] {
            assert_eq!(
                error_of(&with(&[("multipartuploadmaxconcurrency", Value::Int(n))])),
                format!(
                    "the multipartuploadmaxconcurrency {n} parameter should be a number \
                     between 1 and 64 (inclusive)"
                )
            );
        }
        assert_eq!(
            error_of(&with(&[("encrypt", text("yes"))])),
            "the encrypt parameter should be a boolean"
        );
        assert!(
            error_of(&with(&[("storageclass", text("COLD"))])).starts_with(
                "the storageclass parameter must be one of [NONE STANDARD REDUCED_REDUNDANCY"
            )
        );
        assert!(
            error_of(&with(&[("objectacl", text("open"))]))
                .starts_with("invalid value for objectacl parameter: open")
        );
    }

    #[test]
    fn region_and_bucket_are_required_without_an_endpoint() {
        let mut p = base();
        p.retain(|(k, _)| k != "region");
        assert_eq!(error_of(&p), "no region parameter provided");
        assert_eq!(
            error_of(&with(&[("region", text("moon-1"))])),
            "invalid region provided: moon-1"
        );
        // Shaped like a region, but in no AWS partition.
        assert_eq!(
            error_of(&with(&[("region", text("us-moon-1"))])),
            "invalid region provided: us-moon-1"
        );
        let mut p = base();
        p.retain(|(k, _)| k != "bucket");
        assert_eq!(error_of(&p), "no bucket parameter provided");
        let mut p = base();
        p.retain(|(k, _)| k != "region");
        p.push(("regionendpoint".into(), text("http://127.0.0.1:9000")));
        assert_eq!(Config::from_params(&p).unwrap().region, "us-east-1");
    }

    #[test]
    fn storage_class_none_omits_the_header_and_is_case_insensitive() {
        let c = Config::from_params(&with(&[("storageclass", text("none"))])).unwrap();
        assert_eq!(c.storage_class, None);
        let c =
            Config::from_params(&with(&[("storageclass", text("reduced_redundancy"))])).unwrap();
        assert_eq!(c.storage_class.as_deref(), Some("REDUCED_REDUNDANCY"));
    }

    #[test]
    fn v2_on_amazon_is_refused_at_open() {
        assert!(
            error_of(&with(&[("v4auth", Value::Bool(false))]))
                .starts_with("on Amazon S3 this storage driver can only be used with v4")
        );
    }

    #[test]
    fn unknown_keys_are_reported_not_dropped() {
        let c = Config::from_params(&with(&[("chunksise", Value::Int(1))])).unwrap();
        assert_eq!(c.warnings, vec!["unknown parameter \"chunksise\" ignored"]);
    }

    #[test]
    fn redirect_endpoint_is_checked_like_the_reference() {
        assert!(
            Config::from_params(&with(&[("redirectendpoint", text("https://cdn.example"))]))
                .is_ok()
        );
        assert!(
            error_of(&with(&[("redirectendpoint", text("cdn.example"))]))
                .starts_with("no scheme specified")
        );
        assert_eq!(
            error_of(&with(&[(
                "redirectendpoint",
                text("https://cdn.example/base")
            )])),
            "redirectendpoint cannot contain a base path: /base"
        );
        assert_eq!(
            error_of(&with(&[(
                "redirectendpoint",
                text("https://cdn.example?x=1")
            )])),
            "redirectendpoint cannot contain query parameters"
        );
    }

    #[test]
    fn secrets_never_show_in_debug_or_errors() {
        let p = with(&[
            ("secretkey", text("TOPSECRET-marker")),
            ("bogus", text("x")),
        ]);
        let c = Config::from_params(&p).unwrap();
        assert!(!format!("{c:?}").contains("TOPSECRET"));
        assert!(!format!("{p:?}").contains("TOPSECRET"));
        let p = with(&[
            ("secretkey", text("TOPSECRET-marker")),
            ("chunksize", text("1")),
        ]);
        assert!(!error_of(&p).contains("TOPSECRET"));
    }
}
