//! AWS Signature Version 4 for S3: the `Authorization` header and presigned URLs.
//!
//! Follows <https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html>
//! and, for S3, <https://docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-header-based-auth.html>.
//! S3 paths are encoded once (other services encode twice); `host` is the
//! authority exactly as sent. Canonicalisation lives in one function that header
//! signing and presigning share.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::{Credentials, uri_encode};
use crate::time::UtcDateTime;
use crate::transport::Request;

/// `x-amz-content-sha256` value when the body is not hashed (used over TLS).
pub const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";
/// SHA-256 of the empty string.
pub const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
const ALGORITHM: &str = "AWS4-HMAC-SHA256";

/// The parts of a request that a signature covers.
#[derive(Debug, Clone)]
pub struct CanonicalInput<'a> {
    /// HTTP method, upper case.
    pub method: &'a str,
    /// The request path, already percent-encoded as it will be sent.
    pub path: &'a str,
    /// Query parameters, not encoded; order does not matter.
    pub query: &'a [(String, String)],
    /// Headers to sign (any case, any order), `host` included.
    pub headers: &'a [(String, String)],
    /// Hex SHA-256 of the body, or [`UNSIGNED_PAYLOAD`].
    pub payload_hash: &'a str,
}

/// The canonical query string: encoded pairs sorted by key, then value.
pub fn canonical_query(query: &[(String, String)]) -> String {
    let mut pairs: Vec<(String, String)> = query
        .iter()
        .map(|(k, v)| (uri_encode(k, false), uri_encode(v, false)))
        .collect();
    pairs.sort();
    let mut out = String::new();
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(k);
        out.push('=');
        out.push_str(v);
    }
    out
}

/// Lower-cased names, trimmed values with inner runs of spaces folded, duplicate
/// names joined with `,`, sorted by name. Returns (canonical headers, signed headers).
fn canonical_headers(headers: &[(String, String)]) -> (String, String) {
    let mut list: Vec<(String, String)> = headers
        .iter()
        .map(|(k, v)| {
            let folded = v.split_whitespace().collect::<Vec<_>>().join(" ");
            (k.to_ascii_lowercase(), folded)
        })
        .collect();
    // Stable sort keeps duplicate headers in the order they were given.
    list.sort_by(|a, b| a.0.cmp(&b.0));
    let mut canonical = String::new();
    let mut signed = String::new();
    let mut i = 0;
    while i < list.len() {
        let name = &list[i].0;
        let mut values = vec![list[i].1.as_str()];
        let mut j = i + 1;
        while j < list.len() && list[j].0 == *name {
            values.push(&list[j].1);
            j += 1;
        }
        canonical.push_str(name);
        canonical.push(':');
        canonical.push_str(&values.join(","));
        canonical.push('\n');
        if !signed.is_empty() {
            signed.push(';');
        }
        signed.push_str(name);
        i = j;
    }
    (canonical, signed)
}

/// The canonical request and the signed-headers list.
pub fn canonical_request(input: &CanonicalInput<'_>) -> (String, String) {
    let (headers, signed) = canonical_headers(input.headers);
    let creq = format!(
        "{}\n{}\n{}\n{}\n{}\n{}",
        input.method,
        input.path,
        canonical_query(input.query),
        headers,
        signed,
        input.payload_hash
    );
    (creq, signed)
}

fn hmac(key: &[u8], data: &[u8]) -> [u8; 32] {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// Hex SHA-256 of `data`.
pub fn sha256_hex(data: &[u8]) -> String {
    // sha2 0.11: its wasm32 simd128 backend hashes bodies several times faster.
    use sha2_simd::Digest as _;
    hex::encode(sha2_simd::Sha256::digest(data))
}

/// A SigV4 signer for one region and service. It keeps the signing key of
/// the last day it signed for: the key depends only on the secret, the day,
/// the region and the service, so deriving it (four HMACs) once a day is
/// enough.
#[derive(Debug)]
pub struct Signer {
    credentials: Credentials,
    region: String,
    service: String,
    payload: PayloadSigning,
    day_key: std::sync::Mutex<Option<(String, [u8; 32])>>,
}

impl Clone for Signer {
    fn clone(&self) -> Self {
        Self {
            credentials: self.credentials.clone(),
            region: self.region.clone(),
            service: self.service.clone(),
            payload: self.payload,
            day_key: std::sync::Mutex::new(self.day_key.lock().unwrap().clone()),
        }
    }
}

/// Whether a request's body hash is signed (`payloadsigning`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PayloadSigning {
    /// Signed over plain HTTP, `UNSIGNED-PAYLOAD` over TLS.
    #[default]
    Auto,
    /// Always hash and sign the body.
    Signed,
    /// Never hash the body (`UNSIGNED-PAYLOAD`).
    Unsigned,
}

impl PayloadSigning {
    /// The mode named by a `payloadsigning` value.
    pub fn parse(name: &str) -> Option<Self> {
        match name.to_ascii_lowercase().as_str() {
            "auto" => Some(Self::Auto),
            "signed" => Some(Self::Signed),
            "unsigned" => Some(Self::Unsigned),
            _ => None,
        }
    }

    /// Whether a body sent over `secure` (TLS) is hashed and signed.
    pub fn signs(self, secure: bool) -> bool {
        match self {
            Self::Auto => !secure,
            Self::Signed => true,
            Self::Unsigned => false,
        }
    }
}

/// The result of signing: the headers to add to the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedHeaders {
    /// The `Authorization` header value.
    pub authorization: String,
}

impl Signer {
    /// A signer; `service` is `s3` for every request this driver makes.
    pub fn new(credentials: Credentials, region: &str, service: &str) -> Self {
        Self {
            credentials,
            region: region.to_owned(),
            service: service.to_owned(),
            payload: PayloadSigning::Auto,
            day_key: std::sync::Mutex::new(None),
        }
    }

    /// The same signer with `payload` deciding when bodies are hashed.
    pub fn with_payload_signing(mut self, payload: PayloadSigning) -> Self {
        self.payload = payload;
        self
    }

    /// The credentials this signer uses.
    pub fn credentials(&self) -> &Credentials {
        &self.credentials
    }

    fn scope(&self, date: &str) -> String {
        format!("{date}/{}/{}/aws4_request", self.region, self.service)
    }

    /// The derived key of day `date`, from the cache when it is that day's.
    fn signing_key(&self, date: &str) -> [u8; 32] {
        let mut cached = self.day_key.lock().unwrap();
        if let Some((day, key)) = &*cached
            && day == date
        {
            return *key;
        }
        let key = self.derive_key(date);
        *cached = Some((date.to_owned(), key));
        key
    }

    /// The derived key; depends only on the secret, day, region and service.
    fn derive_key(&self, date: &str) -> [u8; 32] {
        let k_secret = format!("AWS4{}", self.credentials.secret_key());
        let k_date = hmac(k_secret.as_bytes(), date.as_bytes());
        let k_region = hmac(&k_date, self.region.as_bytes());
        let k_service = hmac(&k_region, self.service.as_bytes());
        hmac(&k_service, b"aws4_request")
    }

    /// The hex signature of a canonical request made at `at`.
    fn signature(&self, at: UtcDateTime, creq: &str) -> String {
        let date = at.date_stamp();
        let sts = format!(
            "{ALGORITHM}\n{}\n{}\n{}",
            at.amz_date(),
            self.scope(&date),
            sha256_hex(creq.as_bytes())
        );
        hex::encode(hmac(&self.signing_key(&date), sts.as_bytes()))
    }

    /// The `Authorization` header for a request whose headers already hold
    /// `host`, `x-amz-date` (equal to `at`) and, for S3, `x-amz-content-sha256`
    /// and `x-amz-security-token` when a session token is in use.
    pub fn authorize(&self, at: UtcDateTime, input: &CanonicalInput<'_>) -> SignedHeaders {
        let (creq, signed) = canonical_request(input);
        let signature = self.signature(at, &creq);
        SignedHeaders {
            authorization: format!(
                "{ALGORITHM} Credential={}/{}, SignedHeaders={signed}, Signature={signature}",
                self.credentials.access_key(),
                self.scope(&at.date_stamp()),
            ),
        }
    }

    /// Signs an S3 request in place: adds `x-amz-date`, `x-amz-content-sha256`,
    /// the session token if any, and `Authorization`.
    ///
    /// By default ([`PayloadSigning::Auto`]) the body is not hashed over TLS
    /// (`UNSIGNED-PAYLOAD`): TLS already protects it and SHA-256 in wasm is
    /// the largest cost of a big transfer. Over plain HTTP the body hash is signed so the
    /// server refuses a changed byte. Every header is signed except
    /// `user-agent` and `content-length`, which proxies may rewrite.
    pub fn sign_request(&self, at: UtcDateTime, req: &mut Request, body: &[u8]) {
        let payload = if self.payload.signs(req.secure) {
            sha256_hex(body)
        } else {
            UNSIGNED_PAYLOAD.to_owned()
        };
        req.header("x-amz-date", at.amz_date());
        req.header("x-amz-content-sha256", payload.clone());
        if let Some(token) = self.credentials.session_token() {
            req.header("x-amz-security-token", token);
        }
        let mut signed = vec![("host".to_owned(), req.authority.clone())];
        signed.extend(
            req.headers
                .iter()
                .filter(|(k, _)| k != "user-agent" && k != "content-length")
                .cloned(),
        );
        let auth = self.authorize(
            at,
            &CanonicalInput {
                method: req.method,
                path: &req.path,
                query: &req.query,
                headers: &signed,
                payload_hash: &payload,
            },
        );
        req.header("authorization", auth.authorization);
    }

    /// The query parameters of a presigned URL valid for `expires_secs`,
    /// `X-Amz-Signature` last. `input.query` holds the request's own parameters;
    /// `input.headers` the headers to sign (normally `host` only).
    pub fn presign(
        &self,
        at: UtcDateTime,
        expires_secs: u64,
        input: &CanonicalInput<'_>,
    ) -> Vec<(String, String)> {
        let (_, signed) = canonical_headers(input.headers);
        let mut query = input.query.to_vec();
        query.push(("X-Amz-Algorithm".into(), ALGORITHM.into()));
        query.push((
            "X-Amz-Credential".into(),
            format!(
                "{}/{}",
                self.credentials.access_key(),
                self.scope(&at.date_stamp())
            ),
        ));
        query.push(("X-Amz-Date".into(), at.amz_date()));
        query.push(("X-Amz-Expires".into(), expires_secs.to_string()));
        if let Some(token) = self.credentials.session_token() {
            query.push(("X-Amz-Security-Token".into(), token.to_owned()));
        }
        query.push(("X-Amz-SignedHeaders".into(), signed));
        let (creq, _) = canonical_request(&CanonicalInput {
            query: &query,
            ..input.clone()
        });
        let signature = self.signature(at, &creq);
        query.push(("X-Amz-Signature".into(), signature));
        query
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn s3_doc_signer() -> Signer {
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

    #[test]
    fn the_day_key_is_reused_within_a_day_and_renewed_after() {
        let creds = Credentials::new("AKIDEXAMPLE".into(), "secret".into(), None);
        let kept = Signer::new(creds.clone(), "us-east-1", "s3");
        let day1 = UtcDateTime::parse_iso8601("2026-11-26T23:59:00Z").unwrap();
        let day2 = UtcDateTime::parse_iso8601("2026-11-27T00:01:00Z").unwrap();
        let input = CanonicalInput {
            method: "GET",
            path: "/",
            query: &[],
            headers: &h(&[("host", "example.com")]),
            payload_hash: UNSIGNED_PAYLOAD,
        };
        for at in [day1, day1, day2, day1] {
            let fresh = Signer::new(creds.clone(), "us-east-1", "s3");
            assert_eq!(kept.authorize(at, &input), fresh.authorize(at, &input));
            assert_eq!(
                kept.day_key
                    .lock()
                    .unwrap()
                    .as_ref()
                    .map(|(d, _)| d.clone()),
                Some(at.date_stamp())
            );
        }
    }
}
