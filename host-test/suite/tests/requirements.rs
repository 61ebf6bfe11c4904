//! The host grants what the running component says it needs, version by
//! version: the two builds of the suite differ in one rule (the `b` build
//! bakes in a mirror of AWS's IP ranges, `S3_DRIVER_IP_RANGES_URL`), so a
//! CloudFront IP filter needs a different origin on each. A swap is asked
//! before it serves; an embedder's cap refuses a version that would widen
//! it, and the old version keeps serving.

use std::path::Path;

use s3_driver_host::{
    Allowlist, BUILT_COMPONENT, ConfigValue, Driver, Fault, FaultRule, Middleware, OpenOptions,
    OutgoingPolicy, Parameter, Runtime,
};
use s3_driver_kit::EmbeddedS3;
use s3_driver_suite::{BUILT_COMPONENT_B, loopback, text};

/// Where the `b` build fetches the IP ranges from (see the suite's build.rs).
const MIRROR: &str = "127.0.0.1:9";
const AWS_RANGES: &str = "ip-ranges.amazonaws.com:443";

fn key_file() -> String {
    format!(
        "{}/../../testdata/cloudfront/cloudfront-pkcs1.pem",
        env!("CARGO_MANIFEST_DIR")
    )
}

/// CloudFront with an IP filter and the default ranges URL; the key by path.
fn filtered_cloudfront() -> Middleware {
    let option = |k: &str, v: ConfigValue| Parameter {
        key: k.into(),
        value: v,
    };
    Middleware {
        name: "cloudfront".into(),
        options: vec![
            option("baseurl", text("https://d111111abcdef8.cloudfront.net/")),
            option("privatekey", text(&key_file())),
            option("keypairid", text("K2JCJMDEHXQW5F")),
            option("ipfilteredby", text("aws")),
        ],
    }
}

async fn open(runtime: &Runtime, server: &EmbeddedS3, policy: OutgoingPolicy) -> Driver {
    Driver::open(
        runtime,
        OpenOptions::new(&server.params())
            .middleware(&[filtered_cloudfront()])
            .policy(policy),
    )
    .await
    .unwrap()
}

fn authorities(d: &s3_driver_host::Requirements) -> Vec<String> {
    d.origins.iter().map(|o| o.authority()).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_swap_brings_its_own_egress_rules_and_the_host_follows() {
    let runtime = Runtime::from_file(Path::new(BUILT_COMPONENT)).unwrap();
    let server = EmbeddedS3::start_temp().await.unwrap();
    // The embedder allows anything, but no IP-ranges fetch leaves: the hook
    // refuses them (after the grant was checked, which is what this shows).
    let policy = OutgoingPolicy::new(Allowlist::any());
    policy.inject(FaultRule::every(Fault::Refuse).path_contains("ip-ranges"));
    let d = open(&runtime, &server, policy).await;

    let first = d.requirements().await.unwrap();
    let endpoint = server.endpoint().trim_start_matches("http://").to_owned();
    assert_eq!(authorities(&first), [endpoint.clone(), AWS_RANGES.into()]);
    assert_eq!(
        first
            .files
            .iter()
            .map(|(f, _)| f.as_str())
            .collect::<Vec<_>>(),
        [key_file()],
        "the key file is named, so its directory is granted"
    );
    assert!(first.variables.is_empty(), "static keys: no variable");
    let grant = first.allowlist();
    assert!(grant.allows(AWS_RANGES) && !grant.allows(MIRROR));

    let b = std::fs::read(BUILT_COMPONENT_B).unwrap();
    runtime.swap(&b).unwrap();
    d.put_content("/swapped", b"on b").await.unwrap();
    assert_eq!(d.component_version().await.unwrap(), "0.6.0+b");
    let second = d.requirements().await.unwrap();
    assert_eq!(authorities(&second), [endpoint, MIRROR.into()]);
    let grant = second.allowlist();
    assert!(grant.allows(MIRROR) && !grant.allows(AWS_RANGES));
    // Nothing either version sent was denied: each ran under its own grant.
    assert_eq!(d.http_stats().denied, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cap_refuses_a_widening_swap_and_the_old_version_keeps_serving() {
    let runtime = Runtime::from_file(Path::new(BUILT_COMPONENT_B)).unwrap();
    let server = EmbeddedS3::start_temp().await.unwrap();
    // Loopback only: the `b` build's mirror is inside it, AWS is not.
    let d = open(&runtime, &server, OutgoingPolicy::new(loopback())).await;
    d.put_content("/before", b"b serves").await.unwrap();

    let a = std::fs::read(BUILT_COMPONENT).unwrap();
    let e = runtime.swap(&a).unwrap_err();
    let why = format!("{e:#}");
    assert!(
        why.contains("refuses https://ip-ranges.amazonaws.com:443 (the CloudFront IP ranges)"),
        "{why}"
    );
    assert_eq!(runtime.current().version(), "0.6.0+b");
    assert_eq!(d.component_version().await.unwrap(), "0.6.0+b");
    assert_eq!(d.get_content("/before").await.unwrap(), b"b serves");
    d.put_content("/after", b"still b").await.unwrap();

    // A driver that no longer exists refuses nothing.
    drop(d);
    runtime.swap(&a).unwrap();
    assert_eq!(runtime.current().version(), "0.6.0");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_driver_opened_under_a_cap_that_refuses_its_needs_does_not_open() {
    let runtime = Runtime::from_file(Path::new(BUILT_COMPONENT)).unwrap();
    let server = EmbeddedS3::start_temp().await.unwrap();
    let e = Driver::open(
        &runtime,
        OpenOptions::new(&server.params())
            .middleware(&[filtered_cloudfront()])
            .policy(OutgoingPolicy::new(loopback())),
    )
    .await
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "invalid configuration: the host's egress policy refuses \
         https://ip-ranges.amazonaws.com:443 (the CloudFront IP ranges)"
    );
}
