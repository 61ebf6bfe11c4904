//! Secrets never leave: with marker values for the secret key, the session
//! token and the CloudFront private key, every operation runs (successes,
//! refusals, injected faults, bad configurations), and everything a caller or
//! an operator can see is scanned: errors (Display and Debug), warnings,
//! `Debug` of the driver, metrics, the host's log lines and the guest's
//! stderr. `.ci/run` also scans the whole test output for the servers' secret
//! keys.

use s3_driver_suite as common;

use common::{RUNTIME, text};
use s3_driver_host::{
    CallError, ConfigValue, Driver, Fault, FaultRule, Grants, Middleware, OpenOptions,
    OutgoingPolicy, Parameter, RedirectRequest,
};
use s3_driver_kit::EmbeddedS3;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;

const SECRET: &str = "SECRET-MARKER-s3cr3t/k3y+wJalrXUtnFEMI";
const WRONG_SECRET: &str = "SECRET-MARKER-wrong/k3y+bPxRfiCYEXAMPLE";
const TOKEN: &str = "SECRET-MARKER-session-token-FwoGZXIvYXdzEJr";

fn private_key() -> String {
    std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../testdata/cloudfront/cloudfront-pkcs1.pem"
    ))
    .unwrap()
}

/// Every line of the private key's body is a marker of its own.
fn markers() -> Vec<String> {
    let mut m = vec![SECRET.to_owned(), WRONG_SECRET.to_owned(), TOKEN.to_owned()];
    m.extend(
        private_key()
            .lines()
            .filter(|l| !l.starts_with("-----") && l.len() > 16)
            .map(str::to_owned),
    );
    m
}

/// `storage: s3:` parameters.
type Params = Vec<(String, ConfigValue)>;

fn note(seen: &mut Vec<String>, e: &CallError) {
    seen.push(e.to_string());
    seen.push(format!("{e:?}"));
}

fn cloudfront(key: &str, extra: &[(&str, &str)]) -> Middleware {
    let mut options = vec![
        Parameter {
            key: "baseurl".into(),
            value: text("https://d111111abcdef8.cloudfront.net/"),
        },
        Parameter {
            key: "privatekey".into(),
            value: text(key),
        },
        Parameter {
            key: "keypairid".into(),
            value: text("K2JCJMDEHXQW5F"),
        },
    ];
    options.extend(extra.iter().map(|(k, v)| Parameter {
        key: (*k).into(),
        value: text(v),
    }));
    Middleware {
        name: "cloudfront".into(),
        options,
    }
}

/// Successes of every kind.
async fn successes(d: &Driver, seen: &mut Vec<String>) {
    d.put_content("/s/a", b"content").await.unwrap();
    d.get_content("/s/a").await.unwrap();
    d.stat("/s/a").await.unwrap();
    d.list("/s").await.unwrap();
    d.walk_all("/", None).await.unwrap();
    let mut w = d.writer("/s/w", false).await.unwrap();
    w.write(b"abc").await.unwrap();
    w.commit().await.unwrap();
    seen.push(format!("{w:?}"));
    d.move_("/s/w", "/s/moved").await.unwrap();
    let request = RedirectRequest {
        method: "GET".into(),
        remote_addr: "192.0.2.7".into(),
        forwarded_for: None,
        real_ip: None,
    };
    let url = d.redirect_url(&request, "/s/a").await.unwrap().unwrap();
    assert!(url.contains("Signature="), "{url}");
}

/// Refusals and injected faults.
async fn refusals_and_faults(d: &Driver, seen: &mut Vec<String>) {
    for (fault, path) in [
        (Fault::Refuse, "/s/a"),
        (
            Fault::Status {
                status: 503,
                code: "SlowDown".into(),
            },
            "/s/a",
        ),
        (Fault::TruncateResponse(3), "/s/a"),
    ] {
        d.policy().inject(FaultRule::every(fault));
        note(seen, &d.get_content(path).await.unwrap_err());
        if let Err(e) = d.put_content(path, b"x").await {
            note(seen, &e);
        }
        d.policy().clear_faults();
    }
    note(seen, &d.get_content("/s/missing").await.unwrap_err());
    note(seen, &d.reader("/s/a", -1).await.unwrap_err());
}

/// The wrong secret, with and without the token.
async fn wrong_secrets(server: &EmbeddedS3, grants: &Grants, seen: &mut Vec<String>) {
    for with_token in [false, true] {
        let mut wrong = server.params();
        wrong.retain(|(k, _)| k != "secretkey");
        wrong.push(("secretkey".into(), text(WRONG_SECRET)));
        if with_token {
            wrong.push(("sessiontoken".into(), text(TOKEN)));
        }
        let policy = OutgoingPolicy::new(s3_driver_suite::loopback());
        let bad = Driver::open(
            &RUNTIME,
            OpenOptions::new(&wrong)
                .policy(policy)
                .grants(grants.clone()),
        )
        .await
        .unwrap();
        note(seen, &bad.put_content("/s/x", b"x").await.unwrap_err());
        note(seen, &bad.stat("/s/a").await.unwrap_err());
        note(seen, &bad.list("/s").await.unwrap_err());
        seen.push(bad.metrics().to_prometheus(&[]));
    }
}

/// Configurations refused while secrets sit next to the bad value.
async fn refused_configurations(
    params: &Params,
    key: &str,
    grants: &Grants,
    seen: &mut Vec<String>,
) {
    let bad_configs: Vec<(Params, Vec<Middleware>)> = vec![
        (
            [params.to_vec(), vec![("chunksize".into(), text("12"))]].concat(),
            vec![],
        ),
        (
            vec![
                ("accesskey".into(), text("AKIASECRETSTEST")),
                ("secretkey".into(), text(SECRET)),
                ("sessiontoken".into(), text(TOKEN)),
                ("region".into(), text("eu-central-1")),
                ("bucket".into(), text("registry")),
                ("v4auth".into(), ConfigValue::Boolean(false)),
            ],
            vec![],
        ),
        (
            params.to_vec(),
            vec![cloudfront(key, &[("duration", "soon")])],
        ),
        (
            params.to_vec(),
            vec![cloudfront(
                &key.replace("MIIE", "MIIX"),
                &[("keypairid", "")],
            )],
        ),
        (
            params.to_vec(),
            vec![cloudfront(
                &format!(
                    "-----BEGIN RSA PRIVATE KEY-----\n{SECRET}\n-----END RSA PRIVATE KEY-----\n"
                ),
                &[],
            )],
        ),
    ];
    for (p, m) in bad_configs {
        let policy = OutgoingPolicy::new(s3_driver_suite::loopback());
        match Driver::open(
            &RUNTIME,
            OpenOptions::new(&p)
                .middleware(&m)
                .policy(policy)
                .grants(grants.clone()),
        )
        .await
        {
            Err(e) => note(seen, &e),
            Ok(_) => panic!("a bad configuration opened: {m:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn no_output_carries_a_secret() {
    // The host's own lines and the component's (routed by the host).
    let (log, _guard) = common::capture_logs("s3_driver_host=trace,s3_driver::guest=trace");

    let dir = tempfile::tempdir().unwrap();
    let server = EmbeddedS3::start(dir.path(), "AKIASECRETSTEST", SECRET, "registry")
        .await
        .unwrap();
    let stderr = MemoryOutputPipe::new(1 << 20);
    let grants = Grants {
        guest_stderr: Some(stderr.clone()),
        ..Grants::default()
    };
    let mut seen: Vec<String> = Vec::new();

    let mut params = server.params();
    params.push(("sessiontoken".into(), text(TOKEN)));
    // A line per request: every one is scanned too.
    params.push(("loglevel".into(), text("debug")));
    let policy = OutgoingPolicy::new(s3_driver_suite::loopback());
    let key = private_key();
    // A CloudFront filter whose ranges cannot be fetched: a warning on open
    // and a line on the guest's stderr at each refresh.
    let middleware = [cloudfront(
        &key,
        &[
            ("ipfilteredby", "aws"),
            ("iprangesurl", "http://127.0.0.1:9/ip-ranges.json"),
            ("updatefrequency", "1ms"),
        ],
    )];
    let d = Driver::open(
        &RUNTIME,
        OpenOptions::new(&params)
            .middleware(&middleware)
            .policy(policy)
            .grants(grants.clone()),
    )
    .await
    .unwrap();
    seen.extend(d.warnings().iter().cloned());
    seen.push(format!("{d:?}"));

    successes(&d, &mut seen).await;
    refusals_and_faults(&d, &mut seen).await;
    wrong_secrets(&server, &grants, &mut seen).await;
    refused_configurations(&params, &key, &grants, &mut seen).await;

    seen.push(d.metrics().to_prometheus(&[("driver", "secrets")]));
    seen.push(String::from_utf8_lossy(&stderr.contents()).into_owned());
    seen.push(log.text());
    let everything = seen.join("\n");
    assert!(
        everything.contains("access denied") && everything.contains("invalid configuration"),
        "the scan saw the refusals: {everything}"
    );
    assert!(
        everything.contains("storage call failed"),
        "the scan saw the host's log lines"
    );
    for m in markers() {
        assert!(
            !everything.contains(&m),
            "a secret leaked: {m:?} appears in:\n{everything}"
        );
    }
    println!(
        "secrets: scanned {} bytes of errors, warnings, Debug, metrics, host log and guest stderr",
        everything.len()
    );
}
