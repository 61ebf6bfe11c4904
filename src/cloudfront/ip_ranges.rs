//! AWS's published address ranges (`ip-ranges.json`) and the client address
//! a redirect is decided for.

use std::net::IpAddr;

use ipnet::{Ipv4Net, Ipv6Net};
use serde::Deserialize;

use crate::error::{Error, Result};

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

    /// The ranges as text, one prefix per line: how a driver's instances
    /// share them without each parsing AWS's document.
    pub fn to_lines(&self) -> String {
        let v4 = self.v4.iter().map(ToString::to_string);
        let v6 = self.v6.iter().map(ToString::to_string);
        v4.chain(v6).collect::<Vec<_>>().join("\n")
    }

    /// Ranges from [`IpRanges::to_lines`]' text; `None` if a line is not a
    /// prefix.
    pub fn from_lines(text: &str) -> Option<Self> {
        let mut out = IpRanges::default();
        for line in text.lines().filter(|l| !l.is_empty()) {
            match line.parse().ok()? {
                ipnet::IpNet::V4(n) => out.v4.push(n),
                ipnet::IpNet::V6(n) => out.v6.push(n),
            }
        }
        Some(out)
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
    fn ranges_survive_their_shared_text_form() {
        let doc = br#"{"prefixes":[{"ip_prefix":"10.0.0.0/8"},{"ip_prefix":"192.168.1.0/24"}],
            "ipv6_prefixes":[{"ipv6_prefix":"2600:1f00::/24"}]}"#;
        let (ranges, _) = IpRanges::parse(doc, None).unwrap();
        let back = IpRanges::from_lines(&ranges.to_lines()).unwrap();
        assert_eq!(back, ranges);
        assert_eq!(back.len(), (2, 1));
        assert_eq!(IpRanges::from_lines("10.0.0.0/8\nnot a prefix"), None);
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
}
