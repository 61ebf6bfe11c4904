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
pub mod s3_checksums;
mod s3_key_locks;
mod s3_listing;
pub mod s3_server;
pub mod table;

pub use s3_server::EmbeddedS3;

/// WIT config values as the component's core takes them: the kit's native
/// clients (the raw-ceiling client, the CLI's bench) read a configuration
/// with the component's own rules. The host never does.
pub fn core_params(
    params: &[(String, s3_driver_host::ConfigValue)],
) -> Vec<(String, s3_storage_driver::config::Value)> {
    use s3_driver_host::ConfigValue;
    use s3_storage_driver::config::Value;
    params
        .iter()
        .map(|(k, v)| {
            let v = match v {
                ConfigValue::Text(s) => Value::Text(s.clone()),
                ConfigValue::Boolean(b) => Value::Bool(*b),
                ConfigValue::Integer(i) => Value::Int(*i),
                ConfigValue::Float(f) => Value::Float(*f),
                ConfigValue::TextList(l) => Value::List(l.clone()),
            };
            (k.clone(), v)
        })
        .collect()
}
