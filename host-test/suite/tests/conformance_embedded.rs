//! The ported reference suite (see `s3_driver_kit::conformance` for the table of
//! cases) against the embedded s3s-fs server, one test per case.
//! `S3_DRIVER_FULL_SIZE=1` runs the reference's full sizes (5 GiB stream,
//! 32 x 32 MiB concurrent streams).

use s3_driver_suite as common;

use s3_driver_kit::EmbeddedS3;
use s3_driver_kit::conformance::{Outcome, Target, UNSUPPORTED, case, run_case, unsupported};

/// The server kind the unsupported table knows the embedded server by.
const SERVER: &str = "s3s-fs";

/// The embedded server cannot run exactly these two cases, each with its
/// reason: everything else must pass.
#[test]
fn two_cases_are_declared_unsupported_on_s3s_fs() {
    let declared: Vec<&str> = UNSUPPORTED
        .iter()
        .filter(|(s, _, _)| *s == SERVER)
        .map(|(_, c, _)| *c)
        .collect();
    assert_eq!(declared, ["storage_class", "walk_empty_uploads_dir"]);
    assert!(
        UNSUPPORTED
            .iter()
            .all(|(_, c, why)| case(c).is_some() && !why.is_empty())
    );
}

async fn run(name: &str) {
    run_with(name, &[]).await;
}

/// Runs a case with extra `storage: s3:` parameters (`v4auth: false`...).
async fn run_with(name: &str, extra: &[(&str, s3_driver_host::ConfigValue)]) {
    let server = EmbeddedS3::start_temp().await.expect("embedded server");
    let mut params = server.params();
    params.extend(extra.iter().map(|(k, v)| ((*k).to_owned(), v.clone())));
    let label = if extra.is_empty() {
        "s3s-fs sigv4"
    } else {
        "s3s-fs sigv2"
    };
    let target = Target {
        name: format!("embedded {label}"),
        params,
        full_size: std::env::var("S3_DRIVER_FULL_SIZE").is_ok_and(|v| v == "1"),
        server: SERVER,
    };
    let case = case(name).expect("a ported case");
    let outcome = run_case(&common::RUNTIME, &target, case).await;
    // One line per case, which .ci/run counts per server.
    println!("conformance[{label}] {name}: {outcome}");
    match (unsupported(SERVER, name), outcome) {
        (None, Outcome::Pass) => {}
        (Some(declared), Outcome::Unsupported(why)) if declared == why => {}
        (_, other) => panic!("{name} ({}) on {}: {other}", case.reference, target.name),
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
