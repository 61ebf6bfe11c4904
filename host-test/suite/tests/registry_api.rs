//! The registry's OCI Distribution API against the embedded S3 server, one
//! fresh bucket per test: push and pull flows, chunked uploads (in order,
//! out of order, across a restart, across two processes), every error code
//! where the specification puts it, tags and catalog paging, referrers,
//! deletes, ranges, redirects, mounts, Basic auth, and Distribution's
//! storage layout in the bucket, byte for byte.

use s3_driver_suite as common;

use bytes::Bytes;
use common::registry::{Running, start_registry, test_options};
use common::*;
use http::{Method, StatusCode};
use s3_driver_kit::oci::client::full;
use s3_driver_kit::oci::image::{self, Image, OCI_INDEX, OCI_MANIFEST, index_of, sha256};
use s3_driver_kit::oci::{OciClient, Reply};
use s3_driver_registry::Options;
use serde_json::json;

async fn registry() -> (Running, s3_driver_host::Driver, s3_driver_kit::EmbeddedS3) {
    let (d, server) = driver().await;
    let r = start_registry(d.clone(), test_options()).await;
    (r, d, server)
}

async fn send(
    c: &OciClient,
    m: Method,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Reply {
    c.send(m, path, headers, full(Bytes::copy_from_slice(body)))
        .await
        .unwrap()
}

fn hex_of(digest: &str) -> &str {
    &digest["sha256:".len()..]
}

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

/// The closing PUT of a session whose content is all there; it must be 201.
async fn close_upload(c: &OciClient, loc: &str, digest: &str) {
    let put = send(
        c,
        Method::PUT,
        &OciClient::with_digest(loc, digest),
        &[],
        b"",
    )
    .await;
    assert_eq!(
        put.status,
        StatusCode::CREATED,
        "{}",
        String::from_utf8_lossy(&put.body)
    );
}

/// Starts a session and returns its location.
async fn session(c: &OciClient, repo: &str) -> String {
    c.start_upload(repo).await.unwrap()
}

async fn patch(c: &OciClient, loc: &str, start: usize, data: &[u8]) -> Reply {
    let range = format!("{start}-{}", start + data.len() - 1);
    let len = data.len().to_string();
    send(
        c,
        Method::PATCH,
        loc,
        &[("content-range", &range), ("content-length", &len)],
        data,
    )
    .await
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
async fn manifest_errors_have_the_specifications_codes() {
    let (r, _d, _s) = registry().await;
    let c = &r.client;
    let im = Image::generate(3, &[1000], false);
    // Nothing pushed yet: the config and layer are unknown.
    let put = c
        .push_manifest("errs", "v1", OCI_MANIFEST, &im.manifest.bytes)
        .await
        .unwrap();
    assert_eq!(
        (put.status, put.code().as_str()),
        (StatusCode::BAD_REQUEST, "MANIFEST_BLOB_UNKNOWN")
    );
    c.push_blob("errs", &im.config.bytes).await.unwrap();
    c.push_blob("errs", &im.layers[0].bytes()).await.unwrap();
    let long_tag = "x".repeat(129);
    let cases: Vec<(&str, &str, Vec<u8>, StatusCode, &str)> = vec![
        (
            "v1",
            OCI_MANIFEST,
            b"{not json".to_vec(),
            StatusCode::BAD_REQUEST,
            "MANIFEST_INVALID",
        ),
        (
            "v1",
            OCI_INDEX,
            im.manifest.bytes.clone(),
            StatusCode::BAD_REQUEST,
            "MANIFEST_INVALID",
        ),
        (
            "sha256:baddigeststring",
            OCI_MANIFEST,
            im.manifest.bytes.clone(),
            StatusCode::BAD_REQUEST,
            "DIGEST_INVALID",
        ),
        (
            &long_tag,
            OCI_MANIFEST,
            im.manifest.bytes.clone(),
            StatusCode::BAD_REQUEST,
            "MANIFEST_INVALID",
        ),
    ];
    for (reference, ct, body, status, code) in cases {
        let r = c.push_manifest("errs", reference, ct, &body).await.unwrap();
        assert_eq!(
            (r.status, r.code().as_str()),
            (status, code),
            "{reference} {ct}"
        );
    }
    let other = sha256(b"other");
    let mismatch = c
        .push_manifest("errs", &other, OCI_MANIFEST, &im.manifest.bytes)
        .await
        .unwrap();
    assert_eq!(
        (mismatch.status, mismatch.code().as_str()),
        (StatusCode::BAD_REQUEST, "DIGEST_INVALID")
    );
    let big = vec![b' '; (4 << 20) + 1];
    let too_big = c
        .push_manifest("errs", "big", OCI_MANIFEST, &big)
        .await
        .unwrap();
    assert_eq!(too_big.status, StatusCode::PAYLOAD_TOO_LARGE);
    // An index whose child is not in the repository.
    let index = index_of(std::slice::from_ref(&im), false);
    let r = c
        .push_manifest("errs", "idx", OCI_INDEX, &index.bytes)
        .await
        .unwrap();
    assert_eq!(
        (r.status, r.code().as_str()),
        (StatusCode::BAD_REQUEST, "MANIFEST_BLOB_UNKNOWN")
    );
    // Now it works, and the index after it.
    let ok = c
        .push_manifest("errs", "v1", OCI_MANIFEST, &im.manifest.bytes)
        .await
        .unwrap();
    assert_eq!(ok.status, StatusCode::CREATED);
    assert_eq!(
        c.push_manifest("errs", "idx", OCI_INDEX, &index.bytes)
            .await
            .unwrap()
            .status,
        StatusCode::CREATED
    );

    let lookups: Vec<(Method, String, StatusCode, &str)> = vec![
        (
            Method::GET,
            "/v2/errs/manifests/missing".into(),
            StatusCode::NOT_FOUND,
            "MANIFEST_UNKNOWN",
        ),
        (
            Method::GET,
            format!("/v2/errs/manifests/{other}"),
            StatusCode::NOT_FOUND,
            "MANIFEST_UNKNOWN",
        ),
        (
            Method::GET,
            "/v2/errs/manifests/sha256:baddigeststring".into(),
            StatusCode::BAD_REQUEST,
            "DIGEST_INVALID",
        ),
        (
            Method::GET,
            format!("/v2/errs/blobs/{other}"),
            StatusCode::NOT_FOUND,
            "BLOB_UNKNOWN",
        ),
        (
            Method::GET,
            format!("/v2/nobody/blobs/{}", im.config.digest()),
            StatusCode::NOT_FOUND,
            "BLOB_UNKNOWN",
        ),
        (
            Method::GET,
            "/v2/Upper/tags/list".into(),
            StatusCode::BAD_REQUEST,
            "NAME_INVALID",
        ),
        (
            Method::GET,
            "/v2/nobody/tags/list".into(),
            StatusCode::NOT_FOUND,
            "NAME_UNKNOWN",
        ),
        (
            Method::PATCH,
            "/v2/errs/blobs/uploads/not-a-uuid".into(),
            StatusCode::NOT_FOUND,
            "BLOB_UPLOAD_UNKNOWN",
        ),
        (
            Method::GET,
            format!("/v2/errs/blobs/uploads/{}", uuid_like()),
            StatusCode::NOT_FOUND,
            "BLOB_UPLOAD_UNKNOWN",
        ),
        (
            Method::POST,
            "/v2/errs/blobs/uploads/?digest-algorithm=md5".into(),
            StatusCode::BAD_REQUEST,
            "DIGEST_INVALID",
        ),
    ];
    for (m, path, status, code) in lookups {
        let r = send(c, m.clone(), &path, &[], b"").await;
        assert_eq!((r.status, r.code().as_str()), (status, code), "{m} {path}");
    }
}

fn uuid_like() -> &'static str {
    "0e2f1c9a-1111-4222-8333-444455556666"
}

#[tokio::test(flavor = "multi_thread")]
async fn tags_and_the_catalog_page_with_link_headers() {
    let (r, _d, _s) = registry().await;
    let c = &r.client;
    let im = Image::generate(4, &[10], false);
    for repo in ["b/one", "a", "c-d", "b/two"] {
        c.push_image(repo, "z", &im).await.unwrap();
    }
    for tag in ["b", "A", "a", "1.0", "_x"] {
        let put = c
            .push_manifest("a", tag, OCI_MANIFEST, &im.manifest.bytes)
            .await
            .unwrap();
        assert_eq!(put.status, StatusCode::CREATED);
    }
    let all = send(c, Method::GET, "/v2/a/tags/list", &[], b"").await;
    assert_eq!(
        all.json(),
        json!({"name": "a", "tags": ["1.0", "A", "_x", "a", "b", "z"]})
    );
    let page = send(c, Method::GET, "/v2/a/tags/list?n=2", &[], b"").await;
    assert_eq!(page.json()["tags"], json!(["1.0", "A"]));
    assert_eq!(
        page.header("link"),
        Some("</v2/a/tags/list?last=A&n=2>; rel=\"next\"")
    );
    let next = send(c, Method::GET, "/v2/a/tags/list?last=A&n=2", &[], b"").await;
    assert_eq!(next.json()["tags"], json!(["_x", "a"]));
    let last = send(c, Method::GET, "/v2/a/tags/list?last=a", &[], b"").await;
    assert_eq!(
        (last.json()["tags"].clone(), last.header("link")),
        (json!(["b", "z"]), None)
    );
    let zero = send(c, Method::GET, "/v2/a/tags/list?n=0", &[], b"").await;
    assert_eq!(
        (zero.json()["tags"].clone(), zero.header("link")),
        (json!([]), None)
    );
    assert_eq!(
        send(c, Method::GET, "/v2/a/tags/list?n=x", &[], b"")
            .await
            .status,
        StatusCode::BAD_REQUEST
    );

    let catalog = send(c, Method::GET, "/v2/_catalog", &[], b"").await;
    let repos = catalog.json()["repositories"].clone();
    let mut names: Vec<String> = serde_json::from_value(repos).unwrap();
    names.sort();
    assert_eq!(names, ["a", "b/one", "b/two", "c-d"]);
    // Pages of 3 then the rest, in the store's order, joined by Link.
    let first = send(c, Method::GET, "/v2/_catalog?n=3", &[], b"").await;
    let link = first.header("link").expect("a next page").to_owned();
    let next = link
        .trim_start_matches('<')
        .split('>')
        .next()
        .unwrap()
        .to_owned();
    let second = send(c, Method::GET, &next, &[], b"").await;
    let mut paged: Vec<String> =
        serde_json::from_value(first.json()["repositories"].clone()).unwrap();
    paged.extend(
        serde_json::from_value::<Vec<String>>(second.json()["repositories"].clone()).unwrap(),
    );
    assert_eq!(second.header("link"), None);
    paged.sort();
    assert_eq!(paged, names);
}

#[tokio::test(flavor = "multi_thread")]
async fn referrers_are_listed_filtered_and_forgotten() {
    let (r, _d, _s) = registry().await;
    let c = &r.client;
    let subject = Image::generate(5, &[100], false);
    let sd = subject.manifest.digest();
    let empty = send(
        c,
        Method::GET,
        &format!("/v2/refs/referrers/{sd}"),
        &[],
        b"",
    )
    .await;
    assert_eq!(
        empty.status,
        StatusCode::OK,
        "no referrers and no repository: still 200"
    );
    assert_eq!(empty.header("content-type"), Some(OCI_INDEX));
    assert_eq!(empty.json()["manifests"], json!([]));

    // Referrers may be pushed before their subject.
    c.push_blob("refs", b"{}").await.unwrap();
    let artifact = |t: Option<&str>, note: &str| {
        let mut m = json!({
            "schemaVersion": 2, "mediaType": OCI_MANIFEST,
            "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": sha256(b"{}"), "size": 2},
            "layers": [],
            "subject": {"mediaType": OCI_MANIFEST, "digest": sd, "size": subject.manifest.bytes.len()},
            "annotations": {"note": note},
        });
        if let Some(t) = t {
            m["artifactType"] = json!(t);
        }
        serde_json::to_vec(&m).unwrap()
    };
    let sbom = artifact(Some("application/vnd.example.sbom"), "s");
    let sig = artifact(None, "g");
    for body in [&sbom, &sig] {
        let put = c
            .push_manifest("refs", &sha256(body), OCI_MANIFEST, body)
            .await
            .unwrap();
        assert_eq!(
            put.status,
            StatusCode::CREATED,
            "{}",
            String::from_utf8_lossy(&put.body)
        );
        assert_eq!(put.header("oci-subject"), Some(sd.as_str()));
    }
    c.push_image("refs", "v1", &subject).await.unwrap();
    let list = send(
        c,
        Method::GET,
        &format!("/v2/refs/referrers/{sd}"),
        &[],
        b"",
    )
    .await;
    let manifests = list.json()["manifests"].as_array().unwrap().clone();
    assert_eq!(manifests.len(), 2);
    let sbom_desc = manifests
        .iter()
        .find(|m| m["digest"] == sha256(&sbom))
        .unwrap();
    assert_eq!(sbom_desc["artifactType"], "application/vnd.example.sbom");
    assert_eq!(sbom_desc["annotations"]["note"], "s");
    assert_eq!(sbom_desc["size"], sbom.len());
    assert_eq!(sbom_desc["mediaType"], OCI_MANIFEST);
    let sig_desc = manifests
        .iter()
        .find(|m| m["digest"] == sha256(&sig))
        .unwrap();
    assert_eq!(
        sig_desc["artifactType"], "application/vnd.oci.empty.v1+json",
        "the config's type"
    );

    let filtered = send(
        c,
        Method::GET,
        &format!("/v2/refs/referrers/{sd}?artifactType=application%2Fvnd.example.sbom"),
        &[],
        b"",
    )
    .await;
    assert_eq!(filtered.header("oci-filters-applied"), Some("artifactType"));
    assert_eq!(filtered.json()["manifests"].as_array().unwrap().len(), 1);
    let bad = send(c, Method::GET, "/v2/refs/referrers/sha256:zz", &[], b"").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);

    let del = send(
        c,
        Method::DELETE,
        &format!("/v2/refs/manifests/{}", sha256(&sbom)),
        &[],
        b"",
    )
    .await;
    assert_eq!(del.status, StatusCode::ACCEPTED);
    let after = send(
        c,
        Method::GET,
        &format!("/v2/refs/referrers/{sd}"),
        &[],
        b"",
    )
    .await;
    assert_eq!(after.json()["manifests"].as_array().unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn deletes_remove_tags_manifests_and_links_or_are_refused_when_disabled() {
    let (d, server) = driver().await;
    let locked = start_registry(d.clone(), Options::default()).await;
    let im = Image::generate(6, &[500], false);
    locked.client.push_image("del", "v1", &im).await.unwrap();
    let md = im.manifest.digest();
    for path in [
        format!("/v2/del/manifests/{md}"),
        "/v2/del/manifests/v1".to_owned(),
        format!("/v2/del/blobs/{}", im.config.digest()),
    ] {
        let r = send(&locked.client, Method::DELETE, &path, &[], b"").await;
        assert_eq!(
            (r.status, r.code().as_str()),
            (StatusCode::METHOD_NOT_ALLOWED, "UNSUPPORTED"),
            "{path}"
        );
    }
    let open = start_registry(open_params(&server.params()).await, test_options()).await;
    let c = &open.client;
    c.push_manifest("del", "v2", OCI_MANIFEST, &im.manifest.bytes)
        .await
        .unwrap();
    let tag = send(c, Method::DELETE, "/v2/del/manifests/v1", &[], b"").await;
    assert_eq!(tag.status, StatusCode::ACCEPTED);
    assert_eq!(
        send(c, Method::HEAD, "/v2/del/manifests/v1", &[], b"")
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        send(c, Method::HEAD, "/v2/del/manifests/v2", &[], b"")
            .await
            .status,
        StatusCode::OK
    );
    let man = send(
        c,
        Method::DELETE,
        &format!("/v2/del/manifests/{md}"),
        &[],
        b"",
    )
    .await;
    assert_eq!(man.status, StatusCode::ACCEPTED);
    for r in [md.as_str(), "v2"] {
        let head = send(c, Method::HEAD, &format!("/v2/del/manifests/{r}"), &[], b"").await;
        assert_eq!(
            head.status,
            StatusCode::NOT_FOUND,
            "{r}: the tag went with its manifest"
        );
    }
    let blob = format!("/v2/del/blobs/{}", im.config.digest());
    assert_eq!(
        send(c, Method::DELETE, &blob, &[], b"").await.status,
        StatusCode::ACCEPTED
    );
    assert_eq!(
        send(c, Method::HEAD, &blob, &[], b"").await.status,
        StatusCode::NOT_FOUND
    );
    let again = send(c, Method::DELETE, &blob, &[], b"").await;
    assert_eq!(
        (again.status, again.code().as_str()),
        (StatusCode::NOT_FOUND, "BLOB_UNKNOWN")
    );
    let unknown = send(c, Method::DELETE, "/v2/del/manifests/nope", &[], b"").await;
    assert_eq!(
        (unknown.status, unknown.code().as_str()),
        (StatusCode::NOT_FOUND, "MANIFEST_UNKNOWN")
    );
    // Cancel an upload.
    let loc = session(c, "del").await;
    assert_eq!(
        send(c, Method::DELETE, &loc, &[], b"").await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        send(c, Method::GET, &loc, &[], b"").await.status,
        StatusCode::NOT_FOUND
    );
    drop(d);
}

#[tokio::test(flavor = "multi_thread")]
async fn ranges_are_206_and_past_the_end_416() {
    let (r, _d, _s) = registry().await;
    let c = &r.client;
    let data = bytes(2048);
    let d = c.push_blob("ranges", &data).await.unwrap();
    let path = format!("/v2/ranges/blobs/{d}");
    let cases: [(&str, Option<(usize, usize)>); 6] = [
        ("bytes=500-1499", Some((500, 1499))),
        ("bytes=500-", Some((500, 2047))),
        ("bytes=-500", Some((1548, 2047))),
        ("bytes=2000-5000", Some((2000, 2047))),
        ("bytes=500-0", None),
        ("bytes=5000-10000", None),
    ];
    for (range, want) in cases {
        let r = send(c, Method::GET, &path, &[("range", range)], b"").await;
        match want {
            Some((s, e)) => {
                assert_eq!(r.status, StatusCode::PARTIAL_CONTENT, "{range}");
                assert_eq!(r.body.as_ref(), &data[s..=e], "{range}");
                assert_eq!(
                    r.header("content-range"),
                    Some(format!("bytes {s}-{e}/2048").as_str())
                );
                assert_eq!(
                    r.header("content-length"),
                    Some((e - s + 1).to_string().as_str())
                );
            }
            None => {
                assert_eq!(r.status, StatusCode::RANGE_NOT_SATISFIABLE, "{range}");
                assert_eq!(r.header("content-range"), Some("bytes */2048"));
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn downloads_redirect_to_the_storage_when_enabled_and_heads_and_ranges_do_not() {
    let (d, _s) = driver().await;
    let options = Options {
        redirect: true,
        ..test_options()
    };
    let r = start_registry(d, options).await;
    let c = &r.client;
    let data = bytes(300_000);
    let digest = c.push_blob("redir", &data).await.unwrap();
    let path = format!("/v2/redir/blobs/{digest}");
    let first = send(c, Method::GET, &path, &[], b"").await;
    assert_eq!(first.status, StatusCode::TEMPORARY_REDIRECT);
    let to = first.header("location").unwrap();
    assert!(
        to.starts_with("http://127.0.0.1:") && to.contains("X-Amz-Signature="),
        "{to}"
    );
    assert_eq!(
        c.pull_blob_checked("redir", &digest).await.unwrap(),
        300_000
    );
    let head = send(c, Method::HEAD, &path, &[], b"").await;
    assert_eq!(
        (head.status, head.header("content-length")),
        (StatusCode::OK, Some("300000"))
    );
    let ranged = send(c, Method::GET, &path, &[("range", "bytes=10-19")], b"").await;
    assert_eq!(
        ranged.status,
        StatusCode::PARTIAL_CONTENT,
        "ranges are served here"
    );
    assert_eq!(ranged.body.as_ref(), &data[10..20]);
}

#[tokio::test(flavor = "multi_thread")]
async fn mounts_link_blobs_the_source_has_and_otherwise_start_a_session() {
    let (r, _d, _s) = registry().await;
    let c = &r.client;
    let data = bytes(4000);
    let d = c.push_blob("source", &data).await.unwrap();
    let mount = send(
        c,
        Method::POST,
        &format!("/v2/target/blobs/uploads/?mount={d}&from=source"),
        &[],
        b"",
    )
    .await;
    assert_eq!(mount.status, StatusCode::CREATED);
    assert_eq!(
        mount.header("location"),
        Some(format!("/v2/target/blobs/{d}").as_str())
    );
    assert_eq!(c.pull_blob_checked("target", &d).await.unwrap(), 4000);
    let missing = sha256(b"not here");
    let fallback = send(
        c,
        Method::POST,
        &format!("/v2/target/blobs/uploads/?mount={missing}&from=source"),
        &[],
        b"",
    )
    .await;
    assert_eq!(fallback.status, StatusCode::ACCEPTED);
    assert!(
        fallback
            .header("location")
            .unwrap()
            .starts_with("/v2/target/blobs/uploads/")
    );
    let anonymous = send(
        c,
        Method::POST,
        &format!("/v2/third/blobs/uploads/?mount={d}"),
        &[],
        b"",
    )
    .await;
    assert_eq!(
        anonymous.status,
        StatusCode::CREATED,
        "the registry holds it"
    );
    let wrong_source = send(
        c,
        Method::POST,
        &format!("/v2/fourth/blobs/uploads/?mount={d}&from=nobody"),
        &[],
        b"",
    )
    .await;
    assert_eq!(
        wrong_source.status,
        StatusCode::ACCEPTED,
        "not in `from`: a session"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn basic_auth_guards_every_endpoint() {
    let (d, _s) = driver().await;
    let hash = bcrypt_hash("s3cret");
    let options = Options {
        htpasswd: Some(
            s3_driver_registry::http::auth::Htpasswd::parse(&format!("ci:{hash}\n"), "test realm")
                .unwrap(),
        ),
        ..test_options()
    };
    let r = start_registry(d, options).await;
    let anonymous = send(&r.client, Method::GET, "/v2/", &[], b"").await;
    assert_eq!(
        (anonymous.status, anonymous.code().as_str()),
        (StatusCode::UNAUTHORIZED, "UNAUTHORIZED")
    );
    assert_eq!(
        anonymous.header("www-authenticate"),
        Some("Basic realm=\"test realm\"")
    );
    let wrong = r.client.clone().with_basic("ci", "nope");
    assert_eq!(
        send(&wrong, Method::GET, "/v2/", &[], b"").await.status,
        StatusCode::UNAUTHORIZED
    );
    let right = r.client.clone().with_basic("ci", "s3cret");
    assert_eq!(
        send(&right, Method::GET, "/v2/", &[], b"").await.status,
        StatusCode::OK
    );
    right
        .push_image("auth", "v1", &Image::generate(8, &[100], false))
        .await
        .unwrap();
    right.pull_image("auth", "v1").await.unwrap();
}

fn bcrypt_hash(password: &str) -> String {
    // The htpasswd tool's format; cost 4 keeps the test fast.
    bcrypt::hash(password, 4).unwrap()
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
