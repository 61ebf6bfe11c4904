//! Checks a CloudFront canned-policy URL as CloudFront would: the policy
//! rebuilt from the URL, the signature verified with the public key. Shared
//! by the CloudFront tests and the CLI's.

use base64::Engine;
use rsa::pkcs1v15::{Signature, VerifyingKey};
use rsa::pkcs8::DecodePublicKey;
use rsa::signature::Verifier;

/// The resource and expiry of a signed URL whose key pair is `key_pair_id`,
/// after checking its SHA-1 signature with `public_key_pem`; panics (a test
/// failure) on anything else.
pub fn verify(url: &str, key_pair_id: &str, public_key_pem: &str) -> (String, i64) {
    let (resource, query) = url.split_once("?Expires=").expect("a canned-policy URL");
    let mut expires = None;
    let mut signature = None;
    let mut key_pair = None;
    for (i, kv) in query.split('&').enumerate() {
        let (k, v) = if i == 0 {
            ("Expires", kv)
        } else {
            kv.split_once('=').unwrap()
        };
        match k {
            "Expires" => expires = Some(v.parse::<i64>().unwrap()),
            "Signature" => signature = Some(v.to_owned()),
            "Key-Pair-Id" => key_pair = Some(v.to_owned()),
            other => panic!("unexpected parameter {other}"),
        }
    }
    assert_eq!(key_pair.as_deref(), Some(key_pair_id));
    let expires = expires.unwrap();
    let policy = format!(
        r#"{{"Statement":[{{"Resource":"{resource}","Condition":{{"DateLessThan":{{"AWS:EpochTime":{expires}}}}}}}]}}"#
    );
    let b64: String = signature
        .unwrap()
        .chars()
        .map(|c| match c {
            '-' => '+',
            '_' => '=',
            '~' => '/',
            c => c,
        })
        .collect();
    let sig = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .unwrap();
    let public = rsa::RsaPublicKey::from_public_key_pem(public_key_pem).unwrap();
    VerifyingKey::<sha1::Sha1>::new(public)
        .verify(
            policy.as_bytes(),
            &Signature::try_from(sig.as_slice()).unwrap(),
        )
        .expect("the signature verifies with the public key");
    (resource.to_owned(), expires)
}
