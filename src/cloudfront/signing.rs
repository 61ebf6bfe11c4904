//! CloudFront's canned-policy signature: the policy JSON byte for byte as
//! CloudFront rebuilds it, RSA PKCS#1 v1.5 over SHA-1 (or SHA-256), and
//! CloudFront's URL-safe base64.

use base64::Engine;
use rsa::pkcs1::DecodeRsaPrivateKey;
use rsa::pkcs1v15::SigningKey;
use rsa::pkcs8::DecodePrivateKey;
use rsa::signature::{SignatureEncoding, Signer};

use super::{CloudFrontOptions, HashAlgorithm, invalid};
use crate::error::{Error, Result};
use crate::time::UtcDateTime;

/// Base64 with CloudFront's URL-safe substitutions.
pub fn url_b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD
        .encode(bytes)
        .chars()
        .map(|c| match c {
            '+' => '-',
            '=' => '_',
            '/' => '~',
            c => c,
        })
        .collect()
}

/// The canned policy for `resource` expiring at `expires` (Unix seconds).
/// `serde_json` escapes quotes and backslashes but not `&`, `<` or `>`.
pub fn canned_policy(resource: &str, expires: i64) -> String {
    let resource = serde_json::to_string(resource).expect("a string serialises");
    format!(
        r#"{{"Statement":[{{"Resource":{resource},"Condition":{{"DateLessThan":{{"AWS:EpochTime":{expires}}}}}}}]}}"#
    )
}

/// Decodes a PKCS#1 (`RSA PRIVATE KEY`) or PKCS#8 (`PRIVATE KEY`) PEM.
pub(super) fn decode_key(pem: &str) -> Result<rsa::RsaPrivateKey> {
    rsa::RsaPrivateKey::from_pkcs1_pem(pem)
        .or_else(|_| rsa::RsaPrivateKey::from_pkcs8_pem(pem))
        .map_err(|_| {
            invalid(
                "privatekey: failed to decode private key as an rsa private key \
                 (PKCS#1 or PKCS#8 PEM)",
            )
        })
}

impl CloudFrontOptions {
    /// Signs `url` (already in its wire form) with a canned policy expiring at `expires`.
    pub fn sign(&self, url: &str, expires: i64) -> Result<String> {
        if !url.is_ascii() {
            return Err(Error::InvalidState(format!(
                "cloudfront: URL is not ASCII: {url}"
            )));
        }
        let policy = canned_policy(url, expires);
        let signature = match self.hash {
            HashAlgorithm::Sha1 => SigningKey::<sha1::Sha1>::new(self.key.clone())
                .sign(policy.as_bytes())
                .to_vec(),
            HashAlgorithm::Sha256 => SigningKey::<sha2::Sha256>::new(self.key.clone())
                .sign(policy.as_bytes())
                .to_vec(),
        };
        let separator = if url.contains('?') { '&' } else { '?' };
        let mut out = format!(
            "{url}{separator}Expires={expires}&Signature={}&Key-Pair-Id={}",
            url_b64(&signature),
            self.key_pair_id
        );
        if self.hash == HashAlgorithm::Sha256 {
            out.push_str("&Hash-Algorithm=SHA256");
        }
        Ok(out)
    }

    /// The signed CloudFront URL of an S3 key, valid `duration` from `now`.
    pub fn signed_url(&self, key: &str, now: UtcDateTime) -> Result<String> {
        let url = format!("{}{}", self.base_url, crate::url::uri_encode(key, true));
        self.sign(&url, now.seconds + self.duration_secs as i64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canned_policy_is_byte_exact_and_does_not_escape_ampersands() {
        assert_eq!(
            canned_policy(
                "https://d111111abcdef8.cloudfront.net/a?x=1&y=2",
                1357034400
            ),
            r#"{"Statement":[{"Resource":"https://d111111abcdef8.cloudfront.net/a?x=1&y=2","Condition":{"DateLessThan":{"AWS:EpochTime":1357034400}}}]}"#
        );
    }

    #[test]
    fn url_safe_base64() {
        assert_eq!(url_b64(&[0xfb, 0xff]), "-~8_");
    }
}
