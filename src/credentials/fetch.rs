//! Fetching temporary credentials from each remote source: STS
//! (AssumeRoleWithWebIdentity, AssumeRole), the container credentials
//! endpoint, and IMDSv2. Each returns the credentials and their expiry;
//! refusals are `access-denied`, unreadable replies `malformed-response`.

use serde::Deserialize;

use super::{AssumeRole, ContainerToken};
use crate::error::{BackendError, Error, Result};
use crate::platform::Platform;
use crate::s3::xml;
use crate::sign::Credentials;
use crate::sign::v4::Signer;
use crate::time::UtcDateTime;
use crate::transport::{Body, Request, Transport};
use crate::url::split_url;

/// Replies of credential sources stay well below this.
const REPLY_LIMIT: usize = 1 << 20;

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
struct AssumeRoleResponse {
    assume_role_result: StsResult,
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

/// The credentials and expiry of an STS `<Credentials>` element.
fn sts_credentials(c: StsCredentials, op: &str) -> Result<(Credentials, Option<i64>)> {
    let expires = UtcDateTime::parse_iso8601(&c.expiration).ok_or_else(|| {
        Error::MalformedResponse(format!("{op}: bad Expiration {}", c.expiration))
    })?;
    Ok((
        Credentials::new(c.access_key_id, c.secret_access_key, Some(c.session_token)),
        Some(expires.seconds),
    ))
}

pub(super) fn web_identity<T: Transport>(
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
    sts_credentials(r.assume_role_with_web_identity_result.credentials, op)
}

pub(super) fn instance_metadata<T: Transport>(
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
    // It becomes part of a path: anything but an IAM role name (a captive
    // portal's page) is a reply we cannot use, not a request to try.
    let role_name = |r: &str| {
        r.len() <= 64
            && r.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"+=,.@_-".contains(&b))
    };
    if !role_name(&role) {
        return Err(Error::MalformedResponse(format!(
            "{op}: the role list does not name an IAM role"
        )));
    }
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

/// The container endpoint's JSON (ECS task roles, EKS Pod Identity).
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ContainerCredentials {
    access_key_id: String,
    secret_access_key: String,
    #[serde(default)]
    token: Option<String>,
    expiration: String,
}

/// GET the container endpoint with its `Authorization` token (a token file
/// is read again every time: EKS rotates it).
pub(super) fn container<T: Transport>(
    transport: &T,
    platform: &dyn Platform,
    url: &str,
    token: Option<&ContainerToken>,
) -> Result<(Credentials, Option<i64>)> {
    let op = "credentials (container)";
    let parts = split_url(url).ok_or_else(|| {
        Error::InvalidConfig(format!("container credentials URL is not http(s): {url}"))
    })?;
    let (path, query) = match parts.path.split_once('?') {
        Some((p, q)) => (p.to_owned(), crate::url::query_pairs(q)),
        None => (parts.path, Vec::new()),
    };
    let mut req = Request {
        method: "GET",
        secure: parts.secure,
        authority: parts.authority,
        path,
        query,
        headers: vec![("accept".into(), "application/json".into())],
    };
    match token {
        Some(ContainerToken::Value(t)) => req.header("authorization", t.clone()),
        Some(ContainerToken::File(f)) => {
            let t = platform.read_file(f).map_err(|e| {
                Error::InvalidConfig(format!(
                    "cannot read AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE {f}: {}",
                    e.kind()
                ))
            })?;
            req.header("authorization", t.trim().to_owned());
        }
        None => {}
    }
    let mut resp = transport.send(&req, &[])?;
    let body = resp.body.read_to_end(REPLY_LIMIT)?;
    if resp.status != 200 {
        return Err(refused(op, resp.status, &body));
    }
    let c: ContainerCredentials = serde_json::from_slice(&body)
        .map_err(|e| Error::MalformedResponse(format!("{op}: {e}")))?;
    let expires = UtcDateTime::parse_iso8601(&c.expiration).ok_or_else(|| {
        Error::MalformedResponse(format!("{op}: bad Expiration {}", c.expiration))
    })?;
    Ok((
        Credentials::new(c.access_key_id, c.secret_access_key, c.token),
        Some(expires.seconds),
    ))
}

/// STS `AssumeRole`, signed (SigV4, service `sts`) with `signing`.
pub(super) fn assume_role<T: Transport>(
    transport: &T,
    platform: &dyn Platform,
    r: &AssumeRole,
    signing: Credentials,
) -> Result<(Credentials, Option<i64>)> {
    let op = "credentials (assume role)";
    let mut query = vec![
        ("Action".to_owned(), "AssumeRole".to_owned()),
        ("Version".to_owned(), "2011-06-15".to_owned()),
        ("RoleArn".to_owned(), r.role_arn.clone()),
        ("RoleSessionName".to_owned(), r.session_name.clone()),
    ];
    if let Some(id) = &r.external_id {
        query.push(("ExternalId".into(), id.clone()));
    }
    if let Some(d) = r.duration_seconds {
        query.push(("DurationSeconds".into(), d.to_string()));
    }
    let mut req = request("GET", &r.endpoint, query)?;
    Signer::new(signing, &r.region, "sts").sign_request(platform.now(), &mut req, &[]);
    let mut resp = transport.send(&req, &[])?;
    let body = resp.body.read_to_end(REPLY_LIMIT)?;
    if resp.status != 200 {
        return Err(refused(op, resp.status, &body));
    }
    let reply: AssumeRoleResponse = xml::parse(&body, "AssumeRoleResponse", op)?;
    sts_credentials(reply.assume_role_result.credentials, op)
}
