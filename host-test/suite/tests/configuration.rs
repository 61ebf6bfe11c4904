//! Configuration through the component and the CLI: malformed `storage: s3:`
//! blocks give `invalid-config` naming the parameter (the CLI exits 2 with
//! that message), and the endpoint options shape the URLs.

use s3_driver_suite as common;

use common::*;
use s3_driver_host::{
    Allowlist, CallError, ConfigValue, Driver, DriverError, OutgoingPolicy, RedirectRequest,
};

fn base() -> Vec<(String, ConfigValue)> {
    vec![
        ("accesskey".into(), text("AK")),
        ("secretkey".into(), text("SECRET-MARKER-7f3a")),
        ("region".into(), text("us-east-1")),
        ("bucket".into(), text("registry")),
    ]
}

/// (parameter, value, text the message must contain).
fn malformed() -> Vec<(&'static str, ConfigValue, &'static str)> {
    use ConfigValue::{Boolean, Float, Integer, TextList};
    vec![
        (
            "chunksize",
            Integer(1024),
            "the chunksize 1024 parameter should be a number between 5242880 and 5368709120",
        ),
        (
            "chunksize",
            Integer(6 << 30),
            "the chunksize 6442450944 parameter should be a number between",
        ),
        (
            "chunksize",
            text("ten megs"),
            "chunksize parameter must be an integer, ten megs invalid",
        ),
        (
            "chunksize",
            text("10MB"),
            "chunksize parameter must be an integer, 10MB invalid",
        ),
        (
            "chunksize",
            Float(5242880.5),
            "chunksize parameter must be an integer",
        ),
        (
            "chunksize",
            Boolean(true),
            "chunksize parameter must be an integer",
        ),
        (
            "chunksize",
            text("-5242880"),
            "the chunksize -5242880 parameter should be a number between",
        ),
        (
            "multipartcopychunksize",
            Integer(1),
            "multipartcopychunksize 1 parameter should be a number between 5242880",
        ),
        (
            "multipartcopymaxconcurrency",
            Integer(0),
            "multipartcopymaxconcurrency 0 parameter should be a number between 1",
        ),
        (
            "multipartcopythresholdsize",
            Integer(-1),
            "multipartcopythresholdsize -1 parameter should be a number between 0",
        ),
        (
            "multipartcopythresholdsize",
            Integer(6 << 30),
            "multipartcopythresholdsize 6442450944",
        ),
        (
            "encrypt",
            text("yes"),
            "the encrypt parameter should be a boolean",
        ),
        (
            "encrypt",
            Integer(1),
            "the encrypt parameter should be a boolean",
        ),
        (
            "secure",
            text("maybe"),
            "the secure parameter should be a boolean",
        ),
        (
            "skipverify",
            text("nope"),
            "the skipverify parameter should be a boolean",
        ),
        (
            "v4auth",
            text("v2"),
            "the v4auth parameter should be a boolean",
        ),
        (
            "forcepathstyle",
            Float(1.0),
            "the forcepathstyle parameter should be a boolean",
        ),
        (
            "usedualstack",
            text("on"),
            "the usedualstack parameter should be a boolean",
        ),
        (
            "accelerate",
            text("fast"),
            "the accelerate parameter should be a boolean",
        ),
        (
            "usefipsendpoint",
            text("fips"),
            "the usefipsendpoint parameter should be a boolean",
        ),
        (
            "storageclass",
            text("COLD"),
            "the storageclass parameter must be one of [NONE STANDARD REDUCED_REDUNDANCY",
        ),
        ("storageclass", text("GLACIER"), "GLACIER invalid"),
        (
            "objectacl",
            text("open"),
            "invalid value for objectacl parameter: open",
        ),
        ("region", text("moon-1"), "invalid region provided: moon-1"),
        ("region", text(""), "no region parameter provided"),
        ("bucket", text(""), "no bucket parameter provided"),
        (
            "bucket",
            TextList(vec!["a".into()]),
            "the bucket parameter should be a string",
        ),
        (
            "v4auth",
            Boolean(false),
            "on Amazon S3 this storage driver can only be used with v4 authentication",
        ),
        (
            "regionendpoint",
            text("ftp://minio"),
            "regionendpoint must use http or https",
        ),
        (
            "regionendpoint",
            text("http://minio:9000/base"),
            "regionendpoint must be a scheme and host without a path",
        ),
        (
            "redirectendpoint",
            text("cdn.example"),
            "no scheme specified for redirectendpoint",
        ),
        (
            "redirectendpoint",
            text("https://cdn.example/base"),
            "redirectendpoint cannot contain a base path: /base",
        ),
        (
            "redirectendpoint",
            text("https://cdn.example?x=1"),
            "redirectendpoint cannot contain query parameters",
        ),
        (
            "redirectendpoint",
            text("https://"),
            "no host specified for redirectendpoint",
        ),
    ]
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_configurations_are_invalid_config_naming_the_parameter() {
    let cases = malformed();
    assert!(cases.len() >= 30);
    for (key, value, want) in cases {
        let mut params = base();
        params.retain(|(k, _)| k != key);
        params.push((key.into(), value.clone()));
        match Driver::open(
            &RUNTIME,
            &params,
            OutgoingPolicy::new(Allowlist::new()),
            &[],
        )
        .await
        {
            Err(CallError::Driver(DriverError::InvalidConfig(m))) => {
                assert!(m.contains(want), "{key}={value:?}: {m:?} lacks {want:?}");
                assert!(m.contains(key), "{key}: the message {m:?} does not name it");
                assert!(!m.contains("SECRET-MARKER"), "a secret in {m:?}");
            }
            other => panic!(
                "{key}={value:?}: expected invalid-config, got {:?}",
                other.map(|_| ())
            ),
        }
    }
    // The same driver opens once the bad value is gone; no request was needed.
    Driver::open(
        &RUNTIME,
        &base(),
        OutgoingPolicy::new(Allowlist::new()),
        &[],
    )
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn redirectendpoint_replaces_scheme_and_host_of_presigned_urls_only() {
    let (d, s) = driver_with(&[("redirectendpoint", text("https://cdn.example:8443"))]).await;
    d.put_content("/r", b"x").await.unwrap();
    let req = RedirectRequest {
        method: "GET".into(),
        remote_addr: "10.0.0.1".into(),
        forwarded_for: None,
        real_ip: None,
    };
    let url = d.redirect_url(&req, "/r").await.unwrap().unwrap();
    assert!(
        url.starts_with("https://cdn.example:8443/registry/r?"),
        "{url}"
    );
    assert!(url.contains("X-Amz-SignedHeaders=host"));
    // Requests themselves still go to the endpoint.
    assert_eq!(d.get_content("/r").await.unwrap(), b"x");
    assert!(s.objects().iter().any(|(k, _)| k == "r"));
    d.delete("/r").await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn session_tokens_are_signed_in_headers_and_presigned_queries() {
    let (_d, s) = driver().await;
    let mut params = s.params();
    params.push(("sessiontoken".into(), text("token-from-config")));
    let d = open_params(&params).await;
    // s3s accepts the signed x-amz-security-token header.
    d.put_content("/t", b"with token").await.unwrap();
    let req = RedirectRequest {
        method: "GET".into(),
        remote_addr: "10.0.0.1".into(),
        forwarded_for: None,
        real_ip: None,
    };
    let url = d.redirect_url(&req, "/t").await.unwrap().unwrap();
    assert!(
        url.contains("X-Amz-Security-Token=token-from-config"),
        "{url}"
    );
    d.delete("/t").await.unwrap();
}
