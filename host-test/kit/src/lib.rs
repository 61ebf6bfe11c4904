//! What the `s3-driver` CLI and the integration tests share, and a registry
//! never needs: an embedded S3 server ([`s3_server`], s3s + s3s-fs), a raw S3
//! client signed by the component's own core ([`raw`]), the reference
//! driver's conformance suite ([`conformance`]), a CloudFront URL checker
//! ([`cloudfront_url`]) and plain-text tables ([`table`]).

pub mod cloudfront_url;
pub mod conformance;
pub mod raw;
pub mod s3_server;
pub mod table;

pub use s3_server::EmbeddedS3;
