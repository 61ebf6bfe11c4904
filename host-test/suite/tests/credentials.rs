//! The credential chain through the component: environment keys, web identity
//! exchanged with a local fake STS, IMDSv2 from a local fake metadata service,
//! caching until shortly before expiry, and refusals as access-denied. Every
//! fake listens on 127.0.0.1; nothing ever goes to the real STS or 169.254.169.254.

use s3_driver_suite as common;

use std::sync::{Arc, Mutex};

use common::*;
use s3_driver_host::{
    Allowlist, CallError, ConfigValue, Driver, DriverError, Grants, OutgoingPolicy,
};
use s3_driver_kit::EmbeddedS3;
use s3_storage_driver::time::UtcDateTime;

/// What a fake saw: method, path, query, and the IMDS token header.
type Seen = Arc<Mutex<Vec<(String, String, String, Option<String>)>>>;

/// A fake HTTP service on 127.0.0.1 answering with `reply(method, path, query, headers)`.
async fn fake<F>(reply: F) -> (String, Seen)
where
    F: Fn(&str, &str, &str, &http::HeaderMap) -> (u16, String) + Send + Sync + 'static,
{
    let seen: Seen = Arc::new(Mutex::new(Vec::new()));
    let s = seen.clone();
    let addr = serve_http(move |head| {
        let (method, path) = (head.method.as_str(), head.uri.path());
        let query = head.uri.query().unwrap_or_default();
        let token = head
            .headers
            .get("x-aws-ec2-metadata-token")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        s.lock()
            .unwrap()
            .push((method.to_owned(), path.to_owned(), query.to_owned(), token));
        reply(method, path, query, &head.headers)
    })
    .await;
    (format!("http://{addr}"), seen)
}

/// The embedded server's parameters without static keys.
fn keyless(server: &EmbeddedS3) -> Vec<(String, ConfigValue)> {
    server
        .params()
        .into_iter()
        .filter(|(k, _)| k != "accesskey" && k != "secretkey")
        .collect()
}

async fn open_env(
    params: &[(String, ConfigValue)],
    env: &[(String, String)],
) -> Result<Driver, CallError> {
    let allow = Allowlist::for_params(params).with_credential_endpoints(params, env);
    let grants = Grants {
        env: env.to_vec(),
        ..Grants::default()
    };
    Driver::open_with(&RUNTIME, params, &[], OutgoingPolicy::new(allow), &grants).await
}

fn iso(seconds_from_now: i64) -> String {
    let now = UtcDateTime::from_system_time(std::time::SystemTime::now());
    UtcDateTime {
        seconds: now.seconds + seconds_from_now,
        nanos: 0,
    }
    .iso8601()
}

/// The variables of a web-identity set-up against the fake STS at `sts`.
fn web_identity_env(token_file: &std::path::Path, sts: &str) -> Vec<(String, String)> {
    env(&[
        ("AWS_WEB_IDENTITY_TOKEN_FILE", token_file.to_str().unwrap()),
        ("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/registry"),
        ("AWS_ENDPOINT_URL_STS", sts),
    ])
}

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn keys_from_the_granted_environment() {
    let server = EmbeddedS3::start_temp().await.unwrap();
    let params = keyless(&server);
    let good = env(&[
        ("AWS_ACCESS_KEY_ID", server.access_key()),
        (
            "AWS_SECRET_ACCESS_KEY",
            s3_driver_kit::s3_server::DEFAULT_SECRET_KEY,
        ),
    ]);
    let d = open_env(&params, &good).await.unwrap();
    d.put_content("/env", b"from env").await.unwrap();
    assert_eq!(d.get_content("/env").await.unwrap(), b"from env");
    d.delete("/env").await.unwrap();
    // Without keys anywhere the chain falls to IMDS, which this host does not
    // allow: a clean network error, and nothing sent anywhere.
    let d = open_params(&params).await;
    match d.get_content("/env").await {
        Err(CallError::Driver(DriverError::Network(m))) => {
            assert_eq!(m, "request denied by the host's egress policy")
        }
        other => panic!("expected a denied request, got {other:?}"),
    }
    assert_eq!(d.http_stats().denied, 1);
}

fn sts_reply(ak: &str, sk: &str, expiration: &str) -> String {
    format!(
        r#"<AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <AssumeRoleWithWebIdentityResult>
    <SubjectFromWebIdentityToken>system:serviceaccount:registry:registry</SubjectFromWebIdentityToken>
    <Credentials>
      <AccessKeyId>{ak}</AccessKeyId>
      <SecretAccessKey>{sk}</SecretAccessKey>
      <SessionToken>session-token-from-sts</SessionToken>
      <Expiration>{expiration}</Expiration>
    </Credentials>
  </AssumeRoleWithWebIdentityResult>
  <ResponseMetadata><RequestId>sts-1</RequestId></ResponseMetadata>
</AssumeRoleWithWebIdentityResponse>"#
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn web_identity_is_exchanged_with_sts_and_cached_until_near_expiry() {
    let server = EmbeddedS3::start_temp().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, "eyJ.web.identity\n").unwrap();
    // Inside the 5-minute refresh margin every S3 request fetches anew: put,
    // get, and delete's list and batch make 4.
    for (lifetime, expect_calls) in [(3600, 1usize), (120, 4)] {
        let (ak, sk) = (
            server.access_key().to_owned(),
            s3_driver_kit::s3_server::DEFAULT_SECRET_KEY,
        );
        let expiration = iso(lifetime);
        let (sts, seen) = fake(move |_m, _p, q, _h| {
            if q.contains("Action=AssumeRoleWithWebIdentity")
                && q.contains("WebIdentityToken=eyJ.web.identity")
                && q.contains("RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Fregistry")
            {
                (200, sts_reply(&ak, sk, &expiration))
            } else {
                (400, "<ErrorResponse><Error><Code>InvalidParameterValue</Code></Error></ErrorResponse>".into())
            }
        })
        .await;
        let vars = web_identity_env(&token_file, &sts);
        let d = open_env(&keyless(&server), &vars).await.unwrap();
        assert!(seen.lock().unwrap().is_empty(), "opening sends nothing");
        d.put_content("/wi", b"web identity").await.unwrap();
        assert_eq!(d.get_content("/wi").await.unwrap(), b"web identity");
        d.delete("/wi").await.unwrap();
        let calls = seen.lock().unwrap().len();
        assert_eq!(
            calls, expect_calls,
            "STS calls with credentials living {lifetime} s"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn sts_refusal_is_access_denied() {
    let server = EmbeddedS3::start_temp().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, "expired-token").unwrap();
    let (sts, _) = fake(|_, _, _, _| {
        (
            403,
            "<ErrorResponse><Error><Type>Sender</Type><Code>ExpiredTokenException</Code><Message>Token expired</Message></Error><RequestId>r-9</RequestId></ErrorResponse>".into(),
        )
    })
    .await;
    let vars = web_identity_env(&token_file, &sts);
    let d = open_env(&keyless(&server), &vars).await.unwrap();
    match d.get_content("/x").await {
        Err(CallError::Driver(DriverError::AccessDenied(b))) => {
            assert_eq!(b.status, 403);
            assert_eq!(b.operation, "credentials (web identity)");
        }
        other => panic!("expected access-denied, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn imdsv2_token_role_and_credentials() {
    let server = EmbeddedS3::start_temp().await.unwrap();
    let (ak, sk) = (
        server.access_key().to_owned(),
        s3_driver_kit::s3_server::DEFAULT_SECRET_KEY,
    );
    let expiration = iso(6 * 3600);
    let (imds, seen) = fake(move |method, path, _q, headers| {
        let token_ok = headers.get("x-aws-ec2-metadata-token").is_some_and(|v| v == "IMDS-TOKEN");
        match (method, path) {
            ("PUT", "/latest/api/token")
                if headers.get("x-aws-ec2-metadata-token-ttl-seconds").is_some() =>
            {
                (200, "IMDS-TOKEN".into())
            }
            ("GET", "/latest/meta-data/iam/security-credentials/") if token_ok => (200, "registry-node\n".into()),
            ("GET", "/latest/meta-data/iam/security-credentials/registry-node") if token_ok => (
                200,
                format!(
                    r#"{{"Code":"Success","LastUpdated":"2026-11-26T00:00:00Z","Type":"AWS-HMAC","AccessKeyId":"{ak}","SecretAccessKey":"{sk}","Token":"imds-session","Expiration":"{expiration}"}}"#
                ),
            ),
            _ => (401, String::new()),
        }
    })
    .await;
    let vars = env(&[("AWS_EC2_METADATA_SERVICE_ENDPOINT", &imds)]);
    let d = open_env(&keyless(&server), &vars).await.unwrap();
    for i in 0..3 {
        d.put_content(&format!("/imds/{i}"), b"x").await.unwrap();
    }
    d.delete("/imds").await.unwrap();
    let seen = seen.lock().unwrap().clone();
    let steps: Vec<(&str, &str)> = seen
        .iter()
        .map(|(m, p, _, _)| (m.as_str(), p.as_str()))
        .collect();
    assert_eq!(
        steps,
        [
            ("PUT", "/latest/api/token"),
            ("GET", "/latest/meta-data/iam/security-credentials/"),
            (
                "GET",
                "/latest/meta-data/iam/security-credentials/registry-node"
            ),
        ],
        "one fetch, cached for the next operations"
    );
    assert!(
        seen[1..]
            .iter()
            .all(|(_, _, _, t)| t.as_deref() == Some("IMDS-TOKEN"))
    );
}
