//! The credential sources' replies (IMDSv2 token, role name and credentials
//! JSON; STS AssumeRoleWithWebIdentity and AssumeRole XML; the container
//! endpoint's JSON) as a server could send them:
//! credentials or a typed error, never a panic.
#![no_main]

use std::cell::Cell;
use std::rc::Rc;

use libfuzzer_sys::fuzz_target;
use s3_storage_driver::credentials::{AssumeRole, CredentialChain, Source};
use s3_storage_driver::error::Result;
use s3_storage_driver::platform::FixedPlatform;
use s3_storage_driver::sign::Credentials;
use s3_storage_driver::time::UtcDateTime;
use s3_storage_driver::transport::{Body, Request, Response, Transport};

/// Answers request n with the n-th `\0`-separated piece of the input.
struct Replay<'a> {
    replies: Vec<&'a [u8]>,
    next: Cell<usize>,
}

struct Bytes(Vec<u8>);

impl Body for Bytes {
    fn read(&mut self, max: usize) -> Result<Vec<u8>> {
        let n = max.min(self.0.len());
        Ok(self.0.drain(..n).collect())
    }
}

impl Transport for Replay<'_> {
    type Body = Bytes;
    // Replies are known at once: a started request is already answered.
    type Pending = Result<Response<Bytes>>;

    fn begin(&self, req: &Request, body: Rc<Vec<u8>>) -> Result<Self::Pending> {
        Ok(self.send(req, &body))
    }

    fn drive(&self, pending: &mut [&mut Self::Pending], _wait: bool) -> Vec<usize> {
        (0..pending.len()).collect()
    }

    fn complete(&self, pending: Self::Pending) -> Result<Response<Bytes>> {
        pending
    }

    fn send(&self, _req: &Request, _body: &[u8]) -> Result<Response<Bytes>> {
        let i = self.next.get();
        self.next.set(i + 1);
        let body = self.replies.get(i).copied().unwrap_or_default();
        let (status, body) = match body.split_first() {
            Some((b'!', rest)) => (500, rest),
            _ => (200, body),
        };
        Ok(Response {
            status,
            headers: vec![("content-length".into(), body.len().to_string())],
            body: Bytes(body.to_vec()),
        })
    }
}

fuzz_target!(|data: &[u8]| {
    let token_file = "/var/run/secrets/token";
    let sources = [
        Source::InstanceMetadata {
            endpoint: "http://169.254.169.254".into(),
        },
        Source::WebIdentity {
            token_file: token_file.into(),
            role_arn: "arn:aws:iam::123456789012:role/registry".into(),
            session_name: "fuzz".into(),
            endpoint: "https://sts.amazonaws.com".into(),
        },
        Source::Container {
            url: "http://169.254.170.2/v2/credentials/fuzz".into(),
            token: None,
        },
        Source::AssumeRole(Box::new(AssumeRole {
            role_arn: "arn:aws:iam::123456789012:role/ci".into(),
            session_name: "fuzz".into(),
            external_id: None,
            duration_seconds: None,
            endpoint: "https://sts.amazonaws.com".into(),
            region: "us-east-1".into(),
            source: Source::Fixed(Credentials::new("AK".into(), "SK".into(), None)),
        })),
    ];
    for source in sources {
        // A platform per source: a value one source shared must not spare
        // the next one its parsing.
        let platform = FixedPlatform {
            now: UtcDateTime::parse_amz_date("20261128T000000Z").expect("a valid date"),
            files: vec![(token_file.into(), "token".into())],
            ..Default::default()
        };
        let transport = Replay {
            replies: data.split(|b| *b == 0).collect(),
            next: Cell::new(0),
        };
        let chain = CredentialChain::new(source);
        let _ = chain.get(&transport, &platform);
    }
});
