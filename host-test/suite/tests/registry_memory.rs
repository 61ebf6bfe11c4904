//! Memory under a burst, beside Debian's `docker-registry` on the same
//! radosgw bucket: 100 clients push a 20 MiB blob each at once (a session, one
//! `PATCH`, the closing `PUT`) to each registry in turn. Both peaks are
//! printed (the goal: ours no higher than the Go registry's); ours must come
//! back within twice its idle level a minute later, as idle instances are
//! freed. This is the only test of its binary: the process's memory is the
//! registry's (and the test client's, which shares one body for all pushes).

use std::time::Duration;

use bytes::Bytes;
use http::{Method, StatusCode};
use s3_driver_host::Limits;
use s3_driver_kit::oci::OciClient;
use s3_driver_kit::oci::client::full;
use s3_driver_kit::oci::go_registry::GoRegistry;
use s3_driver_suite::registry::{start_registry, test_options};
use s3_driver_suite::{bytes, open_limited, radosgw_bucket};
use sha2::Digest as _;

/// `VmRSS` or `VmHWM` of `pid`, in MiB.
fn rss_mib(pid: &str, field: &str) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kb: f64 = status
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap();
    kb / 1024.0
}

/// 100 pushes of `blob` at once, to 100 repositories; every one must land.
async fn burst(base: &str, blob: Bytes, digest: &str) {
    let pushes = (0..100).map(|i| {
        let (base, blob, digest) = (base.to_owned(), blob.clone(), digest.to_owned());
        let base = base.clone();
        tokio::spawn(async move {
            let c = OciClient::new(&base);
            let loc = c.start_upload(&format!("mem/r{i}")).await?;
            let len = blob.len().to_string();
            let r = c
                .send(Method::PATCH, &loc, &[("content-length", &len)], full(blob))
                .await?;
            anyhow::ensure!(
                r.status == StatusCode::ACCEPTED,
                "PATCH to {base}: {} {}",
                r.status,
                String::from_utf8_lossy(&r.body)
            );
            let loc = r.header("location").unwrap_or_default().to_owned();
            let put = c
                .send(
                    Method::PUT,
                    &OciClient::with_digest(&loc, &digest),
                    &[("content-length", "0")],
                    full(Bytes::new()),
                )
                .await?;
            anyhow::ensure!(
                put.status == StatusCode::CREATED,
                "PUT to {base}: {} {}",
                put.status,
                String::from_utf8_lossy(&put.body)
            );
            Ok::<_, anyhow::Error>(())
        })
    });
    for r in futures::future::join_all(pushes).await {
        r.unwrap().unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs radosgw and docker-registry: RADOSGW_ENDPOINT (.ci/run installs and starts them and passes --include-ignored)"]
async fn a_burst_of_big_uploads_costs_no_more_memory_than_the_go_registry() {
    let params = radosgw_bucket(&format!("registry-memory-{}", std::process::id())).await;
    let blob = Bytes::from(bytes(20 << 20));
    let digest = format!("sha256:{}", hex::encode(sha2::Sha256::digest(&blob)));

    // A debug build moves 2 GiB slowly: the uploads queued behind the first
    // 96 may wait longer than the default 30 s for an instance.
    let limits = Limits {
        queue_timeout: Duration::from_secs(600),
        ..Limits::default()
    };
    let driver = open_limited(&params, limits).await;
    let ours = start_registry(driver, test_options()).await;
    let base = ours.client.base().to_owned();
    // Warm: the component compiled, one instance, one push.
    burst_one(&base, &blob, &digest).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let idle = rss_mib("self", "VmRSS:");
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let started = std::time::Instant::now();
    burst(&base, blob.clone(), &digest).await;
    let took = started.elapsed();
    let peak = rss_mib("self", "VmHWM:");
    tokio::time::sleep(Duration::from_secs(65)).await;
    let after = rss_mib("self", "VmRSS:");

    let go = GoRegistry::start(&params).await.unwrap();
    let go_base = go.client().base().to_owned();
    burst_one(&go_base, &blob, &digest).await;
    go.reset_peak_rss();
    let started = std::time::Instant::now();
    burst(&go_base, blob.clone(), &digest).await;
    let go_took = started.elapsed();
    let go_peak = go.peak_rss_mib().unwrap();

    eprintln!(
        "memory[radosgw]: 100 x 20 MiB pushes at once: this registry idle {idle:.0} MiB, \
         peak {peak:.0} MiB, {after:.0} MiB a minute later ({took:.1?}); docker-registry 2.8 \
         peak {go_peak:.0} MiB ({go_took:.1?})"
    );
    assert!(
        after <= 2.0 * idle,
        "RSS {after:.0} MiB a minute after the burst, idle was {idle:.0} MiB"
    );
}

async fn burst_one(base: &str, blob: &Bytes, digest: &str) {
    let c = OciClient::new(base);
    let loc = c.start_upload("mem/warm").await.unwrap();
    let put = c
        .send(
            Method::PUT,
            &OciClient::with_digest(&loc, digest),
            &[("content-length", &blob.len().to_string())],
            full(blob.clone()),
        )
        .await
        .unwrap();
    assert_eq!(put.status, StatusCode::CREATED);
}
