//! Where a bucket's requests go: scheme, host and addressing style.

use crate::config::Config;
use crate::error::{Error, Result};
use crate::url::uri_encode;

/// The resolved endpoint of one bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// HTTPS when true.
    pub secure: bool,
    /// The service authority, `host[:port]`, without the bucket.
    pub host: String,
    /// Bucket in the path (`host/bucket/key`) rather than the host name.
    pub path_style: bool,
    /// The bucket.
    pub bucket: String,
}

/// Bucket names that can be a DNS label prefix (virtual-hosted style).
fn dns_compatible(bucket: &str, secure: bool) -> bool {
    let ok_chars = bucket
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.');
    let edges = bucket
        .bytes()
        .next()
        .zip(bucket.bytes().last())
        .is_some_and(|(a, z)| a.is_ascii_alphanumeric() && z.is_ascii_alphanumeric());
    (3..=63).contains(&bucket.len())
        && ok_chars
        && edges
        && !bucket.contains("..")
        && bucket.parse::<std::net::Ipv4Addr>().is_err()
        // A dotted name breaks the TLS wildcard certificate.
        && !(secure && bucket.contains('.'))
}

/// Hosts where virtual-hosted style cannot work: IP literals and localhost.
fn is_ip_or_localhost(host: &str) -> bool {
    let name = if host.starts_with('[') {
        return true;
    } else {
        host.rsplit_once(':').map_or(host, |(h, _)| h)
    };
    name == "localhost" || name.parse::<std::net::IpAddr>().is_ok()
}

/// Drops the scheme's default port so `host` is what clients put in `Host:`.
fn normalise_authority(authority: &str, secure: bool) -> String {
    let default = if secure { ":443" } else { ":80" };
    authority
        .strip_suffix(default)
        .unwrap_or(authority)
        .to_owned()
}

impl Endpoint {
    /// Resolves the endpoint from the configuration.
    pub fn from_config(cfg: &Config) -> Result<Self> {
        let (secure, host, custom) = match &cfg.region_endpoint {
            Some(e) => {
                let (secure, rest) = if let Some(r) = e.strip_prefix("https://") {
                    (true, r)
                } else if let Some(r) = e.strip_prefix("http://") {
                    (false, r)
                } else if e.contains("://") {
                    return Err(Error::InvalidConfig(format!(
                        "regionendpoint must use http or https: {e}"
                    )));
                } else {
                    (cfg.secure, e.as_str())
                };
                let rest = rest.trim_end_matches('/');
                if rest.is_empty() || rest.contains('/') || rest.contains('?') {
                    return Err(Error::InvalidConfig(format!(
                        "regionendpoint must be a scheme and host without a path: {e}"
                    )));
                }
                (secure, normalise_authority(rest, secure), true)
            }
            None => (cfg.secure, amazon_host(cfg), false),
        };
        let path_style = !cfg.accelerate
            && (cfg.force_path_style
                || !dns_compatible(&cfg.bucket, secure)
                || (custom && is_ip_or_localhost(&host)));
        Ok(Self {
            secure,
            host,
            path_style,
            bucket: cfg.bucket.clone(),
        })
    }

    /// Authority and encoded path of an object.
    pub fn object(&self, key: &str) -> (String, String) {
        let key = uri_encode(key, true);
        if self.path_style {
            (self.host.clone(), format!("/{}/{key}", self.bucket))
        } else {
            (format!("{}.{}", self.bucket, self.host), format!("/{key}"))
        }
    }

    /// Authority and encoded path of the bucket itself (listings, batch delete).
    pub fn bucket(&self) -> (String, String) {
        if self.path_style {
            (self.host.clone(), format!("/{}", self.bucket))
        } else {
            (format!("{}.{}", self.bucket, self.host), "/".to_owned())
        }
    }
}

/// Amazon's host name for the configured region and options.
fn amazon_host(cfg: &Config) -> String {
    let suffix = if cfg.region.starts_with("cn-") {
        "amazonaws.com.cn"
    } else {
        "amazonaws.com"
    };
    if cfg.accelerate {
        let dual = if cfg.use_dual_stack { ".dualstack" } else { "" };
        return format!("s3-accelerate{dual}.{suffix}");
    }
    let fips = if cfg.use_fips_endpoint { "-fips" } else { "" };
    let dual = if cfg.use_dual_stack { ".dualstack" } else { "" };
    if cfg.region == "us-east-1" && fips.is_empty() && dual.is_empty() {
        return format!("s3.{suffix}");
    }
    format!("s3{fips}{dual}.{}.{suffix}", cfg.region)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Value;

    fn cfg(extra: &[(&str, &str)]) -> Config {
        let mut p: Vec<(String, Value)> = vec![
            ("accesskey".into(), Value::Text("AK".into())),
            ("secretkey".into(), Value::Text("SK".into())),
            ("bucket".into(), Value::Text("registry".into())),
            ("region".into(), Value::Text("us-east-1".into())),
        ];
        for (k, v) in extra {
            p.push(((*k).into(), Value::Text((*v).into())));
        }
        Config::from_params(&p).unwrap()
    }

    #[test]
    fn amazon_uses_virtual_hosts_and_the_global_host_for_us_east_1() {
        let e = Endpoint::from_config(&cfg(&[])).unwrap();
        assert_eq!(
            e.object("docker/x"),
            ("registry.s3.amazonaws.com".into(), "/docker/x".into())
        );
        let e = Endpoint::from_config(&cfg(&[("region", "eu-west-1")])).unwrap();
        assert_eq!(e.bucket().0, "registry.s3.eu-west-1.amazonaws.com");
        let e = Endpoint::from_config(&cfg(&[
            ("region", "eu-west-1"),
            ("usedualstack", "true"),
            ("usefipsendpoint", "true"),
        ]))
        .unwrap();
        assert_eq!(e.host, "s3-fips.dualstack.eu-west-1.amazonaws.com");
        let e = Endpoint::from_config(&cfg(&[("accelerate", "true")])).unwrap();
        assert_eq!(e.host, "s3-accelerate.amazonaws.com");
    }

    #[test]
    fn path_style_when_forced_for_ip_hosts_and_for_dotted_buckets_over_tls() {
        let e = Endpoint::from_config(&cfg(&[("forcepathstyle", "true")])).unwrap();
        assert_eq!(
            e.object("a"),
            ("s3.amazonaws.com".into(), "/registry/a".into())
        );
        let e =
            Endpoint::from_config(&cfg(&[("regionendpoint", "http://127.0.0.1:9000")])).unwrap();
        assert!(e.path_style && !e.secure);
        assert_eq!(e.bucket(), ("127.0.0.1:9000".into(), "/registry".into()));
        let e = Endpoint::from_config(&cfg(&[("bucket", "docker.example.com")])).unwrap();
        assert!(e.path_style);
    }

    #[test]
    fn endpoint_scheme_overrides_secure_and_default_ports_are_dropped() {
        let e = Endpoint::from_config(&cfg(&[
            ("regionendpoint", "https://minio.local:443/"),
            ("secure", "false"),
        ]))
        .unwrap();
        assert!(e.secure);
        assert_eq!(e.host, "minio.local");
        assert!(!e.path_style);
        let e = Endpoint::from_config(&cfg(&[
            ("regionendpoint", "minio.local:9000"),
            ("secure", "false"),
        ]))
        .unwrap();
        assert!(!e.secure);
        assert_eq!(e.host, "minio.local:9000");
        assert!(Endpoint::from_config(&cfg(&[("regionendpoint", "ftp://x")])).is_err());
        assert!(Endpoint::from_config(&cfg(&[("regionendpoint", "http://x/base")])).is_err());
    }

    #[test]
    fn keys_are_percent_encoded_once() {
        let e = Endpoint::from_config(&cfg(&[("forcepathstyle", "true")])).unwrap();
        assert_eq!(e.object("a b/c").1, "/registry/a%20b/c");
    }
}
