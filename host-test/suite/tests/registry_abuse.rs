//! The registry under abuse, on loopback, each case bounded in time: stalled
//! and slow clients of every kind (uploads that stop mid-body, downloads
//! never read, headers sent a byte at a time, idle connections) while a
//! well-behaved client is answered within a second; a burst of concurrent
//! uploads; unauthenticated bodies refused before they are read; `Host`
//! checked.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use http::{Method, StatusCode};
use s3_driver_host::{Driver, Limits};
use s3_driver_kit::EmbeddedS3;
use s3_driver_kit::oci::OciClient;
use s3_driver_registry::{HttpLimits, Options};
use s3_driver_suite::bytes;
use s3_driver_suite::registry::{Running, hex_of, send, start_registry, test_options};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Lets this process hold a few thousand sockets (both ends of each
/// loopback connection are ours).
fn raise_open_files() {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit only read and write `lim`.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 && lim.rlim_cur < lim.rlim_max {
            lim.rlim_cur = lim.rlim_max.min(65536);
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
    }
}

async fn driver_with(server: &EmbeddedS3, limits: Limits) -> Driver {
    s3_driver_suite::open_limited(&server.params(), limits).await
}

fn abuse_options(header_timeout: Duration, body_timeout: Duration) -> Options {
    Options {
        limits: HttpLimits {
            header_timeout,
            body_timeout,
            ..HttpLimits::default()
        },
        ..test_options()
    }
}

/// The test options with `auth: htpasswd:` holding user `u` with `password`
/// (bcrypt of `cost`).
fn with_password(password: &str, cost: u32) -> Options {
    let hash = bcrypt::hash(password, cost).unwrap();
    Options {
        htpasswd: Some(
            s3_driver_registry::http::auth::Htpasswd::parse(&format!("u:{hash}"), "r").unwrap(),
        ),
        ..test_options()
    }
}

/// Opens a connection and sends `head` (and nothing more).
async fn raw(addr: SocketAddr, head: &str) -> TcpStream {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(head.as_bytes()).await.unwrap();
    s
}

/// What a well-behaved client does, each answer within `within`: the base
/// endpoint, a blob's HEAD, a chunked push and a full pull of it.
async fn behaves(c: &OciClient, n: usize, within: Duration) {
    let timed = |what: String, started: Instant| {
        let took = started.elapsed();
        assert!(took <= within, "{what} took {took:?}");
    };
    let t = Instant::now();
    let base = c.get(Method::GET, "/v2/", &[]).await.unwrap();
    assert_eq!(base.status, StatusCode::OK);
    timed(format!("GET /v2/ ({n})"), t);

    let data = bytes(64 << 10);
    let t = Instant::now();
    let loc = c.start_upload("good/app").await.unwrap();
    timed(format!("POST ({n})"), t);
    let t = Instant::now();
    let r = s3_driver_suite::registry::patch(c, &loc, 0, &data).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{:?}", r.body);
    timed(format!("PATCH ({n})"), t);
    let digest = format!("sha256:{}", hex::encode(sha2_256(&data)));
    let loc = r.header("location").unwrap().to_owned();
    let t = Instant::now();
    let put = send(
        c,
        Method::PUT,
        &OciClient::with_digest(&loc, &digest),
        &[],
        b"",
    )
    .await;
    assert_eq!(put.status, StatusCode::CREATED, "{:?}", put.body);
    timed(format!("PUT ({n})"), t);
    let t = Instant::now();
    let got = c
        .get(Method::GET, &format!("/v2/good/app/blobs/{digest}"), &[])
        .await
        .unwrap();
    assert_eq!(got.status, StatusCode::OK);
    assert_eq!(hex::encode(sha2_256(&got.body)), hex_of(&digest));
    timed(format!("GET blob ({n})"), t);
}

fn sha2_256(data: &[u8]) -> [u8; 32] {
    use sha2::Digest as _;
    sha2::Sha256::digest(data).into()
}

/// 1,000 clients that stall or trickle (250 uploads stopped mid-body, 100
/// downloads of 16 MiB never read, 325 header tricklers, 325 idle
/// connections) on a driver of 16 instances: a well-behaved client is
/// answered within a second throughout, and once the abusers go, every
/// instance is back and idle.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_stalled_clients_leave_a_good_client_served() {
    raise_open_files();
    let server = EmbeddedS3::start_temp().await.unwrap();
    let limits = Limits {
        max_instances: 16,
        max_handles: 12,
        queue_timeout: Duration::from_secs(2),
        ..Limits::default()
    };
    let d = driver_with(&server, limits).await;
    let r = start_registry(
        d.clone(),
        abuse_options(Duration::from_secs(30), Duration::from_secs(30)),
    )
    .await;
    let c = &r.client;
    let big = bytes(16 << 20);
    let big_digest = c.push_blob("bad/app", &big).await.unwrap();
    behaves(c, 0, Duration::from_secs(1)).await;

    let mut held = Vec::new();
    // Uploads that announce 1,000 bytes, send 10 and stop.
    let sessions = futures::future::join_all((0..250).map(|_| c.start_upload("bad/app"))).await;
    for loc in sessions {
        let loc = loc.unwrap();
        let head =
            format!("PATCH {loc} HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n0123456789");
        held.push(raw(r.addr, &head).await);
    }
    // Downloads never read.
    for _ in 0..100 {
        let head = format!("GET /v2/bad/app/blobs/{big_digest} HTTP/1.1\r\nHost: x\r\n\r\n");
        held.push(raw(r.addr, &head).await);
    }
    // Idle connections, and headers that trickle in.
    for _ in 0..325 {
        held.push(raw(r.addr, "").await);
    }
    let mut tricklers = Vec::new();
    for _ in 0..325 {
        tricklers.push(raw(r.addr, "G").await);
    }
    let trickle = tokio::spawn(async move {
        for b in "ET /v2/ HTTP/1.1\r\nHost: x\r\n".bytes().cycle().take(30) {
            for s in &mut tricklers {
                let _ = s.write_all(&[b]).await;
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        tricklers
    });
    // Everyone has started (downloads parked, uploads waiting for bytes).
    tokio::time::sleep(Duration::from_secs(3)).await;
    for n in 1..=3 {
        behaves(c, n, Duration::from_secs(1)).await;
    }
    let tricklers = trickle.await.unwrap();
    drop(tricklers);
    drop(held);
    // Every instance comes back: all 16 can be taken as writers and readers.
    tokio::time::sleep(Duration::from_secs(2)).await;
    behaves(c, 4, Duration::from_secs(1)).await;
    let m = d.metrics();
    let wedged = m
        .ops
        .iter()
        .flat_map(|o| o.outcomes.iter())
        .filter(|(k, _)| k == "host")
        .count();
    assert_eq!(wedged, 0, "no call trapped: {m:?}");
    r.stop().await;
}

/// An idle keep-alive connection and a client that sends half a header are
/// both cut after the header timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_and_trickling_connections_are_cut() {
    let (d, _s) = s3_driver_suite::driver().await;
    let r = start_registry(
        d,
        abuse_options(Duration::from_millis(500), Duration::from_secs(5)),
    )
    .await;
    for head in ["", "GET /v2/ HTTP/1.1\r\nHo"] {
        let mut s = raw(r.addr, head).await;
        let started = Instant::now();
        let mut buf = Vec::new();
        let read = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut buf)).await;
        assert!(read.is_ok(), "{head:?}: the connection stayed open");
        assert!(started.elapsed() < Duration::from_secs(3), "{head:?}");
    }
    // A kept-alive connection after a request is cut the same way.
    let mut s = raw(r.addr, "GET /v2/ HTTP/1.1\r\nHost: x\r\n\r\n").await;
    let mut buf = vec![0u8; 4096];
    let n = s.read(&mut buf).await.unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
    let read = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut buf)).await;
    assert!(read.is_ok(), "the idle kept-alive connection stayed open");
}

/// A chunk that stops mid-body ends as a broken upload after the body
/// timeout; what arrived is kept and the session goes on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_stops_ends_after_the_body_timeout() {
    let (d, _s) = s3_driver_suite::driver().await;
    let r = start_registry(
        d.clone(),
        abuse_options(Duration::from_secs(5), Duration::from_millis(500)),
    )
    .await;
    let loc = r.client.start_upload("a/b").await.unwrap();
    let head = format!("PATCH {loc} HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n0123456789");
    let mut s = raw(r.addr, &head).await;
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf))
        .await
        .expect("answered after the body timeout")
        .unwrap();
    let text = String::from_utf8_lossy(&buf[..n]);
    assert!(text.starts_with("HTTP/1.1 400"), "{text}");
    let status = r.client.get(Method::GET, &loc, &[]).await.unwrap();
    assert_eq!(status.status, StatusCode::NO_CONTENT);
    assert_eq!(status.header("range"), Some("0-9"));
    assert_eq!(d.metrics().instances_discarded, 0);
}

/// 200 clients each push a 1 MiB blob at once through a registry with the
/// default limits: every push succeeds, and every blob reads back whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_concurrent_uploads_all_succeed() {
    raise_open_files();
    let (d, _s) = s3_driver_suite::driver().await;
    let r = start_registry(d, test_options()).await;
    let base = r.client.base().to_owned();
    let pushes = (0..200).map(|i| {
        let base = base.clone();
        tokio::spawn(async move {
            let c = OciClient::new(&base);
            let mut data = bytes(1 << 20);
            data[..8].copy_from_slice(&(i as u64).to_le_bytes());
            let loc = c.start_upload("burst/app").await?;
            let r = s3_driver_suite::registry::patch(&c, &loc, 0, &data).await;
            anyhow::ensure!(r.status == StatusCode::ACCEPTED, "PATCH {}", r.status);
            let digest = format!("sha256:{}", hex::encode(sha2_256(&data)));
            let loc = r.header("location").unwrap_or_default().to_owned();
            let put = send(
                &c,
                Method::PUT,
                &OciClient::with_digest(&loc, &digest),
                &[],
                b"",
            )
            .await;
            anyhow::ensure!(put.status == StatusCode::CREATED, "PUT {}", put.status);
            c.pull_blob_checked("burst/app", &digest).await?;
            Ok::<_, anyhow::Error>(())
        })
    });
    let started = Instant::now();
    let results = futures::future::join_all(pushes).await;
    eprintln!(
        "200 concurrent 1 MiB pushes and pulls: {:?}",
        started.elapsed()
    );
    let failed: Vec<String> = results
        .into_iter()
        .filter_map(|r| r.unwrap().err().map(|e| format!("{e:#}")))
        .collect();
    assert!(
        failed.is_empty(),
        "{} failed: {:?}",
        failed.len(),
        &failed[..failed.len().min(5)]
    );
}

/// Without credentials, a push's body is not waited for: no `100 Continue`,
/// a 401 at once, and the connection closes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unauthenticated_bodies_are_refused_before_they_are_read() {
    let (d, _s) = s3_driver_suite::driver().await;
    let options = with_password("pw", 4);
    let r: Running = start_registry(d, options).await;
    for expect in [true, false] {
        let mut head = String::from(
            "PATCH /v2/a/b/blobs/uploads/00000000-0000-0000-0000-000000000000 HTTP/1.1\r\n\
             Host: x\r\nContent-Length: 1073741824\r\n",
        );
        if expect {
            head.push_str("Expect: 100-continue\r\n");
        }
        head.push_str("\r\n");
        let mut s = raw(r.addr, &head).await;
        if !expect {
            s.write_all(&[0u8; 1 << 16]).await.unwrap();
        }
        let started = Instant::now();
        let mut buf = Vec::new();
        let read = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut buf)).await;
        let text = String::from_utf8_lossy(&buf);
        assert!(
            read.is_ok(),
            "expect {expect}: the connection stayed open: {text}"
        );
        assert!(text.starts_with("HTTP/1.1 401"), "expect {expect}: {text}");
        assert!(!text.contains("100 Continue"), "{text}");
        assert!(started.elapsed() < Duration::from_secs(2));
    }
}

/// HTTP/1.1 needs exactly one `Host`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_without_exactly_one_host_are_refused() {
    let (d, _s) = s3_driver_suite::driver().await;
    let r = start_registry(d, test_options()).await;
    for (head, status) in [
        ("GET /v2/ HTTP/1.1\r\n\r\n", "400"),
        ("GET /v2/ HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", "400"),
        ("GET /v2/ HTTP/1.1\r\nHost: a\r\n\r\n", "200"),
    ] {
        let mut s = raw(r.addr, head).await;
        let mut buf = vec![0u8; 4096];
        let n = s.read(&mut buf).await.unwrap();
        let text = String::from_utf8_lossy(&buf[..n]);
        assert!(
            text.starts_with(&format!("HTTP/1.1 {status}")),
            "{head:?}: {text}"
        );
    }
}

/// Eight clients guessing passwords at once: bcrypt runs off the async
/// workers, a client past its failed attempts is refused without one, and a
/// logged-in client from the same address is served within a second.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn password_guessing_slows_only_the_guessers() {
    let (d, _s) = s3_driver_suite::driver().await;
    let options = with_password("right", 10);
    let r = start_registry(d, options).await;
    let good = OciClient::new(r.client.base()).with_basic("u", "right");
    let first = good.get(Method::GET, "/v2/", &[]).await.unwrap();
    assert_eq!(first.status, StatusCode::OK);
    let base = r.client.base().to_owned();
    let guessers: Vec<_> = (0..8)
        .map(|i| {
            let c = OciClient::new(&base).with_basic("u", &format!("guess{i}"));
            tokio::spawn(async move {
                for _ in 0..10 {
                    let r = c.get(Method::GET, "/v2/", &[]).await.unwrap();
                    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
                }
            })
        })
        .collect();
    for n in 0..10 {
        let started = Instant::now();
        let r = good.get(Method::GET, "/v2/", &[]).await.unwrap();
        assert_eq!(r.status, StatusCode::OK);
        let took = started.elapsed();
        assert!(took < Duration::from_secs(1), "request {n} took {took:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for g in guessers {
        g.await.unwrap();
    }
}

/// A storage failure reaches the client as its kind only: the driver's
/// message names storage keys, which stay in the log.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn storage_failures_name_no_key() {
    use s3_driver_host::{Fault, FaultRule};
    let (d, _s) = s3_driver_suite::driver().await;
    let r = start_registry(d.clone(), test_options()).await;
    let digest = r.client.push_blob("keys/app", b"content").await.unwrap();
    d.policy().inject(FaultRule::every(Fault::Status {
        status: 403,
        code: "AccessDenied".into(),
    }));
    for (m, path) in [
        (Method::GET, format!("/v2/keys/app/blobs/{digest}")),
        (Method::GET, "/v2/keys/app/tags/list".to_owned()),
        (Method::POST, "/v2/keys/app/blobs/uploads/".to_owned()),
    ] {
        let reply = send(&r.client, m.clone(), &path, &[], b"").await;
        let text = String::from_utf8_lossy(&reply.body);
        assert_eq!(
            reply.status,
            StatusCode::INTERNAL_SERVER_ERROR,
            "{m} {path}: {text}"
        );
        assert!(
            text.contains("storage failed (access-denied)"),
            "{m} {path}: {text}"
        );
        assert!(!text.contains("docker/registry"), "{m} {path}: {text}");
    }
}

/// One reply read off a raw connection: its head (lowercased) and body;
/// `None` when the connection closes first.
async fn read_reply<R: AsyncRead + Unpin>(s: &mut R) -> Option<(String, Vec<u8>)> {
    let mut got = Vec::new();
    let mut buf = vec![0u8; 64 << 10];
    let end = loop {
        if let Some(i) = got.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = tokio::time::timeout(Duration::from_secs(10), s.read(&mut buf))
            .await
            .expect("a reply within 10 s")
            .ok()?;
        if n == 0 {
            return None;
        }
        got.extend_from_slice(&buf[..n]);
    };
    let head = String::from_utf8_lossy(&got[..end]).to_ascii_lowercase();
    let len: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .map_or(0, |v| v.trim().parse().unwrap());
    let mut body = got[end..].to_vec();
    while body.len() < len {
        let n = s.read(&mut buf).await.ok()?;
        if n == 0 {
            return None;
        }
        body.extend_from_slice(&buf[..n]);
    }
    Some((head, body))
}

/// A request refused after part of its body was read either leaves its
/// connection serving the next request or says `Connection: close`: a
/// connection closed without a word loses a pooling client's next request
/// (CI saw it: a PATCH at the wrong offset, then "connection closed before
/// message completed").
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_body_never_closes_its_connection_unannounced() {
    let (d, _s) = s3_driver_suite::driver().await;
    let r = start_registry(d, test_options()).await;
    let loc = r.client.start_upload("a/b").await.unwrap();
    let chunk = 4usize << 20;
    let wrong_offset = format!(
        "PATCH {loc} HTTP/1.1\r\nHost: x\r\nContent-Range: 5-{}\r\nContent-Length: {chunk}\r\n\r\n",
        5 + chunk - 1,
    );
    let manifest = (5usize << 20) + 1;
    let too_large = format!(
        "PUT /v2/a/b/manifests/t HTTP/1.1\r\nHost: x\r\n\
         Content-Type: application/vnd.oci.image.manifest.v1+json\r\n\
         Content-Length: {manifest}\r\n\r\n"
    );
    let cases = [
        (wrong_offset, chunk, "http/1.1 416", true),
        (too_large, manifest, "http/1.1 413", false),
    ];
    for (head, len, status, kept) in cases {
        let (mut rd, mut wr) = TcpStream::connect(r.addr).await.unwrap().into_split();
        let sending = tokio::spawn(async move {
            wr.write_all(head.as_bytes()).await?;
            wr.write_all(&vec![b' '; len]).await?;
            Ok::<_, std::io::Error>(wr)
        });
        let (reply, _) = read_reply(&mut rd).await.expect("a reply");
        assert!(reply.starts_with(status), "{reply}");
        let announced = reply.contains("connection: close");
        assert_eq!(!announced, kept, "{status}: {reply}");
        if announced {
            continue;
        }
        let mut wr = sending.await.unwrap().expect("the body was taken");
        wr.write_all(b"GET /v2/ HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let (next, _) = read_reply(&mut rd)
            .await
            .unwrap_or_else(|| panic!("after {status}: closed without `Connection: close`"));
        assert!(next.starts_with("http/1.1 200"), "{next}");
    }
}
