//! The S3 protocol: where requests go, how they are built, what replies mean.

pub mod checksum;
pub mod endpoint;
pub mod error;
pub mod request;
pub mod xml;
