//! Hostile or careless input at the WIT boundary: huge and odd paths, binary
//! content, extreme offsets and lengths, calls out of order. Each gives a
//! typed error (or the right answer); none traps or loses the instance.

use s3_driver_suite as common;

use common::*;
use s3_driver_host::{CallError, DriverError, RedirectRequest};

fn typed<T: std::fmt::Debug>(r: Result<T, CallError>) -> DriverError {
    match r {
        Err(CallError::Driver(e)) => e,
        other => panic!("expected a typed driver error, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn huge_and_odd_paths_are_refused_or_stored_faithfully() {
    let (d, _s) = driver().await;
    let huge = format!("/{}", "a".repeat(1 << 20));
    for r in [
        d.put_content(&huge, b"x").await.map(drop),
        d.get_content(&huge).await.map(drop),
        d.stat(&huge).await.map(drop),
    ] {
        // The driver lets S3 judge the length, as the reference does.
        match typed(r) {
            DriverError::Backend(b) => assert_eq!(b.status / 100, 4, "{b:?}"),
            DriverError::InvalidPath(_) | DriverError::PathNotFound(_) => {}
            // Past what a URL may carry, the host refuses to send it.
            DriverError::Network(m) => assert_eq!(m, "host refused the request path"),
            other => panic!("{other:?}"),
        }
    }
    for bad in ["", "a", "/a//b", "/a/", "/a\0b", "/a b\n", "/ünïcødé/😀"] {
        let e = typed(d.put_content(bad, b"x").await);
        assert!(matches!(e, DriverError::InvalidPath(_)), "{bad:?}: {e:?}");
    }
    // `..` is only characters to Distribution's path rules: sent as a
    // literal key (s3s-fs, a file system, resolves it; S3 would not).
    d.put_content("/a/../b", b"dots").await.unwrap();
    assert_eq!(d.get_content("/a/../b").await.unwrap(), b"dots");
    assert_eq!(d.metrics().instances_discarded, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn binary_content_round_trips_exactly() {
    let (d, _s) = driver().await;
    let all: Vec<u8> = (0..=255u8).cycle().take(1 << 16).collect();
    d.put_content("/bin", &all).await.unwrap();
    assert!(d.get_content("/bin").await.unwrap() == all);
    let mut w = d.writer("/bin2", false).await.unwrap();
    w.write(&[0xff, 0xfe, 0x00]).await.unwrap();
    w.write(&[]).await.unwrap();
    w.commit().await.unwrap();
    assert_eq!(d.get_content("/bin2").await.unwrap(), [0xff, 0xfe, 0x00]);
}

#[tokio::test(flavor = "multi_thread")]
async fn extreme_offsets_and_lengths() {
    let (d, _s) = driver().await;
    d.put_content("/f", b"0123456789").await.unwrap();
    for offset in [i64::MIN, -1] {
        let e = typed(d.reader("/f", offset).await);
        assert!(
            matches!(e, DriverError::InvalidOffset(_)),
            "{offset}: {e:?}"
        );
    }
    // At or past the end, however far: an empty stream.
    for offset in [10, 11, i64::MAX] {
        let mut r = d.reader("/f", offset).await.unwrap();
        assert!(r.read(u32::MAX).await.unwrap().is_empty(), "{offset}");
    }
    // Asking for 4 GiB at once gives what there is, without allocating it.
    let mut r = d.reader("/f", 3).await.unwrap();
    assert_eq!(r.read(u32::MAX).await.unwrap(), b"3456789");
    // Zero-length reads and pages are answered, not looped on.
    let mut r = d.reader("/f", 0).await.unwrap();
    let first = r.read(0).await.unwrap();
    assert!(first.len() <= 10);
    let mut w = d.walk("/", None).await.unwrap();
    assert!(w.next(0).await.unwrap().len() <= 1);
    assert_eq!(d.metrics().instances_discarded, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn calls_out_of_order_are_invalid_state() {
    let (d, _s) = driver().await;
    let mut w = d.writer("/w", false).await.unwrap();
    w.write(b"abc").await.unwrap();
    w.close().await.unwrap();
    assert!(matches!(
        typed(w.write(b"more").await),
        DriverError::InvalidState(_)
    ));
    assert!(matches!(
        typed(w.commit().await),
        DriverError::InvalidState(_)
    ));
    let mut w = d.writer("/w", true).await.unwrap();
    w.commit().await.unwrap();
    assert!(matches!(
        typed(w.commit().await),
        DriverError::InvalidState(_)
    ));
    assert!(matches!(
        typed(w.cancel().await),
        DriverError::InvalidState(_)
    ));
    assert_eq!(d.get_content("/w").await.unwrap(), b"abc");
    // A walker skipping a directory it never saw is harmless.
    let mut walk = d.walk("/", None).await.unwrap();
    walk.skip_dir("/never/seen").await.unwrap();
    assert_eq!(walk.next(10).await.unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn odd_redirect_requests_are_answered() {
    let (d, _s) = driver().await;
    d.put_content("/r", b"x").await.unwrap();
    for (method, addr, fwd) in [
        ("GET", "not an address", Some("also, not, one")),
        ("", "", None),
        ("DELETE", "[::1]:443", None),
        ("get", "256.1.1.1", Some("")),
    ] {
        let req = RedirectRequest {
            method: method.into(),
            remote_addr: addr.into(),
            forwarded_for: fwd.map(Into::into),
            real_ip: Some("\u{0}".into()),
        };
        let r = d.redirect_url(&req, "/r").await.unwrap();
        // Only GET and HEAD are redirected (to S3 without CloudFront).
        assert_eq!(r.is_some(), method == "GET", "{method:?}");
    }
}
