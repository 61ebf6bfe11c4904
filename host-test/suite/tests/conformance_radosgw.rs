//! The ported reference suite against Ceph radosgw, one test per case.
//!
//! `.ci/run` starts a throw-away radosgw (`.ci/ceph-rgw.sh`) and sets
//! `RADOSGW_ENDPOINT`, `RADOSGW_ACCESS_KEY` and `RADOSGW_SECRET_KEY`, plus
//! `S3_DRIVER_REQUIRE_RADOSGW=1` so a missing server fails instead of skipping.
//! Without them (a developer's quick `cargo test`) each case says it did not
//! run.

use s3_driver_suite as common;

use s3_driver_host::ConfigValue;
use s3_driver_kit::conformance::{Outcome, Quirks, Target, case, run_case};
use s3_driver_kit::raw::RawS3;
use tokio::sync::OnceCell;

const BUCKET: &str = "conformance";

fn target() -> Option<Target> {
    Some(Target {
        name: "radosgw".into(),
        params: common::radosgw_params("RADOSGW_ENDPOINT", BUCKET)?,
        full_size: std::env::var("S3_DRIVER_FULL_SIZE").is_ok_and(|v| v == "1"),
        quirks: Quirks::default(),
    })
}

static BUCKET_READY: OnceCell<()> = OnceCell::const_new();

async fn run(name: &str) {
    run_with(name, &[]).await;
}

/// Runs a case with extra `storage: s3:` parameters (`v4auth: false`...).
async fn run_with(name: &str, extra: &[(&str, ConfigValue)]) {
    let Some(mut target) = target() else {
        println!("{name}: not run: no radosgw configured (RADOSGW_ENDPOINT)");
        return;
    };
    BUCKET_READY
        .get_or_init(|| async {
            RawS3::from_params(&target.params)
                .expect("raw client")
                .create_bucket()
                .await
                .expect("creating the conformance bucket on radosgw");
        })
        .await;
    target
        .params
        .extend(extra.iter().map(|(k, v)| ((*k).to_owned(), v.clone())));
    let case = case(name).expect("a ported case");
    match run_case(&common::RUNTIME, &target, case).await {
        Outcome::Pass => {}
        Outcome::Skip(why) => println!("{name} ({}): skipped on radosgw: {why}", case.reference),
        Outcome::Fail(why) => panic!("{name} ({}) failed on radosgw: {why}", case.reference),
    }
}

macro_rules! cases {
    ($($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread")]
            async fn $name() {
                run(stringify!($name)).await;
            }
        )*
    };
}

include!("common/cases.rs");

/// The same suite signed with SigV2 (`v4auth: false`), which radosgw verifies.
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
