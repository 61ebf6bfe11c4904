//! Request signing: credentials, AWS Signature Version 4 and 2, and the
//! signer a driver uses.

pub mod v2;
pub mod v4;
mod v4_primitives;
pub mod v4_streaming;

use std::fmt;

use crate::time::UtcDateTime;
use crate::transport::Request;

/// Access key, secret and optional session token. `Debug` prints the access key
/// only, so no log line or error can carry the secret or the token.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    access_key: String,
    secret_key: String,
    session_token: Option<String>,
}

impl Credentials {
    /// Credentials from their parts.
    pub fn new(access_key: String, secret_key: String, session_token: Option<String>) -> Self {
        Self {
            access_key,
            secret_key,
            session_token,
        }
    }

    /// The access key id (not secret; it appears in every signed request).
    pub fn access_key(&self) -> &str {
        &self.access_key
    }

    /// The secret key, for signing only.
    pub(crate) fn secret_key(&self) -> &str {
        &self.secret_key
    }

    /// The session token of temporary credentials, if any.
    pub(crate) fn session_token(&self) -> Option<&str> {
        self.session_token.as_deref()
    }

    /// True when neither key is set (the driver then looks elsewhere).
    pub fn is_empty(&self) -> bool {
        self.access_key.is_empty() && self.secret_key.is_empty()
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key", &self.access_key)
            .field("secret_key", &"******")
            .field(
                "session_token",
                &self.session_token.as_ref().map(|_| "******"),
            )
            .finish()
    }
}

/// How this driver signs: SigV4 (the default) or SigV2 (`v4auth: false`).
#[derive(Debug, Clone)]
pub enum RequestSigner {
    /// AWS Signature Version 4.
    V4(std::rc::Rc<v4::Signer>),
    /// AWS Signature Version 2; the bucket is named for virtual-hosted requests.
    V2 {
        /// The signer.
        signer: v2::Signer,
        /// The bucket when requests are virtual-hosted (its name is then part
        /// of the signed resource but not of the path).
        virtual_host_bucket: Option<String>,
    },
}

impl RequestSigner {
    /// The credentials in use.
    pub fn credentials(&self) -> &Credentials {
        match self {
            RequestSigner::V4(s) => s.credentials(),
            RequestSigner::V2 { signer, .. } => signer.credentials(),
        }
    }

    /// Signs a request in place.
    pub fn sign_request(&self, at: UtcDateTime, req: &mut Request, body: &[u8]) {
        match self {
            RequestSigner::V4(s) => s.sign_request(at, req, body),
            RequestSigner::V2 {
                signer,
                virtual_host_bucket,
            } => signer.sign_request(at, req, virtual_host_bucket.as_deref()),
        }
    }

    /// The URL of `req` presigned at `at` for `expires_secs`.
    pub fn presigned_url(&self, at: UtcDateTime, expires_secs: u64, req: &Request) -> String {
        let query = match self {
            RequestSigner::V4(s) => {
                let headers = vec![("host".to_owned(), req.authority.clone())];
                s.presign(
                    at,
                    expires_secs,
                    &v4::CanonicalInput {
                        method: req.method,
                        path: &req.path,
                        query: &req.query,
                        headers: &headers,
                        payload_hash: v4::UNSIGNED_PAYLOAD,
                    },
                )
            }
            RequestSigner::V2 {
                signer,
                virtual_host_bucket,
            } => signer.presign(
                at.seconds + expires_secs as i64,
                req.method,
                &req.path,
                &req.query,
                virtual_host_bucket.as_deref(),
            ),
        };
        let scheme = if req.secure { "https" } else { "http" };
        format!(
            "{scheme}://{}{}?{}",
            req.authority,
            req.path,
            crate::url::canonical_query(&query)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_the_secret_and_token() {
        let c = Credentials::new("AKID".into(), "s3cr3t".into(), Some("t0k3n".into()));
        let d = format!("{c:?}");
        assert!(d.contains("AKID"));
        assert!(!d.contains("s3cr3t") && !d.contains("t0k3n"));
    }
}
