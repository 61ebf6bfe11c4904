//! Which `host:port` authorities a driver may reach: the embedder's cap,
//! and each component version's grant (the origins it named through
//! `requirements`).

use std::collections::HashSet;

/// Which `host:port` authorities a driver may reach.
#[derive(Debug, Clone, Default)]
pub struct Allowlist {
    /// Everything allowed (a cap that leaves the choice to the component).
    any: bool,
    exact: HashSet<String>,
    /// Hosts allowed on any port.
    hosts: HashSet<String>,
    /// `(".amazonaws.com", 443)`: any host ending so, on that port.
    suffixes: Vec<(String, u16)>,
}

impl Allowlist {
    /// Nothing allowed.
    pub fn new() -> Self {
        Self::default()
    }

    /// Everything: as a cap, whatever the component names is granted.
    pub fn any() -> Self {
        Self {
            any: true,
            ..Self::default()
        }
    }

    /// Allows one authority (`127.0.0.1:9000`, `minio.local:443`).
    pub fn allow(mut self, authority: &str) -> Self {
        self.exact.insert(authority.to_ascii_lowercase());
        self
    }

    /// Allows one host on any port (`127.0.0.1`, `[::1]`, `minio.local`).
    pub fn allow_host(mut self, host: &str) -> Self {
        self.hosts.insert(host.to_ascii_lowercase());
        self
    }

    /// Allows every host under a domain suffix on one port.
    pub fn allow_suffix(mut self, suffix: &str, port: u16) -> Self {
        self.suffixes.push((suffix.to_ascii_lowercase(), port));
        self
    }

    /// True when `authority` (with its port) may be reached.
    pub fn allows(&self, authority: &str) -> bool {
        let authority = authority.to_ascii_lowercase();
        if self.any || self.exact.contains(&authority) {
            return true;
        }
        let Some((host, port)) = authority.rsplit_once(':') else {
            return false;
        };
        let Ok(port) = port.parse::<u16>() else {
            return false;
        };
        if self.hosts.contains(host) {
            return true;
        }
        self.suffixes
            .iter()
            .any(|(suffix, p)| *p == port && host.ends_with(suffix.as_str()))
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
        let a = Allowlist::new().allow_host("127.0.0.1").allow_host("[::1]");
        assert!(a.allows("127.0.0.1:1") && a.allows("[::1]:9000"));
        assert!(!a.allows("169.254.169.254:80") && !a.allows("127.0.0.2:80"));
    }
}
