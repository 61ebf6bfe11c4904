//! Where the signing keys come from, in the AWS SDKs' order: static keys from
//! the configuration; else `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY` (and
//! `AWS_SESSION_TOKEN`) from the environment the host grants; else the
//! profile `AWS_PROFILE` names in the shared config and credentials files
//! ([`profile`]: static keys, an assumed role, a web identity); else web
//! identity (`AWS_WEB_IDENTITY_TOKEN_FILE` + `AWS_ROLE_ARN`, exchanged with STS
//! AssumeRoleWithWebIdentity); else the container credentials endpoint
//! (`AWS_CONTAINER_CREDENTIALS_RELATIVE_URI` or `_FULL_URI`, ECS task roles
//! and EKS Pod Identity); else the EC2 instance metadata service (IMDSv2).
//!
//! Temporary credentials are fetched on first use (opening sends nothing) and
//! reused until five minutes before they expire; a presigned URL asks for
//! credentials that outlive it. One instance fetches them for every
//! instance of the driver ([`chain`]). Every network step goes through the driver's
//! [`Transport`], so through `wasi:http` and the host's allowlist.

mod chain;
mod fetch;
pub mod profile;

pub use chain::CredentialChain;

use crate::error::{Error, Result};
use crate::sign::Credentials;
use crate::url::split_url;

/// Temporary credentials are refreshed this long before they expire.
pub const REFRESH_MARGIN_SECS: i64 = 5 * 60;
/// Where STS answers when `AWS_ENDPOINT_URL_STS` is not set.
pub const DEFAULT_STS_ENDPOINT: &str = "https://sts.amazonaws.com";
/// The instance metadata service when `AWS_EC2_METADATA_SERVICE_ENDPOINT` is not set.
pub const DEFAULT_IMDS_ENDPOINT: &str = "http://169.254.169.254";
/// The ECS container endpoint a relative URI is resolved against.
pub const ECS_CONTAINER_ENDPOINT: &str = "http://169.254.170.2";
/// The session name STS records when none is configured.
pub const SESSION_NAME: &str = "distribution-s3-driver";
/// Hosts a plain-HTTP full container URI may name besides loopback: ECS,
/// EKS Pod Identity (IPv4 and IPv6), as the AWS SDKs allow.
pub const CONTAINER_HOSTS: &[&str] = &["169.254.170.2", "169.254.170.23", "[fd00:ec2::23]"];

/// Every variable the chain reads: what a host passes on when it has them.
pub const VARIABLES: &[&str] = &[
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_PROFILE",
    "AWS_CONFIG_FILE",
    "AWS_SHARED_CREDENTIALS_FILE",
    "HOME",
    "AWS_REGION",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_ROLE_ARN",
    "AWS_ROLE_SESSION_NAME",
    "AWS_ENDPOINT_URL_STS",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
    "AWS_EC2_METADATA_SERVICE_ENDPOINT",
];

/// Variables that mean credentials are configured somewhere (not `HOME`).
pub const CONFIGURING_VARIABLES: &[&str] = &[
    "AWS_ACCESS_KEY_ID",
    "AWS_PROFILE",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
];

/// How the container endpoint's `Authorization` token is given.
#[derive(Clone, PartialEq, Eq)]
pub enum ContainerToken {
    /// `AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE`, read again at every refresh
    /// (EKS rotates it).
    File(String),
    /// `AWS_CONTAINER_AUTHORIZATION_TOKEN`.
    Value(String),
}

impl std::fmt::Debug for ContainerToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ContainerToken::File(p) => f.debug_tuple("File").field(p).finish(),
            ContainerToken::Value(_) => f.write_str("Value(******)"),
        }
    }
}

/// A role assumed with STS `AssumeRole`, signed with `source`'s credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssumeRole {
    /// The role.
    pub role_arn: String,
    /// The session name STS records.
    pub session_name: String,
    /// `external_id`, if the role's trust policy asks for one.
    pub external_id: Option<String>,
    /// `duration_seconds` (900-43200); STS's default when absent.
    pub duration_seconds: Option<u32>,
    /// STS's base URL.
    pub endpoint: String,
    /// The region the STS request is signed for.
    pub region: String,
    /// Where the keys that sign the request come from.
    pub source: Source,
}

/// The source the chain settled on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// Keys from the configuration or the environment; never expire.
    Fixed(Credentials),
    /// STS AssumeRoleWithWebIdentity with a token read from a file.
    WebIdentity {
        /// The token file (read through `wasi:filesystem`).
        token_file: String,
        /// The role to assume.
        role_arn: String,
        /// The session name STS records.
        session_name: String,
        /// STS's base URL.
        endpoint: String,
    },
    /// The container credentials endpoint (ECS task role, EKS Pod Identity).
    Container {
        /// Its URL.
        url: String,
        /// Its `Authorization` token, if any.
        token: Option<ContainerToken>,
    },
    /// IMDSv2: token, role name, role credentials.
    InstanceMetadata {
        /// The metadata service's base URL.
        endpoint: String,
    },
    /// A role assumed with STS `AssumeRole` (a shared-config profile).
    AssumeRole(Box<AssumeRole>),
}

/// True when a plain-HTTP container URI's host may be used: loopback, or
/// one of [`CONTAINER_HOSTS`].
pub fn container_host_allowed(host: &str) -> bool {
    let h = host.to_ascii_lowercase();
    CONTAINER_HOSTS.contains(&h.as_str())
        || h == "localhost"
        || h == "[::1]"
        || h.strip_prefix("127.").is_some_and(|rest| {
            rest.split('.').count() == 3 && rest.split('.').all(|o| o.parse::<u8>().is_ok())
        })
}

/// The container endpoint the environment names, checked; `None` when no
/// container variable is set.
pub fn container_source(env: &dyn Fn(&str) -> Option<String>) -> Result<Option<Source>> {
    let var = |n: &str| env(n).filter(|v| !v.is_empty());
    let url = if let Some(rel) = var("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI") {
        format!("{ECS_CONTAINER_ENDPOINT}{rel}")
    } else if let Some(full) = var("AWS_CONTAINER_CREDENTIALS_FULL_URI") {
        let parts = split_url(&full).ok_or_else(|| {
            Error::InvalidConfig(format!(
                "AWS_CONTAINER_CREDENTIALS_FULL_URI is not an http(s) URL: {full}"
            ))
        })?;
        let host = match parts.authority.rsplit_once(':') {
            Some((h, port)) if port.bytes().all(|b| b.is_ascii_digit()) => h,
            _ => parts.authority.as_str(),
        };
        if !parts.secure && !container_host_allowed(host) {
            return Err(Error::InvalidConfig(format!(
                "AWS_CONTAINER_CREDENTIALS_FULL_URI {full}: over plain HTTP only a loopback host or {} is allowed",
                CONTAINER_HOSTS.join(", ")
            )));
        }
        full
    } else {
        return Ok(None);
    };
    let token = var("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE")
        .map(ContainerToken::File)
        .or_else(|| var("AWS_CONTAINER_AUTHORIZATION_TOKEN").map(ContainerToken::Value));
    Ok(Some(Source::Container { url, token }))
}

/// The shared config and credentials files the environment names (or the
/// defaults under `HOME`), in that order.
pub fn shared_files(env: &dyn Fn(&str) -> Option<String>) -> (Option<String>, Option<String>) {
    let var = |n: &str| env(n).filter(|v| !v.is_empty());
    let home = var("HOME");
    let config =
        var("AWS_CONFIG_FILE").or_else(|| home.as_ref().map(|h| format!("{h}/.aws/config")));
    let credentials = var("AWS_SHARED_CREDENTIALS_FILE")
        .or_else(|| home.as_ref().map(|h| format!("{h}/.aws/credentials")));
    (config, credentials)
}

impl Source {
    /// Picks the source from the configured keys, the environment and the
    /// shared files (`read` gives a file's text, `None` when it cannot be
    /// read). Fails, naming the cause, on what can never work: an
    /// `AWS_PROFILE` that does not exist, a `credential_process`, a
    /// container URI to a host the SDKs refuse.
    pub fn choose(
        configured: &Credentials,
        env: impl Fn(&str) -> Option<String>,
        read: impl Fn(&str) -> Option<String>,
    ) -> Result<Self> {
        if !configured.is_empty() {
            return Ok(Source::Fixed(configured.clone()));
        }
        let var = |n: &str| env(n).filter(|v| !v.is_empty());
        if let (Some(ak), Some(sk)) = (var("AWS_ACCESS_KEY_ID"), var("AWS_SECRET_ACCESS_KEY")) {
            return Ok(Source::Fixed(Credentials::new(
                ak,
                sk,
                var("AWS_SESSION_TOKEN"),
            )));
        }
        let (config_file, credentials_file) = shared_files(&var);
        let profiles = profile::Profiles::parse(
            config_file.as_deref().and_then(&read).as_deref(),
            credentials_file.as_deref().and_then(&read).as_deref(),
        );
        let named = var("AWS_PROFILE");
        let name = named.clone().unwrap_or_else(|| "default".into());
        if (named.is_some() || profiles.has(&name))
            && let Some(source) = profiles.resolve(&name, &var)?
        {
            return Ok(source);
        }
        if let (Some(token_file), Some(role_arn)) =
            (var("AWS_WEB_IDENTITY_TOKEN_FILE"), var("AWS_ROLE_ARN"))
        {
            return Ok(Source::WebIdentity {
                token_file,
                role_arn,
                session_name: var("AWS_ROLE_SESSION_NAME").unwrap_or_else(|| SESSION_NAME.into()),
                endpoint: var("AWS_ENDPOINT_URL_STS")
                    .unwrap_or_else(|| DEFAULT_STS_ENDPOINT.into()),
            });
        }
        if let Some(container) = container_source(&var)? {
            return Ok(container);
        }
        Ok(Source::InstanceMetadata {
            endpoint: var("AWS_EC2_METADATA_SERVICE_ENDPOINT")
                .unwrap_or_else(|| DEFAULT_IMDS_ENDPOINT.into()),
        })
    }

    /// Every URL this source (and a role's source below it) fetches from:
    /// what a host must allow.
    pub fn endpoints(&self) -> Vec<String> {
        match self {
            Source::Fixed(_) => Vec::new(),
            Source::WebIdentity { endpoint, .. } | Source::InstanceMetadata { endpoint } => {
                vec![endpoint.clone()]
            }
            Source::Container { url, .. } => vec![url.clone()],
            Source::AssumeRole(r) => {
                let mut v = vec![r.endpoint.clone()];
                v.extend(r.source.endpoints());
                v
            }
        }
    }

    /// Every file this source reads at each refresh (token files): what a
    /// host must grant read-only.
    pub fn files(&self) -> Vec<String> {
        match self {
            Source::WebIdentity { token_file, .. } => vec![token_file.clone()],
            Source::Container {
                token: Some(ContainerToken::File(f)),
                ..
            } => vec![f.clone()],
            Source::AssumeRole(r) => r.source.files(),
            _ => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A variable the chain reads but does not list would be withheld by
    /// hosts that grant only what the component asks for.
    #[test]
    fn every_variable_read_is_listed() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        for file in [
            "src/credentials/mod.rs",
            "src/credentials/profile.rs",
            "src/credentials/chain.rs",
            "src/credentials/fetch.rs",
            "src/client.rs",
        ] {
            let text = std::fs::read_to_string(dir.join(file)).unwrap();
            for (i, _) in text.match_indices("(\"") {
                let name: String = text[i + 2..]
                    .chars()
                    .take_while(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == '_')
                    .collect();
                let quoted = text[i + 2 + name.len()..].starts_with('"');
                let variable = name.len() > 4 && name.starts_with("AWS_") || name == "HOME";
                if quoted && variable {
                    assert!(VARIABLES.contains(&name.as_str()), "{file} reads {name}");
                }
            }
        }
    }

    fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    fn no_files(_: &str) -> Option<String> {
        None
    }

    fn choose(vars: &[(&str, &str)]) -> Result<Source> {
        Source::choose(
            &Credentials::new(String::new(), String::new(), None),
            env(vars),
            no_files,
        )
    }

    #[test]
    fn the_chain_prefers_static_then_environment_then_web_identity_then_container_then_imds() {
        let fixed = Credentials::new("AK".into(), "SK".into(), None);
        assert_eq!(
            Source::choose(&fixed, env(&[("AWS_ACCESS_KEY_ID", "X")]), no_files).unwrap(),
            Source::Fixed(fixed)
        );
        assert_eq!(
            choose(&[
                ("AWS_ACCESS_KEY_ID", "EK"),
                ("AWS_SECRET_ACCESS_KEY", "ES"),
                ("AWS_SESSION_TOKEN", "ET"),
                ("AWS_ROLE_ARN", "arn"),
            ])
            .unwrap(),
            Source::Fixed(Credentials::new(
                "EK".into(),
                "ES".into(),
                Some("ET".into())
            ))
        );
        assert_eq!(
            choose(&[
                ("AWS_WEB_IDENTITY_TOKEN_FILE", "/t"),
                ("AWS_ROLE_ARN", "arn:r"),
                ("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/v2/creds"),
            ])
            .unwrap(),
            Source::WebIdentity {
                token_file: "/t".into(),
                role_arn: "arn:r".into(),
                session_name: SESSION_NAME.into(),
                endpoint: DEFAULT_STS_ENDPOINT.into(),
            }
        );
        assert_eq!(
            choose(&[
                ("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/v2/creds"),
                ("AWS_CONTAINER_AUTHORIZATION_TOKEN", "tok"),
            ])
            .unwrap(),
            Source::Container {
                url: "http://169.254.170.2/v2/creds".into(),
                token: Some(ContainerToken::Value("tok".into())),
            }
        );
        assert_eq!(
            choose(&[("AWS_ACCESS_KEY_ID", "only-half")]).unwrap(),
            Source::InstanceMetadata {
                endpoint: DEFAULT_IMDS_ENDPOINT.into()
            }
        );
    }

    #[test]
    fn a_profile_comes_after_the_environment_and_before_web_identity() {
        let files = |p: &str| match p {
            "/home/u/.aws/credentials" => {
                Some("[ci]\naws_access_key_id = PK\naws_secret_access_key = PS\n".to_owned())
            }
            _ => None,
        };
        let none = Credentials::new(String::new(), String::new(), None);
        let vars = [
            ("HOME", "/home/u"),
            ("AWS_PROFILE", "ci"),
            ("AWS_WEB_IDENTITY_TOKEN_FILE", "/t"),
            ("AWS_ROLE_ARN", "arn:r"),
        ];
        assert_eq!(
            Source::choose(&none, env(&vars), files).unwrap(),
            Source::Fixed(Credentials::new("PK".into(), "PS".into(), None))
        );
        // A profile asked for by name must exist.
        let missing = Source::choose(&none, env(&[("AWS_PROFILE", "nope")]), files).unwrap_err();
        assert!(
            missing.to_string().contains("AWS profile nope"),
            "{missing}"
        );
    }

    #[test]
    fn container_uris_follow_the_sdks_host_rules() {
        for ok in [
            "127.0.0.1",
            "127.1.2.3",
            "localhost",
            "[::1]",
            "169.254.170.2",
            "169.254.170.23",
            "[fd00:ec2::23]",
        ] {
            assert!(container_host_allowed(ok), "{ok}");
        }
        for bad in [
            "169.254.169.254",
            "10.0.0.1",
            "example.com",
            "127.0.0",
            "127.0.0.1.evil",
        ] {
            assert!(!container_host_allowed(bad), "{bad}");
        }
        let full = |uri: &str| choose(&[("AWS_CONTAINER_CREDENTIALS_FULL_URI", uri)]);
        assert!(matches!(
            full("http://127.0.0.1:8080/creds"),
            Ok(Source::Container { .. })
        ));
        assert!(matches!(
            full("https://creds.example.com/x"),
            Ok(Source::Container { .. })
        ));
        let refused = full("http://10.0.0.1/creds").unwrap_err().to_string();
        assert!(
            refused.contains("AWS_CONTAINER_CREDENTIALS_FULL_URI"),
            "{refused}"
        );
        let source = choose(&[
            (
                "AWS_CONTAINER_CREDENTIALS_FULL_URI",
                "http://169.254.170.23/v1/credentials",
            ),
            (
                "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
                "/var/run/secrets/token",
            ),
        ])
        .unwrap();
        assert_eq!(source.files(), ["/var/run/secrets/token"]);
        assert_eq!(source.endpoints(), ["http://169.254.170.23/v1/credentials"]);
        assert!(!format!("{:?}", ContainerToken::Value("secret-token".into())).contains("secret"));
    }
}
