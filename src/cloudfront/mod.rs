//! The CloudFront storage middleware: its options, validated with the
//! reference's messages, the canned-policy signature ([`signing`]) and the
//! AWS IP ranges that keep clients inside AWS on S3 URLs ([`ip_ranges`]).
//! Pure: the private key file comes through the caller's `read_file`, and
//! fetching the ranges is the driver's job.

pub mod ip_ranges;
pub mod signing;

use std::fmt;

use crate::config::{Params, Value};
use crate::duration::parse_go_duration;
use crate::error::{Error, Result};
use crate::url::split_url;

pub use ip_ranges::{IpRanges, client_ip};
pub use signing::{canned_policy, url_b64};

/// Where AWS publishes its address ranges. A build for a site that mirrors
/// them can bake its mirror in (`S3_DRIVER_IP_RANGES_URL` at build time);
/// the host learns the origin from the component (`requirements`).
pub const DEFAULT_IP_RANGES_URL: &str = match option_env!("S3_DRIVER_IP_RANGES_URL") {
    Some(url) => url,
    None => "https://ip-ranges.amazonaws.com/ip-ranges.json",
};
/// Default validity of a signed URL (20 minutes).
pub const DEFAULT_DURATION_SECS: u64 = 20 * 60;
/// Default refresh period of the IP ranges (12 hours).
pub const DEFAULT_UPDATE_FREQUENCY_SECS: u64 = 12 * 3600;

/// Every option of a `name: cloudfront` entry (others are warned about).
pub const OPTIONS: &[&str] = &[
    "baseurl",
    "privatekey",
    "keypairid",
    "duration",
    "ipfilteredby",
    "awsregion",
    "updatefrequency",
    "updatefrenquency",
    "iprangesurl",
    "hashalgorithm",
];

/// Which clients get S3 URLs instead of CloudFront ones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IpFilter {
    /// Everyone gets CloudFront.
    None,
    /// Clients inside any AWS range get S3.
    Aws,
    /// Clients inside the ranges of these regions (lower case) get S3.
    AwsRegion(Vec<String>),
}

/// The digest signed with the key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashAlgorithm {
    /// CloudFront's default.
    Sha1,
    /// Accepted by CloudFront with `Hash-Algorithm=SHA256`.
    Sha256,
}

/// The middleware's options, validated.
#[derive(Clone)]
pub struct CloudFrontOptions {
    /// `https://dxxxx.cloudfront.net/`, always ending in `/`.
    pub base_url: String,
    key: rsa::RsaPrivateKey,
    /// The CloudFront key pair (or public key) id.
    pub key_pair_id: String,
    /// Validity of a signed URL.
    pub duration_secs: u64,
    /// The IP filter.
    pub filter: IpFilter,
    /// Refresh period of the IP ranges.
    pub update_frequency_secs: u64,
    /// Where the IP ranges come from.
    pub ip_ranges_url: String,
    /// SHA-1 (default) or SHA-256.
    pub hash: HashAlgorithm,
}

/// The key never shows.
impl fmt::Debug for CloudFrontOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CloudFrontOptions")
            .field("base_url", &self.base_url)
            .field("key", &"******")
            .field("key_pair_id", &self.key_pair_id)
            .field("duration_secs", &self.duration_secs)
            .field("filter", &self.filter)
            .field("update_frequency_secs", &self.update_frequency_secs)
            .field("ip_ranges_url", &self.ip_ranges_url)
            .field("hash", &self.hash)
            .finish()
    }
}

fn invalid(message: impl Into<String>) -> Error {
    Error::InvalidConfig(format!("cloudfront: {}", message.into()))
}

fn text(v: &Value, name: &str) -> Result<String> {
    match v {
        Value::Text(s) => Ok(s.clone()),
        _ => Err(invalid(format!("{name} must be a string"))),
    }
}

fn required(p: &Params<'_>, name: &str) -> Result<String> {
    text(
        p.get(name)
            .ok_or_else(|| invalid(format!("no {name} provided")))?,
        name,
    )
}

/// A duration option in seconds; `None` (with a warning) when it is not a string.
fn duration(v: &Value, name: &str, warnings: &mut Vec<String>) -> Result<Option<u64>> {
    match v {
        Value::Text(s) => parse_go_duration(s)
            .map(|d| Some(d.as_secs()))
            .ok_or_else(|| invalid(format!("invalid {name}: {s}"))),
        other => {
            // The reference silently ignores a bare number here; we say so.
            warnings.push(format!(
                "cloudfront: {name} {other} is not a duration string (like 20m); the default applies"
            ));
            Ok(None)
        }
    }
}

fn base_url(p: &Params<'_>) -> Result<String> {
    let base = required(p, "baseurl")?;
    let mut url = if base.contains("://") {
        base.clone()
    } else {
        format!("https://{base}")
    };
    if !url.ends_with('/') {
        url.push('/');
    }
    let (scheme, rest) = url.split_once("://").expect("has a scheme");
    if !matches!(scheme, "http" | "https")
        || rest.starts_with('/')
        || rest.contains(['?', '#', ' '])
    {
        return Err(invalid(format!("invalid baseurl: {base}")));
    }
    Ok(url)
}

fn private_key(
    p: &Params<'_>,
    read_file: impl Fn(&str) -> std::io::Result<String>,
) -> Result<rsa::RsaPrivateKey> {
    let value = required(p, "privatekey")?;
    let pem = if value.contains("-----BEGIN") {
        value
    } else {
        read_file(&value).map_err(|e| {
            invalid(format!(
                "failed to read privatekey file: {value}: {}",
                e.kind()
            ))
        })?
    };
    signing::decode_key(&pem)
}

fn filter(p: &Params<'_>) -> Result<IpFilter> {
    let name = match p.get("ipfilteredby") {
        None => String::new(),
        Some(Value::Text(s)) => s.trim().to_ascii_lowercase(),
        Some(_) => {
            return Err(invalid(
                "ipfilteredby only allows a string with the following value: none|aws|awsregion",
            ));
        }
    };
    match name.as_str() {
        "" | "none" => Ok(IpFilter::None),
        "aws" => Ok(IpFilter::Aws),
        "awsregion" => {
            let regions: Vec<String> = match p.get("awsregion") {
                None => return Err(invalid("awsRegion is not defined")),
                Some(Value::Text(s)) => s.split(',').map(str::to_owned).collect(),
                Some(Value::List(l)) => l.clone(),
                Some(_) => {
                    return Err(invalid(
                        "awsRegion must be a comma separated string of valid aws regions",
                    ));
                }
            };
            let regions: Vec<String> = regions
                .iter()
                .map(|r| r.trim().to_ascii_lowercase())
                .filter(|r| !r.is_empty())
                .collect();
            if regions.is_empty() {
                return Err(invalid("awsRegion is not defined"));
            }
            Ok(IpFilter::AwsRegion(regions))
        }
        _ => Err(invalid(
            "ipfilteredby only allows a string the following value: none|aws|awsregion",
        )),
    }
}

fn update_frequency(p: &Params<'_>, warnings: &mut Vec<String>) -> Result<u64> {
    let secs = match (p.get("updatefrequency"), p.get("updatefrenquency")) {
        (Some(v), _) => duration(v, "updatefrequency", warnings)?,
        (None, Some(v)) => {
            warnings.push("cloudfront: updatefrenquency is deprecated, use updatefrequency".into());
            duration(v, "updatefrenquency", warnings)?
        }
        (None, None) => None,
    };
    Ok(secs.unwrap_or(DEFAULT_UPDATE_FREQUENCY_SECS))
}

fn ip_ranges_url(p: &Params<'_>) -> Result<String> {
    let url = match p.get("iprangesurl") {
        None => DEFAULT_IP_RANGES_URL.to_owned(),
        Some(v) => text(v, "iprangesurl")?,
    };
    split_url(&url).ok_or_else(|| invalid(format!("iprangesurl must be an http(s) URL: {url}")))?;
    Ok(url)
}

fn hash(p: &Params<'_>) -> Result<HashAlgorithm> {
    match p.get("hashalgorithm") {
        None => Ok(HashAlgorithm::Sha1),
        Some(Value::Text(s)) if s.eq_ignore_ascii_case("sha1") => Ok(HashAlgorithm::Sha1),
        Some(Value::Text(s)) if s.eq_ignore_ascii_case("sha256") => Ok(HashAlgorithm::Sha256),
        Some(_) => Err(invalid("hashalgorithm must be SHA1 or SHA256")),
    }
}

/// Every option but the key, validated.
struct Unkeyed {
    base_url: String,
    key_pair_id: String,
    duration_secs: u64,
    filter: IpFilter,
    update_frequency_secs: u64,
    ip_ranges_url: String,
    hash: HashAlgorithm,
}

impl Unkeyed {
    fn from_params(p: &Params<'_>, warnings: &mut Vec<String>) -> Result<Self> {
        let base_url = base_url(p)?;
        required(p, "privatekey")?;
        let key_pair_id = required(p, "keypairid")?;
        let duration_secs = match p.get("duration") {
            Some(v) => duration(v, "duration", warnings)?,
            None => None,
        }
        .unwrap_or(DEFAULT_DURATION_SECS);
        Ok(Self {
            base_url,
            key_pair_id,
            duration_secs,
            filter: filter(p)?,
            update_frequency_secs: update_frequency(p, warnings)?,
            ip_ranges_url: ip_ranges_url(p)?,
            hash: hash(p)?,
        })
    }
}

/// What a `cloudfront` entry needs from its host, every option but the key
/// itself checked: the key file it reads (when `privatekey` is a path, not
/// a PEM) and the IP-ranges URL it fetches (when a filter is on).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloudFrontNeeds {
    /// The `privatekey` file.
    pub key_file: Option<String>,
    /// The `iprangesurl` (or its default).
    pub ip_ranges_url: Option<String>,
}

/// [`CloudFrontNeeds`] of an entry's options.
pub fn needs(items: &[(String, Value)]) -> Result<CloudFrontNeeds> {
    let p = Params::new(items);
    let u = Unkeyed::from_params(&p, &mut Vec::new())?;
    let key = required(&p, "privatekey")?;
    Ok(CloudFrontNeeds {
        key_file: (!key.contains("-----BEGIN")).then_some(key),
        ip_ranges_url: (u.filter != IpFilter::None).then_some(u.ip_ranges_url),
    })
}

impl CloudFrontOptions {
    /// Validates the `options:` of a `name: cloudfront` middleware entry.
    /// `read_file` reads the private key when `privatekey` is a path.
    pub fn from_options(
        items: &[(String, Value)],
        read_file: impl Fn(&str) -> std::io::Result<String>,
        warnings: &mut Vec<String>,
    ) -> Result<Self> {
        let p = Params::new(items);
        for (k, _) in items {
            if !OPTIONS.iter().any(|n| n.eq_ignore_ascii_case(k)) {
                warnings.push(format!("cloudfront: unknown option {k:?} ignored"));
            }
        }
        let u = Unkeyed::from_params(&p, warnings)?;
        // The key file is touched only once every other option is valid.
        let key = private_key(&p, read_file)?;
        Ok(Self {
            base_url: u.base_url,
            key,
            key_pair_id: u.key_pair_id,
            duration_secs: u.duration_secs,
            filter: u.filter,
            update_frequency_secs: u.update_frequency_secs,
            ip_ranges_url: u.ip_ranges_url,
            hash: u.hash,
        })
    }
}

#[cfg(test)]
mod known_answers;
