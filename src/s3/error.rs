//! What an S3 error reply means for the driver: one table from status and code
//! to the WIT error kind.

use super::xml::parse_error;
use crate::error::{BackendError, Error};

/// Codes that mean the credentials or signature were refused.
const ACCESS_DENIED: &[&str] = &[
    // Access Denied.
    "AccessDenied",
    // The request signature we calculated does not match the signature you provided.
    "SignatureDoesNotMatch",
    // The AWS access key ID you provided does not exist in our records.
    "InvalidAccessKeyId",
    // The account is not signed up for the service (what s3s answers for an unknown key).
    "NotSignedUp",
    // The provided token has expired.
    "ExpiredToken",
    // The provided token is malformed or otherwise invalid.
    "InvalidToken",
    // All access to this object has been disabled.
    "AllAccessDisabled",
    // The difference between the request time and the server's time is too large.
    "RequestTimeTooSkewed",
];

/// Codes that mean "slow down".
const THROTTLED: &[&str] = &[
    // Please reduce your request rate.
    "SlowDown",
    "Throttling",
    "ThrottlingException",
    "RequestLimitExceeded",
    "TooManyRequests",
];

/// True for a reply that means "no such object".
pub fn is_not_found(status: u16, code: &str) -> bool {
    code == "NoSuchKey" || (status == 404 && code.is_empty()) || code == "NotFound"
}

/// Turns an error reply into the driver's error. `operation` says what failed.
pub fn from_reply(operation: &str, status: u16, request_id: Option<&str>, body: &[u8]) -> Error {
    let parsed = parse_error(body).unwrap_or_default();
    let request_id = if parsed.request_id.is_empty() {
        request_id.unwrap_or_default().to_owned()
    } else {
        parsed.request_id.clone()
    };
    let message = if parsed.message.is_empty() {
        reason(status).to_owned()
    } else {
        parsed.message.clone()
    };
    let e = BackendError {
        operation: operation.to_owned(),
        code: parsed.code.clone(),
        message,
        status,
        request_id,
    };
    if ACCESS_DENIED.contains(&parsed.code.as_str()) || (status == 403 && parsed.code.is_empty()) {
        Error::AccessDenied(e)
    } else if THROTTLED.contains(&parsed.code.as_str()) || status == 429 {
        Error::Throttled(e)
    } else {
        Error::Backend(e)
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        409 => "Conflict",
        412 => "Precondition Failed",
        416 => "Range Not Satisfiable",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(code: &str) -> Vec<u8> {
        format!("<Error><Code>{code}</Code><Message>m</Message><RequestId>R1</RequestId></Error>")
            .into_bytes()
    }

    #[test]
    fn signature_and_key_errors_are_access_denied() {
        for code in [
            "SignatureDoesNotMatch",
            "InvalidAccessKeyId",
            "AccessDenied",
            "NotSignedUp",
        ] {
            let e = from_reply("get /a", 403, None, &body(code));
            let Error::AccessDenied(b) = e else {
                panic!("{code} gave {e:?}")
            };
            assert_eq!(b.code, code);
            assert_eq!(b.request_id, "R1");
        }
        // A HEAD has no body: the status alone decides.
        assert!(matches!(
            from_reply("stat /a", 403, Some("HID"), b""),
            Error::AccessDenied(BackendError { ref request_id, .. }) if request_id == "HID"
        ));
    }

    #[test]
    fn slow_down_is_throttled() {
        assert!(matches!(
            from_reply("put /a", 503, None, &body("SlowDown")),
            Error::Throttled(_)
        ));
        assert!(matches!(
            from_reply("put /a", 429, None, b""),
            Error::Throttled(_)
        ));
    }

    #[test]
    fn other_errors_keep_code_status_and_message() {
        let e = from_reply("list /", 404, Some("X"), &body("NoSuchBucket"));
        assert_eq!(
            e,
            Error::Backend(BackendError {
                operation: "list /".into(),
                code: "NoSuchBucket".into(),
                message: "m".into(),
                status: 404,
                request_id: "R1".into(),
            })
        );
        let Error::Backend(b) = from_reply("x", 500, None, b"<html>oops</html>") else {
            panic!()
        };
        assert_eq!(
            (b.code.as_str(), b.message.as_str()),
            ("", "Internal Server Error")
        );
    }

    #[test]
    fn not_found_detection() {
        assert!(is_not_found(404, "NoSuchKey"));
        assert!(is_not_found(404, ""));
        assert!(!is_not_found(404, "NoSuchBucket"));
    }
}
