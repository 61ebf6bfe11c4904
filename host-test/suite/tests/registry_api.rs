//! The registry's OCI Distribution API against the embedded S3 server, one
//! fresh bucket per test: push and pull flows, chunked uploads (in order,
//! out of order, across a restart, across two processes, cut off mid-body),
//! concurrent pushes, and Distribution's storage layout in the bucket, byte
//! for byte. Manifests, tags, referrers, deletes, ranges, redirects, mounts
//! and auth are in `registry_manifests.rs`.

use s3_driver_suite as common;

use common::registry::{close_upload, hex_of, patch, registry, send, session};
use common::registry::{start_registry, test_options};
use common::*;
use http::{Method, StatusCode};
use s3_driver_kit::oci::OciClient;
use s3_driver_kit::oci::image::{self, Image, OCI_MANIFEST, sha256};

#[tokio::test(flavor = "multi_thread")]
async fn the_base_endpoint_answers_with_the_api_version() {
    let (r, _d, _s) = registry().await;
    let reply = send(&r.client, Method::GET, "/v2/", &[], b"").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(
        reply.header("docker-distribution-api-version"),
        Some("registry/2.0")
    );
    let missing = send(&r.client, Method::GET, "/v2/nothing/here", &[], b"").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(
        missing.header("docker-distribution-api-version"),
        Some("registry/2.0")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_image_pushed_is_pulled_with_every_header_and_laid_out_as_distribution_does() {
    let (r, d, _s) = registry().await;
    let c = &r.client;
    let im = Image::generate(1, &[70_000, 1, 6 << 20], false);
    c.push_image("library/app", "v1", &im).await.unwrap();
    let md = im.manifest.digest();

    for reference in ["v1", md.as_str()] {
        let path = format!("/v2/library/app/manifests/{reference}");
        let got = c.get(Method::GET, &path, &[]).await.unwrap();
        assert_eq!(got.status, StatusCode::OK);
        assert_eq!(
            got.body.as_ref(),
            im.manifest.bytes.as_slice(),
            "stored byte for byte"
        );
        assert_eq!(got.header("content-type"), Some(OCI_MANIFEST));
        assert_eq!(got.header("docker-content-digest"), Some(md.as_str()));
        let head = c.get(Method::HEAD, &path, &[]).await.unwrap();
        assert_eq!(head.status, StatusCode::OK);
        assert!(head.body.is_empty());
        assert_eq!(
            head.header("content-length"),
            Some(im.manifest.bytes.len().to_string().as_str())
        );
    }
    assert_eq!(
        c.pull_image("library/app", "v1").await.unwrap(),
        im.layer_bytes() + (im.config.bytes.len() + im.manifest.bytes.len()) as u64
    );
    let l = &im.layers[0];
    let head = c
        .get(
            Method::HEAD,
            &format!("/v2/library/app/blobs/{}", l.digest),
            &[],
        )
        .await
        .unwrap();
    assert_eq!(head.header("content-length"), Some("70000"));
    assert_eq!(
        head.header("docker-content-digest"),
        Some(l.digest.as_str())
    );

    // The layout, as the Go registry writes and reads it.
    let repo = "/docker/registry/v2/repositories/library/app";
    let link = |p: String| {
        let d = d.clone();
        async move { String::from_utf8(d.get_content(&p).await.unwrap()).unwrap() }
    };
    let h = hex_of(&l.digest);
    assert_eq!(
        link(format!("{repo}/_layers/sha256/{h}/link")).await,
        l.digest
    );
    assert_eq!(
        d.get_content(&format!(
            "/docker/registry/v2/blobs/sha256/{}/{h}/data",
            &h[..2]
        ))
        .await
        .unwrap(),
        l.bytes()
    );
    let mh = hex_of(&md);
    assert_eq!(
        link(format!("{repo}/_manifests/revisions/sha256/{mh}/link")).await,
        md
    );
    assert_eq!(
        link(format!("{repo}/_manifests/tags/v1/current/link")).await,
        md
    );
    assert_eq!(
        link(format!("{repo}/_manifests/tags/v1/index/sha256/{mh}/link")).await,
        md
    );
    assert_eq!(
        d.get_content(&format!(
            "/docker/registry/v2/blobs/sha256/{}/{mh}/data",
            &mh[..2]
        ))
        .await
        .unwrap(),
        im.manifest.bytes
    );
    assert!(
        d.list(&format!("{repo}/_uploads")).await.is_err(),
        "every upload session was removed"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn chunks_out_of_order_are_416_and_the_status_says_where_the_upload_stands() {
    let (r, _d, _s) = registry().await;
    let c = &r.client;
    let data = bytes(12 << 20);
    let d = sha256(&data);
    let loc = session(c, "chunks").await;
    let first = patch(c, &loc, 0, &data[..(6 << 20)]).await;
    assert_eq!(first.status, StatusCode::ACCEPTED);
    assert_eq!(first.header("range"), Some("0-6291455"));
    let loc = first.header("location").unwrap().to_owned();

    let skipped = patch(c, &loc, 8 << 20, &data[(8 << 20)..]).await;
    assert_eq!(skipped.status, StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(skipped.code(), "BLOB_UPLOAD_INVALID");
    assert_eq!(skipped.header("range"), Some("0-6291455"));
    assert_eq!(skipped.header("location"), Some(loc.as_str()));
    let again = patch(c, &loc, 0, &data[..10]).await;
    assert_eq!(
        again.status,
        StatusCode::RANGE_NOT_SATISFIABLE,
        "a resent first chunk"
    );

    let status = send(c, Method::GET, &loc, &[], b"").await;
    assert_eq!(status.status, StatusCode::NO_CONTENT);
    assert_eq!(status.header("range"), Some("0-6291455"));

    // The last chunk in the closing PUT.
    let range = format!("{}-{}", 6 << 20, data.len() - 1);
    let put = send(
        c,
        Method::PUT,
        &OciClient::with_digest(&loc, &d),
        &[("content-range", &range)],
        &data[(6 << 20)..],
    )
    .await;
    assert_eq!(
        put.status,
        StatusCode::CREATED,
        "{}",
        String::from_utf8_lossy(&put.body)
    );
    assert_eq!(
        put.header("location"),
        Some(format!("/v2/chunks/blobs/{d}").as_str())
    );
    assert_eq!(put.header("docker-content-digest"), Some(d.as_str()));
    assert_eq!(
        c.pull_blob_checked("chunks", &d).await.unwrap(),
        data.len() as u64
    );
    let gone = send(c, Method::GET, &loc, &[], b"").await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
    assert_eq!(gone.code(), "BLOB_UPLOAD_UNKNOWN");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_digest_publishes_nothing() {
    let (r, _d, _s) = registry().await;
    let c = &r.client;
    let data = bytes(3000);
    let wrong = sha256(b"something else");
    let loc = session(c, "bad").await;
    let put = send(
        c,
        Method::PUT,
        &OciClient::with_digest(&loc, &wrong),
        &[],
        &data,
    )
    .await;
    assert_eq!(put.status, StatusCode::BAD_REQUEST);
    assert_eq!(put.code(), "DIGEST_INVALID");
    for d in [wrong, sha256(&data)] {
        let head = send(c, Method::HEAD, &format!("/v2/bad/blobs/{d}"), &[], b"").await;
        assert_eq!(head.status, StatusCode::NOT_FOUND, "{d}");
    }
    assert_eq!(
        send(c, Method::GET, &loc, &[], b"").await.status,
        StatusCode::NOT_FOUND
    );
    // Monolithic POST with a wrong digest, and a malformed one.
    let post = send(
        c,
        Method::POST,
        &format!("/v2/bad/blobs/uploads/?digest={}", sha256(b"x")),
        &[],
        &data,
    )
    .await;
    assert_eq!(
        (post.status, post.code().as_str()),
        (StatusCode::BAD_REQUEST, "DIGEST_INVALID")
    );
    let malformed = send(
        c,
        Method::POST,
        "/v2/bad/blobs/uploads/?digest=sha256:nothex",
        &[],
        &data,
    )
    .await;
    assert_eq!(malformed.status, StatusCode::BAD_REQUEST);
}

#[tokio::test(flavor = "multi_thread")]
async fn monolithic_posts_streamed_patches_and_empty_blobs() {
    let (r, _d, _s) = registry().await;
    let c = &r.client;
    let data = bytes(100_000);
    let d = sha256(&data);
    let post = send(
        c,
        Method::POST,
        &format!("/v2/mono/blobs/uploads/?digest={d}"),
        &[],
        &data,
    )
    .await;
    assert_eq!(post.status, StatusCode::CREATED);
    assert_eq!(
        post.header("location"),
        Some(format!("/v2/mono/blobs/{d}").as_str())
    );
    assert_eq!(c.pull_blob_checked("mono", &d).await.unwrap(), 100_000);

    // A PATCH without Content-Range (a stream), then an empty PUT.
    let layer = image::Layer::new(7, 9 << 20);
    c.push_layer("mono", &layer).await.unwrap();
    assert_eq!(
        c.pull_blob_checked("mono", &layer.digest).await.unwrap(),
        9 << 20
    );

    for content in [&b""[..], b"{}"] {
        let d = c.push_blob("mono", content).await.unwrap();
        let got = c
            .get(Method::GET, &format!("/v2/mono/blobs/{d}"), &[])
            .await
            .unwrap();
        assert_eq!((got.status, got.body.as_ref()), (StatusCode::OK, content));
        assert_eq!(
            got.header("content-length"),
            Some(content.len().to_string().as_str())
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_upload_survives_a_restart_through_the_state_saved_in_the_bucket() {
    let (d, server) = driver().await;
    let a = start_registry(d.clone(), test_options()).await;
    let data = bytes(11 << 20);
    let digest = sha256(&data);
    let loc = session(&a.client, "restart").await;
    let first = patch(&a.client, &loc, 0, &data[..(5 << 20)]).await;
    assert_eq!(first.status, StatusCode::ACCEPTED);
    let id = loc.rsplit('/').next().unwrap();
    // The Go registry's format, at the offset the chunk ended.
    let state = d
        .get_content(&format!(
            "/docker/registry/v2/repositories/restart/_uploads/{id}/hashstates/sha256/{}",
            5 << 20
        ))
        .await
        .unwrap();
    assert_eq!(state.len(), 108);
    assert_eq!(&state[..4], b"sha\x03");
    a.stop().await;

    // A new process with its own driver on the same bucket.
    let d2 = open_params(&server.params()).await;
    let b = start_registry(d2, test_options()).await;
    let second = patch(&b.client, &loc, 5 << 20, &data[(5 << 20)..]).await;
    assert_eq!(
        second.status,
        StatusCode::ACCEPTED,
        "{}",
        String::from_utf8_lossy(&second.body)
    );
    close_upload(&b.client, &loc, &digest).await;
    assert_eq!(
        b.client
            .pull_blob_checked("restart", &digest)
            .await
            .unwrap(),
        data.len() as u64
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_lost_or_damaged_state_falls_back_to_reading_the_upload() {
    let (r, d, _s) = registry().await;
    let c = &r.client;
    let data = bytes(6 << 20);
    let digest = sha256(&data);
    let loc = session(c, "fallback").await;
    assert_eq!(
        patch(c, &loc, 0, &data[..4096]).await.status,
        StatusCode::ACCEPTED
    );
    let id = loc.rsplit('/').next().unwrap();
    let states = format!("/docker/registry/v2/repositories/fallback/_uploads/{id}/hashstates");
    // A different registry process has no memory of it, and the file lies.
    d.put_content(&format!("{states}/sha256/4096"), b"sha\x03garbage")
        .await
        .unwrap();
    let other = start_registry(d.clone(), test_options()).await;
    assert_eq!(
        patch(&other.client, &loc, 4096, &data[4096..]).await.status,
        StatusCode::ACCEPTED
    );
    close_upload(&other.client, &loc, &digest).await;
    assert_eq!(
        c.pull_blob_checked("fallback", &digest).await.unwrap(),
        data.len() as u64
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn two_processes_behind_a_round_robin_proxy_share_uploads_and_pulls() {
    let (d, server) = driver().await;
    let a = start_registry(d, test_options()).await;
    let b = start_registry(open_params(&server.params()).await, test_options()).await;
    let (proxy, counts) = s3_driver_kit::oci::proxy::round_robin(vec![a.addr, b.addr]).await;
    let c = OciClient::new(&format!("http://{proxy}"));
    let data = bytes(16 << 20);
    let digest = sha256(&data);
    let mut loc = session(&c, "scaled/app").await;
    for (i, chunk) in data.chunks(5 << 20).enumerate() {
        let reply = patch(&c, &loc, i * (5 << 20), chunk).await;
        assert_eq!(
            reply.status,
            StatusCode::ACCEPTED,
            "chunk {i}: {}",
            String::from_utf8_lossy(&reply.body)
        );
        loc = reply.header("location").unwrap().to_owned();
    }
    let put = send(
        &c,
        Method::PUT,
        &OciClient::with_digest(&loc, &digest),
        &[],
        b"",
    )
    .await;
    assert_eq!(put.status, StatusCode::CREATED);
    let im = Image::generate(2, &[300_000, 10], true);
    c.push_image("scaled/app", "latest", &im).await.unwrap();
    for _ in 0..2 {
        assert_eq!(
            c.pull_blob_checked("scaled/app", &digest).await.unwrap(),
            data.len() as u64
        );
        c.pull_image("scaled/app", "latest").await.unwrap();
    }
    let served: Vec<usize> = counts
        .iter()
        .map(|n| n.load(std::sync::atomic::Ordering::Relaxed))
        .collect();
    assert!(
        served.iter().all(|&n| n >= 5),
        "both processes served: {served:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn eight_concurrent_pushes_sharing_layers_all_pull_back() {
    let (r, _d, _s) = registry().await;
    let shared = image::Layer::new(99, 3 << 20);
    let images: Vec<Image> = (0..8)
        .map(|i| {
            let own = image::Layer::new(100 + i, 200_000 + i * 1000);
            Image::with_layers(vec![own, shared.clone()], i % 2 == 0, 100 + i)
        })
        .collect();
    let pushes = images.iter().enumerate().map(|(i, im)| {
        let c = r.client.clone();
        async move { c.push_image("shared", &format!("t{i}"), im).await }
    });
    for result in futures::future::join_all(pushes).await {
        result.unwrap();
    }
    for (i, im) in images.iter().enumerate() {
        assert_eq!(
            r.client
                .pull_image("shared", &format!("t{i}"))
                .await
                .unwrap(),
            im.layer_bytes() + (im.config.bytes.len() + im.manifest.bytes.len()) as u64
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_chunk_cut_off_mid_body_keeps_what_arrived_and_the_retry_finishes_it() {
    use tokio::io::AsyncWriteExt;
    let (r, _d, _s) = registry().await;
    let c = &r.client;
    let data = bytes(1_000_000);
    let digest = sha256(&data);
    let loc = session(c, "cut").await;
    // A client that announces the whole chunk and dies after 400 kB.
    let mut raw = tokio::net::TcpStream::connect(r.addr).await.unwrap();
    let head = format!(
        "PATCH {loc} HTTP/1.1\r\nHost: {}\r\nContent-Length: 1000000\r\nContent-Range: 0-999999\r\n\r\n",
        r.addr
    );
    raw.write_all(head.as_bytes()).await.unwrap();
    raw.write_all(&data[..400_000]).await.unwrap();
    raw.flush().await.unwrap();
    drop(raw);
    // The registry keeps the 400 kB; the status says so once it has them.
    let mut range = String::new();
    for _ in 0..100 {
        let status = send(c, Method::GET, &loc, &[], b"").await;
        range = status.header("range").unwrap_or_default().to_owned();
        if range == "0-399999" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(range, "0-399999");
    let rest = patch(c, &loc, 400_000, &data[400_000..]).await;
    assert_eq!(
        rest.status,
        StatusCode::ACCEPTED,
        "{}",
        String::from_utf8_lossy(&rest.body)
    );
    close_upload(c, &loc, &digest).await;
    assert_eq!(
        c.pull_blob_checked("cut", &digest).await.unwrap(),
        1_000_000
    );
}
