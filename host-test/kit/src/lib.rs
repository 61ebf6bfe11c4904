//! What the `s3-driver` CLI and the integration tests share, and a registry
//! never needs: an embedded S3 server ([`s3_server`], s3s + s3s-fs), a raw S3
//! client signed by the component's own core ([`raw`]), the reference
//! driver's conformance suite ([`conformance`]), a CloudFront URL checker
//! ([`cloudfront_url`]), plain-text tables ([`table`]), and an OCI client
//! with test images and a round-robin proxy for the registry ([`oci`]).

pub mod cloudfront_url;
pub mod conformance;
pub mod oci;
pub mod raw;
mod s3_key_locks;
mod s3_listing;
pub mod s3_server;
pub mod table;

pub use s3_server::EmbeddedS3;
