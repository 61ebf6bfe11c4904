//! Distribution v3's `redirect` and `rewrite` storage middlewares through
//! the component, in `config.yml` order (each wraps the ones before it):
//! URLs compared with the reference's rules, bad options refused by name.

use s3_driver_suite as common;

use common::*;
use s3_driver_host::{
    CallError, ConfigValue, Driver, DriverError, Middleware, OpenOptions, OutgoingPolicy,
    Parameter, RedirectRequest,
};
use s3_driver_kit::EmbeddedS3;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn entry(name: &str, options: &[(&str, &str)]) -> Middleware {
    Middleware {
        name: name.into(),
        options: options
            .iter()
            .map(|(k, v)| Parameter {
                key: (*k).into(),
                value: ConfigValue::Text((*v).into()),
            })
            .collect(),
    }
}

fn cloudfront() -> Middleware {
    let key = std::fs::read_to_string(format!(
        "{ROOT}/../../testdata/cloudfront/cloudfront-pkcs1.pem"
    ))
    .unwrap();
    entry(
        "cloudfront",
        &[
            ("baseurl", "https://d111111abcdef8.cloudfront.net/"),
            ("privatekey", &key),
            ("keypairid", "K2JCJMDEHXQW5F"),
        ],
    )
}

async fn open(server: &EmbeddedS3, middleware: Vec<Middleware>) -> Result<Driver, CallError> {
    let params = server.params();
    let policy = OutgoingPolicy::new(s3_driver_suite::loopback());
    Driver::open(
        &RUNTIME,
        OpenOptions::new(&params)
            .middleware(&middleware)
            .policy(policy),
    )
    .await
}

fn get() -> RedirectRequest {
    RedirectRequest {
        method: "GET".into(),
        remote_addr: "192.0.2.1:5000".into(),
        forwarded_for: None,
        real_ip: None,
    }
}

async fn url(d: &Driver, path: &str) -> String {
    d.redirect_url(&get(), path)
        .await
        .unwrap()
        .expect("a redirect")
}

#[tokio::test(flavor = "multi_thread")]
async fn redirect_answers_with_its_base_url_and_the_path() {
    let server = EmbeddedS3::start_temp().await.unwrap();
    let d = open(
        &server,
        vec![entry(
            "redirect",
            &[("baseurl", "https://example.com/path/")],
        )],
    )
    .await
    .unwrap();
    assert_eq!(
        url(&d, "/morty/data").await,
        "https://example.com/path/morty/data"
    );
    let post = RedirectRequest {
        method: "POST".into(),
        ..get()
    };
    assert_eq!(
        d.redirect_url(&post, "/a").await.unwrap().as_deref(),
        Some("https://example.com/path/a"),
        "the reference's redirect middleware ignores the method"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn rewrite_edits_the_url_of_the_layers_inside_it() {
    let server = EmbeddedS3::start_temp().await.unwrap();
    // Over the driver's presigned URL: scheme and host replaced, the
    // signature and expiry kept.
    let plain = open(&server, vec![]).await.unwrap();
    let presigned = url(&plain, "/docker/x").await;
    let rewrite = entry(
        "rewrite",
        &[("scheme", "https"), ("host", "cdn.example.com")],
    );
    let d = open(&server, vec![rewrite.clone()]).await.unwrap();
    let rewritten = url(&d, "/docker/x").await;
    let query = |u: &str| {
        u.split_once('?')
            .unwrap()
            .1
            .split('&')
            .filter(|p| !p.starts_with("X-Amz-Date") && !p.starts_with("X-Amz-Signature"))
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    assert!(
        rewritten.starts_with("https://cdn.example.com/"),
        "{rewritten}"
    );
    assert_eq!(query(&rewritten), query(&presigned));
    // Over CloudFront's signed URL, with a prefix trimmed.
    let trim = entry(
        "rewrite",
        &[("host", "edge.example.com"), ("trimpathprefix", "/docker")],
    );
    let d = open(&server, vec![cloudfront(), trim]).await.unwrap();
    let u = url(&d, "/docker/registry/v2/blob").await;
    assert!(
        u.starts_with("https://edge.example.com/registry/v2/blob?Expires="),
        "{u}"
    );
    // Order matters: a rewrite listed first is inside CloudFront, which
    // answers without asking it.
    let d = open(&server, vec![rewrite, cloudfront()]).await.unwrap();
    assert!(
        url(&d, "/docker/y")
            .await
            .starts_with("https://d111111abcdef8.cloudfront.net/docker/y?")
    );
    // A rewrite over no URL (a method S3 does not redirect) gives none.
    let d = open(&server, vec![entry("rewrite", &[("host", "h")])])
        .await
        .unwrap();
    let delete = RedirectRequest {
        method: "DELETE".into(),
        ..get()
    };
    assert_eq!(d.redirect_url(&delete, "/a").await.unwrap(), None);
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_middleware_options_are_refused_with_the_references_messages() {
    let server = EmbeddedS3::start_temp().await.unwrap();
    let number = Middleware {
        name: "rewrite".into(),
        options: vec![Parameter {
            key: "scheme".into(),
            value: ConfigValue::Integer(1),
        }],
    };
    let cases = vec![
        (entry("redirect", &[]), "no baseurl provided"),
        (
            entry("redirect", &[("baseurl", "example.com")]),
            "no scheme specified for redirect baseurl",
        ),
        (
            entry("redirect", &[("baseurl", "https://")]),
            "no host specified for redirect baseurl",
        ),
        (number, "scheme must be a string"),
        (
            entry("fancy", &[]),
            "no storage middleware registered with name: fancy",
        ),
    ];
    for (m, want) in cases {
        match open(&server, vec![m]).await {
            Err(CallError::Driver(DriverError::InvalidConfig(msg))) => assert_eq!(msg, want),
            other => panic!("{want}: got {:?}", other.map(|_| ())),
        }
    }
}
