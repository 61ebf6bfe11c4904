//! HTTPS to the S3 server: the host verifies certificates against the webpki
//! roots, honours `skipverify` and a custom CA for one driver only, and over
//! TLS the component signs `UNSIGNED-PAYLOAD` (SigV4) or SigV2, which the
//! server accepts. The certificate and CA are test fixtures in `testdata/tls`.

use s3_driver_suite as common;

use common::*;
use s3_driver_host::{
    Allowlist, CallError, ConfigValue, Driver, DriverError, OpenOptions, OutgoingPolicy, TlsOptions,
};
use s3_driver_kit::EmbeddedS3;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn tls_fixture(name: &str) -> String {
    std::fs::read_to_string(format!("{ROOT}/../../testdata/tls/{name}")).unwrap()
}

async fn https_server() -> EmbeddedS3 {
    EmbeddedS3::start_temp_tls(&tls_fixture("server.pem"), &tls_fixture("server-key.pem"))
        .await
        .unwrap()
}

async fn round_trip(d: &Driver, path: &str) {
    let data = bytes(300_000);
    d.put_content(path, &data).await.unwrap();
    assert_eq!(d.get_content(path).await.unwrap(), data);
    let mut w = d.writer(&format!("{path}-stream"), false).await.unwrap();
    w.write(&data).await.unwrap();
    w.commit().await.unwrap();
    w.close().await.unwrap();
    assert_eq!(
        d.stat(&format!("{path}-stream")).await.unwrap().size,
        data.len() as u64
    );
    d.delete(path).await.unwrap();
    d.delete(&format!("{path}-stream")).await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unknown_ca_is_rejected_by_default() {
    let server = https_server().await;
    let params = server.params();
    let d = open_params(&params).await;
    match d.get_content("/x").await {
        Err(CallError::Driver(DriverError::Network(m))) => {
            assert!(m.contains("TLS") || m.contains("certificate"), "{m}");
            assert!(
                !m.contains('/') || m.contains("TLS"),
                "no host paths in {m}"
            );
        }
        other => panic!("expected a TLS failure, got {other:?}"),
    }
    assert!(server.objects().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn skipverify_accepts_the_certificate_for_that_driver_only() {
    let server = https_server().await;
    for v4 in [true, false] {
        let mut params = server.params();
        params.push(("skipverify".into(), ConfigValue::Boolean(true)));
        params.push(("v4auth".into(), ConfigValue::Boolean(v4)));
        // The embedder's policy verifies; the component says this
        // configuration does not, and the driver's pool follows.
        let policy = OutgoingPolicy::new(s3_driver_suite::loopback());
        assert!(!policy.skips_tls_verification());
        let d = Driver::open(&RUNTIME, OpenOptions::new(&params).policy(policy))
            .await
            .unwrap();
        assert!(d.policy().skips_tls_verification());
        round_trip(&d, &format!("/skip-v4-{v4}")).await;
    }
    // A sibling driver in the same process still verifies.
    let params = server.params();
    let strict = open_params(&params).await;
    assert!(matches!(
        strict.list("/").await,
        Err(CallError::Driver(DriverError::Network(_)))
    ));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_custom_ca_is_trusted_with_verification_on() {
    let server = https_server().await;
    let params = server.params();
    let tls = TlsOptions {
        skip_verify: false,
        extra_roots_pem: Some(tls_fixture("ca.pem")),
    };
    let policy = OutgoingPolicy::with_tls(s3_driver_suite::loopback(), tls).unwrap();
    assert!(!policy.skips_tls_verification());
    let d = Driver::open(&RUNTIME, OpenOptions::new(&params).policy(policy))
        .await
        .unwrap();
    round_trip(&d, "/ca").await;
    // A CA file without certificates is refused when the policy is built.
    let bad = TlsOptions {
        skip_verify: false,
        extra_roots_pem: Some("not a certificate".into()),
    };
    assert!(OutgoingPolicy::with_tls(Allowlist::new(), bad).is_err());
}
