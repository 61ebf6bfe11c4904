//! The AWS SigV4 test suite (AKIDEXAMPLE, 2015-08-30T12:36:00Z) and the S3
//! documentation's examples, against [`super`].

use super::*;
use crate::url::uri_encode;

fn h(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// The AWS SigV4 test suite: AKIDEXAMPLE, 2015-08-30T12:36:00Z, us-east-1, `service`.
struct Vector {
    name: &'static str,
    method: &'static str,
    path: &'static str,
    query: &'static [(&'static str, &'static str)],
    headers: &'static [(&'static str, &'static str)],
    body: &'static str,
    signed: &'static str,
    signature: &'static str,
}

const HOST: (&str, &str) = ("Host", "example.amazonaws.com");
const DATE: (&str, &str) = ("X-Amz-Date", "20150830T123600Z");

const SUITE: &[Vector] = &[
    Vector {
        name: "get-vanilla",
        method: "GET",
        path: "/",
        query: &[],
        headers: &[HOST, DATE],
        body: "",
        signed: "host;x-amz-date",
        signature: "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
    },
    Vector {
        name: "get-vanilla-query-order-key-case",
        method: "GET",
        path: "/",
        query: &[("Param2", "value2"), ("Param1", "value1")],
        headers: &[HOST, DATE],
        body: "",
        signed: "host;x-amz-date",
        signature: "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500",
    },
    Vector {
        name: "get-vanilla-empty-query-key",
        method: "GET",
        path: "/",
        query: &[("Param1", "value1")],
        headers: &[HOST, DATE],
        body: "",
        signed: "host;x-amz-date",
        signature: "a67d582fa61cc504c4bae71f336f98b97f1ea3c7a6bfe1b6e45aec72011b9aeb",
    },
    Vector {
        name: "get-vanilla-query-unreserved",
        method: "GET",
        path: "/",
        query: &[(
            "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
            "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
        )],
        headers: &[HOST, DATE],
        body: "",
        signed: "host;x-amz-date",
        signature: "9c3e54bfcdf0b19771a7f523ee5669cdf59bc7cc0884027167c21bb143a40197",
    },
    Vector {
        name: "get-vanilla-utf8-query",
        method: "GET",
        path: "/",
        query: &[("ሴ", "bar")],
        headers: &[HOST, DATE],
        body: "",
        signed: "host;x-amz-date",
        signature: "2cdec8eed098649ff3a119c94853b13c643bcf08f8b0a1d91e12c9027818dd04",
    },
    Vector {
        name: "get-unreserved",
        method: "GET",
        path: "/-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
        query: &[],
        headers: &[HOST, DATE],
        body: "",
        signed: "host;x-amz-date",
        signature: "07ef7494c76fa4850883e2b006601f940f8a34d404d0cfa977f52a65bbf5f24f",
    },
    Vector {
        name: "get-header-key-duplicate",
        method: "GET",
        path: "/",
        query: &[],
        headers: &[
            HOST,
            ("My-Header1", "value2"),
            ("My-Header1", "value2"),
            ("My-Header1", "value1"),
            DATE,
        ],
        body: "",
        signed: "host;my-header1;x-amz-date",
        signature: "c9d5ea9f3f72853aea855b47ea873832890dbdd183b4468f858259531a5138ea",
    },
    Vector {
        name: "get-header-value-order",
        method: "GET",
        path: "/",
        query: &[],
        headers: &[
            HOST,
            ("My-Header1", "value4"),
            ("My-Header1", "value1"),
            ("My-Header1", "value3"),
            ("My-Header1", "value2"),
            DATE,
        ],
        body: "",
        signed: "host;my-header1;x-amz-date",
        signature: "08c7e5a9acfcfeb3ab6b2185e75ce8b1deb5e634ec47601a50643f830c755c01",
    },
    Vector {
        name: "get-header-value-trim",
        method: "GET",
        path: "/",
        query: &[],
        headers: &[
            HOST,
            ("My-Header1", " value1"),
            ("My-Header2", " \"a   b   c\""),
            DATE,
        ],
        body: "",
        signed: "host;my-header1;my-header2;x-amz-date",
        signature: "acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736",
    },
    Vector {
        name: "post-vanilla",
        method: "POST",
        path: "/",
        query: &[],
        headers: &[HOST, DATE],
        body: "",
        signed: "host;x-amz-date",
        signature: "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b",
    },
    Vector {
        name: "post-header-key-sort",
        method: "POST",
        path: "/",
        query: &[],
        headers: &[HOST, ("My-Header1", "value1"), DATE],
        body: "",
        signed: "host;my-header1;x-amz-date",
        signature: "c5410059b04c1ee005303aed430f6e6645f61f4dc9e1461ec8f8916fdf18852c",
    },
    Vector {
        name: "post-header-value-case",
        method: "POST",
        path: "/",
        query: &[],
        headers: &[HOST, ("My-Header1", "VALUE1"), DATE],
        body: "",
        signed: "host;my-header1;x-amz-date",
        signature: "cdbc9802e29d2942e5e10b5bccfdd67c5f22c7c4e8ae67b53629efa58b974b7d",
    },
    Vector {
        name: "post-vanilla-query",
        method: "POST",
        path: "/",
        query: &[("Param1", "value1")],
        headers: &[HOST, DATE],
        body: "",
        signed: "host;x-amz-date",
        signature: "28038455d6de14eafc1f9222cf5aa6f1a96197d7deb8263271d420d138af7f11",
    },
    Vector {
        name: "post-vanilla-query-nonunreserved",
        method: "POST",
        path: "/",
        query: &[("@#$%^", ""), ("+", "/,?><`\";:\\|][{}")],
        headers: &[HOST, DATE],
        body: "",
        signed: "host;x-amz-date",
        signature: "66c82657c86e26fb25238d0e69f011edc4c6df5ae71119d7cb98ed9b87393c1e",
    },
    Vector {
        name: "post-x-www-form-urlencoded",
        method: "POST",
        path: "/",
        query: &[],
        headers: &[
            ("Content-Type", "application/x-www-form-urlencoded"),
            HOST,
            DATE,
        ],
        body: "Param1=value1",
        signed: "content-type;host;x-amz-date",
        signature: "ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a",
    },
    Vector {
        name: "post-x-www-form-urlencoded-parameters",
        method: "POST",
        path: "/",
        query: &[],
        headers: &[
            (
                "Content-Type",
                "application/x-www-form-urlencoded; charset=utf8",
            ),
            HOST,
            DATE,
        ],
        body: "Param1=value1",
        signed: "content-type;host;x-amz-date",
        signature: "1a72ec8f64bd914b0e42e42607c7fbce7fb2c7465f63e3092b3b0d39fa77a6fe",
    },
];

fn suite_time() -> UtcDateTime {
    UtcDateTime::parse_amz_date("20150830T123600Z").unwrap()
}

#[test]
fn aws_sigv4_test_suite() {
    let signer = Signer::new(
        Credentials::new(
            "AKIDEXAMPLE".into(),
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".into(),
            None,
        ),
        "us-east-1",
        "service",
    );
    for v in SUITE {
        let query = h(v.query);
        let headers = h(v.headers);
        let hash = sha256_hex(v.body.as_bytes());
        let path = uri_encode(v.path, true);
        let got = signer.authorize(
            suite_time(),
            &CanonicalInput {
                method: v.method,
                path: &path,
                query: &query,
                headers: &headers,
                payload_hash: &hash,
            },
        );
        let want = format!(
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders={}, Signature={}",
            v.signed, v.signature
        );
        assert_eq!(got.authorization, want, "vector {}", v.name);
    }
}

#[test]
fn aws_sigv4_test_suite_session_token_header() {
    // post-sts-header-before: the token is a signed header.
    let token = "AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQWLWsKWHGBuFqwAeMicRXmxfpSPfIeoIYRqTflfKD8YUuwthAx7mSEI/qkPpKPi/kMcGdQrmGdeehM4IC1NtBmUpp2wUE8phUZampKsburEDy0KPkyQDYwT7WZ0wq5VSXDvp75YU9HFvlRd8Tx6q6fE8YQcHNVXAkiY9q6d+xo0rKwT38xVqr7ZD0u0iPPkUL64lIZbqBAz+scqKmlzm8FDrypNC9Yjc8fPOLn9FX9KSYvKTr4rvx3iSIlTJabIQwj2ICCR/oLxBA==";
    let signer = Signer::new(
        Credentials::new(
            "AKIDEXAMPLE".into(),
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".into(),
            Some(token.into()),
        ),
        "us-east-1",
        "service",
    );
    let headers = h(&[HOST, DATE, ("X-Amz-Security-Token", token)]);
    let got = signer.authorize(
        suite_time(),
        &CanonicalInput {
            method: "POST",
            path: "/",
            query: &[],
            headers: &headers,
            payload_hash: EMPTY_SHA256,
        },
    );
    assert!(got.authorization.ends_with(
        "SignedHeaders=host;x-amz-date;x-amz-security-token, Signature=85d96828115b5dc0cfc3bd16ad9e210dd772bbebba041836c64533a82be05ead"
    ));
}

/// The S3 documentation's examples (AKIAIOSFODNN7EXAMPLE, 2013-05-24, examplebucket).
pub(crate) fn s3_doc_signer() -> Signer {
    Signer::new(
        Credentials::new(
            "AKIAIOSFODNN7EXAMPLE".into(),
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY".into(),
            None,
        ),
        "us-east-1",
        "s3",
    )
}

fn s3_doc_time() -> UtcDateTime {
    UtcDateTime::parse_amz_date("20130524T000000Z").unwrap()
}

fn doc_signature(
    method: &str,
    path: &str,
    query: &[(&str, &str)],
    headers: &[(&str, &str)],
    payload_hash: &str,
) -> String {
    let query = h(query);
    let headers = h(headers);
    let path = uri_encode(path, true);
    let auth = s3_doc_signer()
        .authorize(
            s3_doc_time(),
            &CanonicalInput {
                method,
                path: &path,
                query: &query,
                headers: &headers,
                payload_hash,
            },
        )
        .authorization;
    auth.rsplit_once("Signature=").unwrap().1.to_owned()
}

#[test]
fn s3_doc_get_object() {
    let sig = doc_signature(
        "GET",
        "/test.txt",
        &[],
        &[
            ("Host", "examplebucket.s3.amazonaws.com"),
            ("Range", "bytes=0-9"),
            ("x-amz-content-sha256", EMPTY_SHA256),
            ("x-amz-date", "20130524T000000Z"),
        ],
        EMPTY_SHA256,
    );
    assert_eq!(
        sig,
        "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
    );
}

#[test]
fn s3_doc_put_object() {
    let body_hash = sha256_hex(b"Welcome to Amazon S3.");
    assert_eq!(
        body_hash,
        "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072"
    );
    let sig = doc_signature(
        "PUT",
        "/test$file.text",
        &[],
        &[
            ("Host", "examplebucket.s3.amazonaws.com"),
            ("Date", "Fri, 24 May 2013 00:00:00 GMT"),
            ("x-amz-date", "20130524T000000Z"),
            ("x-amz-storage-class", "REDUCED_REDUNDANCY"),
            ("x-amz-content-sha256", &body_hash),
        ],
        &body_hash,
    );
    assert_eq!(
        sig,
        "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd"
    );
}

#[test]
fn s3_doc_get_bucket_lifecycle() {
    let sig = doc_signature(
        "GET",
        "/",
        &[("lifecycle", "")],
        &[
            ("Host", "examplebucket.s3.amazonaws.com"),
            ("x-amz-date", "20130524T000000Z"),
            ("x-amz-content-sha256", EMPTY_SHA256),
        ],
        EMPTY_SHA256,
    );
    assert_eq!(
        sig,
        "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543"
    );
}

#[test]
fn s3_doc_list_objects() {
    let sig = doc_signature(
        "GET",
        "/",
        &[("max-keys", "2"), ("prefix", "J")],
        &[
            ("Host", "examplebucket.s3.amazonaws.com"),
            ("x-amz-date", "20130524T000000Z"),
            ("x-amz-content-sha256", EMPTY_SHA256),
        ],
        EMPTY_SHA256,
    );
    assert_eq!(
        sig,
        "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7"
    );
}

/// `sign_request` reproduces the S3 documentation's GET example when given
/// its headers: the date and payload hash it adds are the example's.
#[test]
fn sign_request_matches_the_documented_get() {
    let mut req = Request {
        method: "GET",
        secure: false,
        authority: "examplebucket.s3.amazonaws.com".into(),
        path: "/test.txt".into(),
        query: vec![],
        headers: vec![("range".into(), "bytes=0-9".into())],
    };
    s3_doc_signer().sign_request(s3_doc_time(), &mut req, b"");
    let auth = &req.headers.last().unwrap().1;
    assert_eq!(
        auth,
        "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
    );
    let mut tls = req.clone();
    tls.secure = true;
    tls.headers.truncate(1);
    s3_doc_signer().sign_request(s3_doc_time(), &mut tls, b"ignored");
    assert!(
        tls.headers
            .iter()
            .any(|(k, v)| k == "x-amz-content-sha256" && v == UNSIGNED_PAYLOAD)
    );
}

/// `payloadsigning`: auto hashes over HTTP only; the other two force it.
#[test]
fn payload_signing_modes_decide_the_body_hash() {
    let body = b"Welcome to Amazon S3.";
    let hash_of = |mode: PayloadSigning, secure: bool| {
        let mut req = Request {
            method: "PUT",
            secure,
            authority: "examplebucket.s3.amazonaws.com".into(),
            path: "/test$file.text".into(),
            query: vec![],
            headers: vec![],
        };
        s3_doc_signer()
            .with_payload_signing(mode)
            .sign_request(s3_doc_time(), &mut req, body);
        req.headers
            .iter()
            .find(|(k, _)| k == "x-amz-content-sha256")
            .map(|(_, v)| v.clone())
            .unwrap()
    };
    // The S3 documentation's PUT example body hash.
    let signed = "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072";
    assert_eq!(hash_of(PayloadSigning::Auto, false), signed);
    assert_eq!(hash_of(PayloadSigning::Auto, true), UNSIGNED_PAYLOAD);
    assert_eq!(hash_of(PayloadSigning::Signed, true), signed);
    assert_eq!(hash_of(PayloadSigning::Unsigned, false), UNSIGNED_PAYLOAD);
    assert_eq!(
        PayloadSigning::parse("UNSIGNED"),
        Some(PayloadSigning::Unsigned)
    );
    assert_eq!(PayloadSigning::parse("never"), None);
}

#[test]
fn s3_doc_presigned_get() {
    let headers = h(&[("host", "examplebucket.s3.amazonaws.com")]);
    let query = s3_doc_signer().presign(
        s3_doc_time(),
        86400,
        &CanonicalInput {
            method: "GET",
            path: "/test.txt",
            query: &[],
            headers: &headers,
            payload_hash: UNSIGNED_PAYLOAD,
        },
    );
    let get = |k: &str| query.iter().find(|(n, _)| n == k).unwrap().1.clone();
    assert_eq!(
        get("X-Amz-Credential"),
        "AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request"
    );
    assert_eq!(get("X-Amz-SignedHeaders"), "host");
    assert_eq!(
        get("X-Amz-Signature"),
        "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"
    );
}

/// `GET /` with `headers`, body unsigned: the least there is to sign.
fn get_root(headers: &[(String, String)]) -> CanonicalInput<'_> {
    CanonicalInput {
        method: "GET",
        path: "/",
        query: &[],
        headers,
        payload_hash: UNSIGNED_PAYLOAD,
    }
}

#[test]
fn the_day_key_is_reused_within_a_day_and_renewed_after() {
    let creds = Credentials::new("AKIDEXAMPLE".into(), "secret".into(), None);
    let kept = Signer::new(creds.clone(), "us-east-1", "s3");
    let day1 = UtcDateTime::parse_iso8601("2026-11-26T23:59:00Z").unwrap();
    let day2 = UtcDateTime::parse_iso8601("2026-11-27T00:01:00Z").unwrap();
    let headers = h(&[("host", "example.com")]);
    let input = get_root(&headers);
    for at in [day1, day1, day2, day1] {
        let fresh = Signer::new(creds.clone(), "us-east-1", "s3");
        assert_eq!(kept.authorize(at, &input), fresh.authorize(at, &input));
        assert_eq!(
            kept.day_key.lock().unwrap().as_ref().map(|k| k.day.clone()),
            Some(at.date_stamp())
        );
    }
}

#[test]
fn a_signer_that_has_signed_keeps_its_day_key_out_of_debug() {
    let signer = s3_doc_signer();
    let at = s3_doc_time();
    signer.authorize(at, &get_root(&h(&[("host", "example.com")])));
    let key = signer.signing_key(&at.date_stamp());
    let shown = format!("{signer:?}");
    assert!(shown.contains(&at.date_stamp()), "{shown}");
    assert!(!shown.contains("key: ["), "{shown}");
    assert!(!shown.contains(&hex::encode(key)), "{shown}");
}
