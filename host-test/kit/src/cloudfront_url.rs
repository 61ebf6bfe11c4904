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
    try_verify(url, key_pair_id, public_key_pem).unwrap_or_else(|e| panic!("{e}: {url}"))
}

/// [`verify`] as a result, for a stand-in server that refuses bad URLs.
pub fn try_verify(
    url: &str,
    key_pair_id: &str,
    public_key_pem: &str,
) -> Result<(String, i64), String> {
    let (resource, query) = url
        .split_once("?Expires=")
        .ok_or("not a canned-policy URL")?;
    let (mut expires, mut signature, mut key_pair) = (None, None, None);
    for (i, kv) in query.split('&').enumerate() {
        let (k, v) = if i == 0 {
            ("Expires", kv)
        } else {
            kv.split_once('=').ok_or("a parameter without a value")?
        };
        match k {
            "Expires" => expires = Some(v.parse::<i64>().map_err(|e| e.to_string())?),
            "Signature" => signature = Some(v.to_owned()),
            "Key-Pair-Id" => key_pair = Some(v.to_owned()),
            other => return Err(format!("unexpected parameter {other}")),
        }
    }
    if key_pair.as_deref() != Some(key_pair_id) {
        return Err(format!("key pair {key_pair:?}"));
    }
    let expires = expires.ok_or("no Expires")?;
    let policy = format!(
        r#"{{"Statement":[{{"Resource":"{resource}","Condition":{{"DateLessThan":{{"AWS:EpochTime":{expires}}}}}}}]}}"#
    );
    let b64: String = signature
        .ok_or("no Signature")?
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
        .map_err(|e| format!("signature: {e}"))?;
    let public =
        rsa::RsaPublicKey::from_public_key_pem(public_key_pem).map_err(|e| e.to_string())?;
    let sig = Signature::try_from(sig.as_slice()).map_err(|e| e.to_string())?;
    VerifyingKey::<sha1::Sha1>::new(public)
        .verify(policy.as_bytes(), &sig)
        .map_err(|_| "the signature does not verify with the public key".to_owned())?;
    Ok((resource.to_owned(), expires))
}
