//! The hot swap in service: three clients push images (420 MiB in all)
//! through the registry while the driver component file is replaced, back
//! and forth between two builds, and the runtime's watcher (what
//! `s3-driver serve --watch` runs) swaps it under them at least ten times.
//! Every request succeeds, and every image pulls back with every digest.

use s3_driver_suite as common;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use common::registry::{start_registry, test_options};
use common::*;
use s3_driver_host::runtime::{ComponentCache, Runtime};
use s3_driver_host::{BUILT_COMPONENT, Driver, OpenOptions, OutgoingPolicy};
use s3_driver_kit::EmbeddedS3;
use s3_driver_kit::oci::Image;

const CLIENTS: u64 = 3;
const IMAGES_PER_CLIENT: u64 = 2;
const LAYERS: [u64; 2] = [40 << 20, 30 << 20];
const SWAPS: usize = 10;

/// Replaces `file` with `bytes` the way a deployment does: a new file
/// renamed over the old one.
fn deploy(file: &Path, bytes: &[u8]) {
    let next = file.with_extension("next");
    std::fs::write(&next, bytes).unwrap();
    std::fs::rename(&next, file).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn pushes_survive_ten_swaps_of_the_driver_under_them() {
    let a = std::fs::read(BUILT_COMPONENT).unwrap();
    let b = std::fs::read(BUILT_COMPONENT_B).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("driver.wasm");
    std::fs::write(&file, &a).unwrap();
    let runtime =
        Runtime::from_file_cached(&file, ComponentCache::new(dir.path().join("cache"))).unwrap();
    // Both builds precompiled once: the swaps measure deployment.
    runtime.swap(&b).unwrap();
    runtime.swap(&a).unwrap();
    let mut watcher = runtime.watch(&file, Duration::from_millis(50));

    let server = EmbeddedS3::start_temp().await.unwrap();
    let params = server.params();
    let policy = OutgoingPolicy::new(s3_driver_suite::loopback());
    let driver = Driver::open(&runtime, OpenOptions::new(&params).policy(policy))
        .await
        .unwrap();
    let registry = start_registry(driver, test_options()).await;

    let pushing = Arc::new(AtomicBool::new(true));
    let images: Vec<Image> = (0..CLIENTS * IMAGES_PER_CLIENT)
        .map(|i| Image::generate(700 + i, &LAYERS, i % 2 == 1))
        .collect();
    let images = Arc::new(images);
    let pushes: Vec<_> = (0..CLIENTS)
        .map(|client| {
            let (c, images) = (registry.client.clone(), images.clone());
            tokio::spawn(async move {
                for k in 0..IMAGES_PER_CLIENT {
                    let i = (client * IMAGES_PER_CLIENT + k) as usize;
                    c.push_image(&format!("swap/c{client}"), &format!("t{k}"), &images[i])
                        .await?;
                }
                anyhow::Ok(())
            })
        })
        .collect();
    let flag = pushing.clone();
    let waiter = tokio::spawn(async move {
        let results = futures::future::join_all(pushes).await;
        flag.store(false, Ordering::SeqCst);
        results
    });

    let mut swaps_under_pushes = 0;
    let mut deployed = 0;
    while pushing.load(Ordering::SeqCst) {
        deployed += 1;
        deploy(&file, if deployed % 2 == 1 { &b } else { &a });
        let outcomes = tokio::time::timeout(Duration::from_secs(30), watcher.wait_for(deployed))
            .await
            .expect("the watcher swaps within 30 s");
        if let Err(e) = &outcomes[deployed - 1] {
            panic!("swap {deployed} failed: {e}");
        }
        if pushing.load(Ordering::SeqCst) {
            swaps_under_pushes += 1;
        }
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    for (client, r) in waiter.await.unwrap().into_iter().enumerate() {
        r.unwrap()
            .unwrap_or_else(|e| panic!("client {client}: {e:#}"));
    }
    assert!(
        swaps_under_pushes >= SWAPS,
        "only {swaps_under_pushes} swaps happened while the pushes ran"
    );
    let versions: std::collections::BTreeSet<String> = watcher
        .outcomes()
        .into_iter()
        .map(|o| o.unwrap().version)
        .collect();
    assert_eq!(versions.len(), 2, "both builds served: {versions:?}");

    for client in 0..CLIENTS {
        for k in 0..IMAGES_PER_CLIENT {
            let im = &images[(client * IMAGES_PER_CLIENT + k) as usize];
            let pulled = registry
                .client
                .pull_image(&format!("swap/c{client}"), &format!("t{k}"))
                .await
                .unwrap();
            assert_eq!(
                pulled,
                im.layer_bytes() + (im.config.bytes.len() + im.manifest.bytes.len()) as u64
            );
        }
    }
    eprintln!(
        "hot swap: {} MiB pushed by {CLIENTS} clients under {swaps_under_pushes} swaps",
        images.iter().map(Image::layer_bytes).sum::<u64>() >> 20
    );
}
