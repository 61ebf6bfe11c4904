//! The one decision about a failed exchange: which kind of driver error it
//! is, and whether another attempt may succeed. Every caller (reply parsing,
//! the retry loop, the writer's parts, the host-facing network errors) asks
//! [`classify`]; nothing else matches on status codes, S3 codes or messages
//! to decide. Imports nothing of ours.

/// Why a request got no reply at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NetworkFailure {
    /// The connection was refused (nothing listening, or the host said so).
    Refused,
    /// The connection broke mid-exchange.
    Reset,
    /// Connecting, or waiting for the head or the next body bytes, took too long.
    TimedOut,
    /// The reply ended before its `Content-Length`.
    Incomplete,
    /// The name did not resolve.
    Dns,
    /// The host's egress policy refused the destination.
    Denied,
    /// The server's certificate or the TLS handshake was refused.
    Tls,
    /// Anything else the host reported.
    Other,
}

/// What a failure becomes in the driver's error type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The object does not exist (turned into `path-not-found` by callers,
    /// who know the path).
    NotFound,
    /// Credentials or signature refused.
    AccessDenied,
    /// The server asks for fewer requests.
    Throttled,
    /// Any other error reply.
    Backend,
    /// The configured bucket does not exist: a configuration error.
    MissingBucket,
    /// No reply.
    Network,
}

/// A failed exchange, as far as the classifier needs to know it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cause<'a> {
    /// An error reply: its HTTP status and S3 code (empty for a bodiless reply).
    Reply {
        /// HTTP status.
        status: u16,
        /// S3 error code, `""` when the reply had none.
        code: &'a str,
    },
    /// No reply.
    Network(NetworkFailure),
}

/// The verdict on a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Class {
    /// The kind of driver error.
    pub kind: Kind,
    /// Whether another attempt may succeed.
    pub retryable: bool,
}

const fn class(kind: Kind, retryable: bool) -> Class {
    Class { kind, retryable }
}

/// S3 codes with a meaning of their own, whatever the status (sentences from
/// the S3 and AWS SDK documentation). Codes not listed fall back on the status.
const CODES: &[(&str, Class)] = &[
    // The specified key does not exist.
    ("NoSuchKey", class(Kind::NotFound, false)),
    ("NotFound", class(Kind::NotFound, false)),
    // The specified bucket does not exist.
    ("NoSuchBucket", class(Kind::MissingBucket, false)),
    // Access Denied.
    ("AccessDenied", class(Kind::AccessDenied, false)),
    // The request signature we calculated does not match the signature you provided.
    ("SignatureDoesNotMatch", class(Kind::AccessDenied, false)),
    // The AWS access key ID you provided does not exist in our records.
    ("InvalidAccessKeyId", class(Kind::AccessDenied, false)),
    // The account is not signed up for the service (s3s, for an unknown key).
    ("NotSignedUp", class(Kind::AccessDenied, false)),
    // The provided token has expired.
    ("ExpiredToken", class(Kind::AccessDenied, false)),
    // The provided token is malformed or otherwise invalid.
    ("InvalidToken", class(Kind::AccessDenied, false)),
    // All access to this object has been disabled.
    ("AllAccessDisabled", class(Kind::AccessDenied, false)),
    // The difference between the request time and the server's time is too large.
    ("RequestTimeTooSkewed", class(Kind::AccessDenied, false)),
    // Please reduce your request rate.
    ("SlowDown", class(Kind::Throttled, true)),
    // The AWS SDKs' throttling codes.
    ("Throttling", class(Kind::Throttled, true)),
    ("ThrottlingException", class(Kind::Throttled, true)),
    ("ThrottledException", class(Kind::Throttled, true)),
    ("RequestThrottled", class(Kind::Throttled, true)),
    ("RequestThrottledException", class(Kind::Throttled, true)),
    ("TooManyRequests", class(Kind::Throttled, true)),
    ("TooManyRequestsException", class(Kind::Throttled, true)),
    ("RequestLimitExceeded", class(Kind::Throttled, true)),
    ("BandwidthLimitExceeded", class(Kind::Throttled, true)),
    ("PriorRequestNotComplete", class(Kind::Throttled, true)),
    // Your socket connection to the server was not read from or written to
    // within the timeout period (S3 answers it with 400).
    ("RequestTimeout", class(Kind::Backend, true)),
    ("RequestTimeoutException", class(Kind::Backend, true)),
    // We encountered an internal error. Please try again.
    ("InternalError", class(Kind::Backend, true)),
    // A conflicting conditional operation is currently in progress against
    // this resource. Please try again.
    ("OperationAborted", class(Kind::Backend, true)),
    // Service is unable to handle request.
    ("ServiceUnavailable", class(Kind::Backend, true)),
];

/// What a failure is and whether to try again. An S3 code in [`CODES`]
/// decides; otherwise the status does: 401/403 refuse access, 404 is "not
/// found", 429 throttles, 500/502/503/504 are worth another attempt. Network
/// failures are retried unless the host refused the destination or TLS
/// failed, which no later attempt can change.
pub fn classify(cause: Cause<'_>) -> Class {
    match cause {
        Cause::Network(failure) => class(
            Kind::Network,
            !matches!(failure, NetworkFailure::Denied | NetworkFailure::Tls),
        ),
        Cause::Reply { status, code } => {
            if let Some((_, c)) = CODES.iter().find(|(name, _)| *name == code) {
                return *c;
            }
            match status {
                401 | 403 if code.is_empty() => class(Kind::AccessDenied, false),
                404 if code.is_empty() => class(Kind::NotFound, false),
                429 => class(Kind::Throttled, true),
                500 | 502 | 503 | 504 => class(Kind::Backend, true),
                _ => class(Kind::Backend, false),
            }
        }
    }
}

/// True for a reply whose body must be read before it can be judged: its
/// status alone may be retryable, or it is a 400 that may carry
/// `RequestTimeout`.
pub fn needs_a_look(status: u16) -> bool {
    status == 400 || classify(Cause::Reply { status, code: "" }).retryable
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reply_gets_its_kind_and_retry_verdict() {
        use Kind::*;
        let table: &[(u16, &str, Kind, bool)] = &[
            (404, "NoSuchKey", NotFound, false),
            (404, "", NotFound, false),
            (404, "NoSuchBucket", MissingBucket, false),
            (404, "NoSuchUpload", Backend, false),
            (403, "AccessDenied", AccessDenied, false),
            (403, "SignatureDoesNotMatch", AccessDenied, false),
            (403, "InvalidAccessKeyId", AccessDenied, false),
            (403, "NotSignedUp", AccessDenied, false),
            (400, "ExpiredToken", AccessDenied, false),
            (403, "", AccessDenied, false),
            (401, "", AccessDenied, false),
            (403, "QuotaExceeded", Backend, false),
            (503, "SlowDown", Throttled, true),
            (400, "Throttling", Throttled, true),
            (400, "ThrottlingException", Throttled, true),
            (503, "RequestLimitExceeded", Throttled, true),
            (429, "", Throttled, true),
            (429, "Whatever", Throttled, true),
            (400, "RequestTimeout", Backend, true),
            (500, "InternalError", Backend, true),
            (200, "InternalError", Backend, true),
            (409, "OperationAborted", Backend, true),
            (503, "ServiceUnavailable", Backend, true),
            (500, "", Backend, true),
            (502, "", Backend, true),
            (503, "", Backend, true),
            (504, "", Backend, true),
            (501, "NotImplemented", Backend, false),
            (400, "InvalidArgument", Backend, false),
            (400, "", Backend, false),
            (409, "BucketNotEmpty", Backend, false),
            (412, "PreconditionFailed", Backend, false),
            (416, "InvalidRange", Backend, false),
        ];
        for (status, code, kind, retryable) in table {
            let c = classify(Cause::Reply {
                status: *status,
                code,
            });
            assert_eq!(
                (c.kind, c.retryable),
                (*kind, *retryable),
                "{status} {code:?}"
            );
        }
    }

    #[test]
    fn network_failures_are_retried_unless_policy_or_tls_refused_them() {
        use NetworkFailure::*;
        for (f, retryable) in [
            (Refused, true),
            (Reset, true),
            (TimedOut, true),
            (Incomplete, true),
            (Dns, true),
            (Other, true),
            (Denied, false),
            (Tls, false),
        ] {
            assert_eq!(
                classify(Cause::Network(f)),
                Class {
                    kind: Kind::Network,
                    retryable
                },
                "{f:?}"
            );
        }
    }

    #[test]
    fn replies_worth_reading_before_judging() {
        for s in [400, 429, 500, 502, 503, 504] {
            assert!(needs_a_look(s), "{s}");
        }
        for s in [200, 204, 206, 301, 403, 404, 409, 412, 416, 501] {
            assert!(!needs_a_look(s), "{s}");
        }
    }
}
