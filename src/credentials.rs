//! Where the signing keys come from, in the AWS SDKs' order: static keys from
//! the configuration; else `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY` (and
//! `AWS_SESSION_TOKEN`) from the environment the host grants; else web identity
//! (`AWS_WEB_IDENTITY_TOKEN_FILE` + `AWS_ROLE_ARN`, exchanged with STS
//! AssumeRoleWithWebIdentity); else the EC2 instance metadata service (IMDSv2).
//!
//! Temporary credentials are fetched on first use (opening sends nothing) and
//! reused until five minutes before they expire. Every network step goes
//! through the driver's [`Transport`], so through `wasi:http` and the host's
//! allowlist.

use std::cell::RefCell;

use serde::Deserialize;

use crate::error::{BackendError, Error, Result};
use crate::platform::Platform;
use crate::s3::xml;
use crate::sign::Credentials;
use crate::time::UtcDateTime;
use crate::transport::{Body, Request, Transport};
use crate::url::split_url;

/// Temporary credentials are refreshed this long before they expire.
pub const REFRESH_MARGIN_SECS: i64 = 5 * 60;
/// Where STS answers when `AWS_ENDPOINT_URL_STS` is not set.
pub const DEFAULT_STS_ENDPOINT: &str = "https://sts.amazonaws.com";
/// The instance metadata service when `AWS_EC2_METADATA_SERVICE_ENDPOINT` is not set.
pub const DEFAULT_IMDS_ENDPOINT: &str = "http://169.254.169.254";

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
    /// IMDSv2: token, role name, role credentials.
    InstanceMetadata {
        /// The metadata service's base URL.
        endpoint: String,
    },
}

impl Source {
    /// Picks the source from the configured keys and the environment.
    pub fn choose(configured: &Credentials, env: impl Fn(&str) -> Option<String>) -> Self {
        if !configured.is_empty() {
            return Source::Fixed(configured.clone());
        }
        let var = |n: &str| env(n).filter(|v| !v.is_empty());
        if let (Some(ak), Some(sk)) = (var("AWS_ACCESS_KEY_ID"), var("AWS_SECRET_ACCESS_KEY")) {
            return Source::Fixed(Credentials::new(ak, sk, var("AWS_SESSION_TOKEN")));
        }
        if let (Some(token_file), Some(role_arn)) =
            (var("AWS_WEB_IDENTITY_TOKEN_FILE"), var("AWS_ROLE_ARN"))
        {
            return Source::WebIdentity {
                token_file,
                role_arn,
                session_name: var("AWS_ROLE_SESSION_NAME")
                    .unwrap_or_else(|| "distribution-s3-driver".into()),
                endpoint: var("AWS_ENDPOINT_URL_STS")
                    .unwrap_or_else(|| DEFAULT_STS_ENDPOINT.into()),
            };
        }
        Source::InstanceMetadata {
            endpoint: var("AWS_EC2_METADATA_SERVICE_ENDPOINT")
                .unwrap_or_else(|| DEFAULT_IMDS_ENDPOINT.into()),
        }
    }
}

/// The credential chain with its cache.
#[derive(Debug)]
pub struct CredentialChain {
    source: Source,
    cache: RefCell<Option<(Credentials, Option<i64>)>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct StsCredentials {
    access_key_id: String,
    secret_access_key: String,
    session_token: String,
    expiration: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct StsResult {
    credentials: StsCredentials,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct StsResponse {
    assume_role_with_web_identity_result: StsResult,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ImdsCredentials {
    #[serde(default)]
    code: String,
    access_key_id: String,
    secret_access_key: String,
    token: String,
    expiration: String,
}

fn request(method: &'static str, url: &str, query: Vec<(String, String)>) -> Result<Request> {
    let parts = split_url(url).ok_or_else(|| {
        Error::InvalidConfig(format!("credential endpoint is not an http(s) URL: {url}"))
    })?;
    let path = if parts.path.ends_with('/') {
        parts.path
    } else {
        format!("{}/", parts.path)
    };
    Ok(Request {
        method,
        secure: parts.secure,
        authority: parts.authority,
        path,
        query,
        headers: Vec::new(),
    })
}

fn refused(operation: &str, status: u16, body: &[u8]) -> Error {
    let parsed = xml::parse_error(body).unwrap_or_default();
    Error::AccessDenied(BackendError {
        operation: operation.to_owned(),
        code: parsed.code,
        message: if parsed.message.is_empty() {
            format!("credential source answered HTTP {status}")
        } else {
            parsed.message
        },
        status,
        request_id: parsed.request_id,
    })
}

impl CredentialChain {
    /// A chain that will use `source`.
    pub fn new(source: Source) -> Self {
        Self {
            source,
            cache: RefCell::new(None),
        }
    }

    /// The source in use.
    pub fn source(&self) -> &Source {
        &self.source
    }

    /// Current credentials, fetching or refreshing them when needed.
    pub fn get<T: Transport>(&self, transport: &T, platform: &dyn Platform) -> Result<Credentials> {
        let now = platform.now();
        if let Source::Fixed(c) = &self.source {
            return Ok(c.clone());
        }
        if let Some((c, expires)) = &*self.cache.borrow()
            && expires.is_none_or(|e| now.seconds < e - REFRESH_MARGIN_SECS)
        {
            return Ok(c.clone());
        }
        let fresh = match &self.source {
            Source::Fixed(_) => unreachable!("returned above"),
            Source::WebIdentity {
                token_file,
                role_arn,
                session_name,
                endpoint,
            } => Self::web_identity(
                transport,
                platform,
                token_file,
                role_arn,
                session_name,
                endpoint,
            )?,
            Source::InstanceMetadata { endpoint } => Self::instance_metadata(transport, endpoint)?,
        };
        *self.cache.borrow_mut() = Some(fresh.clone());
        Ok(fresh.0)
    }

    fn web_identity<T: Transport>(
        transport: &T,
        platform: &dyn Platform,
        token_file: &str,
        role_arn: &str,
        session_name: &str,
        endpoint: &str,
    ) -> Result<(Credentials, Option<i64>)> {
        let op = "credentials (web identity)";
        let token = platform.read_file(token_file).map_err(|e| {
            Error::InvalidConfig(format!(
                "cannot read AWS_WEB_IDENTITY_TOKEN_FILE {token_file}: {}",
                e.kind()
            ))
        })?;
        let req = request(
            "GET",
            endpoint,
            vec![
                ("Action".into(), "AssumeRoleWithWebIdentity".into()),
                ("Version".into(), "2011-06-15".into()),
                ("RoleArn".into(), role_arn.into()),
                ("RoleSessionName".into(), session_name.into()),
                ("WebIdentityToken".into(), token.trim().into()),
            ],
        )?;
        let mut resp = transport.send(&req, &[])?;
        let body = resp.body.read_to_end(1 << 20)?;
        if resp.status != 200 {
            return Err(refused(op, resp.status, &body));
        }
        let r: StsResponse = xml::parse(&body, "AssumeRoleWithWebIdentityResponse", op)?;
        let c = r.assume_role_with_web_identity_result.credentials;
        let expires = UtcDateTime::parse_iso8601(&c.expiration).ok_or_else(|| {
            Error::MalformedResponse(format!("{op}: bad Expiration {}", c.expiration))
        })?;
        Ok((
            Credentials::new(c.access_key_id, c.secret_access_key, Some(c.session_token)),
            Some(expires.seconds),
        ))
    }

    fn instance_metadata<T: Transport>(
        transport: &T,
        endpoint: &str,
    ) -> Result<(Credentials, Option<i64>)> {
        let op = "credentials (instance metadata)";
        let base = endpoint.trim_end_matches('/');
        let mut token_req = request("PUT", &format!("{base}/latest/api/token"), vec![])?;
        token_req.path = token_req.path.trim_end_matches('/').to_owned();
        token_req.header("x-aws-ec2-metadata-token-ttl-seconds", "21600");
        let mut resp = transport.send(&token_req, &[])?;
        let token_bytes = resp.body.read_to_end(64 * 1024)?;
        if resp.status != 200 {
            return Err(refused(op, resp.status, &token_bytes));
        }
        let token = String::from_utf8_lossy(&token_bytes).trim().to_owned();
        let get = |path: &str| -> Result<Vec<u8>> {
            let mut req = request("GET", &format!("{base}{path}"), vec![])?;
            req.path = path.to_owned();
            req.header("x-aws-ec2-metadata-token", token.clone());
            let mut resp = transport.send(&req, &[])?;
            let body = resp.body.read_to_end(1 << 20)?;
            if resp.status != 200 {
                return Err(refused(op, resp.status, &body));
            }
            Ok(body)
        };
        let roles = get("/latest/meta-data/iam/security-credentials/")?;
        let role = String::from_utf8_lossy(&roles)
            .lines()
            .next()
            .map(str::trim)
            .filter(|r| !r.is_empty())
            .ok_or_else(|| Error::MalformedResponse(format!("{op}: no instance role")))?
            .to_owned();
        let body = get(&format!(
            "/latest/meta-data/iam/security-credentials/{role}"
        ))?;
        let c: ImdsCredentials = serde_json::from_slice(&body)
            .map_err(|e| Error::MalformedResponse(format!("{op}: {e}")))?;
        if !c.code.is_empty() && c.code != "Success" {
            return Err(refused(op, 200, &[]));
        }
        let expires = UtcDateTime::parse_iso8601(&c.expiration).ok_or_else(|| {
            Error::MalformedResponse(format!("{op}: bad Expiration {}", c.expiration))
        })?;
        Ok((
            Credentials::new(c.access_key_id, c.secret_access_key, Some(c.token)),
            Some(expires.seconds),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    #[test]
    fn the_chain_prefers_static_then_environment_then_web_identity_then_imds() {
        let none = Credentials::new(String::new(), String::new(), None);
        let fixed = Credentials::new("AK".into(), "SK".into(), None);
        assert_eq!(
            Source::choose(&fixed, env(&[("AWS_ACCESS_KEY_ID", "X")])),
            Source::Fixed(fixed)
        );
        assert_eq!(
            Source::choose(
                &none,
                env(&[
                    ("AWS_ACCESS_KEY_ID", "EK"),
                    ("AWS_SECRET_ACCESS_KEY", "ES"),
                    ("AWS_SESSION_TOKEN", "ET"),
                    ("AWS_ROLE_ARN", "arn"),
                ])
            ),
            Source::Fixed(Credentials::new(
                "EK".into(),
                "ES".into(),
                Some("ET".into())
            ))
        );
        assert_eq!(
            Source::choose(
                &none,
                env(&[
                    ("AWS_WEB_IDENTITY_TOKEN_FILE", "/t"),
                    ("AWS_ROLE_ARN", "arn:r")
                ])
            ),
            Source::WebIdentity {
                token_file: "/t".into(),
                role_arn: "arn:r".into(),
                session_name: "distribution-s3-driver".into(),
                endpoint: DEFAULT_STS_ENDPOINT.into(),
            }
        );
        assert_eq!(
            Source::choose(&none, env(&[("AWS_ACCESS_KEY_ID", "only-half")])),
            Source::InstanceMetadata {
                endpoint: DEFAULT_IMDS_ENDPOINT.into()
            }
        );
    }
}
