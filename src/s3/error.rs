//! What an S3 error reply becomes: the body's code, message and request id,
//! turned into the driver's error by [`crate::classify`]'s verdict.

use super::xml::parse_error;
use crate::classify::{Cause, Kind, classify};
use crate::error::{BackendError, Error};

/// Turns an error reply into the driver's error. `operation` says what
/// failed; `bucket` is named when the server says it does not exist.
pub fn from_reply(
    operation: &str,
    bucket: &str,
    status: u16,
    request_id: Option<&str>,
    body: &[u8],
) -> Error {
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
    let class = classify(Cause::Reply {
        status,
        code: &parsed.code,
    });
    let e = BackendError {
        operation: operation.to_owned(),
        code: parsed.code,
        message,
        status,
        request_id,
    };
    match class.kind {
        Kind::AccessDenied => Error::AccessDenied(e),
        Kind::Throttled => Error::Throttled(e),
        Kind::MissingBucket => Error::InvalidConfig(format!(
            "bucket {bucket:?} does not exist ({}: {} (HTTP {}){})",
            e.operation,
            e.code,
            e.status,
            if e.request_id.is_empty() {
                String::new()
            } else {
                format!(" [request id {}]", e.request_id)
            }
        )),
        Kind::NotFound | Kind::Backend | Kind::Network => Error::Backend(e),
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
            let e = from_reply("get /a", "b", 403, None, &body(code));
            let Error::AccessDenied(b) = e else {
                panic!("{code} gave {e:?}")
            };
            assert_eq!(b.code, code);
            assert_eq!(b.request_id, "R1");
        }
        // A HEAD has no body: the status alone decides.
        assert!(matches!(
            from_reply("stat /a", "b", 403, Some("HID"), b""),
            Error::AccessDenied(BackendError { ref request_id, .. }) if request_id == "HID"
        ));
    }

    #[test]
    fn slow_down_is_throttled() {
        assert!(matches!(
            from_reply("put /a", "b", 503, None, &body("SlowDown")),
            Error::Throttled(_)
        ));
        assert!(matches!(
            from_reply("put /a", "b", 429, None, b""),
            Error::Throttled(_)
        ));
    }

    #[test]
    fn a_missing_bucket_is_a_configuration_error_naming_it() {
        assert_eq!(
            from_reply("list /", "registry", 404, Some("X"), &body("NoSuchBucket")),
            Error::InvalidConfig(
                "bucket \"registry\" does not exist (list /: NoSuchBucket (HTTP 404) [request id R1])"
                    .into()
            )
        );
    }

    #[test]
    fn other_errors_keep_code_status_and_message() {
        let e = from_reply("get /", "b", 409, Some("X"), &body("OperationAborted"));
        assert_eq!(
            e,
            Error::Backend(BackendError {
                operation: "get /".into(),
                code: "OperationAborted".into(),
                message: "m".into(),
                status: 409,
                request_id: "R1".into(),
            })
        );
        let Error::Backend(b) = from_reply("x", "b", 500, None, b"<html>oops</html>") else {
            panic!()
        };
        assert_eq!(
            (b.code.as_str(), b.message.as_str()),
            ("", "Internal Server Error")
        );
    }
}
