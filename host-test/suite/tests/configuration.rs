//! Configuration through the component and the CLI: malformed `storage: s3:`
//! blocks give `invalid-config` naming the parameter (the CLI exits 2 with
//! that message), and the endpoint options shape the URLs.

use s3_driver_suite as common;

use common::*;
use s3_driver_host::{
    CallError, ConfigValue, Driver, DriverError, Middleware, OpenOptions, Parameter,
    RedirectRequest,
};
use s3_storage_driver::config::{KEYS, Key, KeySpec, Rule};

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
            OpenOptions::new(&params).policy(s3_driver_suite::sends_nothing()),
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
        OpenOptions::new(&base()).policy(s3_driver_suite::sends_nothing()),
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

/// A value each rule refuses, with text of the message it gives.
fn refused_value(key: &KeySpec) -> Option<(ConfigValue, &'static str)> {
    let list = ConfigValue::TextList(vec!["a".into(), "b".into()]);
    match key.rule {
        Rule::Text | Rule::Secret => Some((list, "should be a string")),
        Rule::Bool(_) => Some((text("maybe"), "should be a boolean")),
        Rule::Int { .. } => Some((text("lots"), "must be an integer")),
        Rule::Duration { .. } => Some((text("soon"), "must be a duration")),
        // The reference maps every unknown loglevel to "off" (a warning).
        Rule::Choice { .. } if key.key == Key::LogLevel => None,
        Rule::Choice { .. } => Some((text("no-such-choice"), "no-such-choice")),
    }
}

/// Every `storage: s3:` parameter in the key table, and every CloudFront
/// option, refuses a bad value at open with `invalid-config` naming it; no
/// request is needed (the policy allows nothing).
#[tokio::test(flavor = "multi_thread")]
async fn every_parameter_and_option_refuses_a_bad_value_by_name() {
    let open = |params: Vec<(String, ConfigValue)>, middleware: Vec<Middleware>| async move {
        Driver::open(
            &RUNTIME,
            OpenOptions::new(&params)
                .middleware(&middleware)
                .policy(s3_driver_suite::sends_nothing()),
        )
        .await
    };
    let mut checked = 0;
    for spec in KEYS {
        let Some((value, want)) = refused_value(spec) else {
            // loglevel: an unknown value opens, with a warning naming it.
            let mut params = base();
            params.push((spec.name.into(), text("verbose")));
            let d = open(params, vec![]).await.unwrap();
            assert!(d.warnings().iter().any(|w| w.contains(spec.name)));
            continue;
        };
        let mut params = base();
        params.retain(|(k, _)| k != spec.name);
        params.push((spec.name.into(), value.clone()));
        match open(params, vec![]).await {
            Err(CallError::Driver(DriverError::InvalidConfig(m))) => {
                assert!(
                    m.contains(want),
                    "{}={value:?}: {m:?} lacks {want:?}",
                    spec.name
                );
                assert!(
                    m.contains(spec.name),
                    "{}: {m:?} does not name it",
                    spec.name
                );
                assert!(!m.contains("SECRET-MARKER"), "a secret in {m:?}");
            }
            other => panic!("{}={value:?}: got {:?}", spec.name, other.map(|_| ())),
        }
        checked += 1;
    }
    let key = std::fs::read_to_string(format!(
        "{}/../../testdata/cloudfront/cloudfront-pkcs1.pem",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let good = [
        ("baseurl", text("https://d111111abcdef8.cloudfront.net/")),
        ("privatekey", text(&key)),
        ("keypairid", text("K2JCJMDEHXQW5F")),
    ];
    // A file that is not a key: its content must never reach a message.
    let not_a_key = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(not_a_key.path(), "SECRET-MARKER-not-a-key").unwrap();
    let not_a_key_path = not_a_key.path().to_string_lossy().into_owned();
    let bad: &[(&str, ConfigValue)] = &[
        ("privatekey", text(&not_a_key_path)),
        ("baseurl", ConfigValue::Integer(1)),
        (
            "privatekey",
            text("-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----"),
        ),
        ("privatekey", text("/no/such/dir/pk.pem")),
        ("keypairid", ConfigValue::Boolean(true)),
        ("duration", text("soon")),
        ("ipfilteredby", text("everyone")),
        ("awsregion", ConfigValue::Integer(3)),
        ("updatefrequency", text("often")),
        ("updatefrenquency", text("often")),
        ("iprangesurl", text("file:///etc/passwd")),
        ("hashalgorithm", text("MD5")),
    ];
    for (option, value) in bad {
        let mut options: Vec<Parameter> = good
            .iter()
            .filter(|(k, _)| k != option)
            .map(|(k, v)| Parameter {
                key: (*k).into(),
                value: v.clone(),
            })
            .collect();
        if *option == "awsregion" {
            options.push(Parameter {
                key: "ipfilteredby".into(),
                value: text("awsregion"),
            });
        }
        options.push(Parameter {
            key: (*option).into(),
            value: value.clone(),
        });
        let m = vec![Middleware {
            name: "cloudfront".into(),
            options,
        }];
        match open(base(), m).await {
            Err(CallError::Driver(DriverError::InvalidConfig(m))) => {
                assert!(
                    m.to_ascii_lowercase().contains(option),
                    "{option}: {m:?} does not name it"
                );
                assert!(!m.contains("PRIVATE KEY"), "key material in {m:?}");
                assert!(!m.contains("SECRET-MARKER"), "file content in {m:?}");
            }
            other => panic!("{option}={value:?}: got {:?}", other.map(|_| ())),
        }
        checked += 1;
    }
    let unknown = vec![Middleware {
        name: "redirect-all".into(),
        options: vec![],
    }];
    assert!(matches!(
        open(base(), unknown).await,
        Err(CallError::Driver(DriverError::InvalidConfig(m))) if m.contains("redirect-all")
    ));
    println!("configuration: {checked} bad parameters and options refused by name");
    assert!(checked >= 40, "{checked}");
}

/// `loglevel: debug` reports every request attempt through the host's log
/// (`tracing`, target `s3_driver::guest`, with the driver's name): method,
/// host, key, status, request id, attempt and latency, never a signature or
/// credential. `off` reports nothing.
#[tokio::test(flavor = "multi_thread")]
async fn loglevel_debug_reports_each_request_and_off_reports_none() {
    for (level, lines_per_request) in [("debug", 1), ("off", 0)] {
        let (log, guard) = capture_logs("s3_driver::guest=debug");
        let (d, server) = driver_with(&[("loglevel", text(level))]).await;
        d.put_content("/logged/blob", b"log me").await.unwrap();
        d.get_content("/logged/blob").await.unwrap();
        d.stat("/logged/blob").await.unwrap();
        d.delete("/logged").await.unwrap();
        drop(guard);
        let text = log.text();
        let lines: Vec<&str> = text
            .lines()
            .filter(|l| l.contains("s3_driver::guest"))
            .collect();
        let requests = d.http_stats().requests;
        assert_eq!(requests, 5, "put, get, head, list, delete");
        assert_eq!(
            lines.len() as u64,
            requests * lines_per_request,
            "loglevel {level}: {text}"
        );
        let m = d.metrics();
        assert_eq!(m.log_lines.debug, requests * lines_per_request);
        if level == "debug" {
            let put = lines
                .iter()
                .find(|l| l.contains(" PUT "))
                .expect("a PUT line");
            for part in [
                "driver=\"s3aws\"",
                server.endpoint().trim_start_matches("http://"),
                "/registry/logged/blob",
                "-> 200",
                "request-id ",
                "attempt 1",
                " ms",
            ] {
                assert!(put.contains(part), "{part:?} missing from {put}");
            }
            for secret in [
                "Signature",
                "AWS4-HMAC-SHA256",
                "Credential=",
                s3_driver_kit::s3_server::DEFAULT_SECRET_KEY,
            ] {
                assert!(!text.contains(secret), "{secret} in the log: {text}");
            }
        }
    }
}
