//! Shared set-up of the integration tests: one compiled component, a fresh
//! embedded S3 server per test.

#![allow(dead_code)]

use std::sync::LazyLock;

use host_test::{
    Allowlist, CallError, ConfigValue, Driver, DriverError, EmbeddedS3, OutgoingPolicy, Runtime,
};

/// The component, compiled once per test binary.
pub static RUNTIME: LazyLock<Runtime> =
    LazyLock::new(|| Runtime::builtin().expect("component compiles"));

/// A driver on a fresh embedded server, with `extra` parameters appended.
pub async fn driver_with(extra: &[(&str, ConfigValue)]) -> (Driver, EmbeddedS3) {
    let server = EmbeddedS3::start_temp().await.expect("embedded server");
    let mut params = server.params();
    params.extend(extra.iter().map(|(k, v)| ((*k).to_owned(), v.clone())));
    let policy = OutgoingPolicy::new(Allowlist::for_params(&params));
    let driver = Driver::open(&RUNTIME, &params, policy, &[])
        .await
        .expect("driver opens");
    (driver, server)
}

/// A driver on a fresh embedded server.
pub async fn driver() -> (Driver, EmbeddedS3) {
    driver_with(&[]).await
}

/// Text parameter.
pub fn text(s: &str) -> ConfigValue {
    ConfigValue::Text(s.to_owned())
}

/// The `path-not-found` path, or a panic naming what came instead.
pub fn not_found_path<T: std::fmt::Debug>(r: Result<T, CallError>) -> String {
    match r {
        Err(CallError::Driver(DriverError::PathNotFound(p))) => {
            assert_eq!(p.driver, "s3aws");
            p.path
        }
        other => panic!("expected path-not-found, got {other:?}"),
    }
}

/// `n` bytes of a fixed pattern that is not valid UTF-8 and differs per byte.
pub fn bytes(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 131 + 7) as u8 ^ 0x80).collect()
}
