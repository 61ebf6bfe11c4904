//! The registry's OCI Distribution API against the embedded S3 server, one
//! fresh bucket per test, beyond blobs and uploads (`registry_api.rs`):
//! every manifest error code where the specification puts it, tags and
//! catalog paging, referrers, deletes, ranges, redirects, mounts and Basic
//! auth.

use s3_driver_suite as common;

use common::registry::{registry, send, session};
use common::registry::{start_registry, test_options};
use common::*;
use http::{Method, StatusCode};
use s3_driver_kit::oci::image::{Image, OCI_INDEX, OCI_MANIFEST, index_of, sha256};
use s3_driver_registry::Options;
use serde_json::json;

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
    // Without `from`, as in Distribution: a session, the blob not linked.
    assert_eq!(
        anonymous.status,
        StatusCode::ACCEPTED,
        "a mount without from is a session"
    );
    let third = c
        .get(Method::HEAD, &format!("/v2/third/blobs/{d}"), &[])
        .await
        .unwrap();
    assert_eq!(third.status, StatusCode::NOT_FOUND);
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
