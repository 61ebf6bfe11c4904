//! How many HTTP requests each operation costs, counted by the host's policy
//! (counts, never timings): the reference driver's minimal request patterns.

use s3_driver_suite as common;

use common::*;
use s3_driver_host::Driver;

/// Requests made by `f`, from the driver's policy counters.
macro_rules! requests {
    ($d:expr, $f:expr) => {{
        let before = $d.http_stats().requests;
        $f;
        $d.http_stats().requests - before
    }};
}

#[tokio::test(flavor = "multi_thread")]
async fn single_object_operations_are_one_request_each() {
    let (d, _s) = driver().await;
    assert_eq!(
        requests!(d, d.put_content("/one", b"x").await.unwrap()),
        1,
        "put-content"
    );
    assert_eq!(
        requests!(d, d.get_content("/one").await.unwrap()),
        1,
        "get-content"
    );
    assert_eq!(
        requests!(d, d.stat("/one").await.unwrap()),
        1,
        "stat of a file"
    );
    assert_eq!(
        requests!(d, d.list("/").await.unwrap()),
        1,
        "list of a small directory"
    );
    // A file: one listing and one batch delete.
    assert_eq!(requests!(d, d.delete("/one").await.unwrap()), 2, "delete");
}

#[tokio::test(flavor = "multi_thread")]
async fn walk_and_delete_of_n_keys_page_by_thousands() {
    let (d, _s) = driver().await;
    let n: usize = 1005;
    for i in 0..n {
        d.put_content(&format!("/many/k{i:04}"), b"v")
            .await
            .unwrap();
    }
    let pages = n.div_ceil(1000) as u64;
    let before = d.http_stats().requests;
    let walked = d.walk_all("/many", None).await.unwrap().len();
    let walk = d.http_stats().requests - before;
    assert_eq!(walked, n);
    assert_eq!(walk, pages, "walk: one ListObjectsV2 per 1000 keys");
    // ceil(N/1000) listings and as many DeleteObjects batches.
    assert_eq!(
        requests!(d, d.delete("/many").await.unwrap()),
        2 * pages,
        "delete"
    );
}

/// The delete listing of `/a/foo` (prefix `a/foo`, as the reference sends)
/// also returns the siblings `/a/foo-x/...` before `a/foo/` and
/// `/a/fooz/...` after it. Paging through all 3001 keys takes 4 listings;
/// skipping to `a/foo/` after the first page and stopping past it takes 2.
async fn delete_lists_only_around(d: &Driver) {
    d.put_content("/a/foo/1", b"under").await.unwrap();
    for i in 0..2000 {
        d.put_content(&format!("/a/foo-x/k{i:04}"), b"v")
            .await
            .unwrap();
    }
    for i in 0..1000 {
        d.put_content(&format!("/a/fooz/k{i:04}"), b"v")
            .await
            .unwrap();
    }
    // Two listings and one batch.
    assert_eq!(requests!(d, d.delete("/a/foo").await.unwrap()), 3, "delete");
    assert!(d.stat("/a/foo/1").await.is_err());
    assert_eq!(d.list("/a/foo-x").await.unwrap().len(), 2000);
    assert_eq!(d.list("/a/fooz").await.unwrap().len(), 1000);
}

#[tokio::test(flavor = "multi_thread")]
async fn delete_lists_only_around_its_own_directory() {
    let (d, _s) = driver().await;
    delete_lists_only_around(&d).await;
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs radosgw: RADOSGW_ENDPOINT (.ci/run starts one and passes --include-ignored)"]
async fn delete_lists_only_around_its_own_directory_on_radosgw() {
    delete_lists_only_around(&radosgw_driver("delete-siblings").await).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_resumed_writer_lists_only_what_it_needs() {
    let (d, _s) = driver().await;
    let mut w = d.writer("/w", false).await.unwrap();
    w.write(&bytes(1000)).await.unwrap();
    w.close().await.unwrap();
    // One ListMultipartUploads page and one ListParts page.
    let opened = requests!(d, {
        let mut w = d.writer("/w", true).await.unwrap();
        assert_eq!(w.size().await.unwrap(), 1000);
        w
    });
    assert_eq!(opened, 2, "resume");
    let mut w = d.writer("/w", true).await.unwrap();
    w.cancel().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_writer_creates_its_upload_only_when_it_must() {
    let (d, _s) = driver().await;
    // Opening sends nothing; less than a part, committed: one PutObject.
    let before = d.http_stats().requests;
    let mut w = d.writer("/small", false).await.unwrap();
    assert_eq!(d.http_stats().requests - before, 0, "open");
    let small = requests!(d, {
        w.write(&bytes(1000)).await.unwrap();
        w.commit().await.unwrap();
    });
    assert_eq!(small, 1, "small commit");
    assert_eq!(w.size().await.unwrap(), 1000);
    assert_eq!(d.get_content("/small").await.unwrap(), bytes(1000));
    // A close leaves an upload to resume: create and the tail's part.
    let mut w = d.writer("/closed", false).await.unwrap();
    let closed = requests!(d, {
        w.write(&bytes(1000)).await.unwrap();
        w.close().await.unwrap();
    });
    assert_eq!(closed, 2, "close");
    let mut w = d.writer("/closed", true).await.unwrap();
    assert_eq!(w.size().await.unwrap(), 1000);
    // Nothing was created, so a cancel has nothing to abort.
    let mut w = d.writer("/cancelled", false).await.unwrap();
    w.write(&bytes(10)).await.unwrap();
    assert_eq!(requests!(d, w.cancel().await.unwrap()), 0, "cancel");
    let mut w = d.writer("/closed", true).await.unwrap();
    w.cancel().await.unwrap();
}
