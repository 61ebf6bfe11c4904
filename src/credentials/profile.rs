//! The shared config and credentials files (`~/.aws/config`,
//! `~/.aws/credentials`, or `AWS_CONFIG_FILE` / `AWS_SHARED_CREDENTIALS_FILE`)
//! and the profile `AWS_PROFILE` names, resolved into a [`Source`] as the AWS
//! SDKs resolve it: static keys (with a session token), a role assumed with
//! keys from `source_profile` or `credential_source`, or a web identity.
//! `credential_process` cannot run in a sandbox and is refused by name.

use std::collections::BTreeMap;

use super::{AssumeRole, DEFAULT_STS_ENDPOINT, Source, container_source};
use crate::error::{Error, Result};
use crate::sign::Credentials;

/// One profile's keys, lowercased.
type Profile = BTreeMap<String, String>;

/// Profiles by name, from the two files (the credentials file's keys win).
#[derive(Debug, Default)]
pub struct Profiles(BTreeMap<String, Profile>);

/// Reads an INI file's sections. In the config file a section is
/// `[profile name]` (or `[default]`); in the credentials file `[name]`.
fn sections(text: &str, config_file: bool, into: &mut BTreeMap<String, Profile>) {
    let mut current: Option<String> = None;
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(header) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            let header = header.trim();
            current = if !config_file || header == "default" {
                Some(header.to_owned())
            } else {
                // Other config sections (`[sso-session x]`, `[services x]`) are not profiles.
                header.strip_prefix("profile ").map(|n| n.trim().to_owned())
            };
            continue;
        }
        let (Some(name), Some((k, v))) = (&current, line.split_once('=')) else {
            continue;
        };
        let profile = into.entry(name.clone()).or_default();
        let key = k.trim().to_ascii_lowercase();
        // The credentials file is read last: its values win.
        profile.insert(key, v.trim().to_owned());
    }
}

impl Profiles {
    /// The profiles of a config file's and a credentials file's text.
    pub fn parse(config: Option<&str>, credentials: Option<&str>) -> Self {
        let mut all = BTreeMap::new();
        if let Some(text) = config {
            sections(text, true, &mut all);
        }
        if let Some(text) = credentials {
            sections(text, false, &mut all);
        }
        Self(all)
    }

    /// True when a profile of this name exists.
    pub fn has(&self, name: &str) -> bool {
        self.0.contains_key(name)
    }

    /// The source `name` resolves to; `None` when it holds no credentials
    /// (the chain goes on). `env` gives the variables a `credential_source`
    /// of `Environment` or `EcsContainer` reads.
    pub fn resolve(
        &self,
        name: &str,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Option<Source>> {
        self.resolve_from(name, env, &mut Vec::new())
    }

    fn resolve_from(
        &self,
        name: &str,
        env: &dyn Fn(&str) -> Option<String>,
        visited: &mut Vec<String>,
    ) -> Result<Option<Source>> {
        let bad = |m: String| Error::InvalidConfig(format!("AWS profile {name}: {m}"));
        let Some(p) = self.0.get(name) else {
            return Err(bad(
                "not found in the shared config or credentials file".into()
            ));
        };
        if visited.iter().any(|v| v == name) {
            return Err(bad(format!(
                "source_profile loops ({})",
                visited.join(" -> ")
            )));
        }
        visited.push(name.to_owned());
        let get = |k: &str| p.get(k).filter(|v| !v.is_empty()).cloned();
        let keys = match (get("aws_access_key_id"), get("aws_secret_access_key")) {
            (Some(ak), Some(sk)) => Some(Credentials::new(ak, sk, get("aws_session_token"))),
            _ => None,
        };
        let Some(role_arn) = get("role_arn") else {
            if keys.is_none() && get("credential_process").is_some() {
                return Err(bad(
                    "credential_process runs a program, which the sandboxed driver cannot do; \
                     use static keys, a role or a web identity instead"
                        .into(),
                ));
            }
            return Ok(keys.map(Source::Fixed));
        };
        let session_name = get("role_session_name").unwrap_or_else(|| super::SESSION_NAME.into());
        let endpoint = env("AWS_ENDPOINT_URL_STS")
            .filter(|v| !v.is_empty())
            .or_else(|| get("endpoint_url"))
            .unwrap_or_else(|| DEFAULT_STS_ENDPOINT.into());
        if let Some(token_file) = get("web_identity_token_file") {
            return Ok(Some(Source::WebIdentity {
                token_file,
                role_arn,
                session_name,
                endpoint,
            }));
        }
        let source = match (get("source_profile"), get("credential_source")) {
            (Some(_), Some(_)) => {
                return Err(bad(
                    "source_profile and credential_source are mutually exclusive".into(),
                ));
            }
            // A profile that names itself takes its own static keys.
            (Some(src), None) if src == name => Source::Fixed(
                keys.ok_or_else(|| bad("source_profile names itself but it has no keys".into()))?,
            ),
            (Some(src), None) => self
                .resolve_from(&src, env, visited)?
                .ok_or_else(|| bad(format!("source_profile {src} holds no credentials")))?,
            (None, Some(cs)) => credential_source(&cs, env).map_err(&bad)?,
            (None, None) => {
                return Err(bad(
                    "role_arn needs source_profile, credential_source or web_identity_token_file"
                        .into(),
                ));
            }
        };
        let duration_seconds = match get("duration_seconds") {
            Some(d) => Some(
                d.parse::<u32>()
                    .ok()
                    .filter(|d| (900..=43_200).contains(d))
                    .ok_or_else(|| bad(format!("duration_seconds {d} is not 900-43200")))?,
            ),
            None => None,
        };
        Ok(Some(Source::AssumeRole(Box::new(AssumeRole {
            role_arn,
            session_name,
            external_id: get("external_id"),
            duration_seconds,
            endpoint,
            region: get("region")
                .or_else(|| env("AWS_REGION"))
                .unwrap_or_else(|| "us-east-1".into()),
            source,
        }))))
    }
}

/// The source a `credential_source` names.
fn credential_source(
    name: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> std::result::Result<Source, String> {
    match name {
        "Environment" => match (env("AWS_ACCESS_KEY_ID"), env("AWS_SECRET_ACCESS_KEY")) {
            (Some(ak), Some(sk)) => Ok(Source::Fixed(Credentials::new(
                ak,
                sk,
                env("AWS_SESSION_TOKEN"),
            ))),
            _ => Err("credential_source Environment, but AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set".into()),
        },
        "Ec2InstanceMetadata" => Ok(Source::InstanceMetadata {
            endpoint: env("AWS_EC2_METADATA_SERVICE_ENDPOINT")
                .unwrap_or_else(|| super::DEFAULT_IMDS_ENDPOINT.into()),
        }),
        "EcsContainer" => container_source(env)
            .map_err(|e| e.to_string())?
            .ok_or_else(|| {
                "credential_source EcsContainer, but no AWS_CONTAINER_CREDENTIALS_* variable is set"
                    .into()
            }),
        other => Err(format!(
            "credential_source {other} is not Environment, Ec2InstanceMetadata or EcsContainer"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    const CONFIG: &str = "\
[default]
region = eu-west-1

[profile ci]
role_arn = arn:aws:iam::1:role/ci
source_profile = base
external_id = ext-1
duration_seconds = 1800
role_session_name = ci-session

[profile base]
region = us-east-2

[profile wi]
role_arn = arn:aws:iam::1:role/wi
web_identity_token_file = /var/run/token

[profile proc]
credential_process = /usr/bin/get-creds

[profile loop1]
role_arn = arn:1
source_profile = loop2

[profile loop2]
role_arn = arn:2
source_profile = loop1

[sso-session corp]
sso_region = us-east-1
";

    const CREDENTIALS: &str = "\
[base]
aws_access_key_id = AKBASE
aws_secret_access_key = SKBASE
aws_session_token = TOKBASE
";

    #[test]
    fn static_keys_come_from_the_credentials_file() {
        let p = Profiles::parse(Some(CONFIG), Some(CREDENTIALS));
        assert_eq!(
            p.resolve("base", &no_env).unwrap(),
            Some(Source::Fixed(Credentials::new(
                "AKBASE".into(),
                "SKBASE".into(),
                Some("TOKBASE".into())
            )))
        );
        assert_eq!(
            p.resolve("default", &no_env).unwrap(),
            None,
            "a region only"
        );
        assert!(!p.has("corp"), "not a profile");
    }

    #[test]
    fn a_role_takes_its_source_profiles_keys() {
        let p = Profiles::parse(Some(CONFIG), Some(CREDENTIALS));
        let Some(Source::AssumeRole(r)) = p.resolve("ci", &no_env).unwrap() else {
            panic!("an assumed role");
        };
        assert_eq!(r.role_arn, "arn:aws:iam::1:role/ci");
        assert_eq!(r.session_name, "ci-session");
        assert_eq!(r.external_id.as_deref(), Some("ext-1"));
        assert_eq!(r.duration_seconds, Some(1800));
        assert_eq!(r.endpoint, DEFAULT_STS_ENDPOINT);
        assert!(matches!(r.source, Source::Fixed(ref c) if c.access_key() == "AKBASE"));
        let Some(Source::WebIdentity { token_file, .. }) = p.resolve("wi", &no_env).unwrap() else {
            panic!("a web identity");
        };
        assert_eq!(token_file, "/var/run/token");
    }

    #[test]
    fn credential_sources_name_the_environment_imds_or_the_container() {
        let p = Profiles::parse(
            Some(
                "[profile e]\nrole_arn = a\ncredential_source = Environment\n[profile c]\nrole_arn = a\ncredential_source = EcsContainer\n",
            ),
            None,
        );
        let vars = |k: &str| match k {
            "AWS_ACCESS_KEY_ID" => Some("EK".to_owned()),
            "AWS_SECRET_ACCESS_KEY" => Some("ES".to_owned()),
            "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI" => Some("/v2/x".to_owned()),
            _ => None,
        };
        let Some(Source::AssumeRole(r)) = p.resolve("e", &vars).unwrap() else {
            panic!("a role");
        };
        assert!(matches!(r.source, Source::Fixed(ref c) if c.access_key() == "EK"));
        let Some(Source::AssumeRole(r)) = p.resolve("c", &vars).unwrap() else {
            panic!("a role");
        };
        assert!(matches!(r.source, Source::Container { .. }));
        assert!(
            p.resolve("e", &no_env)
                .unwrap_err()
                .to_string()
                .contains("AWS_ACCESS_KEY_ID")
        );
    }

    #[test]
    fn what_cannot_work_is_refused_by_name() {
        let p = Profiles::parse(Some(CONFIG), Some(CREDENTIALS));
        let msg = |name: &str| p.resolve(name, &no_env).unwrap_err().to_string();
        assert!(
            msg("proc").contains("credential_process"),
            "{}",
            msg("proc")
        );
        assert!(msg("loop1").contains("loops"), "{}", msg("loop1"));
        assert!(msg("missing").contains("not found"), "{}", msg("missing"));
        let bad = Profiles::parse(
            Some("[profile x]\nrole_arn = a\ncredential_source = Magic\n"),
            None,
        );
        assert!(
            bad.resolve("x", &no_env)
                .unwrap_err()
                .to_string()
                .contains("Magic")
        );
        let dur = Profiles::parse(
            Some(
                "[profile x]\nrole_arn = a\ncredential_source = Ec2InstanceMetadata\nduration_seconds = 60\n",
            ),
            None,
        );
        assert!(
            dur.resolve("x", &no_env)
                .unwrap_err()
                .to_string()
                .contains("duration_seconds")
        );
    }
}
