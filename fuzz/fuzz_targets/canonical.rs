//! Both canonicalisers, SigV4's canonical request and SigV2's string to sign,
//! over arbitrary paths, queries and headers: percent-encoding that decodes
//! back, a query independent of parameter order, a canonical request built
//! as the AWS documentation lays it out, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use s3_storage_driver::sign::v4::{self, CanonicalInput};
use s3_storage_driver::sign::{Credentials, v2};
use s3_storage_driver::url::{canonical_query, uri_encode};

fn pairs(s: &str) -> Vec<(String, String)> {
    s.split('&')
        .map(|kv| match kv.split_once('=') {
            Some((k, v)) => (k.to_owned(), v.to_owned()),
            None => (kv.to_owned(), String::new()),
        })
        .collect()
}

/// Percent-decoding of what `uri_encode` produces.
fn decode(encoded: &str) -> Vec<u8> {
    let b = encoded.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = std::str::from_utf8(&b[i + 1..i + 3]).expect("ASCII escape");
            out.push(u8::from_str_radix(hex, 16).expect("two hex digits"));
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut parts = text.splitn(4, '\n');
    let method = parts.next().unwrap_or("GET");
    let path = parts.next().unwrap_or("/");
    let query = pairs(parts.next().unwrap_or(""));
    // Header names as HTTP allows them (tokens); the driver only ever sends
    // fixed names of that kind.
    let mut headers = pairs(parts.next().unwrap_or(""));
    headers.retain(|(k, _)| !k.is_empty() && k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'));

    // Encoding: only unreserved characters and `%XX` escapes (uppercase),
    // `/` kept only when asked, and decoding gives the input back.
    for keep_slash in [true, false] {
        let encoded = uri_encode(path, keep_slash);
        assert!(encoded.bytes().all(|c| c.is_ascii_alphanumeric()
            || b"-._~%".contains(&c)
            || (keep_slash && c == b'/')));
        assert_eq!(decode(&encoded), path.as_bytes());
    }
    let encoded = uri_encode(path, true);

    // The canonical query does not depend on the parameters' order and is
    // sorted by encoded key.
    let q = canonical_query(&query);
    let mut reversed = query.clone();
    reversed.reverse();
    assert_eq!(q, canonical_query(&reversed));
    let keys: Vec<&str> = q
        .split('&')
        .filter(|kv| !kv.is_empty())
        .map(|kv| kv.split('=').next().unwrap_or(""))
        .collect();
    assert!(keys.windows(2).all(|w| w[0] <= w[1]), "{q}");

    // The canonical request: method, path, query, one line per header
    // name (lower case, sorted), the signed-header list naming exactly
    // those, and the payload hash last.
    let input = CanonicalInput {
        method,
        path: &encoded,
        query: &query,
        headers: &headers,
        payload_hash: v4::UNSIGNED_PAYLOAD,
    };
    let (creq, signed) = v4::canonical_request(&input);
    assert!(creq.starts_with(&format!("{method}\n{encoded}\n{q}\n")));
    assert!(creq.ends_with(&format!("\n{signed}\n{}", v4::UNSIGNED_PAYLOAD)));
    let names: Vec<&str> = if signed.is_empty() {
        Vec::new()
    } else {
        signed.split(';').collect()
    };
    assert!(names.windows(2).all(|w| w[0] < w[1]), "{signed}");
    for name in &names {
        assert_eq!(*name, name.to_ascii_lowercase());
        assert!(creq.contains(&format!("\n{name}:")), "{name} not in {creq}");
    }

    // SigV2: the resource is the bucket, then the path as sent.
    let resource = v2::canonical_resource(Some("bucket"), &encoded, &query);
    assert!(resource.starts_with(&format!("/bucket{encoded}")));
    let _ = v2::canonical_amz_headers(&headers);
    let sts = v2::string_to_sign(method, &headers, "Thu, 26 Nov 2026 00:00:00 GMT", &resource);
    assert!(sts.starts_with(&format!("{method}\n")) && sts.ends_with(&resource));
    let creds = Credentials::new("AKIDEXAMPLE".into(), "secret".into(), None);
    let _ = v2::Signer::new(creds).signature(&sts);
});
