//! What a request fails with, and its one mapping to an HTTP status and the
//! specification's JSON error code.

use http::StatusCode;
use s3_driver_host::{CallError, DriverError};

use crate::digest::DigestError;

/// A registry failure, named by what went wrong; [`Failure::wire`] is the
/// only place that turns it into a status and a code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// The blob is not in the repository.
    BlobUnknown,
    /// The upload session does not exist (never started, finished or
    /// cancelled).
    UploadUnknown,
    /// The upload request is malformed (a bad `Content-Range`...).
    UploadInvalid,
    /// A chunk does not start where the upload ends.
    UploadRange,
    /// A `Range` the blob cannot satisfy.
    RangeNotSatisfiable,
    /// A digest that is malformed, unsupported or does not match the content.
    DigestInvalid,
    /// A `Content-Length` that does not match the body.
    SizeInvalid,
    /// The manifest names a blob or manifest the repository lacks.
    ManifestBlobUnknown,
    /// The manifest is not valid JSON of a supported kind.
    ManifestInvalid,
    /// The manifest is larger than the registry takes.
    ManifestTooLarge,
    /// No such manifest or tag.
    ManifestUnknown,
    /// The repository name breaks the grammar.
    NameInvalid,
    /// No such repository.
    NameUnknown,
    /// A tag that breaks the grammar.
    TagInvalid,
    /// Credentials missing or wrong.
    Unauthorized,
    /// The operation is switched off (deletes).
    Unsupported,
    /// No such endpoint.
    NotFound,
    /// The method is not served on this endpoint.
    MethodNotAllowed,
    /// A query parameter is malformed (`n`...).
    BadRequest,
    /// The storage did not answer in time or could not be reached; a retry
    /// may succeed.
    Unavailable,
    /// Anything else the storage failed with.
    Internal,
}

impl Failure {
    /// The status and the code of the specification's error list (`UNKNOWN`
    /// and `UNAVAILABLE`, Distribution's own, only for 5xx).
    pub fn wire(&self) -> (StatusCode, &'static str) {
        use Failure as F;
        match self {
            F::BlobUnknown => (StatusCode::NOT_FOUND, "BLOB_UNKNOWN"),
            F::UploadUnknown => (StatusCode::NOT_FOUND, "BLOB_UPLOAD_UNKNOWN"),
            F::UploadInvalid => (StatusCode::BAD_REQUEST, "BLOB_UPLOAD_INVALID"),
            F::UploadRange => (StatusCode::RANGE_NOT_SATISFIABLE, "BLOB_UPLOAD_INVALID"),
            F::RangeNotSatisfiable => (StatusCode::RANGE_NOT_SATISFIABLE, "BLOB_UNKNOWN"),
            F::DigestInvalid => (StatusCode::BAD_REQUEST, "DIGEST_INVALID"),
            F::SizeInvalid => (StatusCode::BAD_REQUEST, "SIZE_INVALID"),
            F::ManifestBlobUnknown => (StatusCode::BAD_REQUEST, "MANIFEST_BLOB_UNKNOWN"),
            F::ManifestInvalid => (StatusCode::BAD_REQUEST, "MANIFEST_INVALID"),
            F::ManifestTooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "SIZE_INVALID"),
            F::ManifestUnknown => (StatusCode::NOT_FOUND, "MANIFEST_UNKNOWN"),
            F::NameInvalid => (StatusCode::BAD_REQUEST, "NAME_INVALID"),
            F::NameUnknown => (StatusCode::NOT_FOUND, "NAME_UNKNOWN"),
            F::TagInvalid => (StatusCode::BAD_REQUEST, "MANIFEST_INVALID"),
            F::Unauthorized => (StatusCode::UNAUTHORIZED, "UNAUTHORIZED"),
            F::Unsupported => (StatusCode::METHOD_NOT_ALLOWED, "UNSUPPORTED"),
            F::NotFound => (StatusCode::NOT_FOUND, "UNSUPPORTED"),
            F::MethodNotAllowed => (StatusCode::METHOD_NOT_ALLOWED, "UNSUPPORTED"),
            F::BadRequest => (StatusCode::BAD_REQUEST, "UNSUPPORTED"),
            F::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, "UNAVAILABLE"),
            F::Internal => (StatusCode::INTERNAL_SERVER_ERROR, "UNKNOWN"),
        }
    }
}

/// Seconds a client is asked to wait before retrying a `503`.
pub const RETRY_AFTER_SECS: u32 = 1;

/// A failure with its message for the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// What went wrong.
    pub failure: Failure,
    /// A sentence for the client; never a secret or a host path.
    pub message: String,
    /// Headers the reply carries besides the error (where an upload stands).
    pub headers: Vec<(&'static str, String)>,
}

impl ApiError {
    /// `failure` with `message`.
    pub fn new(failure: Failure, message: impl Into<String>) -> Self {
        Self {
            failure,
            message: message.into(),
            headers: Vec::new(),
        }
    }

    /// The same error with a header on its reply.
    pub fn with_header(mut self, name: &'static str, value: String) -> Self {
        self.headers.push((name, value));
        self
    }

    /// The JSON body: `{"errors":[{"code","message","detail"}]}`.
    pub fn body(&self) -> String {
        let (_, code) = self.failure.wire();
        serde_json::json!({
            "errors": [{ "code": code, "message": self.message, "detail": null }]
        })
        .to_string()
    }

    /// A storage failure the request did not expect (a missing path it
    /// expected is the caller's to name).
    ///
    /// The client is told the kind of failure only: the driver's message
    /// names storage keys and backend details, which go to the log. A
    /// failure a retry may mend is `503` with `Retry-After`.
    pub fn storage(e: CallError) -> Self {
        let failure = match &e {
            CallError::Timeout(_) | CallError::Overloaded(_) => Failure::Unavailable,
            CallError::Driver(DriverError::Network(_) | DriverError::Throttled(_)) => {
                Failure::Unavailable
            }
            _ => Failure::Internal,
        };
        tracing::warn!(error = %e, "storage call failed");
        let error = ApiError::new(failure.clone(), format!("storage failed ({})", e.kind()));
        match failure {
            Failure::Unavailable => error.with_header("Retry-After", RETRY_AFTER_SECS.to_string()),
            _ => error,
        }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.failure.wire().1, self.message)
    }
}

impl std::error::Error for ApiError {}

impl From<DigestError> for ApiError {
    fn from(e: DigestError) -> Self {
        ApiError::new(Failure::DigestInvalid, e.to_string())
    }
}

/// The result of a registry operation.
pub type ApiResult<T> = Result<T, ApiError>;

/// True when a storage call failed because the path does not exist.
pub fn is_not_found(e: &CallError) -> bool {
    matches!(e, CallError::Driver(DriverError::PathNotFound(_)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_body_has_the_specifications_shape() {
        let e = ApiError::new(Failure::DigestInvalid, "no match");
        let v: serde_json::Value = serde_json::from_str(&e.body()).unwrap();
        assert_eq!(v["errors"][0]["code"], "DIGEST_INVALID");
        assert_eq!(v["errors"][0]["message"], "no match");
        assert_eq!(e.failure.wire().0, StatusCode::BAD_REQUEST);
    }
}
