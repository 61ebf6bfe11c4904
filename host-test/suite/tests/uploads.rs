//! In-progress multipart uploads through the `maintenance` interface, on the
//! embedded server and on radosgw: the uploads a closed writer and a failed
//! multipart copy leave are listed with their parts and bytes and purged by
//! age; a live writer younger than the cut survives and still commits; an
//! upload outside the root directory is never listed or touched.

use s3_driver_suite as common;

use std::time::Duration;

use common::*;
use s3_driver_host::{ConfigValue, Driver, PurgeAction};
use s3_driver_kit::EmbeddedS3;
use s3_driver_kit::raw::RawS3;
use s3_storage_driver::s3::xml::{InitiateMultipartUploadResult, parse};

const PART: usize = 5 << 20;

/// Starts a multipart upload of `key` with one part, as a failed multipart
/// copy leaves one; its id.
async fn stray_upload(raw: &RawS3, key: &str) -> String {
    let q = raw.requests();
    let r = raw
        .send(q.create_multipart_upload(key, false), &[])
        .await
        .unwrap();
    let created: InitiateMultipartUploadResult =
        parse(&r.body, "InitiateMultipartUploadResult", "test").unwrap();
    let part = bytes(PART);
    let r = raw
        .send(q.upload_part(key, &created.upload_id, 1, &part).0, &part)
        .await
        .unwrap();
    assert_eq!(r.status, 200);
    created.upload_id
}

async fn the_old_uploads_go_and_the_live_one_stays(params: Vec<(String, ConfigValue)>) {
    let rooted: Vec<(String, ConfigValue)> = params
        .iter()
        .cloned()
        .chain([
            (
                "rootdirectory".to_owned(),
                ConfigValue::Text("/root1".into()),
            ),
            ("chunksize".to_owned(), ConfigValue::Integer(PART as i64)),
        ])
        .collect();
    let d: Driver = open_params(&rooted).await;
    let raw = RawS3::from_params(&params).unwrap();
    // Left by a writer that was closed and never committed.
    let mut left = d.writer("/a/left", false).await.unwrap();
    left.write(&bytes(PART + 1000)).await.unwrap();
    left.close().await.unwrap();
    drop(left);
    // Left by a failed copy, and one outside the root directory.
    stray_upload(&raw, "root1/a/moved").await;
    let outside = stray_upload(&raw, "outside/x").await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    // A live writer, younger than the cut.
    let mut live = d.writer("/a/live", false).await.unwrap();
    live.write(&bytes(PART)).await.unwrap();

    let listed = d.list_uploads("/").await.unwrap();
    let mut seen: Vec<(String, u32, u64)> = listed
        .iter()
        .map(|u| (u.path.clone(), u.parts, u.bytes))
        .collect();
    seen.sort();
    // The live writer's part may still be in flight.
    let live_part = seen.get(1).map_or((0, 0), |s| (s.1, s.2));
    assert!(
        live_part == (0, 0) || live_part == (1, PART as u64),
        "{live_part:?}"
    );
    assert_eq!(
        seen,
        [
            ("/a/left".to_owned(), 2, (PART + 1000) as u64),
            ("/a/live".to_owned(), live_part.0, live_part.1),
            ("/a/moved".to_owned(), 1, PART as u64),
        ],
        "paths under the root directory, with parts and bytes"
    );
    assert!(listed.iter().all(|u| u.initiated.is_some()));
    assert_eq!(d.list_uploads("/a/left").await.unwrap().len(), 1);
    assert!(
        d.list_uploads("/a/lef").await.unwrap().is_empty(),
        "a path, not a key prefix"
    );

    let cut = Duration::from_secs(2);
    let dry = d.purge_uploads("/", cut, true).await.unwrap();
    let action = |p: &str, all: &[s3_driver_host::Purged]| {
        all.iter().find(|x| x.upload.path == p).unwrap().action
    };
    assert_eq!(action("/a/left", &dry), PurgeAction::WouldAbort);
    assert_eq!(action("/a/live", &dry), PurgeAction::Kept);
    assert_eq!(
        d.list_uploads("/").await.unwrap().len(),
        3,
        "a dry run aborts nothing"
    );

    let done = d.purge_uploads("/", cut, false).await.unwrap();
    assert_eq!(action("/a/left", &done), PurgeAction::Aborted);
    assert_eq!(action("/a/moved", &done), PurgeAction::Aborted);
    let after: Vec<String> = d
        .list_uploads("/")
        .await
        .unwrap()
        .into_iter()
        .map(|u| u.path)
        .collect();
    assert_eq!(after, ["/a/live"]);
    live.commit().await.unwrap();
    assert_eq!(d.stat("/a/live").await.unwrap().size, PART as u64);
    assert!(
        raw.uploads("outside/")
            .await
            .unwrap()
            .iter()
            .any(|(_, id)| *id == outside),
        "the upload outside the root directory is untouched"
    );
    raw.abort_uploads("outside/").await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn old_uploads_are_purged_and_live_ones_survive_on_the_embedded_server() {
    let server = EmbeddedS3::start_temp().await.unwrap();
    the_old_uploads_go_and_the_live_one_stays(server.params()).await;
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs radosgw: set RADOSGW_ENDPOINT, RADOSGW_TLS_ENDPOINT, RADOSGW_ACCESS_KEY and RADOSGW_SECRET_KEY (.ci/run starts one) and run cargo test -- --include-ignored"]
async fn old_uploads_are_purged_and_live_ones_survive_on_radosgw() {
    let bucket = format!("uploads-{}", std::process::id());
    let params = radosgw_bucket(&bucket).await;
    the_old_uploads_go_and_the_live_one_stays(params).await;
}
