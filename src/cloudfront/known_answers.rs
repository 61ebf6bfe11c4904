//! The middleware against answers computed independently (OpenSSL), and
//! every option error by name.

use super::*;
use crate::time::UtcDateTime;

const PKCS1: &str = include_str!("../../testdata/cloudfront/cloudfront-pkcs1.pem");
const PKCS8: &str = include_str!("../../testdata/cloudfront/cloudfront-pkcs8.pem");

fn options(key: &str, extra: &[(&str, &str)]) -> Result<CloudFrontOptions> {
    let mut items = vec![
        (
            "baseurl".to_owned(),
            Value::Text("d111111abcdef8.cloudfront.net".into()),
        ),
        ("privatekey".to_owned(), Value::Text(key.into())),
        ("keypairid".to_owned(), Value::Text("K2JCJMDEHXQW5F".into())),
    ];
    for (k, v) in extra {
        items.push(((*k).into(), Value::Text((*v).into())));
    }
    CloudFrontOptions::from_options(
        &items,
        |_| Err(std::io::ErrorKind::NotFound.into()),
        &mut Vec::new(),
    )
}

/// `known-url.txt` was produced by `openssl dgst -sha1 -sign` over the same
/// policy: an independent implementation agrees byte for byte.
#[test]
fn a_known_key_and_time_give_the_openssl_url() {
    let now = UtcDateTime {
        seconds: 1_800_000_000,
        nanos: 0,
    };
    let key = "reg/docker/registry/v2/blobs/sha256/ab/abc/data";
    for pem in [PKCS1, PKCS8] {
        let o = options(pem, &[]).unwrap();
        assert_eq!(o.base_url, "https://d111111abcdef8.cloudfront.net/");
        assert_eq!(
            o.signed_url(key, now).unwrap(),
            include_str!("../../testdata/cloudfront/known-url.txt").trim()
        );
    }
    let o = options(PKCS1, &[("hashalgorithm", "SHA256")]).unwrap();
    assert_eq!(
        o.signed_url(key, now).unwrap(),
        include_str!("../../testdata/cloudfront/known-url-sha256.txt").trim()
    );
    assert_eq!(
        canned_policy(
            &format!("https://d111111abcdef8.cloudfront.net/{key}"),
            1_800_001_200
        ),
        include_str!("../../testdata/cloudfront/known-policy.json")
    );
}

#[test]
fn every_option_error_is_named() {
    let err = |items: Vec<(&str, Value)>| {
        let items: Vec<(String, Value)> =
            items.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
        match CloudFrontOptions::from_options(
            &items,
            |_| Err(std::io::ErrorKind::NotFound.into()),
            &mut Vec::new(),
        ) {
            Err(Error::InvalidConfig(m)) => m,
            other => panic!("expected invalid-config, got {other:?}"),
        }
    };
    let t = |s: &str| Value::Text(s.into());
    let base = || {
        vec![
            ("baseurl", t("example.com")),
            ("privatekey", t(PKCS1)),
            ("keypairid", t("K")),
        ]
    };
    let with = |k: &'static str, v: Value| {
        let mut b = base();
        b.retain(|(key, _)| *key != k);
        b.push((k, v));
        b
    };
    let without = |k: &str| {
        base()
            .into_iter()
            .filter(|(key, _)| *key != k)
            .collect::<Vec<_>>()
    };
    assert_eq!(err(vec![]), "cloudfront: no baseurl provided");
    assert_eq!(
        err(without("privatekey")),
        "cloudfront: no privatekey provided"
    );
    assert_eq!(
        err(without("keypairid")),
        "cloudfront: no keypairid provided"
    );
    assert_eq!(
        err(with("baseurl", Value::Int(1))),
        "cloudfront: baseurl must be a string"
    );
    assert_eq!(
        err(with("baseurl", t("ftp://x"))),
        "cloudfront: invalid baseurl: ftp://x"
    );
    assert_eq!(
        err(with("keypairid", Value::Bool(true))),
        "cloudfront: keypairid must be a string"
    );
    assert_eq!(
        err(with("privatekey", t("/no/such/key.pem"))),
        "cloudfront: failed to read privatekey file: /no/such/key.pem: entity not found"
    );
    assert!(
        err(with(
            "privatekey",
            t("-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----")
        ))
        .contains("failed to decode private key")
    );
    assert_eq!(
        err(with("duration", t("soon"))),
        "cloudfront: invalid duration: soon"
    );
    assert!(err(with("ipfilteredby", t("everyone"))).contains("none|aws|awsregion"));
    assert!(err(with("ipfilteredby", Value::Bool(true))).contains("none|aws|awsregion"));
    assert_eq!(
        err(with("ipfilteredby", t("awsregion"))),
        "cloudfront: awsRegion is not defined"
    );
    let mut b = with("ipfilteredby", t("awsregion"));
    b.push(("awsregion", Value::Int(3)));
    assert!(err(b).contains("comma separated string"));
    assert_eq!(
        err(with("updatefrequency", t("often"))),
        "cloudfront: invalid updatefrequency: often"
    );
    assert!(err(with("iprangesurl", t("file:///etc/passwd"))).contains("iprangesurl"));
    assert!(err(with("hashalgorithm", t("MD5"))).contains("SHA1 or SHA256"));
}

#[test]
fn defaults_aliases_and_warnings() {
    let mut warnings = Vec::new();
    let items = vec![
        (
            "baseurl".to_owned(),
            Value::Text("https://cdn.example/".into()),
        ),
        ("privatekey".to_owned(), Value::Text("/keys/pk.pem".into())),
        ("keypairid".to_owned(), Value::Text("K".into())),
        ("ipfilteredby".to_owned(), Value::Text(" AWSRegion ".into())),
        (
            "awsregion".to_owned(),
            Value::Text("US-East-1, eu-west-1".into()),
        ),
        ("updatefrenquency".to_owned(), Value::Text("1h".into())),
        ("duration".to_owned(), Value::Int(3)),
    ];
    let o = CloudFrontOptions::from_options(
        &items,
        |p| {
            assert_eq!(p, "/keys/pk.pem");
            Ok(PKCS8.to_owned())
        },
        &mut warnings,
    )
    .unwrap();
    assert_eq!(
        o.filter,
        IpFilter::AwsRegion(vec!["us-east-1".into(), "eu-west-1".into()])
    );
    assert_eq!(o.update_frequency_secs, 3600);
    // The documented defaults: 20 minutes, AWS's published file.
    assert_eq!(o.duration_secs, 20 * 60);
    assert_eq!(
        o.ip_ranges_url,
        "https://ip-ranges.amazonaws.com/ip-ranges.json"
    );
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("updatefrenquency is deprecated"))
    );
    assert!(warnings.iter().any(|w| w.contains("duration 3")));
    assert!(!format!("{o:?}").contains("PRIVATE"));
}

#[test]
fn urls_with_a_query_get_an_ampersand() {
    let o = options(PKCS1, &[]).unwrap();
    let signed = o.sign("https://cdn.example/a?x=1", 10).unwrap();
    assert!(signed.starts_with("https://cdn.example/a?x=1&Expires=10&Signature="));
    assert!(o.sign("https://cdn.example/ä", 10).is_err());
}
