//! The specification's edges: a mount without `from`, the catalog and tag
//! lists as Distribution answers them, `last` values that are no name, a pull
//! of a reference that cannot be a tag, a push with too many tags; and, on
//! radosgw (whose keys take 1,024 bytes), `sha512` blobs and names and tags at
//! the grammar's limits pushed and pulled.

use http::{Method, StatusCode};
use s3_driver_kit::oci::OciClient;
use s3_driver_kit::oci::image::Image;
use s3_driver_suite::registry::{registry, send, start_registry, test_options};
use s3_driver_suite::{bytes, open_params, radosgw_bucket};
use sha2::Digest as _;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_edges_answer_as_distribution_does() {
    let (r, _d, _s) = registry().await;
    let c = &r.client;
    let blob = c.push_blob("has/blob", b"only a blob").await.unwrap();

    // A mount without `from` starts a session; the blob is not linked.
    let m = send(
        c,
        Method::POST,
        &format!("/v2/other/app/blobs/uploads/?mount={blob}"),
        &[],
        b"",
    )
    .await;
    assert_eq!(m.status, StatusCode::ACCEPTED, "{:?}", m.body);
    let linked = c
        .get(Method::HEAD, &format!("/v2/other/app/blobs/{blob}"), &[])
        .await
        .unwrap();
    assert_eq!(linked.status, StatusCode::NOT_FOUND);

    // A repository with blobs only is in the catalog; its tag list, like an
    // unknown repository's (uploads started or not), is NAME_UNKNOWN.
    let cat = send(c, Method::GET, "/v2/_catalog", &[], b"").await;
    assert_eq!(cat.status, StatusCode::OK);
    assert_eq!(cat.json()["repositories"], serde_json::json!(["has/blob"]));
    for repo in ["has/blob", "other/app", "nobody/here"] {
        let t = send(c, Method::GET, &format!("/v2/{repo}/tags/list"), &[], b"").await;
        assert_eq!(
            (t.status, t.code().as_str()),
            (StatusCode::NOT_FOUND, "NAME_UNKNOWN")
        );
    }
    for last in ["", "%00", "zzz", "has"] {
        let page = send(
            c,
            Method::GET,
            &format!("/v2/_catalog?last={last}"),
            &[],
            b"",
        )
        .await;
        assert_eq!(page.status, StatusCode::OK, "last={last}: {:?}", page.body);
    }
    let after = send(c, Method::GET, "/v2/_catalog?last=has", &[], b"").await;
    assert_eq!(
        after.json()["repositories"],
        serde_json::json!(["has/blob"])
    );

    // A pull of a reference that cannot be a tag is 404.
    let bad = send(
        c,
        Method::GET,
        "/v2/has/blob/manifests/.INVALID_MANIFEST_NAME",
        &[],
        b"",
    )
    .await;
    assert_eq!(
        (bad.status, bad.code().as_str()),
        (StatusCode::NOT_FOUND, "MANIFEST_UNKNOWN")
    );

    // A push naming 2,000 tags is refused before anything is written.
    let image = Image::generate(7, &[64], false);
    c.push_image("has/blob", "one", &image).await.unwrap();
    let tags: String = (0..2000).map(|i| format!("&tag=t{i}")).collect();
    let many = send(
        c,
        Method::PUT,
        &format!(
            "/v2/has/blob/manifests/{}?{}",
            image.manifest.digest(),
            &tags[1..]
        ),
        &[("content-type", image.manifest.media_type.as_str())],
        &image.manifest.bytes,
    )
    .await;
    assert_eq!(many.status, StatusCode::BAD_REQUEST, "{:?}", many.body);
    let t = send(c, Method::GET, "/v2/has/blob/tags/list", &[], b"").await;
    assert_eq!(t.json()["tags"], serde_json::json!(["one"]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs radosgw: RADOSGW_ENDPOINT (.ci/run starts one and passes --include-ignored)"]
async fn sha512_blobs_and_the_longest_names_and_tags_are_served_on_radosgw() {
    let params = radosgw_bucket("registry-edges").await;
    let r = start_registry(open_params(&params).await, test_options()).await;
    let c: &OciClient = &r.client;
    // 255 characters, the grammar's longest name.
    let name = format!("{}/{}/{}", "a".repeat(100), "b".repeat(100), "c".repeat(53));
    assert_eq!(name.len(), 255);
    let tag = format!("T{}", "x".repeat(127));

    // sha512, monolithic and chunked.
    let data = bytes(3 << 20);
    let d512 = format!("sha512:{}", hex::encode(sha2::Sha512::digest(&data)));
    let loc = c.start_upload(&name).await.unwrap();
    let put = send(
        c,
        Method::PUT,
        &OciClient::with_digest(&loc, &d512),
        &[],
        &data,
    )
    .await;
    assert_eq!(put.status, StatusCode::CREATED, "{:?}", put.body);
    let got = c
        .get(Method::GET, &format!("/v2/{name}/blobs/{d512}"), &[])
        .await
        .unwrap();
    assert_eq!(got.status, StatusCode::OK);
    assert!(got.body[..] == data[..]);
    let mut other = data.clone();
    other[0] ^= 1;
    let d2 = format!("sha512:{}", hex::encode(sha2::Sha512::digest(&other)));
    let loc = c.start_upload(&name).await.unwrap();
    let p = s3_driver_suite::registry::patch(c, &loc, 0, &other).await;
    assert_eq!(p.status, StatusCode::ACCEPTED);
    let loc = p.header("location").unwrap().to_owned();
    let put = send(c, Method::PUT, &OciClient::with_digest(&loc, &d2), &[], b"").await;
    assert_eq!(put.status, StatusCode::CREATED, "{:?}", put.body);

    // An image under the longest name and tag.
    let image = Image::generate(9, &[1024], false);
    c.push_image(&name, &tag, &image).await.unwrap();
    c.pull_image(&name, &tag).await.unwrap();
    let t = send(c, Method::GET, &format!("/v2/{name}/tags/list"), &[], b"").await;
    assert_eq!(t.json()["tags"], serde_json::json!([tag]));
}
