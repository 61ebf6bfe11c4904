//! The `storage: s3:` parameters, parsed with the reference driver's rules into a
//! typed [`Config`]. Every rejection names the parameter and what it accepts.

use std::fmt;

use crate::error::{Error, Result};
use crate::sign::Credentials;
use crate::sign::v4::PayloadSigning;

/// S3's smallest non-final multipart part.
pub const MIN_CHUNK_SIZE: u64 = 5 << 20;
/// The reference's default part size (10 MiB).
pub const DEFAULT_CHUNK_SIZE: u64 = 2 * MIN_CHUNK_SIZE;
/// S3's largest part.
pub const MAX_CHUNK_SIZE: u64 = 5 << 30;
/// Default part size of a multipart copy.
pub const DEFAULT_MULTIPART_COPY_CHUNK_SIZE: u64 = 32 << 20;
/// Default number of UploadPartCopy requests in flight.
pub const DEFAULT_MULTIPART_COPY_MAX_CONCURRENCY: u64 = 100;
/// Default number of UploadPart requests a writer keeps in flight (chosen
/// from the radosgw measurements in the README's Performance section).
pub const DEFAULT_UPLOAD_MAX_CONCURRENCY: u64 = 2;
/// Most UploadPart requests a writer may keep in flight: each holds a part
/// in memory until the server confirms it.
pub const MAX_UPLOAD_MAX_CONCURRENCY: u64 = 64;
/// Objects above this size are moved with a multipart copy.
pub const DEFAULT_MULTIPART_COPY_THRESHOLD_SIZE: u64 = 32 << 20;

/// The storage classes the reference accepts; `NONE` omits the header.
pub const STORAGE_CLASSES: &[&str] = &[
    "NONE",
    "STANDARD",
    "REDUCED_REDUNDANCY",
    "STANDARD_IA",
    "ONEZONE_IA",
    "INTELLIGENT_TIERING",
    "OUTPOSTS",
    "GLACIER_IR",
    "EXPRESS_ONEZONE",
];

/// The canned ACLs the reference accepts for `objectacl`.
pub const OBJECT_ACLS: &[&str] = &[
    "private",
    "public-read",
    "public-read-write",
    "authenticated-read",
    "aws-exec-read",
    "bucket-owner-read",
    "bucket-owner-full-control",
];

/// The log levels of `loglevel`; anything else means `off`, as in the reference.
pub const LOG_LEVELS: &[&str] = &[
    "off",
    "debug",
    "debugwithsigning",
    "debugwithhttpbody",
    "debugwithrequestretries",
    "debugwithrequesterrors",
    "debugwitheventstreambody",
];

/// Every parameter name the driver knows; others produce a warning.
const KNOWN: &[&str] = &[
    "accesskey",
    "secretkey",
    "sessiontoken",
    "region",
    "regionendpoint",
    "forcepathstyle",
    "bucket",
    "encrypt",
    "keyid",
    "secure",
    "skipverify",
    "v4auth",
    "chunksize",
    "multipartcopychunksize",
    "multipartcopymaxconcurrency",
    "multipartcopythresholdsize",
    "multipartuploadmaxconcurrency",
    "payloadsigning",
    "rootdirectory",
    "storageclass",
    "useragent",
    "objectacl",
    "usedualstack",
    "accelerate",
    "usefipsendpoint",
    "loglevel",
    "redirectendpoint",
    "maxattempts",
    "retrybasedelay",
    "connecttimeout",
    "firstbytetimeout",
    "betweenbytestimeout",
];

/// A parameter value as YAML gave it (mirrors the WIT `config-value`).
#[derive(Clone, PartialEq)]
pub enum Value {
    /// A string.
    Text(String),
    /// A boolean.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A float.
    Float(f64),
    /// A list of strings.
    List(Vec<String>),
}

/// Prints the value as Go's `fmt.Sprint` would, which the reference's messages use.
impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Text(s) => f.write_str(s),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Int(i) => write!(f, "{i}"),
            Value::Float(x) => write!(f, "{x}"),
            Value::List(l) => write!(f, "[{}]", l.join(" ")),
        }
    }
}

/// Values are printed, but a value may be a secret: `Debug` never shows it.
impl fmt::Debug for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Value(..)")
    }
}

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
    pub retry: crate::retry::RetryPolicy,
    /// Per-request network timeouts, handed to the host with each request.
    pub timeouts: crate::transport::Timeouts,
    /// Unknown or ignored parameters, reported to the operator.
    pub warnings: Vec<String>,
}

/// The longest network timeout accepted (one hour).
const MAX_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3600);

/// The parameters by name, as handed to [`Config::from_params`].
struct Params<'a> {
    items: &'a [(String, Value)],
}

impl<'a> Params<'a> {
    fn get(&self, name: &str) -> Option<&'a Value> {
        // Distribution lower-cases keys when it reads config.yml; so do we.
        self.items
            .iter()
            .rev()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }

    /// A string parameter; absent or empty gives `""`.
    fn string(&self, name: &str) -> Result<String> {
        match self.get(name) {
            None => Ok(String::new()),
            Some(Value::Text(s)) => Ok(s.clone()),
            Some(Value::Int(i)) => Ok(i.to_string()),
            Some(Value::Float(x)) => Ok(x.to_string()),
            Some(Value::Bool(b)) => Ok(b.to_string()),
            Some(Value::List(_)) => Err(invalid(format!(
                "the {name} parameter should be a string, not a list"
            ))),
        }
    }

    /// A secret string: its value never reaches a message.
    fn secret(&self, name: &str) -> Result<String> {
        match self.get(name) {
            None => Ok(String::new()),
            Some(Value::Text(s)) => Ok(s.clone()),
            Some(Value::Int(i)) => Ok(i.to_string()),
            Some(_) => Err(invalid(format!("the {name} parameter should be a string"))),
        }
    }

    /// Go's `strconv.ParseBool` on strings, booleans as they are.
    fn boolean(&self, name: &str, default: bool) -> Result<bool> {
        let bad = || invalid(format!("the {name} parameter should be a boolean"));
        match self.get(name) {
            None => Ok(default),
            Some(Value::Bool(b)) => Ok(*b),
            Some(Value::Text(s)) => match s.as_str() {
                "1" | "t" | "T" | "true" | "TRUE" | "True" => Ok(true),
                "0" | "f" | "F" | "false" | "FALSE" | "False" => Ok(false),
                _ => Err(bad()),
            },
            Some(_) => Err(bad()),
        }
    }

    /// An integer in `[min, max]`, typed or as a decimal string.
    /// A Go duration string (`30s`, `1m30s`, `250ms`), up to `max`; an
    /// integer is taken as seconds.
    fn duration(
        &self,
        name: &str,
        default: std::time::Duration,
        max: std::time::Duration,
    ) -> Result<std::time::Duration> {
        let parsed = match self.get(name) {
            None => return Ok(default),
            Some(Value::Text(t)) if t.trim().is_empty() => return Ok(default),
            Some(Value::Text(t)) => crate::cloudfront::parse_go_duration(t),
            Some(Value::Int(i)) => u64::try_from(*i).ok().map(std::time::Duration::from_secs),
            Some(_) => None,
        };
        match parsed {
            Some(d) if d <= max => Ok(d),
            _ => Err(Error::InvalidConfig(format!(
                "{name} must be a duration such as 30s or 1m30s, at most {}s",
                max.as_secs()
            ))),
        }
    }

    fn integer(&self, name: &str, default: u64, min: u64, max: u64) -> Result<u64> {
        let Some(value) = self.get(name) else {
            return Ok(default);
        };
        let parsed: Option<i128> = match value {
            Value::Int(i) => Some(i128::from(*i)),
            Value::Text(s) => {
                let t = s.trim();
                let digits = t.strip_prefix('+').unwrap_or(t);
                let (neg, digits) = match digits.strip_prefix('-') {
                    Some(d) => (true, d),
                    None => (false, digits),
                };
                if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
                    digits
                        .parse::<i128>()
                        .ok()
                        .map(|n| if neg { -n } else { n })
                } else {
                    None
                }
            }
            // A YAML float (`5.24288e+06`) is not an integer to the reference either.
            Value::Float(_) | Value::Bool(_) | Value::List(_) => None,
        };
        let n = parsed.ok_or_else(|| {
            invalid(format!(
                "{name} parameter must be an integer, {value} invalid"
            ))
        })?;
        if n < i128::from(min) || n > i128::from(max) {
            return Err(invalid(format!(
                "the {name} {value} parameter should be a number between {min} and {max} (inclusive)"
            )));
        }
        Ok(n as u64)
    }
}

fn invalid(message: String) -> Error {
    Error::InvalidConfig(message)
}

/// Region names as AWS spells them: `us-east-1`, `eu-central-1`, `us-gov-west-1`, `cn-north-1`.
fn is_region_name(region: &str) -> bool {
    let parts: Vec<&str> = region.split('-').collect();
    parts.len() >= 3
        && parts[..parts.len() - 1]
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase()))
        && parts[parts.len() - 1].bytes().all(|b| b.is_ascii_digit())
        && !parts[parts.len() - 1].is_empty()
}

impl Config {
    /// Parses the parameters of a `storage: s3:` block.
    pub fn from_params(items: &[(String, Value)]) -> Result<Config> {
        let p = Params { items };
        let mut warnings = Vec::new();
        for (key, _) in items {
            if !KNOWN.iter().any(|k| k.eq_ignore_ascii_case(key)) {
                warnings.push(format!("unknown parameter {key:?} ignored"));
            }
        }

        let region_endpoint = Some(p.string("regionendpoint")?).filter(|s| !s.is_empty());
        let region = p.string("region")?;
        if region_endpoint.is_none() {
            if region.is_empty() {
                return Err(invalid("no region parameter provided".into()));
            }
            if !is_region_name(&region) {
                return Err(invalid(format!("invalid region provided: {region}")));
            }
        }
        // S3-compatible servers ignore the region but SigV4 still needs one.
        let region = if region.is_empty() {
            "us-east-1".to_owned()
        } else {
            region
        };

        let bucket = p.string("bucket")?;
        if bucket.is_empty() {
            return Err(invalid("no bucket parameter provided".into()));
        }

        let v4_auth = p.boolean("v4auth", true)?;
        let amazon = region_endpoint
            .as_deref()
            .is_none_or(|e| e.contains("amazonaws.com"));
        if !v4_auth && (amazon || region == "eu-central-1") {
            return Err(invalid(
                "on Amazon S3 this storage driver can only be used with v4 authentication (v4auth)"
                    .into(),
            ));
        }

        let storage_class = {
            let raw = p.string("storageclass")?;
            let upper = if raw.is_empty() {
                "STANDARD".to_owned()
            } else {
                raw.to_ascii_uppercase()
            };
            if !STORAGE_CLASSES.contains(&upper.as_str()) {
                return Err(invalid(format!(
                    "the storageclass parameter must be one of [{}], {raw} invalid",
                    STORAGE_CLASSES.join(" ")
                )));
            }
            (upper != "NONE").then_some(upper)
        };

        let object_acl = {
            let acl = p.string("objectacl")?;
            if acl.is_empty() {
                "private".to_owned()
            } else if OBJECT_ACLS.contains(&acl.as_str()) {
                acl
            } else {
                return Err(invalid(format!(
                    "invalid value for objectacl parameter: {acl} (one of {})",
                    OBJECT_ACLS.join(", ")
                )));
            }
        };

        // The reference maps anything unknown, YAML booleans included, to `off`.
        let log_level = match p.get("loglevel") {
            Some(Value::Text(s)) if LOG_LEVELS.contains(&s.to_ascii_lowercase().as_str()) => {
                s.to_ascii_lowercase()
            }
            Some(Value::Text(s)) if !s.is_empty() => {
                warnings.push(format!("unknown loglevel {s:?}; logging is off"));
                "off".to_owned()
            }
            _ => "off".to_owned(),
        };

        let redirect_endpoint = Some(p.string("redirectendpoint")?).filter(|s| !s.is_empty());
        if let Some(r) = &redirect_endpoint {
            check_redirect_endpoint(r)?;
        }

        let key_id = Some(p.string("keyid")?).filter(|s| !s.is_empty());
        let encrypt = p.boolean("encrypt", false)?;
        if key_id.is_some() && !encrypt {
            warnings.push("keyid is set but encrypt is false: objects are not encrypted".into());
        }

        Ok(Config {
            credentials: Credentials::new(
                p.secret("accesskey")?,
                p.secret("secretkey")?,
                Some(p.secret("sessiontoken")?).filter(|s| !s.is_empty()),
            ),
            region,
            region_endpoint,
            force_path_style: p.boolean("forcepathstyle", false)?,
            bucket,
            encrypt,
            key_id,
            secure: p.boolean("secure", true)?,
            skip_verify: p.boolean("skipverify", false)?,
            v4_auth,
            chunk_size: p.integer(
                "chunksize",
                DEFAULT_CHUNK_SIZE,
                MIN_CHUNK_SIZE,
                MAX_CHUNK_SIZE,
            )?,
            multipart_copy_chunk_size: p.integer(
                "multipartcopychunksize",
                DEFAULT_MULTIPART_COPY_CHUNK_SIZE,
                MIN_CHUNK_SIZE,
                MAX_CHUNK_SIZE,
            )?,
            multipart_copy_max_concurrency: p.integer(
                "multipartcopymaxconcurrency",
                DEFAULT_MULTIPART_COPY_MAX_CONCURRENCY,
                1,
                i64::MAX as u64,
            )?,
            multipart_copy_threshold_size: p.integer(
                "multipartcopythresholdsize",
                DEFAULT_MULTIPART_COPY_THRESHOLD_SIZE,
                0,
                MAX_CHUNK_SIZE,
            )?,
            upload_max_concurrency: p.integer(
                "multipartuploadmaxconcurrency",
                DEFAULT_UPLOAD_MAX_CONCURRENCY,
                1,
                MAX_UPLOAD_MAX_CONCURRENCY,
            )?,
            payload_signing: {
                let raw = p.string("payloadsigning")?;
                if raw.is_empty() {
                    PayloadSigning::Auto
                } else {
                    PayloadSigning::parse(&raw).ok_or_else(|| {
                        Error::InvalidConfig(format!(
                            "the payloadsigning parameter must be one of [auto signed unsigned], \
                             {raw} invalid"
                        ))
                    })?
                }
            },
            root_directory: p.string("rootdirectory")?,
            storage_class,
            object_acl,
            user_agent: Some(p.string("useragent")?).filter(|s| !s.is_empty()),
            use_dual_stack: p.boolean("usedualstack", false)?,
            accelerate: p.boolean("accelerate", false)?,
            use_fips_endpoint: p.boolean("usefipsendpoint", false)?,
            redirect_endpoint,
            log_level,
            retry: crate::retry::RetryPolicy {
                max_attempts: p.integer("maxattempts", 3, 1, 10)? as u32,
                base_delay: p.duration(
                    "retrybasedelay",
                    crate::retry::DEFAULT_BASE_DELAY,
                    std::time::Duration::from_secs(60),
                )?,
                ..crate::retry::RetryPolicy::default()
            },
            timeouts: crate::transport::Timeouts {
                connect: p.duration(
                    "connecttimeout",
                    crate::transport::Timeouts::default().connect,
                    MAX_TIMEOUT,
                )?,
                first_byte: p.duration(
                    "firstbytetimeout",
                    crate::transport::Timeouts::default().first_byte,
                    MAX_TIMEOUT,
                )?,
                between_bytes: p.duration(
                    "betweenbytestimeout",
                    crate::transport::Timeouts::default().between_bytes,
                    MAX_TIMEOUT,
                )?,
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
        assert_eq!(c.upload_max_concurrency, DEFAULT_UPLOAD_MAX_CONCURRENCY);
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
