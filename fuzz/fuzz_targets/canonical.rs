//! Both canonicalisers, SigV4's canonical request and SigV2's string to sign,
//! and the signing of whole requests, over arbitrary paths, queries and
//! headers: deterministic, order-independent for the query, never a panic.
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

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut parts = text.splitn(4, '\n');
    let method = parts.next().unwrap_or("GET");
    let path = parts.next().unwrap_or("/");
    let query = pairs(parts.next().unwrap_or(""));
    let headers = pairs(parts.next().unwrap_or(""));

    let encoded = uri_encode(path, true);
    let _ = uri_encode(path, false);
    let q = canonical_query(&query);
    let mut reversed = query.clone();
    reversed.reverse();
    assert_eq!(q, canonical_query(&reversed));
    let input = CanonicalInput {
        method,
        path: &encoded,
        query: &query,
        headers: &headers,
        payload_hash: v4::UNSIGNED_PAYLOAD,
    };
    let first = v4::canonical_request(&input);
    assert_eq!(first, v4::canonical_request(&input));

    let resource = v2::canonical_resource(Some("bucket"), &encoded, &query);
    let _ = v2::canonical_amz_headers(&headers);
    let sts = v2::string_to_sign(method, &headers, "Thu, 26 Nov 2026 00:00:00 GMT", &resource);
    let creds = Credentials::new("AKIDEXAMPLE".into(), "secret".into(), None);
    let _ = v2::Signer::new(creds).signature(&sts);
});
