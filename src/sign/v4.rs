//! AWS Signature Version 4 for S3: the `Authorization` header and presigned URLs.
//!
//! Follows <https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html>
//! and, for S3, <https://docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-header-based-auth.html>.
//! S3 paths are encoded once (other services encode twice); `host` is the
//! authority exactly as sent. Canonicalisation lives in one function that header
//! signing and presigning share.

use std::borrow::Cow;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::Credentials;
use super::v4_primitives::{ALGORITHM, hex32, hmac};
use super::v4_streaming::{self, ChunkSigner, STREAMING_PAYLOAD};
use crate::digest::{BodyHasher, sha256_in_guest};
use crate::time::UtcDateTime;
use crate::transport::Request;
use crate::url::canonical_query;

/// `x-amz-content-sha256` value when the body is not hashed (used over TLS).
pub const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";
pub use super::v4_primitives::EMPTY_SHA256;

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

/// Lower-cased names, trimmed values with inner runs of spaces folded, duplicate
/// names joined with `,`, sorted by name. Returns (canonical headers, signed headers).
/// Borrows what it can: it runs for every request, and names are nearly always
/// lower case already.
fn canonical_headers<'h>(
    headers: impl IntoIterator<Item = (&'h str, &'h str)>,
) -> (String, String) {
    let mut list: Vec<(Cow<'h, str>, &'h str)> = headers
        .into_iter()
        .map(|(k, v)| {
            let name = if k.bytes().any(|b| b.is_ascii_uppercase()) {
                Cow::Owned(k.to_ascii_lowercase())
            } else {
                Cow::Borrowed(k)
            };
            (name, v)
        })
        .collect();
    // Stable sort keeps duplicate headers in the order they were given.
    list.sort_by(|a, b| a.0.cmp(&b.0));
    let room: usize = list.iter().map(|(k, v)| k.len() + v.len() + 2).sum();
    let mut canonical = String::with_capacity(room);
    let mut signed = String::with_capacity(room);
    for (i, (name, value)) in list.iter().enumerate() {
        if i > 0 && list[i - 1].0 == *name {
            // A repeated name: its value joins the line above.
            canonical.pop();
            canonical.push(',');
        } else {
            if !signed.is_empty() {
                signed.push(';');
            }
            signed.push_str(name);
            canonical.push_str(name);
            canonical.push(':');
        }
        for (j, word) in value.split_whitespace().enumerate() {
            if j > 0 {
                canonical.push(' ');
            }
            canonical.push_str(word);
        }
        canonical.push('\n');
    }
    (canonical, signed)
}

/// The canonical request and the signed-headers list.
pub fn canonical_request(input: &CanonicalInput<'_>) -> (String, String) {
    let headers = input.headers.iter().map(|(k, v)| (k.as_str(), v.as_str()));
    canonical_request_with_headers(input, headers)
}

/// [`canonical_request`] with `headers` borrowed from wherever they are
/// (`input.headers` is not read): a request being signed lends its own.
fn canonical_request_with_headers<'h>(
    input: &CanonicalInput<'_>,
    headers: impl IntoIterator<Item = (&'h str, &'h str)>,
) -> (String, String) {
    let (headers, signed) = canonical_headers(headers);
    let query = if input.query.is_empty() {
        String::new()
    } else {
        canonical_query(input.query)
    };
    // `join` sizes the string once.
    let creq = [
        input.method,
        input.path,
        &query,
        &headers,
        &signed,
        input.payload_hash,
    ]
    .join("\n");
    (creq, signed)
}

/// Hex SHA-256 of `data`, hashed in the guest (canonical requests, tests).
pub fn sha256_hex(data: &[u8]) -> String {
    hex32(&sha256_in_guest(data))
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
    hash_body: BodyHasher,
    day_key: std::sync::Mutex<Option<DayKey>>,
}

impl Clone for Signer {
    fn clone(&self) -> Self {
        Self {
            credentials: self.credentials.clone(),
            region: self.region.clone(),
            service: self.service.clone(),
            payload: self.payload,
            hash_body: self.hash_body,
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

/// The signing key of one day, and an HMAC already keyed with it.
#[derive(Clone)]
struct DayKey {
    day: String,
    key: [u8; 32],
    mac: Hmac<Sha256>,
}

impl DayKey {
    fn new(day: &str, key: [u8; 32]) -> Self {
        Self {
            day: day.to_owned(),
            key,
            mac: Hmac::<Sha256>::new_from_slice(&key).expect("HMAC takes any key length"),
        }
    }
}

impl std::fmt::Debug for DayKey {
    // The key signs anything for a day: it never appears in `Debug`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DayKey")
            .field("day", &self.day)
            .finish_non_exhaustive()
    }
}

/// The time-dependent strings of one signature, formatted once.
struct Stamp {
    /// `YYYYMMDDTHHMMSSZ`.
    amz_date: String,
    /// `YYYYMMDD`.
    date: String,
    /// `date/region/service/aws4_request`.
    scope: String,
}

impl Stamp {
    fn of(signer: &Signer, at: UtcDateTime) -> Self {
        let date = at.date_stamp();
        Self {
            amz_date: at.amz_date(),
            scope: signer.scope(&date),
            date,
        }
    }
}

impl Signer {
    /// A signer; `service` is `s3` for every request this driver makes.
    pub fn new(credentials: Credentials, region: &str, service: &str) -> Self {
        Self {
            credentials,
            region: region.to_owned(),
            service: service.to_owned(),
            payload: PayloadSigning::Auto,
            hash_body: sha256_in_guest,
            day_key: std::sync::Mutex::new(None),
        }
    }

    /// The same signer hashing bodies and chunks with `hash_body`.
    pub fn with_body_hasher(mut self, hash_body: BodyHasher) -> Self {
        self.hash_body = hash_body;
        self
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
        self.with_day_key(date, |k| k.key)
    }

    /// An HMAC keyed with day `date`'s key, its key blocks already hashed:
    /// a signature then costs the string to sign's blocks and one more.
    fn day_mac(&self, date: &str) -> Hmac<Sha256> {
        self.with_day_key(date, |k| k.mac.clone())
    }

    fn with_day_key<R>(&self, date: &str, f: impl FnOnce(&DayKey) -> R) -> R {
        let mut cached = self.day_key.lock().unwrap();
        match &*cached {
            Some(k) if k.day == date => f(k),
            _ => f(cached.insert(DayKey::new(date, self.derive_key(date)))),
        }
    }

    /// The derived key; depends only on the secret, day, region and service.
    fn derive_key(&self, date: &str) -> [u8; 32] {
        let k_secret = format!("AWS4{}", self.credentials.secret_key());
        let k_date = hmac(k_secret.as_bytes(), date.as_bytes());
        let k_region = hmac(&k_date, self.region.as_bytes());
        let k_service = hmac(&k_region, self.service.as_bytes());
        hmac(&k_service, b"aws4_request")
    }

    /// The hex signature of a canonical request made at `stamp`'s time.
    fn signature(&self, stamp: &Stamp, creq: &str) -> String {
        let digest = hex32(&sha256_in_guest(creq.as_bytes()));
        let sts = [ALGORITHM, &stamp.amz_date, &stamp.scope, &digest].join("\n");
        let mut mac = self.day_mac(&stamp.date);
        mac.update(sts.as_bytes());
        hex32(&mac.finalize().into_bytes().into())
    }

    /// The `Authorization` header value of a signature.
    fn authorization(&self, stamp: &Stamp, signed: &str, signature: &str) -> String {
        [
            ALGORITHM,
            " Credential=",
            self.credentials.access_key(),
            "/",
            &stamp.scope,
            ", SignedHeaders=",
            signed,
            ", Signature=",
            signature,
        ]
        .concat()
    }

    /// The `Authorization` header for a request whose headers already hold
    /// `host`, `x-amz-date` (equal to `at`) and, for S3, `x-amz-content-sha256`
    /// and `x-amz-security-token` when a session token is in use.
    pub fn authorize(&self, at: UtcDateTime, input: &CanonicalInput<'_>) -> SignedHeaders {
        let stamp = Stamp::of(self, at);
        let (creq, signed) = canonical_request(input);
        let signature = self.signature(&stamp, &creq);
        SignedHeaders {
            authorization: self.authorization(&stamp, &signed, &signature),
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
        let payload = if !self.payload.signs(req.secure) {
            UNSIGNED_PAYLOAD.to_owned()
        } else if body.is_empty() {
            EMPTY_SHA256.to_owned()
        } else {
            hex32(&(self.hash_body)(body))
        };
        self.seal(&Stamp::of(self, at), req, &payload);
    }

    /// Adds `x-amz-date`, `x-amz-content-sha256: payload`, the session token
    /// if any and `Authorization`; returns the signature.
    fn seal(&self, stamp: &Stamp, req: &mut Request, payload: &str) -> String {
        req.header("x-amz-date", stamp.amz_date.as_str());
        req.header("x-amz-content-sha256", payload);
        if let Some(token) = self.credentials.session_token() {
            req.header("x-amz-security-token", token);
        }
        let signed_headers = std::iter::once(("host", req.authority.as_str())).chain(
            req.headers
                .iter()
                .filter(|(k, _)| k != "user-agent" && k != "content-length")
                .map(|(k, v)| (k.as_str(), v.as_str())),
        );
        let input = CanonicalInput {
            method: req.method,
            path: &req.path,
            query: &req.query,
            // The request lends its headers below instead.
            headers: &[],
            payload_hash: payload,
        };
        let (creq, signed) = canonical_request_with_headers(&input, signed_headers);
        let signature = self.signature(stamp, &creq);
        let authorization = self.authorization(stamp, &signed, &signature);
        req.header("authorization", authorization);
        signature
    }

    /// Signs an S3 request whose body of `len` bytes goes out `aws-chunked`
    /// in signed chunks of `chunk` bytes ([`super::v4_streaming`]): adds the
    /// length headers, `x-amz-date`, the session token if any and
    /// `Authorization` (the seed signature), and returns the signer of the
    /// chunks. With `declare_encoding` the request also says
    /// `Content-Encoding: aws-chunked`, as AWS documents and strips again;
    /// S3-compatible servers know the encoding from `x-amz-content-sha256`,
    /// and some (radosgw, s3s) would keep that header on the object.
    pub fn sign_streaming(
        &self,
        at: UtcDateTime,
        req: &mut Request,
        (len, chunk): (usize, usize),
        declare_encoding: bool,
    ) -> ChunkSigner {
        // The encoded length replaces the body's own.
        req.headers.retain(|(k, _)| k != "content-length");
        if declare_encoding {
            req.header("content-encoding", "aws-chunked");
        }
        req.header("x-amz-decoded-content-length", len.to_string());
        req.header(
            "content-length",
            v4_streaming::encoded_length(len, chunk).to_string(),
        );
        let stamp = Stamp::of(self, at);
        let seed = self.seal(&stamp, req, STREAMING_PAYLOAD);
        self.chunk_signer_in(stamp, seed)
    }

    /// The signer of the chunks after the seed signature `seed` of a
    /// request made at `at`.
    pub fn chunk_signer(&self, at: UtcDateTime, seed: String) -> ChunkSigner {
        self.chunk_signer_in(Stamp::of(self, at), seed)
    }

    /// The chunk signer of a request whose date and scope are `stamp`'s.
    fn chunk_signer_in(&self, stamp: Stamp, seed: String) -> ChunkSigner {
        ChunkSigner::new(
            self.signing_key(&stamp.date),
            stamp.amz_date,
            stamp.scope,
            seed,
            self.hash_body,
        )
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
        let stamp = Stamp::of(self, at);
        let (_, signed) =
            canonical_headers(input.headers.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        let mut query = input.query.to_vec();
        query.push(("X-Amz-Algorithm".into(), ALGORITHM.into()));
        query.push((
            "X-Amz-Credential".into(),
            format!("{}/{}", self.credentials.access_key(), stamp.scope),
        ));
        query.push(("X-Amz-Date".into(), stamp.amz_date.clone()));
        query.push(("X-Amz-Expires".into(), expires_secs.to_string()));
        if let Some(token) = self.credentials.session_token() {
            query.push(("X-Amz-Security-Token".into(), token.to_owned()));
        }
        query.push(("X-Amz-SignedHeaders".into(), signed));
        let (creq, _) = canonical_request(&CanonicalInput {
            query: &query,
            ..input.clone()
        });
        let signature = self.signature(&stamp, &creq);
        query.push(("X-Amz-Signature".into(), signature));
        query
    }
}

#[cfg(test)]
#[path = "v4_vectors.rs"]
pub(crate) mod tests;
