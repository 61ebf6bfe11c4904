//! `checksumalgorithm`: a body corrupted on the way (one bit flipped by the
//! host's HTTP hook after the guest signed the request) is refused by a
//! server that checks the algorithm, for a whole object and for a writer's
//! part, and the writer reports it; without a checksum the same corruption
//! is stored. Payloads are sent unsigned, so the checksum is the only
//! thing that can catch it. Which server checks which algorithm is in
//! `VERIFIED` (and the README).

use s3_driver_suite as common;

use common::*;
use s3_driver_host::{CallError, ConfigValue, Driver, DriverError, Fault, FaultRule};
use s3_driver_kit::EmbeddedS3;

const PART: usize = 5 << 20;
const ALGORITHMS: [&str; 5] = ["md5", "crc32", "crc32c", "sha256", "crc64nvme"];

/// The algorithms each server verifies (the others it accepts unchecked).
fn verified(server: &str) -> &'static [&'static str] {
    match server {
        // s3s-fs checks every one on PutObject; the kit checks parts.
        "s3s-fs" => &ALGORITHMS,
        // Ceph 16 (Debian's radosgw) checks Content-MD5 only.
        _ => &["md5"],
    }
}

async fn open(params: &[(String, ConfigValue)], algorithm: &str) -> Driver {
    let mut p = params.to_vec();
    p.extend([
        ("checksumalgorithm".to_owned(), text(algorithm)),
        ("payloadsigning".to_owned(), text("unsigned")),
        ("chunksize".to_owned(), ConfigValue::Integer(PART as i64)),
    ]);
    open_params(&p).await
}

fn refused(r: Result<(), CallError>, what: &str) {
    match r {
        Err(CallError::Driver(DriverError::Backend(b))) => {
            assert_eq!(b.status, 400, "{what}: {b:?}");
        }
        other => panic!("{what}: expected a 400 refusal, got {other:?}"),
    }
}

async fn corruption_is_caught(server: &str, params: Vec<(String, ConfigValue)>) {
    let data = bytes(2 * PART + 1234);
    for algorithm in ALGORITHMS.iter().copied().chain(["none"]) {
        let d = open(&params, algorithm).await;
        let checks = verified(server).contains(&algorithm);
        let base = format!("/sums/{algorithm}");
        // Uncorrupted: whole objects and multipart uploads complete.
        d.put_content(&format!("{base}/ok"), &data[..1000])
            .await
            .unwrap();
        let mut w = d.writer(&format!("{base}/ok-multi"), false).await.unwrap();
        w.write(&data).await.unwrap();
        w.commit().await.unwrap();
        assert_eq!(
            d.get_content(&format!("{base}/ok-multi")).await.unwrap(),
            data,
            "{algorithm}"
        );

        // A whole object corrupted on the way.
        let one = format!("{base}/one");
        d.policy().inject(
            FaultRule::every(Fault::CorruptRequestBody(100))
                .method("PUT")
                .path_contains(&format!("sums/{algorithm}/one")),
        );
        let put = d.put_content(&one, &data[..1000]).await;
        if checks {
            refused(put, &format!("{server} {algorithm} put"));
            assert!(d.stat(&one).await.is_err(), "{algorithm}: nothing stored");
        } else {
            put.unwrap();
            assert_ne!(
                d.get_content(&one).await.unwrap(),
                &data[..1000],
                "{server} {algorithm}: the corruption is stored unchecked"
            );
        }
        d.policy().clear_faults();

        // A writer's second part corrupted on the way: the writer says so.
        let multi = format!("{base}/multi");
        d.policy().inject(
            FaultRule::every(Fault::CorruptRequestBody(7))
                .method("PUT")
                .path_contains("partNumber=2"),
        );
        let mut w = d.writer(&multi, false).await.unwrap();
        let written = async {
            w.write(&data).await?;
            w.commit().await
        }
        .await;
        d.policy().clear_faults();
        if checks {
            refused(written.map(drop), &format!("{server} {algorithm} writer"));
            let _ = w.cancel().await;
        } else {
            written.unwrap();
            assert_ne!(d.get_content(&multi).await.unwrap(), data, "{algorithm}");
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_embedded_server_refuses_corrupted_bodies_for_every_algorithm() {
    let server = EmbeddedS3::start_temp().await.unwrap();
    corruption_is_caught("s3s-fs", server.params()).await;
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs radosgw: set RADOSGW_ENDPOINT, RADOSGW_TLS_ENDPOINT, RADOSGW_ACCESS_KEY and RADOSGW_SECRET_KEY (.ci/run starts one) and run cargo test -- --include-ignored"]
async fn radosgw_refuses_corrupted_bodies_for_the_algorithms_it_checks() {
    let bucket = format!("sums-{}", std::process::id());
    let params = radosgw_bucket(&bucket).await;
    corruption_is_caught("radosgw", params).await;
}
