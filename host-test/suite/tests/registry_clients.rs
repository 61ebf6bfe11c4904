//! The registry with real clients and the real Go registry: skopeo copies a
//! multi-layer image, an OCI index and a Docker manifest list in and out
//! (digests preserved and checked); Debian's `docker-registry` (distribution
//! 2.8.2, its own S3 driver) and this registry serve one radosgw bucket,
//! crosswise, including an upload started at the Go registry and finished
//! here from the hash state it saved; an S3 endpoint over TLS; CloudFront
//! redirects followed to a stand-in that checks the signature.

use s3_driver_suite as common;

use std::path::Path;
use std::process::{Command, Stdio};

use bytes::Bytes;
use common::registry::{Running, start_registry, test_options};
use common::*;
use http::{Method, StatusCode};
use s3_driver_host::{ConfigValue, Driver, Middleware, OpenOptions, OutgoingPolicy, Parameter};
use s3_driver_kit::EmbeddedS3;
use s3_driver_kit::oci::OciClient;
use s3_driver_kit::oci::client::full;
use s3_driver_kit::oci::go_registry::GoRegistry;
use s3_driver_kit::oci::image::{Image, index_of, sha256, write_oci_layout};
use s3_driver_registry::Options;

/// Why these tests are ignored by default.
const NEEDS_CLIENTS: &str = "needs skopeo (and docker-registry and radosgw where named): \
    Debian packages that .ci/run installs; run cargo test -- --include-ignored";

fn need(tool: &str) {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(found, "{tool} is not installed; this test {NEEDS_CLIENTS}");
}

/// Runs skopeo with no signature policy and no AWS variables of ours.
async fn skopeo(args: Vec<String>) {
    let out = tokio::task::spawn_blocking(move || {
        Command::new("skopeo")
            .arg("--insecure-policy")
            .args(&args)
            .env_remove("AWS_CA_BUNDLE")
            .output()
            .expect("skopeo runs")
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "skopeo failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn copy(from: &str, to: &str, all: bool) -> Vec<String> {
    let mut a: Vec<String> = [
        "copy",
        "--preserve-digests",
        "--src-tls-verify=false",
        "--dest-tls-verify=false",
    ]
    .map(String::from)
    .to_vec();
    if all {
        a.push("--all".into());
    }
    a.push(from.into());
    a.push(to.into());
    a
}

/// Every blob file of an OCI layout, by digest.
fn layout_blobs(dir: &Path) -> std::collections::BTreeSet<String> {
    std::fs::read_dir(dir.join("blobs/sha256"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect()
}

/// Each blob file's name is its content's digest.
fn assert_layout_intact(dir: &Path) {
    for hex in layout_blobs(dir) {
        let bytes = std::fs::read(dir.join("blobs/sha256").join(&hex)).unwrap();
        assert_eq!(sha256(&bytes), format!("sha256:{hex}"), "{}", dir.display());
    }
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs skopeo: a Debian package that .ci/run installs; run cargo test -- --include-ignored"]
async fn skopeo_copies_images_indexes_and_manifest_lists_in_and_out() {
    need("skopeo");
    let (d, _s) = driver().await;
    let r = start_registry(
        d,
        Options {
            redirect: true,
            ..test_options()
        },
    )
    .await;
    let host = r.addr.to_string();
    let tmp = tempfile::tempdir().unwrap();
    let single = Image::generate(21, &[300_000, 5, 2 << 20], false);
    let arm = Image::generate(22, &[100_000], false);
    let index = index_of(&[single.clone(), arm.clone()], false);
    let src = tmp.path().join("src");
    write_oci_layout(
        &src,
        &[single.clone(), arm.clone()],
        &[("single", &single.manifest), ("multi", &index)],
    )
    .unwrap();
    skopeo(copy(
        &format!("oci:{}:single", src.display()),
        &format!("docker://{host}/sk/app:single"),
        false,
    ))
    .await;
    skopeo(copy(
        &format!("oci:{}:multi", src.display()),
        &format!("docker://{host}/sk/app:multi"),
        true,
    ))
    .await;
    for (tag, all) in [("single", false), ("multi", true)] {
        let out = tmp.path().join(format!("out-{tag}"));
        skopeo(copy(
            &format!("docker://{host}/sk/app:{tag}"),
            &format!("oci:{}:{tag}", out.display()),
            all,
        ))
        .await;
        assert_layout_intact(&out);
        let want: Vec<String> = match tag {
            "single" => std::iter::once(single.manifest.digest())
                .chain(std::iter::once(single.config.digest()))
                .chain(single.layers.iter().map(|l| l.digest.clone()))
                .collect(),
            _ => [
                index.digest(),
                single.manifest.digest(),
                arm.manifest.digest(),
            ]
            .into_iter()
            .chain(arm.layers.iter().map(|l| l.digest.clone()))
            .collect(),
        };
        let got = layout_blobs(&out);
        for w in want {
            assert!(
                got.contains(&w["sha256:".len()..]),
                "{tag}: {w} missing from the pull"
            );
        }
    }
    // A Docker manifest list pushed by our client, pulled by skopeo.
    let amd = Image::generate(23, &[50_000], true);
    let s390 = Image::generate(24, &[60_000], true);
    for im in [&amd, &s390] {
        r.client
            .push_image("sk/docker", &im.manifest.digest(), im)
            .await
            .unwrap();
    }
    let list = index_of(&[amd.clone(), s390.clone()], true);
    let put = r
        .client
        .push_manifest("sk/docker", "list", &list.media_type, &list.bytes)
        .await
        .unwrap();
    assert_eq!(put.status, StatusCode::CREATED);
    let out = tmp.path().join("out-list");
    skopeo(copy(
        &format!("docker://{host}/sk/docker:list"),
        &format!("dir:{}", out.display()),
        true,
    ))
    .await;
    let manifest = std::fs::read(out.join("manifest.json")).unwrap();
    assert_eq!(sha256(&manifest), list.digest(), "the list byte for byte");
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs radosgw, skopeo and docker-registry: Debian packages that .ci/run installs and starts; run cargo test -- --include-ignored"]
async fn the_go_registry_and_this_one_serve_one_bucket_crosswise() {
    need("skopeo");
    let bucket = format!("interop-{}", std::process::id());
    let params = radosgw_bucket(&bucket).await;
    need("docker-registry");
    let go = GoRegistry::start(&params).await.unwrap();
    let ours = start_registry(open_params(&params).await, test_options()).await;
    let (g, o) = (go.addr.to_string(), ours.addr.to_string());
    let tmp = tempfile::tempdir().unwrap();
    let a = Image::generate(31, &[400_000, 7 << 20], false);
    let b = Image::generate(32, &[200_000], false);
    let index = index_of(&[a.clone(), b.clone()], false);
    let src = tmp.path().join("src");
    write_oci_layout(
        &src,
        &[a.clone(), b.clone()],
        &[("a", &a.manifest), ("idx", &index)],
    )
    .unwrap();
    // In through one, out through the other, both ways.
    for (push, pull, repo) in [(&o, &g, "x/ours-in"), (&g, &o, "x/go-in")] {
        skopeo(copy(
            &format!("oci:{}:a", src.display()),
            &format!("docker://{push}/{repo}:a"),
            false,
        ))
        .await;
        skopeo(copy(
            &format!("oci:{}:idx", src.display()),
            &format!("docker://{push}/{repo}:idx"),
            true,
        ))
        .await;
        for (tag, all) in [("a", false), ("idx", true)] {
            let out = tmp.path().join(format!("{}-{tag}", repo.replace('/', "-")));
            skopeo(copy(
                &format!("docker://{pull}/{repo}:{tag}"),
                &format!("oci:{}:{tag}", out.display()),
                all,
            ))
            .await;
            assert_layout_intact(&out);
            assert!(layout_blobs(&out).contains(&a.layers[1].digest["sha256:".len()..]));
        }
    }
    // Both list the same repositories and tags.
    let go_client = go.client();
    for path in [
        "/v2/_catalog",
        "/v2/x/ours-in/tags/list",
        "/v2/x/go-in/tags/list",
    ] {
        let theirs = go_client
            .send(Method::GET, path, &[], full(Bytes::new()))
            .await
            .unwrap();
        let mine = ours
            .client
            .send(Method::GET, path, &[], full(Bytes::new()))
            .await
            .unwrap();
        assert_eq!(theirs.json(), mine.json(), "{path}");
    }
    // An upload started at the Go registry, finished here: its chunk's
    // SHA-256 state is read from the Go registry's hashstates file.
    let data = bytes(7 << 20);
    let digest = sha256(&data);
    let started = go_client.start_upload("x/mixed").await.unwrap();
    let first = go_client
        .send(
            Method::PATCH,
            &started,
            &[("content-type", "application/octet-stream")],
            full(data[..(5 << 20)].to_vec()),
        )
        .await
        .unwrap();
    assert_eq!(first.status, StatusCode::ACCEPTED);
    let loc = first.header("location").unwrap();
    let path = loc[loc.find("/v2/").unwrap()..]
        .split('?')
        .next()
        .unwrap()
        .to_owned();
    // The component's cleanup sees the Go registry's upload in progress.
    let id = path.rsplit('/').next().unwrap();
    let component = open_params(&params).await;
    let in_progress = component
        .list_uploads("/docker/registry/v2/repositories/x/mixed/_uploads")
        .await
        .unwrap();
    assert_eq!(
        in_progress
            .iter()
            .map(|u| u.path.clone())
            .collect::<Vec<_>>(),
        [format!(
            "/docker/registry/v2/repositories/x/mixed/_uploads/{id}/data"
        )]
    );
    // What the Go registry wrote, walked and statted by the component: each
    // layer link names its blob, of the right size.
    let repo = "/docker/registry/v2/repositories/x/go-in";
    let links = component
        .walk_all(&format!("{repo}/_layers"), None)
        .await
        .unwrap()
        .into_iter()
        .filter(|f| f.path.ends_with("/link"))
        .count();
    assert!(links >= 5, "{links} layer links");
    for l in &a.layers {
        let hex = &l.digest["sha256:".len()..];
        let link = component
            .get_content(&format!("{repo}/_layers/sha256/{hex}/link"))
            .await
            .unwrap();
        assert_eq!(link, l.digest.as_bytes());
        let blob = format!("/docker/registry/v2/blobs/sha256/{}/{hex}/data", &hex[..2]);
        assert_eq!(component.stat(&blob).await.unwrap().size, l.size);
    }
    let range = format!("{}-{}", 5 << 20, data.len() - 1);
    let second = ours
        .client
        .send(
            Method::PATCH,
            &path,
            &[("content-range", &range)],
            full(data[(5 << 20)..].to_vec()),
        )
        .await
        .unwrap();
    assert_eq!(
        second.status,
        StatusCode::ACCEPTED,
        "{}",
        String::from_utf8_lossy(&second.body)
    );
    common::registry::close_upload(&ours.client, &path, &digest).await;
    assert_eq!(
        go_client
            .pull_blob_checked("x/mixed", &digest)
            .await
            .unwrap(),
        data.len() as u64
    );
    drop(go);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_registry_serves_from_an_s3_endpoint_over_tls_with_redirects_followed() {
    const ROOT: &str = env!("CARGO_MANIFEST_DIR");
    let fixture =
        |n: &str| std::fs::read_to_string(format!("{ROOT}/../../testdata/tls/{n}")).unwrap();
    let server = EmbeddedS3::start_temp_tls(&fixture("server.pem"), &fixture("server-key.pem"))
        .await
        .unwrap();
    let params = server.params();
    let policy = OutgoingPolicy::with_tls(
        s3_driver_suite::loopback(),
        s3_driver_host::TlsOptions {
            skip_verify: false,
            extra_roots_pem: Some(fixture("ca.pem")),
        },
    )
    .unwrap();
    let d = Driver::open(&RUNTIME, OpenOptions::new(&params).policy(policy))
        .await
        .unwrap();
    for redirect in [false, true] {
        let r = start_registry(
            d.clone(),
            Options {
                redirect,
                ..test_options()
            },
        )
        .await;
        let c =
            OciClient::with_ca(&format!("http://{}", r.addr), Some(&fixture("ca.pem"))).unwrap();
        let im = Image::generate(41, &[250_000, 6 << 20], false);
        c.push_image("tls/app", "v1", &im).await.unwrap();
        let layer = format!("/v2/tls/app/blobs/{}", im.layers[0].digest);
        let first = c
            .send(Method::GET, &layer, &[], full(Bytes::new()))
            .await
            .unwrap();
        if redirect {
            assert_eq!(first.status, StatusCode::TEMPORARY_REDIRECT);
            assert!(first.header("location").unwrap().starts_with("https://"));
        } else {
            assert_eq!(first.status, StatusCode::OK);
        }
        c.pull_image("tls/app", "v1").await.unwrap();
    }
}

/// A stand-in for CloudFront: checks each URL's signature as CloudFront
/// would, then serves the object from the bucket.
async fn cloudfront_stand_in(driver: Driver) -> std::net::SocketAddr {
    const ROOT: &str = env!("CARGO_MANIFEST_DIR");
    let public = std::fs::read_to_string(format!(
        "{ROOT}/../../testdata/cloudfront/cloudfront-public.pem"
    ))
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let (driver, public) = (driver.clone(), public.clone());
            tokio::spawn(async move {
                let svc =
                    hyper::service::service_fn(move |req: http::Request<hyper::body::Incoming>| {
                        let (driver, public) = (driver.clone(), public.clone());
                        async move {
                            let url = format!("http://{addr}{}", req.uri());
                            let checked = s3_driver_kit::cloudfront_url::try_verify(
                                &url,
                                "K2JCJMDEHXQW5F",
                                &public,
                            );
                            let reply = match checked {
                                Ok(_) => {
                                    let path = req.uri().path().to_owned();
                                    match driver.get_content(&path).await {
                                        Ok(b) => http::Response::new(http_body_util::Full::new(
                                            Bytes::from(b),
                                        )),
                                        Err(_) => http::Response::builder()
                                            .status(404)
                                            .body(Default::default())
                                            .unwrap(),
                                    }
                                }
                                Err(_) => http::Response::builder()
                                    .status(403)
                                    .body(Default::default())
                                    .unwrap(),
                            };
                            Ok::<_, std::convert::Infallible>(reply)
                        }
                    });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    addr
}

#[tokio::test(flavor = "multi_thread")]
async fn cloudfront_redirects_are_signed_and_followed() {
    const ROOT: &str = env!("CARGO_MANIFEST_DIR");
    let (plain, server) = driver().await;
    let edge = cloudfront_stand_in(plain).await;
    let params = server.params();
    let key = std::fs::read_to_string(format!(
        "{ROOT}/../../testdata/cloudfront/cloudfront-pkcs1.pem"
    ))
    .unwrap();
    let cloudfront = Middleware {
        name: "cloudfront".into(),
        options: [
            ("baseurl", format!("http://{edge}/")),
            ("privatekey", key),
            ("keypairid", "K2JCJMDEHXQW5F".to_owned()),
        ]
        .into_iter()
        .map(|(k, v)| Parameter {
            key: k.into(),
            value: ConfigValue::Text(v),
        })
        .collect(),
    };
    let policy = OutgoingPolicy::new(s3_driver_suite::loopback());
    let d = Driver::open(
        &RUNTIME,
        OpenOptions::new(&params)
            .middleware(&[cloudfront])
            .policy(policy),
    )
    .await
    .unwrap();
    let r: Running = start_registry(
        d,
        Options {
            redirect: true,
            ..test_options()
        },
    )
    .await;
    let im = Image::generate(51, &[123_456], false);
    r.client.push_image("cf/app", "v1", &im).await.unwrap();
    let layer = format!("/v2/cf/app/blobs/{}", im.layers[0].digest);
    let first = r
        .client
        .send(Method::GET, &layer, &[], full(Bytes::new()))
        .await
        .unwrap();
    assert_eq!(first.status, StatusCode::TEMPORARY_REDIRECT);
    let to = first.header("location").unwrap();
    assert!(
        to.starts_with(&format!("http://{edge}/docker/registry/v2/blobs/"))
            && to.contains("Signature="),
        "{to}"
    );
    assert_eq!(
        r.client
            .pull_blob_checked("cf/app", &im.layers[0].digest)
            .await
            .unwrap(),
        123_456
    );
    let tampered = to.replace("Signature=", "Signature=A");
    let refused = r
        .client
        .send(Method::GET, &tampered, &[], full(Bytes::new()))
        .await
        .unwrap();
    assert_eq!(
        refused.status,
        StatusCode::FORBIDDEN,
        "the stand-in checks signatures"
    );
}
