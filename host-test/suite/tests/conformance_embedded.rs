//! The ported reference suite (see `s3_driver_kit::conformance` for the table of
//! cases) against the embedded s3s-fs server, one test per case.
//! `S3_DRIVER_FULL_SIZE=1` runs the reference's full sizes (5 GiB stream,
//! 32 x 32 MiB concurrent streams).

use s3_driver_suite as common;

use s3_driver_kit::EmbeddedS3;
use s3_driver_kit::conformance::{Outcome, Quirks, Target, case, run_case};

async fn run(name: &str) {
    run_with(name, &[]).await;
}

/// Runs a case with extra `storage: s3:` parameters (`v4auth: false`...).
async fn run_with(name: &str, extra: &[(&str, s3_driver_host::ConfigValue)]) {
    let server = EmbeddedS3::start_temp().await.expect("embedded server");
    let mut params = server.params();
    params.extend(extra.iter().map(|(k, v)| ((*k).to_owned(), v.clone())));
    let target = Target {
        name: format!(
            "embedded s3s-fs{}",
            if extra.is_empty() { "" } else { " (SigV2)" }
        ),
        params,
        full_size: std::env::var("S3_DRIVER_FULL_SIZE").is_ok_and(|v| v == "1"),
        quirks: Quirks {
            storage_class_not_kept: Some("s3s-fs does not store storage classes"),
        },
    };
    let case = case(name).expect("a ported case");
    match run_case(&common::RUNTIME, &target, case).await {
        Outcome::Pass => {}
        Outcome::Skip(why) => println!(
            "{name} ({}): skipped on {}: {why}",
            case.reference, target.name
        ),
        Outcome::Fail(why) => panic!(
            "{name} ({}) failed on {}: {why}",
            case.reference, target.name
        ),
    }
    assert!(
        server.objects().is_empty(),
        "objects left: {:?}",
        server.objects()
    );
}

macro_rules! cases {
    ($($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread")]
            async fn $name() {
                run(stringify!($name)).await;
            }
        )*

        #[test]
        fn every_ported_case_has_a_test() {
            let ours = [$(stringify!($name)),*];
            let all: Vec<&str> = s3_driver_kit::conformance::CASES.iter().map(|c| c.name).collect();
            assert_eq!(ours.to_vec(), all);
            assert_eq!(all.len(), 48);
        }
    };
}

include!("common/cases.rs");

/// The same suite signed with SigV2 (`v4auth: false`), which s3s verifies.
mod sigv2 {
    async fn run(name: &str) {
        super::run_with(
            name,
            &[("v4auth", s3_driver_host::ConfigValue::Boolean(false))],
        )
        .await;
    }

    include!("common/cases.rs");
}
