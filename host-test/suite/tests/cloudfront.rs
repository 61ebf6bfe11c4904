//! The CloudFront middleware through the component: signed URLs checked with
//! the public key (the policy rebuilt from the URL), a known key and time give
//! OpenSSL's URL, expiry, the AWS IP-range filter against a local ip-ranges
//! server, PKCS#1 and PKCS#8 keys read from a granted directory or inline, and
//! configuration errors.

use s3_driver_suite as common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use common::*;
use s3_driver_host::{
    CallError, ConfigValue, Driver, DriverError, Grants, Middleware, OpenOptions, OutgoingPolicy,
    Parameter, RedirectRequest,
};
use s3_driver_kit::EmbeddedS3;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn fixture(name: &str) -> String {
    format!("{ROOT}/../../testdata/cloudfront/{name}")
}

fn read_fixture(name: &str) -> String {
    std::fs::read_to_string(fixture(name)).unwrap()
}

/// A local stand-in for ip-ranges.amazonaws.com: serves what the test sets
/// and counts the fetches.
struct RangesServer {
    addr: std::net::SocketAddr,
    reply: Arc<Mutex<(u16, String)>>,
    hits: Arc<Mutex<u32>>,
}

impl RangesServer {
    async fn start(status: u16, json: &str) -> Self {
        let reply = Arc::new(Mutex::new((status, json.to_owned())));
        let hits = Arc::new(Mutex::new(0));
        let (r, h) = (reply.clone(), hits.clone());
        let addr = serve_http(move |_| {
            *h.lock().unwrap() += 1;
            r.lock().unwrap().clone()
        })
        .await;
        Self { addr, reply, hits }
    }

    fn url(&self) -> String {
        format!("http://{}/ip-ranges.json", self.addr)
    }

    fn hits(&self) -> u32 {
        *self.hits.lock().unwrap()
    }

    fn set(&self, status: u16, json: &str) {
        *self.reply.lock().unwrap() = (status, json.to_owned());
    }
}

const RANGES: &str = r#"{"syncToken":"1","createDate":"2026-11-26-00-00-00","prefixes":[
    {"ip_prefix":"192.168.0.0/24","region":"us-east-1","service":"AMAZON","network_border_group":"us-east-1"},
    {"ip_prefix":"9000","region":"us-east-1","service":"AMAZON","network_border_group":"us-east-1"},
    {"ip_prefix":"172.16.0.0/16","region":"eu-west-1","service":"EC2","network_border_group":"eu-west-1"}],
  "ipv6_prefixes":[{"ipv6_prefix":"ff00::/16","region":"us-east-1","service":"S3","network_border_group":"us-east-1"}]}"#;

fn cloudfront(options: &[(&str, ConfigValue)]) -> Middleware {
    Middleware {
        name: "cloudfront".into(),
        options: options
            .iter()
            .map(|(k, v)| Parameter {
                key: (*k).into(),
                value: v.clone(),
            })
            .collect(),
    }
}

fn base_options(key: ConfigValue) -> Vec<(&'static str, ConfigValue)> {
    vec![
        ("baseurl", text("d111111abcdef8.cloudfront.net")),
        ("privatekey", key),
        ("keypairid", text("K2JCJMDEHXQW5F")),
    ]
}

async fn open(
    server: &EmbeddedS3,
    extra_params: &[(&str, ConfigValue)],
    middleware: Vec<Middleware>,
    fixed_time: Option<SystemTime>,
) -> Result<Driver, CallError> {
    let mut params = server.params();
    params.extend(
        extra_params
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone())),
    );
    let policy = OutgoingPolicy::new(s3_driver_suite::loopback());
    let grants = Grants {
        fixed_time,
        ..Grants::default()
    };
    Driver::open(
        &RUNTIME,
        OpenOptions::new(&params)
            .middleware(&middleware)
            .policy(policy)
            .grants(grants.clone()),
    )
    .await
}

fn request(method: &str, remote: &str) -> RedirectRequest {
    RedirectRequest {
        method: method.into(),
        remote_addr: remote.into(),
        forwarded_for: None,
        real_ip: None,
    }
}

/// Checks a CloudFront URL as CloudFront would: rebuild the canned policy from
/// the URL and verify the signature with the public key.
fn verify(url: &str) -> (String, i64) {
    s3_driver_kit::cloudfront_url::verify(
        url,
        "K2JCJMDEHXQW5F",
        &read_fixture("cloudfront-public.pem"),
    )
}

fn at(seconds: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(seconds)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_known_key_and_time_give_the_known_url_for_every_method() {
    let server = EmbeddedS3::start_temp().await.unwrap();
    let path = "/docker/registry/v2/blobs/sha256/ab/abc/data";
    let want = read_fixture("known-url.txt");
    for key in [
        fixture("cloudfront-pkcs1.pem"),
        fixture("cloudfront-pkcs8.pem"),
    ] {
        let d = open(
            &server,
            &[("rootdirectory", text("/reg"))],
            vec![cloudfront(&base_options(text(&key)))],
            Some(at(1_800_000_000)),
        )
        .await
        .unwrap();
        for method in ["GET", "HEAD", "PUT", "DELETE"] {
            let url = d
                .redirect_url(&request(method, "203.0.113.9"), path)
                .await
                .unwrap();
            assert_eq!(url.as_deref(), Some(want.trim()), "{method} with {key}");
        }
        verify(want.trim());
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn inline_keys_durations_and_expiry() {
    let server = EmbeddedS3::start_temp().await.unwrap();
    let now = 1_900_000_000;
    for (duration, secs) in [(None, 1200), (Some("1h30m"), 5400), (Some("90s"), 90)] {
        let mut options = base_options(text(&read_fixture("cloudfront-pkcs8.pem")));
        if let Some(d) = duration {
            options.push(("duration", text(d)));
        }
        let d = open(&server, &[], vec![cloudfront(&options)], Some(at(now)))
            .await
            .unwrap();
        let url = d
            .redirect_url(&request("GET", "198.51.100.1"), "/a/b")
            .await
            .unwrap()
            .unwrap();
        let (resource, expires) = verify(&url);
        assert_eq!(resource, "https://d111111abcdef8.cloudfront.net/a/b");
        assert_eq!(expires, now as i64 + secs, "duration {duration:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn clients_inside_aws_get_s3_urls_others_cloudfront() {
    let server = EmbeddedS3::start_temp().await.unwrap();
    let ranges = RangesServer::start(200, RANGES).await;
    let mut options = base_options(text(&fixture("cloudfront-pkcs1.pem")));
    options.push(("ipfilteredby", text("aws")));
    options.push(("iprangesurl", text(&ranges.url())));
    let d = open(&server, &[], vec![cloudfront(&options)], None)
        .await
        .unwrap();
    assert_eq!(ranges.hits(), 1, "fetched once at open");
    assert!(d.warnings().is_empty(), "{:?}", d.warnings());
    let s3 = server.endpoint();
    let url = |r: RedirectRequest| {
        let d = d.clone();
        async move { d.redirect_url(&r, "/blob").await.unwrap() }
    };
    let inside = url(request("GET", "192.168.0.1:4242")).await.unwrap();
    assert!(
        inside.starts_with(&format!("{s3}/registry/blob?")),
        "{inside}"
    );
    assert!(inside.contains("X-Amz-Signature="));
    let v6 = url(request("HEAD", "[ff00::1]:4242")).await.unwrap();
    assert!(v6.starts_with(&s3), "{v6}");
    // Inside AWS the S3 rules apply: PUT is not redirected.
    assert_eq!(url(request("PUT", "192.168.0.1")).await, None);
    for outside in ["192.169.0.0", "10.0.0.1:80", "::1", ""] {
        let u = url(request("GET", outside)).await.unwrap();
        verify(&u);
    }
    // X-Forwarded-For's first entry wins, then X-Real-Ip, then the peer.
    let forwarded = RedirectRequest {
        forwarded_for: Some("192.168.0.7, 10.1.1.1".into()),
        ..request("GET", "10.0.0.1")
    };
    assert!(url(forwarded).await.unwrap().starts_with(&s3));
    let real_ip = RedirectRequest {
        forwarded_for: Some("not-an-ip".into()),
        real_ip: Some("192.168.0.8".into()),
        ..request("GET", "10.0.0.1")
    };
    assert!(url(real_ip).await.unwrap().starts_with(&s3));
    let spoof_ignored = RedirectRequest {
        forwarded_for: Some("10.1.1.1".into()),
        ..request("GET", "192.168.0.1")
    };
    verify(&url(spoof_ignored).await.unwrap());
    // The S3 URL really serves the object.
    d.put_content("/blob", b"via s3").await.unwrap();
    let raw = s3_driver_kit::raw::RawS3::from_params(&server.params()).unwrap();
    let r = raw.fetch("GET", &inside).await.unwrap();
    assert_eq!((r.status, &r.body[..]), (200, &b"via s3"[..]));
}

#[tokio::test(flavor = "multi_thread")]
async fn region_filter_keeps_only_listed_regions() {
    let server = EmbeddedS3::start_temp().await.unwrap();
    let ranges = RangesServer::start(200, RANGES).await;
    for (regions, inside_east, inside_west) in [
        (text("us-east-1"), true, false),
        (ConfigValue::TextList(vec!["EU-WEST-1".into()]), false, true),
        (text("us-east-1, eu-west-1"), true, true),
    ] {
        let mut options = base_options(text(&fixture("cloudfront-pkcs1.pem")));
        options.push(("ipfilteredby", text("awsregion")));
        options.push(("awsregion", regions.clone()));
        options.push(("iprangesurl", text(&ranges.url())));
        let d = open(&server, &[], vec![cloudfront(&options)], None)
            .await
            .unwrap();
        for (ip, want_s3) in [("192.168.0.9", inside_east), ("172.16.3.4", inside_west)] {
            let u = d
                .redirect_url(&request("GET", ip), "/x")
                .await
                .unwrap()
                .unwrap();
            assert_eq!(
                u.starts_with(&server.endpoint()),
                want_s3,
                "{regions:?} {ip}: {u}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_fetch_warns_and_keeps_the_last_good_list() {
    let server = EmbeddedS3::start_temp().await.unwrap();
    let ranges = RangesServer::start(500, "oops").await;
    let mut options = base_options(text(&fixture("cloudfront-pkcs1.pem")));
    options.push(("ipfilteredby", text("aws")));
    options.push(("iprangesurl", text(&ranges.url())));
    options.push(("updatefrequency", text("1s")));
    let d = open(&server, &[], vec![cloudfront(&options)], None)
        .await
        .unwrap();
    assert!(
        d.warnings()
            .iter()
            .any(|w| w.contains("failed to update AWS IP ranges")),
        "{:?}",
        d.warnings()
    );
    // No list yet: no filtering, everyone gets CloudFront.
    verify(
        &d.redirect_url(&request("GET", "192.168.0.1"), "/x")
            .await
            .unwrap()
            .unwrap(),
    );
    // The ranges become available; the next refresh picks them up.
    ranges.set(200, RANGES);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let u = d
        .redirect_url(&request("GET", "192.168.0.1"), "/x")
        .await
        .unwrap()
        .unwrap();
    assert!(u.starts_with(&server.endpoint()), "{u}");
    // A later failure keeps the last good list.
    ranges.set(503, "down");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let u = d
        .redirect_url(&request("GET", "192.168.0.1"), "/x")
        .await
        .unwrap()
        .unwrap();
    assert!(u.starts_with(&server.endpoint()), "{u}");
    assert!(ranges.hits() >= 3, "{} fetches", ranges.hits());
}

#[tokio::test(flavor = "multi_thread")]
async fn the_ranges_refresh_on_schedule_only() {
    let server = EmbeddedS3::start_temp().await.unwrap();
    let ranges = RangesServer::start(200, RANGES).await;
    let mut options = base_options(text(&fixture("cloudfront-pkcs1.pem")));
    options.push(("ipfilteredby", text("aws")));
    options.push(("iprangesurl", text(&ranges.url())));
    let d = open(&server, &[], vec![cloudfront(&options)], None)
        .await
        .unwrap();
    for _ in 0..5 {
        d.redirect_url(&request("GET", "192.168.0.1"), "/x")
            .await
            .unwrap();
    }
    assert_eq!(ranges.hits(), 1, "the default 12h frequency fetches once");
}

#[tokio::test(flavor = "multi_thread")]
async fn configuration_errors_are_invalid_config() {
    let server = EmbeddedS3::start_temp().await.unwrap();
    let key = text(&fixture("cloudfront-pkcs1.pem"));
    let cases: Vec<(Vec<(&str, ConfigValue)>, &str)> = vec![
        (vec![], "no baseurl provided"),
        (
            base_options(key.clone())
                .into_iter()
                .filter(|(k, _)| *k != "keypairid")
                .collect(),
            "no keypairid provided",
        ),
        (
            base_options(text("relative/key.pem")),
            "failed to read privatekey file: relative/key.pem",
        ),
        (
            base_options(text(&fixture("known-policy.json"))),
            "failed to decode private key",
        ),
        (
            [
                base_options(key.clone()),
                vec![("ipfilteredby", text("all"))],
            ]
            .concat(),
            "none|aws|awsregion",
        ),
        (
            [
                base_options(key.clone()),
                vec![("ipfilteredby", text("awsregion"))],
            ]
            .concat(),
            "awsRegion is not defined",
        ),
        (
            [
                base_options(key.clone()),
                vec![("duration", text("forever"))],
            ]
            .concat(),
            "invalid duration: forever",
        ),
    ];
    for (options, want) in cases {
        match open(&server, &[], vec![cloudfront(&options)], None).await {
            Err(CallError::Driver(DriverError::InvalidConfig(m))) => {
                assert!(m.contains(want), "{m:?} should contain {want:?}");
                assert!(!m.contains("PRIVATE KEY"), "key material in {m}");
            }
            other => panic!(
                "expected invalid-config ({want}), got {:?}",
                other.map(|_| ())
            ),
        }
    }
    let unknown = Middleware {
        name: "storagecache".into(),
        options: vec![],
    };
    match open(&server, &[], vec![unknown], None).await {
        Err(CallError::Driver(DriverError::InvalidConfig(m))) => {
            assert_eq!(
                m,
                "no storage middleware registered with name: storagecache"
            );
        }
        other => panic!("expected invalid-config, got {:?}", other.map(|_| ())),
    }
}
