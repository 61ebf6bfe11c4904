//! The credential chain through the component: environment keys, web identity
//! exchanged with a local fake STS, IMDSv2 from a local fake metadata service,
//! caching until shortly before expiry, and refusals as access-denied. Every
//! fake listens on 127.0.0.1; nothing ever goes to the real STS or 169.254.169.254.

use s3_driver_suite as common;

use std::sync::{Arc, Mutex};

use common::*;
use s3_driver_host::{
    CallError, ConfigValue, Driver, DriverError, Grants, OpenOptions, OutgoingPolicy,
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
    let allow = s3_driver_suite::loopback();
    let grants = Grants {
        env: env.to_vec(),
        ..Grants::default()
    };
    Driver::open(
        &RUNTIME,
        OpenOptions::new(params)
            .policy(OutgoingPolicy::new(allow))
            .grants(grants.clone()),
    )
    .await
}

fn iso(seconds_from_now: i64) -> String {
    let now = UtcDateTime::from_system_time(std::time::SystemTime::now());
    UtcDateTime {
        seconds: now.seconds + seconds_from_now,
        nanos: 0,
    }
    .iso8601()
}

/// A fake IMDSv2 handing out the embedded server's keys for `role`: a
/// session token (only when its TTL is asked for), the role list, then
/// credentials expiring `lifetime` seconds after each fetch. While `refuse`
/// is set every token is refused (401), as for any unknown request.
async fn fake_imds(
    server: &EmbeddedS3,
    role: &'static str,
    lifetime: i64,
    refuse: Arc<std::sync::atomic::AtomicBool>,
) -> (String, Seen) {
    let (ak, sk) = (
        server.access_key().to_owned(),
        s3_driver_kit::s3_server::DEFAULT_SECRET_KEY,
    );
    let credentials_path = format!("/latest/meta-data/iam/security-credentials/{role}");
    fake(move |method, path, _q, headers| {
        let token_ok = !refuse.load(std::sync::atomic::Ordering::SeqCst)
            && headers
                .get("x-aws-ec2-metadata-token")
                .is_some_and(|v| v == "IMDS-TOKEN");
        match (method, path) {
            ("PUT", "/latest/api/token")
                if headers.get("x-aws-ec2-metadata-token-ttl-seconds").is_some() =>
            {
                (200, "IMDS-TOKEN".into())
            }
            ("GET", "/latest/meta-data/iam/security-credentials/") if token_ok => {
                (200, format!("{role}\n"))
            }
            ("GET", p) if token_ok && p == credentials_path => (
                200,
                format!(
                    r#"{{"Code":"Success","LastUpdated":"2026-11-26T00:00:00Z","Type":"AWS-HMAC","AccessKeyId":"{ak}","SecretAccessKey":"{sk}","Token":"imds-session","Expiration":"{}"}}"#,
                    iso(lifetime)
                ),
            ),
            _ => (401, String::new()),
        }
    })
    .await
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
    // Without keys anywhere the chain falls to IMDS, a link-local origin
    // the suite's cap refuses: the driver does not open, and the refusal
    // names the origin and why the component wanted it. Nothing is sent.
    match s3_driver_suite::try_open_params(&params).await {
        Err(CallError::Driver(DriverError::InvalidConfig(m))) => assert_eq!(
            m,
            "the host's egress policy refuses http://169.254.169.254:80 (the AWS credential source)"
        ),
        other => panic!("expected a refused origin, got {:?}", other.map(|_| ())),
    }
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
    let (imds, seen) = fake_imds(&server, "registry-node", 6 * 3600, Default::default()).await;
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

/// The container endpoint's JSON with the embedded server's keys.
fn container_reply(server: &EmbeddedS3, expiration: &str) -> String {
    format!(
        r#"{{"AccessKeyId":"{}","SecretAccessKey":"{}","Token":"container-session","Expiration":"{expiration}"}}"#,
        server.access_key(),
        s3_driver_kit::s3_server::DEFAULT_SECRET_KEY
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn container_credentials_with_a_token_file_read_at_every_refresh() {
    let server = EmbeddedS3::start_temp().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("eks-pod-identity-token");
    std::fs::write(&token_file, "token-1\n").unwrap();
    // Two minutes left: inside the refresh margin, every request refreshes.
    let reply = container_reply(&server, &iso(120));
    let tokens: Arc<Mutex<Vec<String>>> = Arc::default();
    let t = tokens.clone();
    let (endpoint, _) = fake(move |_, path, _, headers| {
        let token = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        t.lock().unwrap().push(token.clone());
        match (path, token.starts_with("token-")) {
            ("/v1/credentials", true) => (200, reply.clone()),
            _ => (
                401,
                r#"{"code":"AccessDenied","message":"bad token"}"#.into(),
            ),
        }
    })
    .await;
    let vars = env(&[
        (
            "AWS_CONTAINER_CREDENTIALS_FULL_URI",
            &format!("{endpoint}/v1/credentials"),
        ),
        (
            "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
            token_file.to_str().unwrap(),
        ),
    ]);
    let d = open_env(&keyless(&server), &vars).await.unwrap();
    d.put_content("/c/1", b"x").await.unwrap();
    std::fs::write(&token_file, "token-2\n").unwrap();
    d.put_content("/c/2", b"y").await.unwrap();
    assert_eq!(
        *tokens.lock().unwrap(),
        ["token-1", "token-2"],
        "the file is read at each refresh"
    );
    // A token the endpoint refuses.
    std::fs::write(&token_file, "stolen\n").unwrap();
    match d.get_content("/c/1").await {
        Err(CallError::Driver(DriverError::AccessDenied(b))) => {
            assert_eq!(
                (b.status, b.operation.as_str()),
                (401, "credentials (container)")
            );
        }
        other => panic!("expected access-denied, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn container_failures_are_typed() {
    let server = EmbeddedS3::start_temp().await.unwrap();
    // Unreachable: a loopback port nobody listens on.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let vars = env(&[(
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        &format!("http://127.0.0.1:{closed}/creds"),
    )]);
    let d = open_env(&keyless(&server), &vars).await.unwrap();
    assert!(matches!(
        d.get_content("/x").await,
        Err(CallError::Driver(DriverError::Network(_)))
    ));
    // A reply that is not the credentials JSON.
    let (endpoint, _) = fake(|_, _, _, _| (200, "<html>portal</html>".into())).await;
    let vars = env(&[(
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        &format!("{endpoint}/creds"),
    )]);
    let d = open_env(&keyless(&server), &vars).await.unwrap();
    match d.get_content("/x").await {
        Err(CallError::Driver(DriverError::MalformedResponse(m))) => {
            assert!(m.starts_with("credentials (container)"), "{m}")
        }
        other => panic!("expected malformed-response, got {other:?}"),
    }
    // A plain-HTTP URI to a host the SDKs refuse: refused at open, by name.
    let vars = env(&[(
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "http://203.0.113.9/creds",
    )]);
    match open_env(&keyless(&server), &vars).await {
        Err(CallError::Driver(DriverError::InvalidConfig(m))) => {
            assert!(m.contains("AWS_CONTAINER_CREDENTIALS_FULL_URI"), "{m}")
        }
        other => panic!("expected invalid-config, got {:?}", other.map(|_| ())),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_presigned_url_never_outlives_the_credentials_that_signed_it() {
    let server = EmbeddedS3::start_temp().await.unwrap();
    // Credentials that live 15 minutes: less than a redirect's 20.
    let reply = container_reply(&server, &iso(900));
    let (endpoint, seen) = fake(move |_, _, _, _| (200, reply.clone())).await;
    let vars = env(&[(
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        &format!("{endpoint}/creds"),
    )]);
    let d = open_env(&keyless(&server), &vars).await.unwrap();
    d.put_content("/p", b"x").await.unwrap();
    let request = s3_driver_host::RedirectRequest {
        method: "GET".into(),
        remote_addr: "192.0.2.1".into(),
        forwarded_for: None,
        real_ip: None,
    };
    let url = d.redirect_url(&request, "/p").await.unwrap().unwrap();
    let expires: u64 = url
        .split('&')
        .find_map(|kv| kv.strip_prefix("X-Amz-Expires="))
        .or_else(|| {
            url.split('?')
                .nth(1)?
                .split('&')
                .find_map(|kv| kv.strip_prefix("X-Amz-Expires="))
        })
        .unwrap()
        .parse()
        .unwrap();
    assert!((800..=900).contains(&expires), "X-Amz-Expires={expires}");
    assert_eq!(
        seen.lock().unwrap().len(),
        2,
        "fetched again for the URL's lifetime"
    );
}

/// A fake STS answering AssumeRole with the embedded server's keys, valid
/// `lifetime` seconds from each reply, when the request is signed with
/// `signing_key` and carries the profile's options.
async fn assume_role_sts(
    server: &EmbeddedS3,
    signing_key: &'static str,
    lifetime: i64,
) -> (String, Seen) {
    let (ak, sk) = (
        server.access_key().to_owned(),
        s3_driver_kit::s3_server::DEFAULT_SECRET_KEY,
    );
    fake(move |_, _, q, headers| {
        let expiration = iso(lifetime);
        let auth = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        let signed = auth.starts_with("AWS4-HMAC-SHA256")
            && auth.contains(&format!("Credential={signing_key}/"))
            && auth.contains("/us-east-2/sts/aws4_request");
        if signed
            && q.contains("Action=AssumeRole")
            && q.contains("RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Fci")
            && q.contains("ExternalId=ext-42")
            && q.contains("DurationSeconds=1800")
        {
            (
                200,
                format!(
                    "<AssumeRoleResponse><AssumeRoleResult><Credentials><AccessKeyId>{ak}</AccessKeyId><SecretAccessKey>{sk}</SecretAccessKey><SessionToken>assumed</SessionToken><Expiration>{expiration}</Expiration></Credentials></AssumeRoleResult></AssumeRoleResponse>"
                ),
            )
        } else {
            (403, format!("<ErrorResponse><Error><Code>AccessDenied</Code><Message>{auth}</Message></Error></ErrorResponse>"))
        }
    })
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_profile_assumes_its_role_with_its_source_profiles_keys() {
    let server = EmbeddedS3::start_temp().await.unwrap();
    // Usable 3 s past the 5-minute refresh margin.
    let (sts, seen) = assume_role_sts(&server, "AKIASOURCEPROFILE", 303).await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config");
    let credentials = dir.path().join("credentials");
    std::fs::write(
        &config,
        "[profile ci]\nrole_arn = arn:aws:iam::123456789012:role/ci\nsource_profile = base\nexternal_id = ext-42\nduration_seconds = 1800\nregion = us-east-2\n\n[profile proc]\ncredential_process = /usr/local/bin/creds\n\n[profile stranger]\nrole_arn = arn:aws:iam::123456789012:role/ci\nsource_profile = other\nexternal_id = ext-42\nduration_seconds = 1800\nregion = us-east-2\n",
    )
    .unwrap();
    std::fs::write(
        &credentials,
        "[base]\naws_access_key_id = AKIASOURCEPROFILE\naws_secret_access_key = source-secret\n\n[other]\naws_access_key_id = AKIAOTHER\naws_secret_access_key = other-secret\n",
    )
    .unwrap();
    let files = |profile: &str| {
        env(&[
            ("AWS_CONFIG_FILE", config.to_str().unwrap()),
            ("AWS_SHARED_CREDENTIALS_FILE", credentials.to_str().unwrap()),
            ("AWS_PROFILE", profile),
            ("AWS_ENDPOINT_URL_STS", &sts),
        ])
    };
    // The host grants the files' directory; nothing else is readable.
    let d = open_env(&keyless(&server), &files("ci")).await.unwrap();
    d.put_content("/role", b"assumed").await.unwrap();
    assert_eq!(d.get_content("/role").await.unwrap(), b"assumed");
    assert_eq!(seen.lock().unwrap().len(), 1, "one AssumeRole, then cached");
    // Past the margin the role is assumed again.
    tokio::time::sleep(std::time::Duration::from_secs(4)).await;
    assert_eq!(d.get_content("/role").await.unwrap(), b"assumed");
    assert_eq!(seen.lock().unwrap().len(), 2, "refreshed once near expiry");
    // STS refuses a role whose source keys it does not trust.
    let d = open_env(&keyless(&server), &files("stranger"))
        .await
        .unwrap();
    match d.get_content("/role").await {
        Err(CallError::Driver(DriverError::AccessDenied(b))) => {
            assert_eq!(
                (b.status, b.operation.as_str()),
                (403, "credentials (assume role)")
            );
        }
        other => panic!("expected access-denied, got {other:?}"),
    }
    // credential_process cannot run in the sandbox: refused at open, by name.
    match open_env(&keyless(&server), &files("proc")).await {
        Err(CallError::Driver(DriverError::InvalidConfig(m))) => {
            assert!(
                m.contains("credential_process") && m.contains("proc"),
                "{m}"
            )
        }
        other => panic!("expected invalid-config, got {:?}", other.map(|_| ())),
    }
}

/// One driver, sixteen instances under load: temporary credentials (from
/// the container endpoint) and the CloudFront IP ranges are each fetched
/// once per refresh for the whole driver, not once per instance.
#[tokio::test(flavor = "multi_thread")]
async fn sixteen_instances_fetch_credentials_and_ip_ranges_once_per_refresh() {
    // How long both values stay usable: credentials past the 5-minute
    // refresh margin, the ranges by `updatefrequency`.
    const LIFETIME: u64 = 6;
    const INSTANCES: usize = 16;
    let server = EmbeddedS3::start_temp().await.unwrap();
    let (ak, sk) = (
        server.access_key().to_owned(),
        s3_driver_kit::s3_server::DEFAULT_SECRET_KEY,
    );
    let (endpoint, credential_fetches) = fake(move |_, _, _, _| {
        // The expiry is counted from each fetch.
        let expiration = iso(300 + LIFETIME as i64);
        let body = format!(
            r#"{{"AccessKeyId":"{ak}","SecretAccessKey":"{sk}","Token":"t","Expiration":"{expiration}"}}"#
        );
        (200, body)
    })
    .await;
    let (ranges_url, range_fetches) = fake(|_, _, _, _| {
        (
            200,
            r#"{"prefixes":[{"ip_prefix":"192.168.0.0/24","region":"us-east-1"}],"ipv6_prefixes":[]}"#
                .into(),
        )
    })
    .await;
    let key = format!(
        "{}/../../testdata/cloudfront/cloudfront-pkcs1.pem",
        env!("CARGO_MANIFEST_DIR")
    );
    let option = |k: &str, v: &str| s3_driver_host::Parameter {
        key: k.into(),
        value: text(v),
    };
    let middleware = vec![s3_driver_host::Middleware {
        name: "cloudfront".into(),
        options: vec![
            option("baseurl", "d111111abcdef8.cloudfront.net"),
            option("privatekey", &key),
            option("keypairid", "K2JCJMDEHXQW5F"),
            option("ipfilteredby", "aws"),
            option("iprangesurl", &format!("{ranges_url}/ip-ranges.json")),
            option("updatefrequency", &format!("{LIFETIME}s")),
        ],
    }];
    let vars = env(&[(
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        &format!("{endpoint}/v1/credentials"),
    )]);
    let params = keyless(&server);
    let allow = s3_driver_suite::loopback();
    let grants = Grants {
        env: vars.clone(),
        ..Grants::default()
    };
    let limits = s3_driver_host::Limits {
        max_instances: INSTANCES,
        ..Default::default()
    };
    let d = Driver::open(
        &RUNTIME,
        OpenOptions::new(&params)
            .middleware(&middleware)
            .policy(OutgoingPolicy::new(allow))
            .grants(grants.clone())
            .limits(limits),
    )
    .await
    .unwrap();
    // 64 calls at once: each writes (credentials) and asks for a redirect
    // (the IP filter), so every instance needs both values.
    let wave = |round: u32| {
        let d = d.clone();
        async move {
            let calls = (0..64).map(|i| {
                let d = d.clone();
                async move {
                    let path = format!("/shared/{round}/{i}");
                    d.put_content(&path, b"x").await.unwrap();
                    let outside = s3_driver_host::RedirectRequest {
                        method: "GET".into(),
                        remote_addr: "10.0.0.1".into(),
                        forwarded_for: None,
                        real_ip: None,
                    };
                    let url = d.redirect_url(&outside, &path).await.unwrap().unwrap();
                    assert!(url.contains("cloudfront.net"), "{url}");
                }
            });
            futures::future::join_all(calls).await;
        }
    };
    let fetches = || {
        (
            credential_fetches.lock().unwrap().len(),
            range_fetches.lock().unwrap().len(),
        )
    };
    wave(0).await;
    assert_eq!(d.metrics().instances_created as usize, INSTANCES);
    assert_eq!(fetches(), (1, 1), "(credential, IP-range) fetches");
    // Both values expire; the next load refreshes each once.
    tokio::time::sleep(std::time::Duration::from_secs(LIFETIME + 1)).await;
    wave(1).await;
    assert_eq!(fetches(), (2, 2), "(credential, IP-range) fetches");
}

/// Every fetched source types its failures the same way: a closed port is
/// `network`, a reply that is not the wire format is `malformed-response`
/// naming the source, for web identity, the instance metadata service and
/// a profile's assumed role (the container endpoint has its own test).
#[tokio::test(flavor = "multi_thread")]
async fn every_source_types_an_unreachable_endpoint_and_a_malformed_reply() {
    let server = EmbeddedS3::start_temp().await.unwrap();
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://127.0.0.1:{}", l.local_addr().unwrap().port())
    };
    let (garbage, _) = fake(|_, _, _, _| (200, "<html>captive portal</html>".into())).await;
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, "web-identity-token").unwrap();
    let config = dir.path().join("config");
    std::fs::write(
        &config,
        "[profile role]\nrole_arn = arn:aws:iam::123456789012:role/ci\nsource_profile = base\n",
    )
    .unwrap();
    let credentials = dir.path().join("credentials");
    std::fs::write(
        &credentials,
        "[base]\naws_access_key_id = AKIABASE\naws_secret_access_key = base-secret\n",
    )
    .unwrap();
    let sources = |endpoint: &str| {
        [
            ("web identity", web_identity_env(&token_file, endpoint)),
            (
                "instance metadata",
                env(&[("AWS_EC2_METADATA_SERVICE_ENDPOINT", endpoint)]),
            ),
            (
                "assume role",
                env(&[
                    ("AWS_CONFIG_FILE", config.to_str().unwrap()),
                    ("AWS_SHARED_CREDENTIALS_FILE", credentials.to_str().unwrap()),
                    ("AWS_PROFILE", "role"),
                    ("AWS_ENDPOINT_URL_STS", endpoint),
                ]),
            ),
        ]
    };
    for (source, vars) in sources(&closed) {
        let d = open_env(&keyless(&server), &vars).await.unwrap();
        match d.get_content("/x").await {
            Err(CallError::Driver(DriverError::Network(_))) => {}
            other => panic!("{source} unreachable: expected network, got {other:?}"),
        }
    }
    for (source, vars) in sources(&garbage) {
        let d = open_env(&keyless(&server), &vars).await.unwrap();
        match d.get_content("/x").await {
            Err(CallError::Driver(DriverError::MalformedResponse(m))) => {
                assert!(m.contains(&format!("credentials ({source})")), "{m}")
            }
            other => panic!("{source} malformed: expected malformed-response, got {other:?}"),
        }
    }
}

/// IMDSv2 credentials are fetched again once inside the refresh margin,
/// with a fresh session token; a token the service refuses is access-denied.
#[tokio::test(flavor = "multi_thread")]
async fn imds_credentials_refresh_near_expiry_and_a_refused_token_is_access_denied() {
    let server = EmbeddedS3::start_temp().await.unwrap();
    let refuse = Arc::new(std::sync::atomic::AtomicBool::new(false));
    // Usable 3 s past the 5-minute margin, counted from each fetch.
    let (imds, seen) = fake_imds(&server, "node", 303, refuse.clone()).await;
    let fetches = || {
        seen.lock()
            .unwrap()
            .iter()
            .filter(|(_, p, _, _)| p.ends_with("/node"))
            .count()
    };
    let d = open_env(
        &keyless(&server),
        &env(&[("AWS_EC2_METADATA_SERVICE_ENDPOINT", &imds)]),
    )
    .await
    .unwrap();
    d.put_content("/imds", b"x").await.unwrap();
    d.get_content("/imds").await.unwrap();
    assert_eq!(fetches(), 1, "cached while usable");
    tokio::time::sleep(std::time::Duration::from_secs(4)).await;
    d.get_content("/imds").await.unwrap();
    assert_eq!(fetches(), 2, "fetched again inside the margin");
    refuse.store(true, std::sync::atomic::Ordering::SeqCst);
    tokio::time::sleep(std::time::Duration::from_secs(4)).await;
    match d.get_content("/imds").await {
        Err(CallError::Driver(DriverError::AccessDenied(b))) => {
            assert_eq!(b.status, 401, "{b:?}");
        }
        other => panic!("expected access-denied, got {other:?}"),
    }
}
