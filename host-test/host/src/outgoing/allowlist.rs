//! Which `host:port` authorities a driver may reach, derived from the
//! component's own reading of the configuration.

use std::collections::HashSet;

use s3_storage_driver::cloudfront::DEFAULT_IP_RANGES_URL;
use s3_storage_driver::config::Config;
use s3_storage_driver::credentials::Source;
use s3_storage_driver::s3::endpoint::Endpoint;
use s3_storage_driver::url::split_url;

use crate::config_file::core_params;
use crate::{ConfigValue, Middleware};

/// Which `host:port` authorities a driver may reach.
#[derive(Debug, Clone, Default)]
pub struct Allowlist {
    exact: HashSet<String>,
    /// `(".amazonaws.com", 443)`: any host ending so, on that port.
    suffixes: Vec<(String, u16)>,
}

impl Allowlist {
    /// Nothing allowed.
    pub fn new() -> Self {
        Self::default()
    }

    /// Allows one authority (`127.0.0.1:9000`, `minio.local:443`).
    pub fn allow(mut self, authority: &str) -> Self {
        self.exact.insert(authority.to_ascii_lowercase());
        self
    }

    /// Allows every host under a domain suffix on one port.
    pub fn allow_suffix(mut self, suffix: &str, port: u16) -> Self {
        self.suffixes.push((suffix.to_ascii_lowercase(), port));
        self
    }

    /// The allowlist a `storage: s3:` block implies: exactly the authority
    /// the driver's requests go to, resolved by the component's own endpoint
    /// rules. An invalid block allows nothing (the driver refuses to open).
    pub fn for_params(params: &[(String, ConfigValue)]) -> Self {
        let Some(config) = core_config(params) else {
            return Self::new();
        };
        match Endpoint::from_config(&config) {
            Ok(endpoint) => Self::new().allow(&with_port(&endpoint.bucket().0, endpoint.secure)),
            Err(_) => Self::new(),
        }
    }

    /// The allowlist of a whole configuration: the storage endpoint, plus the
    /// CloudFront IP-ranges host when an IP filter is configured.
    pub fn for_config(params: &[(String, ConfigValue)], middleware: &[Middleware]) -> Self {
        let mut allow = Self::for_params(params);
        for m in middleware.iter().filter(|m| m.name == "cloudfront") {
            let get = |k: &str| {
                m.options
                    .iter()
                    .rev()
                    .find(|p| p.key.eq_ignore_ascii_case(k))
                    .and_then(|p| match &p.value {
                        ConfigValue::Text(s) => Some(s.trim().to_owned()),
                        _ => None,
                    })
            };
            let filtered = get("ipfilteredby")
                .is_some_and(|f| !f.is_empty() && !f.eq_ignore_ascii_case("none"));
            if filtered {
                let url = get("iprangesurl").unwrap_or_else(|| DEFAULT_IP_RANGES_URL.into());
                if let Some(u) = split_url(&url) {
                    allow = allow.allow(&with_port(&u.authority, u.secure));
                }
            }
        }
        allow
    }

    /// Adds what the credential chain will need when the configuration has no
    /// static keys and `env` (what the guest is granted) has none either:
    /// every endpoint of the source the component will choose (STS, the
    /// container endpoint, the instance metadata service).
    pub fn with_credential_endpoints(
        self,
        params: &[(String, ConfigValue)],
        env: &[(String, String)],
    ) -> Self {
        let Some(source) = credential_source(params, env) else {
            return self;
        };
        source
            .endpoints()
            .iter()
            .filter_map(|url| split_url(url))
            .fold(self, |a, u| a.allow(&with_port(&u.authority, u.secure)))
    }

    /// True when `authority` (with its port) may be reached.
    pub fn allows(&self, authority: &str) -> bool {
        let authority = authority.to_ascii_lowercase();
        if self.exact.contains(&authority) {
            return true;
        }
        let Some((host, port)) = authority.rsplit_once(':') else {
            return false;
        };
        let Ok(port) = port.parse::<u16>() else {
            return false;
        };
        self.suffixes
            .iter()
            .any(|(suffix, p)| *p == port && host.ends_with(suffix.as_str()))
    }
}

/// The credential source the component will choose for `params` with the
/// variables `env`, by the component's own rules; the shared config and
/// credentials files are read here from the host's filesystem, where the
/// guest sees them at the same paths. `None` when the configuration or the
/// source is invalid (opening reports why).
pub(crate) fn credential_source(
    params: &[(String, ConfigValue)],
    env: &[(String, String)],
) -> Option<Source> {
    let config = core_config(params)?;
    let lookup = |k: &str| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    Source::choose(&config.credentials, lookup, |p| {
        std::fs::read_to_string(p).ok()
    })
    .ok()
}

/// The component's own reading of a `storage: s3:` block, if it is valid.
pub(crate) fn core_config(params: &[(String, ConfigValue)]) -> Option<Config> {
    Config::from_params(&core_params(params)).ok()
}

/// `host` with its scheme's default port made explicit.
fn with_port(host: &str, secure: bool) -> String {
    let port_part = if host.starts_with('[') {
        host.split_once("]:").map(|(_, p)| p)
    } else {
        host.rsplit_once(':').map(|(_, p)| p)
    };
    if port_part.is_some_and(|p| p.parse::<u16>().is_ok()) {
        host.to_owned()
    } else {
        format!("{host}:{}", if secure { 443 } else { 80 })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allowlist_matches_authorities_with_ports() {
        let a = Allowlist::new()
            .allow("127.0.0.1:9000")
            .allow_suffix(".amazonaws.com", 443);
        assert!(a.allows("127.0.0.1:9000"));
        assert!(!a.allows("127.0.0.1:9001"));
        assert!(a.allows("registry.s3.amazonaws.com:443"));
        assert!(!a.allows("registry.s3.amazonaws.com:80"));
        assert!(!a.allows("evil.com:443"));
        assert!(!a.allows("amazonaws.com.evil.com:443"));
    }

    #[test]
    fn default_ports_are_made_explicit() {
        assert_eq!(with_port("minio.local", true), "minio.local:443");
        assert_eq!(with_port("minio.local:9000", true), "minio.local:9000");
        assert_eq!(with_port("[::1]:9000", false), "[::1]:9000");
        assert_eq!(with_port("[::1]", false), "[::1]:80");
    }
}
