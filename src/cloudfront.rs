//! The CloudFront storage middleware: signed redirect URLs (canned policy) and
//! the AWS IP-range filter that keeps clients inside AWS on S3 URLs.
//!
//! Signing follows the CloudFront developer guide's canned policy: the policy
//! JSON is built byte for byte (no whitespace, `Resource` then `Condition`, and
//! no HTML escaping of `&`, which broke Go SDK signatures for URLs with a query),
//! signed with RSA PKCS#1 v1.5 over SHA-1 (or SHA-256 when asked, sent as
//! `Hash-Algorithm=SHA256`), and base64-encoded with `+`→`-`, `=`→`_`, `/`→`~`.

use std::fmt;
use std::net::IpAddr;

use base64::Engine;
use ipnet::{Ipv4Net, Ipv6Net};
use rsa::pkcs1::DecodeRsaPrivateKey;
use rsa::pkcs1v15::SigningKey;
use rsa::pkcs8::DecodePrivateKey;
use rsa::signature::{SignatureEncoding, Signer};
use serde::Deserialize;

use crate::config::Value;
use crate::error::{Error, Result};
use crate::time::UtcDateTime;

/// Where AWS publishes its address ranges.
pub const DEFAULT_IP_RANGES_URL: &str = "https://ip-ranges.amazonaws.com/ip-ranges.json";
/// Default validity of a signed URL (20 minutes).
pub const DEFAULT_DURATION_SECS: u64 = 20 * 60;
/// Default refresh period of the IP ranges (12 hours).
pub const DEFAULT_UPDATE_FREQUENCY_SECS: u64 = 12 * 3600;

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

/// Parses a Go `time.ParseDuration` string: `20m`, `1h30m`, `1.5h`, `300ms`.
pub fn parse_go_duration(s: &str) -> Option<std::time::Duration> {
    let s = s.trim();
    let (negative, mut rest) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    if rest == "0" {
        return Some(std::time::Duration::ZERO);
    }
    if rest.is_empty() || negative {
        return None;
    }
    let mut nanos: f64 = 0.0;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let (num, tail) = rest.split_at(num_len);
        if num.is_empty() || num == "." {
            return None;
        }
        let value: f64 = num.parse().ok()?;
        let unit_len = tail
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(tail.len());
        let (unit, tail) = tail.split_at(unit_len);
        let scale = match unit {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        nanos += value * scale;
        rest = tail;
    }
    Some(std::time::Duration::from_nanos(nanos as u64))
}

/// Base64 with CloudFront's URL-safe substitutions.
pub fn url_b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD
        .encode(bytes)
        .chars()
        .map(|c| match c {
            '+' => '-',
            '=' => '_',
            '/' => '~',
            c => c,
        })
        .collect()
}

/// The canned policy for `resource` expiring at `expires` (Unix seconds).
/// `serde_json` escapes quotes and backslashes but not `&`, `<` or `>`.
pub fn canned_policy(resource: &str, expires: i64) -> String {
    let resource = serde_json::to_string(resource).expect("a string serialises");
    format!(
        r#"{{"Statement":[{{"Resource":{resource},"Condition":{{"DateLessThan":{{"AWS:EpochTime":{expires}}}}}}}]}}"#
    )
}

fn text(v: &Value, name: &str) -> Result<String> {
    match v {
        Value::Text(s) => Ok(s.clone()),
        _ => Err(invalid(format!("{name} must be a string"))),
    }
}

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

/// Decodes a PKCS#1 (`RSA PRIVATE KEY`) or PKCS#8 (`PRIVATE KEY`) PEM.
fn decode_key(pem: &str) -> Result<rsa::RsaPrivateKey> {
    rsa::RsaPrivateKey::from_pkcs1_pem(pem)
        .or_else(|_| rsa::RsaPrivateKey::from_pkcs8_pem(pem))
        .map_err(|_| {
            invalid("failed to decode private key as an rsa private key (PKCS#1 or PKCS#8 PEM)")
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
        let get = |k: &str| {
            items
                .iter()
                .rev()
                .find(|(key, _)| key.eq_ignore_ascii_case(k))
                .map(|(_, v)| v)
        };
        const KNOWN: &[&str] = &[
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
        for (k, _) in items {
            if !KNOWN.iter().any(|n| n.eq_ignore_ascii_case(k)) {
                warnings.push(format!("cloudfront: unknown option {k:?} ignored"));
            }
        }

        let base = text(
            get("baseurl").ok_or_else(|| invalid("no baseurl provided"))?,
            "baseurl",
        )?;
        let mut base_url = if base.contains("://") {
            base.clone()
        } else {
            format!("https://{base}")
        };
        if !base_url.ends_with('/') {
            base_url.push('/');
        }
        let (scheme, rest) = base_url.split_once("://").expect("has a scheme");
        if !matches!(scheme, "http" | "https")
            || rest.starts_with('/')
            || rest.contains(['?', '#', ' '])
        {
            return Err(invalid(format!("invalid baseurl: {base}")));
        }

        let key_value = text(
            get("privatekey").ok_or_else(|| invalid("no privatekey provided"))?,
            "privatekey",
        )?;
        let pem = if key_value.contains("-----BEGIN") {
            key_value
        } else {
            read_file(&key_value).map_err(|e| {
                invalid(format!(
                    "failed to read privatekey file: {key_value}: {}",
                    e.kind()
                ))
            })?
        };
        let key = decode_key(&pem)?;

        let key_pair_id = text(
            get("keypairid").ok_or_else(|| invalid("no keypairid provided"))?,
            "keypairid",
        )?;

        let duration_secs = match get("duration") {
            Some(v) => duration(v, "duration", warnings)?.unwrap_or(DEFAULT_DURATION_SECS),
            None => DEFAULT_DURATION_SECS,
        };

        let filter_name = match get("ipfilteredby") {
            None => String::new(),
            Some(Value::Text(s)) => s.trim().to_ascii_lowercase(),
            Some(_) => {
                return Err(invalid(
                    "ipfilteredby only allows a string with the following value: none|aws|awsregion",
                ));
            }
        };
        let filter = match filter_name.as_str() {
            "" | "none" => IpFilter::None,
            "aws" => IpFilter::Aws,
            "awsregion" => {
                let regions: Vec<String> = match get("awsregion") {
                    None => return Err(invalid("awsRegion is not defined")),
                    Some(Value::Text(s)) => s
                        .split(',')
                        .map(|r| r.trim().to_ascii_lowercase())
                        .collect(),
                    Some(Value::List(l)) => {
                        l.iter().map(|r| r.trim().to_ascii_lowercase()).collect()
                    }
                    Some(_) => {
                        return Err(invalid(
                            "awsRegion must be a comma separated string of valid aws regions",
                        ));
                    }
                };
                let regions: Vec<String> = regions.into_iter().filter(|r| !r.is_empty()).collect();
                if regions.is_empty() {
                    return Err(invalid("awsRegion is not defined"));
                }
                IpFilter::AwsRegion(regions)
            }
            _ => {
                return Err(invalid(
                    "ipfilteredby only allows a string the following value: none|aws|awsregion",
                ));
            }
        };

        let update_frequency_secs = match (get("updatefrequency"), get("updatefrenquency")) {
            (Some(v), _) => duration(v, "updatefrequency", warnings)?,
            (None, Some(v)) => {
                warnings
                    .push("cloudfront: updatefrenquency is deprecated, use updatefrequency".into());
                duration(v, "updatefrenquency", warnings)?
            }
            (None, None) => None,
        }
        .unwrap_or(DEFAULT_UPDATE_FREQUENCY_SECS);

        let ip_ranges_url = match get("iprangesurl") {
            None => DEFAULT_IP_RANGES_URL.to_owned(),
            Some(v) => text(v, "iprangesurl")?,
        };
        split_url(&ip_ranges_url).ok_or_else(|| {
            invalid(format!(
                "iprangesurl must be an http(s) URL: {ip_ranges_url}"
            ))
        })?;

        let hash = match get("hashalgorithm") {
            None => HashAlgorithm::Sha1,
            Some(Value::Text(s)) if s.eq_ignore_ascii_case("sha1") => HashAlgorithm::Sha1,
            Some(Value::Text(s)) if s.eq_ignore_ascii_case("sha256") => HashAlgorithm::Sha256,
            Some(_) => return Err(invalid("hashalgorithm must be SHA1 or SHA256")),
        };

        Ok(Self {
            base_url,
            key,
            key_pair_id,
            duration_secs,
            filter,
            update_frequency_secs,
            ip_ranges_url,
            hash,
        })
    }

    /// Signs `url` (already in its wire form) with a canned policy expiring at `expires`.
    pub fn sign(&self, url: &str, expires: i64) -> Result<String> {
        if !url.is_ascii() {
            return Err(Error::InvalidState(format!(
                "cloudfront: URL is not ASCII: {url}"
            )));
        }
        let policy = canned_policy(url, expires);
        let signature = match self.hash {
            HashAlgorithm::Sha1 => SigningKey::<sha1::Sha1>::new(self.key.clone())
                .sign(policy.as_bytes())
                .to_vec(),
            HashAlgorithm::Sha256 => SigningKey::<sha2::Sha256>::new(self.key.clone())
                .sign(policy.as_bytes())
                .to_vec(),
        };
        let separator = if url.contains('?') { '&' } else { '?' };
        let mut out = format!(
            "{url}{separator}Expires={expires}&Signature={}&Key-Pair-Id={}",
            url_b64(&signature),
            self.key_pair_id
        );
        if self.hash == HashAlgorithm::Sha256 {
            out.push_str("&Hash-Algorithm=SHA256");
        }
        Ok(out)
    }

    /// The signed CloudFront URL of an S3 key, valid `duration` from `now`.
    pub fn signed_url(&self, key: &str, now: UtcDateTime) -> Result<String> {
        let url = format!("{}{}", self.base_url, crate::sign::uri_encode(key, true));
        self.sign(&url, now.seconds + self.duration_secs as i64)
    }
}

/// `scheme`, `authority`, `path` of an http(s) URL.
pub fn split_url(url: &str) -> Option<(bool, String, String)> {
    let (scheme, rest) = url.split_once("://")?;
    let secure = match scheme {
        "https" => true,
        "http" => false,
        _ => return None,
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    if authority.is_empty() {
        return None;
    }
    Some((secure, authority.to_owned(), path.to_owned()))
}

/// AWS's published address ranges, possibly restricted to some regions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IpRanges {
    v4: Vec<Ipv4Net>,
    v6: Vec<Ipv6Net>,
}

#[derive(Deserialize)]
struct RangesDoc {
    #[serde(default)]
    prefixes: Vec<V4Prefix>,
    #[serde(default)]
    ipv6_prefixes: Vec<V6Prefix>,
}

#[derive(Deserialize)]
struct V4Prefix {
    ip_prefix: String,
    #[serde(default)]
    region: String,
}

#[derive(Deserialize)]
struct V6Prefix {
    ipv6_prefix: String,
    #[serde(default)]
    region: String,
}

impl IpRanges {
    /// Parses `ip-ranges.json`, keeping the listed regions' prefixes (all when
    /// `regions` is `None`). Unparsable prefixes are skipped and counted.
    pub fn parse(json: &[u8], regions: Option<&[String]>) -> Result<(Self, usize)> {
        let doc: RangesDoc = serde_json::from_slice(json)
            .map_err(|e| Error::MalformedResponse(format!("ip-ranges: {e}")))?;
        let wanted = |region: &str| {
            regions.is_none_or(|rs| rs.iter().any(|r| r.eq_ignore_ascii_case(region)))
        };
        let mut skipped = 0;
        let mut out = IpRanges::default();
        for p in doc.prefixes.iter().filter(|p| wanted(&p.region)) {
            match p.ip_prefix.parse() {
                Ok(net) => out.v4.push(net),
                Err(_) => skipped += 1,
            }
        }
        for p in doc.ipv6_prefixes.iter().filter(|p| wanted(&p.region)) {
            match p.ipv6_prefix.parse() {
                Ok(net) => out.v6.push(net),
                Err(_) => skipped += 1,
            }
        }
        Ok((out, skipped))
    }

    /// True when `ip` is inside one of the ranges of its family.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match ip {
            IpAddr::V4(a) => self.v4.iter().any(|n| n.contains(&a)),
            IpAddr::V6(a) => self.v6.iter().any(|n| n.contains(&a)),
        }
    }

    /// Number of IPv4 and IPv6 ranges.
    pub fn len(&self) -> (usize, usize) {
        (self.v4.len(), self.v6.len())
    }
}

/// The client's address: the first `X-Forwarded-For` entry, else
/// `X-Real-Ip`, else the connection's address without its port.
pub fn client_ip(
    remote_addr: &str,
    forwarded_for: Option<&str>,
    real_ip: Option<&str>,
) -> Option<IpAddr> {
    if let Some(ip) = forwarded_for
        .and_then(|f| f.split(',').next())
        .and_then(|f| f.trim().parse().ok())
    {
        return Some(ip);
    }
    if let Some(ip) = real_ip.and_then(|r| r.trim().parse().ok()) {
        return Some(ip);
    }
    let addr = remote_addr.trim();
    if let Ok(ip) = addr.parse() {
        return Some(ip);
    }
    if let Ok(sock) = addr.parse::<std::net::SocketAddr>() {
        return Some(sock.ip());
    }
    addr.trim_start_matches('[')
        .trim_end_matches(']')
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations() {
        let s = |x: &str| parse_go_duration(x).map(|d| d.as_secs_f64());
        assert_eq!(s("20m"), Some(1200.0));
        assert_eq!(s("1h30m"), Some(5400.0));
        assert_eq!(s("1.5h"), Some(5400.0));
        assert_eq!(s("300ms"), Some(0.3));
        assert_eq!(s("0"), Some(0.0));
        assert_eq!(s("20"), None);
        assert_eq!(s("twenty minutes"), None);
        assert_eq!(s(""), None);
    }

    #[test]
    fn canned_policy_is_byte_exact_and_does_not_escape_ampersands() {
        assert_eq!(
            canned_policy(
                "https://d111111abcdef8.cloudfront.net/a?x=1&y=2",
                1357034400
            ),
            r#"{"Statement":[{"Resource":"https://d111111abcdef8.cloudfront.net/a?x=1&y=2","Condition":{"DateLessThan":{"AWS:EpochTime":1357034400}}}]}"#
        );
    }

    #[test]
    fn url_safe_base64() {
        assert_eq!(url_b64(&[0xfb, 0xff]), "-~8_");
    }

    #[test]
    fn ip_ranges_parse_filter_and_skip_bad_prefixes() {
        let json = br#"{"syncToken":"1","prefixes":[
            {"ip_prefix":"192.168.0.0/24","region":"us-east-1","service":"AMAZON"},
            {"ip_prefix":"9000","region":"us-east-1","service":"AMAZON"},
            {"ip_prefix":"10.0.0.0/8","region":"eu-west-1","service":"EC2"}],
          "ipv6_prefixes":[{"ipv6_prefix":"ff00::/16","region":"us-east-1","service":"S3"}]}"#;
        let (all, skipped) = IpRanges::parse(json, None).unwrap();
        assert_eq!((all.len(), skipped), ((2, 1), 1));
        assert!(all.contains("192.168.0.1".parse().unwrap()));
        assert!(!all.contains("192.169.0.0".parse().unwrap()));
        assert!(all.contains("ff00::".parse().unwrap()));
        let (east, _) = IpRanges::parse(json, Some(&["US-EAST-1".to_owned()])).unwrap();
        assert!(!east.contains("10.1.2.3".parse().unwrap()));
        assert!(east.contains("192.168.0.0".parse().unwrap()));
        assert!(IpRanges::parse(b"not json", None).is_err());
    }

    #[test]
    fn client_address_precedence() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert_eq!(
            client_ip("10.0.0.1:5000", Some("1.2.3.4, 5.6.7.8"), Some("9.9.9.9")),
            Some(ip("1.2.3.4"))
        );
        assert_eq!(
            client_ip("10.0.0.1:5000", Some("garbage"), Some("9.9.9.9")),
            Some(ip("9.9.9.9"))
        );
        assert_eq!(client_ip("10.0.0.1:5000", None, None), Some(ip("10.0.0.1")));
        assert_eq!(client_ip("[::1]:5000", None, None), Some(ip("::1")));
        assert_eq!(client_ip("::1", None, None), Some(ip("::1")));
        assert_eq!(client_ip("", None, None), None);
    }

    #[test]
    fn split_urls() {
        assert_eq!(
            split_url("https://ip-ranges.amazonaws.com/ip-ranges.json"),
            Some((
                true,
                "ip-ranges.amazonaws.com".into(),
                "/ip-ranges.json".into()
            ))
        );
        assert_eq!(
            split_url("http://127.0.0.1:9"),
            Some((false, "127.0.0.1:9".into(), "/".into()))
        );
        assert_eq!(split_url("ftp://x/y"), None);
    }
}

#[cfg(test)]
mod known_answers {
    use super::*;

    const PKCS1: &str = include_str!("../testdata/cloudfront/cloudfront-pkcs1.pem");
    const PKCS8: &str = include_str!("../testdata/cloudfront/cloudfront-pkcs8.pem");

    fn options(key: &str, extra: &[(&str, &str)]) -> Result<CloudFrontOptions> {
        let mut items = vec![
            (
                "baseurl".to_owned(),
                Value::Text("d111111abcdef8.cloudfront.net".into()),
            ),
            ("privatekey".to_owned(), Value::Text(key.into())),
            ("keypairid".to_owned(), Value::Text("K2JCJMDEHXQW5F".into())),
        ];
        for (k, v) in extra {
            items.push(((*k).into(), Value::Text((*v).into())));
        }
        CloudFrontOptions::from_options(
            &items,
            |_| Err(std::io::ErrorKind::NotFound.into()),
            &mut Vec::new(),
        )
    }

    /// `known-url.txt` was produced by `openssl dgst -sha1 -sign` over the same
    /// policy: an independent implementation agrees byte for byte.
    #[test]
    fn a_known_key_and_time_give_the_openssl_url() {
        let now = UtcDateTime {
            seconds: 1_800_000_000,
            nanos: 0,
        };
        let key = "reg/docker/registry/v2/blobs/sha256/ab/abc/data";
        for pem in [PKCS1, PKCS8] {
            let o = options(pem, &[]).unwrap();
            assert_eq!(o.base_url, "https://d111111abcdef8.cloudfront.net/");
            assert_eq!(
                o.signed_url(key, now).unwrap(),
                include_str!("../testdata/cloudfront/known-url.txt").trim()
            );
        }
        let o = options(PKCS1, &[("hashalgorithm", "SHA256")]).unwrap();
        assert_eq!(
            o.signed_url(key, now).unwrap(),
            include_str!("../testdata/cloudfront/known-url-sha256.txt").trim()
        );
        assert_eq!(
            canned_policy(
                &format!("https://d111111abcdef8.cloudfront.net/{key}"),
                1_800_001_200
            ),
            include_str!("../testdata/cloudfront/known-policy.json")
        );
    }

    #[test]
    fn every_option_error_is_named() {
        let err = |items: Vec<(&str, Value)>| {
            let items: Vec<(String, Value)> =
                items.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
            match CloudFrontOptions::from_options(
                &items,
                |_| Err(std::io::ErrorKind::NotFound.into()),
                &mut Vec::new(),
            ) {
                Err(Error::InvalidConfig(m)) => m,
                other => panic!("expected invalid-config, got {other:?}"),
            }
        };
        let t = |s: &str| Value::Text(s.into());
        let base = || {
            vec![
                ("baseurl", t("example.com")),
                ("privatekey", t(PKCS1)),
                ("keypairid", t("K")),
            ]
        };
        let with = |k: &'static str, v: Value| {
            let mut b = base();
            b.retain(|(key, _)| *key != k);
            b.push((k, v));
            b
        };
        let without = |k: &str| {
            base()
                .into_iter()
                .filter(|(key, _)| *key != k)
                .collect::<Vec<_>>()
        };
        assert_eq!(err(vec![]), "cloudfront: no baseurl provided");
        assert_eq!(
            err(without("privatekey")),
            "cloudfront: no privatekey provided"
        );
        assert_eq!(
            err(without("keypairid")),
            "cloudfront: no keypairid provided"
        );
        assert_eq!(
            err(with("baseurl", Value::Int(1))),
            "cloudfront: baseurl must be a string"
        );
        assert_eq!(
            err(with("baseurl", t("ftp://x"))),
            "cloudfront: invalid baseurl: ftp://x"
        );
        assert_eq!(
            err(with("keypairid", Value::Bool(true))),
            "cloudfront: keypairid must be a string"
        );
        assert_eq!(
            err(with("privatekey", t("/no/such/key.pem"))),
            "cloudfront: failed to read privatekey file: /no/such/key.pem: entity not found"
        );
        assert!(
            err(with(
                "privatekey",
                t("-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----")
            ))
            .contains("failed to decode private key")
        );
        assert_eq!(
            err(with("duration", t("soon"))),
            "cloudfront: invalid duration: soon"
        );
        assert!(err(with("ipfilteredby", t("everyone"))).contains("none|aws|awsregion"));
        assert!(err(with("ipfilteredby", Value::Bool(true))).contains("none|aws|awsregion"));
        assert_eq!(
            err(with("ipfilteredby", t("awsregion"))),
            "cloudfront: awsRegion is not defined"
        );
        let mut b = with("ipfilteredby", t("awsregion"));
        b.push(("awsregion", Value::Int(3)));
        assert!(err(b).contains("comma separated string"));
        assert_eq!(
            err(with("updatefrequency", t("often"))),
            "cloudfront: invalid updatefrequency: often"
        );
        assert!(err(with("iprangesurl", t("file:///etc/passwd"))).contains("iprangesurl"));
        assert!(err(with("hashalgorithm", t("MD5"))).contains("SHA1 or SHA256"));
    }

    #[test]
    fn defaults_aliases_and_warnings() {
        let mut warnings = Vec::new();
        let items = vec![
            (
                "baseurl".to_owned(),
                Value::Text("https://cdn.example/".into()),
            ),
            ("privatekey".to_owned(), Value::Text("/keys/pk.pem".into())),
            ("keypairid".to_owned(), Value::Text("K".into())),
            ("ipfilteredby".to_owned(), Value::Text(" AWSRegion ".into())),
            (
                "awsregion".to_owned(),
                Value::Text("US-East-1, eu-west-1".into()),
            ),
            ("updatefrenquency".to_owned(), Value::Text("1h".into())),
            ("duration".to_owned(), Value::Int(3)),
        ];
        let o = CloudFrontOptions::from_options(
            &items,
            |p| {
                assert_eq!(p, "/keys/pk.pem");
                Ok(PKCS8.to_owned())
            },
            &mut warnings,
        )
        .unwrap();
        assert_eq!(
            o.filter,
            IpFilter::AwsRegion(vec!["us-east-1".into(), "eu-west-1".into()])
        );
        assert_eq!(o.update_frequency_secs, 3600);
        assert_eq!(o.duration_secs, DEFAULT_DURATION_SECS);
        assert_eq!(o.ip_ranges_url, DEFAULT_IP_RANGES_URL);
        assert!(
            warnings
                .iter()
                .any(|w| w.contains("updatefrenquency is deprecated"))
        );
        assert!(warnings.iter().any(|w| w.contains("duration 3")));
        assert!(!format!("{o:?}").contains("PRIVATE"));
    }

    #[test]
    fn urls_with_a_query_get_an_ampersand() {
        let o = options(PKCS1, &[]).unwrap();
        let signed = o.sign("https://cdn.example/a?x=1", 10).unwrap();
        assert!(signed.starts_with("https://cdn.example/a?x=1&Expires=10&Signature="));
        assert!(o.sign("https://cdn.example/ä", 10).is_err());
    }
}
