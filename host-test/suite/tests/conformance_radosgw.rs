//! The ported reference suite against Ceph radosgw, one test per case.
//!
//! Every test here is ignored unless asked for (`--include-ignored`):
//! `.ci/run` starts a throw-away radosgw (`.ci/ceph-rgw.sh`), sets
//! `RADOSGW_ENDPOINT`, `RADOSGW_ACCESS_KEY` and `RADOSGW_SECRET_KEY`, and
//! includes them; asked for without those variables, they fail.

use s3_driver_suite as common;

use s3_driver_host::ConfigValue;
use s3_driver_kit::conformance::{Outcome, Target, UNSUPPORTED, case, run_case};
use s3_driver_kit::raw::RawS3;
use tokio::sync::OnceCell;

const BUCKET: &str = "conformance";

fn target() -> Target {
    Target {
        name: "radosgw".into(),
        params: common::radosgw_params("RADOSGW_ENDPOINT", BUCKET),
        full_size: std::env::var("S3_DRIVER_FULL_SIZE").is_ok_and(|v| v == "1"),
        server: "radosgw",
    }
}

/// radosgw runs every case: nothing is declared unsupported there.
#[test]
fn no_case_is_declared_unsupported_on_radosgw() {
    assert!(UNSUPPORTED.iter().all(|(s, _, _)| *s != "radosgw"));
}

static BUCKET_READY: OnceCell<()> = OnceCell::const_new();

async fn run(name: &str) {
    run_with(name, &[]).await;
}

/// Runs a case with extra `storage: s3:` parameters (`v4auth: false`...).
async fn run_with(name: &str, extra: &[(&str, ConfigValue)]) {
    let mut target = target();
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
    let label = if extra.is_empty() {
        "radosgw sigv4"
    } else {
        "radosgw sigv2"
    };
    let case = case(name).expect("a ported case");
    let outcome = run_case(&common::RUNTIME, &target, case).await;
    // One line per case, which .ci/run counts per server.
    println!("conformance[{label}] {name}: {outcome}");
    assert_eq!(
        outcome,
        Outcome::Pass,
        "{name} ({}) on radosgw",
        case.reference
    );
}

macro_rules! cases {
    ($($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread")]
            #[ignore = "needs radosgw: RADOSGW_ENDPOINT (.ci/run starts one and passes --include-ignored)"]
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
