//! What a configuration needs from its host (the WIT `requirements` export):
//! the servers it calls, the variables and files it reads, worked out by the
//! rules `open` itself follows, from what the host has told it so far. The
//! host grants exactly this, so a new build's rules reach the host with the
//! build. No I/O.

use crate::cloudfront;
use crate::config::{Config, Value};
use crate::credentials::{self, Source};
use crate::driver::check_middleware_name;
use crate::error::Result;
use crate::s3::endpoint::Endpoint;
use crate::url::split_url;

/// A server the driver sends requests to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// `http` or `https`.
    pub scheme: &'static str,
    /// Host name or IP address, lowercase, IPv6 without brackets.
    pub host: String,
    /// Explicit port.
    pub port: u16,
    /// Why it is called.
    pub reason: &'static str,
}

/// A file the driver reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NeededFile {
    /// Its path.
    pub path: String,
    /// The answer depends on its content.
    pub consulted: bool,
    /// Why it is read.
    pub reason: &'static str,
}

/// Everything a configuration needs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Needs {
    /// Servers called.
    pub origins: Vec<Origin>,
    /// Variables read, with why.
    pub variables: Vec<(&'static str, &'static str)>,
    /// Files read.
    pub files: Vec<NeededFile>,
    /// Any TLS certificate is accepted (`skipverify`).
    pub insecure_tls: bool,
}

/// What the host has told so far.
#[derive(Debug, Clone, Default)]
pub struct Known {
    /// Values of the variables it gives.
    pub variables: Vec<(String, String)>,
    /// Contents of consulted files (`None`: no such file).
    pub files: Vec<(String, Option<String>)>,
}

impl Known {
    fn var(&self, name: &str) -> Option<String> {
        self.variables
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    }

    fn file(&self, path: &str) -> Option<Option<String>> {
        self.files
            .iter()
            .find(|(p, _)| p == path)
            .map(|(_, c)| c.clone())
    }
}

impl Needs {
    fn origin(&mut self, url: &str, reason: &'static str) {
        if let Some(o) = origin_of(url, reason)
            && !self
                .origins
                .iter()
                .any(|x| (x.scheme, &x.host, x.port) == (o.scheme, &o.host, o.port))
        {
            self.origins.push(o);
        }
    }

    fn file(&mut self, path: String, consulted: bool, reason: &'static str) {
        if !self.files.iter().any(|f| f.path == path) {
            self.files.push(NeededFile {
                path,
                consulted,
                reason,
            });
        }
    }
}

/// What `params` and `middleware` need given `known`; the error `open`
/// would give for a configuration it refuses without I/O.
pub fn needs(
    params: &[(String, Value)],
    middleware: &[(String, Vec<(String, Value)>)],
    known: &Known,
) -> Result<Needs> {
    let config = Config::from_params(params)?;
    let endpoint = Endpoint::from_config(&config)?;
    let scheme = if endpoint.secure { "https" } else { "http" };
    let mut needs = Needs {
        insecure_tls: config.skip_verify,
        ..Needs::default()
    };
    needs.origin(
        &format!("{scheme}://{}/", endpoint.bucket().0),
        "the S3 endpoint",
    );
    for (name, options) in middleware {
        check_middleware_name(name)?;
        if name == "cloudfront" {
            let cf = cloudfront::needs(options)?;
            if let Some(url) = cf.ip_ranges_url {
                needs.origin(&url, "the CloudFront IP ranges");
            }
            if let Some(path) = cf.key_file {
                needs.file(path, false, "the CloudFront private key");
            }
        }
    }
    if config.credentials.is_empty() {
        credential_needs(&config, known, &mut needs)?;
    }
    Ok(needs)
}

/// The credential chain's variables, the shared files they name, and, once
/// those files are known, the chosen source's endpoints and token files.
fn credential_needs(config: &Config, known: &Known, needs: &mut Needs) -> Result<()> {
    needs.variables = credentials::VARIABLES
        .iter()
        .map(|v| (*v, "the AWS credential chain"))
        .collect();
    let var = |n: &str| known.var(n);
    let (config_file, credentials_file) = credentials::shared_files(&var);
    let mut all_known = true;
    for path in [config_file, credentials_file].into_iter().flatten() {
        all_known &= known.file(&path).is_some();
        needs.file(path, true, "an AWS shared config or credentials file");
    }
    if !all_known {
        // The chosen source depends on files the host has not given yet.
        return Ok(());
    }
    let read = |p: &str| known.file(p).flatten();
    let source = Source::choose(&config.credentials, var, read)?;
    for url in source.endpoints() {
        needs.origin(&url, "the AWS credential source");
    }
    for path in source.files() {
        needs.file(path, false, "a token file read at every credential refresh");
    }
    Ok(())
}

/// The origin of an `http(s)` URL, its port explicit.
fn origin_of(url: &str, reason: &'static str) -> Option<Origin> {
    let u = split_url(url)?;
    let (scheme, default) = if u.secure {
        ("https", 443)
    } else {
        ("http", 80)
    };
    let a = u.authority.to_ascii_lowercase();
    let (host, port) = if let Some(rest) = a.strip_prefix('[') {
        let (h, after) = rest.split_once(']')?;
        let port = match after.strip_prefix(':') {
            Some(p) => p.parse().ok()?,
            None => default,
        };
        (h.to_owned(), port)
    } else {
        match a.rsplit_once(':') {
            Some((h, p)) => (h.to_owned(), p.parse().ok()?),
            None => (a.clone(), default),
        }
    };
    Some(Origin {
        scheme,
        host,
        port,
        reason,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Value {
        Value::Text(s.into())
    }

    fn base(extra: &[(&str, Value)]) -> Vec<(String, Value)> {
        let mut p = vec![
            ("region".to_owned(), t("us-east-1")),
            ("bucket".to_owned(), t("registry")),
        ];
        p.extend(extra.iter().map(|(k, v)| ((*k).to_owned(), v.clone())));
        p
    }

    fn hosts(n: &Needs) -> Vec<String> {
        n.origins
            .iter()
            .map(|o| format!("{}://{}:{}", o.scheme, o.host, o.port))
            .collect()
    }

    #[test]
    fn static_keys_need_the_endpoint_alone() {
        let p = base(&[
            ("accesskey", t("AKIDEXAMPLE")),
            ("secretkey", t("secret")),
            ("regionendpoint", t("http://127.0.0.1:9000")),
            ("forcepathstyle", Value::Bool(true)),
        ]);
        let n = needs(&p, &[], &Known::default()).unwrap();
        assert_eq!(hosts(&n), ["http://127.0.0.1:9000"]);
        assert!(n.variables.is_empty() && n.files.is_empty() && !n.insecure_tls);
    }

    #[test]
    fn aws_names_the_bucket_host() {
        let p = base(&[("accesskey", t("a")), ("secretkey", t("s"))]);
        let n = needs(&p, &[], &Known::default()).unwrap();
        assert_eq!(hosts(&n), ["https://registry.s3.amazonaws.com:443"]);
    }

    #[test]
    fn the_chain_asks_for_variables_then_files_then_names_its_endpoints() {
        let p = base(&[]);
        let first = needs(&p, &[], &Known::default()).unwrap();
        assert!(first.variables.iter().any(|(v, _)| *v == "AWS_ROLE_ARN"));
        // Nothing known: no shared files, the instance metadata service.
        assert_eq!(first.files, []);
        assert!(hosts(&first).contains(&"http://169.254.169.254:80".to_owned()));

        let mut known = Known {
            variables: vec![
                ("HOME".into(), "/home/r".into()),
                (
                    "AWS_WEB_IDENTITY_TOKEN_FILE".into(),
                    "/var/run/t/token".into(),
                ),
                ("AWS_ROLE_ARN".into(), "arn:aws:iam::1:role/r".into()),
                (
                    "AWS_ENDPOINT_URL_STS".into(),
                    "http://127.0.0.1:7000".into(),
                ),
            ],
            files: Vec::new(),
        };
        let second = needs(&p, &[], &known).unwrap();
        let consulted: Vec<&str> = second
            .files
            .iter()
            .filter(|f| f.consulted)
            .map(|f| f.path.as_str())
            .collect();
        assert_eq!(
            consulted,
            ["/home/r/.aws/config", "/home/r/.aws/credentials"]
        );
        assert_eq!(hosts(&second), ["https://registry.s3.amazonaws.com:443"]);

        known.files = vec![
            ("/home/r/.aws/config".into(), None),
            ("/home/r/.aws/credentials".into(), None),
        ];
        let last = needs(&p, &[], &known).unwrap();
        assert_eq!(
            hosts(&last),
            [
                "https://registry.s3.amazonaws.com:443",
                "http://127.0.0.1:7000"
            ]
        );
        assert!(
            last.files
                .iter()
                .any(|f| f.path == "/var/run/t/token" && !f.consulted)
        );
    }

    #[test]
    fn cloudfront_needs_its_key_file_and_ranges_when_filtering() {
        let p = base(&[("accesskey", t("a")), ("secretkey", t("s"))]);
        let cf = vec![
            ("baseurl".to_owned(), t("https://d.cloudfront.net/")),
            ("privatekey".to_owned(), t("/etc/cf/key.pem")),
            ("keypairid".to_owned(), t("K")),
            ("ipfilteredby".to_owned(), t("aws")),
            ("iprangesurl".to_owned(), t("http://127.0.0.1:8000/r.json")),
        ];
        let n = needs(&p, &[("cloudfront".into(), cf)], &Known::default()).unwrap();
        assert!(hosts(&n).contains(&"http://127.0.0.1:8000".to_owned()));
        assert_eq!(n.files[0].path, "/etc/cf/key.pem");
    }

    #[test]
    fn refusals_name_the_parameter() {
        let no_bucket = vec![("region".to_owned(), t("us-east-1"))];
        let e = needs(&no_bucket, &[], &Known::default()).unwrap_err();
        assert!(e.to_string().contains("bucket"), "{e}");
        let e = needs(&base(&[]), &[("nope".into(), vec![])], &Known::default()).unwrap_err();
        assert!(e.to_string().contains("nope"), "{e}");
    }

    #[test]
    fn ipv6_and_default_ports_are_explicit() {
        let o = origin_of("http://[::1]/x", "r").unwrap();
        assert_eq!((o.host.as_str(), o.port), ("::1", 80));
        let o = origin_of("https://Example.COM:8443", "r").unwrap();
        assert_eq!((o.host.as_str(), o.port), ("example.com", 8443));
    }
}
